//! Helpers shared by the end-to-end tests and the benchmark.

pub mod rootfs;
pub mod scmp;
