//! Seccomp: default and unknown verdicts (with `unknown: enosys-after`, per arch, the ranges of
//! numbers whose verdict changes), accepted arches, and per arch every syscall whose verdict
//! changed, at the boundary arguments of both policies' conditions.

use std::collections::BTreeSet;

use super::{values, Change, Class, Tier};
use crate::action::Action;
use crate::ir::eval::Decider;
use crate::ir::{points, ArgCondIr, Policy, SeccompIr, SyscallIr};
use crate::syscalls::arch::X32_SYSCALL_BIT;
use crate::syscalls::{table, Arch};

/// Most argument vectors tried per syscall.
const VECTOR_LIMIT: usize = 4096;
/// Argument points named in one message.
const SHOWN: usize = 8;

/// How much a verdict lets through: the call runs (allow, log), something else decides
/// (notify: a supervisor; trace: a tracer), or it does not run.
fn rank(a: Action) -> u8 {
    match a {
        Action::Allow | Action::Log => 2,
        Action::Notify | Action::Trace(_) => 1,
        Action::Errno(_) | Action::Trap | Action::KillThread | Action::KillProcess => 0,
    }
}

/// Class of a verdict change.
pub(super) fn classify(from: Action, to: Action) -> Class {
    super::more_is_wider(rank(from), rank(to))
}

/// The verdict of `sc` (or the default when the arch's table has no entry) for `args`.
fn verdict(sc: Option<&SyscallIr>, default: Action, args: &[u64; 6], arch32: bool) -> Action {
    sc.map_or(default, |s| s.verdict(args, arch32))
}

/// Whether two entries mean the same, whatever their origins.
fn same(a: Option<&SyscallIr>, b: Option<&SyscallIr>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => {
            a.action == b.action
                && a.conditional.len() == b.conditional.len()
                && a.conditional
                    .iter()
                    .zip(&b.conditional)
                    .all(|(x, y)| x.args == y.args && x.action == y.action)
        }
        (None, None) => true,
        _ => false,
    }
}

pub(super) fn seccomp(old: &Policy, new: &Policy, out: &mut Vec<Change>) {
    let (so, sn) = (&old.seccomp, &new.seccomp);
    let change = |class, subject: &str, message: String| Change::new(Tier::Seccomp, class, subject, message);
    if so.default_action != sn.default_action {
        let m = format!("{} → {} (every syscall no rule names)", so.default_action, sn.default_action);
        out.push(change(classify(so.default_action, sn.default_action), "default", m));
    }
    // Arches both accept that have a syscall table (s390 and MIPS n32 are only passed through).
    let both: Vec<Arch> =
        so.arches.iter().copied().filter(|a| sn.arches.contains(a) && table::table(*a).is_some()).collect();
    if so.enosys_after.is_none() && sn.enosys_after.is_none() {
        if so.unknown_action != sn.unknown_action {
            let m =
                format!("{} → {} (numbers outside an arch's table)", so.unknown_action, sn.unknown_action);
            out.push(change(classify(so.unknown_action, sn.unknown_action), "unknown", m));
        }
    } else {
        out.extend(unknown_changes(so, sn, &both));
    }
    for a in sn.arches.iter().filter(|a| !so.arches.contains(a)) {
        out.push(change(Class::Widen, &format!("arch {a}"), "now accepted (was kill-process)".into()));
    }
    for a in so.arches.iter().filter(|a| !sn.arches.contains(a)) {
        out.push(change(Class::Narrow, &format!("arch {a}"), "no longer accepted (kill-process)".into()));
    }
    let mut found: Vec<Change> = Vec::new();
    for &arch in &both {
        let Some(t) = table::table(arch) else { continue };
        let (to, tn) = (so.tables.get(arch.name()), sn.tables.get(arch.name()));
        if to.is_none() != tn.is_none() {
            // An IR compiled for one machine's arches only: nothing to compare this arch with.
            let m = "not compared: one side's IR has no table for this arch".to_string();
            out.push(change(Class::Neutral, &format!("arch {arch}"), m));
            continue;
        }
        for (nr, name) in t.iter() {
            let o = to.and_then(|t| t.syscalls.get(name));
            let n = tn.and_then(|t| t.syscalls.get(name));
            // What each side gives the syscall where no rule decides: the default (whose change
            // is reported once, as `default`) or ENOSYS above an `enosys-after` cut-off.
            let (fo, fallback_o) = so.undecided(arch, nr, true);
            let (fnew, fallback_n) = sn.undecided(arch, nr, true);
            let stubbed = [fallback_o, fallback_n].iter().any(|d| matches!(d, Decider::EnosysAfter { .. }));
            if same(o, n) && (o.is_some() || fo == fnew || !stubbed) {
                continue;
            }
            let verdicts = |args: &[u64; 6]| {
                let arch32 = arch.is_32bit();
                (verdict(o, fo, args, arch32), verdict(n, fnew, args, arch32))
            };
            for (class, message) in syscall_changes(name, o, n, verdicts) {
                match found.iter_mut().find(|c| c.subject == name && c.message == message && c.class == class)
                {
                    Some(c) => c.arches.push(arch.name().to_string()),
                    None => {
                        let mut c = change(class, name, message);
                        c.arches.push(arch.name().to_string());
                        found.push(c);
                    }
                }
            }
        }
    }
    for mut c in found {
        // Every arch both accept: not worth listing.
        if c.arches.len() == both.len() {
            c.arches.clear();
        }
        out.push(c);
    }
}

