//! `enforce exec NAME -- CMD`: a process that joins a running container's cgroup, enters every
//! namespace of its PID 1, takes its root, and runs CMD under the same policy as the
//! container's workload (the compile cache's program: nothing is compiled again).
//!
//! The container may be compromised, so nothing of the caller reaches it: the process is
//! non-dumpable until it execs (no ptrace, no `/proc/PID/environ` of it from inside), has a
//! session of its own without the caller's terminal, and gets pipes that this process relays
//! (with `-t`, a terminal of the container's own), never the caller's descriptors.

use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};

use enforcer::{CompiledPolicy, Features, Launcher, Options, PathValues, Plan, ReportTo};
use nix::fcntl::OFlag;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sched::{setns, CloneFlags};
use nix::sys::signal::{kill, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{setresgid, setresuid, ForkResult, Gid, Pid, Uid};
use policy::vocab::{Flag, Namespace};

use crate::console::{self, Relay};
use crate::error::{RunError, SysError};
use crate::name::ContainerName;
use crate::shim;
use crate::state::{ContainerStatus, State};

/// What `enforce exec` was asked.
pub struct ExecRequest {
    /// The container.
    pub name: ContainerName,
    /// The policy it was started with (checked against its state's digest).
    pub compiled: CompiledPolicy,
    /// Command and arguments.
    pub argv: Vec<String>,
    /// Landlock best-effort.
    pub best_effort: bool,
    /// `-i`: relay stdin (else the command's stdin is `/dev/null`).
    pub interactive: bool,
    /// `-t`: a terminal of the container's own.
    pub tty: bool,
}

/// The `/proc/PID/ns` entry of `ns` a process joining the container takes: for time, the one
/// PID 1 made for its children (the one it is in, too).
fn ns_entry(ns: Namespace) -> &'static str {
    match ns {
        Namespace::Time => "time_for_children",
        other => other.proc_name(),
    }
}

/// The command's stdio: pipes whose other ends this process relays, or a terminal.
enum Stdio {
    Pipes { stdin: Option<(OwnedFd, OwnedFd)>, stdout: (OwnedFd, OwnedFd), stderr: (OwnedFd, OwnedFd) },
    Terminal { master: OwnedFd, peer: OwnedFd },
}

fn pipe() -> Result<(OwnedFd, OwnedFd), SysError> {
    nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| SysError::errno("pipe", e))
}

