//! `-t`: the workload's pseudo-terminal, as Docker gives one. PID 1 opens it in the
//! container's own devpts (so `tty` names it inside, `/dev/pts/0`), the workload takes the
//! peer end as its controlling terminal and stdio, and the master end goes to the launcher over
//! a socket (`SCM_RIGHTS`); the launcher relays it to its own stdout (and, with `-i`, its stdin
//! to it, in raw mode when stdin is a terminal, the window size kept in step) until the
//! workload is gone. Detached, the keeper's stdout is the log.

use std::io::{IoSlice, IoSliceMut, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use nix::sys::socket::{
    recvmsg, sendmsg, socketpair, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag,
    SockType,
};
use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg, Termios};

use crate::error::SysError;

/// The two ends of the socket the master end travels over: the launcher keeps the first,
/// PID 1 the second.
pub fn channel() -> Result<(OwnedFd, OwnedFd), SysError> {
    socketpair(AddressFamily::Unix, SockType::Stream, None, SockFlag::SOCK_CLOEXEC)
        .map_err(|e| SysError::errno("socketpair for the terminal", e))
}

/// A new terminal in the `/dev` this process sees: (master, peer).
pub fn open_here() -> Result<(OwnedFd, OwnedFd), SysError> {
    let flags = nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_NOCTTY | nix::fcntl::OFlag::O_CLOEXEC;
    let master = nix::pty::posix_openpt(flags).map_err(|e| SysError::errno("open /dev/ptmx", e))?;
    nix::pty::grantpt(&master).map_err(|e| SysError::errno("grantpt", e))?;
    nix::pty::unlockpt(&master).map_err(|e| SysError::errno("unlockpt", e))?;
    let peer = crate::sys::pty_peer(master.as_raw_fd())?;
    Ok((OwnedFd::from(master), peer))
}

/// In PID 1, with the container's `/dev` in place: a new terminal; the master end is sent to
/// the launcher over `to`, the peer end returned (for the workload).
pub fn open(to: &OwnedFd) -> Result<OwnedFd, SysError> {
    let (master, peer) = open_here()?;
    let fds = [master.as_raw_fd()];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    sendmsg::<()>(to.as_raw_fd(), &[IoSlice::new(b"t")], &cmsg, MsgFlags::empty(), None)
        .map_err(|e| SysError::errno("send the terminal to the launcher", e))?;
    Ok(peer)
}

/// In the workload, before the policy is applied: a session of its own whose controlling
/// terminal is `peer`, which becomes its stdin, stdout and stderr.
pub fn take(peer: &OwnedFd) -> Result<(), SysError> {
    // PID 1 leads a session already (it execs the workload itself with `init: false`).
    if nix::unistd::getsid(None).ok() != Some(nix::unistd::getpid()) {
        nix::unistd::setsid().map_err(|e| SysError::errno("setsid", e))?;
    }
    crate::sys::make_controlling(peer.as_raw_fd())?;
    for fd in 0..3 {
        crate::sys::dup2(peer, fd)?;
    }
    Ok(())
}

/// In the launcher: the master end PID 1 sends (`None` when PID 1 ended first: it says why
/// on its status channel).
pub fn receive(from: &OwnedFd) -> Option<OwnedFd> {
    let mut byte = [0u8; 1];
    let mut iov = [IoSliceMut::new(&mut byte)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(from.as_raw_fd(), &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC).ok()?;
    // Every descriptor received is owned (and so closed) here; the first is the terminal.
    let mut fds: Vec<OwnedFd> = Vec::new();
    for c in msg.cmsgs().ok()? {
        if let ControlMessageOwned::ScmRights(raw) = c {
            fds.extend(raw.into_iter().map(crate::sys::received));
        }
    }
    if msg.flags.contains(MsgFlags::MSG_CTRUNC) || fds.len() != 1 {
        return None;
    }
    fds.pop()
}

/// The launcher's side of a terminal: what it relays, and the terminal mode to put back.
pub struct Relay {
    master: std::fs::File,
    /// Relay stdin too (`-i`).
    pub input: bool,
    /// stdin's mode before raw mode, restored on drop.
    saved: Option<Termios>,
}

impl Relay {
    /// Start relaying `master`; with `input`, stdin too (raw mode when it is a terminal).
    pub fn new(master: OwnedFd, input: bool) -> Relay {
        let stdin = std::io::stdin();
        let saved = if input { tcgetattr(stdin.as_fd()).ok() } else { None };
        if let Some(mode) = &saved {
            let mut raw = mode.clone();
            cfmakeraw(&mut raw);
            let _ = tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw);
        }
        let relay = Relay { master: std::fs::File::from(master), input, saved };
        relay.resize();
        relay
    }

    /// Two more handles on the master end: one to read the workload's output from, one to
    /// write its input to (for a relay by threads).
    pub fn ends(&self) -> std::io::Result<(std::fs::File, std::fs::File)> {
        Ok((self.master.try_clone()?, self.master.try_clone()?))
    }

    /// The master end, to poll.
    pub fn master(&self) -> BorrowedFd<'_> {
        self.master.as_fd()
    }

    /// Give the workload's terminal the size of ours (at start, and on SIGWINCH).
    pub fn resize(&self) {
        crate::sys::copy_window_size(0, self.master.as_raw_fd());
    }

    /// Copy what the workload wrote to stdout; `false` once it is gone.
    pub fn output(&mut self) -> bool {
        let mut buf = [0u8; 8192];
        match self.master.read(&mut buf) {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(&buf[..n]).and_then(|()| out.flush());
                true
            }
        }
    }

    /// Copy what was typed to the workload; `false` at the end of stdin.
    pub fn input(&mut self) -> bool {
        let mut buf = [0u8; 4096];
        match std::io::stdin().lock().read(&mut buf) {
            Ok(0) | Err(_) => false,
            Ok(n) => self.master.write_all(&buf[..n]).is_ok(),
        }
    }

    /// Copy whatever the workload left in the terminal (it has exited).
    pub fn drain(&mut self) {
        let _ = nix::fcntl::fcntl(&self.master, nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK));
        while self.output() {}
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        if let Some(mode) = &self.saved {
            let _ = tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, mode);
        }
    }
}
