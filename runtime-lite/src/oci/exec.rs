//! `exec`: run another process in a running container, as `runc exec` does: in its cgroup,
//! in every namespace of its init, under the container's seccomp section with the process's
//! own ids, capabilities, rlimits and no_new_privs, through the same enforcer steps.
//!
//! Processes: the runtime forks a joiner, which enters the init's namespaces (all opened
//! before the first `setns`, the mount namespace last) and clones the process as the
//! runtime's own child (`CLONE_PARENT`: a pid namespace is entered by the children of the
//! process that joins it); the runtime puts it in the cgroup and lets it go on.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use enforcer::{Command, Launcher, ReportTo};
use nix::sched::CloneFlags;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use policy::vocab::Namespace;

use super::config::ProcessSpec;
use super::spawn::{self, Cloned};
use super::state::{Record, Status};
use super::{plan, OciError};
use crate::channel::{self, Go, Receiver};

/// The seccomp section a container's processes get, kept in its state directory.
pub const SECCOMP: &str = "seccomp.json";

/// `exec`'s options.
pub struct Exec {
    /// The process.
    pub process: ProcessSpec,
    /// Return once it runs (its pid in `pid_file`); else wait for it.
    pub detach: bool,
    /// `--pid-file`.
    pub pid_file: Option<PathBuf>,
    /// `--preserve-fds`.
    pub preserve_fds: u32,
    /// `--console-socket` (with a terminal).
    pub console_socket: Option<PathBuf>,
}

/// Run `e` in container `id`: its pid (detached) or its exit status.
pub fn exec(root: &Path, id: &str, e: &Exec) -> Result<i32, OciError> {
    let (dir, r) = Record::load(root, id)?;
    let status = r.status(&dir);
    if status != Status::Running {
        return Err(OciError::Status {
            id: id.into(),
            status: status.to_string(),
            why: "exec needs a running container".into(),
        });
    }
    let seccomp = match std::fs::read_to_string(dir.join(SECCOMP)) {
        Ok(t) => Some(t),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
        Err(err) => return Err(OciError::io(format!("read {}/{SECCOMP}", dir.display()), err)),
    };
    super::console::check(e.process.terminal, e.console_socket.as_deref())?;
    let console = e.console_socket.as_deref().map(super::console::connect).transpose()?;
    let mut plan = plan::plan(id, &e.process, seccomp.as_deref())?;
    if let Some(spec) = &r.profile {
        plan = plan::narrow(plan, plan::profile(spec)?);
    }
    // Every namespace of the init that is not this process's, opened now (by its host path).
    let mut joins: Vec<(Namespace, OwnedFd)> = Vec::new();
    for ns in spawn::ORDER {
        let theirs = format!("/proc/{}/ns/{}", r.pid, ns.proc_name());
        let ours = format!("/proc/self/ns/{}", ns.proc_name());
        let (Ok(a), Ok(b)) = (std::fs::read_link(&theirs), std::fs::read_link(&ours)) else { continue };
        if a != b {
            let f =
                std::fs::File::open(&theirs).map_err(|err| OciError::io(format!("open {theirs}"), err))?;
            joins.push((ns, OwnedFd::from(f)));
        }
    }
    let (go_tx, go_rx) = channel::channel::<Go>()?;
    if !e.detach {
        crate::shim::block().map_err(|err| OciError::Init(format!("block signals: {err}")))?;
    }
    // The container's session keyring.
    let keyring = (!r.no_new_keyring).then_some(id);
    let pid = match spawn::clone_into(&joins, CloneFlags::empty())? {
        Cloned::Child => {
            drop(go_tx);
            let code = in_container(go_rx, &e.process, &plan, (e.preserve_fds, keyring), console.as_ref());
            std::process::exit(code)
        }
        Cloned::Parent(p) => p.as_raw(),
    };
    let child = Pid::from_raw(pid);
    if let Some(g) = crate::cgroup::load(&r.cgroup) {
        if let Err(err) = g.add(pid) {
            let _ = kill(child, Signal::SIGKILL);
            return Err(OciError::Init(err.to_string()));
        }
    }
    if let Some(f) = &e.pid_file {
        std::fs::write(f, pid.to_string())
            .map_err(|err| OciError::io(format!("write {}", f.display()), err))?;
    }
    go_tx.send(&Go::Go { idmapped: false });
    drop(go_tx);
    if e.detach {
        return Ok(pid);
    }
    Ok(crate::shim::supervise(child, None))
}

