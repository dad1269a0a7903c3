//! End-to-end tests of `policyc diff` and `policyc lint` as CI gates: the diffs between
//! related built-ins (insta snapshots: any change to the compiler or a profile shows up as a
//! reviewed snapshot diff), exit codes, IR JSON and `git:REV:PATH` inputs, lint output in
//! every format.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::tempdir;

fn policyc_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_policyc")).args(args).current_dir(dir).output().expect("policyc runs")
}

fn policyc(args: &[&str]) -> Output {
    policyc_in(Path::new("."), args)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

#[test]
fn diffs_between_related_builtins_snapshot() {
    for (old, new, widen) in [("docker-default", "web", false), ("docker-default", "strict", true)] {
        let (a, b) = (format!("builtin:{old}"), format!("builtin:{new}"));
        let o = policyc(&["diff", &a, &b]);
        // strict allows get_mempolicy, which docker-default only allows with CAP_SYS_NICE.
        assert_eq!(code(&o), i32::from(widen), "{}", String::from_utf8_lossy(&o.stderr));
        let text = stdout(&o);
        assert!(!text.contains('\x1b'), "no colour when stdout is not a terminal");
        insta::assert_snapshot!(format!("diff-{old}-{new}"), text);
        let j = policyc(&["diff", &a, &b, "--format", "json", "--fail-on", "never"]);
        assert_eq!(code(&j), 0);
        let v: serde_json::Value = serde_json::from_slice(&j.stdout).unwrap();
        let n = v["changes"].as_array().unwrap().len() as u64;
        let s = &v["summary"];
        assert_eq!(
            s["widen"].as_u64().unwrap() + s["narrow"].as_u64().unwrap() + s["neutral"].as_u64().unwrap(),
            n
        );
    }
}

const BASE: &str =
    "name: app\nseccomp:\n  default: errno(EPERM)\n  rules:\n    - allow: [read, write, exit_group]\n";

#[test]
fn fail_on_widen_any_never() {
    let d = tempdir("diff-gate");
    let a = d.join("a.yaml");
    let wider = d.join("wider.yaml");
    let narrower = d.join("narrower.yaml");
    std::fs::write(&a, BASE).unwrap();
    std::fs::write(&wider, BASE.replace("exit_group]", "exit_group, openat]")).unwrap();
    std::fs::write(&narrower, BASE.replace("write, ", "")).unwrap();
    let (a, wider, narrower) = (a.to_str().unwrap(), wider.to_str().unwrap(), narrower.to_str().unwrap());
    let o = policyc(&["diff", a, wider, "--fail-on", "widen"]);
    assert_eq!(code(&o), 1);
    assert!(stdout(&o).contains("widen   openat: errno(EPERM) → allow"), "{}", stdout(&o));
    assert_eq!(code(&policyc(&["diff", a, narrower, "--fail-on", "widen"])), 0);
    assert_eq!(code(&policyc(&["diff", a, narrower])), 0, "widen is the default gate");
    assert_eq!(code(&policyc(&["diff", a, narrower, "--fail-on", "any"])), 1);
    assert_eq!(code(&policyc(&["diff", a, a, "--fail-on", "any"])), 0);
    assert_eq!(code(&policyc(&["diff", a, wider, "--fail-on", "never"])), 0);
    let o = policyc(&["diff", a, wider, "--color", "always"]);
    assert!(stdout(&o).contains("\x1b[31mwiden"), "{}", stdout(&o));
    // Inputs that cannot be compiled: exit 2, with the compiler's file:line:column.
    let bad = d.join("bad.yaml");
    std::fs::write(&bad, "name: x\nseccomp:\n  rules:\n    - deny: [nosuchcall]\n").unwrap();
    let o = policyc(&["diff", a, bad.to_str().unwrap()]);
    assert_eq!(code(&o), 2);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("bad.yaml:4:"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(code(&policyc(&["diff", a, "/nonexistent.yaml"])), 2);
}

#[test]
fn ir_json_and_profile_compare_by_meaning() {
    let d = tempdir("diff-ir");
    let ir = d.join("web.json");
    let o = policyc(&["compile", "builtin:web", "--emit", "ir", "-o", ir.to_str().unwrap()]);
    assert!(o.status.success());
    let o = policyc(&["diff", ir.to_str().unwrap(), "builtin:web", "--fail-on", "any"]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    assert!(stdout(&o).contains("no change in meaning"));
    std::fs::write(&ir, "{\"name\": 1}").unwrap();
    assert_eq!(code(&policyc(&["diff", ir.to_str().unwrap(), "builtin:web"])), 2);
}

fn git(dir: &Path, args: &[&str]) {
    let o = Command::new("git").args(args).current_dir(dir).output().expect("git runs");
    assert!(o.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn git_revision_input_reads_the_profile_and_its_parents_from_the_revision() {
    let d = tempdir("diff-git");
    git(&d, &["init", "-q"]);
    git(&d, &["config", "user.email", "ci@example.com"]);
    git(&d, &["config", "user.name", "ci"]);
    std::fs::create_dir_all(d.join("profiles")).unwrap();
    std::fs::write(d.join("profiles/base.yaml"), BASE).unwrap();
    std::fs::write(d.join("profiles/app.yaml"), "name: app\nextends: base.yaml\n").unwrap();
    git(&d, &["add", "."]);
    git(&d, &["commit", "-qm", "base"]);
    // The parent widens in the working tree only.
    std::fs::write(d.join("profiles/base.yaml"), BASE.replace("exit_group]", "exit_group, ptrace]")).unwrap();
    let o = policyc_in(&d, &["diff", "git:HEAD:profiles/app.yaml", "profiles/app.yaml"]);
    assert_eq!(code(&o), 1, "{}{}", stdout(&o), String::from_utf8_lossy(&o.stderr));
    assert!(stdout(&o).contains("ptrace: errno(EPERM) → allow"), "{}", stdout(&o));
    let o = policyc_in(
        &d,
        &["diff", "git:HEAD:profiles/app.yaml", "git:HEAD:profiles/app.yaml", "--fail-on", "any"],
    );
    assert_eq!(code(&o), 0);
    assert_eq!(code(&policyc_in(&d, &["diff", "git:nosuchrev:profiles/app.yaml", "profiles/app.yaml"])), 2);
    assert_eq!(code(&policyc_in(&d, &["diff", "git:HEAD", "profiles/app.yaml"])), 2);
}

#[test]
fn lint_reports_each_rule_at_its_line_in_every_format() {
    let mut files: Vec<String> = std::fs::read_dir("tests/lint")
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .filter(|p| p.ends_with(".yaml"))
        .collect();
    files.sort();
    let mut args = vec!["lint", "--format", "json"];
    args.extend(files.iter().map(String::as_str));
    let o = policyc(&args);
    assert_eq!(code(&o), 1, "PAL001 and PAL002 are errors");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for f in &files {
        let id = Path::new(f).file_name().unwrap().to_str().unwrap().split('-').next().unwrap();
        let text = std::fs::read_to_string(f).unwrap();
        let line = text.lines().position(|l| l.contains("# expect:") && l.contains(id)).unwrap() as u64 + 1;
        let hit = v
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["rule"] == id && x["file"] == f.as_str() && x["line"] == line);
        assert!(hit, "{id} at {f}:{line} in {v:#}");
    }
    // Clean profiles: exit 0, and warnings alone fail only with --deny warnings.
    assert_eq!(code(&policyc(&["lint", "tests/lint/ok/PAL003-personality.yaml"])), 0);
    let w = "tests/lint/PAL003-personality.yaml";
    let o = policyc(&["lint", w]);
    assert_eq!(code(&o), 0, "a warning alone passes");
    assert!(stdout(&o).contains(&format!("{w}:8:7: warning[PAL003]")), "{}", stdout(&o));
    assert!(stdout(&o).contains("  fix: "), "{}", stdout(&o));
    assert_eq!(code(&policyc(&["lint", w, "--deny", "warnings"])), 1);
    let o = policyc(&["lint", w, "--format", "sarif"]);
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(s["version"], "2.1.0");
    let r = &s["runs"][0]["results"][0];
    assert_eq!(r["ruleId"], "PAL003");
    assert_eq!(r["locations"][0]["physicalLocation"]["region"]["startLine"], 8);
    assert_eq!(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], w);
    assert_eq!(code(&policyc(&["lint", "/nonexistent.yaml"])), 2);
}

#[test]
fn builtins_pass_their_own_lint_gate() {
    let o = policyc(&[
        "lint",
        "--deny",
        "warnings",
        "builtin:docker-default",
        "builtin:web",
        "builtin:strict",
        "builtin:build",
    ]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
}
