//! Landlock: the ruleset is built while still privileged (each path is opened before the uid
//! switch), and enforced by `restrict_self` after no_new_privs.

use policy::backend::landlock::AbiPlan;
use policy::vocab::FsAccess;
use serde::Serialize;

use crate::error::{LaunchError, Step};
use crate::sys::{Handled, Kernel, LandlockStatus};

/// What was done with one path rule.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct PathOutcome {
    /// Path.
    pub path: String,
    /// Rights granted beneath it.
    pub allowed: FsAccess,
    /// Why some or all rights were not granted (missing path, directory rights on a file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Where the path leads when it goes through a symbolic link: the rule holds for that
    /// object (Landlock follows links when the rule is made), not for the link.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolves_to: Option<String>,
}

/// A ruleset with every rule added, ready to enforce.
pub struct RulesetReady<R> {
    pub(crate) ruleset: R,
    /// The path rules as added.
    pub paths: Vec<PathOutcome>,
}

/// Where `path` leads, when that is somewhere else (a symbolic link on the way).
pub(crate) fn resolves_to(path: &str) -> Option<String> {
    std::fs::canonicalize(path)
        .ok()
        .filter(|real| real.as_os_str() != std::ffi::OsStr::new(path))
        .map(|real| real.display().to_string())
}

fn err(what: impl std::fmt::Display) -> LaunchError {
    LaunchError::refused(Step::Prepare, format!("landlock: {what}"))
}

/// Create the ruleset of `plan` and add every rule (each path is opened now). A rule for a
/// path that does not exist grants nothing (Landlock only grants, so that is stricter), and a
/// file gets no directory-only rights; both are noted.
pub fn build<K: Kernel>(k: &mut K, plan: &AbiPlan) -> Result<RulesetReady<K::Ruleset>, LaunchError> {
    let handled = Handled { fs: plan.handled_fs, net: plan.handled_net, scopes: plan.scoped };
    let mut ruleset = k.landlock_ruleset(handled).map_err(err)?;
    let mut paths = Vec::new();
    for p in &plan.paths {
        let meta = match std::fs::metadata(&p.path) {
            Ok(m) => m,
            Err(e) => {
                let note = Some(format!("not granted: {}", policy::error::io_reason(&e)));
                paths.push(PathOutcome {
                    path: p.path.clone(),
                    allowed: FsAccess::EMPTY,
                    note,
                    resolves_to: None,
                });
                continue;
            }
        };
        let mut allowed = p.allowed;
        let mut note = None;
        let dir_only = allowed & FsAccess::directory_only();
        if !meta.is_dir() && !dir_only.is_empty() {
            note = Some(format!("not a directory: {} not granted", dir_only.names().join(", ")));
            allowed = allowed - dir_only;
        }
        if !allowed.is_empty() {
            ruleset = k.landlock_add_path(ruleset, &p.path, allowed).map_err(err)?;
        }
        paths.push(PathOutcome { path: p.path.clone(), allowed, note, resolves_to: resolves_to(&p.path) });
    }
    for port in &plan.ports {
        ruleset = k.landlock_add_port(ruleset, port.port, port.allowed).map_err(err)?;
    }
    Ok(RulesetReady { ruleset, paths })
}

/// Enforce on the calling thread; in mode `enforce` only a fully enforced ruleset will do.
pub fn restrict<K: Kernel>(
    k: &mut K,
    ready: RulesetReady<K::Ruleset>,
    enforce: bool,
) -> Result<LandlockStatus, LaunchError> {
    let status = k
        .landlock_restrict(ready.ruleset)
        .map_err(|e| LaunchError::refused(Step::Landlock, format!("landlock: {e}")))?;
    if enforce && status != LandlockStatus::FullyEnforced {
        return Err(LaunchError::refused(
            Step::Landlock,
            format!("landlock: the kernel reports {}; mode enforce requires fully-enforced", status.name()),
        ));
    }
    Ok(status)
}
