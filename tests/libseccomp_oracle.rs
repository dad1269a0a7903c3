//! Oracle: libseccomp compiling our exported Docker JSON must give the same verdict as our
//! BPF for every x86-64 number and the boundary arguments of every condition. Both programs
//! run in our interpreter; the interpreter itself is checked against the kernel elsewhere
//! (`enforcer/tests/live_seccomp.rs`).
//!
//! Deliberate differences, each pinned by a test below:
//! - numbers outside our syscall table get the profile's `unknown` verdict (ENOSYS by default)
//!   in our BPF; libseccomp gives them the default action;
//! - with `unknown: enosys-after` (the imported moby and Podman defaults), a syscall above the
//!   arch's cut-off that no rule decides gets ENOSYS in our BPF; libseccomp gives it the default
//!   action (the export cannot carry `unknown`; runc's own stub answers ENOSYS there);
//! - syscall names libseccomp 2.5 does not know are skipped by runc, so libseccomp gives those
//!   numbers the default action; our BPF applies the rule.

mod common;

use common::scmp;
use policy::backend::seccomp::bpf::{self, interp, SeccompData, SockFilter};
use policy::backend::seccomp::docker::to_docker;
use policy::ir::points;
use policy::syscalls::table;
use policy::{Action, Arch, Policy};

const MOBY: &str = include_str!("fixtures/seccomp/moby-default.json");
const PODMAN: &str = include_str!("fixtures/seccomp/podman-containers-common.json");

/// The granted capabilities by name, as a Docker JSON consumer reads `includes.caps`.
fn granted(p: &policy::Policy) -> Vec<String> {
    p.capabilities.granted.names().into_iter().map(String::from).collect()
}

fn policies() -> Vec<(String, Policy)> {
    let mut out: Vec<(String, Policy)> = policy::builtin::names()
        .into_iter()
        .map(|n| {
            (
                format!("builtin:{n}"),
                policy::compile(&format!("builtin:{n}"), &Default::default()).unwrap().policy,
            )
        })
        .collect();
    for (f, t) in [("moby-default.json", MOBY), ("podman-default.json", PODMAN)] {
        out.push((f.into(), policy::import::compile_docker(f, t, &Default::default()).unwrap().policy));
    }
    out
}

fn run(prog: &[SockFilter], nr: u32, args: [u64; 6]) -> Action {
    let d = SeccompData { nr, arch: Arch::X86_64.audit_arch(), instruction_pointer: 0, args };
    Action::from_ret(interp::run(prog, &d, false).ret)
}

/// Every x86-64 number 0..=1023 with boundary arguments: (nr, args, ours, libseccomp's).
fn compare(p: &Policy, opt: scmp::Optimize) -> (Vec<String>, usize) {
    let json = to_docker(p).expect("exports");
    let ctx = scmp::filter(&json, &granted(p), false, opt);
    let theirs = scmp::export(&ctx);
    interp::check(&theirs).expect("libseccomp's program passes our checker");
    let ours = bpf::compile(p, Arch::X86_64).expect("compiles");
    let unknown_to_libseccomp = scmp::unknown_names(&json);
    let t = table::table(Arch::X86_64).unwrap();
    let at = &p.seccomp.tables["x86_64"];
    let mut diffs = Vec::new();
    let mut n = 0;
    for nr in 0..=1023u32 {
        let name = t.name(nr);
        let conds: Vec<_> = name
            .and_then(|s| at.syscalls.get(s))
            .map(|sc| sc.conditional.iter().flat_map(|c| &c.args).collect())
            .unwrap_or_default();
        for args in points::vectors(&conds, 20_000) {
            n += 1;
            let a = ours.simulate(Arch::X86_64.audit_arch(), nr, args).action;
            let b = run(&theirs, nr, args);
            let stubbed = matches!(
                p.evaluate(Arch::X86_64.audit_arch(), nr, args).decided_by,
                policy::ir::eval::Decider::EnosysAfter { .. }
            );
            let expected_b = match name {
                None => p.seccomp.default_action,
                Some(s) if unknown_to_libseccomp.iter().any(|u| u == s) => p.seccomp.default_action,
                Some(_) if stubbed => p.seccomp.default_action,
                Some(_) => a,
            };
            if b != expected_b {
                diffs.push(format!(
                    "nr {nr} ({}) args {args:x?}: ours {a}, libseccomp {b}",
                    name.unwrap_or("?")
                ));
            }
        }
    }
    (diffs, n)
}

#[test]
fn libseccomp_agrees_with_our_bpf_on_every_x86_64_number() {
    for (name, p) in policies() {
        for opt in [scmp::Optimize::Linear, scmp::Optimize::Tree] {
            let (diffs, n) = compare(&p, opt);
            assert!(n >= 1024, "{name}: {n} calls");
            assert!(
                diffs.is_empty(),
                "{name} ({opt:?}): {} differences, first: {:#?}",
                diffs.len(),
                &diffs[..diffs.len().min(10)]
            );
        }
    }
}

