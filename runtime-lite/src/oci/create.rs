//! The runtime side of `create` (and `run`): read the bundle and decide everything, make the
//! state directory, clone the init straight into its new namespaces, write its id maps, and
//! return once it waits at the gate for `start`. Any failure removes the state directory and
//! the init: nothing is left behind.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use super::spawn::Cloned;
use nix::sched::CloneFlags;
use nix::sys::signal::{kill, Signal};
use policy::vocab::{Namespace, NamespaceSet};

use super::init::Init;
use super::state::{self, Record};
use super::{config, hooks, plan, OciError};
use crate::channel::{self, Go, Status};
use crate::error::SysError;

/// `create`'s options.
#[derive(Debug, Clone)]
pub struct Create {
    /// `--root`.
    pub root: PathBuf,
    /// Container id.
    pub id: String,
    /// `--bundle`.
    pub bundle: PathBuf,
    /// `--pid-file`.
    pub pid_file: Option<PathBuf>,
    /// `--preserve-fds`.
    pub preserve_fds: u32,
    /// `--profile`: a Palisade profile applied on top of config.json.
    pub profile: Option<String>,
    /// `--console-socket`: where the terminal's master end goes.
    pub console_socket: Option<PathBuf>,
    /// `--profile-dir`: where the profiles an annotation may name live.
    pub profile_dirs: Vec<PathBuf>,
    /// `--no-pivot`: chroot into the root, moved over `/`, instead of pivot_root.
    pub no_pivot: bool,
    /// `--report FILE`: the plan as applied (config.json and the profile merged), written at
    /// create.
    pub report: Option<PathBuf>,
    /// `--require-userns`: refuse a config without a user namespace.
    pub require_userns: bool,
    /// `--no-new-keyring`: the container keeps the caller's session keyring.
    pub no_new_keyring: bool,
}

/// The default `--profile-dir`.
pub const PROFILE_DIR: &str = "/etc/palisade/profiles";

/// The annotation that names a Palisade profile (Podman `--annotation`, Kubernetes).
pub const PROFILE_ANNOTATION: &str = "org.palisade.profile";

/// The profile an annotation names, which comes from the container's side: a built-in
/// (`builtin:NAME`), or a file beneath one of `dirs` (`--profile-dir`), resolved on the host
/// (links and `..` included) before it is checked; never any other host path.
fn annotated(value: &str, dirs: &[PathBuf]) -> Result<String, OciError> {
    if value.starts_with("builtin:") {
        return Ok(value.to_string());
    }
    let refuse = |why: String| OciError::Config { field: format!("annotations.{PROFILE_ANNOTATION}"), why };
    let real = std::fs::canonicalize(value).map_err(|e| refuse(format!("`{value}`: {e}")))?;
    for d in dirs {
        if let Ok(d) = std::fs::canonicalize(d) {
            if real.starts_with(&d) && real != d {
                return Ok(real.display().to_string());
            }
        }
    }
    let shown: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    Err(refuse(format!(
        "`{value}` is neither `builtin:NAME` nor a file beneath a profile directory ({}; add one with --profile-dir)",
        shown.join(", ")
    )))
}

/// Between `--profile option` and the annotation's profile: the annotation's when it is not
/// wider than the option's in any tier (`policyc diff`'s judgement), else the option's, with a
/// warning naming the first widening.
fn narrower(
    option: &str,
    annotation: &str,
    warn: &mut dyn FnMut(&str),
) -> Result<(String, enforcer::Plan), OciError> {
    let (o, a) = (plan::profile(option)?, plan::profile(annotation)?);
    let (po, pa) =
        (o.compiled.policy().map_err(OciError::Policy)?, a.compiled.policy().map_err(OciError::Policy)?);
    let d = policy::diff::diff(&po, &pa);
    match d.changes.iter().find(|c| c.class == policy::diff::Class::Widen) {
        None => Ok((annotation.to_string(), a)),
        Some(c) => {
            warn(&format!(
                "annotation {PROFILE_ANNOTATION}={annotation} ignored: it widens --profile {option} ({}: {})",
                c.subject, c.message
            ));
            Ok((option.to_string(), o))
        }
    }
}

/// Create the container; returns the init's host pid. Warnings go to `warn`.
pub fn create(o: &Create, warn: &mut dyn FnMut(&str)) -> Result<i32, OciError> {
    state::check_id(&o.id)?;
    let b = config::load(&o.bundle)?;
    let userns =
        b.new_namespaces.contains(&Namespace::User) || b.joined.iter().any(|(ns, _)| *ns == Namespace::User);
    if o.require_userns && !userns {
        return Err(OciError::Config {
            field: "linux.namespaces".into(),
            why: "no user namespace, and --require-userns is given: the container's root would be the host's root"
                .into(),
        });
    }
    for w in &b.warnings {
        warn(w);
    }
    super::console::check(b.process.terminal, o.console_socket.as_deref())?;
    let console = o.console_socket.as_deref().map(super::console::connect).transpose()?;
    let over = match (&o.profile, b.annotations.get(PROFILE_ANNOTATION)) {
        (Some(p), Some(a)) if p != a => Some(narrower(p, &annotated(a, &o.profile_dirs)?, warn)?),
        (Some(p), _) => Some((p.clone(), plan::profile(p)?)),
        (None, Some(a)) => {
            let a = annotated(a, &o.profile_dirs)?;
            let compiled = plan::profile(&a)?;
            Some((a, compiled))
        }
        (None, None) => None,
    };
    let mut plan = plan::plan(&o.id, &b.process, b.seccomp.as_deref())?;
    let chosen = over.as_ref().map(|(spec, _)| spec.clone());
    if let Some((_, profile)) = over {
        plan = plan::narrow(plan, profile);
    }
    if let Some(path) = &o.report {
        let text = enforcer::report::Report::planned(&plan, None)?.to_json();
        std::fs::write(path, text).map_err(|e| OciError::io(format!("write {}", path.display()), e))?;
    }
    let idmapped = super::idmapped::trees(&b.mounts)?;
    let dir = state::create(&o.root, &o.id)?;
    if let Some(s) = &b.seccomp {
        // `exec` applies it to the container's other processes.
        if let Err(e) = std::fs::write(dir.join(super::exec::SECCOMP), s) {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(OciError::io("write seccomp.json", e));
        }
    }
    let cgroup = b.cgroup.0.clone().unwrap_or_else(|| super::resources::default_path(&o.root, &o.id));
    let group = match crate::cgroup::create_at(&cgroup, &b.cgroup.1) {
        Ok(g) => g,
        Err(why) => {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(OciError::Config { field: "linux.resources".into(), why });
        }
    };
    match spawn(o, &b, &plan, &dir, (&group, cgroup), chosen, (console.as_ref(), &idmapped)) {
        Ok(pid) => {
            group.keep();
            Ok(pid)
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&dir);
            let _ = group.remove();
            Err(e)
        }
    }
}

