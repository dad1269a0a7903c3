//! Typed messages between the processes of a container, one JSON object a line over a
//! close-on-exec pipe. Each direction has its own message type:
//! - [`Go`]: the launcher to PID 1, once the ids are mapped and PID 1 is in its cgroup (a
//!   closed pipe without it means stop);
//! - [`Status`]: the processes inside to the launcher: PID 1's word that the container is set
//!   up (its namespaces, clocks and mounts: only then is a detached container started), the
//!   first failure (nothing ran, or the command could not be executed), then the shim's report
//!   of the workload's exit status (so the launcher need not wait for the namespaces'
//!   teardown); a successful exec closes the writer's end;
//! - [`Start`]: a detached container's keeper to the `enforce run -d` that started it.

use std::io::{BufRead, BufReader, Write};
use std::marker::PhantomData;
use std::os::fd::OwnedFd;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::SysError;

/// The launcher to PID 1.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Go {
    /// Go on; the root tree is idmapped (or not).
    Go {
        /// The launcher idmapped the detached root tree.
        idmapped: bool,
    },
}

/// A container's processes to the launcher.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// PID 1 has set the container up; the workload starts.
    Ready,
    /// A process inside failed; the code is the launcher's exit status.
    Failed {
        /// 125 (nothing ran), 126 (cannot execute), 127 (not found).
        code: i32,
        /// Why.
        message: String,
    },
    /// The workload exited with this status (from the shim, last thing before it exits).
    Exited(i32),
    /// An OCI container's init has made its mounts and waits (for a [`Go`]) while the runtime
    /// runs the `createRuntime` hooks.
    Hooks,
}

/// A detached container's keeper to the caller.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Start {
    /// PID 1 runs and the state says so.
    Started,
    /// It did not start; nothing is left behind.
    Failed {
        /// The exit status for the caller.
        code: i32,
        /// Why.
        message: String,
    },
}

/// The writing end.
pub struct Sender<M> {
    fd: OwnedFd,
    of: PhantomData<M>,
}

/// The reading end.
pub struct Receiver<M> {
    fd: OwnedFd,
    of: PhantomData<M>,
}

/// A new channel (a close-on-exec pipe).
pub fn channel<M>() -> Result<(Sender<M>, Receiver<M>), SysError> {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| SysError::errno("pipe", e))?;
    Ok((Sender { fd: w, of: PhantomData }, Receiver { fd: r, of: PhantomData }))
}

impl<M: Serialize> Sender<M> {
    /// Send one message (best effort: a reader that is gone has nothing to learn).
    pub fn send(&self, m: &M) {
        let Ok(mut line) = serde_json::to_string(m) else { return };
        line.push('\n');
        if let Ok(fd) = self.fd.try_clone() {
            let _ = std::fs::File::from(fd).write_all(line.as_bytes());
        }
    }

    /// Another handle on the same end (for a process that outlives this one's copy).
    pub fn try_clone(&self) -> Result<Sender<M>, SysError> {
        let fd = self.fd.try_clone().map_err(|e| SysError::io("dup a pipe", e))?;
        Ok(Sender { fd, of: PhantomData })
    }
}

impl<M: DeserializeOwned> Receiver<M> {
    /// The next message; `None` once every writer is gone (or on a line that is not one).
    pub fn recv(self) -> Option<M> {
        let mut line = String::new();
        BufReader::new(std::fs::File::from(self.fd)).read_line(&mut line).ok()?;
        serde_json::from_str(line.trim_end()).ok()
    }

    /// The next message, read a byte at a time (nothing beyond its line is consumed, so the
    /// channel can carry more); `None` once every writer is gone.
    pub fn next(&self) -> Option<M> {
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        loop {
            match nix::unistd::read(&self.fd, &mut byte) {
                Ok(0) => return None,
                Ok(_) if byte[0] == b'\n' => break,
                Ok(_) => line.push(byte[0]),
                Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => return None,
            }
        }
        serde_json::from_slice(&line).ok()
    }

    /// The descriptor, for a caller that polls it.
    pub(crate) fn into_fd(self) -> OwnedFd {
        self.fd
    }
}

/// The messages of `text` (complete lines only), in order.
pub(crate) fn parse_all<M: DeserializeOwned>(text: &str) -> Vec<M> {
    text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

/// What the launcher learned from a container: its exit status and the first failure.
#[derive(Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The exit status (the shim's report, or PID 1's own).
    pub status: i32,
    /// The first failure reported.
    pub failure: Option<(i32, String)>,
}

/// What the messages of a container said so far.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Said {
    /// PID 1 said it is ready.
    pub ready: bool,
    /// The first failure.
    pub failure: Option<(i32, String)>,
    /// The exit status, once reported.
    pub exited: Option<i32>,
}

/// What the complete lines of `text` say (nothing after the exit status counts).
pub(crate) fn summary(text: &str) -> Said {
    let mut said = Said::default();
    for m in parse_all::<Status>(text) {
        match m {
            Status::Ready => said.ready = true,
            Status::Exited(code) => {
                said.exited = Some(code);
                return said;
            }
            Status::Failed { code, message } if said.failure.is_none() => {
                said.failure = Some((code, message))
            }
            Status::Failed { .. } | Status::Hooks => {}
        }
    }
    said
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(ms: &[Status]) -> String {
        ms.iter().map(|m| serde_json::to_string(m).unwrap() + "\n").collect()
    }

    #[test]
    fn the_first_failure_and_the_exit_status_are_read_back() {
        let failed = |code, m: &str| Status::Failed { code, message: m.into() };
        let said = |ready, failure: Option<(i32, &str)>, exited| Said {
            ready,
            failure: failure.map(|(c, m)| (c, m.to_string())),
            exited,
        };
        assert_eq!(summary(""), said(false, None, None));
        assert_eq!(summary(&lines(&[Status::Ready, Status::Exited(3)])), said(true, None, Some(3)));
        let t = lines(&[failed(126, "cannot execute /x\nsecond line"), Status::Exited(126)]);
        assert_eq!(summary(&t), said(false, Some((126, "cannot execute /x\nsecond line")), Some(126)));
        let t = lines(&[failed(125, "first"), failed(125, "second")]);
        assert_eq!(summary(&t), said(false, Some((125, "first")), None));
        // A failure written after the status (nothing writes one) is not the container's.
        assert_eq!(summary(&lines(&[Status::Exited(0), failed(125, "late")])), said(false, None, Some(0)));
        // Half a line is not a message yet.
        let half = &lines(&[Status::Exited(7)])[..5];
        assert_eq!(summary(half), said(false, None, None));
    }

    #[test]
    fn messages_cross_a_pipe() {
        let (tx, rx) = channel::<Start>().unwrap();
        tx.send(&Start::Failed { code: 127, message: "x: command not found".into() });
        drop(tx);
        assert_eq!(rx.recv(), Some(Start::Failed { code: 127, message: "x: command not found".into() }));
        let (tx, rx) = channel::<Go>().unwrap();
        drop(tx);
        assert_eq!(rx.recv(), None, "a closed pipe is not a go");
    }
}
