//! The report of `enforce run`: what a plan applies, built from the plan and, once applied,
//! from what the steps did ([`Applied`]). It decides nothing.

use std::collections::BTreeMap;
use std::path::PathBuf;

use policy::ir::{RlimitIr, TimeOffsets};
use policy::vocab::{
    CapSet, FsAccess, LandlockMode, NamespaceSet, NetAccess, Resource, ScopeSet, Securebits,
};
use serde::Serialize;

use crate::command::Command;
use crate::error::{LaunchError, Step};
use crate::landlock::PathOutcome;
use crate::plan::Plan;
use crate::privilege::Skip;
use crate::sys::LandlockStatus;
use sha2::{Digest, Sha256};

/// What the steps did, for the report.
#[derive(Clone, Debug, Default)]
pub struct Applied {
    /// The steps run, in order.
    pub steps: Vec<Step>,
    /// What each Landlock path rule granted.
    pub landlock_paths: Vec<PathOutcome>,
    /// What `landlock_restrict_self` reported.
    pub landlock: Option<LandlockStatus>,
    /// What was read back before exec (`/proc/self/status` fields, securebits).
    pub verified: BTreeMap<String, String>,
    /// The private temporary directory made for the workload.
    pub tmpdir: Option<PathBuf>,
}

/// Whether the report is a plan or what was applied.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// `--dry-run`: nothing was applied.
    Planned,
    /// Applied and verified; about to exec.
    Applied,
}

/// One capability set.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct CapSetReport {
    /// As `/proc/self/status` shows it.
    pub mask: String,
    /// The capabilities.
    pub caps: CapSet,
}

/// Securebits.
#[derive(Clone, Debug, Serialize)]
pub struct SecurebitsReport {
    /// `PR_SET_SECUREBITS` value.
    pub value: String,
    /// The bits set.
    pub names: Securebits,
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

/// The kernel's Landlock ABI, or why there is none.
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum KernelAbi {
    /// The ABI.
    Abi(u32),
    /// Why Landlock is unavailable.
    Unavailable(String),
}

/// Where Landlock stands.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum LandlockState {
    /// Not applied yet (`--dry-run`).
    Planned,
    /// Every handled right is enforced.
    FullyEnforced,
    /// Some are not.
    PartiallyEnforced,
    /// None is (no Landlock on this kernel, best-effort).
    NotEnforced,
}

/// Landlock as applied.
#[derive(Clone, Debug, Serialize)]
pub struct LandlockReport {
    /// `enforce` or `best-effort`.
    pub mode: LandlockMode,
    /// The profile's minimum ABI.
    pub min_abi: u32,
    /// The kernel's ABI, or why there is none.
    pub kernel_abi: KernelAbi,
    /// ABI whose rights were used.
    pub abi_used: Option<u32>,
    /// What `landlock_restrict_self` reported (`planned` before it ran).
    pub status: LandlockState,
    /// Handled filesystem rights.
    pub handled_fs: FsAccess,
    /// Handled network rights.
    pub handled_net: NetAccess,
    /// Scopes.
    pub scoped: ScopeSet,
    /// Path rules.
    pub paths: Vec<PathOutcome>,
    /// Port rules: port → rights.
    pub ports: BTreeMap<u16, NetAccess>,
    /// Rights the profile asks for that this ABI cannot enforce.
    pub dropped: Vec<String>,
}

/// The cgroup of a container.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum CgroupReport {
    /// The profile sets no limit: no cgroup.
    None,
    /// Not made yet (`--dry-run`).
    Planned {
        /// The limits (`pids=16`, `memory=67108864`, `cpu=0.5`).
        limits: Vec<String>,
    },
    /// The limits are in force.
    Applied {
        /// The cgroup, relative to each hierarchy's root.
        path: String,
        /// The limits (`pids=16`, `memory=67108864`, `cpu=0.5`).
        limits: Vec<String>,
    },
    /// Limits mode `best-effort`, and the host could not apply them.
    NotApplied {
        /// The limits asked for.
        limits: Vec<String>,
        /// Why.
        why: String,
    },
}

