//! The container's mount tree, built by PID 1 inside the new user and mount namespaces:
//! private propagation, the root bind-mounted, /proc, a minimal /dev, /sys read-only (when the
//! network namespace is ours), the profile's mounts, pivot_root with the old root detached,
//! then masked and read-only paths and a read-only root. Every mount made is recorded for the
//! report.
//!
//! Paths of the container's root are the image's and never trusted on the host: before the
//! pivot every mount point is looked up inside the root (`openat2` with `RESOLVE_IN_ROOT`, so a
//! symbolic link or `..` in the image cannot lead out of it), made there when missing, and
//! mounted on by descriptor (`/proc/self/fd/N`).

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Component, Path, PathBuf};

use nix::fcntl::OFlag;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::Mode;
use nix::sys::statvfs::{statvfs, FsFlags};
use policy::ir::{IsolationIr, MountIr};

use crate::error::SysError;

/// The links every container's `/dev` has: name, target.
pub(crate) const DEV_LINKS: [(&str, &str); 5] = [
    ("ptmx", "pts/ptmx"),
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
];

/// Device nodes bind-mounted from the host into /dev.
pub const DEVICES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];

/// What the mount tree is made of, for the report.
#[derive(Clone, Debug, Default)]
pub struct Done {
    /// Every mount, in order: `TYPE SOURCE -> TARGET (OPTIONS)`, targets as the container sees
    /// them.
    pub mounts: Vec<String>,
    /// Paths hidden (those that exist).
    pub masked: Vec<String>,
    /// Paths read-only in the container: those of the profile that exist (made read-only, or
    /// already on a read-only mount), and `/` when the root is read-only.
    pub readonly: Vec<String>,
    /// What was optional and could not be done.
    pub notes: Vec<String>,
    /// How the writable layer was made, when the root has one.
    pub layer: Option<crate::overlay::Made>,
}

/// Builds the tree under one root and records what it mounts.
pub(crate) struct Tree {
    root: PathBuf,
    /// The root, opened once it is bound (until the pivot): every mount point is looked up
    /// beneath it.
    root_fd: Option<OwnedFd>,
    pub(crate) done: Done,
    /// The target of the last mount recorded (a remount read-only amends it).
    last_target: String,
}

pub(crate) fn fail(what: &str, path: &Path, e: impl Into<std::io::Error>) -> SysError {
    SysError::io(format!("{what} {}", path.display()), e.into())
}

/// The mount point (of this mount namespace) that holds `path`: the longest mount point of
/// `/proc/self/mountinfo` that is `path` or one of its parents (`/` at worst).
fn holding_mount(path: &Path) -> PathBuf {
    let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|m| PathBuf::from(unescape(m)))
        .filter(|m| real.starts_with(m))
        .max_by_key(|m| m.as_os_str().len())
        .unwrap_or_else(|| PathBuf::from("/"))
}

/// What a mount point must be.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A directory.
    Dir,
    /// Anything else (made as an empty file).
    File,
}

/// The path through which a mount call reaches the object `fd` holds.
pub(crate) fn via(fd: &OwnedFd) -> String {
    format!("/proc/self/fd/{}", fd.as_raw_fd())
}

pub(crate) fn is_dir(fd: &OwnedFd) -> bool {
    nix::sys::stat::fstat(fd).is_ok_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFDIR)
}

/// `name` in directory `dir`, made as `kind` (nothing is followed: it must not exist).
fn make(dir: &OwnedFd, name: &std::ffi::OsStr, kind: Kind, shown: &Path) -> Result<(), SysError> {
    let made = match kind {
        Kind::Dir => nix::sys::stat::mkdirat(dir, name, Mode::from_bits_truncate(0o755)),
        Kind::File => nix::fcntl::openat(
            dir,
            name,
            OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_WRONLY | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o644),
        )
        .map(drop),
    };
    made.map_err(|e| fail("missing mount point (create it in the rootfs)", shown, e))
}

impl Tree {
    /// The container's view of `path` (under the root until the pivot, itself after).
    pub(crate) fn shown(&self, path: &Path) -> String {
        match path.strip_prefix(&self.root) {
            Ok(rest) => format!("/{}", rest.display()),
            Err(_) => path.display().to_string(),
        }
    }

