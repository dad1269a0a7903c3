//! Why a container did not run (or a lifecycle command failed), as typed errors. Each module
//! has its own enum; [`RunError`] is what the library's entry points return.

use std::path::PathBuf;

use enforcer::LaunchError;

/// A failed system call or file operation on an object.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {}", policy::error::io_reason(.source))]
pub struct SysError {
    /// The operation and its object (`mount proc /proc`).
    pub what: String,
    /// Why.
    #[source]
    pub source: std::io::Error,
}

impl SysError {
    /// `what` failed with `errno`.
    pub fn errno(what: impl Into<String>, errno: nix::errno::Errno) -> SysError {
        SysError { what: what.into(), source: std::io::Error::from_raw_os_error(errno as i32) }
    }

    /// `what` failed with `source`.
    pub fn io(what: impl Into<String>, source: std::io::Error) -> SysError {
        SysError { what: what.into(), source }
    }
}

/// Why a run or a lifecycle command failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The policy could not be applied to the workload (its step and exit status say more).
    #[error(transparent)]
    Launch(#[from] LaunchError),
    /// A process inside the container failed and reported why over the channel.
    #[error("{message}")]
    Inside {
        /// Its exit status (125, or 126/127 for the command).
        code: i32,
        /// What it reported.
        message: String,
    },
    /// The request cannot be run as given.
    #[error("{0}")]
    Invalid(String),
    /// The root filesystem is not a directory, or cannot be reached.
    #[error("rootfs {}: {why}", path.display())]
    Rootfs {
        /// As given.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
    /// The container could not be set up (a namespace, a pipe, a process).
    #[error("cannot set up the container: {0}")]
    Setup(#[from] SysError),
    /// A lifecycle command's file or process operation.
    #[error(transparent)]
    Lifecycle(SysError),
    /// The user namespace mapping.
    #[error(transparent)]
    Idmap(#[from] crate::idmap::IdmapError),
    /// The cgroup and its limits.
    #[error(transparent)]
    Cgroup(#[from] crate::cgroup::CgroupError),
    /// A detached container's state.
    #[error(transparent)]
    State(#[from] crate::state::StateError),
    /// The compiled policy could not be read back (the compile cache's seccomp section).
    #[error("cannot read the compiled policy back: {0}")]
    Compiled(String),
}

impl RunError {
    /// The exit status for the launcher: the workload's failure (126, 127) as reported, 125
    /// for everything that kept it from running.
    pub fn exit_code(&self) -> i32 {
        match self {
            RunError::Launch(e) => e.exit_code(),
            RunError::Inside { code, .. } => *code,
            _ => 125,
        }
    }
}
