//! Docker / Podman / OCI seccomp JSON, as serde types (read by the importer, written by the
//! exporters).

use serde::{Deserialize, Serialize};

/// A Docker seccomp profile (`--security-opt seccomp=FILE`).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DockerProfile {
    /// `SCMP_ACT_*` when nothing matches.
    pub default_action: String,
    /// errno for an `SCMP_ACT_ERRNO` default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_errno_ret: Option<u32>,
    /// Legacy flat list of `SCMP_ARCH_*`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub architectures: Vec<String>,
    /// Native arches with their sub-architectures.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arch_map: Vec<ArchMap>,
    /// The rules.
    #[serde(default)]
    pub syscalls: Vec<DockerSyscall>,
    /// `SECCOMP_FILTER_FLAG_*` names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
}

/// One `archMap` entry.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ArchMap {
    /// `SCMP_ARCH_*` of the native arch.
    pub architecture: String,
    /// Sub-architectures accepted on that host.
    #[serde(default)]
    pub sub_architectures: Option<Vec<String>>,
}

/// One `syscalls` entry.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DockerSyscall {
    /// Syscall names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
    /// Legacy single name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `SCMP_ACT_*`.
    pub action: String,
    /// Argument conditions (ANDed, except that runc splits repeated indexes into separate rules).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<DockerArg>>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Conditions that must hold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub includes: Option<DockerFilter>,
    /// Conditions under which the entry is skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excludes: Option<DockerFilter>,
    /// errno for `SCMP_ACT_ERRNO` (EPERM when absent), data for `SCMP_ACT_TRACE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno_ret: Option<u32>,
    /// Podman's errno name (informational; `errnoRet` wins).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno: Option<String>,
}

/// One argument condition.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DockerArg {
    /// Argument index.
    pub index: u32,
    /// The value; the mask for `SCMP_CMP_MASKED_EQ`.
    pub value: u64,
    /// The compared value for `SCMP_CMP_MASKED_EQ`.
    #[serde(default)]
    pub value_two: u64,
    /// `SCMP_CMP_*`.
    pub op: String,
}

/// `includes` / `excludes`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DockerFilter {
    /// Capabilities (`CAP_*`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub caps: Vec<String>,
    /// Host arches (`amd64`, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arches: Vec<String>,
    /// Kernel version (`"4.8"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_kernel: Option<String>,
}

impl DockerFilter {
    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        self.caps.is_empty() && self.arches.is_empty() && self.min_kernel.is_none()
    }
}
