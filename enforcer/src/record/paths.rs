//! Landlock filesystem learning: the paths a notified call touches, resolved as the caller
//! sees them (its working directory, its `dirfd`, symbolic links, `/proc/self`), and the right
//! each needs (`read_file`, `write_file`, `execute`, `read_dir`, `make_reg`, `remove_file`, ...).
//!
//! The path is read from the caller's memory while the call waits; the call then runs. It is a
//! recording, not an enforcement, so a change between the look and the call does not matter.
//! A path that does not exist and is not being made needs no right (the call fails with
//! `ENOENT` before Landlock is asked), so it is not noted. Rights to make, remove or rename an
//! entry are the parent directory's; a file made by the run is noted at its parent too (at
//! replay it does not exist yet).

use std::path::{Path, PathBuf};

use policy::vocab::{FsAccess, FsRight};

use crate::sys::notify::{self, Notification};

/// One path a call touches and the rights it needs there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Touch {
    /// Absolute, symbolic links resolved; everything under `/proc` is `/proc`.
    pub path: String,
    /// The rights the call needs on it.
    pub access: FsAccess,
}

/// A call that executes a file: the file, and whether it is set-user-ID or set-group-ID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exec {
    /// The executable, resolved.
    pub path: String,
    /// It has the set-user-ID or set-group-ID bit.
    pub setid: bool,
}

const AT_FDCWD: i32 = -100;

/// The calls whose paths [`touches`] reads (and `bind`/`connect`, whose ports Landlock checks):
/// those `enforce run --explain` looks at for Landlock.
pub const CALLS: [&str; 25] = [
    "open",
    "creat",
    "openat",
    "openat2",
    "execve",
    "execveat",
    "mkdir",
    "mkdirat",
    "mknod",
    "mknodat",
    "symlink",
    "symlinkat",
    "unlink",
    "rmdir",
    "unlinkat",
    "rename",
    "renameat",
    "renameat2",
    "link",
    "linkat",
    "truncate",
    "ftruncate",
    "bind",
    "connect",
    "truncate64",
];

fn one(rights: &[FsRight]) -> FsAccess {
    rights.iter().copied().collect()
}

/// The paths call `name` of notification `n` touches, with their rights; and the file it
/// executes, if it is an `execve`.
pub fn touches(n: &Notification, name: &str) -> (Vec<Touch>, Option<Exec>) {
    let a = n.args;
    let fd = |i: usize| a[i] as i32;
    let mut out = Vec::new();
    let mut exec = None;
    match name {
        "open" => open(n, AT_FDCWD, a[0], a[1], &mut out),
        "creat" => open(n, AT_FDCWD, a[0], (libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC) as u64, &mut out),
        "openat" => open(n, fd(0), a[1], a[2], &mut out),
        "openat2" => {
            // struct open_how starts with the u64 flags.
            let how = notify::read_memory(n.pid, a[2], 8).ok().and_then(|b| <[u8; 8]>::try_from(b).ok());
            if let Some(how) = how {
                open(n, fd(0), a[1], u64::from_ne_bytes(how), &mut out);
            }
        }
        "execve" => exec = executes(n, AT_FDCWD, a[0], 0, &mut out),
        "execveat" => exec = executes(n, fd(0), a[1], a[4], &mut out),
        "mkdir" => make(n, AT_FDCWD, a[0], FsRight::MAKE_DIR, &mut out),
        "mkdirat" => make(n, fd(0), a[1], FsRight::MAKE_DIR, &mut out),
        "mknod" => make(n, AT_FDCWD, a[0], node_right(a[1]), &mut out),
        "mknodat" => make(n, fd(0), a[1], node_right(a[2]), &mut out),
        "symlink" => make(n, AT_FDCWD, a[1], FsRight::MAKE_SYM, &mut out),
        "symlinkat" => make(n, fd(1), a[2], FsRight::MAKE_SYM, &mut out),
        "unlink" => remove(n, AT_FDCWD, a[0], false, &mut out),
        "rmdir" => remove(n, AT_FDCWD, a[0], true, &mut out),
        "unlinkat" => remove(n, fd(0), a[1], a[2] & libc::AT_REMOVEDIR as u64 != 0, &mut out),
        "rename" => rename(n, (AT_FDCWD, a[0]), (AT_FDCWD, a[1]), 0, &mut out),
        "renameat" => rename(n, (fd(0), a[1]), (fd(2), a[3]), 0, &mut out),
        "renameat2" => rename(n, (fd(0), a[1]), (fd(2), a[3]), a[4], &mut out),
        "link" => link(n, (AT_FDCWD, a[0]), (AT_FDCWD, a[1]), &mut out),
        "linkat" => link(n, (fd(0), a[1]), (fd(2), a[3]), &mut out),
        "truncate" | "truncate64" => {
            if let Some(Found::Exists(p)) = lookup(n, AT_FDCWD, a[0], true) {
                out.push(Touch { path: shown(&p), access: one(&[FsRight::TRUNCATE]) });
            }
        }
        // Landlock checks truncation of an open file against the rights it was opened with.
        "ftruncate" | "ftruncate64" => {
            if let Some(p) = fd_path(n.pid, fd(0)).filter(|p| is_file(p)) {
                out.push(Touch { path: shown(&p), access: one(&[FsRight::TRUNCATE]) });
            }
        }
        "ioctl" => {
            if let Some(p) = fd_path(n.pid, fd(0)).filter(|p| is_device(p)) {
                out.push(Touch { path: shown(&p), access: one(&[FsRight::IOCTL_DEV]) });
            }
        }
        "bind" => {
            if let Some(p) = unix_path(n) {
                make(n, AT_FDCWD, p, FsRight::MAKE_SOCK, &mut out);
            }
        }
        _ => {}
    }
    (out, exec)
}

