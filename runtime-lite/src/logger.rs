//! The logger: a detached container's output, copied from the two pipes of its stdout and
//! stderr into the bounded log ([`crate::logs::Writer`]), until both close.
//!
//! Its memory is bounded: one buffer of [`Writer::payload`] bytes (16 KiB at most) per stream.
//! A line is logged when its newline arrives; a line that fills the buffer first goes out as a
//! partial record, and the rest of it follows in the next ones. Bytes are bytes (the log says
//! how it keeps those that are not UTF-8), and the pipes are drained whatever happens to the
//! log: a record that cannot be written is dropped and counted, so the workload never blocks
//! on its output.

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};

use crate::logs::{record_end, Dropped, Stream, Writer};

/// One of the workload's outputs.
struct Source {
    /// The pipe's read end; `None` once it is closed (closed when it ends or fails, so that a
    /// writer gets `EPIPE` and never waits for a reader that is gone).
    pipe: Option<File>,
    stream: Stream,
    buf: Box<[u8]>,
    /// Bytes of `buf` not yet logged: the start of a line.
    len: usize,
}

impl Source {
    fn new(fd: OwnedFd, stream: Stream, size: usize) -> Source {
        Source { pipe: Some(File::from(fd)), stream, buf: vec![0; size].into_boxed_slice(), len: 0 }
    }

    /// Read once (poll said the pipe is ready) and log what the read completes.
    fn read(&mut self, w: &mut Writer) {
        let Some(pipe) = self.pipe.as_mut() else { return };
        match pipe.read(&mut self.buf[self.len..]) {
            Ok(0) => self.close(w),
            Ok(n) => {
                self.len += n;
                self.lines(w);
            }
            Err(e)
                if matches!(e.kind(), std::io::ErrorKind::Interrupted | std::io::ErrorKind::WouldBlock) => {}
            Err(_) => self.close(w),
        }
    }

    /// Log every whole line in the buffer; a buffer full of one line's start goes out as a
    /// partial record (cut between UTF-8 sequences).
    fn lines(&mut self, w: &mut Writer) {
        let mut start = 0;
        while let Some(nl) = self.buf[start..self.len].iter().position(|&b| b == b'\n') {
            let end = start + nl + 1;
            let _ = w.write(self.stream, &self.buf[start..end]);
            start = end;
        }
        if start == 0 && self.len == self.buf.len() {
            start = record_end(&self.buf[..self.len], self.len);
            let _ = w.write(self.stream, &self.buf[..start]);
        }
        self.buf.copy_within(start..self.len, 0);
        self.len -= start;
    }

    /// The output ended (or cannot be read): log what is left, a last partial record, and
    /// close the pipe.
    fn close(&mut self, w: &mut Writer) {
        if self.len > 0 {
            let _ = w.write(self.stream, &self.buf[..self.len]);
            self.len = 0;
        }
        self.pipe = None;
    }
}

/// Copy the output of `stdout` and `stderr` (pipe read ends) into `w` until both close; what
/// could not be written to the log.
pub fn pump(stdout: OwnedFd, stderr: OwnedFd, mut w: Writer) -> Dropped {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let size = w.payload();
    let mut sources = [Source::new(stdout, Stream::Stdout, size), Source::new(stderr, Stream::Stderr, size)];
    loop {
        let open: Vec<usize> = (0..sources.len()).filter(|&i| sources[i].pipe.is_some()).collect();
        if open.is_empty() {
            break;
        }
        let ready: Vec<usize> = {
            let mut fds: Vec<PollFd> = open
                .iter()
                .filter_map(|&i| sources[i].pipe.as_ref())
                .map(|p| PollFd::new(p.as_fd(), PollFlags::POLLIN))
                .collect();
            if poll(&mut fds, PollTimeout::NONE).is_err() {
                // EINTR; or no memory for a moment: try again, never give up on the pipes.
                std::thread::sleep(std::time::Duration::from_millis(1));
                continue;
            }
            // POLLHUP and POLLERR count: the read then says end of file or fails.
            fds.iter()
                .zip(&open)
                .filter(|(f, _)| f.revents().is_some_and(|r| !r.is_empty()))
                .map(|(_, &i)| i)
                .collect()
        };
        for i in ready {
            sources[i].read(&mut w);
        }
    }
    w.lost()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn pipe() -> (OwnedFd, File) {
        let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
        (r, File::from(w))
    }

    fn dir(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("palisade-logger-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn long_lines_and_any_bytes_are_logged_in_bounded_records() {
        let d = dir("pump");
        let p = d.join("container.log");
        let w = Writer::open(&p, 64 << 20, 1).unwrap();
        let payload = w.payload();
        let (out_r, mut out_w) = pipe();
        let (err_r, mut err_w) = pipe();
        let long = vec![b'x'; 5 * payload + 7];
        let want_out = [&long[..], b"\n", b"a\xffb\n", b"tail without newline"].concat();
        let feed = want_out.clone();
        let writer = std::thread::spawn(move || {
            out_w.write_all(&feed).unwrap();
            err_w.write_all(b"e\xc0\n").unwrap();
        });
        let lost = pump(out_r, err_r, w);
        writer.join().unwrap();
        assert_eq!(lost, Dropped::default());
        let lines = crate::logs::read(&p, 1);
        assert!(lines.iter().all(|l| l.log.len() <= payload));
        let out: Vec<u8> =
            lines.iter().filter(|l| l.stream == Stream::Stdout).flat_map(|l| l.log.iter().copied()).collect();
        assert_eq!(out, want_out);
        let err: Vec<&Vec<u8>> =
            lines.iter().filter(|l| l.stream == Stream::Stderr).map(|l| &l.log).collect();
        assert_eq!(err, [&b"e\xc0\n".to_vec()]);
        assert!(!lines.last().unwrap().ends_line() || lines.last().unwrap().stream == Stream::Stderr);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn the_pipes_are_drained_when_the_log_cannot_be_written() {
        // Every write of the log fails (ENOSPC): the workload still writes all it has.
        let w = Writer::open(std::path::Path::new("/dev/full"), 64 << 20, 1).unwrap();
        let (out_r, mut out_w) = pipe();
        let (err_r, err_w) = pipe();
        let writer = std::thread::spawn(move || {
            for _ in 0..256 {
                out_w.write_all(&[b'y'; 4095]).unwrap();
                out_w.write_all(b"\n").unwrap();
            }
            drop(err_w);
        });
        let lost = pump(out_r, err_r, w);
        writer.join().unwrap();
        assert_eq!(lost, Dropped { records: 256, bytes: 256 * 4096 });
    }
}
