//! The per-arch seccomp tables in a cache entry, stored compactly: reading them back is most of
//! the work of a cache hit, and the IR's JSON form (one `"NR VERDICT ORIGIN"` string per
//! syscall) is made for people. Here each arch has its names in one string, one
//! `[nr, verdict, origin]` triple of small numbers per name, and the verdicts and origins once.

use std::collections::BTreeMap;

use policy::ir::{ArchTable, SyscallIr};
use policy::Action;
use serde::{Deserialize, Serialize};

/// `origin` index of a verdict that the default decided.
const DEFAULT: u32 = u32::MAX;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Compact {
    audit_arch: u32,
    host: String,
    max_nr: u32,
    /// Names of the argument-free entries, in order, separated by spaces.
    names: String,
    /// Per name: number, index into `actions`, index into `origins` (or [`DEFAULT`]).
    entries: Vec<(u32, u32, u32)>,
    /// Entries with argument conditions, as in the IR.
    conditional: BTreeMap<String, SyscallIr>,
}

/// Every arch's table.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Tables {
    actions: Vec<Action>,
    origins: Vec<String>,
    arches: BTreeMap<String, Compact>,
}

fn index_of<T: PartialEq + Clone>(list: &mut Vec<T>, v: &T) -> u32 {
    match list.iter().position(|x| x == v) {
        Some(i) => i as u32,
        None => {
            list.push(v.clone());
            list.len() as u32 - 1
        }
    }
}

impl Tables {
    /// Encode.
    pub(super) fn new(tables: &BTreeMap<String, ArchTable>) -> Tables {
        let (mut actions, mut origins) = (Vec::new(), Vec::new());
        let mut arches = BTreeMap::new();
        for (arch, t) in tables {
            let mut c = Compact {
                audit_arch: t.audit_arch,
                host: t.host.clone(),
                max_nr: t.max_nr,
                names: String::new(),
                entries: Vec::new(),
                conditional: BTreeMap::new(),
            };
            for (name, s) in &t.syscalls {
                if !s.conditional.is_empty() {
                    c.conditional.insert(name.clone(), s.clone());
                    continue;
                }
                if !c.names.is_empty() {
                    c.names.push(' ');
                }
                c.names.push_str(name);
                let origin = s.origin.as_ref().map_or(DEFAULT, |o| index_of(&mut origins, o));
                c.entries.push((s.nr, index_of(&mut actions, &s.action), origin));
            }
            arches.insert(arch.clone(), c);
        }
        Tables { actions, origins, arches }
    }

    /// Decode; `None` when the entry does not hold together.
    pub(super) fn into_tables(self) -> Option<BTreeMap<String, ArchTable>> {
        let mut out = BTreeMap::new();
        for (arch, c) in self.arches {
            let names: Vec<&str> = c.names.split(' ').filter(|n| !n.is_empty()).collect();
            if names.len() != c.entries.len() {
                return None;
            }
            let mut syscalls: Vec<(String, SyscallIr)> =
                Vec::with_capacity(c.entries.len() + c.conditional.len());
            let mut count = 0;
            for (name, &(nr, action, origin)) in names.into_iter().zip(&c.entries) {
                let action = *self.actions.get(action as usize)?;
                let origin = match origin {
                    DEFAULT => None,
                    i => Some(self.origins.get(i as usize)?.clone()),
                };
                syscalls.push((name.to_string(), SyscallIr { nr, action, origin, conditional: Vec::new() }));
                count += 1;
            }
            if count != c.entries.len() {
                return None;
            }
            let expected = count + c.conditional.len();
            syscalls.extend(c.conditional);
            // Names were written in order; the conditional ones merge in (from_iter sorts).
            let syscalls: BTreeMap<String, SyscallIr> = syscalls.into_iter().collect();
            if syscalls.len() != expected {
                return None;
            }
            let t = ArchTable { audit_arch: c.audit_arch, host: c.host, max_nr: c.max_nr, syscalls };
            out.insert(arch, t);
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tables() -> BTreeMap<String, ArchTable> {
        let opts = policy::CompileOptions::default();
        policy::compile("builtin:docker-default", &opts).unwrap().policy.seccomp.tables
    }

    #[test]
    fn round_trip() {
        let t = tables();
        let json = serde_json::to_string(&Tables::new(&t)).unwrap();
        let back = serde_json::from_str::<Tables>(&json).unwrap().into_tables().unwrap();
        assert_eq!(serde_json::to_string(&back).unwrap(), serde_json::to_string(&t).unwrap());
    }

    #[test]
    fn entries_that_do_not_hold_together_are_refused() {
        let t = tables();
        let mut c = Tables::new(&t);
        c.arches.get_mut("x86_64").unwrap().entries[0].1 = 999;
        assert!(c.into_tables().is_none(), "verdict index out of range");
        let mut c = Tables::new(&t);
        c.arches.get_mut("x86_64").unwrap().entries[0].2 = 999;
        assert!(c.into_tables().is_none(), "origin index out of range");
        let mut c = Tables::new(&t);
        c.arches.get_mut("x86_64").unwrap().entries.pop();
        assert!(c.into_tables().is_none(), "a name without its verdict");
        let mut c = Tables::new(&t);
        let x = c.arches.get_mut("x86_64").unwrap();
        let mut parts: Vec<String> = x.names.split(' ').map(String::from).collect();
        parts[1] = parts[0].clone();
        x.names = parts.join(" ");
        assert!(c.into_tables().is_none(), "a name twice");
    }
}
