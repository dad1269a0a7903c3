//! [`Launcher`]: apply a [`Plan`] to this process step by step ([`Step`]), verify, report,
//! then exec in place. Any failure returns before exec, so the command never runs
//! half-confined.

use std::io::{Seek, Write};
use std::path::PathBuf;

use crate::command::Command;
use crate::error::{Failure, LaunchError, Step};
use crate::plan::Plan;
use crate::report::{Applied, FailedReport, IsolationReport, Report};
use crate::runnable;
use crate::steps::{self, Prepared};
use crate::sys::{Kernel, Linux};
use crate::tmpdir;
use crate::verify;

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

impl ReportTo {
    /// Whether the report is shown at all (it is built only then).
    pub fn shown(&self) -> bool {
        !matches!(self, ReportTo::None)
    }
}

/// Applies a [`Plan`] through a [`Kernel`] ([`Linux`] unless a test gives a fake).
pub struct Launcher<'a, K: Kernel = Linux> {
    plan: &'a Plan,
    command: Option<Command>,
    report_to: ReportTo,
    isolation: Option<IsolationReport>,
    fail_at: Option<Step>,
    kernel: K,
    /// The private temporary directory, once made: removed if the run fails before exec (as far
    /// as Landlock, once in force, still lets this process).
    tmpdir: Option<PathBuf>,
    /// Run after no_new_privs, before Landlock and seccomp: an OCI container waits there for
    /// `start`.
    gate: Option<Gate<'a>>,
    /// The first descriptor made close-on-exec (3 unless some are passed on).
    first_closed: u32,
}

/// A wait before the confinement steps; `Err` says why the run must stop.
pub type Gate<'a> = Box<dyn FnOnce() -> Result<(), String> + 'a>;

/// The steps run so far, and a failure injected by a test.
struct Progress {
    done: Vec<Step>,
    fail_at: Option<Step>,
}

impl Progress {
    /// Run `step` unless the plan leaves it out (see [`Plan::skipped`]).
    fn step_unless_skipped(
        &mut self,
        step: Step,
        plan: &Plan,
        f: impl FnOnce() -> Result<(), LaunchError>,
    ) -> Result<(), LaunchError> {
        if plan.skipped.iter().any(|s| s.step == step) {
            return Ok(());
        }
        self.step(step, f)
    }

    /// Run `step` unless a failure is injected there.
    fn step<T>(&mut self, step: Step, f: impl FnOnce() -> Result<T, LaunchError>) -> Result<T, LaunchError> {
        if self.fail_at == Some(step) {
            return Err(LaunchError { step, failure: Failure::Injected });
        }
        let out = f()?;
        self.done.push(step);
        Ok(out)
    }
}

