//! Every output of `policyc compile --emit all`, made through library calls as
//! `src/bin/policyc/compile.rs` makes them: IR, capabilities, Docker and OCI seccomp JSON
//! (OCI for this machine's arch, as policyc defaults), Landlock, and the BPF program (binary
//! and listing) of every kernel arch the policy targets.
//!
//! The budget of issue 15 is "compiles (every `--emit`) or is refused with a clear error", so
//! an export's refusal ([`policy::Error`], [`BpfError::TooLarge`]) is an answer. Two things
//! are bugs: the generator's internal error, and a program the kernel would refuse.

use policy::backend::seccomp::bpf::{self, interp, BpfError};
use policy::backend::{caps, landlock, seccomp};
use policy::{Arch, CompileOptions, Policy};

/// Emit everything for `p`; panic on a generator bug.
pub fn all(p: &Policy, opts: &CompileOptions) {
    json(p);
    json(&caps::caps_output(p));
    let _ = policy::syscalls::runc::export_warning(p);
    match seccomp::docker::to_docker(p) {
        Ok(d) => json(&d),
        Err(e) => crate::assert_clear(&e),
    }
    if let Some(native) = seccomp::oci::target_arch(p, Arch::parse(std::env::consts::ARCH)) {
        match seccomp::oci::to_oci(p, native, opts.kernel) {
            Ok(o) => json(&o),
            Err(e) => crate::assert_clear(&e),
        }
    }
    json(&landlock::landlock_output(p));
    for target in bpf::targets(p) {
        let Some(prog) = program(p, target) else { continue };
        let _ = prog.to_bytes();
        let _ = prog.asm();
    }
}

/// The program for `target`, checked as the kernel checks it; `None` when the generator
/// refuses it as too large.
pub fn program(p: &Policy, target: Arch) -> Option<bpf::Program> {
    match bpf::compile(p, target) {
        Ok(prog) => {
            if let Err(e) = interp::check(&prog.insns) {
                panic!("the {target} program would be refused by the kernel: {e}\n{}", prog.asm());
            }
            Some(prog)
        }
        Err(e @ BpfError::TooLarge { .. }) => {
            assert!(!e.to_string().is_empty());
            None
        }
        Err(e) => panic!("bpf::compile for {target}, an arch of bpf::targets: {e}"),
    }
}

fn json(v: &impl serde::Serialize) {
    if let Err(e) = serde_json::to_string_pretty(v) {
        panic!("an output does not serialize to JSON: {e}");
    }
}
