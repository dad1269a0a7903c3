//! The only place with `unsafe`: thin wrappers over the system calls the enforcer makes.

pub mod seccomp;
