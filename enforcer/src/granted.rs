//! What a plan's Landlock ruleset grants, checked for one path and the rights a call needs on
//! it, or for one TCP port: for `enforce record --profile BASE` (which learns only what BASE
//! grants) and `enforce run --explain` (which says which rights no rule grants, and which
//! rules cover the path).

use std::path::Path;

use policy::ir::beneath;
use policy::vocab::{FsAccess, NetAccess, NetRight};

use crate::plan::Plan;

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
    /// What `plan` grants (nothing restricted when it has no Landlock ruleset).
    pub fn of(plan: &Plan) -> Granted {
        let Some(r) = plan.landlock.as_ref().and_then(|l| l.ruleset.as_ref()) else {
            return Granted::default();
        };
        // The ruleset's paths are the policy's rules, in order (variables expanded).
        let origins: Vec<Option<String>> = plan.compiled.policy().map_or_else(
            |_| Vec::new(),
            |p| p.landlock.filesystem.iter().map(|f| f.origins.first().map(|o| o.to_string())).collect(),
        );
        let resolve = |p: &str| {
            std::fs::canonicalize(p).map_or_else(|_| p.to_string(), |r| r.to_string_lossy().into_owned())
        };
        Granted {
            handled_fs: r.handled_fs,
            paths: r
                .paths
                .iter()
                .enumerate()
                .map(|(i, p)| PathGrant {
                    path: resolve(&p.path),
                    allowed: p.allowed,
                    origin: origins.get(i).cloned().flatten(),
                })
                .collect(),
            handled_net: r.handled_net,
            ports: r.ports.iter().map(|p| (p.port, p.allowed)).collect(),
        }
    }

    /// The rules that cover `path` (it is beneath them). `/proc` stands for any process's
    /// entry: rules beneath `/proc` cover it too.
    pub fn covering(&self, path: &str) -> Vec<&PathGrant> {
        self.paths
            .iter()
            .filter(|g| {
                beneath(path, &g.path) || (path == "/proc" && Path::new(&g.path).starts_with("/proc"))
            })
            .collect()
    }

    /// The rights of `access` on `path` that no rule grants (empty: all granted).
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
        assert!(g.refused("/proc", acc(&[FsRight::READ_FILE])).is_empty());
        assert!(!g.refuses_port(true, 80) && g.refuses_port(true, 81) && !g.refuses_port(false, 81));
    }
}
