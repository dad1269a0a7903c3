//! `enforce record`: run a command, and every process and thread it starts, under a seccomp
//! filter that hands each system call to this process (`SECCOMP_RET_USER_NOTIF`), note it, and
//! let it run (`SECCOMP_USER_NOTIF_FLAG_CONTINUE`). No ptrace, no eBPF: a normal user can
//! record. The observations become a profile ([`learned`]) that allows what was seen.
//!
//! The child installs the filter and gives this process its listener through two descriptors
//! at fixed numbers, the only calls the filter lets through without asking (a `sendmsg` of the
//! listener on a socket, a `read` of the go-ahead from a pipe); both close at exec. Sent with
//! `SCM_RIGHTS`, the listener reaches the recorder from inside a container as well.

pub mod base;
pub mod caps;
pub mod collapse;
pub mod learned;
pub mod paths;
pub mod root;

use std::collections::{BTreeMap, BTreeSet};
use std::os::fd::OwnedFd;

use policy::backend::seccomp::bpf::insn::SockFilter;
use policy::syscalls::{table, Arch};

use crate::command::Command;
use crate::seccomp::{Filter, Flags};
use crate::supervisor::{self, Answer};
use crate::sys::notify;

/// The child's end toward this process (listener number), and from it (the go-ahead).
const TO_PARENT: i32 = 1000;
const FROM_PARENT: i32 = 1001;

/// What one system call name was seen doing.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Seen {
    /// How many calls.
    pub calls: u64,
    /// The executable that made the first one.
    pub first_in: String,
}

/// Everything a recording saw: per arch, per system call.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Observations {
    /// `arch name` → `syscall name` → what was seen.
    pub syscalls: BTreeMap<String, BTreeMap<String, Seen>>,
    /// Numbers no table names (`arch name` → numbers).
    pub unknown: BTreeMap<String, Vec<u32>>,
    /// Address families of `socket`/`socketpair` (their first argument).
    pub families: BTreeSet<u64>,
    /// Values of the argument the built-ins filter, by call: `personality`'s persona,
    /// `prctl`'s option, `ioctl`'s request, the socket type (`socket`, `socketpair`, without
    /// `SOCK_NONBLOCK`/`SOCK_CLOEXEC`).
    pub values: BTreeMap<String, BTreeSet<u64>>,
    /// Every `clone` flag seen (with `clone3`'s, which fall back to `clone` when `clone3` is
    /// refused), the exit signal byte left out.
    pub clone_flags: Option<u64>,
    /// Paths touched, resolved, and the Landlock rights they needed.
    pub files: BTreeMap<String, policy::vocab::FsAccess>,
    /// Those of them that were directories.
    pub dirs: BTreeSet<String>,
    /// Entries the run made (what it then did with them is its directory's right).
    pub made: BTreeSet<String>,
    /// Capabilities the calls would use (inferred), and the first reason.
    pub caps: BTreeMap<String, String>,
    /// Set-user-ID or set-group-ID programs executed (no privilege came with them: the
    /// recording runs with no_new_privs).
    pub setid_execs: BTreeSet<String>,
    /// The recording's `CWD`, `HOME` and `TMPDIR`, written as path variables.
    pub vars: BTreeMap<String, String>,
    /// Calls whose memory arguments (a path, an address, clone3's flags) could not be read
    /// (the process was gone, or its memory out of reach): what they did is not in the profile.
    pub unread: u64,
    /// Whether the recording ran with no_new_privs (a set-user-ID program then gains nothing).
    pub no_new_privs: bool,
    /// What the base profile refused (`--profile BASE`), never learned: `syscall NAME`,
    /// `path PATH`, `bind port N`, `connect port N` → the verdict and why.
    pub denied: BTreeMap<String, String>,
    /// Whether a namespace was made or joined (`unshare`, `setns`, `clone` with a `CLONE_NEW*`
    /// flag).
    pub namespaces: bool,
    /// IP ports given to `bind` (read from the call's address).
    pub bind_ports: BTreeSet<u16>,
    /// IP ports given to `connect`.
    pub connect_ports: BTreeSet<u16>,
    /// How the command ended: its exit code, or 128 + the signal that killed it.
    pub status: i32,
    /// Whether the recording was stopped by a SIGINT or SIGTERM (Ctrl-C): what the command
    /// would have done after is not in it.
    pub interrupted: bool,
}

