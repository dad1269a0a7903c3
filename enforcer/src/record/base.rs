//! Recording under a base profile (`enforce record --profile BASE`): the command runs under
//! BASE's tiers as `enforce run` applies them, except that its seccomp filter asks the recorder
//! about every call. The recorder answers as BASE's filter would (the reference evaluator) and
//! learns only what BASE let through; a path BASE's Landlock rules refuse, or a port, is
//! reported as denied, never learned (the kernel refuses it anyway). So the learned profile is
//! never wider than BASE.

use std::path::Path;

use policy::action::Action;
use policy::ir::{beneath, ProcessIr};
use policy::vocab::{FsAccess, NetAccess, NetRight};
use policy::Policy;

use super::paths::Touch;
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
    /// Filesystem rights Landlock handles under BASE (empty: none restricted).
    handled_fs: FsAccess,
    /// Its path rules, resolved.
    paths: Vec<(String, FsAccess)>,
    /// Its Landlock section as far as the learned profile keeps it: the lowest ABI, the
    /// scopes, and whether TCP ports are restricted (`None`: no Landlock).
    pub landlock: Option<(u32, Vec<&'static str>, bool)>,
    /// Whether TCP ports are restricted, and the ports allowed for each right.
    handled_net: NetAccess,
    ports: Vec<(u16, NetAccess)>,
}

/// A call BASE's seccomp filter refuses: its verdict, and the rule.
pub struct Refused {
    /// The verdict.
    pub action: Action,
    /// `the rule at FILE:LINE:COL`, `the default`, ...
    pub by: String,
}

impl Base {
    /// BASE as `plan` applies it.
    pub fn of(plan: &Plan) -> Result<Base, String> {
        let policy = plan.compiled.policy()?;
        let ruleset = plan.landlock.as_ref().and_then(|l| l.ruleset.as_ref());
        let resolve = |p: &str| {
            std::fs::canonicalize(p).map_or_else(|_| p.to_string(), |r| r.to_string_lossy().into_owned())
        };
        let l = &policy.landlock;
        let landlock = (l.mode != policy::vocab::LandlockMode::Off)
            .then(|| (l.min_abi, l.scopes.names(), l.network.is_some()));
        Ok(Base {
            name: plan.profile.clone(),
            landlock,
            process: plan.compiled.process().clone(),
            handled_fs: ruleset.map_or(FsAccess::EMPTY, |r| r.handled_fs),
            paths: ruleset
                .map_or_else(Vec::new, |r| r.paths.iter().map(|p| (resolve(&p.path), p.allowed)).collect()),
            handled_net: ruleset.map_or(NetAccess::EMPTY, |r| r.handled_net),
            ports: ruleset.map_or_else(Vec::new, |r| r.ports.iter().map(|p| (p.port, p.allowed)).collect()),
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
        let need = t.access & self.handled_fs;
        if need.is_empty() {
            return need;
        }
        let granted = self
            .paths
            .iter()
            .filter(|(p, _)| beneath(&t.path, p) || (t.path == "/proc" && Path::new(p).starts_with("/proc")))
            .fold(FsAccess::EMPTY, |acc, (_, a)| acc | *a);
        need - granted
    }

    /// Whether BASE's Landlock rules refuse binding (`bind`) or connecting to TCP `port`.
    pub fn refuses_port(&self, bind: bool, port: u16) -> bool {
        let right = if bind { NetRight::BindTcp } else { NetRight::ConnectTcp };
        self.handled_net.contains(right) && !self.ports.iter().any(|(p, a)| *p == port && a.contains(right))
    }
}
