//! The canonical intermediate representation: a fully resolved policy.
//!
//! Sets are sorted, groups expanded, names checked, capability conditions resolved against the
//! profile's own capability set, and syscall numbers resolved per arch ([`lower`]). Values are
//! typed ([`crate::vocab`]); they become names only in the JSON `policyc compile --emit ir`
//! prints, which snapshot tests and `policyc diff` compare and read back.
//!
//! The IR sits below both the front end that builds it ([`crate::frontend::check`]) and the
//! backends that read it: it imports neither.

pub mod equiv;
pub mod eval;
mod isolation;
mod landlock;
pub mod lower;
pub mod pathvars;
pub mod points;
mod seccomp;
mod text;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use isolation::{
    IsolationIr, MountIr, Protocol, Published, TimeOffsets, DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS,
};
pub use landlock::{beneath, LandlockIr, NetworkIr, PathRuleIr};
pub use lower::CompileOptions;
pub use seccomp::{
    ArchTable, ArgCondIr, ArgOp, CondIr, EnosysAfterIr, KernelVersion, RuleIr, SeccompIr, SyscallIr, WhenIr,
};

use crate::vocab::{CapSet, Resource, Securebits, SecurebitsMode, TmpdirMode};

/// A compiled policy.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Profile name.
    pub name: String,
    /// Profile description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Files merged, parents first.
    pub sources: Vec<String>,
    /// The workload process.
    pub process: ProcessIr,
    /// The five capability sets.
    pub capabilities: CapsIr,
    /// The seccomp filter.
    pub seccomp: SeccompIr,
    /// Landlock.
    pub landlock: LandlockIr,
    /// Namespace isolation (runtime-lite).
    pub isolation: IsolationIr,
}

/// User, privileges, limits.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessIr {
    /// Who the workload runs as.
    pub user: UserIr,
    /// The layers (files, `builtin:NAME`) that name the user, in order: an image's `User`
    /// applies only where no profile does.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub user_set_by: Vec<String>,
    /// The workload must not run as uid 0 (`run_as_non_root`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub non_root: bool,
    /// PR_SET_NO_NEW_PRIVS.
    pub no_new_privs: bool,
    /// Securebits to set.
    pub securebits: SecurebitsIr,
    /// The workload's temporary directory.
    #[serde(default, skip_serializing_if = "TmpdirMode::is_inherit")]
    pub tmpdir: TmpdirMode,
    /// Environment variables set for the workload.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Working directory (absolute, or symbolic until applied).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workdir: Option<String>,
    /// Resource limits.
    pub rlimits: BTreeMap<Resource, RlimitIr>,
}

/// Securebits: the mode the profile chose and the bits it sets. Written with the bits' names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SecurebitsIr {
    /// `none` or `locked`.
    pub mode: SecurebitsMode,
    /// The value for `PR_SET_SECUREBITS`.
    pub bits: Securebits,
}

impl SecurebitsIr {
    /// The bits of `mode`.
    pub fn of(mode: SecurebitsMode) -> SecurebitsIr {
        SecurebitsIr { mode, bits: mode.bits() }
    }
}

/// Who the workload runs as: written `uid:gid` or `caller`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserIr {
    /// These ids (the gid is also the only group).
    Id {
        /// User id.
        uid: u32,
        /// Group id.
        gid: u32,
    },
    /// The (effective) uid and gid of whoever applies the policy, decided then: under `sudo`,
    /// root, with no capability. The profile grants
    /// no capability (the compiler refuses one: its sets would depend on who that is).
    Caller,
}

impl UserIr {
    /// Whether the ids are root's (never for `caller`, whose sets are all empty anyway).
    pub fn is_root(self) -> bool {
        matches!(self, UserIr::Id { uid: 0, .. })
    }

    /// The ids, given the caller's (`uid`, `gid`).
    pub fn ids(self, caller: (u32, u32)) -> (u32, u32) {
        match self {
            UserIr::Id { uid, gid } => (uid, gid),
            UserIr::Caller => caller,
        }
    }
}

impl std::fmt::Display for UserIr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UserIr::Id { uid, gid } => write!(f, "{uid}:{gid}"),
            UserIr::Caller => f.write_str("caller"),
        }
    }
}

impl std::str::FromStr for UserIr {
    type Err = String;

    fn from_str(s: &str) -> Result<UserIr, String> {
        if s == "caller" {
            return Ok(UserIr::Caller);
        }
        let bad = || format!("invalid user `{s}`");
        let (u, g) = s.split_once(':').ok_or_else(bad)?;
        Ok(UserIr::Id { uid: u.parse().map_err(|_| bad())?, gid: g.parse().map_err(|_| bad())? })
    }
}

impl Serialize for UserIr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for UserIr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// The JSON form of [`SecurebitsIr`].
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SecurebitsJson {
    mode: SecurebitsMode,
    bits: u32,
    names: Securebits,
}

impl Serialize for SecurebitsIr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let bits = u32::try_from(self.bits.bits()).unwrap_or(u32::MAX);
        SecurebitsJson { mode: self.mode, bits, names: self.bits }.serialize(s)
    }
}

impl<'de> Deserialize<'de> for SecurebitsIr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let j = SecurebitsJson::deserialize(d)?;
        if u64::from(j.bits) != j.names.bits() {
            return Err(serde::de::Error::custom(format!("securebits {:#x} are not {:?}", j.bits, j.names)));
        }
        Ok(SecurebitsIr { mode: j.mode, bits: j.names })
    }
}

/// One resource limit (`null` = unlimited): at most these values, so never above the limits
/// the workload would have had anyway, unless `raise` (which needs CAP_SYS_RESOURCE).
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RlimitIr {
    /// Soft limit.
    pub soft: Option<u64>,
    /// Hard limit.
    pub hard: Option<u64>,
    /// Set exactly, raising the current hard limit if it is lower.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub raise: bool,
}

impl RlimitIr {
    /// What is set when the current hard limit is `current` (`None`: unlimited): the profile's
    /// values when it raises, else each at most `current`.
    pub fn applied(self, current: Option<u64>) -> RlimitIr {
        if self.raise {
            return self;
        }
        let at_most = |v: Option<u64>| match (v, current) {
            (Some(v), Some(c)) => Some(v.min(c)),
            (None, c) => c,
            (v, None) => v,
        };
        RlimitIr { soft: at_most(self.soft), hard: at_most(self.hard), raise: false }
    }
}

/// The five capability sets, and what the profile grants.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CapsIr {
    /// Capabilities the profile grants (the Docker-style result of add/drop).
    pub granted: CapSet,
    /// Bounding set.
    pub bounding: CapSet,
    /// Permitted set.
    pub permitted: CapSet,
    /// Effective set.
    pub effective: CapSet,
    /// Inheritable set.
    pub inheritable: CapSet,
    /// Ambient set.
    pub ambient: CapSet,
}

impl CapsIr {
    /// The five sets with the names `/proc/self/status` and reports use, in that order.
    pub fn sets(&self) -> [(&'static str, CapSet); 5] {
        [
            ("bounding", self.bounding),
            ("permitted", self.permitted),
            ("effective", self.effective),
            ("inheritable", self.inheritable),
            ("ambient", self.ambient),
        ]
    }
}
