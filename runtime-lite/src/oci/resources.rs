//! `linux.resources` (and `update --resources`) as the cgroup limits [`crate::cgroup`] applies:
//! memory, pids, cpu and cpuset, and the device allow-list (the v1 devices controller, or on a
//! unified v2 host an eBPF program: [`crate::devices`]).

use cgroups_rs::fs::devices::{DevicePermissions, DeviceType};
use cgroups_rs::fs::{
    BlkIoDeviceResource, BlkIoDeviceThrottleResource, DeviceResource, HugePageResource, MaxValue,
    NetworkPriority, Resources,
};
use oci_spec::runtime::{LinuxDeviceType, LinuxResources};

use super::OciError;

/// The v1 memory file that disables the OOM killer (`disableOOMKiller`).
pub const OOM_CONTROL: &str = "memory.oom_control";

/// `blockIO`: weights and throttles, per device.
fn blkio(
    b: &oci_spec::runtime::LinuxBlockIo,
    out: &mut cgroups_rs::fs::BlkIoResources,
) -> Result<(), OciError> {
    let number = |v: i64, field: String| {
        u64::try_from(v).map_err(|_| OciError::Config { field, why: format!("{v} is not a device number") })
    };
    // Zero is "not set", as runc reads it.
    out.weight = b.weight().filter(|w| *w != 0);
    out.leaf_weight = b.leaf_weight().filter(|w| *w != 0);
    for (i, d) in b.weight_device().iter().flatten().enumerate() {
        let f = |what: &str| format!("linux.resources.blockIO.weightDevice[{i}].{what}");
        out.weight_device.push(BlkIoDeviceResource {
            major: number(d.major(), f("major"))?,
            minor: number(d.minor(), f("minor"))?,
            weight: d.weight(),
            leaf_weight: d.leaf_weight(),
        });
    }
    let lists = [
        ("throttleReadBpsDevice", b.throttle_read_bps_device(), &mut out.throttle_read_bps_device),
        ("throttleWriteBpsDevice", b.throttle_write_bps_device(), &mut out.throttle_write_bps_device),
        ("throttleReadIOPSDevice", b.throttle_read_iops_device(), &mut out.throttle_read_iops_device),
        ("throttleWriteIOPSDevice", b.throttle_write_iops_device(), &mut out.throttle_write_iops_device),
    ];
    for (name, given, into) in lists {
        for (i, d) in given.iter().flatten().enumerate() {
            let f = |what: &str| format!("linux.resources.blockIO.{name}[{i}].{what}");
            into.push(BlkIoDeviceThrottleResource {
                major: number(d.major(), f("major"))?,
                minor: number(d.minor(), f("minor"))?,
                rate: d.rate(),
            });
        }
    }
    Ok(())
}

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
        if m.disable_oom_killer() == Some(true) {
            // Written by crate::cgroup (its failure is an error, not skipped).
            out.memory.attrs.insert(OOM_CONTROL.into(), "1".into());
        }
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
        out.cpu.realtime_period = set_u(c.realtime_period());
        out.cpu.realtime_runtime = set(c.realtime_runtime());
    }
    if let Some(b) = r.block_io() {
        blkio(b, &mut out.blkio)?;
    }
    for (i, h) in r.hugepage_limits().iter().flatten().enumerate() {
        let limit = u64::try_from(h.limit()).map_err(|_| OciError::Config {
            field: format!("linux.resources.hugepageLimits[{i}].limit"),
            why: format!("{} is negative", h.limit()),
        })?;
        out.hugepages.limits.push(HugePageResource { size: h.page_size().clone(), limit });
    }
    if let Some(n) = r.network() {
        out.network.class_id = n.class_id().map(u64::from);
        for p in n.priorities().iter().flatten() {
            out.network
                .priorities
                .push(NetworkPriority { name: p.name().clone(), priority: u64::from(p.priority()) });
        }
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
