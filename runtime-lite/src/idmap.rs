//! User namespace mappings: container uid/gid 0 is an unprivileged host id, never host root.

use policy::ir::IsolationIr;

/// One uid or gid mapping line: `inside host count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mapping {
    /// First host id.
    pub host: u32,
    /// How many ids.
    pub count: u32,
}

/// The host uid and gid ranges for container 0: `map_root_to` or, by default, 100000 with
/// 65536 ids when the launcher is root, else the caller's own ids (one each).
pub fn mappings(iso: &IsolationIr) -> Result<(Mapping, Mapping), String> {
    let euid = nix::unistd::geteuid().as_raw();
    let egid = nix::unistd::getegid().as_raw();
    if euid == 0 {
        let host = iso.map_root_to.unwrap_or(100_000);
        if host == 0 {
            return Err("container root must not map to host root".into());
        }
        let m = Mapping { host, count: 65536 };
        return Ok((m, m));
    }
    match iso.map_root_to {
        Some(u) if u != euid => Err(format!(
            "cannot map container root to host uid {u} without privilege (only to your own uid {euid}); run enforce as root"
        )),
        _ => Ok((Mapping { host: euid, count: 1 }, Mapping { host: egid, count: 1 })),
    }
}

/// Write `setgroups` (deny), `uid_map` and `gid_map` of process `pid`.
pub fn write_maps(pid: i32, uid: Mapping, gid: Mapping) -> std::io::Result<()> {
    let base = format!("/proc/{pid}");
    std::fs::write(format!("{base}/setgroups"), "deny")?;
    std::fs::write(format!("{base}/uid_map"), format!("0 {} {}\n", uid.host, uid.count))?;
    std::fs::write(format!("{base}/gid_map"), format!("0 {} {}\n", gid.host, gid.count))?;
    Ok(())
}
