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
    /// Root filesystem read-only (a `rootfs` directory's, or the host's).
    pub readonly_rootfs: bool,
    /// Whether a layer wrote `readonly_rootfs`: a container with a writable layer over an
    /// image's root (ours, Docker's, a pod's) is read-only only when one wrote it true.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub readonly_rootfs_written: bool,
    /// The network the container gets.
    pub network: NetworkMode,
    /// Host ports forwarded to the container's (`network: private`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub publish: Vec<Published>,
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
    /// writable layer of the container's own, which is read-only only when the profile (or
    /// `--read-only`) writes `readonly_rootfs: true`, as with Docker (and as the profile's
    /// Docker and Kubernetes exports say); a `rootfs` tree (the caller's own files) is
    /// read-only unless the profile writes `false`.
    pub fn readonly_root(&self, layered: bool) -> bool {
        match layered {
            true => self.readonly_rootfs && self.readonly_rootfs_written,
            false => self.readonly_rootfs,
        }
    }

    /// Whether the container gets a network namespace of its own.
    pub fn own_network(&self) -> bool {
        self.namespaces.contains(Namespace::Net) && self.network != NetworkMode::Host
    }
}

/// A transport protocol of a published port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

/// A published port, as `docker run -p` writes one: `[ADDRESS:]HOST:CONTAINER[/tcp|udp]`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Published {
    /// The host address it is bound on (`None`: every address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<std::net::IpAddr>,
    /// The host's port.
    pub host: u16,
    /// The container's port.
    pub container: u16,
    /// The protocol.
    pub protocol: Protocol,
}

impl Published {
    /// Read `[ADDRESS:]HOST:CONTAINER[/tcp|udp]` (an IPv6 address in brackets).
    pub fn parse(s: &str) -> Result<Published, String> {
        let (rest, protocol) = match s.rsplit_once('/') {
            Some((r, "tcp")) => (r, Protocol::Tcp),
            Some((r, "udp")) => (r, Protocol::Udp),
            Some((_, p)) => return Err(format!("unknown protocol `{p}` (tcp or udp)")),
            None => (s, Protocol::Tcp),
        };
        let (address, ports) = match rest.strip_prefix('[') {
            Some(r) => {
                let (a, ports) =
                    r.split_once("]:").ok_or("an IPv6 address is written `[ADDRESS]:HOST:CONTAINER`")?;
                (Some(a), ports)
            }
            None => match rest.matches(':').count() {
                0 => {
                    return Err(
                        "give the host's port too, `HOST:CONTAINER` (no port is chosen at random)".into()
                    )
                }
                1 => (None, rest),
                2 => rest.split_once(':').map(|(a, p)| (Some(a), p)).ok_or("")?,
                _ => {
                    return Err("write `HOST:CONTAINER`, optionally `ADDRESS:` before and `/udp` after".into())
                }
            },
        };
        let address = address
            .map(|a| a.parse::<std::net::IpAddr>().map_err(|_| format!("`{a}` is not an IP address")))
            .transpose()?;
        let (h, c) = ports.split_once(':').ok_or("write `HOST:CONTAINER`: both ports")?;
        let port = |p: &str| match p.parse::<u16>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(format!("`{p}` is not a port (1-65535)")),
        };
        Ok(Published { address, host: port(h)?, container: port(c)?, protocol })
    }
}

impl std::fmt::Display for Published {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.address {
            Some(std::net::IpAddr::V6(a)) => write!(f, "[{a}]:")?,
            Some(a) => write!(f, "{a}:")?,
            None => {}
        }
        let proto = match self.protocol {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        };
        write!(f, "{}:{}/{proto}", self.host, self.container)
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
            readonly_rootfs_written: false,
            network: NetworkMode::None,
            publish: Vec::new(),
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

#[cfg(test)]
mod published_tests {
    use super::{Protocol, Published};

    #[test]
    fn docker_run_p_forms_parse_and_print_back() {
        for (text, shown) in [
            ("8080:80", "8080:80/tcp"),
            ("8080:80/tcp", "8080:80/tcp"),
            ("127.0.0.1:5353:53/udp", "127.0.0.1:5353:53/udp"),
            ("[::1]:8443:443", "[::1]:8443:443/tcp"),
        ] {
            let p = Published::parse(text).unwrap();
            assert_eq!(p.to_string(), shown);
            assert_eq!(Published::parse(shown).unwrap(), p);
        }
        let p = Published::parse("127.0.0.1:5353:53/udp").unwrap();
        assert_eq!((p.host, p.container, p.protocol), (5353, 53, Protocol::Udp));
        for bad in ["80", "0:80", "1:2:3:4", "a:1", "1:2/sctp", "[::1:1:2", "65536:1"] {
            assert!(Published::parse(bad).is_err(), "{bad}");
        }
    }
}
