//! The one entry point of `enforce run`: it decides, from the request and the profile, whether
//! the workload runs on the host (the enforcer's launcher execs it in place), in a container
//! (the [`crate::launcher`]), detached (the [`crate::keeper`]), or not at all (`--dry-run`:
//! the plan is reported).

use std::path::{Path, PathBuf};

use enforcer::report::Report;
use enforcer::{Command, CompiledPolicy, Features, Launcher, Options, Plan, ReportTo};

use crate::error::RunError;
use crate::keeper;
use crate::launcher::{self, Container};
use crate::name::ContainerName;

/// What `enforce run` was asked.
pub struct Request {
    /// The profile as given (for reports and a detached container's state).
    pub profile: String,
    /// The compiled profile (with this machine's program, from the compile cache).
    pub compiled: CompiledPolicy,
    /// Command and arguments.
    pub argv: Vec<String>,
    /// Root filesystem: run in a container even when the profile has no isolation section.
    pub rootfs: Option<PathBuf>,
    /// A writable layer over `rootfs` (an image's): made by
    /// [`crate::image::store::Store::new_layer`], it goes with the container.
    pub layer: Option<PathBuf>,
    /// The image `rootfs` is, for the report; its user's supplementary groups are the
    /// workload's.
    pub image: Option<enforcer::report::ImageReport>,
    /// Where the report goes.
    pub report: ReportTo,
    /// Landlock best-effort whatever the profile says.
    pub best_effort: bool,
    /// The container's name (needed to detach).
    pub name: Option<ContainerName>,
    /// Run detached.
    pub detach: bool,
    /// Report the plan and run nothing.
    pub dry_run: bool,
    /// `--rm`: a detached container's state and logs go when it exits.
    pub auto_remove: bool,
    /// `-t`: the workload gets a terminal (containers only).
    pub tty: bool,
    /// `-i`: stdin is relayed to it (foreground only).
    pub interactive: bool,
    /// `--explain`: each seccomp denial is said on stderr, with the rule that decided it (host
    /// runs).
    pub explain: bool,
}

/// How a run went, when it returns at all (a host run execs in place).
#[derive(Debug)]
pub enum Started {
    /// A container ran in the foreground and exited with this status.
    Exited(i32),
    /// A detached container runs under this name.
    Detached(ContainerName),
    /// `--dry-run`: what would be applied.
    Planned(Box<Report>),
}

/// Removes a container's writable layer unless a detached container's keeper took it.
struct LayerGuard(Option<PathBuf>);

impl Drop for LayerGuard {
    fn drop(&mut self) {
        if let Some(dir) = self.0.take() {
            crate::image::writable::remove_layer(&dir);
        }
    }
}

/// Run `r` as it asks.
pub fn start(mut r: Request) -> Result<Started, RunError> {
    let mut layer = LayerGuard(r.layer.take());
    let contained = r.rootfs.is_some() || r.compiled.isolation().enabled;
    if r.detach && !contained {
        return Err(RunError::Invalid(
            "-d runs a container: give --rootfs or use a profile with an isolation section".into(),
        ));
    }
    if r.tty && !contained {
        return Err(RunError::Invalid(
            "-t gives a container's workload a terminal: give --rootfs or use a profile with an isolation section (on the host the command has your terminal already)".into(),
        ));
    }
    if r.interactive && r.detach {
        return Err(RunError::Invalid("-i relays your stdin: it needs a foreground run (not -d)".into()));
    }
    if r.interactive && r.tty && !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        return Err(RunError::Invalid(
            "the input device is not a TTY: -i -t relays a terminal (drop -t to pass a pipe or file as the workload's stdin)".into(),
        ));
    }
    let name = match (r.detach, &r.name) {
        (true, Some(n)) => Some(n.clone()),
        (true, None) => return Err(RunError::Invalid("-d needs --name".into())),
        (false, n) => n.clone(),
    };
    // On the host the command is found first (127 and 126 come before any refusal of the
    // policy); in a container it is found inside, once its root is in place.
    // A profile's workdir may use path variables: that command is found once the plan has
    // expanded them.
    let (env, workdir) = (&r.compiled.process().env, r.compiled.process().workdir.is_some());
    let early = match contained || workdir {
        true => None,
        false => Some(Command::resolve_with_overrides(&r.argv, env, None)?),
    };
    // A container's workload is root of its own user namespace, whoever starts it.
    let features = match contained {
        true => Features::detect().in_container(),
        false => Features::detect(),
    };
    let mut plan = Plan::new(&r.profile, r.compiled, &features, Options { best_effort: r.best_effort })?;
    if let Some(i) = &r.image {
        plan.groups = i.groups.clone();
    }
    if r.explain {
        if contained {
            return Err(RunError::Invalid("--explain explains host runs (not a container's)".into()));
        }
        // Every errno verdict goes to the explaining supervisor, which answers it the same way;
        // so do the calls whose paths and ports Landlock checks, which it lets run.
        for s in plan.seccomp.iter_mut().chain(plan.stacked.iter_mut()) {
            s.filter = s.filter.errno_notified();
        }
        if let Some(s) = plan.seccomp.as_mut() {
            let target = s.program.target;
            let t = policy::syscalls::table::table(target);
            let nrs: Vec<u32> =
                enforcer::record::paths::CALLS.iter().filter_map(|c| t.and_then(|t| t.nr(c))).collect();
            s.filter = s.filter.notifying(target.audit_arch(), &nrs);
        }
    }
    let command = match early {
        Some(c) => Some(c),
        None if contained => None,
        None => {
            let p = plan.compiled.process();
            Some(Command::resolve_with_overrides(&r.argv, &p.env, p.workdir.as_deref().map(Path::new))?)
        }
    };
    // The profile's root (its variables now expanded) unless the command line names one.
    let rootfs = r.rootfs.or_else(|| plan.compiled.isolation().rootfs.as_ref().map(PathBuf::from));
    if !r.dry_run && !matches!(r.report, ReportTo::Stderr) {
        // What will be weaker than the profile asks (a --best-effort drop, groups kept): said
        // on stderr (where a report written there says it too), not only in a report.
        for d in &plan.degraded {
            enforcer::say!("enforce: warning: {d}");
        }
    }
    match (command, r.dry_run) {
        (Some(command), false) if r.explain => {
            Ok(Started::Exited(enforcer::explain::run(&plan, command, r.report)?))
        }
        (Some(command), false) => Err(Launcher::new(&plan, r.report).command(command).run().into()),
        (Some(command), true) => {
            let mut report = Report::planned(&plan, Some(&command))?;
            report.note_missing_paths();
            Ok(Started::Planned(Box::new(report)))
        }
        (None, true) => {
            let mut report = Report::planned(&plan, None)?;
            report.command = r.argv;
            let mut isolation = launcher::planned(plan.compiled.isolation(), rootfs.as_deref())?;
            isolation.image = r.image;
            report.isolation = Some(isolation);
            Ok(Started::Planned(Box::new(report)))
        }
        (None, false) => {
            let c = Container {
                plan,
                argv: r.argv,
                rootfs,
                layer: layer.0.clone(),
                image: r.image,
                report: r.report,
                name: name.clone(),
                on_started: None,
                tty: r.tty,
                interactive: r.interactive,
                recording: None,
            };
            match name.filter(|_| r.detach) {
                Some(name) => {
                    let detached = keeper::detach(c, &name, &r.profile, r.auto_remove);
                    if detached.is_ok() {
                        layer.0 = None; // the keeper's, removed with the container
                    }
                    detached.map(|()| Started::Detached(name))
                }
                None => launcher::run(c).map(Started::Exited),
            }
        }
    }
}
