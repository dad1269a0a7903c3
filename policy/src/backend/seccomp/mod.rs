//! Seccomp backends: Docker JSON, OCI JSON, the region algebra they share, and our own BPF
//! code generator.

pub mod bpf;
pub mod docker;
pub mod oci;
pub mod regions;
