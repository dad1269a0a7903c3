//! What the two user-notification supervisors share (`enforce record`, which lets every call
//! run, and `enforce run --explain`, which answers refused ones): the arch and name of a
//! notified call, the loop that answers each until no process is left under the filter, and
//! the child's status.

use std::os::fd::{AsFd, OwnedFd};

use policy::syscalls::arch::{ALL_ARCHES, X32_SYSCALL_BIT};
use policy::syscalls::{table, Arch};

use crate::sys::notify::{self, Notification};

/// How a notified call is answered.
pub(crate) enum Answer {
    /// Let it run as if the filter had allowed it.
    Run,
    /// Fail it with this errno.
    Fail(i32),
}

/// The arch and number of a notified call (x32 arrives as x86_64 with the x32 bit).
pub(crate) fn arch_of(audit: u32, nr: i32) -> Option<(Arch, u32)> {
    let nr = u32::try_from(nr).ok()?;
    let arch = ALL_ARCHES.into_iter().find(|a| a.audit_arch() == audit && *a != Arch::X32)?;
    match arch == Arch::X86_64 && nr & X32_SYSCALL_BIT != 0 {
        true => Some((Arch::X32, nr & !X32_SYSCALL_BIT)),
        false => Some((arch, nr)),
    }
}

/// The arch and the name of a notified call, when its arch's table names it.
pub(crate) fn name_of(n: &Notification) -> Option<(Arch, &'static str)> {
    let (arch, nr) = arch_of(n.arch, n.nr)?;
    Some((arch, table::table(arch)?.name(nr)?))
}

/// Answer every notification with `decide` until no process is left under the filter.
pub(crate) fn each(listener: &OwnedFd, mut decide: impl FnMut(&Notification) -> Answer) {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    loop {
        let mut fds = [PollFd::new(listener.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            // The listener itself is broken: nothing more will come.
            Err(_) => return,
        }
        let revents = fds[0].revents().unwrap_or(PollFlags::empty());
        if revents.contains(PollFlags::POLLIN) {
            // The caller may be gone by now (killed, or the call interrupted): nothing to answer.
            let Ok(n) = notify::receive(listener) else { continue };
            let _ = match decide(&n) {
                Answer::Run => notify::let_through(listener, n.id),
                Answer::Fail(errno) => notify::answer(listener, n.id, errno),
            };
        } else if revents.intersects(PollFlags::POLLHUP | PollFlags::POLLERR | PollFlags::POLLNVAL) {
            return;
        }
    }
}

/// The child's status: its exit code, or 128 + the signal that killed it.
pub(crate) fn wait(pid: i32) -> i32 {
    use nix::sys::wait::{waitpid, WaitStatus};
    loop {
        match waitpid(nix::unistd::Pid::from_raw(pid), None) {
            Ok(WaitStatus::Exited(_, code)) => return code,
            Ok(WaitStatus::Signaled(_, sig, _)) => return 128 + sig as i32,
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return 125,
        }
    }
}
