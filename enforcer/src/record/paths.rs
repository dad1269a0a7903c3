//! Landlock filesystem learning: the paths a notified call touches, resolved as the caller
//! sees them (its working directory, its `dirfd`, symbolic links, `/proc/self`), and the right
//! each needs (`read_file`, `write_file`, `execute`, `read_dir`, `make_reg`, `remove_file`, ...).
//!
//! The path is read from the caller's memory while the call waits; the call then runs. It is a
//! recording, not an enforcement, so a change between the look and the call does not matter.
//! Paths are resolved through the caller's own root (`/proc/TID/root`, `openat2` with
//! `RESOLVE_IN_ROOT`): in a container, an absolute symbolic link or `..` stays inside it, and
//! the paths learned are the container's.
//! A path that does not exist and is not being made needs no right (the call fails with
//! `ENOENT` before Landlock is asked), so it is not noted. Rights to make, remove or rename an
//! entry are the parent directory's; a file made by the run is noted at its parent too (at
//! replay it does not exist yet).

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use policy::vocab::{FsAccess, FsRight};

use super::root::Root;
use crate::sys::notify::{self, Notification};

/// One path a call touches and the rights it needs there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Touch {
    /// Absolute, symbolic links resolved; everything under `/proc` is `/proc`.
    pub path: String,
    /// The rights the call needs on it.
    pub access: FsAccess,
    /// Whether it is a directory.
    pub dir: bool,
    /// Its owner, group and mode (for the capabilities the mode bits call for).
    pub stat: Option<(u32, u32, u32)>,
}

