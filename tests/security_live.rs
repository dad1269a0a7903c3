//! The attacker's view of issue 14's fixes: each test reproduces an attack from the red-team
//! review against the real binaries (as root, as CI runs) and checks what the kernel did.

mod common;

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::live::{enforce, ok, pty, text, wait_for, ENFORCE};
use common::tempdir;

/// Run `args` as the operator would from an interactive shell: in a session of its own whose
/// controlling terminal is a pty (`setsid --ctty`), stdio on it. Returns (exit code, everything
/// written to the terminal).
fn on_a_terminal(rt: &Path, args: &[&str]) -> (Option<i32>, String) {
    let (mut master, peer) = pty();
    let mut child = Command::new("setsid")
        .args(["--ctty", "--wait", ENFORCE])
        .args(args)
        .env("PALISADE_RUNTIME_DIR", rt)
        .stdin(Stdio::from(peer.try_clone().unwrap()))
        .stdout(Stdio::from(peer.try_clone().unwrap()))
        .stderr(Stdio::from(peer))
        .spawn()
        .unwrap();
    // Read until every holder of the peer end is gone (EIO).
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match master.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    let code = child.wait().unwrap().code();
    // Whatever was pushed into the terminal's input queue and never read is lost with it; the
    // workload reports what its ioctl returned.
    (code, text(&out).replace("\r\n", "\n"))
}

/// What the probe prints: the TIOCSTI / TIOCLINUX verdicts on stdin, stdout and /dev/tty, and
/// whether the process has a controlling terminal (`/proc/self/stat` field 7).
const PROBE: &str = r#"
import fcntl, os, termios
def sti(fd):
    try:
        fcntl.ioctl(fd, termios.TIOCSTI, b"X")
        return "ok"
    except OSError as e:
        return "errno%d" % e.errno
print("sti0", sti(0))
print("sti1", sti(1))
try:
    t = os.open("/dev/tty", os.O_RDWR)
    print("devtty", "open", sti(t))
except OSError as e:
    print("devtty", "errno%d" % e.errno)
stat = open("/proc/self/stat").read()
print("tty_nr", stat[stat.rindex(")") + 2:].split()[4])
"#;

/// Finding 1 (critical): a foreground container shared the caller's terminal as its
/// controlling tty, so `ioctl(TIOCSTI)` typed commands into the operator's shell. The container
/// now has a session of its own without a controlling terminal (the kernel refuses TIOCSTI on
/// a terminal that is not the caller's controlling one), and the built-ins deny TIOCSTI and
/// TIOCLINUX in seccomp as well (compared on 32 bits).
#[test]
fn a_container_cannot_type_into_the_operators_terminal() {
    let d = tempdir("tiocsti");
    let rt = d.join("run");
    // Seccomp allows every ioctl here: only the session stands in the way.
    let open = d.join("open.yaml");
    std::fs::write(&open, "name: open\nseccomp:\n  default: allow\nisolation:\n  hostname: t\n").unwrap();
    let (code, out) =
        on_a_terminal(&rt, &["run", "--profile", open.to_str().unwrap(), "--", "python3", "-c", PROBE]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("sti0 errno1\n") && out.contains("sti1 errno1\n"),
        "TIOCSTI reached the terminal:\n{out}"
    );
    assert!(out.contains("devtty errno6\n"), "/dev/tty must not open (ENXIO): {out}");
    assert!(out.contains("tty_nr 0\n"), "the container has a controlling terminal: {out}");
    // The built-ins deny it in seccomp too (EPERM from the filter, whatever the session).
    let builtin = d.join("builtin.yaml");
    std::fs::write(&builtin, "name: b\nextends: docker-default\nisolation:\n  hostname: t\n").unwrap();
    let (code, out) =
        on_a_terminal(&rt, &["run", "--profile", builtin.to_str().unwrap(), "--", "python3", "-c", PROBE]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("sti0 errno1\n"), "{out}");
    // On the host a built-in's filter is what stops it: the command keeps the terminal.
    let (code, out) =
        on_a_terminal(&rt, &["run", "--profile", "builtin:docker-default", "--", "python3", "-c", PROBE]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("sti0 errno1\n") && out.contains("sti1 errno1\n"), "{out}");
    assert!(!out.contains("tty_nr 0\n"), "a host run keeps the caller's terminal: {out}");
}