/// The new process, in the container's namespaces: wait until it is in the cgroup, take the
/// terminal, then the apply steps and exec.
fn in_container(
    go: Receiver<Go>,
    p: &ProcessSpec,
    plan: &enforcer::Plan,
    (keep_fds, keyring): (u32, Option<&str>),
    console: Option<&OwnedFd>,
) -> i32 {
    let _ = crate::shim::unblock_all();
    if go.recv().is_none() {
        return 125;
    }
    if let Some(id) = keyring {
        if let Err(err) = super::keyring::enter(id) {
            eprintln!("palisade-runtime: exec: {err}");
            return 125;
        }
    }
    if let Some(socket) = console {
        if let Err(err) = super::console::attach(socket, p.console_size) {
            eprintln!("palisade-runtime: exec: process.terminal: {err}");
            return 125;
        }
    }
    run(p, plan, keep_fds)
}

/// In the container: the working directory, the umask, then the apply steps and exec.
fn run(p: &ProcessSpec, plan: &enforcer::Plan, keep_fds: u32) -> i32 {
    if let Some(m) = p.umask {
        nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(m));
    }
    if let Err(err) = std::env::set_current_dir(&p.cwd) {
        eprintln!("palisade-runtime: exec: process.cwd {}: {err}", p.cwd);
        return 125;
    }
    let e = match Command::resolve_in(&p.args, &p.env, Some(Path::new(&p.cwd))) {
        Ok(c) => Launcher::new(plan, ReportTo::None).command(c).keep_fds(keep_fds).run(),
        Err(e) => e,
    };
    eprintln!("palisade-runtime: exec: {e}");
    e.exit_code()
}

/// What `exec` was given on its command line.
#[derive(Debug, Default)]
pub struct Given {
    /// `--process FILE` (runtime-spec `process` JSON).
    pub process: Option<PathBuf>,
    /// Command and arguments (without `--process`).
    pub args: Vec<String>,
    /// `--cwd`.
    pub cwd: Option<String>,
    /// `--env NAME=VALUE`, added.
    pub env: Vec<String>,
    /// `--user UID[:GID]`.
    pub user: Option<String>,
    /// `--no-new-privs`.
    pub no_new_privs: bool,
    /// `--tty`.
    pub tty: bool,
}

fn bad(field: &str, why: impl std::fmt::Display) -> OciError {
    OciError::Config { field: field.into(), why: why.to_string() }
}

/// The process `exec` runs: `--process`, or the container's own (from its bundle's
/// config.json) with the command line's options applied. Warnings go to `warn`.
pub fn process(
    root: &Path,
    id: &str,
    g: &Given,
    warn: &mut dyn FnMut(&str),
) -> Result<ProcessSpec, OciError> {
    let mut p: oci_spec::runtime::Process = match &g.process {
        Some(f) => {
            let text =
                std::fs::read_to_string(f).map_err(|e| OciError::io(format!("read {}", f.display()), e))?;
            serde_json::from_str(&text).map_err(|e| bad("--process", e))?
        }
        None => {
            let (_, r) = Record::load(root, id)?;
            let spec = oci_spec::runtime::Spec::load(r.bundle.join("config.json"))
                .map_err(|e| bad("config.json", e))?;
            let mut p = spec.process().clone().unwrap_or_default();
            if g.args.is_empty() {
                return Err(bad("exec", "give a command or --process"));
            }
            p.set_args(Some(g.args.clone()));
            if let Some(c) = &g.cwd {
                p.set_cwd(c.into());
            }
            let mut env = p.env().clone().unwrap_or_default();
            env.extend(g.env.iter().cloned());
            p.set_env(Some(env));
            if let Some(u) = &g.user {
                let (uid, gid) = u.split_once(':').unwrap_or((u, "0"));
                let num =
                    |s: &str| s.parse::<u32>().map_err(|_| bad("--user", format!("`{u}` is not UID[:GID]")));
                let mut user = p.user().clone();
                user.set_uid(num(uid)?);
                user.set_gid(num(gid)?);
                p.set_user(user);
            }
            if g.no_new_privs {
                p.set_no_new_privileges(Some(true));
            }
            p
        }
    };
    if g.tty {
        p.set_terminal(Some(true));
    }
    let mut warnings = Vec::new();
    let process = super::config::process(&p, &mut warnings)?;
    warnings.iter().for_each(|w| warn(w));
    Ok(process)
}
