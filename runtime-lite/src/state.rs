//! Detached containers' state: one directory per name under the runtime directory
//! (`/run/palisade` as root, `$XDG_RUNTIME_DIR/palisade` otherwise), holding `state.json`
//! and the log files. State is checked against the kernel before it is trusted.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Why a container's state cannot be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// There is none.
    #[error("no container named `{0}`")]
    NoSuch(String),
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
    pub name: String,
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
    /// `--rm`: the state and logs are removed when it exits.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub auto_remove: bool,
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

/// Directory of container `name`.
pub fn dir(name: &str) -> Result<PathBuf, StateError> {
    Ok(runtime_dir()?.join(name))
}

/// A name is 1..=64 of `[A-Za-z0-9_.-]`, not starting with `.`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

impl State {
    /// Load the state of `name`.
    pub fn load(name: &str) -> Result<State, StateError> {
        let path = dir(name)?.join("state.json");
        let text = std::fs::read_to_string(&path).map_err(|_| StateError::NoSuch(name.to_string()))?;
        serde_json::from_str(&text).map_err(|e| StateError::Corrupt { path, why: e.to_string() })
    }

    /// Write atomically.
    pub fn save(&self) -> Result<(), StateError> {
        let d = dir(&self.name)?;
        let tmp = d.join("state.json.tmp");
        let write = || -> std::io::Result<()> {
            std::fs::create_dir_all(&d)?;
            std::fs::write(&tmp, serde_json::to_string_pretty(self).map_err(std::io::Error::other)?)?;
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
                .filter_map(|e| State::load(&e.file_name().to_string_lossy()).ok())
                .collect()
        })
        .unwrap_or_default();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}