/// A detached container named `name` in host-root mode (the host's python3 is inside) that
/// sleeps until stopped, under `profile` (YAML after the name) and an isolation section that
/// `extra` adds to.
fn detached(d: &Path, rt: &Path, name: &str, profile: &str, extra: &str) {
    let prof = d.join(format!("{name}.yaml"));
    std::fs::write(&prof, format!("name: {name}\n{profile}isolation:\n  hostname: {name}\n{extra}")).unwrap();
    ok(&enforce(
        rt,
        &["run", "-d", "--name", name, "--profile", prof.to_str().unwrap(), "--", "sleep", "1000"],
    ));
}

fn state(rt: &Path, name: &str) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(rt.join(name).join("state.json")).unwrap()).unwrap()
}

/// Finding 2 (high): `enforce exec` handed the caller's terminal to a process in a container
/// that may be compromised (ptrace it, then TIOCSTI or read the keystrokes). The exec'd process
/// now has a session of its own and pipes this side relays (stdin /dev/null without -i), and
/// it is in the container's cgroup (finding 4: it escaped `pids.max`).
#[test]
fn exec_gives_the_container_neither_the_terminal_nor_a_way_out_of_its_cgroup() {
    let d = tempdir("exec");
    let rt = d.join("run");
    // Seccomp allows every ioctl: only the session and the pipes stand in the way.
    detached(&d, &rt, "box", "seccomp:\n  default: allow\n", "  limits: { pids: 16 }\n");
    let (code, out) = on_a_terminal(&rt, &["exec", "box", "--", "python3", "-c", PROBE]);
    assert_eq!(code, Some(0), "{out}");
    // ENOTTY: stdin is /dev/null and stdout a pipe, not the operator's terminal.
    assert!(out.contains("sti0 errno25\n") && out.contains("sti1 errno25\n"), "{out}");
    assert!(out.contains("devtty errno6\n") && out.contains("tty_nr 0\n"), "{out}");
    // Output and status come back through the relay.
    let echoed = enforce(&rt, &["exec", "box", "--", "sh", "-c", "echo out; echo err >&2; exit 3"]);
    assert_eq!(echoed.status.code(), Some(3));
    assert_eq!((text(&echoed.stdout), text(&echoed.stderr)), ("out\n".to_string(), "err\n".to_string()));
    // -i relays stdin; without it the command reads nothing.
    let mut child = Command::new(ENFORCE)
        .env("PALISADE_RUNTIME_DIR", &rt)
        .args(["exec", "-i", "box", "--", "cat"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), b"piped\n").unwrap();
    drop(child.stdin.take());
    assert_eq!(text(&child.wait_with_output().unwrap().stdout), "piped\n");
    let none = Command::new(ENFORCE)
        .env("PALISADE_RUNTIME_DIR", &rt)
        .args(["exec", "box", "--", "cat"])
        .stdin(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!((none.status.code(), text(&none.stdout)), (Some(0), String::new()));
    // Finding 5: a token in the operator's environment never reaches the container, where any
    // process could read an exec'd process's /proc/PID/environ.
    let mut holder = Command::new(ENFORCE)
        .env("PALISADE_RUNTIME_DIR", &rt)
        .env("API_TOKEN", "s3cr3t-token")
        .args(["exec", "box", "--", "sleep", "3"])
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    let seen = enforce(
        &rt,
        &[
            "exec",
            "box",
            "--",
            "sh",
            "-c",
            "grep -la PATH= /proc/[0-9]*/environ | wc -l; grep -la s3cr3t /proc/[0-9]*/environ | wc -l",
        ],
    );
    let counts: Vec<u32> = ok(&seen).split_whitespace().map(|n| n.parse().unwrap()).collect();
    assert!(counts[0] >= 2, "the probe reads no environment at all: {counts:?}");
    assert_eq!(counts[1], 0, "the token is readable in the container");
    holder.kill().unwrap();
    let _ = holder.wait();
    // -t: a terminal of the container's own.
    let tty = enforce(&rt, &["exec", "-t", "box", "--", "sh", "-c", "tty"]);
    assert!(ok(&tty).starts_with("/dev/pts/"), "{}", text(&tty.stdout));
    // The cgroup: its pids.max holds for what exec starts (16 for the whole container).
    let group = state(&rt, "box")["cgroup"].as_str().unwrap().to_string();
    assert!(group.starts_with("palisade/box."), "{group}");
    let forks =
        enforce(&rt, &["exec", "box", "--", "sh", "-c", "for i in $(seq 40); do sleep 5 & done; wait"]);
    assert!(
        text(&forks.stderr).contains("fork"),
        "40 processes started past pids.max 16: {}",
        text(&forks.stderr)
    );
    let procs =
        std::fs::read_to_string(Path::new("/sys/fs/cgroup/pids").join(&group).join("cgroup.procs")).unwrap();
    assert!(procs.lines().count() >= 1);
    ok(&enforce(&rt, &["rm", "-f", "box"]));
}

/// Finding 8 and 9 (medium): a NAME such as `../X` reached any directory with a `state.json`
/// (`stop` killed a chosen host pid) and named a host cgroup. Every verb now takes only
/// `[a-zA-Z0-9][a-zA-Z0-9_.-]*` (and not `cache`), before anything is read.
#[test]
fn names_never_leave_the_state_directory() {
    let d = tempdir("names");
    let rt = d.join("run");
    std::fs::create_dir_all(&rt).unwrap();
    std::fs::set_permissions(&rt, std::fs::Permissions::from_mode(0o700)).unwrap();
    // The planted state: a host process an attacker wants killed.
    let mut victim = Command::new("sleep").arg("100").spawn().unwrap();
    let pid = victim.id();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let start: u64 =
        stat[stat.rfind(')').unwrap() + 2..].split_whitespace().nth(19).unwrap().parse().unwrap();
    let planted = d.join("X");
    std::fs::create_dir_all(&planted).unwrap();
    let st = serde_json::json!({
        "name": "X", "profile": "builtin:strict", "profile_digest": "", "command": ["sleep"],
        "rootfs": null, "status": "running", "keeper_pid": pid, "pid": pid, "pid_start": start,
        "created": 0, "started": 0, "finished": null, "exit_code": null
    });
    std::fs::write(planted.join("state.json"), st.to_string()).unwrap();
    for verb in
        [&["stop", "../X"][..], &["rm", "-f", "../X"], &["logs", "../X"], &["exec", "../X", "--", "true"]]
    {
        let out = enforce(&rt, verb);
        assert_eq!(out.status.code(), Some(2), "{verb:?}: {}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains("invalid container name \"../X\""),
            "{verb:?}: {}",
            text(&out.stderr)
        );
    }
    assert!(planted.join("state.json").exists(), "rm removed a directory outside the state directory");
    assert!(victim.try_wait().unwrap().is_none(), "stop killed a host process");
    victim.kill().unwrap();
    let _ = victim.wait();
    for name in ["../X", "cache", ".hidden", "-x", "a/b"] {
        let out = enforce(&rt, &["run", "--name", name, "--rootfs", "/nonexistent", "--", "true"]);
        assert_eq!(out.status.code(), Some(2), "--name {name}: {}", text(&out.stderr));
    }
    // A symbolic link in the state directory is never followed to a state.
    std::os::unix::fs::symlink(&planted, rt.join("X")).unwrap();
    let out = enforce(&rt, &["stop", "X"]);
    assert!(text(&out.stderr).contains("no container named `X`"), "{}", text(&out.stderr));
}

