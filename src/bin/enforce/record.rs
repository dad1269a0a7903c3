//! `enforce record -o FILE -- CMD`: the recorder (`enforcer::record`) and its output.

use std::process::ExitCode;

use enforcer::record::base::Base;
use enforcer::{Features, Options, Plan, ReportTo};

use crate::args::{Format, RecordArgs};
use crate::fail;

/// The plan of the base profile, as `enforce run` makes it (host runs: a profile with an
/// isolation section is refused, saying so).
fn base_plan(profile: &str) -> Result<(Plan, Base), String> {
    let compiled = crate::run::compile(profile, true)?;
    for w in compiled.warnings() {
        enforcer::say!("{w}");
    }
    if compiled.isolation().enabled {
        return Err(format!(
            "record: {profile} runs a container (isolation section): recording records host runs; give a profile without one"
        ));
    }
    let plan =
        Plan::new(profile, compiled, &Features::detect(), Options::default()).map_err(|e| e.to_string())?;
    let base = Base::of(&plan).map_err(|e| format!("record: {profile}: {e}"))?;
    Ok((plan, base))
}

pub fn record(a: RecordArgs) -> ExitCode {
    let command = match enforcer::Command::resolve(&a.command) {
        Ok(c) => c,
        Err(e) => return fail(e.exit_code(), e),
    };
    // The output before the command: a path that cannot be written stops the recording before
    // it runs (and a file made only for this check goes again if the recording fails).
    let existed = a.output.exists();
    // --append: the profile already there must be one a merge takes, before anything runs.
    let earlier = match (a.append, existed) {
        (true, true) => match std::fs::read_to_string(&a.output) {
            Ok(t) => match policy::frontend::loader::parse(&a.output.display().to_string(), &t) {
                Ok(_) => Some(t),
                Err(e) => return fail(125, format!("record: --append: {e}")),
            },
            Err(e) => return fail(125, format!("record: --append: cannot read {}: {e}", a.output.display())),
        },
        _ => None,
    };
    if let Err(e) = std::fs::OpenOptions::new().write(true).create(true).truncate(false).open(&a.output) {
        return fail(125, format!("record: cannot write {}: {e}", a.output.display()));
    }
    let forget = || {
        if !existed {
            let _ = std::fs::remove_file(&a.output);
        }
    };
    let Some(native) = enforcer::plan::host_arch() else {
        forget();
        return fail(125, "record: this machine's arch has no syscall table");
    };
    let under = match a.profile.as_deref().map(base_plan).transpose() {
        Ok(u) => u,
        Err(e) => {
            forget();
            return fail(125, e);
        }
    };
    let recorded = match under {
        Some((plan, base)) => enforcer::record::record_under(plan, &base, command, native, ReportTo::None)
            .map(|o| (o, Some(base))),
        None => enforcer::record::record(&command, native).map(|o| (o, None)),
    };
    let (obs, base) = match recorded {
        Ok(o) => o,
        Err(e) => {
            forget();
            return fail(125, e);
        }
    };
    let name = a.name.clone().unwrap_or_else(|| {
        let first = a.command.first().map(String::as_str).unwrap_or("learned");
        let base = first.rsplit('/').next().unwrap_or(first);
        format!("learned-{base}")
    });
    let how = enforcer::record::learned::Learn {
        name: &name,
        command: &a.command,
        native: native.name(),
        collapse: a.collapse.into(),
        base: base.as_ref(),
        root: Some(std::path::Path::new("/")),
    };
    let mut text = enforcer::record::learned::profile(&obs, &how);
    if let Some(earlier) = &earlier {
        let file = a.output.display().to_string();
        let inputs = [
            policy::merge::Input { file: &file, text: earlier },
            policy::merge::Input { file: "this run", text: &text },
        ];
        match policy::merge::merge(&inputs) {
            Ok(merged) => text = merged,
            Err(e) => return fail(125, format!("record: --append: {e}")),
        }
    }
    if let Err(e) = std::fs::write(&a.output, text) {
        return fail(125, format!("record: cannot write {}: {e}", a.output.display()));
    }
    let (names, calls): (usize, u64) = obs
        .syscalls
        .values()
        .fold((0, 0), |(n, c), m| (n + m.len(), c + m.values().map(|s| s.calls).sum::<u64>()));
    let incomplete = if obs.interrupted { " (interrupted: incomplete)" } else { "" };
    enforcer::say!(
        "enforce record: {calls} calls of {names} system calls; wrote {}{incomplete}",
        a.output.display()
    );
    if obs.syscalls.values().any(|m| m.contains_key("io_uring_setup")) {
        enforcer::say!(
            "enforce record: warning: the command set up io_uring: what it does through io_uring is not seen"
        );
    }
    for p in &obs.setid_execs {
        enforcer::say!(
            "enforce record: warning: it executed {p}, which is set-user-ID or set-group-ID: it ran without that privilege (no_new_privs); the profile does not grant it"
        );
    }
    for (arch, nrs) in &obs.unknown {
        enforcer::say!(
            "enforce record: warning: numbers no table names on {arch}: {nrs:?} (not in the profile)"
        );
    }
    if a.format == Format::Json {
        enforcer::out!("{}\n", serde_json::to_string_pretty(&obs).unwrap_or_default());
    }
    ExitCode::from(obs.status.clamp(0, 255) as u8)
}