fn spawn(
    o: &Create,
    b: &config::Bundle,
    plan: &enforcer::Plan,
    dir: &Path,
    (group, cgroup): (&crate::cgroup::Group, String),
    profile: Option<String>,
    (console, idmapped): (Option<&OwnedFd>, &[Option<OwnedFd>]),
) -> Result<i32, OciError> {
    let fifo: OwnedFd = nix::fcntl::open(
        &dir.join(state::FIFO),
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| SysError::errno("open exec.fifo", e))?;
    let (status_tx, status_rx) = channel::channel::<Status>()?;
    let (go_tx, go_rx) = channel::channel::<Go>()?;
    // The cgroup namespace is made by the init once it is in its cgroup (so it is rooted there).
    let set: NamespaceSet = b
        .new_namespaces
        .iter()
        .copied()
        .filter(|n| n.clone_can_create() && *n != Namespace::Cgroup)
        .collect();
    let flags = CloneFlags::from_bits_retain(set.clone_flags() as i32);
    // config.json's namespace paths, opened now and entered by the joiner.
    let mut joins = Vec::new();
    for (ns, path) in &b.joined {
        let f = std::fs::File::open(path)
            .map_err(|e| OciError::io(format!("open {ns} namespace {}", path.display()), e))?;
        joins.push((*ns, OwnedFd::from(f)));
    }
    let joins = super::spawn::ordered(joins);
    match super::spawn::clone_into(&joins, flags)? {
        Cloned::Child => {
            drop((go_tx, status_rx));
            // Its host pid, from the host's /proc (still mounted here).
            let host_pid =
                std::fs::read_link("/proc/self").ok().and_then(|p| p.to_str()?.parse().ok()).unwrap_or(0);
            let init = Init {
                bundle: b,
                plan,
                fifo: &fifo,
                keep_fds: o.preserve_fds,
                id: o.id.clone(),
                host_pid,
                console,
                no_pivot: o.no_pivot,
                idmapped,
                no_new_keyring: o.no_new_keyring,
            };
            std::process::exit(init.run(go_rx, status_tx))
        }
        Cloned::Parent(child) => {
            drop((go_rx, status_tx));
            let pid = child.as_raw();
            let gone = |e: OciError| {
                let _ = kill(child, Signal::SIGKILL);
                let _ = nix::sys::wait::waitpid(child, None);
                e
            };
            // In its cgroup before it makes a cgroup namespace or anything else.
            group.add(pid).map_err(|e| gone(OciError::Init(e.to_string())))?;
            if b.new_namespaces.contains(&Namespace::User) {
                crate::idmap::write_map_lines(pid, &b.uid_map, &b.gid_map, true)
                    .map_err(|e| gone(OciError::io("write the init's uid_map and gid_map", e)))?;
            }
            go_tx.send(&Go::Go { idmapped: false });
            loop {
                match status_rx.next() {
                    Some(Status::Ready) => break,
                    Some(Status::Hooks) => {
                        let state = hooks::state(&o.id, "creating", pid, &b.dir, &b.annotations);
                        hooks::run("prestart", &b.hooks.prestart, &state)
                            .and_then(|()| hooks::run("createRuntime", &b.hooks.create_runtime, &state))
                            .map_err(|e| gone(OciError::Init(e)))?;
                        go_tx.send(&Go::Go { idmapped: false });
                    }
                    Some(Status::Failed { message, .. }) => return Err(gone(OciError::Init(message))),
                    _ => return Err(gone(OciError::Init("exited before it was ready".into()))),
                }
            }
            drop(go_tx);
            let record = Record {
                id: o.id.clone(),
                pid,
                start_time: crate::state::start_time(pid)
                    .ok_or_else(|| gone(OciError::Init("exited before it was ready".into())))?,
                bundle: b.dir.clone(),
                created: state::rfc3339_now(),
                annotations: b.annotations.clone(),
                owner: nix::unistd::geteuid().as_raw(),
                cgroup,
                profile,
                hooks: b.hooks.clone(),
                no_new_keyring: o.no_new_keyring,
            };
            record.save(dir).map_err(gone)?;
            if let Some(f) = &o.pid_file {
                std::fs::write(f, pid.to_string())
                    .map_err(|e| gone(OciError::io(format!("write {}", f.display()), e)))?;
            }
            Ok(pid)
        }
    }
}
