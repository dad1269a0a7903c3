//! Helpers shared by the policy crate's integration tests.

pub mod random;