/// Why a recording failed.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// A system call of the recorder failed.
    #[error("record: {what}: {}", std::io::Error::from_raw_os_error(*errno))]
    Sys {
        /// What.
        what: &'static str,
        /// errno.
        errno: i32,
    },
    /// The command could not be started under the recording filter.
    #[error("record: the command did not start under the recording filter (exit {0})")]
    NotStarted(i32),
    /// The base profile cannot be read back.
    #[error("record: the base profile: {0}")]
    Base(String),
}

fn sys(what: &'static str) -> impl Fn(i32) -> RecordError {
    move |errno| RecordError::Sys { what, errno }
}

/// The recording filter for a kernel of `native`: notify every call, except a `sendmsg` on
/// [`TO_PARENT`] and a `read` from [`FROM_PARENT`] on the native arch.
pub fn filter_program(native: Arch) -> Vec<SockFilter> {
    let t = table::table(native);
    let nr = |name: &str| t.and_then(|t| t.nr(name)).unwrap_or(u32::MAX);
    let ld = |k: u32| SockFilter { code: 0x20, jt: 0, jf: 0, k };
    let jeq = |k: u32, jt: u8, jf: u8| SockFilter { code: 0x15, jt, jf, k };
    let ret = |k: u32| SockFilter { code: 0x06, jt: 0, jf: 0, k };
    const NOTIFY: u32 = 0x7fc0_0000;
    const ALLOW: u32 = 0x7fff_0000;
    // The low word of the first argument (a u64 in `seccomp_data`, in the kernel's order).
    let arg0 = if cfg!(target_endian = "big") { 20 } else { 16 };
    vec![
        ld(4),                          // 0: arch
        jeq(native.audit_arch(), 0, 8), // 1: else → 10
        ld(0),                          // 2: nr
        jeq(nr("sendmsg"), 0, 2),       // 3: else → 6
        ld(arg0),                       // 4: arg0 (low word)
        jeq(TO_PARENT as u32, 5, 4),    // 5: → 11 : 10
        jeq(nr("read"), 0, 2),          // 6: else → 9
        ld(arg0),                       // 7: arg0
        jeq(FROM_PARENT as u32, 2, 1),  // 8: → 11 : 10
        // A process that fails before it could hand the listener over must still exit (the
        // launcher's exit_group is in every learned profile).
        jeq(nr("exit_group"), 1, 0), // 9: → 11 : 10
        ret(NOTIFY),                 // 10
        ret(ALLOW),                  // 11
    ]
}

fn pipe() -> Result<(OwnedFd, OwnedFd), RecordError> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| RecordError::Sys { what: "pipe", errno: e as i32 })
}

/// The socket pair the listener comes back through (this process's end, the child's).
fn socket_pair() -> Result<(OwnedFd, OwnedFd), RecordError> {
    use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
    socketpair(AddressFamily::Unix, SockType::Stream, None, SockFlag::SOCK_CLOEXEC)
        .map_err(|e| RecordError::Sys { what: "socketpair", errno: e as i32 })
}

fn recording_filter(native: Arch) -> Result<Filter, RecordError> {
    Filter::new(&filter_program(native))
        .map_err(|_| RecordError::Sys { what: "the recording filter", errno: libc::EINVAL })
}

/// Run `command` and record it; `native` is this kernel's arch.
pub fn record(command: &Command, native: Arch) -> Result<Observations, RecordError> {
    let filter = recording_filter(native)?;
    let mut obs = run(None, |up, down| child_side(command, &filter, up, down))?;
    obs.no_new_privs = true;
    Ok(obs)
}

