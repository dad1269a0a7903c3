//! The container's init: in its new namespaces, it joins the ones config.json names by path,
//! builds the mount tree, sets the host and domain names, sysctls, oom_score_adj and umask,
//! resolves its command, then runs the enforcer's apply steps. Between no_new_privs and the
//! confinement (Landlock, seccomp) it waits at the gate: it tells the runtime it is ready and
//! opens `exec.fifo` for writing, which blocks until `start` opens it; then it execs.

use std::cell::RefCell;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use enforcer::{Command, Launcher, Plan, ReportTo};
use nix::unistd::{setresgid, setresuid, Gid, Uid};
use policy::vocab::Namespace;

use super::config::Bundle;
use super::{hooks, rootfs};
use crate::channel::{Go, Receiver, Sender, Status};
use crate::error::SysError;

/// What the init gets from the runtime.
pub(super) struct Init<'a> {
    pub bundle: &'a Bundle,
    pub plan: &'a Plan,
    /// `exec.fifo`, opened `O_PATH` by the runtime.
    pub fifo: &'a OwnedFd,
    /// `--preserve-fds`.
    pub keep_fds: u32,
    /// Container id.
    pub id: String,
    /// The init's pid in the runtime's pid namespace (for the hooks' state).
    pub host_pid: i32,
    /// The caller's console socket (`process.terminal`).
    pub console: Option<&'a OwnedFd>,
    /// `--no-pivot`.
    pub no_pivot: bool,
    /// The runtime's idmapped trees, one entry per mount.
    pub idmapped: &'a [Option<OwnedFd>],
    /// `--no-new-keyring`: keep the caller's session keyring.
    pub no_new_keyring: bool,
}

impl Init<'_> {
    /// Set the container up and exec; returns only the exit status of a failure.
    pub(super) fn run(self, go: Receiver<Go>, status: Sender<Status>) -> i32 {
        crate::sys::set_cmdline("palisade-runtime-init");
        // `run` blocks the signals it forwards before the clone.
        let _ = crate::shim::unblock_all();
        if go.next().is_none() {
            return 125; // the runtime could not map the ids, and said why
        }
        let status = RefCell::new(Some(status));
        let fail = |code: i32, message: String| {
            match status.borrow_mut().take() {
                Some(s) => s.send(&Status::Failed { code, message }),
                None => eprintln!("palisade-runtime: {message}"),
            }
            code
        };
        let command = match self.setup(&go, &status) {
            Ok(c) => c,
            Err(e) => return fail(125, e),
        };
        let fifo = self.fifo.as_raw_fd();
        let gate = Box::new(|| {
            if let Some(s) = status.borrow_mut().take() {
                s.send(&Status::Ready);
            }
            let path = format!("/proc/self/fd/{fifo}");
            let w = nix::fcntl::open(
                path.as_str(),
                nix::fcntl::OFlag::O_WRONLY | nix::fcntl::OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            )
            .map_err(|e| format!("open exec.fifo: {e}"))?;
            nix::unistd::write(&w, b"0").map_err(|e| format!("write exec.fifo: {e}"))?;
            let b = self.bundle;
            let state = hooks::state(&self.id, "running", self.host_pid, &b.dir, &b.annotations);
            hooks::run("startContainer", &b.hooks.start_container, &state)
        });
        let e = Launcher::new(self.plan, ReportTo::None)
            .command(command)
            .keep_fds(self.keep_fds)
            .gate(gate)
            .run();
        fail(e.exit_code(), e.to_string())
    }

    /// Everything before the apply steps; the command, resolved in the container.
    fn setup(&self, go: &Receiver<Go>, status: &RefCell<Option<Sender<Status>>>) -> Result<Command, String> {
        let b = self.bundle;
        // In a user namespace of its own or joined (the runtime's joiner entered those by path).
        let userns = b.new_namespaces.contains(&Namespace::User)
            || b.joined.iter().any(|(ns, _)| *ns == Namespace::User);
        if userns {
            let root = (Gid::from_raw(0), Uid::from_raw(0));
            setresgid(root.0, root.0, root.0)
                .and_then(|_| setresuid(root.1, root.1, root.1))
                .map_err(|e| format!("become root of the user namespace: {e}"))?;
        }
        if !self.no_new_keyring {
            super::keyring::make(&self.id, userns).map_err(|e| e.to_string())?;
        }
        // The init's cgroups as the host names them, before its cgroup namespace hides that.
        let membership = rootfs::membership();
        if b.new_namespaces.contains(&Namespace::Cgroup) {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWCGROUP)
                .map_err(|e| format!("unshare the cgroup namespace: {e}"))?;
        }
        if b.new_namespaces.contains(&Namespace::Time) {
            let time = nix::sched::CloneFlags::from_bits_retain(Namespace::Time.clone_flag() as i32);
            nix::sched::unshare(time).map_err(|e| format!("unshare the time namespace: {e}"))?;
        }
        let tree =
            rootfs::build(b, userns, &membership, self.idmapped).map_err(|e: SysError| e.to_string())?;
        if b.hooks.before_pivot() {
            // The runtime runs createRuntime (and prestart) now, in its namespaces.
            if let Some(s) = status.borrow().as_ref() {
                s.send(&Status::Hooks);
            }
            go.next().ok_or("the runtime's createRuntime hooks failed")?;
        }
        let state = hooks::state(&self.id, "creating", self.host_pid, &b.dir, &b.annotations);
        hooks::run("createContainer", &b.hooks.create_container, &state)?;
        let tree = rootfs::pivot(tree, self.no_pivot).map_err(|e: SysError| e.to_string())?;
        if let Some(h) = &b.hostname {
            nix::unistd::sethostname(h).map_err(|e| format!("sethostname {h}: {e}"))?;
        }
        if let Some(d) = &b.domainname {
            std::fs::write("/proc/sys/kernel/domainname", d)
                .map_err(|e| format!("setdomainname {d}: {e}"))?;
        }
        for (k, v) in &b.sysctl {
            let path = Path::new("/proc/sys").join(k.replace('.', "/"));
            std::fs::write(&path, v).map_err(|e| format!("sysctl {k}={v}: {e}"))?;
        }
        rootfs::finish(tree, b).map_err(|e: SysError| e.to_string())?;
        if let Some(socket) = self.console {
            super::console::attach(socket, b.process.console_size)
                .map_err(|e| format!("process.terminal: {e}"))?;
        }
        let p = &b.process;
        if let Some(adj) = p.oom_score_adj {
            std::fs::write("/proc/self/oom_score_adj", adj.to_string())
                .map_err(|e| format!("oomScoreAdj {adj}: {e}"))?;
        }
        if let Some(m) = p.umask {
            nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(m));
        }
        std::env::set_current_dir(&p.cwd).map_err(|e| format!("process.cwd {}: {e}", p.cwd))?;
        Command::resolve_in(&p.args, &p.env, Some(Path::new(&p.cwd))).map_err(|e| e.to_string())
    }
}
