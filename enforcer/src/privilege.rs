//! What the caller may do. `enforce` run by root applies every step; a caller without
//! capabilities can still apply Landlock, seccomp and no_new_privs, which need no privilege.
//! Its bounding set cannot be dropped, and no_new_privs makes that harmless: no exec can gain
//! a capability. Everything else that needs root is refused before anything changes, with the
//! reason.

use std::collections::BTreeMap;

use policy::ir::RlimitIr;
use policy::vocab::{CapSet, Resource};

use crate::compiled::CompiledPolicy;
use crate::error::{LaunchError, Step};

/// The process that applies the policy, as the kernel sees it before anything changes.
#[derive(Clone, Debug)]
pub struct Caller {
    /// Its uid.
    pub uid: u32,
    /// Its gid.
    pub gid: u32,
    /// Its supplementary groups.
    pub groups: Vec<u32>,
    /// The capabilities it may use (its permitted set).
    pub permitted: CapSet,
    /// Its bounding set.
    pub bounding: CapSet,
    /// Its securebits (the kernel's whole value).
    pub securebits: u32,
    /// Its hard limits (`None`: unlimited).
    pub hard_limits: BTreeMap<Resource, Option<u64>>,
}

impl Caller {
    /// Root with every capability and no limit: what the launcher of a container, or
    /// `sudo enforce`, is.
    pub fn root() -> Caller {
        Caller {
            uid: 0,
            gid: 0,
            groups: vec![],
            permitted: CapSet::all(),
            bounding: CapSet::all(),
            securebits: 0,
            hard_limits: BTreeMap::new(),
        }
    }

    /// Whether it holds no capability at all: it can only restrict itself.
    pub fn unprivileged(&self) -> bool {
        self.permitted.is_empty()
    }
}

/// A step the plan leaves out, and why.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Skip {
    /// The step.
    pub step: Step,
    /// Why it has nothing to do.
    pub why: String,
}

/// What an unprivileged caller's plan leaves out and keeps weaker, or why it cannot run the
/// profile at all (every reason).
pub(crate) fn unprivileged(
    compiled: &CompiledPolicy,
    caller: &Caller,
    no_new_privs: bool,
    degraded: &mut Vec<String>,
) -> Result<Vec<Skip>, LaunchError> {
    let mut refusals: Vec<(Step, String)> = Vec::new();
    let p = compiled.process();
    let (uid, gid) = p.user.ids((caller.uid, caller.gid));
    if (uid, gid) != (caller.uid, caller.gid) {
        let why = format!(
            "it runs the command as {uid}:{gid} and you are {}:{} (changing ids needs CAP_SETUID and CAP_SETGID; `user: caller` runs it as you)",
            caller.uid, caller.gid
        );
        refusals.push((Step::SwitchUser, why));
    }
    let granted = compiled.capabilities().granted;
    if !granted.is_empty() {
        let why = format!(
            "it grants {} (a process without capabilities cannot give any)",
            granted.names().join(", ")
        );
        refusals.push((Step::Capabilities, why));
    }
    let securebits = u32::try_from(p.securebits.bits.bits()).unwrap_or(u32::MAX);
    if securebits != caller.securebits {
        let why = format!("it sets securebits {securebits:#x} (that needs CAP_SETPCAP)");
        refusals.push((Step::Securebits, why));
    }
    for (resource, limit) in p.rlimits.iter().filter(|(_, l)| l.raise) {
        if let Some(why) = raises(*resource, limit, caller) {
            refusals.push((Step::Rlimits, why));
        }
    }
    if !no_new_privs {
        let why = "it turns no_new_privs off, which only root may do safely: without it an exec could gain what the bounding set still holds".to_string();
        refusals.push((Step::NoNewPrivs, why));
    }
    if let Some((step, _)) = refusals.first() {
        let whys: Vec<&str> = refusals.iter().map(|(_, w)| w.as_str()).collect();
        return Err(LaunchError::refused(
            *step,
            format!("the profile needs root because {}", whys.join("; ")),
        ));
    }
    let others: Vec<String> =
        caller.groups.iter().filter(|g| **g != caller.gid).map(u32::to_string).collect();
    if !others.is_empty() {
        degraded.push(format!("supplementary groups {} kept: dropping them needs root", others.join(", ")));
    }
    Ok(vec![Skip {
        step: Step::Bounding,
        why: "the caller holds no capabilities and the profile grants none: dropping the bounding set needs CAP_SETPCAP, and no_new_privs already keeps any exec from gaining one".into(),
    }])
}

