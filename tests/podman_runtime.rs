//! `palisade-runtime` under Podman (issue 16): `podman --runtime PATH` runs the same containers
//! as `podman --runtime runc`, with the same result; `podman exec`, `run -d` and `stop`; and a
//! Palisade profile selected by the `org.palisade.profile` annotation brings Landlock into the
//! container. Needs root, `podman`, `runc` and busybox-static (scripts/install-deps): on CI a
//! missing prerequisite fails.

mod common;

use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_palisade-runtime");
const IMAGE: &str = "localhost/palisade-busybox:runtime-test";
/// The limits this machine's podman needs (its own defaults exceed the hard nofile limit).
const LIMITS: [&str; 4] = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"];

fn ready() -> bool {
    let have = |c: &str| Command::new(c).arg("--version").output().is_ok_and(|o| o.status.success());
    let root = nix::unistd::geteuid().is_root();
    if root && have("podman") && have("runc") {
        return true;
    }
    let why = format!("root: {root}, podman: {}, runc: {}", have("podman"), have("runc"));
    if std::env::var_os("CI").is_some() {
        panic!("the Podman runtime test cannot run on CI: {why}");
    }
    eprintln!("SKIPPED: the Podman runtime test needs root, podman and runc ({why})");
    false
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_string()
}

/// The directory of the profiles the annotation may name (palisade-runtime's `--profile-dir`).
fn fixtures() -> String {
    std::path::absolute("tests/fixtures/oci").unwrap().display().to_string()
}

fn podman(runtime: &str, args: &[&str]) -> Output {
    let mut c = Command::new("podman");
    c.args(["--runtime", runtime]);
    if runtime == BIN {
        c.arg("--runtime-flag").arg(format!("profile-dir={}", fixtures()));
    }
    c.args(args).output().unwrap()
}

fn image(name: &str) {
    let d = common::tempdir(name);
    let rootfs = common::rootfs::build(&d);
    let tar = d.join("rootfs.tar");
    let o = Command::new("tar").arg("-C").arg(&rootfs).arg("-cf").arg(&tar).arg(".").output().unwrap();
    assert!(o.status.success());
    let o = Command::new("podman").args(["import", "-q"]).arg(&tar).arg(IMAGE).output().unwrap();
    assert!(o.status.success(), "podman import: {}", text(&o.stderr));
}

fn run(runtime: &str, extra: &[&str], cmd: &str) -> Output {
    let mut a = vec!["run", "--rm", "--network", "none", "--hostname", "probe"];
    a.extend_from_slice(&LIMITS);
    a.extend_from_slice(extra);
    a.extend_from_slice(&[IMAGE, "sh", "-c", cmd]);
    podman(runtime, &a)
}

#[test]
fn podman_runs_containers_with_palisade_as_with_runc() {
    if !ready() {
        return;
    }
    image("podman-runtime");
    let probe =
        "id; hostname; grep -E '^(Cap|NoNewPrivs|Seccomp:)' /proc/self/status; echo cwd=$(pwd) env=$FOO; \
        touch /probe 2>&1 | head -c 30; echo; ls /dev";
    let matrix: [&[&str]; 5] = [
        &[],
        &["--user", "1000:1000", "-e", "FOO=bar", "-w", "/tmp"],
        &["--read-only"],
        &["--cap-drop", "ALL", "--cap-add", "NET_BIND_SERVICE", "--security-opt", "no-new-privileges"],
        &["--pids-limit", "64", "--memory", "64m"],
    ];
    for extra in matrix {
        let (ours, runc) = (run(BIN, extra, probe), run("runc", extra, probe));
        assert_eq!(ours.status.code(), Some(0), "{extra:?}: {}", text(&ours.stderr));
        assert_eq!(text(&ours.stdout), text(&runc.stdout), "{extra:?}: ours stderr {}", text(&ours.stderr));
    }
    let (ours, runc) = (run(BIN, &[], "exit 9"), run("runc", &[], "exit 9"));
    assert_eq!((ours.status.code(), runc.status.code()), (Some(9), Some(9)));

    // run -d, exec, stop.
    let mut a = vec!["run", "-d", "--network", "none"];
    a.extend_from_slice(&LIMITS);
    a.extend_from_slice(&[IMAGE, "sh", "-c", "trap 'exit 4' TERM; while true; do sleep 0.1; done"]);
    let o = podman(BIN, &a);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let id = text(&o.stdout).trim().to_string();
    let e =
        podman(BIN, &["exec", "-u", "1000:1000", &id, "sh", "-c", "id; grep ^Seccomp: /proc/self/status"]);
    assert_eq!(text(&e.stdout), "uid=1000 gid=1000\nSeccomp:\t2\n", "{}", text(&e.stderr));
    let s = podman(BIN, &["stop", "-t", "5", &id]);
    assert!(s.status.success(), "{}", text(&s.stderr));
    let code = podman(BIN, &["inspect", "-f", "{{.State.ExitCode}}", &id]);
    assert_eq!(text(&code.stdout).trim(), "4", "SIGTERM reached the trap");
    assert!(podman(BIN, &["rm", &id]).status.success());

    // Landlock by annotation: the write fails under palisade-runtime, not under runc.
    let profile = std::path::absolute("tests/fixtures/oci/landlock-readonly.yaml").unwrap();
    let note = format!("org.palisade.profile={}", profile.display());
    let probe = "echo x > /tmp/f && echo wrote; grep ^NoNewPrivs: /proc/self/status";
    let (ours, runc) =
        (run(BIN, &["--annotation", &note], probe), run("runc", &["--annotation", &note], probe));
    assert_eq!(text(&runc.stdout), "wrote\nNoNewPrivs:\t0\n");
    assert_eq!(text(&ours.stdout), "NoNewPrivs:\t1\n", "{}", text(&ours.stderr));
    assert!(text(&ours.stderr).contains("Permission denied"), "{}", text(&ours.stderr));
    // The annotation comes from the container's side: a host file outside the profile
    // directories is refused, and nothing runs.
    let o = run(BIN, &["--annotation", "org.palisade.profile=/etc/passwd"], "echo ran");
    assert!(!o.status.success() && !text(&o.stdout).contains("ran"), "{}", text(&o.stdout));
    assert!(
        text(&o.stderr).contains("neither `builtin:NAME` nor a file beneath a profile directory"),
        "{}",
        text(&o.stderr)
    );
}
