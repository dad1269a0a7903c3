//! The reference evaluator: the meaning of a policy, stated as plainly as possible.
//!
//! Given `(arch, nr, args)` it returns the verdict and what decided it by walking the rules
//! from last to first. Compiled outputs (Docker JSON, BPF) are checked against it.

use serde::Serialize;

use super::{KernelVersion, Policy, RuleIr, SeccompIr};
use crate::action::Action;
use crate::error::Origin;
use crate::syscalls::arch::{host_of, X32_SYSCALL_BIT};
use crate::syscalls::{table, Arch};
use crate::vocab::CapSet;

/// `nr` as seccomp sees it when a tracer skips the call (-1).
pub const SKIPPED_SYSCALL: u32 = u32::MAX;

/// What decided a verdict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "by", rename_all = "kebab-case")]
pub enum Decider {
    /// A rule (index into `seccomp.rules`, where it is written).
    Rule {
        /// Index of the rule.
        index: usize,
        /// Where the rule is written.
        #[serde(with = "super::text::origin")]
        origin: Origin,
    },
    /// No rule matched: the default verdict.
    Default,
    /// The number is not in the arch's syscall table: the unknown verdict.
    Unknown,
    /// No rule decides and the number is above the arch's `unknown: enosys-after` cut-off:
    /// ENOSYS (runc's stub).
    EnosysAfter {
        /// The arch's cut-off.
        above: u32,
    },
    /// The arch is not accepted by the policy (kill-process).
    BadArch,
    /// An x32 number on x86-64 while x32 is not accepted (kill-process).
    X32NotAllowed,
}

/// A verdict with its reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Evaluation {
    /// The verdict.
    pub action: Action,
    /// Why.
    #[serde(flatten)]
    pub decided_by: Decider,
    /// The arch the call was decided under.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// The syscall name, when the number is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub syscall: Option<String>,
}

/// Conditions that rules depend on besides the call itself.
#[derive(Clone, Copy, Debug)]
pub struct Env<'a> {
    /// Granted capabilities.
    pub granted: CapSet,
    /// Host arch name (Docker's).
    pub host: &'a str,
    /// Kernel version (`None`: current).
    pub kernel: Option<KernelVersion>,
}

/// Whether rule `r` is in force in `env` and names `syscall`.
pub fn applies(r: &RuleIr, syscall: &str, env: &Env) -> bool {
    r.when.caps_ok(env.granted)
        && r.when.host_ok(env.host)
        && r.when.kernel_ok(env.kernel)
        && r.names(syscall)
}

/// Decide one named call: the last applicable rule whose argument conditions hold.
pub fn decide(rules: &[RuleIr], syscall: &str, env: &Env, args: &[u64; 6], arch32: bool) -> Option<usize> {
    rules.iter().rposition(|r| {
        applies(r, syscall, env) && r.args.iter().all(|c| c.matches(args[usize::from(c.index)], arch32))
    })
}

impl SeccompIr {
    /// What a call of `arch` numbered `nr` gets when no rule decides it (`known`: the number is
    /// in the arch's table): the default, or the unknown verdict for a number outside the
    /// table; with `unknown: enosys-after`, ENOSYS above the arch's cut-off and the default
    /// at or below it, known or not.
    pub fn undecided(&self, arch: Arch, nr: u32, known: bool) -> (Action, Decider) {
        match &self.enosys_after {
            Some(e) => match e.cutoff(arch) {
                Some(above) if e.stubs(arch, nr) => (Action::Errno(ENOSYS), Decider::EnosysAfter { above }),
                _ => (self.default_action, Decider::Default),
            },
            None if known => (self.default_action, Decider::Default),
            None => (self.unknown_action, Decider::Unknown),
        }
    }
}

/// The errno of runc's stub.
const ENOSYS: u16 = 38;

impl Policy {
    /// Evaluate a call as the kernel would see it: `seccomp_data.arch`, `nr`, `args`.
    pub fn evaluate(&self, audit_arch: u32, nr: u32, args: [u64; 6]) -> Evaluation {
        self.evaluate_with(audit_arch, nr, args, None)
    }