/// What a path names when the call is made.
enum Found {
    /// An existing file or directory (resolved).
    Exists(PathBuf),
    /// Nothing yet: the resolved directory it would be made in.
    Missing {
        /// The resolved parent.
        parent: PathBuf,
    },
}

/// Read the path argument at `addr` and resolve it against `dirfd` (`AT_FDCWD`: the caller's
/// working directory). `follow`: resolve a symbolic link in the last component.
fn lookup(n: &Notification, dirfd: i32, addr: u64, follow: bool) -> Option<Found> {
    let raw = notify::read_cstring(n.pid, addr, libc::PATH_MAX as usize)?;
    let text = String::from_utf8(raw).ok()?;
    let base = |d: i32| -> Option<PathBuf> {
        match d {
            AT_FDCWD => std::fs::read_link(format!("/proc/{}/cwd", n.pid)).ok(),
            d => fd_path(n.pid, d),
        }
    };
    let joined = if text.starts_with('/') {
        PathBuf::from(&text)
    } else if text.is_empty() {
        // AT_EMPTY_PATH: the descriptor itself.
        return base(dirfd).filter(|p| p.exists()).map(Found::Exists);
    } else {
        base(dirfd)?.join(&text)
    };
    let joined = in_callers_view(n.pid, &joined);
    let last = joined.file_name().map(std::ffi::OsStr::to_os_string);
    let (Some(last), true) = (last, !text.ends_with('/')) else {
        // `..`, `.` or a trailing slash: it must exist.
        return std::fs::canonicalize(&joined).ok().map(Found::Exists);
    };
    let parent = std::fs::canonicalize(joined.parent()?).ok()?;
    let full = parent.join(&last);
    match std::fs::symlink_metadata(&full) {
        Ok(m) if follow && m.file_type().is_symlink() => match std::fs::canonicalize(&full) {
            Ok(p) => Some(Found::Exists(p)),
            // A dangling link: made, if at all, where it points (not followed further).
            Err(_) => Some(Found::Missing { parent }),
        },
        Ok(_) => Some(Found::Exists(full)),
        Err(_) => Some(Found::Missing { parent }),
    }
}

/// `/proc/self`, `/proc/thread-self` and `/dev/fd`, `/dev/std*` as the caller means them (the
/// recorder resolving them would see its own).
fn in_callers_view(pid: u32, path: &Path) -> PathBuf {
    let s = path.to_string_lossy();
    let proc = format!("/proc/{pid}");
    for (from, to) in [
        ("/proc/self", proc.clone()),
        ("/proc/thread-self", proc.clone()),
        ("/dev/fd", format!("{proc}/fd")),
        ("/dev/stdin", format!("{proc}/fd/0")),
        ("/dev/stdout", format!("{proc}/fd/1")),
        ("/dev/stderr", format!("{proc}/fd/2")),
    ] {
        if let Some(rest) = s.strip_prefix(from) {
            if rest.is_empty() || rest.starts_with('/') {
                return PathBuf::from(format!("{to}{rest}"));
            }
        }
    }
    path.to_path_buf()
}

