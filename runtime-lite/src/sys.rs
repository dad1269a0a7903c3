//! The only place in runtime-lite with `unsafe`: fork, descriptor plumbing, one ioctl, two
//! memory hints and a timed signal wait; `bpf(2)` in [`bpf`]. Each block says why it is sound.

pub mod bpf;

use std::os::fd::{AsRawFd, OwnedFd};

use nix::unistd::ForkResult;

use crate::error::SysError;

/// `fork()`. Sound because every caller is single-threaded at that point (enforce has no
/// threads, nor do the processes of the runtime), so the child cannot inherit a lock held by
/// another thread; the child only continues this program or execs.
pub fn fork() -> nix::Result<ForkResult> {
    // SAFETY: see above: no other thread exists.
    unsafe { nix::unistd::fork() }
}

/// `fork()` into new namespaces: `clone(flags | SIGCHLD)` with no new stack, so the child goes
/// on from here with its own copy of memory, exactly as after `fork`, but already inside the
/// namespaces `flags` create (a new pid namespace makes it PID 1 there). Sound for the same
/// reason as [`fork`]: no other thread exists. The child's copy of glibc's cached thread id
/// is stale; nothing the runtime calls before exec reads it (glibc's `raise`, used by abort,
/// asks the kernel for the id of the calling thread).
pub fn fork_into(flags: nix::sched::CloneFlags) -> nix::Result<ForkResult> {
    let flags = flags.bits() as libc::c_long | libc::c_long::from(libc::SIGCHLD);
    // SAFETY: the raw clone syscall without CLONE_VM, CLONE_SETTLS or a stack: a fork with
    // namespace flags. Both processes return here with separate memory; see above.
    #[cfg(not(target_arch = "s390x"))]
    let r = unsafe { libc::syscall(libc::SYS_clone, flags, 0, 0, 0, 0) };
    // SAFETY: as above; s390x takes the stack first.
    #[cfg(target_arch = "s390x")]
    let r = unsafe { libc::syscall(libc::SYS_clone, 0, flags, 0, 0, 0) };
    match r {
        -1 => Err(nix::errno::Errno::last()),
        0 => Ok(ForkResult::Child),
        pid => Ok(ForkResult::Parent { child: nix::unistd::Pid::from_raw(pid as i32) }),
    }
}

/// `dup2(fd, to)` onto a standard descriptor.
pub fn dup2(fd: &OwnedFd, to: i32) -> Result<(), SysError> {
    // SAFETY: dup2 of an open descriptor we own onto 0, 1 or 2 of this process.
    if unsafe { libc::dup2(fd.as_raw_fd(), to) } < 0 {
        return Err(SysError::io(format!("dup2 onto fd {to}"), std::io::Error::last_os_error()));
    }
    Ok(())
}

/// Close stdout and stderr (so a reader of the pipes behind them sees end-of-file).
pub fn close_stdout_stderr() {
    // SAFETY: closing two descriptors of this process; nothing in Rust owns them.
    unsafe {
        libc::close(1);
        libc::close(2);
    }
}

/// Set IFF_UP|IFF_RUNNING on the interface `lo`.
pub fn loopback_up() -> Result<(), SysError> {
    // SAFETY: a datagram socket we close below; `ifreq` is a plain C struct we own and
    // initialise (name NUL-terminated within its 16 bytes).
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(SysError::io("socket", std::io::Error::last_os_error()));
        }
        let mut req: libc::ifreq = std::mem::zeroed();
        for (i, b) in b"lo\0".iter().enumerate() {
            req.ifr_name[i] = *b as libc::c_char;
        }
        let mut result = Ok(());
        if libc::ioctl(fd, libc::SIOCGIFFLAGS as _, &mut req) < 0 {
            result = Err(SysError::io("SIOCGIFFLAGS lo", std::io::Error::last_os_error()));
        } else {
            req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
            if libc::ioctl(fd, libc::SIOCSIFFLAGS as _, &req) < 0 {
                result = Err(SysError::io("SIOCSIFFLAGS lo", std::io::Error::last_os_error()));
            }
        }
        libc::close(fd);
        result
    }
}

