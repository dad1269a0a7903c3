//! A container's writable layer over an image's read-only root: an overlayfs mounted by PID 1
//! inside the container's own user and mount namespaces (so it vanishes with them and needs
//! no privilege on the host), or, where the kernel refuses that mount, a copy of the root into
//! the layer. Either way the image's tree is never written.

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

pub use enforcer::report::WritableLayer as Made;
use nix::mount::{mount, MsFlags};
use nix::sys::stat::{Mode, SFlag};

use crate::error::SysError;
use crate::mount::fail;

/// Where the layer's directory (holding `upper/` and `work/`) is.
pub enum Layer<'a> {
    /// Reached by path (container root must be able to walk to it).
    Dir(&'a Path),
    /// A detached copy of its mount, opened by the launcher.
    Tree(&'a OwnedFd),
}

/// The layer to make.
pub struct Writable<'a> {
    /// Where it is.
    pub at: Layer<'a>,
    /// Copy the root even where overlayfs would mount ([`FORCE_ENV`]).
    pub force_copy: bool,
}

/// Set `PALISADE_WRITABLE_LAYER=copy` to copy the root even where overlayfs would mount.
pub const FORCE_ENV: &str = "PALISADE_WRITABLE_LAYER";

/// The writable root over the read-only `lower` (a directory of the staging tmpfs, `/tmp`,
/// which [`crate::mount`] made): the layer is attached at `/tmp/layer`, and the root is
/// `/tmp/merged` (overlayfs) or `/tmp/layer/upper` (a copy). `why` says why overlayfs was not
/// used, when it was not.
/// `opened`: the layer's directory ([`Layer::Dir`]), opened before the staging tmpfs could
/// hide its path.
pub(crate) fn writable(
    lower: &Path,
    w: &Writable,
    opened: Option<&OwnedFd>,
) -> Result<(PathBuf, Made, Option<String>), SysError> {
    let at = Path::new("/tmp/layer");
    std::fs::create_dir(at).map_err(|e| fail("mkdir", at, e))?;
    match (&w.at, opened) {
        (Layer::Tree(t), _) => crate::sys::attach_tree(t, at)?,
        (Layer::Dir(d), opened) => {
            let source = opened.map_or_else(|| d.display().to_string(), crate::mount::via);
            mount(Some(source.as_str()), at, None::<&str>, MsFlags::MS_BIND, None::<&str>)
                .map_err(|e| fail("bind the writable layer at", at, e))?
        }
    }
    let (upper, work) = (at.join("upper"), at.join("work"));
    let why = match w.force_copy {
        true => Some(format!("{FORCE_ENV}=copy")),
        false => {
            let merged = Path::new("/tmp/merged");
            std::fs::create_dir(merged).map_err(|e| fail("mkdir", merged, e))?;
            let options = format!(
                "lowerdir={},upperdir={},workdir={}",
                lower.display(),
                upper.display(),
                work.display()
            );
            // In a user namespace overlayfs keeps its own attributes in `user.overlay.*`
            // (`userxattr`); a kernel without that option may take the mount without it.
            let tried = [format!("{options},userxattr"), options];
            let mut last = None;
            for data in &tried {
                match mount(Some("overlay"), merged, Some("overlay"), MsFlags::empty(), Some(data.as_str())) {
                    Ok(()) => return Ok((merged.to_path_buf(), Made::Overlay, None)),
                    Err(e) => last = Some(e),
                }
            }
            Some(format!("overlayfs: {}", last.map(|e| e.desc()).unwrap_or("refused")))
        }
    };
    Copier::default().copy(lower, &upper)?;
    Ok((upper, Made::Copy, why))
}

/// A recursive copy that keeps owners, modes, times, links and hard links.
#[derive(Default)]
struct Copier {
    /// Files of several names: (device, inode) of the source → the first copy.
    linked: HashMap<(u64, u64), PathBuf>,
}

impl Copier {
    fn copy(&mut self, from: &Path, to: &Path) -> Result<(), SysError> {
        let entries = std::fs::read_dir(from).map_err(|e| fail("read", from, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| fail("read", from, e))?;
            let (src, dst) = (entry.path(), to.join(entry.file_name()));
            let m = std::fs::symlink_metadata(&src).map_err(|e| fail("stat", &src, e))?;
            self.entry(&src, &dst, &m)?;
        }
        Ok(())
    }

    fn entry(&mut self, src: &Path, dst: &Path, m: &std::fs::Metadata) -> Result<(), SysError> {
        let kind = SFlag::from_bits_truncate(m.mode() & libc::S_IFMT);
        if kind != SFlag::S_IFDIR && m.nlink() > 1 {
            if let Some(first) = self.linked.get(&(m.dev(), m.ino())) {
                return std::fs::hard_link(first, dst).map_err(|e| fail("link", dst, e));
            }
            self.linked.insert((m.dev(), m.ino()), dst.to_path_buf());
        }
        let mode = Mode::from_bits_truncate(m.mode() & 0o7777);
        match kind {
            SFlag::S_IFDIR => {
                std::fs::create_dir(dst).map_err(|e| fail("mkdir", dst, e))?;
                self.copy(src, dst)?;
            }
            SFlag::S_IFREG => {
                std::fs::copy(src, dst).map_err(|e| fail("copy", src, e))?;
            }
            SFlag::S_IFLNK => {
                let to = std::fs::read_link(src).map_err(|e| fail("readlink", src, e))?;
                std::os::unix::fs::symlink(&to, dst).map_err(|e| fail("symlink", dst, e))?;
            }
            SFlag::S_IFIFO => nix::unistd::mkfifo(dst, mode).map_err(|e| fail("mkfifo", dst, e))?,
            // Sockets are made by their servers; device nodes were never unpacked.
            _ => return Ok(()),
        }
        std::os::unix::fs::lchown(dst, Some(m.uid()), Some(m.gid())).map_err(|e| fail("chown", dst, e))?;
        if kind != SFlag::S_IFLNK {
            // After the owner: a change of owner clears set-user-ID.
            std::fs::set_permissions(dst, std::fs::Permissions::from_mode(mode.bits()))
                .map_err(|e| fail("chmod", dst, e))?;
        }
        let (atime, mtime) = (
            nix::sys::time::TimeSpec::new(m.atime(), m.atime_nsec()),
            nix::sys::time::TimeSpec::new(m.mtime(), m.mtime_nsec()),
        );
        nix::sys::stat::utimensat(
            nix::fcntl::AT_FDCWD,
            dst,
            &atime,
            &mtime,
            nix::sys::stat::UtimensatFlags::NoFollowSymlink,
        )
        .map_err(|e| fail("set the times of", dst, e))
    }
}
