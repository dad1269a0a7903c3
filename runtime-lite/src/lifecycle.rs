//! Detached containers: `run -d --name`, `ps`, `exec`, `logs`, `stop`, `rm`.

use std::fmt::Write as _;
use std::io::Write;
use std::os::fd::OwnedFd;

use enforcer::{Launcher, Options, Plan, ReportTo};
use nix::sched::{setns, CloneFlags};
use nix::sys::signal::{kill, Signal};
use nix::unistd::{setresgid, setresuid, ForkResult, Gid, Pid, Uid};
use policy::Policy;
use sha2::{Digest, Sha256};

use crate::logs;
use crate::run::{run, RunSpec};
use crate::shim;
use crate::state::{self, State};

/// SHA-256 of the compiled policy.
pub fn digest(p: &Policy) -> String {
    let json = serde_json::to_string(p).unwrap_or_default();
    Sha256::digest(json.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

fn log_path(name: &str) -> std::path::PathBuf {
    state::dir(name).join("container.log")
}

use crate::sys::dup2;

/// Start `spec` detached as `name`; returns once PID 1 runs (or with why it did not start;
/// then nothing is left behind).
pub fn detach(mut spec: RunSpec, name: &str, profile_spec: &str) -> Result<(), (i32, String)> {
    let fail = |m: String| (125, m);
    if !state::valid_name(name) {
        return Err(fail(format!("invalid name `{name}`: use 1..=64 of A-Z a-z 0-9 _ . -")));
    }
    let dir = state::dir(name);
    if dir.exists() {
        return Err(fail(format!("a container named `{name}` exists (enforce rm {name})")));
    }
    std::fs::create_dir_all(&dir).map_err(|e| fail(format!("{}: {e}", dir.display())))?;
    let cleanup = || {
        let _ = std::fs::remove_dir_all(&dir);
    };
    let iso = spec.prepared.head().isolation.clone();
    let full = spec.prepared.policy().map_err(|e| {
        cleanup();
        fail(format!("cannot read the compiled policy back: {e}"))
    })?;
    let mut st = State {
        name: name.into(),
        profile: profile_spec.into(),
        profile_digest: digest(&full),
        command: spec.argv.clone(),
        rootfs: spec.rootfs.clone().or(iso.rootfs.clone().map(Into::into)).map(|p| p.display().to_string()),
        status: "created".into(),
        keeper_pid: 0,
        pid: None,
        pid_start: None,
        created: state::now(),
        started: None,
        finished: None,
        exit_code: None,
    };
    let (started_r, started_w) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| fail(e.to_string()))?;
    match crate::sys::fork().map_err(|e| fail(e.to_string()))? {
        ForkResult::Parent { .. } => {
            drop(started_w);
            // One line: `ok`, or `CODE MESSAGE` (the keeper keeps its end open while it runs).
            let mut msg = String::new();
            let _ = std::io::BufRead::read_line(
                &mut std::io::BufReader::new(std::fs::File::from(started_r)),
                &mut msg,
            );
            let msg = msg.trim_end().to_string();
            if msg == "ok" {
                return Ok(());
            }
            cleanup();
            let (code, m) = msg
                .split_once(' ')
                .map(|(c, m)| (c.parse().unwrap_or(125), m.to_string()))
                .unwrap_or((125, "the container did not start".into()));
            Err((code, m))
        }
        ForkResult::Child => {
            drop(started_r);
            let _ = nix::unistd::setsid();
            let code = keeper(&mut spec, &mut st, &iso, started_w);
            std::process::exit(code)
        }
    }
}

fn keeper(spec: &mut RunSpec, st: &mut State, iso: &policy::ir::IsolationIr, started_w: OwnedFd) -> i32 {
    let report = |w: &OwnedFd, text: &str| {
        let _ = std::fs::File::from(w.try_clone().expect("dup")).write_all(format!("{text}\n").as_bytes());
    };
    // Detach from the caller's terminal and pipes: everything until the log pipes exist goes
    // nowhere (the foreground `enforce` gets errors through `started_w`).
    if let Ok(null) = std::fs::OpenOptions::new().read(true).write(true).open("/dev/null") {
        let null = OwnedFd::from(null);
        for fd in 0..3 {
            let _ = dup2(&null, fd);
        }
    }
    st.keeper_pid = std::process::id() as i32;
    if let Err(e) = st.save() {
        report(&started_w, &format!("125 {e}"));
        return 125;
    }
    let pipes = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .and_then(|o| nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map(|e| (o, e)));
    let Ok(((out_r, out_w), (err_r, err_w))) = pipes else {
        report(&started_w, "125 cannot create log pipes");
        return 125;
    };
    let writer = match logs::Writer::open(&log_path(&st.name), iso.log_max_size, iso.log_max_files) {
        Ok(w) => w,
        Err(e) => {
            report(&started_w, &format!("125 cannot open the log: {e}"));
            return 125;
        }
    };
    let logger = match crate::sys::fork() {
        Ok(ForkResult::Child) => {
            drop((out_w, err_w, started_w));
            logs::pump(out_r, err_r, writer);
            std::process::exit(0);
        }
        Ok(ForkResult::Parent { child }) => child,
        Err(e) => {
            report(&started_w, &format!("125 fork the logger: {e}"));
            return 125;
        }
    };
    drop((out_r, err_r, writer));
    let redirected = dup2(&out_w, 1).and_then(|_| dup2(&err_w, 2));
    drop((out_w, err_w));
    if let Err(e) = redirected {
        report(&started_w, &format!("125 {e}"));
        return 125;
    }
    let mut running = st.clone();
    let started_fd = started_w.try_clone().expect("dup");
    spec.on_started = Some(Box::new(move |pid| {
        running.pid = Some(pid);
        running.pid_start = state::start_time(pid);
        running.started = Some(state::now());
        running.status = "running".into();
        let ok = running.save().is_ok();
        let _ = std::fs::File::from(started_fd.try_clone().expect("dup")).write_all(if ok {
            b"ok\n"
        } else {
            b"125 cannot save state\n"
        });
    }));
    let taken = RunSpec {
        profile: spec.profile.clone(),
        prepared: spec.prepared.clone(),
        argv: spec.argv.clone(),
        rootfs: spec.rootfs.clone(),
        report: ReportTo::None,
        best_effort: spec.best_effort,
        on_started: spec.on_started.take(),
        name: Some(st.name.clone()),
    };
    let result = run(taken);
    let code = match result {
        Ok(c) => c,
        Err(e) => {
            eprintln!("enforce: {}", e.message);
            report(&started_w, &format!("{} {}", e.code, e.message));
            e.code
        }
    };
    drop(started_w);
    // The logger first: once the exit is recorded every line is in the log.
    crate::sys::close_stdout_stderr();
    let _ = nix::sys::wait::waitpid(logger, None);
    if let Ok(mut now) = State::load(&st.name) {
        now.status = "exited".into();
        now.exit_code = Some(code);
        now.finished = Some(state::now());
        let _ = now.save();
    }
    code
}

/// `enforce ps`: one row per container.
pub fn ps_text(list: &[State]) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "{:<20} {:<12} {:>8} {:>12}  COMMAND", "NAME", "STATUS", "PID", "CREATED");
    for s in list {
        let status = match (s.checked_status().as_str(), s.exit_code) {
            ("exited", Some(c)) => format!("exited({c})"),
            (st, _) => st.to_string(),
        };
        let pid = s.pid.filter(|_| s.alive()).map(|p| p.to_string()).unwrap_or_else(|| "-".into());
        let age = state::now().saturating_sub(s.created);
        let _ =
            writeln!(o, "{:<20} {:<12} {:>8} {:>10}s ago  {}", s.name, status, pid, age, s.command.join(" "));
    }
    o
}

