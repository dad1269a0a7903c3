//! The compiled BPF means what the policy means.
//!
//! For every built-in profile and the imported moby and Podman defaults, on every kernel
//! arch the profile targets: every number 0..=1023 and every number of each table (with the
//! x32 bit, and the other high bits, on x86-64), foreign arch values, and boundary arguments
//! of every argument condition. The program's verdict and deciding rule must equal the
//! reference evaluator's. A property test does the same for random small profiles.

use std::collections::BTreeSet;

use common::random::{profile, value, NAMES};
use policy::backend::seccomp::bpf::{self, interp, Program};
use policy::ir::points;
use policy::syscalls::arch::{ALL_ARCHES, X32_SYSCALL_BIT};
use policy::syscalls::table;
use policy::{Action, Arch, Policy};
use proptest::prelude::*;

mod common;

const MOBY: &str = include_str!("../../tests/fixtures/seccomp/moby-default.json");
const PODMAN: &str = include_str!("../../tests/fixtures/seccomp/podman-containers-common.json");
const PODMAN_EXAMPLE: &str = include_str!("../../tests/fixtures/seccomp/podman-example.json");

fn profiles() -> Vec<(String, Policy)> {
    let mut out: Vec<(String, Policy)> = policy::builtin::names()
        .into_iter()
        .map(|n| {
            let spec = format!("builtin:{n}");
            let p = policy::compile(&spec, &Default::default()).expect("builtin compiles").policy;
            (spec, p)
        })
        .collect();
    for (file, text) in [
        ("moby-default.json", MOBY),
        ("podman-default.json", PODMAN),
        ("podman-example.json", PODMAN_EXAMPLE),
    ] {
        let c = policy::import::compile_docker(file, text, &Default::default()).expect("imports");
        out.push((file.to_string(), c.policy));
    }
    out
}

/// Argument vectors worth trying for `nr` on `arch`: zero and every boundary of its conditions,
/// with garbage in the high words.
fn arg_vectors(p: &Policy, arch: Arch, nr: u32) -> Vec<[u64; 6]> {
    let Some(name) = table::table(arch).and_then(|t| t.name(nr)) else { return vec![[0; 6]] };
    let Some(sc) = p.seccomp.tables.get(arch.name()).and_then(|t| t.syscalls.get(name)) else {
        return vec![[0; 6]];
    };
    let conds: Vec<_> = sc.conditional.iter().flat_map(|c| &c.args).collect();
    let mut v = points::vectors(&conds, 20_000);
    v.push([u64::MAX; 6]);
    v.push([0xffff_ffff_0000_0000; 6]);
    v
}

/// Check one call; returns a description of the mismatch, if any.
fn check_call(p: &Policy, prog: &Program, audit: u32, nr: u32, args: [u64; 6]) -> Option<String> {
    let e = p.evaluate(audit, nr, args);
    let s = prog.simulate(audit, nr, args);
    let in_program = prog.arches.iter().any(|a| a.audit_arch() == audit);
    let (want_action, want_origin) = if in_program {
        (e.action, bpf::decider_origin(&e.decided_by))
    } else {
        (Action::KillProcess, "bad-arch".to_string())
    };
    // The `ret` reached is shared by every call with that verdict: the deciding rule must be
    // among its deciders.
    (s.action != want_action || !s.decided_by(&want_origin)).then(|| {
        format!(
            "arch {audit:#x} nr {nr:#x} args {args:x?}: bpf {} by one of {:?}, reference {want_action} by {want_origin}",
            s.action, s.origins
        )
    })
}

fn numbers(arch: Arch) -> BTreeSet<u32> {
    let mut n: BTreeSet<u32> = (0..=1023).collect();
    if let Some(t) = table::table(arch) {
        let (lo, hi) = t.range();
        n.extend(t.iter().map(|(nr, _)| nr));
        n.extend([lo.saturating_sub(1), hi + 1, hi + 2]);
    }
    n.extend([u32::MAX, u32::MAX - 1, 0x8000_0000, 0x7fff_ffff]);
    n
}

