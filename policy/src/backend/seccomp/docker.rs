//! Docker / Podman seccomp JSON export.
//!
//! libseccomp treats the rules of a JSON profile as an unordered set, and runc drops entries
//! whose action equals the default (runc#3109) and splits entries that repeat an argument index
//! (moby#52494). So the export never relies on order, on default-action entries, or on
//! repeated indexes: per syscall and per condition context (host arch, capabilities, kernel)
//! it computes the disjoint regions where the verdict is not the default, and writes one
//! entry per region with at most one condition per argument.

use std::collections::{BTreeMap, BTreeSet};

use super::regions::{self, ArgBox, Cube, Ranked};
use crate::action::Action;
use crate::error::Error;
use crate::formats::docker::{ArchMap, DockerArg, DockerFilter, DockerProfile, DockerSyscall};
use crate::ir::{KernelVersion, Policy, RuleIr};
use crate::syscalls::arch::host_of;
use crate::syscalls::Arch;
use crate::vocab::{Cap, CapSet};

/// Most condition contexts tried for one syscall (hosts × capability combinations × kernels).
const MAX_CONTEXTS: usize = 4096;

/// The `archMap` of a policy: each family head with the sub-arches the policy accepts.
pub fn arch_map(arches: &[Arch]) -> Vec<ArchMap> {
    let mut heads: BTreeMap<Arch, Vec<Arch>> = BTreeMap::new();
    for &a in arches {
        let head = if arches.contains(&a.family_head()) { a.family_head() } else { a };
        let subs = heads.entry(head).or_default();
        if a != head {
            subs.push(a);
        }
    }
    heads
        .into_iter()
        .map(|(head, subs)| ArchMap {
            architecture: head.scmp_name(),
            sub_architectures: (!subs.is_empty()).then(|| subs.iter().map(|s| s.scmp_name()).collect()),
        })
        .collect()
}

/// `SCMP_CMP_*` conditions of a box (one per constrained argument).
pub fn box_args(b: &ArgBox) -> Vec<DockerArg> {
    let mut out = Vec::new();
    for (i, cube) in b.iter().enumerate() {
        if *cube == Cube::ANY {
            continue;
        }
        let arg = if cube.mask == u64::MAX {
            DockerArg { index: i as u32, value: cube.value, value_two: 0, op: "SCMP_CMP_EQ".into() }
        } else {
            DockerArg {
                index: i as u32,
                value: cube.mask,
                value_two: cube.value,
                op: "SCMP_CMP_MASKED_EQ".into(),
            }
        };
        out.push(arg);
    }
    out
}

fn action_fields(a: Action) -> (String, Option<u32>) {
    let (name, data) = a.scmp();
    (name.to_string(), data.map(u32::from))
}

/// A condition context: which host, which capabilities, which kernel thresholds hold.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Context {
    host: String,
    caps: Vec<bool>,
    kernel_level: usize,
}

/// Deciding rule, action name, serialized entry: entries equal in all but names merge.
type EntryKey = (usize, String, Vec<u8>);

/// Export the policy as a Docker seccomp profile.
pub fn to_docker(policy: &Policy) -> Result<DockerProfile, Error> {
    let s = &policy.seccomp;
    let (default_action, default_errno) = action_fields(s.default_action);
    let hosts: BTreeSet<String> = s.arches.iter().map(|a| host_of(*a, &s.arches).to_string()).collect();
    let arch32 = s.arches.iter().all(|a| a.is_32bit());

    let names: BTreeSet<&str> = s.rules.iter().flat_map(|r| r.syscalls.iter().map(String::as_str)).collect();
    // (rule, action, args, includes, excludes) → names.
    let mut entries: BTreeMap<EntryKey, (DockerSyscall, BTreeSet<String>)> = BTreeMap::new();
    for name in names {
        let rules: Vec<(usize, &RuleIr)> =
            s.rules.iter().enumerate().filter(|(_, r)| r.names(name)).collect();
        let caps: Vec<Cap> = rules.iter().fold(CapSet::EMPTY, |c, (_, r)| c | r.when.caps()).iter().collect();
        let kernels: Vec<KernelVersion> = rules
            .iter()
            .filter_map(|(_, r)| r.when.min_kernel)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let host_dependent =
            rules.iter().any(|(_, r)| !r.when.arches.is_empty() || !r.when.not_arches.is_empty());
        let host_list: Vec<String> =
            if host_dependent { hosts.iter().cloned().collect() } else { vec![String::new()] };
        let contexts = host_list.len() * (1usize << caps.len().min(16)) * (kernels.len() + 1);
        if caps.len() > 12 || contexts > MAX_CONTEXTS {
            return Err(Error::Export {
                format: "docker-seccomp",
                message: format!(
                    "syscall `{name}` depends on too many conditions ({} capabilities, {} kernel versions)",
                    caps.len(),
                    kernels.len()
                ),
            });
        }
        // region → contexts where it holds
        let mut found: BTreeMap<(ArgBox, Action, usize), BTreeSet<Context>> = BTreeMap::new();
        for host in &host_list {
            for bits in 0u32..(1 << caps.len()) {
                let present: Vec<bool> = (0..caps.len()).map(|i| bits & (1 << i) != 0).collect();
                let granted: CapSet =
                    caps.iter().zip(&present).filter(|(_, p)| **p).map(|(c, _)| *c).collect();
                for level in 0..=kernels.len() {
                    let ranked: Vec<Ranked<Action>> = rules
                        .iter()
                        .filter(|(_, r)| {
                            r.when.caps_ok(granted)
                                && (host.is_empty() || r.when.host_ok(host))
                                && r.when.min_kernel.is_none_or(|k| {
                                    kernels.iter().position(|x| *x == k).is_some_and(|p| p < level)
                                })
                        })
                        .map(|(i, r)| Ranked { args: &r.args, action: r.action, rule: *i })
                        .collect();
                    let ctx = Context { host: host.clone(), caps: present.clone(), kernel_level: level };
                    let mut by_rule: BTreeMap<(Action, usize), Vec<ArgBox>> = BTreeMap::new();
                    for (b, a, rule) in regions::partition(&ranked, arch32) {
                        if a != s.default_action {
                            by_rule.entry((a, rule)).or_default().push(b);
                        }
                    }
                    for ((a, rule), boxes) in by_rule {
                        for b in regions::merge(boxes) {
                            found.entry((b, a, rule)).or_default().insert(ctx.clone());
                        }
                    }
                }
            }
        }
        for ((b, action, rule), ctxs) in found {
            for (includes, excludes) in express(&ctxs, &hosts, &caps, &kernels, host_dependent, name)? {
                let (act, errno) = action_fields(action);
                let args = box_args(&b);
                let entry = DockerSyscall {
                    names: vec![],
                    name: None,
                    action: act,
                    args: (!args.is_empty()).then_some(args),
                    comment: s.rules[rule].comment.clone(),
                    includes: (!includes.is_empty()).then_some(includes),
                    excludes: (!excludes.is_empty()).then_some(excludes),
                    errno_ret: errno,
                    errno: None,
                };
                let key_json = serde_json::to_vec(&entry).unwrap_or_default();
                let slot =
                    entries.entry((rule, entry.action.clone(), key_json)).or_insert((entry, BTreeSet::new()));
                slot.1.insert(name.to_string());
            }
        }
    }
    let syscalls = entries
        .into_values()
        .map(|(mut e, names)| {
            e.names = names.into_iter().collect();
            e
        })
        .collect();
    Ok(DockerProfile {
        default_action,
        default_errno_ret: default_errno,
        architectures: vec![],
        arch_map: arch_map(&s.arches),
        syscalls,
        flags: vec![],
    })
}

