//! The PID-1 shim: reaps every orphan, forwards signals to the workload, exits with its
//! status. It waits with `sigwaitinfo` on blocked signals: no handler runs asynchronously.

use nix::sys::signal::{kill, SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

/// Signals forwarded to the workload.
pub const FORWARDED: [Signal; 7] = [
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
];

/// The set the shim (and the launcher) wait on: the forwarded signals and SIGCHLD.
pub fn waited() -> SigSet {
    let mut s = SigSet::empty();
    for sig in FORWARDED {
        s.add(sig);
    }
    s.add(Signal::SIGCHLD);
    s
}

/// Block [`waited`] (before forking the child, so no signal is lost).
pub fn block() -> nix::Result<()> {
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&waited()), None)
}

/// Unblock everything (in the child, before exec).
pub fn unblock_all() -> nix::Result<()> {
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)
}

/// Exit status for a wait status: the code, or 128 + signal.
pub fn exit_code(s: WaitStatus) -> Option<i32> {
    match s {
        WaitStatus::Exited(_, c) => Some(c),
        WaitStatus::Signaled(_, sig, _) => Some(128 + sig as i32),
        _ => None,
    }
}

/// How long the shim waits for its workload before it gives back memory ([`shrink`]): a
/// workload that is done by then gets its exit status without waiting for that work.
pub const SHRINK_AFTER: std::time::Duration = std::time::Duration::from_millis(20);

/// Wait for `child`, reaping every other child that exits meanwhile and forwarding signals to
/// `child`; returns its exit status. With `shrink_after`, [`shrink`] runs once the child has
/// lived that long.
pub fn supervise(child: Pid, mut shrink_after: Option<std::time::Duration>) -> i32 {
    let set = waited();
    loop {
        let sig = match shrink_after {
            Some(t) => match crate::sys::sigtimedwait(&set, t) {
                Some(n) => Signal::try_from(n).ok(),
                None => {
                    shrink();
                    shrink_after = None;
                    continue;
                }
            },
            None => set.wait().ok(),
        };
        let Some(sig) = sig else { continue };
        if sig != Signal::SIGCHLD {
            let _ = kill(child, sig);
            continue;
        }
        if let Some(code) = reap(child) {
            return code;
        }
    }
}

/// Reap every child that has exited (orphans included), without blocking; `child`'s exit
/// status once it is among them.
pub fn reap(child: Pid) -> Option<i32> {
    loop {
        match waitpid(None::<Pid>, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(_) => return None,
            Ok(s) if s.pid() == Some(child) => {
                if let Some(code) = exit_code(s) {
                    return Some(code);
                }
            }
            Ok(_) => {}
        }
    }
}

/// Give back memory the shim no longer needs: free heap pages (`malloc_trim`) and drop its
/// mappings of the executable text of its image (`MADV_DONTNEED` on private, unmodified file
/// mappings: the few pages it still executes fault back in from the page cache).
/// Best effort: nothing depends on it.
pub fn shrink() {
    crate::sys::malloc_trim();
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else { return };
    for line in maps.lines() {
        let mut f = line.split_whitespace();
        let (Some(range), Some(perms), Some(_), Some(_), Some(inode)) =
            (f.next(), f.next(), f.next(), f.next(), f.next())
        else {
            continue;
        };
        // File-backed executable text only (`r-xp`): read-only data may hold pages the loader
        // relocated before protecting them (RELRO), which the file does not have.
        if inode == "0" || perms != "r-xp" {
            continue;
        }
        let Some((a, b)) = range.split_once('-') else { continue };
        let (Ok(start), Ok(end)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16)) else {
            continue;
        };
        crate::sys::drop_text_pages(start, end - start);
    }
}

/// Clear every capability set of this process (the shim only waits after this).
pub fn drop_all_capabilities() {
    for set in
        [caps::CapSet::Ambient, caps::CapSet::Inheritable, caps::CapSet::Effective, caps::CapSet::Permitted]
    {
        let _ = caps::clear(None, set);
    }
}
