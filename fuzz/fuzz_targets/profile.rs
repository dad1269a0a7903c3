//! The YAML profile loader and checker, then every `--emit`: a profile (with the files it
//! `extends`, in memory: see `palisade_fuzz::files`) either compiles to every output or is
//! refused with an error. A panic anywhere is a crash; the time and memory budgets (1 s,
//! 256 MiB) are libFuzzer's `-timeout` and `-rss_limit_mb` (scripts/fuzz).
#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_fuzz::files::Files;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let opts = policy::CompileOptions::default();
    match Files::parse(text).compile(&opts) {
        Ok(c) => palisade_fuzz::emit::all(&c.policy, &opts),
        Err(e) => palisade_fuzz::assert_clear(&e),
    }
});
