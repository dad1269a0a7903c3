//! `enforce exec NAME -- CMD`: a process that joins a running container's cgroup, enters every
//! namespace of its PID 1, takes its root, and runs CMD under the same policy as the
//! container's workload (the compile cache's program: nothing is compiled again).
//!
//! The container may be compromised, so nothing of the caller reaches it: the process is
//! non-dumpable until it execs (no ptrace, no `/proc/PID/environ` of it from inside), has a
//! session of its own without the caller's terminal, and gets pipes that this process relays
//! (with `-t`, a terminal of the container's own), never the caller's descriptors.

use std::os::fd::OwnedFd;

use enforcer::{CompiledPolicy, Features, Launcher, Options, PathValues, Plan, ReportTo};
use nix::fcntl::OFlag;
use nix::sched::{setns, CloneFlags};
use nix::unistd::{setresgid, setresuid, ForkResult, Gid, Pid, Uid};
use policy::vocab::{Flag, Namespace};

use crate::console;
use crate::error::{RunError, SysError};
use crate::exec_stdio::{self, Stdio};
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
    // The command joins the container's user namespace as its root, as the workload did.
    let features =
        Features { vars: PathValues::Recorded(st.variables.clone()), ..Features::detect().in_container() };
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
            if let Err(e) = exec_stdio::take(&stdio) {
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
        ForkResult::Parent { child } => {
            Ok(exec_stdio::relay(stdio, r.interactive, Pid::from_raw(child.as_raw())))
        }
    }
}
