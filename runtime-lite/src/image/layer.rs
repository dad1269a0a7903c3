//! One layer applied to a root directory, as the OCI image spec says, and nothing outside it:
//! every entry's directory is looked up beneath the root (`openat2` with `RESOLVE_IN_ROOT`,
//! so an absolute symbolic link or `..` in the image stays in it), an entry named with `..`
//! or from `/` is refused, whiteouts (`.wh.NAME`, `.wh..wh..opq`) remove what lower layers
//! made, owners and modes are kept as the image has them (a user namespace maps them when the
//! container runs), and device nodes, which a user namespace cannot make, are left out and
//! said. The bytes are checked as they are read: the stored digest, then the uncompressed
//! one (`diff_id`); a mismatch fails the layer, naming it.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read};
use std::os::fd::OwnedFd;
use std::path::{Component, Path, PathBuf};

use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{FchmodatFlags, Mode, SFlag};
use nix::unistd::UnlinkatFlags;
use sha2::{Digest as _, Sha256};

use super::manifest::LayerRef;
use super::source::Source;
use super::ImageError;

/// A reader that hashes what passes through it.
struct Hashing<R> {
    inner: R,
    hash: Sha256,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
}

/// What applying a layer left out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// Entries not made, and why (device nodes).
    pub skipped: Vec<String>,
}

/// The entry's path as a relative path of normal components, or why not.
fn relative(name: &Path) -> Result<PathBuf, String> {
    let mut out = PathBuf::new();
    for c in name.components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return Err("an absolute path".into()),
            Component::ParentDir => return Err("a path with `..`".into()),
        }
    }
    Ok(out)
}

/// Apply `layer` of `src` to the directory `root`.
pub fn apply(src: &Source, layer: &LayerRef, root: &OwnedFd) -> Result<Applied, ImageError> {
    let blob = layer.member.clone();
    let raw = Hashing { inner: src.reader(&layer.member)?, hash: Sha256::new() };
    let mut buffered = BufReader::new(raw);
    let (applied, diff) = unpack(&mut buffered, &blob, root)?;
    // The rest of the blob counts for its digest.
    std::io::copy(&mut buffered, &mut std::io::sink()).map_err(|e| read_error(&blob, e))?;
    let stored = format!("sha256:{:x}", buffered.into_inner().hash.finalize());
    if let Some(want) = &layer.digest {
        if !want.eq_ignore_ascii_case(&stored) {
            return Err(ImageError::Digest { blob, expected: want.clone(), got: stored });
        }
    }
    if !layer.diff_id.eq_ignore_ascii_case(&diff) {
        return Err(ImageError::Digest {
            blob: format!("{blob} (uncompressed)"),
            expected: layer.diff_id.clone(),
            got: diff,
        });
    }
    Ok(applied)
}

/// Decompress (gzip, zstd or none, by the first bytes) and apply the tar; what was left out,
/// and the digest of the uncompressed bytes.
fn unpack(blob_bytes: &mut dyn BufRead, blob: &str, root: &OwnedFd) -> Result<(Applied, String), ImageError> {
    let head = blob_bytes.fill_buf().map_err(|e| read_error(blob, e))?.to_vec();
    let decoded: Box<dyn Read + '_> = if head.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::bufread::GzDecoder::new(blob_bytes))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        let z = ruzstd::decoding::StreamingDecoder::new(blob_bytes).map_err(|e| ImageError::Entry {
            blob: blob.to_string(),
            entry: String::new(),
            why: format!("zstd: {e}"),
        })?;
        Box::new(z)
    } else {
        Box::new(blob_bytes)
    };
    let mut tar_bytes = Hashing { inner: decoded, hash: Sha256::new() };
    let mut applied = Applied::default();
    {
        let mut archive = tar::Archive::new(&mut tar_bytes);
        let mut made: HashSet<PathBuf> = HashSet::new();
        let entries = archive.entries().map_err(|e| read_error(blob, e))?;
        for e in entries {
            let mut e = e.map_err(|err| ImageError::Entry {
                blob: blob.to_string(),
                entry: String::new(),
                why: format!("not a readable tar: {err}"),
            })?;
            let name = e.path().map(|p| p.into_owned()).unwrap_or_default();
            let shown = name.display().to_string();
            let fail = |why: String| ImageError::Entry { blob: blob.to_string(), entry: shown.clone(), why };
            let rel = relative(&name).map_err(|w| fail(format!("{w}: refused")))?;
            entry(root, &rel, &mut e, &mut made, &mut applied).map_err(fail)?;
        }
    }
    // The rest of the stream (tar padding) counts for the digest.
    std::io::copy(&mut tar_bytes, &mut std::io::sink()).map_err(|e| read_error(blob, e))?;
    Ok((applied, format!("sha256:{:x}", tar_bytes.hash.finalize())))
}

