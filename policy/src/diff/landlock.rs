//! Landlock: mode and ABI, the rights each path effectively has (a rule covers everything
//! beneath its path), ports and scopes.

use std::collections::{BTreeMap, BTreeSet};

use super::{more_is_wider, Change, Class, Tier};
use crate::ir::{beneath, LandlockIr, PathRuleIr};
use crate::vocab::{FsAccess, LandlockMode};

fn strictness(mode: LandlockMode) -> u8 {
    match mode {
        LandlockMode::Enforce => 2,
        LandlockMode::BestEffort => 1,
        LandlockMode::Off => 0,
    }
}

fn effective(rules: &[PathRuleIr], path: &str) -> BTreeSet<&'static str> {
    let access = rules.iter().filter(|r| r.covers(path)).fold(FsAccess::EMPTY, |a, r| a | r.access);
    access.names().into_iter().collect()
}

fn list<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    items.into_iter().collect::<Vec<_>>().join(", ")
}

pub(super) fn landlock(old: &LandlockIr, new: &LandlockIr, out: &mut Vec<Change>) {
    let change = |class, subject: &str, message: String| Change::new(Tier::Landlock, class, subject, message);
    if old.mode != new.mode {
        let class = more_is_wider(strictness(new.mode), strictness(old.mode));
        out.push(change(class, "mode", format!("{} → {}", old.mode, new.mode)));
    }
    if old.min_abi != new.min_abi && new.mode != LandlockMode::Off && old.mode != LandlockMode::Off {
        // A lower minimum accepts kernels that enforce less.
        let class = more_is_wider(new.min_abi, old.min_abi);
        out.push(change(class, "min_abi", format!("{} → {}", old.min_abi, new.min_abi)));
    }
    match (old.restrict_fs, new.restrict_fs) {
        (true, false) => out.push(change(Class::Widen, "filesystem", "no longer restricted".into())),
        (false, true) => {
            out.push(change(Class::Narrow, "filesystem", "now restricted to the listed paths".into()))
        }
        (true, true) => paths(&old.filesystem, &new.filesystem, out),
        (false, false) => {}
    }
    match (&old.network, &new.network) {
        (Some(_), None) => {
            out.push(change(Class::Widen, "network", "no longer restricted (any TCP port)".into()))
        }
        (None, Some(n)) => out.push(change(
            Class::Narrow,
            "network",
            format!("now restricted (bind {:?}, connect {:?})", n.bind, n.connect),
        )),
        (Some(o), Some(n)) => {
            for (what, a, b) in [("bind", &o.bind, &n.bind), ("connect", &o.connect, &n.connect)] {
                let added: Vec<String> = b.iter().filter(|p| !a.contains(p)).map(u16::to_string).collect();
                let removed: Vec<String> = a.iter().filter(|p| !b.contains(p)).map(u16::to_string).collect();
                if !added.is_empty() {
                    out.push(change(
                        Class::Widen,
                        &format!("{what} ports"),
                        format!("now also {}", added.join(", ")),
                    ));
                }
                if !removed.is_empty() {
                    out.push(change(
                        Class::Narrow,
                        &format!("{what} ports"),
                        format!("no longer {}", removed.join(", ")),
                    ));
                }
            }
        }
        (None, None) => {}
    }
    for s in (new.scopes - old.scopes).names() {
        out.push(change(Class::Narrow, &format!("scope {s}"), "now scoped".into()));
    }
    for s in (old.scopes - new.scopes).names() {
        out.push(change(Class::Widen, &format!("scope {s}"), "no longer scoped".into()));
    }
}

/// Rights gained and lost per path, each reported once at the highest path where it happens.
fn paths(old: &[PathRuleIr], new: &[PathRuleIr], out: &mut Vec<Change>) {
    let all: BTreeSet<&str> = old.iter().chain(new).map(|r| r.path.as_str()).collect();
    let mut seen: BTreeMap<&str, (BTreeSet<&str>, BTreeSet<&str>)> = BTreeMap::new();
    for p in &all {
        let (o, n) = (effective(old, p), effective(new, p));
        let gained: BTreeSet<&str> = n.difference(&o).copied().collect();
        let lost: BTreeSet<&str> = o.difference(&n).copied().collect();
        let parent = seen.iter().rev().find(|(q, _)| *q != p && beneath(p, q)).map(|(_, v)| v.clone());
        let (pg, pl) = parent.unwrap_or_default();
        let new_gain: Vec<&str> = gained.difference(&pg).copied().collect();
        let new_loss: Vec<&str> = lost.difference(&pl).copied().collect();
        if !new_gain.is_empty() {
            out.push(Change::new(
                Tier::Landlock,
                Class::Widen,
                *p,
                format!("now also allows {}", list(new_gain)),
            ));
        }
        if !new_loss.is_empty() {
            out.push(Change::new(
                Tier::Landlock,
                Class::Narrow,
                *p,
                format!("no longer allows {}", list(new_loss)),
            ));
        }
        seen.insert(p, (gained, lost));
    }
}
