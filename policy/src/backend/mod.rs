//! Backends: one per enforcement tier. No backend imports another.

pub mod caps;
pub mod landlock;
pub mod seccomp;
