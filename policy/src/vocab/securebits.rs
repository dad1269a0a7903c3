//! Securebits (`PR_SET_SECUREBITS`): names and bits.

use super::flags::flag_enum;
use super::{FlagSet, SecurebitsMode};

/// One securebit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Securebit {
    /// uid 0 gets no capabilities from exec.
    Noroot,
    /// `Noroot` cannot be changed.
    NorootLocked,
    /// Changing uids leaves the capability sets alone.
    NoSetuidFixup,
    /// `NoSetuidFixup` cannot be changed.
    NoSetuidFixupLocked,
    /// Permitted capabilities survive a switch away from uid 0.
    KeepCaps,
    /// `KeepCaps` cannot be changed.
    KeepCapsLocked,
    /// Ambient capabilities cannot be raised.
    NoCapAmbientRaise,
    /// `NoCapAmbientRaise` cannot be changed.
    NoCapAmbientRaiseLocked,
}

/// A securebits value.
pub type Securebits = FlagSet<Securebit>;

flag_enum!(Securebit, "securebit", {
    Noroot => "SECBIT_NOROOT",
    NorootLocked => "SECBIT_NOROOT_LOCKED",
    NoSetuidFixup => "SECBIT_NO_SETUID_FIXUP",
    NoSetuidFixupLocked => "SECBIT_NO_SETUID_FIXUP_LOCKED",
    KeepCaps => "SECBIT_KEEP_CAPS",
    KeepCapsLocked => "SECBIT_KEEP_CAPS_LOCKED",
    NoCapAmbientRaise => "SECBIT_NO_CAP_AMBIENT_RAISE",
    NoCapAmbientRaiseLocked => "SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED",
});

impl SecurebitsMode {
    /// The bits a mode sets: `locked` sets and locks NOROOT and NO_SETUID_FIXUP, and locks
    /// KEEP_CAPS off.
    pub fn bits(self) -> Securebits {
        match self {
            SecurebitsMode::None => Securebits::EMPTY,
            SecurebitsMode::Locked => [
                Securebit::Noroot,
                Securebit::NorootLocked,
                Securebit::NoSetuidFixup,
                Securebit::NoSetuidFixupLocked,
                Securebit::KeepCapsLocked,
            ]
            .into_iter()
            .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locked_is_0x2f() {
        assert_eq!(SecurebitsMode::Locked.bits().bits(), 0x2f);
        assert_eq!(SecurebitsMode::None.bits().bits(), 0);
    }
}
