//! The stdio of a command `enforce exec` runs in a container: pipes (or a terminal of the
//! container's own) that the command gets with a session of its own, and the relay that copies
//! them to and from `enforce exec`'s own stdio. The caller's descriptors never reach the
//! container.

use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::unistd::Pid;

use crate::console::{self, Relay};
use crate::error::SysError;
use crate::shim;

/// The command's stdio: pipes whose other ends this process relays, or a terminal.
pub(crate) enum Stdio {
    Pipes { stdin: Option<(OwnedFd, OwnedFd)>, stdout: (OwnedFd, OwnedFd), stderr: (OwnedFd, OwnedFd) },
    Terminal { master: OwnedFd, peer: OwnedFd },
}

/// In the command's process: a session of its own and the stdio made for it.
pub(crate) fn take(stdio: &Stdio) -> Result<(), SysError> {
    match stdio {
        Stdio::Terminal { peer, .. } => console::take(peer),
        Stdio::Pipes { stdin, stdout, stderr } => {
            nix::unistd::setsid().map_err(|e| SysError::errno("setsid", e))?;
            let null;
            let input = match stdin {
                Some((read, _)) => read,
                None => {
                    null = std::fs::File::open("/dev/null")
                        .map(OwnedFd::from)
                        .map_err(|e| SysError::io("open /dev/null", e))?;
                    &null
                }
            };
            crate::sys::dup2(input, 0)?;
            crate::sys::dup2(&stdout.1, 1)?;
            crate::sys::dup2(&stderr.1, 2)
        }
    }
}

/// One copy the relay makes: from a descriptor to a destination, until its end.
struct Stream {
    from: std::fs::File,
    to: Box<dyn Write>,
}

impl Stream {
    fn new(from: impl Into<OwnedFd>, to: impl Write + 'static) -> Stream {
        Stream { from: std::fs::File::from(from.into()), to: Box::new(to) }
    }

    /// Copy what is there; `false` at its end (or once the destination is gone).
    fn pump(&mut self) -> bool {
        let mut buf = [0u8; 16384];
        match self.from.read(&mut buf) {
            Ok(0) => false,
            Err(e) => e.kind() == std::io::ErrorKind::Interrupted,
            Ok(n) => self.to.write_all(&buf[..n]).and_then(|()| self.to.flush()).is_ok(),
        }
    }
}

/// This process's stdin, as a file of its own (a duplicate of fd 0).
fn stdin_fd() -> Option<OwnedFd> {
    std::io::stdin().as_fd().try_clone_to_owned().ok()
}

/// In this process (one thread: it has entered the container's pid namespace, where no thread
/// may be made): relay the command's stdio until it has exited and its output ended,
/// forwarding signals to it; returns its exit status.
pub(crate) fn relay(stdio: Stdio, interactive: bool, child: Pid) -> i32 {
    let mut outputs = Vec::new();
    let mut input = None;
    let mut terminal = None;
    match stdio {
        Stdio::Pipes { stdin, stdout, stderr } => {
            outputs.push(Stream::new(stdout.0, std::io::stdout()));
            outputs.push(Stream::new(stderr.0, std::io::stderr()));
            drop((stdout.1, stderr.1));
            if let Some((read, write)) = stdin {
                drop(read);
                input = stdin_fd().map(|fd| Stream::new(fd, std::fs::File::from(write)));
            }
        }
        Stdio::Terminal { master, peer } => {
            drop(peer);
            let relay = Relay::new(master, interactive);
            if let Ok((out, typed)) = relay.ends() {
                outputs.push(Stream::new(out, std::io::stdout()));
                input = stdin_fd().filter(|_| interactive).map(|fd| Stream::new(fd, typed));
            }
            // Kept until the end: dropping it puts the caller's terminal mode back.
            terminal = Some(relay);
        }
    }
    let Ok(signals) = SignalFd::with_flags(&shim::waited(), SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
    else {
        // No signalfd: the output is lost rather than the status.
        return shim::supervise(child, None);
    };
    let mut status = None;
    while status.is_none() || !outputs.is_empty() {
        let mut fds = vec![PollFd::new(signals.as_fd(), PollFlags::POLLIN)];
        fds.extend(outputs.iter().map(|o| PollFd::new(o.from.as_fd(), PollFlags::POLLIN)));
        if let Some(i) = &input {
            fds.push(PollFd::new(i.from.as_fd(), PollFlags::POLLIN));
        }
        if poll(&mut fds, PollTimeout::NONE).is_err() {
            continue;
        }
        let ready: Vec<bool> = fds.iter().map(|f| f.revents().is_some_and(|r| !r.is_empty())).collect();
        drop(fds);
        if ready.get(1 + outputs.len()) == Some(&true) && !input.as_mut().is_some_and(Stream::pump) {
            input = None; // its end: the command's stdin closes
        }
        let mut at = ready[1..=outputs.len()].iter();
        outputs.retain_mut(|o| !at.next().copied().unwrap_or(false) || o.pump());
        while let Ok(Some(info)) = signals.read_signal() {
            let Ok(sig) = Signal::try_from(info.ssi_signo as i32) else { continue };
            if let (Signal::SIGWINCH, Some(t)) = (sig, terminal.as_ref()) {
                t.resize();
            }
            if sig != Signal::SIGCHLD {
                let _ = kill(child, sig);
                continue;
            }
            status = shim::reap(child).or(status);
        }
    }
    drop(terminal);
    status.unwrap_or(125)
}
