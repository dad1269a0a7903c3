//! What several verbs share: compiling with warnings printed, output, arches.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use policy::{Arch, CompileOptions, Compiled, Error};

/// Exit status of invalid input (the diagnostics are printed).
pub fn invalid() -> ExitCode {
    ExitCode::from(1)
}

/// Compile `profile`, printing its warnings; `None` when it is invalid (its diagnostics are
/// printed: the verb exits with [`invalid`]).
pub fn compile(profile: &str, opts: &CompileOptions) -> Result<Option<Compiled>> {
    match policy::compile(profile, opts) {
        Ok(c) => {
            for w in &c.warnings {
                enforcer::say!("{w}");
            }
            Ok(Some(c))
        }
        Err(e @ Error::Invalid(_)) => {
            enforcer::say!("{e}");
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// An arch by name.
pub fn parse_arch(a: &str) -> Result<Arch> {
    Arch::parse(a).with_context(|| format!("unknown arch `{a}`"))
}

/// This machine's arch.
pub fn host_arch() -> Option<Arch> {
    Arch::parse(std::env::consts::ARCH)
}

/// Pretty JSON with a final newline.
pub fn json(v: &impl serde::Serialize) -> Result<String> {
    Ok(serde_json::to_string_pretty(v)? + "\n")
}

/// Write `text` to `output`, or stdout.
pub fn write_out(output: Option<&Path>, text: &str) -> Result<()> {
    match output {
        Some(p) => std::fs::write(p, text).with_context(|| format!("cannot write {}", p.display())),
        None => {
            enforcer::out!("{text}");
            Ok(())
        }
    }
}
