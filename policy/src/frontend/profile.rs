//! The profile language as read from YAML: serde types, kept close to what the user wrote.
//!
//! Names (syscalls, capabilities, actions, constants) stay strings here; the checker
//! ([`super::check`]) checks them and reports problems at the line and column kept by [`Sp`].

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::spanned::Sp;
use crate::ir::ArgOp;
use crate::vocab::{LandlockMode, SecurebitsMode, TmpdirMode};

/// A Palisade security profile: one workload's capabilities, seccomp filter, Landlock rules and
/// isolation settings.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Short name of the profile (defaults to the file name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Sp<String>>,
    /// One line saying what the profile is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Profiles merged before this one: a built-in name (`docker-default`, `builtin:web`) or a
    /// path relative to this file; a list is merged left to right.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extends: Option<Sp<OneOrMany>>,
    /// User, privileges and resource limits of the workload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<Process>,
    /// Linux capabilities, Docker style: drop, then add.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<Capabilities>,
    /// The seccomp system-call filter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seccomp: Option<Seccomp>,
    /// Landlock filesystem, network and scope restrictions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub landlock: Option<Landlock>,
    /// Namespace isolation: run the workload in its own namespaces and root filesystem.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isolation: Option<Isolation>,
}

/// One string or a list of strings.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum OneOrMany {
    /// A single name.
    One(String),
    /// Several names, merged in order.
    Many(Vec<String>),
}

impl OneOrMany {
    /// The names in order.
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

/// The workload process.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Process {
    /// `uid` or `uid:gid` (numbers; 0 is root). Default `0:0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<Sp<UserSpec>>,
    /// `true`: the workload must not run as uid 0. A container whose image (or `--user`) says
    /// root is refused before anything runs, as Kubernetes' `runAsNonRoot` does. Default
    /// `false`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_as_non_root: Option<Sp<bool>>,
    /// Set `PR_SET_NO_NEW_PRIVS` so setuid binaries and file capabilities cannot raise
    /// privileges. Default `true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_new_privs: Option<Sp<bool>>,
    /// `locked` sets and locks SECBIT_NOROOT, SECBIT_NO_SETUID_FIXUP and SECBIT_KEEP_CAPS
    /// (off), so root cannot regain capabilities on exec; `none` leaves securebits alone.
    /// Default `locked` when the user is 0, else `none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub securebits: Option<Sp<SecurebitsMode>>,
    /// `private`: a new directory of its own under the caller's `$TMPDIR` (or `/tmp`), made
    /// for each run, owned by the workload's user, named in its `TMPDIR` and writable under
    /// Landlock. Default `inherit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tmpdir: Option<Sp<TmpdirMode>>,
    /// Environment variables the workload gets (`NAME: value`), on top of the caller's on the
    /// host or of the container's clean environment; merged by name, a child's value wins.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, Sp<String>>,
    /// The workload's working directory: absolute, or starting with a path variable
    /// (`${CWD}/src`). Default: where `enforce` runs (on the host), `/` (in a container).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workdir: Option<Sp<String>>,
    /// Resource limits by name (`nofile`, `nproc`, `core`, ...): a number, `unlimited`, or
    /// `{ soft, hard }`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub rlimits: BTreeMap<String, Sp<Rlimit>>,
}

/// A user as a number, a `uid:gid` string, or `caller` (whoever runs enforce, decided then).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum UserSpec {
    /// A uid; the gid is the same number.
    Uid(u32),
    /// `uid` or `uid:gid`.
    Text(String),
}

/// One resource limit.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Rlimit {
    /// Soft and hard limit equal.
    Value(RlimitValue),
    /// Separate soft and hard limits.
    Pair {
        /// The soft limit.
        soft: RlimitValue,
        /// The hard limit.
        hard: RlimitValue,
        /// `true`: set exactly, raising the hard limit above the current one if need be
        /// (needs root). Default: the limits are maximums, never above the current hard limit.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        raise: Option<bool>,
    },
}

/// A limit: a number or `unlimited`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum RlimitValue {
    /// A number.
    Number(u64),
    /// `unlimited` (RLIM_INFINITY).
    Word(String),
}

/// Capabilities: the parent's set (empty without `extends`), minus `drop`, plus `add`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Capabilities {
    /// Capabilities to remove, with or without `CAP_`; `ALL` removes every capability.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drop: Vec<Sp<String>>,
    /// Capabilities to grant, with or without `CAP_`; `ALL` grants every capability except
    /// those in `drop`. An added capability wins over the same one in `drop`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add: Vec<Sp<String>>,
    /// `auto` (default): for a non-root user every granted capability becomes ambient (and
    /// inheritable) so it survives exec; `none`: no ambient capabilities; or an explicit list
    /// (a subset of the granted ones).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ambient: Option<Sp<Ambient>>,
}

/// Ambient capability mode.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Ambient {
    /// `auto` or `none`.
    Mode(String),
    /// Explicit capability names.
    List(Vec<String>),
}

