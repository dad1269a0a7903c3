//! `linux.resources` (and `update --resources`) as the cgroup limits [`crate::cgroup`] applies:
//! memory, pids, cpu and cpuset, and the device allow-list (the v1 devices controller, or on a
//! unified v2 host an eBPF program: [`crate::devices`]).

use cgroups_rs::fs::devices::{DevicePermissions, DeviceType};
use cgroups_rs::fs::{DeviceResource, MaxValue, Resources};
use oci_spec::runtime::{LinuxDeviceType, LinuxResources};

use super::OciError;

/// What cgroups-rs applies for `r`.
pub fn of(r: &LinuxResources) -> Result<Resources, OciError> {
    let mut out = Resources::default();
    // Zero means "not set" (Docker writes `shares: 0`; the kernel refuses it), as runc reads it.
    let set = |v: Option<i64>| v.filter(|v| *v != 0);
    let set_u = |v: Option<u64>| v.filter(|v| *v != 0);
    if let Some(m) = r.memory() {
        out.memory.memory_hard_limit = set(m.limit());
        out.memory.memory_soft_limit = set(m.reservation());
        out.memory.memory_swap_limit = set(m.swap());
        out.memory.swappiness = m.swappiness();
    }
    if let Some(p) = r.pids() {
        out.pid.maximum_number_of_processes =
            Some(if p.limit() <= 0 { MaxValue::Max } else { MaxValue::Value(p.limit()) });
    }
    if let Some(c) = r.cpu() {
        out.cpu.shares = set_u(c.shares());
        out.cpu.quota = set(c.quota());
        out.cpu.period = set_u(c.period());
        out.cpu.cpus = c.cpus().clone().filter(|s| !s.is_empty());
        out.cpu.mems = c.mems().clone().filter(|s| !s.is_empty());
    }
    for (i, d) in r.devices().iter().flatten().enumerate() {
        let access = d.access().clone().unwrap_or_else(|| "rwm".into());
        let access: Option<Vec<DevicePermissions>> =
            access.chars().map(DevicePermissions::from_char).collect();
        let access = access.ok_or_else(|| OciError::Config {
            field: format!("linux.resources.devices[{i}].access"),
            why: "use r, w and m".into(),
        })?;
        let devtype = match d.typ() {
            None | Some(LinuxDeviceType::A) => DeviceType::All,
            Some(LinuxDeviceType::B) => DeviceType::Block,
            Some(_) => DeviceType::Char,
        };
        out.devices.devices.push(DeviceResource {
            allow: d.allow(),
            devtype,
            major: d.major().unwrap_or(-1),
            minor: d.minor().unwrap_or(-1),
            access,
        });
    }
    if !out.devices.devices.is_empty() {
        // runc's allowed devices come after config.json's rules: mknod of any node (the
        // devices' use is still checked), and the default devices the init makes.
        let rwm = || "rwm".chars().filter_map(DevicePermissions::from_char).collect::<Vec<_>>();
        let rule =
            |devtype, major, minor, access| DeviceResource { allow: true, devtype, major, minor, access };
        let mknod = vec![DevicePermissions::MkNod];
        out.devices.devices.push(rule(DeviceType::Char, -1, -1, mknod.clone()));
        out.devices.devices.push(rule(DeviceType::Block, -1, -1, mknod));
        for (major, minor) in [(1, 3), (1, 5), (1, 7), (1, 8), (1, 9), (5, 0), (5, 1), (5, 2), (136, -1)] {
            out.devices.devices.push(rule(DeviceType::Char, major, minor, rwm()));
        }
    }
    Ok(out)
}

/// The group of a container whose config.json gives no `cgroupsPath`:
/// `palisade-runtime/ROOT-ID`, ROOT a digest of the `--root` directory (ids are unique only
/// within one root).
pub fn default_path(root: &std::path::Path, id: &str) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(root.as_os_str().as_encoded_bytes());
    let short: String = d.iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("palisade-runtime/{short}-{id}")
}

/// The group's path under the hierarchies' roots: `cgroupsPath` without its leading `/`
/// (`None`: config.json gives none, see [`default_path`]).
pub fn path(cgroups_path: Option<&std::path::Path>) -> Result<Option<String>, OciError> {
    let Some(p) = cgroups_path.map(|p| p.display().to_string()) else { return Ok(None) };
    let rel = p.trim_start_matches('/').to_string();
    if rel.is_empty() || rel.split('/').any(|c| c == ".." || c == ".") || rel.contains(':') {
        return Err(OciError::Config {
            field: "linux.cgroupsPath".into(),
            why: format!("`{p}`: a path beneath the cgroup root (the systemd driver's `slice:prefix:name` is not supported)"),
        });
    }
    Ok(Some(rel))
}
