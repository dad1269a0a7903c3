//! Landlock backend: the ruleset each ABI can enforce, and what it drops.

use serde::Serialize;

use crate::ir::Policy;
use crate::vocab::landlock::MAX_ABI;
use crate::vocab::{Flag, FsAccess, LandlockMode, NetAccess, NetRight, ScopeSet};

/// The Landlock plan for every ABI.
#[derive(Clone, Debug, Serialize)]
pub struct LandlockOutput {
    /// How strictly it is applied.
    pub mode: LandlockMode,
    /// Lowest ABI the profile accepts in enforce mode.
    pub min_abi: u32,
    /// One entry per ABI 1..=MAX_ABI (none when the mode is `off`).
    pub abis: Vec<AbiPlan>,
}

/// The ruleset for one ABI.
#[derive(Clone, Debug, Serialize)]
pub struct AbiPlan {
    /// ABI version.
    pub abi: u32,
    /// Whether the profile may run on a kernel with exactly this ABI (always true in
    /// best-effort mode; in enforce mode: `abi >= min_abi`).
    pub accepted: bool,
    /// `handled_access_fs`.
    pub handled_fs: FsAccess,
    /// `handled_access_net`.
    pub handled_net: NetAccess,
    /// `scoped`.
    pub scoped: ScopeSet,
    /// Path rules (`allowed_access` ∩ handled).
    pub paths: Vec<PathPlan>,
    /// Port rules.
    pub ports: Vec<PortPlan>,
    /// Rights or scopes the profile asks for that this ABI cannot enforce.
    pub dropped: Vec<String>,
}

/// One `LANDLOCK_RULE_PATH_BENEATH`.
#[derive(Clone, Debug, Serialize)]
pub struct PathPlan {
    /// Path.
    pub path: String,
    /// Allowed rights.
    pub allowed: FsAccess,
}

/// One `LANDLOCK_RULE_NET_PORT`.
#[derive(Clone, Debug, Serialize)]
pub struct PortPlan {
    /// TCP port.
    pub port: u16,
    /// Allowed rights.
    pub allowed: NetAccess,
}

/// Build the plan.
pub fn landlock_output(policy: &Policy) -> LandlockOutput {
    let l = &policy.landlock;
    let abis = match l.mode {
        LandlockMode::Off => vec![],
        _ => (1..=MAX_ABI).map(|abi| abi_plan(policy, abi)).collect(),
    };
    LandlockOutput { mode: l.mode, min_abi: l.min_abi, abis }
}

/// The ruleset of one ABI.
pub fn abi_plan(policy: &Policy, abi: u32) -> AbiPlan {
    let l = &policy.landlock;
    let fs = if l.restrict_fs { FsAccess::for_abi(abi) } else { FsAccess::EMPTY };
    let net = if l.network.is_some() { NetAccess::for_abi(abi) } else { NetAccess::EMPTY };
    let mut dropped = Vec::new();
    let mut paths = Vec::new();
    for p in &l.filesystem {
        for d in (p.access - fs).names() {
            dropped.push(format!("{}: {d}", p.path));
        }
        paths.push(PathPlan { path: p.path.clone(), allowed: p.access & fs });
    }
    let mut ports = Vec::new();
    if let Some(n) = &l.network {
        if net.is_empty() {
            dropped.push("network: bind_tcp, connect_tcp".into());
        }
        let mut all: Vec<u16> = n.bind.iter().chain(&n.connect).copied().collect();
        all.sort_unstable();
        all.dedup();
        for port in all {
            let mut allowed = NetAccess::EMPTY;
            if n.bind.contains(&port) {
                allowed.insert(NetRight::BindTcp);
            }
            if n.connect.contains(&port) {
                allowed.insert(NetRight::ConnectTcp);
            }
            if !(allowed & net).is_empty() {
                ports.push(PortPlan { port, allowed: allowed & net });
            }
        }
    }
    let scoped = l.scopes & ScopeSet::for_abi(abi);
    dropped.extend((l.scopes - scoped).iter().map(|s| format!("scope: {}", s.name())));
    AbiPlan {
        abi,
        accepted: l.mode == LandlockMode::BestEffort || abi >= l.min_abi,
        handled_fs: fs,
        handled_net: net,
        scoped,
        paths,
        ports,
        dropped,
    }
}
