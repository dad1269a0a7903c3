//! Interop: the Docker seccomp JSON that `policyc` exports is accepted and enforced by a real
//! consumer, Podman with the runc runtime. Needs root, `podman`, `runc` and `busybox-static`
//! (`scripts/test` installs them). Without them the test fails on CI and says so loudly
//! elsewhere.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const IMAGE: &str = "localhost/palisade-busybox:test";

fn have(tool: &str) -> bool {
    Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().is_ok_and(|o| o.status.success())
}

fn busybox() -> Option<PathBuf> {
    ["/bin/busybox", "/usr/bin/busybox"].iter().map(PathBuf::from).find(|p| p.exists())
}

/// Whether the test can run; on CI a missing prerequisite is a failure, not a skip.
fn prerequisites() -> bool {
    let missing: Vec<&str> = ["podman", "runc", "tar"].into_iter().filter(|t| !have(t)).collect();
    let root = nix_is_root();
    let ok = missing.is_empty() && busybox().is_some() && root;
    if !ok {
        let why = format!("missing tools {missing:?}, busybox found: {}, root: {root}", busybox().is_some());
        if std::env::var_os("CI").is_some() {
            panic!("podman interop test cannot run on CI: {why}; scripts/test installs podman runc busybox-static");
        }
        eprintln!("\n*** SKIPPED podman interop test: {why} (run ./scripts/test as root) ***\n");
    }
    ok
}

fn nix_is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

/// A busybox-static rootfs imported offline as an image.
fn ensure_image(dir: &Path) {
    let root = dir.join("rootfs");
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::copy(busybox().unwrap(), root.join("bin/busybox")).unwrap();
    for applet in ["sh", "echo", "unshare", "nc", "true"] {
        let link = root.join("bin").join(applet);
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink("busybox", link).unwrap();
    }
    let tar = dir.join("rootfs.tar");
    let o = run(Command::new("tar").arg("-C").arg(&root).arg("-cf").arg(&tar).arg("."));
    assert!(o.status.success(), "tar: {}", String::from_utf8_lossy(&o.stderr));
    let o = run(Command::new("podman").args(["import", "-q"]).arg(&tar).arg(IMAGE));
    assert!(o.status.success(), "podman import: {}", String::from_utf8_lossy(&o.stderr));
}

/// The profile's Docker JSON, and what policyc said on stderr.
fn export(profile: &str, dir: &Path) -> (PathBuf, String) {
    let out = dir.join(format!("{}.json", profile.replace(':', "-")));
    let o = run(Command::new(env!("CARGO_BIN_EXE_policyc"))
        .args(["compile", profile, "--emit", "docker-seccomp", "-o"])
        .arg(&out));
    assert!(o.status.success(), "policyc: {}", String::from_utf8_lossy(&o.stderr));
    (out, String::from_utf8_lossy(&o.stderr).into_owned())
}

/// Run `script` in the container under `seccomp` (a file or `unconfined`); returns stdout+stderr.
fn in_container(seccomp: &str, script: &str) -> String {
    let o = podman(seccomp, true, script);
    let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(o.status.success(), "podman run failed ({:?}): {text}", o.status);
    text
}

fn podman(seccomp: &str, no_new_privileges: bool, script: &str) -> Output {
    let nnp = if no_new_privileges { "no-new-privileges" } else { "no-new-privileges=false" };
    run(Command::new("podman").args([
        "--runtime",
        "runc",
        "run",
        "--rm",
        "--network",
        "none",
        "--ulimit",
        "nofile=1024:1024",
        "--ulimit",
        "nproc=1024:1024",
        // Both profiles set no_new_privs, which also makes runc install the filter last.
        "--security-opt",
        nnp,
        "--security-opt",
        &format!("seccomp={seccomp}"),
        IMAGE,
        "/bin/sh",
        "-c",
        script,
    ]))
}

#[test]
fn podman_runc_enforces_exported_profiles() {
    if !prerequisites() {
        return;
    }
    let dir = common::TempDir::new(&format!("palisade-podman-{}", std::process::id()));
    ensure_image(&dir);
    let script = "echo allowed-ok; unshare -U true; echo unshare-rc=$?; nc 127.0.0.1 1; echo nc-rc=$?";

    // Control: without a filter both calls get past seccomp.
    let free = in_container("unconfined", script);
    assert!(free.contains("unshare-rc=0"), "unconfined: {free}");
    assert!(free.contains("Connection refused"), "unconfined: {free}");

    // docker-default: creating a user namespace needs CAP_SYS_ADMIN → the default EPERM.
    let (dd, said) = export("builtin:docker-default", &dir);
    assert!(!said.contains("no-new-privileges"), "{said}");
    let out = in_container(dd.to_str().unwrap(), script);
    assert!(out.contains("allowed-ok"), "docker-default: {out}");
    assert!(out.contains("Operation not permitted") && out.contains("unshare-rc=1"), "docker-default: {out}");
    assert!(out.contains("Connection refused"), "docker-default allows AF_INET sockets: {out}");

    // strict: AF_INET sockets get the profile's EAFNOSUPPORT, namespaces EPERM.
    let (st, said) = export("builtin:strict", &dir);
    // Without no-new-privileges runc installs the filter before it switches user and sets
    // capabilities, which strict denies: the export says so, and runc indeed cannot start it.
    assert!(said.contains("warning: runc cannot start") && said.contains("setuid"), "{said}");
    let o = podman(st.to_str().unwrap(), false, "echo ran");
    assert!(!o.status.success() && !String::from_utf8_lossy(&o.stdout).contains("ran"), "{o:?}");
    let out = in_container(st.to_str().unwrap(), script);
    assert!(out.contains("allowed-ok"), "strict: {out}");
    assert!(
        out.contains("Address family not supported"),
        "strict: socket(AF_INET) should fail with EAFNOSUPPORT: {out}"
    );
    assert!(out.contains("unshare-rc=1") && out.contains("Operation not permitted"), "strict: {out}");
}