/// The seccomp filter: a default verdict and an ordered list of rules; **the last matching rule
/// wins**, parent profiles' rules come before the child's.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Seccomp {
    /// Verdict when no rule matches: `allow`, `errno(N|NAME)`, `kill` (= `kill-process`),
    /// `kill-thread`, `trap`, `log`, `trace(N)`, `notify`. Default `errno(EPERM)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Sp<String>>,
    /// Verdict for syscall numbers the arch's table does not know (newer kernels' calls): an
    /// action, `enosys` (= `errno(ENOSYS)`, the default) or `default` (same as `default`).
    /// Or runc's ENOSYS stub: `enosys-after NAME` (a call no rule decides gets ENOSYS when its
    /// number is above NAME's on the arch, known or not, else the default) or
    /// `enosys-after-named` (the same above the largest number the rules name on each arch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unknown: Option<Sp<String>>,
    /// Architectures the filter accepts (`x86_64`, `x86`, `x32`, `aarch64`, `arm`, ...); every
    /// other one gets kill-process. Default `[x86_64, aarch64]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arches: Option<Vec<Sp<String>>>,
    /// Ordered rules; the last one that matches a call decides it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<Sp<Rule>>,
    /// Deny creating or joining namespaces: `unshare`, `setns`, and `clone` with any
    /// `CLONE_NEW*` flag get EPERM (added after all rules).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restrict_namespaces: Option<Sp<bool>>,
    /// Only these socket address families may be used with `socket`/`socketpair`; others get
    /// EAFNOSUPPORT (added after all rules).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restrict_address_families: Option<Sp<Vec<Sp<ArgValue>>>>,
    /// Deny `io_uring_setup`, `io_uring_enter` and `io_uring_register` (io_uring operations
    /// bypass seccomp) with EPERM (added after all rules).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deny_io_uring: Option<Sp<bool>>,
    /// `true` (the default): where a rule in force filters `clone` by argument and no rule
    /// names `clone3`, `clone3` gets ENOSYS, so libc falls back to `clone`, whose flags the
    /// filter sees. `false`: `clone3` is decided as written (runc does not add this rule, so
    /// `policyc import` writes `false`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clone3_fallback: Option<Sp<bool>>,
}

/// One seccomp rule: exactly one of `allow`, `deny` or `syscalls`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Syscalls (or `@groups`) to allow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow: Option<Vec<Sp<String>>>,
    /// Syscalls (or `@groups`) to deny, with `action` (default `errno(EPERM)`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deny: Option<Vec<Sp<String>>>,
    /// Syscalls (or `@groups`) that get `action` (required), e.g. `log` or `notify`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub syscalls: Option<Vec<Sp<String>>>,
    /// The verdict for `deny` and `syscalls` rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Sp<String>>,
    /// Argument conditions, all of which must hold (AND).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<Sp<ArgCond>>,
    /// When the rule applies at all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<When>,
    /// Free text, kept in exports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// A condition on one syscall argument.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ArgCond {
    /// Argument index, 0..=5.
    pub index: Sp<u8>,
    /// Comparison: `eq`, `ne`, `lt`, `le`, `gt`, `ge`, `masked_eq` (`arg & mask == value`),
    /// `in`, `not_in` (with `values`).
    pub op: Sp<ArgOp>,
    /// The value compared with (a number or a constant name such as `AF_INET`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Sp<ArgValue>>,
    /// Values for `in` / `not_in`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<Sp<ArgValue>>>,
    /// Mask for `masked_eq`; constant names may be joined with `|`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mask: Option<Sp<ArgValue>>,
    /// Bits compared: 32 (low word only) or 64. Default: the argument's C type (e.g. 32 for
    /// `ioctl` cmd and `socket` family).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<Sp<u8>>,
}

/// A number (decimal, `0x` hex, negative for two's complement) or a constant name; names may be
/// joined with `|` (`CLONE_NEWUSER|CLONE_NEWNS`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum ArgValue {
    /// A non-negative number.
    Number(u64),
    /// A negative number, taken as 64-bit two's complement.
    Negative(i64),
    /// A constant name or a number written as text.
    Name(String),
}

/// Conditions on when a rule is in force (all must hold).
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct When {
    /// The rule applies only if the profile grants all of these capabilities.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub caps_present: Vec<Sp<String>>,
    /// The rule applies only if the profile grants none of these capabilities.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub caps_absent: Vec<Sp<String>>,
    /// The rule applies only on these host architectures, named as Docker does (`amd64`,
    /// `arm64`, `x86`, `x32`, `arm`, `s390x`, `ppc64le`, `riscv64`, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arches: Vec<Sp<String>>,
    /// The rule does not apply on these host architectures.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_arches: Vec<Sp<String>>,
    /// The rule applies only on kernels at least this version (`"4.8"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_kernel: Option<Sp<String>>,
    /// Not part of the language: an older version accepted it and ignored it. Read only to
    /// refuse it with a clear error.
    #[serde(default, skip_serializing)]
    #[schemars(skip)]
    pub max_kernel_below: Option<Sp<String>>,
}