/// `enforce exec NAME -- CMD`: enter every namespace of NAME's PID 1 and run CMD under the
/// same policy. Returns CMD's exit status.
pub fn exec(name: &str, policy: Policy, argv: &[String], best_effort: bool) -> Result<i32, (i32, String)> {
    let fail = |m: String| (125, m);
    let st = State::load(name).map_err(fail)?;
    if st.checked_status() != "running" {
        return Err(fail(format!("container `{name}` is not running ({})", st.checked_status())));
    }
    if digest(&policy) != st.profile_digest {
        return Err(fail(format!(
            "the profile {} changed since `{name}` started; refusing to exec under a different policy",
            st.profile
        )));
    }
    let pid = st.pid.unwrap_or(0);
    let open = |what: &str| {
        std::fs::File::open(format!("/proc/{pid}/{what}"))
            .map_err(|e| fail(format!("open /proc/{pid}/{what}: {e}")))
    };
    let root = open("root")?;
    let mut nss = Vec::new();
    for (ns, flag) in [
        ("user", CloneFlags::CLONE_NEWUSER),
        ("mnt", CloneFlags::CLONE_NEWNS),
        ("uts", CloneFlags::CLONE_NEWUTS),
        ("ipc", CloneFlags::CLONE_NEWIPC),
        ("net", CloneFlags::CLONE_NEWNET),
        ("cgroup", CloneFlags::CLONE_NEWCGROUP),
        ("pid", CloneFlags::CLONE_NEWPID),
    ] {
        let theirs = std::fs::read_link(format!("/proc/{pid}/ns/{ns}")).ok();
        let ours = std::fs::read_link(format!("/proc/self/ns/{ns}")).ok();
        if theirs != ours {
            nss.push((open(&format!("ns/{ns}"))?, flag, ns));
        }
    }
    for (f, flag, ns) in &nss {
        setns(f, *flag).map_err(|e| fail(format!("setns {ns}: {e}")))?;
    }
    nix::unistd::fchdir(&root).map_err(|e| fail(format!("fchdir to the container root: {e}")))?;
    nix::unistd::chroot(".").map_err(|e| fail(format!("chroot: {e}")))?;
    setresgid(Gid::from_raw(0), Gid::from_raw(0), Gid::from_raw(0))
        .and_then(|_| setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0)))
        .map_err(|e| fail(format!("become container root: {e}")))?;
    shim::block().map_err(|e| fail(e.to_string()))?;
    // Forking puts the child in the container's pid namespace (setns only affects children).
    match crate::sys::fork().map_err(|e| fail(e.to_string()))? {
        ForkResult::Child => {
            let _ = shim::unblock_all();
            let e = match Plan::new(&st.profile, policy, argv, Options { best_effort }) {
                Ok(p) => Launcher::new(p, ReportTo::None).run(),
                Err(e) => e,
            };
            eprintln!("enforce: {e}");
            std::process::exit(e.exit_code)
        }
        ForkResult::Parent { child } => Ok(shim::supervise(child, None)),
    }
}

