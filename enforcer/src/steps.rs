//! The apply steps, one function each, in the order [`crate::Launcher`] runs them. Each says
//! why it sits where it does; docs/enforcement.md has the same table.

use std::fs::File;
use std::os::fd::OwnedFd;
use std::path::PathBuf;

use policy::backend::landlock::{AbiPlan, PathPlan};
use policy::vocab::{CapSet, FsAccess, Securebit, TmpdirMode};

use crate::command::Command;
use crate::error::{Failure, LaunchError, Step};
use crate::landlock::{self, RulesetReady};
use crate::plan::{Plan, SeccompPlan};
use crate::sys::{CapKind, Kernel, LandlockStatus};
use crate::tmpdir;

/// What `prepare` opened while the process was still privileged and unconfined.
pub(crate) struct Prepared<R> {
    /// `/proc/thread-self/status`, read back by `verify`.
    pub status: OwnedFd,
    /// The Landlock ruleset with every rule added.
    pub ruleset: Option<RulesetReady<R>>,
    /// The highest capability number of this kernel.
    pub last_cap: u8,
    /// The private temporary directory made for the workload.
    pub tmpdir: Option<PathBuf>,
}

/// 2. Open what later steps need while still privileged and unconfined: the status file (read
///    back after Landlock and seccomp) and every Landlock path. (The launcher creates the
///    report file and builds the report in this step too.)
pub(crate) fn prepare<K: Kernel>(
    k: &mut K,
    plan: &Plan,
    command: Option<&Command>,
) -> Result<Prepared<K::Ruleset>, LaunchError> {
    let status =
        k.open_status().map_err(|e| LaunchError::sys(Step::Prepare, "open /proc/thread-self/status", e))?;
    if let Some(dir) = &plan.compiled.process().workdir {
        std::env::set_current_dir(dir).map_err(|e| {
            let why = policy::error::io_reason(&e);
            LaunchError::refused(Step::Prepare, format!("cannot enter the workdir {dir}: {why}"))
        })?;
    }
    // Only for a command: the PID-1 shim confines itself with the same plan and runs none.
    let tmpdir = match (plan.compiled.process().tmpdir, command) {
        (TmpdirMode::Private, Some(c)) => Some(tmpdir::create(&tmpdir::base(Some(c)), plan.uid, plan.gid)?),
        _ => None,
    };
    let ruleset = match plan.landlock.as_ref().and_then(|l| l.ruleset.as_ref()) {
        Some(abi) => {
            let built = match &tmpdir {
                Some(dir) => landlock::build(k, &with_rule(abi, dir)),
                None => landlock::build(k, abi),
            };
            match built {
                Ok(r) => Some(r),
                Err(e) => {
                    tmpdir.iter().for_each(|d| tmpdir::remove(d));
                    return Err(e);
                }
            }
        }
        None => None,
    };
    Ok(Prepared { status, ruleset, last_cap: k.last_cap(), tmpdir })
}

/// `abi` with read and write beneath `dir` (as far as the ruleset handles them).
fn with_rule(abi: &AbiPlan, dir: &std::path::Path) -> AbiPlan {
    let rw = FsAccess::parse_group("read").unwrap_or_default()
        | FsAccess::parse_group("write").unwrap_or_default();
    let mut abi = abi.clone();
    abi.paths.push(PathPlan { path: dir.display().to_string(), allowed: rw & abi.handled_fs });
    abi
}