#[test]
fn documented_difference_unknown_numbers_get_enosys_not_the_default() {
    let p = policy::compile("builtin:docker-default", &Default::default()).unwrap().policy;
    assert_eq!(p.seccomp.unknown_action, Action::Errno(38));
    let theirs =
        scmp::export(&scmp::filter(&to_docker(&p).unwrap(), &granted(&p), false, scmp::Optimize::Tree));
    let ours = bpf::compile(&p, Arch::X86_64).unwrap();
    for nr in [400u32, 600, 1000] {
        assert!(table::table(Arch::X86_64).unwrap().name(nr).is_none());
        assert_eq!(
            ours.simulate(Arch::X86_64.audit_arch(), nr, [0; 6]).action,
            Action::Errno(38),
            "ours, nr {nr}"
        );
        assert_eq!(run(&theirs, nr, [0; 6]), Action::Errno(1), "libseccomp, nr {nr}");
    }
}

#[test]
fn documented_difference_names_newer_than_libseccomp_are_skipped_by_it() {
    let p = policy::compile("builtin:docker-default", &Default::default()).unwrap().policy;
    let json = to_docker(&p).unwrap();
    let unknown = scmp::unknown_names(&json);
    let theirs = scmp::export(&scmp::filter(&json, &granted(&p), false, scmp::Optimize::Tree));
    let ours = bpf::compile(&p, Arch::X86_64).unwrap();
    let t = table::table(Arch::X86_64).unwrap();
    let mut seen = 0;
    for name in &unknown {
        let Some(nr) = t.nr(name) else { continue };
        let a = ours.simulate(Arch::X86_64.audit_arch(), nr, [0; 6]).action;
        if a != p.seccomp.default_action {
            seen += 1;
            assert_eq!(run(&theirs, nr, [0; 6]), p.seccomp.default_action, "{name}");
        }
    }
    eprintln!(
        "names libseccomp {} does not know: {unknown:?} ({seen} change a verdict)",
        libseccomp::ScmpVersion::current()
            .map(|v| format!("{}.{}.{}", v.major, v.minor, v.micro))
            .unwrap_or_default()
    );
}

/// The imported moby default says `unknown: enosys-after-named` (runc's stub): a syscall newer
/// than the newest it names gets ENOSYS from our BPF, the default from libseccomp compiling our
/// export; under runc, whose stub counts the export's names, ENOSYS too: the export names the
/// newest syscall moby's JSON names.
#[test]
fn documented_difference_syscalls_above_the_enosys_after_cut_off_get_the_default_from_libseccomp() {
    let p = policy::import::compile_docker("moby.json", MOBY, &Default::default()).unwrap().policy;
    let cut = p.seccomp.enosys_after.as_ref().and_then(|e| e.cutoff(Arch::X86_64)).expect("a cut-off");
    let json = to_docker(&p).unwrap();
    let t = table::table(Arch::X86_64).unwrap();
    let exported_max =
        scmp::kept(&json, &granted(&p)).iter().flat_map(|s| s.names.iter()).filter_map(|n| t.nr(n)).max();
    assert_eq!(exported_max, Some(cut), "runc's stub on the export cuts where the import does");
    let theirs = scmp::export(&scmp::filter(&json, &granted(&p), false, scmp::Optimize::Tree));
    let ours = bpf::compile(&p, Arch::X86_64).unwrap();
    let newer: Vec<u32> = t.iter().map(|(nr, _)| nr).filter(|nr| *nr > cut).collect();
    assert!(!newer.is_empty(), "moby's JSON names the newest syscall of the table ({cut})");
    for nr in newer {
        assert_eq!(
            ours.simulate(Arch::X86_64.audit_arch(), nr, [0; 6]).action,
            Action::Errno(38),
            "ours, {nr}"
        );
        assert_eq!(run(&theirs, nr, [0; 6]), p.seccomp.default_action, "libseccomp, {nr}");
    }
}

#[test]
fn libseccomp_keeps_the_first_of_two_conflicting_rules_and_so_does_the_import() {
    // Podman's profile allows setns in its main list and denies it without CAP_SYS_ADMIN in
    // a later entry. libseccomp silently keeps the first rule, so runc and crun allow setns;
    // the import keeps the first too (it drops the name from the later rule, with a comment
    // saying why) and warns about the conflict.
    let json = policy::import::parse_docker("podman.json", PODMAN).unwrap();
    let imported = policy::import::import("podman.json", "podman", &json).unwrap();
    assert!(
        imported
            .warnings
            .iter()
            .any(|w| w.message.contains("apply to setns") && w.message.contains("keeps the first")),
        "{:#?}",
        imported.warnings
    );
    let p = policy::import::compile_docker("podman.json", PODMAN, &Default::default()).unwrap().policy;
    let theirs = scmp::export(&scmp::filter(&json, &granted(&p), false, scmp::Optimize::Tree));
    let setns = table::table(Arch::X86_64).unwrap().nr("setns").unwrap();
    assert_eq!(run(&theirs, setns, [0; 6]), Action::Allow, "libseccomp on Podman's own JSON");
    assert_eq!(p.evaluate(Arch::X86_64.audit_arch(), setns, [0; 6]).action, Action::Allow, "the import");
    // Our exported JSON never relies on order, so libseccomp reads it as we do.
    let ours =
        scmp::export(&scmp::filter(&to_docker(&p).unwrap(), &granted(&p), false, scmp::Optimize::Tree));
    assert_eq!(run(&ours, setns, [0; 6]), Action::Allow);
}
