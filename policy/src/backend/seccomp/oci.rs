//! OCI runtime-spec `linux.seccomp` export: what runc and crun take in `config.json`.
//!
//! OCI has no includes/excludes, so every condition is resolved: capabilities against the
//! profile's own set, host arch against the chosen target, kernel against the compile option.

use std::collections::BTreeMap;

use serde::Serialize;

use super::docker::{atom_args, budget_for, over_budget};
use super::regions::{self, Ranked};
use crate::action::Action;
use crate::error::Error;
use crate::formats::docker::DockerArg;
use crate::ir::eval::{applies, Env};
use crate::ir::{KernelVersion, Policy};
use crate::syscalls::arch::host_of;
use crate::syscalls::Arch;

/// The format name in messages.
const FORMAT: &str = "oci-seccomp";

/// `linux.seccomp` of an OCI config.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OciSeccomp {
    /// `SCMP_ACT_*` when nothing matches.
    pub default_action: String,
    /// errno of an `SCMP_ACT_ERRNO` default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_errno_ret: Option<u32>,
    /// `SCMP_ARCH_*` accepted on the target host.
    pub architectures: Vec<String>,
    /// Rules (disjoint, order-free).
    pub syscalls: Vec<OciSyscall>,
}

/// One OCI seccomp rule.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OciSyscall {
    /// Syscall names.
    pub names: Vec<String>,
    /// `SCMP_ACT_*`.
    pub action: String,
    /// errno / trace data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errno_ret: Option<u32>,
    /// Conditions.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<DockerArg>,
}

/// The target native arch: `prefer` if the policy has it, else the first family head.
pub fn target_arch(policy: &Policy, prefer: Option<Arch>) -> Option<Arch> {
    let arches = &policy.seccomp.arches;
    prefer
        .filter(|a| arches.contains(a))
        .or_else(|| arches.iter().copied().find(|a| a.family_head() == *a))
        .or_else(|| arches.first().copied())
}

/// The arches of the policy that run on `native`'s host.
fn oci_arches(policy: &Policy, native: Arch) -> Vec<Arch> {
    let s = &policy.seccomp;
    let socketcall = !crate::syscalls::runc::socketcall_conflicts(policy).is_empty();
    s.arches
        .iter()
        .copied()
        .filter(|a| host_of(*a, &s.arches) == host_of(native, &s.arches))
        .filter(|a| !(socketcall && crate::syscalls::runc::SOCKETCALL_ARCHES.contains(a)))
        .collect()
}

/// Export for a host whose native arch is `native`, or the error at the rule whose entries
/// would exceed the export's budget (checked before the work).
pub fn to_oci(policy: &Policy, native: Arch, kernel: Option<KernelVersion>) -> Result<OciSeccomp, Error> {
    let s = &policy.seccomp;
    let arches = oci_arches(policy, native);
    let env = Env { granted: policy.capabilities.granted, host: host_of(native, &s.arches), kernel };
    let arch32 = native.is_32bit();
    let mut budget = budget_for(policy, arch32, FORMAT, |r| r.syscalls.iter().any(|n| applies(r, n, &env)))?;
    let names: std::collections::BTreeSet<&str> =
        s.rules.iter().flat_map(|r| r.syscalls.iter().map(String::as_str)).collect();
    let mut groups: BTreeMap<(Action, String), (Vec<DockerArg>, Vec<String>)> = BTreeMap::new();
    for name in names {
        let ranked: Vec<Ranked<Action>> = s
            .rules
            .iter()
            .enumerate()
            .filter(|(_, r)| applies(r, name, &env))
            .map(|(i, r)| Ranked { args: &r.args, action: r.action, rule: i })
            .collect();
        let made = regions::entries(&ranked, s.default_action, arch32, false, &mut budget)
            .map_err(|e| over_budget(policy, FORMAT, Some(name), 1, e))?;
        for (atoms, a, _) in made {
            let args = atom_args(&atoms);
            let key = serde_json::to_string(&args).unwrap_or_default();
            groups.entry((a, key)).or_insert_with(|| (args, vec![])).1.push(name.to_string());
        }
    }
    let (default_action, default_errno_ret) = s.default_action.scmp();
    Ok(OciSeccomp {
        default_action: default_action.into(),
        default_errno_ret: default_errno_ret.map(u32::from),
        architectures: arches.iter().map(|a| a.scmp_name()).collect(),
        syscalls: groups
            .into_iter()
            .map(|((a, _), (args, names))| {
                let (action, data) = a.scmp();
                OciSyscall { names, action: action.into(), errno_ret: data.map(u32::from), args }
            })
            .collect(),
    })
}