impl Touch {
    fn at(path: &Path, access: FsAccess, meta: Option<&std::fs::Metadata>) -> Touch {
        use std::os::unix::fs::MetadataExt;
        Touch {
            path: shown(path),
            access,
            dir: meta.is_some_and(std::fs::Metadata::is_dir),
            stat: meta.map(|m| (m.uid(), m.gid(), m.mode())),
        }
    }
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
pub const CALLS: [&str; 26] = [
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
    "truncate64",
    "ftruncate",
    "ftruncate64",
    "bind",
    "connect",
];

fn one(rights: &[FsRight]) -> FsAccess {
    rights.iter().copied().collect()
}

/// What one call touches.
#[derive(Debug, Default)]
pub struct Touched {
    /// The paths, with their rights.
    pub touches: Vec<Touch>,
    /// The file it executes, for an `execve`.
    pub exec: Option<Exec>,
    /// Its path could not be read (the caller's memory or root out of reach).
    pub unread: bool,
    /// The entries it makes (their rights are their directory's: at replay they are not
    /// there yet).
    pub made: Vec<String>,
}

/// The paths call `name` of notification `n` touches, with their rights; and the file it
/// executes, if it is an `execve`.
pub fn touches(n: &Notification, name: &str) -> Touched {
    let mut out = Vec::new();
    if !CALLS.contains(&name) && name != "ioctl" {
        return Touched::default();
    }
    let Some(root) = Root::of(n.pid) else { return Touched { unread: true, ..Touched::default() } };
    let c = Call { n, root: &root, unread: std::cell::Cell::new(false), made: Default::default() };
    let a = n.args;
    let fd = |i: usize| a[i] as i32;
    let mut exec = None;
    match name {
        "open" => c.open(AT_FDCWD, a[0], a[1], &mut out),
        "creat" => c.open(AT_FDCWD, a[0], (libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC) as u64, &mut out),
        "openat" => c.open(fd(0), a[1], a[2], &mut out),
        "openat2" => {
            // struct open_how starts with the u64 flags.
            let how = notify::read_memory(n.pid, a[2], 8).ok().and_then(|b| <[u8; 8]>::try_from(b).ok());
            if let Some(how) = how {
                c.open(fd(0), a[1], u64::from_ne_bytes(how), &mut out);
            }
        }
        "execve" => exec = c.executes(AT_FDCWD, a[0], 0, &mut out),
        "execveat" => exec = c.executes(fd(0), a[1], a[4], &mut out),
        "mkdir" => c.make(AT_FDCWD, a[0], FsRight::MAKE_DIR, &mut out),
        "mkdirat" => c.make(fd(0), a[1], FsRight::MAKE_DIR, &mut out),
        "mknod" => c.make(AT_FDCWD, a[0], node_right(a[1]), &mut out),
        "mknodat" => c.make(fd(0), a[1], node_right(a[2]), &mut out),
        "symlink" => c.make(AT_FDCWD, a[1], FsRight::MAKE_SYM, &mut out),
        "symlinkat" => c.make(fd(1), a[2], FsRight::MAKE_SYM, &mut out),
        "unlink" => c.remove(AT_FDCWD, a[0], false, &mut out),
        "rmdir" => c.remove(AT_FDCWD, a[0], true, &mut out),
        "unlinkat" => c.remove(fd(0), a[1], a[2] & libc::AT_REMOVEDIR as u64 != 0, &mut out),
        "rename" => c.rename((AT_FDCWD, a[0]), (AT_FDCWD, a[1]), 0, &mut out),
        "renameat" => c.rename((fd(0), a[1]), (fd(2), a[3]), 0, &mut out),
        "renameat2" => c.rename((fd(0), a[1]), (fd(2), a[3]), a[4], &mut out),
        "link" => c.link((AT_FDCWD, a[0]), (AT_FDCWD, a[1]), false, &mut out),
        "linkat" => {
            c.link((fd(0), a[1]), (fd(2), a[3]), a[4] & libc::AT_SYMLINK_FOLLOW as u64 != 0, &mut out)
        }
        "truncate" | "truncate64" => {
            if let Some(Found::Exists(p, m)) = c.lookup(AT_FDCWD, a[0], true) {
                out.push(Touch::at(&p, one(&[FsRight::TRUNCATE]), Some(&m)));
            }
        }
        // Landlock checks truncation of an open file against the rights it was opened with.
        "ftruncate" | "ftruncate64" => {
            if let Some((p, m)) = c.descriptor(fd(0)).filter(|(_, m)| m.is_file()) {
                out.push(Touch::at(&p, one(&[FsRight::TRUNCATE]), Some(&m)));
            }
        }
        "ioctl" => {
            use std::os::unix::fs::FileTypeExt;
            let device =
                |m: &std::fs::Metadata| m.file_type().is_char_device() || m.file_type().is_block_device();
            // Requests Landlock always allows: FIONBIO, FIONCLEX, FIOCLEX, FIOASYNC, FIOQSIZE.
            let always = matches!(a[1] as u32, 0x5421 | 0x5450 | 0x5451 | 0x5452 | 0x5460);
            if let Some((p, m)) = c.descriptor(fd(0)).filter(|(_, m)| device(m) && !always) {
                out.push(Touch::at(&p, one(&[FsRight::IOCTL_DEV]), Some(&m)));
            }
        }
        "bind" => {
            if let Some(p) = unix_path(n) {
                c.make(AT_FDCWD, p, FsRight::MAKE_SOCK, &mut out);
            }
        }
        _ => {}
    }
    Touched { touches: out, exec, unread: c.unread.get(), made: c.made.take() }
}

/// What a path names when the call is made.
enum Found {
    /// An existing file or directory: resolved, and what it is.
    Exists(PathBuf, std::fs::Metadata),
    /// Nothing yet: the resolved directory it would be made in, what that is, and the path it
    /// would have.
    Missing(PathBuf, std::fs::Metadata, PathBuf),
}

/// One notified call and the root its paths are resolved beneath.
struct Call<'a> {
    n: &'a Notification,
    root: &'a Root,
    /// A path argument could not be read.
    unread: std::cell::Cell<bool>,
    /// Entries the call makes.
    made: std::cell::RefCell<Vec<String>>,
}

