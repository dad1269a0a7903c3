//! `palisade-runtime` (issue 16) against runc on the same bundles: a busybox-static rootfs
//! and runc's own `spec` defaults, run by both; the lifecycle (create, state, start, kill,
//! delete) as the OCI runtime-spec describes it; seccomp from config.json enforced by the
//! kernel; bad bundles refused with the field named and nothing left behind; idmapped binds
//! against crun (runc 1.1 has none). Needs root, `runc` and `crun` (scripts/install-deps
//! installs them): on CI a missing prerequisite fails.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_palisade-runtime");

fn ready() -> bool {
    let root = nix::unistd::geteuid().is_root();
    let version = |bin: &str| Command::new(bin).arg("--version").output().is_ok_and(|o| o.status.success());
    let (runc, crun) = (version("runc"), version("crun"));
    if root && runc && crun {
        return true;
    }
    let why = format!("root: {root}, runc: {runc}, crun: {crun}");
    if std::env::var_os("CI").is_some() {
        panic!("the OCI runtime tests cannot run on CI: {why}");
    }
    eprintln!("SKIPPED: the OCI runtime tests need root, runc and crun ({why})");
    false
}

/// A bundle with runc's default config.json (from `runc spec`), edited by `edit`.
fn bundle(name: &str, edit: impl FnOnce(&mut Value)) -> common::TempDir {
    let d = common::tempdir(name);
    common::rootfs::build(&d);
    let out = Command::new("runc").args(["spec"]).current_dir(&d).output().unwrap();
    assert!(out.status.success(), "runc spec: {}", String::from_utf8_lossy(&out.stderr));
    let path = d.join("config.json");
    let mut c: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    c["process"]["terminal"] = json!(false);
    edit(&mut c);
    std::fs::write(&path, serde_json::to_string_pretty(&c).unwrap()).unwrap();
    d
}

fn ours(root: &Path, args: &[&str], bundle: &Path) -> Output {
    Command::new(BIN).arg("--root").arg(root).args(args).current_dir(bundle).output().unwrap()
}

/// `create`, whose init keeps the stdio it is given: files here, read back after.
fn create(root: &Path, args: &[&str], bundle: &Path) -> (bool, String) {
    let err = bundle.join(format!("create-{}.err", args.last().unwrap_or(&"")));
    let o = Command::new(BIN)
        .arg("--root")
        .arg(root)
        .arg("create")
        .args(args)
        .current_dir(bundle)
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(bundle.join("create.out")).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .status()
        .unwrap();
    (o.success(), std::fs::read_to_string(&err).unwrap())
}

fn theirs(root: &Path, args: &[&str], bundle: &Path) -> Output {
    Command::new("runc").arg("--root").arg(root).args(args).current_dir(bundle).output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_string()
}

/// What a container shows of itself.
const PROBE: &str = "id; hostname; grep -E '^(Cap|NoNewPrivs|Seccomp:|Groups)' /proc/self/status; \
    echo cwd=$(pwd) env=$FOO; touch /probe-root 2>&1 | head -c 40; echo; ls /dev | head -20; \
    cat /proc/self/uid_map";

fn both(name: &str, edit: impl FnOnce(&mut Value)) -> (Output, Output) {
    let b = bundle(name, edit);
    let (r1, r2) = (b.join("state-ours"), b.join("state-runc"));
    let a = ours(&r1, &["run", "c"], &b);
    let z = theirs(&r2, &["run", "c"], &b);
    (a, z)
}

fn probe(c: &mut Value) {
    c["process"]["args"] = json!(["sh", "-c", PROBE]);
    c["process"]["env"] = json!(["PATH=/bin", "FOO=bar"]);
    c["hostname"] = json!("palisade-oci");
}

#[test]
fn runs_as_runc_does_on_runc_default_spec() {
    if !ready() {
        return;
    }
    let (a, z) = both("oci-default", probe);
    assert_eq!(a.status.code(), z.status.code(), "ours: {}\nrunc: {}", text(&a.stderr), text(&z.stderr));
    assert_eq!(text(&a.stdout), text(&z.stdout), "stderr ours: {}", text(&a.stderr));
    assert!(text(&a.stdout).contains("NoNewPrivs:\t1"), "{}", text(&a.stdout));
}

