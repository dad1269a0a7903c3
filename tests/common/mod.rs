//! Helpers shared by the end-to-end tests and the benchmark.

#![allow(dead_code)]

pub mod dockerd;
pub mod images;
pub mod live;
pub mod rootfs;
pub mod scmp;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// A fresh world-readable directory for one test (workloads run as other uids read it),
/// removed when the test is done with it. A failing test keeps its directory to be looked at.
pub fn tempdir(name: &str) -> TempDir {
    TempDir::new(&format!("palisade-test-{}-{name}", std::process::id()))
}

/// A directory under the temporary directory that goes away when dropped: the suite runs on
/// the same machine again and again, and nothing a test made may be left behind.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let d = std::env::temp_dir().join(name);
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
        TempDir(d)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl std::ops::Deref for TempDir {
    type Target = PathBuf;
    fn deref(&self) -> &PathBuf {
        &self.0
    }
}

impl AsRef<Path> for TempDir {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("test failed: its files are kept in {}", self.0.display());
            return;
        }
        // Never delete through a mount (a bind of host files into a test's root): say so.
        if let Some(m) = mounted_under(&self.0) {
            eprintln!("LEFT BEHIND: {} holds the mount point {m}", self.0.display());
            return;
        }
        if let Err(e) = std::fs::remove_dir_all(&self.0) {
            eprintln!("LEFT BEHIND: {}: {e}", self.0.display());
        }
    }
}

/// A mount point at or under `dir` in this mount namespace, if there is one.
fn mounted_under(dir: &Path) -> Option<String> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let prefix = dir.display().to_string();
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .find(|m| *m == prefix || m.starts_with(&format!("{prefix}/")))
        .map(str::to_string)
}
