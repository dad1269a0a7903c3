//! Semantic diff of two compiled policies: what a change *means*, tier by tier, each change
//! classified as widening (more permissive), narrowing or neutral.
//!
//! Only meaning is compared, never spelling: rule order, groups versus names, `extends` versus
//! inline, origins and comments do not show up. Seccomp is compared verdict by verdict on
//! every arch's syscall table at the boundary arguments of both policies' conditions (the same
//! points [`crate::ir::equiv`] uses), Landlock by the rights each path effectively has (rules
//! are inherited by everything beneath their path).

mod caps;
pub mod input;
mod landlock;
mod process;
pub mod render;
mod seccomp;
mod values;

use serde::Serialize;

use crate::ir::Policy;

/// Whether a change makes the policy more permissive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    /// More is allowed than before.
    Widen,
    /// Less is allowed than before.
    Narrow,
    /// Different, but neither more nor less is allowed (e.g. EPERM → ENOSYS).
    Neutral,
}

/// The tier a change belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// User, no_new_privs, securebits, rlimits.
    Process,
    /// The capability sets.
    Capabilities,
    /// The seccomp filter.
    Seccomp,
    /// Landlock.
    Landlock,
    /// Namespaces, mounts, network, limits.
    Isolation,
}

impl Tier {
    /// Lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            Tier::Process => "process",
            Tier::Capabilities => "capabilities",
            Tier::Seccomp => "seccomp",
            Tier::Landlock => "landlock",
            Tier::Isolation => "isolation",
        }
    }
}

/// One change, in the words a reviewer thinks in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    /// Tier.
    pub tier: Tier,
    /// Widen, narrow or neutral.
    pub class: Class,
    /// What changed: a capability, a syscall, a path, a setting.
    pub subject: String,
    /// What happened to it.
    pub message: String,
    /// Seccomp: the arches where this holds (empty: not arch-specific, or every arch of both).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub arches: Vec<String>,
}

impl Change {
    fn new(tier: Tier, class: Class, subject: impl Into<String>, message: impl Into<String>) -> Change {
        Change { tier, class, subject: subject.into(), message: message.into(), arches: Vec::new() }
    }
}

/// Changes counted by class.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Widening changes.
    pub widen: usize,
    /// Narrowing changes.
    pub narrow: usize,
    /// Neutral changes.
    pub neutral: usize,
}

/// The diff of two policies.
#[derive(Clone, Debug, Serialize)]
pub struct Diff {
    /// Name of the old policy.
    pub old: String,
    /// Name of the new policy.
    pub new: String,
    /// Counts.
    pub summary: Summary,
    /// Changes, by tier.
    pub changes: Vec<Change>,
}

impl Diff {
    /// Whether anything widens.
    pub fn widens(&self) -> bool {
        self.summary.widen > 0
    }

    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

/// Compare `old` and `new` (both compiled with the same options).
pub fn diff(old: &Policy, new: &Policy) -> Diff {
    let mut changes = Vec::new();
    process::process(old, new, &mut changes);
    caps::caps(&old.capabilities, &new.capabilities, &mut changes);
    seccomp::seccomp(old, new, &mut changes);
    landlock::landlock(&old.landlock, &new.landlock, &mut changes);
    process::isolation(&old.isolation, &new.isolation, &mut changes);
    changes.sort_by_key(|c| c.tier);
    let mut summary = Summary::default();
    for c in &changes {
        match c.class {
            Class::Widen => summary.widen += 1,
            Class::Narrow => summary.narrow += 1,
            Class::Neutral => summary.neutral += 1,
        }
    }
    Diff { old: old.name.clone(), new: new.name.clone(), summary, changes }
}

/// Class of a change in a quantity where more is more permissive.
fn more_is_wider<T: PartialOrd>(old: T, new: T) -> Class {
    if new > old {
        Class::Widen
    } else if new < old {
        Class::Narrow
    } else {
        Class::Neutral
    }
}

#[cfg(test)]
mod tests;
