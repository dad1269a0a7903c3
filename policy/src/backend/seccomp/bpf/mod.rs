//! Palisade's own seccomp BPF backend: an optimizing multi-arch code generator, a classic-BPF
//! interpreter to run the result, and an emulation of the kernel's action cache.
//!
//! ```
//! use policy::backend::seccomp::bpf;
//! let c = policy::compile("builtin:docker-default", &Default::default()).unwrap();
//! let prog = bpf::compile(&c.policy, policy::Arch::X86_64).unwrap();
//! let acct = prog.simulate_name(policy::Arch::X86_64, "acct", [0; 6]).unwrap();
//! assert_eq!(acct.action, policy::Action::Errno(1));
//! ```

pub mod args;
pub mod asm;
pub mod cache;
pub mod codegen;
mod dispatch;
pub mod emit;
pub mod insn;
pub mod interp;
pub mod search;
pub mod stats;

pub use codegen::{compile, program_arches};
pub use emit::RetKey;
pub use insn::{SeccompData, SockFilter};

use crate::action::Action;
use crate::syscalls::{table, Arch};

/// Why a program could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BpfError {
    /// The profile accepts no arch a kernel of the target arch can present.
    #[error("the profile accepts no arch that a {target} kernel runs (profile arches: {arches})")]
    NoArch {
        /// Requested target.
        target: String,
        /// The profile's arches.
        arches: String,
    },
    /// Over the kernel's limit of 4096 instructions.
    #[error("the BPF program has {len} instructions; the kernel accepts at most 4096 (largest parts: {contributors})")]
    TooLarge {
        /// Length.
        len: usize,
        /// The largest parts and their sizes.
        contributors: String,
    },
    /// A bug in the generator (never expected).
    #[error("internal BPF generator error: {0}")]
    Internal(String),
}

/// A compiled filter for one kernel arch.
#[derive(Debug, Clone)]
pub struct Program {
    /// The kernel arch the program is for.
    pub target: Arch,
    /// The arches it accepts (the target and its compat arches that the profile lists).
    pub arches: Vec<Arch>,
    /// Byte order of the target (for `seccomp_data` and the output file).
    pub big_endian: bool,
    /// The instructions.
    pub insns: Vec<SockFilter>,
    /// A comment per instruction.
    pub notes: Vec<emit::Note>,
    /// For each `ret`, the verdict and what decided it.
    pub rets: Vec<Option<RetKey>>,
}

/// The result of running a program on one call.
///
/// `origins` lists every rule that shares the `ret` reached: the program cannot tell which of
/// them decided, only that the verdict is theirs ([`Simulated::decided_by`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Simulated {
    /// The verdict.
    pub action: Action,
    /// What may have decided it (the `ret`'s [`RetKey::origins`]): `file:line` of rules, or
    /// `default`, `unknown`, `bad-arch`, `x32`; `?` for a program read back without them.
    pub origins: Vec<String>,
    /// Instructions executed.
    pub executed: usize,
}

impl Simulated {
    /// Whether `origin` (as [`decider_origin`] writes it) is among the `ret`'s deciders.
    pub fn decided_by(&self, origin: &str) -> bool {
        self.origins.iter().any(|o| o == origin)
    }
}

impl Program {
    /// A program read back from storage (the enforcer's compile cache): the instructions,
    /// without the per-instruction notes and rule origins that only listings and simulation
    /// reports use (they show `?` there).
    pub fn from_insns(target: Arch, arches: Vec<Arch>, big_endian: bool, insns: Vec<SockFilter>) -> Program {
        Program { target, arches, big_endian, insns, notes: Vec::new(), rets: Vec::new() }
    }

    /// The program as `struct sock_filter` records in the target's byte order.
    pub fn to_bytes(&self) -> Vec<u8> {
        insn::encode(&self.insns, self.big_endian)
    }