    /// [`Policy::evaluate`] for a given kernel version (for `when.min_kernel`).
    pub fn evaluate_with(
        &self,
        audit_arch: u32,
        nr: u32,
        args: [u64; 6],
        kernel: Option<KernelVersion>,
    ) -> Evaluation {
        let s = &self.seccomp;
        let kill =
            |decided_by| Evaluation { action: Action::KillProcess, decided_by, arch: None, syscall: None };
        // nr -1 is what a ptrace tracer sets to skip a call: not an x32 call (libseccomp agrees).
        let x32 = audit_arch == Arch::X32.audit_arch() && nr & X32_SYSCALL_BIT != 0 && nr != SKIPPED_SYSCALL;
        let arch = if x32 {
            if !s.arches.contains(&Arch::X32) {
                return kill(Decider::X32NotAllowed);
            }
            Arch::X32
        } else {
            match s.arches.iter().copied().find(|a| *a != Arch::X32 && a.audit_arch() == audit_arch) {
                Some(a) => a,
                None => return kill(Decider::BadArch),
            }
        };
        let Some(name) = table::table(arch).and_then(|t| t.name(nr)) else {
            let (action, decided_by) = s.undecided(arch, nr, false);
            return Evaluation { action, decided_by, arch: Some(arch.name().into()), syscall: None };
        };
        let env = Env { granted: self.capabilities.granted, host: host_of(arch, &s.arches), kernel };
        let decided = decide(&s.rules, name, &env, &args, arch.is_32bit());
        let (action, decided_by) = match decided {
            Some(i) => (s.rules[i].action, Decider::Rule { index: i, origin: s.rules[i].origin.clone() }),
            None => s.undecided(arch, nr, true),
        };
        Evaluation { action, decided_by, arch: Some(arch.name().into()), syscall: Some(name.into()) }
    }

