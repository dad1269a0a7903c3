//! The checker: profile layers (parents first) → IR. Each section of the profile has its own
//! module; each checks every name and value, reports every problem with the place it is
//! written (`file:line:column`) and a hint, and builds its part of the IR. The seccomp rules
//! are then lowered into per-arch tables ([`crate::ir::lower`]).
//!
//! Order matters between sections: the process section decides the uid and securebits the
//! capability sets depend on, and the capabilities decide which seccomp rules are in force.

mod args;
mod caps;
mod isolation;
mod landlock;
mod process;
mod seccomp;
#[cfg(test)]
mod tests;

use crate::error::{Diagnostic, Diagnostics, Error, Origin};
use crate::frontend::loader::Layer;
use crate::frontend::spanned::Sp;
use crate::ir::{CompileOptions, Policy};
use crate::vocab::Securebit;

/// Where the values of one profile file are written.
struct Ctx<'a> {
    file: &'a str,
}

impl Ctx<'_> {
    fn at<T>(&self, sp: &Sp<T>) -> Origin {
        Origin::new(self.file, sp.line, sp.column)
    }
}

/// Check loaded layers (parents first) and build the policy. Returns the policy and its
/// warnings, or every error found.
pub fn check(layers: &[Layer], opts: &CompileOptions) -> Result<(Policy, Vec<Diagnostic>), Error> {
    let mut diags = Diagnostics::default();
    let last = layers.last();
    let name = last
        .and_then(|l| l.profile.name.as_ref().map(|n| n.value.clone()))
        .or_else(|| last.map(|l| file_stem(&l.file)))
        .unwrap_or_else(|| "profile".into());
    let description = layers.iter().rev().find_map(|l| l.profile.description.clone());

    let process = process::check(layers, &mut diags);
    let noroot = process.securebits.bits.contains(Securebit::Noroot);
    let capabilities = caps::check(layers, process.user, noroot, &mut diags);
    let seccomp = seccomp::check(layers, capabilities.granted, opts, &mut diags);
    let landlock = landlock::check(layers, &mut diags);
    let isolation = isolation::check(layers, &mut diags);
    let warnings = diags.finish()?;
    let policy = Policy {
        name,
        description,
        sources: layers.iter().map(|l| l.file.clone()).collect(),
        process,
        capabilities,
        seccomp,
        landlock,
        isolation,
    };
    Ok((policy, warnings))
}

fn file_stem(file: &str) -> String {
    let base = file.strip_prefix("builtin:").unwrap_or(file);
    std::path::Path::new(base)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| base.to_string())
}

/// An absolute path without `.`, `..` or repeated slashes; `None` when `p` is relative or
/// climbs with `..`.
fn normalize_path(p: &str) -> Option<String> {
    if !p.starts_with('/') || p.split('/').any(|c| c == "..") {
        return None;
    }
    let parts: Vec<&str> = p.split('/').filter(|c| !c.is_empty() && *c != ".").collect();
    Some(format!("/{}", parts.join("/")))
}
