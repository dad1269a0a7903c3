//! End-to-end tests of `policyc`: every built-in profile × every output (insta snapshots),
//! the bad-profile corpus, the schema, import, and exit codes.

mod common;

use std::path::Path;
use std::process::{Command, Output};

fn policyc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_policyc")).args(args).output().expect("policyc runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const BUILTINS: [&str; 4] = ["build", "docker-default", "strict", "web"];

#[test]
fn every_builtin_every_emit_snapshot() {
    for name in BUILTINS {
        for emit in ["ir", "caps", "docker-seccomp", "oci-seccomp", "landlock"] {
            let profile = format!("builtin:{name}");
            let o = policyc(&["compile", &profile, "--emit", emit, "--arch", "x86_64"]);
            assert!(o.status.success(), "{profile} --emit {emit}: {}", stderr(&o));
            let value: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON output");
            assert!(value.is_object());
            insta::assert_snapshot!(format!("{name}.{emit}"), stdout(&o));
        }
    }
}

#[test]
fn emit_all_writes_one_file_per_output() {
    let dir = tempdir("emit-all");
    let o = policyc(&["compile", "builtin:web", "--emit", "all", "-o", dir.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    for f in ["ir.json", "caps.json", "docker-seccomp.json", "oci-seccomp.json", "landlock.json"] {
        let text = std::fs::read_to_string(dir.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        serde_json::from_str::<serde_json::Value>(&text).unwrap_or_else(|e| panic!("{f}: {e}"));
    }
}

/// A profile one output refuses (a BPF program over the kernel's 4096 instructions) makes no
/// output at all, and is refused fast (linear work, no relays laid out for a program that
/// cannot load).
#[test]
fn emit_all_refused_by_one_output_writes_nothing() {
    let top = tempdir("emit-all-refused");
    let dir = top.join("out");
    let mut yaml = String::from("name: big\nseccomp:\n  arches: [x86_64]\n  rules:\n");
    for i in 0..5000u64 {
        let verb = if i % 2 == 0 { "allow" } else { "deny" };
        yaml.push_str(&format!(
            "    - {verb}: [mmap]\n      args: [{{index: 0, op: eq, value: {}}}]\n",
            i * 4096
        ));
    }
    let file = dir.with_file_name("big.yaml");
    std::fs::write(&file, yaml).unwrap();
    let o = policyc(&["compile", file.to_str().unwrap(), "--emit", "all", "-o", dir.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("the kernel accepts at most 4096 (largest parts: mmap on x86_64"),
        "{}",
        stderr(&o)
    );
    assert!(!dir.exists(), "--emit all left {} behind", dir.display());
}

fn tempdir(name: &str) -> common::TempDir {
    common::TempDir::new(&format!("policyc-test-{}-{name}", std::process::id()))
}

fn bad_profiles() -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir("tests/bad-profiles")
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .filter(|p| p.ends_with(".yaml"))
        .collect();
    files.sort();
    files
}

#[test]
fn bad_profiles_fail_with_located_messages() {
    let files = bad_profiles();
    assert!(files.len() >= 10, "the corpus has {} profiles", files.len());
    let mut all = String::new();
    for f in &files {
        let o = policyc(&["validate", f]);
        assert_eq!(o.status.code(), Some(1), "{f} should be invalid");
        let err = stderr(&o);
        let first = err.lines().next().unwrap_or_default();
        // The location is in the profile itself or, for extends errors, in the profile whose
        // `extends` line is at fault.
        assert!(first.starts_with("tests/bad-profiles/"), "{f}: message does not start with a file: {first}");
        let end = first.find(".yaml:").unwrap_or_else(|| panic!("{f}: no file:line:col in {first}"))
            + ".yaml:".len();
        let mut parts = first[end..].splitn(3, ':');
        let line: u64 = parts.next().unwrap().parse().unwrap_or_else(|_| panic!("{f}: no line in {first}"));
        let col: u64 = parts.next().unwrap().parse().unwrap_or_else(|_| panic!("{f}: no column in {first}"));
        assert!(line >= 1 && col >= 1, "{f}: {first}");
        assert!(parts.next().unwrap().starts_with(" error: "), "{f}: {first}");
        assert!(err.contains("  hint: "), "{f}: no hint in {err}");
        all.push_str(&err);
    }
    insta::assert_snapshot!("bad-profiles", all);
    let mut args = vec!["validate"];
    args.extend(files.iter().map(String::as_str));
    assert_eq!(policyc(&args).status.code(), Some(1));
}

#[test]
fn validate_json_lists_diagnostics() {
    let o = policyc(&[
        "validate",
        "--format",
        "json",
        "tests/bad-profiles/unknown-capability.yaml",
        "builtin:web",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["valid"], false);
    assert_eq!(v[0]["diagnostics"][0]["origin"]["line"], 4);
    assert_eq!(v[1]["valid"], true);
}

#[test]
fn builtins_validate() {
    for name in BUILTINS {
        let o = policyc(&["validate", &format!("builtin:{name}")]);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
    }
}

#[test]
fn schema_file_is_current() {
    let o = policyc(&["schema"]);
    assert!(o.status.success());
    let committed =
        std::fs::read_to_string("schemas/profile.schema.json").expect("schemas/profile.schema.json exists");
    assert_eq!(
        stdout(&o),
        committed,
        "schemas/profile.schema.json is stale: run `policyc schema > schemas/profile.schema.json`"
    );
}

#[test]
fn import_then_compile_keeps_moby_meaning() {
    let dir = tempdir("import");
    let yaml = dir.join("m.yaml");
    let o = policyc(&["import", "tests/fixtures/seccomp/moby-default.json", "-o", yaml.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = policyc(&["compile", yaml.to_str().unwrap(), "--emit", "docker-seccomp"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let exported = dir.join("exported.json");
    std::fs::write(&exported, &o.stdout).unwrap();
    // Import both JSON files through the library and compare their meaning.
    let load = |p: &Path| {
        let text = std::fs::read_to_string(p).unwrap();
        let d = policy::import::parse_docker("x", &text).unwrap();
        let y = policy::import::to_yaml(&policy::import::import("x", "x", &d).unwrap().profile).unwrap();
        policy::compile_text("x.yaml", &y, None, &policy::CompileOptions::default()).unwrap().policy
    };
    let original = load(Path::new("tests/fixtures/seccomp/moby-default.json"));
    let again = load(&exported);
    let diffs = policy::ir::equiv::seccomp_differences(&original, &again, 5);
    assert!(diffs.is_empty(), "{diffs:#?}");
}

#[test]
fn explain_names_the_deciding_rule() {
    let o = policyc(&[
        "explain",
        "builtin:docker-default",
        "--arch",
        "x86_64",
        "--syscall",
        "personality:0xffffffff",
    ]);
    assert!(o.status.success());
    insta::assert_snapshot!("explain-personality", stdout(&o));
    let o = policyc(&["explain", "builtin:web", "--arch", "x86_64", "--syscall", "ptrace"]);
    let out = stdout(&o);
    assert!(out.contains("errno(EPERM)") && out.contains("builtin:web:"), "{out}");
    let o = policyc(&["explain", "builtin:web"]);
    insta::assert_snapshot!("explain-web", stdout(&o));
}

#[test]
fn usage_errors_exit_2_and_missing_files_exit_1() {
    assert_eq!(policyc(&["compile"]).status.code(), Some(2));
    assert_eq!(policyc(&["compile", "builtin:web", "--emit", "nope"]).status.code(), Some(2));
    let o = policyc(&["compile", "/nonexistent/profile.yaml"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("cannot read /nonexistent/profile.yaml"));
    assert_eq!(policyc(&["compile", "builtin:nope"]).status.code(), Some(1));
}

#[test]
fn list_and_groups() {
    let o = policyc(&["list"]);
    for name in BUILTINS {
        assert!(stdout(&o).contains(&format!("builtin:{name}")));
    }
    let o = policyc(&["groups"]);
    assert!(stdout(&o).contains("@docker-default"));
    let o = policyc(&["groups", "io-uring", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["syscalls"].as_array().unwrap().len(), 3);
    assert_eq!(policyc(&["groups", "@nope"]).status.code(), Some(1));
}

#[test]
fn a_built_in_named_without_its_prefix_gets_a_hint() {
    let o = policyc(&["validate", "web"]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err, "cannot read web: No such file or directory\n  hint: did you mean `builtin:web`?\n");
}

/// Issue 15: a JSON profile that cannot be imported is said where it is wrong, and lint's
/// summary does not claim a clean run while it exits 2.
#[test]
fn json_that_cannot_be_imported_is_located_and_counted() {
    let d = tempdir("badjson");
    let p = d.join("bad.json");
    std::fs::write(&p, "{\n  \"defaultAction\": \"SCMP_ACT_ERRNO\",\n  \"syscalls\": [{ \"names\": [\"read\"], \"action\": \"SCMP_ACT_BOGUS\" }]\n}\n").unwrap();
    let spec = p.to_str().unwrap();
    let o = policyc(&["lint", spec]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains(&format!("{spec}:3:")), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("(1 could not be read or compiled: nothing of them was checked)"),
        "{}",
        stdout(&o)
    );
    let o = policyc(&["import", spec]);
    assert!(
        stderr(&o).contains(&format!("{spec}:3:")) && stderr(&o).contains("SCMP_ACT_BOGUS"),
        "{}",
        stderr(&o)
    );
}

/// `completions SHELL` for every shell clap_complete knows, for both binaries; bash loads the
/// script and registers the command. `man -o DIR` writes a page per subcommand, which `man`
/// formats without a warning.
#[test]
fn completions_and_man_pages_for_policyc_and_enforce() {
    let enforce = env!("CARGO_BIN_EXE_enforce");
    for (bin, subs) in [
        (
            env!("CARGO_BIN_EXE_policyc"),
            &["compile", "validate", "explain", "simulate", "import", "diff", "lint"][..],
        ),
        (enforce, &["run", "ps", "exec", "logs", "stop", "rm", "probe"][..]),
    ] {
        let name = Path::new(bin).file_name().unwrap().to_str().unwrap();
        for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
            let o = Command::new(bin).args(["completions", shell]).output().unwrap();
            assert!(o.status.success() && !o.stdout.is_empty(), "{name} {shell}: {}", stderr(&o));
        }
        let script = tempdir(&format!("completions-{name}"));
        let file = script.join("c.bash");
        std::fs::write(&file, Command::new(bin).args(["completions", "bash"]).output().unwrap().stdout)
            .unwrap();
        let o = Command::new("bash")
            .arg("-c")
            .arg(format!("source {}; complete -p {name}", file.display()))
            .output()
            .unwrap();
        assert!(stdout(&o).contains(&format!(" {name}")), "{name}: {}{}", stdout(&o), stderr(&o));
        let dir = tempdir(&format!("man-{name}"));
        let o = Command::new(bin).args(["man", "-o", dir.to_str().unwrap()]).output().unwrap();
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        for sub in subs {
            let page = dir.join(format!("{name}-{sub}.1"));
            assert!(page.exists(), "{}", page.display());
            let o = Command::new("man")
                .args(["--warnings", "-l"])
                .arg(&page)
                .env("MANPAGER", "cat")
                .output()
                .unwrap();
            assert!(o.status.success() && stderr(&o).is_empty(), "{}: {}", page.display(), stderr(&o));
        }
    }
}
