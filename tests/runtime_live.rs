//! Live tests of runtime-lite through `enforce run --rootfs`: a busybox rootfs in every
//! namespace, container root mapped to an unprivileged host uid. Root on CI.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Output};

use common::live::{enforce, ok, pty, text, wait_for, ENFORCE};
use common::tempdir;

fn run_in(profile: &str, rootfs: &Path, script: &str) -> Output {
    Command::new(ENFORCE)
        .args([
            "run",
            "--profile",
            profile,
            "--rootfs",
            rootfs.to_str().unwrap(),
            "--",
            "/bin/sh",
            "-c",
            script,
        ])
        .output()
        .unwrap()
}

#[test]
fn acceptance_pid_hostname_and_a_non_root_mapping() {
    let d = tempdir("accept");
    let root = common::rootfs::build(&d);
    let out = ok(&run_in("builtin:docker-default", &root, "echo $$; hostname; cat /proc/self/uid_map"));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "2", "the workload is PID 2 under the shim: {out}");
    assert_eq!(lines[1], "palisade");
    let map: Vec<&str> = lines[2].split_whitespace().collect();
    assert_eq!(map, ["0", "100000", "65536"], "container root is host uid 100000");
}

#[test]
fn the_namespaces_hide_the_host() {
    let d = tempdir("ns");
    let root = common::rootfs::build(&d);
    let prof = d.join("p.yaml");
    std::fs::write(&prof, "name: t\nextends: docker-default\nisolation:\n  hostname: web\n").unwrap();
    let out = ok(&run_in(
        prof.to_str().unwrap(),
        &root,
        "cat /proc/1/cmdline | head -c 200 | tr '\\0' ' ' >/dev/null; echo pid1=$(cat /proc/1/comm); hostname; grep -c : /proc/net/dev; ls /proc | grep -c '^[0-9]'; \
         touch /x 2>/dev/null && echo root-writable || echo root-readonly; cat /proc/keys | wc -c; \
         echo > /proc/sys/kernel/hostname 2>/dev/null && echo sys-writable || echo sys-readonly; \
         awk '$2 == \"/sys\" {print \"sysfs=\" substr($4, 1, 2)}' /proc/self/mounts",
    ));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "pid1=palisade-init", "{out}");
    assert_eq!(lines[1], "web");
    assert_eq!(lines[2], "1", "only lo in /proc/net/dev: {out}");
    assert!(lines[3].parse::<u32>().unwrap() <= 4, "host processes visible: {out}");
    assert_eq!(lines[4], "root-readonly");
    // /proc/kcore is masked too when the kernel has it (this one does not); /proc/keys always.
    assert_eq!(lines[5].trim(), "0", "/proc/keys is masked");
    assert_eq!(lines[6], "sys-readonly");
    // /sys is read-only as mounted (it needs no read-only bind of its own), and is one mount.
    assert_eq!(lines[7..], ["sysfs=ro"], "{out}");
}

#[test]
fn init_false_makes_the_workload_pid_1() {
    let d = tempdir("noinit");
    let root = common::rootfs::build(&d);
    let prof = d.join("p.yaml");
    std::fs::write(&prof, "name: t\nextends: docker-default\nisolation:\n  init: false\n").unwrap();
    assert_eq!(ok(&run_in(prof.to_str().unwrap(), &root, "echo $$")).trim(), "1");
}

#[test]
fn container_root_is_restricted() {
    let d = tempdir("restricted");
    let root = common::rootfs::build(&d);
    // A host file owned by root, mode 0600, bind-mounted in.
    let secret = d.join("secret");
    std::fs::write(&secret, "host secret\n").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let prof = d.join("p.yaml");
    std::fs::write(
        &prof,
        format!(
            "name: t\nextends: docker-default\nisolation:\n  mounts:\n    - {{ type: bind, source: {}, target: /secret/file, readonly: true }}\n",
            secret.display()
        ),
    )
    .unwrap();
    let host_name = text(&Command::new("hostname").output().unwrap().stdout);
    let out = ok(&run_in(
        prof.to_str().unwrap(),
        &root,
        "cat /secret/file 2>/dev/null && echo READ || echo denied; \
         mount -t tmpfs none /tmp 2>/dev/null && echo MOUNTED || echo no-mount; \
         insmod /nonexistent.ko 2>/dev/null; echo insmod=$?; \
         hostname changed 2>/dev/null; hostname; \
         grep -E '^Cap(Eff|Bnd)' /proc/self/status",
    ));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "denied", "container root read a host root 0600 file: {out}");
    assert_eq!(lines[1], "no-mount");
    assert_ne!(lines[2], "insmod=0");
    assert_eq!(
        text(&Command::new("hostname").output().unwrap().stdout),
        host_name,
        "the host's hostname changed"
    );
    assert!(lines[4].ends_with("00000000a80425fb") && lines[5].ends_with("00000000a80425fb"), "{out}");
}

