//! The calls runc's init makes after installing a container's seccomp filter when the
//! container does not have no_new_privs: without it, installing a filter is privileged, so
//! runc does it before it switches user and sets the capabilities, and those steps then go
//! through the filter (with no_new_privs runc installs it just before exec). Found by
//! running podman + runc on exported profiles with each call denied in turn
//! (`tests/podman_interop.rs` keeps the result honest).

use crate::ir::Policy;
use crate::syscalls::Arch;

/// `PR_CAPBSET_DROP`, as runc drops the bounding set.
const PR_CAPBSET_DROP: u64 = 24;

/// (syscall, arguments as runc passes them; 0 where any value will do).
pub const BEFORE_NO_NEW_PRIVS: [(&str, [u64; 6]); 7] = [
    ("setgroups", [0; 6]),
    ("setgid", [0; 6]),
    ("setuid", [0; 6]),
    ("capget", [0; 6]),
    ("capset", [0; 6]),
    ("prctl", [PR_CAPBSET_DROP, 0, 0, 0, 0, 0]),
    // Only for a non-root container user: runc gives it the stdio it inherits.
    ("fchown", [0; 6]),
];

/// The calls of [`BEFORE_NO_NEW_PRIVS`] the policy's filter denies (on x86-64 when it has
/// that arch, else its first arch with a table), with the verdict; empty when runc starts
/// either way.
pub fn denied_before_no_new_privs(policy: &Policy) -> Vec<String> {
    let arches = &policy.seccomp.arches;
    let Some(arch) = [Arch::X86_64, Arch::Aarch64]
        .into_iter()
        .find(|a| arches.contains(a))
        .or_else(|| arches.iter().copied().find(|a| crate::syscalls::table::table(*a).is_some()))
    else {
        return Vec::new();
    };
    BEFORE_NO_NEW_PRIVS
        .iter()
        .filter_map(|(name, args)| {
            let e = policy.evaluate_name(arch, name, *args)?;
            (!e.action.permits()).then(|| format!("{name} ({})", e.action))
        })
        .collect()
}

/// The calls libseccomp also filters through `socketcall` on some arches.
const SOCKETCALLS: [&str; 20] = [
    "socket",
    "bind",
    "connect",
    "listen",
    "accept",
    "getsockname",
    "getpeername",
    "socketpair",
    "send",
    "recv",
    "sendto",
    "recvfrom",
    "shutdown",
    "setsockopt",
    "getsockopt",
    "sendmsg",
    "recvmsg",
    "accept4",
    "recvmmsg",
    "sendmmsg",
];

/// The arches where libseccomp adds a rule for a socket call to `socketcall` too, whose
/// arguments it cannot compare there (they are in memory): x86, s390, POWER.
pub const SOCKETCALL_ARCHES: [Arch; 6] =
    [Arch::X86, Arch::S390, Arch::S390x, Arch::Ppc, Arch::Ppc64, Arch::Ppc64le];

/// The socket calls whose rules would make libseccomp refuse a JSON profile on the
/// [`SOCKETCALL_ARCHES`]: rules with argument conditions and different actions, which all
/// become the same `socketcall` rule there (runc: "error adding seccomp rule for syscall
/// socket: file exists").
pub fn socketcall_conflicts(policy: &Policy) -> Vec<&'static str> {
    let rules = &policy.seccomp.rules;
    SOCKETCALLS
        .into_iter()
        .filter(|name| {
            let naming: Vec<&crate::ir::RuleIr> =
                rules.iter().filter(|r| r.active && r.syscalls.iter().any(|s| s == name)).collect();
            let actions: std::collections::BTreeSet<String> =
                naming.iter().map(|r| r.action.to_string()).collect();
            actions.len() > 1 && naming.iter().any(|r| !r.args.is_empty())
        })
        .collect()
}

/// What to say when the JSON exports leave out the [`SOCKETCALL_ARCHES`] (see
/// [`socketcall_conflicts`]).
pub fn socketcall_warning(policy: &Policy) -> Option<String> {
    let names = socketcall_conflicts(policy);
    let dropped: Vec<&str> =
        policy.seccomp.arches.iter().filter(|a| SOCKETCALL_ARCHES.contains(a)).map(|a| a.name()).collect();
    (!names.is_empty() && !dropped.is_empty()).then(|| {
        format!(
            "the JSON profile leaves out {}: libseccomp also filters {} through socketcall there, where it cannot compare arguments, so rules with different actions collide (runc refuses the profile); calls of those arches are refused by the bad-arch action",
            dropped.join(", "),
            names.join(", ")
        )
    })
}

/// What to say at export when [`denied_before_no_new_privs`] is not empty.
pub fn export_warning(policy: &Policy) -> Option<String> {
    let denied = denied_before_no_new_privs(policy);
    if denied.is_empty() {
        return None;
    }
    Some(format!(
        "runc cannot start a container under this filter unless the container has no-new-privileges: without it runc installs the filter before it switches user and sets capabilities, which needs {}\n  fix: run with `--security-opt no-new-privileges` (docker/podman run), `\"noNewPrivileges\": true` (OCI config.json), or `allowPrivilegeEscalation: false` (Kubernetes); or allow those calls",
        denied.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{compile, CompileOptions};

    #[test]
    fn strict_needs_no_new_privs_under_runc_and_docker_default_does_not() {
        let opts = CompileOptions::default();
        let strict = compile("builtin:strict", &opts).unwrap().policy;
        let denied = denied_before_no_new_privs(&strict);
        assert!(
            denied.iter().any(|d| d.starts_with("setuid ("))
                && denied.iter().any(|d| d.starts_with("capset (")),
            "{denied:?}"
        );
        assert!(export_warning(&strict).unwrap().contains("--security-opt no-new-privileges"));
        let dd = compile("builtin:docker-default", &opts).unwrap().policy;
        assert_eq!(denied_before_no_new_privs(&dd), Vec::<String>::new());
    }
}