/// `enforce logs NAME [--tail N] [-f]`, written to stdout/stderr by stream.
pub fn logs(name: &str, tail: Option<usize>, follow: bool) -> Result<(), String> {
    let st = State::load(name)?;
    let iso_files = 64; // read every rotated file there is
    let path = log_path(name);
    let lines = logs::read(&path, iso_files);
    let skip = tail.map(|n| lines.len().saturating_sub(n)).unwrap_or(0);
    let emit = |l: &logs::Line| {
        if l.stream == "stderr" {
            let _ = std::io::stderr().write_all(l.log.as_bytes());
        } else {
            let _ = std::io::stdout().write_all(l.log.as_bytes());
            let _ = std::io::stdout().flush();
        }
    };
    for l in &lines[skip..] {
        emit(l);
    }
    if !follow {
        return Ok(());
    }
    let mut last = lines.last().cloned();
    loop {
        std::thread::sleep(std::time::Duration::from_millis(200));
        let now = logs::read(&path, iso_files);
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
        if s.checked_status() != "running" && start >= now.len() {
            return Ok(());
        }
    }
}

/// `enforce stop NAME [--time S]`: SIGTERM to PID 1 (the shim forwards it), SIGKILL after
/// `secs` seconds.
pub fn stop(name: &str, secs: u64) -> Result<(), String> {
    let st = State::load(name)?;
    if st.checked_status() != "running" {
        return Err(format!("container `{name}` is not running ({})", st.checked_status()));
    }
    let pid = Pid::from_raw(st.pid.unwrap_or(0));
    let _ = kill(pid, Signal::SIGTERM);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while st.alive() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    if st.alive() {
        let _ = kill(pid, Signal::SIGKILL);
    }
    // Wait for the keeper to record the exit.
    for _ in 0..100 {
        if State::load(name).map(|s| s.status == "exited").unwrap_or(true) {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Ok(())
}

/// `enforce rm NAME [-f]`.
pub fn rm(name: &str, force: bool) -> Result<(), String> {
    let st = State::load(name)?;
    if st.checked_status() == "running" {
        if !force {
            return Err(format!("container `{name}` is running; stop it first (or rm -f)"));
        }
        stop(name, 0)?;
    }
    std::fs::remove_dir_all(state::dir(name))
        .map_err(|e| format!("remove {}: {e}", state::dir(name).display()))
}
