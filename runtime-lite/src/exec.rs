//! `enforce exec NAME -- CMD`: a process that enters every namespace of a running container's
//! PID 1, takes its root, and runs CMD under the same policy as the container's workload (the
//! compile cache's program: nothing is compiled again).

use enforcer::{CompiledPolicy, Features, Launcher, Options, PathValues, Plan, ReportTo};
use nix::sched::{setns, CloneFlags};
use nix::unistd::{setresgid, setresuid, ForkResult, Gid, Pid, Uid};
use policy::vocab::{Flag, Namespace};

use crate::error::{RunError, SysError};
use crate::shim;
use crate::state::{ContainerStatus, State};

/// The `/proc/PID/ns` entry of `ns` a process joining the container takes: for time, the one
/// PID 1 made for its children (the one it is in, too).
fn ns_entry(ns: Namespace) -> &'static str {
    match ns {
        Namespace::Time => "time_for_children",
        other => other.proc_name(),
    }
}

/// Run `argv` in container `name` under `compiled`, which must be the policy the container
/// was started with. Returns CMD's exit status.
pub fn exec(
    name: &str,
    compiled: CompiledPolicy,
    argv: &[String],
    best_effort: bool,
) -> Result<i32, RunError> {
    let st = State::load(name)?;
    let status = st.checked_status();
    if status != ContainerStatus::Running {
        return Err(RunError::Invalid(format!("container `{name}` is not running ({status})")));
    }
    if compiled.digest().map_err(RunError::Compiled)? != st.profile_digest {
        return Err(RunError::Invalid(format!(
            "the profile {} changed since `{name}` started (or another version of enforce started it); refusing to exec under a different policy",
            st.profile
        )));
    }
    // Every decision before entering anything.
    let features = Features { vars: PathValues::Recorded(st.variables.clone()), ..Features::detect() };
    let plan = Plan::new(&st.profile, compiled, &features, Options { best_effort })?;
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
    for (f, ns) in &nss {
        let flag = CloneFlags::from_bits_retain(ns.clone_flag() as i32);
        setns(f, flag).map_err(|e| SysError::errno(format!("setns {ns}"), e))?;
    }
    nix::unistd::fchdir(&root).map_err(|e| SysError::errno("fchdir to the container root", e))?;
    nix::unistd::chroot(".").map_err(|e| SysError::errno("chroot", e))?;
    setresgid(Gid::from_raw(0), Gid::from_raw(0), Gid::from_raw(0))
        .and_then(|_| setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0)))
        .map_err(|e| SysError::errno("become container root", e))?;
    shim::block().map_err(|e| SysError::errno("block signals", e))?;
    // Forking puts the child in the container's pid namespace (setns only affects children).
    match crate::sys::fork().map_err(|e| SysError::errno("fork", e))? {
        ForkResult::Child => {
            let _ = shim::unblock_all();
            let e = match crate::workload::command(&plan, argv, false) {
                Ok(command) => Launcher::new(&plan, ReportTo::None).command(command).run(),
                Err(e) => e,
            };
            eprintln!("enforce: {e}");
            std::process::exit(e.exit_code())
        }
        ForkResult::Parent { child } => Ok(shim::supervise(Pid::from_raw(child.as_raw()), None)),
    }
}
