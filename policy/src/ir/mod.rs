//! The canonical intermediate representation: a fully resolved policy.
//!
//! Sets are sorted, groups expanded, names checked, capability conditions resolved against the
//! profile's own capability set, and syscall numbers resolved per arch. `policyc compile --emit
//! ir` prints it as stable JSON; snapshot tests and `policyc diff` compare it.

mod build;
pub mod equiv;
pub mod eval;
pub mod points;

use std::collections::BTreeMap;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::action::Action;
use crate::frontend::profile::ArgOp;
use crate::syscalls::Arch;

pub use build::{build, CompileOptions};

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
    /// Namespace isolation (reserved).
    pub isolation: IsolationIr,
}

/// User, privileges, limits.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessIr {
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
    /// PR_SET_NO_NEW_PRIVS.
    pub no_new_privs: bool,
    /// Securebits to set.
    pub securebits: SecurebitsIr,
    /// Resource limits by name.
    pub rlimits: BTreeMap<String, RlimitIr>,
}

/// Securebits.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurebitsIr {
    /// `none` or `locked`.
    pub mode: String,
    /// The value for `PR_SET_SECUREBITS`.
    pub bits: u32,
    /// The bit names.
    pub names: Vec<String>,
}

/// One resource limit (`null` = unlimited).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RlimitIr {
    /// Soft limit.
    pub soft: Option<u64>,
    /// Hard limit.
    pub hard: Option<u64>,
}

/// The five capability sets, as `CAP_*` names.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapsIr {
    /// Capabilities the profile grants (the Docker-style result of add/drop).
    pub granted: Vec<String>,
    /// Bounding set.
    pub bounding: Vec<String>,
    /// Permitted set.
    pub permitted: Vec<String>,
    /// Effective set.
    pub effective: Vec<String>,
    /// Inheritable set.
    pub inheritable: Vec<String>,
    /// Ambient set.
    pub ambient: Vec<String>,
}

/// A kernel version `major.minor`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KernelVersion(pub u32, pub u32);

impl KernelVersion {
    /// Parse `"4.8"` or `"5.10.3"`.
    pub fn parse(s: &str) -> Option<KernelVersion> {
        let mut it = s.trim().split('.');
        let major = it.next()?.parse().ok()?;
        let minor = it.next().map(|m| m.parse().ok()).unwrap_or(Some(0))?;
        Some(KernelVersion(major, minor))
    }
}

impl std::fmt::Display for KernelVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.0, self.1)
    }
}

impl Serialize for KernelVersion {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for KernelVersion {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        KernelVersion::parse(&s).ok_or_else(|| D::Error::custom(format!("`{s}` is not a kernel version")))
    }
}

/// The seccomp tier.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeccompIr {
    /// When no rule matches.
    pub default_action: Action,
    /// For numbers not in the arch's table.
    pub unknown_action: Action,
    /// Accepted arches; every other one gets kill-process.
    #[serde(serialize_with = "ser_arches", deserialize_with = "de_arches")]
    pub arches: Vec<Arch>,
    /// The rules in order (the last matching one wins).
    pub rules: Vec<RuleIr>,
    /// Per arch: the syscalls whose verdict is not simply the default.
    pub tables: BTreeMap<String, ArchTable>,
}

fn ser_arches<S: Serializer>(arches: &[Arch], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(arches.iter().map(|a| a.name()))
}

fn de_arches<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Arch>, D::Error> {
    Vec::<String>::deserialize(d)?
        .iter()
        .map(|a| Arch::parse(a).ok_or_else(|| D::Error::custom(format!("unknown arch `{a}`"))))
        .collect()
}

/// One rule, resolved.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleIr {
    /// Syscall names (groups expanded, sorted).
    pub syscalls: Vec<String>,
    /// Verdict.
    pub action: Action,
    /// Argument conditions (all must hold).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<ArgCondIr>,
    /// When the rule is in force.
    #[serde(default, skip_serializing_if = "WhenIr::is_empty")]
    pub when: WhenIr,
    /// Whether the capability conditions hold for this profile's capabilities.
    pub active: bool,
    /// `file:line` of the rule.
    pub origin: String,
    /// Comment from the profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// Rule conditions.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct WhenIr {
    /// All of these capabilities granted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub caps_present: Vec<String>,
    /// None of these capabilities granted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub caps_absent: Vec<String>,
    /// Host arches (Docker names) the rule is limited to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arches: Vec<String>,
    /// Host arches where the rule does not apply.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_arches: Vec<String>,
    /// Minimum kernel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_kernel: Option<KernelVersion>,
}

impl WhenIr {
    /// No condition at all.
    pub fn is_empty(&self) -> bool {
        *self == WhenIr::default()
    }

    /// Whether the arch conditions admit `host`.
    pub fn host_ok(&self, host: &str) -> bool {
        (self.arches.is_empty() || self.arches.iter().any(|a| a == host))
            && !self.not_arches.iter().any(|a| a == host)
    }

