//! [`Kernel`] for real: the system calls, through the wrappers of this module's siblings, the
//! `caps` crate and the `landlock` crate.

use std::ffi::{CStr, CString};
use std::os::fd::{AsFd, OwnedFd};

use landlock::{
    AccessFs, AccessNet, BitFlags, CompatLevel, Compatible, NetPort, PathBeneath, PathFd, Ruleset,
    RulesetAttr, RulesetCreated, RulesetCreatedAttr, RulesetStatus, Scope,
};
use nix::sys::resource::{getrlimit, setrlimit, Resource as NixResource, RLIM_INFINITY};
use nix::unistd::{setgroups, setresgid, setresuid, Gid, Uid};
use policy::vocab::{CapSet, FsAccess, NetAccess, Resource};

use super::{landlock as ll, process, seccomp, CapKind, Handled, Kernel, LandlockStatus};
use crate::privilege::Caller;

/// The running kernel.
#[derive(Debug, Default)]
pub struct Linux {
    /// `enforce run --explain`: install the filter with a user-notification listener, write
    /// its descriptor's number to the first descriptor (the supervisor takes it with
    /// pidfd_getfd) and wait for a byte on the second: the listener closes at exec, so the
    /// supervisor must hold its copy first.
    listener_to: Option<(i32, i32)>,
    /// `enforce record`: send the listener itself over the first descriptor (a socket:
    /// `SCM_RIGHTS`), which reaches the recorder from inside a container too.
    send_listener: bool,
}

impl Linux {
    /// A kernel whose seccomp install hands its listener's number to `to` and waits for the
    /// go-ahead on `from`.
    pub fn explaining(to: i32, from: i32) -> Linux {
        Linux { listener_to: Some((to, from)), send_listener: false }
    }

    /// A kernel whose seccomp install sends its listener over socket `to` and waits for the
    /// go-ahead on `from` (`enforce record`).
    pub fn sending(to: i32, from: i32) -> Linux {
        Linux { listener_to: Some((to, from)), send_listener: true }
    }
}

fn nix_resource(r: Resource) -> NixResource {
    match r {
        Resource::As => NixResource::RLIMIT_AS,
        Resource::Core => NixResource::RLIMIT_CORE,
        Resource::Cpu => NixResource::RLIMIT_CPU,
        Resource::Data => NixResource::RLIMIT_DATA,
        Resource::Fsize => NixResource::RLIMIT_FSIZE,
        Resource::Locks => NixResource::RLIMIT_LOCKS,
        Resource::Memlock => NixResource::RLIMIT_MEMLOCK,
        Resource::Msgqueue => NixResource::RLIMIT_MSGQUEUE,
        Resource::Nice => NixResource::RLIMIT_NICE,
        Resource::Nofile => NixResource::RLIMIT_NOFILE,
        Resource::Nproc => NixResource::RLIMIT_NPROC,
        Resource::Rss => NixResource::RLIMIT_RSS,
        Resource::Rtprio => NixResource::RLIMIT_RTPRIO,
        Resource::Rttime => NixResource::RLIMIT_RTTIME,
        Resource::Sigpending => NixResource::RLIMIT_SIGPENDING,
        Resource::Stack => NixResource::RLIMIT_STACK,
    }
}

fn caps_set(set: CapSet) -> caps::CapsHashSet {
    caps::all().into_iter().filter(|c| set.bits() & c.bitmask() != 0).collect()
}

impl Kernel for Linux {
    type Ruleset = RulesetCreated;

