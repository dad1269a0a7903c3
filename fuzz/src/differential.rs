//! The compiled BPF against the reference evaluator, as `policy/tests/bpf_differential.rs`
//! compares them: the program of every target the policy has, run in the interpreter
//! (`Program::simulate`) on every arch's calls, must give the evaluator's verdict; a call of
//! an arch the program does not accept must be killed. Only actions are compared (the rule
//! labels of verdicts are the listings' business).
//!
//! The calls: on each arch the program accepts, the numbers of every syscall the policy's
//! table for that arch decides, of [`NAMES`], the table's edges and the special numbers (-1,
//! -2, the sign bit), with the x32 bit set and flipped on x86-64; each at zero, at the
//! boundary arguments of its conditions ([`policy::ir::points::vectors`], at most
//! [`MAX_VECTORS`]) and with garbage in the high words. On the other arches and on foreign
//! arch values, a few numbers at zero. This is fewer calls than the test (every number
//! 0..=1023, 20,000 vectors), and at most [`MAX_WORK`] rule visits of the evaluator per
//! input, so that the check itself stays well under the 1 s budget: a timeout is the
//! compiler's.

use policy::backend::seccomp::bpf::Program;
use policy::ir::points;
use policy::syscalls::arch::{ALL_ARCHES, X32_SYSCALL_BIT};
use policy::syscalls::table;
use policy::{Action, Arch, Policy};

use crate::structured::NAMES;

/// Most argument vectors tried per syscall number.
pub const MAX_VECTORS: usize = 1024;

/// Most calls checked per input, times the policy's rule count plus one (the evaluator walks
/// the rules of every call), shared by the programs of its targets.
pub const MAX_WORK: usize = 20_000_000;

/// Compare every target's program with the evaluator; panic with the first mismatch. Returns
/// the number of calls checked.
pub fn check(p: &Policy, what: &str) -> usize {
    let foreign: Vec<u32> =
        ALL_ARCHES.iter().map(|a| a.audit_arch()).chain([0, u32::MAX, 0x4000_003f, 0xc000_003f]).collect();
    let targets = policy::backend::seccomp::bpf::targets(p);
    let budget = MAX_WORK / (p.seccomp.rules.len() + 1) / targets.len().max(1);
    let mut checked = 0;
    for target in targets {
        let Some(prog) = crate::emit::program(p, target) else { continue };
        let mut left = budget;
        'arches: for arch in ALL_ARCHES {
            let accepted = prog.arches.iter().any(|a| a.audit_arch() == arch.audit_arch());
            if !accepted {
                continue;
            }
            for nr in numbers(p, arch) {
                let mut variants = vec![nr];
                if arch == Arch::X86_64 || arch == Arch::X32 {
                    variants.extend([nr | X32_SYSCALL_BIT, nr ^ X32_SYSCALL_BIT]);
                }
                for n in variants {
                    let vectors = if arch == Arch::X32 || n & X32_SYSCALL_BIT == 0 {
                        arg_vectors(p, arch, n)
                    } else {
                        arg_vectors(p, Arch::X32, n)
                    };
                    for args in vectors {
                        if left == 0 {
                            break 'arches;
                        }
                        left -= 1;
                        checked += 1;
                        check_call(p, &prog, arch.audit_arch(), n, args, what);
                    }
                }
            }
        }
        for &audit in &foreign {
            for nr in [0, 1, 59, 101, 435, 1000, X32_SYSCALL_BIT | 1] {
                checked += 1;
                check_call(p, &prog, audit, nr, [0; 6], what);
            }
        }
    }
    checked
}

/// One call: the program's verdict must be the evaluator's (kill-process for an arch the
/// program does not accept), as `check_call` in the differential test decides.
fn check_call(p: &Policy, prog: &Program, audit: u32, nr: u32, args: [u64; 6], what: &str) {
    let e = p.evaluate(audit, nr, args);
    let s = prog.simulate(audit, nr, args);
    let in_program = prog.arches.iter().any(|a| a.audit_arch() == audit);
    let want = if in_program { e.action } else { Action::KillProcess };
    if s.action != want {
        panic!(
            "BPF and the reference evaluator disagree on the {} program: arch {audit:#x} nr {nr:#x} \
             args {args:x?}: bpf {}, reference {want} ({:?})\n--- profile ---\n{what}\n--- program ---\n{}",
            prog.target,
            s.action,
            e.decided_by,
            prog.asm()
        );
    }
}

/// The numbers tried on `arch`.
fn numbers(p: &Policy, arch: Arch) -> std::collections::BTreeSet<u32> {
    let mut n: std::collections::BTreeSet<u32> = [0, 1].into();
    if let Some(t) = table::table(arch) {
        let (lo, hi) = t.range();
        n.extend([lo.saturating_sub(1), lo, hi, hi + 1, hi + 2]);
        n.extend(NAMES.iter().filter_map(|name| t.nr(name)));
        if let Some(at) = p.seccomp.tables.get(arch.name()) {
            n.extend(at.syscalls.keys().filter_map(|name| t.nr(name)));
        }
    }
    n.extend([u32::MAX, u32::MAX - 1, 0x8000_0000, 0x7fff_ffff]);
    n
}

/// Argument vectors worth trying for `nr` on `arch`: zero and every boundary of its
/// conditions, with garbage in the high words (as the differential test's `arg_vectors`).
fn arg_vectors(p: &Policy, arch: Arch, nr: u32) -> Vec<[u64; 6]> {
    let Some(name) = table::table(arch).and_then(|t| t.name(nr)) else { return vec![[0; 6]] };
    let Some(sc) = p.seccomp.tables.get(arch.name()).and_then(|t| t.syscalls.get(name)) else {
        return vec![[0; 6]];
    };
    let conds: Vec<_> = sc.conditional.iter().flat_map(|c| &c.args).collect();
    let mut v = points::vectors(&conds, MAX_VECTORS);
    v.push([u64::MAX; 6]);
    v.push([0xffff_ffff_0000_0000; 6]);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtins_agree() {
        for name in policy::builtin::names() {
            let p = policy::compile(&format!("builtin:{name}"), &Default::default()).unwrap().policy;
            assert!(check(&p, name) > 1000, "{name}");
        }
    }
}
