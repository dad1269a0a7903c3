//! `enforce run` with isolation: launcher → PID 1 (shim) → workload.

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::path::PathBuf;

use enforcer::cache::Prepared;
use enforcer::{Launcher, Options, Plan, ReportTo};
use nix::sched::{unshare, CloneFlags};
use nix::sys::signal::kill;
use nix::sys::wait::waitpid;
use nix::unistd::{setresgid, setresuid, ForkResult, Gid, Pid, Uid};
use policy::ir::IsolationIr;

use crate::channel::{channel, Outcome, Sender};
use crate::{idmap, mount, net, shim};

/// What to run.
pub struct RunSpec {
    /// Profile name (for reports).
    pub profile: String,
    /// The compiled policy (with this machine's seccomp program, when the compile cache had
    /// it).
    pub prepared: Prepared,
    /// Command and arguments (resolved inside the container).
    pub argv: Vec<String>,
    /// Root filesystem (overrides the profile's).
    pub rootfs: Option<PathBuf>,
    /// Report of what the workload got.
    pub report: ReportTo,
    /// Landlock best-effort.
    pub best_effort: bool,
    /// Called in the launcher with the host pid of the container's PID 1 once it exists.
    pub on_started: Option<Box<dyn FnMut(i32)>>,
    /// Name (detached containers; names the cgroup).
    pub name: Option<String>,
}

/// Why the container could not start: nothing ran (125), or the command could not be
/// executed (126) or found (127) inside.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct RunError {
    /// Exit status for the launcher.
    pub code: i32,
    /// What went wrong.
    pub message: String,
}

#[allow(non_snake_case)]
fn RunError(message: String) -> RunError {
    RunError { code: 125, message }
}

fn flags(iso: &IsolationIr) -> Result<CloneFlags, RunError> {
    let mut f = CloneFlags::empty();
    for n in &iso.namespaces {
        f |= match n.as_str() {
            "user" => CloneFlags::CLONE_NEWUSER,
            "pid" => CloneFlags::CLONE_NEWPID,
            "mount" => CloneFlags::CLONE_NEWNS,
            "net" if iso.network == "host" => CloneFlags::empty(),
            "net" => CloneFlags::CLONE_NEWNET,
            "uts" => CloneFlags::CLONE_NEWUTS,
            "ipc" => CloneFlags::CLONE_NEWIPC,
            "cgroup" => CloneFlags::CLONE_NEWCGROUP,
            other => return Err(RunError(format!("namespace `{other}` is not supported by runtime-lite"))),
        };
    }
    for (need, what) in [(CloneFlags::CLONE_NEWUSER, "user"), (CloneFlags::CLONE_NEWNS, "mount")] {
        if !f.contains(need) {
            return Err(RunError(format!(
                "runtime-lite needs the `{what}` namespace (container root is never host root)"
            )));
        }
    }
    Ok(f)
}

fn read_byte(fd: OwnedFd) -> bool {
    let mut b = [0u8; 1];
    std::fs::File::from(fd).read_exact(&mut b).is_ok()
}

fn write_byte(fd: OwnedFd) {
    let _ = std::fs::File::from(fd).write_all(b"1");
}

/// Run `spec` isolated; returns the exit status for the launcher (the workload's, or 125).
pub fn run(spec: RunSpec) -> Result<i32, RunError> {
    let RunSpec { profile, prepared, argv, rootfs, report, best_effort, mut on_started, name } = spec;
    let iso = prepared.head().isolation.clone();
    let clone_flags = flags(&iso)?;
    let rootfs = rootfs.or_else(|| iso.rootfs.clone().map(PathBuf::from));
    if let Some(r) = &rootfs {
        if !r.is_dir() {
            return Err(RunError(format!("rootfs {} is not a directory", r.display())));
        }
    }
    let (uid_map, gid_map) = idmap::mappings(&iso).map_err(RunError)?;
    // Everything that compiles or can fail on input, once, before any process exists. The
    // placeholder command is replaced inside the container.
    let plan =
        Plan::from_prepared(&profile, prepared, &["/proc/self/exe".to_string()], Options { best_effort })
            .map_err(|e| RunError { code: e.exit_code, message: e.to_string() })?;
    let workload = Workload { argv, report };
    let io = |e: std::io::Error| RunError(format!("cannot set up the container: {e}"));
    let (tx, rx) = channel().map_err(io)?;
    let (go_r, go_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| io(e.into()))?;
    let mut notes = Vec::new();
    let cg_name = name.unwrap_or_else(|| format!("run-{}", std::process::id()));
    let group = crate::cgroup::create(&cg_name, &iso, &mut notes).map_err(RunError)?;
    for n in &notes {
        eprintln!("enforce: {n}");
    }
    shim::block().map_err(|e| io(e.into()))?;
    // PID 1 is cloned straight into every namespace but the cgroup one, which it creates
    // itself once the launcher has put it in its cgroup (so that namespace is rooted there).
    let cgroup_ns = clone_flags & CloneFlags::CLONE_NEWCGROUP;
    match crate::sys::fork_into(clone_flags - cgroup_ns).map_err(|e| io(e.into()))? {
        ForkResult::Child => {
            drop(go_w);
            std::mem::forget(group); // the launcher owns the cgroup
            let code = match enter(go_r, cgroup_ns, &tx) {
                Ok(()) => pid1(&workload, plan, &iso, clone_flags, rootfs.as_deref(), &tx),
                Err(code) => code,
            };
            std::process::exit(code);
        }
        ForkResult::Parent { child } => {
            drop(go_r);
            let joined = match &group {
                Some(g) => g.add(child.as_raw()),
                None => Ok(()),
            };
            let mapped = joined.is_ok() && idmap::write_maps(child.as_raw(), uid_map, gid_map).is_ok();
            if mapped {
                write_byte(go_w);
                if let Some(f) = on_started.as_mut() {
                    f(child.as_raw());
                }
            } else {
                drop(go_w);
                let _ = kill(child, nix::sys::signal::Signal::SIGKILL);
            }
            drop(tx);
            // A shim reports the status before it exits; without a cgroup to remove (which needs
            // PID 1 gone), the launcher need not wait for the namespaces' teardown.
            let early = group.is_none() && iso.init && clone_flags.contains(CloneFlags::CLONE_NEWPID);
            let Outcome { status, failure } = rx.wait(child, early);
            let _ = shim::unblock_all();
            // The plan and the policy are large and about to be dropped by an exiting process:
            // freeing them only delays the exit status.
            std::mem::forget(plan);
            std::mem::forget(workload);
            if let Err(e) = joined {
                return Err(RunError(e));
            }
            if let Some((code, message)) = failure {
                return Err(RunError { code, message });
            }
            if !mapped {
                return Err(RunError(format!(
                    "cannot map container root to host uid {} ({} ids); is the range free and are user namespaces enabled?",
                    uid_map.host, uid_map.count
                )));
            }
            Ok(status)
        }
    }
}