/// Return free heap pages to the kernel.
pub fn malloc_trim() {
    // SAFETY: malloc_trim only releases pages the allocator holds free.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Drop this process's pages of a private, never-modified file mapping (executable text):
/// they are re-read from the file on the next access.
pub fn drop_text_pages(start: usize, len: usize) {
    // SAFETY: the caller passes one of our own `r-xp` file mappings (from /proc/self/maps);
    // its pages equal the file's, so dropping them loses nothing.
    unsafe {
        libc::madvise(start as *mut libc::c_void, len, libc::MADV_DONTNEED);
    }
}

/// `sigtimedwait`: the next signal of `set` (which must be blocked), or `None` once `timeout`
/// has passed (or on an interruption, which the caller treats the same).
pub fn sigtimedwait(set: &nix::sys::signal::SigSet, timeout: std::time::Duration) -> Option<i32> {
    let ts = libc::timespec {
        tv_sec: timeout.as_secs().try_into().unwrap_or(libc::time_t::MAX),
        tv_nsec: timeout.subsec_nanos().into(),
    };
    // SAFETY: both pointers are to live values of the types the call expects; the siginfo
    // out-parameter is optional and passed as null.
    let r = unsafe { libc::sigtimedwait(set.as_ref(), std::ptr::null_mut(), &ts) };
    (r > 0).then_some(r)
}

/// `OPEN_TREE_CLONE` (a detached copy of the mount tree).
const OPEN_TREE_CLONE: libc::c_uint = 1;
/// `MOVE_MOUNT_F_EMPTY_PATH` (the source is the descriptor itself).
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;
/// `MOVE_MOUNT_T_EMPTY_PATH` (the target is the descriptor itself).
const MOVE_MOUNT_T_EMPTY_PATH: libc::c_uint = 0x40;
/// `MOUNT_ATTR_IDMAP`.
const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;

/// `struct mount_attr` (`MOUNT_ATTR_SIZE_VER0`).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

fn path_c(path: &std::path::Path) -> Result<std::ffi::CString, SysError> {
    use std::os::unix::ffi::OsStrExt;
    std::ffi::CString::new(path.as_os_str().as_bytes()).map_err(|_| {
        SysError::errno(format!("{}: a NUL byte in the path", path.display()), nix::errno::Errno::EINVAL)
    })
}

/// `open_tree(path, OPEN_TREE_CLONE | O_CLOEXEC [| AT_RECURSIVE])`: a detached copy of the
/// mount at `path` (`recursive`: with the mounts beneath it), opened by this process (so a
/// path only it may walk is fine), to be attached elsewhere (in another mount namespace) with
/// [`attach_tree`].
pub fn clone_tree(path: &std::path::Path, recursive: bool) -> Result<OwnedFd, SysError> {
    use std::os::fd::FromRawFd;
    let c = path_c(path)?;
    let mut flags = OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint;
    if recursive {
        flags |= libc::AT_RECURSIVE as libc::c_uint;
    }
    // SAFETY: `c` is a NUL-terminated path that outlives the call; the kernel returns a new
    // descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, c.as_ptr(), flags) };
    if fd < 0 {
        return Err(SysError::errno(format!("open_tree {}", path.display()), nix::errno::Errno::last()));
    }
    // SAFETY: the kernel just returned this descriptor, owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// `move_mount(tree, "", AT_FDCWD, to, MOVE_MOUNT_F_EMPTY_PATH)`: attach a detached tree.
pub fn attach_tree(tree: &OwnedFd, to: &std::path::Path) -> Result<(), SysError> {
    let c = path_c(to)?;
    // SAFETY: both strings are NUL-terminated and outlive the call; `tree` is open.
    let r = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            tree.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_FDCWD,
            c.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH,
        )
    };
    if r < 0 {
        return Err(SysError::errno(format!("move_mount to {}", to.display()), nix::errno::Errno::last()));
    }
    Ok(())
}

