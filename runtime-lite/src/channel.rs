//! The error channel: a close-on-exec pipe. Any process inside may write one failure
//! (`CODE MESSAGE`) before it exits; a successful exec closes its end. The launcher reads to
//! end-of-file after PID 1 has exited (and with it every process inside).

use std::io::{Read, Write};
use std::os::fd::OwnedFd;

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
    /// Report a failure.
    pub fn fail(&self, code: i32, message: &str) {
        let mut f = std::fs::File::from(self.0.try_clone().expect("dup of a pipe fd"));
        let _ = f.write_all(format!("{code} {message}\n").as_bytes());
    }
}

impl Receiver {
    /// Everything written, once every writer is gone: the first failure, if any.
    pub fn first_failure(self) -> Option<(i32, String)> {
        let mut text = String::new();
        let _ = std::fs::File::from(self.0).read_to_string(&mut text);
        let line = text.lines().next()?;
        let (code, msg) = line.split_once(' ')?;
        Some((code.parse().ok()?, msg.to_string()))
    }
}
