//! Cross-check with seccompiler (Firecracker's filter compiler) on what it does well: plain
//! allow- and denylists without argument conditions. Both programs run in our interpreter for
//! every x86-64 number. The one difference is pinned: seccompiler has no x32 guard, so a
//! denylist compiled by it lets x32 numbers through (pitfall 1, seccompiler#74); ours kills them.

use std::collections::BTreeMap;

use policy::backend::seccomp::bpf::{self, interp, SeccompData, SockFilter};
use policy::syscalls::arch::X32_SYSCALL_BIT;
use policy::syscalls::table;
use policy::{Action, Arch};
use seccompiler::{BpfProgram, SeccompAction, SeccompFilter, TargetArch};

const NAMES: [&str; 12] = [
    "read",
    "write",
    "openat",
    "close",
    "mmap",
    "exit_group",
    "futex",
    "getpid",
    "ptrace",
    "mount",
    "bpf",
    "acct",
];

fn theirs(default: SeccompAction, on_match: SeccompAction) -> Vec<SockFilter> {
    let t = table::table(Arch::X86_64).unwrap();
    let rules: BTreeMap<i64, Vec<seccompiler::SeccompRule>> =
        NAMES.iter().map(|n| (i64::from(t.nr(n).unwrap()), vec![])).collect();
    let f = SeccompFilter::new(rules, default, on_match, TargetArch::x86_64).expect("seccompiler filter");
    let prog: BpfProgram = f.try_into().expect("seccompiler compiles");
    prog.iter().map(|i| SockFilter { code: i.code, jt: i.jt, jf: i.jf, k: i.k }).collect()
}

fn run(p: &[SockFilter], nr: u32) -> Action {
    let d = SeccompData { nr, arch: Arch::X86_64.audit_arch(), instruction_pointer: 0, args: [0; 6] };
    Action::from_ret(interp::run(p, &d, false).ret)
}

fn ours(default: &str, rule: &str) -> policy::backend::seccomp::bpf::Program {
    let yaml = format!(
        "name: t\nseccomp:\n  default: {default}\n  unknown: default\n  arches: [x86_64]\n  rules:\n    - {rule}: [{}]\n",
        NAMES.join(", ")
    );
    let p = policy::compile_text("t.yaml", &yaml, None, &Default::default()).unwrap().policy;
    bpf::compile(&p, Arch::X86_64).unwrap()
}

#[test]
fn plain_allowlist_agrees_with_seccompiler_on_every_number() {
    let theirs = theirs(SeccompAction::Errno(1), SeccompAction::Allow);
    interp::check(&theirs).expect("seccompiler's program passes our checker");
    let ours = ours("errno(EPERM)", "allow");
    for nr in 0..=1023u32 {
        assert_eq!(ours.simulate(Arch::X86_64.audit_arch(), nr, [0; 6]).action, run(&theirs, nr), "nr {nr}");
    }
    assert!(ours.insns.len() < theirs.len(), "ours {} vs seccompiler {}", ours.insns.len(), theirs.len());
}

#[test]
fn plain_denylist_agrees_except_seccompilers_x32_bypass() {
    let theirs = theirs(SeccompAction::Allow, SeccompAction::Errno(1));
    let ours = ours("allow", "deny");
    for nr in 0..=1023u32 {
        assert_eq!(ours.simulate(Arch::X86_64.audit_arch(), nr, [0; 6]).action, run(&theirs, nr), "nr {nr}");
    }
    // x32 ptrace: seccompiler's denylist allows it; ours kills the process.
    let x32_ptrace = table::table(Arch::X32).unwrap().nr("ptrace").unwrap();
    assert_ne!(x32_ptrace & X32_SYSCALL_BIT, 0);
    assert_eq!(run(&theirs, x32_ptrace), Action::Allow, "seccompiler has no x32 guard");
    assert_eq!(ours.simulate(Arch::X86_64.audit_arch(), x32_ptrace, [0; 6]).action, Action::KillProcess);
}
