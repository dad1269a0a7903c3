//! User namespace mappings: container uid/gid 0 is an unprivileged host id, never host root.

use policy::ir::IsolationIr;

/// Why the mapping cannot be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdmapError {
    /// `map_root_to: 0`, or a default that would be.
    #[error("container root must not map to host root")]
    HostRoot,
    /// A normal user can map only their own id.
    #[error("cannot map container root to host uid {wanted} without privilege (only to your own uid {own}); run enforce as root")]
    NotOwn {
        /// The uid the profile asks for.
        wanted: u32,
        /// The caller's.
        own: u32,
    },
    /// Writing the maps failed.
    #[error("cannot map container root to host uid {host} ({count} ids): {}; is the range free and are user namespaces enabled?", policy::error::io_reason(.source))]
    Write {
        /// First host id.
        host: u32,
        /// How many.
        count: u32,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// One uid or gid mapping line: `0 host count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mapping {
    /// First host id.
    pub host: u32,
    /// How many ids.
    pub count: u32,
}

impl std::fmt::Display for Mapping {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "0 {} {}", self.host, self.count)
    }
}

/// The host uid and gid ranges for container 0: `map_root_to` or, by default, 100000 with
/// 65536 ids when the launcher is root, else the caller's own ids (one each).
pub fn mappings(iso: &IsolationIr) -> Result<(Mapping, Mapping), IdmapError> {
    let euid = nix::unistd::geteuid().as_raw();
    let egid = nix::unistd::getegid().as_raw();
    if euid == 0 {
        let host = iso.map_root_to.unwrap_or(100_000);
        if host == 0 {
            return Err(IdmapError::HostRoot);
        }
        let m = Mapping { host, count: 65536 };
        return Ok((m, m));
    }
    match iso.map_root_to {
        Some(wanted) if wanted != euid => Err(IdmapError::NotOwn { wanted, own: euid }),
        _ => Ok((Mapping { host: euid, count: 1 }, Mapping { host: egid, count: 1 })),
    }
}

/// Write `setgroups`, `uid_map` and `gid_map` of process `pid`. A full range mapped by root
/// leaves `setgroups` allowed (`su`, `runuser` and daemons that drop privileges need it, and
/// every group they could drop or take is the container's own); the caller's single id keeps
/// it denied, as the kernel requires of an unprivileged mapping.
pub fn write_maps(pid: i32, uid: Mapping, gid: Mapping) -> Result<(), IdmapError> {
    write_map_lines(pid, &format!("{uid}\n"), &format!("{gid}\n"), gid.count > 1)
        .map_err(|source| IdmapError::Write { host: uid.host, count: uid.count, source })
}

/// Write `setgroups` (`allow` or `deny`), then `uid_map` and `gid_map` (lines
/// `INSIDE HOST COUNT`) of process `pid`.
pub fn write_map_lines(pid: i32, uid: &str, gid: &str, allow_setgroups: bool) -> std::io::Result<()> {
    let base = format!("/proc/{pid}");
    let setgroups = if allow_setgroups { "allow" } else { "deny" };
    std::fs::write(format!("{base}/setgroups"), setgroups)?;
    std::fs::write(format!("{base}/uid_map"), uid)?;
    std::fs::write(format!("{base}/gid_map"), gid)
}

/// The accounts of this machine (`/etc/passwd`) whose uids fall in the host range `m`: a
/// container process would act as them toward the host's files and processes.
pub fn accounts_in(m: Mapping) -> Vec<String> {
    let end = u64::from(m.host) + u64::from(m.count);
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .filter_map(|l| {
            let mut f = l.split(':');
            let name = f.next()?;
            let uid: u64 = f.nth(1)?.parse().ok()?;
            (uid >= u64::from(m.host) && uid < end).then(|| format!("{name}={uid}"))
        })
        .collect()
}

/// The warning for a mapping onto accounts of this machine, if there is one.
pub fn shared_warning(uid: Mapping) -> Option<String> {
    // The caller's own single id is how a normal user runs a container: nothing shared.
    if uid.count <= 1 {
        return None;
    }
    let names = accounts_in(uid);
    if names.is_empty() {
        return None;
    }
    let shown = if names.len() > 6 {
        format!("{}, ... ({} accounts)", names[..6].join(", "), names.len())
    } else {
        names.join(", ")
    };
    Some(format!(
        "users.map_root_to maps the container's ids 0..{} to host ids {}..{}, which belong to accounts of this machine ({shown}): the container acts as them toward the host's files and processes; map to a range no account uses (the default, 100000, is such a range)",
        uid.count,
        uid.host,
        u64::from(uid.host) + u64::from(uid.count) - 1
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_over_this_machines_accounts_is_named() {
        // root (0) is never in a range; daemon (1) is on every Debian machine.
        let w = shared_warning(Mapping { host: 1, count: 65536 }).expect("accounts in 1..65537");
        assert!(w.contains("daemon=1"), "{w}");
        assert_eq!(shared_warning(Mapping { host: 1000, count: 1 }), None);
    }
}