    fn open_status(&mut self) -> Result<OwnedFd, i32> {
        // thread-self: capabilities are per thread, and this thread is the one that execs.
        std::fs::File::open("/proc/thread-self/status")
            .map(OwnedFd::from)
            .map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))
    }

    fn read_status(&mut self, fd: &OwnedFd) -> Result<String, i32> {
        let mut buf = vec![0u8; 8192];
        let n = process::pread_all(fd.as_fd(), &mut buf)?;
        Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
    }

    fn last_cap(&mut self) -> u8 {
        std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(40)
    }

    fn setrlimit(&mut self, resource: Resource, soft: Option<u64>, hard: Option<u64>) -> Result<(), i32> {
        setrlimit(nix_resource(resource), soft.unwrap_or(RLIM_INFINITY), hard.unwrap_or(RLIM_INFINITY))
            .map_err(|e| e as i32)
    }

    fn cloexec_from(&mut self, first: u32) -> Result<(), i32> {
        process::cloexec_from(first)
    }

    fn drop_bounding(&mut self, cap: u8) -> Result<(), i32> {
        process::drop_bounding(cap)
    }

    fn securebits(&mut self) -> Result<u32, i32> {
        process::securebits()
    }

    fn set_securebits(&mut self, bits: u32) -> Result<(), i32> {
        process::set_securebits(bits)
    }

    fn may_setgroups(&mut self) -> bool {
        // In a user namespace whose setgroups is "deny" the group list is already fixed.
        let denied =
            std::fs::read_to_string("/proc/self/setgroups").map(|s| s.trim() == "deny").unwrap_or(false);
        nix::unistd::geteuid().is_root() && !denied
    }

    fn clear_groups(&mut self) -> Result<(), i32> {
        setgroups(&[]).map_err(|e| e as i32)
    }

    fn set_groups(&mut self, groups: &[u32]) -> Result<(), i32> {
        let groups: Vec<nix::unistd::Gid> = groups.iter().map(|g| nix::unistd::Gid::from_raw(*g)).collect();
        setgroups(&groups).map_err(|e| e as i32)
    }

    fn set_keepcaps(&mut self, on: bool) -> Result<(), i32> {
        process::set_keepcaps(on)
    }

    fn setresgid(&mut self, gid: u32) -> Result<(), i32> {
        let g = Gid::from_raw(gid);
        setresgid(g, g, g).map_err(|e| e as i32)
    }

    fn setresuid(&mut self, uid: u32) -> Result<(), i32> {
        let u = Uid::from_raw(uid);
        setresuid(u, u, u).map_err(|e| e as i32)
    }

    fn capset(&mut self, kind: CapKind, set: CapSet) -> Result<(), String> {
        let which = match kind {
            CapKind::Effective => caps::CapSet::Effective,
            CapKind::Permitted => caps::CapSet::Permitted,
            CapKind::Inheritable => caps::CapSet::Inheritable,
        };
        caps::set(None, which, &caps_set(set)).map_err(|e| e.to_string())
    }

    fn clear_ambient(&mut self) -> Result<(), i32> {
        process::clear_ambient()
    }

    fn raise_ambient(&mut self, cap: u8) -> Result<(), i32> {
        process::raise_ambient(cap)
    }

    fn set_no_new_privs(&mut self) -> Result<(), i32> {
        seccomp::set_no_new_privs()
    }

    fn landlock_ruleset(&mut self, handled: Handled) -> Result<RulesetCreated, String> {
        let fs: BitFlags<AccessFs> = BitFlags::from_bits_truncate(handled.fs.bits());
        let net: BitFlags<AccessNet> = BitFlags::from_bits_truncate(handled.net.bits());
        let scopes: BitFlags<Scope> = BitFlags::from_bits_truncate(handled.scopes.bits());
        // The plan asks only for what this kernel's ABI supports: anything less is a bug.
        let mut rs = Ruleset::default().set_compatibility(CompatLevel::HardRequirement);
        if !fs.is_empty() {
            rs = rs.handle_access(fs).map_err(|e| e.to_string())?;
        }
        if !net.is_empty() {
            rs = rs.handle_access(net).map_err(|e| e.to_string())?;
        }
        if !scopes.is_empty() {
            rs = rs.scope(scopes).map_err(|e| e.to_string())?;
        }
        rs.create().map_err(|e| e.to_string())
    }

    fn landlock_add_path(
        &mut self,
        rs: RulesetCreated,
        path: &str,
        access: FsAccess,
    ) -> Result<RulesetCreated, String> {
        let access: BitFlags<AccessFs> = BitFlags::from_bits_truncate(access.bits());
        let fd = PathFd::new(path).map_err(|e| format!("cannot open {path}: {e}"))?;
        rs.add_rule(PathBeneath::new(fd, access)).map_err(|e| format!("rule for {path}: {e}"))
    }

    fn landlock_add_port(
        &mut self,
        rs: RulesetCreated,
        port: u16,
        access: NetAccess,
    ) -> Result<RulesetCreated, String> {
        let access: BitFlags<AccessNet> = BitFlags::from_bits_truncate(access.bits());
        rs.add_rule(NetPort::new(port, access)).map_err(|e| format!("rule for port {port}: {e}"))
    }

    fn landlock_restrict(&mut self, rs: RulesetCreated) -> Result<LandlockStatus, String> {
        let status = rs.restrict_self().map_err(|e| e.to_string())?;
        Ok(match status.ruleset {
            RulesetStatus::FullyEnforced => LandlockStatus::FullyEnforced,
            RulesetStatus::PartiallyEnforced => LandlockStatus::PartiallyEnforced,
            RulesetStatus::NotEnforced => LandlockStatus::NotEnforced,
        })
    }

    fn hands_listener(&self) -> bool {
        self.send_listener
    }

    fn install_seccomp(&mut self, program: &[libc::sock_filter]) -> Result<(), i32> {
        match self.listener_to {
            None => seccomp::set_mode_filter(program, seccomp::FILTER_FLAG_TSYNC).map(|_| ()),
            // enforce has one thread: no TSYNC (which a listener excludes).
            Some((to, from)) => {
                let listener =
                    seccomp::set_mode_filter(program, libc::SECCOMP_FILTER_FLAG_NEW_LISTENER as u32)?;
                if self.send_listener {
                    super::notify::send_fd(to, listener)?;
                } else if super::notify::write_at(to, &listener.to_ne_bytes())? != 4 {
                    return Err(libc::EPIPE);
                }
                let mut go = [0u8; 1];
                match super::notify::read_at(from, &mut go)? {
                    1 => Ok(()),
                    _ => Err(libc::EPIPE),
                }
            }
        }
    }

    fn exec(&mut self, path: &CStr, argv: &[CString], env: Option<&[CString]>) -> Result<(), i32> {
        let result = match env {
            Some(env) => nix::unistd::execve(path, argv, env),
            None => nix::unistd::execv(path, argv),
        };
        match result {
            Ok(never) => match never {},
            Err(e) => Err(e as i32),
        }
    }
}