    /// Run the program on a call.
    pub fn simulate(&self, arch: u32, nr: u32, args: [u64; 6]) -> Simulated {
        let data = SeccompData { nr, arch, instruction_pointer: 0, args };
        let r = interp::run(&self.insns, &data, self.big_endian);
        let origins = r
            .ret_pc
            .and_then(|pc| self.rets.get(pc).cloned().flatten())
            .map(|k| k.origins)
            .unwrap_or_else(|| vec!["?".into()]);
        Simulated { action: Action::from_ret(r.ret), origins, executed: r.executed }
    }

    /// Run the program on a call given by name on `arch`.
    pub fn simulate_name(&self, arch: Arch, name: &str, args: [u64; 6]) -> Option<Simulated> {
        let nr = table::table(arch)?.nr(name)?;
        Some(self.simulate(arch.audit_arch(), nr, args))
    }

    /// Whether the kernel's action cache would allow `nr` on `arch` without running BPF.
    pub fn cached(&self, arch: Arch, nr: u32) -> bool {
        cache::const_allow(&self.insns, arch.audit_arch(), nr)
    }

    /// A readable disassembly.
    pub fn asm(&self) -> String {
        asm::disassemble(self)
    }
}

/// The kernel arches a policy needs programs for: each listed arch's family head when the
/// policy lists that head, else the arch itself.
pub fn targets(policy: &crate::ir::Policy) -> Vec<Arch> {
    let arches = &policy.seccomp.arches;
    let mut out: Vec<Arch> = Vec::new();
    for a in arches {
        let t = if arches.contains(&a.family_head()) { a.family_head() } else { *a };
        if !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

/// The program target for calls made on `arch` (or, when `None`, for `host` if the policy has
/// it, else the policy's first target): the program of that arch's kernel. A compat arch the
/// policy does not list (`x86` for a profile of `x86_64` only) gets its 64-bit kernel's program,
/// which is what such calls meet there (kill-process, as a foreign arch).
pub fn target_for(
    policy: &crate::ir::Policy,
    arch: Option<Arch>,
    host: Option<Arch>,
) -> Result<Arch, BpfError> {
    let all = targets(policy);
    let list = || policy.seccomp.arches.iter().map(|a| a.name()).collect::<Vec<_>>().join(", ");
    let pick = |a: Arch| all.iter().copied().find(|t| *t == a || a.family_head() == *t);
    match arch {
        Some(a) => pick(a).ok_or_else(|| BpfError::NoArch { target: a.name().into(), arches: list() }),
        None => host
            .and_then(pick)
            .or_else(|| all.first().copied())
            .ok_or_else(|| BpfError::NoArch { target: "any".into(), arches: list() }),
    }
}

/// The label the reference evaluator's decision gets in BPF verdict origins.
pub fn decider_origin(d: &crate::ir::eval::Decider) -> String {
    use crate::ir::eval::Decider;
    match d {
        Decider::Rule { origin, .. } => origin.to_string(),
        Decider::Default => "default".into(),
        Decider::Unknown => "unknown".into(),
        Decider::EnosysAfter { .. } => "enosys-after".into(),
        Decider::BadArch => "bad-arch".into(),
        Decider::X32NotAllowed => "x32".into(),
    }
}

#[cfg(test)]
mod target_tests {
    use super::*;

    fn policy(arches: &str) -> crate::ir::Policy {
        let yaml = format!("name: t\nseccomp:\n  arches: [{arches}]\n  rules:\n    - allow: [read]\n");
        crate::compile_text("t.yaml", &yaml, None, &crate::CompileOptions::default()).unwrap().policy
    }

    /// docs/cli.md: `--arch x86` gives the x86-64 program when the profile lists x86-64 (x86
    /// calls meet it there), and a 32-bit x86 kernel's when it lists only x86.
    #[test]
    fn a_compat_arch_gets_its_kernels_program() {
        assert_eq!(target_for(&policy("x86_64"), Some(Arch::X86), None).unwrap(), Arch::X86_64);
        assert_eq!(target_for(&policy("x86_64, x86"), Some(Arch::X86), None).unwrap(), Arch::X86_64);
        assert_eq!(target_for(&policy("x86"), Some(Arch::X86), None).unwrap(), Arch::X86);
        assert!(target_for(&policy("x86_64"), Some(Arch::Aarch64), None).is_err());
    }
}
