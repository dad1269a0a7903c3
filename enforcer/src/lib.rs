//! Applies a compiled Palisade policy to the current process, then execs the workload.
//!
//! Stages, one type each:
//! - [`CompiledPolicy`]: a compile (from the compile cache, [`cache`]), with this machine's
//!   seccomp program;
//! - [`Plan`]: every decision, made before anything changes ([`Plan::new`]): ids, capability
//!   sets, securebits, no_new_privs, limits, the seccomp filter for this machine, the Landlock
//!   ruleset for this kernel's ABI; every input error is found here;
//! - [`Launcher`]: applies the plan one named step at a time ([`Step`], `steps.rs`), reads the
//!   result back from the kernel (`verify.rs`), and execs in place; any failure returns before
//!   exec, so the workload never runs half-confined;
//! - [`report::Report`]: what a plan applies, built from the plan and what the steps did.
//!
//! Every system call of the launch path that changes the process or reads it back goes through
//! [`sys::Kernel`] (file lookups, the report file and stderr do not): [`sys::Linux`] makes
//! them, [`sys::fake::Recorder`] records them against a model of the process, so the order of
//! the steps is unit-tested without root. [`probe`] reports what the running kernel supports.
//! Unsafe code lives only in [`sys`]; each block says why it is sound.
//!
//! Test strategy: unit tests of the steps against the fake (`launch_tests.rs`); live tests run
//! real processes under real filters (`tests/live_*.rs` here, and `tests/enforce_live.rs` at
//! the workspace root for the `enforce` binary).
#![deny(missing_docs)]
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod cache;
pub mod command;
pub mod compiled;
pub mod error;
pub mod explain;
pub mod granted;
pub mod landlock;
pub mod launch;
#[cfg(test)]
mod launch_tests;
pub mod paths;
pub mod plan;
pub mod privilege;
pub mod probe;
pub mod record;
pub mod report;
mod runnable;
pub mod seccomp;
mod steps;
mod supervisor;
pub mod sys;
pub mod tmpdir;
pub mod vars;
mod verify;

pub use command::Command;
pub use compiled::CompiledPolicy;
pub use error::{Failure, LaunchError, Step};
pub use launch::{Gate, Launcher, ReportTo};
pub use plan::{Features, Options, Plan};
pub use vars::PathValues;

/// `eprintln!` that never panics: a stderr that cannot be written (closed, full, a broken
/// pipe) loses the line, and the exit status stays the one the run decided (125, 126, ...).
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// `print!` that never panics (a closed or full stdout, `| head`): the text is lost.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let mut o = std::io::stdout().lock();
        let _ = write!(o, $($arg)*).and_then(|()| o.flush());
    }};
}