/// A resolved path as the profile writes it: everything under `/proc` is `/proc` (process
/// numbers differ from run to run).
fn shown(p: &Path) -> String {
    let s = p.to_string_lossy();
    if s == "/proc" || s.starts_with("/proc/") {
        return "/proc".into();
    }
    s.into_owned()
}

/// The file descriptor `fd` of `pid` names (`None`: a pipe, socket, deleted file...).
fn fd_path(pid: u32, fd: i32) -> Option<PathBuf> {
    if fd < 0 {
        return None;
    }
    let p = std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).ok()?;
    (p.is_absolute() && !p.to_string_lossy().ends_with(" (deleted)")).then_some(p)
}

fn is_file(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_file())
}

fn is_device(p: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::metadata(p).is_ok_and(|m| m.file_type().is_char_device() || m.file_type().is_block_device())
}

/// `open`/`openat`/`openat2`/`creat` with `flags`.
fn open(n: &Notification, dirfd: i32, addr: u64, flags: u64, out: &mut Vec<Touch>) {
    let flags = flags as i32;
    if flags & libc::O_PATH != 0 {
        return; // Landlock does not check O_PATH opens.
    }
    let follow = flags & libc::O_NOFOLLOW == 0;
    let mode = flags & libc::O_ACCMODE;
    let mut access = FsAccess::EMPTY;
    if mode == libc::O_RDONLY || mode == libc::O_RDWR {
        access.insert(FsRight::READ_FILE);
    }
    if mode == libc::O_WRONLY || mode == libc::O_RDWR {
        access.insert(FsRight::WRITE_FILE);
    }
    match lookup(n, dirfd, addr, follow) {
        Some(Found::Exists(p)) => {
            if std::fs::metadata(&p).is_ok_and(|m| m.is_dir()) {
                out.push(Touch { path: shown(&p), access: one(&[FsRight::READ_DIR]) });
                return;
            }
            if flags & libc::O_TRUNC != 0 && access.contains(FsRight::WRITE_FILE) {
                access.insert(FsRight::TRUNCATE);
            }
            out.push(Touch { path: shown(&p), access });
        }
        Some(Found::Missing { parent }) if flags & libc::O_CREAT != 0 => {
            // Made here: the directory's right to make it, and what it is opened for (the
            // new file is beneath the directory).
            if flags & libc::O_TRUNC != 0 {
                access.insert(FsRight::TRUNCATE);
            }
            access.insert(FsRight::MAKE_REG);
            out.push(Touch { path: shown(&parent), access });
        }
        _ => {}
    }
}

/// `execve`/`execveat`: `execute` on the file, on its ELF interpreter and on a script's
/// interpreter (the kernel opens both for execution).
fn executes(n: &Notification, dirfd: i32, addr: u64, flags: u64, out: &mut Vec<Touch>) -> Option<Exec> {
    let follow = flags & libc::AT_SYMLINK_NOFOLLOW as u64 == 0;
    let Some(Found::Exists(p)) = lookup(n, dirfd, addr, follow) else { return None };
    let meta = std::fs::metadata(&p).ok()?;
    out.push(Touch { path: shown(&p), access: one(&[FsRight::EXECUTE]) });
    if let Some(interp) = interpreter(&p) {
        if let Ok(i) = std::fs::canonicalize(&interp) {
            out.push(Touch { path: shown(&i), access: one(&[FsRight::EXECUTE]) });
            // A script's interpreter may itself be a dynamic executable.
            if let Some(ld) = interpreter(&i).and_then(|l| std::fs::canonicalize(l).ok()) {
                out.push(Touch { path: shown(&ld), access: one(&[FsRight::EXECUTE]) });
            }
        }
    }
    use std::os::unix::fs::PermissionsExt;
    let setid = meta.permissions().mode() & (libc::S_ISUID | libc::S_ISGID) != 0;
    Some(Exec { path: shown(&p), setid })
}