/// `plan` with the recording filter: the process that applies it with a [`Handoff`]'s kernel
/// installs it instead of the plan's seccomp filters and hands every call to the recorder,
/// which answers as the plan's own filter would.
pub fn recording_plan(plan: &mut crate::plan::Plan, native: Arch) -> Result<(), RecordError> {
    let insns = filter_program(native);
    let filter = recording_filter(native)?;
    plan.recording = Some(crate::plan::SeccompPlan {
        program: policy::backend::seccomp::bpf::Program {
            target: native,
            arches: vec![native],
            big_endian: cfg!(target_endian = "big"),
            notes: Vec::new(),
            rets: vec![None; insns.len()],
            insns,
        },
        filter,
    });
    Ok(())
}

/// The two descriptors the process that installs the recording filter hands its listener
/// back through (a socket) and waits for the go-ahead on (a pipe).
pub struct Handoff {
    to: OwnedFd,
    from: OwnedFd,
}

impl Handoff {
    /// The kernel that installs the filter and hands its listener back: the descriptors are
    /// put at the numbers the recording filter lets through. Call it in the process that
    /// applies the plan, just before; `Err` is an errno.
    pub fn kernel(&self) -> Result<crate::sys::Linux, i32> {
        notify::place(&self.to, TO_PARENT)?;
        notify::place(&self.from, FROM_PARENT)?;
        Ok(crate::sys::Linux::sending(TO_PARENT, FROM_PARENT))
    }
}

/// Run `command` under `plan` (a base profile, applied as `enforce run` applies it; `base` is
/// [`base::Base::of`] it) and record what the base lets it do.
pub fn record_under(
    mut plan: crate::plan::Plan,
    base: &base::Base,
    command: Command,
    native: Arch,
    report: crate::launch::ReportTo,
) -> Result<Observations, RecordError> {
    recording_plan(&mut plan, native)?;
    let no_new_privs = plan.no_new_privs;
    let mut obs = record_with(Some(base), move |handoff| {
        let Ok(kernel) = handoff.kernel() else { return 125 };
        let e = crate::launch::Launcher::with_kernel(&plan, report, kernel).command(command).run();
        crate::say!("enforce: {e}");
        e.exit_code()
    })?;
    obs.no_new_privs = no_new_privs;
    Ok(obs)
}

/// Fork; the child runs `child`, which starts the command somewhere down its tree (a
/// container, say) under a plan made by [`recording_plan`], with `handoff`'s kernel; it
/// returns the exit status. This process receives the listener, answers every call (as
/// `base` would, when given) and returns what it saw once no process is left under the
/// filter and the child has exited.
pub fn record_with(
    base: Option<&base::Base>,
    child: impl FnOnce(Handoff) -> i32,
) -> Result<Observations, RecordError> {
    run(base, |to, from| child(Handoff { to, from }))
}

/// Fork; the child runs `child` (which returns only when the command did not start, with the
/// exit code); this process takes the listener it sends and records until no process is left.
fn run(
    base: Option<&base::Base>,
    child: impl FnOnce(OwnedFd, OwnedFd) -> i32,
) -> Result<Observations, RecordError> {
    let (up_r, up_w) = socket_pair()?;
    let (down_r, down_w) = pipe()?;
    let Some(child_pid) = notify::fork().map_err(sys("fork"))? else {
        drop((up_r, down_w));
        std::process::exit(child(up_w, down_r));
    };
    let child = child_pid;
    drop((up_w, down_r));
    // Ctrl-C (or a SIGTERM to the group) is for the command: the recorder outlives it and
    // writes what it saw.
    notify::block_interrupts().map_err(sys("block SIGINT"))?;
    let listener = match notify::recv_fd(&up_r) {
        Ok(l) => l,
        // Every holder of the other end is gone: no filter was installed.
        Err(0) => return Err(RecordError::NotStarted(supervisor::wait(child))),
        Err(e) => return Err(RecordError::Sys { what: "receive the listener", errno: e }),
    };
    drop(up_r);
    nix::unistd::write(&down_w, b"g")
        .map_err(|e| RecordError::Sys { what: "start the command", errno: e as i32 })?;
    drop(down_w);
    let mut obs = Observations { vars: path_vars(), ..Observations::default() };
    supervise(&listener, &mut obs, base);
    obs.status = supervisor::wait(child);
    obs.interrupted = notify::interrupted();
    Ok(obs)
}

