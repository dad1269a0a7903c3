//! Live tests of `enforce` run by a normal user (`runuser -u nobody`): Landlock, seccomp and
//! no_new_privs need no privilege, so a profile for the caller's own uid runs; one that needs
//! root says why and runs nothing; state is never kept in a shared directory. CI runs these as
//! root, which is what `runuser` needs.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Output};

use common::tempdir;

const ENFORCE: &str = env!("CARGO_BIN_EXE_enforce");

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `enforce ARGS` as nobody, with exactly the environment given (runuser keeps the rest out).
fn as_nobody(args: &[&str], env: &[(&str, &str)]) -> Output {
    as_nobody_in(Path::new("/"), args, env)
}

/// [`as_nobody`] in directory `dir`.
fn as_nobody_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new("runuser");
    c.args(["-u", "nobody", "--", "env", "-i", "PATH=/usr/bin:/bin"]);
    for (k, v) in env {
        c.arg(format!("{k}={v}"));
    }
    c.arg(ENFORCE).args(args).current_dir(dir).output().expect("runuser (util-linux)")
}

fn status_field(out: &str, key: &str) -> String {
    out.lines().find_map(|l| l.strip_prefix(&format!("{key}:"))).unwrap_or("").trim().to_string()
}

#[test]
fn a_profile_for_the_callers_own_uid_runs_without_privilege() {
    // Outside /tmp, which the profile lets the workload write.
    let d = std::path::PathBuf::from(format!("/var/tmp/palisade-test-{}-strict", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).unwrap();
    let marker = d.join("written");
    let script = format!(
        "grep -E '^(Uid|CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status; touch {} && echo WROTE; echo > /etc/palisade-nobody 2>/dev/null || echo denied",
        marker.display()
    );
    let out = as_nobody(
        &["run", "--profile", "builtin:strict", "--report", "-", "--", "/bin/sh", "-c", &script],
        &[],
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{:?}\n{stdout}\n{}", out.status, text(&out.stderr));
    assert_eq!(status_field(&stdout, "Uid"), "65534\t65534\t65534\t65534");
    assert_eq!(status_field(&stdout, "CapEff"), "0000000000000000");
    assert_eq!(status_field(&stdout, "NoNewPrivs"), "1");
    assert_eq!(status_field(&stdout, "Seccomp"), "2");
    // The bounding set stays as it was (dropping it needs CAP_SETPCAP); no_new_privs makes it moot.
    assert_ne!(status_field(&stdout, "CapBnd"), "0000000000000000");
    // Landlock is in force: only /tmp is writable, not the test's directory nor /etc.
    assert!(!stdout.contains("WROTE") && !marker.exists(), "{stdout}");
    assert!(stdout.contains("denied"), "{stdout}");
    assert!(!Path::new("/etc/palisade-nobody").exists());
    let stderr = text(&out.stderr);
    let report: serde_json::Value = serde_json::from_str(&stderr[..stderr.rfind("}\n").map_or(0, |i| i + 2)])
        .unwrap_or_else(|e| panic!("{e}: {stderr}"));
    assert_eq!(report["state"], "applied");
    assert_eq!(report["skipped"][0]["step"], "bounding", "{report}");
    assert!(!report["steps"].as_array().unwrap().contains(&serde_json::json!("bounding")));
    assert_eq!(report["landlock"]["status"], "fully-enforced");
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn a_profile_that_needs_root_says_why_and_runs_nothing() {
    let d = tempdir("nobody-root");
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).unwrap();
    let marker = d.join("ran");
    let script = format!("touch {}", marker.display());
    for (profile, why) in [
        ("builtin:docker-default", "it runs the command as 0:0 and you are 65534:65534"),
        ("builtin:web", "it grants CAP_NET_BIND_SERVICE"),
    ] {
        let out = as_nobody(&["run", "--profile", profile, "--", "/bin/sh", "-c", &script], &[]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(125), "{profile}: {stderr}");
        assert!(stderr.contains("needs root because") && stderr.contains(why), "{profile}: {stderr}");
        assert!(!marker.exists(), "{profile} ran");
    }
}

#[test]
fn a_normal_users_state_is_never_kept_in_a_shared_directory() {
    // No XDG_RUNTIME_DIR and no /run/user/65534: refused, rather than a shared /tmp/palisade.
    let out = as_nobody(&["ps"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("no private runtime directory for uid 65534"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        !Path::new("/tmp/palisade").exists() || std::fs::metadata("/tmp/palisade").unwrap().uid() != 65534
    );
    // With a runtime directory of its own, the state goes there, private.
    let d = tempdir("nobody-xdg");
    let xdg = d.join("xdg");
    std::fs::create_dir(&xdg).unwrap();
    std::os::unix::fs::chown(&xdg, Some(65534), Some(65534)).unwrap();
    std::fs::set_permissions(&xdg, std::fs::Permissions::from_mode(0o700)).unwrap();
    let out = as_nobody(&["ps"], &[("XDG_RUNTIME_DIR", xdg.to_str().unwrap())]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let state = xdg.join("palisade");
    let meta = std::fs::metadata(&state).unwrap();
    assert_eq!((meta.uid(), meta.permissions().mode() & 0o777), (65534, 0o700));
}

/// A command Landlock would refuse to start (the script, its reading by the interpreter, the
/// interpreter) is refused before anything is applied, with the file and the right; exit 126
/// as the exec would give.
#[test]
fn a_command_landlock_would_refuse_is_refused_naming_the_file_and_right() {
    let d = std::path::PathBuf::from(format!("/var/tmp/palisade-test-{}-runnable", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    for sub in ["ro", "xo", "rx", "rw"] {
        std::fs::create_dir_all(d.join(sub)).unwrap();
    }
    std::fs::set_permissions(d.join("rw"), std::fs::Permissions::from_mode(0o777)).unwrap();
    let marker = d.join("rw/ran");
    let script = |at: &str, interpreter: &str| {
        let p = d.join(at).join("s.sh");
        std::fs::write(&p, format!("#!{interpreter}\ntouch {}\n", marker.display())).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p.display().to_string()
    };
    std::fs::copy("/bin/sh", d.join("rw/sh")).unwrap();
    let rules: String =
        [("/usr", "[read, execute]"), ("/lib", "[read, execute]"), ("/lib64", "[read, execute]")]
            .iter()
            .chain(&[("/etc", "[read]"), ("ro", "[read]"), ("xo", "[execute]"), ("rx", "[read, execute]")])
            .chain(&[("rw", "[read, write]")])
            .map(|(p, a)| {
                let p = if p.starts_with('/') { p.to_string() } else { d.join(p).display().to_string() };
                format!("    - {{ path: \"{p}\", access: {a} }}\n")
            })
            .collect();
    let profile = d.join("p.yaml");
    std::fs::write(
        &profile,
        format!("name: t\nprocess: {{ user: \"65534:65534\" }}\nseccomp: {{ default: allow }}\nlandlock:\n  filesystem:\n{rules}"),
    )
    .unwrap();
    let p = profile.display().to_string();
    let rw_sh = d.join("rw/sh").display().to_string();
    for (cmd, why) in [
        (
            script("ro", "/bin/sh"),
            format!("landlock would refuse to execute {}/ro/s.sh, the command", d.display()),
        ),
        (
            script("xo", "/bin/sh"),
            format!("refuse to read {}/xo/s.sh, a script its interpreter /bin/sh reads", d.display()),
        ),
        (script("rx", &rw_sh), format!("refuse to execute {rw_sh}, the `#!` interpreter of")),
    ] {
        let out = as_nobody(&["run", "--profile", &p, "--", &cmd], &[]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(126), "{cmd}: {stderr}");
        assert!(stderr.contains(&why) && stderr.contains("nothing was run"), "{cmd}: {stderr}");
        assert!(!marker.exists(), "{cmd} ran");
    }
    // With the interpreter in a directory it may execute from, the same script runs.
    let ok = script("rx", "/bin/sh");
    let out = as_nobody(&["run", "--profile", &p, "--", &ok], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(marker.exists());
    std::fs::remove_dir_all(&d).unwrap();
}

/// `python3 -m http.server` as a normal user under a profile whose only readable directory of
/// the user's is `${CWD}`: it serves the directory it is started in, and nothing through a
/// symlink out of it; it may bind only the profile's port.
#[test]
fn a_server_of_the_current_directory_serves_it_and_nothing_else() {
    use std::io::{Read, Write};
    let d = std::path::PathBuf::from(format!("/var/tmp/palisade-test-{}-serve", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("site")).unwrap();
    std::fs::create_dir_all(d.join("private")).unwrap();
    std::fs::write(d.join("site/hello.txt"), "hello from the site\n").unwrap();
    std::fs::write(d.join("private/secret.txt"), "secret\n").unwrap();
    std::os::unix::fs::symlink(d.join("private/secret.txt"), d.join("site/secret.txt")).unwrap();
    let profile = std::fs::canonicalize("profiles/examples/serve-here.yaml").unwrap();
    let server = Command::new("runuser")
        .args(["-u", "nobody", "--", "env", "-i", "PATH=/usr/bin:/bin", ENFORCE, "run", "--profile"])
        .arg(&profile)
        .args(["--", "python3", "-m", "http.server", "--bind", "127.0.0.1", "8000"])
        .current_dir(d.join("site"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("runuser");
    let get = |path: &str| -> Option<String> {
        let mut s = std::net::TcpStream::connect("127.0.0.1:8000").ok()?;
        write!(s, "GET {path} HTTP/1.0\r\n\r\n").ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        Some(out)
    };
    let mut first = None;
    for _ in 0..100 {
        first = get("/hello.txt");
        if first.is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let secret = get("/secret.txt");
    // SIGTERM, which runuser passes on to the server (SIGKILL would leave the server running).
    unsafe { libc::kill(server.id() as i32, libc::SIGTERM) };
    let out = server.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    let first = first.unwrap_or_else(|| panic!("the server never answered: {stderr}"));
    assert!(first.starts_with("HTTP/1.0 200") && first.ends_with("hello from the site\n"), "{first}");
    let secret = secret.unwrap();
    assert!(!secret.starts_with("HTTP/1.0 200") && !secret.contains("secret\n"), "{secret}");
    std::fs::remove_dir_all(&d).unwrap();
}

/// `builtin:build` as it ships, run by a normal user in a scratch directory: git init, commit
/// and log, and a make + gcc build that runs what it built. It runs as the caller, writes only
/// the directory it runs in and a temporary directory of its own, and keeps the caller's lower
/// limits.
#[test]
fn builtin_build_runs_git_and_a_make_gcc_build_where_it_is_run() {
    let d = std::path::PathBuf::from(format!("/var/tmp/palisade-test-{}-build", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(
        d.join("hello.c"),
        "#include <stdio.h>\nint main(void) { puts(\"built and ran\"); return 0; }\n",
    )
    .unwrap();
    std::fs::write(d.join("Makefile"), "hello: hello.c\n\tcc -o hello hello.c\n").unwrap();
    for f in ["", "hello.c", "Makefile"] {
        std::os::unix::fs::chown(d.join(f), Some(65534), Some(65534)).unwrap();
    }
    let outside = format!("/tmp/palisade-build-outside-{}", std::process::id());
    let script = format!(
        "set -e; git init -q .; git add hello.c Makefile; git -c user.name=T -c user.email=t@example.com commit -qm first; git log --oneline; make -s; ./hello; echo \"TMPDIR=$TMPDIR\"; echo x > \"$TMPDIR/t\"; touch {outside} 2>/dev/null || echo outside-denied; grep '^Max open files' /proc/self/limits"
    );
    let report = d.join("report.json");
    let out = as_nobody_in(
        &d,
        &[
            "run",
            "--profile",
            "builtin:build",
            "--report",
            report.to_str().unwrap(),
            "--",
            "sh",
            "-c",
            &script,
        ],
        &[("HOME", d.to_str().unwrap())],
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{:?}\n{stdout}\n{}", out.status, text(&out.stderr));
    assert!(stdout.contains(" first\n") && stdout.contains("built and ran\n"), "{stdout}");
    assert!(stdout.contains("outside-denied") && !Path::new(&outside).exists(), "{stdout}");
    let tmpdir = status_field(&stdout.replace('=', ":"), "TMPDIR");
    assert!(tmpdir.starts_with("/tmp/palisade-tmp-"), "{stdout}");
    let meta = std::fs::metadata(&tmpdir).unwrap();
    assert_eq!((meta.uid(), meta.permissions().mode() & 0o777), (65534, 0o700));
    // The profile's 65536 is a maximum: the caller's hard limit stays (this machine's is lower).
    let hard = hard_nofile();
    let limits = stdout.lines().find(|l| l.starts_with("Max open files")).unwrap_or_default().to_string();
    let numbers: Vec<u64> = limits.split_whitespace().filter_map(|w| w.parse().ok()).collect();
    assert_eq!(numbers, [hard.min(65536), hard.min(65536)], "{limits}");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!((v["uid"].as_u64(), v["tmpdir"].as_str()), (Some(65534), Some(tmpdir.as_str())), "{v}");
    assert_eq!(v["variables"]["CWD"], d.to_str().unwrap(), "{v}");
    std::fs::remove_dir_all(&tmpdir).unwrap();
    std::fs::remove_dir_all(&d).unwrap();
}

/// The hard `nofile` limit a process started here gets.
fn hard_nofile() -> u64 {
    let mut l = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes into the struct it is given.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) };
    l.rlim_max
}
