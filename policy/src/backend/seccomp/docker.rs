//! Docker / Podman seccomp JSON export.
//!
//! libseccomp treats the rules of a JSON profile as an unordered set, and runc drops entries
//! whose action equals the default (runc#3109) and splits entries that repeat an argument index
//! (moby#52494). So the export never relies on order, on default-action entries, or on
//! repeated indexes: per syscall and per condition context (host arch, capabilities, kernel)
//! it computes the disjoint regions where the verdict is not the default, and writes one
//! entry per region with at most one condition per argument (`regions.rs`: a range on a 64-bit
//! argument is one `SCMP_CMP_GE`/`LE`, a 32-bit argument is compared on its low word with
//! `SCMP_CMP_MASKED_EQ`). Contexts with the same rules in force share their regions.
//!
//! The export has a budget (work and entries, growing with the profile's conditions): a
//! profile whose JSON would exceed it is refused at the rule that asks for it, before the work
//! is done.

use std::collections::{BTreeMap, BTreeSet};

use super::regions::{self, Atom, Budget, Limit, OverBudget, Ranked};
use crate::action::Action;
use crate::error::{Diagnostic, Error, Origin};
use crate::formats::docker::{ArchMap, DockerArg, DockerFilter, DockerProfile, DockerSyscall};
use crate::ir::{KernelVersion, Policy, RuleIr};
use crate::syscalls::arch::host_of;
use crate::syscalls::Arch;
use crate::vocab::{Cap, CapSet};

/// Most condition contexts tried for one syscall (hosts × capability combinations × kernels).
const MAX_CONTEXTS: usize = 4096;

/// Steps of work an entry costs in one context (copied and filed with its contexts).
const CONTEXT_ENTRY_COST: u64 = 16;

/// Steps of work a rule costs where it is looked at as a whole (filtered, written).
const RULE_COST: u64 = 48;

/// The `archMap` of a policy: each family head with the sub-arches the policy accepts.
pub fn arch_map(arches: &[Arch]) -> Vec<ArchMap> {
    let mut heads: BTreeMap<Arch, Vec<Arch>> = BTreeMap::new();
    for &a in arches {
        let head = if arches.contains(&a.family_head()) { a.family_head() } else { a };
        let subs = heads.entry(head).or_default();
        if a != head {
            subs.push(a);
        }
    }
    heads
        .into_iter()
        .map(|(head, subs)| ArchMap {
            architecture: head.scmp_name(),
            sub_architectures: (!subs.is_empty()).then(|| subs.iter().map(|s| s.scmp_name()).collect()),
        })
        .collect()
}

/// The arches the JSON names: the profile's, without the socketcall arches when rules there
/// would collide ([`crate::syscalls::runc::socketcall_conflicts`]).
fn json_arches(policy: &Policy) -> Vec<Arch> {
    let socketcall = !crate::syscalls::runc::socketcall_conflicts(policy).is_empty();
    let keep = |a: &Arch| !(socketcall && crate::syscalls::runc::SOCKETCALL_ARCHES.contains(a));
    policy.seccomp.arches.iter().copied().filter(keep).collect()
}

/// The `SCMP_CMP_*` conditions of an entry.
pub fn atom_args(atoms: &[Atom]) -> Vec<DockerArg> {
    atoms
        .iter()
        .map(|a| DockerArg {
            index: u32::from(a.index),
            value: a.value,
            value_two: a.value_two,
            op: a.op.scmp_name().into(),
        })
        .collect()
}

/// The budget of exporting `policy` (whose arguments are all 32-bit when `arch32`), after
/// checking that no rule needs more entries on its own than the whole budget allows: that is
/// refused before any other work, naming the rule.
/// Only the rules for which `exported` holds are checked.
pub(super) fn budget_for(
    policy: &Policy,
    arch32: bool,
    format: &'static str,
    exported: impl Fn(&RuleIr) -> bool,
) -> Result<Budget, Error> {
    let rules = &policy.seccomp.rules;
    let mut budget = Budget::for_rules(rules.iter().map(|r| r.args.as_slice()));
    for (i, r) in rules.iter().enumerate() {
        if r.args.is_empty() || !exported(r) {
            continue;
        }
        let syscall = r.syscalls.first().map(String::as_str);
        let n = regions::entries_alone(&r.args, i, arch32, &mut budget)
            .map_err(|e| over_budget(policy, format, syscall, 1, OverBudget { alone: true, ..e }))?;
        if n > budget.entries_left() {
            let allowed = budget.entries_left();
            let e = OverBudget { rule: i, limit: Limit::Entries, asked: n, allowed, alone: true };
            return Err(over_budget(policy, format, syscall, 1, e));
        }
    }
    Ok(budget)
}

