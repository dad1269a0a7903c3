//! The only place in runtime-lite with `unsafe`: fork, descriptor plumbing, one ioctl, two
//! memory hints and a timed signal wait. Each block says why it is sound.

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