/// The isolation tier as runtime-lite set it up.
#[derive(Clone, Debug, Serialize)]
pub struct IsolationReport {
    /// The namespaces created (the others are the host's).
    pub namespaces: NamespaceSet,
    /// Container uid 0's mapping (`inside host count`).
    pub uid_map: String,
    /// Container gid 0's mapping.
    pub gid_map: String,
    /// The host name set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// The clock offsets of the time namespace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_offsets: Option<TimeOffsets>,
    /// The root: a directory, or the host root.
    pub rootfs: String,
    /// The root is an idmapped mount: files on disk owned by `0` are the container root's.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub rootfs_idmapped: bool,
    /// The image the container runs, and whose user it runs as.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageReport>,
    /// The user-mode network stack of `network: private` (`pasta`), and the ports it
    /// publishes (`[ADDRESS:]HOST:CONTAINER/PROTO`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_mode_network: Option<String>,
    /// Ports published from the host.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub published: Vec<String>,
    /// How the container's writable layer over an image's root was made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub writable_layer: Option<WritableLayer>,
    /// Every mount made, in order (`TYPE SOURCE -> TARGET (OPTIONS)`).
    pub mounts: Vec<String>,
    /// Paths hidden from the workload.
    pub masked: Vec<String>,
    /// Paths made read-only.
    pub readonly: Vec<String>,
    /// The cgroup and its limits.
    pub cgroup: CgroupReport,
    /// What was optional and could not be done.
    pub notes: Vec<String>,
}

/// A container's image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ImageReport {
    /// Its id (`sha256:...`).
    pub id: String,
    /// As asked (`--image` or the profile's `isolation.image`).
    pub reference: String,
    /// The user the workload runs as (`uid:gid`), and who decided it.
    pub user: String,
    /// Who decided the user.
    pub user_from: UserFrom,
    /// Supplementary groups, from the image's `/etc/group`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<u32>,
    /// The image's `StopSignal` (`SIGNAME`): what `enforce stop` sends first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
}

/// Who decided the user a container of an image runs as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UserFrom {
    /// `--user`.
    CommandLine,
    /// The profile's `process.user` (over the image's `User`).
    Profile,
    /// The image's `User`.
    Image,
    /// Nobody: root, as Docker runs an image without a `User`.
    Default,
}

/// How a container's writable layer over an image's read-only root was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WritableLayer {
    /// An overlayfs: the image beneath, the container's changes in its layer.
    Overlay,
    /// A copy of the image's root in the layer (overlayfs could not be mounted).
    Copy,
}

/// The whole report.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The profile as given.
    pub profile: String,
    /// A plan, or what was applied.
    pub state: State,
    /// The executable and its arguments.
    pub command: Vec<String>,
    /// uid.
    pub uid: u32,
    /// gid (also the only group).
    pub gid: u32,
    /// The five capability sets.
    pub capabilities: BTreeMap<&'static str, CapSetReport>,
    /// Securebits value and names.
    pub securebits: SecurebitsReport,
    /// PR_SET_NO_NEW_PRIVS.
    pub no_new_privs: bool,
    /// Resource limits (`null` = unlimited).
    pub rlimits: BTreeMap<Resource, RlimitIr>,
    /// Seccomp (absent: no filter).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seccomp: Option<SeccompReport>,
    /// A second filter installed after it (a Palisade profile over an OCI config's section).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seccomp_stacked: Option<SeccompReport>,
    /// Landlock (`null`: off).
    pub landlock: Option<LandlockReport>,
    /// Namespaces, mounts and limits (containers only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub isolation: Option<IsolationReport>,
    /// The private temporary directory made for the workload (`process.tmpdir: private`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tmpdir: Option<String>,
    /// The path variables the policy uses and the values they were given (the paths above
    /// are expanded).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub variables: BTreeMap<String, String>,
    /// What is weaker than the profile asks, and why.
    pub degraded: Vec<String>,
    /// The steps run, in order.
    pub steps: Vec<Step>,
    /// The steps left out, and why (an unprivileged caller's bounding set).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<Skip>,
    /// What was read back before exec (`/proc/self/status` fields, securebits).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub verified: BTreeMap<String, String>,
}

/// The report file after a failure: which step failed and why.
#[derive(Clone, Debug, Serialize)]
pub struct FailedReport<'a> {
    /// The profile as given.
    pub profile: &'a str,
    /// Always `failed`.
    pub state: &'static str,
    /// The step that failed.
    pub step: Step,
    /// Why.
    pub error: String,
    /// `enforce`'s exit status.
    pub exit_code: i32,
}

