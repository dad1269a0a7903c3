//! `enforce run`'s profile flags, live: each is a layer over the profile (what `--print-profile`
//! prints is what runs), on the host as a normal user (`runuser -u nobody`) and in containers.
//! Root on CI (runuser and containers need it).

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use common::live::{ok, text, ENFORCE};
use common::tempdir;

const POLICYC: &str = env!("CARGO_BIN_EXE_policyc");

/// `enforce ARGS` as nobody in `dir`, with only PATH in the environment.
fn as_nobody_in(dir: &Path, args: &[&str]) -> Output {
    Command::new("runuser")
        .args(["-u", "nobody", "--", "env", "-i", "PATH=/usr/bin:/bin", ENFORCE])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("runuser (util-linux)")
}

/// A directory nobody owns, outside /tmp (which strict lets anyone write).
fn scratch(name: &str) -> std::path::PathBuf {
    let d = std::path::PathBuf::from(format!("/var/tmp/palisade-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("sub")).unwrap();
    for p in [d.clone(), d.join("sub")] {
        std::os::unix::fs::chown(&p, Some(65534), Some(65534)).unwrap();
    }
    d
}

/// landrun's one-liner, as a normal user: the current directory writable, a variable, a
/// workdir, no `--` before the command; nothing outside written.
#[test]
fn a_one_line_sandbox_of_the_current_directory_as_a_normal_user() {
    let d = scratch("oneline");
    let other = std::path::PathBuf::from(format!("/var/tmp/palisade-test-{}-other", std::process::id()));
    std::fs::create_dir_all(&other).unwrap();
    std::fs::set_permissions(&other, std::fs::Permissions::from_mode(0o777)).unwrap();
    let script =
        format!("echo \"$GREETING\" > f; pwd; echo x > {}/leak || echo leak-denied", other.display());
    let out = as_nobody_in(
        &d,
        &[
            "run",
            "--profile",
            "builtin:strict",
            "--allow-rw",
            ".",
            "-e",
            "GREETING=hi there",
            "-w",
            "sub",
            "sh",
            "-c",
            &script,
        ],
    );
    let stdout = ok(&out);
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [d.join("sub").to_str().unwrap(), "leak-denied"],
        "{stdout}"
    );
    assert_eq!(std::fs::read_to_string(d.join("sub/f")).unwrap(), "hi there\n");
    assert!(!other.join("leak").exists());
    std::fs::remove_dir_all(&other).unwrap();
    std::fs::remove_dir_all(&d).unwrap();
}

/// What `--print-profile` prints compiles to the policy the run applies (the dry-run report
/// holds the flags' paths, variables and ports), and a bad flag is refused before anything.
#[test]
fn the_printed_profile_is_the_run_and_bad_flags_are_refused() {
    let d = tempdir("print");
    let flags = ["--allow-ro", "data", "--bind-tcp", "8080", "-e", "A=1", "-u", "caller"];
    let run = |extra: &[&str]| {
        let mut args = vec!["run", "--profile", "builtin:strict"];
        args.extend(flags);
        args.extend(extra);
        args.extend(["--", "/bin/true"]);
        Command::new(ENFORCE).args(&args).current_dir(&d).output().unwrap()
    };
    let layer = ok(&run(&["--print-profile"]));
    assert!(layer.contains("extends: \"builtin:strict\""), "{layer}");
    let file = d.join("layer.yaml");
    std::fs::write(&file, &layer).unwrap();
    let ir: serde_json::Value = serde_json::from_str(&ok(&Command::new(POLICYC)
        .args(["compile", "--emit", "ir", file.to_str().unwrap()])
        .output()
        .unwrap()))
    .unwrap();
    let report: serde_json::Value = serde_json::from_str(&ok(&run(&["--dry-run"]))).unwrap();
    let data = d.join("data").display().to_string();
    let ir_paths: Vec<&str> = ir["landlock"]["filesystem"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["path"].as_str().unwrap())
        .collect();
    assert!(ir_paths.contains(&data.as_str()), "{ir_paths:?}");
    let planned: Vec<&str> =
        report["landlock"]["paths"].as_array().unwrap().iter().map(|p| p["path"].as_str().unwrap()).collect();
    assert!(planned.contains(&data.as_str()), "{planned:?}");
    assert_eq!(report["landlock"]["ports"]["8080"], serde_json::json!(["bind_tcp"]), "{report}");
    assert_eq!(ir["process"]["user"], "caller");
    assert_eq!(report["uid"], 0, "caller: root here");
    // A bad volume: exit 125, said, nothing run.
    let bad = Command::new(ENFORCE).args(["run", "-v", "data", "--", "/bin/true"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(125));
    assert!(text(&bad.stderr).contains("write SRC:DST"), "{}", text(&bad.stderr));
}

/// Docker's container flags: a volume (read-only), a tmpfs, a read-only root, a host name, a
/// pids limit; `-d --rm` leaves nothing behind.
#[test]
fn container_flags_are_isolation_keys() {
    let d = tempdir("cflags");
    let root = common::rootfs::build(&d);
    let vol = d.join("vol");
    std::fs::create_dir_all(&vol).unwrap();
    // Mount points exist in the image (the runtime does not write into it).
    for m in ["data", "scratch"] {
        std::fs::create_dir_all(root.join(m)).unwrap();
    }
    std::fs::write(vol.join("in"), "from the host\n").unwrap();
    let script = "cat /data/in; echo x > /data/new 2>/dev/null || echo data-ro; echo y > /scratch/f && echo tmpfs-rw; \
                  echo z > /etc/new 2>/dev/null || echo root-ro; hostname; cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || true";
    let out = Command::new(ENFORCE)
        .args([
            "run",
            "--rootfs",
            root.to_str().unwrap(),
            "-v",
            "vol:/data:ro",
            "--tmpfs",
            "/scratch",
            "--read-only",
        ])
        .args(["--hostname", "flagged", "--pids-limit", "50", "--", "/bin/sh", "-c", script])
        .current_dir(&d)
        .output()
        .unwrap();
    let out = ok(&out);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[..5], ["from the host", "data-ro", "tmpfs-rw", "root-ro", "flagged"], "{out}");
    assert!(!vol.join("new").exists());
    // Detached with --rm: gone from `ps` once it exits.
    let rt = d.join("run");
    let enforce =
        |args: &[&str]| Command::new(ENFORCE).env("PALISADE_RUNTIME_DIR", &rt).args(args).output().unwrap();
    ok(&enforce(&[
        "run",
        "-d",
        "--rm",
        "--name",
        "gone",
        "--rootfs",
        root.to_str().unwrap(),
        "--",
        "/bin/true",
    ]));
    let mut listed = true;
    for _ in 0..100 {
        // The directory goes last (its files first): wait for both.
        listed = ok(&enforce(&["ps"])).contains("gone") || rt.join("gone").exists();
        if !listed {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(!listed, "a --rm container stayed after it exited");
    assert!(!rt.join("gone").exists());
}