/// `move_mount(tree, "", at, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH)`: attach a
/// detached tree on the directory or file `at` is open on (an `O_PATH` descriptor found
/// inside a root: no path is walked again).
pub fn attach_tree_at(tree: &OwnedFd, at: &OwnedFd) -> Result<(), SysError> {
    // SAFETY: the empty strings are NUL-terminated and static; both descriptors are open.
    let r = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            tree.as_raw_fd(),
            c"".as_ptr(),
            at.as_raw_fd(),
            c"".as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
        )
    };
    if r < 0 {
        return Err(SysError::errno("move_mount", nix::errno::Errno::last()));
    }
    Ok(())
}

/// `mount_setattr(tree, "", AT_EMPTY_PATH [| AT_RECURSIVE], MOUNT_ATTR_IDMAP with userns)`:
/// the detached tree (`recursive`: every mount in it) shows its files' owners through the
/// mapping of the user namespace `userns`.
pub fn idmap_tree(tree: &OwnedFd, userns: &impl AsRawFd, recursive: bool) -> Result<(), SysError> {
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_IDMAP,
        attr_clr: 0,
        propagation: 0,
        userns_fd: userns.as_raw_fd() as u64,
    };
    let flags = libc::AT_EMPTY_PATH | if recursive { libc::AT_RECURSIVE } else { 0 };
    // SAFETY: `attr` is a valid `struct mount_attr` of the size passed, living across the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            tree.as_raw_fd(),
            c"".as_ptr(),
            flags,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if r < 0 {
        return Err(SysError::errno("mount_setattr MOUNT_ATTR_IDMAP", nix::errno::Errno::last()));
    }
    Ok(())
}

/// A descriptor the kernel installed in this process (`SCM_RIGHTS`), now owned.
pub fn received(fd: std::os::fd::RawFd) -> OwnedFd {
    use std::os::fd::FromRawFd;
    // SAFETY: the kernel just installed `fd` in this process for the caller alone; nothing
    // else owns or closes it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// `ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC)`: the terminal's peer end,
/// opened through the master (never by a path in the container's `/dev/pts`).
pub fn pty_peer(master: std::os::fd::RawFd) -> Result<OwnedFd, SysError> {
    let flags = libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC;
    // SAFETY: TIOCGPTPEER takes the open flags by value and returns a new descriptor.
    let fd = unsafe { libc::ioctl(master, libc::TIOCGPTPEER, flags) };
    if fd < 0 {
        return Err(SysError::errno("TIOCGPTPEER", nix::errno::Errno::last()));
    }
    Ok(received(fd))
}

/// `ioctl(fd, TIOCSCTTY, 0)`: `fd` becomes the calling session leader's controlling terminal.
pub fn make_controlling(fd: std::os::fd::RawFd) -> Result<(), SysError> {
    // SAFETY: TIOCSCTTY takes an integer argument (0: do not steal).
    if unsafe { libc::ioctl(fd, libc::TIOCSCTTY, 0) } < 0 {
        return Err(SysError::errno("TIOCSCTTY", nix::errno::Errno::last()));
    }
    Ok(())
}

/// Give terminal `to` the window size of terminal `from`, if `from` is one.
pub fn copy_window_size(from: std::os::fd::RawFd, to: std::os::fd::RawFd) {
    let mut ws = libc::winsize { ws_row: 0, ws_col: 0, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: TIOCGWINSZ writes a `struct winsize` into `ws`, TIOCSWINSZ reads one from it.
    unsafe {
        if libc::ioctl(from, libc::TIOCGWINSZ, &mut ws) == 0 {
            libc::ioctl(to, libc::TIOCSWINSZ, &ws);
        }
    }
}

/// Set the window size of terminal `fd`.
pub fn set_winsize(fd: std::os::fd::RawFd, ws: &libc::winsize) -> Result<(), SysError> {
    // SAFETY: TIOCSWINSZ reads a `struct winsize` from the pointer, which `ws` is.
    if unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, ws as *const libc::winsize) } < 0 {
        return Err(SysError::errno("TIOCSWINSZ", nix::errno::Errno::last()));
    }
    Ok(())
}

