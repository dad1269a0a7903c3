//! The container's channel to its launcher: a close-on-exec pipe. Any process inside may write
//! one failure (`CODE MESSAGE`) before it exits; a successful exec closes its end. The PID-1
//! shim ends with the workload's exit status (`exit CODE`), so that the launcher can return it
//! without waiting for the kernel to tear the namespaces down.

use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::shim;

/// Write end, inherited by every process inside.
pub struct Sender(pub OwnedFd);

/// Read end, kept by the launcher.
pub struct Receiver(pub OwnedFd);

/// A new channel.
pub fn channel() -> std::io::Result<(Sender, Receiver)> {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    Ok((Sender(w), Receiver(r)))
}

impl Sender {
    fn line(&self, line: &str) {
        let mut f = std::fs::File::from(self.0.try_clone().expect("dup of a pipe fd"));
        let _ = f.write_all(line.as_bytes());
    }

    /// Report a failure.
    pub fn fail(&self, code: i32, message: &str) {
        self.line(&format!("{code} {message}\n"));
    }

    /// Report the workload's exit status (the shim, last thing before it exits).
    pub fn exited(&self, code: i32) {
        self.line(&format!("exit {code}\n"));
    }
}

/// What the launcher learned: the container's exit status and the first failure reported.
#[derive(Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The exit status (the shim's report, or PID 1's own).
    pub status: i32,
    /// The first failure written to the channel.
    pub failure: Option<(i32, String)>,
}

/// The first failure line of `text`, and the exit status line if there is one.
fn parse(text: &str) -> (Option<(i32, String)>, Option<i32>) {
    let mut failure = None;
    for line in text.lines() {
        if let Some(code) = line.strip_prefix("exit ") {
            return (failure, code.parse().ok());
        }
        if failure.is_none() {
            failure = line.split_once(' ').and_then(|(c, m)| Some((c.parse().ok()?, m.to_string())));
        }
    }
    (failure, None)
}

impl Receiver {
    /// Wait for the container whose PID 1 is `child`, forwarding the waited signals to it
    /// (they must be blocked). With `early`, return as soon as the shim reports the exit
    /// status; otherwise (or without a shim) once PID 1 has exited and every writer is gone.
    pub fn wait(self, child: Pid, early: bool) -> Outcome {
        let mut pipe = std::fs::File::from(self.0);
        let mut text = String::new();
        let Ok(signals) =
            SignalFd::with_flags(&shim::waited(), SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
        else {
            // No signalfd: wait as the shim does, then read what was written.
            let status = shim::supervise(child, None);
            let _ = pipe.read_to_string(&mut text);
            return Outcome { status, failure: parse(&text).0 };
        };
        let mut pipe_open = true;
        loop {
            let mut fds = vec![PollFd::new(signals.as_fd(), PollFlags::POLLIN)];
            if pipe_open {
                fds.push(PollFd::new(pipe.as_fd(), PollFlags::POLLIN));
            }
            if poll(&mut fds, PollTimeout::NONE).is_err() {
                continue;
            }
            let pipe_ready = fds.get(1).and_then(|f| f.revents()).is_some_and(|r| !r.is_empty());
            if pipe_ready {
                let mut buf = [0u8; 4096];
                match pipe.read(&mut buf) {
                    Ok(0) | Err(_) => pipe_open = false,
                    Ok(n) => text.push_str(&String::from_utf8_lossy(&buf[..n])),
                }
                if let (failure, Some(status)) = parse(&text) {
                    if early {
                        return Outcome { status, failure };
                    }
                }
            }
            while let Ok(Some(info)) = signals.read_signal() {
                let Ok(sig) = Signal::try_from(info.ssi_signo as i32) else { continue };
                if sig != Signal::SIGCHLD {
                    let _ = kill(child, sig);
                    continue;
                }
                while let Ok(s) = waitpid(None::<Pid>, Some(WaitPidFlag::WNOHANG)) {
                    if s == WaitStatus::StillAlive {
                        break;
                    }
                    if s.pid() == Some(child) {
                        if let Some(code) = shim::exit_code(s) {
                            // PID 1 is gone, and with it every process inside: read to the end.
                            let _ = pipe.read_to_string(&mut text);
                            return Outcome { status: code, failure: parse(&text).0 };
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn the_first_failure_and_the_exit_status_are_read_back() {
        assert_eq!(parse(""), (None, None));
        assert_eq!(parse("exit 3\n"), (None, Some(3)));
        assert_eq!(
            parse("126 cannot execute /x\nexit 126\n"),
            (Some((126, "cannot execute /x".into())), Some(126))
        );
        assert_eq!(parse("125 first\n125 second\n"), (Some((125, "first".into())), None));
        // A failure written after the status (nothing writes one) is not the container's.
        assert_eq!(parse("exit 0\n125 late\n"), (None, Some(0)));
        assert_eq!(parse("exit x\n"), (None, None));
    }
}