fn read_error(blob: &str, e: std::io::Error) -> ImageError {
    ImageError::Read { what: blob.to_string(), why: e.to_string() }
}

/// The directory `dir` (relative) beneath `root`, made (0755) where missing.
fn directory(root: &OwnedFd, dir: &Path) -> Result<OwnedFd, String> {
    let open = |p: &Path| {
        let p = if p.as_os_str().is_empty() { Path::new(".") } else { p };
        crate::sys::open_in_root(root, p, libc::O_PATH | libc::O_DIRECTORY)
    };
    if let Ok(fd) = open(dir) {
        return Ok(fd);
    }
    let mut at = PathBuf::new();
    for c in dir.components() {
        let next = at.join(c);
        if open(&next).is_err() {
            let parent = open(&at).map_err(|e| format!("{}: {e}", at.display()))?;
            nix::sys::stat::mkdirat(&parent, c.as_os_str(), Mode::from_bits_truncate(0o755))
                .map_err(|e| format!("make directory {}: {e}", next.display()))?;
        }
        at = next;
    }
    open(dir).map_err(|e| format!("{}: {e}", dir.display()))
}

/// What is at `name` in `dir` (not following a link), if anything.
fn kind_at(dir: &OwnedFd, name: &std::ffi::OsStr) -> Option<SFlag> {
    nix::sys::stat::fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW)
        .ok()
        .map(|s| SFlag::from_bits_truncate(s.st_mode & SFlag::S_IFMT.bits()))
}

/// Remove `name` in `dir`, a directory with all it holds (no link followed).
fn remove(dir: &OwnedFd, name: &std::ffi::OsStr) -> Result<(), String> {
    match kind_at(dir, name) {
        None => Ok(()),
        Some(SFlag::S_IFDIR) => {
            let sub = nix::fcntl::openat(
                dir,
                name,
                OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| format!("open {}: {e}", name.to_string_lossy()))?;
            clear(&sub, &HashSet::new(), Path::new(""))?;
            nix::unistd::unlinkat(dir, name, UnlinkatFlags::RemoveDir)
                .map_err(|e| format!("remove {}: {e}", name.to_string_lossy()))
        }
        Some(_) => nix::unistd::unlinkat(dir, name, UnlinkatFlags::NoRemoveDir)
            .map_err(|e| format!("remove {}: {e}", name.to_string_lossy())),
    }
}

/// Remove everything in directory `dir` (at `at`, relative) that this layer did not make.
fn clear(dir: &OwnedFd, made: &HashSet<PathBuf>, at: &Path) -> Result<(), String> {
    let d = nix::dir::Dir::openat(
        dir,
        ".",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| format!("list {}: {e}", at.display()))?;
    let names: Vec<std::ffi::OsString> = d
        .into_iter()
        .filter_map(Result::ok)
        .map(|e| std::ffi::OsStr::from_bytes(e.file_name().to_bytes()).to_os_string())
        .filter(|n| n != "." && n != "..")
        .collect();
    for n in names {
        if !made.contains(&at.join(&n)) {
            remove(dir, &n)?;
        }
    }
    Ok(())
}

use std::os::unix::ffi::OsStrExt;

