//! `enforce record` in a container (`--rootfs DIR`, or a base profile with an isolation
//! section): the container is started as `enforce run` starts it, its workload installs the
//! recording filter and hands the listener back over a socket (`SCM_RIGHTS`), and
//! [`enforcer::record`] records from outside, resolving paths beneath the container's root.

use std::path::PathBuf;

use enforcer::record::base::Base;
use enforcer::record::Observations;
use enforcer::{CompiledPolicy, Features, Options, Plan, ReportTo};
use policy::syscalls::Arch;

use crate::error::RunError;
use crate::launcher::{self, Container};

/// What a container runs under when the recording has no base profile: no filter of its own
/// (the recorder lets every call run), no Landlock, container root's capabilities.
const UNCONFINED: &str =
    "name: recording\ndescription: A container recorded without a base profile\nseccomp:\n  default: allow\n";

/// The plan of a container recorded without a base profile.
pub fn unconfined_plan() -> Result<Plan, RunError> {
    let opts = policy::CompileOptions { tables_for: enforcer::plan::host_arch(), ..Default::default() };
    let compiled = policy::compile_text("recording.yaml", UNCONFINED, None, &opts)
        .map_err(|e| RunError::Compiled(e.to_string()))?;
    let compiled = CompiledPolicy::new(compiled, opts.tables_for);
    Ok(Plan::new("recording", compiled, &Features::detect(), Options::default())?)
}

/// Run `argv` in a container under `plan` (from `rootfs`, or the plan's own root), with every
/// call recorded (and answered as `base` would, when given); what was seen.
pub fn contained(
    mut plan: Plan,
    base: Option<&Base>,
    argv: Vec<String>,
    rootfs: Option<PathBuf>,
    native: Arch,
) -> Result<Observations, RunError> {
    enforcer::record::recording_plan(&mut plan, native).map_err(|e| RunError::Invalid(e.to_string()))?;
    let rootfs = rootfs.or_else(|| plan.compiled.isolation().rootfs.as_ref().map(PathBuf::from));
    let no_new_privs = plan.no_new_privs;
    let mut obs = enforcer::record::record_with(base, move |handoff| {
        let c = Container {
            plan,
            argv,
            rootfs,
            layer: None,
            image: None,
            report: ReportTo::None,
            name: None,
            on_started: None,
            tty: false,
            interactive: false,
            recording: Some(handoff),
        };
        match launcher::run(c) {
            Ok(status) => status,
            Err(e) => {
                enforcer::say!("enforce: {e}");
                e.exit_code()
            }
        }
    })
    .map_err(|e| RunError::Invalid(e.to_string()))?;
    // The recorder's working, home and temporary directories are not the container's.
    obs.vars.clear();
    obs.no_new_privs = no_new_privs;
    Ok(obs)
}
