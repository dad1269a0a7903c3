//! Where `enforce` keeps its state: one runtime directory per user, private to that user.
//!
//! `$PALISADE_RUNTIME_DIR` when set; `/run/palisade` for root; for any other user
//! `$XDG_RUNTIME_DIR/palisade`, else `/run/user/UID/palisade` when that directory is the user's.
//! Never a shared directory such as `/tmp`, where other users could list, block or plant state.

use std::fs::DirBuilder;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

/// Why there is no private directory to use.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    /// A normal user without `XDG_RUNTIME_DIR` or a `/run/user/UID` of their own.
    #[error("no private runtime directory for uid {uid}: set XDG_RUNTIME_DIR (or PALISADE_RUNTIME_DIR) to a directory only you can write")]
    NoRuntimeDir {
        /// The user.
        uid: u32,
    },
    /// It cannot be created or examined.
    #[error("cannot use {}: {source}", path.display())]
    Io {
        /// The directory.
        path: PathBuf,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
    /// Others could use it too.
    #[error("{} is not private: {why}", path.display())]
    NotPrivate {
        /// The directory.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
}

/// This user's runtime directory (not created).
pub fn runtime_dir() -> Result<PathBuf, PathError> {
    if let Some(d) = std::env::var_os("PALISADE_RUNTIME_DIR") {
        return Ok(PathBuf::from(d));
    }
    let uid = nix::unistd::geteuid().as_raw();
    if uid == 0 {
        return Ok(PathBuf::from("/run/palisade"));
    }
    if let Some(d) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(d).join("palisade"));
    }
    let run_user = PathBuf::from(format!("/run/user/{uid}"));
    match std::fs::symlink_metadata(&run_user) {
        Ok(m) if m.is_dir() && m.uid() == uid && m.mode() & 0o077 == 0 => Ok(run_user.join("palisade")),
        _ => Err(PathError::NoRuntimeDir { uid }),
    }
}

/// What to do with a directory of this user that others can enter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TooOpen {
    /// Refuse it (what it holds may have been planted: the compile cache).
    Refuse,
    /// Make it private (it holds nothing trusted without its own checks: container state).
    Tighten,
}

/// Make `dir` (mode 0700 when missing, and its missing parents too) and check that it is a
/// directory of this user that nobody else can enter, without following a symlink.
pub fn private_dir(dir: &Path, too_open: TooOpen) -> Result<(), PathError> {
    let io = |source| PathError::Io { path: dir.to_path_buf(), source };
    if let Some(parent) = dir.parent() {
        DirBuilder::new().recursive(true).mode(0o700).create(parent).map_err(io)?;
    }
    match DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io(e)),
    }
    let meta = std::fs::symlink_metadata(dir).map_err(io)?;
    let not_private = |why: String| PathError::NotPrivate { path: dir.to_path_buf(), why };
    let euid = nix::unistd::geteuid().as_raw();
    if !meta.is_dir() {
        return Err(not_private("not a directory (symlinks are not followed)".into()));
    }
    if meta.uid() != euid {
        return Err(not_private(format!("owned by uid {}, not {euid}", meta.uid())));
    }
    if meta.mode() & 0o077 != 0 {
        if too_open == TooOpen::Tighten {
            use std::os::unix::fs::PermissionsExt;
            return std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io);
        }
        return Err(not_private(format!("mode {:o} lets others in (want 0700)", meta.mode() & 0o777)));
    }
    Ok(())
}