/// In the new PID 1, before anything else: wait until the launcher has mapped the ids and
/// placed it in its cgroup, become root of the user namespace, create the cgroup namespace.
fn enter(go_r: OwnedFd, cgroup_ns: CloneFlags, tx: &Sender) -> Result<(), i32> {
    if !read_byte(go_r) {
        return Err(125);
    }
    if let Err(e) = setresgid(Gid::from_raw(0), Gid::from_raw(0), Gid::from_raw(0))
        .and_then(|_| setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0)))
    {
        tx.fail(125, &format!("become root of the user namespace: {e}"));
        return Err(125);
    }
    if !cgroup_ns.is_empty() {
        if let Err(e) = unshare(cgroup_ns) {
            tx.fail(125, &format!("unshare the cgroup namespace: {e}"));
            return Err(125);
        }
    }
    Ok(())
}

/// PID 1 of the new pid namespace. `plan` was made by the launcher (one seccomp compile for
/// every process); its command is resolved inside, once the root is in place.
fn pid1(
    workload: &Workload,
    plan: Plan,
    iso: &IsolationIr,
    clone_flags: CloneFlags,
    rootfs: Option<&std::path::Path>,
    tx: &Sender,
) -> i32 {
    let fail = |m: String| {
        tx.fail(125, &m);
        125
    };
    let new_net = clone_flags.contains(CloneFlags::CLONE_NEWNET);
    if let Err(e) = mount::setup(iso, rootfs, new_net) {
        return fail(e);
    }
    if clone_flags.contains(CloneFlags::CLONE_NEWUTS) {
        let name = iso.hostname.clone().unwrap_or_else(|| "palisade".into());
        if let Err(e) = nix::unistd::sethostname(&name) {
            return fail(format!("sethostname {name}: {e}"));
        }
    }
    if new_net {
        if let Err(e) = net::loopback_up() {
            return fail(e);
        }
    }
    if !iso.init || !clone_flags.contains(CloneFlags::CLONE_NEWPID) {
        let _ = shim::unblock_all();
        return exec_workload(workload, plan, tx);
    }
    match crate::sys::fork() {
        Err(e) => fail(format!("fork the workload: {e}")),
        Ok(ForkResult::Child) => {
            let _ = shim::unblock_all();
            exec_workload(workload, plan, tx)
        }
        Ok(ForkResult::Parent { child }) => {
            // The shim runs under the same policy and then drops every capability.
            // (Its plan names its own image: it never execs.)
            let confined = Launcher::new(plan, ReportTo::None).confine();
            if let Err(e) = confined {
                let _ = kill(child, nix::sys::signal::Signal::SIGKILL);
                let _ = waitpid(child, None);
                return fail(format!("confine the PID-1 shim: {e}"));
            }
            drop_all_capabilities();
            let code = shim::supervise(Pid::from_raw(child.as_raw()), Some(shim::SHRINK_AFTER));
            tx.exited(code);
            code
        }
    }
}

/// What the workload process needs besides the plan.
struct Workload {
    argv: Vec<String>,
    report: ReportTo,
}

fn exec_workload(w: &Workload, mut plan: Plan, tx: &Sender) -> i32 {
    let report = match &w.report {
        ReportTo::None => ReportTo::None,
        ReportTo::Stderr => ReportTo::Stderr,
        // The report file path is the host's; inside, only stderr is reachable.
        ReportTo::File(_) => ReportTo::Stderr,
    };
    let e = match plan.set_command(&w.argv) {
        Ok(()) => Launcher::new(plan, report).run(),
        Err(e) => e,
    };
    tx.fail(e.exit_code, &e.to_string());
    e.exit_code
}

/// Clear every capability set of this process (the shim only waits after this).
fn drop_all_capabilities() {
    for set in
        [caps::CapSet::Ambient, caps::CapSet::Inheritable, caps::CapSet::Effective, caps::CapSet::Permitted]
    {
        let _ = caps::clear(None, set);
    }
}
