//! Linux capabilities: names, numbers, sets, and Docker's capability arithmetic.

use super::{Flag, FlagSet};

/// Declares every capability once: a `Cap::NAME` constant per capability and the names in
/// number order.
macro_rules! capabilities {
    ($($name:ident = $n:literal,)*) => {
        /// Every capability's name, in number order.
        const NAMES: [&str; [$($n),*].len()] = [$(concat!("CAP_", stringify!($name))),*];

        #[allow(missing_docs)]
        impl Cap {
            $(pub const $name: Cap = Cap($n);)*
        }
    };
}

capabilities! {
    CHOWN = 0,
    DAC_OVERRIDE = 1,
    DAC_READ_SEARCH = 2,
    FOWNER = 3,
    FSETID = 4,
    KILL = 5,
    SETGID = 6,
    SETUID = 7,
    SETPCAP = 8,
    LINUX_IMMUTABLE = 9,
    NET_BIND_SERVICE = 10,
    NET_BROADCAST = 11,
    NET_ADMIN = 12,
    NET_RAW = 13,
    IPC_LOCK = 14,
    IPC_OWNER = 15,
    SYS_MODULE = 16,
    SYS_RAWIO = 17,
    SYS_CHROOT = 18,
    SYS_PTRACE = 19,
    SYS_PACCT = 20,
    SYS_ADMIN = 21,
    SYS_BOOT = 22,
    SYS_NICE = 23,
    SYS_RESOURCE = 24,
    SYS_TIME = 25,
    SYS_TTY_CONFIG = 26,
    MKNOD = 27,
    LEASE = 28,
    AUDIT_WRITE = 29,
    AUDIT_CONTROL = 30,
    SETFCAP = 31,
    MAC_OVERRIDE = 32,
    MAC_ADMIN = 33,
    SYSLOG = 34,
    WAKE_ALARM = 35,
    BLOCK_SUSPEND = 36,
    AUDIT_READ = 37,
    PERFMON = 38,
    BPF = 39,
    CHECKPOINT_RESTORE = 40,
}

/// A capability by number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cap(u8);

/// Every capability, in number order.
const ALL: [Cap; NAMES.len()] = {
    let mut all = [Cap(0); NAMES.len()];
    let mut i = 0;
    while i < NAMES.len() {
        all[i] = Cap(i as u8);
        i += 1;
    }
    all
};

/// A set of capabilities; its [`FlagSet::bits`] is the mask `/proc/self/status` shows.
pub type CapSet = FlagSet<Cap>;

impl Cap {
    /// Capability number `n`, if this build knows it.
    pub fn from_number(n: u8) -> Option<Cap> {
        ALL.get(usize::from(n)).copied()
    }

    /// Parse `NET_ADMIN`, `CAP_NET_ADMIN` or `cap_net_admin`.
    pub fn parse(s: &str) -> Option<Cap> {
        let upper = s.to_ascii_uppercase();
        let bare = upper.strip_prefix("CAP_").unwrap_or(&upper);
        NAMES.iter().position(|c| &c[4..] == bare).map(|i| Cap(i as u8))
    }

    /// `CAP_NET_ADMIN`.
    pub fn name(self) -> &'static str {
        NAMES[usize::from(self.0)]
    }

    /// The number (`CAP_NET_ADMIN` is 12).
    pub fn number(self) -> u8 {
        self.0
    }

    /// The closest capability name, for a hint.
    pub fn suggest(name: &str) -> Option<&'static str> {
        let upper = name.to_ascii_uppercase();
        let bare = upper.strip_prefix("CAP_").unwrap_or(&upper);
        super::nearest(&format!("CAP_{bare}"), NAMES)
    }
}

impl Flag for Cap {
    const ALL: &'static [Cap] = &ALL;
    const KIND: &'static str = "capability";
    fn bit(self) -> u32 {
        u32::from(self.0)
    }
    fn name(self) -> &'static str {
        Cap::name(self)
    }
    fn parse(name: &str) -> Option<Cap> {
        Cap::parse(name)
    }
}

impl std::fmt::Display for Cap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Docker's default capabilities, in Docker's order (moby `oci/caps/defaults.go`).
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

/// [`DOCKER_DEFAULT`] as a set.
pub fn docker_default() -> CapSet {
    DOCKER_DEFAULT.into_iter().filter_map(Cap::parse).collect()
}

/// One `capabilities:` layer, names already checked.
#[derive(Debug, Default, Clone, Copy)]
pub struct Tweak {
    /// `add` contains `ALL`.
    pub add_all: bool,
    /// `drop` contains `ALL`.
    pub drop_all: bool,
    /// Named additions.
    pub add: CapSet,
    /// Named removals.
    pub drop: CapSet,
}

/// Docker's `TweakCapabilities`: `add: [ALL]` grants all but `drop`; else `drop: [ALL]` keeps
/// only `add`; else `base - drop + add` (so an added capability wins over a dropped one).
pub fn tweak(base: CapSet, t: &Tweak) -> CapSet {
    if t.add_all {
        CapSet::all() - t.drop
    } else if t.drop_all {
        t.add
    } else {
        (base - t.drop) | t.add
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> CapSet {
        names.iter().map(|n| Cap::parse(n).unwrap()).collect()
    }

    #[test]
    fn parse_forms() {
        assert_eq!(Cap::parse("NET_ADMIN"), Cap::parse("CAP_NET_ADMIN"));
        assert_eq!(Cap::parse("cap_chown"), Some(Cap(0)));
        assert_eq!(Cap::parse("CAP_CHECKPOINT_RESTORE"), Some(Cap(40)));
        assert_eq!(Cap::parse("NET_ADMN"), None);
        assert_eq!(Cap::suggest("NET_ADMN"), Some("CAP_NET_ADMIN"));
        assert_eq!(Cap::parse("NET_ADMIN").map(Cap::number), Some(12));
        assert_eq!(Cap::SYS_ADMIN.name(), "CAP_SYS_ADMIN");
        assert_eq!(Cap::CHECKPOINT_RESTORE.number(), 40);
        for (i, c) in ALL.iter().enumerate() {
            assert_eq!(Cap::parse(c.name()), Some(*c));
            assert_eq!(usize::from(c.number()), i);
        }
    }

    #[test]
    fn docker_tweak_rules() {
        let base = docker_default();
        assert_eq!(base.len(), 14);
        let drop_all = Tweak { drop_all: true, add: set(&["NET_BIND_SERVICE"]), ..Tweak::default() };
        assert_eq!(tweak(base, &drop_all), set(&["NET_BIND_SERVICE"]));
        let add_all = Tweak { add_all: true, drop: set(&["SYS_ADMIN"]), ..Tweak::default() };
        assert_eq!(tweak(base, &add_all).len(), 40);
        let both = Tweak { add: set(&["KILL"]), drop: set(&["KILL", "CHOWN"]), ..Tweak::default() };
        let r = tweak(base, &both);
        assert!(r.contains(Cap::parse("KILL").unwrap()));
        assert!(!r.contains(Cap::parse("CHOWN").unwrap()));
    }
}