/// The `unknown` tier when either side has `unknown: enosys-after`: per arch, the numbers
/// outside the table whose verdict changes, in the ranges the cut-offs bound (known syscalls
/// above a cut-off are compared one by one with the table).
fn unknown_changes(so: &SeccompIr, sn: &SeccompIr, both: &[Arch]) -> Vec<Change> {
    let mut out: Vec<Change> = Vec::new();
    for &arch in both {
        let Some(t) = table::table(arch) else { continue };
        let first = if arch == Arch::X32 { X32_SYSCALL_BIT } else { 0 };
        // Where a side's verdict can change: its cut-off, and after 0 on s390x (where runc's
        // stub answers ENOSYS at 0).
        let zero = (arch == Arch::S390x).then_some(0);
        let mut cuts: Vec<u32> = [so, sn]
            .iter()
            .filter_map(|s| s.enosys_after.as_ref().and_then(|e| e.cutoff(arch)))
            .chain(zero)
            .filter(|c| *c >= first && *c < u32::MAX)
            .collect();
        cuts.sort_unstable();
        cuts.dedup();
        // Ranges `lo..=hi` within which neither side's verdict for a number outside the
        // table changes.
        let mut ranges = Vec::new();
        let mut lo = first;
        for c in cuts {
            ranges.push((lo, c));
            lo = c + 1;
        }
        ranges.push((lo, u32::MAX));
        for (lo, hi) in ranges {
            let in_table = t.iter().filter(|(nr, _)| (lo..=hi).contains(nr)).count() as u64;
            if u64::from(hi - lo) + 1 == in_table {
                continue;
            }
            let (a, b) = (so.undecided(arch, hi, false).0, sn.undecided(arch, hi, false).0);
            if a == b {
                continue;
            }
            let number = |nr: u32| match (nr >= X32_SYSCALL_BIT, t.name(nr)) {
                (true, Some(name)) => format!("{nr:#x} (`{name}`)"),
                (true, None) => format!("{nr:#x}"),
                (false, Some(name)) => format!("{nr} (`{name}`)"),
                (false, None) => nr.to_string(),
            };
            let range = match (lo == first, hi == u32::MAX) {
                _ if lo == hi => format!(" at {}", number(lo)),
                (true, true) => String::new(),
                (true, false) => format!(" up to {}", number(hi)),
                (false, true) => format!(" above {}", number(lo - 1)),
                (false, false) => format!(" above {} up to {}", number(lo - 1), number(hi)),
            };
            let message = format!("{a} → {b} (numbers outside the arch's table{range})");
            let class = classify(a, b);
            match out.iter_mut().find(|c| c.message == message && c.class == class) {
                Some(c) => c.arches.push(arch.name().to_string()),
                None => {
                    let mut c = Change::new(Tier::Seccomp, class, "unknown", message);
                    c.arches.push(arch.name().to_string());
                    out.push(c);
                }
            }
        }
    }
    for c in &mut out {
        if c.arches.len() == both.len() {
            c.arches.clear();
        }
    }
    out
}

