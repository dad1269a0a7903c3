//! `palisade-runtime` under Docker (issue 16): the test starts a private `dockerd` (its own
//! socket, data and exec roots, no iptables, no bridge; `--config-file` registers the runtime),
//! imports a busybox-static image (never pulls), and runs the same containers with
//! `--runtime palisade` and with runc, comparing what they show. Needs root and Debian's
//! `docker.io` (scripts/install-deps installs it): on CI a missing prerequisite fails.

mod common;

use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_palisade-runtime");

use common::dockerd::{Daemon, IMAGE};

fn start(name: &str) -> Option<Daemon> {
    let profile = std::path::absolute("tests/fixtures/oci/landlock-readonly.yaml").unwrap();
    common::dockerd::start(
        name,
        serde_json::json!({
            "palisade": {"path": BIN},
            "palisade-ro": {"path": BIN, "runtimeArgs": ["--profile", profile]},
        }),
    )
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_string()
}

/// What a container shows of itself.
const PROBE: &str =
    "id; hostname; grep -E '^(Cap|NoNewPrivs|Seccomp:)' /proc/self/status; echo cwd=$(pwd) env=$FOO; \
    touch /probe 2>&1 | head -c 30; echo; stat -c '%A %t,%T %n' /dev/*; \
    grep -cE ':(memory|pids|devices|freezer):/docker/' /proc/self/cgroup; \
    ls /sys/fs/cgroup; cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/memory/memory.limit_in_bytes";

/// `docker run --rm` of `args` (before the image) and `cmd`, under both runtimes.
fn both(d: &Daemon, args: &[&str], cmd: &str) -> (Output, Output) {
    let run = |runtime: &str| {
        let mut a = vec![
            "run",
            "--rm",
            "--pull",
            "never",
            "--network",
            "none",
            "--hostname",
            "probe",
            "--runtime",
            runtime,
        ];
        a.extend_from_slice(args);
        a.extend_from_slice(&[IMAGE, "sh", "-c", cmd]);
        d.docker(&a)
    };
    (run("palisade"), run("runc"))
}

#[test]
fn docker_runs_containers_with_palisade_as_with_runc() {
    let Some(d) = start("run") else { return };
    let matrix: [&[&str]; 8] = [
        &[],
        &["--user", "1000:1000", "-e", "FOO=bar", "-w", "/tmp"],
        &["--read-only"],
        &["--cap-drop", "ALL", "--cap-add", "NET_BIND_SERVICE"],
        &["--security-opt", "no-new-privileges"],
        &["--pids-limit", "64", "--memory", "64m"],
        &["--security-opt", "seccomp=unconfined"],
        &["--device", "/dev/kmsg", "--device", "/dev/null:/dev/mynull:r"],
    ];
    for args in matrix {
        let (ours, runc) = both(&d, args, PROBE);
        assert_eq!(ours.status.code(), Some(0), "{args:?}: {}", text(&ours.stderr));
        assert_eq!(text(&ours.stdout), text(&runc.stdout), "{args:?}: ours stderr {}", text(&ours.stderr));
    }
    // Exit codes pass through.
    let (ours, runc) = both(&d, &[], "exit 7");
    assert_eq!((ours.status.code(), runc.status.code()), (Some(7), Some(7)));
    // Docker's default seccomp profile, compiled by Palisade: the same verdicts as runc's.
    let probe = "unshare -U true 2>&1 | head -c 60; echo; mkdir /tmp/d && echo ok";
    let (ours, runc) = both(&d, &[], probe);
    assert_eq!(text(&ours.stdout), text(&runc.stdout), "ours stderr {}", text(&ours.stderr));
}

