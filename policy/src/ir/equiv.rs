//! Semantic comparison of two policies' seccomp tiers.
//!
//! For every arch both accept, every syscall number in the arch's table, every combination of
//! the capabilities their rules mention for that syscall, every kernel threshold, and every
//! boundary argument vector of both policies' conditions, the two verdicts must agree.

use std::collections::BTreeSet;

use super::eval::{decide, Env};
use super::{points, KernelVersion, Policy};
use crate::syscalls::arch::host_of;
use crate::syscalls::table;
use crate::vocab::{Cap, CapSet};

/// Most argument vectors tried per syscall and context.
const VECTOR_LIMIT: usize = 4096;

/// Differences found (empty: the seccomp tiers mean the same), at most `limit` of them.
pub fn seccomp_differences(a: &Policy, b: &Policy, limit: usize) -> Vec<String> {
    let mut out = Vec::new();
    let (sa, sb) = (&a.seccomp, &b.seccomp);
    if sa.default_action != sb.default_action {
        out.push(format!("default: {} vs {}", sa.default_action, sb.default_action));
    }
    let arches_a: BTreeSet<_> = sa.arches.iter().collect();
    let arches_b: BTreeSet<_> = sb.arches.iter().collect();
    if arches_a != arches_b {
        out.push(format!("arches differ: {:?} vs {:?}", sa.arches, sb.arches));
    }
    for arch in arches_a.intersection(&arches_b) {
        let Some(t) = table::table(**arch) else { continue };
        let (ha, hb) = (host_of(**arch, &sa.arches), host_of(**arch, &sb.arches));
        for (_, name) in t.iter() {
            let rules: Vec<_> = sa.rules.iter().chain(&sb.rules).filter(|r| r.names(name)).collect();
            let caps: Vec<Cap> = rules.iter().fold(CapSet::EMPTY, |c, r| c | r.when.caps()).iter().collect();
            let mut kernels: Vec<Option<KernelVersion>> = vec![None];
            kernels.extend(
                rules
                    .iter()
                    .filter_map(|r| r.when.min_kernel)
                    .map(|k| Some(KernelVersion(k.0, k.1.saturating_sub(1)))),
            );
            let conds: Vec<_> = rules.iter().flat_map(|r| r.args.iter()).collect();
            let vectors = points::vectors(&conds, VECTOR_LIMIT);
            for bits in 0u32..(1 << caps.len().min(10)) {
                let granted: CapSet =
                    caps.iter().enumerate().filter(|(i, _)| bits & (1 << i) != 0).map(|(_, c)| *c).collect();
                for kernel in &kernels {
                    let ea = Env { granted, host: ha, kernel: *kernel };
                    let eb = Env { granted, host: hb, kernel: *kernel };
                    for args in &vectors {
                        let va = decide(&sa.rules, name, &ea, args, arch.is_32bit())
                            .map(|i| sa.rules[i].action)
                            .unwrap_or(sa.default_action);
                        let vb = decide(&sb.rules, name, &eb, args, arch.is_32bit())
                            .map(|i| sb.rules[i].action)
                            .unwrap_or(sb.default_action);
                        if va != vb {
                            out.push(format!(
                                "{arch} {name}{args:x?} caps {granted:?} kernel {kernel:?}: {va} vs {vb}"
                            ));
                            if out.len() >= limit {
                                return out;
                            }
                            break;
                        }
                    }
                }
            }
        }
    }
    out
}
