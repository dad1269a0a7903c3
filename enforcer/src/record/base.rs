//! Recording under a base profile (`enforce record --profile BASE`): the command runs under
//! BASE's tiers as `enforce run` applies them, except that its seccomp filter asks the recorder
//! about every call. The recorder answers as BASE's filter would (the reference evaluator) and
//! learns only what BASE let through; a path BASE's Landlock rules refuse, or a port, is
//! reported as denied, never learned (the kernel refuses it anyway). So the learned profile is
//! never wider than BASE.

use policy::action::Action;
use policy::ir::ProcessIr;
use policy::vocab::FsAccess;
use policy::Policy;

use super::paths::Touch;
use crate::granted::Granted;
use crate::plan::Plan;
use crate::sys::notify::Notification;

/// What BASE allows, as the recorder checks it.
#[derive(Debug)]
pub struct Base {
    /// The profile as given.
    pub name: String,
    /// Its policy (for the seccomp verdicts).
    policy: Policy,
    /// Its process section (the learned profile keeps it: user, limits, environment).
    pub process: ProcessIr,
    /// Its Landlock section as far as the learned profile keeps it: the lowest ABI, the
    /// scopes, and whether TCP ports are restricted (`None`: no Landlock).
    pub landlock: Option<(u32, Vec<&'static str>, bool)>,
    /// What its Landlock rules grant.
    granted: Granted,
}

/// A call BASE's seccomp filter refuses: its verdict, and the rule.
pub struct Refused {
    /// The verdict.
    pub action: Action,
    /// `the rule at FILE:LINE:COL`, `the default`, ...
    pub by: String,
}

impl Base {
    /// BASE as `plan` applies it; `contained`: the command runs in a container (BASE's paths
    /// are the container's, not resolved here).
    pub fn of(plan: &Plan, contained: bool) -> Result<Base, String> {
        let policy = plan.compiled.policy()?;
        let l = &policy.landlock;
        let landlock = (l.mode != policy::vocab::LandlockMode::Off)
            .then(|| (l.min_abi, l.scopes.names(), l.network.is_some()));
        Ok(Base {
            name: plan.profile.clone(),
            landlock,
            process: plan.compiled.process().clone(),
            granted: Granted::declared(plan, !contained),
            policy,
        })
    }

    /// BASE's verdict for call `n`, when it is not to let it run.
    pub fn refuses(&self, n: &Notification) -> Option<Refused> {
        let e = self.policy.evaluate(n.arch, n.nr as u32, n.args);
        (!e.action.permits())
            .then(|| Refused { action: e.action, by: crate::explain::decided_by(&e.decided_by) })
    }

    /// The rights of `t` that BASE's Landlock rules do not grant (empty: all granted).
    pub fn refused_rights(&self, t: &Touch) -> FsAccess {
        self.granted.refused(&t.path, t.access)
    }

    /// BASE's policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Whether BASE lets call `name` with `args` run on `arch`.
    pub fn permits(&self, arch: policy::Arch, name: &str, args: [u64; 6]) -> bool {
        self.policy.evaluate_name(arch, name, args).is_some_and(|e| e.action.permits())
    }

    /// The rights of `access` at `path` that BASE's Landlock rules do not grant.
    pub fn refused_at(&self, path: &str, access: FsAccess) -> FsAccess {
        self.granted.refused(path, access)
    }

    /// Whether BASE's Landlock rules refuse binding (`bind`) or connecting to TCP `port`.
    pub fn refuses_port(&self, bind: bool, port: u16) -> bool {
        self.granted.refuses_port(bind, port)
    }
}