/// Run `r.argv` in container `r.name`. Returns CMD's exit status.
pub fn exec(r: ExecRequest) -> Result<i32, RunError> {
    // Before anything else: no process of the container may trace or read this one.
    nix::sys::prctl::set_dumpable(false).map_err(|e| SysError::errno("PR_SET_DUMPABLE", e))?;
    let name = &r.name;
    let st = State::load(name)?;
    let status = st.checked_status();
    if status != ContainerStatus::Running {
        return Err(RunError::Invalid(format!("container `{name}` is not running ({status})")));
    }
    if r.compiled.digest().map_err(RunError::Compiled)? != st.profile_digest {
        return Err(RunError::Invalid(format!(
            "the profile {} changed since `{name}` started (or another version of enforce started it); refusing to exec under a different policy",
            st.profile
        )));
    }
    if r.tty && r.interactive && !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        return Err(RunError::Invalid(
            "the input device is not a TTY: -i -t relays a terminal (drop -t to pass a pipe or file as the command's stdin)".into(),
        ));
    }
    // Every decision before entering anything.
    let features = Features { vars: PathValues::Recorded(st.variables.clone()), ..Features::detect() };
    let plan = Plan::new(&st.profile, r.compiled, &features, Options { best_effort: r.best_effort })?;
    // Its limits hold for this process too, as for `runc exec`.
    if let Some(group) = &st.cgroup {
        crate::cgroup::join(group)?;
    }
    let pid = st.pid.unwrap_or(0);
    let open = |what: &str| {
        std::fs::File::open(format!("/proc/{pid}/{what}"))
            .map_err(|e| SysError::io(format!("open /proc/{pid}/{what}"), e))
    };
    let root = open("root")?;
    // The user namespace first: it grants the rights to join the others.
    let order = std::iter::once(Namespace::User)
        .chain(Namespace::ALL.iter().copied().filter(|n| *n != Namespace::User));
    let mut nss = Vec::new();
    for ns in order {
        let entry = ns_entry(ns);
        let theirs = std::fs::read_link(format!("/proc/{pid}/ns/{entry}")).ok();
        let ours = std::fs::read_link(format!("/proc/self/ns/{}", ns.proc_name())).ok();
        match (theirs, ours) {
            // This kernel has no such namespace.
            (None, None) => {}
            // PID 1 went away: never run the command in the host's namespaces.
            (None, Some(_)) => {
                return Err(RunError::Invalid(format!(
                    "cannot read /proc/{pid}/ns/{entry}: is `{name}` still running?"
                )))
            }
            (theirs, ours) if theirs != ours => nss.push((open(&format!("ns/{entry}"))?, ns)),
            _ => {}
        }
    }
    // Made on the host, before entering anything: the pipes.
    let pipes = match r.tty {
        true => None,
        false => Some((if r.interactive { Some(pipe()?) } else { None }, pipe()?, pipe()?)),
    };
    for (f, ns) in &nss {
        let flag = CloneFlags::from_bits_retain(ns.clone_flag() as i32);
        setns(f, flag).map_err(|e| SysError::errno(format!("setns {ns}"), e))?;
    }
    nix::unistd::fchdir(&root).map_err(|e| SysError::errno("fchdir to the container root", e))?;
    nix::unistd::chroot(".").map_err(|e| SysError::errno("chroot", e))?;
    setresgid(Gid::from_raw(0), Gid::from_raw(0), Gid::from_raw(0))
        .and_then(|_| setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0)))
        .map_err(|e| SysError::errno("become container root", e))?;
    // The id switch leaves the process non-dumpable; said again, so no kernel rule can undo it.
    nix::sys::prctl::set_dumpable(false).map_err(|e| SysError::errno("PR_SET_DUMPABLE", e))?;
    let stdio = match pipes {
        Some((stdin, stdout, stderr)) => Stdio::Pipes { stdin, stdout, stderr },
        // In the container's own devpts (its /dev is where the root is now).
        None => {
            let (master, peer) = console::open_here()?;
            Stdio::Terminal { master, peer }
        }
    };
    shim::block().map_err(|e| SysError::errno("block signals", e))?;
    // Forking puts the child in the container's pid namespace (setns only affects children).
    match crate::sys::fork().map_err(|e| SysError::errno("fork", e))? {
        ForkResult::Child => {
            let _ = shim::unblock_all();
            if let Err(e) = take(&stdio) {
                enforcer::say!("enforce: {e}");
                std::process::exit(125);
            }
            drop(stdio);
            let e = match crate::workload::command(&plan, &r.argv, false) {
                Ok(command) => Launcher::new(&plan, ReportTo::None).command(command).run(),
                Err(e) => e,
            };
            enforcer::say!("enforce: {e}");
            std::process::exit(e.exit_code())
        }
        ForkResult::Parent { child } => Ok(relay(stdio, r.interactive, Pid::from_raw(child.as_raw()))),
    }
}

/// In the command's process: a session of its own and the stdio made for it.
fn take(stdio: &Stdio) -> Result<(), SysError> {
    match stdio {
        Stdio::Terminal { peer, .. } => console::take(peer),
        Stdio::Pipes { stdin, stdout, stderr } => {
            nix::unistd::setsid().map_err(|e| SysError::errno("setsid", e))?;
            let null;
            let input = match stdin {
                Some((read, _)) => read,
                None => {
                    null = std::fs::File::open("/dev/null")
                        .map(OwnedFd::from)
                        .map_err(|e| SysError::io("open /dev/null", e))?;
                    &null
                }
            };
            crate::sys::dup2(input, 0)?;
            crate::sys::dup2(&stdout.1, 1)?;
            crate::sys::dup2(&stderr.1, 2)
        }
    }
}

