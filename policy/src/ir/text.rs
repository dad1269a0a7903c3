//! How IR values are written in its JSON: numbers as hex strings, origins as
//! `file:line:column`. These are the only places the IR's typed values become text.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serializer};

use crate::error::Origin;

/// `0x1f` or a plain decimal.
pub(crate) fn parse_u64(v: &str) -> Option<u64> {
    match v.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => v.parse().ok(),
    }
}

fn de_hex<E: serde::de::Error>(v: &str) -> Result<u64, E> {
    parse_u64(v).ok_or_else(|| E::custom(format!("`{v}` is not a number")))
}

pub(crate) fn ser_hex_vec<S: Serializer>(v: &[u64], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(v.iter().map(|x| format!("{x:#x}")))
}

pub(crate) fn de_hex_vec<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u64>, D::Error> {
    Vec::<String>::deserialize(d)?.iter().map(|v| de_hex(v)).collect()
}

pub(crate) fn ser_hex_opt<S: Serializer>(v: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(x) => s.collect_str(&format_args!("{x:#x}")),
        None => s.serialize_none(),
    }
}

pub(crate) fn de_hex_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Option::<String>::deserialize(d)?.map(|v| de_hex(&v)).transpose()
}

pub(crate) fn ser_hex_u32<S: Serializer>(v: &u32, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&format_args!("{v:#x}"))
}

pub(crate) fn de_hex_u32<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let v = de_hex(&String::deserialize(d)?)?;
    u32::try_from(v).map_err(|_| D::Error::custom(format!("{v:#x} does not fit 32 bits")))
}

/// An origin as `file:line:column` text.
pub(crate) mod origin {
    use super::*;

    pub(crate) fn read<E: serde::de::Error>(text: &str) -> Result<Origin, E> {
        Origin::parse(text).ok_or_else(|| E::custom(format!("`{text}` is not `file:line:column`")))
    }

    pub(crate) fn serialize<S: Serializer>(o: &Origin, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(o)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Origin, D::Error> {
        read(&String::deserialize(d)?)
    }

    /// A list of origins.
    pub(crate) mod list {
        use super::*;

        pub(crate) fn serialize<S: Serializer>(v: &[Origin], s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq(v.iter().map(|o| o.to_string()))
        }

        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Origin>, D::Error> {
            Vec::<String>::deserialize(d)?.iter().map(|t| read(t)).collect()
        }
    }
}