/// Landlock restrictions.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Landlock {
    /// `enforce` (default): refuse to run when the kernel's Landlock ABI is below `min_abi`;
    /// `best-effort`: run with what the kernel supports and report what was dropped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Sp<LandlockMode>>,
    /// Lowest Landlock ABI the profile needs (1..). Default: the lowest ABI that covers every
    /// right the profile uses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_abi: Option<Sp<u32>>,
    /// Paths and what may be done beneath them; everything else is denied.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filesystem: Vec<Sp<FsRule>>,
    /// TCP ports that may be bound or connected to; when present, all others are denied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<Network>,
    /// IPC scopes: `abstract-unix-socket`, `signal` (ABI 6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Vec<Sp<String>>>,
}

/// A filesystem rule.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FsRule {
    /// Absolute path of a file or directory (rules apply beneath it).
    pub path: Sp<String>,
    /// Rights: groups `read`, `write`, `execute`, `all`, or single rights (`read_file`,
    /// `read_dir`, `write_file`, `truncate`, `make_dir`, `remove_file`, `refer`, `ioctl_dev`,
    /// ...).
    pub access: Vec<Sp<String>>,
}

/// TCP port rules (Landlock ABI 4).
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// Ports that may be bound.
    #[serde(default)]
    pub bind: Vec<Sp<u16>>,
    /// Ports that may be connected to.
    #[serde(default)]
    pub connect: Vec<Sp<u16>>,
}

/// Namespace isolation: run the workload in its own namespaces and root filesystem
/// (runtime-lite).
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Isolation {
    /// Namespaces to create: `user`, `pid`, `mount`, `net`, `uts`, `ipc`, `cgroup`, `time`
    /// (default: all but `time`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespaces: Option<Vec<Sp<String>>>,
    /// Host name inside a new UTS namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<Sp<String>>,
    /// Root filesystem directory (relative to the profile's directory); omitted: the host root,
    /// bind-mounted read-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rootfs: Option<Sp<String>>,
    /// A container image to run (as `enforce run --image` does): a stored image (`name:tag`,
    /// an id), or an archive or OCI layout (a path: absolute, or `./`/`../` relative to the
    /// profile's directory; `PATH:TAG` picks a tag). Not with `rootfs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<Sp<String>>,
    /// Mount the root filesystem read-only (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readonly_rootfs: Option<Sp<bool>>,
    /// `none` (a new network namespace with loopback only), `private` (a new one with
    /// outbound connectivity and published ports, through pasta) or `host`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<Sp<String>>,
    /// Host ports forwarded to the container's, as `docker run -p` writes them:
    /// `[ADDRESS:]HOST:CONTAINER[/tcp|udp]`; implies `network: private`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publish: Option<Vec<Sp<String>>>,
    /// The user mapping.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<Users>,
    /// Clock offsets of the time namespace (needs `time` in `namespaces`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_offsets: Option<Sp<TimeOffsets>>,
    /// Extra mounts.
    #[serde(default)]
    pub mounts: Vec<Sp<MountSpec>>,
    /// Paths hidden from the workload: `default` (Docker's list), `none`, or a list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub masked_paths: Option<Sp<PathList>>,
    /// Paths made read-only: `default` (Docker's list), `none`, or a list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readonly_paths: Option<Sp<PathList>>,
    /// Run a PID-1 shim (default: true when the pid namespace is used).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<Sp<bool>>,
    /// Log files of detached workloads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logs: Option<Logs>,
    /// cgroup limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<Limits>,
}

/// The user mapping of a user namespace.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Users {
    /// Host uid that container uid 0 maps to: `auto` (100000 with 65536 ids when run as root,
    /// else the caller's own uid) or a number (never 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map_root_to: Option<Sp<ArgValue>>,
}

/// Offsets of the container's clocks from the host's, in seconds (may be negative).
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TimeOffsets {
    /// `CLOCK_MONOTONIC` and its variants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monotonic: Option<i64>,
    /// `CLOCK_BOOTTIME` and its variants (`/proc/uptime`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boottime: Option<i64>,
}

/// One mount.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MountSpec {
    /// `bind` or `tmpfs`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Source directory or file (bind; relative to the profile's directory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Absolute path inside the container.
    pub target: String,
    /// Read-only (default: false for bind, false for tmpfs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readonly: Option<bool>,
    /// tmpfs size (`64Mi`, `1G`, bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<ArgValue>,
}

/// `default`, `none`, or a list of paths.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(untagged)]
pub enum PathList {
    /// `default` or `none`.
    Keyword(String),
    /// Explicit paths.
    List(Vec<String>),
}

/// Bounded log files.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Logs {
    /// Rotate at this size (default `10Mi`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_size: Option<Sp<ArgValue>>,
    /// Keep at most this many files (default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_files: Option<Sp<u32>>,
}

/// cgroup limits.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Memory (`256Mi`, bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<Sp<ArgValue>>,
    /// Most processes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pids: Option<Sp<u64>>,
    /// CPUs (0.5 = half a CPU).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<Sp<f64>>,
    /// `enforce` (fail when the host cannot apply a limit) or `best-effort` (default `enforce`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Sp<String>>,
}
