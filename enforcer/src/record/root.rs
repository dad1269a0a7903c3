//! The root a notified call's paths are resolved beneath: the caller's own (`/proc/TID/root`),
//! through `openat2` with `RESOLVE_IN_ROOT`, so that in a container an absolute symbolic link
//! or `..` stays inside it and the paths are the container's.

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The caller's root: its paths are resolved beneath it, as the caller sees them.
pub struct Root {
    fd: OwnedFd,
}

impl Root {
    /// Thread `tid`'s root.
    pub fn of(tid: u32) -> Option<Root> {
        let f = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
            .open(format!("/proc/{tid}/root"))
            .ok()?;
        Some(Root { fd: OwnedFd::from(f) })
    }

    /// `path` opened beneath the root with `flags` (`O_PATH` to look at it).
    pub(super) fn open(&self, path: &Path, follow: bool, flags: i32) -> Option<OwnedFd> {
        let nofollow = if follow { 0 } else { libc::O_NOFOLLOW };
        crate::sys::process::open_in_root(&self.fd, path, flags | nofollow).ok()
    }

    /// `path` resolved (as the caller names it) and what it is.
    pub(super) fn resolve(&self, path: &Path, follow: bool) -> Option<(PathBuf, std::fs::Metadata)> {
        let fd = self.open(path, follow, libc::O_PATH)?;
        let name = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).ok()?;
        let meta = std::fs::File::from(fd).metadata().ok()?;
        Some((name, meta))
    }

    /// The first `n` bytes of the file at `path`.
    /// Only a regular file is read (a FIFO would block the recorder, a device could act), and
    /// without blocking or taking a terminal.
    pub(super) fn head(&self, path: &Path, n: u64) -> Option<Vec<u8>> {
        use std::io::Read;
        if !self.resolve(path, true).is_some_and(|(_, m)| m.is_file()) {
            return None;
        }
        let fd = self.open(path, true, libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY)?;
        let mut head = Vec::new();
        std::fs::File::from(fd).take(n).read_to_end(&mut head).ok()?;
        Some(head)
    }
}