/// This process as [`Caller`] describes it.
pub fn caller() -> Caller {
    // The capability sets from one read of the status file (not a prctl per capability).
    let status = std::fs::read_to_string("/proc/thread-self/status").unwrap_or_default();
    // Unreadable: no capabilities, so the plan treats the caller as unprivileged (fail-closed).
    let set = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
            .unwrap_or(0)
    };
    let hard_limits = Resource::ALL
        .into_iter()
        .filter_map(|r| {
            let (_, hard) = getrlimit(nix_resource(r)).ok()?;
            Some((r, (hard != RLIM_INFINITY).then_some(hard)))
        })
        .collect();
    Caller {
        uid: nix::unistd::geteuid().as_raw(),
        gid: nix::unistd::getegid().as_raw(),
        groups: nix::unistd::getgroups().map(|g| g.iter().map(|g| g.as_raw()).collect()).unwrap_or_default(),
        permitted: CapSet::from_bits_truncate(set("CapPrm:")),
        bounding: CapSet::from_bits_truncate(set("CapBnd:")),
        securebits: process::securebits().unwrap_or(0),
        hard_limits,
    }
}

/// The Landlock ABI of the running kernel, or why there is none.
pub fn landlock_abi() -> Result<u32, String> {
    ll::abi_version().map_err(|e| match e {
        libc::ENOSYS => "the kernel has no Landlock (ENOSYS)".to_string(),
        libc::EOPNOTSUPP => "Landlock is not enabled at boot (EOPNOTSUPP)".to_string(),
        e => format!("Landlock ABI query failed: {}", std::io::Error::from_raw_os_error(e)),
    })
}
