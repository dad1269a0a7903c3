//! Helpers of the live tests that run the `enforce` binary.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// The `enforce` binary of this build.
pub const ENFORCE: &str = env!("CARGO_BIN_EXE_enforce");

/// Bytes as text (lossy).
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The stdout of a run that must have succeeded (else the status and both streams).
pub fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// `enforce` with a private runtime directory, so tests do not see each other's containers.
pub fn enforce(rt: &Path, args: &[&str]) -> Output {
    Command::new(ENFORCE).env("PALISADE_RUNTIME_DIR", rt).args(args).output().unwrap()
}

/// Whether `f` holds within `secs` seconds (polled every 20 ms).
pub fn wait_for(mut f: impl FnMut() -> bool, secs: u64) -> bool {
    let end = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::time::Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    false
}

/// A pseudo-terminal: (master, peer).
pub fn pty() -> (std::fs::File, std::fs::File) {
    use std::os::fd::FromRawFd;
    let (mut master, mut peer) = (0, 0);
    // SAFETY: openpty writes two new descriptors into the integers given; the null pointers ask
    // for no name, terminal settings or window size.
    let r = unsafe {
        libc::openpty(&mut master, &mut peer, std::ptr::null_mut(), std::ptr::null(), std::ptr::null())
    };
    assert_eq!(r, 0, "openpty");
    // SAFETY: both descriptors were just created for this process and nothing else owns them.
    unsafe { (std::fs::File::from_raw_fd(master), std::fs::File::from_raw_fd(peer)) }
}
