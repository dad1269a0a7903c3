//! Seccomp user notification for the recorder: `fork`, the listener descriptor taken from the
//! child (`pidfd_open` + `pidfd_getfd`), and one notification received and let through
//! (`SECCOMP_IOCTL_NOTIF_RECV`, `SECCOMP_IOCTL_NOTIF_SEND` with
//! `SECCOMP_USER_NOTIF_FLAG_CONTINUE`).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use super::errno;

/// What a notification says: who made which call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Notification {
    /// The kernel's id of this notification (for the answer).
    pub id: u64,
    /// The calling thread's id.
    pub pid: u32,
    /// `AUDIT_ARCH_*` of the call.
    pub arch: u32,
    /// The system call number on that arch.
    pub nr: i32,
    /// Its arguments.
    pub args: [u64; 6],
}

/// `fork()`: `Ok(None)` in the child, `Ok(Some(pid))` in the parent. The caller is
/// single-threaded (`enforce` has no threads), so the child inherits no held lock.
pub fn fork() -> Result<Option<i32>, i32> {
    // SAFETY: fork in a single-threaded process; both sides return here.
    match unsafe { libc::fork() } {
        -1 => Err(errno()),
        0 => Ok(None),
        pid => Ok(Some(pid)),
    }
}

/// Put a copy of `fd` at number `at`, close-on-exec (`dup3`).
pub fn place(fd: &OwnedFd, at: i32) -> Result<(), i32> {
    // SAFETY: dup3 on a descriptor this process owns; `at` is replaced, as intended.
    if unsafe { libc::dup3(fd.as_raw_fd(), at, libc::O_CLOEXEC) } < 0 {
        return Err(errno());
    }
    Ok(())
}

/// `write(at, bytes)` on a descriptor number placed by [`place`]: how many bytes went.
pub fn write_at(at: i32, bytes: &[u8]) -> Result<usize, i32> {
    // SAFETY: write reads `bytes.len()` bytes from `bytes`.
    let n = unsafe { libc::write(at, bytes.as_ptr().cast(), bytes.len()) };
    usize::try_from(n).map_err(|_| errno())
}

/// `read(at, buf)` on a descriptor number placed by [`place`]: how many bytes came.
pub fn read_at(at: i32, buf: &mut [u8]) -> Result<usize, i32> {
    // SAFETY: read writes at most `buf.len()` bytes into `buf`.
    let n = unsafe { libc::read(at, buf.as_mut_ptr().cast(), buf.len()) };
    usize::try_from(n).map_err(|_| errno())
}

/// A control message buffer, aligned as a `cmsghdr` (room for one descriptor's).
#[repr(C, align(8))]
struct Control([u8; 64]);

/// A message of one byte (`iov`) with room for one descriptor in `control`. The pointers it
/// holds are `iov`'s and `control`'s: they must outlive its use.
fn one_fd_message(iov: &mut libc::iovec, control: &mut Control) -> libc::msghdr {
    // SAFETY: CMSG_SPACE computes a size from a constant.
    let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<i32>() as u32) } as usize;
    // SAFETY: an all-zero msghdr is valid.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.0.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    msg
}

/// Send descriptor `fd` over the socket at number `at` (`SCM_RIGHTS`, with one byte). Makes
/// system calls only: the recording filter is installed when it is called.
pub fn send_fd(at: i32, fd: i32) -> Result<(), i32> {
    let byte = [b'l'];
    let mut iov = libc::iovec { iov_base: byte.as_ptr() as *mut libc::c_void, iov_len: 1 };
    // On the stack, aligned for a `cmsghdr`: nothing is allocated while the caller waits.
    let mut control = Control([0u8; 64]);
    let msg = one_fd_message(&mut iov, &mut control);
    // SAFETY: `msg` has a control buffer of CMSG_SPACE(sizeof fd) bytes: CMSG_FIRSTHDR is
    // within it, and CMSG_DATA has room for one descriptor.
    unsafe {
        let c = libc::CMSG_FIRSTHDR(&msg);
        (*c).cmsg_level = libc::SOL_SOCKET;
        (*c).cmsg_type = libc::SCM_RIGHTS;
        (*c).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<i32>() as u32) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(c).cast::<i32>(), fd);
    }
    // SAFETY: sendmsg reads `msg` and what it points to.
    if unsafe { libc::sendmsg(at, &msg, libc::MSG_NOSIGNAL) } != 1 {
        return Err(errno());
    }
    Ok(())
}

/// Receive a descriptor sent by [`send_fd`] on `sock` (`Err(0)`: the other side closed first).
pub fn recv_fd(sock: &OwnedFd) -> Result<OwnedFd, i32> {
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec { iov_base: byte.as_mut_ptr().cast(), iov_len: 1 };
    let mut control = Control([0u8; 64]);
    let mut msg = one_fd_message(&mut iov, &mut control);
    loop {
        // SAFETY: recvmsg writes at most the sizes `msg` gives into the buffers it points to.
        let n = unsafe { libc::recvmsg(sock.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
        match n {
            1 => break,
            0 => return Err(0),
            _ if errno() == libc::EINTR => continue,
            _ => return Err(errno()),
        }
    }
    // SAFETY: the kernel filled `control` (msg_controllen says how much): CMSG_FIRSTHDR is
    // null or a header within it.
    unsafe {
        let c = libc::CMSG_FIRSTHDR(&msg);
        if c.is_null() || (*c).cmsg_level != libc::SOL_SOCKET || (*c).cmsg_type != libc::SCM_RIGHTS {
            return Err(libc::EPROTO);
        }
        let fd = OwnedFd::from_raw_fd(std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<i32>()));
        if msg.msg_flags & libc::MSG_CTRUNC != 0 {
            return Err(libc::EPROTO);
        }
        Ok(fd)
    }
}

/// SIGINT and SIGTERM, the signals that stop a recording.
fn interrupts() -> libc::sigset_t {
    // SAFETY: sigemptyset and sigaddset fill the set they are given.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        set
    }
}

