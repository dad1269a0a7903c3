//! The container's mount tree from config.json, built by the init in its mount namespace with
//! the same [`crate::mount::Tree`] as `enforce run`'s containers (every mount point looked up
//! inside the root, never through a link out of it): the root bound on itself, `mounts` in
//! order, the default devices in `/dev`, pivot_root, then masked and read-only paths and a
//! read-only root.

use std::os::fd::OwnedFd;
use std::path::Path;

use nix::fcntl::OFlag;
use nix::mount::{mount, MsFlags};
use nix::sys::stat::{Mode, SFlag};

use super::config::{Bundle, MountSpec};
use crate::error::SysError;
use crate::mount::{fail, is_dir, via, Done, Kind, Tree};

/// runc's default devices: name, major, minor.
const DEVICES: [(&str, u64, u64); 6] =
    [("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0)];

/// Build the tree (not yet pivoted into: [`pivot`], after the `createContainer` hooks).
/// `userns`: the init is root of a new user namespace, where device nodes cannot be made (the
/// host's are bound instead). [`finish`] comes after the sysctls (which write beneath
/// `/proc/sys`, read-only by then).
/// `idmapped`: the runtime's idmapped trees, one entry per mount.
pub(super) fn build(
    b: &Bundle,
    userns: bool,
    membership: &[Membership],
    idmapped: &[Option<OwnedFd>],
) -> Result<Tree, SysError> {
    let mut t = Tree::begin(b.propagation)?;
    t.bind_root(&b.rootfs)?;
    for (i, m) in b.mounts.iter().enumerate() {
        match idmapped.get(i).and_then(Option::as_ref) {
            Some(tree) => attach(&mut t, m, tree)?,
            None => one(&mut t, m, b, membership)?,
        }
    }
    if b.mounts.iter().any(|m| m.target.trim_end_matches('/') == "/dev") {
        devices(&mut t, userns)?;
        for d in &b.devices {
            listed(&mut t, d, userns)?;
        }
    } else {
        t.done.notes.push("no mount at /dev: the rootfs's own /dev is used as it is".into());
    }
    Ok(t)
}

/// pivot_root into the tree (`no_pivot`: move it over `/` and chroot, as runc's
/// `--no-pivot` does, for a root on a filesystem pivot_root refuses, such as ramfs).
pub(super) fn pivot(mut t: Tree, no_pivot: bool) -> Result<Tree, SysError> {
    if no_pivot {
        t.move_root()?;
    } else {
        t.pivot()?;
    }
    Ok(t)
}

/// Masked and read-only paths, and the read-only root, as runc does them: last.
pub(super) fn finish(mut t: Tree, b: &Bundle) -> Result<Done, SysError> {
    t.mask(&b.masked)?;
    t.readonly(&b.readonly)?;
    if b.readonly_root {
        t.readonly_root()?;
    }
    Ok(t.done)
}

/// One line of `/proc/self/cgroup`: the hierarchy's controllers (`cpu,cpuacct`,
/// `name=systemd`, empty for cgroup2) and the process's group in it.
pub(super) struct Membership {
    controllers: String,
    path: String,
}

/// The init's cgroups, read before it makes its cgroup namespace (so the paths are the host's).
pub(super) fn membership() -> Vec<Membership> {
    std::fs::read_to_string("/proc/self/cgroup")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut f = l.splitn(3, ':');
            let (_, c, p) = (f.next()?, f.next()?, f.next()?);
            Some(Membership { controllers: c.to_string(), path: p.to_string() })
        })
        .collect()
}

/// An idmapped bind: the runtime's tree attached, then the mount's other flags.
fn attach(t: &mut Tree, m: &MountSpec, tree: &OwnedFd) -> Result<(), SysError> {
    t.attach_at(tree, &m.source, &m.target)?;
    let extra = m.flags & !(MsFlags::MS_BIND | MsFlags::MS_REC);
    if !extra.is_empty() {
        remount(t, &m.target, MsFlags::MS_BIND | MsFlags::MS_REMOUNT | extra, is_dir(tree))?;
    }
    propagate(t, m)
}