/// The error of an export over its budget: at the rule that asked, with what to do.
/// `contexts`: the combinations of capabilities, hosts and kernels the export went through.
pub(super) fn over_budget(
    policy: &Policy,
    format: &'static str,
    syscall: Option<&str>,
    contexts: usize,
    e: OverBudget,
) -> Error {
    let rule = policy.seccomp.rules.get(e.rule);
    let origin = rule.map(|r| r.origin.clone()).unwrap_or_else(|| Origin::new("<policy>", 0, 0));
    let on = syscall.map(|s| format!(" for `{s}`")).unwrap_or_default();
    let asked = if e.asked == u64::MAX { "too many".to_string() } else { e.asked.to_string() };
    let mut message = match (e.limit, e.alone) {
        (Limit::Entries, true) => format!(
            "cannot export to {format}: the argument conditions of this rule{on} need {asked} entries, more than the {} this export allows: {format} takes one condition per argument, so a range on a 32-bit argument, a range bounded on both sides or a negated 32-bit value is written as several masked conditions, and the conditions of several arguments multiply",
            e.allowed
        ),
        (Limit::Entries, false) => format!(
            "cannot export to {format}: where this rule decides{on}, the later rules that overlap it cut its region into so many pieces that the export would need at least {asked} entries, more than the {} it allows ({format} entries cannot overlap, so each rule's region is written as disjoint pieces)",
            e.allowed
        ),
        (Limit::Work, _) => format!(
            "cannot export to {format}: splitting the region where this rule decides{on} from the later rules that overlap it takes more than {} steps",
            e.allowed
        ),
    };
    if contexts > 1 && !e.alone {
        message.push_str(&format!(
            ", over the {contexts} combinations of capabilities, host arches and kernel versions the rules{on} depend on"
        ));
    }
    Error::Invalid(vec![Diagnostic::error(origin, message).with_hint(
        "use fewer range or `not_in` conditions per rule on 32-bit arguments (or `width: 64` if the argument really is 64-bit), fewer rules that overlap on one syscall, or the BPF output (`--emit bpf`), which has no such limit",
    )])
}

fn action_fields(a: Action) -> (String, Option<u32>) {
    let (name, data) = a.scmp();
    (name.to_string(), data.map(u32::from))
}

/// A condition context: which host (an index into the syscall's host list), which
/// capabilities (bit `i` for the syscall's capability `i`), which kernel thresholds hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Context {
    host: usize,
    caps: u32,
    kernel_level: usize,
}

/// Deciding rule, action name, serialized entry: entries equal in all but names merge.
type EntryKey = (usize, String, Vec<u8>);

/// The format name in messages.
const FORMAT: &str = "docker-seccomp";

