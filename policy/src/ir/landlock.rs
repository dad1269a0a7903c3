//! The Landlock tier of the IR.

use serde::{Deserialize, Serialize};

use super::text;
use crate::error::Origin;
use crate::vocab::{FsAccess, LandlockMode, ScopeSet};

/// The Landlock tier.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LandlockIr {
    /// How strictly it is applied (`off` when the profile has no `landlock` section).
    pub mode: LandlockMode,
    /// Lowest ABI the profile needs.
    pub min_abi: u32,
    /// Whether filesystem access is restricted.
    pub restrict_fs: bool,
    /// Path rules, sorted by path.
    pub filesystem: Vec<PathRuleIr>,
    /// Port rules; `None` = network not restricted.
    pub network: Option<NetworkIr>,
    /// IPC scopes.
    pub scopes: ScopeSet,
}

/// Rights beneath one path.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PathRuleIr {
    /// Absolute path.
    pub path: String,
    /// The rights granted beneath it.
    pub access: FsAccess,
    /// Where the rules merged here are written.
    #[serde(with = "text::origin::list")]
    pub origins: Vec<Origin>,
}

impl PathRuleIr {
    /// Whether this rule covers `path`: it is the rule's path or beneath it (Landlock grants a
    /// path's rights to everything under it).
    pub fn covers(&self, path: &str) -> bool {
        beneath(path, &self.path)
    }
}

/// Whether absolute `path` is `dir` or beneath it (by components: `/srv2` is not beneath `/srv`).
pub fn beneath(path: &str, dir: &str) -> bool {
    path == dir || dir == "/" || path.strip_prefix(dir).is_some_and(|rest| rest.starts_with('/'))
}

/// TCP ports.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct NetworkIr {
    /// Ports that may be bound.
    pub bind: Vec<u16>,
    /// Ports that may be connected to.
    pub connect: Vec<u16>,
}
