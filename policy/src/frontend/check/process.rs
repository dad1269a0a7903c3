//! `process:` user, no_new_privs, securebits, resource limits.

use std::collections::BTreeMap;

use super::Ctx;
use crate::error::Diagnostics;
use crate::frontend::loader::Layer;
use crate::frontend::profile::{Rlimit, RlimitValue, UserSpec};
use crate::ir::pathvars;
use crate::ir::{ProcessIr, RlimitIr, SecurebitsIr, UserIr};
use crate::vocab::{Resource, SecurebitsMode, TmpdirMode};

pub(super) fn check(layers: &[Layer], diags: &mut Diagnostics) -> ProcessIr {
    let mut user = UserIr::Id { uid: 0, gid: 0 };
    let mut user_set_by = Vec::new();
    let mut non_root: Option<&crate::frontend::spanned::Sp<bool>> = None;
    let mut root_at = None;
    let mut nnp = true;
    let mut securebits = None;
    let mut tmpdir = TmpdirMode::Inherit;
    let mut env = BTreeMap::new();
    let mut workdir = None;
    let mut rlimits = BTreeMap::new();
    for layer in layers {
        let Some(p) = &layer.profile.process else { continue };
        let ctx = Ctx { file: &layer.file };
        if let Some(u) = &p.user {
            user_set_by.push(layer.file.clone());
            match parse_user(&u.value) {
                Some(x) => {
                    user = x;
                    root_at = x.is_root().then(|| ctx.at(u));
                }
                None => diags.error(
                    ctx.at(u),
                    format!("invalid user {:?}", user_text(&u.value)),
                    Some(
                        "write `uid` or `uid:gid` with numbers (names are not resolved), or `caller`".into(),
                    ),
                ),
            }
        }
        if let Some(n) = &p.run_as_non_root {
            non_root = Some(n);
        }
        if let Some(n) = &p.no_new_privs {
            nnp = n.value;
        }
        if let Some(s) = &p.securebits {
            securebits = Some(s.value);
        }
        if let Some(t) = &p.tmpdir {
            tmpdir = t.value;
        }
        for (name, value) in &p.env {
            let ok = !name.is_empty() && !name.contains(['=', '\0']) && !value.value.contains('\0');
            if !ok {
                diags.error(
                    ctx.at(value),
                    format!("invalid environment variable `{name}`"),
                    Some("a name without `=`, and no NUL byte in the name or value".into()),
                );
                continue;
            }
            env.insert(name.clone(), value.value.clone());
        }
        if let Some(w) = &p.workdir {
            let checked = match pathvars::normalize(&w.value) {
                Some(r) => r,
                None => super::normalize_path(&w.value).ok_or_else(|| "not absolute".to_string()),
            };
            match checked {
                Ok(path) => workdir = Some(path),
                Err(e) => diags.error(
                    ctx.at(w),
                    format!("workdir `{}`: {e}", w.value),
                    Some(format!(
                        "write an absolute path without `..`, or start with a variable: {}",
                        pathvars::KNOWN
                    )),
                ),
            }
        }
        for (key, sp) in &p.rlimits {
            let Some(resource) = Resource::parse(key) else {
                let known: Vec<&str> = Resource::ALL.iter().map(|r| r.name()).collect();
                diags.error(
                    ctx.at(sp),
                    format!("unknown resource limit `{key}`"),
                    Some(format!("known limits: {}", known.join(", "))),
                );
                continue;
            };
            match rlimit(&sp.value) {
                Ok(r) => {
                    rlimits.insert(resource, r);
                }
                Err(m) => diags.error(
                    ctx.at(sp),
                    format!("invalid limit for `{key}`: {m}"),
                    Some("use a number, `unlimited`, or `{ soft: N, hard: M }` with soft <= hard".into()),
                ),
            }
        }
    }
    // Root keeps its capabilities across exec unless the bits say otherwise.
    let mode =
        securebits.unwrap_or(if user.is_root() { SecurebitsMode::Locked } else { SecurebitsMode::None });
    let non_root = non_root.is_some_and(|n| n.value);
    if let (true, Some(at)) = (non_root, root_at) {
        diags.error(
            at,
            "`user` is root, and `run_as_non_root` is true".to_string(),
            Some("name a non-root `uid:gid`, or drop `run_as_non_root`".into()),
        );
    }
    ProcessIr {
        user,
        user_set_by,
        non_root,
        no_new_privs: nnp,
        securebits: SecurebitsIr::of(mode),
        tmpdir,
        env,
        workdir,
        rlimits,
    }
}

fn user_text(u: &UserSpec) -> String {
    match u {
        UserSpec::Uid(n) => n.to_string(),
        UserSpec::Text(t) => t.clone(),
    }
}

fn parse_user(u: &UserSpec) -> Option<UserIr> {
    match u {
        UserSpec::Uid(n) => Some(UserIr::Id { uid: *n, gid: *n }),
        UserSpec::Text(t) if t.trim() == "caller" => Some(UserIr::Caller),
        UserSpec::Text(t) => {
            let mut it = t.splitn(2, ':');
            let uid: u32 = it.next()?.trim().parse().ok()?;
            let gid = match it.next() {
                Some(g) => g.trim().parse().ok()?,
                None => uid,
            };
            Some(UserIr::Id { uid, gid })
        }
    }
}

fn rlimit(r: &Rlimit) -> Result<RlimitIr, String> {
    let one = |v: &RlimitValue| match v {
        RlimitValue::Number(n) => Ok(Some(*n)),
        RlimitValue::Word(w) if w == "unlimited" || w == "infinity" => Ok(None),
        RlimitValue::Word(w) => Err(format!("`{w}` is not a number or `unlimited`")),
    };
    let (soft, hard, raise) = match r {
        Rlimit::Value(v) => (one(v)?, one(v)?, false),
        Rlimit::Pair { soft, hard, raise } => (one(soft)?, one(hard)?, raise.unwrap_or(false)),
    };
    if let (Some(s), Some(h)) = (soft, hard) {
        if s > h {
            return Err(format!("soft limit {s} is above hard limit {h}"));
        }
    }
    if soft.is_none() && hard.is_some() {
        return Err("soft limit unlimited is above the hard limit".into());
    }
    Ok(RlimitIr { soft, hard, raise })
}