    /// Evaluate a call by syscall name on `arch`.
    pub fn evaluate_name(&self, arch: Arch, name: &str, args: [u64; 6]) -> Option<Evaluation> {
        let nr = table::table(arch)?.nr(name)?;
        Some(self.evaluate(arch.audit_arch(), nr, args))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syscalls::arch::X32_SYSCALL_BIT;
    use crate::{compile_text, CompileOptions};

    fn policy(seccomp: &str) -> Policy {
        let yaml = format!("name: t\nseccomp:\n{seccomp}");
        compile_text("t.yaml", &yaml, None, &CompileOptions::default())
            .unwrap_or_else(|e| panic!("{e}"))
            .policy
    }

    fn on(p: &Policy, arch: Arch, nr: u32) -> (Action, Decider) {
        let e = p.evaluate(arch.audit_arch(), nr, [0; 6]);
        (e.action, e.decided_by)
    }

    fn nr(arch: Arch, name: &str) -> u32 {
        table::table(arch).and_then(|t| t.nr(name)).unwrap()
    }

    const ENOSYS: Action = Action::Errno(38);
    const EPERM: Action = Action::Errno(1);

    /// Issue 15: `unknown: enosys-after NAME` is runc's stub with NAME's number as the cut-off
    /// on each arch: above it, what no rule decides gets ENOSYS, known or not; at or below it,
    /// the default, known or not (as libseccomp gives numbers it does not know).
    #[test]
    fn enosys_after_a_name_cuts_at_its_number_on_each_arch() {
        let p = policy(
            "  unknown: enosys-after openat2\n  arches: [x86_64, x86, aarch64]\n  rules:\n    - allow: [read, faccessat2]\n    - deny: [io_uring_setup]\n      action: kill\n",
        );
        let e = p.seccomp.enosys_after.as_ref().unwrap();
        assert_eq!(e.syscall.as_deref(), Some("openat2"));
        for arch in [Arch::X86_64, Arch::X86, Arch::Aarch64] {
            let cut = nr(arch, "openat2");
            assert_eq!(e.cutoff(arch), Some(cut), "{arch}");
            let above = Decider::EnosysAfter { above: cut };
            // A known syscall above the cut-off that no rule names, and numbers outside the table.
            assert_eq!(on(&p, arch, nr(arch, "pidfd_getfd")), (ENOSYS, above.clone()), "{arch}");
            assert_eq!(on(&p, arch, cut + 1), (ENOSYS, above.clone()), "{arch}");
            assert_eq!(on(&p, arch, 5000), (ENOSYS, above.clone()), "{arch}");
            assert_eq!(on(&p, arch, u32::MAX), (ENOSYS, above), "{arch}: nr -1 is above every cut-off");
            // The cut-off itself and below: the default.
            assert_eq!(on(&p, arch, cut), (EPERM, Decider::Default), "{arch}");
            assert_eq!(on(&p, arch, nr(arch, "mount")), (EPERM, Decider::Default), "{arch}");
            // Rules decide first, above the cut-off too.
            assert_eq!(on(&p, arch, nr(arch, "faccessat2")).0, Action::Allow, "{arch}");
            assert_eq!(on(&p, arch, nr(arch, "io_uring_setup")).0, Action::KillProcess, "{arch}");
        }
        // x86-64 has no syscall 335..=423: below the cut-off, they get the default.
        assert_eq!(on(&p, Arch::X86_64, 400), (EPERM, Decider::Default));
        // runc's stub also answers ENOSYS at 0 on s390x (no syscall: the multiplexer's number).
        let s390 =
            policy("  unknown: enosys-after openat2\n  arches: [s390x]\n  rules:\n    - allow: [read]\n");
        let cut = nr(Arch::S390x, "openat2");
        assert_eq!(on(&s390, Arch::S390x, 0), (ENOSYS, Decider::EnosysAfter { above: cut }));
        assert_eq!(on(&s390, Arch::S390x, 1), (EPERM, Decider::Default));
    }

    /// `enosys-after-named`: on each arch, the largest number that a rule in force there names
    /// (runc's `findLastSyscalls`), x32's with the x32 bit; the knobs' rules and the implicit
    /// clone3 rule are not written in `rules` and do not count.
    #[test]
    fn enosys_after_named_takes_the_largest_number_the_rules_name_per_arch() {
        let p = policy(
            "  unknown: enosys-after-named\n  arches: [x86_64, x86, x32]\n  restrict_namespaces: true\n  deny_io_uring: true\n  rules:\n    - allow: [read, statx, clock_gettime64]\n    - allow: [execve]\n      when: { arches: [x86] }\n    - allow: [mseal]\n      when: { caps_present: [SYS_ADMIN] }\n    - allow: [clone]\n      args: [{ index: 0, op: eq, value: 0 }]\n",
        );
        let e = p.seccomp.enosys_after.as_ref().unwrap();
        assert_eq!(e.syscall, None);
        // x86-64 has no clock_gettime64: statx is its largest; mseal needs a capability the
        // profile does not grant; io_uring_* and clone3 (435) come from knobs and the compiler.
        assert_eq!(e.cutoff(Arch::X86_64), Some(nr(Arch::X86_64, "statx")));
        assert_eq!(e.cutoff(Arch::X86), Some(nr(Arch::X86, "clock_gettime64")));
        // x32's execve is 520 | the x32 bit, above its statx; the `when: arches: [x86]` rule is
        // about the host, which is amd64 here, so it is not in force anywhere.
        assert_eq!(e.cutoff(Arch::X32), Some(nr(Arch::X32, "statx")));
        assert_eq!(on(&p, Arch::X86_64, nr(Arch::X86_64, "rseq")).0, ENOSYS);
        assert_eq!(on(&p, Arch::X86_64, nr(Arch::X86_64, "pkey_free")).0, EPERM);
        // Rules of knobs decide their syscalls, above the cut-off too.
        assert_eq!(on(&p, Arch::X86_64, nr(Arch::X86_64, "io_uring_setup")).0, EPERM);
        assert_eq!(on(&p, Arch::X86_64, nr(Arch::X86_64, "clone3")).0, ENOSYS);
        let x32 = |name: &str| nr(Arch::X32, name);
        assert!(x32("statx") & X32_SYSCALL_BIT != 0);
        assert_eq!(on(&p, Arch::X32, x32("rseq")).0, ENOSYS);
        assert_eq!(on(&p, Arch::X32, x32("pkey_free")).0, EPERM);
        assert_eq!(on(&p, Arch::X32, x32("statx")).0, Action::Allow);
        // Granting SYS_ADMIN puts mseal in force: the cut-off moves up to it.
        let with = policy(
            "  unknown: enosys-after-named\n  rules:\n    - allow: [read, statx]\n    - allow: [mseal]\n      when: { caps_present: [SYS_ADMIN] }\n",
        );
        assert_eq!(with.seccomp.enosys_after.unwrap().cutoff(Arch::X86_64), Some(nr(Arch::X86_64, "statx")));
        let yaml = "name: t\ncapabilities: { add: [SYS_ADMIN] }\nseccomp:\n  unknown: enosys-after-named\n  rules:\n    - allow: [read, statx]\n    - allow: [mseal]\n      when: { caps_present: [SYS_ADMIN] }\n";
        let granted = compile_text("t.yaml", yaml, None, &CompileOptions::default()).unwrap().policy;
        assert_eq!(
            granted.seccomp.enosys_after.unwrap().cutoff(Arch::X86_64),
            Some(nr(Arch::X86_64, "mseal"))
        );
    }

    /// runc finds no syscall for an arch when the largest number is 0 (or there is none) and
    /// adds no stub there: everything no rule decides gets the default.
    #[test]
    fn enosys_after_named_without_a_number_above_zero_has_no_cut_off() {
        let p = policy("  unknown: enosys-after-named\n  arches: [x86_64, aarch64]\n  rules:\n    - allow: [read, open]\n");
        let e = p.seccomp.enosys_after.as_ref().unwrap();
        // read is 0 on x86-64 and open (2) is named; aarch64 has no open and its read is 63.
        assert_eq!(e.cutoff(Arch::X86_64), Some(2));
        assert_eq!(e.cutoff(Arch::Aarch64), Some(63));
        let p = policy("  unknown: enosys-after-named\n  arches: [x86_64, aarch64]\n  rules:\n    - allow: [read, open]\n      when: { arches: [arm64] }\n    - allow: [read]\n");
        let e = p.seccomp.enosys_after.as_ref().unwrap();
        assert_eq!(e.cutoff(Arch::X86_64), None, "only read (0) is in force on x86-64");
        assert_eq!(on(&p, Arch::X86_64, 1000), (EPERM, Decider::Default));
        assert_eq!(on(&p, Arch::Aarch64, 1000), (ENOSYS, Decider::EnosysAfter { above: 63 }));
    }

    /// A syscall above the cut-off that rules name only with argument conditions gets ENOSYS
    /// where none of them matches, in the tables the backends read too.
    #[test]
    fn conditions_above_the_cut_off_fall_back_to_enosys() {
        let p = policy(
            "  unknown: enosys-after openat2\n  arches: [x86_64]\n  rules:\n    - allow: [faccessat2]\n      args: [{ index: 0, op: eq, value: 3 }]\n    - allow: [mount]\n      args: [{ index: 0, op: eq, value: 3 }]\n",
        );
        let name = |n: &str, a0: u64| p.evaluate_name(Arch::X86_64, n, [a0, 0, 0, 0, 0, 0]).unwrap().action;
        assert_eq!((name("faccessat2", 3), name("faccessat2", 4)), (Action::Allow, ENOSYS));
        assert_eq!((name("mount", 3), name("mount", 4)), (Action::Allow, EPERM));
        let t = &p.seccomp.tables["x86_64"];
        assert_eq!((t.syscalls["faccessat2"].action, t.syscalls["mount"].action), (ENOSYS, EPERM));
    }
}
