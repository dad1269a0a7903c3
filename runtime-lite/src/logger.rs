//! The logger: a detached container's output, copied line by line from the two pipes of
//! its stdout and stderr into the bounded log ([`crate::logs::Writer`]), until both close.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::os::fd::OwnedFd;

use crate::logs::{Stream, Writer};

/// Copy the lines of `stdout` and `stderr` (pipe read ends) into `w` until both close.
pub fn pump(stdout: OwnedFd, stderr: OwnedFd, mut w: Writer) {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let mut readers = [
        (BufReader::new(File::from(stdout)), Stream::Stdout, true),
        (BufReader::new(File::from(stderr)), Stream::Stderr, true),
    ];
    while readers.iter().any(|r| r.2) {
        let ready: Vec<bool> = {
            let mut fds: Vec<PollFd> = readers
                .iter()
                .map(|(r, _, open)| {
                    let flags = if *open { PollFlags::POLLIN } else { PollFlags::empty() };
                    PollFd::new(std::os::fd::AsFd::as_fd(r.get_ref()), flags)
                })
                .collect();
            if poll(&mut fds, PollTimeout::NONE).is_err() {
                continue;
            }
            fds.iter().map(|f| f.revents().is_some_and(|r| !r.is_empty())).collect()
        };
        for (i, r) in readers.iter_mut().enumerate() {
            if !r.2 || !ready[i] {
                continue;
            }
            let mut line = String::new();
            match r.0.read_line(&mut line) {
                Ok(0) | Err(_) => r.2 = false,
                Ok(_) => {
                    let _ = w.write(r.1, &line);
                    // Whole lines already buffered go now, not when the pipe next wakes poll.
                    while r.0.buffer().contains(&b'\n') {
                        line.clear();
                        if r.0.read_line(&mut line).unwrap_or(0) == 0 {
                            break;
                        }
                        let _ = w.write(r.1, &line);
                    }
                }
            }
        }
    }
}