/// One entry of `mounts`.
fn one(t: &mut Tree, m: &MountSpec, b: &Bundle, membership: &[Membership]) -> Result<(), SysError> {
    let data = (!m.data.is_empty()).then_some(m.data.as_str());
    if m.is_bind() {
        use std::os::unix::fs::OpenOptionsExt;
        let source = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_PATH | libc::O_CLOEXEC)
            .open(&m.source)
            .map(OwnedFd::from)
            .map_err(|e| fail("open bind source", Path::new(&m.source), e))?;
        t.bind_from(&source, &m.source, &m.target)?;
        let extra = m.flags & !(MsFlags::MS_BIND | MsFlags::MS_REC);
        if !extra.is_empty() {
            remount(t, &m.target, MsFlags::MS_BIND | MsFlags::MS_REMOUNT | extra, is_dir(&source))?;
        }
    } else if m.fstype == "cgroup" || m.fstype == "cgroup2" {
        cgroup(t, m, membership)?;
    } else if m.copy_up {
        // What the image has there, opened before the tmpfs hides it.
        let under = t.point(Path::new(&m.target), Kind::Dir)?;
        let under = nix::fcntl::openat(
            &under,
            ".",
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| fail("open", Path::new(&m.target), e))?;
        let source = if m.source.is_empty() { "tmpfs" } else { m.source.as_str() };
        t.mount_in(Some(source), &m.target, Kind::Dir, Some("tmpfs"), m.flags, data)?;
        let top = t.point(Path::new(&m.target), Kind::Dir)?;
        copy_tree(Path::new(&via(&under)), Path::new(&via(&top)))
            .map_err(|e| fail("tmpcopyup", Path::new(&m.target), e))?;
    } else {
        let source = if m.source.is_empty() { m.fstype.as_str() } else { m.source.as_str() };
        let mounted = t.mount_in(Some(source), &m.target, Kind::Dir, Some(&m.fstype), m.flags, data);
        match mounted {
            // sysfs needs a network namespace of the container's own (in a user namespace):
            // the host's, read-only, as runc does.
            Err(_) if m.fstype == "sysfs" && !b.new_namespaces.contains(&policy::vocab::Namespace::Net) => {
                let host = nix::fcntl::open("/sys", OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())
                    .map_err(|e| fail("open", Path::new("/sys"), e))?;
                t.bind_from(&host, "/sys", &m.target)?;
                remount(t, &m.target, MsFlags::MS_BIND | MsFlags::MS_REMOUNT | m.flags, true)?;
            }
            other => other?,
        }
    }
    propagate(t, m)
}

/// The mount's propagation option, after it is mounted.
fn propagate(t: &mut Tree, m: &MountSpec) -> Result<(), SysError> {
    if !m.propagation.is_empty() {
        let at = t
            .point(Path::new(&m.target), Kind::Dir)
            .or_else(|_| t.point(Path::new(&m.target), Kind::File))?;
        mount(None::<&str>, via(&at).as_str(), None::<&str>, m.propagation, None::<&str>)
            .map_err(|e| fail("set the propagation of", Path::new(&m.target), e))?;
    }
    Ok(())
}

/// Copy the tree `from` into `to` (both reached through descriptors): directories, files,
/// links (never followed) with their modes and owners; other kinds are skipped.
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let (src, dst) = (e.path(), to.join(e.file_name()));
        let m = std::fs::symlink_metadata(&src)?;
        let ft = m.file_type();
        if ft.is_dir() {
            std::fs::create_dir(&dst)?;
            copy_tree(&src, &dst)?;
        } else if ft.is_file() {
            std::fs::copy(&src, &dst)?;
        } else if ft.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src)?, &dst)?;
        } else {
            continue;
        }
        std::os::unix::fs::lchown(&dst, Some(m.uid()), Some(m.gid()))?;
        if !ft.is_symlink() {
            std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(m.mode() & 0o7777))?;
        }
    }
    let m = std::fs::metadata(from)?;
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(m.mode() & 0o7777))
}

