//! `palisade-runtime` under containerd (issue 16), the runtime Kubernetes uses: the test starts
//! a private containerd (its own root, state and socket), imports a busybox-static image (made
//! with `podman save`; never pulled), and runs `ctr run --runc-binary palisade-runtime` beside
//! `ctr run` with runc, comparing what the containers show; then `ctr task exec`, `ps`, `kill`
//! and `--seccomp`. Needs root, `containerd`, `podman` and busybox-static (scripts/install-deps):
//! on CI a missing prerequisite fails.

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_palisade-runtime");
const IMAGE: &str = "localhost/palisade-busybox:containerd-test";

struct Containerd {
    dir: PathBuf,
    child: Child,
}

impl Drop for Containerd {
    fn drop(&mut self) {
        let _ = self.ctr(&["task", "kill", "-s", "SIGKILL", "p-long"]);
        std::thread::sleep(Duration::from_millis(200));
        let _ = self.ctr(&["task", "rm", "-f", "p-long"]);
        let _ = self.ctr(&["c", "rm", "p-long"]);
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = Command::new("umount").arg("-R").arg("-l").arg(self.dir.join("state")).output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Containerd {
    fn ctr(&self, args: &[&str]) -> Output {
        Command::new("ctr").arg("-a").arg(self.dir.join("c.sock")).args(args).output().unwrap()
    }
}

fn start() -> Option<Containerd> {
    let have = |c: &str, v: &str| Command::new(c).arg(v).output().is_ok_and(|o| o.status.success());
    let root = nix::unistd::geteuid().is_root();
    let (containerd, podman) = (have("containerd", "--version"), have("podman", "--version"));
    if !(root && containerd && podman) {
        let why = format!("root: {root}, containerd: {containerd}, podman: {podman}");
        if std::env::var_os("CI").is_some() {
            panic!("the containerd runtime test cannot run on CI: {why}");
        }
        eprintln!("SKIPPED: the containerd runtime test needs root, containerd and podman ({why})");
        return None;
    }
    let dir = PathBuf::from(format!("/tmp/pctd-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let log = std::fs::File::create(dir.join("containerd.log")).unwrap();
    let child = Command::new("containerd")
        .arg("--root")
        .arg(dir.join("root"))
        .arg("--state")
        .arg(dir.join("state"))
        .arg("--address")
        .arg(dir.join("c.sock"))
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let c = Containerd { dir, child };
    let until = Instant::now() + Duration::from_secs(30);
    while !c.ctr(&["version"]).status.success() {
        assert!(Instant::now() < until, "containerd did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    // The image: a busybox rootfs imported into podman and saved as a docker archive.
    let rootfs = common::rootfs::build(&c.dir);
    let tar = c.dir.join("rootfs.tar");
    assert!(Command::new("tar")
        .arg("-C")
        .arg(&rootfs)
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .unwrap()
        .success());
    let o = Command::new("podman").args(["import", "-q"]).arg(&tar).arg(IMAGE).output().unwrap();
    assert!(o.status.success(), "podman import: {}", String::from_utf8_lossy(&o.stderr));
    let archive = c.dir.join("image.tar");
    let o = Command::new("podman")
        .args(["save", "--format", "docker-archive", "-o"])
        .arg(&archive)
        .arg(IMAGE)
        .output()
        .unwrap();
    assert!(o.status.success(), "podman save: {}", String::from_utf8_lossy(&o.stderr));
    let o = c.ctr(&["images", "import", archive.to_str().unwrap()]);
    assert!(o.status.success(), "ctr images import: {}", String::from_utf8_lossy(&o.stderr));
    Some(c)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_string()
}

#[test]
fn containerd_runs_tasks_with_palisade_as_with_runc() {
    let Some(c) = start() else { return };
    let probe = "id; hostname; grep -E '^(Cap|NoNewPrivs|Seccomp:)' /proc/self/status; ls /dev; echo $PATH";
    // `ctr run` copies the task's output from a FIFO, and under load it can stop copying when
    // the task exits, before the last lines (seen with runc as with ours): a run whose output
    // lacks the probe's last line ($PATH) is made again, up to three times.
    let run = |extra: &[&str], id: &str| {
        let mut a = vec!["run", "--rm"];
        a.extend_from_slice(extra);
        a.extend_from_slice(&[IMAGE, id, "sh", "-c", probe]);
        let mut o = c.ctr(&a);
        for _ in 0..2 {
            if !o.status.success() || text(&o.stdout).ends_with(":/bin\n") {
                break;
            }
            o = c.ctr(&a);
        }
        o
    };
    let userns: &[&str] = &["--uidmap", "0:100000:65536", "--gidmap", "0:100000:65536"];
    for extra in [&[][..], &["--seccomp"], userns, &["--read-only"]] {
        let mut with_ours = vec!["--runc-binary", BIN];
        with_ours.extend_from_slice(extra);
        let (ours, runc) = (run(&with_ours, "p-probe"), run(extra, "r-probe"));
        assert!(ours.status.success(), "{extra:?}: {}", text(&ours.stderr));
        assert_eq!(text(&ours.stdout), text(&runc.stdout), "{extra:?}: ours stderr {}", text(&ours.stderr));
    }
    // A long task: exec, ps, kill.
    let o = c.ctr(&["run", "-d", "--runc-binary", BIN, IMAGE, "p-long", "sleep", "60"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let e = c.ctr(&[
        "task",
        "exec",
        "--exec-id",
        "e1",
        "p-long",
        "sh",
        "-c",
        "grep ^Seccomp: /proc/self/status; exit 6",
    ]);
    assert_eq!(e.status.code(), Some(6), "{}", text(&e.stderr));
    assert_eq!(text(&e.stdout), "Seccomp:\t0\n");
    let ps = c.ctr(&["task", "ps", "p-long"]);
    assert_eq!(text(&ps.stdout).lines().count(), 2, "one process: {}", text(&ps.stdout));
    assert!(c.ctr(&["task", "kill", "-s", "SIGKILL", "p-long"]).status.success());
    let until = Instant::now() + Duration::from_secs(10);
    while !text(&c.ctr(&["task", "ls"]).stdout).contains("STOPPED") {
        assert!(Instant::now() < until, "the task did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
}
