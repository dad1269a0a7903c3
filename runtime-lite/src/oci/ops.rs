//! `start`, `state`, `kill`, `delete`, `list` and `ps` on a container's state directory.

use std::os::fd::AsFd;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill as send, Signal};
use nix::unistd::Pid;

use super::state::{self, OciState, Record, Status};
use super::OciError;

fn wrong(id: &str, status: Status, why: &str) -> OciError {
    OciError::Status { id: id.into(), status: status.to_string(), why: why.into() }
}

/// Release a created container's init: open its fifo, read the byte it writes, remove it; then
/// the `poststart` hooks (a failing one is a warning, given to `warn`).
pub fn start(root: &Path, id: &str, warn: &mut dyn FnMut(&str)) -> Result<(), OciError> {
    let (dir, r) = Record::load(root, id)?;
    let status = r.status(&dir);
    if status != Status::Created {
        return Err(wrong(id, status, "only a created container can be started"));
    }
    let path = dir.join(state::FIFO);
    let fifo = nix::fcntl::open(
        &path,
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_NONBLOCK | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| OciError::io(format!("open {}", path.display()), e.into()))?;
    loop {
        let mut fds = [PollFd::new(fifo.as_fd(), PollFlags::POLLIN)];
        let _ = poll(&mut fds, PollTimeout::from(100u16));
        let mut byte = [0u8; 1];
        match nix::unistd::read(&fifo, &mut byte) {
            Ok(1) => break,
            Ok(_) | Err(nix::errno::Errno::EAGAIN) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(OciError::io("read exec.fifo", e.into())),
        }
        if !r.alive() {
            return Err(wrong(id, Status::Stopped, "its init exited before it started"));
        }
    }
    std::fs::remove_file(&path).map_err(|e| OciError::io(format!("remove {}", path.display()), e))?;
    let state = super::hooks::state(id, "running", r.pid, &r.bundle, &r.annotations);
    super::hooks::run_all("poststart", &r.hooks.poststart, &state, warn);
    Ok(())
}

/// The OCI state of `id`.
pub fn state(root: &Path, id: &str) -> Result<OciState, OciError> {
    let (dir, r) = Record::load(root, id)?;
    Ok(r.oci(&dir))
}

/// Host pids of every process in the pid namespace of `pid` (itself first), when that namespace
/// is not this process's; else just `pid`.
pub fn pids(pid: i32) -> Vec<i32> {
    let ns = |p: i32| std::fs::read_link(format!("/proc/{p}/ns/pid")).ok();
    let theirs = ns(pid);
    if theirs.is_none() || theirs == ns(std::process::id() as i32) {
        return vec![pid];
    }
    let mut out = vec![pid];
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        if let Some(p) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) {
            if p != pid && ns(p) == theirs {
                out.push(p);
            }
        }
    }
    out
}

/// Send `signal` to the init (or, `all`, to every process of the container).
pub fn kill(root: &Path, id: &str, signal: Signal, all: bool) -> Result<(), OciError> {
    let (dir, r) = Record::load(root, id)?;
    let status = r.status(&dir);
    if status == Status::Stopped {
        return Err(wrong(id, status, "it is not running"));
    }
    let targets = if all { members(&r) } else { vec![r.pid] };
    // Never 0 or negative: kill(2) would reach a whole process group.
    for p in targets.into_iter().filter(|p| *p > 0) {
        match send(Pid::from_raw(p), signal) {
            Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
            Err(e) => return Err(OciError::io(format!("kill {p}"), e.into())),
        }
    }
    Ok(())
}