    pub(crate) fn mount(
        &mut self,
        src: Option<&str>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> Result<(), SysError> {
        mount(src, target, fstype, flags, data)
            .map_err(|e| fail(&format!("mount {}", fstype.or(src).unwrap_or("")), target, e))?;
        self.record(src, target, fstype, flags, data);
        Ok(())
    }

    /// The object at `target` (a path of the container) inside the root, made as `kind` where
    /// it is missing (and its missing parents as directories); never reached through a link
    /// or `..` out of the root.
    pub(crate) fn point(&self, target: &Path, kind: Kind) -> Result<OwnedFd, SysError> {
        let shown = Path::new("/").join(target.strip_prefix("/").unwrap_or(target));
        let root = self.root_fd.as_ref().ok_or_else(|| {
            fail("mount point before the root is bound", &shown, std::io::ErrorKind::NotFound)
        })?;
        let open = |p: &Path| crate::sys::open_in_root(root, p, libc::O_PATH);
        let fd = match open(&shown) {
            Ok(fd) => fd,
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(fail("open mount point", &shown, e))
            }
            Err(_) => self.make_point(root, &shown, kind)?,
        };
        match (kind, is_dir(&fd)) {
            (Kind::Dir, false) => {
                Err(fail("mount point is not a directory:", &shown, std::io::ErrorKind::NotADirectory))
            }
            (Kind::File, true) => {
                Err(fail("mount point is a directory:", &shown, std::io::ErrorKind::IsADirectory))
            }
            _ => Ok(fd),
        }
    }

    /// Make the missing parts of `target` inside `root`, as the kernel would resolve it there:
    /// a link (even one that leads nowhere yet) is followed within the root, `..` stops at
    /// the root, and only what is missing is made (directories, and the last as `kind`).
    fn make_point(&self, root: &OwnedFd, target: &Path, kind: Kind) -> Result<OwnedFd, SysError> {
        use std::collections::VecDeque;
        use std::ffi::OsString;
        let open = |p: &Path, flags: i32| {
            crate::sys::open_in_root(root, p, libc::O_PATH | flags)
                .map_err(|e| fail("open mount point", p, e))
        };
        let names = |p: &Path| -> VecDeque<OsString> {
            p.components()
                .filter_map(|c| match c {
                    Component::Normal(n) => Some(n.to_os_string()),
                    Component::ParentDir => Some(OsString::from("..")),
                    _ => None,
                })
                .collect()
        };
        let mut todo = names(target);
        let mut at = PathBuf::from("/");
        let mut links = 0;
        while let Some(name) = todo.pop_front() {
            if name == ".." {
                at.pop();
                continue;
            }
            let parent = open(&at, libc::O_DIRECTORY)?;
            let stat =
                nix::sys::stat::fstatat(&parent, name.as_os_str(), nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW);
            match stat {
                Ok(st) if st.st_mode & libc::S_IFMT == libc::S_IFLNK => {
                    links += 1;
                    if links > 40 {
                        return Err(fail(
                            "mount point",
                            target,
                            std::io::Error::from_raw_os_error(libc::ELOOP),
                        ));
                    }
                    let to = nix::fcntl::readlinkat(&parent, name.as_os_str())
                        .map_err(|e| fail("read link", &at.join(&name), e))?;
                    let to = PathBuf::from(to);
                    if to.is_absolute() {
                        at = PathBuf::from("/");
                    }
                    let mut rest = names(&to);
                    rest.extend(todo);
                    todo = rest;
                }
                Ok(_) => at.push(&name),
                Err(nix::errno::Errno::ENOENT) => {
                    let this = if todo.is_empty() { kind } else { Kind::Dir };
                    make(&parent, &name, this, target)?;
                    at.push(&name);
                }
                Err(e) => return Err(fail("mount point", &at.join(&name), e)),
            }
        }
        open(&at, 0)
    }