/// Why setting `limit` needs privilege: it raises the hard limit above the caller's.
fn raises(resource: Resource, limit: &RlimitIr, caller: &Caller) -> Option<String> {
    let current = caller.hard_limits.get(&resource).copied().flatten();
    let above = match (limit.hard, current) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some(want), Some(have)) => want > have,
    };
    let show = |v: Option<u64>| v.map_or_else(|| "unlimited".to_string(), |v| v.to_string());
    above.then(|| {
        format!(
            "it raises the hard limit of {resource} from {} to {} (that needs CAP_SYS_RESOURCE)",
            show(current),
            show(limit.hard)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use policy::{Arch, CompileOptions};

    fn compiled(yaml: &str) -> CompiledPolicy {
        let opts = CompileOptions { tables_for: Some(Arch::X86_64), ..Default::default() };
        CompiledPolicy::new(policy::compile_text("t.yaml", yaml, None, &opts).unwrap(), None)
    }

    fn nobody() -> Caller {
        let hard_limits = [(Resource::Nofile, Some(1024)), (Resource::Core, None)].into_iter().collect();
        Caller {
            uid: 65534,
            gid: 65534,
            groups: vec![65534, 27],
            permitted: CapSet::EMPTY,
            hard_limits,
            ..Caller::root()
        }
    }

    #[test]
    fn a_profile_for_the_caller_itself_runs_without_the_bounding_step() {
        let c = compiled("name: t\nprocess: { user: 65534, rlimits: { nofile: 512, core: 0 } }\n");
        let mut degraded = Vec::new();
        let skipped = unprivileged(&c, &nobody(), true, &mut degraded).unwrap();
        assert_eq!(skipped.iter().map(|s| s.step).collect::<Vec<_>>(), [Step::Bounding]);
        assert_eq!(degraded, ["supplementary groups 27 kept: dropping them needs root"]);
    }

    #[test]
    fn what_only_root_can_do_is_refused_with_every_reason() {
        let yaml =
            "name: t\nprocess: { user: 0, rlimits: { nofile: { soft: 4096, hard: 4096, raise: true } } }\ncapabilities: { add: [KILL] }\n";
        let e = unprivileged(&compiled(yaml), &nobody(), false, &mut Vec::new()).unwrap_err();
        let m = e.to_string();
        assert_eq!(e.step, Step::SwitchUser, "{m}");
        for why in [
            "needs root because it runs the command as 0:0 and you are 65534:65534",
            "it grants CAP_KILL",
            "it sets securebits 0x2f",
            "raises the hard limit of nofile from 1024 to 4096",
            "it turns no_new_privs off",
        ] {
            assert!(m.contains(why), "{why} not in {m}");
        }
        // Lowering a limit, or an unlimited hard limit staying unlimited, needs nothing.
        let ok = "name: t\nprocess: { user: 65534, rlimits: { nofile: 100, core: unlimited } }\n";
        assert!(unprivileged(&compiled(ok), &nobody(), true, &mut Vec::new()).is_ok());
        // A limit above the current one is a maximum: it needs nothing (the plan keeps 1024)...
        let above = "name: t\nprocess: { user: 65534, rlimits: { nofile: unlimited } }\n";
        assert!(unprivileged(&compiled(above), &nobody(), true, &mut Vec::new()).is_ok());
        // ...unless the profile says to raise it.
        let raise = "name: t\nprocess: { user: 65534, rlimits: { nofile: { soft: unlimited, hard: unlimited, raise: true } } }\n";
        let e = unprivileged(&compiled(raise), &nobody(), true, &mut Vec::new()).unwrap_err();
        assert!(e.to_string().contains("from 1024 to unlimited"), "{e}");
    }
}
