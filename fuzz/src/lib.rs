//! What the fuzz targets (`fuzz_targets/*.rs`) share: the input formats and the checks.
//!
//! - [`files`]: one input as several in-memory profile files, so `extends` is fuzzed without
//!   touching the disk.
//! - [`emit`]: every output `policyc compile --emit all` writes, through library calls.
//! - [`structured`]: a small seccomp profile decoded from arbitrary bytes (every argument
//!   operator, several actions and arches), for the differential target.
//! - [`differential`]: the compiled BPF run in the interpreter against the reference evaluator.
//!
//! A target reports a bug by panicking: libFuzzer saves the input as a crash artifact. Errors
//! that the compiler returns are not bugs (a refusal is an answer), except where a target says
//! otherwise.

pub mod differential;
pub mod emit;
pub mod files;
pub mod structured;

/// An error the compiler returned must say something: a refusal without a message is not "a
/// clear error" (the budget of issue 15).
pub fn assert_clear(e: &policy::Error) {
    let text = e.to_string();
    assert!(!text.trim().is_empty(), "an error without a message: {e:?}");
}
