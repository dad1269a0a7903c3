//! Helpers shared by the end-to-end tests and the benchmark.

#![allow(dead_code)]

pub mod live;
pub mod rootfs;
pub mod scmp;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

/// A fresh world-readable directory for one test (workloads run as other uids read it).
pub fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("palisade-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
    d
}
