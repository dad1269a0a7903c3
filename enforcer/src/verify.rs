//! Step 12, `verify`: read everything back from the kernel before exec, and refuse to exec
//! when anything differs from the plan: the ids, the five capability sets, no_new_privs and
//! the seccomp mode from `/proc/thread-self/status`, and the securebits.

use std::collections::BTreeMap;
use std::os::fd::OwnedFd;

use crate::error::{LaunchError, Step};
use crate::plan::Plan;
use crate::sys::Kernel;

fn status_field<'a>(status: &'a str, key: &str) -> Option<&'a str> {
    status.lines().find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix(':'))).map(str::trim)
}

/// What was read back, by field; `Err` names the first field that differs.
pub(crate) fn read_back<K: Kernel>(
    k: &mut K,
    plan: &Plan,
    status: &OwnedFd,
    last_cap: u8,
) -> Result<BTreeMap<String, String>, LaunchError> {
    let text = k
        .read_status(status)
        .map_err(|e| LaunchError::sys(Step::Verify, "read /proc/thread-self/status", e))?;
    let all = if last_cap >= 63 { u64::MAX } else { (1u64 << (last_cap + 1)) - 1 };
    let (uid, gid, c) = (plan.uid, plan.gid, plan.caps);
    let want: [(&str, String); 9] = [
        ("Uid", format!("{uid}\t{uid}\t{uid}\t{uid}")),
        ("Gid", format!("{gid}\t{gid}\t{gid}\t{gid}")),
        ("CapInh", format!("{:016x}", c.inheritable.bits() & all)),
        ("CapPrm", format!("{:016x}", c.permitted.bits() & all)),
        ("CapEff", format!("{:016x}", c.effective.bits() & all)),
        ("CapBnd", format!("{:016x}", c.bounding.bits() & all)),
        ("CapAmb", format!("{:016x}", c.ambient.bits() & all)),
        ("NoNewPrivs", if plan.no_new_privs { "1".into() } else { "0".into() }),
        ("Seccomp", if plan.seccomp.is_some() || plan.stacked.is_some() { "2".into() } else { "0".into() }),
    ];
    let mut verified = BTreeMap::new();
    for (key, value) in want {
        let got = status_field(&text, key).unwrap_or("").replace(' ', "\t");
        if got != value {
            return Err(LaunchError::refused(
                Step::Verify,
                format!("{key} is `{got}` after applying the policy, expected `{value}`"),
            ));
        }
        verified.insert(key.to_string(), got.replace('\t', " "));
    }
    let sb = k.securebits().map_err(|e| LaunchError::sys(Step::Verify, "PR_GET_SECUREBITS", e))?;
    if sb != plan.raw_securebits() {
        return Err(LaunchError::refused(
            Step::Verify,
            format!("securebits are {sb:#x}, expected {:#x}", plan.raw_securebits()),
        ));
    }
    verified.insert("securebits".into(), format!("{sb:#x}"));
    if let Some(f) = status_field(&text, "Seccomp_filters") {
        verified.insert("Seccomp_filters".into(), f.to_string());
    }
    Ok(verified)
}
