//! Linux capability names and Docker's capability arithmetic.

use std::collections::BTreeSet;

/// Every capability in number order (`CAP_CHOWN` = 0 ... `CAP_CHECKPOINT_RESTORE` = 40).
pub const CAPABILITIES: [&str; 41] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

/// Docker's default capabilities (moby `oci/caps/defaults.go`).
pub const DOCKER_DEFAULT: [&str; 14] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "FSETID",
    "FOWNER",
    "MKNOD",
    "NET_RAW",
    "SETGID",
    "SETUID",
    "SETFCAP",
    "SETPCAP",
    "NET_BIND_SERVICE",
    "SYS_CHROOT",
    "KILL",
    "AUDIT_WRITE",
];

/// A capability by number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cap(pub u8);

impl Cap {
    /// Parse `NET_ADMIN`, `CAP_NET_ADMIN` or `cap_net_admin`.
    pub fn parse(s: &str) -> Option<Cap> {
        let upper = s.to_ascii_uppercase();
        let bare = upper.strip_prefix("CAP_").unwrap_or(&upper);
        CAPABILITIES.iter().position(|c| *c == bare).map(|i| Cap(i as u8))
    }

    /// `CAP_NET_ADMIN`.
    pub fn name(self) -> String {
        format!("CAP_{}", CAPABILITIES[usize::from(self.0)])
    }

    /// Every capability.
    pub fn all() -> impl Iterator<Item = Cap> {
        (0..CAPABILITIES.len() as u8).map(Cap)
    }
}

/// Closest capability name for a hint.
pub fn suggest(name: &str) -> Option<String> {
    let upper = name.to_ascii_uppercase();
    let bare = upper.strip_prefix("CAP_").unwrap_or(&upper);
    CAPABILITIES
        .iter()
        .map(|c| (crate::syscalls::table::strsim(bare, c), *c))
        .filter(|(d, _)| *d <= 3)
        .min()
        .map(|(_, c)| format!("CAP_{c}"))
}

/// One `capabilities:` layer, names already checked.
#[derive(Debug, Default, Clone)]
pub struct Tweak {
    /// `add` contains `ALL`.
    pub add_all: bool,
    /// `drop` contains `ALL`.
    pub drop_all: bool,
    /// Named additions.
    pub add: BTreeSet<Cap>,
    /// Named removals.
    pub drop: BTreeSet<Cap>,
}

/// Docker's `TweakCapabilities`: `add: [ALL]` grants all but `drop`; else `drop: [ALL]` keeps
/// only `add`; else `base - drop + add` (so an added capability wins over a dropped one).
pub fn tweak(base: &BTreeSet<Cap>, t: &Tweak) -> BTreeSet<Cap> {
    if t.add_all {
        Cap::all().filter(|c| !t.drop.contains(c)).collect()
    } else if t.drop_all {
        t.add.clone()
    } else {
        base.iter().filter(|c| !t.drop.contains(c)).chain(t.add.iter()).copied().collect()
    }
}

/// Capability names (`CAP_*`) of a set, in number order.
pub fn names(set: &BTreeSet<Cap>) -> Vec<String> {
    set.iter().map(|c| c.name()).collect()
}

/// The 64-bit mask of a set as `/proc/self/status` shows it.
pub fn mask(set: &BTreeSet<Cap>) -> u64 {
    set.iter().fold(0, |m, c| m | (1u64 << c.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> BTreeSet<Cap> {
        names.iter().map(|n| Cap::parse(n).unwrap()).collect()
    }

    #[test]
    fn parse_forms() {
        assert_eq!(Cap::parse("NET_ADMIN"), Cap::parse("CAP_NET_ADMIN"));
        assert_eq!(Cap::parse("cap_chown"), Some(Cap(0)));
        assert_eq!(Cap::parse("CAP_CHECKPOINT_RESTORE"), Some(Cap(40)));
        assert_eq!(Cap::parse("NET_ADMN"), None);
        assert_eq!(suggest("NET_ADMN").as_deref(), Some("CAP_NET_ADMIN"));
    }

    #[test]
    fn docker_tweak_rules() {
        let base = set(&DOCKER_DEFAULT);
        let drop_all = Tweak { drop_all: true, add: set(&["NET_BIND_SERVICE"]), ..Tweak::default() };
        assert_eq!(tweak(&base, &drop_all), set(&["NET_BIND_SERVICE"]));
        let add_all = Tweak { add_all: true, drop: set(&["SYS_ADMIN"]), ..Tweak::default() };
        assert_eq!(tweak(&base, &add_all).len(), 40);
        let both = Tweak { add: set(&["KILL"]), drop: set(&["KILL", "CHOWN"]), ..Tweak::default() };
        let r = tweak(&base, &both);
        assert!(r.contains(&Cap::parse("KILL").unwrap()));
        assert!(!r.contains(&Cap::parse("CHOWN").unwrap()));
    }
}
