//! `landlock:` the mode, the minimum ABI, path rules merged per path, ports and scopes.

use std::collections::{BTreeMap, BTreeSet};

use super::{normalize_path, Ctx};
use crate::error::{Diagnostics, Origin};
use crate::frontend::loader::Layer;
use crate::ir::pathvars;
use crate::ir::{LandlockIr, NetworkIr, PathRuleIr};
use crate::vocab::landlock::{MAX_ABI, NET_ABI, SCOPE_ABI};
use crate::vocab::{Flag, FsAccess, FsRight, LandlockMode, Scope, ScopeSet};

pub(super) fn check(layers: &[Layer], diags: &mut Diagnostics) -> LandlockIr {
    let mut present = false;
    let mut mode = LandlockMode::Enforce;
    let mut min_abi: Option<(u32, Origin)> = None;
    let mut paths: BTreeMap<String, (FsAccess, Vec<Origin>)> = BTreeMap::new();
    let mut network: Option<(BTreeSet<u16>, BTreeSet<u16>)> = None;
    let mut scopes = ScopeSet::EMPTY;
    for layer in layers {
        let Some(l) = &layer.profile.landlock else { continue };
        present = true;
        let ctx = Ctx { file: &layer.file };
        if let Some(m) = &l.mode {
            mode = m.value;
        }
        if let Some(a) = &l.min_abi {
            if a.value == 0 || a.value > MAX_ABI {
                diags.error(
                    ctx.at(a),
                    format!("min_abi {} is out of range", a.value),
                    Some(format!("Landlock ABIs are 1..={MAX_ABI}")),
                );
            }
            min_abi = Some((a.value, ctx.at(a)));
        }
        for rule in &l.filesystem {
            let p = &rule.value.path;
            let path = match pathvars::normalize(&p.value) {
                Some(Ok(path)) => path,
                Some(Err(e)) => {
                    diags.error(
                        ctx.at(p),
                        format!("landlock path `{}`: {e}", p.value),
                        Some(format!("start it with `/` or a variable: {}", pathvars::KNOWN)),
                    );
                    continue;
                }
                None => match normalize_path(&p.value) {
                    Some(path) => path,
                    None => {
                        diags.error(
                            ctx.at(p),
                            format!("landlock path `{}` is not absolute", p.value),
                            Some("write an absolute path without `..`, e.g. /var/cache/web, or start with a variable such as ${CWD}".into()),
                        );
                        continue;
                    }
                },
            };
            let mut access = FsAccess::EMPTY;
            for a in &rule.value.access {
                match FsAccess::parse_group(&a.value) {
                    Some(b) => access |= b,
                    None => diags.error(
                        ctx.at(a),
                        format!("unknown filesystem access right `{}`", a.value),
                        Some(format!(
                            "use read, write, execute, all or one of: {}",
                            FsRight::ALL.iter().map(|r| r.name()).collect::<Vec<_>>().join(", ")
                        )),
                    ),
                }
            }
            if rule.value.access.is_empty() {
                diags.error(
                    ctx.at(rule),
                    format!("landlock rule for `{path}` grants nothing"),
                    Some("list the rights, or drop the rule (unlisted paths are denied)".into()),
                );
            }
            let e = paths.entry(path).or_default();
            e.0 |= access;
            e.1.push(ctx.at(rule));
        }
        if let Some(n) = &l.network {
            let (b, c) = network.get_or_insert_with(Default::default);
            b.extend(n.bind.iter().map(|p| p.value));
            c.extend(n.connect.iter().map(|p| p.value));
        }
        for s in l.scope.iter().flatten() {
            match Scope::parse(&s.value) {
                Some(scope) => scopes.insert(scope),
                None => diags.error(
                    ctx.at(s),
                    format!("unknown landlock scope `{}`", s.value),
                    Some("scopes are `abstract-unix-socket` and `signal`".into()),
                ),
            }
        }
    }
    let mut needed = paths.values().map(|(access, _)| access.min_abi()).max().unwrap_or(0);
    if network.is_some() {
        needed = needed.max(NET_ABI);
    }
    if !scopes.is_empty() {
        needed = needed.max(SCOPE_ABI);
    }
    let min_abi = match min_abi {
        Some((v, at)) => {
            if v < needed && mode == LandlockMode::Enforce {
                diags.warning(
                    at,
                    format!("min_abi {v} is below ABI {needed}, which the rules need"),
                    Some(format!("on kernels with ABI {v}..{needed} some rights cannot be enforced and will be dropped; raise min_abi to {needed} to refuse such kernels")),
                );
            }
            v
        }
        None => needed,
    };
    LandlockIr {
        mode: if present { mode } else { LandlockMode::Off },
        min_abi,
        restrict_fs: !paths.is_empty(),
        filesystem: paths
            .into_iter()
            .map(|(path, (access, origins))| PathRuleIr { path, access, origins })
            .collect(),
        network: network
            .map(|(b, c)| NetworkIr { bind: b.into_iter().collect(), connect: c.into_iter().collect() }),
        scopes,
    }
}
