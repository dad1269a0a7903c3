//! Lowering: the seccomp rules resolved into per-arch tables, the verdict of every syscall
//! number whose verdict is not simply the default. Backends read the tables; the rules stay
//! for explanations and exports that keep conditions (Docker JSON).

use std::collections::{BTreeMap, HashMap};

use super::{ArchTable, CondIr, EnosysAfterIr, KernelVersion, RuleIr, SyscallIr};
use crate::action::Action;
use crate::syscalls::arch::host_of;
use crate::syscalls::{table, Arch};

/// Options that change how a profile compiles.
#[derive(Clone, Debug, Default)]
pub struct CompileOptions {
    /// Kernel the policy targets, for `when.min_kernel` (`None`: a current kernel).
    pub kernel: Option<KernelVersion>,
    /// Build the per-arch tables only for the arches a kernel of this arch presents (the
    /// enforcer's case: it only runs here). `None`: every arch of the profile.
    pub tables_for: Option<Arch>,
}

/// The tables of every arch of `arches` (those `opts` asks for) that has a syscall table.
/// A syscall that rules name only with argument conditions gets, where none matches, the
/// default, or ENOSYS above the arch's `enosys_after` cut-off.
pub fn tables(
    rules: &[RuleIr],
    arches: &[Arch],
    default_action: Action,
    enosys_after: Option<&EnosysAfterIr>,
    opts: &CompileOptions,
) -> BTreeMap<String, ArchTable> {
    // Syscall name → the rules naming it, in order: one pass over the rules instead of
    // testing every rule for every syscall of every arch.
    let mut by_name: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, r) in rules.iter().enumerate() {
        for s in &r.syscalls {
            by_name.entry(s.as_str()).or_default().push(i);
        }
    }
    let mut out = BTreeMap::new();
    for &arch in arches {
        if let Some(target) = opts.tables_for {
            if arch != target && arch.family_head() != target {
                continue;
            }
        }
        let Some(t) = table::table(arch) else { continue };
        let host = host_of(arch, arches);
        let in_force: Vec<bool> =
            rules.iter().map(|r| r.active && r.when.host_ok(host) && r.when.kernel_ok(opts.kernel)).collect();
        let mut syscalls = BTreeMap::new();
        for (nr, name) in t.iter() {
            let Some(idx) = by_name.get(name) else { continue };
            let applicable: Vec<&RuleIr> = idx.iter().filter(|i| in_force[**i]).map(|i| &rules[*i]).collect();
            let fallback = match enosys_after {
                Some(e) if e.stubs(arch, nr) => Action::Errno(38),
                _ => default_action,
            };
            let s = resolve(nr, &applicable, fallback);
            if s.origin.is_some() || !s.conditional.is_empty() {
                syscalls.insert(name.to_string(), s);
            }
        }
        out.insert(
            arch.name().to_string(),
            ArchTable {
                audit_arch: arch.audit_arch(),
                host: host.to_string(),
                max_nr: t.range().1,
                syscalls,
            },
        );
    }
    out
}

/// Collapse the applicable rules of one syscall: everything before the last unconditional rule
/// is shadowed by it; without one, `fallback` is what no rule decides.
fn resolve(nr: u32, rules: &[&RuleIr], fallback: Action) -> SyscallIr {
    let last_uncond = rules.iter().rposition(|r| r.args.is_empty());
    let (action, origin, rest) = match last_uncond {
        Some(i) => (rules[i].action, Some(rules[i].origin.clone()), &rules[i + 1..]),
        None => (fallback, None, rules),
    };
    let conditional = rest
        .iter()
        .map(|r| CondIr { args: r.args.clone(), action: r.action, origin: r.origin.clone() })
        .collect();
    SyscallIr { nr, action, origin, conditional }
}
