//! What will be applied: every decision made before the first step, so that applying is only
//! system calls and every input error is found before anything changes.
//!
//! [`Plan::new`] is the one place that decides: the ids, the capability sets, securebits,
//! whether no_new_privs is set, the limits, this machine's seccomp program, and the Landlock
//! ruleset this kernel's ABI can enforce (or why it refuses to run).

use std::collections::BTreeMap;

use policy::backend::landlock::{abi_plan, AbiPlan};
use policy::backend::seccomp::bpf::Program;
use policy::ir::{CapsIr, RlimitIr};
use policy::syscalls::launcher::{self, AFTER_FILTER};
use policy::syscalls::table;
use policy::vocab::{LandlockMode, Resource, Securebits};
use policy::{Action, Arch};
use sha2::{Digest, Sha256};

use crate::compiled::CompiledPolicy;
use crate::error::{LaunchError, Step};
use crate::privilege::{self, Caller, Skip};
use crate::seccomp::Filter;
use crate::vars::PathValues;

/// What the machine offers, detected once before planning.
#[derive(Clone, Debug)]
pub struct Features {
    /// This machine's arch (`None`: one the syscall tables do not know).
    pub arch: Option<Arch>,
    /// The kernel's Landlock ABI, or why there is none.
    pub landlock_abi: Result<u32, String>,
    /// The process that will apply the plan.
    pub caller: Caller,
    /// Where path variables (`${CWD}`...) get their values.
    pub vars: PathValues,
}

impl Features {
    /// The running machine's, and this process's.
    pub fn detect() -> Features {
        Features {
            arch: host_arch(),
            landlock_abi: crate::sys::landlock_abi(),
            caller: crate::sys::caller(),
            vars: PathValues::Process,
        }
    }

    /// As the workload of a container sees them: it is root of its own user namespace, with
    /// every capability there (whoever started it, a normal user included), within the
    /// bounding set and the hard limits it inherits.
    pub fn in_container(self) -> Features {
        let caller = Caller {
            bounding: self.caller.bounding,
            securebits: self.caller.securebits,
            hard_limits: self.caller.hard_limits.clone(),
            ..Caller::root()
        };
        Features { caller, ..self }
    }
}

/// This machine's arch.
pub fn host_arch() -> Option<Arch> {
    Arch::parse(std::env::consts::ARCH)
}

/// Options of `enforce run`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Treat Landlock as best-effort whatever the profile says.
    pub best_effort: bool,
}

/// How Landlock will be applied on this kernel.
#[derive(Clone, Debug)]
pub struct LandlockPlan {
    /// `enforce` or `best-effort` (`off` has no plan).
    pub mode: LandlockMode,
    /// The profile's minimum ABI.
    pub min_abi: u32,
    /// The kernel's ABI (`Err`: Landlock unavailable, with why).
    pub kernel_abi: Result<u32, String>,
    /// The ruleset for the ABI used (`None` when the kernel has no Landlock).
    pub ruleset: Option<AbiPlan>,
}

/// The seccomp filter for this machine.
#[derive(Clone, Debug)]
pub struct SeccompPlan {
    /// The program.
    pub program: Program,
    /// The program, checked and in the kernel's layout.
    pub filter: Filter,
}

/// Everything a launcher applies, resolved.
#[derive(Debug)]
pub struct Plan {
    /// The profile as given (for reports).
    pub profile: String,
    /// The compiled policy it was made from.
    pub compiled: CompiledPolicy,
    /// User id.
    pub uid: u32,
    /// Group id (also the only group).
    pub gid: u32,
    /// Securebits to set.
    pub securebits: Securebits,
    /// Whether no_new_privs is set: the profile asks for it, or Landlock needs it.
    pub no_new_privs: bool,
    /// The capability sets.
    pub caps: CapsIr,
    /// Resource limits, in name order.
    pub rlimits: Vec<(Resource, RlimitIr)>,
    /// Seccomp (`None`: no filter, for an OCI config without `linux.seccomp`).
    pub seccomp: Option<SeccompPlan>,
    /// A second filter installed after `seccomp` (a Palisade profile over an OCI config's
    /// section: the kernel runs both, and the stricter verdict wins).
    pub stacked: Option<SeccompPlan>,
    /// `enforce record`: the filter a process that hands its listener to the recorder installs
    /// instead of `seccomp` and `stacked` (a container's PID-1 shim, which hands nothing,
    /// still installs those).
    pub recording: Option<SeccompPlan>,
    /// Supplementary groups (empty: none).
    pub groups: Vec<u32>,
    /// Install the filter before the bounding set and the user switch, while CAP_SYS_ADMIN is
    /// still held: an OCI config without `noNewPrivileges` (as runc does). Every later step's
    /// calls must then pass the filter.
    pub seccomp_early: bool,
    /// Landlock (`None` when the profile turns it off).
    pub landlock: Option<LandlockPlan>,
    /// Steps left out because they have nothing to do (an unprivileged caller's bounding set).
    pub skipped: Vec<Skip>,
    /// Things that will be weaker than the profile asks, and why.
    pub degraded: Vec<String>,
    /// The path variables the policy uses, with the values they were given.
    pub variables: BTreeMap<String, String>,
}

