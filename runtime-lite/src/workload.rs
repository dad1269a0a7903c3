//! The workload: inside the container, with its root in place, it resolves its command and
//! applies the policy with the enforcer's steps ([`enforcer::Launcher`]), then execs.

use enforcer::report::IsolationReport;
use enforcer::{Command, Launcher, Plan, ReportTo};

use crate::channel::{Sender, Status};

/// What the workload process needs besides the plan.
pub(crate) struct Workload {
    /// Command and arguments.
    pub argv: Vec<String>,
    /// Where the report goes.
    pub report: ReportTo,
}

/// Apply `plan` and exec; returns (and reports over `status`) only why it did not.
pub(crate) fn exec(w: &Workload, plan: &Plan, isolation: IsolationReport, status: &Sender<Status>) -> i32 {
    let report = match &w.report {
        ReportTo::None => ReportTo::None,
        // The report file path is the host's; inside, only stderr is reachable.
        ReportTo::Stderr | ReportTo::File(_) => ReportTo::Stderr,
    };
    let e = match Command::resolve(&w.argv) {
        Ok(command) => Launcher::new(plan, report).command(command).isolation(isolation).run(),
        Err(e) => e,
    };
    let code = e.exit_code();
    status.send(&Status::Failed { code, message: e.to_string() });
    code
}