/// `keyctl(KEYCTL_JOIN_SESSION_KEYRING, name)`: this process's session keyring becomes the
/// one named `name` that it may search, or a new one of that name; its serial.
pub fn join_session_keyring(name: &str) -> Result<i32, SysError> {
    let c = std::ffi::CString::new(name)
        .map_err(|_| SysError::errno("keyring name with a NUL byte", nix::errno::Errno::EINVAL))?;
    // SAFETY: KEYCTL_JOIN_SESSION_KEYRING (1) reads a NUL-terminated name that outlives the call.
    let r = unsafe { libc::syscall(libc::SYS_keyctl, 1, c.as_ptr()) };
    if r < 0 {
        return Err(SysError::errno(format!("join the session keyring {name}"), nix::errno::Errno::last()));
    }
    Ok(r as i32)
}

/// Add permission bits `add` to key `serial` (`KEYCTL_DESCRIBE` for its mask, then
/// `KEYCTL_SETPERM`).
pub fn add_key_permissions(serial: i32, add: u32) -> Result<(), SysError> {
    let mut buf = [0u8; 256];
    // SAFETY: KEYCTL_DESCRIBE (6) writes at most `buf.len()` bytes into `buf`.
    let n = unsafe { libc::syscall(libc::SYS_keyctl, 6, serial, buf.as_mut_ptr(), buf.len()) };
    if n < 0 {
        return Err(SysError::errno("describe the session keyring", nix::errno::Errno::last()));
    }
    // "type;uid;gid;perm;description", perm in hex.
    let text = String::from_utf8_lossy(&buf[..(n as usize).min(buf.len())]).to_string();
    let perm = text.split(';').nth(3).and_then(|p| u32::from_str_radix(p, 16).ok()).ok_or_else(|| {
        SysError::errno(format!("the session keyring's description `{text}`"), nix::errno::Errno::EINVAL)
    })?;
    // SAFETY: KEYCTL_SETPERM (5) takes a serial and a mask by value.
    if unsafe { libc::syscall(libc::SYS_keyctl, 5, serial, perm | add) } < 0 {
        return Err(SysError::errno("set the session keyring's permissions", nix::errno::Errno::last()));
    }
    Ok(())
}

/// `openat2(root, path, flags, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)` (the enforcer's:
/// image, container and recorder paths are all looked up this one way).
pub use enforcer::sys::process::open_in_root;

/// Overwrite this process's command line (what `/proc/PID/cmdline` and `ps` show) and its
/// name with `name`: PID 1 is a copy of the launcher, whose arguments (profile paths, the
/// command) are no business of the container's processes.
pub fn set_cmdline(name: &str) {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return };
    let Some(close) = stat.rfind(')') else { return };
    // Fields 48 and 49 (arg_start, arg_end); field 3 is the first after the name.
    let mut fields = stat[close + 2..].split_whitespace().skip(45);
    let (Some(Ok(start)), Some(Ok(end))) =
        (fields.next().map(str::parse::<usize>), fields.next().map(str::parse::<usize>))
    else {
        return;
    };
    if end <= start || start == 0 {
        return;
    }
    let len = end - start;
    let n = name.len().min(len - 1);
    // SAFETY: [arg_start, arg_end) is this process's own argument area (on its stack, writable,
    // as setproctitle uses it); nothing reads the old arguments after this (the workload's are
    // owned copies). The name is copied in and the rest cleared, ending with a NUL.
    unsafe {
        std::ptr::write_bytes(start as *mut u8, 0, len);
        std::ptr::copy_nonoverlapping(name.as_ptr(), start as *mut u8, n);
    }
    if let Ok(c) = std::ffi::CString::new(name) {
        let _ = nix::sys::prctl::set_name(&c);
    }
}

/// Let `cmd`'s process start with no signal blocked (the launcher blocks the ones it
/// forwards, and a spawned helper such as pasta would inherit that mask and ignore them).
pub fn spawn_unblocked(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs in the child between fork and exec and only calls
    // sigprocmask, which is async-signal-safe; it touches no memory of the parent's.
    unsafe {
        cmd.pre_exec(|| {
            let empty = nix::sys::signal::SigSet::empty();
            nix::sys::signal::sigprocmask(nix::sys::signal::SigmaskHow::SIG_SETMASK, Some(&empty), None)
                .map_err(std::io::Error::from)
        });
    }
}
