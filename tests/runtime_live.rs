//! Live tests of runtime-lite through `enforce run --rootfs`: a busybox rootfs in every
//! namespace, container root mapped to an unprivileged host uid. Root on CI.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const ENFORCE: &str = env!("CARGO_BIN_EXE_enforce");

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("palisade-rt-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
    d
}

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

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
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
         echo > /proc/sys/kernel/hostname 2>/dev/null && echo sys-writable || echo sys-readonly",
    ));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "pid1=enforce", "{out}");
    assert_eq!(lines[1], "web");
    assert_eq!(lines[2], "1", "only lo in /proc/net/dev: {out}");
    assert!(lines[3].parse::<u32>().unwrap() <= 4, "host processes visible: {out}");
    assert_eq!(lines[4], "root-readonly");
    // /proc/kcore is masked too when the kernel has it (this one does not); /proc/keys always.
    assert_eq!(lines[5].trim(), "0", "/proc/keys is masked");
    assert_eq!(lines[6], "sys-readonly");
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
