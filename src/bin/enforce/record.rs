//! `enforce record -o FILE -- CMD`: the recorder (`enforcer::record`, in a container through
//! `runtime_lite::record`) and its output.

use std::path::PathBuf;
use std::process::ExitCode;

use enforcer::record::base::Base;
use enforcer::record::Observations;
use enforcer::{Features, Options, Plan, ReportTo};
use policy::ir::ProcessIr;

use crate::args::{Format, RecordArgs};
use crate::fail;

/// The base profile's plan, as `enforce run` makes it; `rootfs`: `--rootfs` was given.
fn base_plan(profile: &str, rootfs: bool) -> Result<(Plan, Base), String> {
    let compiled = crate::run::compile(profile, true)?;
    for w in compiled.warnings() {
        enforcer::say!("{w}");
    }
    let plan =
        Plan::new(profile, compiled, &Features::detect(), Options::default()).map_err(|e| e.to_string())?;
    let contained = rootfs || plan.compiled.isolation().enabled;
    let base = Base::of(&plan, contained).map_err(|e| format!("record: {profile}: {e}"))?;
    Ok((plan, base))
}

/// What a recording saw, the base it was made under, and where its root is now.
struct Recorded {
    obs: Observations,
    /// In a container with a PID-1 shim.
    shim: bool,
    base: Option<Base>,
    root: Option<PathBuf>,
    process: Option<ProcessIr>,
}

/// Record `a.command` on the host or, with `--rootfs` or a base with an isolation section, in
/// a container.
fn run(a: &RecordArgs, native: policy::Arch) -> Result<Recorded, (i32, String)> {
    let under =
        a.profile.as_deref().map(|p| base_plan(p, a.rootfs.is_some())).transpose().map_err(|e| (125, e))?;
    let contained = a.rootfs.is_some() || under.as_ref().is_some_and(|(p, _)| p.compiled.isolation().enabled);
    if contained {
        let (plan, base) = match under {
            Some((plan, base)) => (plan, Some(base)),
            None => {
                (runtime_lite::record::unconfined_plan().map_err(|e| (e.exit_code(), e.to_string()))?, None)
            }
        };
        let process = Some(plan.compiled.process().clone());
        let iso = plan.compiled.isolation();
        let shim = iso.init && iso.namespaces.contains(policy::vocab::Namespace::Pid);
        let rootfs =
            a.rootfs.clone().or_else(|| plan.compiled.isolation().rootfs.as_ref().map(PathBuf::from));
        let obs =
            runtime_lite::record::contained(plan, base.as_ref(), a.command.clone(), rootfs.clone(), native)
                .map_err(|e| (e.exit_code(), e.to_string()))?;
        return Ok(Recorded { obs, shim, base, root: rootfs, process });
    }
    let command = enforcer::Command::resolve(&a.command).map_err(|e| (e.exit_code(), e.to_string()))?;
    let (obs, base) = match under {
        Some((plan, base)) => {
            (enforcer::record::record_under(plan, &base, command, native, ReportTo::None), Some(base))
        }
        None => (enforcer::record::record(&command, native), None),
    };
    let obs = obs.map_err(|e| (125, e.to_string()))?;
    let process = base.as_ref().map(|b| b.process.clone());
    Ok(Recorded { obs, shim: false, base, root: Some(PathBuf::from("/")), process })
}

/// The learned profile against its base, as `policyc diff BASE learned.yaml` compares them:
/// anything wider is said on stderr and at the top of the profile (the recorder's own check of
/// its promise; the tests hold it to none).
fn not_wider(base: &str, text: String) -> String {
    let opts = policy::CompileOptions::default();
    let cwd = std::env::current_dir().ok();
    let learned = policy::compile_text("learned.yaml", &text, cwd.as_deref(), &opts);
    let (Ok(b), Ok(l)) = (policy::diff::input::load(base, &opts), learned) else {
        enforcer::say!("enforce record: warning: the learned profile could not be compared with {base}");
        return text;
    };
    let d = policy::diff::diff(&b, &l.policy);
    let wider: Vec<String> = d
        .changes
        .iter()
        .filter(|c| c.class == policy::diff::Class::Widen)
        .map(|c| format!("{} {}", c.subject, c.message))
        .collect();
    if wider.is_empty() {
        return text;
    }
    let mut head = String::new();
    for w in &wider {
        enforcer::say!("enforce record: warning: wider than {base}: {w}");
        head.push_str(&format!("# Warning: wider than {base}: {}\n", w.replace(['\n', '\r'], " ")));
    }
    head + &text
}

pub fn record(a: RecordArgs) -> ExitCode {
    // A host command that is not there is 127 before anything else.
    if a.rootfs.is_none() && a.profile.is_none() {
        if let Err(e) = enforcer::Command::resolve(&a.command) {
            return fail(e.exit_code(), e);
        }
    }
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
    let Recorded { obs, shim, base, root, process } = match run(&a, native) {
        Ok(r) => r,
        Err((code, e)) => {
            forget();
            return fail(code, e);
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
        process: process.as_ref(),
        root: root.as_deref(),
        shim,
    };
    let mut text = enforcer::record::learned::profile(&obs, &how);
    if let Some(b) = &base {
        text = not_wider(&b.name, text);
    }
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
            "enforce record: warning: it executed {p}, which is set-user-ID or set-group-ID: {}",
            if obs.no_new_privs {
                "it ran without that privilege (no_new_privs); the profile does not grant it"
            } else {
                "it ran with that privilege (the base sets no no_new_privs); the profile grants only what the calls show"
            }
        );
    }
    if let Some(b) = &base {
        for (what, why) in &obs.denied {
            enforcer::say!("enforce record: refused by {}, not learned: {what}: {why}", b.name);
        }
    }
    if obs.unread > 0 {
        enforcer::say!(
            "enforce record: warning: {} calls' memory arguments could not be read (the process gone, or out of reach): what they touched is not in the profile",
            obs.unread
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
