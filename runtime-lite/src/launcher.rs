//! The launcher: the host side of a container run. It checks everything that can fail on
//! input, creates the cgroup, clones PID 1 straight into its namespaces, puts it in the
//! cgroup, writes its uid/gid maps, lets it go on, forwards signals to it, and returns its
//! exit status.

use std::io::Read;
use std::os::fd::AsFd;
use std::path::PathBuf;

use enforcer::report::IsolationReport;
use enforcer::{Plan, ReportTo};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sched::CloneFlags;
use nix::sys::signal::{kill, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::unistd::{ForkResult, Pid};
use policy::ir::IsolationIr;
use policy::vocab::{Namespace, NamespaceSet};

use crate::channel::{self, Go, Outcome, Receiver, Status};
use crate::console::{self, Relay};
use crate::error::{RunError, SysError};
use crate::name::ContainerName;
use crate::pid1::Pid1;
use crate::workload::Workload;
use crate::{cgroup, idmap, shim};

/// A container to run.
pub struct Container {
    /// Everything the workload gets applied, decided before any process exists (one seccomp
    /// compile for every process inside).
    pub plan: Plan,
    /// Command and arguments (resolved inside, once the root is in place).
    pub argv: Vec<String>,
    /// Root filesystem (`None`: the host root, read-only).
    pub rootfs: Option<PathBuf>,
    /// The container's writable layer over `rootfs` (an image's, never written): a directory
    /// holding `upper/` and `work/` ([`crate::image::store::Store::new_layer`]).
    pub layer: Option<PathBuf>,
    /// The image `rootfs` is (for the report).
    pub image: Option<enforcer::report::ImageReport>,
    /// Where the workload's report goes (inside, only stderr is reachable).
    pub report: ReportTo,
    /// Name (detached containers; the start of the cgroup's name).
    pub name: Option<ContainerName>,
    /// Called in the launcher once PID 1 has set the container up (namespaces, clocks,
    /// mounts) and the workload starts.
    pub on_started: Option<Box<dyn FnMut(Running)>>,
    /// `-t`: a terminal for the workload, relayed to this process's stdout.
    pub tty: bool,
    /// `-i`: this process's stdin relayed to the workload's terminal too.
    pub interactive: bool,
    /// `enforce record`: the workload installs the recording filter (the plan's, from
    /// [`enforcer::record::recording_plan`]) and hands its listener back through these.
    pub recording: Option<enforcer::record::Handoff>,
}

/// A container whose workload has started.
pub struct Running {
    /// Host pid of its PID 1.
    pub pid: i32,
    /// Its cgroup (`palisade/...`), when it has one.
    pub cgroup: Option<String>,
}

/// The namespaces the container gets: the profile's, less the network namespace when it
/// shares the host's. It must have its own user and mount namespaces: container root is never
/// host root.
pub fn namespaces(iso: &IsolationIr) -> Result<NamespaceSet, RunError> {
    let mut set = iso.namespaces;
    if !iso.own_network() {
        set = set - [Namespace::Net].into_iter().collect();
    }
    for need in [Namespace::User, Namespace::Mount] {
        if !set.contains(need) {
            return Err(RunError::Invalid(format!(
                "runtime-lite needs the `{need}` namespace (container root is never host root)"
            )));
        }
    }
    Ok(set)
}

/// The isolation the container will get, before anything is made (its mounts are listed
/// when PID 1 has made them).
pub fn planned(iso: &IsolationIr, rootfs: Option<&std::path::Path>) -> Result<IsolationReport, RunError> {
    let (uid, gid) = idmap::mappings(iso)?;
    Ok(IsolationReport {
        namespaces: namespaces(iso)?,
        uid_map: uid.to_string(),
        gid_map: gid.to_string(),
        hostname: iso.namespaces.contains(Namespace::Uts).then(|| iso.host_name().to_string()),
        time_offsets: iso.time_offsets,
        rootfs: match rootfs {
            Some(r) => r.display().to_string(),
            None => "the host root".into(),
        },
        rootfs_idmapped: false,
        image: None,
        user_mode_network: (iso.own_network() && iso.network == policy::vocab::NetworkMode::Private)
            .then(|| crate::net::PASTA.to_string()),
        published: iso.publish.iter().map(ToString::to_string).collect(),
        writable_layer: None,
        mounts: Vec::new(),
        masked: iso.masked_paths.clone(),
        readonly: iso.readonly_paths.clone(),
        cgroup: match iso.limited() {
            true => enforcer::report::CgroupReport::Planned { limits: cgroup::limits(iso) },
            false => enforcer::report::CgroupReport::None,
        },
        notes: Vec::new(),
    })
}

/// A detached copy of `rootfs`'s mount tree, or `None` when this process may not make one (a
/// normal user: PID 1 then walks to it by path).
fn root_tree(rootfs: &std::path::Path) -> Result<Option<std::os::fd::OwnedFd>, RunError> {
    match crate::sys::clone_tree(rootfs, true) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.source.raw_os_error() == Some(libc::EPERM) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Whether `rootfs` holds ids as the container sees them (its root directory is not owned by
/// an id of the host range the container maps): such a tree, a debootstrapped one owned by
/// host root say, needs an idmapped mount to be the container's.
fn unshifted(rootfs: &std::path::Path, uid: idmap::Mapping) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(rootfs)
        .is_ok_and(|m| !(uid.host..uid.host.saturating_add(uid.count)).contains(&m.uid()))
}

/// Idmap the root tree through the user namespace of `pid` (its maps written). A filesystem
/// that cannot be idmapped keeps its owners as they are, which is said.
fn idmap_root(tree: &std::os::fd::OwnedFd, pid: i32, rootfs: &std::path::Path) -> bool {
    let userns = match std::fs::File::open(format!("/proc/{pid}/ns/user")) {
        Ok(f) => f,
        Err(_) => return false,
    };
    match crate::sys::idmap_tree(tree, &userns, true) {
        Ok(()) => true,
        Err(e) => {
            enforcer::say!(
                "enforce: warning: rootfs {} is not idmapped ({e}): files owned by host ids outside the container's range appear as nobody",
                rootfs.display()
            );
            false
        }
    }
}

/// Whether container root, the host ids `uid` and `gid` map it to, can reach `rootfs`: PID 1
/// builds the mount tree as that user, so every directory on the way must let it search.
fn reachable(rootfs: &std::path::Path, uid: idmap::Mapping, gid: idmap::Mapping) -> Result<(), RunError> {
    use std::os::unix::fs::MetadataExt;
    for dir in rootfs.ancestors() {
        let Ok(m) = std::fs::metadata(dir) else { continue };
        let bit = if m.uid() == uid.host {
            0o100
        } else if m.gid() == gid.host {
            0o010
        } else {
            0o001
        };
        if m.mode() & bit == 0 {
            return Err(RunError::Invalid(format!(
                "rootfs {} cannot be reached by container root (host uid {}): {} is mode {:o}, owned by {}:{}; let it search there (e.g. chmod o+x {}) or move the rootfs",
                rootfs.display(),
                uid.host,
                dir.display(),
                m.mode() & 0o7777,
                m.uid(),
                m.gid(),
                dir.display()
            )));
        }
    }
    Ok(())
}

/// Give container root the writable layer `dir` (its `upper/` and `work/`, which overlayfs
/// writes as the mounter), and open its tree when this process may (so container root need
/// not walk the store's path to it).
fn writable_layer(
    dir: &std::path::Path,
    uid: idmap::Mapping,
    gid: idmap::Mapping,
) -> Result<Option<std::os::fd::OwnedFd>, RunError> {
    if nix::unistd::geteuid().is_root() {
        for sub in [dir.to_path_buf(), dir.join("upper"), dir.join("work")] {
            std::os::unix::fs::chown(&sub, Some(uid.host), Some(gid.host))
                .map_err(|e| SysError::io(format!("chown {}", sub.display()), e))?;
        }
    }
    match crate::sys::clone_tree(dir, false) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.source.raw_os_error() == Some(libc::EPERM) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Run `c`; returns the workload's exit status.
pub fn run(c: Container) -> Result<i32, RunError> {
    let Container { plan, argv, rootfs, layer, image, report, name, on_started, tty, interactive, recording } =
        c;
    let iso = plan.compiled.isolation().clone();
    if let Some(r) = &rootfs {
        let why = match std::fs::metadata(r) {
            Ok(m) if m.is_dir() => None,
            Ok(_) => Some("not a directory".to_string()),
            // Said below, with the directory in the way.
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => None,
            Err(e) => Some(policy::error::io_reason(&e)),
        };
        if let Some(why) = why {
            return Err(RunError::Rootfs { path: r.clone(), why });
        }
    }
    let namespaces = namespaces(&iso)?;
    let (uid_map, gid_map) = idmap::mappings(&iso)?;
    // A range the profile chose (the default one is conventionally free of accounts).
    if let Some(w) = iso.map_root_to.and_then(|_| idmap::shared_warning(uid_map)) {
        enforcer::say!("enforce: warning: {w}");
    }
    // The root's tree, opened now by this process, when container root could not walk to it
    // or its ids need an idmapped mount; otherwise (and for a normal user, who may not open
    // one) PID 1 binds it by path, which is quicker.
    let tree = match &rootfs {
        None => None,
        Some(r) => {
            let reach = reachable(r, uid_map, gid_map);
            let unshifted = unshifted(r, uid_map);
            // A tree copied by host root carries no lock on the filesystems mounted inside it
            // (container root could unmount or remount them), and an idmap would reach them
            // too: only a rootfs with nothing mounted beneath it is opened so.
            let canonical = std::fs::canonicalize(r).unwrap_or_else(|_| r.clone());
            let nested = crate::mount::submounts(&canonical)?;
            if reach.is_ok() && !unshifted {
                None
            } else if !nested.is_empty() {
                reach?;
                enforcer::say!(
                    "enforce: warning: rootfs {} is not idmapped: {} is mounted beneath it, and an idmap would reach it",
                    r.display(),
                    nested[0].display()
                );
                None
            } else {
                match root_tree(r)? {
                    Some(t) => Some(t),
                    // A normal user: by path, if container root can get there (else why not).
                    None => reach.map(|()| None)?,
                }
            }
        }
    };
    let layer_tree = match &layer {
        Some(dir) => writable_layer(dir, uid_map, gid_map)?,
        None => None,
    };
    let mut isolation = planned(&iso, rootfs.as_deref())?;
    isolation.image = image;
    let (status_tx, status_rx) = channel::channel::<Status>()?;
    let (go_tx, go_rx) = channel::channel::<Go>()?;
    let cg_name = cgroup::group_name(name.as_ref().map(ContainerName::as_str));
    let (group, cgroup) = cgroup::create(&cg_name, &iso)?;
    let cgroup_path = group.as_ref().map(|g| g.path().to_string());
    if let enforcer::report::CgroupReport::NotApplied { why, .. } = &cgroup {
        enforcer::say!("enforce: cgroup limits not applied: {why}");
    }
    isolation.cgroup = cgroup;
    let console = if tty { Some(console::channel()?) } else { None };
    shim::block().map_err(|e| SysError::errno("block signals", e))?;
    let launcher_pid = std::process::id() as i32;
    // PID 1 is cloned straight into every namespace but the cgroup one, which it creates
    // itself once the launcher has put it in its cgroup (so that namespace is rooted there),
    // and the time one, whose clock offsets must be written before any process enters it.
    let clone_with: NamespaceSet =
        namespaces.iter().filter(|n| n.clone_can_create() && *n != Namespace::Cgroup).collect();
    let flags = CloneFlags::from_bits_retain(clone_with.clone_flags() as i32);
    match crate::sys::fork_into(flags).map_err(|e| SysError::errno("clone PID 1", e))? {
        ForkResult::Child => {
            drop(go_tx);
            std::mem::forget(group); // the launcher owns the cgroup
            let workload = Workload { argv, report, recording };
            let pid1 = Pid1 {
                plan: &plan,
                workload: &workload,
                iso: &iso,
                namespaces,
                rootfs: rootfs.as_deref(),
                tree: tree.as_ref(),
                layer: layer.as_deref().map(|dir| crate::overlay::Writable {
                    at: match &layer_tree {
                        Some(t) => crate::overlay::Layer::Tree(t),
                        None => crate::overlay::Layer::Dir(dir),
                    },
                    force_copy: std::env::var(crate::overlay::FORCE_ENV).is_ok_and(|v| v == "copy"),
                }),
                console: console.as_ref().map(|(_, theirs)| theirs),
                peer: None,
                isolation,
                status: &status_tx,
                launcher: launcher_pid,
            };
            std::process::exit(pid1.run(go_rx))
        }
        ForkResult::Parent { child } => {
            drop(go_rx);
            let joined = group.as_ref().map_or(Ok(()), |g| g.add(child.as_raw()));
            let mapped = match &joined {
                Ok(()) => idmap::write_maps(child.as_raw(), uid_map, gid_map),
                Err(_) => Ok(()),
            };
            // `network: private`: pasta, in PID 1's namespaces before anything runs there.
            let network = match (&joined, &mapped) {
                (Ok(()), Ok(()))
                    if iso.own_network() && iso.network == policy::vocab::NetworkMode::Private =>
                {
                    Some(crate::net::Pasta::start(child.as_raw(), &iso.publish))
                }
                _ => None,
            };
            let network = match network.transpose() {
                Ok(n) => n,
                Err(e) => {
                    let _ = kill(child, Signal::SIGKILL);
                    let _ = nix::sys::wait::waitpid(child, None);
                    let _ = shim::unblock_all();
                    return Err(e);
                }
            };
            if joined.is_ok() && mapped.is_ok() {
                let idmapped = match (&tree, &rootfs) {
                    (Some(t), Some(r)) if unshifted(r, uid_map) => idmap_root(t, child.as_raw(), r),
                    _ => false,
                };
                go_tx.send(&Go::Go { idmapped });
            } else {
                let _ = kill(child, Signal::SIGKILL);
            }
            drop((go_tx, status_tx));
            // PID 1 sends the terminal once the container's /dev exists (or ends, and says why).
            let relay = console.and_then(|(ours, theirs)| {
                drop(theirs);
                console::receive(&ours).map(|master| Relay::new(master, interactive))
            });
            // A shim reports the status before it exits; without a cgroup to remove (which needs
            // PID 1 gone), the launcher need not wait for the namespaces' teardown.
            let early = group.is_none() && iso.init && namespaces.contains(Namespace::Pid);
            let on_started = on_started.map(|mut f| {
                Box::new(move |pid| f(Running { pid, cgroup: cgroup_path.clone() })) as Box<dyn FnMut(i32)>
            });
            let Outcome { status, failure } = wait(status_rx, child, early, on_started, relay);
            drop(network);
            let _ = shim::unblock_all();
            // The plan and the policy are large and about to be dropped by an exiting process:
            // freeing them only delays the exit status.
            std::mem::forget(plan);
            joined?;
            mapped?;
            if let Some((code, message)) = failure {
                return Err(RunError::Inside { code, message });
            }
            Ok(status)
        }
    }
}

/// Wait for the container whose PID 1 is `child`, forwarding the waited signals to it (they
/// must be blocked), and call `on_ready` once PID 1 says it is set up. With `early`, return as
/// soon as the shim reports the exit status; otherwise (or without a shim) once PID 1 has
/// exited and every writer is gone.
fn wait(
    rx: Receiver<Status>,
    child: Pid,
    early: bool,
    on_ready: Option<Box<dyn FnMut(i32)>>,
    mut relay: Option<Relay>,
) -> Outcome {
    let outcome = watch(rx, child, early, on_ready, relay.as_mut());
    // Whatever the workload wrote last is still in its terminal.
    if let Some(r) = relay.as_mut() {
        r.drain();
    }
    outcome
}

fn watch(
    rx: Receiver<Status>,
    child: Pid,
    early: bool,
    mut on_ready: Option<Box<dyn FnMut(i32)>>,
    mut relay: Option<&mut Relay>,
) -> Outcome {
    let mut pipe = std::fs::File::from(rx.into_fd());
    let mut text = String::new();
    let Ok(signals) = SignalFd::with_flags(&shim::waited(), SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
    else {
        // No signalfd: wait as the shim does, then read what was written.
        let status = shim::supervise(child, None);
        let _ = pipe.read_to_string(&mut text);
        return Outcome { status, failure: channel::summary(&text).failure };
    };
    let mut pipe_open = true;
    let (mut output_open, mut input_open) = (relay.is_some(), relay.as_ref().is_some_and(|r| r.input));
    loop {
        let mut fds = vec![PollFd::new(signals.as_fd(), PollFlags::POLLIN)];
        let pipe_at = pipe_open.then(|| {
            fds.push(PollFd::new(pipe.as_fd(), PollFlags::POLLIN));
            fds.len() - 1
        });
        let stdin = std::io::stdin();
        let (output_at, input_at) = match relay.as_deref() {
            Some(r) => {
                let o = output_open.then(|| {
                    fds.push(PollFd::new(r.master(), PollFlags::POLLIN));
                    fds.len() - 1
                });
                let i = input_open.then(|| {
                    fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
                    fds.len() - 1
                });
                (o, i)
            }
            None => (None, None),
        };
        if poll(&mut fds, PollTimeout::NONE).is_err() {
            continue;
        }
        let ready = |at: Option<usize>| at.and_then(|i| fds[i].revents()).is_some_and(|r| !r.is_empty());
        let (pipe_ready, output_ready, input_ready) = (ready(pipe_at), ready(output_at), ready(input_at));
        drop(fds);
        if let Some(r) = relay.as_deref_mut() {
            if output_ready {
                output_open = r.output();
            }
            if input_ready {
                input_open = r.input();
            }
        }
        if pipe_ready {
            let mut buf = [0u8; 4096];
            match pipe.read(&mut buf) {
                Ok(0) | Err(_) => pipe_open = false,
                Ok(n) => text.push_str(&String::from_utf8_lossy(&buf[..n])),
            }
            let said = channel::summary(&text);
            if said.ready {
                if let Some(mut f) = on_ready.take() {
                    f(child.as_raw());
                }
            }
            if let (Some(status), true) = (said.exited, early) {
                return Outcome { status, failure: said.failure };
            }
        }
        while let Ok(Some(info)) = signals.read_signal() {
            let Ok(sig) = Signal::try_from(info.ssi_signo as i32) else { continue };
            if let (Signal::SIGWINCH, Some(r)) = (sig, relay.as_deref()) {
                r.resize();
            }
            if sig != Signal::SIGCHLD {
                let _ = kill(child, sig);
                continue;
            }
            if let Some(code) = shim::reap(child) {
                // PID 1 is gone, and with it every process inside: read to the end.
                let _ = pipe.read_to_string(&mut text);
                return Outcome { status: code, failure: channel::summary(&text).failure };
            }
        }
    }
}
