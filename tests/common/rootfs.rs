//! A busybox-static root filesystem for runtime tests (Debian `busybox-static`, installed by
//! scripts/install-deps).

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// Applets linked into /bin.
pub const APPLETS: [&str; 28] = [
    "sh", "hostname", "cat", "ps", "echo", "sleep", "ip", "id", "ls", "kill", "mount", "touch", "true",
    "false", "wc", "grep", "head", "tail", "mkdir", "umount", "insmod", "stat", "seq", "sync", "unshare",
    "rm", "env", "pwd",
];

/// The host's busybox, which must be statically linked.
pub fn busybox() -> PathBuf {
    let p = ["/bin/busybox", "/usr/bin/busybox"].iter().map(PathBuf::from).find(|p| p.exists());
    p.unwrap_or_else(|| panic!("busybox-static is not installed (scripts/install-deps installs it)"))
}

/// Build a rootfs under `dir` (mount points and /data included) and return its path.
pub fn build(dir: &Path) -> PathBuf {
    let root = dir.join("rootfs");
    let _ = std::fs::remove_dir_all(&root);
    for d in ["bin", "proc", "dev", "sys", "tmp", "etc", "data", "secret"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::copy(busybox(), root.join("bin/busybox")).unwrap();
    for a in APPLETS {
        std::os::unix::fs::symlink("busybox", root.join("bin").join(a)).unwrap();
    }
    std::fs::write(root.join("etc/passwd"), "root:x:0:0:root:/:/bin/sh\n").unwrap();
    std::fs::write(root.join("secret/file"), "").unwrap();
    root
}
