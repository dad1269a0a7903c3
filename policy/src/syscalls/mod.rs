//! Syscall knowledge: arches, per-arch tables, groups, argument widths and named constants.

pub mod arch;
pub mod consts;
pub mod groups;
pub mod launcher;
pub mod runc;
pub mod table;
pub mod widths;

pub use arch::Arch;