impl<'a> FailedReport<'a> {
    /// The report of `e`.
    pub fn of(plan: &'a Plan, e: &LaunchError) -> FailedReport<'a> {
        FailedReport {
            profile: &plan.profile,
            state: "failed",
            step: e.step,
            error: e.failure.to_string(),
            exit_code: e.exit_code(),
        }
    }
}

impl Report {
    /// The plan, nothing applied. Fails only when the policy's seccomp tables, as the compile
    /// cache stored them, do not decode. A launcher builds it while still unconfined (it
    /// allocates and decodes) and [`Report::record`]s what the steps did.
    pub fn planned(plan: &Plan, command: Option<&Command>) -> Result<Report, LaunchError> {
        let verdicts = plan.seccomp_verdicts().map_err(|e| LaunchError::refused(Step::Prepare, e))?;
        let capabilities = plan
            .caps
            .sets()
            .into_iter()
            .map(|(n, set)| (n, CapSetReport { mask: format!("{:016x}", set.bits()), caps: set }))
            .collect();
        let landlock = plan.landlock.as_ref().map(|l| {
            let abi = l.ruleset.as_ref();
            let paths = abi.into_iter().flat_map(|a| &a.paths);
            LandlockReport {
                mode: l.mode,
                min_abi: l.min_abi,
                kernel_abi: match &l.kernel_abi {
                    Ok(k) => KernelAbi::Abi(*k),
                    Err(why) => KernelAbi::Unavailable(why.clone()),
                },
                abi_used: abi.map(|a| a.abi),
                status: if abi.is_some() { LandlockState::Planned } else { LandlockState::NotEnforced },
                handled_fs: abi.map_or(FsAccess::EMPTY, |a| a.handled_fs),
                handled_net: abi.map_or(NetAccess::EMPTY, |a| a.handled_net),
                scoped: abi.map_or(ScopeSet::EMPTY, |a| a.scoped),
                paths: paths
                    .map(|p| PathOutcome {
                        path: p.path.clone(),
                        allowed: p.allowed,
                        note: None,
                        resolves_to: crate::landlock::resolves_to(&p.path),
                    })
                    .collect(),
                ports: abi.map(|a| a.ports.iter().map(|p| (p.port, p.allowed)).collect()).unwrap_or_default(),
                dropped: abi.map(|a| a.dropped.clone()).unwrap_or_default(),
            }
        });
        Ok(Report {
            profile: plan.profile.clone(),
            state: State::Planned,
            command: command.map(Command::words).unwrap_or_default(),
            uid: plan.uid,
            gid: plan.gid,
            capabilities,
            securebits: SecurebitsReport {
                value: format!("{:#x}", plan.securebits.bits()),
                names: plan.securebits,
            },
            no_new_privs: plan.no_new_privs,
            rlimits: plan.rlimits.iter().copied().collect(),
            seccomp: plan.seccomp.as_ref().map(|s| SeccompReport {
                target: s.program.target.name().into(),
                arches: s.program.arches.iter().map(|a| a.name().to_string()).collect(),
                instructions: s.program.insns.len(),
                sha256: plan.seccomp_sha256(),
                verdicts,
                flags: vec!["TSYNC".into()],
            }),
            seccomp_stacked: plan.stacked.as_ref().map(|s| SeccompReport {
                target: s.program.target.name().into(),
                arches: s.program.arches.iter().map(|a| a.name().to_string()).collect(),
                instructions: s.program.insns.len(),
                sha256: Sha256::digest(s.program.to_bytes()).iter().map(|b| format!("{b:02x}")).collect(),
                verdicts: BTreeMap::new(),
                flags: vec!["TSYNC".into()],
            }),
            landlock,
            isolation: None,
            tmpdir: None,
            variables: plan.variables.clone(),
            degraded: plan.degraded.clone(),
            steps: Vec::new(),
            skipped: plan.skipped.clone(),
            verified: BTreeMap::new(),
        })
    }

    /// For a plan applied on this host: note each Landlock path that does not exist (its rule
    /// will grant nothing), as the run itself will.
    pub fn note_missing_paths(&mut self) {
        let Some(l) = self.landlock.as_mut().filter(|l| l.status == LandlockState::Planned) else { return };
        for p in &mut l.paths {
            if let Err(e) = std::fs::metadata(&p.path) {
                p.note = Some(format!("not granted: {}", policy::error::io_reason(&e)));
                p.allowed = FsAccess::EMPTY;
                self.degraded.push(format!("landlock {}: {}", p.path, p.note.as_deref().unwrap_or_default()));
            }
        }
    }

    /// What the steps did: the report of a plan becomes the report of what was applied.
    pub fn record(&mut self, applied: &Applied) {
        self.state = State::Applied;
        self.steps = applied.steps.clone();
        self.verified = applied.verified.clone();
        self.tmpdir = applied.tmpdir.as_ref().map(|d| d.display().to_string());
        let Some(l) = self.landlock.as_mut().filter(|l| l.status == LandlockState::Planned) else { return };
        l.paths = applied.landlock_paths.clone();
        let notes =
            l.paths.iter().filter_map(|p| p.note.as_ref().map(|n| format!("landlock {}: {n}", p.path)));
        self.degraded.extend(notes);
        l.status = match applied.landlock {
            Some(LandlockStatus::FullyEnforced) => LandlockState::FullyEnforced,
            Some(LandlockStatus::PartiallyEnforced) => LandlockState::PartiallyEnforced,
            Some(LandlockStatus::NotEnforced) | None => LandlockState::NotEnforced,
        };
    }

    /// As pretty JSON with a final newline.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }
}
