//! Live tests of a detached container's logger (runtime-lite `logger.rs`, `logs.rs`): a line
//! far longer than the log bound, and bytes that are not UTF-8. Root, like tests/runtime_live.rs.

mod common;

use std::path::{Path, PathBuf};

use common::live::{enforce, ok, text, wait_for};
use common::tempdir;

/// The busybox rootfs of tests/common, plus the applets these tests need.
fn rootfs(d: &Path) -> PathBuf {
    let root = common::rootfs::build(d);
    for a in ["tr", "dd"] {
        std::os::unix::fs::symlink("busybox", root.join("bin").join(a)).unwrap();
    }
    root
}

fn state(rt: &Path, name: &str) -> serde_json::Value {
    let s = std::fs::read_to_string(rt.join(name).join("state.json")).unwrap_or_default();
    serde_json::from_str(&s).unwrap_or_default()
}

/// Start `script` detached as `name` under a profile with `logs`.
fn start(d: &Path, rt: &Path, name: &str, logs: &str, script: &str) {
    let prof = d.join(format!("{name}.yaml"));
    std::fs::write(&prof, format!("name: t\nextends: docker-default\nisolation:\n  logs: {logs}\n")).unwrap();
    let root = rootfs(d);
    let out = enforce(
        rt,
        &[
            "run",
            "-d",
            "--name",
            name,
            "--profile",
            prof.to_str().unwrap(),
            "--rootfs",
            root.to_str().unwrap(),
            "--",
            "/bin/sh",
            "-c",
            script,
        ],
    );
    assert_eq!(ok(&out).trim(), name);
}

/// Wait (at most `secs`) for the container to exit; its exit code. A workload blocked in
/// `write()` never exits: then the container is killed and removed, and the test fails.
fn exit_code(rt: &Path, name: &str, secs: u64) -> i64 {
    let exited = wait_for(|| state(rt, name)["status"] == "exited", secs);
    if !exited {
        let _ = enforce(rt, &["rm", "-f", name]);
        panic!("`{name}` did not exit within {secs}s: its workload is blocked writing its output");
    }
    state(rt, name)["exit_code"].as_i64().unwrap_or(-1)
}

/// The logger: the keeper's child that stayed in the keeper's pid namespace (the other child
/// is the container's PID 1, in a pid namespace of its own).
fn logger_pid(keeper: i64) -> Option<i64> {
    let ns = |pid: i64| std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok();
    let keeper_ns = ns(keeper)?;
    std::fs::read_dir("/proc").ok()?.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i64>().ok()).find(
        |&pid| {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            let ppid = status.lines().find_map(|l| l.strip_prefix("PPid:")).map(str::trim);
            ppid == Some(&keeper.to_string()) && ns(pid).as_ref() == Some(&keeper_ns)
        },
    )
}

/// A `/proc/PID/status` field in KiB.
fn status_kib(pid: i64, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let v = status.lines().find_map(|l| l.strip_prefix(field))?;
    v.trim().trim_end_matches("kB").trim().parse().ok()
}

/// The log files and their sizes (one renamed while it is listed is left out).
fn log_files(dir: &Path) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("container.log"))
        .filter_map(|e| Some((e.file_name().to_string_lossy().into_owned(), e.metadata().ok()?.len())))
        .collect();
    out.sort();
    out
}

