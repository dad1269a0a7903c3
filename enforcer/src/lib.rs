//! Applies a compiled Palisade policy to the current process, then execs the workload.
//!
//! Stages: a [`policy::Policy`] becomes a [`plan::Plan`] (command resolved, seccomp program
//! compiled for this machine, Landlock ruleset chosen for this kernel's ABI: every input
//! error is found here); [`launch::Launcher`] applies the plan step by step ([`error::Step`]),
//! reads the result back from the kernel, writes the [`report::Report`] and execs in place.
//! Any failure returns before exec: the workload never runs half-confined.
//!
//! [`probe`] reports what the running kernel supports. Unsafe code lives only in [`sys`];
//! each block says why it is sound.
//!
//! Test strategy: live tests run real processes under real filters (`tests/live_*.rs` here,
//! and `tests/enforce_live.rs` at the workspace root for the `enforce` binary).
#![deny(missing_docs)]
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod cache;
pub mod error;
pub mod landlock;
pub mod launch;
pub mod plan;
pub mod probe;
pub mod report;
pub mod seccomp;
pub mod sys;

pub use error::{LaunchError, Step};
pub use launch::{Launcher, ReportTo};
pub use plan::{Options, Plan};
