//! What a plan's Landlock ruleset grants, checked for one path and the rights a call needs on
//! it, or for one TCP port: for `enforce record --profile BASE` (which learns only what BASE
//! grants) and `enforce run --explain` (which says which rights no rule grants, and which
//! rules cover the path).

use policy::ir::beneath;
use policy::vocab::{FsAccess, NetAccess, NetRight};

use crate::plan::Plan;

/// `p` with its symbolic links resolved here (as it is when it cannot be).
fn resolved(p: &str) -> String {
    std::fs::canonicalize(p).map_or_else(|_| p.to_string(), |r| r.to_string_lossy().into_owned())
}

/// One path rule, resolved.
#[derive(Clone, Debug)]
pub struct PathGrant {
    /// The path, symbolic links resolved (what the kernel's rule holds).
    pub path: String,
    /// The rights beneath it.
    pub allowed: FsAccess,
    /// Where the profile writes it (`file:line:column`), when known.
    pub origin: Option<String>,
}

/// A plan's Landlock grants.
#[derive(Clone, Debug, Default)]
pub struct Granted {
    /// Filesystem rights handled (empty: the filesystem is not restricted).
    pub handled_fs: FsAccess,
    /// The path rules.
    pub paths: Vec<PathGrant>,
    /// TCP rights handled (empty: ports are not restricted).
    pub handled_net: NetAccess,
    /// Ports and their rights.
    pub ports: Vec<(u16, NetAccess)>,
}

impl Granted {
    /// What the kernel will enforce of `plan`: its Landlock ruleset for this kernel's ABI
    /// (nothing restricted without one). For `--explain`, which says what the kernel refuses.
    pub fn enforced(plan: &Plan) -> Granted {
        let Some(r) = plan.landlock.as_ref().and_then(|l| l.ruleset.as_ref()) else {
            return Granted::default();
        };
        // The ruleset's paths are the policy's rules, in order (variables expanded).
        let origins: Vec<Option<String>> = plan.compiled.policy().map_or_else(
            |_| Vec::new(),
            |p| p.landlock.filesystem.iter().map(|f| f.origins.first().map(|o| o.to_string())).collect(),
        );
        Granted {
            handled_fs: r.handled_fs,
            paths: r
                .paths
                .iter()
                .enumerate()
                .map(|(i, p)| PathGrant {
                    path: resolved(&p.path),
                    allowed: p.allowed,
                    origin: origins.get(i).cloned().flatten(),
                })
                .collect(),
            handled_net: r.handled_net,
            ports: r.ports.iter().map(|p| (p.port, p.allowed)).collect(),
        }
    }

    /// What `plan`'s profile grants, whatever this kernel enforces of it (every right handled
    /// when it restricts the filesystem or the ports): for recording under a base profile,
    /// whose learned profile must not be wider on any kernel. `resolve`: resolve the rules'
    /// symbolic links here (not for a container's paths).
    pub fn declared(plan: &Plan, resolve: bool) -> Granted {
        let Ok(policy) = plan.compiled.policy() else { return Granted::default() };
        let l = &policy.landlock;
        if l.mode == policy::vocab::LandlockMode::Off {
            return Granted::default();
        }
        let path = |p: &str| if resolve { resolved(p) } else { p.to_string() };
        let mut ports: Vec<(u16, NetAccess)> = Vec::new();
        if let Some(n) = &l.network {
            for (list, right) in [(&n.bind, NetRight::BindTcp), (&n.connect, NetRight::ConnectTcp)] {
                for port in list {
                    match ports.iter_mut().find(|(p, _)| p == port) {
                        Some((_, a)) => a.insert(right),
                        None => ports.push((*port, [right].into_iter().collect())),
                    }
                }
            }
        }
        Granted {
            handled_fs: if l.restrict_fs { FsAccess::all() } else { FsAccess::EMPTY },
            paths: l
                .filesystem
                .iter()
                .map(|f| PathGrant {
                    path: path(&f.path),
                    allowed: f.access,
                    origin: f.origins.first().map(|o| o.to_string()),
                })
                .collect(),
            handled_net: if l.network.is_some() { NetAccess::all() } else { NetAccess::EMPTY },
            ports,
        }
    }

    /// The rules that cover `path` (it is beneath them).
    pub fn covering(&self, path: &str) -> Vec<&PathGrant> {
        self.paths.iter().filter(|g| beneath(path, &g.path)).collect()
    }

    /// The rights of `access` on `path` that no rule grants (empty: all granted). `/proc`
    /// stands for every process's entries: only a rule on `/proc` or above grants there.
    pub fn refused(&self, path: &str, access: FsAccess) -> FsAccess {
        let need = access & self.handled_fs;
        if need.is_empty() {
            return need;
        }
        need - self.covering(path).iter().fold(FsAccess::EMPTY, |acc, g| acc | g.allowed)
    }

    /// Whether binding (`bind`) or connecting to TCP `port` is refused.
    pub fn refuses_port(&self, bind: bool, port: u16) -> bool {
        let right = if bind { NetRight::BindTcp } else { NetRight::ConnectTcp };
        self.handled_net.contains(right) && !self.ports.iter().any(|(p, a)| *p == port && a.contains(right))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use policy::vocab::FsRight;

    #[test]
    fn rights_are_granted_by_the_rules_above_a_path_together() {
        let acc = |r: &[FsRight]| r.iter().copied().collect::<FsAccess>();
        let g = Granted {
            handled_fs: FsAccess::all(),
            paths: vec![
                PathGrant { path: "/srv".into(), allowed: acc(&[FsRight::READ_DIR]), origin: None },
                PathGrant { path: "/srv/www".into(), allowed: acc(&[FsRight::READ_FILE]), origin: None },
                PathGrant { path: "/proc/self".into(), allowed: acc(&[FsRight::READ_FILE]), origin: None },
            ],
            handled_net: [NetRight::BindTcp].into_iter().collect(),
            ports: vec![(80, [NetRight::BindTcp].into_iter().collect())],
        };
        let want = acc(&[FsRight::READ_FILE, FsRight::READ_DIR]);
        assert!(g.refused("/srv/www/index.html", want).is_empty());
        assert_eq!(g.refused("/srv/other", want), acc(&[FsRight::READ_FILE]));
        assert_eq!(g.refused("/srv2/x", want), want);
        // /proc stands for every process's entries: a rule on one does not grant them all.
        assert_eq!(g.refused("/proc", acc(&[FsRight::READ_FILE])), acc(&[FsRight::READ_FILE]));
        assert!(!g.refuses_port(true, 80) && g.refuses_port(true, 81) && !g.refuses_port(false, 81));
    }
}
