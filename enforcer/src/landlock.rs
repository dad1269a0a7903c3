//! Landlock: the ruleset is built while still privileged (path fds opened before the uid
//! switch), and enforced by `restrict_self` after no_new_privs.

use landlock::{
    AccessFs, AccessNet, BitFlags, CompatLevel, Compatible, NetPort, PathBeneath, PathFd, Ruleset,
    RulesetAttr, RulesetCreated, RulesetCreatedAttr, RulesetStatus, Scope,
};
use policy::landlock_rights::{self as rights, FS_RIGHTS, SCOPES};

use crate::error::{LaunchError, Step};
use crate::plan::LandlockPlan;

fn fs_bits(names: &[String]) -> u64 {
    names.iter().filter_map(|n| rights::parse_access(n)).fold(0, |b, x| b | x)
}

fn net_bits(names: &[String]) -> u64 {
    rights::NET_RIGHTS
        .iter()
        .filter(|(n, _, _)| names.iter().any(|x| x == n))
        .fold(0, |b, (_, bit, _)| b | bit)
}

fn scope_bits(names: &[String]) -> u64 {
    SCOPES.iter().filter(|(n, _)| names.iter().any(|x| x == n)).fold(0, |b, (_, bit)| b | bit)
}

/// Rights that only make sense on directories.
fn dir_only() -> u64 {
    FS_RIGHTS.iter().filter(|r| !r.file).fold(0, |b, r| b | r.bit)
}

/// What was done with one path rule.
#[derive(Clone, Debug, serde::Serialize)]
pub struct PathOutcome {
    /// Path.
    pub path: String,
    /// Rights granted beneath it.
    pub allowed: Vec<String>,
    /// Why some or all rights were not granted (missing path, directory rights on a file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A ruleset ready to enforce.
pub struct Prepared {
    ruleset: RulesetCreated,
    /// The path rules as added.
    pub paths: Vec<PathOutcome>,
}

fn err(what: impl std::fmt::Display) -> LaunchError {
    LaunchError::new(Step::Prepare, 125, format!("landlock: {what}"))
}

/// Create the ruleset and add every rule (opens each path now).
pub fn prepare(plan: &LandlockPlan) -> Result<Option<Prepared>, LaunchError> {
    let Some(abi) = &plan.abi else { return Ok(None) };
    let fs: BitFlags<AccessFs> = BitFlags::from_bits_truncate(fs_bits(&abi.handled_fs));
    let net: BitFlags<AccessNet> = BitFlags::from_bits_truncate(net_bits(&abi.handled_net));
    let scopes: BitFlags<Scope> = BitFlags::from_bits_truncate(scope_bits(&abi.scoped));
    // Every right asked for here is supported by this kernel's ABI: anything less is a bug.
    let mut rs = Ruleset::default().set_compatibility(CompatLevel::HardRequirement);
    if !fs.is_empty() {
        rs = rs.handle_access(fs).map_err(err)?;
    }
    if !net.is_empty() {
        rs = rs.handle_access(net).map_err(err)?;
    }
    if !scopes.is_empty() {
        rs = rs.scope(scopes).map_err(err)?;
    }
    let mut created = rs.create().map_err(err)?;
    let mut paths = Vec::new();
    for p in &abi.paths {
        let mut bits = fs_bits(&p.allowed);
        let mut note = None;
        let meta = match std::fs::metadata(&p.path) {
            Ok(m) => m,
            Err(e) => {
                // Landlock only grants: a rule for a missing path grants nothing, which is stricter.
                paths.push(PathOutcome {
                    path: p.path.clone(),
                    allowed: vec![],
                    note: Some(format!("not granted: {e}")),
                });
                continue;
            }
        };
        if !meta.is_dir() && bits & dir_only() != 0 {
            note = Some(format!(
                "not a directory: {} not granted",
                rights::fs_names(bits & dir_only()).join(", ")
            ));
            bits &= !dir_only();
        }
        let access: BitFlags<AccessFs> = BitFlags::from_bits_truncate(bits);
        if !access.is_empty() {
            let fd = PathFd::new(&p.path).map_err(|e| err(format!("cannot open {}: {e}", p.path)))?;
            created = created
                .add_rule(PathBeneath::new(fd, access))
                .map_err(|e| err(format!("rule for {}: {e}", p.path)))?;
        }
        paths.push(PathOutcome { path: p.path.clone(), allowed: rights::fs_names(bits), note });
    }
    for port in &abi.ports {
        let access: BitFlags<AccessNet> = BitFlags::from_bits_truncate(net_bits(&port.allowed));
        created = created
            .add_rule(NetPort::new(port.port, access))
            .map_err(|e| err(format!("rule for port {}: {e}", port.port)))?;
    }
    Ok(Some(Prepared { ruleset: created, paths }))
}

/// Enforce on the calling thread; returns the kernel's verdict (`fully-enforced`, ...).
pub fn restrict(p: Prepared, mode: &str) -> Result<String, LaunchError> {
    let status = p
        .ruleset
        .restrict_self()
        .map_err(|e| LaunchError::new(Step::Landlock, 125, format!("landlock: {e}")))?;
    let s = match status.ruleset {
        RulesetStatus::FullyEnforced => "fully-enforced",
        RulesetStatus::PartiallyEnforced => "partially-enforced",
        RulesetStatus::NotEnforced => "not-enforced",
    };
    if mode == "enforce" && status.ruleset != RulesetStatus::FullyEnforced {
        return Err(LaunchError::new(
            Step::Landlock,
            125,
            format!("landlock: the kernel reports {s}; mode enforce requires fully-enforced"),
        ));
    }
    Ok(s.to_string())
}
