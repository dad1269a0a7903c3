//! Applies a compiled policy to the current process (caps, securebits, no_new_privs, Landlock, seccomp); see issue 4.
#![deny(missing_docs)]
