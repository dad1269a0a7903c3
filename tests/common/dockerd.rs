//! A private `dockerd` for tests: its own socket, data and exec roots, no iptables, no bridge;
//! `--config-file` registers runtimes; a busybox-static image imported (never pulled).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

/// The imported busybox image.
pub const IMAGE: &str = "palisade-busybox:docker-test";

/// A private dockerd, stopped (and its mounts and files removed) when dropped.
pub struct Daemon {
    /// Its directory (socket, data and exec roots, log).
    pub dir: PathBuf,
    child: Child,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // Every container it still has, running or not.
        let ids = String::from_utf8_lossy(&self.docker(&["ps", "-aq"]).stdout).to_string();
        for id in ids.split_whitespace() {
            let _ = self.docker(&["rm", "-f", id]);
        }
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = self.child.wait();
        // dockerd leaves its data root bound on itself (and containerd may leave mounts under
        // the exec root): unmount everything beneath the test's directory, deepest first.
        let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let mut under: Vec<&str> = info
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .filter(|p| Path::new(p).starts_with(&self.dir))
            .collect();
        under.sort_by_key(|p| std::cmp::Reverse(p.len()));
        for p in under {
            let _ = nix::mount::umount2(p, nix::mount::MntFlags::MNT_DETACH);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Daemon {
    /// `DOCKER_HOST` for it.
    pub fn socket(&self) -> String {
        format!("unix://{}/docker.sock", self.dir.display())
    }

    /// `docker ARGS` against it.
    pub fn docker(&self, args: &[&str]) -> Output {
        Command::new("docker").env("DOCKER_HOST", self.socket()).args(args).output().unwrap()
    }
}

/// Start one (`runtimes`: daemon.json's `runtimes`) and import the busybox image as
/// [`IMAGE`]; `None` when the machine cannot (said loudly; on CI a panic).
pub fn start(name: &str, runtimes: serde_json::Value) -> Option<Daemon> {
    let root = nix::unistd::geteuid().is_root();
    let have = |c: &str| Command::new(c).arg("--version").output().is_ok_and(|o| o.status.success());
    let (dockerd, docker) = (have("dockerd"), have("docker"));
    if !(root && dockerd && docker) {
        let why = format!("root: {root}, dockerd: {dockerd}, docker: {docker}");
        if std::env::var_os("CI").is_some() {
            panic!("the Docker runtime test cannot run on CI: {why}");
        }
        eprintln!("SKIPPED: the Docker runtime test needs root and docker.io ({why})");
        return None;
    }
    // A short path: the socket's path must fit in sun_path.
    let dir = PathBuf::from(format!("/tmp/pdk-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("daemon.json");
    std::fs::write(&config, serde_json::json!({ "runtimes": runtimes }).to_string()).unwrap();
    let log = std::fs::File::create(dir.join("dockerd.log")).unwrap();
    let child = Command::new("dockerd")
        .args(["--iptables=false", "--ip-masq=false", "--bridge=none"])
        .arg("--data-root")
        .arg(dir.join("data"))
        .arg("--exec-root")
        .arg(dir.join("exec"))
        .arg("--pidfile")
        .arg(dir.join("docker.pid"))
        .arg("--config-file")
        .arg(&config)
        .arg("-H")
        .arg(format!("unix://{}/docker.sock", dir.display()))
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let d = Daemon { dir, child };
    let until = Instant::now() + Duration::from_secs(60);
    while !d.docker(&["info"]).status.success() {
        assert!(Instant::now() < until, "dockerd did not start: {}", log_of(&d.dir));
        std::thread::sleep(Duration::from_millis(200));
    }
    let rootfs = super::rootfs::build(&d.dir);
    let tar = Command::new("tar").arg("-C").arg(&rootfs).args(["-cf", "-", "."]).output().unwrap();
    let mut import = Command::new("docker")
        .env("DOCKER_HOST", d.socket())
        .args(["import", "-", IMAGE])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write;
    import.stdin.take().unwrap().write_all(&tar.stdout).unwrap();
    assert!(import.wait().unwrap().success(), "docker import");
    Some(d)
}

/// Its log.
pub fn log_of(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("dockerd.log")).unwrap_or_default()
}
