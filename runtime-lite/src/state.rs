//! Detached containers' state: one directory per name under the runtime directory
//! (`/run/palisade` as root, `$XDG_RUNTIME_DIR/palisade` otherwise), holding `state.json`
//! and the log files. State is checked against the kernel before it is trusted.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use serde::{Deserialize, Serialize};

pub use crate::name::ContainerName;

/// Why a container's state cannot be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// There is none.
    #[error("no container named `{0}`")]
    NoSuch(ContainerName),
    /// There is one already (or another `run` is creating it).
    #[error("a container named `{0}` exists (enforce rm {0})")]
    Exists(ContainerName),
    /// It does not parse.
    #[error("{}: corrupt state: {why}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Why.
        why: String,
    },
    /// There is no private directory to keep it in.
    #[error(transparent)]
    NoPrivateDir(#[from] enforcer::paths::PathError),
    /// It cannot be written.
    #[error("{}: {}", path.display(), policy::error::io_reason(.source))]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Where a container is in its life.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ContainerStatus {
    /// Being started.
    Created,
    /// PID 1 runs.
    Running,
    /// It has exited; `exit_code` says how.
    Exited,
    /// The state says it runs (or is being started) but its process is gone: the keeper died
    /// without recording an exit. Never stored.
    Stale,
}

impl std::fmt::Display for ContainerStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ContainerStatus::Created => "created",
            ContainerStatus::Running => "running",
            ContainerStatus::Exited => "exited",
            ContainerStatus::Stale => "stale",
        })
    }
}

/// This user's runtime directory, made private (0700, this user's) when it is first used.
/// A normal user without a private one gets an error: never a shared `/tmp`.
pub fn runtime_dir() -> Result<PathBuf, StateError> {
    let dir = enforcer::paths::runtime_dir()?;
    enforcer::paths::private_dir(&dir, enforcer::paths::TooOpen::Tighten)?;
    Ok(dir)
}

/// What is recorded about one container.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct State {
    /// Name.
    pub name: ContainerName,
    /// Profile as given (path or builtin:NAME).
    pub profile: String,
    /// SHA-256 of the compiled policy (IR JSON): `exec` refuses a profile that changed.
    pub profile_digest: String,
    /// Command.
    pub command: Vec<String>,
    /// Root filesystem.
    pub rootfs: Option<String>,
    /// Where it is in its life (as recorded).
    pub status: ContainerStatus,
    /// Host pid of the keeper (the process that supervises and logs).
    pub keeper_pid: i32,
    /// Host pid of the container's PID 1.
    pub pid: Option<i32>,
    /// Start time of PID 1 (`/proc/PID/stat` field 22), to detect pid reuse.
    pub pid_start: Option<u64>,
    /// Unix time created.
    pub created: u64,
    /// Unix time PID 1 started.
    pub started: Option<u64>,
    /// Unix time it exited.
    pub finished: Option<u64>,
    /// Exit status.
    pub exit_code: Option<i32>,
    /// The path variables of the policy and the values the workload's paths were given:
    /// `enforce exec` applies the same paths wherever it is run from.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub variables: BTreeMap<String, String>,
    /// Its cgroup (`palisade/...`), which `enforce exec` joins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup: Option<String>,
    /// `--rm`: the state and logs are removed when it exits.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub auto_remove: bool,
    /// Its writable layer over an image's root (removed with it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<PathBuf>,
    /// What `enforce stop` sends first (an image's `StopSignal`; default SIGTERM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
}

/// Seconds since the epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Start time of `pid` in clock ticks since boot, while it runs (a zombie has exited).
pub fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut after = stat[stat.rfind(')')? + 2..].split_whitespace();
    if after.next()? == "Z" {
        return None;
    }
    after.nth(18)?.parse().ok()
}

/// Directory of container `name` (its name is checked: it cannot leave the runtime directory).
pub fn dir(name: &ContainerName) -> Result<PathBuf, StateError> {
    Ok(runtime_dir()?.join(name.as_str()))
}

/// Create the directory of container `name`, private to this user (0700). `mkdir` is the lock:
/// of two runs asking for one name, exactly one gets it.
pub fn create_dir(name: &ContainerName) -> Result<PathBuf, StateError> {
    let d = dir(name)?;
    match std::fs::DirBuilder::new().mode(0o700).create(&d) {
        Ok(()) => Ok(d),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(StateError::Exists(name.clone())),
        Err(source) => Err(StateError::Write { path: d, source }),
    }
}

/// Open `name` beneath directory `at`, never through a symbolic link.
fn open_beneath(at: &OwnedFd, name: &str, flags: OFlag) -> nix::Result<OwnedFd> {
    nix::fcntl::openat(at, name, flags | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC, Mode::empty())
}

impl State {
    /// Load the state of `name`: opened relative to the runtime directory's descriptor, the
    /// container's directory and `state.json` never through a symbolic link.
    pub fn load(name: &ContainerName) -> Result<State, StateError> {
        let runtime = runtime_dir()?;
        let path = runtime.join(name.as_str()).join("state.json");
        let no_such = |_| StateError::NoSuch(name.clone());
        let root = nix::fcntl::open(&runtime, OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())
            .map_err(no_such)?;
        let d = open_beneath(&root, name.as_str(), OFlag::O_DIRECTORY).map_err(no_such)?;
        let f = open_beneath(&d, "state.json", OFlag::O_RDONLY | OFlag::O_NONBLOCK).map_err(no_such)?;
        let mut text = String::new();
        std::fs::File::from(f)
            .take(1 << 20)
            .read_to_string(&mut text)
            .map_err(|e| StateError::Corrupt { path: path.clone(), why: e.to_string() })?;
        let st: State = serde_json::from_str(&text)
            .map_err(|e| StateError::Corrupt { path: path.clone(), why: e.to_string() })?;
        if st.name != *name {
            return Err(StateError::Corrupt {
                path,
                why: format!("it names another container ({})", st.name),
            });
        }
        Ok(st)
    }

    /// Write atomically, readable by this user only (0600). The directory must exist
    /// ([`create_dir`]).
    pub fn save(&self) -> Result<(), StateError> {
        let d = dir(&self.name)?;
        let tmp = d.join("state.json.tmp");
        let write = || -> std::io::Result<()> {
            let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&tmp)?;
            f.write_all(text.as_bytes())?;
            std::fs::rename(&tmp, d.join("state.json"))
        };
        write().map_err(|source| StateError::Write { path: d.join("state.json"), source })
    }

    /// Whether the recorded PID 1 is still that process.
    pub fn alive(&self) -> bool {
        match (self.pid, self.pid_start) {
            (Some(pid), Some(start)) => start_time(pid) == Some(start),
            _ => false,
        }
    }

    /// The status as checked against the kernel: a `running` state whose process is gone is
    /// stale (the keeper died without recording an exit), as is a `created` one whose keeper
    /// is gone.
    pub fn checked_status(&self) -> ContainerStatus {
        match self.status {
            ContainerStatus::Running if !self.alive() => ContainerStatus::Stale,
            ContainerStatus::Created if !Path::new(&format!("/proc/{}", self.keeper_pid)).exists() => {
                ContainerStatus::Stale
            }
            s => s,
        }
    }
}

/// Every container, by name.
pub fn list() -> Result<Vec<State>, StateError> {
    let mut out: Vec<State> = std::fs::read_dir(runtime_dir()?)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter_map(|e| ContainerName::parse(e.file_name().to_str()?).ok())
                .filter_map(|n| State::load(&n).ok())
                .collect()
        })
        .unwrap_or_default();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}