    /// Whether the kernel condition holds for `kernel` (`None` = a current kernel, which
    /// satisfies every minimum).
    pub fn kernel_ok(&self, kernel: Option<KernelVersion>) -> bool {
        match (self.min_kernel, kernel) {
            (Some(min), Some(k)) => k >= min,
            _ => true,
        }
    }

    /// Whether the capability conditions hold for a set of `CAP_*` names.
    pub fn caps_ok(&self, granted: &[String]) -> bool {
        self.caps_present.iter().all(|c| granted.contains(c))
            && !self.caps_absent.iter().any(|c| granted.contains(c))
    }
}

/// A condition on one argument.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(deny_unknown_fields)]
pub struct ArgCondIr {
    /// Argument index 0..=5.
    pub index: u8,
    /// Bits compared on 64-bit arches (32-bit arches always compare 32).
    pub width: u8,
    /// Operator.
    pub op: ArgOp,
    /// Value (`in`/`not_in`: the sorted values).
    #[serde(serialize_with = "ser_hex_vec", deserialize_with = "de_hex_vec")]
    pub values: Vec<u64>,
    /// Mask for `masked_eq`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "ser_hex_opt",
        deserialize_with = "de_hex_opt"
    )]
    pub mask: Option<u64>,
}

fn ser_hex_vec<S: Serializer>(v: &[u64], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(v.iter().map(|x| format!("{x:#x}")))
}

/// `0x1f` or a plain decimal.
fn parse_u64(v: &str) -> Option<u64> {
    match v.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => v.parse().ok(),
    }
}

fn de_hex<E: serde::de::Error>(v: &str) -> Result<u64, E> {
    parse_u64(v).ok_or_else(|| E::custom(format!("`{v}` is not a number")))
}

fn de_hex_vec<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u64>, D::Error> {
    Vec::<String>::deserialize(d)?.iter().map(|v| de_hex(v)).collect()
}

fn de_hex_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Option::<String>::deserialize(d)?.map(|v| de_hex(&v)).transpose()
}

fn de_hex_u32<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let v = de_hex(&String::deserialize(d)?)?;
    u32::try_from(v).map_err(|_| D::Error::custom(format!("{v:#x} does not fit 32 bits")))
}

fn ser_hex_opt<S: Serializer>(v: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(x) => s.collect_str(&format_args!("{x:#x}")),
        None => s.serialize_none(),
    }
}

impl ArgCondIr {
    /// Whether the condition holds for `arg` on an arch whose arguments are `arch32` bits.
    pub fn matches(&self, arg: u64, arch32: bool) -> bool {
        let w = if arch32 { 32 } else { self.width };
        let m = if w == 32 { u64::from(u32::MAX) } else { u64::MAX };
        let a = arg & m;
        let v = self.values.first().map(|v| v & m).unwrap_or(0);
        match self.op {
            ArgOp::Eq => a == v,
            ArgOp::Ne => a != v,
            ArgOp::Lt => a < v,
            ArgOp::Le => a <= v,
            ArgOp::Gt => a > v,
            ArgOp::Ge => a >= v,
            ArgOp::MaskedEq => a & self.mask.unwrap_or(0) & m == v,
            ArgOp::In => self.values.iter().any(|x| a == x & m),
            ArgOp::NotIn => !self.values.iter().any(|x| a == x & m),
        }
    }
}

/// One arch's resolved syscall verdicts.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchTable {
    /// `AUDIT_ARCH_*` value.
    #[serde(serialize_with = "ser_hex_u32", deserialize_with = "de_hex_u32")]
    pub audit_arch: u32,
    /// The host (Docker name) this arch runs under in this policy.
    pub host: String,
    /// Highest syscall number in the table (above it: the unknown verdict).
    pub max_nr: u32,
    /// Syscalls whose verdict is not plainly the default, by name.
    pub syscalls: BTreeMap<String, SyscallIr>,
}

fn ser_hex_u32<S: Serializer>(v: &u32, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&format_args!("{v:#x}"))
}

/// A syscall's verdict on one arch. Serialized as `"NR VERDICT ORIGIN"` when it does not
/// depend on arguments, else as an object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyscallIr {
    /// Number on this arch.
    pub nr: u32,
    /// Verdict when no conditional rule matches.
    pub action: Action,
    /// The rule that set it (`None`: the default).
    pub origin: Option<String>,
    /// Argument-dependent rules, in order; the last matching one wins over `action`.
    pub conditional: Vec<CondIr>,
}

impl Serialize for SyscallIr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let origin = self.origin.as_deref().unwrap_or("default");
        if self.conditional.is_empty() {
            return s.collect_str(&format_args!("{} {} {}", self.nr, self.action, origin));
        }
        let mut st = s.serialize_struct("SyscallIr", 4)?;
        st.serialize_field("nr", &self.nr)?;
        st.serialize_field("action", &self.action)?;
        st.serialize_field("origin", origin)?;
        st.serialize_field("conditional", &self.conditional)?;
        st.end()
    }
}