/// This process's `CWD`, `HOME` and `TMPDIR` (what the workload starts with).
fn path_vars() -> BTreeMap<String, String> {
    use policy::ir::pathvars::PathVar;
    let uid = nix::unistd::getuid().as_raw();
    [PathVar::Cwd, PathVar::Home, PathVar::Tmpdir]
        .into_iter()
        .filter_map(|v| Some((v.to_string(), crate::vars::PathValues::Process.value(&v, uid)?)))
        .collect()
}

/// The child: the two descriptors at their numbers, the filter, the listener's number to the
/// parent, its go-ahead, exec. Returns only on failure (the exit code).
fn child_side(command: &Command, filter: &Filter, up: OwnedFd, down: OwnedFd) -> i32 {
    if notify::place(&up, TO_PARENT).is_err() || notify::place(&down, FROM_PARENT).is_err() {
        return 125;
    }
    drop((up, down));
    let listener = match filter.install(Flags::NEW_LISTENER, true) {
        Ok(fd) => fd,
        Err(_) => return 125,
    };
    // From here every call but these two waits for the parent, which needs the listener.
    if notify::send_fd(TO_PARENT, listener).is_err() {
        return 125;
    }
    let mut go = [0u8; 1];
    if notify::read_at(FROM_PARENT, &mut go) != Ok(1) {
        return 125;
    }
    let e = match &command.env {
        Some(env) => nix::unistd::execve(&command.path, &command.argv, env).err(),
        None => nix::unistd::execv(&command.path, &command.argv).err(),
    };
    match e {
        Some(nix::errno::Errno::ENOENT) => 127,
        _ => 126,
    }
}

/// Note every call and let it run (or, under a base profile, answer it as the base does),
/// until no process is left under the filter.
fn supervise(listener: &OwnedFd, obs: &mut Observations, base: Option<&base::Base>) {
    let mut creds = caps::Cache::default();
    supervisor::each(listener, |n| {
        if let Some(r) = base.and_then(|b| b.refuses(n)) {
            let name =
                supervisor::name_of(n).map_or_else(|| format!("number {}", n.nr), |(_, s)| s.to_string());
            obs.denied
                .entry(format!("syscall {name}"))
                .or_insert_with(|| format!("{} by {}", r.action, r.by));
            return match r.action {
                policy::action::Action::Errno(e) => Answer::Fail(i32::from(e)),
                // A kill or trap verdict: the call fails instead (the recording goes on).
                _ => Answer::Fail(libc::EPERM),
            };
        }
        note(obs, n, base, &mut creds);
        Answer::Run
    });
}

