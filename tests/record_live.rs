//! Issue 18, first step: `enforce record` learns the system calls a command and everything it
//! starts make (seccomp user notification, no ptrace), as root and as a normal user; the learned
//! profile replays the command with the same output, and refuses a variant that makes a call
//! the recording never saw. Bad input fails before the command runs.

mod common;

use std::process::{Command, Output};

const ENFORCE: &str = env!("CARGO_BIN_EXE_enforce");
const POLICYC: &str = env!("CARGO_BIN_EXE_policyc");

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_string()
}

/// `enforce ARGS`, as `user` when given (`runuser -u USER`).
fn enforce(user: Option<&str>, args: &[&str]) -> Output {
    match user {
        Some(u) => Command::new("runuser").args(["-u", u, "--", ENFORCE]).args(args).output().unwrap(),
        None => Command::new(ENFORCE).args(args).output().unwrap(),
    }
}

fn root() -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    assert!(std::env::var_os("CI").is_none(), "the record tests need root on CI (to run as nobody too)");
    eprintln!("SKIPPED: the record tests need root (they also run as nobody)");
    false
}

#[test]
fn a_recording_replays_and_refuses_what_it_never_saw() {
    if !root() {
        return;
    }
    let d = common::tempdir("record");
    std::fs::set_permissions(&d, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    for user in [None, Some("nobody")] {
        let tag = user.unwrap_or("root");
        let learned = d.join(format!("{tag}.yaml"));
        let file = d.join(format!("{tag}.txt"));
        let script = format!("echo recorded > {f}; cat {f}", f = file.display());
        let o = enforce(user, &["record", "-o", learned.to_str().unwrap(), "--", "sh", "-c", &script]);
        assert!(o.status.success(), "{tag}: {}", text(&o.stderr));
        assert_eq!(text(&o.stdout), "recorded\n");
        assert!(text(&o.stderr).contains("system calls; wrote"), "{}", text(&o.stderr));
        let yaml = std::fs::read_to_string(&learned).unwrap();
        assert!(yaml.contains("first seen in") && yaml.contains("/usr/bin/cat"), "{yaml}");
        // The learned profile is clean by the linter's rules.
        let lint = Command::new(POLICYC)
            .args(["lint", "--deny", "warnings", learned.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(lint.status.success(), "{}{}", text(&lint.stdout), text(&lint.stderr));
        // Replay: the same output.
        std::fs::remove_file(&file).unwrap();
        let r = enforce(user, &["run", "--profile", learned.to_str().unwrap(), "--", "sh", "-c", &script]);
        assert!(r.status.success(), "{tag} replay: {}", text(&r.stderr));
        assert_eq!(text(&r.stdout), "recorded\n");
        // One more thing (a directory made: mkdir was never called) is refused by the kernel.
        let more = format!("{script}; mkdir {}/{tag}.dir", d.display());
        let r = enforce(user, &["run", "--profile", learned.to_str().unwrap(), "--", "sh", "-c", &more]);
        assert!(
            !r.status.success() && text(&r.stderr).contains("Operation not permitted"),
            "{tag}: {}",
            text(&r.stderr)
        );
        assert!(!d.join(format!("{tag}.dir")).exists());
    }
}

/// Threads and child processes are followed: a thread's calls are learned too.
#[test]
fn threads_and_children_are_recorded() {
    if !root() {
        return;
    }
    let d = common::tempdir("record-threads");
    let learned = d.join("t.yaml");
    // The thread opens with openat2-free Python I/O and sleeps with clock_nanosleep; the
    // main thread only waits for it.
    let py = "import threading, time\ndef work():\n    time.sleep(0.01)\n    print(open('/etc/hostname').read() != '')\nt = threading.Thread(target=work); t.start(); t.join()";
    let o = enforce(
        None,
        &["record", "-o", learned.to_str().unwrap(), "--format", "json", "--", "/usr/bin/python3", "-c", py],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let obs: serde_json::Value = serde_json::from_str(text(&o.stdout).trim_start_matches("True\n")).unwrap();
    let seen = &obs["syscalls"]["x86_64"];
    assert!(seen["clone3"].is_object() || seen["clone"].is_object(), "{seen}");
    let r =
        enforce(None, &["run", "--profile", learned.to_str().unwrap(), "--", "/usr/bin/python3", "-c", py]);
    assert!(r.status.success(), "{}", text(&r.stderr));
    assert_eq!(text(&r.stdout), "True\n");
}

/// An output that cannot be written stops the recording before the command runs; a command
/// that does not exist is 127; neither leaves a file.
#[test]
fn bad_input_fails_before_the_command_runs() {
    let d = common::tempdir("record-bad");
    let marker = d.join("ran");
    let o = Command::new(ENFORCE)
        .args(["record", "-o", "/nonexistent/dir/x.yaml", "--", "touch", marker.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(125), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("cannot write /nonexistent/dir/x.yaml"));
    assert!(!marker.exists(), "the command ran");
    let out = d.join("x.yaml");
    let o = Command::new(ENFORCE)
        .args(["record", "-o", out.to_str().unwrap(), "--", "/no/such/cmd"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(127), "{}", text(&o.stderr));
    assert!(!out.exists());
}

/// The families its sockets used become `restrict_address_families`, and a command that made
/// no namespace gets `restrict_namespaces`: a socket of another family is refused on replay.
#[test]
fn address_families_and_namespaces_are_learned() {
    if !root() {
        return;
    }
    let d = common::tempdir("record-families");
    let learned = d.join("s.yaml");
    let py = |family: &str| {
        format!("import socket; s = socket.socket(socket.{family}, socket.SOCK_STREAM); print('ok')")
    };
    let o = enforce(
        None,
        &["record", "-o", learned.to_str().unwrap(), "--", "/usr/bin/python3", "-c", &py("AF_INET")],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let yaml = std::fs::read_to_string(&learned).unwrap();
    assert!(
        yaml.contains("restrict_address_families: [AF_INET]") && yaml.contains("restrict_namespaces: true"),
        "{yaml}"
    );
    let r = enforce(
        None,
        &["run", "--profile", learned.to_str().unwrap(), "--", "/usr/bin/python3", "-c", &py("AF_INET")],
    );
    assert_eq!(text(&r.stdout), "ok\n", "{}", text(&r.stderr));
    let r = enforce(
        None,
        &["run", "--profile", learned.to_str().unwrap(), "--", "/usr/bin/python3", "-c", &py("AF_UNIX")],
    );
    assert!(!r.status.success() && text(&r.stderr).contains("Errno 97"), "{}", text(&r.stderr));
}

/// `enforce run --explain`: each refused call is said once per rule, with the rule's place in
/// the profile, and the command gets the same errno as without `--explain`; a normal user too.
#[test]
fn explain_names_the_rule_and_keeps_the_answer() {
    if !root() {
        return;
    }
    let d = common::tempdir("explain");
    std::fs::set_permissions(&d, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let profile = d.join("p.yaml");
    std::fs::write(
        &profile,
        "name: p\nextends: docker-default\nprocess: { user: caller }\ncapabilities: { drop: [ALL] }\nseccomp:\n  rules:\n    - deny: [mkdir, mkdirat]\n      action: errno(EACCES)\n",
    )
    .unwrap();
    let script = format!("mkdir {0}/a; mkdir {0}/b; echo done", d.display());
    for user in [None, Some("nobody")] {
        let o = enforce(
            user,
            &["run", "--explain", "--profile", profile.to_str().unwrap(), "--", "sh", "-c", &script],
        );
        let err = text(&o.stderr);
        assert_eq!(text(&o.stdout), "done\n", "{err}");
        let explained: Vec<&str> = err.lines().filter(|l| l.starts_with("enforce: explain: ")).collect();
        assert_eq!(explained.len(), 1, "once per call and rule: {err}");
        assert!(explained[0].contains("mkdir") && explained[0].contains("errno(EACCES)"), "{err}");
        assert!(explained[0].contains(&format!("{}:7:7", profile.display())), "the rule's place: {err}");
        assert_eq!(err.matches("Permission denied").count(), 2, "the command's own answer: {err}");
        assert!(!d.join("a").exists());
    }
    // A container is refused, saying why.
    let o = enforce(None, &["run", "--explain", "--rootfs", "/", "--", "true"]);
    assert!(
        !o.status.success() && text(&o.stderr).contains("--explain explains host runs"),
        "{}",
        text(&o.stderr)
    );
}

/// The TCP ports bound and connected to become Landlock's network rules: the replay binds and
/// connects to the same port; binding another port is refused by Landlock (EACCES).
#[test]
fn ports_bound_and_connected_become_landlock_network_rules() {
    if !root() {
        return;
    }
    let d = common::tempdir("record-ports");
    let script = d.join("s.py");
    std::fs::write(
        &script,
        "import socket, sys\nport = int(sys.argv[1])\nsrv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)\n\
         srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\nsrv.bind(('127.0.0.1', port)); srv.listen(1)\n\
         c = socket.socket(socket.AF_INET, socket.SOCK_STREAM); c.connect(('127.0.0.1', port))\n\
         a, _ = srv.accept(); c.send(b'hi'); print(a.recv(2).decode())\n",
    )
    .unwrap();
    let port = 20000 + std::process::id() % 20000;
    let (p, other) = (port.to_string(), (port + 1).to_string());
    let learned = d.join("n.yaml");
    let run = |args: &[&str]| enforce(None, args);
    let py = script.to_str().unwrap();
    let o = run(&["record", "-o", learned.to_str().unwrap(), "--", "/usr/bin/python3", py, &p]);
    assert_eq!(text(&o.stdout), "hi\n", "{}", text(&o.stderr));
    let yaml = std::fs::read_to_string(&learned).unwrap();
    assert!(yaml.contains(&format!("network: {{ bind: [{p}], connect: [{p}] }}")), "{yaml}");
    let r = run(&["run", "--profile", learned.to_str().unwrap(), "--", "/usr/bin/python3", py, &p]);
    assert_eq!(text(&r.stdout), "hi\n", "{}", text(&r.stderr));
    let r = run(&["run", "--profile", learned.to_str().unwrap(), "--", "/usr/bin/python3", py, &other]);
    assert!(!r.status.success() && text(&r.stderr).contains("Errno 13"), "{}", text(&r.stderr));
}

/// A server recorded until Ctrl-C (SIGINT to its process group): the profile is written and
/// marked incomplete; replayed, the server serves the same file on the same port; on another
/// port it cannot bind, and from a directory beside its own it cannot read (Landlock).
#[test]
fn a_server_recorded_until_ctrl_c_replays_on_its_port_only() {
    use std::os::unix::process::CommandExt;
    if !root() {
        return;
    }
    let d = common::tempdir("record-server");
    for dir in ["site", "other"] {
        std::fs::create_dir(d.join(dir)).unwrap();
        std::fs::write(d.join(dir).join("index.txt"), "served\n").unwrap();
    }
    let port = 30000 + std::process::id() % 20000;
    let learned = d.join("server.yaml");
    let serve = |verb: &[&str], port: u32, dir: &str| {
        let p = port.to_string();
        let mut args: Vec<&str> = verb.to_vec();
        args.extend([
            "--",
            "/usr/bin/python3",
            "-m",
            "http.server",
            &p,
            "--bind",
            "127.0.0.1",
            "--directory",
            dir,
        ]);
        Command::new(ENFORCE)
            .args(&args)
            .current_dir(d.join("site"))
            .process_group(0)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    // curl fetches the file once the server listens (status line, headers and body: `-i`).
    let fetch = |port: u32| -> String {
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port as u16)).is_ok() {
                let url = format!("http://127.0.0.1:{port}/index.txt");
                let o = Command::new("curl").args(["-s", "-i", "--max-time", "10", &url]).output().unwrap();
                return text(&o.stdout);
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("nothing listens on {port}");
    };
    let stop = |child: std::process::Child| -> Output {
        let pgid = nix::unistd::Pid::from_raw(-(child.id() as i32));
        nix::sys::signal::kill(pgid, nix::sys::signal::Signal::SIGINT).unwrap();
        child.wait_with_output().unwrap()
    };
    let rec = serve(&["record", "-o", learned.to_str().unwrap()], port, ".");
    assert!(fetch(port).ends_with("served\n"));
    let o = stop(rec);
    let err = text(&o.stderr);
    assert!(err.contains("(interrupted: incomplete)"), "{err}");
    let yaml = std::fs::read_to_string(&learned).unwrap();
    assert!(yaml.contains("# Incomplete: the recording was interrupted"), "{yaml}");
    assert!(yaml.contains(&format!("network: {{ bind: [{port}], connect: [] }}")), "{yaml}");
    // It read the directory it served, and wrote nowhere.
    assert!(yaml.contains("- { path: \"${CWD}\", access: [read_file, read_dir] }"), "{yaml}");
    let replay = serve(&["run", "--profile", learned.to_str().unwrap()], port, ".");
    assert!(fetch(port).ends_with("served\n"));
    stop(replay);
    let beside = serve(&["run", "--profile", learned.to_str().unwrap()], port, "../other");
    let body = fetch(port);
    assert!(body.starts_with("HTTP/1.0 404") && !body.ends_with("served\n"), "{body}");
    stop(beside);
    let other = serve(&["run", "--profile", learned.to_str().unwrap()], port + 1, ".");
    let o = other.wait_with_output().unwrap();
    assert!(!o.status.success() && text(&o.stderr).contains("Permission denied"), "{}", text(&o.stderr));
}

/// `enforce run --explain` says which Landlock right no rule grants, on which path, and which
/// rules cover it (with their places), and a port the network rules leave out; the command
/// still gets EACCES from the kernel; a normal user too.
#[test]
fn explain_names_what_landlock_refuses() {
    if !root() {
        return;
    }
    let d = common::tempdir("explain-landlock");
    std::fs::set_permissions(&d, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::create_dir(d.join("pub")).unwrap();
    std::fs::write(d.join("pub/ok.txt"), "ok\n").unwrap();
    std::fs::write(d.join("secret.txt"), "s\n").unwrap();
    let profile = d.join("p.yaml");
    std::fs::write(
        &profile,
        format!(
            "name: p\nextends: docker-default\nprocess: {{ user: caller }}\ncapabilities: {{ drop: [ALL] }}\nlandlock:\n  filesystem:\n    - {{ path: /usr, access: [read, execute] }}\n    - {{ path: {0}, access: [read_dir] }}\n    - {{ path: {0}/pub, access: [read_file] }}\n  network: {{ bind: [], connect: [] }}\n",
            d.display()
        ),
    )
    .unwrap();
    let script =
        format!("cat {0}/pub/ok.txt; cat {0}/secret.txt; cat {0}/secret.txt; echo done", d.display());
    for user in [None, Some("nobody")] {
        let o = enforce(
            user,
            &["run", "--explain", "--profile", profile.to_str().unwrap(), "--", "sh", "-c", &script],
        );
        let err = text(&o.stderr);
        assert_eq!(text(&o.stdout), "ok\ndone\n", "{err}");
        let said: Vec<&str> =
            err.lines().filter(|l| l.contains(&format!("openat({}/secret.txt)", d.display()))).collect();
        assert_eq!(said.len(), 1, "once per path and rights: {err}");
        assert!(
            said[0].contains("→ EACCES by Landlock: read_file not granted there")
                && said[0].contains(&format!("{} [read_dir] at {}:8:7", d.display(), profile.display())),
            "{err}"
        );
        assert!(!err.contains("ok.txt"), "an allowed open is not explained: {err}");
        assert_eq!(err.matches("Permission denied").count(), 2, "the kernel's own answer: {err}");
    }
}

/// Paths Landlock checks in less obvious places are learned where it checks them: an
/// `O_TMPFILE` file beneath its directory, `mkdir("d/")` with a trailing slash, a file made
/// through a dangling symbolic link (in the directory the link points into), a rename across
/// directories (`refer`); the replay in a fresh copy of the layout does the same.
#[test]
fn paths_landlock_checks_elsewhere_are_learned_there() {
    if !root() {
        return;
    }
    let d = common::tempdir("record-tricky");
    let script = "import os, sys\nw = sys.argv[1]\n\
        fd = os.open(w + '/tmp', os.O_TMPFILE | os.O_RDWR, 0o600); os.write(fd, b'x'); os.close(fd)\n\
        os.mkdir(w + '/made/')\n\
        open(w + '/link', 'w').write('through the link')\n\
        os.rename(w + '/a/moved', w + '/b/moved')\n\
        print(open(w + '/target/new').read(), sorted(os.listdir(w + '/b')))\n";
    std::fs::write(d.join("s.py"), script).unwrap();
    let layout = |w: &std::path::Path| {
        for sub in ["tmp", "target", "a", "b"] {
            std::fs::create_dir_all(w.join(sub)).unwrap();
        }
        std::fs::write(w.join("a/moved"), "").unwrap();
        std::os::unix::fs::symlink("target/new", w.join("link")).unwrap();
    };
    let (first, second) = (d.join("first"), d.join("second"));
    layout(&first);
    layout(&second);
    let learned = d.join("t.yaml");
    let py = d.join("s.py");
    let (py, l) = (py.to_str().unwrap(), learned.to_str().unwrap());
    // TMPDIR elsewhere: the paths stay as they are (not written as ${TMPDIR}).
    let o = Command::new(ENFORCE)
        .args([
            "record",
            "--collapse",
            "none",
            "-o",
            l,
            "--",
            "/usr/bin/python3",
            py,
            first.to_str().unwrap(),
        ])
        .env("TMPDIR", d.join("tmp-elsewhere"))
        .output()
        .unwrap();
    assert_eq!(text(&o.stdout), "through the link ['moved']\n", "{}", text(&o.stderr));
    let yaml = std::fs::read_to_string(&learned).unwrap();
    let f = first.display();
    for want in [
        format!("{{ path: {f}/tmp, access: [write_file, read_file] }}"),
        format!("{{ path: {f}, access: [make_dir] }}"),
        format!("{{ path: {f}/target, access: [write_file, read_file, make_reg, truncate] }}"),
        format!("{{ path: {f}/a, access: [remove_file, refer] }}"),
        format!("{{ path: {f}/b, access: [read_dir, make_reg, refer] }}"),
    ] {
        assert!(yaml.contains(&want), "{want} in:\n{yaml}");
    }
    // The same rules, for the second layout: the replay there does the same.
    std::fs::write(&learned, yaml.replace(&f.to_string(), &second.display().to_string())).unwrap();
    let r = enforce(None, &["run", "--profile", l, "--", "/usr/bin/python3", py, second.to_str().unwrap()]);
    assert_eq!(text(&r.stdout), "through the link ['moved']\n", "{}", text(&r.stderr));
}