fn differential(name: &str, p: &Policy) -> usize {
    let mut checked = 0;
    let mut failures = Vec::new();
    let foreign: Vec<u32> =
        ALL_ARCHES.iter().map(|a| a.audit_arch()).chain([0, u32::MAX, 0x4000_003f, 0xc000_003f]).collect();
    for target in bpf::targets(p) {
        let prog = bpf::compile(p, target).unwrap_or_else(|e| panic!("{name} on {target}: {e}"));
        interp::check(&prog.insns).unwrap_or_else(|e| panic!("{name} on {target}: kernel would refuse: {e}"));
        for arch in ALL_ARCHES {
            for nr in numbers(arch) {
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
                        checked += 1;
                        failures.extend(check_call(p, &prog, arch.audit_arch(), n, args));
                    }
                }
            }
        }
        for &audit in &foreign {
            for nr in [0, 1, 59, 101, 435, 1000, X32_SYSCALL_BIT | 1] {
                checked += 1;
                failures.extend(check_call(p, &prog, audit, nr, [0; 6]));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{name}: {} mismatches, first: {:#?}",
        failures.len(),
        &failures[..failures.len().min(10)]
    );
    checked
}

#[test]
fn every_profile_bpf_agrees_with_the_reference_evaluator() {
    let mut total = 0;
    for (name, p) in profiles() {
        let n = differential(&name, &p);
        assert!(n > 10_000, "{name}: only {n} calls checked");
        total += n;
    }
    eprintln!("differential: {total} calls checked");
}

#[test]
fn x32_and_foreign_arches_are_killed_unless_listed() {
    let p = policy::compile("builtin:strict", &Default::default()).unwrap().policy;
    assert!(!p.seccomp.arches.contains(&Arch::X32), "strict does not list x32");
    let prog = bpf::compile(&p, Arch::X86_64).unwrap();
    for nr in 0..=1023u32 {
        let s = prog.simulate(Arch::X86_64.audit_arch(), nr | X32_SYSCALL_BIT, [0; 6]);
        assert_eq!((s.action, s.decided_by("x32")), (Action::KillProcess, true), "nr {nr:#x}");
        let s = prog.simulate(Arch::Aarch64.audit_arch(), nr, [0; 6]);
        assert_eq!(s.action, Action::KillProcess);
    }
}

#[test]
fn a_call_skipped_by_a_tracer_is_not_taken_for_x32() {
    // A ptrace tracer skips a call by setting nr to -1; the kernel still runs the filter.
    let p = policy::compile("builtin:strict", &Default::default()).unwrap().policy;
    let prog = bpf::compile(&p, Arch::X86_64).unwrap();
    let s = prog.simulate(Arch::X86_64.audit_arch(), u32::MAX, [0; 6]);
    assert_eq!((s.action, s.decided_by("unknown")), (Action::Errno(38), true));
    let s = prog.simulate(Arch::X86_64.audit_arch(), u32::MAX - 1, [0; 6]);
    assert_eq!((s.action, s.decided_by("x32")), (Action::KillProcess, true));
}

#[test]
fn unknown_numbers_get_enosys_and_denies_keep_their_errno() {
    let p = policy::compile("builtin:docker-default", &Default::default()).unwrap().policy;
    for target in bpf::targets(&p) {
        let prog = bpf::compile(&p, target).unwrap();
        for arch in prog.arches.clone() {
            let Some(t) = table::table(arch) else { continue };
            let above = t.range().1 + 1;
            let s = prog.simulate(arch.audit_arch(), above, [0; 6]);
            assert_eq!(s.action, Action::Errno(38), "{arch} nr {above}");
            if let Some(s) = prog.simulate_name(arch, "acct", [0; 6]) {
                assert_eq!(s.action, Action::Errno(1), "{arch} acct");
            }
        }
    }
}

#[test]
fn thirty_two_bit_arguments_ignore_high_garbage() {
    // Pitfall 8 (CVE-2019-7303): TIOCSTI with high bits set must still be denied.
    let yaml = "name: t\nseccomp:\n  default: allow\n  rules:\n    - deny: [ioctl]\n      args: [{ index: 1, op: eq, value: TIOCSTI }]\n";
    let p = policy::compile_text("t.yaml", yaml, None, &Default::default()).unwrap().policy;
    let prog = bpf::compile(&p, Arch::X86_64).unwrap();
    for hi in [0u64, 1 << 32, 0xffff_ffff_0000_0000] {
        let s = prog.simulate_name(Arch::X86_64, "ioctl", [0, 0x5412 | hi, 0, 0, 0, 0]).unwrap();
        assert_eq!(s.action, Action::Errno(1), "high bits {hi:#x}");
    }
}

/// Found by the bpf_differential fuzzer: one-bit rules of one verdict are merged into one bit
/// test, but a bit above 32 is no test on a 32-bit arch (mask and value are both 0 there, so
/// the rule always holds): merged, the x86 program had it never hold.
#[test]
fn a_high_one_bit_rule_holds_on_32_bit_arches_merged_or_not() {
    let rule = "    - syscalls: [kill]\n      action: log\n      args: [{ index: 5, op: masked_eq, mask: 4294967296, value: 4294967296, width: 64 }]\n";
    let yaml = format!(
        "name: t\nseccomp:\n  default: errno(1)\n  arches: [x86_64, x86, x32]\n  rules:\n{rule}{rule}"
    );
    let p = policy::compile_text("t.yaml", &yaml, None, &Default::default()).unwrap().policy;
    assert!(differential("high-one-bit", &p) > 0);
    let prog = bpf::compile(&p, Arch::X86_64).unwrap();
    assert_eq!(prog.simulate_name(Arch::X86, "kill", [0; 6]).unwrap().action, Action::Log);
    assert_eq!(prog.simulate_name(Arch::X86_64, "kill", [0; 6]).unwrap().action, Action::Errno(1));
}

#[test]
fn clone3_gets_enosys_where_clone_is_argument_filtered() {
    let yaml = "name: t\nseccomp:\n  default: allow\n  rules:\n    - deny: [clone]\n      args: [{ index: 0, op: masked_eq, mask: CLONE_NEWUSER, value: CLONE_NEWUSER }]\n";
    let p = policy::compile_text("t.yaml", yaml, None, &Default::default()).unwrap().policy;
    for target in bpf::targets(&p) {
        let prog = bpf::compile(&p, target).unwrap();
        for arch in prog.arches.clone() {
            if let Some(s) = prog.simulate_name(arch, "clone3", [0; 6]) {
                assert_eq!(s.action, Action::Errno(38), "{arch}");
            }
        }
    }
    // Saying anything about clone3 turns the implicit rule off.
    let yaml2 = format!("{yaml}    - allow: [clone3]\n");
    let p = policy::compile_text("t.yaml", &yaml2, None, &Default::default()).unwrap().policy;
    let prog = bpf::compile(&p, Arch::X86_64).unwrap();
    assert_eq!(prog.simulate_name(Arch::X86_64, "clone3", [0; 6]).unwrap().action, Action::Allow);
}

#[test]
fn oversized_programs_are_an_error_naming_the_size() {
    // 300 rules on ioctl with distinct 64-bit values: far over 4096 instructions.
    let mut yaml = String::from("name: big\nseccomp:\n  default: allow\n  arches: [x86_64]\n  rules:\n");
    for i in 0..1500u64 {
        yaml.push_str(&format!(
            "    - deny: [mmap]\n      args: [{{ index: 0, op: eq, value: {} }}, {{ index: 1, op: ne, value: {} }}]\n",
            (i << 32) | i,
            i
        ));
    }
    let p = policy::compile_text("big.yaml", &yaml, None, &Default::default()).unwrap().policy;
    let err = bpf::compile(&p, Arch::X86_64).unwrap_err().to_string();
    assert!(err.contains("at most 4096") && err.contains("mmap on x86_64"), "{err}");
}

// ---- property test over random small profiles ----

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_profiles_compile_to_equivalent_bpf(yaml in profile(), extra in prop::collection::vec(prop::array::uniform6(value()), 8)) {
        let c = policy::compile_text("random.yaml", &yaml, None, &Default::default());
        let p = match c {
            Ok(c) => c.policy,
            // Random profiles may be invalid (e.g. a deny rule with action allow); not our concern here.
            Err(_) => return Ok(()),
        };
        for target in bpf::targets(&p) {
            let prog = bpf::compile(&p, target).expect("compiles");
            prop_assert!(interp::check(&prog.insns).is_ok());
            for arch in prog.arches.clone() {
                let Some(t) = table::table(arch) else { continue };
                for name in NAMES {
                    let Some(nr) = t.nr(name) else { continue };
                    let mut vectors = arg_vectors(&p, arch, nr);
                    vectors.extend(extra.iter().copied());
                    for args in vectors {
                        let m = check_call(&p, &prog, arch.audit_arch(), nr, args);
                        prop_assert!(m.is_none(), "{}\n{}", m.unwrap_or_default(), yaml);
                    }
                }
            }
        }
    }
}

