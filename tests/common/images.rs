//! Images for the image tests, built as OCI layouts by tests/fixtures/images/make_layout.py
//! (no Docker needed), and `enforce` run with a store of the test's own.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const ENFORCE: &str = env!("CARGO_BIN_EXE_enforce");

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_string()
}

/// Whether the image tests can run: they keep the images' owners, which needs root (said
/// loudly when not; on CI a failure).
pub fn root() -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    assert!(std::env::var_os("CI").is_none(), "the image tests need root on CI (owners are kept)");
    eprintln!("SKIPPED: the image tests need root (owners are kept)");
    false
}

/// A home for `nobody` in `dir` (its store, runtime directory and `HOME`), and the words that
/// run `enforce` as `nobody` with it (a shell command's start, with a clean environment).
pub fn nobody(dir: &Path) -> (PathBuf, String) {
    let home = dir.join("home");
    std::fs::create_dir(&home).unwrap();
    std::os::unix::fs::chown(&home, Some(65534), Some(65534)).unwrap();
    let words = format!(
        "runuser -u nobody -- env -i PATH=/usr/bin:/bin HOME={h} XDG_RUNTIME_DIR={h} PALISADE_STORE={h}/store {ENFORCE}",
        h = home.display()
    );
    (home, words)
}

/// `enforce ARGS` with the store at `store`.
pub fn enforce(store: &Path, args: &[&str]) -> Output {
    Command::new(ENFORCE).env("PALISADE_STORE", store).args(args).output().unwrap()
}

/// Build an OCI layout in `dir` from `spec` (see make_layout.py).
pub fn layout(dir: &Path, spec: serde_json::Value) -> PathBuf {
    let mut spec = spec;
    spec["dir"] = serde_json::json!(dir);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/images/make_layout.py");
    let mut child = Command::new("python3").arg(script).stdin(std::process::Stdio::piped()).spawn().unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(spec.to_string().as_bytes()).unwrap();
    assert!(child.wait().unwrap().success(), "make_layout.py");
    dir.to_path_buf()
}

/// A regular file of the layer.
pub fn file(name: &str, data: &str) -> serde_json::Value {
    serde_json::json!({ "name": name, "data": data })
}

/// A layer of the host's static busybox at /bin/busybox with its applets linked beside it,
/// and /etc and /tmp.
pub fn busybox_layer() -> Vec<serde_json::Value> {
    let bb = super::rootfs::busybox();
    let mut out = vec![
        serde_json::json!({"name": "bin", "type": "dir"}),
        serde_json::json!({"name": "etc", "type": "dir"}),
        serde_json::json!({"name": "tmp", "type": "dir", "mode": 0o1777}),
        serde_json::json!({"name": "bin/busybox", "src": bb, "mode": 0o755}),
    ];
    for a in super::rootfs::APPLETS.iter().chain(&["nc", "httpd", "printf"]) {
        out.push(serde_json::json!({"name": format!("bin/{a}"), "type": "symlink", "target": "busybox"}));
    }
    out
}
