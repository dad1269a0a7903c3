//! What will be applied: everything computed before the first step, so that applying is
//! only system calls and every input error is found before anything changes.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::path::{Path, PathBuf};

use policy::backend::landlock::{landlock_output, AbiPlan};
use policy::backend::seccomp::bpf::{self, Program};
use policy::caps::Cap;
use policy::syscalls::table;
use policy::{Arch, Policy};
use sha2::{Digest, Sha256};

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

/// Everything `enforce run` applies, resolved.
#[derive(Debug)]
pub struct Plan {
    /// Profile name.
    pub profile: String,
    /// The policy.
    pub policy: Policy,
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
    /// SHA-256 of the program bytes.
    pub seccomp_sha256: String,
    /// Number of syscalls of the native arch per verdict (`conditional` when it depends on
    /// arguments).
    pub seccomp_verdicts: BTreeMap<String, usize>,
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

fn verdict_counts(policy: &Policy, arch: Arch) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    let Some(t) = table::table(arch) else { return out };
    let at = policy.seccomp.tables.get(arch.name());
    for (_, name) in t.iter() {
        let key = match at.and_then(|at| at.syscalls.get(name)) {
            Some(sc) if !sc.conditional.is_empty() => "conditional".to_string(),
            Some(sc) => sc.action.to_string(),
            None => policy.seccomp.default_action.to_string(),
        };
        *out.entry(key).or_default() += 1;
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

    /// Resolve everything: the command, the seccomp program for this machine, the Landlock
    /// ruleset for this kernel's ABI. Nothing is applied.
    pub fn new(profile: &str, policy: Policy, argv: &[String], opts: Options) -> Result<Plan, LaunchError> {
        Plan::with_program(profile, policy, None, argv, opts)
    }

    /// [`Plan::new`], with this machine's seccomp program already compiled (by the compile
    /// cache). It is used only when it is for the target this machine needs; otherwise, or
    /// when `None`, the program is compiled here.
    pub fn with_program(
        profile: &str,
        policy: Policy,
        compiled: Option<Program>,
        argv: &[String],
        opts: Options,
    ) -> Result<Plan, LaunchError> {
        let policy_err = |step, m: String| LaunchError::new(step, 125, m);
        let (program, argv) = command(argv)?;
        let host = host_arch().ok_or_else(|| {
            policy_err(Step::Seccomp, format!("unsupported machine arch {}", std::env::consts::ARCH))
        })?;
        let target = bpf::target_for(&policy, Some(host), Some(host))
            .map_err(|e| policy_err(Step::Seccomp, format!("the profile cannot run on this machine: {e}")))?;
        let seccomp = match compiled {
            Some(p) if p.target == target => p,
            _ => bpf::compile(&policy, target).map_err(|e| policy_err(Step::Seccomp, e.to_string()))?,
        };
        let filter = Filter::from_program(&seccomp).map_err(|e| policy_err(Step::Seccomp, e.to_string()))?;
        let seccomp_sha256 = Sha256::digest(seccomp.to_bytes()).iter().map(|b| format!("{b:02x}")).collect();
        let seccomp_verdicts = verdict_counts(&policy, host);
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
            program,
            argv,
            caps,
            seccomp,
            filter,
            seccomp_sha256,
            seccomp_verdicts,
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
