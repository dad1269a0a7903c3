//! The container's mount tree, built by PID 1 inside the new user and mount namespaces:
//! private propagation, the root bind-mounted, /proc, a minimal /dev, /sys read-only (when the
//! network namespace is ours), the profile's mounts, pivot_root with the old root detached,
//! then masked and read-only paths and a read-only root.

use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::statvfs::{statvfs, FsFlags};
use policy::ir::{IsolationIr, MountIr};

/// Device nodes bind-mounted from the host into /dev.
pub const DEVICES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];

fn err(what: &str, path: &Path, e: impl std::fmt::Display) -> String {
    format!("{what} {}: {e}", path.display())
}

fn mnt(
    src: Option<&str>,
    target: &Path,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> Result<(), String> {
    mount(src, target, fstype, flags, data)
        .map_err(|e| err(&format!("mount {}", fstype.or(src).unwrap_or("")), target, e))
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

/// Make the mount at `path` read-only.
pub fn remount_readonly(path: &Path) -> Result<(), String> {
    let flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | locked_flags(path);
    mount(None::<&str>, path, None::<&str>, flags, None::<&str>)
        .map_err(|e| err("remount read-only", path, e))
}

fn need_dir(p: &Path) -> Result<(), String> {
    if p.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(p).map_err(|e| err("missing mount point (create it in the rootfs)", p, e))
}

fn need_file(p: &Path) -> Result<(), String> {
    if p.exists() {
        return Ok(());
    }
    std::fs::write(p, b"").map_err(|e| err("missing mount point (create it in the rootfs)", p, e))
}

fn inside(root: &Path, target: &str) -> PathBuf {
    root.join(target.trim_start_matches('/'))
}

fn user_mount(root: &Path, m: &MountIr) -> Result<(), String> {
    let target = inside(root, &m.target);
    match m.kind.as_str() {
        "bind" => {
            let src = m.source.as_deref().unwrap_or("");
            if Path::new(src).is_dir() {
                need_dir(&target)?;
            } else {
                need_file(&target)?;
            }
            mnt(Some(src), &target, None, MsFlags::MS_BIND | MsFlags::MS_REC, None)?;
            if m.readonly {
                remount_readonly(&target)?;
            }
        }
        _ => {
            need_dir(&target)?;
            let data = m.size.map(|s| format!("size={s},mode=1777")).unwrap_or_else(|| "mode=1777".into());
            let mut flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
            if m.readonly {
                flags |= MsFlags::MS_RDONLY;
            }
            mnt(Some("tmpfs"), &target, Some("tmpfs"), flags, Some(&data))?;
        }
    }
    Ok(())
}

fn dev(root: &Path) -> Result<(), String> {
    let d = root.join("dev");
    need_dir(&d)?;
    mnt(
        Some("tmpfs"),
        &d,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some("mode=755,size=65536"),
    )?;
    for n in DEVICES {
        let host = Path::new("/dev").join(n);
        if !host.exists() {
            continue;
        }
        let t = d.join(n);
        std::fs::write(&t, b"").map_err(|e| err("create", &t, e))?;
        mnt(Some(host.to_str().unwrap_or("")), &t, None, MsFlags::MS_BIND, None)?;
    }
    let pts = d.join("pts");
    std::fs::create_dir(&pts).map_err(|e| err("mkdir", &pts, e))?;
    mnt(
        Some("devpts"),
        &pts,
        Some("devpts"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some("newinstance,ptmxmode=0666,mode=620"),
    )?;
    let shm = d.join("shm");
    std::fs::create_dir(&shm).map_err(|e| err("mkdir", &shm, e))?;
    mnt(
        Some("tmpfs"),
        &shm,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("mode=1777,size=65536k"),
    )?;
    for (link, to) in [
        ("ptmx", "pts/ptmx"),
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        std::os::unix::fs::symlink(to, d.join(link)).map_err(|e| err("symlink", &d.join(link), e))?;
    }
    Ok(())
}

/// What could not be set up but was optional.
pub type Notes = Vec<String>;

/// Build the tree under `rootfs` (or the host root) and pivot into it.
pub fn setup(iso: &IsolationIr, rootfs: Option<&Path>, new_netns: bool) -> Result<Notes, String> {
    let mut notes = Vec::new();
    mnt(None, Path::new("/"), None, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None)?;
    let root: PathBuf = match rootfs {
        Some(r) => r.to_path_buf(),
        None => {
            // The host root, through a staging tmpfs (pivot_root needs a mount point that is not /).
            let stage = Path::new("/tmp");
            mnt(
                Some("tmpfs"),
                stage,
                Some("tmpfs"),
                MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
                Some("mode=700"),
            )?;
            let r = stage.join("root");
            std::fs::create_dir(&r).map_err(|e| err("mkdir", &r, e))?;
            mnt(Some("/"), &r, None, MsFlags::MS_BIND | MsFlags::MS_REC, None)?;
            r
        }
    };
    if !root.is_dir() {
        return Err(format!("rootfs {} is not a directory", root.display()));
    }
    mnt(Some(root.to_str().unwrap_or("")), &root, None, MsFlags::MS_BIND | MsFlags::MS_REC, None)?;
    let proc_dir = root.join("proc");
    need_dir(&proc_dir)?;
    mnt(
        Some("proc"),
        &proc_dir,
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None,
    )?;
    dev(&root)?;
    let sys = root.join("sys");
    if sys.is_dir() {
        let ro = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC | MsFlags::MS_RDONLY;
        if !new_netns || mnt(Some("sysfs"), &sys, Some("sysfs"), ro, None).is_err() {
            notes.push("/sys left empty (sysfs needs a network namespace of our own)".into());
        }
    }
    for m in &iso.mounts {
        user_mount(&root, m)?;
    }
    std::env::set_current_dir(&root).map_err(|e| err("chdir", &root, e))?;
    nix::unistd::pivot_root(".", ".").map_err(|e| err("pivot_root", &root, e))?;
    umount2(".", MntFlags::MNT_DETACH).map_err(|e| format!("detach the old root: {e}"))?;
    std::env::set_current_dir("/").map_err(|e| format!("chdir /: {e}"))?;
    for p in &iso.masked_paths {
        let path = Path::new(p);
        match std::fs::symlink_metadata(path) {
            Ok(m) if m.is_dir() => {
                mnt(Some("tmpfs"), path, Some("tmpfs"), MsFlags::MS_RDONLY, Some("size=0"))?
            }
            Ok(_) => mnt(Some("/dev/null"), path, None, MsFlags::MS_BIND, None)?,
            Err(_) => {}
        }
    }
    for p in &iso.readonly_paths {
        let path = Path::new(p);
        // A path on a mount that is read-only already (/sys, mounted so above) needs nothing.
        let readonly = statvfs(path).is_ok_and(|st| st.flags().contains(FsFlags::ST_RDONLY));
        if path.exists() && !readonly {
            mnt(Some(p), path, None, MsFlags::MS_BIND | MsFlags::MS_REC, None)?;
            remount_readonly(path)?;
        }
    }
    if iso.readonly_rootfs {
        remount_readonly(Path::new("/"))?;
    }
    Ok(notes)
}
