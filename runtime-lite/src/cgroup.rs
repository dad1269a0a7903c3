//! cgroup limits (memory, pids, cpu) through cgroups-rs: v2 where the host is unified, v1
//! controllers otherwise. The launcher creates the group, puts PID 1 in it before PID 1
//! creates its cgroup namespace (so that namespace is rooted there), and removes it at the end.

use cgroups_rs::fs::cgroup_builder::CgroupBuilder;
use cgroups_rs::fs::{hierarchies, Cgroup, MaxValue};
use cgroups_rs::CgroupPid;
use policy::ir::IsolationIr;

/// A created group; removed on drop.
pub struct Group {
    cg: Cgroup,
    /// What was applied (`pids=128`, ...).
    pub applied: Vec<String>,
}

impl Drop for Group {
    fn drop(&mut self) {
        let _ = self.cg.delete();
    }
}

/// Whether the profile asks for any limit.
pub fn wanted(iso: &IsolationIr) -> bool {
    iso.memory.is_some() || iso.pids.is_some() || iso.cpu.is_some()
}

/// Create `palisade/NAME` with the profile's limits. `Ok(None)` when none are asked for, or
/// when they cannot be applied and the limits mode is `best-effort` (the reason is returned
/// in `notes`).
pub fn create(name: &str, iso: &IsolationIr, notes: &mut Vec<String>) -> Result<Option<Group>, String> {
    if !wanted(iso) {
        return Ok(None);
    }
    let mut b = CgroupBuilder::new(&format!("palisade/{name}"));
    let mut applied = Vec::new();
    if let Some(m) = iso.memory {
        b = b.memory().memory_hard_limit(m as i64).done();
        applied.push(format!("memory={m}"));
    }
    if let Some(p) = iso.pids {
        b = b.pid().maximum_number_of_processes(MaxValue::Value(p as i64)).done();
        applied.push(format!("pids={p}"));
    }
    if let Some(c) = iso.cpu {
        let period = 100_000u64;
        b = b.cpu().period(period).quota((c * period as f64) as i64).done();
        applied.push(format!("cpu={c}"));
    }
    match b.build(hierarchies::auto()) {
        Ok(cg) => Ok(Some(Group { cg, applied })),
        Err(e) if iso.limits_mode == "best-effort" => {
            notes.push(format!("cgroup limits not applied: {e}"));
            Ok(None)
        }
        Err(e) => Err(format!(
            "cannot apply cgroup limits ({}): {e}; set `limits: {{ mode: best-effort }}` to run without them",
            applied.join(", ")
        )),
    }
}

impl Group {
    /// Move process `pid` into the group.
    pub fn add(&self, pid: i32) -> Result<(), String> {
        self.cg
            .add_task_by_tgid(CgroupPid::from(pid as u64))
            .map_err(|e| format!("add pid {pid} to the cgroup: {e}"))
    }
}
