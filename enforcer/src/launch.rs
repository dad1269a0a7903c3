//! `enforce run`: apply every tier to this process in a fixed order, verify, then exec in
//! place. Any failure returns before exec, so the command never runs half-confined.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use nix::sys::resource::{setrlimit, Resource, RLIM_INFINITY};
use nix::unistd::{setgroups, setresgid, setresuid, Gid, Uid};

use crate::error::{LaunchError, Step};
use crate::plan::Plan;
use crate::report::Report;
use crate::seccomp::{Flags, InstallError};
use crate::{landlock, sys};

/// Where the report goes.
#[derive(Clone, Debug, Default)]
pub enum ReportTo {
    /// Nowhere.
    #[default]
    None,
    /// stderr.
    Stderr,
    /// A file (created before any restriction).
    File(PathBuf),
}

/// Applies a [`Plan`] and execs.
pub struct Launcher {
    plan: Plan,
    report_to: ReportTo,
    fail_at: Option<Step>,
}

const SECBIT_NO_SETUID_FIXUP: u32 = 1 << 2;

fn resource(name: &str) -> Option<Resource> {
    Some(match name {
        "as" => Resource::RLIMIT_AS,
        "core" => Resource::RLIMIT_CORE,
        "cpu" => Resource::RLIMIT_CPU,
        "data" => Resource::RLIMIT_DATA,
        "fsize" => Resource::RLIMIT_FSIZE,
        "locks" => Resource::RLIMIT_LOCKS,
        "memlock" => Resource::RLIMIT_MEMLOCK,
        "msgqueue" => Resource::RLIMIT_MSGQUEUE,
        "nice" => Resource::RLIMIT_NICE,
        "nofile" => Resource::RLIMIT_NOFILE,
        "nproc" => Resource::RLIMIT_NPROC,
        "rss" => Resource::RLIMIT_RSS,
        "rtprio" => Resource::RLIMIT_RTPRIO,
        "rttime" => Resource::RLIMIT_RTTIME,
        "sigpending" => Resource::RLIMIT_SIGPENDING,
        "stack" => Resource::RLIMIT_STACK,
        _ => return None,
    })
}

fn cap_last_cap() -> u8 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40)
}

fn caps_set(mask: u64) -> caps::CapsHashSet {
    caps::all().into_iter().filter(|c| mask & c.bitmask() != 0).collect()
}

fn status_field<'a>(status: &'a str, key: &str) -> Option<&'a str> {
    status.lines().find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix(':'))).map(str::trim)
}

impl Launcher {
    /// A launcher for `plan`.
    pub fn new(plan: Plan, report_to: ReportTo) -> Launcher {
        Launcher { plan, report_to, fail_at: None }
    }

    /// Make `step` fail as if its system call had failed. For tests of the fail-closed
    /// property; `enforce` never sets it.
    pub fn fail_at(mut self, step: Step) -> Launcher {
        self.fail_at = Some(step);
        self
    }

    fn check(&self, step: Step, done: &mut Vec<String>) -> Result<(), LaunchError> {
        if self.fail_at == Some(step) {
            return Err(LaunchError::new(step, 125, "injected failure"));
        }
        done.push(step.name().to_string());
        Ok(())
    }

    /// Apply everything and exec. Returns only on failure; then nothing was exec'd.
    pub fn run(self) -> LaunchError {
        let mut report_file = None;
        let e = match self.apply_and_exec(&mut report_file) {
            Ok(never) => match never {},
            Err(e) => e,
        };
        // The report file was created before the failure: say what happened there too.
        if let Some(mut f) = report_file {
            use std::io::Seek;
            let _ = f.set_len(0);
            let _ = f.rewind();
            let v = serde_json::json!({
                "profile": self.plan.profile,
                "state": "failed",
                "step": e.step.name(),
                "error": e.message,
                "exit_code": e.exit_code,
            });
            let _ = f.write_all((serde_json::to_string_pretty(&v).unwrap_or_default() + "\n").as_bytes());
        }
        e
    }

    /// Apply every step up to and including verification, without exec: for a process that
    /// must stay (the runtime's PID-1 shim) under the same policy. The report goes where the
    /// launcher was told.
    pub fn confine(self) -> Result<(), LaunchError> {
        let mut report_file = None;
        self.apply(&mut report_file)
    }

    fn apply_and_exec(
        &self,
        report_file: &mut Option<std::fs::File>,
    ) -> Result<std::convert::Infallible, LaunchError> {
        self.apply(report_file)?;
        let plan = &self.plan;
        // 13. exec in place: no extra process, signals reach the command directly.
        if self.fail_at == Some(Step::Exec) {
            return Err(LaunchError::new(Step::Exec, 126, "injected failure"));
        }
        let path = CString::new(plan.program.as_os_str().as_bytes())
            .map_err(|_| LaunchError::new(Step::Exec, 126, "the command path contains a NUL byte"))?;
        let e = nix::unistd::execv(&path, &plan.argv).unwrap_err();
        let code = if e == nix::errno::Errno::ENOENT { 127 } else { 126 };
        Err(LaunchError::new(
            Step::Exec,
            code,
            format!("cannot execute {}: {}", plan.program.display(), e.desc()),
        ))
    }

