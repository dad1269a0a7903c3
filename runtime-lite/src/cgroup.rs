//! cgroup limits (memory, pids, cpu) through cgroups-rs: v2 where the host is unified, v1
//! controllers otherwise. The launcher creates the group, puts PID 1 in it before PID 1
//! creates its cgroup namespace (so that namespace is rooted there), and removes it at the end.

use cgroups_rs::fs::cgroup_builder::CgroupBuilder;
use cgroups_rs::fs::{hierarchies, Cgroup, MaxValue};
use cgroups_rs::CgroupPid;
use enforcer::report::CgroupReport;
use policy::ir::IsolationIr;
use policy::vocab::LimitsMode;

/// Why the limits could not be applied.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CgroupError {
    /// The group could not be made with its limits (limits mode `enforce`).
    #[error("cannot apply cgroup limits ({}): {why}; set `limits: {{ mode: best-effort }}` to run without them", .limits.join(", "))]
    Create {
        /// The limits asked for.
        limits: Vec<String>,
        /// Why.
        why: String,
    },
    /// PID 1 could not join it.
    #[error("add pid {pid} to the cgroup: {why}")]
    Join {
        /// PID 1's host pid.
        pid: i32,
        /// Why.
        why: String,
    },
}

/// A created group; removed on drop.
pub struct Group {
    cg: Cgroup,
}

impl Drop for Group {
    fn drop(&mut self) {
        let _ = self.cg.delete();
    }
}

/// The limits of `iso`, as the report writes them.
pub fn limits(iso: &IsolationIr) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(m) = iso.memory {
        out.push(format!("memory={m}"));
    }
    if let Some(p) = iso.pids {
        out.push(format!("pids={p}"));
    }
    if let Some(c) = iso.cpu {
        out.push(format!("cpu={c}"));
    }
    out
}

/// Create `palisade/NAME` with the profile's limits, and say what was applied. No group when
/// none are asked for, or when they cannot be applied and the limits mode is `best-effort`.
pub fn create(name: &str, iso: &IsolationIr) -> Result<(Option<Group>, CgroupReport), CgroupError> {
    if !iso.limited() {
        return Ok((None, CgroupReport::None));
    }
    let path = format!("palisade/{name}");
    let mut b = CgroupBuilder::new(&path);
    if let Some(m) = iso.memory {
        b = b.memory().memory_hard_limit(m as i64).done();
    }
    if let Some(p) = iso.pids {
        b = b.pid().maximum_number_of_processes(MaxValue::Value(p as i64)).done();
    }
    if let Some(c) = iso.cpu {
        let period = 100_000u64;
        b = b.cpu().period(period).quota((c * period as f64) as i64).done();
    }
    let limits = limits(iso);
    match b.build(hierarchies::auto()) {
        Ok(cg) => Ok((Some(Group { cg }), CgroupReport::Applied { path, limits })),
        Err(e) if iso.limits_mode == LimitsMode::BestEffort => {
            Ok((None, CgroupReport::NotApplied { limits, why: e.to_string() }))
        }
        Err(e) => Err(CgroupError::Create { limits, why: e.to_string() }),
    }
}

impl Group {
    /// Move process `pid` into the group.
    pub fn add(&self, pid: i32) -> Result<(), CgroupError> {
        self.cg
            .add_task_by_tgid(CgroupPid::from(pid as u64))
            .map_err(|e| CgroupError::Join { pid, why: e.to_string() })
    }
}