/// One copy the relay makes: from a descriptor to a destination, until its end.
struct Stream {
    from: std::fs::File,
    to: Box<dyn Write>,
}

impl Stream {
    fn new(from: impl Into<OwnedFd>, to: impl Write + 'static) -> Stream {
        Stream { from: std::fs::File::from(from.into()), to: Box::new(to) }
    }

    /// Copy what is there; `false` at its end (or once the destination is gone).
    fn pump(&mut self) -> bool {
        let mut buf = [0u8; 16384];
        match self.from.read(&mut buf) {
            Ok(0) => false,
            Err(e) => e.kind() == std::io::ErrorKind::Interrupted,
            Ok(n) => self.to.write_all(&buf[..n]).and_then(|()| self.to.flush()).is_ok(),
        }
    }
}

/// This process's stdin, as a file of its own (a duplicate of fd 0).
fn stdin_fd() -> Option<OwnedFd> {
    std::io::stdin().as_fd().try_clone_to_owned().ok()
}

/// In this process (one thread: it has entered the container's pid namespace, where no thread
/// may be made): relay the command's stdio until it has exited and its output ended,
/// forwarding signals to it; returns its exit status.
fn relay(stdio: Stdio, interactive: bool, child: Pid) -> i32 {
    let mut outputs = Vec::new();
    let mut input = None;
    let mut terminal = None;
    match stdio {
        Stdio::Pipes { stdin, stdout, stderr } => {
            outputs.push(Stream::new(stdout.0, std::io::stdout()));
            outputs.push(Stream::new(stderr.0, std::io::stderr()));
            drop((stdout.1, stderr.1));
            if let Some((read, write)) = stdin {
                drop(read);
                input = stdin_fd().map(|fd| Stream::new(fd, std::fs::File::from(write)));
            }
        }
        Stdio::Terminal { master, peer } => {
            drop(peer);
            let relay = Relay::new(master, interactive);
            if let Ok((out, typed)) = relay.ends() {
                outputs.push(Stream::new(out, std::io::stdout()));
                input = stdin_fd().filter(|_| interactive).map(|fd| Stream::new(fd, typed));
            }
            // Kept until the end: dropping it puts the caller's terminal mode back.
            terminal = Some(relay);
        }
    }
    let Ok(signals) = SignalFd::with_flags(&shim::waited(), SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
    else {
        // No signalfd: the output is lost rather than the status.
        return shim::supervise(child, None);
    };
    let mut status = None;
    while status.is_none() || !outputs.is_empty() {
        let mut fds = vec![PollFd::new(signals.as_fd(), PollFlags::POLLIN)];
        fds.extend(outputs.iter().map(|o| PollFd::new(o.from.as_fd(), PollFlags::POLLIN)));
        if let Some(i) = &input {
            fds.push(PollFd::new(i.from.as_fd(), PollFlags::POLLIN));
        }
        if poll(&mut fds, PollTimeout::NONE).is_err() {
            continue;
        }
        let ready: Vec<bool> = fds.iter().map(|f| f.revents().is_some_and(|r| !r.is_empty())).collect();
        drop(fds);
        if ready.get(1 + outputs.len()) == Some(&true) && !input.as_mut().is_some_and(Stream::pump) {
            input = None; // its end: the command's stdin closes
        }
        let mut at = ready[1..=outputs.len()].iter();
        outputs.retain_mut(|o| !at.next().copied().unwrap_or(false) || o.pump());
        while let Ok(Some(info)) = signals.read_signal() {
            let Ok(sig) = Signal::try_from(info.ssi_signo as i32) else { continue };
            if let (Signal::SIGWINCH, Some(t)) = (sig, terminal.as_ref()) {
                t.resize();
            }
            if sig != Signal::SIGCHLD {
                let _ = kill(child, sig);
                continue;
            }
            while let Ok(s) = waitpid(None::<Pid>, Some(WaitPidFlag::WNOHANG)) {
                if s == WaitStatus::StillAlive {
                    break;
                }
                if s.pid() == Some(child) {
                    status = shim::exit_code(s).or(status);
                }
            }
        }
    }
    drop(terminal);
    status.unwrap_or(125)
}