#[test]
fn the_shim_reaps_orphans_and_forwards_sigterm() {
    let d = tempdir("shim");
    let root = common::rootfs::build(&d);
    // A double fork leaves an orphan for PID 1; it must not stay a zombie.
    let out = ok(&run_in(
        "builtin:docker-default",
        &root,
        "(sh -c 'sleep 0.2 &' &); sleep 1; grep -l '^State:.*Z' /proc/[0-9]*/status 2>/dev/null | wc -l",
    ));
    assert_eq!(out.trim(), "0", "zombies left: {out}");
    // SIGTERM to the launcher reaches the workload, whose status comes back.
    let mut child = Command::new(ENFORCE)
        .args([
            "run",
            "--profile",
            "builtin:docker-default",
            "--rootfs",
            root.to_str().unwrap(),
            "--",
            "/bin/sh",
            "-c",
        ])
        .arg("trap 'exit 42' TERM; echo ready; while true; do sleep 0.1; done")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    use std::io::BufRead;
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "ready");
    // SAFETY: sending a signal to our own child.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(42), "{status:?}");
}

#[test]
fn exit_status_and_errors() {
    let d = tempdir("errors");
    let root = common::rootfs::build(&d);
    assert_eq!(run_in("builtin:docker-default", &root, "exit 3").status.code(), Some(3));
    let out = Command::new(ENFORCE)
        .args(["run", "--rootfs", root.to_str().unwrap(), "--", "/bin/nonexistent"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(127), "{}", text(&out.stderr));
    let out = Command::new(ENFORCE)
        .args(["run", "--rootfs", "/nonexistent-rootfs", "--", "/bin/sh"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    assert!(text(&out.stderr).contains("/nonexistent-rootfs"), "{}", text(&out.stderr));
    // A mount that fails: exit 125, nothing ran.
    let prof = d.join("p.yaml");
    std::fs::write(&prof, "name: t\nextends: docker-default\nisolation:\n  mounts:\n    - { type: bind, source: /nonexistent-src, target: /data }\n").unwrap();
    let marker = root.join("tmp/ran");
    let out = run_in(prof.to_str().unwrap(), &root, "touch /tmp/ran");
    assert_eq!(out.status.code(), Some(125), "{}", text(&out.stderr));
    assert!(!marker.exists());
}

// ---------- lifecycle ----------

#[test]
fn detached_lifecycle_ps_exec_logs_stop_rm() {
    let d = tempdir("lifecycle");
    let root = common::rootfs::build(&d);
    let rt = d.join("run");
    let r = root.to_str().unwrap();
    let out = enforce(
        &rt,
        &[
            "run",
            "-d",
            "--name",
            "w",
            "--profile",
            "builtin:docker-default",
            "--rootfs",
            r,
            "--",
            "/bin/sh",
            "-c",
            "while true; do echo tick; sleep 0.2; done",
        ],
    );
    assert_eq!(ok(&out).trim(), "w");
    let ps = ok(&enforce(&rt, &["ps"]));
    assert!(ps.lines().any(|l| l.starts_with("w ") && l.contains("running")), "{ps}");
    // exec joins the same pid namespace and hostname.
    let out = ok(&enforce(
        &rt,
        &["exec", "w", "--", "/bin/sh", "-c", "hostname; ps -o pid,comm | grep -c ' sh$'; cat /proc/1/comm"],
    ));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "palisade");
    assert!(lines[1].parse::<u32>().unwrap() >= 2, "the container's shell is visible: {out}");
    assert_eq!(lines[2], "palisade-init");
    assert!(wait_for(|| text(&enforce(&rt, &["logs", "w"]).stdout).lines().count() >= 3, 10));
    let tail = ok(&enforce(&rt, &["logs", "w", "--tail", "2"]));
    assert_eq!(tail, "tick\ntick\n");
    let log_file = std::fs::read_to_string(rt.join("w/container.log")).unwrap();
    let first: serde_json::Value = serde_json::from_str(log_file.lines().next().unwrap()).unwrap();
    assert_eq!(first["stream"], "stdout");
    assert!(first["time"].as_str().unwrap().ends_with('Z'));
    ok(&enforce(&rt, &["stop", "w", "--time", "5"]));
    let ps = ok(&enforce(&rt, &["ps", "--format", "json"]));
    let v: serde_json::Value = serde_json::from_str(&ps).unwrap();
    assert_eq!(v[0]["status"], "exited");
    assert_eq!(v[0]["exit_code"], 143, "sh died of SIGTERM");
    // Stopping a stopped container is nothing to do (as `docker stop` says); its pid is gone.
    ok(&enforce(&rt, &["stop", "w"]));
    let row = ok(&enforce(&rt, &["ps"])).lines().find(|l| l.starts_with("w ")).unwrap().to_string();
    assert_eq!(row.split_whitespace().nth(2), Some("-"), "{row}");
    ok(&enforce(&rt, &["rm", "w"]));
    assert!(!rt.join("w").exists());
}

#[test]
fn stop_escalates_to_sigkill_and_stale_state_is_reported() {
    let d = tempdir("stop");
    let root = common::rootfs::build(&d);
    let rt = d.join("run");
    let r = root.to_str().unwrap();
    let out = enforce(
        &rt,
        &[
            "run",
            "-d",
            "--name",
            "stubborn",
            "--rootfs",
            r,
            "--",
            "/bin/sh",
            "-c",
            "trap '' TERM; echo ready; while true; do sleep 0.1; done",
        ],
    );
    ok(&out);
    // Only once the trap is set: a SIGTERM before it would simply kill the shell.
    assert!(wait_for(|| text(&enforce(&rt, &["logs", "stubborn"]).stdout).contains("ready"), 10));
    let t = std::time::Instant::now();
    ok(&enforce(&rt, &["stop", "stubborn", "--time", "1"]));
    assert!(t.elapsed() >= std::time::Duration::from_millis(900), "stopped before the timeout");
    let v: serde_json::Value =
        serde_json::from_slice(&enforce(&rt, &["ps", "--format", "json"]).stdout).unwrap();
    assert_eq!(v[0]["status"], "exited");
    assert_eq!(v[0]["exit_code"], 137, "killed by SIGKILL");
    // A state that says running for a process that is gone is stale, not trusted.
    let state = rt.join("stubborn/state.json");
    let mut s: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    s["status"] = serde_json::json!("running");
    std::fs::write(&state, s.to_string()).unwrap();
    let ps = ok(&enforce(&rt, &["ps"]));
    assert!(ps.contains("stale"), "{ps}");
    let out = enforce(&rt, &["exec", "stubborn", "--", "/bin/true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(text(&out.stderr).contains("not running (stale)"), "{}", text(&out.stderr));
    ok(&enforce(&rt, &["rm", "stubborn"]));
}

#[test]
fn logs_rotate_at_the_size_bound() {
    let d = tempdir("logs");
    let root = common::rootfs::build(&d);
    let rt = d.join("run");
    let prof = d.join("p.yaml");
    std::fs::write(
        &prof,
        "name: t\nextends: docker-default\nisolation:\n  logs: { max_size: 2Ki, max_files: 2 }\n",
    )
    .unwrap();
    let out = enforce(
        &rt,
        &[
            "run",
            "-d",
            "--name",
            "chatty",
            "--profile",
            prof.to_str().unwrap(),
            "--rootfs",
            root.to_str().unwrap(),
            "--",
            "/bin/sh",
            "-c",
            "seq 1 500; sleep 0.3; echo done >&2",
        ],
    );
    ok(&out);
    assert!(wait_for(
        || std::fs::read_to_string(rt.join("chatty/state.json"))
            .map(|s| s.contains("\"exited\""))
            .unwrap_or(false),
        10
    ));
    let names: Vec<String> = std::fs::read_dir(rt.join("chatty"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("container.log"))
        .collect();
    assert_eq!(names.len(), 2, "at most max_files: {names:?}");
    for n in &names {
        assert!(std::fs::metadata(rt.join("chatty").join(n)).unwrap().len() <= 2048, "{n} over the bound");
    }
    // (The two streams are separate pipes: the sleep orders them.)
    let out = enforce(&rt, &["logs", "chatty", "--tail", "2"]);
    assert_eq!(text(&out.stdout), "500\n");
    assert_eq!(text(&out.stderr), "done\n", "stderr lines keep their stream");
    ok(&enforce(&rt, &["rm", "chatty"]));
}

#[test]
fn a_pids_limit_stops_a_fork_bomb_and_the_cgroup_is_removed() {
    let d = tempdir("pids");
    let root = common::rootfs::build(&d);
    // A bounded bomb: 64 background sleepers. busybox sh gives up at the first failed fork.
    let bomb = "i=0; while [ $i -lt 64 ]; do sleep 1 & i=$((i+1)); done; echo all-started";
    let limited = d.join("limited.yaml");
    std::fs::write(
        &limited,
        "name: t\nextends: docker-default\nisolation:\n  limits: { pids: 16, memory: 64Mi }\n",
    )
    .unwrap();
    let t = std::time::Instant::now();
    let out = run_in(limited.to_str().unwrap(), &root, bomb);
    assert_ne!(out.status.code(), Some(0));
    assert!(!text(&out.stdout).contains("all-started"));
    assert!(text(&out.stderr).contains("can't fork"), "{}", text(&out.stderr));
    assert!(t.elapsed() < std::time::Duration::from_secs(10));
    // The same bomb under a roomier limit starts everything: the limit is what stopped it.
    let roomy = d.join("roomy.yaml");
    std::fs::write(&roomy, "name: t\nextends: docker-default\nisolation:\n  limits: { pids: 200 }\n")
        .unwrap();
    assert_eq!(ok(&run_in(roomy.to_str().unwrap(), &root, bomb)).trim(), "all-started");
    let groups: Vec<_> = std::fs::read_dir("/sys/fs/cgroup/pids/palisade")
        .map(|d| d.filter_map(|e| e.ok()).filter(|e| e.path().is_dir()).collect())
        .unwrap_or_default();
    assert!(groups.is_empty(), "leftover cgroups: {groups:?}");
}

#[test]
fn without_a_rootfs_the_host_root_is_bind_mounted_read_only() {
    let d = tempdir("hostroot");
    let prof = d.join("p.yaml");
    std::fs::write(&prof, "name: t\nextends: docker-default\nisolation:\n  hostname: hr\n").unwrap();
    let out = Command::new(ENFORCE)
        .args(["run", "--profile", prof.to_str().unwrap(), "--", "/bin/sh", "-c"])
        .arg("hostname; echo $$; touch /etc/palisade-x 2>/dev/null && echo writable || echo read-only")
        .output()
        .unwrap();
    assert_eq!(ok(&out), "hr\n2\nread-only\n");
    assert!(!Path::new("/etc/palisade-x").exists());
}

#[test]
fn a_host_mount_container_root_cannot_reach_does_not_stop_a_host_root_run() {
    // Podman's and dockerd's storage leave such mounts (beneath a 0700 directory of host
    // root's); the read-only host root used to fail on them with EACCES.
    let d = tempdir("unreachable");
    let locked = d.join("locked");
    let inner = locked.join("m");
    std::fs::create_dir_all(&inner).unwrap();
    std::fs::set_permissions(&locked, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    nix::mount::mount(Some(&inner), &inner, None::<&str>, nix::mount::MsFlags::MS_BIND, None::<&str>)
        .unwrap();
    let prof = d.join("p.yaml");
    std::fs::write(&prof, "name: t\nextends: docker-default\nisolation:\n  hostname: hr\n").unwrap();
    let out = Command::new(ENFORCE)
        .args(["run", "--profile", prof.to_str().unwrap(), "--", "/bin/sh", "-c"])
        .arg(format!(
            "ls {} 2>&1 | grep -c 'Permission denied'; touch /etc/palisade-y 2>/dev/null || echo read-only",
            locked.display()
        ))
        .output()
        .unwrap();
    let _ = nix::mount::umount2(&inner, nix::mount::MntFlags::MNT_DETACH);
    assert_eq!(ok(&out), "1\nread-only\n");
}

#[test]
fn a_time_namespace_offsets_the_containers_clocks() {
    // `time` used to pass `policyc validate` and then fail `enforce run`.
    let d = tempdir("time");
    let root = common::rootfs::build(&d);
    let prof = d.join("p.yaml");
    std::fs::write(
        &prof,
        "name: t\nextends: docker-default\nisolation:\n  namespaces: [user, mount, pid, time, uts]\n  time_offsets: { boottime: 864000 }\n",
    )
    .unwrap();
    let host_uptime = |text: &str| text.split_whitespace().next().unwrap().parse::<f64>().unwrap();
    let before = host_uptime(&std::fs::read_to_string("/proc/uptime").unwrap());
    let out = ok(&run_in(prof.to_str().unwrap(), &root, "cat /proc/uptime; readlink /proc/self/ns/time"));
    let inside = host_uptime(&out);
    assert!(inside >= before + 864000.0 && inside < before + 864000.0 + 600.0, "{out} (host {before})");
    let host_ns = std::fs::read_link("/proc/self/ns/time").unwrap();
    assert_ne!(
        out.lines().nth(1).unwrap(),
        host_ns.to_str().unwrap(),
        "the container's time namespace is the host's"
    );
    // Without the namespace the clocks are the host's.
    let plain = host_uptime(&ok(&run_in("builtin:docker-default", &root, "cat /proc/uptime")));
    assert!(plain < before + 600.0, "{plain} (host {before})");
    // An exec'd process joins the container's time namespace too.
    let rt = d.join("run");
    let r = root.to_str().unwrap();
    let args = [
        "run",
        "-d",
        "--name",
        "clock",
        "--profile",
        prof.to_str().unwrap(),
        "--rootfs",
        r,
        "--",
        "/bin/sh",
        "-c",
        "while true; do sleep 0.2; done",
    ];
    ok(&enforce(&rt, &args));
    let joined = host_uptime(&ok(&enforce(&rt, &["exec", "clock", "--", "/bin/cat", "/proc/uptime"])));
    assert!(joined >= before + 864000.0, "exec'd process outside the time namespace: {joined}");
    ok(&enforce(&rt, &["rm", "-f", "clock"]));
}

#[test]
fn the_report_says_what_the_isolation_tier_did() {
    let d = tempdir("isoreport");
    let root = common::rootfs::build(&d);
    let prof = d.join("p.yaml");
    std::fs::write(&prof, "name: t\nextends: docker-default\nisolation:\n  hostname: rep\n  limits: { pids: 64 }\n  mounts:\n    - { type: tmpfs, target: /tmp, size: 1Mi }\n").unwrap();
    let out = Command::new(ENFORCE)
        .args([
            "run",
            "--profile",
            prof.to_str().unwrap(),
            "--rootfs",
            root.to_str().unwrap(),
            "--report",
            "-",
            "--",
            "/bin/true",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    let iso = &v["isolation"];
    assert_eq!(iso["namespaces"], serde_json::json!(["cgroup", "ipc", "mount", "net", "pid", "user", "uts"]));
    assert_eq!(iso["uid_map"], "0 100000 65536");
    assert_eq!(iso["hostname"], "rep");
    let mounts: Vec<&str> = iso["mounts"].as_array().unwrap().iter().filter_map(|m| m.as_str()).collect();
    for want in ["proc /proc", "sysfs /sys (ro)", "tmpfs /tmp (size=1048576,mode=1777)", "remount / (ro)"] {
        assert!(mounts.contains(&want), "{want} not in {mounts:#?}");
    }
    assert!(iso["masked"].as_array().unwrap().contains(&serde_json::json!("/proc/keys")), "{iso}");
    assert!(iso["readonly"].as_array().unwrap().contains(&serde_json::json!("/proc/sys")), "{iso}");
    let cg = &iso["cgroup"];
    assert_eq!(
        (&cg["status"], &cg["limits"]),
        (&serde_json::json!("applied"), &serde_json::json!(["pids=64"]))
    );
    assert!(cg["path"].as_str().unwrap().starts_with("palisade/run."), "{cg}");
    assert_eq!(v["state"], "applied");
    // --dry-run plans it without making anything.
    let out = Command::new(ENFORCE)
        .args([
            "run",
            "--dry-run",
            "--profile",
            prof.to_str().unwrap(),
            "--rootfs",
            root.to_str().unwrap(),
            "--",
            "/bin/true",
        ])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["state"], "planned");
    assert_eq!(v["command"], serde_json::json!(["/bin/true"]));
    assert_eq!(v["isolation"]["cgroup"], serde_json::json!({"status": "planned", "limits": ["pids=64"]}));
    assert_eq!(v["isolation"]["mounts"], serde_json::json!([]));
}

#[test]
fn the_workload_gets_a_clean_environment_and_may_set_its_groups() {
    let d = tempdir("env");
    let root = common::rootfs::build(&d);
    let script = "env | sort; cat /proc/self/setgroups";
    let out = Command::new(ENFORCE)
        .args(["run", "--rootfs", root.to_str().unwrap(), "--", "/bin/sh", "-c", script])
        .env("PALISADE_TEST_SECRET", "hunter2")
        .output()
        .unwrap();
    let out = ok(&out);
    assert!(!out.contains("hunter2"), "the caller's environment reached the container: {out}");
    for want in [
        "HOME=/root",
        "HOSTNAME=palisade",
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    ] {
        assert!(out.lines().any(|l| l == want), "{want} missing: {out}");
    }
    // Root maps a full range: setgroups is allowed inside (su, runuser, daemons need it).
    assert_eq!(out.lines().last(), Some("allow"), "{out}");
    // `enforce exec` gives its command the same environment.
    let rt = d.join("run");
    let r = root.to_str().unwrap();
    ok(&enforce(
        &rt,
        &["run", "-d", "--name", "e", "--rootfs", r, "--", "/bin/sh", "-c", "while true; do sleep 0.2; done"],
    ));
    let out = Command::new(ENFORCE)
        .env("PALISADE_RUNTIME_DIR", &rt)
        .env("PALISADE_TEST_SECRET", "hunter2")
        .args(["exec", "e", "--", "/bin/sh", "-c", "env"])
        .output()
        .unwrap();
    let out = ok(&out);
    assert!(!out.contains("hunter2") && out.contains("HOSTNAME=palisade"), "{out}");
    ok(&enforce(&rt, &["rm", "-f", "e"]));
    // The profile's `process.env` on top (it wins), and its workdir, where `./x` is found.
    std::fs::create_dir_all(root.join("srv/app")).unwrap();
    std::fs::write(root.join("srv/app/x"), "#!/bin/sh\necho \"in $(pwd) as $GREETING with $HOME\"\n")
        .unwrap();
    std::fs::set_permissions(root.join("srv/app/x"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let prof = d.join("p.yaml");
    std::fs::write(
        &prof,
        format!("name: p\nextends: docker-default\nprocess:\n  env: {{ GREETING: hi, HOME: /srv }}\n  workdir: /srv/app\nisolation: {{ rootfs: {r} }}\n"),
    )
    .unwrap();
    let out = Command::new(ENFORCE)
        .args(["run", "--profile", prof.to_str().unwrap(), "--", "./x"])
        .output()
        .unwrap();
    assert_eq!(ok(&out).trim(), "in /srv/app as hi with /srv");
}

#[test]
fn a_read_only_root_is_read_only_all_the_way_down() {
    let d = tempdir("rorec");
    let root = common::rootfs::build(&d);
    // A filesystem mounted beneath the root (host side), writable by anyone.
    let mnt = root.join("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    let mounted = |path: &Path| {
        let st = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "mode=1777", "none"])
            .arg(path)
            .status()
            .unwrap();
        assert!(st.success());
    };
    mounted(&mnt);
    let out = run_in(
        "builtin:docker-default",
        &root,
        "touch /mnt/x 2>/dev/null && echo writable || echo read-only",
    );
    let _ = Command::new("umount").arg(&mnt).status();
    assert_eq!(ok(&out).trim(), "read-only", "a submount of the rootfs stayed writable");
    // Host-root mode: the host's /tmp is the container's /tmp (not a staging tmpfs over it), and
    // a filesystem mounted beneath the host root is read-only too.
    let sub = d.join("sub");
    std::fs::create_dir_all(&sub).unwrap();
    mounted(&sub);
    let prof = d.join("p.yaml");
    std::fs::write(&prof, "name: t\nextends: docker-default\nisolation:\n  hostname: t\n").unwrap();
    let script = format!(
        "test -d {} && echo host-tmp; touch {}/x 2>/dev/null && echo writable || echo read-only",
        d.display(),
        sub.display()
    );
    let out = Command::new(ENFORCE)
        .args(["run", "--profile", prof.to_str().unwrap(), "--", "/bin/sh", "-c", &script])
        .output()
        .unwrap();
    let _ = Command::new("umount").arg(&sub).status();
    assert_eq!(ok(&out), "host-tmp\nread-only\n");
}

#[test]
fn a_root_owned_rootfs_under_a_root_only_directory_is_the_containers() {
    // A tree as debootstrap or `tar x` as root leaves it: owned by host root, under a 0700
    // directory container root (host uid 100000) cannot enter.
    let d = tempdir("locked");
    let locked = d.join("locked");
    std::fs::create_dir_all(&locked).unwrap();
    let root = common::rootfs::build(&locked);
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o700)).unwrap();
    let report = d.join("r.json");
    let out = Command::new(ENFORCE)
        .args(["run", "--report", report.to_str().unwrap(), "--rootfs", root.to_str().unwrap()])
        .args([
            "--tmpfs",
            "/tmp",
            "--",
            "/bin/sh",
            "-c",
            "stat -c '%u:%g' /etc/passwd; id -u; cat /etc/passwd >/dev/null && echo readable",
        ])
        .output()
        .unwrap();
    let out = ok(&out);
    // Idmapped: files host root owns are container root's (not nobody's).
    assert_eq!(out.lines().collect::<Vec<_>>(), ["0:0", "0", "readable"], "{out}");
    // Nothing on the host changed owner.
    assert_eq!(std::fs::metadata(root.join("etc/passwd")).unwrap().uid(), 0);
    // A filesystem mounted beneath the rootfs: an idmap would reach it (and a tree copied by
    // host root would not lock it), so the rootfs is bound by path and not idmapped, as said.
    let mnt = root.join("data");
    let mounted =
        Command::new("mount").args(["-t", "tmpfs", "tmpfs", mnt.to_str().unwrap()]).status().unwrap();
    assert!(mounted.success());
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = Command::new(ENFORCE)
        .args(["run", "--rootfs", root.to_str().unwrap(), "--", "/bin/sh", "-c", "stat -c '%u' /etc/passwd"])
        .output()
        .unwrap();
    let _ = Command::new("umount").arg(&mnt).status();
    let err = text(&out.stderr);
    assert_eq!(ok(&out).trim(), "65534", "not idmapped: host root's files are nobody's");
    assert!(err.contains("is not idmapped") && err.contains("/data is mounted beneath it"), "{err}");
}

/// `tmpdir: private` in a container (builtin:build): a tmpfs `/tmp` under the read-only root,
/// one directory of the workload's in it (the PID-1 shim makes none).
#[test]
fn a_private_tmpdir_in_a_container() {
    let d = tempdir("ctmp");
    let root = common::rootfs::build(&d);
    let out = Command::new(ENFORCE)
        .args(["run", "--profile", "builtin:build", "--rootfs", root.to_str().unwrap(), "--"])
        .args([
            "/bin/sh",
            "-c",
            "echo $TMPDIR; ls -d /tmp/palisade-tmp-* | wc -l; echo x > $TMPDIR/f && echo wrote",
        ])
        .current_dir(&d)
        .output()
        .unwrap();
    let out = ok(&out);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("/tmp/palisade-tmp-"), "{out}");
    assert_eq!(lines[1..].iter().map(|l| l.trim()).collect::<Vec<_>>(), ["1", "wrote"], "{out}");
}

#[test]
fn a_rootfs_a_normal_user_cannot_reach_is_refused_with_the_reason() {
    let d = std::path::PathBuf::from(format!("/var/tmp/palisade-test-{}-locked-user", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    let locked = d.join("locked");
    std::fs::create_dir_all(&locked).unwrap();
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
    let root = common::rootfs::build(&locked);
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o700)).unwrap();
    let xdg = d.join("xdg");
    std::fs::create_dir_all(&xdg).unwrap();
    std::os::unix::fs::chown(&xdg, Some(65534), Some(65534)).unwrap();
    std::fs::set_permissions(&xdg, std::fs::Permissions::from_mode(0o700)).unwrap();
    let out = Command::new("runuser")
        .args(["-u", "nobody", "--", "env", "-i", "PATH=/usr/bin:/bin"])
        .arg(format!("XDG_RUNTIME_DIR={}", xdg.display()))
        .arg(ENFORCE)
        .args(["run", "--profile", "builtin:strict", "--rootfs", root.to_str().unwrap(), "--", "/bin/true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("cannot be reached by container root (host uid 65534)") && err.contains("is mode 700"),
        "{err}"
    );
    std::fs::remove_dir_all(&d).unwrap();
}

/// `-t`: the workload has a terminal of the container's own (`tty` names it inside), `TERM`,
/// and its output comes back through it; `-i` relays stdin; detached, the log gets it; on the
/// host `-t` is refused with the reason.
#[test]
fn a_terminal_for_the_workload_with_t_and_stdin_with_i() {
    use std::io::Write;
    let d = tempdir("tty");
    let root = common::rootfs::build(&d);
    let r = root.to_str().unwrap();
    let out = Command::new(ENFORCE)
        .args([
            "run",
            "-t",
            "--rootfs",
            r,
            "--",
            "/bin/sh",
            "-c",
            "tty; [ -t 0 ] && [ -t 1 ] && echo both-tty; echo TERM=$TERM",
        ])
        .output()
        .unwrap();
    let out = ok(&out).replace("\r\n", "\n");
    assert_eq!(out, "/dev/pts/0\nboth-tty\nTERM=xterm\n");
    // -i relays a terminal: enforce's stdin is one here (a pty the test holds the other end of).
    let (mut typing, stdin) = pty();
    let child = Command::new(ENFORCE)
        .args(["run", "-t", "-i", "--rootfs", r, "--", "/bin/sh", "-c", "read x; echo got:$x"])
        .stdin(std::process::Stdio::from(stdin))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    typing.write_all(b"typed\n").unwrap();
    let out = ok(&child.wait_with_output().unwrap());
    assert!(out.contains("got:typed"), "{out:?}");
    // A pipe is not a terminal: refused, as Docker does (its end would never reach the workload).
    let piped = Command::new(ENFORCE)
        .args(["run", "-t", "-i", "--rootfs", r, "--", "/bin/true"])
        .stdin(std::process::Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(piped.status.code(), Some(125));
    assert!(text(&piped.stderr).contains("the input device is not a TTY"), "{}", text(&piped.stderr));
    let rt = d.join("run");
    ok(&enforce(&rt, &["run", "-d", "-t", "--name", "t", "--rootfs", r, "--", "/bin/sh", "-c", "tty"]));
    let mut logged = String::new();
    for _ in 0..100 {
        logged = ok(&enforce(&rt, &["logs", "t"]));
        if logged.contains("/dev/pts/0") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(logged.contains("/dev/pts/0"), "{logged:?}");
    ok(&enforce(&rt, &["rm", "-f", "t"]));
    let host = Command::new(ENFORCE).args(["run", "-t", "--", "/bin/true"]).output().unwrap();
    assert_eq!(host.status.code(), Some(125));
    assert!(
        text(&host.stderr).contains("-t gives a container's workload a terminal"),
        "{}",
        text(&host.stderr)
    );
}