#[test]
fn exactly_the_argument_free_allows_are_kernel_cacheable() {
    // Cached numbers never run BPF, so a cached number must be allowed whatever its
    // arguments (else the cache would be a bypass), and every such allow should be cached.
    for (name, p) in profiles() {
        for target in bpf::targets(&p) {
            let prog = bpf::compile(&p, target).unwrap();
            for arch in prog.arches.clone() {
                let Some(t) = table::table(arch) else { continue };
                let at = p.seccomp.tables.get(arch.name());
                for (nr, sc_name) in t.iter() {
                    let ir = at.and_then(|at| at.syscalls.get(sc_name));
                    let argument_free_allow = match ir {
                        Some(sc) => sc.action == Action::Allow && sc.conditional.is_empty(),
                        None => p.seccomp.default_action == Action::Allow,
                    };
                    let cached = prog.cached(arch, nr);
                    if arch == Arch::X32 {
                        // The kernel does not cache x32 numbers; the emulation must still be sound.
                        assert!(!cached || argument_free_allow, "{name} {arch} {sc_name}");
                        continue;
                    }
                    assert_eq!(cached, argument_free_allow, "{name} on {target}: {arch} {sc_name} (nr {nr})");
                }
            }
        }
    }
}

/// The program depends on the policy's meaning, not on how the rules group the names: moby's
/// and Podman's defaults, and the same JSON rewritten one name per entry (the old format),
/// compile to the same instructions on every kernel arch.
#[test]
fn one_name_per_rule_compiles_to_the_same_program() {
    use policy::import::{import, parse_docker, to_yaml};
    let compile = |file: &str, d: &policy::formats::docker::DockerProfile| {
        let yaml = to_yaml(&import(file, "t", d).expect("imports").profile).expect("yaml");
        policy::compile_text(file, &yaml, None, &Default::default()).expect("compiles").policy
    };
    for (file, text) in [("moby.json", MOBY), ("podman.json", PODMAN)] {
        let grouped = parse_docker(file, text).expect("parses");
        let mut split = grouped.clone();
        split.syscalls = grouped
            .syscalls
            .iter()
            .flat_map(|s| {
                s.names.iter().chain(s.name.iter()).map(move |n| {
                    let mut one = s.clone();
                    one.names = vec![n.clone()];
                    one.name = None;
                    one
                })
            })
            .collect();
        assert!(
            split.syscalls.len() > 3 * grouped.syscalls.len(),
            "{file}: the split has one name per entry"
        );
        let (a, b) = (compile(file, &grouped), compile(file, &split));
        for target in bpf::targets(&a) {
            let pa = bpf::compile(&a, target).expect("grouped compiles");
            let pb = bpf::compile(&b, target).expect("split compiles");
            assert_eq!(
                pa.insns,
                pb.insns,
                "{file} on {target}: {} against {} instructions",
                pa.insns.len(),
                pb.insns.len()
            );
        }
    }
}

