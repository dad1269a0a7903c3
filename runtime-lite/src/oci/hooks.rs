//! config.json's `hooks`, run as the runtime-spec says: each with the container's state JSON on
//! its stdin, its own `args` (the first is argv[0]) and exactly its `env`, killed after its
//! `timeout`. `prestart` and `createRuntime` run in the runtime's namespaces once the init has
//! made its mounts (before pivot_root); `createContainer` in the container's namespaces, before
//! pivot_root; `startContainer` in the container, after `start`, before the process's exec;
//! `poststart` after `start`; `poststop` at `delete`. A failing hook before `poststart` stops
//! the container; a failing `poststart` or `poststop` hook is a warning.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// One hook.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hook {
    /// Absolute path of the program.
    pub path: PathBuf,
    /// Its arguments, argv[0] first.
    #[serde(default)]
    pub args: Vec<String>,
    /// Its environment, `NAME=value`.
    #[serde(default)]
    pub env: Vec<String>,
    /// Seconds before it is killed.
    #[serde(default)]
    pub timeout: Option<u64>,
}

/// Every hook of a bundle, by when it runs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Hooks {
    /// Deprecated `prestart` (run with `createRuntime`, first).
    #[serde(default)]
    pub prestart: Vec<Hook>,
    /// `createRuntime`.
    #[serde(default)]
    pub create_runtime: Vec<Hook>,
    /// `createContainer`.
    #[serde(default)]
    pub create_container: Vec<Hook>,
    /// `startContainer`.
    #[serde(default)]
    pub start_container: Vec<Hook>,
    /// `poststart`.
    #[serde(default)]
    pub poststart: Vec<Hook>,
    /// `poststop`.
    #[serde(default)]
    pub poststop: Vec<Hook>,
}

impl Hooks {
    /// The hooks of config.json's `hooks`.
    pub fn of(h: Option<&oci_spec::runtime::Hooks>) -> Hooks {
        let list = |v: &Option<Vec<oci_spec::runtime::Hook>>| -> Vec<Hook> {
            v.iter()
                .flatten()
                .map(|h| Hook {
                    path: h.path().clone(),
                    args: h.args().clone().unwrap_or_default(),
                    env: h.env().clone().unwrap_or_default(),
                    timeout: h.timeout().and_then(|t| u64::try_from(t).ok()).filter(|t| *t > 0),
                })
                .collect()
        };
        match h {
            None => Hooks::default(),
            Some(h) => Hooks {
                prestart: list(h.prestart()),
                create_runtime: list(h.create_runtime()),
                create_container: list(h.create_container()),
                start_container: list(h.start_container()),
                poststart: list(h.poststart()),
                poststop: list(h.poststop()),
            },
        }
    }

    /// Whether the runtime must stop the init before pivot_root (to run `createRuntime`).
    pub fn before_pivot(&self) -> bool {
        !self.prestart.is_empty() || !self.create_runtime.is_empty()
    }
}

/// Run `hooks` in order with `state` on stdin; the first failure says which and why.
pub fn run(kind: &str, hooks: &[Hook], state: &str) -> Result<(), String> {
    for (i, h) in hooks.iter().enumerate() {
        one(h, state).map_err(|why| format!("{kind} hook {i} ({}): {why}", h.path.display()))?;
    }
    Ok(())
}

/// Run every hook of `hooks` (`poststart`, `poststop`): a failing one is warned about and the
/// rest still run, as the runtime-spec says of these two.
pub fn run_all(kind: &str, hooks: &[Hook], state: &str, warn: &mut dyn FnMut(&str)) {
    for (i, h) in hooks.iter().enumerate() {
        if let Err(why) = one(h, state) {
            warn(&format!("{kind} hook {i} ({}): {why}", h.path.display()));
        }
    }
}

fn one(h: &Hook, state: &str) -> Result<(), String> {
    let mut c = std::process::Command::new(&h.path);
    if let Some((first, rest)) = h.args.split_first() {
        c.arg0(first).args(rest);
    }
    c.env_clear();
    for e in &h.env {
        if let Some((k, v)) = e.split_once('=') {
            c.env(k, v);
        }
    }
    let mut child = c
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    if let Some(mut input) = child.stdin.take() {
        // A hook that does not read its stdin is not an error.
        let _ = input.write_all(state.as_bytes());
    }
    let Some(timeout) = h.timeout else {
        let status = child.wait().map_err(|e| e.to_string())?;
        return if status.success() { Ok(()) } else { Err(format!("exited with {status}")) };
    };
    let until = Some(Instant::now() + Duration::from_secs(timeout));
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            return if status.success() { Ok(()) } else { Err(format!("exited with {status}")) };
        }
        if until.is_some_and(|u| Instant::now() > u) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("killed after its timeout of {} s", h.timeout.unwrap_or(0)));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The state JSON a hook reads.
pub fn state(
    id: &str,
    status: &str,
    pid: i32,
    bundle: &std::path::Path,
    annotations: &std::collections::BTreeMap<String, String>,
) -> String {
    serde_json::json!({
        "ociVersion": "1.2.0",
        "id": id,
        "status": status,
        "pid": pid,
        "bundle": bundle,
        "annotations": annotations,
    })
    .to_string()
}
