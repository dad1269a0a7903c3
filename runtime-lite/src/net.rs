//! Networking of a container of its own network namespace: loopback up (PID 1), and for
//! `network: private` a user-mode network stack, pasta (Debian `passt`), attached by the
//! launcher to PID 1's network and user namespaces before the workload starts: outbound
//! connectivity through the host's sockets, and the profile's published ports forwarded from
//! the host. No bridge, no iptables, no route on the host. pasta configures the namespace and
//! goes into the background; it does not notice the namespace going, so the launcher stops it
//! with the container (and waits for it: the ports are free when `enforce` returns).

use std::io::{Read, Seek};
use std::os::unix::fs::DirBuilderExt;

use policy::ir::{Protocol, Published};

use crate::error::{RunError, SysError};

/// Bring `lo` up.
pub fn loopback_up() -> Result<(), SysError> {
    crate::sys::loopback_up()
}

/// The program.
pub const PASTA: &str = "pasta";

/// A running pasta, stopped when dropped.
pub struct Pasta {
    pid: Option<i32>,
}

/// pasta's arguments for the namespaces of `pid` with `published` forwarded.
pub fn pasta_args(pid: i32, published: &[Published], pidfile: &std::path::Path, root: bool) -> Vec<String> {
    let mut args: Vec<String> = vec!["--quiet".into(), "--config-net".into(), "--no-map-gw".into()];
    for (proto, flag) in [(Protocol::Tcp, "-t"), (Protocol::Udp, "-u")] {
        let ports: Vec<&Published> = published.iter().filter(|p| p.protocol == proto).collect();
        if ports.is_empty() {
            // Nothing forwarded by default (pasta would follow the ports bound inside).
            args.extend([flag.to_string(), "none".into()]);
        }
        for p in ports {
            let at = p.address.map(|a| format!("{a}/")).unwrap_or_default();
            args.extend([flag.to_string(), format!("{at}{}:{}", p.host, p.container)]);
        }
    }
    // Nothing of the host's own ports forwarded into the container.
    args.extend(["-T".into(), "none".into(), "-U".into(), "none".into()]);
    if root {
        // As root pasta would switch to nobody, who may not enter the container's namespaces.
        args.extend(["--runas".into(), "0".into()]);
    }
    args.extend(["--pid".into(), pidfile.display().to_string(), pid.to_string()]);
    args
}

impl Pasta {
    /// Start pasta for the container whose PID 1 is `pid` (its uid and gid maps written), and
    /// return once the namespace is configured.
    pub fn start(pid: i32, published: &[Published]) -> Result<Pasta, RunError> {
        // pasta opens the tun device inside the container's namespaces, checked against the
        // host's node: a normal user needs it readable and writable (its usual mode, 0666).
        let tun = std::path::Path::new("/dev/net/tun");
        let rw = nix::unistd::AccessFlags::R_OK | nix::unistd::AccessFlags::W_OK;
        if !nix::unistd::geteuid().is_root() && nix::unistd::access(tun, rw).is_err() {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(tun).map(|m| format!("mode {:o}", m.permissions().mode() & 0o7777));
            return Err(RunError::Invalid(format!(
                "the container's network: {PASTA} needs /dev/net/tun, which uid {} may not open ({}); its usual mode is 0666 (or run as root, or use `network: none`)",
                nix::unistd::geteuid(),
                mode.unwrap_or_else(|e| e.to_string())
            )));
        }
        // pasta writes its pid into a directory of this process's own (made, never reused).
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let dir = std::env::temp_dir().join(format!("palisade-pasta-{}-{nanos:x}", std::process::id()));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(|e| SysError::io(format!("mkdir {}", dir.display()), e))?;
        let pidfile = dir.join("pid");
        let mut log = std::fs::File::from(memfd("pasta.log")?);
        let args = pasta_args(pid, published, &pidfile, nix::unistd::geteuid().is_root());
        let mut cmd = std::process::Command::new(PASTA);
        cmd.args(&args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(log.try_clone().map_err(|e| SysError::io("dup pasta's log", e))?);
        crate::sys::spawn_unblocked(&mut cmd);
        let status = cmd.status();
        let why = match status {
            Ok(s) if s.success() => None,
            Ok(s) => {
                let mut text = String::new();
                let _ = log.rewind().and_then(|()| log.read_to_string(&mut text));
                Some(format!("{s}: {}", text.trim()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Some("not found: `network: private` needs it (Debian: apt-get install passt)".into())
            }
            Err(e) => Some(e.to_string()),
        };
        let text = std::fs::read_to_string(&pidfile).unwrap_or_default();
        let _ = std::fs::remove_dir_all(&dir);
        let started = Pasta { pid: text.trim().parse().ok() };
        // A pasta whose pid is unknown could not be stopped: a failure too.
        let why = why.or_else(|| started.pid.is_none().then(|| format!("it wrote no pid ({text:?})")));
        match why {
            None => Ok(started),
            Some(why) => {
                Err(RunError::Invalid(format!("the container's network: {PASTA} {}: {why}", args.join(" "))))
            }
        }
    }
}

impl Drop for Pasta {
    fn drop(&mut self) {
        let Some(pid) = self.pid.take() else { return };
        // Only that pasta (its pid not reused since); gone before the container is, so its
        // ports are free again when `enforce` returns.
        let ours = || {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            comm.starts_with("pasta") || comm.starts_with("passt")
        };
        if ours() {
            let _ =
                nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGTERM);
        }
        let until = std::time::Instant::now() + std::time::Duration::from_secs(2);
        while ours() && std::time::Instant::now() < until {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
}

fn memfd(name: &str) -> Result<std::os::fd::OwnedFd, SysError> {
    nix::sys::memfd::memfd_create(name, nix::sys::memfd::MFdFlags::MFD_CLOEXEC)
        .map_err(|e| SysError::errno("memfd_create", e))
}
