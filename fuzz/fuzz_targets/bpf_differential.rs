//! The IR → BPF compiler, checked against the reference evaluator (`Policy::evaluate`) on the
//! fuzzed policy: any disagreement on an action is a crash (see `palisade_fuzz::differential`).
//!
//! Two input forms. UTF-8 text that starts with `#` or a letter is a profile (the in-memory
//! files of the `profile` target: the built-ins and real profiles are seeds). Anything else
//! is decoded by `palisade_fuzz::structured` into a small profile whose rules use every
//! argument operator, action and arch the generator handles differently.
#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_fuzz::files::Files;

fuzz_target!(|data: &[u8]| {
    let text = match std::str::from_utf8(data) {
        Ok(t) if t.starts_with(|c: char| c == '#' || c.is_ascii_alphabetic()) => t.to_string(),
        _ => palisade_fuzz::structured::profile(data),
    };
    let Ok(c) = Files::parse(&text).compile(&policy::CompileOptions::default()) else { return };
    palisade_fuzz::differential::check(&c.policy, &text);
});