/// Turn a set of contexts into Docker includes/excludes pairs (an OR of them).
fn express(
    ctxs: &BTreeSet<Context>,
    hosts: &BTreeSet<String>,
    caps: &[Cap],
    kernels: &[KernelVersion],
    host_dependent: bool,
    name: &str,
) -> Result<Vec<(DockerFilter, DockerFilter)>, Error> {
    // Group (caps, kernel level) → hosts.
    let mut by_cond: BTreeMap<(Vec<bool>, usize), BTreeSet<String>> = BTreeMap::new();
    for c in ctxs {
        by_cond.entry((c.caps.clone(), c.kernel_level)).or_default().insert(c.host.clone());
    }
    // hosts set → (caps, level) list
    let mut by_hosts: BTreeMap<BTreeSet<String>, Vec<(Vec<bool>, usize)>> = BTreeMap::new();
    for (cond, hs) in by_cond {
        by_hosts.entry(hs).or_default().push(cond);
    }
    let mut out = Vec::new();
    for (hs, conds) in by_hosts {
        // Kernel: the levels must be upward closed per caps assignment.
        let mut by_caps: BTreeMap<Vec<bool>, BTreeSet<usize>> = BTreeMap::new();
        for (c, l) in conds {
            by_caps.entry(c).or_default().insert(l);
        }
        let mut by_min: BTreeMap<usize, Vec<Vec<Option<bool>>>> = BTreeMap::new();
        for (c, levels) in by_caps {
            let min = *levels.iter().next().unwrap_or(&0);
            if levels.len() != kernels.len() + 1 - min {
                return Err(Error::Export { format: "docker-seccomp", message: format!("the verdict of `{name}` holds only below a kernel version, which Docker JSON cannot express") });
            }
            by_min.entry(min).or_default().push(c.into_iter().map(Some).collect());
        }
        for (min, terms) in by_min {
            for term in merge_terms(terms) {
                let mut inc = DockerFilter::default();
                let mut exc = DockerFilter::default();
                for (cap, v) in caps.iter().zip(&term) {
                    match v {
                        Some(true) => inc.caps.push(cap.name().to_string()),
                        Some(false) => exc.caps.push(cap.name().to_string()),
                        None => {}
                    }
                }
                if min > 0 {
                    inc.min_kernel = Some(kernels[min - 1].to_string());
                }
                if host_dependent && hs != *hosts {
                    let rest: Vec<String> = hosts.difference(&hs).cloned().collect();
                    if rest.len() < hs.len() {
                        exc.arches = rest;
                    } else {
                        inc.arches = hs.iter().cloned().collect();
                    }
                }
                out.push((inc, exc));
            }
        }
    }
    Ok(out)
}

/// Merge capability minterms that differ in one variable (disjoint terms stay disjoint).
fn merge_terms(terms: Vec<Vec<Option<bool>>>) -> Vec<Vec<Option<bool>>> {
    regions::merge_pairs(terms, |a, b| {
        let diff: Vec<usize> = (0..a.len()).filter(|k| a[*k] != b[*k]).collect();
        match diff[..] {
            [k] if a[k].is_some() && b[k].is_some() => {
                let mut m = a.clone();
                m[k] = None;
                Some(m)
            }
            _ => None,
        }
    })
}