/// Export the policy as a Docker seccomp profile.
///
/// Refused (an error at the rule, with a hint) when the entries would exceed the budget of
/// [`Budget::for_rules`]: the check comes before the work.
pub fn to_docker(policy: &Policy) -> Result<DockerProfile, Error> {
    let s = &policy.seccomp;
    let (default_action, default_errno) = action_fields(s.default_action);
    let hosts: BTreeSet<String> = s.arches.iter().map(|a| host_of(*a, &s.arches).to_string()).collect();
    let arch32 = s.arches.iter().all(|a| a.is_32bit());
    let mut budget = budget_for(policy, arch32, FORMAT, |_| true)?;

    let names: BTreeSet<&str> = s.rules.iter().flat_map(|r| r.syscalls.iter().map(String::as_str)).collect();
    // (rule, action, args, includes, excludes) → names.
    let mut entries: BTreeMap<EntryKey, (DockerSyscall, BTreeSet<String>)> = BTreeMap::new();
    for name in names {
        let rules: Vec<(usize, &RuleIr)> =
            s.rules.iter().enumerate().filter(|(_, r)| r.names(name)).collect();
        let caps: Vec<Cap> = rules.iter().fold(CapSet::EMPTY, |c, (_, r)| c | r.when.caps()).iter().collect();
        let kernels: Vec<KernelVersion> = rules
            .iter()
            .filter_map(|(_, r)| r.when.min_kernel)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let host_dependent =
            rules.iter().any(|(_, r)| !r.when.arches.is_empty() || !r.when.not_arches.is_empty());
        let host_list: Vec<String> =
            if host_dependent { hosts.iter().cloned().collect() } else { vec![String::new()] };
        let contexts = host_list.len() * (1usize << caps.len().min(16)) * (kernels.len() + 1);
        if caps.len() > 12 || contexts > MAX_CONTEXTS {
            return Err(Error::Export {
                format: FORMAT,
                message: format!(
                    "syscall `{name}` depends on too many conditions ({} capabilities, {} kernel versions)",
                    caps.len(),
                    kernels.len()
                ),
            });
        }
        let over = |e: OverBudget| over_budget(policy, FORMAT, Some(name), contexts, e);
        let last_rule = rules.last().map_or(0, |(i, _)| *i);
        // Contexts with the same rules in force share their entries: per set of rules, its
        // entries and its contexts.
        let mut memo: BTreeMap<Vec<usize>, usize> = BTreeMap::new();
        let mut shared: Vec<(Vec<regions::Entry<Action>>, Vec<Context>)> = Vec::new();
        for (host_at, host) in host_list.iter().enumerate() {
            for bits in 0u32..(1 << caps.len()) {
                let present: Vec<bool> = (0..caps.len()).map(|i| bits & (1 << i) != 0).collect();
                let granted: CapSet =
                    caps.iter().zip(&present).filter(|(_, p)| **p).map(|(c, _)| *c).collect();
                for level in 0..=kernels.len() {
                    budget.work(RULE_COST * (rules.len() as u64 + 1), last_rule).map_err(over)?;
                    let ranked: Vec<Ranked<Action>> = rules
                        .iter()
                        .filter(|(_, r)| {
                            r.when.caps_ok(granted)
                                && (host.is_empty() || r.when.host_ok(host))
                                && r.when.min_kernel.is_none_or(|k| {
                                    kernels.iter().position(|x| *x == k).is_some_and(|p| p < level)
                                })
                        })
                        .map(|(i, r)| Ranked { args: &r.args, action: r.action, rule: *i })
                        .collect();
                    let key: Vec<usize> = ranked.iter().map(|r| r.rule).collect();
                    let id = match memo.get(&key) {
                        Some(id) => *id,
                        None => {
                            let made = regions::entries(&ranked, s.default_action, arch32, true, &mut budget)
                                .map_err(over)?;
                            // Entries are counted once, when they are filed below.
                            budget.refund_entries(made.len() as u64);
                            shared.push((made, Vec::new()));
                            memo.insert(key, shared.len() - 1);
                            shared.len() - 1
                        }
                    };
                    let ctx = Context { host: host_at, caps: bits, kernel_level: level };
                    if let Some((_, ctxs)) = shared.get_mut(id) {
                        ctxs.push(ctx);
                    }
                }
            }
        }
        // entry → the sets of rules (so the contexts) where it holds
        let mut found: BTreeMap<&regions::Entry<Action>, Vec<usize>> = BTreeMap::new();
        for (id, (made, _)) in shared.iter().enumerate() {
            budget.work(CONTEXT_ENTRY_COST * made.len() as u64, last_rule).map_err(over)?;
            for e in made {
                let at = found.entry(e).or_default();
                if at.is_empty() {
                    budget.entries(1, e.2).map_err(over)?;
                }
                at.push(id);
            }
        }
        for ((atoms, action, rule), ids) in found {
            let (atoms, action, rule) = (atoms.as_slice(), *action, *rule);
            let n: usize = ids.iter().map(|id| shared[*id].1.len()).sum();
            budget.work(CONTEXT_ENTRY_COST * n as u64 * (caps.len() as u64 + 1), rule).map_err(over)?;
            let ctxs: Vec<Context> = ids.iter().flat_map(|id| shared[*id].1.iter().copied()).collect();
            let terms = express(&ctxs, &host_list, &caps, &kernels, host_dependent, name)?;
            budget.work(RULE_COST * terms.len() as u64 * (atoms.len() as u64 + 1), rule).map_err(over)?;
            budget.entries(terms.len().saturating_sub(1) as u64, rule).map_err(over)?;
            for (includes, excludes) in terms {
                let (act, errno) = action_fields(action);
                let args = atom_args(atoms);
                let entry = DockerSyscall {
                    names: vec![],
                    name: None,
                    action: act,
                    args: (!args.is_empty()).then_some(args),
                    comment: s.rules[rule].comment.clone(),
                    includes: (!includes.is_empty()).then_some(includes),
                    excludes: (!excludes.is_empty()).then_some(excludes),
                    errno_ret: errno,
                    errno: None,
                };
                let key_json = serde_json::to_vec(&entry).unwrap_or_default();
                let slot =
                    entries.entry((rule, entry.action.clone(), key_json)).or_insert((entry, BTreeSet::new()));
                slot.1.insert(name.to_string());
            }
        }
    }
    let syscalls = entries
        .into_values()
        .map(|(mut e, names)| {
            e.names = names.into_iter().collect();
            e
        })
        .collect();
    Ok(DockerProfile {
        default_action,
        default_errno_ret: default_errno,
        architectures: vec![],
        arch_map: arch_map(&json_arches(policy)),
        syscalls,
        flags: vec![],
    })
}

