//! Capability inference: which notified calls would use a capability the caller holds (a port
//! below the unprivileged start, a file owned by another user, another user's process, a raw
//! socket, a device node, ...). Inferred, not observed: the kernel does not say which
//! capability let a call through, so the learned profile marks these as inferred.

use policy::vocab::{Cap, FsRight};

use super::paths::Touch;
use crate::sys::notify::Notification;

/// The caller's credentials (`/proc/TID/status`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Creds {
    /// Real, effective, saved and filesystem user IDs.
    pub uid: [u32; 4],
    /// The same group IDs.
    pub gid: [u32; 4],
    /// Supplementary groups.
    pub groups: Vec<u32>,
    /// Effective capabilities (bits).
    pub eff: u64,
}

impl Creds {
    /// Those of thread `tid`.
    pub fn of(tid: u32) -> Option<Creds> {
        Creds::read(&format!("/proc/{tid}/status"))
    }

    /// Those of process `pid` as thread `tid` numbers it (its own pid namespace's, through its
    /// root's `/proc`: a container's numbers are not this process's).
    fn of_seen_by(tid: u32, pid: u32) -> Option<Creds> {
        Creds::read(&format!("/proc/{tid}/root/proc/{pid}/status"))
    }

    fn read(file: &str) -> Option<Creds> {
        let status = std::fs::read_to_string(file).ok()?;
        let mut c = Creds::default();
        for line in status.lines() {
            let (key, rest) = line.split_once(':')?;
            let nums = || rest.split_whitespace().filter_map(|w| w.parse::<u32>().ok()).collect::<Vec<_>>();
            match key {
                "Uid" => c.uid = <[u32; 4]>::try_from(nums()).ok()?,
                "Gid" => c.gid = <[u32; 4]>::try_from(nums()).ok()?,
                "Groups" => c.groups = nums(),
                "CapEff" => c.eff = u64::from_str_radix(rest.trim(), 16).ok()?,
                _ => {}
            }
        }
        Some(c)
    }

    fn has(&self, cap: Cap) -> bool {
        self.eff & (1u64 << cap.number()) != 0
    }

    fn in_group(&self, gid: u32) -> bool {
        self.gid[3] == gid || self.groups.contains(&gid)
    }
}

/// Credentials by thread, read once and again only after a call that may change them (a
/// recording makes thousands of calls that touch paths; each would read `/proc/TID/status`).
#[derive(Debug, Default)]
pub struct Cache {
    by_tid: std::collections::HashMap<u32, Creds>,
}

impl Cache {
    /// Thread `tid`'s credentials.
    pub fn of(&mut self, tid: u32) -> Option<Creds> {
        if let Some(c) = self.by_tid.get(&tid) {
            return Some(c.clone());
        }
        let c = Creds::of(tid)?;
        self.by_tid.insert(tid, c.clone());
        Some(c)
    }

    /// After thread `tid` made call `name`: forget its credentials if the call may change them
    /// (`set*id`, `setgroups`, `capset`, `prctl`, an exec), or if the thread may be gone and
    /// its number reused (`exit`).
    pub fn after(&mut self, tid: u32, name: &str) {
        if name.starts_with("set")
            || name.starts_with("exec")
            || name.starts_with("exit")
            || matches!(name, "capset" | "prctl" | "unshare" | "setns")
        {
            self.by_tid.remove(&tid);
        }
    }
}

/// A capability a call would use, and why (for the profile's comment).
pub type Use = (Cap, String);

fn own_id(ids: &[u32; 4], id: u64) -> bool {
    let id = id as u32;
    id == u32::MAX || ids[..3].contains(&id)
}

