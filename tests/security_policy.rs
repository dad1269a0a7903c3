//! Issue 14 (security review), the compiler's findings: each attack through `policyc`, refused.
//! Every command runs under `timeout` (a hang fails the test instead of the suite) and, where
//! the old behaviour was to read until memory ran out, under a memory limit.

mod common;

use std::path::Path;
use std::process::{Command, Output};

/// `policyc ARGS` in `dir`, killed after 20 seconds, with at most 1 GiB of address space.
fn policyc_in(dir: &Path, args: &[&str]) -> Output {
    Command::new("sh")
        .args(["-c", "ulimit -v 1048576 && exec timeout -s KILL 20 \"$@\"", "sh"])
        .arg(env!("CARGO_BIN_EXE_policyc"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("policyc runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn tempdir(name: &str) -> common::TempDir {
    common::TempDir::new(&format!("palisade-security-{}-{name}", std::process::id()))
}

// Finding 3: `network: none` without `net` in the namespaces ran on the host's network, and
// `policyc validate` said ok.
#[test]
fn network_none_without_a_network_namespace_is_refused() {
    let d = tempdir("network");
    let profile = "name: p\nisolation:\n  namespaces: [user, mount, pid]\n  network: none\n";
    std::fs::write(d.join("p.yaml"), profile).unwrap();
    let o = policyc_in(&d, &["validate", "p.yaml"]);
    assert_eq!(code(&o), 1, "{}{}", stdout(&o), stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("p.yaml:4:12: error: `network: none` needs a network namespace"), "{err}");
    assert!(err.contains("hint: add `net` to `isolation.namespaces`, or write `network: host`"), "{err}");
    // Leaving `network` out means the host's network: the policy says so, with a warning.
    std::fs::write(d.join("q.yaml"), "name: q\nisolation:\n  namespaces: [user, mount, pid]\n").unwrap();
    let o = policyc_in(&d, &["compile", "q.yaml", "--emit", "ir"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let ir: serde_json::Value = serde_json::from_slice(&o.stdout).expect("IR JSON");
    assert_eq!(ir["isolation"]["network"], "host", "{}", stdout(&o));
    assert!(
        stderr(&o).contains("q.yaml:3:16: warning: `isolation.namespaces` leaves out `net`"),
        "{}",
        stderr(&o)
    );
    // The default namespaces have `net`: `network: none` is a network of its own.
    std::fs::write(d.join("r.yaml"), "name: r\nisolation:\n  network: none\n").unwrap();
    let o = policyc_in(&d, &["compile", "r.yaml", "--emit", "ir"]);
    let ir: serde_json::Value = serde_json::from_slice(&o.stdout).expect("IR JSON");
    assert_eq!(ir["isolation"]["network"], "none");
    assert!(ir["isolation"]["namespaces"].as_array().unwrap().iter().any(|n| n == "net"), "{ir}");
    let _ = std::fs::remove_dir_all(&d);
}

// Finding 12: `policyc import` read a Docker name `@privileged` (which Docker ignores) as the
// Palisade group: 54 privileged syscalls allowed instead of none, silently.
#[test]
fn import_never_turns_a_docker_name_into_a_group() {
    let d = tempdir("import");
    let json = r#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [{"names": ["read", "write", "exit_group", "@privileged"], "action": "SCMP_ACT_ALLOW"}]}"#;
    std::fs::write(d.join("d.json"), json).unwrap();
    let o = policyc_in(&d, &["import", "d.json", "-o", "d.yaml"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("warning: syscalls[0] (SCMP_ACT_ALLOW): `@privileged` is not a syscall name"),
        "{}",
        stderr(&o)
    );
    let yaml = d.join("d.yaml");
    let p = policy::compile(yaml.to_str().unwrap(), &Default::default()).expect("compiles").policy;
    let members = policy::syscalls::groups::group("@privileged").expect("the group").expand();
    let allowed: Vec<&str> = members
        .iter()
        .copied()
        .filter(|n| p.evaluate_name(policy::Arch::X86_64, n, [0; 6]).is_some_and(|e| e.action.permits()))
        .collect();
    assert!(allowed.is_empty(), "allowed: {allowed:?}");
    assert!(p.evaluate_name(policy::Arch::X86_64, "read", [0; 6]).unwrap().action.permits());
    let _ = std::fs::remove_dir_all(&d);
}

// Finding 17: `extends: /dev/zero` read until memory ran out, a FIFO hung, and the error of
// any other file quoted its first key (as root, the first line of /etc/shadow).
#[test]
fn extends_reads_only_regular_files_and_never_quotes_them() {
    let d = tempdir("extends");
    std::fs::write(d.join("zero.yaml"), "name: z\nextends: /dev/zero\n").unwrap();
    let o = policyc_in(&d, &["validate", "zero.yaml"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("zero.yaml:2:10: error: /dev/zero is not a regular file (a character device)"),
        "{}",
        stderr(&o)
    );

    let made = Command::new("mkfifo").arg(d.join("fifo")).status().unwrap();
    assert!(made.success());
    std::fs::write(d.join("fifo.yaml"), "name: f\nextends: fifo\n").unwrap();
    let o = policyc_in(&d, &["validate", "fifo.yaml"]);
    assert_eq!(code(&o), 1, "killed after 20 s? {}", stderr(&o));
    assert!(
        stderr(&o).contains("fifo.yaml:2:10: error:")
            && stderr(&o).contains("is not a regular file (a FIFO)"),
        "{}",
        stderr(&o)
    );

    std::fs::write(d.join("shadow"), "root:$6$secretSALT$secretHASH:19000:0:99999:7:::\nbin:*:19000::::::\n")
        .unwrap();
    std::fs::write(d.join("shadow.yaml"), "name: s\nextends: shadow\n").unwrap();
    let o = policyc_in(&d, &["validate", "shadow.yaml"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("shadow:1:1: error: unknown field (") && err.contains("not shown"), "{err}");
    assert!(!err.contains("secret") && !err.contains("$6$") && !err.contains("root"), "{err}");
    let _ = std::fs::remove_dir_all(&d);
}

fn git(dir: &Path, args: &[&str]) {
    let o = Command::new("git").args(args).current_dir(dir).output().expect("git runs");
    assert!(o.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&o.stderr));
}

// Finding 19: `policyc diff git:REV:PATH` passed REV to `git show` as it was: `--output=FILE`
// wrote FILE.
#[test]
fn diff_never_passes_a_revision_to_git_as_an_option() {
    let d = tempdir("git");
    git(&d, &["init", "-q"]);
    git(&d, &["config", "user.email", "ci@example.com"]);
    git(&d, &["config", "user.name", "ci"]);
    std::fs::write(d.join("p.yaml"), "name: p\nseccomp:\n  rules:\n    - allow: [read]\n").unwrap();
    git(&d, &["add", "."]);
    git(&d, &["commit", "-qm", "p"]);
    // `git show --output=DIR/out:./p.yaml` would write there: its directory exists.
    std::fs::create_dir(d.join("out:.")).unwrap();
    let out = d.join("out:.").join("p.yaml");
    for rev in [format!("--output={}", d.join("out").display()), "-p".into(), String::new()] {
        let spec = format!("git:{rev}:p.yaml");
        let o = policyc_in(&d, &["diff", &spec, "p.yaml"]);
        assert_eq!(code(&o), 2, "{spec}: {}{}", stdout(&o), stderr(&o));
        let err = stderr(&o);
        assert!(err.contains(&format!("{spec}:1:5: error: `{rev}` is not a git revision")), "{err}");
        assert!(err.contains("hint: name a revision that does not start with `-`"), "{err}");
        assert!(!out.exists(), "{spec} wrote {}", out.display());
    }
    // A revision still works, and reads the file as committed.
    std::fs::write(d.join("p.yaml"), "name: p\nseccomp:\n  rules:\n    - allow: [read, ptrace]\n").unwrap();
    let o = policyc_in(&d, &["diff", "git:HEAD:p.yaml", "p.yaml"]);
    assert_eq!(code(&o), 1, "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("ptrace"), "{}", stdout(&o));
    let o = policyc_in(&d, &["diff", "git:HEAD:p.yaml", "git:HEAD:p.yaml", "--fail-on", "any"]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    let _ = std::fs::remove_dir_all(&d);
}
