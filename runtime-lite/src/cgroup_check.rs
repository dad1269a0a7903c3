//! What cgroups-rs leaves unchecked or unapplied, done here so that no limit asked for is
//! silently dropped: every limit needs its controller in the group (cgroups-rs skips a
//! controller that is not mounted, as runc does not), and the files cgroups-rs does not write,
//! or writes ignoring errors (the real-time CPU budget, `memory.oom_control`), are written
//! here with their errors.

use cgroups_rs::fs::{Controllers, Resources, Subsystem};

/// The controllers `res` needs, each with what needs it. `v2`: device rules are an eBPF
/// program there, not a controller.
fn needed(res: &Resources, v2: bool) -> Vec<(Controllers, &'static str)> {
    let m = &res.memory;
    let c = &res.cpu;
    let b = &res.blkio;
    let wants = [
        (
            m.memory_hard_limit.is_some()
                || m.memory_soft_limit.is_some()
                || m.memory_swap_limit.is_some()
                || m.swappiness.is_some()
                || !m.attrs.is_empty(),
            Controllers::Mem,
            "memory",
        ),
        (res.pid.maximum_number_of_processes.is_some(), Controllers::Pids, "pids"),
        (
            c.shares.is_some()
                || c.quota.is_some()
                || c.period.is_some()
                || c.realtime_period.is_some()
                || c.realtime_runtime.is_some(),
            Controllers::Cpu,
            "cpu",
        ),
        (c.cpus.is_some() || c.mems.is_some(), Controllers::CpuSet, "cpu.cpus/cpu.mems"),
        (!v2 && !res.devices.devices.is_empty(), Controllers::Devices, "devices"),
        (!res.hugepages.limits.is_empty(), Controllers::HugeTlb, "hugepageLimits"),
        (res.network.class_id.is_some(), Controllers::NetCls, "network.classID"),
        (!res.network.priorities.is_empty(), Controllers::NetPrio, "network.priorities"),
        (
            b.weight.is_some()
                || b.leaf_weight.is_some()
                || !b.weight_device.is_empty()
                || !b.throttle_read_bps_device.is_empty()
                || !b.throttle_write_bps_device.is_empty()
                || !b.throttle_read_iops_device.is_empty()
                || !b.throttle_write_iops_device.is_empty(),
            Controllers::BlkIo,
            "blockIO",
        ),
    ];
    wants.into_iter().filter(|(w, ..)| *w).map(|(_, c, why)| (c, why)).collect()
}

fn find(subsystems: &[Subsystem], c: &Controllers) -> Option<std::path::PathBuf> {
    subsystems
        .iter()
        .map(Subsystem::to_controller)
        .find(|s| s.control_type() == *c)
        .map(|s| s.path().to_path_buf())
}

/// Refuse `res` when a controller it needs is not in the group.
pub fn controllers(res: &Resources, subsystems: &[Subsystem], v2: bool) -> Result<(), String> {
    for (c, why) in needed(res, v2) {
        if find(subsystems, &c).is_none() {
            return Err(format!("{why} needs the {c} controller, which this host does not give the group"));
        }
    }
    Ok(())
}

/// `res` without what [`rest`] writes (cgroups-rs would write the attributes and skip errors).
pub fn for_cgroups_rs(res: &Resources) -> Resources {
    let mut r = res.clone();
    r.memory.attrs.clear();
    r
}

/// Write what cgroups-rs does not: the memory attributes (`memory.oom_control`), then the
/// real-time period before the runtime (the kernel checks the runtime against the period).
pub fn rest(res: &Resources, subsystems: &[Subsystem]) -> Result<(), String> {
    let write = |c: Controllers, file: &str, value: String| -> Result<(), String> {
        let dir = find(subsystems, &c).ok_or_else(|| format!("no {c} controller for {file}"))?;
        std::fs::write(dir.join(file), &value).map_err(|e| format!("write {value} to {file}: {e}"))
    };
    for (file, value) in &res.memory.attrs {
        write(Controllers::Mem, file, value.clone())?;
    }
    if let Some(p) = res.cpu.realtime_period {
        write(Controllers::Cpu, "cpu.rt_period_us", p.to_string())?;
    }
    if let Some(r) = res.cpu.realtime_runtime {
        write(Controllers::Cpu, "cpu.rt_runtime_us", r.to_string())?;
    }
    Ok(())
}
