//! The Docker/OCI seccomp JSON importer (`policyc import`), then the compiler on its output.
//!
//! The importer refuses what it cannot express (bad JSON, an unknown action, an errno out of
//! range, ...), and what it accepts it must write as a valid profile: a successful import
//! whose YAML does not compile is a crash, with one exception. The only documented refusal of
//! a well-formed profile is its size: the loader refuses text over
//! `policy::frontend::loader::MAX_PROFILE_BYTES`, and the YAML of a large JSON file can be
//! over it. What compiles goes through every `--emit`, as the `profile` target does.
#![no_main]

use libfuzzer_sys::fuzz_target;
use policy::frontend::loader::MAX_PROFILE_BYTES;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let imported = match policy::import::import_text("fuzz.json", "fuzz", text) {
        Ok(i) => i,
        Err(e) => return palisade_fuzz::assert_clear(&e),
    };
    let yaml = match policy::import::to_yaml(&imported.profile) {
        Ok(y) => y,
        Err(e) => panic!("an imported profile does not serialize to YAML: {e}"),
    };
    let opts = policy::CompileOptions::default();
    match policy::compile_text("fuzz.yaml", &yaml, None, &opts) {
        Ok(c) => palisade_fuzz::emit::all(&c.policy, &opts),
        Err(_) if yaml.len() > MAX_PROFILE_BYTES => {}
        Err(e) => panic!("the importer wrote a profile that does not compile: {e}\n--- YAML ---\n{yaml}"),
    }
});
