//! Capabilities backend: the five sets with their masks, and the Docker CLI form.

use serde::Serialize;

use crate::caps::{Cap, DOCKER_DEFAULT};
use crate::ir::Policy;

/// What the caps tier applies.
#[derive(Clone, Debug, Serialize)]
pub struct CapsOutput {
    /// `uid:gid`.
    pub user: String,
    /// The sets with names and `/proc/self/status` masks.
    pub sets: Vec<CapSet>,
    /// Securebits value (`PR_SET_SECUREBITS`).
    pub securebits: String,
    /// `PR_SET_NO_NEW_PRIVS`.
    pub no_new_privs: bool,
    /// The same capabilities as Docker CLI flags.
    pub docker_cli: Vec<String>,
}

/// One capability set.
#[derive(Clone, Debug, Serialize)]
pub struct CapSet {
    /// `bounding`, `permitted`, ...
    pub set: &'static str,
    /// Hex mask as in `/proc/self/status` (`CapBnd:` ...).
    pub mask: String,
    /// `CAP_*` names.
    pub caps: Vec<String>,
}

fn mask_of(names: &[String]) -> u64 {
    names.iter().filter_map(|n| Cap::parse(n)).fold(0, |m, c| m | 1 << c.0)
}

/// Docker flags giving the same capabilities, user and no_new_privs.
pub fn docker_cli(policy: &Policy) -> Vec<String> {
    let granted = &policy.capabilities.granted;
    let default: Vec<String> = DOCKER_DEFAULT.iter().filter_map(|c| Cap::parse(c)).map(Cap::name).collect();
    let mut sorted_default = default.clone();
    sorted_default.sort_by_key(|n| Cap::parse(n).map(|c| c.0));
    let mut out = Vec::new();
    if *granted != sorted_default {
        out.push("--cap-drop".into());
        out.push("ALL".into());
        for c in granted {
            out.push("--cap-add".into());
            out.push(c.trim_start_matches("CAP_").to_string());
        }
    }
    let p = &policy.process;
    if p.uid != 0 || p.gid != 0 {
        out.push("--user".into());
        out.push(format!("{}:{}", p.uid, p.gid));
    }
    if p.no_new_privs {
        out.push("--security-opt".into());
        out.push("no-new-privileges".into());
    }
    out
}

/// Build the caps output.
pub fn caps_output(policy: &Policy) -> CapsOutput {
    let c = &policy.capabilities;
    let set = |name, caps: &Vec<String>| CapSet {
        set: name,
        mask: format!("{:016x}", mask_of(caps)),
        caps: caps.clone(),
    };
    CapsOutput {
        user: format!("{}:{}", policy.process.uid, policy.process.gid),
        sets: vec![
            set("bounding", &c.bounding),
            set("permitted", &c.permitted),
            set("effective", &c.effective),
            set("inheritable", &c.inheritable),
            set("ambient", &c.ambient),
        ],
        securebits: format!("{:#x}", policy.process.securebits.bits),
        no_new_privs: policy.process.no_new_privs,
        docker_cli: docker_cli(policy),
    }
}
