//! The front end: profiles as written (YAML with locations), how they are loaded (built-ins,
//! `extends` chains), and the checker that turns them into the IR.

pub mod check;
pub mod loader;
pub mod overrides;
pub mod profile;
pub mod spanned;