/// The report file, created while nothing restricts where it may be.
///
/// Never through what is at `path` already: a new file is made beside it (`O_EXCL`, not
/// following links) and renamed over it, so a symbolic or hard link planted there (in `/tmp`,
/// say) is replaced, not written through. The file stays open for the report.
pub(crate) fn create_report(path: &PathBuf) -> Result<File, LaunchError> {
    use std::os::unix::fs::OpenOptionsExt;
    let fail = |why: String| {
        LaunchError::refused(Step::Prepare, format!("cannot create report {}: {why}", path.display()))
    };
    let name = path.file_name().ok_or_else(|| fail("it names no file".into()))?;
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    for attempt in 0..16u32 {
        let tmp = dir.join(format!(
            ".{}.{}.{}",
            name.to_string_lossy(),
            std::process::id(),
            nanos.wrapping_add(attempt)
        ));
        let opened = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&tmp);
        match opened {
            Ok(f) => {
                return match std::fs::rename(&tmp, path) {
                    Ok(()) => Ok(f),
                    Err(e) => {
                        let _ = std::fs::remove_file(&tmp);
                        Err(fail(e.to_string()))
                    }
                };
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(fail(e.to_string())),
        }
    }
    Err(fail("no free temporary name beside it".into()))
}

/// 3. Resource limits, while raising a hard limit is still possible.
pub(crate) fn set_rlimits<K: Kernel>(k: &mut K, plan: &Plan) -> Result<(), LaunchError> {
    for (resource, r) in &plan.rlimits {
        k.setrlimit(*resource, r.soft, r.hard)
            .map_err(|e| LaunchError::sys(Step::Rlimits, format!("setrlimit {resource}"), e))?;
    }
    Ok(())
}

/// 4. No inherited fd survives exec (ours are close-on-exec already).
pub(crate) fn close_fds<K: Kernel>(k: &mut K, first: u32) -> Result<(), LaunchError> {
    k.cloexec_from(first).map_err(|e| LaunchError::sys(Step::CloseFds, "close_range", e))
}

/// 5. The bounding set: needs CAP_SETPCAP, still held.
pub(crate) fn drop_bounding_set<K: Kernel>(k: &mut K, plan: &Plan, last_cap: u8) -> Result<(), LaunchError> {
    for i in 0..=last_cap {
        if plan.caps.bounding.bits() & (1u64 << i) == 0 {
            k.drop_bounding(i).map_err(|e| {
                LaunchError::sys(Step::Bounding, format!("drop capability {i} from the bounding set"), e)
            })?;
        }
    }
    Ok(())
}

/// 6. Securebits: also needs CAP_SETPCAP, which the final sets rarely keep, so before them;
///    with NO_SETUID_FIXUP the uid switch below leaves the capability sets alone.
pub(crate) fn set_securebits<K: Kernel>(k: &mut K, plan: &Plan) -> Result<(), LaunchError> {
    // Compared and set as the kernel's whole value: bits this build has no name for (newer
    // kernels' exec restrictions) are cleared too, not carried over from the parent.
    let current = k.securebits().map_err(|e| LaunchError::sys(Step::Securebits, "PR_GET_SECUREBITS", e))?;
    let bits = plan.raw_securebits();
    if current != bits {
        k.set_securebits(bits)
            .map_err(|e| LaunchError::sys(Step::Securebits, format!("set securebits {bits:#x}"), e))?;
    }
    Ok(())
}

fn keeps_caps_across_setuid(plan: &Plan) -> bool {
    plan.securebits.contains(Securebit::NoSetuidFixup)
}

/// 7. The ids, keeping capabilities across the switch (KEEPCAPS unless NO_SETUID_FIXUP does).
pub(crate) fn switch_user<K: Kernel>(k: &mut K, plan: &Plan) -> Result<(), LaunchError> {
    let (uid, gid) = (plan.uid, plan.gid);
    if k.may_setgroups() {
        let set = match plan.groups.as_slice() {
            [] => k.clear_groups(),
            groups => k.set_groups(groups),
        };
        set.map_err(|e| LaunchError::sys(Step::SwitchUser, "setgroups", e))?;
    }
    if !keeps_caps_across_setuid(plan) {
        k.set_keepcaps(true).map_err(|e| LaunchError::sys(Step::SwitchUser, "PR_SET_KEEPCAPS", e))?;
    }
    k.setresgid(gid).map_err(|e| LaunchError::sys(Step::SwitchUser, format!("setresgid {gid}"), e))?;
    k.setresuid(uid).map_err(|e| LaunchError::sys(Step::SwitchUser, format!("setresuid {uid}"), e))
}

