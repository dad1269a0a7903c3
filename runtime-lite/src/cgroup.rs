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

/// A group: one this process created is removed on drop (unless [`Group::keep`]); one it
/// [`load`]ed only when [`Group::remove`] says so.
pub struct Group {
    cg: Cgroup,
    owned: bool,
}

impl Drop for Group {
    fn drop(&mut self) {
        if self.owned {
            let _ = self.cg.delete();
        }
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

/// The group of the container this launcher (this process) starts: `palisade/NAME.PID.START`,
/// NAME the container's (`run` without one), PID and START this process's id and start time.
/// Never a name alone, which another container may reuse; the owner's identity lets a later
/// launcher remove a group whose launcher was killed ([`sweep`]).
pub fn group_name(container: Option<&str>) -> String {
    let pid = std::process::id();
    let start = crate::state::start_time(pid as i32).unwrap_or(0);
    format!("{}.{pid}.{start}", container.unwrap_or("run"))
}

/// Whether the launcher that made group `name` (see [`group_name`]) is gone.
fn orphaned(name: &str) -> bool {
    let mut fields = name.rsplitn(3, '.');
    let (Some(start), Some(pid), Some(_)) = (fields.next(), fields.next(), fields.next()) else {
        return false;
    };
    match (pid.parse::<i32>(), start.parse::<u64>()) {
        (Ok(pid), Ok(start)) => crate::state::start_time(pid) != Some(start),
        _ => false,
    }
}

/// Remove the empty groups under `palisade/` whose launcher is gone (it was killed before it
/// could remove them). A group with a process in it is left alone.
pub fn sweep() {
    let parent = Cgroup::load(hierarchies::auto(), "palisade");
    let mut names = std::collections::BTreeSet::new();
    for sub in parent.subsystems() {
        if let Ok(dir) = std::fs::read_dir(sub.to_controller().path()) {
            names.extend(dir.filter_map(|e| e.ok()?.file_name().into_string().ok()));
        }
    }
    for name in names.into_iter().filter(|n| orphaned(n)) {
        let cg = Cgroup::load(hierarchies::auto(), format!("palisade/{name}"));
        if cg.procs().is_empty() {
            let _ = cg.delete();
        }
    }
}

/// Create `palisade/NAME` ([`group_name`]) with the profile's limits, and say what was applied.
/// No group when none are asked for, or when they cannot be applied and the limits mode is
/// `best-effort`.
pub fn create(name: &str, iso: &IsolationIr) -> Result<(Option<Group>, CgroupReport), CgroupError> {
    if !iso.limited() {
        return Ok((None, CgroupReport::None));
    }
    sweep();
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
        Ok(cg) => Ok((Some(Group { cg, owned: true }), CgroupReport::Applied { path, limits })),
        Err(e) if iso.limits_mode == LimitsMode::BestEffort => {
            Ok((None, CgroupReport::NotApplied { limits, why: e.to_string() }))
        }
        Err(e) => Err(CgroupError::Create { limits, why: e.to_string() }),
    }
}

/// Create the group at `path` (under the hierarchies' roots) with `res` applied: an OCI
/// container's (`cgroupsPath`, `linux.resources`).
pub fn create_at(path: &str, res: &cgroups_rs::fs::Resources) -> Result<Group, String> {
    let existing = Cgroup::load(hierarchies::auto(), path);
    if existing.exists() && !existing.procs().is_empty() {
        // Another container's: never joined, never removed.
        return Err(format!("cgroup {path} is in use by another container"));
    }
    let cg = Cgroup::new(hierarchies::auto(), path).map_err(|e| format!("create cgroup {path}: {e:?}"))?;
    let group = Group { cg, owned: true };
    group.apply(res)?;
    Ok(group)
}

/// The existing group at `path`, left as it is when dropped. Never the root group: an empty
/// path (a state written without one) is no group, not every process of the machine.
pub fn load(path: &str) -> Option<Group> {
    if path.trim_matches('/').is_empty() {
        return None;
    }
    let cg = Cgroup::load(hierarchies::auto(), path);
    cg.exists().then_some(Group { cg, owned: false })
}

impl Group {
    /// Apply `res` to it.
    /// On a unified (v2) host, which has no devices controller, the device rules become an
    /// eBPF program attached to the group ([`crate::devices`]).
    /// A limit whose controller the group lacks is refused ([`crate::cgroup_check`]).
    pub fn apply(&self, res: &cgroups_rs::fs::Resources) -> Result<(), String> {
        let at = |e: String| format!("cgroup {}: {e}", self.cg.path());
        let v2 = hierarchies::is_cgroup2_unified_mode();
        crate::cgroup_check::controllers(res, self.cg.subsystems(), v2).map_err(at)?;
        let ours = crate::cgroup_check::for_cgroups_rs(res);
        self.cg.apply(&ours).map_err(|e| format!("cgroup {}: {e:?}", self.cg.path()))?;
        crate::cgroup_check::rest(res, self.cg.subsystems()).map_err(at)?;
        if v2 && !res.devices.devices.is_empty() {
            let dir = hierarchies::auto().root().join(self.cg.path().trim_start_matches('/'));
            crate::devices::attach(&dir, &res.devices.devices)
                .map_err(|e| format!("cgroup {}: devices: {e}", self.cg.path()))?;
        }
        Ok(())
    }

