//! The OCI runtime (`palisade-runtime`): runc's command line over the same namespaces, mounts
//! and apply steps as `enforce run`. One file per role or stage:
//! - [`config`]: a bundle's `config.json` into typed values, refused here when it cannot run;
//! - [`plan`]: the process's part of it (ids, capabilities, rlimits, no_new_privs, seccomp
//!   compiled by Palisade with runc's meaning) as an enforcer [`enforcer::Plan`];
//! - [`state`]: the state directory of each container (`--root`), its `exec.fifo` and state;
//! - [`create`]: the runtime side of `create`: clone the init into its namespaces, map its ids,
//!   wait until it is ready and waiting for `start`;
//! - [`init`]: the container's init: mounts ([`rootfs`]), hostname, sysctls, then the apply
//!   steps, waiting at the gate (the fifo) until `start`, then exec;
//! - [`ops`]: `start`, `state`, `kill`, `delete`, `list`, `ps`.

pub mod config;
pub mod console;
pub mod create;
pub mod exec;
pub mod hooks;
pub mod idmapped;
mod init;
mod keyring;
pub mod ops;
pub mod plan;
pub mod resources;
mod rootfs;
mod spawn;
pub mod spec;
pub mod state;

pub use config::Bundle;

/// What went wrong, for the runtime's caller.
#[derive(Debug, thiserror::Error)]
pub enum OciError {
    /// config.json asks for what cannot be done (or is not valid).
    #[error("config.json: {field}: {why}")]
    Config {
        /// The field, as a JSON path (`mounts[2].destination`).
        field: String,
        /// Why.
        why: String,
    },
    /// The container id is not usable.
    #[error("container id `{0}`: use letters, digits, `_`, `-`, `.` and `+`, not starting with `.`")]
    BadId(String),
    /// No such container.
    #[error("container `{0}` does not exist")]
    NotFound(String),
    /// A container with this id exists.
    #[error("container `{0}` exists already")]
    Exists(String),
    /// The operation does not fit the container's status.
    #[error("container `{id}` is {status}: {why}")]
    Status {
        /// Container id.
        id: String,
        /// Its status.
        status: String,
        /// What cannot be done.
        why: String,
    },
    /// The policy cannot be applied.
    #[error(transparent)]
    Launch(#[from] enforcer::LaunchError),
    /// The Palisade profile or the seccomp section does not compile.
    #[error("{0}")]
    Policy(String),
    /// The container's init failed before it was ready.
    #[error("container init: {0}")]
    Init(String),
    /// A system call failed.
    #[error(transparent)]
    Sys(#[from] crate::error::SysError),
    /// A file could not be read or written.
    #[error("{what}: {source}")]
    Io {
        /// The operation and its object.
        what: String,
        /// The error.
        source: std::io::Error,
    },
}

impl OciError {
    /// An I/O error on `what`.
    pub fn io(what: impl Into<String>, source: std::io::Error) -> OciError {
        OciError::Io { what: what.into(), source }
    }
}