/// The values where a condition changes its answer, one argument at a time: each value a
/// condition names, and each bit of a mask.
fn named_points(conds: &[&ArgCondIr]) -> Vec<[u64; 6]> {
    let mut out: Vec<[u64; 6]> = Vec::new();
    let mut push = |i: u8, v: u64| {
        let mut a = [0u64; 6];
        a[usize::from(i)] = v;
        if !out.contains(&a) {
            out.push(a);
        }
    };
    for c in conds {
        let base = c.values.first().copied().unwrap_or(0);
        for &v in &c.values {
            push(c.index, v);
        }
        if let Some(m) = c.mask {
            for bit in (0..64).filter(|b| m & (1u64 << b) != 0) {
                push(c.index, base ^ (1u64 << bit));
            }
        }
    }
    out
}

fn describe(name: &str, indices: &BTreeSet<u8>, args: &[u64; 6]) -> String {
    let parts: Vec<String> = indices
        .iter()
        .filter(|i| args[usize::from(**i)] != 0)
        .map(|i| values::describe(name, *i, args[usize::from(*i)]))
        .collect();
    match parts.is_empty() {
        true => indices.first().map(|i| values::describe(name, *i, 0)).unwrap_or_default(),
        false => parts.join(", "),
    }
}

/// What changed for one syscall on one arch: one (class, message) per (old, new) verdict pair.
fn syscall_changes(
    name: &str,
    o: Option<&SyscallIr>,
    n: Option<&SyscallIr>,
    verdicts: impl Fn(&[u64; 6]) -> (Action, Action),
) -> Vec<(Class, String)> {
    let conds: Vec<&ArgCondIr> =
        o.into_iter().chain(n).flat_map(|s| s.conditional.iter()).flat_map(|c| c.args.iter()).collect();
    if conds.is_empty() {
        let (a, b) = verdicts(&[0; 6]);
        return if a == b { Vec::new() } else { vec![(classify(a, b), format!("{a} → {b}"))] };
    }
    let indices: BTreeSet<u8> = conds.iter().map(|c| c.index).collect();
    // (old, new) → the argument points where it happens; named points first, then one example
    // from the full boundary set for pairs the named points miss.
    let mut pairs: Vec<((Action, Action), Vec<String>, bool)> = Vec::new();
    for args in named_points(&conds) {
        let (a, b) = verdicts(&args);
        if a != b {
            let d = describe(name, &indices, &args);
            match pairs.iter_mut().find(|p| p.0 == (a, b)) {
                Some(p) if !p.1.contains(&d) => p.1.push(d),
                Some(_) => {}
                None => pairs.push(((a, b), vec![d], true)),
            }
        }
    }
    for args in points::vectors(&conds, VECTOR_LIMIT) {
        let (a, b) = verdicts(&args);
        if a != b && !pairs.iter().any(|p| p.0 == (a, b)) {
            pairs.push(((a, b), vec![describe(name, &indices, &args)], false));
        }
    }
    pairs
        .into_iter()
        .map(|((a, b), points, named)| {
            let mut shown = points.iter().take(SHOWN).cloned().collect::<Vec<_>>().join("; ");
            if points.len() > SHOWN {
                shown.push_str(&format!("; and {} more", points.len() - SHOWN));
            }
            if !named {
                shown = format!("some arguments, e.g. {shown}");
            }
            let class = classify(a, b);
            let message = match class {
                Class::Widen => format!("now also allows {shown} ({a} → {b})"),
                Class::Narrow => format!("no longer allows {shown} ({a} → {b})"),
                Class::Neutral => format!("{a} → {b} for {shown}"),
            };
            (class, message)
        })
        .collect()
}