/// Apply one entry at `rel`.
fn entry<R: Read>(
    root: &OwnedFd,
    rel: &Path,
    e: &mut tar::Entry<R>,
    made: &mut HashSet<PathBuf>,
    applied: &mut Applied,
) -> Result<(), String> {
    let Some(name) = rel.file_name().map(|n| n.to_os_string()) else { return Ok(()) };
    let parent_rel = rel.parent().unwrap_or(Path::new("")).to_path_buf();
    let dir = directory(root, &parent_rel)?;
    let bytes = name.as_bytes();
    if bytes == b".wh..wh..opq" {
        return clear(&dir, made, &parent_rel);
    }
    if let Some(hidden) = bytes.strip_prefix(b".wh.") {
        let hidden = std::ffi::OsStr::from_bytes(hidden);
        if kind_at(&dir, hidden).is_none() {
            return Err(format!(
                "a whiteout of {}, which no lower layer has",
                parent_rel.join(hidden).display()
            ));
        }
        if !made.contains(&parent_rel.join(hidden)) {
            remove(&dir, hidden)?;
        }
        return Ok(());
    }
    let h = e.header();
    let kind = h.entry_type();
    let mode = Mode::from_bits_truncate((h.mode().unwrap_or(0o644) & 0o7777) as libc::mode_t);
    let (uid, gid) = (h.uid().unwrap_or(0) as u32, h.gid().unwrap_or(0) as u32);
    // What is there already goes, but a directory stays for a directory.
    let existing = kind_at(&dir, &name);
    if !(kind.is_dir() && existing == Some(SFlag::S_IFDIR)) && existing.is_some() {
        remove(&dir, &name)?;
    }
    let what = rel.display();
    match kind {
        k if k.is_dir() => {
            if existing != Some(SFlag::S_IFDIR) {
                nix::sys::stat::mkdirat(&dir, name.as_os_str(), Mode::from_bits_truncate(0o700))
                    .map_err(|err| format!("make directory {what}: {err}"))?;
            }
            own(&dir, &name, uid, gid, Some(mode))?;
        }
        k if k.is_file() || k == tar::EntryType::Continuous => {
            let fd = nix::fcntl::openat(
                &dir,
                name.as_os_str(),
                OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                Mode::from_bits_truncate(0o600),
            )
            .map_err(|err| format!("make {what}: {err}"))?;
            let mut f = std::fs::File::from(fd);
            std::io::copy(e, &mut f).map_err(|err| format!("write {what}: {err}"))?;
            own(&dir, &name, uid, gid, Some(mode))?;
        }
        k if k.is_symlink() => {
            let target =
                e.link_name().map_err(|err| err.to_string())?.ok_or("a link without a target")?.into_owned();
            nix::unistd::symlinkat(target.as_os_str(), &dir, name.as_os_str())
                .map_err(|err| format!("make link {what}: {err}"))?;
            own(&dir, &name, uid, gid, None)?;
        }
        k if k.is_hard_link() => {
            let target = e
                .link_name()
                .map_err(|err| err.to_string())?
                .ok_or("a hard link without a target")?
                .into_owned();
            let t = relative(&target)
                .map_err(|w| format!("a hard link to {w} ({}): refused", target.display()))?;
            let tname = t.file_name().ok_or("a hard link to the root")?;
            let tparent = t.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
            let tdir = crate::sys::open_in_root(root, tparent, libc::O_PATH | libc::O_DIRECTORY)
                .map_err(|err| format!("the target of hard link {what}, {}: {err}", t.display()))?;
            nix::unistd::linkat(&tdir, tname, &dir, name.as_os_str(), AtFlags::empty())
                .map_err(|err| format!("make hard link {what} to {}: {err}", t.display()))?;
        }
        k if k.is_fifo() => {
            nix::sys::stat::mknodat(
                &dir,
                name.as_os_str(),
                SFlag::S_IFIFO,
                Mode::from_bits_truncate(0o600),
                0,
            )
            .map_err(|err| format!("make FIFO {what}: {err}"))?;
            own(&dir, &name, uid, gid, Some(mode))?;
        }
        k if k.is_character_special() || k.is_block_special() => {
            applied.skipped.push(format!("{what}: a device node (a user namespace cannot make one)"));
            return Ok(());
        }
        // Headers of the archive itself (pax, GNU long names) are read by the tar crate.
        tar::EntryType::XGlobalHeader
        | tar::EntryType::XHeader
        | tar::EntryType::GNULongName
        | tar::EntryType::GNULongLink => {
            return Ok(());
        }
        other => {
            applied.skipped.push(format!("{what}: an entry of type {other:?}, not made"));
            return Ok(());
        }
    }
    made.insert(rel.to_path_buf());
    Ok(())
}

/// Owner and group of `name` in `dir` as the image has them (when this process may set them),
/// then its mode (after: a change of owner clears set-user-ID).
fn own(dir: &OwnedFd, name: &std::ffi::OsStr, uid: u32, gid: u32, mode: Option<Mode>) -> Result<(), String> {
    if nix::unistd::geteuid().is_root() {
        nix::unistd::fchownat(
            dir,
            name,
            Some(nix::unistd::Uid::from_raw(uid)),
            Some(nix::unistd::Gid::from_raw(gid)),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(|e| format!("set the owner of {}: {e}", name.to_string_lossy()))?;
    }
    if let Some(m) = mode {
        nix::sys::stat::fchmodat(dir, name, m, FchmodatFlags::NoFollowSymlink)
            .or_else(|_| {
                // fchmodat without following is refused for some filesystems: the file is no
                // link (links get no mode), so following is the same.
                nix::sys::stat::fchmodat(dir, name, m, FchmodatFlags::FollowSymlink)
            })
            .map_err(|e| format!("set the mode of {}: {e}", name.to_string_lossy()))?;
    }
    Ok(())
}