impl Plan {
    /// Decide everything: nothing is applied, and every error is found here.
    pub fn new(
        profile: &str,
        mut compiled: CompiledPolicy,
        features: &Features,
        opts: Options,
    ) -> Result<Plan, LaunchError> {
        let refuse = |step, m: String| LaunchError::refused(step, m);
        let variables = compiled
            .expand_paths(|v| features.vars.value(v, features.caller.uid))
            .map_err(|e| refuse(Step::Prepare, format!("{e}; nothing was run")))?;
        let host = features.arch.ok_or_else(|| {
            refuse(Step::Seccomp, format!("unsupported machine arch {}", std::env::consts::ARCH))
        })?;
        let target = compiled
            .target_for(host)
            .map_err(|e| refuse(Step::Seccomp, format!("the profile cannot run on this machine: {e}")))?;
        let program = compiled.program_for(target).map_err(|e| refuse(Step::Seccomp, e))?;
        let filter = Filter::from_program(&program).map_err(|e| refuse(Step::Seccomp, e.to_string()))?;
        startable(&program).map_err(|m| refuse(Step::Seccomp, m))?;
        let mut degraded = Vec::new();
        let landlock = landlock_plan(&compiled, &features.landlock_abi, opts, &mut degraded)?;
        let p = compiled.process();
        let (uid, gid) = p.user.ids((features.caller.uid, features.caller.gid));
        if p.non_root && uid == 0 {
            return Err(refuse(
                Step::SwitchUser,
                format!(
                    "the profile requires a non-root user (process.run_as_non_root), and the workload would run as {uid}:{gid}; nothing was run (give a user: --user UID[:GID], the profile's process.user, or an image whose User is not root)"
                ),
            ));
        }
        // Landlock can only restrict a process that cannot gain privileges.
        let no_new_privs = p.no_new_privs || landlock.as_ref().is_some_and(|l| l.ruleset.is_some());
        let mut caps = *compiled.capabilities();
        let mut skipped = Vec::new();
        if features.caller.unprivileged() {
            skipped = privilege::unprivileged(&compiled, &features.caller, no_new_privs, &mut degraded)?;
            // What stays in force: the caller's own bounding set.
            caps.bounding = features.caller.bounding;
        }
        Ok(Plan {
            profile: profile.to_string(),
            uid,
            gid,
            securebits: p.securebits.bits,
            no_new_privs,
            caps,
            rlimits: p
                .rlimits
                .iter()
                .map(|(r, l)| (*r, l.applied(features.caller.hard_limits.get(r).copied().flatten())))
                .collect(),
            seccomp: Some(SeccompPlan { program, filter }),
            stacked: None,
            recording: None,
            groups: Vec::new(),
            seccomp_early: false,
            landlock,
            skipped,
            degraded,
            variables,
            compiled,
        })
    }

    /// The securebits as `PR_SET_SECUREBITS` takes them.
    pub fn raw_securebits(&self) -> u32 {
        // Eight named bits: always fits.
        u32::try_from(self.securebits.bits()).unwrap_or(u32::MAX)
    }