#[test]
fn user_groups_readonly_root_and_rlimits_as_runc() {
    if !ready() {
        return;
    }
    let (a, z) = both("oci-user", |c| {
        probe(c);
        c["process"]["user"] = json!({"uid": 1000, "gid": 1000, "additionalGids": [5, 27]});
        c["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "hard": 512, "soft": 256}]);
        c["process"]["args"] = json!(["sh", "-c", format!("{PROBE}; ulimit -n; ulimit -Hn")]);
        c["root"]["readonly"] = json!(true);
    });
    assert_eq!(a.status.code(), z.status.code(), "ours: {}\nrunc: {}", text(&a.stderr), text(&z.stderr));
    assert_eq!(text(&a.stdout), text(&z.stdout), "stderr ours: {}", text(&a.stderr));
    let out = text(&a.stdout);
    assert!(out.contains("uid=1000 gid=1000 groups=5,27") || out.contains("groups=1000,5,27"), "{out}");
    assert!(out.contains("Read-only file syste"), "{out}");
    assert!(out.contains("\n256\n512\n"), "{out}");
}

#[test]
fn seccomp_from_config_json_is_enforced_with_runcs_meaning() {
    if !ready() {
        return;
    }
    let (a, z) = both("oci-seccomp", |c| {
        c["process"]["args"] = json!([
            "sh",
            "-c",
            "grep '^Seccomp:' /proc/self/status; mkdir /tmp/x 2>&1; echo mkdir=$?; cat /proc/self/comm"
        ]);
        c["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [
                {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
                {"names": ["mkdirat"], "action": "SCMP_ACT_ALLOW"}
            ]
        });
    });
    assert_eq!(
        text(&a.stdout),
        text(&z.stdout),
        "stderr ours: {}\nrunc: {}",
        text(&a.stderr),
        text(&z.stderr)
    );
    // The first argument-free rule for mkdirat wins, as in libseccomp: EACCES.
    assert!(
        text(&a.stdout).contains("Seccomp:\t2") && text(&a.stdout).contains("Permission denied"),
        "{}",
        text(&a.stdout)
    );
}