/// The capabilities call `name` of `n` (touching `touched`) would use, among those `creds`
/// hold. `bind_port`: the IP port of a `bind`.
pub fn uses(
    n: &Notification,
    name: &str,
    creds: &Creds,
    touched: &[Touch],
    bind_port: Option<u16>,
) -> Vec<Use> {
    let a = n.args;
    let mut out: Vec<Use> = Vec::new();
    let mut add = |cap: Cap, why: String| {
        if creds.has(cap) {
            out.push((cap, why));
        }
    };
    match name {
        "bind" => {
            if let Some(p) = bind_port.filter(|p| *p != 0 && u32::from(*p) < unprivileged_port_start()) {
                add(Cap::NET_BIND_SERVICE, format!("bind to port {p}"));
            }
        }
        "socket" | "socketpair" => {
            let raw = a[1] & 0xf == libc::SOCK_RAW as u64;
            let family = a[0] as i32;
            if family == libc::AF_PACKET || (raw && (family == libc::AF_INET || family == libc::AF_INET6)) {
                add(Cap::NET_RAW, "a raw or packet socket".into());
            }
        }
        "chown" | "lchown" | "fchown" | "chown32" | "lchown32" | "fchown32" | "fchownat" => {
            let (u, g) = if name == "fchownat" { (a[2], a[3]) } else { (a[1], a[2]) };
            let other_user = u as u32 != u32::MAX && u as u32 != creds.uid[3];
            let other_group = g as u32 != u32::MAX && !creds.in_group(g as u32);
            if other_user || other_group {
                add(Cap::CHOWN, format!("{name} to {}:{}", u as i32, g as i32));
            }
        }
        "setuid" | "setuid32" | "setreuid" | "setreuid32" | "setresuid" | "setresuid32" | "setfsuid"
        | "setfsuid32" => {
            let n_ids = if name.starts_with("setres") {
                3
            } else if name.starts_with("setre") {
                2
            } else {
                1
            };
            if a[..n_ids].iter().any(|id| !own_id(&creds.uid, *id)) {
                add(Cap::SETUID, format!("{name} to another user"));
            }
        }
        "setgid" | "setgid32" | "setregid" | "setregid32" | "setresgid" | "setresgid32" | "setfsgid"
        | "setfsgid32" => {
            let n_ids = if name.starts_with("setres") {
                3
            } else if name.starts_with("setre") {
                2
            } else {
                1
            };
            if a[..n_ids].iter().any(|id| !own_id(&creds.gid, *id)) {
                add(Cap::SETGID, format!("{name} to another group"));
            }
        }
        "setgroups" | "setgroups32" => add(Cap::SETGID, name.into()),
        "mknod" | "mknodat" => {
            let mode = if name == "mknod" { a[1] } else { a[2] } as u32 & libc::S_IFMT;
            if mode == libc::S_IFCHR || mode == libc::S_IFBLK {
                add(Cap::MKNOD, "a device node".into());
            }
        }
        "kill" | "tkill" | "tgkill" => {
            let target = if name == "tgkill" { a[1] } else { a[0] } as i32;
            if target > 0 {
                if let Some(t) = Creds::of_seen_by(n.pid, target as u32) {
                    let ok = [creds.uid[0], creds.uid[1]].iter().any(|u| *u == t.uid[0] || *u == t.uid[2]);
                    if !ok {
                        add(Cap::KILL, "a signal to another user's process".into());
                    }
                }
            }
        }
        "chmod" | "fchmod" | "fchmodat" | "fchmodat2" => {
            for t in touched.iter().filter(|t| t.path != "/proc") {
                if t.stat.is_some_and(|(owner, _, _)| owner != creds.uid[3]) {
                    add(Cap::FOWNER, format!("{name} of {} (another user's)", t.path));
                }
            }
        }
        "setpriority" if (a[2] as i32) < 0 => add(Cap::SYS_NICE, "a negative nice value".into()),
        "sched_setscheduler" if matches!(a[1] as i32, libc::SCHED_FIFO | libc::SCHED_RR) => {
            add(Cap::SYS_NICE, "a real-time scheduling policy".into())
        }
        _ => {
            if let Some(cap) = always(name) {
                add(cap, name.into());
            }
        }
    }
    // File access that the mode bits refuse: the DAC overrides.
    if !matches!(name, "chmod" | "fchmod" | "fchmodat" | "fchmodat2") {
        for t in touched.iter().filter(|t| t.path != "/proc") {
            if let Some(cap) = t.stat.and_then(|s| dac_override(s, t.access, creds)) {
                add(cap, format!("{} of {} (the mode bits refuse it)", rights_word(t.access), t.path));
            }
        }
    }
    out
}

/// Whether call `name` can use a capability through its arguments alone (a call that touches
/// a path can, through the mode bits, whatever its name).
pub fn may_use(name: &str) -> bool {
    always(name).is_some()
        || matches!(
            name.trim_end_matches("32"),
            "bind"
                | "socket"
                | "socketpair"
                | "chown"
                | "lchown"
                | "fchown"
                | "fchownat"
                | "setuid"
                | "setreuid"
                | "setresuid"
                | "setfsuid"
                | "setgid"
                | "setregid"
                | "setresgid"
                | "setfsgid"
                | "setgroups"
                | "mknod"
                | "mknodat"
                | "kill"
                | "tkill"
                | "tgkill"
                | "chmod"
                | "fchmod"
                | "fchmodat"
                | "fchmodat2"
                | "setpriority"
                | "sched_setscheduler"
        )
}