/// Remove a stopped container (a created one is killed first; a running one only with
/// `force`), then run the `poststop` hooks (a failing one is a warning, given to `warn`).
pub fn delete(root: &Path, id: &str, force: bool, warn: &mut dyn FnMut(&str)) -> Result<(), OciError> {
    let (dir, r) = match Record::load(root, id) {
        Ok(x) => x,
        // Killed half-way through create: the directory without its state.
        Err(OciError::NotFound(_)) if force => {
            let d = state::dir(root, id)?;
            let _ = std::fs::remove_dir_all(d);
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let status = r.status(&dir);
    if status == Status::Running && !force {
        return Err(wrong(id, status, "stop it first, or delete it with --force"));
    }
    if status != Status::Stopped {
        if let Some(g) = crate::cgroup::load(&r.cgroup) {
            let _ = g.freeze(false); // a frozen process does not die
        }
        for p in members(&r).into_iter().filter(|p| *p > 0) {
            let _ = send(Pid::from_raw(p), Signal::SIGKILL);
        }
        let until = Instant::now() + Duration::from_secs(10);
        while r.alive() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(5));
        }
        if r.alive() {
            return Err(wrong(id, status, "its init did not die after SIGKILL"));
        }
    }
    if let Some(g) = crate::cgroup::load(&r.cgroup) {
        g.remove().map_err(OciError::Init)?;
    }
    std::fs::remove_dir_all(&dir).map_err(|e| OciError::io(format!("remove {}", dir.display()), e))?;
    let state = super::hooks::state(id, "stopped", 0, &r.bundle, &r.annotations);
    super::hooks::run_all("poststop", &r.hooks.poststop, &state, warn);
    Ok(())
}

/// Every process of the container: its cgroup's, or those of its pid namespace.
pub fn members(r: &Record) -> Vec<i32> {
    match crate::cgroup::load(&r.cgroup) {
        Some(g) => {
            let mut all = g.pids();
            if !all.contains(&r.pid) && r.alive() {
                all.insert(0, r.pid);
            }
            all
        }
        None => pids(r.pid),
    }
}

/// Freeze (`pause`) or thaw (`resume`) every process of a running container.
pub fn pause(root: &Path, id: &str, on: bool) -> Result<(), OciError> {
    let (dir, r) = Record::load(root, id)?;
    let status = r.status(&dir);
    let want = if on { Status::Running } else { Status::Paused };
    if status != want {
        let why = if on {
            "only a running container can be paused"
        } else {
            "only a paused container can be resumed"
        };
        return Err(wrong(id, status, why));
    }
    let g = crate::cgroup::load(&r.cgroup).ok_or_else(|| wrong(id, status, "it has no cgroup"))?;
    g.freeze(on).map_err(OciError::Init)
}

/// Apply new limits (`update --resources`).
pub fn update(root: &Path, id: &str, resources: &oci_spec::runtime::LinuxResources) -> Result<(), OciError> {
    let (dir, r) = Record::load(root, id)?;
    let status = r.status(&dir);
    if status == Status::Stopped {
        return Err(wrong(id, status, "it is not running"));
    }
    let res = super::resources::of(resources)?;
    let g = crate::cgroup::load(&r.cgroup).ok_or_else(|| wrong(id, status, "it has no cgroup"))?;
    g.apply(&res).map_err(OciError::Init)
}

/// `events --stats`: one stats event.
pub fn stats(root: &Path, id: &str) -> Result<serde_json::Value, OciError> {
    let (dir, r) = Record::load(root, id)?;
    let status = r.status(&dir);
    let g = crate::cgroup::load(&r.cgroup).ok_or_else(|| wrong(id, status, "it has no cgroup"))?;
    Ok(serde_json::json!({"type": "stats", "id": id, "data": g.stats()}))
}

/// Every container's state.
pub fn list(root: &Path) -> Result<Vec<OciState>, OciError> {
    Ok(state::list(root)?.into_iter().map(|(d, r)| r.oci(&d)).collect())
}

/// A signal by name (`TERM`, `SIGTERM`) or number.
pub fn signal(s: &str) -> Option<Signal> {
    if let Ok(n) = s.parse::<i32>() {
        return Signal::try_from(n).ok();
    }
    let upper = s.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") { upper } else { format!("SIG{upper}") };
    name.parse().ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn signals_by_name_and_number() {
        use nix::sys::signal::Signal;
        assert_eq!(super::signal("9"), Some(Signal::SIGKILL));
        assert_eq!(super::signal("TERM"), Some(Signal::SIGTERM));
        assert_eq!(super::signal("sigusr1"), Some(Signal::SIGUSR1));
        assert_eq!(super::signal("NOPE"), None);
    }
}
