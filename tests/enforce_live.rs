//! Live tests of `enforce run`: real processes under every tier, checked by what the kernel
//! does (errno, /proc/self/status, exit status). The workload is this test binary itself,
//! re-executed in "probe" mode (`probe_child`), which performs the operations named in
//! `PALISADE_PROBE` and prints one `PROBE op = result` line each. CI runs these as root.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Output};

const ENFORCE: &str = env!("CARGO_BIN_EXE_enforce");

// ---------- the probe (runs inside the sandbox) ----------

fn errno_of(r: i64) -> String {
    if r < 0 {
        let e = std::io::Error::last_os_error();
        format!("errno {}", e.raw_os_error().unwrap_or(0))
    } else {
        format!("ok {r}")
    }
}

fn io_result<T>(r: std::io::Result<T>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(e) => format!("errno {}", e.raw_os_error().unwrap_or(0)),
    }
}

fn probe_op(op: &str) -> String {
    let (name, arg) = op.split_once(':').unwrap_or((op, ""));
    // SAFETY (all blocks below): plain system calls with integer arguments or memory we own.
    match name {
        "status" => {
            let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
            let keep = ["Uid", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp"];
            s.lines()
                .filter(|l| keep.iter().any(|k| l.starts_with(&format!("{k}:"))))
                .map(|l| l.replace('\t', " "))
                .collect::<Vec<_>>()
                .join(";")
        }
        "mkdir" => io_result(std::fs::create_dir(arg)),
        "write" => io_result(std::fs::write(arg, b"x")),
        "read" => io_result(std::fs::read(arg)),
        "exec" => io_result(Command::new(arg).status()),
        "clone3" => errno_of(unsafe { libc::syscall(libc::SYS_clone3, 0usize, 0usize) }),
        "thread" => match std::thread::spawn(|| 7).join() {
            Ok(7) => "ok".into(),
            _ => "failed".into(),
        },
        "unshare-user" => errno_of(unsafe { libc::unshare(libc::CLONE_NEWUSER) } as i64),
        "personality" => {
            let v = u64::from_str_radix(arg.trim_start_matches("0x"), 16).unwrap_or(0);
            errno_of(unsafe { libc::syscall(libc::SYS_personality, v) })
        }
        "chown" => {
            let (path, uid) = arg.split_once(':').unwrap_or((arg, "1000"));
            io_result(std::os::unix::fs::chown(path, uid.parse().ok(), None))
        }
        "bind" => io_result(std::net::TcpListener::bind(("127.0.0.1", arg.parse::<u16>().unwrap_or(0)))),
        "kill0" => errno_of(unsafe { libc::kill(arg.parse().unwrap_or(1), 0) } as i64),
        "fds" => {
            let mut v: Vec<String> = std::fs::read_dir("/proc/self/fd")
                .map(|d| {
                    d.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect()
                })
                .unwrap_or_default();
            v.sort();
            v.join(",")
        }
        "setns" => errno_of(unsafe { libc::setns(0, libc::CLONE_NEWNET) } as i64),
        "clone-newuser" => {
            let r = unsafe {
                libc::syscall(
                    libc::SYS_clone,
                    (libc::CLONE_NEWUSER | libc::SIGCHLD) as u64,
                    0usize,
                    0usize,
                    0usize,
                    0usize,
                )
            };
            if r == 0 {
                unsafe { libc::_exit(0) };
            }
            errno_of(r)
        }
        "ptrace-parent" => {
            errno_of(unsafe { libc::ptrace(libc::PTRACE_ATTACH, libc::getppid(), 0usize, 0usize) })
        }
        "keyctl" => errno_of(unsafe { libc::syscall(libc::SYS_keyctl, 0usize, -3i64, 0usize) }),
        "bpf" => errno_of(unsafe { libc::syscall(libc::SYS_bpf, 5usize, 0usize, 0usize) }),
        "perf_event_open" => errno_of(unsafe {
            libc::syscall(libc::SYS_perf_event_open, 0usize, 0usize, -1i64, -1i64, 0usize)
        }),
        "userfaultfd" => errno_of(unsafe { libc::syscall(libc::SYS_userfaultfd, 1usize) }),
        // A raw syscall number, all arguments 0 (only numbers the filter refuses are asked).
        "nr" => errno_of(unsafe { libc::syscall(arg.parse::<libc::c_long>().unwrap_or(-1), 0usize, 0usize) }),
        "open-write" => io_result(std::fs::OpenOptions::new().append(true).open(arg)),
        "exe" => std::fs::read_link("/proc/self/exe").map(|p| p.display().to_string()).unwrap_or_default(),
        "securebits-clear" => errno_of(unsafe { libc::prctl(libc::PR_SET_SECUREBITS, 0, 0, 0, 0) } as i64),
        "kill-verdict" => {
            // A thread makes the killed call; the main thread must die with it.
            std::thread::spawn(|| unsafe { libc::syscall(libc::SYS_acct, 0usize) });
            std::thread::sleep(std::time::Duration::from_secs(2));
            "survived".into()
        }
        other => format!("unknown op {other}"),
    }
}

/// Runs only when re-executed by a test, inside the sandbox.
#[test]
fn probe_child() {
    let Ok(ops) = std::env::var("PALISADE_PROBE") else { return };
    for op in ops.split('|').filter(|o| !o.is_empty()) {
        println!("PROBE {op} = {}", probe_op(op));
    }
}

// ---------- helpers (run outside) ----------

struct Run {
    out: Output,
    probes: BTreeMap<String, String>,
}

impl Run {
    fn get(&self, op: &str) -> &str {
        self.probes.get(op).map(String::as_str).unwrap_or_else(|| {
            panic!(
                "no result for {op}\nstdout: {}\nstderr: {}",
                text(&self.out.stdout),
                text(&self.out.stderr)
            )
        })
    }
    fn stderr(&self) -> String {
        text(&self.out.stderr)
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

use common::tempdir;

fn write_profile(dir: &Path, yaml: &str) -> String {
    let p = dir.join("profile.yaml");
    std::fs::write(&p, yaml).unwrap();
    p.display().to_string()
}

/// Run the probe under `enforce run --profile P [extra...]`.
fn probe(profile: &str, extra: &[&str], ops: &[&str]) -> Run {
    probe_with(ENFORCE, profile, extra, ops)
}

/// [`probe`] with another `enforce` binary.
fn probe_with(enforce: &str, profile: &str, extra: &[&str], ops: &[&str]) -> Run {
    let exe = std::env::current_exe().unwrap();
    let mut args: Vec<String> = vec!["run".into(), "--profile".into(), profile.into()];
    args.extend(extra.iter().map(|s| s.to_string()));
    args.extend([
        "--".into(),
        exe.display().to_string(),
        "--exact".into(),
        "probe_child".into(),
        "--nocapture".into(),
        "--test-threads=1".into(),
    ]);
    let out = Command::new(enforce).args(&args).env("PALISADE_PROBE", ops.join("|")).output().unwrap();
    let probes = text(&out.stdout)
        .lines()
        .filter_map(|l| l.find("PROBE ").map(|i| &l[i + 6..]))
        .filter_map(|l| l.split_once(" = "))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Run { out, probes }
}

fn status_field(status: &str, key: &str) -> String {
    status.split(';').find_map(|f| f.strip_prefix(&format!("{key}:"))).unwrap_or("").trim().to_string()
}

/// Directories the test binary needs to run (its own, and the system's libraries).
fn exe_dirs() -> String {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().display().to_string();
    format!("    - {{ path: \"{dir}\", access: [read, execute] }}\n    - {{ path: /usr, access: [read, execute] }}\n    - {{ path: /lib, access: [read, execute] }}\n    - {{ path: /lib64, access: [read, execute] }}\n    - {{ path: /etc, access: [read] }}\n    - {{ path: /proc, access: [read] }}\n    - {{ path: /sys, access: [read] }}\n    - {{ path: /dev/null, access: [read_file, write_file] }}\n")
}

const EACCES: &str = "errno 13";
const EPERM: &str = "errno 1";

// ---------- seccomp ----------

#[test]
fn seccomp_denies_with_the_profiles_errno_and_allows_the_rest() {
    let d = tempdir("seccomp");
    let prof = write_profile(
        &d,
        "name: t\nextends: docker-default\nseccomp:\n  rules:\n    - deny: [mkdir, mkdirat]\n      action: errno(EACCES)\n",
    );
    let target = d.join("new");
    let file = d.join("file");
    let r = probe(
        &prof,
        &[],
        &[&format!("mkdir:{}", target.display()), &format!("write:{}", file.display()), "thread"],
    );
    assert_eq!(r.get(&format!("mkdir:{}", target.display())), EACCES);
    assert_eq!(r.get(&format!("write:{}", file.display())), "ok");
    assert_eq!(r.get("thread"), "ok");
    assert!(!target.exists());
}

#[test]
fn docker_default_clone3_namespaces_and_personality() {
    let r = probe(
        "builtin:docker-default",
        &[],
        &["clone3", "thread", "unshare-user", "personality:0x0040000", "personality:0xffffffff"],
    );
    assert_eq!(r.get("clone3"), "errno 38", "clone3 must be ENOSYS so libc falls back");
    assert_eq!(r.get("thread"), "ok", "pthread_create falls back to clone");
    assert_eq!(r.get("unshare-user"), EPERM);
    assert_eq!(r.get("personality:0x0040000"), EPERM, "ADDR_NO_RANDOMIZE is denied");
    assert!(r.get("personality:0xffffffff").starts_with("ok"), "the query is allowed");
}

#[test]
fn docker_default_denies_namespaces_other_processes_keyrings_bpf_and_perf() {
    let ops = ["setns", "clone-newuser", "ptrace-parent", "keyctl", "bpf", "perf_event_open", "userfaultfd"];
    let r = probe("builtin:docker-default", &[], &ops);
    for op in ops {
        assert_eq!(r.get(op), EPERM, "{op}");
    }
}

/// Issue 15: `unknown: enosys-after NAME` is runc's ENOSYS stub: the kernel answers ENOSYS to
/// a call above NAME's number that no rule decides, known syscall or not, and the default
/// (EPERM) to one at or below it, known or not (the built-in's `unknown: enosys` would give the
/// unknown number below ENOSYS and the known one above EPERM).
#[test]
fn enosys_after_answers_enosys_above_the_cut_off_and_the_default_below() {
    use policy::ir::eval::Decider;
    use policy::syscalls::table;
    let d = tempdir("enosys-after");
    let prof = write_profile(
        &d,
        "name: t\nextends: docker-default\nseccomp:\n  unknown: enosys-after close_range\n",
    );
    let p = policy::compile(&prof, &Default::default()).expect("compiles").policy;
    let arch = policy::Arch::parse(std::env::consts::ARCH).expect("a known arch");
    let t = table::table(arch).expect("a syscall table");
    let cut = t.nr("close_range").expect("close_range");
    let by = |nr: u32| p.evaluate(arch.audit_arch(), nr, [0; 6]).decided_by;
    let known = |above: bool| {
        let (nr, name) = t
            .iter()
            .find(|(nr, _)| match above {
                true => matches!(by(*nr), Decider::EnosysAfter { .. }),
                false => *nr < cut && by(*nr) == Decider::Default,
            })
            .expect("a syscall no rule decides");
        assert!((nr > cut) == above, "{name} {nr}");
        nr
    };
    let unknown_below =
        (0..cut).find(|n| t.name(*n).is_none()).expect("a number below close_range that is no syscall");
    let cases = [
        (known(true), "errno 38"),
        (t.range().1 + 1, "errno 38"),
        (known(false), EPERM),
        (unknown_below, EPERM),
    ];
    let ops: Vec<String> = cases.iter().map(|(nr, _)| format!("nr:{nr}")).collect();
    let r = probe(&prof, &[], &ops.iter().map(String::as_str).collect::<Vec<_>>());
    for ((nr, want), op) in cases.iter().zip(&ops) {
        assert_eq!(r.get(op), *want, "nr {nr} ({:?}); cut-off {cut}\n{}", t.name(*nr), r.stderr());
    }
}

#[test]
fn the_launcher_is_gone_and_cannot_be_overwritten_under_landlock() {
    // enforce execs in place: no launcher process remains for the workload to reach through
    // /proc/PID/exe (the CVE-2019-5736 class); under Landlock its binary cannot be written.
    // uid 0 owns the binary, so only Landlock can refuse the write.
    let d = tempdir("overwrite");
    let prof = write_profile(
        &d,
        &format!(
            "name: t\nextends: docker-default\nprocess: {{ user: 0 }}\nlandlock:\n  filesystem:\n{}",
            exe_dirs()
        ),
    );
    // A private copy of the launcher: other tests run the shared binary, and a binary being
    // executed refuses writes with ETXTBSY before Landlock is even asked.
    let launcher = d.join("enforce");
    std::fs::copy(ENFORCE, &launcher).unwrap();
    let write_op = format!("open-write:{}", launcher.display());
    let r = probe_with(launcher.to_str().unwrap(), &prof, &[], &["exe", &write_op, "status"]);
    assert_eq!(status_field(r.get("status"), "Uid"), "0 0 0 0");
    let exe = std::env::current_exe().unwrap().display().to_string();
    assert_eq!(r.get("exe"), exe, "the workload replaced the launcher");
    assert_eq!(r.get(&write_op), EACCES);
}

#[test]
fn a_kill_verdict_kills_the_whole_process() {
    let d = tempdir("kill");
    let prof = write_profile(
        &d,
        "name: t\nextends: docker-default\nseccomp:\n  rules:\n    - deny: [acct]\n      action: kill\n",
    );
    let r = probe(&prof, &[], &["kill-verdict"]);
    assert_eq!(r.out.status.signal(), Some(libc::SIGSYS), "{:?} {}", r.out.status, text(&r.out.stdout));
    assert!(!r.probes.contains_key("kill-verdict"), "the main thread survived a kill-process verdict");
}

// ---------- capabilities, uid, no_new_privs, securebits ----------

#[test]
fn root_with_all_caps_dropped_cannot_chown() {
    let d = tempdir("chown");
    let f = d.join("f");
    std::fs::write(&f, "x").unwrap();
    let prof = write_profile(
        &d,
        "name: t\nextends: docker-default\nprocess: { user: 0 }\ncapabilities:\n  drop: [ALL]\n",
    );
    let r = probe(&prof, &[], &[&format!("chown:{}:1000", f.display()), "status"]);
    assert_eq!(r.get(&format!("chown:{}:1000", f.display())), EPERM);
    let st = r.get("status");
    for k in ["CapEff", "CapPrm", "CapBnd", "CapInh", "CapAmb"] {
        assert_eq!(status_field(st, k), "0000000000000000", "{k} in {st}");
    }
    assert_eq!(status_field(st, "NoNewPrivs"), "1");
    assert_eq!(status_field(st, "Seccomp"), "2");
}

#[test]
fn non_root_keeps_net_bind_service_through_ambient() {
    let d = tempdir("bind");
    let with = write_profile(&d, "name: t\nextends: docker-default\nprocess: { user: \"1000:1000\" }\ncapabilities:\n  drop: [ALL]\n  add: [NET_BIND_SERVICE]\n");
    let r = probe(&with, &[], &["bind:80", "status"]);
    assert_eq!(r.get("bind:80"), "ok", "{}", r.stderr());
    let st = r.get("status");
    assert_eq!(status_field(st, "Uid"), "1000 1000 1000 1000");
    for k in ["CapInh", "CapPrm", "CapEff", "CapAmb", "CapBnd"] {
        assert_eq!(status_field(st, k), "0000000000000400", "{k} in {st}");
    }
    let d2 = tempdir("nobind");
    let without = write_profile(
        &d2,
        "name: t\nextends: docker-default\nprocess: { user: \"1000:1000\" }\ncapabilities:\n  drop: [ALL]\n",
    );
    let r = probe(&without, &[], &["bind:80"]);
    assert_eq!(r.get("bind:80"), EACCES, "port 80 without the capability");
}

#[test]
fn a_setuid_root_binary_keeps_the_callers_euid_under_no_new_privs() {
    let d = tempdir("suid");
    let id = d.join("id");
    std::fs::copy("/usr/bin/id", &id).unwrap();
    std::fs::set_permissions(&id, std::fs::Permissions::from_mode(0o4755)).unwrap();
    // Outside the sandbox the bit works: uid 1000 gets euid 0.
    let out = Command::new("setpriv")
        .args(["--reuid=1000", "--regid=1000", "--clear-groups"])
        .arg(&id)
        .arg("-u")
        .output()
        .unwrap();
    assert_eq!(
        text(&out.stdout).trim(),
        "0",
        "the copy is not effectively setuid root: {}",
        text(&out.stderr)
    );
    let prof = write_profile(
        &d,
        "name: t\nextends: docker-default\nprocess: { user: \"1000:1000\" }\ncapabilities:\n  drop: [ALL]\n",
    );
    let out =
        Command::new(ENFORCE).args(["run", "--profile", &prof, "--"]).arg(&id).arg("-u").output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "1000");
}

#[test]
fn root_with_locked_securebits_keeps_only_the_policys_caps_after_exec() {
    let r = probe("builtin:docker-default", &[], &["status", "securebits-clear"]);
    let st = r.get("status");
    let want = "00000000a80425fb";
    for k in ["CapEff", "CapPrm", "CapBnd"] {
        assert_eq!(status_field(st, k), want, "{k} in {st}");
    }
    assert_eq!(status_field(st, "Uid"), "0 0 0 0");
    assert_eq!(r.get("securebits-clear"), EPERM, "locked securebits cannot be cleared");
    // And a shell exec'd from there has no more.
    let out = Command::new(ENFORCE)
        .args(["run", "--", "/bin/sh", "-c", "grep -E '^Cap(Eff|Bnd)' /proc/self/status"])
        .output()
        .unwrap();
    assert_eq!(text(&out.stdout), format!("CapEff:\t{want}\nCapBnd:\t{want}\n"), "{}", text(&out.stderr));
}

// ---------- Landlock ----------

fn landlock_profile(d: &Path, extra: &str) -> String {
    let (ro, rw) = (d.join("ro"), d.join("rw"));
    std::fs::create_dir_all(&ro).unwrap();
    std::fs::create_dir_all(&rw).unwrap();
    std::fs::write(ro.join("f"), "x").unwrap();
    std::fs::create_dir_all(d.join("outside")).unwrap();
    std::fs::write(d.join("outside/f"), "x").unwrap();
    std::fs::copy("/bin/true", rw.join("true")).unwrap();
    write_profile(
        d,
        &format!(
            "name: t\nextends: docker-default\nlandlock:\n  mode: enforce\n{extra}  filesystem:\n{}    - {{ path: \"{}\", access: [read] }}\n    - {{ path: \"{}\", access: [read, write] }}\n    - {{ path: /bin/true, access: [read_file, execute] }}\n  network: {{ bind: [18080], connect: [] }}\n  scope: [signal]\n",
            exe_dirs(),
            ro.display(),
            rw.display()
        ),
    )
}

#[test]
fn landlock_confines_files_execution_ports_and_signals() {
    let d = tempdir("landlock");
    let prof = landlock_profile(&d, "");
    let (ro, rw, outside) = (d.join("ro/f"), d.join("rw/new"), d.join("outside/f"));
    let parent = std::process::id();
    let ops = [
        format!("write:{}", ro.display()),
        format!("read:{}", ro.display()),
        format!("write:{}", rw.display()),
        format!("read:{}", outside.display()),
        "exec:/bin/true".to_string(),
        format!("exec:{}", d.join("rw/true").display()),
        "bind:18080".to_string(),
        "bind:18081".to_string(),
        format!("kill0:{parent}"),
    ];
    let refs: Vec<&str> = ops.iter().map(String::as_str).collect();
    let r = probe(&prof, &["--report", &d.join("report.json").display().to_string()], &refs);
    assert_eq!(r.get(&ops[0]), EACCES, "read-only path written");
    assert_eq!(r.get(&ops[1]), "ok");
    assert_eq!(r.get(&ops[2]), "ok");
    assert_eq!(r.get(&ops[3]), EACCES, "path outside the rules read");
    assert_eq!(r.get(&ops[4]), "ok", "allowed executable");
    assert_eq!(r.get(&ops[5]), EACCES, "executable without the execute right");
    assert_eq!(r.get(&ops[6]), "ok", "listed port");
    assert_eq!(r.get(&ops[7]), EACCES, "unlisted port (ABI >= 4)");
    assert_eq!(r.get(&ops[8]), EPERM, "signal outside the sandbox (scope, ABI >= 6)");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["landlock"]["status"], "fully-enforced");
    assert_eq!(report["state"], "applied");
}

#[test]
fn landlock_min_abi_above_the_kernel_fails_closed_and_best_effort_reports_drops() {
    let d = tempdir("minabi");
    let marker = d.join("ran");
    let prof = landlock_profile(&d, "  min_abi: 10\n");
    let out = Command::new(ENFORCE)
        .args(["run", "--profile", &prof, "--", "/bin/sh", "-c"])
        .arg(format!("touch {}", marker.display()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    assert!(text(&out.stderr).contains("below the profile's min_abi 10"), "{}", text(&out.stderr));
    assert!(!marker.exists());
    // resolve_unix needs ABI 9; best-effort runs with what ABI 7 enforces and says what it dropped.
    let d2 = tempdir("besteffort");
    let prof = landlock_profile(&d2, "");
    let text_prof = std::fs::read_to_string(&prof)
        .unwrap()
        .replace("access: [read, write] }", "access: [read, write, resolve_unix] }");
    std::fs::write(&prof, text_prof).unwrap();
    let out = Command::new(ENFORCE).args(["run", "--profile", &prof, "--", "/bin/true"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(125),
        "enforce mode with a right the kernel lacks: {}",
        text(&out.stderr)
    );
    let out = Command::new(ENFORCE)
        .args(["run", "--best-effort", "--report", "-", "--profile", &prof, "--", "/bin/true"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("cannot enforce") && err.contains("resolve_unix"), "{err}");
    // Without a report, what best-effort drops is said on stderr all the same.
    let out = Command::new(ENFORCE)
        .args(["run", "--best-effort", "--profile", &prof, "--", "/bin/true"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("enforce: warning: landlock ABI") && err.contains("resolve_unix"), "{err}");
}

#[test]
fn a_landlock_rule_for_a_missing_path_is_said_at_run_time_and_in_the_plan() {
    // web's /srv/www and /var/cache/web do not exist here: their rules grant nothing.
    let out =
        Command::new(ENFORCE).args(["run", "--profile", "builtin:web", "--", "/bin/true"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("enforce: warning: landlock /srv/www: not granted: No such file or directory\n"),
        "{err}"
    );
    let out = Command::new(ENFORCE)
        .args(["run", "--dry-run", "--profile", "builtin:web", "--", "/bin/true"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let paths = v["landlock"]["paths"].as_array().unwrap();
    let www = paths.iter().find(|p| p["path"] == "/srv/www").unwrap();
    assert_eq!(
        (&www["allowed"], &www["note"]),
        (&serde_json::json!([]), &serde_json::json!("not granted: No such file or directory"))
    );
    assert!(v["degraded"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!("landlock /srv/www: not granted: No such file or directory")));
}

// ---------- fail-closed, fds, exit codes, report ----------

/// Runs only when re-executed by `every_step_fails_closed`: applies docker-default with a
/// failure injected at `PALISADE_FAIL_AT`, to a command that would create a marker file.
#[test]
fn launch_child() {
    let (Ok(step), Ok(marker)) = (std::env::var("PALISADE_FAIL_AT"), std::env::var("PALISADE_MARKER")) else {
        return;
    };
    let opts = policy::CompileOptions { tables_for: enforcer::plan::host_arch(), ..Default::default() };
    let compiled =
        enforcer::CompiledPolicy::new(policy::compile("builtin:docker-default", &opts).unwrap(), None);
    let argv = vec!["/bin/sh".to_string(), "-c".to_string(), format!("touch {marker}")];
    let features = enforcer::Features::detect();
    let plan =
        enforcer::Plan::new("builtin:docker-default", compiled, &features, Default::default()).unwrap();
    let command = enforcer::Command::resolve(&argv).unwrap();
    let mut launcher = enforcer::Launcher::new(&plan, enforcer::ReportTo::None).command(command);
    if let Some(s) = enforcer::Step::parse(&step) {
        launcher = launcher.fail_at(s);
    }
    let e = launcher.run();
    eprintln!("launch failed: {e}");
    std::process::exit(e.exit_code());
}

#[test]
fn every_step_fails_closed() {
    let d = tempdir("failclosed");
    let exe = std::env::current_exe().unwrap();
    let run = |step: &str, marker: &Path| {
        Command::new(&exe)
            .args(["--exact", "launch_child", "--nocapture", "--test-threads=1"])
            .env("PALISADE_FAIL_AT", step)
            .env("PALISADE_MARKER", marker)
            .output()
            .unwrap()
    };
    // Control: without a failure the command runs.
    let marker = d.join("control");
    let out = run("none", &marker);
    assert!(out.status.success() && marker.exists(), "control run: {}", text(&out.stderr));
    for step in enforcer::Step::ALL {
        let marker = d.join(step.name());
        let out = run(step.name(), &marker);
        let want = if step == enforcer::Step::Exec { 126 } else { 125 };
        assert_eq!(out.status.code(), Some(want), "{}: {}", step.name(), text(&out.stderr));
        assert!(
            text(&out.stderr).contains(&format!("{}: injected failure", step.name())),
            "{}",
            text(&out.stderr)
        );
        assert!(!marker.exists(), "the command ran although {} failed", step.name());
    }
}

#[test]
fn no_inherited_fd_reaches_the_workload() {
    use std::os::fd::AsRawFd;
    let f = std::fs::File::open("/etc/hostname").unwrap();
    // SAFETY: F_DUPFD makes a new fd >= 200 without FD_CLOEXEC, so the child inherits it.
    let fd = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_DUPFD, 200) };
    assert!(fd >= 200);
    let r = probe("builtin:docker-default", &[], &["fds"]);
    let fds: Vec<&str> = r.get("fds").split(',').collect();
    assert!(!fds.contains(&fd.to_string().as_str()), "fd {fd} leaked into the workload: {fds:?}");
    // 0, 1, 2 and the directory being listed; nothing of the launcher's.
    assert!(fds.iter().all(|f| f.parse::<u32>().unwrap_or(99) <= 3), "{fds:?}");
    // Without enforce the same fd is inherited: the test would notice a leak.
    let out = Command::new("/bin/sh")
        .args(["-c", &format!("test -e /proc/self/fd/{fd} && echo inherited")])
        .output()
        .unwrap();
    assert_eq!(text(&out.stdout).trim(), "inherited");
    // SAFETY: closing the fd we made.
    unsafe { libc::close(fd) };
}

/// A filter that denies what starting takes is refused before anything runs, naming the calls;
/// allowing exactly those gets the launcher through exec (the report says `applied`; /bin/true's
/// loader then fails on the calls this filter denies it).
#[test]
fn a_filter_that_would_stop_every_workload_is_refused_before_it_runs() {
    let d = tempdir("startable");
    let marker = d.join("ran");
    let needed = "execve, exit_group, write, pread64, prctl, brk, mmap, munmap";
    let forgot =
        write_profile(&d, "name: t\nseccomp:\n  rules:\n    - allow: [read, write, exit_group, execve]\n");
    let out = Command::new(ENFORCE)
        .args(["run", "--profile", &forgot, "--", "/bin/sh", "-c"])
        .arg(format!("touch {}", marker.display()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    let err = text(&out.stderr);
    assert!(
        err.contains("denies pread64 (errno(EPERM)), prctl(PR_GET_SECUREBITS)") && err.contains("PAL015"),
        "{err}"
    );
    assert!(!err.contains("execve ("), "{err}");
    assert!(!marker.exists());
    let just = write_profile(&d, &format!("name: t\nseccomp:\n  rules:\n    - allow: [{needed}]\n"));
    let report = d.join("r.json");
    let out = Command::new(ENFORCE)
        .args(["run", "--profile", &just, "--report", report.to_str().unwrap(), "--", "/bin/true"])
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(125), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(v["state"], "applied", "{v}");
}

#[test]
fn exit_codes_follow_docker() {
    let st = |args: &[&str]| Command::new(ENFORCE).args(args).output().unwrap();
    assert_eq!(st(&["run", "--", "/nonexistent/cmd"]).status.code(), Some(127));
    assert_eq!(st(&["run", "--", "no-such-command-anywhere"]).status.code(), Some(127));
    let d = tempdir("exitcodes");
    let plain = d.join("plain");
    std::fs::write(&plain, "x").unwrap();
    std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(st(&["run", "--", plain.to_str().unwrap()]).status.code(), Some(126));
    // Executable bits but not a program: execve fails (ENOEXEC), and the report says so.
    let junk = d.join("junk");
    std::fs::write(&junk, [0u8, 1, 2, 3]).unwrap();
    std::fs::set_permissions(&junk, std::fs::Permissions::from_mode(0o755)).unwrap();
    let report = d.join("r.json");
    let out = st(&["run", "--report", report.to_str().unwrap(), "--", junk.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(126), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!((v["state"].as_str(), v["step"].as_str()), (Some("failed"), Some("exec")), "{v}");
    assert_eq!(st(&["run", "--", "/bin/sh", "-c", "exit 7"]).status.code(), Some(7));
    assert_eq!(st(&["run", "--", "/bin/sh", "-c", "kill -TERM $$"]).status.signal(), Some(libc::SIGTERM));
    let bad = st(&["run", "--profile", "/nonexistent.yaml", "--", "/bin/true"]);
    assert_eq!(bad.status.code(), Some(125));
    assert!(text(&bad.stderr).contains("nonexistent.yaml"), "{}", text(&bad.stderr));
}

#[test]
fn strict_refuses_writes_to_etc_and_sh_reports_it() {
    // Acceptance: the write fails with a permission error and sh's own status comes back.
    let out = Command::new(ENFORCE)
        .args(["run", "--profile", "builtin:strict", "--", "/bin/sh", "-c", "echo hi > /etc/x"])
        .output()
        .unwrap();
    let unconfined = Command::new("/bin/sh").args(["-c", "echo hi > /nonexistent-dir/x"]).output().unwrap();
    assert_eq!(out.status.code(), unconfined.status.code(), "sh's status for a failed redirection");
    assert_ne!(out.status.code(), Some(0));
    assert!(text(&out.stderr).contains("Permission denied"), "{}", text(&out.stderr));
    assert!(!Path::new("/etc/x").exists());
}

fn redacted_report(profile: &str) -> String {
    let d = tempdir(&format!("report-{}", profile.replace(':', "-")));
    let file = d.join("r.json");
    let out = Command::new(ENFORCE)
        .args(["run", "--profile", profile, "--report", file.to_str().unwrap(), "--", "/bin/true"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{profile}: {}", text(&out.stderr));
    let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    // Machine-specific: the resolved command, the kernel's ABI, Seccomp_filters (nesting).
    v["command"] = serde_json::json!(["[true]"]);
    if v["landlock"].is_object() {
        v["landlock"]["kernel_abi"] = serde_json::json!("[kernel]");
    }
    serde_json::to_string_pretty(&v).unwrap()
}

#[test]
fn report_snapshots() {
    insta::assert_snapshot!("report-docker-default", redacted_report("builtin:docker-default"));
    insta::assert_snapshot!("report-web", redacted_report("builtin:web"));
    // --report - goes to stderr; --dry-run prints the plan and runs nothing.
    let out = Command::new(ENFORCE)
        .args(["run", "--profile", "builtin:web", "--report", "-", "--", "/bin/true"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(v["state"], "applied");
    let d = tempdir("dryrun");
    let marker = d.join("m");
    let out = Command::new(ENFORCE)
        .args(["run", "--dry-run", "--", "/bin/sh", "-c"])
        .arg(format!("touch {}", marker.display()))
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["state"], "planned");
    assert!(!marker.exists());
}

#[test]
fn probe_reports_the_kernel() {
    let out = Command::new(ENFORCE).args(["probe", "--format", "json"]).output().unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let actions: Vec<&str> =
        v["seccomp"]["actions"].as_array().unwrap().iter().filter_map(|a| a.as_str()).collect();
    for a in ["kill_process", "errno", "user_notif", "log", "allow"] {
        assert!(actions.contains(&a), "{actions:?}");
    }
    assert!(v["seccomp"]["flags"].as_array().unwrap().iter().any(|f| f == "TSYNC"));
    assert!(v["landlock"]["abi"].as_u64().unwrap_or(0) >= 7, "{}", v["landlock"]);
    assert_eq!(v["no_new_privs"], true);
    let out = Command::new(ENFORCE).arg("probe").output().unwrap();
    assert!(text(&out.stdout).contains("landlock             ABI"), "{}", text(&out.stdout));
}
