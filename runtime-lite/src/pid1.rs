//! PID 1 of the container: it becomes root of the new user namespace (an unprivileged uid on
//! the host), creates its cgroup and time namespaces, builds the mount tree and pivots into
//! it, sets the host name and brings loopback up; then either execs the workload itself
//! (`init: false`) or forks it and stays as the [`crate::shim`], confined by the same policy.

use std::os::fd::OwnedFd;
use std::path::Path;

use enforcer::report::IsolationReport;
use enforcer::{Launcher, Plan, ReportTo};
use nix::sched::{unshare, CloneFlags};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::{setresgid, setresuid, ForkResult, Gid, Uid};
use policy::ir::IsolationIr;
use policy::vocab::{Namespace, NamespaceSet};

use crate::channel::{Go, Receiver, Sender, Status};
use crate::error::SysError;
use crate::workload::{self, Workload};
use crate::{mount, net, shim};

/// PID 1's command line, as the container's processes see it.
pub const SHIM_NAME: &str = "palisade-init";

/// What PID 1 needs, all prepared by the launcher before the clone.
pub(crate) struct Pid1<'a> {
    pub plan: &'a Plan,
    pub workload: &'a Workload,
    pub iso: &'a IsolationIr,
    pub namespaces: NamespaceSet,
    pub rootfs: Option<&'a Path>,
    /// The root's detached tree, when the launcher could open one.
    pub tree: Option<&'a OwnedFd>,
    /// The writable layer over an image's root.
    pub layer: Option<crate::overlay::Writable<'a>>,
    /// `-t`: where the terminal's master end goes (the launcher).
    pub console: Option<&'a OwnedFd>,
    /// The terminal's peer end, for the workload (opened in `build`).
    pub peer: Option<OwnedFd>,
    /// The launcher's part of the report; PID 1 adds the mounts.
    pub isolation: IsolationReport,
    pub status: &'a Sender<Status>,
    /// Host pid of the launcher (PID 1's parent).
    pub launcher: i32,
}

