//! runtime-lite: run a workload in its own namespaces under a compiled Palisade policy.
//!
//! [`start`] is the entry point of `enforce run`: it decides between a host run, a container
//! in the foreground, a detached one, and a dry run. A container is made of processes, one
//! file per role:
//! - the **launcher** ([`launcher`], `enforce` on the host) clones PID 1 into the new
//!   namespaces, puts it in its cgroup ([`cgroup`]), writes its uid/gid maps ([`idmap`]),
//!   forwards signals to it and returns its exit status;
//! - **PID 1** ([`pid1`]) becomes root of the new user namespace (an unprivileged uid on the
//!   host), creates its cgroup and time namespaces, builds the mount tree ([`mount`]), pivots
//!   into it, sets the hostname and brings loopback up ([`net`]); then either execs the
//!   workload itself (`init: false`) or forks it and stays as the [`shim`]: confined by the
//!   same policy with no capability, it reaps orphans and forwards signals;
//! - the **workload** ([`workload`]) applies the policy with the enforcer's steps
//!   ([`enforcer::Launcher`]) and execs; its report lists what the isolation tier did;
//! - for a detached container, the **keeper** ([`keeper`]) runs the launcher in a session of
//!   its own and records the state ([`state`]), and the **logger** ([`logger`]) copies the
//!   output into bounded files ([`logs`]); `enforce exec` is a role of its own ([`exec`]),
//!   which relays its command's stdio (`exec_stdio`).
//!
//! The processes talk over typed channels ([`channel`]). Errors are typed ([`error`]). Unsafe
//! code lives only in [`sys`]. Mounts live in the private mount namespace and vanish with it.
#![deny(missing_docs)]
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod cgroup;
mod cgroup_check;
pub mod channel;
pub mod console;
pub mod devices;
pub mod error;
pub mod exec;
mod exec_stdio;
pub mod idmap;
pub mod image;
pub mod keeper;
pub mod launcher;
pub mod lifecycle;
pub mod logger;
pub mod logs;
pub mod mount;
pub mod name;
pub mod net;
pub mod oci;
pub mod overlay;
pub mod pid1;
pub mod record;
pub mod shim;
pub mod start;
pub mod state;
pub mod sys;
pub mod workload;

pub use error::RunError;
pub use start::{start, Request, Started};
