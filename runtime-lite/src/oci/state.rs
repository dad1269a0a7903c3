//! A container's state directory, `ROOT/ID/`: `state.json` (the OCI state plus what the
//! runtime needs to find the init again) and `exec.fifo`, which the init waits on until
//! `start` opens it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::OciError;

/// The default `--root`.
pub const DEFAULT_ROOT: &str = "/run/palisade-runtime";

/// The fifo's name in the state directory.
pub const FIFO: &str = "exec.fifo";

/// A container's status, as the runtime-spec names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Being created.
    Creating,
    /// Created, its init waiting for `start`.
    Created,
    /// Its process runs.
    Running,
    /// Its processes are frozen (`pause`).
    Paused,
    /// Its process has exited.
    Stopped,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        })
    }
}

/// What `state.json` holds.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    /// Container id.
    pub id: String,
    /// The init's host pid.
    pub pid: i32,
    /// The init's start time (`/proc/PID/stat` field 22): a pid reused by another process is
    /// not the container's.
    pub start_time: u64,
    /// Bundle directory.
    pub bundle: PathBuf,
    /// When it was created (RFC 3339, UTC).
    pub created: String,
    /// config.json's annotations.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// The user that created it.
    pub owner: u32,
    /// Its cgroup, under the hierarchies' roots.
    #[serde(default)]
    pub cgroup: String,
    /// The Palisade profile applied on top of config.json (to `exec`'s processes too).
    #[serde(default)]
    pub profile: Option<String>,
    /// config.json's hooks (`start` runs `poststart`, `delete` runs `poststop`).
    #[serde(default)]
    pub hooks: super::hooks::Hooks,
    /// `create --no-new-keyring`: `exec`'s processes do not join the container's keyring.
    #[serde(default)]
    pub no_new_keyring: bool,
}

/// The OCI state (`state` prints it).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OciState {
    /// Always 1.2.0.
    pub oci_version: &'static str,
    /// Container id.
    pub id: String,
    /// Status.
    pub status: Status,
    /// The init's pid (0 once stopped).
    pub pid: i32,
    /// Bundle directory.
    pub bundle: PathBuf,
    /// Annotations.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// When it was created.
    pub created: String,
    /// Who created it.
    pub owner: String,
}

/// A checked container id.
pub fn check_id(id: &str) -> Result<(), OciError> {
    let ok = !id.is_empty()
        && id.len() <= 1024
        && !id.starts_with('.')
        && id.chars().all(|c| c.is_ascii_alphanumeric() || "_-.+".contains(c));
    if ok {
        Ok(())
    } else {
        Err(OciError::BadId(id.to_string()))
    }
}

/// The state directory of container `id` under `root`.
pub fn dir(root: &Path, id: &str) -> Result<PathBuf, OciError> {
    check_id(id)?;
    Ok(root.join(id))
}

/// Make the state directory of a new container (refused if one exists) with its fifo.
pub fn create(root: &Path, id: &str) -> Result<PathBuf, OciError> {
    use std::os::unix::fs::DirBuilderExt;
    let d = dir(root, id)?;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o711)
        .create(root)
        .map_err(|e| OciError::io(format!("create {}", root.display()), e))?;
    match std::fs::DirBuilder::new().mode(0o711).create(&d) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Err(OciError::Exists(id.into())),
        Err(e) => return Err(OciError::io(format!("create {}", d.display()), e)),
    }
    let fifo = d.join(FIFO);
    // Writable by the container's user, whoever that is (mkfifo obeys the umask: chmod).
    let made = nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o622)).and_then(|()| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fifo, std::fs::Permissions::from_mode(0o622))
            .map_err(|e| nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))
    });
    if let Err(e) = made {
        let _ = std::fs::remove_dir_all(&d);
        return Err(OciError::io(format!("mkfifo {}", fifo.display()), e.into()));
    }
    Ok(d)
}

impl Record {
    /// Write it (atomically: a reader sees the old or the new one).
    pub fn save(&self, dir: &Path) -> Result<(), OciError> {
        let text = serde_json::to_string(self).map_err(|e| OciError::io("encode state", e.into()))?;
        let tmp = dir.join("state.json.tmp");
        std::fs::write(&tmp, text).map_err(|e| OciError::io(format!("write {}", tmp.display()), e))?;
        std::fs::rename(&tmp, dir.join("state.json"))
            .map_err(|e| OciError::io(format!("write {}/state.json", dir.display()), e))
    }

    /// Read container `id`'s record.
    pub fn load(root: &Path, id: &str) -> Result<(PathBuf, Record), OciError> {
        let d = dir(root, id)?;
        let text = match std::fs::read_to_string(d.join("state.json")) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(OciError::NotFound(id.into())),
            Err(e) => return Err(OciError::io(format!("read {}/state.json", d.display()), e)),
        };
        let r = serde_json::from_str(&text)
            .map_err(|e| OciError::io(format!("read {}/state.json", d.display()), e.into()))?;
        Ok((d, r))
    }

    /// Whether the init still exists (and is the same process).
    pub fn alive(&self) -> bool {
        // A zombie has no start time: it has exited.
        crate::state::start_time(self.pid) == Some(self.start_time)
    }

    /// The status now: stopped once the init is gone, created while the fifo waits.
    pub fn status(&self, dir: &Path) -> Status {
        match (self.alive(), dir.join(FIFO).exists()) {
            (false, _) => Status::Stopped,
            (true, true) => Status::Created,
            (true, false) if crate::cgroup::load(&self.cgroup).is_some_and(|g| g.frozen()) => Status::Paused,
            (true, false) => Status::Running,
        }
    }

    /// The OCI state.
    pub fn oci(&self, dir: &Path) -> OciState {
        let status = self.status(dir);
        OciState {
            oci_version: "1.2.0",
            id: self.id.clone(),
            status,
            pid: if status == Status::Stopped { 0 } else { self.pid },
            bundle: self.bundle.clone(),
            annotations: self.annotations.clone(),
            created: self.created.clone(),
            owner: owner_name(self.owner),
        }
    }
}

fn owner_name(uid: u32) -> String {
    nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
        .map_or_else(|| uid.to_string(), |u| u.name)
}

/// Every container under `root`, by id.
pub fn list(root: &Path) -> Result<Vec<(PathBuf, Record)>, OciError> {
    let entries = match std::fs::read_dir(root) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(OciError::io(format!("read {}", root.display()), e)),
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if let Ok(r) = Record::load(root, &name) {
            out.push(r);
        }
    }
    out.sort_by(|a, b| a.1.id.cmp(&b.1.id));
    Ok(out)
}

/// Now, as RFC 3339 UTC (`2026-11-30T06:01:02.123456789Z`).
pub fn rfc3339_now() -> String {
    crate::logs::rfc3339(std::time::SystemTime::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked() {
        assert!(check_id("web-1_a.b+c").is_ok());
        for bad in ["", ".hidden", "a/b", "..", "a b"] {
            assert!(check_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_second_create_with_one_id_is_refused_and_leaves_the_first() {
        let root = std::env::temp_dir().join(format!("palisade-oci-state-{}", std::process::id()));
        let d = create(&root, "c1").unwrap();
        assert!(d.join(FIFO).exists());
        assert!(matches!(create(&root, "c1"), Err(OciError::Exists(_))));
        assert!(d.join(FIFO).exists());
        std::fs::remove_dir_all(&root).unwrap();
    }
}