/// The program an executable asks the kernel to run it with: `#!` line, or ELF `PT_INTERP`.
fn interpreter(file: &Path) -> Option<PathBuf> {
    use std::io::Read;
    let mut head = Vec::new();
    std::fs::File::open(file).ok()?.take(64 * 1024).read_to_end(&mut head).ok()?;
    if let Some(line) = head.strip_prefix(b"#!") {
        let line = line.split(|b| *b == b'\n').next()?;
        let text = std::str::from_utf8(line).ok()?.trim_start();
        let prog = text.split([' ', '\t']).next()?;
        return prog.starts_with('/').then(|| PathBuf::from(prog));
    }
    elf_interpreter(&head)
}

/// `PT_INTERP` of an ELF file whose first bytes are `head` (in the first 64 KiB, as always).
fn elf_interpreter(head: &[u8]) -> Option<PathBuf> {
    use object::read::elf::{FileHeader, ProgramHeader};
    use object::{elf, Endianness};
    fn interp<H: FileHeader<Endian = Endianness>>(head: &[u8]) -> Option<PathBuf> {
        let h = H::parse(head).ok()?;
        let e = h.endian().ok()?;
        for ph in h.program_headers(e, head).ok()? {
            if ph.p_type(e) == elf::PT_INTERP {
                let data = ph.data(e, head).ok()?;
                let end = data.iter().position(|b| *b == 0).unwrap_or(data.len());
                return Some(PathBuf::from(std::str::from_utf8(&data[..end]).ok()?));
            }
        }
        None
    }
    match head.get(4)? {
        1 => interp::<elf::FileHeader32<Endianness>>(head),
        2 => interp::<elf::FileHeader64<Endianness>>(head),
        _ => None,
    }
}

/// The right to make a node of `mode`'s type.
fn node_right(mode: u64) -> FsRight {
    match mode as u32 & libc::S_IFMT {
        libc::S_IFCHR => FsRight::MAKE_CHAR,
        libc::S_IFBLK => FsRight::MAKE_BLOCK,
        libc::S_IFIFO => FsRight::MAKE_FIFO,
        libc::S_IFSOCK => FsRight::MAKE_SOCK,
        _ => FsRight::MAKE_REG,
    }
}

/// The right to make (`make_*`) or remove (`remove_*`) an entry like `p` (by its type).
fn kind_right(p: &Path, make: bool) -> FsRight {
    use std::os::unix::fs::FileTypeExt;
    let Ok(m) = std::fs::symlink_metadata(p) else {
        return if make { FsRight::MAKE_REG } else { FsRight::REMOVE_FILE };
    };
    let t = m.file_type();
    match (make, t.is_dir()) {
        (false, true) => FsRight::REMOVE_DIR,
        (false, false) => FsRight::REMOVE_FILE,
        (true, true) => FsRight::MAKE_DIR,
        (true, false) if t.is_symlink() => FsRight::MAKE_SYM,
        (true, false) if t.is_char_device() => FsRight::MAKE_CHAR,
        (true, false) if t.is_block_device() => FsRight::MAKE_BLOCK,
        (true, false) if t.is_fifo() => FsRight::MAKE_FIFO,
        (true, false) if t.is_socket() => FsRight::MAKE_SOCK,
        (true, false) => FsRight::MAKE_REG,
    }
}

/// An entry made at the path: `right` on its directory (nothing when it exists already: the
/// call fails with `EEXIST`).
fn make(n: &Notification, dirfd: i32, addr: u64, right: FsRight, out: &mut Vec<Touch>) {
    if let Some(Found::Missing { parent }) = lookup(n, dirfd, addr, false) {
        out.push(Touch { path: shown(&parent), access: one(&[right]) });
    }
}

/// An entry removed: `remove_dir` or `remove_file` on its directory.
fn remove(n: &Notification, dirfd: i32, addr: u64, dir: bool, out: &mut Vec<Touch>) {
    if let Some(Found::Exists(p)) = lookup(n, dirfd, addr, false) {
        let right = if dir { FsRight::REMOVE_DIR } else { FsRight::REMOVE_FILE };
        if let Some(parent) = p.parent() {
            out.push(Touch { path: shown(parent), access: one(&[right]) });
        }
    }
}

