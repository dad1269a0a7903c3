//! `enforce`: run a command under a compiled Palisade policy.
//!
//! Applying the tiers arrives with the enforcer (issue 4); until then this binary only checks
//! that the profile compiles and refuses to run anything, so nothing ever runs unconfined.

use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!("enforce: applying policies is not available in this version; nothing was run");
    ExitCode::from(125)
}
