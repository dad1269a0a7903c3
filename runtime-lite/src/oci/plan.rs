//! The process's part of a bundle as an enforcer [`Plan`]: the same apply steps as
//! `enforce run`, with config.json's values. Its `linux.seccomp` is imported as `policyc
//! import` imports Docker JSON (runc + libseccomp's meaning: first argument-free rule wins,
//! rules with the default action dropped, unknown names skipped, runc's ENOSYS stub) and
//! compiled by Palisade's BPF generator.

use enforcer::{CompiledPolicy, Features, Options, Plan};
use policy::frontend::profile::{Capabilities, Landlock};
use policy::frontend::spanned::Sp;
use policy::vocab::{LandlockMode, Securebits};

use super::config::ProcessSpec;
use super::OciError;

/// The profile behind a bundle without `linux.seccomp`: nothing of its own (its allow-all
/// filter is not installed).
const NO_SECCOMP: &str =
    "name: oci\ncapabilities: { add: [ALL] }\nseccomp: { default: allow }\nlandlock: { mode: off }\n";

/// The compiled policy of `seccomp` (config.json's `linux.seccomp` as JSON), or of nothing.
/// Named `oci` whatever the container, so that every container with the same section shares
/// one cache entry.
fn compiled(seccomp: Option<&str>) -> Result<CompiledPolicy, OciError> {
    let opts = policy::CompileOptions { tables_for: enforcer::plan::host_arch(), ..Default::default() };
    let text = match seccomp {
        None => NO_SECCOMP.to_string(),
        Some(json) => {
            let file = "config.json#linux.seccomp";
            let mut imported = policy::import::import_text(file, "oci", json)
                .map_err(|e| OciError::Policy(e.to_string()))?;
            let p = &mut imported.profile;
            p.capabilities =
                Some(Capabilities { add: vec![Sp::new("ALL".into())], ..Capabilities::default() });
            p.landlock = Some(Landlock { mode: Some(Sp::new(LandlockMode::Off)), ..Landlock::default() });
            policy::import::to_yaml(p).map_err(|e| OciError::Policy(e.to_string()))?
        }
    };
    // Through the compile cache: the same section (an engine's default profile) comes again
    // and again, and compiling it costs more than the rest of `create`.
    enforcer::cache::compile_text("config.json", &text, &opts).map_err(|e| OciError::Policy(e.to_string()))
}

/// A Palisade profile applied on top of config.json (`--profile`, or the
/// `org.palisade.profile` annotation): it can only narrow.
pub fn profile(spec: &str) -> Result<Plan, OciError> {
    let opts = policy::CompileOptions { tables_for: enforcer::plan::host_arch(), ..Default::default() };
    let (compiled, _) = enforcer::cache::compile(spec, &opts, true)
        .map_err(|e| OciError::Policy(format!("cannot compile {spec}:\n{e}")))?;
    Ok(Plan::new(spec, compiled, &Features::detect(), Options { best_effort: false })?)
}

/// `plan` narrowed by the profile's `over`: every capability set within what the profile
/// grants, its seccomp filter stacked on config.json's (both must allow), its Landlock rules
/// (paths as the container sees them: applied after pivot_root), no_new_privs when either
/// asks (Landlock needs it). The ids, rlimits and environment stay config.json's.
pub fn narrow(mut plan: Plan, over: Plan) -> Plan {
    let g = over.caps.granted;
    let c = &mut plan.caps;
    (c.bounding, c.permitted, c.effective, c.inheritable, c.ambient) =
        (c.bounding & g, c.permitted & g, c.effective & g, c.inheritable & g, c.ambient & g);
    c.granted = c.granted & g;
    plan.stacked = over.seccomp;
    plan.landlock = over.landlock;
    plan.no_new_privs |= over.no_new_privs;
    plan.seccomp_early = !plan.no_new_privs;
    plan.degraded.extend(over.degraded);
    plan.profile = format!("{} + {}", plan.profile, over.profile);
    plan
}

/// The plan for `process` with config.json's seccomp section.
pub fn plan(id: &str, process: &ProcessSpec, seccomp: Option<&str>) -> Result<Plan, OciError> {
    let compiled = compiled(seccomp)?;
    let mut plan =
        Plan::new(&format!("oci:{id}"), compiled, &Features::detect(), Options { best_effort: false })?;
    if seccomp.is_none() {
        plan.seccomp = None;
    }
    plan.uid = process.uid;
    plan.gid = process.gid;
    plan.groups.clone_from(&process.groups);
    plan.caps = process.caps;
    plan.no_new_privs = process.no_new_privs;
    // Without no_new_privs the filter needs CAP_SYS_ADMIN: installed before it is dropped.
    plan.seccomp_early = !process.no_new_privs;
    plan.securebits = Securebits::EMPTY;
    plan.rlimits.clone_from(&process.rlimits);
    plan.skipped.clear();
    Ok(plan)
}
