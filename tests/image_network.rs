//! Issue 19, the network: `network: private` (or `-p`, which implies it) gives a container its
//! own network namespace with an interface and a default route from pasta, and publishes
//! ports from the host: a server on the container's port 80 published as 18080 answers on the
//! host's 127.0.0.1. pasta goes with the container; Landlock's network rules still hold inside.
//! Traffic goes only to 127.0.0.1.

mod common;

use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use common::images::{busybox_layer, enforce, file, layout, text};

fn ready() -> bool {
    let root = nix::unistd::geteuid().is_root();
    let pasta = std::process::Command::new("pasta").arg("--version").output().is_ok();
    if root && pasta {
        return true;
    }
    let why = format!("root: {root}, pasta (Debian passt): {pasta}");
    assert!(std::env::var_os("CI").is_none(), "the network tests cannot run on CI: {why}");
    eprintln!("SKIPPED: the image network tests need root and pasta ({why})");
    false
}

/// busybox httpd serving /www.
fn web_image(dir: &Path) -> std::path::PathBuf {
    let mut base = busybox_layer();
    base.extend([
        serde_json::json!({"name": "www", "type": "dir"}),
        file("www/index.html", "served from the container\n"),
        file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"),
    ]);
    layout(
        &dir.join("web"),
        serde_json::json!({ "tag": "web", "layers": [base],
            "config": { "Cmd": ["httpd", "-f", "-p", "80", "-h", "/www"], "ExposedPorts": { "80/tcp": {} } } }),
    )
}