/// Calls that need a capability whatever their arguments.
fn always(name: &str) -> Option<Cap> {
    Some(match name {
        "chroot" => Cap::SYS_CHROOT,
        "mount" | "umount" | "umount2" | "pivot_root" | "swapon" | "swapoff" | "sethostname"
        | "setdomainname" | "quotactl" => Cap::SYS_ADMIN,
        "reboot" => Cap::SYS_BOOT,
        "init_module" | "finit_module" | "delete_module" => Cap::SYS_MODULE,
        "acct" => Cap::SYS_PACCT,
        "iopl" | "ioperm" => Cap::SYS_RAWIO,
        "settimeofday" | "clock_settime" | "clock_settime64" | "stime" => Cap::SYS_TIME,
        "vhangup" => Cap::SYS_TTY_CONFIG,
        _ => return None,
    })
}

fn unprivileged_port_start() -> u32 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(1024)
}

fn rights_word(access: policy::vocab::FsAccess) -> &'static str {
    if access.contains(FsRight::WRITE_FILE)
        || !(access & policy::vocab::FsAccess::directory_only()).is_empty()
    {
        "writing"
    } else if access.contains(FsRight::EXECUTE) {
        "executing"
    } else {
        "reading"
    }
}

/// The capability that lets `creds` have `access` on a file of `(owner, group, mode)` when its
/// mode bits do not: `DAC_READ_SEARCH` for reading, `DAC_OVERRIDE` otherwise.
fn dac_override(stat: (u32, u32, u32), access: policy::vocab::FsAccess, creds: &Creds) -> Option<Cap> {
    let (uid, gid, mode) = stat;
    let class = if uid == creds.uid[3] {
        (mode >> 6) & 7
    } else if creds.in_group(gid) {
        (mode >> 3) & 7
    } else {
        mode & 7
    };
    // Making, removing or renaming an entry needs write and search on the directory.
    let read_dir: policy::vocab::FsAccess = [FsRight::READ_DIR].into_iter().collect();
    let changes = (access & policy::vocab::FsAccess::directory_only()) - read_dir;
    let read = access.contains(FsRight::READ_FILE) || access.contains(FsRight::READ_DIR);
    let write =
        access.contains(FsRight::WRITE_FILE) || access.contains(FsRight::TRUNCATE) || !changes.is_empty();
    let search = !changes.is_empty();
    let exec = access.contains(FsRight::EXECUTE);
    let refused = |bit: u32| class & bit == 0;
    if (write && refused(2)) || (search && refused(1)) || (exec && refused(1)) {
        Some(Cap::DAC_OVERRIDE)
    } else if read && refused(4) {
        Some(Cap::DAC_READ_SEARCH)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_processs_credentials_are_read_and_the_mode_bits_decide_the_override() {
        let me = Creds::of(std::process::id()).expect("status");
        assert_eq!(me.uid[1], nix::unistd::geteuid().as_raw());
        let root = Creds { eff: u64::MAX, uid: [0; 4], gid: [0; 4], ..Creds::default() };
        let nobody = Creds { eff: 0, uid: [65534; 4], gid: [65534; 4], ..Creds::default() };
        let read: policy::vocab::FsAccess = [FsRight::READ_FILE].into_iter().collect();
        let write: policy::vocab::FsAccess = [FsRight::WRITE_FILE].into_iter().collect();
        // Root's 0644 file and 0640 file of group 42.
        let (passwd, shadow) = ((0, 0, 0o100644), (0, 42, 0o100640));
        assert_eq!(dac_override(passwd, read, &nobody), None);
        assert_eq!(dac_override(passwd, write, &nobody), Some(Cap::DAC_OVERRIDE));
        assert_eq!(dac_override(passwd, write, &root), None);
        assert_eq!(dac_override(shadow, read, &nobody), Some(Cap::DAC_READ_SEARCH));
        let member = Creds { groups: vec![42], ..nobody.clone() };
        assert_eq!(dac_override(shadow, read, &member), None);
        assert!(!nobody.has(Cap::DAC_READ_SEARCH) && root.has(Cap::KILL));
        assert_eq!(always("chroot"), Some(Cap::SYS_CHROOT));
    }
}