fn state(root: &Path, id: &str, b: &Path) -> Value {
    let o = ours(root, &["state", id], b);
    assert!(o.status.success(), "state: {}", text(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn create_start_kill_delete_follow_the_lifecycle() {
    if !ready() {
        return;
    }
    let b = bundle("oci-life", |c| c["process"]["args"] = json!(["sleep", "1000"]));
    let root = b.join("state");
    let pidfile = b.join("pid");
    let (ok, err) = create(&root, &["--pid-file", pidfile.to_str().unwrap(), "c1"], &b);
    assert!(ok, "create: {err}");
    let s = state(&root, "c1", &b);
    assert_eq!(s["status"], "created");
    assert_eq!(s["ociVersion"], "1.2.0");
    let pid = s["pid"].as_i64().unwrap();
    assert_eq!(std::fs::read_to_string(&pidfile).unwrap(), pid.to_string());
    // The init waits in its namespaces; the runtime process that created it is gone (the init
    // was handed to this machine's init or the caller's subreaper).
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let ppid: i64 = status.lines().find_map(|l| l.strip_prefix("PPid:")).unwrap().trim().parse().unwrap();
    let exe = std::fs::canonicalize(BIN).unwrap();
    assert!(
        std::fs::read_link(format!("/proc/{ppid}/exe")).map_or(true, |x| x != exe),
        "the init's parent {ppid} is a runtime process"
    );
    let ns = |p: i64| std::fs::read_link(format!("/proc/{p}/ns/pid")).unwrap();
    assert_ne!(ns(pid), std::fs::read_link("/proc/self/ns/pid").unwrap());
    // A second container with that id is refused, and the first is untouched.
    let (ok, err) = create(&root, &["c1"], &b);
    assert!(!ok && err.contains("exists"), "{err}");
    assert_eq!(state(&root, "c1", &b)["status"], "created");
    assert!(ours(&root, &["start", "c1"], &b).status.success());
    assert_eq!(state(&root, "c1", &b)["status"], "running");
    let cmd = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap();
    assert!(cmd.starts_with("sleep\0"), "{cmd:?}");
    // ps: the init's pid; update and events --stats: the cgroup's pids limit; pause/resume.
    let ps = ours(&root, &["ps", "--format", "json", "c1"], &b);
    let ps: Value = serde_json::from_slice(&ps.stdout).unwrap();
    assert_eq!(ps, json!([pid]));
    let res = b.join("resources.json");
    std::fs::write(&res, r#"{"pids": {"limit": 42}}"#).unwrap();
    let u = ours(&root, &["update", "--resources", res.to_str().unwrap(), "c1"], &b);
    assert!(u.status.success(), "{}", text(&u.stderr));
    let ev = ours(&root, &["events", "--stats", "c1"], &b);
    let ev: Value = serde_json::from_slice(&ev.stdout).unwrap();
    assert_eq!(
        (ev["type"].as_str(), ev["data"]["pids"]["limit"].as_u64()),
        (Some("stats"), Some(42)),
        "{ev}"
    );
    assert_eq!(ev["data"]["pids"]["current"], 1);
    assert!(ours(&root, &["pause", "c1"], &b).status.success());
    assert_eq!(state(&root, "c1", &b)["status"], "paused");
    let st = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert!(st.lines().any(|l| l.starts_with("State:") && l.contains('S')), "{st}");
    assert!(ours(&root, &["resume", "c1"], &b).status.success());
    assert_eq!(state(&root, "c1", &b)["status"], "running");
    // Deleting a running container needs --force.
    let d = ours(&root, &["delete", "c1"], &b);
    assert!(!d.status.success() && text(&d.stderr).contains("running"), "{}", text(&d.stderr));
    let list = ours(&root, &["list", "--format", "json"], &b);
    let list: Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(list[0]["id"], "c1");
    assert!(ours(&root, &["kill", "c1", "KILL"], &b).status.success());
    let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while state(&root, "c1", &b)["status"] != "stopped" && std::time::Instant::now() < until {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(state(&root, "c1", &b)["status"], "stopped");
    let k = ours(&root, &["kill", "c1", "TERM"], &b);
    assert!(!k.status.success(), "kill of a stopped container fails");
    assert!(ours(&root, &["delete", "c1"], &b).status.success());
    assert!(!root.join("c1").exists());
    let gone = ours(&root, &["state", "c1"], &b);
    assert!(!gone.status.success() && text(&gone.stderr).contains("does not exist"));
}

/// A bundle's name, what spoils its config.json, the field the error must name.
type Case = (&'static str, fn(&mut Value), &'static str);

#[test]
fn a_bad_bundle_is_refused_by_field_and_leaves_nothing() {
    if !ready() {
        return;
    }
    let cases: [Case; 4] = [
        ("oci-bad-root", |c| c["root"]["path"] = json!("nope"), "root.path"),
        ("oci-bad-cwd", |c| c["process"]["cwd"] = json!("relative"), "process.cwd"),
        ("oci-bad-mount", |c| c["mounts"][0]["destination"] = json!("proc"), "mounts[0].destination"),
        ("oci-bad-type", |c| c["process"]["user"]["uid"] = json!("root"), "process.user.uid"),
    ];
    for (name, edit, field) in cases {
        let b = bundle(name, edit);
        let root = b.join("state");
        let log = b.join("log.json");
        let o = Command::new(BIN)
            .args(["--root", root.to_str().unwrap(), "--log", log.to_str().unwrap(), "--log-format", "json"])
            .args(["run", "c"])
            .current_dir(&b)
            .output()
            .unwrap();
        assert!(!o.status.success(), "{name}");
        assert!(text(&o.stderr).contains(field), "{name}: {}", text(&o.stderr));
        let line: Value =
            serde_json::from_str(std::fs::read_to_string(&log).unwrap().lines().last().unwrap()).unwrap();
        assert_eq!(line["level"], "error");
        assert!(line["msg"].as_str().unwrap().contains(field));
        assert!(!root.join("c").exists(), "{name}: a state directory was left");
    }
    // A command that does not exist fails create, and nothing is left.
    let b = bundle("oci-bad-cmd", |c| c["process"]["args"] = json!(["/bin/nope"]));
    let root = b.join("state");
    let (ok, err) = create(&root, &["c"], &b);
    assert!(!ok && err.contains("nope"), "{err}");
    assert!(!root.join("c").exists());
}

/// The container's processes get a session keyring of their own (`_ses.ID`), not the
/// caller's, as with runc; `--no-new-keyring` keeps the caller's. /proc/keys inside says which.
#[test]
fn a_session_keyring_of_its_own_unless_no_new_keyring_as_runc() {
    if !ready() {
        return;
    }
    // Keyrings are found by name: ids of this run only (a keyring outlives its container
    // until the kernel collects it).
    let pid = std::process::id();
    for extra in [&[][..], &["--no-new-keyring"][..]] {
        let run = |runtime: &str, id: &str| -> Output {
            let b = bundle(&format!("oci-keyring-{id}"), |c| {
                c["process"]["args"] = json!(["sh", "-c", format!("grep -c '_ses[.]{id}:' /proc/keys")]);
                // runc's spec masks /proc/keys.
                c["linux"]["maskedPaths"].as_array_mut().unwrap().retain(|p| p != "/proc/keys");
            });
            Command::new(runtime)
                .arg("--root")
                .arg(b.join(format!("state-{id}")))
                .arg("run")
                .args(extra)
                .arg(id)
                .current_dir(&b)
                .output()
                .unwrap()
        };
        let tag = if extra.is_empty() { "" } else { "n" };
        let a = run(BIN, &format!("k{pid}a{tag}"));
        let z = run("runc", &format!("k{pid}r{tag}"));
        assert_eq!(
            text(&a.stdout),
            text(&z.stdout),
            "{extra:?}: ours {} runc {}",
            text(&a.stderr),
            text(&z.stderr)
        );
        let want = if extra.is_empty() { "1\n" } else { "0\n" };
        assert_eq!(text(&a.stdout), want, "{extra:?}");
    }
}

/// `--require-userns` refuses Docker's default shape (real root with capabilities dropped, no
/// user namespace) by field, leaving nothing, and runs a config with one.
#[test]
fn require_userns_refuses_a_config_without_a_user_namespace() {
    if !ready() {
        return;
    }
    let id = |c: &mut Value| c["process"]["args"] = json!(["id", "-u"]);
    let b = bundle("oci-userns-required", id);
    let root = b.join("state");
    let o = Command::new(BIN)
        .arg("--root")
        .arg(&root)
        .args(["--require-userns", "run", "c"])
        .current_dir(&b)
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = text(&o.stderr);
    assert!(err.contains("linux.namespaces") && err.contains("--require-userns"), "{err}");
    assert!(!root.join("c").exists(), "a refused create left its state");
    let b = bundle("oci-userns-given", |c| {
        id(c);
        c["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "user"}));
        c["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
        c["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
    });
    let o = Command::new(BIN)
        .arg("--root")
        .arg(b.join("state"))
        .args(["--require-userns", "run", "c"])
        .current_dir(&b)
        .output()
        .unwrap();
    assert_eq!(text(&o.stdout), "0\n", "{}", text(&o.stderr));
}

#[test]
fn hooks_run_where_and_when_the_spec_says() {
    if !ready() {
        return;
    }
    let out = common::tempdir("oci-hooks-out");
    let d = out.display().to_string();
    let hook = |script: String| json!({"path": "/bin/sh", "args": ["sh", "-c", script], "env": ["PATH=/bin:/usr/bin"]});
    let b = bundle("oci-hooks", |c| {
        c["process"]["args"] = json!(["true"]);
        c["root"]["readonly"] = json!(false);
        c["hooks"] = json!({
            "prestart": [hook(format!("cat > {d}/prestart.json"))],
            "createRuntime": [hook(format!("cat > {d}/createRuntime.json; readlink /proc/self/ns/mnt > {d}/createRuntime.ns"))],
            "createContainer": [hook(format!("cat > {d}/createContainer.json; readlink /proc/self/ns/mnt > {d}/createContainer.ns"))],
            "startContainer": [hook("cat > /tmp/startContainer.json".into())],
            // A failing poststart or poststop hook is a warning; the ones after it still run.
            "poststart": [hook(format!("cat > {d}/poststart.json")), hook("exit 3".into()), hook(format!("touch {d}/poststart.after"))],
            "poststop": [hook(format!("cat > {d}/poststop.json")), hook("exit 3".into()), hook(format!("touch {d}/poststop.after"))],
        });
    });
    let root = b.join("state");
    let o = ours(&root, &["run", "c"], &b);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        out.join("poststart.after").exists() && out.join("poststop.after").exists(),
        "{}",
        text(&o.stderr)
    );
    assert!(
        text(&o.stderr).contains("poststart hook 1 (/bin/sh): exited with exit status: 3"),
        "{}",
        text(&o.stderr)
    );
    let read = |p: PathBuf| -> Value {
        serde_json::from_str(&std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
            .unwrap()
    };
    for (name, status) in [
        ("prestart", "creating"),
        ("createRuntime", "creating"),
        ("createContainer", "creating"),
        ("poststart", "running"),
        ("poststop", "stopped"),
    ] {
        let s = read(out.join(format!("{name}.json")));
        assert_eq!((s["id"].as_str(), s["status"].as_str()), (Some("c"), Some(status)), "{name}: {s}");
        assert_eq!(s["bundle"].as_str(), Some(b.to_str().unwrap()), "{name}");
    }
    // createRuntime in the runtime's mount namespace, createContainer in the container's.
    let host = std::fs::read_link("/proc/self/ns/mnt").unwrap().display().to_string();
    let ns = |n: &str| std::fs::read_to_string(out.join(n)).unwrap().trim().to_string();
    assert_eq!(ns("createRuntime.ns"), host);
    assert_ne!(ns("createContainer.ns"), host);
    // startContainer ran inside the container (its /tmp is the rootfs's).
    let s = read(b.join("rootfs/tmp/startContainer.json"));
    assert_eq!(s["status"], "running");
    // A failing createRuntime hook stops create, and nothing is left.
    let b = bundle("oci-hooks-fail", |c| c["hooks"] = json!({"createRuntime": [{"path": "/bin/false"}]}));
    let root = b.join("state");
    let (ok, err) = create(&root, &["c"], &b);
    assert!(!ok && err.contains("createRuntime hook 0 (/bin/false)"), "{err}");
    assert!(!root.join("c").exists());
}

#[test]
fn one_id_in_two_roots_gets_two_cgroups_and_a_busy_cgroup_is_refused() {
    if !ready() {
        return;
    }
    let b = bundle("oci-cgroups", |c| c["process"]["args"] = json!(["sleep", "1000"]));
    let (r1, r2) = (b.join("root-1"), b.join("root-2"));
    let (ok1, e1) = create(&r1, &["same"], &b);
    let (ok2, e2) = create(&r2, &["same"], &b);
    assert!(ok1 && ok2, "{e1} {e2}");
    let cgroup = |root: &Path| {
        let s = state(root, "same", &b);
        std::fs::read_to_string(format!("/proc/{}/cgroup", s["pid"])).unwrap()
    };
    assert_ne!(cgroup(&r1), cgroup(&r2));
    // An explicit cgroupsPath that a running container holds is refused, and nothing is left.
    let pids_line = cgroup(&r1).lines().find(|l| l.contains(":pids:")).unwrap().to_string();
    let busy = pids_line.rsplit(':').next().unwrap().to_string();
    let b2 = bundle("oci-cgroups-busy", |c| c["linux"]["cgroupsPath"] = json!(busy));
    let r3 = b2.join("root");
    let (ok, err) = create(&r3, &["other"], &b2);
    assert!(!ok && err.contains("in use"), "{err}");
    assert!(!r3.join("other").exists());
    for r in [&r1, &r2] {
        assert!(ours(r, &["delete", "--force", "same"], &b).status.success());
    }
    // The first container's cgroup is still there until its own delete: gone now.
    assert!(!Path::new(&format!("/sys/fs/cgroup/pids{busy}")).exists());
}

#[test]
fn a_container_joins_another_ones_pid_and_user_namespaces_by_path() {
    if !ready() {
        return;
    }
    let userns = |c: &mut Value| {
        let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
        ns.push(json!({"type": "user"}));
        c["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
        c["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
    };
    let a = bundle("oci-join-a", |c| {
        userns(c);
        c["process"]["args"] = json!(["sleep", "1000"]);
    });
    let root = a.join("state");
    let (ok, err) = create(&root, &["first"], &a);
    assert!(ok, "{err}");
    assert!(ours(&root, &["start", "first"], &a).status.success());
    let pid = state(&root, "first", &a)["pid"].as_i64().unwrap();
    let b = bundle("oci-join-b", |c| {
        let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
        for n in ns.iter_mut() {
            if n["type"] == "pid" || n["type"] == "uts" {
                n["path"] = json!(format!("/proc/{pid}/ns/{}", n["type"].as_str().unwrap()));
            }
        }
        ns.push(json!({"type": "user", "path": format!("/proc/{pid}/ns/user")}));
        // A hostname in a joined uts namespace is set there (runtime-tools' linux_ns_path).
        c["hostname"] = json!("joined-uts");
        c["process"]["args"] =
            json!(["sh", "-c", "cat /proc/self/uid_map; ps | grep -c '^ *1 .*sleep 1000'; id -u; hostname"]);
    });
    let o = ours(&b.join("state"), &["run", "second"], &b);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0].split_whitespace().collect::<Vec<_>>(), ["0", "200000", "65536"], "{out}");
    assert_eq!(
        lines[1..],
        ["1", "0", "joined-uts"],
        "the first container's sleep is in the joined pid namespace: {out}"
    );
    let first = ours(&root, &["exec", "first", "hostname"], &a);
    assert_eq!(
        text(&first.stdout),
        "joined-uts\n",
        "set in the joined uts namespace: {}",
        text(&first.stderr)
    );
    assert!(ours(&root, &["delete", "--force", "first"], &a).status.success());
}

#[test]
fn an_annotation_replaces_the_option_only_when_it_narrows_and_the_report_shows_the_merge() {
    if !ready() {
        return;
    }
    let fixtures = std::path::absolute("tests/fixtures/oci").unwrap();
    let narrower = fixtures.join("web-no-bind.yaml");
    let go = |name: &str, annotation: &str| {
        let b = bundle(name, |c| {
            c["process"]["args"] = json!(["true"]);
            c["annotations"] = json!({"org.palisade.profile": annotation});
        });
        let report = b.join("report.json");
        let o = Command::new(BIN)
            .arg("--root")
            .arg(b.join("state"))
            .args(["--profile", "builtin:web", "--profile-dir"])
            .arg(&fixtures)
            .arg("--report")
            .arg(&report)
            .args(["run", "c"])
            .current_dir(&b)
            .output()
            .unwrap();
        assert!(o.status.success(), "{name}: {}", text(&o.stderr));
        let r: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
        (text(&o.stderr), r)
    };
    // Narrower: the annotation's profile is applied.
    let (err, r) = go("oci-ann-narrow", narrower.to_str().unwrap());
    assert!(r["profile"].as_str().unwrap().ends_with("web-no-bind.yaml"), "{r}");
    assert_eq!(r["capabilities"]["effective"]["mask"], "0000000000000000", "{r}");
    assert!(!err.contains("ignored"), "{err}");
    // Wider somewhere: the option's, with a warning that says where.
    let (err, r) = go("oci-ann-wide", "builtin:strict");
    assert!(r["profile"].as_str().unwrap().ends_with("builtin:web"), "{r}");
    assert!(err.contains("ignored: it widens --profile builtin:web"), "{err}");
    // The merge: web's capability (config.json's sets cut to it), the stacked filter, Landlock,
    // no_new_privs.
    assert_eq!(r["capabilities"]["bounding"]["mask"], "0000000000000400", "{r}");
    assert!(r["seccomp_stacked"]["instructions"].as_u64().unwrap() > 0, "{r}");
    assert_eq!(r["no_new_privs"], true);
    assert_eq!(r["landlock"]["mode"], "enforce");
}

#[test]
fn no_pivot_moves_the_root_as_runc_does() {
    if !ready() {
        return;
    }
    let b = bundle("oci-no-pivot", |c| {
        c["process"]["args"] =
            json!(["sh", "-c", "head -2 /proc/self/mountinfo | cut -d' ' -f4,5; ls /; id"]);
    });
    let a = ours(&b.join("state-ours"), &["run", "--no-pivot", "c"], &b);
    let z = theirs(&b.join("state-runc"), &["run", "--no-pivot", "c"], &b);
    assert!(a.status.success(), "{}", text(&a.stderr));
    assert_eq!(text(&a.stdout), text(&z.stdout));
}

/// `linux.resources` reach the cgroup files runc writes for them (the memory limit,
/// `disableOOMKiller`, the real-time CPU budget, a read throttle on the root filesystem's
/// disk), read back from the v1 hierarchies; a limit whose controller the host does not give
/// (hugetlb and net_cls here) is refused, as runc refuses it, never dropped.
#[test]
fn resources_reach_the_files_runc_writes_and_a_missing_controller_is_refused() {
    if !ready() {
        return;
    }
    use std::os::unix::fs::MetadataExt;
    let dev = std::fs::metadata("/").unwrap().dev();
    let (major, minor) = (libc::major(dev), libc::minor(dev));
    let res = json!({
        "memory": {"limit": 50593792, "disableOOMKiller": true},
        "cpu": {"realtimePeriod": 1000000, "realtimeRuntime": 10000},
        "blockIO": {"throttleReadBpsDevice": [{"major": major, "minor": minor, "rate": 102400}]}
    });
    let mut seen = Vec::new();
    for (runtime, tag) in [(BIN, "ours"), ("runc", "runc")] {
        let path = format!("/palisade-res-{}-{tag}", std::process::id());
        let b = bundle(&format!("oci-res-{tag}"), |c| {
            c["process"]["args"] = json!(["sleep", "1000"]);
            c["linux"]["cgroupsPath"] = json!(path);
            c["linux"]["resources"] = res.clone();
        });
        let root = b.join("state");
        // The init keeps the stdio it is given: a file, not a pipe this test would wait on.
        let err = b.join("create.err");
        let created = Command::new(runtime)
            .arg("--root")
            .arg(&root)
            .args(["create", "c"])
            .current_dir(&b)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&err).unwrap())
            .status()
            .unwrap();
        assert!(created.success(), "{tag}: {}", std::fs::read_to_string(&err).unwrap());
        let read = |f: &str| {
            std::fs::read_to_string(format!("/sys/fs/cgroup/{f}")).unwrap_or_else(|e| format!("{f}: {e}"))
        };
        let oom = read(&format!("memory{path}/memory.oom_control"));
        let files = format!(
            "{}{}{}{}{}",
            read(&format!("memory{path}/memory.limit_in_bytes")),
            oom.lines().find(|l| l.starts_with("oom_kill_disable")).unwrap_or_default().to_string() + "\n",
            read(&format!("cpu{path}/cpu.rt_period_us")),
            read(&format!("cpu{path}/cpu.rt_runtime_us")),
            read(&format!("blkio{path}/blkio.throttle.read_bps_device")),
        );
        let gone =
            Command::new(runtime).arg("--root").arg(&root).args(["delete", "--force", "c"]).output().unwrap();
        assert!(gone.status.success(), "{tag}: {}", text(&gone.stderr));
        seen.push(files);
    }
    assert_eq!(seen[0], seen[1], "ours, then runc's");
    assert_eq!(seen[0], format!("50593792\noom_kill_disable 1\n1000000\n10000\n{major}:{minor} 102400\n"));
    // Controllers this host does not mount for the group: refused by both, nothing left.
    let missing = [
        (json!({"hugepageLimits": [{"pageSize": "2MB", "limit": 2097152}]}), "hugetlb"),
        (json!({"network": {"classID": 1048577}}), "net_cls"),
    ];
    for (res, controller) in missing {
        let b = bundle(&format!("oci-res-{controller}"), |c| c["linux"]["resources"] = res.clone());
        let a = ours(&b.join("state-ours"), &["run", "c"], &b);
        let z = theirs(&b.join("state-runc"), &["run", "c"], &b);
        assert!(!z.status.success(), "runc ran with {res}");
        assert!(!a.status.success() && text(&a.stderr).contains(controller), "{res}: {}", text(&a.stderr));
        assert!(!b.join("state-ours/c").exists());
    }
}

/// `rootfsPropagation: shared` (runtime-tools' linux_rootfs_propagation_shared): pivot_root
/// refuses a new root whose parent mount is shared, so that mount is made private first, as
/// runc does; the container then runs with the same mounts as under runc.
#[test]
fn a_shared_root_propagation_runs_as_under_runc() {
    if !ready() {
        return;
    }
    let (a, z) = both("oci-shared", |c| {
        c["linux"]["rootfsPropagation"] = json!("shared");
        c["process"]["args"] = json!(["sh", "-c", "wc -l < /proc/self/mountinfo"]);
    });
    assert!(a.status.success(), "{}", text(&a.stderr));
    assert_eq!(text(&a.stdout), text(&z.stdout), "runc: {}", text(&z.stderr));
}

/// A mount namespace given by path (the runtime-tools suite's `linux_ns_path` does this with
/// `unshare --mount`) is joined, not copied: the container's `/proc/self/ns/mnt` is the
/// holder's, and the tree is built in it, as runc does.
#[test]
fn a_mount_namespace_given_by_path_is_joined_as_runc_joins_it() {
    if !ready() {
        return;
    }
    for runtime in [BIN, "runc"] {
        let mut holder = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sleep", "1000"])
            .spawn()
            .unwrap();
        let path = format!("/proc/{}/ns/mnt", holder.id());
        // unshare execs sleep once it is in the new namespace.
        let mut ns = String::new();
        for _ in 0..200 {
            ns = std::fs::read_link(&path).unwrap().display().to_string();
            let own = std::fs::read_link("/proc/self/ns/mnt").unwrap().display().to_string();
            if ns != own
                && std::fs::read_to_string(format!("/proc/{}/comm", holder.id())).unwrap() == "sleep\n"
            {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let b = bundle("oci-join-mnt", |c| {
            for n in c["linux"]["namespaces"].as_array_mut().unwrap() {
                if n["type"] == "mount" {
                    n["path"] = json!(path);
                }
            }
            c["process"]["args"] = json!(["sh", "-c", "ls -l /proc/self/ns/mnt; ls /secret"]);
        });
        let o = Command::new(runtime)
            .arg("--root")
            .arg(b.join("state"))
            .args(["run", "c"])
            .current_dir(&b)
            .output()
            .unwrap();
        let _ = holder.kill();
        let _ = holder.wait();
        assert!(o.status.success(), "{runtime}: {}", text(&o.stderr));
        let out = text(&o.stdout);
        assert!(out.contains(&format!("-> {ns}")), "{runtime}: not the holder's {ns}: {out}");
        assert!(out.ends_with("file\n"), "{runtime}: not the bundle's root: {out}");
    }
}

/// Idmapped binds (runtime-spec 1.1 `idmap`/`ridmap`): a host directory owned by host root is
/// the container root's through its user namespace's mapping, or shows its owners through the
/// mount's own mappings; the kernel's `stat` and write checks say so, and the files keep their
/// ids on disk. runc 1.1 has no idmapped mounts: crun, on the same bundle, is the peer.
#[test]
fn idmapped_binds_show_owners_through_their_mappings() {
    if !ready() {
        return;
    }
    let b = bundle("oci-idmap", |c| {
        let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
        ns.push(json!({"type": "user"}));
        c["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
        c["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
        let bind = |dest: &str, opts: &[&str]| json!({"destination": dest, "type": "bind", "source": "data", "options": opts});
        let mounts = c["mounts"].as_array_mut().unwrap();
        mounts.push(bind("/mapped", &["rbind", "idmap"]));
        mounts.push(bind("/plain", &["rbind"]));
        let mut own = bind("/own", &["bind", "idmap", "ro"]);
        own["uidMappings"] = json!([{"containerID": 0, "hostID": 200005, "size": 1}]);
        own["gidMappings"] = json!([{"containerID": 0, "hostID": 200007, "size": 1}]);
        mounts.push(own);
        c["process"]["args"] = json!(["sh", "-c", "stat -c '%u %g' /mapped/f /plain/f /own/f; \
            echo x >> /mapped/f && echo mapped-write-ok; echo x 2>/dev/null >> /plain/f || echo plain-write-denied; \
            grep -c idmapped /proc/self/mountinfo"]);
    });
    let data = b.join("data");
    std::fs::create_dir(&data).unwrap();
    // An absolute source (crun takes a relative one for idmap from elsewhere).
    let config = b.join("config.json");
    let c = std::fs::read_to_string(&config)
        .unwrap()
        .replace("\"data\"", &format!("{:?}", data.display().to_string()));
    std::fs::write(&config, c).unwrap();
    // Container root may not make mount points in a root owned by host root (runc neither).
    for m in ["mapped", "plain", "own"] {
        std::fs::create_dir(b.join("rootfs").join(m)).unwrap();
    }
    std::fs::write(data.join("f"), "host\n").unwrap();
    let o = ours(&b.join("state"), &["run", "c"], &b);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let want = "0 0\n65534 65534\n5 7\nmapped-write-ok\nplain-write-denied\n2\n";
    assert_eq!(text(&o.stdout), want, "{}", text(&o.stderr));
    // crun needs the cgroup2 mount that holds only hugetlb out of its way on this machine.
    let crun = format!(
        "umount /sys/fs/cgroup/unified 2>/dev/null; crun --root {} run c",
        b.join("state-crun").display()
    );
    let z = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", &crun])
        .current_dir(&b)
        .output()
        .unwrap();
    assert_eq!(text(&z.stdout), want, "crun: {}", text(&z.stderr));
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(data.join("f")).unwrap();
    assert_eq!((m.uid(), m.gid()), (0, 0), "the file's ids on disk changed");
    assert_eq!(std::fs::read_to_string(data.join("f")).unwrap(), "host\nx\nx\n");
    // Without a user namespace or mappings of its own, an idmapped mount is refused by field.
    let bad = bundle("oci-idmap-bad", |c| {
        c["mounts"].as_array_mut().unwrap().push(
            json!({"destination": "/m", "type": "bind", "source": "/tmp", "options": ["rbind", "idmap"]}),
        );
    });
    let o = ours(&bad.join("state"), &["run", "c"], &bad);
    assert!(!o.status.success());
    assert!(text(&o.stderr).contains("uidMappings"), "{}", text(&o.stderr));
    assert!(!bad.join("state/c").exists(), "a refused create left its state behind");
}

/// The cgroup2 mount of this machine (`/sys/fs/cgroup` on a unified host; here, a hybrid one,
/// `/sys/fs/cgroup/unified`, which holds no controller a device program needs).
fn cgroup2_mount() -> Option<PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    info.lines().find_map(|l| {
        let (fields, fs) = l.split_once(" - ")?;
        let point = fields.split(' ').nth(4)?;
        fs.starts_with("cgroup2 ").then(|| PathBuf::from(point))
    })
}

/// cgroup v2 has no devices controller: config.json's device rules (with runc's defaults)
/// become an eBPF program on the group, and the kernel refuses what the v1 controller would.
/// Checked on this machine's cgroup2 mount with a process in a group of the test's own:
/// /dev/kmsg (c 1:11) opens before the program and is refused after it, with EPERM, while
/// the default devices and mknod stay allowed; an update replaces the program.
#[test]
fn device_rules_on_cgroup_v2_are_a_program_the_kernel_enforces() {
    if !ready() {
        return;
    }
    let Some(mount) = cgroup2_mount() else {
        assert!(std::env::var_os("CI").is_none(), "no cgroup2 mount on CI");
        eprintln!("SKIPPED: no cgroup2 mount on this machine");
        return;
    };
    let group = mount.join(format!("palisade-devices-{}", std::process::id()));
    std::fs::create_dir(&group).unwrap();
    let d = common::tempdir("oci-devices");
    let script = format!(
        "echo $$ > {procs}; cd {d}; \
         true < /dev/kmsg && echo kmsg-ok; true < /dev/null && echo null-ok; true > /dev/full && echo full-ok; \
         mknod k c 1 11 && echo mknod-ok; true < k && echo node-ok; rm -f k",
        procs = group.join("cgroup.procs").display(),
        d = d.display()
    );
    let probe = || {
        let o = Command::new("sh").args(["-c", &script]).output().unwrap();
        (text(&o.stdout), text(&o.stderr))
    };
    let (before, _) = probe();
    assert_eq!(before, "kmsg-ok\nnull-ok\nfull-ok\nmknod-ok\nnode-ok\n");
    let attach = |rules: Value| {
        let r: oci_spec::runtime::LinuxResources =
            serde_json::from_value(json!({ "devices": rules })).unwrap();
        let res = runtime_lite::oci::resources::of(&r).unwrap();
        runtime_lite::devices::attach(&group, &res.devices.devices)
    };
    attach(json!([{"allow": false, "access": "rwm"}])).unwrap();
    let (after, err) = probe();
    assert_eq!(after, "null-ok\nfull-ok\nmknod-ok\n", "{err}");
    assert_eq!(err.matches("Operation not permitted").count(), 2, "{err}");
    // An update: the new rules' program replaces the old one.
    attach(json!([{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 1, "minor": 11, "access": "r"}]))
        .unwrap();
    let cg = std::fs::File::open(&group).unwrap();
    assert_eq!(runtime_lite::sys::bpf::device_programs(&cg).unwrap().len(), 1);
    let (updated, err) = probe();
    assert_eq!(updated, "kmsg-ok\nnull-ok\nfull-ok\nmknod-ok\nnode-ok\n", "{err}");
    drop(cg);
    std::fs::remove_dir(&group).unwrap();
}

#[test]
fn spec_writes_a_config_runc_runs_and_features_parse() {
    if !ready() {
        return;
    }
    let d = common::tempdir("oci-spec");
    common::rootfs::build(&d);
    let o = Command::new(BIN).args(["spec"]).current_dir(&d).output().unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    // A second spec does not overwrite it.
    let again = Command::new(BIN).args(["spec"]).current_dir(&d).output().unwrap();
    assert!(!again.status.success() && text(&again.stderr).contains("exists"));
    let mut c: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("config.json")).unwrap()).unwrap();
    c["process"]["args"] = json!(["sh", "-c", "echo ran"]);
    std::fs::write(d.join("config.json"), c.to_string()).unwrap();
    let z = theirs(&d.join("state-runc"), &["run", "c"], &d);
    assert_eq!(text(&z.stdout), "ran\n", "runc: {}", text(&z.stderr));
    let a = ours(&d.join("state-ours"), &["run", "c"], &d);
    assert_eq!(text(&a.stdout), "ran\n", "ours: {}", text(&a.stderr));
    let f = Command::new(BIN).arg("features").output().unwrap();
    let f: Value = serde_json::from_slice(&f.stdout).unwrap();
    assert_eq!(f["ociVersionMax"], "1.2.0");
    assert!(f["linux"]["namespaces"].as_array().unwrap().contains(&json!("user")));
    assert!(f["linux"]["capabilities"].as_array().unwrap().contains(&json!("CAP_SYS_ADMIN")));
    assert_eq!(f["linux"]["mountExtensions"]["idmap"]["enabled"], true);
}
