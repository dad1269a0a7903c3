//! `enforce run --explain`: why a call was refused. The run forks: the child applies the plan
//! as always and execs, except that its seccomp filter hands every errno verdict to the
//! parent (`SECCOMP_RET_USER_NOTIF`); the parent, outside the policy, asks the reference
//! evaluator which rule decided, prints it once per call and rule, and answers the call with
//! that errno. What the command sees is what it would see without `--explain`.

use std::collections::BTreeSet;
use std::os::fd::{AsRawFd, OwnedFd};

use policy::action::Action;
use policy::ir::eval::Decider;
use policy::Policy;

use crate::command::Command;
use crate::error::{LaunchError, Step};
use crate::granted::Granted;
use crate::launch::{Launcher, ReportTo};
use crate::plan::Plan;
use crate::supervisor::{self, Answer};
use crate::sys::{notify, Linux};

/// Run `command` under `plan` with denials explained on stderr; its exit status.
pub fn run(plan: &Plan, command: Command, report: ReportTo) -> Result<i32, LaunchError> {
    let fail = |what: &str, e: i32| LaunchError::sys(Step::Prepare, what, e);
    let policy = plan.compiled.policy().map_err(|e| LaunchError::refused(Step::Prepare, e))?;
    let pipe = || nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| fail("pipe", e as i32));
    let ((up_r, up_w), (down_r, down_w)) = (pipe()?, pipe()?);
    let Some(child) = notify::fork().map_err(|e| fail("fork", e))? else {
        drop((up_r, down_w));
        let kernel = Linux::explaining(up_w.as_raw_fd(), down_r.as_raw_fd());
        let e = Launcher::with_kernel(plan, report, kernel).command(command).run();
        crate::say!("enforce: {e}");
        std::process::exit(e.exit_code());
    };
    drop((up_w, down_r));
    let mut buf = [0u8; 4];
    // EOF: no filter was installed (the profile has none, or the run failed first).
    if let Ok(4) = nix::unistd::read(&up_r, &mut buf) {
        // Without the listener the child gets no go-ahead (the pipe closes) and fails closed.
        if let Ok(listener) = notify::take_fd(child, i32::from_ne_bytes(buf)) {
            if nix::unistd::write(&down_w, b"g").is_ok() {
                drop(down_w);
                supervise(&listener, &policy, &Granted::enforced(plan));
                return Ok(supervisor::wait(child));
            }
        }
    }
    drop(down_w);
    Ok(supervisor::wait(child))
}

/// What decided a verdict, in words: `the rule at FILE:LINE:COL`, `the default`, ...
pub(crate) fn decided_by(d: &Decider) -> String {
    match d {
        Decider::Rule { origin, .. } => format!("the rule at {origin}"),
        Decider::Default => "the default".to_string(),
        Decider::Unknown => "the unknown-syscall verdict".to_string(),
        other => format!("{other:?}"),
    }
}

fn supervise(listener: &OwnedFd, policy: &Policy, granted: &Granted) {
    let mut said: BTreeSet<(String, String)> = BTreeSet::new();
    supervisor::each(listener, |n| {
        let e = policy.evaluate(n.arch, n.nr as u32, n.args);
        let name = supervisor::name_of(n).map_or_else(|| format!("syscall {}", n.nr), |(_, s)| s.to_string());
        if e.action.permits() {
            // A call the prefix sent for Landlock: said if its rules refuse it; the kernel
            // then refuses it as always.
            for (what, why) in landlock_refusals(n, &name, granted) {
                if said.insert((what.clone(), why.clone())) {
                    crate::say!("enforce: explain: {what} → EACCES by Landlock: {why}");
                }
            }
            return Answer::Run;
        }
        let by = decided_by(&e.decided_by);
        if said.insert((name.clone(), by.clone())) {
            let args: Vec<String> = n.args[..3].iter().map(|a| format!("{a:#x}")).collect();
            crate::say!("enforce: explain: {name}({}, ...) → {} by {by}", args.join(", "), e.action);
        }
        match e.action {
            Action::Errno(errno) => Answer::Fail(i32::from(errno)),
            // The evaluator and the program agree (tests prove it); should they not, the
            // stricter answer.
            _ => Answer::Fail(libc::EPERM),
        }
    });
}

/// What Landlock refuses of call `name` of `n` under `granted`: the call as said, and why.
fn landlock_refusals(n: &notify::Notification, name: &str, granted: &Granted) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if matches!(name, "bind" | "connect") {
        if let Some(port) = crate::record::port_of(n).filter(|p| granted.refuses_port(name == "bind", *p)) {
            let list = if name == "bind" { "bind" } else { "connect" };
            out.push((
                format!("{name}(port {port})"),
                format!("port {port} is not in the profile's network.{list}"),
            ));
        }
        if name == "connect" {
            return out;
        }
    }
    for t in crate::record::paths::touches(n, name).touches {
        let refused = granted.refused(&t.path, t.access);
        if refused.is_empty() {
            continue;
        }
        let rules: Vec<String> = granted
            .covering(&t.path)
            .iter()
            .map(|g| {
                let at = g.origin.as_ref().map(|o| format!(" at {o}")).unwrap_or_default();
                format!("{} [{}]{at}", g.path, g.allowed.names().join(", "))
            })
            .collect();
        let cover = match rules.is_empty() {
            true => "no rule covers it".to_string(),
            false => format!("the rules covering it grant only: {}", rules.join("; ")),
        };
        out.push((
            format!("{name}({})", t.path),
            format!("{} not granted there ({cover})", refused.names().join(", ")),
        ));
    }
    out
}
