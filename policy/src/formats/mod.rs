//! File formats of other tools that Palisade reads and writes, as serde types.

pub mod docker;