/// `rename*`: removing the entry from its directory and making it in the other (both ways for
/// `RENAME_EXCHANGE`; replacing an entry removes it); `refer` on both when they differ.
fn rename(n: &Notification, from: (i32, u64), to: (i32, u64), flags: u64, out: &mut Vec<Touch>) {
    let Some(Found::Exists(src)) = lookup(n, from.0, from.1, false) else { return };
    let Some(dst) = lookup(n, to.0, to.1, false) else { return };
    let Some(src_dir) = src.parent().map(shown) else { return };
    let (dst_dir, replaced) = match &dst {
        Found::Exists(p) => (p.parent().map(shown), Some(p.clone())),
        Found::Missing { parent } => (Some(shown(parent)), None),
    };
    let Some(dst_dir) = dst_dir else { return };
    let exchange = flags & libc::RENAME_EXCHANGE as u64 != 0;
    let mut at_src = one(&[kind_right(&src, false)]);
    let mut at_dst = one(&[kind_right(&src, true)]);
    if let Some(r) = &replaced {
        at_dst.insert(kind_right(r, false));
        if exchange {
            at_src |= one(&[kind_right(r, true)]);
            at_dst.insert(kind_right(&src, false));
            at_src.insert(kind_right(&src, true));
        }
    }
    if src_dir != dst_dir {
        at_src.insert(FsRight::REFER);
        at_dst.insert(FsRight::REFER);
    }
    out.push(Touch { path: src_dir, access: at_src });
    out.push(Touch { path: dst_dir, access: at_dst });
}

/// `link*`: making an entry like the source in the new directory; `refer` when the directories
/// differ.
fn link(n: &Notification, from: (i32, u64), to: (i32, u64), out: &mut Vec<Touch>) {
    let Some(Found::Exists(src)) = lookup(n, from.0, from.1, false) else { return };
    let Some(Found::Missing { parent }) = lookup(n, to.0, to.1, false) else { return };
    let parent = shown(&parent);
    let mut at_dst = one(&[kind_right(&src, true)]);
    if let Some(src_dir) = src.parent().map(shown).filter(|d| *d != parent) {
        at_dst.insert(FsRight::REFER);
        out.push(Touch { path: src_dir, access: one(&[FsRight::REFER]) });
    }
    out.push(Touch { path: parent, access: at_dst });
}

/// The address of a `bind` to a named `AF_UNIX` socket: the path's address in the caller
/// (`sun_path` follows the two-byte family; an abstract name starts with a NUL and is skipped).
fn unix_path(n: &Notification) -> Option<u64> {
    let len = usize::try_from(n.args[2]).ok()?.min(110);
    let addr = notify::read_memory(n.pid, n.args[1], len).ok()?;
    let family = u16::from_ne_bytes([*addr.first()?, *addr.get(1)?]);
    (family == libc::AF_UNIX as u16 && addr.get(2).is_some_and(|b| *b != 0)).then(|| n.args[1] + 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_elf_interpreter_of_this_test_binary_is_found_and_a_script_names_its_own() {
        let me = std::env::current_exe().unwrap();
        // Rust test binaries are dynamic executables on glibc hosts.
        let ld = interpreter(&me).expect("a PT_INTERP");
        assert!(ld.to_string_lossy().contains("ld-linux"), "{}", ld.display());
        let dir = std::env::temp_dir().join(format!("palisade-interp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let script = dir.join("s");
        std::fs::write(&script, "#!/bin/sh -e\necho hi\n").unwrap();
        assert_eq!(interpreter(&script), Some(PathBuf::from("/bin/sh")));
        std::fs::write(&script, "plain text").unwrap();
        assert_eq!(interpreter(&script), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn proc_self_and_dev_fd_are_the_callers_and_proc_is_shown_whole() {
        assert_eq!(in_callers_view(42, Path::new("/proc/self/status")), PathBuf::from("/proc/42/status"));
        assert_eq!(in_callers_view(42, Path::new("/dev/stdout")), PathBuf::from("/proc/42/fd/1"));
        assert_eq!(in_callers_view(42, Path::new("/dev/fdx")), PathBuf::from("/dev/fdx"));
        assert_eq!(shown(Path::new("/proc/42/status")), "/proc");
        assert_eq!(shown(Path::new("/process")), "/process");
    }
}
