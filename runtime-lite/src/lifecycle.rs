//! Detached containers' lifecycle verbs: `ps`, `logs`, `stop`, `rm` (`run -d` is
//! [`crate::keeper`], `exec` is [`crate::exec`]).

use std::fmt::Write as _;
use std::io::Write;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::error::RunError;
use crate::keeper::log_path;
use crate::logs;
use crate::state::{self, ContainerName, ContainerStatus, State};

/// `enforce ps`: one row per container.
pub fn ps_text(list: &[State]) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "{:<20} {:<12} {:>8} {:>12}  COMMAND", "NAME", "STATUS", "PID", "CREATED");
    for s in list {
        let status = match (s.checked_status(), s.exit_code) {
            (ContainerStatus::Exited, Some(c)) => format!("exited({c})"),
            (st, _) => st.to_string(),
        };
        let running = s.checked_status() == ContainerStatus::Running;
        let pid = s.pid.filter(|_| running).map(|p| p.to_string()).unwrap_or_else(|| "-".into());
        let age = state::now().saturating_sub(s.created);
        let _ =
            writeln!(o, "{:<20} {:<12} {:>8} {:>10}s ago  {}", s.name, status, pid, age, s.command.join(" "));
    }
    o
}

/// `enforce ps --format json`: the states, each with its checked status.
pub fn ps_json(list: &[State]) -> serde_json::Value {
    let rows = list
        .iter()
        .map(|s| {
            let mut v = serde_json::to_value(s).unwrap_or_default();
            v["status"] = serde_json::json!(s.checked_status());
            v
        })
        .collect();
    serde_json::Value::Array(rows)
}

/// `enforce logs NAME [--tail N] [-f]`, written to stdout/stderr by stream.
pub fn logs(name: &ContainerName, tail: Option<usize>, follow: bool) -> Result<(), RunError> {
    let st = State::load(name)?;
    let rotated = 64; // read every rotated file there is
    let path = log_path(name)?;
    let lines = logs::read(&path, rotated);
    let shown = match tail {
        Some(n) => logs::tail(&lines, n),
        None => lines.iter().collect(),
    };
    let emit = |l: &logs::Line| {
        if let Some(notice) = l.notice() {
            let _ = std::io::stderr().write_all(notice.as_bytes());
        }
        if l.stream == logs::Stream::Stderr {
            let _ = std::io::stderr().write_all(&l.log);
        } else {
            let _ = std::io::stdout().write_all(&l.log);
            let _ = std::io::stdout().flush();
        }
    };
    for l in shown {
        emit(l);
    }
    if !follow {
        return Ok(());
    }
    let mut last = lines.last().cloned();
    loop {
        std::thread::sleep(std::time::Duration::from_millis(200));
        let now = logs::read(&path, rotated);
        let start = match &last {
            Some(l) => now.iter().rposition(|x| x == l).map(|i| i + 1).unwrap_or(0),
            None => 0,
        };
        for l in &now[start..] {
            emit(l);
        }
        if let Some(l) = now.last() {
            last = Some(l.clone());
        }
        let s = State::load(name).unwrap_or_else(|_| st.clone());
        if s.checked_status() != ContainerStatus::Running && start >= now.len() {
            return Ok(());
        }
    }
}

/// `enforce stop NAME [--time S]`: SIGTERM (or the image's `StopSignal`) to PID 1 (the shim
/// forwards it), SIGKILL after `secs` seconds. A container that does not run is already
/// stopped (as `docker stop` says).
pub fn stop(name: &ContainerName, secs: u64) -> Result<(), RunError> {
    let st = State::load(name)?;
    if st.checked_status() != ContainerStatus::Running {
        return Ok(());
    }
    let pid = Pid::from_raw(st.pid.unwrap_or(0));
    let first = st.stop_signal.as_deref().and_then(crate::image::launch::parse_signal);
    let _ = kill(pid, first.unwrap_or(Signal::SIGTERM));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while st.alive() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    if st.alive() {
        let _ = kill(pid, Signal::SIGKILL);
    }
    // Wait for the keeper to record the exit.
    for _ in 0..100 {
        if State::load(name).map(|s| s.status == ContainerStatus::Exited).unwrap_or(true) {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Ok(())
}

/// `enforce rm NAME [-f]`.
pub fn rm(name: &ContainerName, force: bool) -> Result<(), RunError> {
    let st = State::load(name)?;
    if st.checked_status() == ContainerStatus::Running {
        if !force {
            return Err(RunError::Invalid(format!(
                "container `{name}` is running; stop it first (or rm -f)"
            )));
        }
        stop(name, 0)?;
    }
    if let Some(layer) = &st.layer {
        crate::image::writable::remove_layer(layer);
    }
    let dir = state::dir(name)?;
    std::fs::remove_dir_all(&dir)
        .map_err(|e| RunError::Lifecycle(crate::error::SysError::io(format!("remove {}", dir.display()), e)))
}
