//! The reference evaluator: the meaning of a policy, stated as plainly as possible.
//!
//! Given `(arch, nr, args)` it returns the verdict and what decided it by walking the rules
//! from last to first. Compiled outputs (Docker JSON, BPF) are checked against it.

use serde::Serialize;

use super::{KernelVersion, Policy, RuleIr};
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
        let unknown = |a: Arch| Evaluation {
            action: s.unknown_action,
            decided_by: Decider::Unknown,
            arch: Some(a.name().into()),
            syscall: None,
        };
        let Some(name) = table::table(arch).and_then(|t| t.name(nr)) else { return unknown(arch) };
        let env = Env { granted: self.capabilities.granted, host: host_of(arch, &s.arches), kernel };
        let decided = decide(&s.rules, name, &env, &args, arch.is_32bit());
        let (action, decided_by) = match decided {
            Some(i) => (s.rules[i].action, Decider::Rule { index: i, origin: s.rules[i].origin.clone() }),
            None => (s.default_action, Decider::Default),
        };
        Evaluation { action, decided_by, arch: Some(arch.name().into()), syscall: Some(name.into()) }
    }

    /// Evaluate a call by syscall name on `arch`.
    pub fn evaluate_name(&self, arch: Arch, name: &str, args: [u64; 6]) -> Option<Evaluation> {
        let nr = table::table(arch)?.nr(name)?;
        Some(self.evaluate(arch.audit_arch(), nr, args))
    }
}
