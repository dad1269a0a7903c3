//! The isolation tier of the IR: namespaces, mounts, limits and logs for runtime-lite.

use serde::{Deserialize, Serialize};

use crate::vocab::{LimitsMode, Namespace, NamespaceSet, NetworkMode};

/// Namespace isolation for runtime-lite. `enabled` is false when the profile has no
/// `isolation` section (the other fields then hold the defaults a `--rootfs` run uses).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IsolationIr {
    /// Whether the profile asks for isolation.
    pub enabled: bool,
    /// Namespaces to create.
    pub namespaces: NamespaceSet,
    /// Host name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Root filesystem (absolute); `None`: the host root, read-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rootfs: Option<String>,
    /// A container image to run: a stored image's name or id, or an archive or layout's
    /// absolute path (a `:TAG` kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Root filesystem read-only.
    pub readonly_rootfs: bool,
    /// The network the container gets.
    pub network: NetworkMode,
    /// Host uid for container root; `None`: auto.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map_root_to: Option<u32>,
    /// Clock offsets of a new time namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_offsets: Option<TimeOffsets>,
    /// Extra mounts, in order.
    pub mounts: Vec<MountIr>,
    /// Hidden paths.
    pub masked_paths: Vec<String>,
    /// Read-only paths.
    pub readonly_paths: Vec<String>,
    /// PID-1 shim.
    pub init: bool,
    /// Rotate logs at this many bytes.
    pub log_max_size: u64,
    /// Keep at most this many log files.
    pub log_max_files: u32,
    /// Memory limit in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<u64>,
    /// Most processes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pids: Option<u64>,
    /// CPUs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<f64>,
    /// How limits are applied.
    pub limits_mode: LimitsMode,
}

impl IsolationIr {
    /// Whether the profile asks for any cgroup limit.
    pub fn limited(&self) -> bool {
        self.memory.is_some() || self.pids.is_some() || self.cpu.is_some()
    }

    /// The container's host name (`palisade` unless the profile names one).
    pub fn host_name(&self) -> &str {
        self.hostname.as_deref().unwrap_or("palisade")
    }

    /// Whether the container's root is read-only. `layered`: it is an image's, under a
    /// writable layer of the container's own. A profile without an isolation section says
    /// nothing of the root: such an image container is writable (in its layer), as Docker
    /// runs it and as the profile exported for Docker says; a `--rootfs` tree (the caller's
    /// own files) stays read-only.
    pub fn readonly_root(&self, layered: bool) -> bool {
        self.readonly_rootfs && (self.enabled || !layered)
    }

    /// Whether the container gets a network namespace of its own.
    pub fn own_network(&self) -> bool {
        self.namespaces.contains(Namespace::Net) && self.network == NetworkMode::None
    }
}

/// Offsets of a new time namespace's clocks from the host's, in seconds.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TimeOffsets {
    /// `CLOCK_MONOTONIC` (and its variants).
    pub monotonic: i64,
    /// `CLOCK_BOOTTIME` (and its variants).
    pub boottime: i64,
}

/// One mount of the isolation section.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum MountIr {
    /// A host file or directory bound in.
    Bind {
        /// Absolute host path.
        source: String,
        /// Absolute path in the container.
        target: String,
        /// Read-only.
        readonly: bool,
    },
    /// A new tmpfs.
    Tmpfs {
        /// Absolute path in the container.
        target: String,
        /// Read-only.
        readonly: bool,
        /// Size in bytes.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        size: Option<u64>,
    },
}

impl MountIr {
    /// Where it is mounted in the container.
    pub fn target(&self) -> &str {
        match self {
            MountIr::Bind { target, .. } | MountIr::Tmpfs { target, .. } => target,
        }
    }

    /// Whether it is read-only.
    pub fn readonly(&self) -> bool {
        match self {
            MountIr::Bind { readonly, .. } | MountIr::Tmpfs { readonly, .. } => *readonly,
        }
    }
}

/// Docker's masked paths.
pub const DEFAULT_MASKED_PATHS: [&str; 11] = [
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Docker's read-only paths.
pub const DEFAULT_READONLY_PATHS: [&str; 6] =
    ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", "/sys"];

impl Default for IsolationIr {
    fn default() -> Self {
        let namespaces = [
            Namespace::Cgroup,
            Namespace::Ipc,
            Namespace::Mount,
            Namespace::Net,
            Namespace::Pid,
            Namespace::User,
            Namespace::Uts,
        ];
        IsolationIr {
            enabled: false,
            namespaces: namespaces.into_iter().collect(),
            hostname: None,
            rootfs: None,
            image: None,
            readonly_rootfs: true,
            network: NetworkMode::None,
            map_root_to: None,
            time_offsets: None,
            mounts: vec![],
            masked_paths: DEFAULT_MASKED_PATHS.map(String::from).to_vec(),
            readonly_paths: DEFAULT_READONLY_PATHS.map(String::from).to_vec(),
            init: true,
            log_max_size: 10 << 20,
            log_max_files: 3,
            memory: None,
            pids: None,
            cpu: None,
            limits_mode: LimitsMode::Enforce,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_keep_their_json_form() {
        let m = MountIr::Tmpfs { target: "/t".into(), readonly: false, size: Some(4096) };
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(json, r#"{"kind":"tmpfs","target":"/t","readonly":false,"size":4096}"#);
        assert_eq!(serde_json::from_str::<MountIr>(&json).unwrap(), m);
        let b = r#"{"kind":"bind","source":"/s","target":"/t","readonly":true}"#;
        let m: MountIr = serde_json::from_str(b).unwrap();
        assert_eq!(serde_json::to_string(&m).unwrap(), b);
        assert!(serde_json::from_str::<MountIr>(r#"{"kind":"bind","target":"/t","readonly":true}"#).is_err());
        assert!(serde_json::from_str::<MountIr>(
            r#"{"kind":"tmpfs","target":"/t","readonly":true,"extra":1}"#
        )
        .is_err());
    }
}