/// GET / from 127.0.0.1:`port`, retried until the server answers.
fn get(port: u16) -> Option<String> {
    let until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < until {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let _ = s.write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n");
            let mut out = String::new();
            if s.read_to_string(&mut out).is_ok() && !out.is_empty() {
                return Some(out);
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

/// The pastas running for this test's containers (their pid files name this process).
fn pastas(publish: &str) -> Vec<String> {
    let Ok(dirs) = std::fs::read_dir("/proc") else { return Vec::new() };
    dirs.filter_map(Result::ok)
        .filter_map(|d| std::fs::read(d.path().join("cmdline")).ok())
        .map(|c| text(&c).replace('\0', " "))
        .filter(|c| c.contains("--config-net") && c.contains(publish))
        .collect()
}

#[test]
fn a_published_port_answers_on_the_hosts_loopback_and_goes_with_the_container() {
    if !ready() {
        return;
    }
    let d = common::tempdir("image-net");
    let src = web_image(&d);
    let store = d.join("store");
    let name = format!("web-{}", std::process::id());
    let o =
        enforce(&store, &["run", "-d", "--name", &name, "-p", "18080:80", "--image", src.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let answer = get(18080);
    let running = pastas("18080:80");
    let o = enforce(&store, &["rm", "-f", &name]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let answer = answer.expect("nothing answered on 127.0.0.1:18080");
    assert!(answer.starts_with("HTTP/1.") && answer.ends_with("served from the container\n"), "{answer}");
    assert_eq!(running.len(), 1, "{running:?}");
    // pasta went with the container, and the host's port is free again.
    let until = Instant::now() + Duration::from_secs(5);
    while !pastas("18080:80").is_empty() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(pastas("18080:80").is_empty(), "{:?}", pastas("18080:80"));
    std::net::TcpListener::bind(("127.0.0.1", 18080)).expect("18080 is free again");
    // The plan says so.
    let o = enforce(
        &store,
        &["run", "--dry-run", "-p", "127.0.0.1:18080:80", "-p", "5353:53/udp", "--image", "web"],
    );
    let plan: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let iso = &plan["isolation"];
    assert_eq!(iso["user_mode_network"], "pasta", "{iso}");
    assert_eq!(iso["published"], serde_json::json!(["127.0.0.1:18080:80/tcp", "5353:53/udp"]));
}

#[test]
fn private_has_a_route_none_only_loopback_and_landlock_still_holds() {
    if !ready() {
        return;
    }
    let d = common::tempdir("image-net-modes");
    let src = web_image(&d);
    let store = d.join("store");
    let src = src.to_str().unwrap();
    let show = ["--", "sh", "-c", "ip -o link | cut -d: -f2 | tr -d ' '; ip route | grep -c default"];
    let o = enforce(&store, &[&["run", "--network", "private", "--image", src][..], &show].concat());
    assert_eq!(text(&o.stdout), "lo\neth0\n1\n", "{}", text(&o.stderr));
    let o = enforce(&store, &[&["run", "--image", src][..], &show].concat());
    assert_eq!(text(&o.stdout), "lo\n0\n", "{}", text(&o.stderr));
    // Landlock's network rules hold inside: the server may bind only 8080, not 80.
    let o = enforce(&store, &["run", "-p", "18081:80", "--bind-tcp", "8080", "--image", src]);
    assert_ne!(o.status.code(), Some(0));
    assert!(text(&o.stderr).contains("Permission denied"), "{}", text(&o.stderr));
    assert!(pastas("18081:80").is_empty());
}

#[test]
fn bad_ports_and_a_port_in_use_are_refused_and_nothing_is_left() {
    if !ready() {
        return;
    }
    let d = common::tempdir("image-net-bad");
    let src = web_image(&d);
    let store = d.join("store");
    let src = src.to_str().unwrap();
    for (p, want) in [
        ("99999:80", "`99999` is not a port (1-65535)"),
        ("80", "give the host's port too, `HOST:CONTAINER` (no port is chosen at random)"),
        ("1:2/sctp", "unknown protocol `sctp` (tcp or udp)"),
        ("nowhere:1:2", "`nowhere` is not an IP address"),
    ] {
        let o = enforce(&store, &["run", "-p", p, "--image", src]);
        assert_eq!(o.status.code(), Some(125), "{p}");
        assert!(
            text(&o.stderr).contains(&format!("invalid published port `{p}`: {want}")),
            "{p}: {}",
            text(&o.stderr)
        );
    }
    let o = enforce(&store, &["run", "--network", "none", "-p", "18082:80", "--image", src]);
    assert_eq!(o.status.code(), Some(125));
    assert!(
        text(&o.stderr).contains("published ports need `network: private`, and the network is `none`"),
        "{}",
        text(&o.stderr)
    );
    // A host port already taken: pasta cannot bind it; the container never starts.
    let taken = std::net::TcpListener::bind(("::", 18083)).unwrap();
    let o = enforce(&store, &["run", "-p", "18083:80", "--image", src, "--", "echo", "never"]);
    drop(taken);
    assert_eq!((o.status.code(), text(&o.stdout).as_str()), (Some(125), ""), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("the container's network: pasta"), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("18083:80"), "{}", text(&o.stderr));
    assert!(std::fs::read_dir(store.join("containers")).unwrap().next().is_none());
    assert!(pastas("18083:80").is_empty());
}

/// As a normal user pasta runs as that user (no `--runas`) and needs the host's /dev/net/tun,
/// usually mode 0666. Where `nobody` may not open it (this machine's is 0600) the run is refused
/// before anything starts, saying so, and nothing is left. Then, in a mount namespace of the
/// test's own where /dev/net/tun is a node of mode 0666 (the host's node is not touched),
/// `nobody` publishes a port and a page comes back on 127.0.0.1.
#[test]
fn a_normal_user_publishes_a_port_with_the_tun_device_open_to_it() {
    if !ready() {
        return;
    }
    let d = common::tempdir("image-net-user");
    let src = web_image(&d);
    let (home, as_nobody) = common::images::nobody(&d);
    let run = |args: &str| {
        std::process::Command::new("sh").arg("-c").arg(format!("{as_nobody} {args}")).output().unwrap()
    };
    let name = format!("webuser-{}", std::process::id());
    let start = format!("run -d --name {name} -p 18084:80 --image {}", src.display());
    let tun =
        std::fs::metadata("/dev/net/tun").map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()));
    if tun.as_ref().is_ok_and(|m| m & 0o006 != 0o006) {
        let o = run(&start);
        assert_eq!(o.status.code(), Some(125), "{}", text(&o.stderr));
        let want = format!(
            "pasta needs /dev/net/tun, which uid 65534 may not open (mode {:o})",
            tun.as_ref().map_or(0, |m| m & 0o7777)
        );
        assert!(text(&o.stderr).contains(&want), "{}", text(&o.stderr));
        assert!(!text(&run("ps").stdout).contains(&name));
        assert_eq!(std::fs::read_dir(home.join("store/containers")).map(|d| d.count()).unwrap_or(0), 0);
    }
    let node = d.join("tun");
    let script = format!(
        "mknod {n} c 10 200 && chmod 666 {n} && mount --bind {n} /dev/net/tun && exec {as_nobody} {start}",
        n = node.display()
    );
    let o = std::process::Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", &script])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let answer = get(18084);
    let running = pastas("18084:80");
    let o = run(&format!("rm -f {name}"));
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(answer.is_some_and(|a| a.ends_with("served from the container\n")));
    // pasta ran as the user, and went with the container.
    assert_eq!(running.len(), 1, "{running:?}");
    assert!(!running[0].contains("--runas"), "{running:?}");
    assert!(pastas("18084:80").is_empty());
    assert_eq!(std::fs::read_dir(home.join("store/containers")).map(|d| d.count()).unwrap_or(0), 0);
}
