//! Seccomp backends: Docker JSON, OCI JSON, and the region algebra they share.

pub mod docker;
pub mod oci;
pub mod regions;
