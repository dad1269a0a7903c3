//! Capabilities backend: the five sets with their masks, and the Docker CLI form.

use serde::Serialize;

use crate::ir::{Policy, UserIr};
use crate::vocab::caps::docker_default;
use crate::vocab::CapSet;

/// What the caps tier applies.
#[derive(Clone, Debug, Serialize)]
pub struct CapsOutput {
    /// `uid:gid`.
    pub user: String,
    /// The sets with names and `/proc/self/status` masks.
    pub sets: Vec<CapSetOutput>,
    /// Securebits value (`PR_SET_SECUREBITS`).
    pub securebits: String,
    /// `PR_SET_NO_NEW_PRIVS`.
    pub no_new_privs: bool,
    /// The same capabilities as Docker CLI flags.
    pub docker_cli: Vec<String>,
}

/// One capability set.
#[derive(Clone, Debug, Serialize)]
pub struct CapSetOutput {
    /// `bounding`, `permitted`, ...
    pub set: &'static str,
    /// Hex mask as in `/proc/self/status` (`CapBnd:` ...).
    pub mask: String,
    /// The capabilities.
    pub caps: CapSet,
}

/// Docker flags giving the same capabilities, user and no_new_privs.
pub fn docker_cli(policy: &Policy) -> Vec<String> {
    let granted = policy.capabilities.granted;
    let mut out = Vec::new();
    if granted != docker_default() {
        out.push("--cap-drop".into());
        out.push("ALL".into());
        for c in granted.iter() {
            out.push("--cap-add".into());
            out.push(c.name().trim_start_matches("CAP_").to_string());
        }
    }
    let p = &policy.process;
    match p.user {
        UserIr::Id { uid: 0, gid: 0 } => {}
        UserIr::Id { uid, gid } => out.extend(["--user".into(), format!("{uid}:{gid}")]),
        UserIr::Caller => out.extend(["--user".into(), "$(id -u):$(id -g)".into()]),
    }
    if p.no_new_privs {
        out.push("--security-opt".into());
        out.push("no-new-privileges".into());
    }
    out
}

/// Build the caps output.
pub fn caps_output(policy: &Policy) -> CapsOutput {
    let sets = policy
        .capabilities
        .sets()
        .into_iter()
        .map(|(set, caps)| CapSetOutput { set, mask: format!("{:016x}", caps.bits()), caps })
        .collect();
    CapsOutput {
        user: policy.process.user.to_string(),
        sets,
        securebits: format!("{:#x}", policy.process.securebits.bits.bits()),
        no_new_privs: policy.process.no_new_privs,
        docker_cli: docker_cli(policy),
    }
}
