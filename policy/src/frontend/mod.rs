//! Front ends: the YAML profile language and Docker seccomp JSON.

pub mod docker;
pub mod loader;
pub mod profile;
pub mod spanned;