    fn apply(&self, report_file: &mut Option<std::fs::File>) -> Result<(), LaunchError> {
        let plan = &self.plan;
        let p = &plan.policy;
        let shown = !matches!(self.report_to, ReportTo::None);
        let mut report = Report::of_plan(plan, shown)?;
        let mut done = Vec::new();
        // The command was resolved when the plan was made.
        self.check(Step::ResolveCommand, &mut done)?;

        // 1. While still privileged and unrestricted: open /proc/self/status (read back after
        //    Landlock and seccomp), the report file, and every Landlock path.
        self.check(Step::Prepare, &mut done)?;
        // thread-self: capabilities are per thread, and this thread is the one that execs.
        let status = std::fs::File::open("/proc/thread-self/status").map_err(|e| {
            LaunchError::new(Step::Prepare, 125, format!("cannot open /proc/thread-self/status: {e}"))
        })?;
        *report_file = match &self.report_to {
            ReportTo::File(f) => Some(std::fs::File::create(f).map_err(|e| {
                LaunchError::new(Step::Prepare, 125, format!("cannot create report {}: {e}", f.display()))
            })?),
            _ => None,
        };
        let prepared = match &plan.landlock {
            Some(l) => landlock::prepare(l)?,
            None => None,
        };
        if let (Some(pr), Some(l)) = (&prepared, report.landlock.as_mut()) {
            l.paths = pr.paths.clone();
            report.degraded.extend(
                pr.paths.iter().filter_map(|p| p.note.as_ref().map(|n| format!("landlock {}: {n}", p.path))),
            );
        }
        let last_cap = cap_last_cap();

        // 2. Resource limits, while raising a hard limit is still possible.
        self.check(Step::Rlimits, &mut done)?;
        for (name, r) in &p.process.rlimits {
            let res = resource(name)
                .ok_or_else(|| LaunchError::new(Step::Rlimits, 125, format!("unknown rlimit {name}")))?;
            setrlimit(res, r.soft.unwrap_or(RLIM_INFINITY), r.hard.unwrap_or(RLIM_INFINITY))
                .map_err(|e| LaunchError::sys(Step::Rlimits, &format!("setrlimit {name}"), e as i32))?;
        }

        // 3. No inherited fd survives exec (ours are close-on-exec already).
        self.check(Step::CloseFds, &mut done)?;
        sys::process::cloexec_from(3).map_err(|e| LaunchError::sys(Step::CloseFds, "close_range", e))?;

        // 4. Bounding set: needs CAP_SETPCAP, still held.
        self.check(Step::Bounding, &mut done)?;
        for i in 0..=last_cap {
            if plan.caps.bounding & (1u64 << i) == 0 {
                sys::process::drop_bounding(i).map_err(|e| {
                    LaunchError::sys(Step::Bounding, &format!("drop capability {i} from the bounding set"), e)
                })?;
            }
        }

        // 5. Securebits: also needs CAP_SETPCAP, which the final sets rarely keep, so before
        //    them; with NO_SETUID_FIXUP the uid switch below leaves the capability sets alone.
        self.check(Step::Securebits, &mut done)?;
        let bits = p.process.securebits.bits;
        let current = sys::process::securebits()
            .map_err(|e| LaunchError::sys(Step::Securebits, "PR_GET_SECUREBITS", e))?;
        if current != bits {
            sys::process::set_securebits(bits)
                .map_err(|e| LaunchError::sys(Step::Securebits, &format!("set securebits {bits:#x}"), e))?;
        }

        // 6. uid/gid, keeping capabilities across the switch.
        self.check(Step::SwitchUser, &mut done)?;
        let (uid, gid) = (p.process.uid, p.process.gid);
        // In a user namespace whose setgroups is "deny" the group list is already fixed.
        let setgroups_denied =
            std::fs::read_to_string("/proc/self/setgroups").map(|s| s.trim() == "deny").unwrap_or(false);
        if nix::unistd::geteuid().is_root() && !setgroups_denied {
            setgroups(&[]).map_err(|e| LaunchError::sys(Step::SwitchUser, "setgroups", e as i32))?;
        }
        if bits & SECBIT_NO_SETUID_FIXUP == 0 {
            sys::process::set_keepcaps(true)
                .map_err(|e| LaunchError::sys(Step::SwitchUser, "PR_SET_KEEPCAPS", e))?;
        }
        setresgid(Gid::from_raw(gid), Gid::from_raw(gid), Gid::from_raw(gid))
            .map_err(|e| LaunchError::sys(Step::SwitchUser, &format!("setresgid {gid}"), e as i32))?;
        setresuid(Uid::from_raw(uid), Uid::from_raw(uid), Uid::from_raw(uid))
            .map_err(|e| LaunchError::sys(Step::SwitchUser, &format!("setresuid {uid}"), e as i32))?;

        // 7. The four other sets, exactly: inheritable while the old permitted set still
        //    covers it, then effective, then permitted; ambient last (needs both).
        self.check(Step::Capabilities, &mut done)?;
        let c = plan.caps;
        let capset = |set, mask: u64, what: &str| {
            caps::set(None, set, &caps_set(mask)).map_err(|e| {
                LaunchError::new(Step::Capabilities, 125, format!("set the {what} capabilities: {e}"))
            })
        };
        capset(caps::CapSet::Inheritable, c.inheritable, "inheritable")?;
        capset(caps::CapSet::Effective, c.effective, "effective")?;
        capset(caps::CapSet::Permitted, c.permitted, "permitted")?;
        if bits & SECBIT_NO_SETUID_FIXUP == 0 {
            // Only needed across setresuid; exec would clear it anyway.
            sys::process::set_keepcaps(false)
                .map_err(|e| LaunchError::sys(Step::Capabilities, "PR_SET_KEEPCAPS", e))?;
        }
        sys::process::clear_ambient()
            .map_err(|e| LaunchError::sys(Step::Capabilities, "clear the ambient set", e))?;
        for i in 0..=last_cap {
            if c.ambient & (1u64 << i) != 0 {
                sys::process::raise_ambient(i).map_err(|e| {
                    LaunchError::sys(Step::Capabilities, &format!("raise ambient capability {i}"), e)
                })?;
            }
        }

        // 8. no_new_privs (Landlock and unprivileged seccomp need it too).
        self.check(Step::NoNewPrivs, &mut done)?;
        if report.no_new_privs {
            sys::seccomp::set_no_new_privs()
                .map_err(|e| LaunchError::sys(Step::NoNewPrivs, "PR_SET_NO_NEW_PRIVS", e))?;
        }

        // 9. Landlock.
        self.check(Step::Landlock, &mut done)?;
        if let (Some(pr), Some(l)) = (prepared, report.landlock.as_mut()) {
            l.status = landlock::restrict(pr, &l.mode)?;
        }

        // 10. seccomp last: from here on only read, write and execve are needed.
        self.check(Step::Seccomp, &mut done)?;
        plan.filter.install(Flags::TSYNC, false).map_err(|e| match e {
            InstallError::Seccomp { errno: libc::EACCES, .. } => LaunchError::new(
                Step::Seccomp,
                125,
                "installing the seccomp filter needs no_new_privs or CAP_SYS_ADMIN; the profile sets neither",
            ),
            e => LaunchError::new(Step::Seccomp, 125, e.to_string()),
        })?;

        // 11. Read everything back; refuse to exec when it differs from the plan.
        self.check(Step::Verify, &mut done)?;
        let mut buf = vec![0u8; 8192];
        let n = sys::process::pread_all(status.as_fd(), &mut buf)
            .map_err(|e| LaunchError::sys(Step::Verify, "read /proc/thread-self/status", e))?;
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        let all = if last_cap >= 63 { u64::MAX } else { (1u64 << (last_cap + 1)) - 1 };
        let want: Vec<(&str, String)> = vec![
            ("Uid", format!("{uid}\t{uid}\t{uid}\t{uid}")),
            ("Gid", format!("{gid}\t{gid}\t{gid}\t{gid}")),
            ("CapInh", format!("{:016x}", c.inheritable & all)),
            ("CapPrm", format!("{:016x}", c.permitted & all)),
            ("CapEff", format!("{:016x}", c.effective & all)),
            ("CapBnd", format!("{:016x}", c.bounding & all)),
            ("CapAmb", format!("{:016x}", c.ambient & all)),
            ("NoNewPrivs", if report.no_new_privs { "1".into() } else { "0".into() }),
            ("Seccomp", "2".into()),
        ];
        let mut verified = BTreeMap::new();
        for (key, value) in want {
            let got = status_field(&text, key).unwrap_or("").replace(' ', "\t");
            if got != value {
                return Err(LaunchError::new(
                    Step::Verify,
                    125,
                    format!("{key} is `{got}` after applying the policy, expected `{value}`"),
                ));
            }
            verified.insert(key.to_string(), got.replace('\t', " "));
        }
        let sb =
            sys::process::securebits().map_err(|e| LaunchError::sys(Step::Verify, "PR_GET_SECUREBITS", e))?;
        if sb != bits {
            return Err(LaunchError::new(
                Step::Verify,
                125,
                format!("securebits are {sb:#x}, expected {bits:#x}"),
            ));
        }
        verified.insert("securebits".into(), format!("{sb:#x}"));
        if let Some(f) = status_field(&text, "Seccomp_filters") {
            verified.insert("Seccomp_filters".into(), f.to_string());
        }
        done.push(Step::Exec.name().to_string());
        report.state = "applied".into();
        report.steps = done;
        report.verified = verified;
        match (&self.report_to, report_file.as_mut()) {
            (ReportTo::Stderr, _) => {
                let _ = std::io::stderr().write_all(report.to_json().as_bytes());
            }
            (ReportTo::File(path), Some(f)) => f.write_all(report.to_json().as_bytes()).map_err(|e| {
                LaunchError::new(Step::Verify, 125, format!("cannot write report {}: {e}", path.display()))
            })?,
            _ => {}
        }
        // The file stays open (close-on-exec) so that a failing exec can still replace the report.

        Ok(())
    }
}
