//! Landlock backend: the ruleset each ABI can enforce, and what it drops.

use serde::Serialize;

use crate::ir::Policy;
use crate::landlock_rights::{self as rights, MAX_ABI, SCOPES, SCOPE_ABI};

/// The Landlock plan for every ABI.
#[derive(Clone, Debug, Serialize)]
pub struct LandlockOutput {
    /// `enforce`, `best-effort` or `off`.
    pub mode: String,
    /// Lowest ABI the profile accepts in enforce mode.
    pub min_abi: u32,
    /// One entry per ABI 1..=MAX_ABI.
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
    pub handled_fs: Vec<String>,
    /// `handled_access_net`.
    pub handled_net: Vec<String>,
    /// `scoped`.
    pub scoped: Vec<String>,
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
    pub allowed: Vec<String>,
}

/// One `LANDLOCK_RULE_NET_PORT`.
#[derive(Clone, Debug, Serialize)]
pub struct PortPlan {
    /// TCP port.
    pub port: u16,
    /// Allowed rights.
    pub allowed: Vec<String>,
}

/// Build the plan.
pub fn landlock_output(policy: &Policy) -> LandlockOutput {
    let l = &policy.landlock;
    let mut abis = Vec::new();
    if l.mode != "off" {
        for abi in 1..=MAX_ABI {
            let fs = if l.restrict_fs { rights::all_fs(abi) } else { 0 };
            let net = if l.network.is_some() { rights::all_net(abi) } else { 0 };
            let mut dropped = Vec::new();
            let mut paths = Vec::new();
            for p in &l.filesystem {
                let bits = p.access.iter().filter_map(|a| rights::parse_access(a)).fold(0, |b, x| b | x);
                for d in rights::fs_names(bits & !fs) {
                    dropped.push(format!("{}: {d}", p.path));
                }
                paths.push(PathPlan { path: p.path.clone(), allowed: rights::fs_names(bits & fs) });
            }
            let mut ports = Vec::new();
            if let Some(n) = &l.network {
                if net == 0 {
                    dropped.push("network: bind_tcp, connect_tcp".into());
                }
                let mut all: Vec<u16> = n.bind.iter().chain(&n.connect).copied().collect();
                all.sort_unstable();
                all.dedup();
                for port in all {
                    let mut bits = 0;
                    if n.bind.contains(&port) {
                        bits |= 1;
                    }
                    if n.connect.contains(&port) {
                        bits |= 2;
                    }
                    if bits & net != 0 {
                        ports.push(PortPlan { port, allowed: rights::net_names(bits & net) });
                    }
                }
            }
            let scoped: Vec<String> = if abi >= SCOPE_ABI { l.scopes.clone() } else { vec![] };
            if abi < SCOPE_ABI {
                dropped.extend(l.scopes.iter().map(|s| format!("scope: {s}")));
            }
            debug_assert!(SCOPES.len() == 2);
            abis.push(AbiPlan {
                abi,
                accepted: l.mode == "best-effort" || abi >= l.min_abi,
                handled_fs: rights::fs_names(fs),
                handled_net: rights::net_names(net),
                scoped,
                paths,
                ports,
                dropped,
            });
        }
    }
    LandlockOutput { mode: l.mode.clone(), min_abi: l.min_abi, abis }
}
