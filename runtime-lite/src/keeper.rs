//! The keeper of a detached container: a process of its own session that records the
//! container's state, starts the [`crate::logger`], runs the container as its launcher, and
//! records the exit. `enforce run -d` waits only until the keeper says the container runs (or
//! why it did not; then nothing is left behind).

use std::os::fd::OwnedFd;

use nix::unistd::ForkResult;

use crate::channel::{self, Sender, Start};
use crate::error::{RunError, SysError};
use crate::launcher::{self, Container};
use crate::state::{self, ContainerName, ContainerStatus, State};
use crate::sys::dup2;
use crate::{logger, logs};

/// The log of container `name`.
pub fn log_path(name: &ContainerName) -> Result<std::path::PathBuf, RunError> {
    Ok(state::dir(name)?.join("container.log"))
}

/// Start `c` detached as `name` (`profile` as given, for the state); returns once PID 1 runs.
pub fn detach(
    mut c: Container,
    name: &ContainerName,
    profile: &str,
    auto_remove: bool,
) -> Result<(), RunError> {
    let digest = c.plan.compiled.digest().map_err(RunError::Compiled)?.to_string();
    // Made atomically: of two runs with one name, the second is refused here.
    let dir = state::create_dir(name)?;
    let cleanup = || {
        let _ = std::fs::remove_dir_all(&dir);
    };
    let st = State {
        name: name.clone(),
        profile: profile.into(),
        profile_digest: digest,
        command: c.argv.clone(),
        rootfs: c.rootfs.as_ref().map(|p| p.display().to_string()),
        status: ContainerStatus::Created,
        keeper_pid: 0,
        pid: None,
        pid_start: None,
        created: state::now(),
        started: None,
        finished: None,
        exit_code: None,
        variables: c.plan.variables.clone(),
        cgroup: None,
        auto_remove,
        layer: c.layer.clone(),
        stop_signal: c.image.as_ref().and_then(|i| i.stop_signal.clone()),
    };
    let (tx, rx) = channel::channel::<Start>()?;
    match crate::sys::fork().map_err(|e| SysError::errno("fork the keeper", e))? {
        ForkResult::Parent { .. } => {
            drop(tx);
            // The keeper keeps its end open while the container runs.
            match rx.recv() {
                Some(Start::Started) => Ok(()),
                Some(Start::Failed { code, message }) => {
                    cleanup();
                    Err(RunError::Inside { code, message })
                }
                None => {
                    cleanup();
                    Err(RunError::Invalid("the container did not start".into()))
                }
            }
        }
        ForkResult::Child => {
            drop(rx);
            let _ = nix::unistd::setsid();
            c.name = Some(name.clone());
            std::process::exit(keep(c, st, tx))
        }
    }
}

/// Tell the caller why the container did not start.
fn failed(started: &Sender<Start>, e: impl std::fmt::Display, code: i32) -> i32 {
    started.send(&Start::Failed { code, message: e.to_string() });
    code
}

/// The keeper itself; returns the container's exit status.
fn keep(mut c: Container, mut st: State, started: Sender<Start>) -> i32 {
    // Detach from the caller's terminal and pipes: everything until the log pipes exist goes
    // nowhere (the caller gets errors through `started`).
    if let Ok(null) = std::fs::OpenOptions::new().read(true).write(true).open("/dev/null") {
        let null = OwnedFd::from(null);
        for fd in 0..3 {
            let _ = dup2(&null, fd);
        }
    }
    st.keeper_pid = std::process::id() as i32;
    if let Err(e) = st.save() {
        return failed(&started, e, 125);
    }
    let iso = c.plan.compiled.isolation();
    let pipes = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .and_then(|o| nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map(|e| (o, e)));
    let Ok(((out_r, out_w), (err_r, err_w))) = pipes else {
        return failed(&started, "cannot create log pipes", 125);
    };
    let writer = match log_path(&st.name) {
        Ok(path) => logs::Writer::open(&path, iso.log_max_size, iso.log_max_files)
            .map_err(|e| format!("cannot open the log {}: {}", path.display(), policy::error::io_reason(&e))),
        Err(e) => Err(e.to_string()),
    };
    let writer = match writer {
        Ok(w) => w,
        Err(e) => return failed(&started, e, 125),
    };
    let logger = match crate::sys::fork() {
        Ok(ForkResult::Child) => {
            drop((out_w, err_w, started));
            logger::pump(out_r, err_r, writer);
            std::process::exit(0);
        }
        Ok(ForkResult::Parent { child }) => child,
        Err(e) => return failed(&started, format!("fork the logger: {e}"), 125),
    };
    drop((out_r, err_r, writer));
    let redirected = dup2(&out_w, 1).and_then(|_| dup2(&err_w, 2));
    drop((out_w, err_w));
    if let Err(e) = redirected {
        return failed(&started, e, 125);
    }
    let mut running = st.clone();
    let Ok(tell) = started.try_clone() else { return 125 };
    c.on_started = Some(Box::new(move |started: launcher::Running| {
        let pid = started.pid;
        running.pid = Some(pid);
        running.cgroup = started.cgroup;
        running.pid_start = state::start_time(pid);
        running.started = Some(state::now());
        running.status = ContainerStatus::Running;
        match running.save() {
            Ok(()) => tell.send(&Start::Started),
            Err(e) => tell.send(&Start::Failed { code: 125, message: e.to_string() }),
        }
    }));
    c.report = enforcer::ReportTo::None;
    let code = match launcher::run(c) {
        Ok(code) => code,
        Err(e) => {
            enforcer::say!("enforce: {e}");
            failed(&started, &e, e.exit_code())
        }
    };
    drop(started);
    // The logger first: once the exit is recorded every line is in the log.
    crate::sys::close_stdout_stderr();
    let _ = nix::sys::wait::waitpid(logger, None);
    if st.auto_remove {
        if let Ok(dir) = state::dir(&st.name) {
            let _ = std::fs::remove_dir_all(dir);
        }
        if let Some(layer) = &st.layer {
            crate::image::writable::remove_layer(layer);
        }
        return code;
    }
    if let Ok(mut now) = State::load(&st.name) {
        now.status = ContainerStatus::Exited;
        now.exit_code = Some(code);
        now.finished = Some(state::now());
        let _ = now.save();
    }
    code
}