fn records(dir: &Path, file: &str) -> Vec<serde_json::Value> {
    let s = std::fs::read_to_string(dir.join(file)).unwrap();
    s.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn a_50mb_line_is_split_into_bounded_records_and_the_log_stays_bounded() {
    const MAX_SIZE: u64 = 1 << 20;
    const MAX_FILES: u64 = 3;
    let d = tempdir("logs-long");
    let rt = d.join("run");
    // 50 MB without a newline, then a short line; the sleep keeps the logger alive to be
    // measured once it has logged everything.
    start(
        &d,
        &rt,
        "long",
        "{ max_size: 1Mi, max_files: 3 }",
        "head -c 50000000 /dev/zero | tr '\\0' a; echo; echo done; sleep 0.5",
    );
    let keeper = state(&rt, "long")["keeper_pid"].as_i64().unwrap();
    let logger = logger_pid(keeper).expect("the logger process");
    let dir = rt.join("long");
    // VmHWM is the peak RSS: sample it until the last line is in the log.
    let mut peak_kib = 0;
    let mut max_total = 0;
    let logged = wait_for(
        || {
            peak_kib = peak_kib.max(status_kib(logger, "VmHWM:").unwrap_or(0));
            max_total = max_total.max(log_files(&dir).iter().map(|f| f.1).sum::<u64>());
            std::fs::read_to_string(dir.join("container.log")).is_ok_and(|s| s.contains("done"))
        },
        20,
    );
    peak_kib = peak_kib.max(status_kib(logger, "VmHWM:").unwrap_or(0));
    let code = exit_code(&rt, "long", 10);
    let files = log_files(&dir);
    let total: u64 = files.iter().map(|f| f.1).sum();
    eprintln!("logger peak RSS {peak_kib} KiB; log files {files:?}; peak total {max_total} bytes");
    assert!(logged, "the line after the long one was logged");
    assert_eq!(code, 0, "the workload exited normally");
    assert!(peak_kib > 0, "the logger was measured");
    assert!(peak_kib < 64 << 10, "logger peak RSS {peak_kib} KiB");
    // The documented bound: every file at most max_size, so at most max_files × max_size.
    assert!(files.len() as u64 <= MAX_FILES, "{files:?}");
    for (name, len) in &files {
        assert!(*len <= MAX_SIZE, "{name}: {len} bytes over max_size");
    }
    assert!(total.max(max_total) <= MAX_FILES * MAX_SIZE, "{total} {max_total}");
    // Docker's json-file convention: a record whose text has no trailing newline is partial.
    let recs = records(&dir, "container.log");
    let partial = recs.iter().filter(|r| r["log"].as_str().is_some_and(|l| !l.ends_with('\n'))).count();
    assert!(partial > 0, "partial records");
    assert!(recs.iter().all(|r| r["log"].as_str().is_some_and(|l| l.len() <= 16 << 10)), "bounded records");
    // `enforce logs` reassembles: what is left of the long line, whole, then `done`.
    let out = enforce(&rt, &["logs", "long"]);
    let s = ok(&out);
    let body = s.strip_suffix("\ndone\n").expect("ends with the long line and done");
    assert!(body.len() > 1 << 20 && body.bytes().all(|b| b == b'a'), "{} bytes", body.len());
    assert_eq!(ok(&enforce(&rt, &["logs", "long", "--tail", "1"])), "done\n");
    assert_eq!(ok(&enforce(&rt, &["logs", "long", "--tail", "2"])), s, "--tail counts lines, not records");
    ok(&enforce(&rt, &["rm", "long"]));
}

#[test]
fn a_byte_that_is_not_utf8_is_logged_and_logging_goes_on() {
    let d = tempdir("logs-bytes");
    let rt = d.join("run");
    // After the byte, more than a pipe's buffer (64 KiB): a logger that stopped reading would
    // block the workload in write().
    start(
        &d,
        &rt,
        "bytes",
        "{ max_size: 10Mi }",
        "printf 'a\\377b\\n'; seq 1 30000; printf 'x\\300y\\n' >&2; echo end",
    );
    let code = exit_code(&rt, "bytes", 10);
    assert_eq!(code, 0, "the workload exited normally");
    let out = enforce(&rt, &["logs", "bytes"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut want = b"a\xffb\n".to_vec();
    for i in 1..=30000 {
        want.extend_from_slice(format!("{i}\n").as_bytes());
    }
    want.extend_from_slice(b"end\n");
    assert!(
        out.stdout == want,
        "stdout: {} bytes, starts {:?}",
        out.stdout.len(),
        text(&out.stdout[..20.min(out.stdout.len())])
    );
    assert_eq!(out.stderr, b"x\xc0y\n", "stderr keeps its bytes and its stream");
    // As documented: a record that is not UTF-8 carries its bytes base64-encoded in
    // `log_base64` instead of `log`.
    let recs = records(&rt.join("bytes"), "container.log");
    assert_eq!(recs[0]["stream"], "stdout");
    assert_eq!(recs[0]["log_base64"], "Yf9iCg==", "{}", recs[0]);
    assert!(recs[0].get("log").is_none(), "{}", recs[0]);
    assert_eq!(recs[1]["log"], "1\n");
    assert!(recs.iter().any(|r| r["stream"] == "stderr" && r["log_base64"] == "eMB5Cg=="), "x\\300y\\n");
    ok(&enforce(&rt, &["rm", "bytes"]));
}