/// Issue 15: `unknown: enosys-after` (runc's ENOSYS stub) compiles to what the evaluator
/// says on every arch: the default at or below each arch's cut-off for numbers no rule
/// decides, known or not, ENOSYS above it (x32's cut-off carries the x32 bit; nr -1 is above
/// every cut-off), rules first; an arch without a cut-off gets the default everywhere.
#[test]
fn enosys_after_compiles_to_what_the_evaluator_says() {
    let arches = "[x86_64, x86, x32, aarch64, arm, riscv64, s390x, ppc64le, mips64]";
    let rules = "  rules:\n    - allow: [read, write, openat2]\n    - allow: [faccessat2]\n      args: [{ index: 2, op: eq, value: 0 }]\n    - deny: [mount_setattr, epoll_pwait2]\n      action: kill\n    - allow: [statx, rseq]\n      when: { caps_present: [SYS_ADMIN] }\n    - allow: [clone]\n      args: [{ index: 0, op: masked_eq, mask: 0x10000000, value: 0 }]\n";
    let mut checked = 0;
    for (unknown, default) in [
        ("enosys-after openat2", "errno(EPERM)"),
        ("enosys-after close_range", "allow"),
        ("enosys-after-named", "errno(EPERM)"),
        ("enosys-after-named", "kill"),
    ] {
        let yaml = format!(
            "name: t\nseccomp:\n  default: {default}\n  unknown: {unknown}\n  arches: {arches}\n{rules}"
        );
        let p = policy::compile_text("t.yaml", &yaml, None, &Default::default()).expect("compiles").policy;
        let e = p.seccomp.enosys_after.as_ref().expect("enosys-after");
        for arch in [Arch::X86_64, Arch::X32, Arch::Aarch64] {
            let t = table::table(arch).unwrap();
            let cut = e.cutoff(arch).expect("a cut-off");
            let named = if unknown.ends_with("named") { "mount_setattr" } else { &unknown[13..] };
            assert_eq!(Some(cut), t.nr(named), "{unknown} on {arch}");
            let prog = bpf::compile(&p, arch.family_head()).unwrap();
            let unnamed = |n: &u32| t.name(*n).is_none_or(|s| !p.seccomp.rules.iter().any(|r| r.names(s)));
            let first_above = (cut + 1..).find(unnamed).expect("a number above");
            let above = prog.simulate(arch.audit_arch(), first_above, [0; 6]);
            assert_eq!(
                (above.action, above.decided_by("enosys-after")),
                (Action::Errno(38), true),
                "{unknown} {arch}"
            );
            let at = prog.simulate(arch.audit_arch(), cut, [0; 6]).action;
            assert_ne!(at, Action::Errno(38), "{unknown} {arch}: the cut-off itself");
        }
        checked += differential(&format!("{unknown}, default {default}"), &p);
    }
    // x32 without any syscall of its own named above 0: no cut-off there, the default.
    let yaml = "name: t\nseccomp:\n  unknown: enosys-after-named\n  arches: [x86_64, x32]\n  rules:\n    - allow: [read]\n      when: { not_arches: [amd64] }\n    - allow: [openat2]\n      when: { arches: [arm64] }\n";
    let p = policy::compile_text("t.yaml", yaml, None, &Default::default()).expect("compiles").policy;
    assert!(p.seccomp.enosys_after.as_ref().unwrap().above.is_empty());
    let prog = bpf::compile(&p, Arch::X86_64).unwrap();
    assert_eq!(prog.simulate(Arch::X86_64.audit_arch(), 1000, [0; 6]).action, Action::Errno(1));
    checked += differential("enosys-after-named without a cut-off", &p);
    eprintln!("enosys-after: {checked} calls checked");
}