/// Finding 9 (medium): a foreground `run --name N` reused N's cgroup: it rewrote a running
/// container's limits, then removed its group. Groups are unique per container now.
#[test]
fn a_reused_name_never_touches_another_containers_cgroup() {
    let d = tempdir("cgname");
    let rt = d.join("run");
    detached(&d, &rt, "web", "extends: docker-default\n", "  limits: { pids: 16 }\n");
    let group = state(&rt, "web")["cgroup"].as_str().unwrap().to_string();
    let max =
        || std::fs::read_to_string(Path::new("/sys/fs/cgroup/pids").join(&group).join("pids.max")).unwrap();
    assert_eq!(max(), "16\n");
    let prof = d.join("roomy.yaml");
    std::fs::write(&prof, "name: r\nextends: docker-default\nisolation:\n  limits: { pids: 200 }\n").unwrap();
    ok(&enforce(&rt, &["run", "--name", "web", "--profile", prof.to_str().unwrap(), "--", "true"]));
    assert_eq!(max(), "16\n", "the foreground run changed the detached container's limits");
    ok(&enforce(&rt, &["rm", "-f", "web"]));
}

/// Finding 14 (low): two `run -d --name N` at once both started and one became untracked.
/// The state directory is made with `mkdir` before anything starts: exactly one wins.
#[test]
fn two_runs_with_one_name_start_one_container() {
    let d = tempdir("race");
    let rt = d.join("run");
    let prof = d.join("p.yaml");
    std::fs::write(&prof, "name: p\nextends: docker-default\nisolation:\n  hostname: one\n").unwrap();
    let spawn = || {
        Command::new(ENFORCE)
            .env("PALISADE_RUNTIME_DIR", &rt)
            .args(["run", "-d", "--name", "one", "--profile", prof.to_str().unwrap(), "--", "sleep", "100"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let runs: Vec<_> = (0..4).map(|_| spawn()).collect();
    let outs: Vec<Output> = runs.into_iter().map(|c| c.wait_with_output().unwrap()).collect();
    let started = outs.iter().filter(|o| o.status.success()).count();
    assert_eq!(started, 1, "{:?}", outs.iter().map(|o| text(&o.stderr)).collect::<Vec<_>>());
    for o in outs.iter().filter(|o| !o.status.success()) {
        assert!(text(&o.stderr).contains("a container named `one` exists"), "{}", text(&o.stderr));
    }
    // Exactly one sleep runs under this runtime directory's container.
    let ps = ok(&enforce(&rt, &["ps"]));
    assert_eq!(ps.matches("running").count(), 1, "{ps}");
    ok(&enforce(&rt, &["rm", "-f", "one"]));
}

/// Finding 15 (low): `--report FILE` was created as root through a symbolic link, truncating
/// its target. The report is a new file renamed over the path: the link is replaced.
#[test]
fn the_report_never_writes_through_a_planted_link() {
    let d = tempdir("report");
    let victim = d.join("victim");
    std::fs::write(&victim, "precious\n").unwrap();
    let link = d.join("report.json");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let hard = d.join("hard.json");
    std::fs::hard_link(&victim, &hard).unwrap();
    for path in [&link, &hard] {
        let out = Command::new(ENFORCE)
            .args([
                "run",
                "--profile",
                "builtin:docker-default",
                "--report",
                path.to_str().unwrap(),
                "--",
                "true",
            ])
            .output()
            .unwrap();
        ok(&out);
        assert_eq!(
            std::fs::read_to_string(&victim).unwrap(),
            "precious\n",
            "written through {}",
            path.display()
        );
        let report = std::fs::symlink_metadata(path).unwrap();
        assert!(report.is_file() && std::fs::read_to_string(path).unwrap().contains("\"steps\""));
    }
}

/// Finding 16 (low): a SIGKILLed foreground launcher left its container running and its
/// cgroup behind. PID 1 now dies with its launcher, and the next launcher that makes a group
/// removes the orphaned empty one.
#[test]
fn a_killed_launcher_takes_its_container_and_its_cgroup_with_it() {
    let d = tempdir("pdeath");
    let prof = d.join("p.yaml");
    std::fs::write(&prof, "name: p\nextends: docker-default\nisolation:\n  limits: { pids: 32 }\n").unwrap();
    let mut launcher = Command::new(ENFORCE)
        .args(["run", "--profile", prof.to_str().unwrap(), "--", "sleep", "100"])
        .spawn()
        .unwrap();
    let lpid = launcher.id();
    // PID 1 (the launcher's child) and the workload (PID 1's child).
    let children = |pid: u32| -> Vec<u32> {
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect()
    };
    let mut pid1 = 0;
    assert!(
        wait_for(
            || {
                pid1 = children(lpid).first().copied().unwrap_or(0);
                pid1 != 0 && !children(pid1).is_empty()
            },
            10
        ),
        "the container did not start"
    );
    let group = std::fs::read_to_string(format!("/proc/{pid1}/cgroup")).unwrap();
    let group = group.lines().find(|l| l.contains(":pids:")).unwrap().rsplit(':').next().unwrap().to_string();
    launcher.kill().unwrap();
    let _ = launcher.wait();
    assert!(wait_for(|| !Path::new(&format!("/proc/{pid1}")).exists(), 5), "PID 1 outlived its launcher");
    let dir = Path::new("/sys/fs/cgroup/pids").join(group.trim_start_matches('/'));
    assert!(group.starts_with("/palisade/run."), "{group}");
    // The next run with limits sweeps it (or a test running beside this one did already).
    ok(&Command::new(ENFORCE)
        .args(["run", "--profile", prof.to_str().unwrap(), "--", "true"])
        .output()
        .unwrap());
    assert!(!dir.exists(), "the orphaned group {} is still there", dir.display());
}

/// Finding 11 (medium): mount targets were resolved on the host through the image's symbolic
/// links: `/conf -> /tmp/x` made PID 1 create a host file and put the volume outside the
/// container. Every target is now looked up inside the root (`RESOLVE_IN_ROOT`).
#[test]
fn an_images_links_never_lead_a_mount_out_of_it() {
    let d = tempdir("links");
    let root = common::rootfs::build(&d);
    let escape = std::env::temp_dir().join(format!("palisade-escape-{}", std::process::id()));
    let climb = std::env::temp_dir().join(format!("palisade-climb-{}", std::process::id()));
    let _ = std::fs::remove_file(&escape);
    let _ = std::fs::remove_dir_all(&climb);
    std::os::unix::fs::symlink(&escape, root.join("conf")).unwrap();
    std::os::unix::fs::symlink(format!("../../../../../../..{}", climb.display()), root.join("etc/app"))
        .unwrap();
    let src = d.join("app.conf");
    std::fs::write(&src, "setting=1\n").unwrap();
    let data = d.join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("f"), "volume\n").unwrap();
    let out = Command::new(ENFORCE)
        .args(["run", "--rootfs", root.to_str().unwrap(), "-v"])
        .arg(format!("{}:/conf:ro", src.display()))
        .arg("-v")
        .arg(format!("{}:/etc/app/data:ro", data.display()))
        .args(["--", "/bin/sh", "-c", "cat /conf /etc/app/data/f"])
        .output()
        .unwrap();
    assert_eq!(ok(&out), "setting=1\nvolume\n");
    assert!(!escape.exists(), "PID 1 created {} on the host", escape.display());
    assert!(!climb.exists(), "PID 1 created {} on the host", climb.display());
    // Inside, where the links lead within the root.
    let inside = root.join(escape.strip_prefix("/").unwrap());
    assert!(inside.exists(), "the mount point was not made inside the root: {}", inside.display());
}

/// Finding 20 (low), each part as the attacker or the unlucky operator meets it.
#[test]
fn the_low_findings_of_part_20() {
    let d = tempdir("part20");
    let rt = d.join("run");
    // A stderr that cannot be written (full) is not a panic (101): the run's own status stays.
    let full = || std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
    let missing = Command::new(ENFORCE)
        .args(["run", "--profile", "builtin:strict", "--", "/nonexistent"])
        .stderr(full())
        .status()
        .unwrap();
    assert_eq!(missing.code(), Some(127));
    let listed =
        Command::new(ENFORCE).env("PALISADE_RUNTIME_DIR", &rt).arg("ps").stdout(full()).status().unwrap();
    assert_eq!(listed.code(), Some(0));
    // A profile that denies exit_group is refused before it starts (not a SIGSEGV, 139).
    let deny = d.join("deny.yaml");
    std::fs::write(&deny, "name: d\nseccomp:\n  default: allow\n  rules:\n    - deny: [exit_group]\n")
        .unwrap();
    let out = Command::new(ENFORCE)
        .args(["run", "--profile", deny.to_str().unwrap(), "--", "true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("exit_group"), "{}", text(&out.stderr));
    // map_root_to onto this machine's accounts is said.
    let shared = d.join("shared.yaml");
    std::fs::write(&shared, "name: s\nextends: docker-default\nisolation:\n  users: { map_root_to: 1 }\n")
        .unwrap();
    let out = Command::new(ENFORCE)
        .args(["run", "--profile", shared.to_str().unwrap(), "--", "true"])
        .output()
        .unwrap();
    ok(&out);
    assert!(
        text(&out.stderr).contains("belong to accounts of this machine (daemon=1"),
        "{}",
        text(&out.stderr)
    );
    // PID 1's command line is the shim's name, not the launcher's arguments.
    let prof = d.join("secret-profile-name.yaml");
    std::fs::write(&prof, "name: p\nextends: docker-default\nisolation:\n  hostname: p\n").unwrap();
    let out = Command::new(ENFORCE)
        .args([
            "run",
            "--profile",
            prof.to_str().unwrap(),
            "--",
            "sh",
            "-c",
            "cat /proc/1/cmdline; cat /proc/1/comm",
        ])
        .output()
        .unwrap();
    let seen = ok(&out);
    assert!(seen.starts_with("palisade-init\0") && seen.ends_with("palisade-init\n"), "{seen:?}");
    assert!(!seen.contains("secret-profile-name"), "{seen:?}");
    // A Landlock rule through a symbolic link says where it leads.
    let real = d.join("real");
    std::fs::create_dir_all(&real).unwrap();
    std::os::unix::fs::symlink(&real, d.join("link")).unwrap();
    let out = Command::new(ENFORCE)
        .args(["run", "--dry-run", "--profile", "builtin:strict", "--allow-ro"])
        .arg(d.join("link"))
        .args(["--", "true"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
    let paths = report["landlock"]["paths"].as_array().unwrap();
    let rule = paths.iter().find(|p| p["path"] == d.join("link").to_str().unwrap()).expect("the rule");
    assert_eq!(rule["resolves_to"], real.to_str().unwrap(), "{rule}");
    // A detached container's state and logs are this user's only.
    detached(&d, &rt, "perm", "extends: docker-default\n", "");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&rt.join("perm")), 0o700);
    assert_eq!(mode(&rt.join("perm/state.json")), 0o600);
    assert!(wait_for(|| rt.join("perm/container.log").exists(), 5));
    assert_eq!(mode(&rt.join("perm/container.log")), 0o600);
    ok(&enforce(&rt, &["rm", "-f", "perm"]));
}

/// Finding 13 (medium): the compile cache reused an entry whose rootfs had been resolved
/// through a link switched since (a new release), so the old rootfs ran. The cache now keys on
/// where the profile is, and a relative path's `..` is taken on the profile's canonical
/// directory without resolving the links beneath (they are followed when the policy is applied).
#[test]
fn the_compile_cache_follows_a_switched_link() {
    let d = tempdir("switch");
    let rt = d.join("run");
    for v in ["v1", "v2"] {
        let dir = d.join("releases").join(v);
        std::fs::create_dir_all(&dir).unwrap();
        let root = common::rootfs::build(&dir);
        std::fs::write(root.join("etc/which"), format!("{v}\n")).unwrap();
        std::fs::write(
            dir.join("p.yaml"),
            "name: p\nextends: docker-default\nisolation:\n  rootfs: ./rootfs\n",
        )
        .unwrap();
    }
    let images = d.join("images");
    std::fs::create_dir_all(&images).unwrap();
    std::fs::write(
        images.join("up.yaml"),
        "name: u\nextends: docker-default\nisolation:\n  rootfs: ../current/rootfs\n",
    )
    .unwrap();
    let which = |profile: &Path| {
        ok(&enforce(&rt, &["run", "--profile", profile.to_str().unwrap(), "--", "/bin/cat", "/etc/which"]))
    };
    let current = d.join("current");
    std::os::unix::fs::symlink("releases/v1", &current).unwrap();
    assert_eq!(which(&current.join("p.yaml")), "v1\n");
    assert_eq!(which(&images.join("up.yaml")), "v1\n");
    std::fs::remove_file(&current).unwrap();
    std::os::unix::fs::symlink("releases/v2", &current).unwrap();
    assert_eq!(which(&current.join("p.yaml")), "v2\n", "the cache ran the old release's rootfs");
    assert_eq!(which(&images.join("up.yaml")), "v2\n", "the cache ran the old release's rootfs");
    assert!(rt.join("cache").is_dir(), "the runs went through the cache");
}