    /// SHA-256 of the seccomp program's bytes (for the report: computed when asked).
    pub fn seccomp_sha256(&self) -> String {
        let bytes = self.seccomp.as_ref().map(|s| s.program.to_bytes()).unwrap_or_default();
        Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Number of syscalls of the program's native arch per verdict (`conditional` when it
    /// depends on arguments); for the report: computed when asked.
    pub fn seccomp_verdicts(&self) -> Result<BTreeMap<String, usize>, String> {
        let Some(seccomp) = &self.seccomp else { return Ok(BTreeMap::new()) };
        let target = seccomp.program.target;
        let Some(t) = table::table(target) else { return Ok(BTreeMap::new()) };
        let tables = self.compiled.tables()?;
        let at = tables.get(target.name());
        // What no rule decides: the default, or ENOSYS above an `unknown: enosys-after` cut-off.
        let undecided = |nr: u32| self.compiled.head().seccomp.undecided(target, nr, true).0;
        // `None`: depends on arguments. Counted per verdict, named once at the end.
        let mut counts: Vec<(Option<Action>, usize)> = Vec::new();
        for (nr, name) in t.iter() {
            let key = match at.and_then(|at| at.syscalls.get(name)) {
                Some(sc) if !sc.conditional.is_empty() => None,
                Some(sc) => Some(sc.action),
                None => Some(undecided(nr)),
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
        Ok(out)
    }
}

/// The filter lets the launcher finish and the workload's exec run: otherwise nothing could
/// start, and the user would see a bare `Operation not permitted` from a half-made process.
fn startable(program: &Program) -> Result<(), String> {
    let denied: Vec<String> = AFTER_FILTER
        .iter()
        .filter_map(|(name, args)| {
            let verdict = program.simulate_name(program.target, name, *args)?.action;
            (!verdict.permits()).then(|| format!("{} ({verdict})", launcher::shown(name)))
        })
        .collect();
    if denied.is_empty() {
        return Ok(());
    }
    Err(format!(
        "the filter denies {}, which starting any workload takes; nothing was run (allow them; `policyc lint` reports this as PAL015)",
        denied.join(", ")
    ))
}

fn landlock_plan(
    compiled: &CompiledPolicy,
    kernel_abi: &Result<u32, String>,
    opts: Options,
    degraded: &mut Vec<String>,
) -> Result<Option<LandlockPlan>, LaunchError> {
    let l = compiled.landlock();
    let mode = match (l.mode, opts.best_effort) {
        (LandlockMode::Off, _) => return Ok(None),
        (_, true) => LandlockMode::BestEffort,
        (mode, false) => mode,
    };
    let ruleset = match kernel_abi {
        Ok(k) if mode == LandlockMode::Enforce && *k < l.min_abi => {
            return Err(LaunchError::refused(
                Step::Landlock,
                format!(
                    "this kernel's Landlock ABI is {k}, below the profile's min_abi {}; refusing to run (use --best-effort to run with what this kernel enforces)",
                    l.min_abi
                ),
            ));
        }
        Ok(k) => {
            let used = (*k).clamp(1, policy::vocab::landlock::MAX_ABI);
            let plan = abi_plan(compiled.head(), used);
            degraded.extend(plan.dropped.iter().map(|d| format!("landlock ABI {used} cannot enforce {d}")));
            Some(plan)
        }
        Err(why) if mode == LandlockMode::Enforce => {
            return Err(LaunchError::refused(
                Step::Landlock,
                format!("{why}; the profile requires Landlock (mode enforce)"),
            ));
        }
        Err(why) => {
            degraded.push(format!("landlock not enforced: {why}"));
            None
        }
    };
    Ok(Some(LandlockPlan { mode, min_abi: l.min_abi, kernel_abi: kernel_abi.clone(), ruleset }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::{CacheHit, CompileCache};
    use policy::CompileOptions;

    fn features(abi: Result<u32, String>) -> Features {
        Features {
            arch: Some(Arch::X86_64),
            landlock_abi: abi,
            caller: Caller::root(),
            vars: PathValues::Process,
        }
    }

    /// A plan made from a cache hit (seccomp section still encoded) decides and reports what a
    /// plan made from a fresh compile does.
    #[test]
    fn a_plan_from_a_cache_hit_is_the_plan_of_a_fresh_compile() {
        let dir = std::env::temp_dir().join(format!("palisade-plan-cache-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let cache = CompileCache::open(&dir).unwrap();
        let opts = CompileOptions { tables_for: Some(Arch::X86_64), ..Default::default() };
        for spec in ["builtin:docker-default", "builtin:web", "builtin:strict"] {
            let (fresh, _) = cache.compile(spec, &opts).unwrap();
            let (hit, o) = cache.compile(spec, &opts).unwrap();
            assert_eq!(o, CacheHit::Hit);
            let a = Plan::new(spec, fresh, &features(Ok(7)), Options::default()).unwrap();
            let b = Plan::new(spec, hit, &features(Ok(7)), Options::default()).unwrap();
            let verdicts = a.seccomp_verdicts().unwrap();
            assert_eq!(verdicts, b.seccomp_verdicts().unwrap(), "{spec}");
            assert_eq!(
                verdicts.values().sum::<usize>(),
                table::table(a.seccomp.as_ref().unwrap().program.target).unwrap().len()
            );
            assert_eq!(a.seccomp.as_ref().unwrap().program.insns, b.seccomp.as_ref().unwrap().program.insns);
            assert_eq!(
                (a.uid, a.gid, a.securebits, a.no_new_privs, a.caps),
                (b.uid, b.gid, b.securebits, b.no_new_privs, b.caps)
            );
            assert_eq!(a.degraded, b.degraded);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn strict() -> CompiledPolicy {
        let opts = CompileOptions { tables_for: Some(Arch::X86_64), ..Default::default() };
        CompiledPolicy::new(policy::compile("builtin:strict", &opts).unwrap(), Some(Arch::X86_64))
    }

    #[test]
    fn landlock_is_planned_for_the_kernels_abi_or_refused() {
        let plan = |abi, best_effort| Plan::new("s", strict(), &features(abi), Options { best_effort });
        let min = strict().landlock().min_abi;
        // Enforce mode below min_abi, or without Landlock at all: refused before anything runs.
        let e = plan(Ok(min - 1), false).unwrap_err();
        assert_eq!((e.step, e.exit_code()), (Step::Landlock, 125));
        assert!(plan(Err("no landlock".into()), false).unwrap_err().to_string().contains("no landlock"));
        // Best effort runs with what the kernel has and says what it drops.
        let p = plan(Ok(1), true).unwrap();
        let l = p.landlock.as_ref().unwrap();
        assert_eq!((l.mode, l.ruleset.as_ref().map(|r| r.abi)), (LandlockMode::BestEffort, Some(1)));
        assert!(
            p.degraded.iter().any(|d| d.starts_with("landlock ABI 1 cannot enforce")),
            "{:?}",
            p.degraded
        );
        let p = plan(Err("no landlock".into()), true).unwrap();
        assert!(p.landlock.as_ref().unwrap().ruleset.is_none());
        assert_eq!(p.degraded, ["landlock not enforced: no landlock"]);
        // An ABI newer than this build knows uses the newest it knows.
        let p = plan(Ok(99), false).unwrap();
        assert_eq!(p.landlock.unwrap().ruleset.unwrap().abi, policy::vocab::landlock::MAX_ABI);
    }

    #[test]
    fn no_new_privs_is_set_when_landlock_needs_it() {
        let yaml = "name: t\nprocess: { no_new_privs: false }\nseccomp: { default: allow }\nlandlock:\n  mode: best-effort\n  filesystem: [{ path: /, access: [read] }]\n";
        let opts = CompileOptions { tables_for: Some(Arch::X86_64), ..Default::default() };
        let c = || {
            CompiledPolicy::new(
                policy::compile_text("t.yaml", yaml, None, &opts).unwrap(),
                Some(Arch::X86_64),
            )
        };
        assert!(Plan::new("t", c(), &features(Ok(7)), Options::default()).unwrap().no_new_privs);
        assert!(
            !Plan::new("t", c(), &features(Err("none".into())), Options::default()).unwrap().no_new_privs
        );
    }

    /// What `enforce exec` and a detached run do with a cache hit: the stored program is used as
    /// it is, and the seccomp section is never decoded (here it could not be).
    #[test]
    fn a_plan_from_a_stored_compile_uses_its_program_and_decodes_nothing() {
        let fresh = strict();
        let (head, _) = fresh.json().unwrap();
        let head: policy::Policy = serde_json::from_str(&head).unwrap();
        let program = fresh.program().cloned();
        let stored =
            CompiledPolicy::stored(head, "not a section".into(), vec![], vec![], program, "d".into())
                .unwrap();
        let plan = Plan::new("s", stored, &features(Ok(7)), Options::default()).unwrap();
        assert_eq!(plan.seccomp.as_ref().unwrap().program.insns, fresh.program().unwrap().insns);
        assert_eq!(plan.compiled.digest().unwrap(), "d");
        assert!(plan.seccomp_verdicts().is_err(), "the section was never needed until a report asks");
    }

    #[test]
    fn a_filter_that_denies_what_starting_takes_is_refused() {
        let opts = CompileOptions { tables_for: Some(Arch::X86_64), ..Default::default() };
        let c = |rules: &str| {
            let yaml = format!("name: t\nseccomp:\n  default: errno(EPERM)\n  rules:\n{rules}");
            let c = policy::compile_text("t.yaml", &yaml, None, &opts).unwrap();
            Plan::new("t", CompiledPolicy::new(c, Some(Arch::X86_64)), &features(Ok(7)), Options::default())
        };
        let e = c("    - allow: [read, write, exit_group]\n").unwrap_err();
        assert_eq!((e.step, e.exit_code()), (Step::Seccomp, 125));
        let m = e.to_string();
        assert!(m.contains("execve (errno(EPERM))") && m.contains("prctl(PR_GET_SECUREBITS)"), "{m}");
        assert!(!m.contains("write (") && m.contains("PAL015"), "{m}");
        // Arguments count: prctl allowed only for the read-back is enough.
        let ok = "    - allow: [execve, exit_group, write, pread64, brk, mmap, munmap]\n    - allow: [prctl]\n      args: [{ index: 0, op: eq, value: 27 }]\n";
        c(ok).unwrap();
        let e = c(&format!("{ok}    - deny: [mmap]\n      action: kill\n      args: [{{ index: 2, op: masked_eq, mask: 2, value: 2 }}]\n")).unwrap_err();
        assert!(e.to_string().contains("denies mmap (kill"), "{e}");
        // Every built-in starts.
        for spec in ["builtin:docker-default", "builtin:web", "builtin:strict", "builtin:build"] {
            let c = CompiledPolicy::new(policy::compile(spec, &opts).unwrap(), Some(Arch::X86_64));
            Plan::new(spec, c, &features(Ok(7)), Options::default()).unwrap();
        }
    }

    #[test]
    fn rlimits_are_maximums_unless_the_profile_raises_them() {
        let opts = CompileOptions { tables_for: Some(Arch::X86_64), ..Default::default() };
        let yaml = "name: t\nseccomp: { default: allow }\nprocess:\n  rlimits:\n    nofile: 65536\n    nproc: { soft: 10, hard: unlimited }\n    core: unlimited\n    stack: { soft: 99999, hard: 99999, raise: true }\n";
        let c = CompiledPolicy::new(
            policy::compile_text("t.yaml", yaml, None, &opts).unwrap(),
            Some(Arch::X86_64),
        );
        let mut caller = Caller::root();
        caller.hard_limits = [
            (Resource::Nofile, Some(20000)),
            (Resource::Nproc, Some(500)),
            (Resource::Core, None),
            (Resource::Stack, Some(8)),
        ]
        .into_iter()
        .collect();
        let f = Features { caller, ..features(Ok(7)) };
        let plan = Plan::new("t", c, &f, Options::default()).unwrap();
        let got: Vec<(Resource, Option<u64>, Option<u64>)> =
            plan.rlimits.iter().map(|(r, l)| (*r, l.soft, l.hard)).collect();
        assert_eq!(
            got,
            [
                (Resource::Core, None, None),
                (Resource::Nofile, Some(20000), Some(20000)),
                (Resource::Nproc, Some(10), Some(500)),
                (Resource::Stack, Some(99999), Some(99999)),
            ]
        );
    }

    #[test]
    fn a_machine_the_profile_cannot_run_on_is_refused() {
        let f = Features {
            arch: Some(Arch::S390x),
            landlock_abi: Ok(7),
            caller: Caller::root(),
            vars: PathValues::Process,
        };
        let e = Plan::new("s", strict(), &f, Options::default()).unwrap_err();
        assert_eq!(e.step, Step::Seccomp);
        assert!(e.to_string().contains("cannot run on this machine"), "{e}");
    }
}
