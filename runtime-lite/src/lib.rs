//! runtime-lite: run a workload in its own namespaces under a compiled Palisade policy.
//!
//! Process roles ([`run`]):
//! - the **launcher** (`enforce`, on the host) clones PID 1 into the new namespaces, puts it in
//!   its cgroup, writes its uid/gid maps (`setgroups` deny), forwards signals to it and exits
//!   with its status;
//! - **PID 1** becomes root of the new user namespace (an unprivileged uid on the host),
//!   creates its cgroup namespace, builds the mount tree ([`mount`]), pivots into it, sets the hostname and brings
//!   loopback up ([`net`]); then either execs the workload itself (`init: false`) or forks it as
//!   PID 2 and stays as the [`shim`]: confined by the same policy with no capability, it reaps
//!   orphans and forwards signals;
//! - the **workload** applies the policy with the enforcer's steps ([`enforcer::Launcher`],
//!   unchanged) and execs.
//!
//! Unsafe code lives only in [`sys`].
//!
//! Errors inside travel back over a close-on-exec pipe ([`channel`]); the launcher prints them
//! and exits 125. Mounts live in the private mount namespace and vanish with it.
#![deny(missing_docs)]
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod cgroup;
pub mod channel;
pub mod idmap;
pub mod lifecycle;
pub mod logs;
pub mod mount;
pub mod net;
pub mod run;
pub mod shim;
pub mod state;
pub mod sys;

pub use run::{run, RunError, RunSpec};