/// Remount the mount at the container's `target` with `flags`.
fn remount(t: &mut Tree, target: &str, flags: MsFlags, dir: bool) -> Result<(), SysError> {
    let kind = if dir { Kind::Dir } else { Kind::File };
    let at = t.point(Path::new(target), kind)?;
    mount(None::<&str>, via(&at).as_str(), None::<&str>, flags, None::<&str>)
        .map_err(|e| fail("remount", Path::new(target), e))?;
    t.done.mounts.push(format!("remount {target} ({flags:?})"));
    Ok(())
}

/// `type: cgroup`: cgroup2 where the host's hierarchy is unified. On a cgroup v1 host, as runc
/// does: a tmpfs with, for each v1 hierarchy the host mounts under `/sys/fs/cgroup`, the init's
/// own group in it bound in (read-only when the mount is), and the host's links (`cpu` ->
/// `cpu,cpuacct`); so a process reads its own limits where it expects them. With `ro` the tmpfs
/// is read-only too (runc leaves it writable).
fn cgroup(t: &mut Tree, m: &MountSpec, membership: &[Membership]) -> Result<(), SysError> {
    let unified = nix::sys::statfs::statfs("/sys/fs/cgroup")
        .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC);
    if unified {
        return t.mount_in(Some("cgroup2"), &m.target, Kind::Dir, Some("cgroup2"), m.flags, None);
    }
    let ro = m.flags.contains(MsFlags::MS_RDONLY);
    let base = (m.flags - MsFlags::MS_RDONLY) | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    t.mount_in(Some("tmpfs"), &m.target, Kind::Dir, Some("tmpfs"), base, Some("mode=755"))?;
    let info = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| SysError::io("read /proc/self/mountinfo", e))?;
    for line in info.lines() {
        // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER
        let (left, right) = match line.split_once(" - ") {
            Some(x) => x,
            None => continue,
        };
        let fields: Vec<&str> = left.split(' ').collect();
        let theirs: Vec<&str> = right.split(' ').collect();
        let (Some(point), Some(fstype), Some(sup)) = (fields.get(4), theirs.first(), theirs.get(2)) else {
            continue;
        };
        let Some(name) = point.strip_prefix("/sys/fs/cgroup/").filter(|n| !n.contains('/')) else { continue };
        let opts: Vec<&str> = sup.split(',').collect();
        // The v1 hierarchies (a hybrid host's cgroup2 mount is left out, as runc leaves it).
        let mine = membership.iter().find(|g| {
            *fstype == "cgroup"
                && !g.controllers.is_empty()
                && g.controllers.split(',').all(|c| opts.contains(&c))
        });
        let Some(mine) = mine else { continue };
        let host = Path::new(point).join(mine.path.trim_start_matches('/'));
        let Ok(src) =
            nix::fcntl::open(&host, OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())
        else {
            continue;
        };
        let target = format!("{}/{name}", m.target.trim_end_matches('/'));
        t.bind_from(&src, &host.display().to_string(), &target)?;
        let flags = MsFlags::MS_BIND
            | MsFlags::MS_REMOUNT
            | MsFlags::MS_NOSUID
            | MsFlags::MS_NODEV
            | MsFlags::MS_NOEXEC;
        remount(t, &target, if ro { flags | MsFlags::MS_RDONLY } else { flags }, true)?;
    }
    // The host's links between comounted controllers.
    if let Ok(dir) = std::fs::read_dir("/sys/fs/cgroup") {
        let at = t.point(Path::new(&m.target), Kind::Dir)?;
        let inside = nix::fcntl::openat(&at, ".", OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())
            .map_err(|e| fail("open", Path::new(&m.target), e))?;
        for e in dir.flatten() {
            if e.file_type().is_ok_and(|f| f.is_symlink()) {
                if let Ok(to) = std::fs::read_link(e.path()) {
                    let _ = nix::unistd::symlinkat(&to, &inside, e.file_name().as_os_str());
                }
            }
        }
    }
    if ro {
        t.remount_readonly_in(&m.target)?;
    }
    Ok(())
}

