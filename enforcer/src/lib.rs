//! Applies a compiled Palisade policy to the current process.
//!
//! Today: installing a compiled seccomp program ([`seccomp`]). Capabilities, securebits,
//! no_new_privs and Landlock arrive with `enforce run` (issue 4).
//!
//! Every function that touches the process is built so it can run between `fork` and `exec`:
//! the work that allocates (compiling, laying out the filter) happens before, in
//! [`seccomp::Filter::new`]; installing is system calls only.
//!
//! Unsafe code lives only in [`sys`]; each block says why it is sound.
#![deny(missing_docs)]
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod seccomp;
pub mod sys;