impl Pid1<'_> {
    /// Set the container up and run the workload; returns PID 1's exit status.
    pub(crate) fn run(mut self, go: Receiver<Go>) -> i32 {
        crate::sys::set_cmdline(SHIM_NAME);
        let Some(Go::Go { idmapped }) = go.recv() else {
            return 125; // the launcher could not map the ids or join the cgroup, and said why
        };
        self.isolation.rootfs_idmapped = idmapped;
        // A session of its own, without a controlling terminal: nothing in the container can
        // type into the caller's terminal (TIOCSTI needs it to be the caller's controlling
        // one) or get its signals. The launcher stays in the caller's session and forwards them.
        if let Err(e) = nix::unistd::setsid() {
            return self.fail(125, &format!("setsid: {e}"));
        }
        if let Err(e) = self.enter().and_then(|()| self.tie_to_launcher()).and_then(|()| self.build()) {
            return self.fail(125, &e.to_string());
        }
        self.status.send(&Status::Ready);
        if !self.iso.init || !self.namespaces.contains(Namespace::Pid) {
            let _ = shim::unblock_all();
            return workload::exec(self.workload, self.plan, self.isolation, self.status, self.peer.as_ref());
        }
        match crate::sys::fork() {
            Err(e) => self.fail(125, &format!("fork the workload: {e}")),
            Ok(ForkResult::Child) => {
                let _ = shim::unblock_all();
                workload::exec(self.workload, self.plan, self.isolation, self.status, self.peer.as_ref())
            }
            Ok(ForkResult::Parent { child }) => {
                // The shim runs under the same policy (its own image: it never execs), then
                // drops every capability.
                if let Err(e) = Launcher::new(self.plan, ReportTo::None).confine().1 {
                    let _ = kill(child, Signal::SIGKILL);
                    let _ = waitpid(child, None);
                    return self.fail(125, &format!("confine the PID-1 shim: {e}"));
                }
                shim::drop_all_capabilities();
                let code = shim::supervise(child, Some(shim::SHRINK_AFTER));
                self.status.send(&Status::Exited(code));
                code
            }
        }
    }

    fn fail(&self, code: i32, message: &str) -> i32 {
        self.status.send(&Status::Failed { code, message: message.to_string() });
        code
    }

    /// Become root of the user namespace; create the cgroup namespace (now that the launcher
    /// has put this process in its cgroup) and the time namespace with its clock offsets
    /// (written before any process is in it; children and an exec enter it).
    fn enter(&self) -> Result<(), SysError> {
        let root = (Gid::from_raw(0), Uid::from_raw(0));
        setresgid(root.0, root.0, root.0)
            .and_then(|_| setresuid(root.1, root.1, root.1))
            .map_err(|e| SysError::errno("become root of the user namespace", e))?;
        if self.namespaces.contains(Namespace::Cgroup) {
            unshare(CloneFlags::CLONE_NEWCGROUP)
                .map_err(|e| SysError::errno("unshare the cgroup namespace", e))?;
        }
        if self.namespaces.contains(Namespace::Time) {
            let time = CloneFlags::from_bits_retain(Namespace::Time.clone_flag() as i32);
            unshare(time).map_err(|e| SysError::errno("unshare the time namespace", e))?;
            if let Some(t) = self.iso.time_offsets {
                // The id switch above made this process non-dumpable, so its /proc files
                // belong to host root: dumpable only while it writes its own offsets (no
                // other process of the container exists yet).
                let text = format!("monotonic {} 0\nboottime {} 0\n", t.monotonic, t.boottime);
                nix::sys::prctl::set_dumpable(true).map_err(|e| SysError::errno("PR_SET_DUMPABLE", e))?;
                let written = std::fs::write("/proc/self/timens_offsets", text);
                nix::sys::prctl::set_dumpable(false).map_err(|e| SysError::errno("PR_SET_DUMPABLE", e))?;
                written.map_err(|e| SysError::io("write /proc/self/timens_offsets", e))?;
            }
            // Into it now: on kernels before 6.0 an exec (`init: false`) would not enter it.
            let ns = std::fs::File::open("/proc/self/ns/time_for_children")
                .map_err(|e| SysError::io("open /proc/self/ns/time_for_children", e))?;
            nix::sched::setns(&ns, time).map_err(|e| SysError::errno("join the time namespace", e))?;
        }
        Ok(())
    }

    /// Die with the launcher: killed, it could neither stop the container nor remove its
    /// cgroup. Set after the id switch (which clears it); then the launcher is checked to be
    /// still the parent, in the host's /proc (still mounted here: its pids are the host's),
    /// so no death is missed.
    fn tie_to_launcher(&self) -> Result<(), SysError> {
        nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)
            .map_err(|e| SysError::errno("PR_SET_PDEATHSIG", e))?;
        let stat = std::fs::read_to_string("/proc/self/stat")
            .map_err(|e| SysError::io("read /proc/self/stat", e))?;
        // Field 4, the parent's pid, after the name in parentheses.
        let parent = stat.rfind(')').and_then(|i| stat[i + 2..].split_whitespace().nth(1)?.parse().ok());
        match parent == Some(self.launcher) {
            true => Ok(()),
            false => {
                Err(SysError::io("the launcher is gone", std::io::Error::from(std::io::ErrorKind::NotFound)))
            }
        }
    }

    /// The mount tree, the host name, loopback.
    fn build(&mut self) -> Result<(), SysError> {
        let own_net = self.namespaces.contains(Namespace::Net);
        let from = match (self.tree, self.rootfs) {
            (Some(t), _) => mount::Root::Tree(t),
            (None, Some(r)) => mount::Root::Dir(r),
            (None, None) => mount::Root::Host,
        };
        let process = self.plan.compiled.process();
        let extras = mount::Extras {
            layer: self.layer.take(),
            workdir: process.workdir.as_deref().map(Path::new),
            new_netns: own_net,
            private_tmp: process.tmpdir == policy::vocab::TmpdirMode::Private,
        };
        let done = mount::setup(self.iso, from, extras)?;
        if let Some(to) = self.console {
            self.peer = Some(crate::console::open(to)?);
        }
        let r = &mut self.isolation;
        (r.mounts, r.masked, r.readonly, r.notes) = (done.mounts, done.masked, done.readonly, done.notes);
        r.writable_layer = done.layer;
        if self.namespaces.contains(Namespace::Uts) {
            let name = self.iso.host_name();
            nix::unistd::sethostname(name).map_err(|e| SysError::errno(format!("sethostname {name}"), e))?;
        }
        if own_net {
            net::loopback_up()?;
        }
        Ok(())
    }
}
