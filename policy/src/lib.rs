//! Palisade's policy compiler.
//!
//! One YAML profile describes a workload's capabilities, seccomp filter and Landlock rules.
//! The compiler reads it (and every profile it `extends`), checks every name with a
//! `file:line:column` diagnostic ([`frontend`]), and builds a canonical [`ir::Policy`] whose
//! values are typed ([`vocab`]). Backends turn the IR
//! into each tier's form: capability sets ([`backend::caps`]), Docker/OCI seccomp JSON
//! ([`backend::seccomp`]) and Landlock rulesets per ABI ([`backend::landlock`]).
//!
//! Terminology: a *profile* is what the user writes; a *policy* is the compiled IR; a *rule*
//! is one seccomp entry, and the **last matching rule wins**.
//!
//! ```
//! let compiled = policy::compile("builtin:web", &policy::CompileOptions::default()).unwrap();
//! let eval = compiled.policy.evaluate_name(policy::Arch::X86_64, "ptrace", [0; 6]).unwrap();
//! assert!(!eval.action.permits());
//! ```
//!
//! Test strategy: unit tests beside the code; the reference evaluator ([`ir::eval`]) states the
//! meaning, and exports are checked against it at boundary arguments ([`ir::points`]).
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod action;
pub mod backend;
pub mod builtin;
pub mod diff;
pub mod error;
pub mod explain;
pub mod export;
pub mod formats;
pub mod frontend;
pub mod import;
pub mod ir;
pub mod lint;
pub mod merge;
pub mod simulate;
pub mod syscalls;
pub mod vocab;

pub use action::Action;
pub use error::{Diagnostic, Error, Origin, Severity};
pub use ir::{CompileOptions, Policy};
pub use syscalls::Arch;

/// A compiled profile and the warnings found on the way.
#[derive(Debug, Clone)]
pub struct Compiled {
    /// The policy.
    pub policy: Policy,
    /// Warnings (the profile still compiled).
    pub warnings: Vec<Diagnostic>,
    /// Every profile file that went into it (built-ins excluded), with the text as read:
    /// what a cache of compiled policies must check before reusing one.
    pub inputs: Vec<Input>,
}

/// One profile file a policy was compiled from.
#[derive(Debug, Clone)]
pub struct Input {
    /// The path as the loader named it.
    pub file: String,
    /// Its text, as compiled.
    pub text: String,
}

fn compiled(layers: Vec<frontend::loader::Layer>, opts: &CompileOptions) -> Result<Compiled, Error> {
    let (policy, warnings) = frontend::check::check(&layers, opts)?;
    let inputs = layers
        .into_iter()
        .filter(|l| !l.file.starts_with("builtin:"))
        .map(|l| Input { file: l.file, text: l.text })
        .collect();
    Ok(Compiled { policy, warnings, inputs })
}

/// Compile `PROFILE`: a path or `builtin:NAME`.
pub fn compile(spec: &str, opts: &CompileOptions) -> Result<Compiled, Error> {
    compiled(frontend::loader::load(spec)?, opts)
}

/// [`compile`], reading profile files with `read` (e.g. from a git revision).
pub fn compile_with(
    spec: &str,
    opts: &CompileOptions,
    read: frontend::loader::Reader,
) -> Result<Compiled, Error> {
    compiled(frontend::loader::load_with(spec, read)?, opts)
}

/// Compile profile text named `file`; relative `extends` resolve against `dir`.
pub fn compile_text(
    file: &str,
    text: &str,
    dir: Option<&std::path::Path>,
    opts: &CompileOptions,
) -> Result<Compiled, Error> {
    compiled(frontend::loader::load_text(file, text, dir)?, opts)
}

/// The JSON Schema of the profile language.
pub fn schema() -> serde_json::Value {
    let schema = schemars::schema_for!(frontend::profile::Profile);
    serde_json::to_value(schema).unwrap_or_default()
}