/// A device of `linux.devices`: made with mknod (mode and owner as listed), or, in a user
/// namespace, where mknod is not allowed, the host's node at the same path bound in.
fn listed(t: &mut Tree, d: &super::config::DeviceSpec, userns: bool) -> Result<(), SysError> {
    let path = Path::new(&d.path);
    if userns {
        let host = nix::fcntl::open(path, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())
            .map_err(|e| fail("open the host's device", path, e))?;
        return t.bind_from(&host, &d.path, &d.path);
    }
    let parent = path.parent().unwrap_or(Path::new("/"));
    let name = path.file_name().ok_or_else(|| fail("device", path, std::io::ErrorKind::InvalidInput))?;
    let at = t.point(parent, Kind::Dir)?;
    let dir = nix::fcntl::openat(&at, ".", OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(|e| fail("open", parent, e))?;
    // A node the defaults made there is replaced by the listed one.
    let _ = nix::unistd::unlinkat(&dir, name, nix::unistd::UnlinkatFlags::NoRemoveDir);
    let dev = nix::sys::stat::makedev(d.major, d.minor);
    let mode = Mode::from_bits_truncate(d.mode);
    nix::sys::stat::mknodat(&dir, name, d.kind, mode, dev).map_err(|e| fail("mknod", path, e))?;
    nix::sys::stat::fchmodat(&dir, name, mode, nix::sys::stat::FchmodatFlags::FollowSymlink)
        .map_err(|e| fail("chmod", path, e))?;
    nix::unistd::fchownat(
        &dir,
        name,
        Some(nix::unistd::Uid::from_raw(d.uid)),
        Some(nix::unistd::Gid::from_raw(d.gid)),
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .map_err(|e| fail("chown", path, e))?;
    t.done.mounts.push(format!("mknod {}", d.path));
    Ok(())
}

/// The default devices and links in the container's `/dev`.
fn devices(t: &mut Tree, userns: bool) -> Result<(), SysError> {
    let d = t.point(Path::new("/dev"), Kind::Dir)?;
    let dir = nix::fcntl::openat(&d, ".", OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(|e| fail("open", Path::new("/dev"), e))?;
    let shown = |n: &str| Path::new("/dev").join(n);
    for (n, major, minor) in DEVICES {
        if nix::sys::stat::fstatat(&dir, n, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW).is_ok() {
            continue;
        }
        if userns {
            let node = nix::fcntl::openat(
                &dir,
                n,
                OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                Mode::from_bits_truncate(0o644),
            )
            .map_err(|e| fail("create", &shown(n), e))?;
            drop(node);
            let host = shown(n);
            t.mount_in(host.to_str(), &host.display().to_string(), Kind::File, None, MsFlags::MS_BIND, None)?;
        } else {
            let dev = nix::sys::stat::makedev(major, minor);
            nix::sys::stat::mknodat(&dir, n, SFlag::S_IFCHR, Mode::from_bits_truncate(0o666), dev)
                .map_err(|e| fail("mknod", &shown(n), e))?;
            // mknod obeys the umask: the mode exactly.
            nix::sys::stat::fchmodat(
                &dir,
                n,
                Mode::from_bits_truncate(0o666),
                nix::sys::stat::FchmodatFlags::FollowSymlink,
            )
            .map_err(|e| fail("chmod", &shown(n), e))?;
        }
    }
    for (link, to) in crate::mount::DEV_LINKS {
        match nix::unistd::symlinkat(to, &dir, link) {
            Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
            Err(e) => return Err(fail("symlink", &shown(link), e)),
        }
    }
    Ok(())
}