/// Turn a set of contexts into Docker includes/excludes pairs (an OR of them). `hosts` are
/// every host, sorted (a context's host indexes it), when `host_dependent`.
fn express(
    ctxs: &[Context],
    hosts: &[String],
    caps: &[Cap],
    kernels: &[KernelVersion],
    host_dependent: bool,
    name: &str,
) -> Result<Vec<(DockerFilter, DockerFilter)>, Error> {
    // (caps, kernel level) → hosts (bits).
    let mut by_cond: BTreeMap<(u32, usize), u128> = BTreeMap::new();
    for c in ctxs {
        *by_cond.entry((c.caps, c.kernel_level)).or_default() |= 1u128 << c.host.min(127);
    }
    // hosts → (caps, level) list
    let mut by_hosts: BTreeMap<u128, Vec<(u32, usize)>> = BTreeMap::new();
    for (cond, hs) in by_cond {
        by_hosts.entry(hs).or_default().push(cond);
    }
    let every_host = if hosts.len() >= 128 { u128::MAX } else { (1u128 << hosts.len()) - 1 };
    let mut out = Vec::new();
    for (hs, conds) in by_hosts {
        // Kernel: the levels must be upward closed per caps assignment.
        let mut by_caps: BTreeMap<u32, BTreeSet<usize>> = BTreeMap::new();
        for (c, l) in conds {
            by_caps.entry(c).or_default().insert(l);
        }
        let mut by_min: BTreeMap<usize, Vec<u32>> = BTreeMap::new();
        for (c, levels) in by_caps {
            let min = *levels.iter().next().unwrap_or(&0);
            if levels.len() != kernels.len() + 1 - min {
                return Err(Error::Export { format: FORMAT, message: format!("the verdict of `{name}` holds only below a kernel version, which Docker JSON cannot express") });
            }
            by_min.entry(min).or_default().push(c);
        }
        for (min, terms) in by_min {
            for (care, val) in merge_terms(terms, caps.len()) {
                let mut inc = DockerFilter::default();
                let mut exc = DockerFilter::default();
                for (k, cap) in caps.iter().enumerate() {
                    if care >> k & 1 == 1 {
                        let side = if val >> k & 1 == 1 { &mut inc } else { &mut exc };
                        side.caps.push(cap.name().to_string());
                    }
                }
                if min > 0 {
                    inc.min_kernel = Some(kernels[min - 1].to_string());
                }
                if host_dependent && hs != every_host {
                    let pick = |inside: bool| -> Vec<String> {
                        hosts
                            .iter()
                            .enumerate()
                            .filter(|(k, _)| (hs >> k & 1 == 1) == inside)
                            .map(|(_, h)| h.clone())
                            .collect()
                    };
                    let (rest, these) = (pick(false), pick(true));
                    if rest.len() < these.len() {
                        exc.arches = rest;
                    } else {
                        inc.arches = these;
                    }
                }
                out.push((inc, exc));
            }
        }
    }
    Ok(out)
}

/// Merge capability minterms (`width` variables, all set) into terms `(variables set, their
/// values)`: terms that differ in one variable only, set in one and clear in the other, merge
/// until none do (disjoint terms stay disjoint; the union is unchanged).
fn merge_terms(minterms: Vec<u32>, width: usize) -> Vec<(u32, u32)> {
    let all = if width >= 32 { u32::MAX } else { (1u32 << width) - 1 };
    let mut set: BTreeSet<(u32, u32)> = minterms.into_iter().map(|v| (all, v & all)).collect();
    loop {
        let mut merged = false;
        for bit in (0..width.min(32)).map(|k| 1u32 << k) {
            let high: Vec<(u32, u32)> = set
                .iter()
                .filter(|(care, val)| care & bit != 0 && val & bit != 0)
                .filter(|(care, val)| set.contains(&(*care, val & !bit)))
                .copied()
                .collect();
            for (care, val) in high {
                set.remove(&(care, val));
                set.remove(&(care, val & !bit));
                set.insert((care & !bit, val & !bit));
                merged = true;
            }
        }
        if !merged {
            return set.into_iter().collect();
        }
    }
}
