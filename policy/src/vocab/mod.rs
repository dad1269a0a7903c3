//! Closed vocabularies of the whole workspace, each written once: capabilities, Landlock
//! rights and scopes, namespaces, resource limits, securebits and the modes of a profile.
//!
//! Inside the compiler, the enforcer and the runtime these are typed values (bit sets and
//! enums); names appear only at the edges: where a profile is read, and where the IR, an
//! export or a report is written. Every type here serializes as the names the profile language
//! uses, so the IR JSON reads as it always has.

mod flags;

pub mod caps;
pub mod landlock;
pub mod modes;
pub mod namespace;
pub mod rlimit;
pub mod securebits;

pub use caps::{Cap, CapSet};
pub use flags::{Flag, FlagSet};
pub use landlock::{FsAccess, FsRight, NetAccess, NetRight, Scope, ScopeSet};
pub use modes::{LandlockMode, LimitsMode, NetworkMode, SecurebitsMode, TmpdirMode};
pub use namespace::{Namespace, NamespaceSet};
pub use rlimit::Resource;
pub use securebits::{Securebit, Securebits};

/// The closest of `names` to `input` (edit distance at most 3), for "did you mean" hints.
pub fn nearest<'a>(input: &str, names: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    names
        .into_iter()
        .map(|n| (crate::syscalls::table::strsim(input, n), n))
        .filter(|(d, _)| *d <= 3)
        .min()
        .map(|(_, n)| n)
}