#[test]
fn docker_exec_logs_top_pause_stop_and_kill() {
    let Some(d) = start("life") else { return };
    let run = |name: &str, runtime: &str| {
        let o = d.docker(&[
            "run",
            "-d",
            "--pull",
            "never",
            "--network",
            "none",
            "--runtime",
            runtime,
            "--name",
            name,
            IMAGE,
            "sh",
            "-c",
            "echo started; trap 'echo term; exit 3' TERM; while true; do sleep 0.1; done",
        ]);
        assert!(o.status.success(), "{runtime}: {}", text(&o.stderr));
    };
    run("p-long", "palisade");
    run("r-long", "runc");
    for name in ["p-long", "r-long"] {
        let e =
            d.docker(&["exec", "-u", "1000:1000", name, "sh", "-c", "id; grep ^Seccomp: /proc/self/status"]);
        assert!(e.status.success(), "{name} exec: {}", text(&e.stderr));
        assert_eq!(text(&e.stdout), "uid=1000 gid=1000 groups=1000\nSeccomp:\t2\n", "{name}");
        let e = d.docker(&["exec", name, "sh", "-c", "exit 5"]);
        assert_eq!(e.status.code(), Some(5), "{name}");
        let top = d.docker(&["top", name]);
        assert!(
            top.status.success() && text(&top.stdout).contains("while true"),
            "{name} top: {}",
            text(&top.stderr)
        );
        assert!(d.docker(&["pause", name]).status.success(), "{name} pause");
        let s = d.docker(&["inspect", "-f", "{{.State.Status}}", name]);
        assert_eq!(text(&s.stdout).trim(), "paused", "{name}");
        assert!(d.docker(&["unpause", name]).status.success(), "{name} unpause");
        assert!(d.docker(&["kill", "-s", "USR1", name]).status.success());
        // USR1 has no trap: the shell (PID 1 of its namespace) ignores it, as the kernel does for a
        // pid namespace's init; it still runs.
        let s = d.docker(&["inspect", "-f", "{{.State.Status}}", name]);
        assert_eq!(text(&s.stdout).trim(), "running", "{name}");
        let stop = d.docker(&["stop", "-t", "5", name]);
        assert!(stop.status.success(), "{name} stop: {}", text(&stop.stderr));
        let code = d.docker(&["inspect", "-f", "{{.State.ExitCode}}", name]);
        assert_eq!(text(&code.stdout).trim(), "3", "{name}: SIGTERM reached the trap");
        let logs = d.docker(&["logs", name]);
        assert_eq!(text(&logs.stdout), "started\nterm\n", "{name}");
    }
}

#[test]
fn a_palisade_profile_brings_landlock_to_docker() {
    let Some(d) = start("landlock") else { return };
    let probe = "echo x > /tmp/f && echo wrote; cat /etc/passwd | head -c 4; echo; grep ^NoNewPrivs: /proc/self/status";
    let run = |runtime: &str| {
        d.docker(&[
            "run",
            "--rm",
            "--pull",
            "never",
            "--network",
            "none",
            "--runtime",
            runtime,
            IMAGE,
            "sh",
            "-c",
            probe,
        ])
    };
    let (ours, runc) = (run("palisade-ro"), run("runc"));
    assert_eq!(text(&runc.stdout), "wrote\nroot\nNoNewPrivs:\t0\n");
    // Landlock refuses the write; reads go on; Landlock needs no_new_privs.
    assert_eq!(text(&ours.stdout), "root\nNoNewPrivs:\t1\n", "stderr: {}", text(&ours.stderr));
    assert!(text(&ours.stderr).contains("Permission denied"), "{}", text(&ours.stderr));
}

#[test]
fn docker_run_t_and_exec_t_get_a_terminal() {
    let Some(d) = start("tty") else { return };
    // `script` gives the docker client a terminal, as a user at a shell has.
    let under_script = |cmd: String| {
        let o = Command::new("script")
            .args(["-qec", &cmd, "/dev/null"])
            .env("DOCKER_HOST", d.socket())
            .output()
            .unwrap();
        text(&o.stdout).replace('\r', "")
    };
    let probe = "tty; ls -l /proc/self/fd/0 | grep -o 'pts/0'";
    for runtime in ["palisade", "runc"] {
        let out = under_script(format!(
            "docker run -t --rm --pull never --network none --runtime {runtime} {IMAGE} sh -c \"{probe}\""
        ));
        assert_eq!(out, "/dev/pts/0\npts/0\n", "{runtime}");
    }
    let o = d.docker(&[
        "run",
        "-d",
        "--pull",
        "never",
        "--network",
        "none",
        "--runtime",
        "palisade",
        "--name",
        "p-long",
        IMAGE,
        "sleep",
        "60",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = under_script("docker exec -t p-long sh -c tty".into());
    assert_eq!(out, "/dev/pts/0\n");
}