/// Block SIGINT and SIGTERM in this process (the recorder: Ctrl-C stops the command, and the
/// recorder goes on to write what it saw; [`interrupted`] says whether one came).
pub fn block_interrupts() -> Result<(), i32> {
    let set = interrupts();
    // SAFETY: sigprocmask reads `set` and changes this thread's mask only.
    if unsafe { libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) } < 0 {
        return Err(errno());
    }
    Ok(())
}

/// Whether a SIGINT or SIGTERM is pending (blocked by [`block_interrupts`]).
pub fn interrupted() -> bool {
    // SAFETY: an all-zero sigset_t is valid; sigpending fills it; sigismember reads it.
    unsafe {
        let mut pending: libc::sigset_t = std::mem::zeroed();
        if libc::sigpending(&mut pending) < 0 {
            return false;
        }
        libc::sigismember(&pending, libc::SIGINT) == 1 || libc::sigismember(&pending, libc::SIGTERM) == 1
    }
}

/// A copy of descriptor `fd` of process `pid` (`pidfd_open` + `pidfd_getfd`).
pub fn take_fd(pid: i32, fd: i32) -> Result<OwnedFd, i32> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if pidfd < 0 {
        return Err(errno());
    }
    // SAFETY: the kernel just returned this descriptor, owned by nobody else.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd as i32) };
    // SAFETY: pidfd_getfd takes a pidfd, a descriptor number and flags; returns a new
    // descriptor (close-on-exec) or -1.
    let got = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), fd, 0) };
    if got < 0 {
        return Err(errno());
    }
    // SAFETY: as above.
    Ok(unsafe { OwnedFd::from_raw_fd(got as i32) })
}

/// Read `len` bytes at `addr` in process `pid` (`process_vm_readv`): a recording's look at a
/// call's memory argument (the call waits for the answer meanwhile).
pub fn read_memory(pid: u32, addr: u64, len: usize) -> Result<Vec<u8>, i32> {
    let mut buf = vec![0u8; len];
    let local = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: len };
    let remote = libc::iovec { iov_base: addr as *mut libc::c_void, iov_len: len };
    // SAFETY: `local` describes `buf`, which lives across the call; the kernel checks the
    // remote range against the other process's memory and writes at most `len` bytes here.
    let n = unsafe { libc::process_vm_readv(pid as libc::pid_t, &local, 1, &remote, 1, 0) };
    let n = usize::try_from(n).map_err(|_| errno())?;
    buf.truncate(n);
    Ok(buf)
}

/// The NUL-terminated string at `addr` in process `pid` (at most `max` bytes; read a page at a
/// time, so a string that ends just before unmapped memory is still read). `None` when the
/// memory cannot be read or no NUL comes within `max`.
pub fn read_cstring(pid: u32, addr: u64, max: usize) -> Option<Vec<u8>> {
    const PAGE: u64 = 4096;
    let mut out = Vec::new();
    let mut at = addr;
    while out.len() < max {
        let chunk = usize::try_from(PAGE - at % PAGE).ok()?.min(max - out.len());
        let got = read_memory(pid, at, chunk).ok()?;
        if let Some(end) = got.iter().position(|b| *b == 0) {
            out.extend_from_slice(&got[..end]);
            return Some(out);
        }
        if got.len() < chunk {
            return None;
        }
        out.extend_from_slice(&got);
        at += chunk as u64;
    }
    None
}

/// Receive the next notification (blocks). `Err(ENOENT)`: the caller died before it was read.
pub fn receive(listener: &OwnedFd) -> Result<Notification, i32> {
    // SAFETY: an all-zero `seccomp_notif` is valid, and the kernel requires it zeroed.
    let mut n: libc::seccomp_notif = unsafe { std::mem::zeroed() };
    // SAFETY: SECCOMP_IOCTL_NOTIF_RECV writes one `seccomp_notif` into `n`.
    let r = unsafe { libc::ioctl(listener.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_RECV, &mut n) };
    if r < 0 {
        return Err(errno());
    }
    Ok(Notification { id: n.id, pid: n.pid, arch: n.data.arch, nr: n.data.nr, args: n.data.args })
}

/// Fail the call of notification `id` with `errno`.
pub fn answer(listener: &OwnedFd, id: u64, errno: i32) -> Result<(), i32> {
    let mut resp = libc::seccomp_notif_resp { id, val: 0, error: -errno, flags: 0 };
    // SAFETY: SECCOMP_IOCTL_NOTIF_SEND reads one `seccomp_notif_resp` from `resp`.
    let r = unsafe { libc::ioctl(listener.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_SEND, &mut resp) };
    if r < 0 {
        return Err(super::errno());
    }
    Ok(())
}

/// Let the call of notification `id` run as if no filter had asked (`FLAG_CONTINUE`).
/// `Err(ENOENT)`: the caller is gone (killed, or the call interrupted).
pub fn let_through(listener: &OwnedFd, id: u64) -> Result<(), i32> {
    let mut resp = libc::seccomp_notif_resp {
        id,
        val: 0,
        error: 0,
        flags: libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32,
    };
    // SAFETY: SECCOMP_IOCTL_NOTIF_SEND reads one `seccomp_notif_resp` from `resp`.
    let r = unsafe { libc::ioctl(listener.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_SEND, &mut resp) };
    if r < 0 {
        return Err(errno());
    }
    Ok(())
}
