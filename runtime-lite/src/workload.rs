//! The workload: inside the container, with its root in place, it resolves its command and
//! applies the policy with the enforcer's steps ([`enforcer::Launcher`]), then execs.

use std::collections::BTreeMap;

use enforcer::command::DEFAULT_PATH;
use enforcer::report::IsolationReport;
use enforcer::{Command, Launcher, Plan, ReportTo};
use policy::ir::IsolationIr;
use policy::vocab::Namespace;

use crate::channel::{Sender, Status};

/// What the workload process needs besides the plan.
pub(crate) struct Workload {
    /// Command and arguments.
    pub argv: Vec<String>,
    /// Where the report goes.
    pub report: ReportTo,
    /// `enforce record`: where the recording filter's listener goes.
    pub recording: Option<enforcer::record::Handoff>,
}

/// Apply `plan` and exec; returns (and reports over `status`) only why it did not.
pub(crate) fn exec(
    w: &Workload,
    plan: &Plan,
    isolation: IsolationReport,
    status: &Sender<Status>,
    terminal: Option<&std::os::fd::OwnedFd>,
) -> i32 {
    if let Some(peer) = terminal {
        if let Err(e) = crate::console::take(peer) {
            status.send(&Status::Failed { code: 125, message: format!("the workload's terminal: {e}") });
            return 125;
        }
    }
    let report = match &w.report {
        ReportTo::None => ReportTo::None,
        // The report file path is the host's; inside, only stderr is reachable.
        ReportTo::Stderr | ReportTo::File(_) => ReportTo::Stderr,
    };
    let e = match (command(plan, &w.argv, terminal.is_some()), &w.recording) {
        (Ok(command), None) => Launcher::new(plan, report).command(command).isolation(isolation).run(),
        (Ok(command), Some(handoff)) => match handoff.kernel() {
            Ok(kernel) => {
                Launcher::with_kernel(plan, report, kernel).command(command).isolation(isolation).run()
            }
            Err(e) => {
                enforcer::LaunchError::sys(enforcer::error::Step::Prepare, "the recording's descriptors", e)
            }
        },
        (Err(e), _) => e,
    };
    let code = e.exit_code();
    status.send(&Status::Failed { code, message: e.to_string() });
    code
}

/// `argv` as a process in the container runs it: found in its environment, from its workdir;
/// with a terminal, `TERM=xterm` unless the profile sets it (as Docker does).
pub(crate) fn command(
    plan: &Plan,
    argv: &[String],
    terminal: bool,
) -> Result<Command, enforcer::LaunchError> {
    let p = plan.compiled.process();
    let mut env = environment(plan.compiled.isolation(), plan.uid, &p.env);
    if terminal && !env.iter().any(|(k, _)| k == "TERM") {
        env.push(("TERM".into(), "xterm".into()));
    }
    let dir = std::path::Path::new(p.workdir.as_deref().unwrap_or("/"));
    Command::resolve_in(argv, &env, Some(dir))
}

/// The environment a process in the container starts with, as Docker gives it: nothing of the
/// caller's (whose secrets stay on the host), `PATH`, `HOSTNAME` (with a uts namespace), and
/// `HOME` (`/root` for uid 0, else `/`); then the profile's `process.env`, which wins.
pub(crate) fn environment(
    iso: &IsolationIr,
    uid: u32,
    profile: &BTreeMap<String, String>,
) -> Vec<(String, String)> {
    let mut env = vec![("PATH".to_string(), DEFAULT_PATH.to_string())];
    if iso.namespaces.contains(Namespace::Uts) {
        env.push(("HOSTNAME".into(), iso.host_name().to_string()));
    }
    env.push(("HOME".into(), if uid == 0 { "/root" } else { "/" }.to_string()));
    env.retain(|(k, _)| !profile.contains_key(k));
    env.extend(profile.iter().map(|(k, v)| (k.clone(), v.clone())));
    env
}