fn note(
    obs: &mut Observations,
    n: &notify::Notification,
    base: Option<&base::Base>,
    cache: &mut caps::Cache,
) {
    let Some((arch, nr)) = supervisor::arch_of(n.arch, n.nr) else { return };
    match table::table(arch).and_then(|t| t.name(nr)) {
        Some(name) => {
            let mut port = None;
            let mut value = |v: u64| {
                obs.values.entry(name.to_string()).or_default().insert(v);
            };
            match name {
                "socket" | "socketpair" => {
                    value(n.args[1] & 0xf);
                    obs.families.insert(n.args[0] & 0xffff_ffff);
                }
                "personality" | "prctl" => value(n.args[0] & 0xffff_ffff),
                "ioctl" => value(n.args[1] & 0xffff_ffff),
                "unshare" | "setns" => obs.namespaces = true,
                "bind" | "connect" => {
                    port = port_of(n);
                    if let Some(p) = port {
                        let bind = name == "bind";
                        if base.is_some_and(|b| b.refuses_port(bind, p)) {
                            obs.denied
                                .insert(format!("{name} port {p}"), "refused by its Landlock rules".into());
                        } else {
                            let ports = if bind { &mut obs.bind_ports } else { &mut obs.connect_ports };
                            ports.insert(p);
                        }
                    }
                }
                // clone's flags: the first argument (the second on s390); clone3's, the first
                // field of the structure it points to.
                "clone" | "clone3" => {
                    // clone's low byte is the exit signal; clone3 has a field of its own for
                    // that, and its low byte holds flags (CLONE_NEWTIME).
                    let flags = match (name, arch) {
                        ("clone3", _) => match notify::read_memory(n.pid, n.args[0], 8)
                            .ok()
                            .and_then(|b| <[u8; 8]>::try_from(b).ok())
                        {
                            Some(b) => u64::from_ne_bytes(b) & 0xffff_ffff,
                            None => {
                                // Unread: the namespaces it may have made are not known.
                                obs.unread += 1;
                                obs.namespaces = true;
                                0
                            }
                        },
                        (_, Arch::S390x | Arch::S390) => n.args[1] & 0xffff_ff00,
                        _ => n.args[0] & 0xffff_ff00,
                    };
                    obs.namespaces |= flags & policy::vocab::NamespaceSet::all().clone_flags() != 0;
                    *obs.clone_flags.get_or_insert(0) |= flags;
                }
                _ => {}
            }
            let paths::Touched { touches: touched, exec, unread, made } = paths::touches(n, name);
            obs.unread += u64::from(unread);
            obs.made.extend(made);
            for t in &touched {
                let refused = base.map_or(policy::vocab::FsAccess::EMPTY, |b| b.refused_rights(t));
                if !refused.is_empty() {
                    obs.denied.insert(
                        format!("path {}", t.path),
                        format!("{} refused by its Landlock rules", refused.names().join(", ")),
                    );
                }
                let granted = t.access - refused;
                if t.dir {
                    obs.dirs.insert(t.path.clone());
                }
                if !granted.is_empty() {
                    *obs.files.entry(t.path.clone()).or_default() |= granted;
                }
            }
            if let Some(e) = exec.filter(|e| e.setid) {
                obs.setid_execs.insert(e.path);
            }
            let creds = (!touched.is_empty() || caps::may_use(name)).then(|| cache.of(n.pid)).flatten();
            if let Some(creds) = creds {
                for (cap, why) in caps::uses(n, name, &creds, &touched, port.filter(|_| name == "bind")) {
                    obs.caps.entry(cap.name().to_string()).or_insert(why);
                }
            }
            cache.after(n.pid, name);
            let per = obs.syscalls.entry(arch.name().to_string()).or_default();
            let seen = per.entry(name.to_string()).or_default();
            if seen.calls == 0 {
                // The executable, read when a call is first seen (a thread's /proc entry names it).
                let exe = std::fs::read_link(format!("/proc/{}/exe", n.pid));
                seen.first_in = exe.map(|p| p.display().to_string()).unwrap_or_default();
            }
            seen.calls += 1;
        }
        None => {
            let list = obs.unknown.entry(arch.name().to_string()).or_default();
            if !list.contains(&nr) {
                list.push(nr);
            }
        }
    }
}

/// The IP port of a `bind`/`connect` call's address (`sockaddr_in` or `sockaddr_in6`: the
/// family, then the port in network order), read from the caller's memory.
pub(crate) fn port_of(n: &notify::Notification) -> Option<u16> {
    let len = usize::try_from(n.args[2]).ok()?.min(128);
    let addr = notify::read_memory(n.pid, n.args[1], len).ok()?;
    let family = u16::from_ne_bytes([*addr.first()?, *addr.get(1)?]);
    match family {
        2 | 10 => Some(u16::from_be_bytes([*addr.get(2)?, *addr.get(3)?])),
        _ => None,
    }
}