impl Call<'_> {
    /// Note that the call makes `full`.
    fn made(&self, full: &Path) {
        self.made.borrow_mut().push(shown(full));
    }

    /// Where descriptor `fd` of the caller points, as it names it (`AT_FDCWD`: its working
    /// directory); `None` for a pipe, socket, deleted file...
    fn base(&self, fd: i32) -> Option<PathBuf> {
        let link = match fd {
            AT_FDCWD => format!("/proc/{}/cwd", self.n.pid),
            fd if fd >= 0 => format!("/proc/{}/fd/{fd}", self.n.pid),
            _ => return None,
        };
        let p = std::fs::read_link(link).ok()?;
        (p.is_absolute() && !p.to_string_lossy().ends_with(" (deleted)")).then_some(p)
    }

    /// The file descriptor `fd` names, resolved, and what it is.
    fn descriptor(&self, fd: i32) -> Option<(PathBuf, std::fs::Metadata)> {
        self.root.resolve(&self.base(fd)?, true)
    }

    /// Read the path argument at `addr` and resolve it against `dirfd` (`AT_FDCWD`: the
    /// caller's working directory). `follow`: resolve a symbolic link in the last component.
    fn lookup(&self, dirfd: i32, addr: u64, follow: bool) -> Option<Found> {
        let Some(raw) = notify::read_cstring(self.n.pid, addr, libc::PATH_MAX as usize) else {
            self.unread.set(true);
            return None;
        };
        let text = String::from_utf8(raw).ok()?;
        let joined = if text.starts_with('/') {
            PathBuf::from(&text)
        } else if text.is_empty() {
            // AT_EMPTY_PATH: the descriptor itself.
            let (p, m) = self.descriptor(dirfd)?;
            return Some(Found::Exists(p, m));
        } else {
            self.base(dirfd)?.join(&text)
        };
        self.find(&joined, follow)
    }

    /// What the absolute path `joined` (as the caller names it) is, or where it would be made.
    fn find(&self, joined: &Path, follow: bool) -> Option<Found> {
        if let Some(found) = self.in_proc(joined) {
            return found;
        }
        // A trailing slash names the last component too (`mkdir("d/")` makes `d`).
        let Some(last) = joined.file_name().map(std::ffi::OsStr::to_os_string) else {
            // `..` or `.`: it must exist.
            let (p, m) = self.root.resolve(joined, true)?;
            return Some(Found::Exists(p, m));
        };
        let (parent, pm) = self.root.resolve(joined.parent()?, true)?;
        let full = parent.join(&last);
        match self.root.resolve(&full, false) {
            Some((_, m)) if follow && m.file_type().is_symlink() => match self.root.resolve(&full, true) {
                Some((p, m)) => Some(Found::Exists(p, m)),
                // A dangling link: made, if at all, where it points.
                None => self.dangling(&full, &parent).or(Some(Found::Missing(parent, pm, full))),
            },
            Some((p, m)) => Some(Found::Exists(p, m)),
            None => Some(Found::Missing(parent, pm, full)),
        }
    }

    /// Where a file made through the dangling symbolic link `link` (in directory `dir`) is made.
    fn dangling(&self, link: &Path, dir: &Path) -> Option<Found> {
        let fd = self.root.open(link, false, libc::O_PATH)?;
        let mut buf = vec![0u8; libc::PATH_MAX as usize];
        // SAFETY: readlinkat on an O_PATH descriptor of a link with an empty path reads the
        // link's target into `buf` (at most its length) and returns how much it wrote.
        let n = unsafe { libc::readlinkat(fd.as_raw_fd(), c"".as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
        buf.truncate(usize::try_from(n).ok()?);
        use std::os::unix::ffi::OsStringExt;
        let target = dir.join(PathBuf::from(std::ffi::OsString::from_vec(buf)));
        let (parent, m) = self.root.resolve(target.parent()?, true)?;
        let full = parent.join(target.file_name()?);
        Some(Found::Missing(parent, m, full))
    }

    /// A path in `/proc` (or `/dev/fd`, `/dev/std*`, which lead there), looked up in the
    /// caller's view: `/proc/self` is the caller's, and an open descriptor's link is followed
    /// to what it names. `None`: not such a path.
    fn in_proc(&self, path: &Path) -> Option<Option<Found>> {
        let pid = self.n.pid;
        let mine = callers_view(pid, path);
        let s = mine.to_string_lossy();
        if !(s == "/proc" || s.starts_with("/proc/")) {
            return None;
        }
        // A magic link of the caller's (`exe`, `cwd`, `root`, `fd/N`) leads to what it names,
        // which Landlock checks: followed, as the caller names it, beneath its root.
        let own = format!("/proc/{pid}/");
        if let Some(rest) = s.strip_prefix(&own) {
            let mut parts = rest.splitn(2, '/');
            let (first, more) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            let (link, more) = match first {
                "exe" | "cwd" | "root" => (first.to_string(), more),
                "fd" => {
                    let mut p = more.splitn(2, '/');
                    let n = p.next().unwrap_or("");
                    (format!("fd/{n}"), p.next().unwrap_or(""))
                }
                _ => (String::new(), ""),
            };
            if !link.is_empty() && (link != "fd/" && !link.ends_with('/')) {
                let target = std::fs::read_link(format!("{own}{link}")).ok().filter(|t| t.is_absolute());
                let Some(target) = target else { return Some(None) };
                let whole = if more.is_empty() { target } else { target.join(more) };
                // The target is not beneath /proc (else it is taken as it is).
                if !whole.starts_with("/proc") {
                    return Some(self.find(&whole, true));
                }
            }
        }
        // The caller's own entries, by its number in this process's view; others as it sees
        // them.
        let host = std::fs::metadata(&*mine).ok().filter(|_| s.starts_with(&format!("/proc/{pid}")));
        let meta = host.or_else(|| self.root.resolve(path, true).map(|(_, m)| m));
        Some(meta.map(|m| Found::Exists(PathBuf::from("/proc"), m)))
    }

    /// `open`/`openat`/`openat2`/`creat` with `flags`.
    fn open(&self, dirfd: i32, addr: u64, flags: u64, out: &mut Vec<Touch>) {
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
        match self.lookup(dirfd, addr, follow) {
            // O_TMPFILE: an unnamed file beneath the directory, opened for what it asks.
            Some(Found::Exists(p, m)) if flags & libc::O_TMPFILE == libc::O_TMPFILE => {
                out.push(Touch::at(&p, access, Some(&m)));
            }
            Some(Found::Exists(p, m)) => {
                if m.is_dir() {
                    out.push(Touch::at(&p, one(&[FsRight::READ_DIR]), Some(&m)));
                    return;
                }
                if flags & libc::O_TRUNC != 0 {
                    access.insert(FsRight::TRUNCATE);
                }
                out.push(Touch::at(&p, access, Some(&m)));
            }
            Some(Found::Missing(parent, m, full)) if flags & libc::O_CREAT != 0 => {
                self.made(&full);
                // Made here: the directory's right to make it, and what it is opened for (the
                // new file is beneath the directory).
                if flags & libc::O_TRUNC != 0 {
                    access.insert(FsRight::TRUNCATE);
                }
                access.insert(FsRight::MAKE_REG);
                out.push(Touch::at(&parent, access, Some(&m)));
            }
            _ => {}
        }
    }

    /// `execve`/`execveat`: `execute` on the file, on its ELF interpreter and on a script's
    /// interpreter (the kernel opens both for execution, and for reading: Landlock asks for
    /// `read_file` too).
    fn executes(&self, dirfd: i32, addr: u64, flags: u64, out: &mut Vec<Touch>) -> Option<Exec> {
        let follow = flags & libc::AT_SYMLINK_NOFOLLOW as u64 == 0;
        let Some(Found::Exists(p, meta)) = self.lookup(dirfd, addr, follow) else { return None };
        let exe = one(&[FsRight::EXECUTE, FsRight::READ_FILE]);
        out.push(Touch::at(&p, exe, Some(&meta)));
        let mut at = p.clone();
        // A script's interpreter may itself be a dynamic executable: two steps at most.
        for _ in 0..2 {
            let Some((i, m)) = self.interpreter(&at).and_then(|i| self.root.resolve(&i, true)) else { break };
            out.push(Touch::at(&i, exe, Some(&m)));
            at = i;
        }
        use std::os::unix::fs::PermissionsExt;
        let setid = meta.permissions().mode() & (libc::S_ISUID | libc::S_ISGID) != 0;
        Some(Exec { path: shown(&p), setid })
    }

    /// The program an executable asks the kernel to run it with: `#!` line, or ELF `PT_INTERP`.
    fn interpreter(&self, file: &Path) -> Option<PathBuf> {
        interpreter_of(&self.root.head(file, 64 * 1024)?)
    }

    /// The right to make (`make_*`) or remove (`remove_*`) an entry like `p` (by its type).
    fn kind_right(&self, p: &Path, make: bool) -> FsRight {
        use std::os::unix::fs::FileTypeExt;
        let Some((_, m)) = self.root.resolve(p, false) else {
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

    /// The directory of an existing `p`, and what it is.
    fn parent(&self, p: &Path) -> Option<(PathBuf, std::fs::Metadata)> {
        self.root.resolve(p.parent()?, true)
    }

    /// An entry made at the path: `right` on its directory (nothing when it exists already:
    /// the call fails with `EEXIST`).
    fn make(&self, dirfd: i32, addr: u64, right: FsRight, out: &mut Vec<Touch>) {
        if let Some(Found::Missing(parent, m, full)) = self.lookup(dirfd, addr, false) {
            self.made(&full);
            out.push(Touch::at(&parent, one(&[right]), Some(&m)));
        }
    }

    /// An entry removed: `remove_dir` or `remove_file` on its directory.
    fn remove(&self, dirfd: i32, addr: u64, dir: bool, out: &mut Vec<Touch>) {
        if let Some(Found::Exists(p, _)) = self.lookup(dirfd, addr, false) {
            let right = if dir { FsRight::REMOVE_DIR } else { FsRight::REMOVE_FILE };
            if let Some((d, m)) = self.parent(&p) {
                out.push(Touch::at(&d, one(&[right]), Some(&m)));
            }
        }
    }

    /// `rename*`: removing the entry from its directory and making it in the other (both ways
    /// for `RENAME_EXCHANGE`; replacing an entry removes it); `refer` on both when they differ.
    fn rename(&self, from: (i32, u64), to: (i32, u64), flags: u64, out: &mut Vec<Touch>) {
        let Some(Found::Exists(src, _)) = self.lookup(from.0, from.1, false) else { return };
        let Some(dst) = self.lookup(to.0, to.1, false) else { return };
        let Some((src_dir, src_meta)) = self.parent(&src) else { return };
        let (dst_dir, replaced) = match dst {
            Found::Exists(p, _) => (self.parent(&p), Some(p)),
            Found::Missing(parent, m, full) => {
                self.made(&full);
                (Some((parent, m)), None)
            }
        };
        let Some((dst_dir, dst_meta)) = dst_dir else { return };
        let exchange = flags & libc::RENAME_EXCHANGE as u64 != 0;
        let mut at_src = one(&[self.kind_right(&src, false)]);
        let mut at_dst = one(&[self.kind_right(&src, true)]);
        if let Some(r) = &replaced {
            at_dst.insert(self.kind_right(r, false));
            // Exchanged: the other entry moves the other way.
            if exchange {
                at_src.insert(self.kind_right(r, true));
            }
        }
        if src_dir != dst_dir {
            at_src.insert(FsRight::REFER);
            at_dst.insert(FsRight::REFER);
        }
        out.push(Touch::at(&src_dir, at_src, Some(&src_meta)));
        out.push(Touch::at(&dst_dir, at_dst, Some(&dst_meta)));
    }

    /// `link*`: making an entry like the source in the new directory; `refer` when the
    /// directories differ.
    fn link(&self, from: (i32, u64), to: (i32, u64), follow: bool, out: &mut Vec<Touch>) {
        let Some(Found::Exists(src, _)) = self.lookup(from.0, from.1, follow) else { return };
        let Some(Found::Missing(parent, pm, full)) = self.lookup(to.0, to.1, false) else { return };
        self.made(&full);
        let mut at_dst = one(&[self.kind_right(&src, true)]);
        if let Some((src_dir, m)) = self.parent(&src).filter(|(d, _)| *d != parent) {
            at_dst.insert(FsRight::REFER);
            out.push(Touch::at(&src_dir, one(&[FsRight::REFER]), Some(&m)));
        }
        out.push(Touch::at(&parent, at_dst, Some(&pm)));
    }
}

/// `/proc/self`, `/proc/thread-self` and `/dev/fd`, `/dev/std*` as the caller means them, in
/// this process's view (the recorder resolving them would see its own).
fn callers_view(pid: u32, path: &Path) -> PathBuf {
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

/// The interpreter a file's first bytes ask for: `#!` line, or ELF `PT_INTERP`.
fn interpreter_of(head: &[u8]) -> Option<PathBuf> {
    if let Some(line) = head.strip_prefix(b"#!") {
        let line = line.split(|b| *b == b'\n').next()?;
        let text = std::str::from_utf8(line).ok()?.trim_start();
        let prog = text.split([' ', '\t']).next()?;
        return prog.starts_with('/').then(|| PathBuf::from(prog));
    }
    elf_interpreter(head)
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
        let root = Root::of(std::process::id()).unwrap();
        let interpreter = |p: &Path| interpreter_of(&root.head(p, 64 * 1024)?);
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
        assert_eq!(callers_view(42, Path::new("/proc/self/status")), PathBuf::from("/proc/42/status"));
        assert_eq!(callers_view(42, Path::new("/dev/stdout")), PathBuf::from("/proc/42/fd/1"));
        assert_eq!(callers_view(42, Path::new("/dev/fdx")), PathBuf::from("/dev/fdx"));
        assert_eq!(shown(Path::new("/proc/42/status")), "/proc");
        assert_eq!(shown(Path::new("/process")), "/process");
    }
}