/// 8. The four other sets, exactly: inheritable while the old permitted set still covers it,
///    then effective, then permitted; ambient last (it needs both).
pub(crate) fn set_capabilities<K: Kernel>(k: &mut K, plan: &Plan, last_cap: u8) -> Result<(), LaunchError> {
    let c = plan.caps;
    let mut capset = |kind, set: CapSet, what: &str| {
        k.capset(kind, set).map_err(|e| {
            LaunchError::refused(Step::Capabilities, format!("set the {what} capabilities: {e}"))
        })
    };
    capset(CapKind::Inheritable, c.inheritable, "inheritable")?;
    capset(CapKind::Effective, c.effective, "effective")?;
    capset(CapKind::Permitted, c.permitted, "permitted")?;
    if !keeps_caps_across_setuid(plan) {
        // Only needed across setresuid; exec would clear it anyway.
        k.set_keepcaps(false).map_err(|e| LaunchError::sys(Step::Capabilities, "PR_SET_KEEPCAPS", e))?;
    }
    k.clear_ambient().map_err(|e| LaunchError::sys(Step::Capabilities, "clear the ambient set", e))?;
    for i in 0..=last_cap {
        if c.ambient.bits() & (1u64 << i) != 0 {
            k.raise_ambient(i).map_err(|e| {
                LaunchError::sys(Step::Capabilities, format!("raise ambient capability {i}"), e)
            })?;
        }
    }
    Ok(())
}

/// 9. no_new_privs (Landlock and unprivileged seccomp need it too).
pub(crate) fn set_no_new_privs<K: Kernel>(k: &mut K, plan: &Plan) -> Result<(), LaunchError> {
    if plan.no_new_privs {
        k.set_no_new_privs().map_err(|e| LaunchError::sys(Step::NoNewPrivs, "PR_SET_NO_NEW_PRIVS", e))?;
    }
    Ok(())
}

/// 10. Landlock.
pub(crate) fn restrict_landlock<K: Kernel>(
    k: &mut K,
    plan: &Plan,
    ruleset: Option<RulesetReady<K::Ruleset>>,
) -> Result<Option<LandlockStatus>, LaunchError> {
    let (Some(ready), Some(l)) = (ruleset, &plan.landlock) else { return Ok(None) };
    landlock::restrict(k, ready, l.mode == policy::vocab::LandlockMode::Enforce).map(Some)
}

/// 11. Seccomp last: after it, only the read-back, the report and `execve` are made.
pub(crate) fn install_seccomp<K: Kernel>(k: &mut K, plan: &Plan) -> Result<(), LaunchError> {
    let filters: Vec<&SeccompPlan> = match (&plan.recording, k.hands_listener()) {
        (Some(r), true) => vec![r],
        _ => plan.seccomp.iter().chain(&plan.stacked).collect(),
    };
    for seccomp in filters {
        k.install_seccomp(seccomp.filter.kernel_layout()).map_err(|e| match e {
            libc::EACCES => LaunchError::refused(
                Step::Seccomp,
                "installing the seccomp filter needs no_new_privs or CAP_SYS_ADMIN; the profile sets neither",
            ),
            e => LaunchError::sys(Step::Seccomp, "install the seccomp filter", e),
        })?;
    }
    Ok(())
}

/// 13. exec in place: no extra process, signals reach the command directly.
pub(crate) fn exec<K: Kernel>(k: &mut K, command: &Command) -> Result<(), LaunchError> {
    k.exec(&command.path, &command.argv, command.env.as_deref()).map_err(|errno| {
        let why = format!(
            "cannot execute {}: {}",
            command.program.display(),
            nix::errno::Errno::from_raw(errno).desc()
        );
        let failure =
            if errno == libc::ENOENT { Failure::NotFound(why) } else { Failure::NotExecutable(why) };
        LaunchError { step: Step::Exec, failure }
    })
}
