//! What will be applied: everything computed before the first step, so that applying is
//! only system calls and every input error is found before anything changes.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::path::{Path, PathBuf};

use policy::backend::landlock::{landlock_output, AbiPlan};
use policy::backend::seccomp::bpf::{self, Program};
use policy::caps::Cap;
use policy::ir::{ArchTable, RuleIr, SeccompIr};
use policy::syscalls::table;
use policy::{Arch, Policy};
use sha2::{Digest, Sha256};

use crate::cache::Prepared;
use crate::error::{LaunchError, Step};
use crate::seccomp::Filter;

/// A capability set as masks (bit = capability number).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CapMasks {
    /// Bounding set.
    pub bounding: u64,
    /// Permitted.
    pub permitted: u64,
    /// Effective.
    pub effective: u64,
    /// Inheritable.
    pub inheritable: u64,
    /// Ambient.
    pub ambient: u64,
}

fn mask(names: &[String]) -> u64 {
    names.iter().filter_map(|n| Cap::parse(n)).fold(0, |m, c| m | 1u64 << c.0)
}

/// How Landlock will be applied on this kernel.
#[derive(Clone, Debug)]
pub struct LandlockPlan {
    /// `enforce` or `best-effort` (`off` has no plan).
    pub mode: String,
    /// The profile's minimum ABI.
    pub min_abi: u32,
    /// The kernel's ABI (`Err`: Landlock unavailable, with why).
    pub kernel_abi: Result<u32, String>,
    /// The ruleset for the ABI used (`None` when the kernel has no Landlock).
    pub abi: Option<AbiPlan>,
}

/// A policy's seccomp rules and tables, kept apart from it: applying a policy needs only the
/// program compiled from them, and decoding them was most of the work of a cached start.
#[derive(Clone, Debug)]
pub enum SeccompDetail {
    /// Decoded.
    Decoded(Vec<RuleIr>, BTreeMap<String, ArchTable>),
    /// The JSON of the policy's whole `seccomp` section (as the compile cache stores it),
    /// decoded only when asked.
    Json(String),
}

impl SeccompDetail {
    /// Move `policy`'s seccomp rules and tables out (leaving them empty).
    pub fn take(policy: &mut Policy) -> SeccompDetail {
        let s = &mut policy.seccomp;
        SeccompDetail::Decoded(std::mem::take(&mut s.rules), std::mem::take(&mut s.tables))
    }

    /// A copy of `head` (the policy they were taken from) with them back in.
    pub fn joined(&self, head: &Policy) -> Result<Policy, String> {
        let mut p = head.clone();
        self.clone().restore(&mut p)?;
        Ok(p)
    }

    /// Put them back into `policy`, the one they were taken from.
    pub fn restore(self, policy: &mut Policy) -> Result<(), String> {
        let s = &mut policy.seccomp;
        match self {
            SeccompDetail::Decoded(rules, tables) => (s.rules, s.tables) = (rules, tables),
            SeccompDetail::Json(json) => {
                let full: SeccompIr =
                    serde_json::from_str(&json).map_err(|e| format!("stored seccomp section: {e}"))?;
                if (full.default_action, full.unknown_action, &full.arches)
                    != (s.default_action, s.unknown_action, &s.arches)
                {
                    return Err("stored seccomp section belongs to another policy".into());
                }
                (s.rules, s.tables) = (full.rules, full.tables);
            }
        }
        Ok(())
    }
}

/// Everything `enforce run` applies, resolved.
#[derive(Debug)]
pub struct Plan {
    /// Profile name.
    pub profile: String,
    /// The policy, without its seccomp rules and tables: they are in `seccomp_detail` (the
    /// program compiled from them is `seccomp`).
    pub policy: Policy,
    /// The policy's seccomp rules and tables ([`Plan::full_policy`] puts them back).
    pub seccomp_detail: SeccompDetail,
    /// Resolved executable.
    pub program: PathBuf,
    /// argv (argv[0] as given).
    pub argv: Vec<CString>,
    /// Capability masks.
    pub caps: CapMasks,
    /// The seccomp program for this machine.
    pub seccomp: Program,
    /// The checked filter.
    pub filter: Filter,
    /// Landlock (`None` when the profile turns it off).
    pub landlock: Option<LandlockPlan>,
    /// Things that will be weaker than the profile asks, and why.
    pub degraded: Vec<String>,
}

