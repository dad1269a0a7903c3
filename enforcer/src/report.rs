//! The report of `enforce run`: what was (or, with `--dry-run`, would be) applied.

use std::collections::BTreeMap;

use policy::caps::Cap;
use serde::Serialize;

use crate::error::{LaunchError, Step};
use crate::landlock::PathOutcome;
use crate::plan::Plan;

/// One capability set.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct CapSetReport {
    /// As `/proc/self/status` shows it.
    pub mask: String,
    /// `CAP_*` names.
    pub caps: Vec<String>,
}

fn set(mask: u64) -> CapSetReport {
    let caps = (0..64u8).filter(|i| mask & (1 << i) != 0).map(|i| Cap(i).name()).collect();
    CapSetReport { mask: format!("{mask:016x}"), caps }
}

/// Seccomp as applied.
#[derive(Clone, Debug, Serialize)]
pub struct SeccompReport {
    /// Kernel arch of the program.
    pub target: String,
    /// Arches it accepts.
    pub arches: Vec<String>,
    /// Instructions.
    pub instructions: usize,
    /// SHA-256 of the `struct sock_filter` bytes.
    pub sha256: String,
    /// Syscalls of the native arch per verdict.
    pub verdicts: BTreeMap<String, usize>,
    /// Flags passed to seccomp(2).
    pub flags: Vec<String>,
}

/// Landlock as applied.
#[derive(Clone, Debug, Serialize)]
pub struct LandlockReport {
    /// `enforce` or `best-effort`.
    pub mode: String,
    /// The profile's minimum ABI.
    pub min_abi: u32,
    /// The kernel's ABI, or why there is none.
    pub kernel_abi: serde_json::Value,
    /// ABI whose rights were used.
    pub abi_used: Option<u32>,
    /// What `landlock_restrict_self` reported (`planned` before it ran).
    pub status: String,
    /// Handled filesystem rights.
    pub handled_fs: Vec<String>,
    /// Handled network rights.
    pub handled_net: Vec<String>,
    /// Scopes.
    pub scoped: Vec<String>,
    /// Path rules.
    pub paths: Vec<PathOutcome>,
    /// Port rules: port → rights.
    pub ports: BTreeMap<u16, Vec<String>>,
    /// Rights the profile asks for that this ABI cannot enforce.
    pub dropped: Vec<String>,
}

/// The whole report.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// Profile name.
    pub profile: String,
    /// `applied` (verified, about to exec) or `planned` (`--dry-run`).
    pub state: String,
    /// The executable and its arguments.
    pub command: Vec<String>,
    /// uid.
    pub uid: u32,
    /// gid (also the only group).
    pub gid: u32,
    /// The five capability sets.
    pub capabilities: BTreeMap<String, CapSetReport>,
    /// Securebits value and names.
    pub securebits: serde_json::Value,
    /// PR_SET_NO_NEW_PRIVS.
    pub no_new_privs: bool,
    /// Resource limits (`null` = unlimited).
    pub rlimits: serde_json::Value,
    /// Seccomp.
    pub seccomp: SeccompReport,
    /// Landlock (`null`: off).
    pub landlock: Option<LandlockReport>,
    /// What is weaker than the profile asks, and why.
    pub degraded: Vec<String>,
    /// The steps run, in order.
    pub steps: Vec<String>,
    /// What was read back before exec (`/proc/self/status` fields, securebits).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub verified: BTreeMap<String, String>,
}

impl Report {
    /// The plan as a report (nothing applied yet). Fails only when the plan's seccomp tables,
    /// as the compile cache stored them, do not decode.
    pub fn planned(plan: &Plan) -> Result<Report, LaunchError> {
        Report::of_plan(plan, true)
    }

    /// [`Report::planned`]; without `seccomp_summary` the program's digest and verdict counts
    /// are left empty (for a report that is never shown: they cost more than the rest).
    pub(crate) fn of_plan(plan: &Plan, seccomp_summary: bool) -> Result<Report, LaunchError> {
        let verdicts = match seccomp_summary {
            true => plan.seccomp_verdicts().map_err(|e| LaunchError::new(Step::Prepare, 125, e))?,
            false => BTreeMap::new(),
        };
        let p = &plan.policy;
        let c = plan.caps;
        let capabilities = [
            ("bounding", c.bounding),
            ("permitted", c.permitted),
            ("effective", c.effective),
            ("inheritable", c.inheritable),
            ("ambient", c.ambient),
        ]
        .into_iter()
        .map(|(n, m)| (n.to_string(), set(m)))
        .collect();
        let landlock = plan.landlock.as_ref().map(|l| {
            let abi = l.abi.as_ref();
            LandlockReport {
                mode: l.mode.clone(),
                min_abi: l.min_abi,
                kernel_abi: match &l.kernel_abi {
                    Ok(k) => serde_json::json!(k),
                    Err(why) => serde_json::json!(why),
                },
                abi_used: abi.map(|a| a.abi),
                status: if abi.is_some() { "planned".into() } else { "not-enforced".into() },
                handled_fs: abi.map(|a| a.handled_fs.clone()).unwrap_or_default(),
                handled_net: abi.map(|a| a.handled_net.clone()).unwrap_or_default(),
                scoped: abi.map(|a| a.scoped.clone()).unwrap_or_default(),
                paths: abi
                    .map(|a| {
                        a.paths
                            .iter()
                            .map(|p| PathOutcome {
                                path: p.path.clone(),
                                allowed: p.allowed.clone(),
                                note: None,
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                ports: abi
                    .map(|a| a.ports.iter().map(|p| (p.port, p.allowed.clone())).collect())
                    .unwrap_or_default(),
                dropped: abi.map(|a| a.dropped.clone()).unwrap_or_default(),
            }
        });
        Ok(Report {
            profile: plan.profile.clone(),
            state: "planned".into(),
            command: std::iter::once(plan.program.display().to_string())
                .chain(plan.argv.iter().skip(1).map(|a| a.to_string_lossy().into_owned()))
                .collect(),
            uid: p.process.uid,
            gid: p.process.gid,
            capabilities,
            securebits: serde_json::json!({
                "value": format!("{:#x}", p.process.securebits.bits),
                "names": p.process.securebits.names,
            }),
            no_new_privs: p.process.no_new_privs || plan.landlock.as_ref().is_some_and(|l| l.abi.is_some()),
            rlimits: serde_json::to_value(&p.process.rlimits).unwrap_or_default(),
            seccomp: SeccompReport {
                target: plan.seccomp.target.name().into(),
                arches: plan.seccomp.arches.iter().map(|a| a.name().to_string()).collect(),
                instructions: plan.seccomp.insns.len(),
                sha256: if seccomp_summary { plan.seccomp_sha256() } else { String::new() },
                verdicts,
                flags: vec!["TSYNC".into()],
            },
            landlock,
            degraded: plan.degraded.clone(),
            steps: vec![],
            verified: BTreeMap::new(),
        })
    }

    /// As pretty JSON with a final newline.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }
}