impl SyscallIr {
    /// The verdict for a call with `args`: the last conditional entry whose conditions all
    /// hold, else `action`. `arch32`: the arch's arguments are 32 bits wide.
    pub fn verdict(&self, args: &[u64; 6], arch32: bool) -> Action {
        self.conditional
            .iter()
            .rev()
            .find(|c| c.args.iter().all(|a| a.matches(args[usize::from(a.index)], arch32)))
            .map_or(self.action, |c| c.action)
    }
}

/// The object form of [`SyscallIr`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SyscallObject {
    nr: u32,
    action: Action,
    origin: String,
    conditional: Vec<CondIr>,
}

fn syscall_origin(origin: &str) -> Option<String> {
    (origin != "default").then(|| origin.to_string())
}

impl<'de> Deserialize<'de> for SyscallIr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        /// Either form, read without buffering (the compile cache reads thousands of these).
        struct Form;
        impl<'de> serde::de::Visitor<'de> for Form {
            type Value = SyscallIr;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("`NR VERDICT ORIGIN` or an object with nr, action, origin, conditional")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<SyscallIr, E> {
                let bad = || E::custom(format!("`{text}` is not `NR VERDICT ORIGIN`"));
                let mut it = text.splitn(3, ' ');
                let nr = it.next().and_then(|n| n.parse().ok()).ok_or_else(bad)?;
                let action = it.next().and_then(|a| Action::parse(a).ok()).ok_or_else(bad)?;
                let origin = it.next().ok_or_else(bad)?;
                Ok(SyscallIr { nr, action, origin: syscall_origin(origin), conditional: Vec::new() })
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<SyscallIr, A::Error> {
                let o = SyscallObject::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Ok(SyscallIr {
                    nr: o.nr,
                    action: o.action,
                    origin: syscall_origin(&o.origin),
                    conditional: o.conditional,
                })
            }
        }
        d.deserialize_any(Form)
    }
}

/// An argument-dependent verdict.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CondIr {
    /// Conditions (AND).
    pub args: Vec<ArgCondIr>,
    /// Verdict.
    pub action: Action,
    /// `file:line`.
    pub origin: String,
}

/// The Landlock tier.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LandlockIr {
    /// `enforce`, `best-effort` or `off`.
    pub mode: String,
    /// Lowest ABI the profile needs.
    pub min_abi: u32,
    /// Whether filesystem access is restricted.
    pub restrict_fs: bool,
    /// Path rules, sorted by path.
    pub filesystem: Vec<PathRuleIr>,
    /// Port rules; `None` = network not restricted.
    pub network: Option<NetworkIr>,
    /// Scopes (`abstract-unix-socket`, `signal`).
    pub scopes: Vec<String>,
}

/// Rights beneath one path.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PathRuleIr {
    /// Absolute path.
    pub path: String,
    /// Right names, sorted by bit.
    pub access: Vec<String>,
    /// `file:line`s of the rules merged here.
    pub origins: Vec<String>,
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

/// Namespace isolation for runtime-lite. `enabled` is false when the profile has no
/// `isolation` section (the other fields then hold the defaults a `--rootfs` run uses).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IsolationIr {
    /// Whether the profile asks for isolation.
    pub enabled: bool,
    /// Namespaces to create, sorted.
    pub namespaces: Vec<String>,
    /// Host name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Root filesystem (absolute); `None`: the host root, read-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rootfs: Option<String>,
    /// Root filesystem read-only.
    pub readonly_rootfs: bool,
    /// `none` or `host`.
    pub network: String,
    /// Host uid for container root; `None`: auto.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map_root_to: Option<u32>,
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
    /// `enforce` or `best-effort` for limits.
    pub limits_mode: String,
}

/// One mount of the isolation section.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MountIr {
    /// `bind` or `tmpfs`.
    pub kind: String,
    /// Absolute host source (bind).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Absolute target in the container.
    pub target: String,
    /// Read-only.
    pub readonly: bool,
    /// tmpfs size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
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
        IsolationIr {
            enabled: false,
            namespaces: ["cgroup", "ipc", "mount", "net", "pid", "user", "uts"].map(String::from).to_vec(),
            hostname: None,
            rootfs: None,
            readonly_rootfs: true,
            network: "none".into(),
            map_root_to: None,
            mounts: vec![],
            masked_paths: DEFAULT_MASKED_PATHS.map(String::from).to_vec(),
            readonly_paths: DEFAULT_READONLY_PATHS.map(String::from).to_vec(),
            init: true,
            log_max_size: 10 << 20,
            log_max_files: 3,
            memory: None,
            pids: None,
            cpu: None,
            limits_mode: "enforce".into(),
        }
    }
}