impl<'a> Launcher<'a, Linux> {
    /// A launcher for `plan` on this machine.
    pub fn new(plan: &'a Plan, report_to: ReportTo) -> Launcher<'a, Linux> {
        Launcher::with_kernel(plan, report_to, Linux::default())
    }
}

impl<'a, K: Kernel> Launcher<'a, K> {
    /// A launcher for `plan` that makes its kernel calls through `kernel`.
    pub fn with_kernel(plan: &'a Plan, report_to: ReportTo, kernel: K) -> Launcher<'a, K> {
        Launcher {
            plan,
            command: None,
            report_to,
            isolation: None,
            fail_at: None,
            kernel,
            tmpdir: None,
            gate: None,
            first_closed: 3,
        }
    }

    /// Wait at `gate` after no_new_privs, before Landlock and seccomp (so the wait itself is
    /// not confined, and everything that can fail before it has been checked).
    pub fn gate(mut self, gate: Gate<'a>) -> Self {
        self.gate = Some(gate);
        self
    }

    /// Pass descriptors 3..3+n on to the command (`--preserve-fds`).
    pub fn keep_fds(mut self, n: u32) -> Self {
        self.first_closed = 3 + n;
        self
    }

    /// The command to exec (resolved by the caller: in a container, once its root is in place).
    pub fn command(mut self, command: Command) -> Self {
        self.command = Some(command);
        self
    }

    /// What the isolation tier set up, for the report.
    pub fn isolation(mut self, report: IsolationReport) -> Self {
        self.isolation = Some(report);
        self
    }

    /// Make `step` fail as if its system call had failed. For tests of the fail-closed
    /// property; `enforce` never sets it.
    pub fn fail_at(mut self, step: Step) -> Self {
        self.fail_at = Some(step);
        self
    }

    /// Apply everything and exec. Returns the kernel, and `Ok` only when the kernel reports
    /// the image replaced (a fake: the real one never returns from a successful exec).
    pub fn exec(mut self) -> (K, Result<(), LaunchError>) {
        let mut report_file = None;
        let result = self.apply_and_exec(&mut report_file);
        if let (Err(_), Some(dir)) = (&result, &self.tmpdir) {
            tmpdir::remove(dir);
        }
        if let (Err(e), Some(mut f)) = (&result, report_file) {
            // The report file was created before the failure: say what happened there too.
            let failed = FailedReport::of(self.plan, e);
            let text = serde_json::to_string_pretty(&failed).unwrap_or_default() + "\n";
            let _ = f.set_len(0).and_then(|()| f.rewind()).and_then(|_| f.write_all(text.as_bytes()));
        }
        (self.kernel, result)
    }

    /// Apply everything and exec; returns only why it did not.
    pub fn run(self) -> LaunchError {
        match self.exec().1 {
            Err(e) => e,
            Ok(()) => LaunchError::refused(Step::Exec, "the kernel returned from a successful exec"),
        }
    }

    /// Apply every step up to and including verification, without exec: for a process that
    /// must stay (the runtime's PID-1 shim) under the same policy.
    pub fn confine(mut self) -> (K, Result<Applied, LaunchError>) {
        let result = self.apply(&mut None).map(|(applied, _)| applied);
        if let (Err(_), Some(dir)) = (&result, &self.tmpdir) {
            tmpdir::remove(dir);
        }
        (self.kernel, result)
    }

    fn apply_and_exec(&mut self, report_file: &mut Option<std::fs::File>) -> Result<(), LaunchError> {
        let (mut applied, report) = self.apply(report_file)?;
        let Some(command) = &self.command else {
            return Err(LaunchError::refused(Step::Exec, "no command to execute"));
        };
        let with_tmpdir;
        let command = match &applied.tmpdir {
            Some(dir) => {
                with_tmpdir = tmpdir::with_tmpdir(command, dir)?;
                &with_tmpdir
            }
            None => command,
        };
        applied.steps.push(Step::Exec);
        if let Some(mut report) = report {
            report.record(&applied);
            self.write_report(&report, report_file)?;
        }
        // The file stays open (close-on-exec) so that a failing exec can still replace it.
        let mut progress = Progress { done: Vec::new(), fail_at: self.fail_at };
        progress.step(Step::Exec, || steps::exec(&mut self.kernel, command))
    }

    /// Every step in order, one line each; the step functions say why each sits where it does.
    /// With a report to show, it is built in `prepare`, while nothing restricts the process.
    fn apply(
        &mut self,
        report_file: &mut Option<std::fs::File>,
    ) -> Result<(Applied, Option<Report>), LaunchError> {
        let gate = self.gate.take();
        let first_closed = self.first_closed;
        let (plan, k) = (self.plan, &mut self.kernel);
        let mut report = None;
        let mut run = Progress { done: Vec::new(), fail_at: self.fail_at };
        run.step(Step::ResolveCommand, || Ok(()))?; // done when the command was made
        let (to, command, isolation) = (&self.report_to, self.command.as_ref(), &self.isolation);
        let Prepared { status, ruleset, last_cap, tmpdir } = run.step(Step::Prepare, || {
            if let ReportTo::File(path) = to {
                // Kept by the caller even if the rest of this step fails: the failure goes there.
                *report_file = Some(steps::create_report(path)?);
            }
            if to.shown() {
                let mut r = Report::planned(plan, command)?;
                r.isolation = isolation.clone();
                report = Some(r);
            }
            steps::prepare(k, plan, command)
        })?;
        self.tmpdir.clone_from(&tmpdir);
        let landlock_paths = ruleset.as_ref().map(|r| r.paths.clone()).unwrap_or_default();
        // Exec would be refused by these rules: say which file and right, before any change.
        if let (Some(c), Some(abi)) = (command, plan.landlock.as_ref().and_then(|l| l.ruleset.as_ref())) {
            runnable::check(&c.program, abi.handled_fs, &landlock_paths)?;
        }
        // Said now, on stderr (where a report written there says it too), not only in a report:
        // a rule that grants less than it says.
        for p in landlock_paths.iter().filter(|_| !matches!(self.report_to, ReportTo::Stderr)) {
            if let Some(note) = &p.note {
                crate::say!("enforce: warning: landlock {}: {note}", p.path);
            }
        }
        run.step(Step::Rlimits, || steps::set_rlimits(k, plan))?;
        run.step(Step::CloseFds, || steps::close_fds(k, first_closed))?;
        if plan.seccomp_early {
            run.step(Step::Seccomp, || steps::install_seccomp(k, plan))?;
        }
        run.step_unless_skipped(Step::Bounding, plan, || steps::drop_bounding_set(k, plan, last_cap))?;
        run.step(Step::Securebits, || steps::set_securebits(k, plan))?;
        run.step(Step::SwitchUser, || steps::switch_user(k, plan))?;
        run.step(Step::Capabilities, || steps::set_capabilities(k, plan, last_cap))?;
        run.step(Step::NoNewPrivs, || steps::set_no_new_privs(k, plan))?;
        if let Some(gate) = gate {
            run.step(Step::Gate, || gate().map_err(|m| LaunchError::refused(Step::Gate, m)))?;
        }
        let landlock = run.step(Step::Landlock, || steps::restrict_landlock(k, plan, ruleset))?;
        if !plan.seccomp_early {
            run.step(Step::Seccomp, || steps::install_seccomp(k, plan))?;
        }
        let verified = run.step(Step::Verify, || verify::read_back(k, plan, &status, last_cap))?;
        Ok((Applied { steps: run.done, landlock_paths, landlock, verified, tmpdir }, report))
    }

    /// Write the report where it goes.
    fn write_report(&self, report: &Report, file: &mut Option<std::fs::File>) -> Result<(), LaunchError> {
        let text = report.to_json();
        match (&self.report_to, file.as_mut()) {
            (ReportTo::File(path), Some(f)) => f.write_all(text.as_bytes()).map_err(|e| {
                LaunchError::refused(Step::Verify, format!("cannot write report {}: {e}", path.display()))
            }),
            _ => {
                let _ = std::io::stderr().write_all(text.as_bytes());
                Ok(())
            }
        }
    }
}
