//! [`FlagSet`]: a set of members of a small closed vocabulary, as the bits of a `u64` (the
//! form the kernel takes: capability masks, Landlock access rights, scopes). It serializes as
//! the members' names in bit order.

use std::fmt;
use std::marker::PhantomData;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A member of a vocabulary of at most 64 names, each with its own bit.
pub trait Flag: Copy + Eq + fmt::Debug + 'static {
    /// Every member, in bit order.
    const ALL: &'static [Self];
    /// What one member is called in messages (`capability`, `filesystem right`).
    const KIND: &'static str;
    /// The member's bit number (0..64).
    fn bit(self) -> u32;
    /// The member's name as written in profiles and the IR.
    fn name(self) -> &'static str;
    /// The member called `name` (each vocabulary decides how lenient it is).
    fn parse(name: &str) -> Option<Self>;
}

/// Implements [`Flag`] for a fieldless enum declared in bit order, naming each member.
macro_rules! flag_enum {
    ($t:ident, $kind:literal, { $($v:ident => $name:literal),+ $(,)? }) => {
        impl $crate::vocab::Flag for $t {
            const ALL: &'static [$t] = &[$($t::$v),+];
            const KIND: &'static str = $kind;
            fn bit(self) -> u32 {
                self as u32
            }
            fn name(self) -> &'static str {
                match self {
                    $($t::$v => $name),+
                }
            }
            fn parse(name: &str) -> Option<$t> {
                match name {
                    $($name => Some($t::$v),)+
                    _ => None,
                }
            }
        }
    };
}
pub(crate) use flag_enum;

/// A set of `F`s.
pub struct FlagSet<F> {
    bits: u64,
    of: PhantomData<F>,
}

impl<F: Flag> FlagSet<F> {
    /// The empty set.
    pub const EMPTY: FlagSet<F> = FlagSet { bits: 0, of: PhantomData };

    /// Every member.
    pub fn all() -> FlagSet<F> {
        F::ALL.iter().copied().collect()
    }

    /// The members whose bits are set in `bits` (other bits are dropped).
    pub fn from_bits_truncate(bits: u64) -> FlagSet<F> {
        FlagSet { bits: bits & FlagSet::<F>::all().bits, of: PhantomData }
    }

    /// The set as a mask: bit `n` for the member whose bit is `n`.
    pub const fn bits(self) -> u64 {
        self.bits
    }

    /// Whether `f` is in the set.
    pub fn contains(self, f: F) -> bool {
        self.bits & (1 << f.bit()) != 0
    }

    /// Add `f`.
    pub fn insert(&mut self, f: F) {
        self.bits |= 1 << f.bit();
    }

    /// Whether the set has no member.
    pub const fn is_empty(&self) -> bool {
        self.bits == 0
    }

    /// Number of members.
    pub const fn len(&self) -> usize {
        self.bits.count_ones() as usize
    }

    /// Whether every member of `self` is in `other`.
    pub const fn is_subset(self, other: FlagSet<F>) -> bool {
        self.bits & !other.bits == 0
    }

    /// The members, in bit order.
    pub fn iter(self) -> impl Iterator<Item = F> {
        F::ALL.iter().copied().filter(move |f| self.contains(*f))
    }

    /// The members' names, in bit order.
    pub fn names(self) -> Vec<&'static str> {
        self.iter().map(F::name).collect()
    }

    /// Parse a list of names; `Err` names the first unknown one.
    pub fn parse_all<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<FlagSet<F>, String> {
        names.into_iter().map(|n| F::parse(n).ok_or_else(|| n.to_string())).collect()
    }
}

impl<F> Clone for FlagSet<F> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<F> Copy for FlagSet<F> {}

impl<F> PartialEq for FlagSet<F> {
    fn eq(&self, other: &Self) -> bool {
        self.bits == other.bits
    }
}

impl<F> Eq for FlagSet<F> {}

impl<F> std::hash::Hash for FlagSet<F> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.bits.hash(state);
    }
}

impl<F> Default for FlagSet<F> {
    fn default() -> Self {
        FlagSet { bits: 0, of: PhantomData }
    }
}

impl<F: Flag> fmt::Debug for FlagSet<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter().map(F::name)).finish()
    }
}

impl<F: Flag> FromIterator<F> for FlagSet<F> {
    fn from_iter<I: IntoIterator<Item = F>>(iter: I) -> Self {
        let mut s = FlagSet::EMPTY;
        s.extend(iter);
        s
    }
}

impl<F: Flag> Extend<F> for FlagSet<F> {
    fn extend<I: IntoIterator<Item = F>>(&mut self, iter: I) {
        for f in iter {
            self.insert(f);
        }
    }
}

impl<F> std::ops::BitOr for FlagSet<F> {
    type Output = FlagSet<F>;
    fn bitor(self, rhs: Self) -> Self {
        FlagSet { bits: self.bits | rhs.bits, of: PhantomData }
    }
}

impl<F> std::ops::BitOrAssign for FlagSet<F> {
    fn bitor_assign(&mut self, rhs: Self) {
        self.bits |= rhs.bits;
    }
}

impl<F> std::ops::BitAnd for FlagSet<F> {
    type Output = FlagSet<F>;
    fn bitand(self, rhs: Self) -> Self {
        FlagSet { bits: self.bits & rhs.bits, of: PhantomData }
    }
}

impl<F> std::ops::Sub for FlagSet<F> {
    type Output = FlagSet<F>;
    /// The members of `self` that are not in `rhs`.
    fn sub(self, rhs: Self) -> Self {
        FlagSet { bits: self.bits & !rhs.bits, of: PhantomData }
    }
}

impl<F: Flag> Serialize for FlagSet<F> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter().map(F::name))
    }
}

impl<'de, F: Flag> Deserialize<'de> for FlagSet<F> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let names = Vec::<String>::deserialize(d)?;
        FlagSet::parse_all(names.iter().map(String::as_str))
            .map_err(|n| D::Error::custom(format!("unknown {} `{n}`", F::KIND)))
    }
}

#[cfg(test)]
mod tests {
    use crate::vocab::{Cap, CapSet, FsAccess, NamespaceSet};

    #[test]
    fn sets_serialize_as_names_in_bit_order_and_read_back() {
        let s: CapSet = [Cap::parse("KILL").unwrap(), Cap::parse("chown").unwrap()].into_iter().collect();
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, r#"["CAP_CHOWN","CAP_KILL"]"#);
        assert_eq!(serde_json::from_str::<CapSet>(&json).unwrap(), s);
        assert_eq!(s.bits(), 1 << 0 | 1 << 5);
        let e = serde_json::from_str::<CapSet>(r#"["CAP_NOPE"]"#).unwrap_err();
        assert!(e.to_string().contains("unknown capability `CAP_NOPE`"), "{e}");
        let ns = serde_json::from_str::<NamespaceSet>(r#"["user","mount","pid"]"#).unwrap();
        assert_eq!(serde_json::to_string(&ns).unwrap(), r#"["mount","pid","user"]"#);
        let fs = FsAccess::from_bits_truncate(u64::MAX);
        assert_eq!(fs, FsAccess::all());
        assert_eq!((fs - fs).len(), 0);
    }
}