    /// Keep the group when this value goes (it outlives this process).
    pub fn keep(mut self) {
        self.owned = false;
    }

    /// Host pids of the processes in it.
    pub fn pids(&self) -> Vec<i32> {
        // cgroups-rs reads a line it cannot parse as pid 0: never a pid to signal (kill(0, ..)
        // is this process's whole group).
        self.cg.procs().into_iter().filter_map(|p| i32::try_from(p.pid).ok()).filter(|p| *p > 0).collect()
    }

    /// Freeze (`true`) or thaw every process in it.
    pub fn freeze(&self, on: bool) -> Result<(), String> {
        let f: &cgroups_rs::fs::freezer::FreezerController =
            self.cg.controller_of().ok_or_else(|| "no freezer controller".to_string())?;
        let r = if on { f.freeze() } else { f.thaw() };
        r.map_err(|e| format!("freezer: {e}"))
    }

    /// Whether it is frozen.
    pub fn frozen(&self) -> bool {
        self.cg.subsystems().iter().any(|s| {
            let file = match s {
                cgroups_rs::fs::Subsystem::Freezer(_) => "freezer.state",
                _ => return false,
            };
            std::fs::read_to_string(s.to_controller().path().join(file)).is_ok_and(|t| t.trim() == "FROZEN")
        })
    }

    /// Memory usage and limit, pids current and limit, CPU time (ns), where the controllers
    /// tell.
    pub fn stats(&self) -> serde_json::Value {
        let mut out = serde_json::Map::new();
        if let Some(m) = self.cg.controller_of::<cgroups_rs::fs::memory::MemController>() {
            let s = m.memory_stat();
            out.insert("memory".into(), serde_json::json!({"usage": {"usage": s.usage_in_bytes, "limit": s.limit_in_bytes, "max": s.max_usage_in_bytes}}));
        }
        if let Some(p) = self.cg.controller_of::<cgroups_rs::fs::pid::PidController>() {
            let limit = match p.get_pid_max() {
                Ok(MaxValue::Value(v)) => v as u64,
                _ => 0,
            };
            out.insert(
                "pids".into(),
                serde_json::json!({"current": p.get_pid_current().unwrap_or(0), "limit": limit}),
            );
        }
        if let Some(c) = self.cg.controller_of::<cgroups_rs::fs::cpuacct::CpuAcctController>() {
            out.insert("cpu".into(), serde_json::json!({"usage": {"total": c.cpuacct().usage}}));
        }
        serde_json::Value::Object(out)
    }

    /// Remove it (its processes must be gone).
    pub fn remove(mut self) -> Result<(), String> {
        self.owned = false;
        self.cg.delete().map_err(|e| format!("remove cgroup {}: {e}", self.cg.path()))
    }

    /// Its path under the hierarchies' roots (`palisade/...`).
    pub fn path(&self) -> &str {
        self.cg.path()
    }

    /// Move process `pid` into the group.
    pub fn add(&self, pid: i32) -> Result<(), CgroupError> {
        self.cg
            .add_task_by_tgid(CgroupPid::from(pid as u64))
            .map_err(|e| CgroupError::Join { pid, why: e.to_string() })
    }
}

/// Move this process into the existing group at `path` (`enforce exec` joins its container's,
/// as `runc exec` does). Only a group under `palisade/` is joined.
pub fn join(path: &str) -> Result<(), CgroupError> {
    let pid = std::process::id() as i32;
    let why = |w: &str| CgroupError::Join { pid, why: format!("{path}: {w}") };
    let name = path.strip_prefix("palisade/").ok_or_else(|| why("not a group of palisade"))?;
    if name.is_empty() || name.starts_with('.') || name.contains('/') {
        return Err(why("not a container's group"));
    }
    let cg = Cgroup::load(hierarchies::auto(), path);
    if !cg.exists() {
        return Err(why("it is gone"));
    }
    cg.add_task_by_tgid(CgroupPid::from(pid as u64)).map_err(|e| why(&e.to_string()))
}

#[cfg(test)]
mod load_tests {
    /// A state without a cgroup path must not turn into the root group: signalling "its
    /// members" would reach every process of the machine.
    #[test]
    fn an_empty_path_is_no_group() {
        for p in ["", "/", "//"] {
            assert!(super::load(p).is_none(), "{p:?}");
        }
    }
}