    /// Mount on the container's `target` (looked up inside the root, made as `kind` if missing).
    pub(crate) fn mount_in(
        &mut self,
        src: Option<&str>,
        target: &str,
        kind: Kind,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> Result<(), SysError> {
        let at = self.point(Path::new(target), kind)?;
        self.mount_on(src, &at, Path::new(target), fstype, flags, data)
    }

    /// Mount on the object `at` holds, shown as the container's `target`.
    pub(crate) fn mount_on(
        &mut self,
        src: Option<&str>,
        at: &OwnedFd,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> Result<(), SysError> {
        mount(src, via(at).as_str(), fstype, flags, data)
            .map_err(|e| fail(&format!("mount {}", fstype.or(src).unwrap_or("")), target, e))?;
        let shown = self.root.join(target.strip_prefix("/").unwrap_or(target));
        self.record(src, &shown, fstype, flags, data);
        Ok(())
    }

    /// Bind the file or directory `source` opened (shown as `shown`) at the container's
    /// `target` (looked up inside the root).
    pub(crate) fn bind_from(&mut self, source: &OwnedFd, shown: &str, target: &str) -> Result<(), SysError> {
        let kind = if is_dir(source) { Kind::Dir } else { Kind::File };
        let at = self.point(Path::new(target), kind)?;
        let flags = MsFlags::MS_BIND | MsFlags::MS_REC;
        mount(Some(via(source).as_str()), via(&at).as_str(), None::<&str>, flags, None::<&str>)
            .map_err(|e| fail(&format!("mount {shown}"), Path::new(target), e))?;
        self.record(Some(shown), &self.root.join(target.trim_start_matches('/')), None, flags, None);
        Ok(())
    }

    /// Attach the detached mount tree `tree` (an idmapped bind, made by the runtime) at the
    /// container's `target`, looked up inside the root.
    pub(crate) fn attach_at(&mut self, tree: &OwnedFd, shown: &str, target: &str) -> Result<(), SysError> {
        let kind = if is_dir(tree) { Kind::Dir } else { Kind::File };
        let at = self.point(Path::new(target), kind)?;
        crate::sys::attach_tree_at(tree, &at)
            .map_err(|e| fail("move_mount (attach) to", Path::new(target), e.source))?;
        let flags = MsFlags::MS_BIND;
        self.record(
            Some(shown),
            &self.root.join(target.trim_start_matches('/')),
            Some("bind (idmapped)"),
            flags,
            None,
        );
        Ok(())
    }

    /// Make the mount now at the container's `target` read-only (looked up again inside the
    /// root: the descriptor taken before the mount holds what is beneath it).
    pub(crate) fn remount_readonly_in(&mut self, target: &str) -> Result<(), SysError> {
        let kind = match self.point(Path::new(target), Kind::Dir) {
            Ok(fd) => fd,
            Err(_) => self.point(Path::new(target), Kind::File)?,
        };
        let path = PathBuf::from(via(&kind));
        let flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | locked_flags(&path);
        mount(None::<&str>, &path, None::<&str>, flags, None::<&str>)
            .map_err(|e| fail("remount read-only", Path::new(target), e))?;
        let shown = self.shown(&self.root.join(target.trim_start_matches('/')));
        match self.done.mounts.last_mut() {
            Some(last) if shown == self.last_target => last.push_str(" (ro)"),
            _ => self.done.mounts.push(format!("remount {shown} (ro)")),
        }
        Ok(())
    }

    fn record(
        &mut self,
        src: Option<&str>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) {
        let kind = fstype.unwrap_or(if flags.contains(MsFlags::MS_BIND) { "bind" } else { "remount" });
        let mut options: Vec<&str> = Vec::new();
        if flags.contains(MsFlags::MS_RDONLY) {
            options.push("ro");
        }
        if let Some(d) = data {
            options.push(d);
        }
        let from = match (kind, src) {
            ("bind", Some(s)) => format!("{s} -> "),
            _ => String::new(),
        };
        let opts = if options.is_empty() { String::new() } else { format!(" ({})", options.join(",")) };
        self.last_target = self.shown(target);
        self.done.mounts.push(format!("{kind} {from}{}{opts}", self.last_target));
    }

    /// Make the mount at `path` read-only (keeping the flags a user namespace locks).
    pub(crate) fn remount_readonly(&mut self, path: &Path) -> Result<(), SysError> {
        let flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | locked_flags(path);
        mount(None::<&str>, path, None::<&str>, flags, None::<&str>)
            .map_err(|e| fail("remount read-only", path, e))?;
        let target = self.shown(path);
        match self.done.mounts.last_mut() {
            Some(last) if target == self.last_target => last.push_str(" (ro)"),
            _ => self.done.mounts.push(format!("remount {target} (ro)")),
        }
        Ok(())
    }
}

/// The flags a remount must keep (in a user namespace the kernel locks them).
fn locked_flags(path: &Path) -> MsFlags {
    let mut f = MsFlags::empty();
    if let Ok(st) = statvfs(path) {
        let fl = st.flags();
        for (a, b) in [
            (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
            (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
            (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
            (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
            (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
            (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
        ] {
            if fl.contains(a) {
                f |= b;
            }
        }
    }
    f
}

/// Open every bind source now, before a staging tmpfs can hide the host's `/tmp` (and so that
/// each is the object it was when opened). `None` for a tmpfs.
fn open_sources(iso: &IsolationIr) -> Result<Vec<Option<OwnedFd>>, SysError> {
    use std::os::unix::fs::OpenOptionsExt;
    iso.mounts
        .iter()
        .map(|m| match m {
            MountIr::Bind { source, .. } => std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_PATH | libc::O_CLOEXEC)
                .open(source)
                .map(|f| Some(OwnedFd::from(f)))
                .map_err(|e| fail("open bind source", Path::new(source), e)),
            MountIr::Tmpfs { .. } => Ok(None),
        })
        .collect()
}

fn user_mount(t: &mut Tree, m: &MountIr, opened: Option<&OwnedFd>) -> Result<(), SysError> {
    let target = m.target();
    match m {
        MountIr::Bind { source, readonly, .. } => {
            let opened = opened.ok_or_else(|| {
                fail("bind source not opened", Path::new(source), std::io::ErrorKind::NotFound)
            })?;
            t.bind_from(opened, source, target)?;
            if *readonly {
                t.remount_readonly_in(target)?;
            }
        }
        MountIr::Tmpfs { readonly, size, .. } => {
            let data = size.map(|s| format!("size={s},mode=1777")).unwrap_or_else(|| "mode=1777".into());
            let mut flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
            if *readonly {
                flags |= MsFlags::MS_RDONLY;
            }
            t.mount_in(Some("tmpfs"), target, Kind::Dir, Some("tmpfs"), flags, Some(&data))?;
        }
    }
    Ok(())
}

/// A minimal `/dev`: a new tmpfs (wherever the image's `/dev` leads inside the root), the
/// host's harmless devices bound in, a devpts of the container's own, `/dev/shm`, the links.
/// Everything in it is made through its descriptor.
fn dev(t: &mut Tree) -> Result<(), SysError> {
    let (noexec, nodev) = (MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC, MsFlags::MS_NOSUID | MsFlags::MS_NODEV);
    t.mount_in(Some("tmpfs"), "/dev", Kind::Dir, Some("tmpfs"), noexec, Some("mode=755,size=65536"))?;
    // The new tmpfs, opened once: what is made in it is made through this descriptor (it holds
    // nothing of the image's, so nothing in it can lead elsewhere).
    let d = t.point(Path::new("/dev"), Kind::Dir)?;
    let shown = |n: &str| Path::new("/dev").join(n);
    let at = |n: &str, flags: OFlag| {
        nix::fcntl::openat(
            &d,
            n,
            flags | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o644),
        )
        .map_err(|e| fail("create", &shown(n), e))
    };
    for n in DEVICES {
        let host = Path::new("/dev").join(n);
        if host.exists() {
            let node = at(n, OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY)?;
            t.mount_on(host.to_str(), &node, &shown(n), None, MsFlags::MS_BIND, None)?;
        }
    }
    for (n, fstype, flags, data) in [
        ("pts", "devpts", noexec, "newinstance,ptmxmode=0666,mode=620"),
        ("shm", "tmpfs", nodev, "mode=1777,size=65536k"),
    ] {
        nix::sys::stat::mkdirat(&d, n, Mode::from_bits_truncate(0o755))
            .map_err(|e| fail("mkdir", &shown(n), e))?;
        let dir = at(n, OFlag::O_PATH | OFlag::O_DIRECTORY)?;
        t.mount_on(Some(fstype), &dir, &shown(n), Some(fstype), flags, Some(data))?;
    }
    for (link, to) in DEV_LINKS {
        nix::unistd::symlinkat(to, &d, link).map_err(|e| fail("symlink", &shown(link), e))?;
    }
    Ok(())
}

/// The mount points strictly beneath `dir`, parents first (from `/proc/self/mountinfo`).
pub(crate) fn submounts(dir: &Path) -> Result<Vec<PathBuf>, SysError> {
    let info = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| SysError::io("read /proc/self/mountinfo", e))?;
    let mut out: Vec<PathBuf> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| PathBuf::from(unescape(p)))
        .filter(|p| p != dir && p.starts_with(dir))
        .collect();
    out.sort_by_key(|p| p.components().count());
    out.dedup();
    Ok(out)
}

/// A mountinfo path: space, tab, newline and backslash are written as `\ooo`.
fn unescape(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    let mut rest = p;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let code = rest.get(i + 1..i + 4).and_then(|o| u8::from_str_radix(o, 8).ok());
        match code {
            Some(c) => {
                out.push(char::from(c));
                rest = &rest[i + 4..];
            }
            None => {
                out.push('\\');
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Where the container's root comes from.
pub enum Root<'a> {
    /// The host's root, read-only.
    Host,
    /// A directory, reached by path (container root must be able to walk to it).
    Dir(&'a Path),
    /// A detached copy of a directory's mount tree, opened by the launcher before the user
    /// namespace existed (so no directory on the way need let container root in), perhaps
    /// idmapped.
    Tree(&'a OwnedFd),
}

/// A staging tmpfs (pivot_root needs a mount point that is not /) with an empty `root` in it.
fn stage() -> Result<(&'static Path, PathBuf), SysError> {
    let stage = Path::new("/tmp");
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    mount(Some("tmpfs"), stage, Some("tmpfs"), flags, Some("mode=700"))
        .map_err(|e| fail("mount tmpfs", stage, e))?;
    let r = stage.join("root");
    std::fs::create_dir(&r).map_err(|e| fail("mkdir", &r, e))?;
    Ok((stage, r))
}

/// What the container's root is made of besides [`Root`].
#[derive(Default)]
pub struct Extras<'a> {
    /// A writable layer over the root (an image's): the root itself is never written.
    pub layer: Option<crate::overlay::Writable<'a>>,
    /// The workload's working directory, made (owned by root, mode 755, as Docker does) in
    /// the writable layer when it is missing.
    pub workdir: Option<&'a Path>,
    /// The container has a network namespace of its own (sysfs can be mounted).
    pub new_netns: bool,
    /// The profile's `tmpdir: private`: `/tmp` is a new tmpfs unless a mount of the profile
    /// is there already, so the workload's own directory can be made in it even under a
    /// read-only root.
    pub private_tmp: bool,
}

/// Build the tree under the root `from` and pivot into it.
pub fn setup(iso: &IsolationIr, from: Root, x: Extras) -> Result<Done, SysError> {
    // Nothing mounted from here on propagates to the host.
    let mut t = Tree::begin(MsFlags::MS_REC | MsFlags::MS_PRIVATE)?;
    let sources = open_sources(iso)?;
    // Directories reached by path are opened before the staging tmpfs over /tmp can hide them
    // (a store beneath /tmp).
    let open_dir = |p: &Path| {
        nix::fcntl::open(p, OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())
            .map_err(|e| fail("open", p, e))
    };
    let layer_dir = match x.layer.as_ref().map(|w| &w.at) {
        Some(crate::overlay::Layer::Dir(d)) => Some(open_dir(d)?),
        _ => None,
    };
    let mut root: PathBuf = match (from, &x.layer) {
        (Root::Dir(r), None) => r.to_path_buf(),
        // The image beneath a writable layer is reached at the staging directory (no path of
        // the host is written into overlayfs's options).
        (Root::Dir(r), Some(_)) => {
            let opened = open_dir(r)?;
            let (_, staged) = stage()?;
            let source = via(&opened);
            mount(
                Some(source.as_str()),
                &staged,
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None::<&str>,
            )
            .map_err(|e| fail("bind the root at", &staged, e))?;
            staged
        }
        (Root::Tree(tree), _) => {
            let (_, r) = stage()?;
            crate::sys::attach_tree(tree, &r)?;
            r
        }
        (Root::Host, _) => {
            let (stage, r) = stage()?;
            mount(Some("/"), &r, None::<&str>, MsFlags::MS_BIND | MsFlags::MS_REC, None::<&str>)
                .map_err(|e| fail("mount /", &r, e))?;
            // The copy of "/" holds a copy of the staging tmpfs over its /tmp: take it away, so
            // the host's /tmp is what the container sees there.
            let copy = r.join(stage.strip_prefix("/").unwrap_or(stage));
            umount2(&copy, MntFlags::MNT_DETACH).map_err(|e| fail("unmount the staging copy", &copy, e))?;
            r
        }
    };
    if let Some(w) = &x.layer {
        let (merged, made, why) = crate::overlay::writable(&root, w, layer_dir.as_ref())?;
        if let Some(why) = why {
            t.done.notes.push(format!("the writable layer is a copy of the image's root ({why})"));
        }
        t.done.layer = Some(made);
        root = merged;
    }
    t.bind_root(&root)?;
    let readonly_root = iso.readonly_root(x.layer.is_some());
    if readonly_root {
        // Every filesystem mounted beneath the root comes along read-only too (the root itself
        // is made read-only last, once the mount points the container needs exist).
        for sub in submounts(&root)? {
            // A mount beneath a directory container root cannot search (a host directory of
            // mode 0700, say podman's or dockerd's storage) is out of the workload's reach
            // too: container root has no capability over the host's ids. Left as it is.
            if std::fs::metadata(&sub).is_err_and(|e| e.kind() == std::io::ErrorKind::PermissionDenied) {
                t.done.notes.push(format!("{} left as it is: container root cannot reach it", t.shown(&sub)));
                continue;
            }
            t.remount_readonly(&sub)?;
        }
    }
    let hidden = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    t.mount_in(Some("proc"), "/proc", Kind::Dir, Some("proc"), hidden, None)?;
    dev(&mut t)?;
    if t.root_fd.as_ref().is_some_and(|r| {
        crate::sys::open_in_root(r, Path::new("/sys"), libc::O_PATH | libc::O_DIRECTORY).is_ok()
    }) {
        let ro = hidden | MsFlags::MS_RDONLY;
        if !x.new_netns || t.mount_in(Some("sysfs"), "/sys", Kind::Dir, Some("sysfs"), ro, None).is_err() {
            t.done.notes.push("/sys left empty (sysfs needs a network namespace of our own)".into());
        }
    }
    for (m, opened) in iso.mounts.iter().zip(&sources) {
        user_mount(&mut t, m, opened.as_ref())?;
    }
    if x.private_tmp && !iso.mounts.iter().any(|m| m.target() == "/tmp") {
        user_mount(&mut t, &MountIr::Tmpfs { target: "/tmp".into(), readonly: false, size: None }, None)?;
    }
    drop(sources);
    t.pivot()?;
    if let (Some(dir), Some(_)) = (x.workdir, &x.layer) {
        if !dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o755)
                .create(dir)
                .map_err(|e| fail("make the working directory", dir, e))?;
        }
    }
    t.mask(&iso.masked_paths)?;
    t.readonly(&iso.readonly_paths)?;
    if readonly_root {
        t.readonly_root()?;
    }
    Ok(t.done)
}

impl Tree {
    /// A tree whose mounts get `propagation` (applied to `/`, recursively, first: with
    /// `MS_PRIVATE` or `MS_SLAVE` nothing mounted from here on reaches the host).
    pub(crate) fn begin(propagation: MsFlags) -> Result<Tree, SysError> {
        mount(None::<&str>, "/", None::<&str>, propagation, None::<&str>)
            .map_err(|e| fail("set the propagation of", Path::new("/"), e))?;
        Ok(Tree {
            root: PathBuf::from("/"),
            root_fd: None,
            done: Done::default(),
            last_target: String::new(),
        })
    }

    /// Bind the root directory on itself (pivot_root needs a mount point) and open it: every
    /// mount point from here on is looked up beneath it.
    pub(crate) fn bind_root(&mut self, root: &Path) -> Result<(), SysError> {
        if let Err(e) = std::fs::metadata(root).and_then(|m| {
            m.is_dir().then_some(()).ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotADirectory))
        }) {
            return Err(fail("rootfs", root, e));
        }
        self.root = root.to_path_buf();
        // The mount holding the root made private (as runc does): with a shared root
        // propagation (`rootfsPropagation: shared`), pivot_root refuses a new root whose parent
        // mount is shared, and the bind below must not propagate out of this namespace.
        let parent = holding_mount(root);
        mount(None::<&str>, &parent, None::<&str>, MsFlags::MS_PRIVATE, None::<&str>)
            .map_err(|e| fail("make private the mount holding the root,", &parent, e))?;
        self.mount(root.to_str(), root, None, MsFlags::MS_BIND | MsFlags::MS_REC, None)?;
        let opened =
            nix::fcntl::open(root, OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty());
        self.root_fd = Some(opened.map_err(|e| fail("open", root, e))?);
        Ok(())
    }

    /// pivot_root into the root, the old root detached.
    pub(crate) fn pivot(&mut self) -> Result<(), SysError> {
        let root = self.root.clone();
        self.root_fd = None;
        std::env::set_current_dir(&root).map_err(|e| fail("chdir", &root, e))?;
        nix::unistd::pivot_root(".", ".").map_err(|e| fail("pivot_root", &root, e))?;
        umount2(".", MntFlags::MNT_DETACH).map_err(|e| SysError::errno("detach the old root", e))?;
        std::env::set_current_dir("/").map_err(|e| fail("chdir", Path::new("/"), e))?;
        self.root = PathBuf::from("/");
        Ok(())
    }

    /// Move the root over `/` and chroot into it (instead of [`Tree::pivot`]): the old root
    /// stays beneath, out of reach of a chrooted process without CAP_SYS_CHROOT.
    pub(crate) fn move_root(&mut self) -> Result<(), SysError> {
        let root = self.root.clone();
        self.root_fd = None;
        std::env::set_current_dir(&root).map_err(|e| fail("chdir", &root, e))?;
        mount(Some("."), "/", None::<&str>, MsFlags::MS_MOVE, None::<&str>)
            .map_err(|e| fail("move the root over", Path::new("/"), e))?;
        nix::unistd::chroot(".").map_err(|e| fail("chroot", &root, e))?;
        std::env::set_current_dir("/").map_err(|e| fail("chdir", Path::new("/"), e))?;
        self.root = PathBuf::from("/");
        Ok(())
    }

    /// Hide each path that exists (after the pivot): an empty read-only tmpfs over a
    /// directory, `/dev/null` over anything else.
    pub(crate) fn mask(&mut self, paths: &[String]) -> Result<(), SysError> {
        for p in paths {
            let path = Path::new(p);
            match std::fs::symlink_metadata(path) {
                Ok(m) if m.is_dir() => {
                    self.mount(Some("tmpfs"), path, Some("tmpfs"), MsFlags::MS_RDONLY, Some("size=0"))?
                }
                Ok(_) => self.mount(Some("/dev/null"), path, None, MsFlags::MS_BIND, None)?,
                Err(_) => continue,
            }
            self.done.masked.push(p.clone());
        }
        Ok(())
    }

    /// Make the root read-only (after the pivot, last).
    pub(crate) fn readonly_root(&mut self) -> Result<(), SysError> {
        self.remount_readonly(Path::new("/"))?;
        self.done.readonly.push("/".into());
        Ok(())
    }

    /// Make each path that exists read-only (after the pivot).
    pub(crate) fn readonly(&mut self, paths: &[String]) -> Result<(), SysError> {
        for p in paths {
            let path = Path::new(p);
            // A path on a mount that is read-only already (/sys, mounted so) needs nothing.
            let readonly = statvfs(path).is_ok_and(|st| st.flags().contains(FsFlags::ST_RDONLY));
            if path.exists() && !readonly {
                self.mount(Some(p), path, None, MsFlags::MS_BIND | MsFlags::MS_REC, None)?;
                self.remount_readonly(path)?;
                self.done.readonly.push(p.clone());
            } else if path.exists() {
                self.done.readonly.push(p.clone());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn mountinfo_paths_are_unescaped() {
        assert_eq!(super::unescape("/a\\040b\\011c\\134d"), "/a b\tc\\d");
        assert_eq!(super::unescape("/plain"), "/plain");
    }
}