/// Options of `enforce run`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Treat Landlock as best-effort whatever the profile says.
    pub best_effort: bool,
}

/// This machine's arch.
pub fn host_arch() -> Option<Arch> {
    Arch::parse(std::env::consts::ARCH)
}

/// Find `cmd` like execvp: as a path when it has a `/`, else in `$PATH`.
pub fn resolve_command(cmd: &str) -> Result<PathBuf, LaunchError> {
    let not_found = || LaunchError::new(Step::ResolveCommand, 127, format!("{cmd}: command not found"));
    let check = |p: &Path| -> Result<PathBuf, LaunchError> {
        use std::os::unix::fs::PermissionsExt;
        let m = std::fs::metadata(p).map_err(|_| not_found())?;
        if m.is_dir() || m.permissions().mode() & 0o111 == 0 {
            return Err(LaunchError::new(
                Step::ResolveCommand,
                126,
                format!("{}: permission denied (not an executable file)", p.display()),
            ));
        }
        Ok(p.to_path_buf())
    };
    if cmd.contains('/') {
        return check(Path::new(cmd));
    }
    let path = std::env::var("PATH")
        .unwrap_or_else(|_| "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
    let mut denied = None;
    for dir in path.split(':').filter(|d| !d.is_empty()) {
        let candidate = Path::new(dir).join(cmd);
        if candidate.exists() {
            match check(&candidate) {
                Ok(p) => return Ok(p),
                Err(e) => denied = Some(e),
            }
        }
    }
    Err(denied.unwrap_or_else(not_found))
}

/// Number of syscalls of `arch` per verdict, counted per [`policy::Action`] and named once
/// at the end.
fn verdict_counts(
    default: policy::Action,
    tables: &BTreeMap<String, ArchTable>,
    arch: Arch,
) -> BTreeMap<String, usize> {
    let Some(t) = table::table(arch) else { return BTreeMap::new() };
    let at = tables.get(arch.name());
    // `None`: depends on arguments.
    let mut counts: Vec<(Option<policy::Action>, usize)> = Vec::new();
    for (_, name) in t.iter() {
        let key = match at.and_then(|at| at.syscalls.get(name)) {
            Some(sc) if !sc.conditional.is_empty() => None,
            Some(sc) => Some(sc.action),
            None => Some(default),
        };
        match counts.iter_mut().find(|(k, _)| *k == key) {
            Some((_, n)) => *n += 1,
            None => counts.push((key, 1)),
        }
    }
    let mut out = BTreeMap::new();
    for (key, n) in counts {
        let name = key.map_or_else(|| "conditional".to_string(), |a| a.to_string());
        *out.entry(name).or_default() += n;
    }
    out
}

/// Resolve `argv[0]` and convert the arguments.
fn command(argv: &[String]) -> Result<(PathBuf, Vec<CString>), LaunchError> {
    let cmd = argv.first().ok_or_else(|| LaunchError::new(Step::ResolveCommand, 125, "no command given"))?;
    let program = resolve_command(cmd)?;
    let argv = argv
        .iter()
        .map(|a| CString::new(a.as_bytes()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| LaunchError::new(Step::ResolveCommand, 125, "an argument contains a NUL byte"))?;
    Ok((program, argv))
}

impl Plan {
    /// Replace the command (resolved now: in a container, after its root is in place).
    pub fn set_command(&mut self, argv: &[String]) -> Result<(), LaunchError> {
        (self.program, self.argv) = command(argv)?;
        Ok(())
    }

    /// SHA-256 of the seccomp program's bytes (for the report: computed when asked).
    pub fn seccomp_sha256(&self) -> String {
        Sha256::digest(self.seccomp.to_bytes()).iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The whole policy: [`Plan::policy`] with its seccomp rules and tables back.
    pub fn full_policy(&self) -> Result<Policy, String> {
        self.seccomp_detail.joined(&self.policy)
    }

    /// Number of syscalls of the program's native arch per verdict (`conditional` when it
    /// depends on arguments); for the report: computed when asked.
    pub fn seccomp_verdicts(&self) -> Result<BTreeMap<String, usize>, String> {
        let target = self.seccomp.target;
        let default = self.policy.seccomp.default_action;
        match &self.seccomp_detail {
            SeccompDetail::Decoded(_, tables) => Ok(verdict_counts(default, tables, target)),
            SeccompDetail::Json(_) => {
                Ok(verdict_counts(default, &self.full_policy()?.seccomp.tables, target))
            }
        }
    }

    /// Resolve everything: the command, the seccomp program for this machine, the Landlock
    /// ruleset for this kernel's ABI. Nothing is applied.
    pub fn new(profile: &str, policy: Policy, argv: &[String], opts: Options) -> Result<Plan, LaunchError> {
        Plan::with_program(profile, policy, None, argv, opts)
    }

    /// [`Plan::new`], with this machine's seccomp program already compiled. It is used only
    /// when it is for the target this machine needs; otherwise, or when `None`, the program is
    /// compiled here.
    pub fn with_program(
        profile: &str,
        mut policy: Policy,
        compiled: Option<Program>,
        argv: &[String],
        opts: Options,
    ) -> Result<Plan, LaunchError> {
        let detail = SeccompDetail::take(&mut policy);
        Plan::from_parts(profile, policy, detail, compiled, argv, opts)
    }

    /// [`Plan::new`] for a compile (from the compile cache): its seccomp rules and tables stay
    /// as they are (encoded, on a cache hit) unless the program must be compiled here.
    pub fn from_prepared(
        profile: &str,
        prepared: Prepared,
        argv: &[String],
        opts: Options,
    ) -> Result<Plan, LaunchError> {
        let (policy, detail, program) = prepared.into_parts();
        Plan::from_parts(profile, policy, detail, program, argv, opts)
    }

    fn from_parts(
        profile: &str,
        policy: Policy,
        detail: SeccompDetail,
        compiled: Option<Program>,
        argv: &[String],
        opts: Options,
    ) -> Result<Plan, LaunchError> {
        let policy_err = |step, m: String| LaunchError::new(step, 125, m);
        let (program, argv) = command(argv)?;
        let host = host_arch().ok_or_else(|| {
            policy_err(Step::Seccomp, format!("unsupported machine arch {}", std::env::consts::ARCH))
        })?;
        // The target depends only on the accepted arches, which the policy keeps.
        let target = bpf::target_for(&policy, Some(host), Some(host))
            .map_err(|e| policy_err(Step::Seccomp, format!("the profile cannot run on this machine: {e}")))?;
        let (seccomp, detail) = match compiled {
            Some(p) if p.target == target => (p, detail),
            _ => {
                // Moved back, not copied (`joined` would copy them).
                let mut full = policy.clone();
                detail.restore(&mut full).map_err(|e| policy_err(Step::Seccomp, e))?;
                let p = bpf::compile(&full, target).map_err(|e| policy_err(Step::Seccomp, e.to_string()))?;
                (p, SeccompDetail::take(&mut full))
            }
        };
        let filter = Filter::from_program(&seccomp).map_err(|e| policy_err(Step::Seccomp, e.to_string()))?;
        let c = &policy.capabilities;
        let caps = CapMasks {
            bounding: mask(&c.bounding),
            permitted: mask(&c.permitted),
            effective: mask(&c.effective),
            inheritable: mask(&c.inheritable),
            ambient: mask(&c.ambient),
        };
        let mut degraded = Vec::new();
        let landlock = landlock_plan(&policy, opts, &mut degraded)?;
        Ok(Plan {
            profile: profile.to_string(),
            policy,
            seccomp_detail: detail,
            program,
            argv,
            caps,
            seccomp,
            filter,
            landlock,
            degraded,
        })
    }
}

fn landlock_plan(
    policy: &Policy,
    opts: Options,
    degraded: &mut Vec<String>,
) -> Result<Option<LandlockPlan>, LaunchError> {
    let l = &policy.landlock;
    if l.mode == "off" {
        return Ok(None);
    }
    let mode = if opts.best_effort { "best-effort".to_string() } else { l.mode.clone() };
    let kernel_abi = crate::sys::landlock::abi_version().map_err(|e| match e {
        libc::ENOSYS => "the kernel has no Landlock (ENOSYS)".to_string(),
        libc::EOPNOTSUPP => "Landlock is not enabled at boot (EOPNOTSUPP)".to_string(),
        e => format!("Landlock ABI query failed: {}", std::io::Error::from_raw_os_error(e)),
    });
    let out = landlock_output(policy);
    let abi = match &kernel_abi {
        Ok(k) => {
            let used = (*k).min(out.abis.len() as u32);
            if mode == "enforce" && *k < l.min_abi {
                return Err(LaunchError::new(
                    Step::Landlock,
                    125,
                    format!(
                        "this kernel's Landlock ABI is {k}, below the profile's min_abi {}; refusing to run (use --best-effort to run with what this kernel enforces)",
                        l.min_abi
                    ),
                ));
            }
            let plan = out.abis.get(used as usize - 1).cloned();
            if let Some(p) = &plan {
                degraded.extend(p.dropped.iter().map(|d| format!("landlock ABI {used} cannot enforce {d}")));
            }
            plan
        }
        Err(why) => {
            if mode == "enforce" {
                return Err(LaunchError::new(
                    Step::Landlock,
                    125,
                    format!("{why}; the profile requires Landlock (mode enforce)"),
                ));
            }
            degraded.push(format!("landlock not enforced: {why}"));
            None
        }
    };
    Ok(Some(LandlockPlan { mode, min_abi: l.min_abi, kernel_abi, abi }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::CompileCache;
    use policy::CompileOptions;

    /// A plan made from a cache hit (seccomp section still encoded) reports what a plan made
    /// from a fresh compile does, and gives the same whole policy back.
    #[test]
    fn a_plan_from_a_cache_hit_reports_what_a_fresh_one_does() {
        let dir = std::env::temp_dir().join(format!("palisade-plan-cache-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let cache = CompileCache::open(&dir).unwrap();
        let opts = CompileOptions { tables_for: host_arch(), ..Default::default() };
        let argv = ["/bin/true".to_string()];
        for spec in ["builtin:docker-default", "builtin:web", "builtin:strict"] {
            let (fresh, _) = cache.compile(spec, &opts).unwrap();
            let (hit, o) = cache.compile(spec, &opts).unwrap();
            assert_eq!(o, crate::cache::Outcome::Hit);
            let whole = fresh.clone().into_compiled().unwrap().policy;
            let a = Plan::from_prepared(spec, fresh, &argv, Options::default()).unwrap();
            let b = Plan::from_prepared(spec, hit, &argv, Options::default()).unwrap();
            assert!(matches!(a.seccomp_detail, SeccompDetail::Decoded(..)));
            assert!(matches!(b.seccomp_detail, SeccompDetail::Json(_)));
            let verdicts = a.seccomp_verdicts().unwrap();
            assert_eq!(verdicts, b.seccomp_verdicts().unwrap(), "{spec}");
            assert_eq!(
                verdicts.values().sum::<usize>(),
                table::table(a.seccomp.target).unwrap().iter().count()
            );
            assert_eq!(a.seccomp.insns, b.seccomp.insns);
            let json = |p: &Policy| serde_json::to_string(p).unwrap();
            assert_eq!(json(&a.full_policy().unwrap()), json(&whole), "{spec}");
            assert_eq!(json(&b.full_policy().unwrap()), json(&whole), "{spec}");
            // The plan's own policy holds no seccomp rules or tables: only the detail does.
            assert!(b.policy.seccomp.rules.is_empty() && b.policy.seccomp.tables.is_empty());
            // Without a program (or with one for another target) the plan compiles its own
            // from the detail, and it is the same.
            let c = Plan::with_program(spec, whole, None, &argv, Options::default()).unwrap();
            assert_eq!(c.seccomp.insns, b.seccomp.insns);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
