//! `process.tmpdir: private`: a directory of the workload's own, made in `prepare` under the
//! caller's temporary directory (`TMPDIR` of the command's environment, else `/tmp`; refused
//! when others may write there without the sticky bit), mode 0700, owned by the workload's
//! user (through a descriptor, never a symlink). The workload gets it as `TMPDIR` and, when
//! Landlock restricts the filesystem, the right to read and write beneath it. A run that fails
//! before Landlock is in force removes it; after that Landlock no longer lets this process
//! remove it, and after exec nothing of enforce is left to, so it stays (the report names it).

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::command::Command;
use crate::error::{LaunchError, Step};

/// Where the directory is made for `command`: its `TMPDIR`, else this process's, else `/tmp`.
pub fn base(command: Option<&Command>) -> PathBuf {
    let from_env = |env: &[CString]| {
        env.iter().find_map(|kv| kv.as_bytes().strip_prefix(b"TMPDIR=").map(|v| v.to_vec()))
    };
    let value = match command.and_then(|c| c.env.as_deref()) {
        Some(env) => from_env(env),
        None => std::env::var_os("TMPDIR").map(|v| v.as_bytes().to_vec()),
    };
    match value.filter(|v| v.starts_with(b"/")) {
        Some(v) => PathBuf::from(std::ffi::OsStr::from_bytes(&v)),
        None => PathBuf::from("/tmp"),
    }
}

/// Make a new private directory under `base` for the workload's `uid`:`gid`.
pub fn create(base: &Path, uid: u32, gid: u32) -> Result<PathBuf, LaunchError> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let fail = |what: String, e: nix::Error| LaunchError::sys(Step::Prepare, what, e as i32);
    // In a directory others may write without the sticky bit, they could rename ours away and
    // put a symlink in its place before it is handed over.
    let m = std::fs::metadata(base).map_err(|e| {
        let why = policy::error::io_reason(&e);
        LaunchError::refused(Step::Prepare, format!("the temporary directory {}: {why}", base.display()))
    })?;
    if m.mode() & 0o022 != 0 && m.mode() & 0o1000 == 0 {
        return Err(LaunchError::refused(
            Step::Prepare,
            format!(
                "{} is writable by others without the sticky bit: a private directory there could be replaced; set TMPDIR to /tmp or a directory of your own",
                base.display()
            ),
        ));
    }
    let template = base.join("palisade-tmp-XXXXXX");
    let dir = nix::unistd::mkdtemp(&template)
        .map_err(|e| fail(format!("create a private temporary directory in {}", base.display()), e))?;
    // mkdtemp makes it 0700 and ours; the workload's user must own it. Through a descriptor of
    // the directory itself, never a symlink.
    let euid = nix::unistd::geteuid().as_raw();
    if uid != euid {
        let owned = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&dir)
            .map_err(|e| nix::Error::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))
            .and_then(|f| {
                let owner = (Some(nix::unistd::Uid::from_raw(uid)), Some(nix::unistd::Gid::from_raw(gid)));
                nix::unistd::fchown(&f, owner.0, owner.1)
            });
        if let Err(e) = owned {
            remove(&dir);
            return Err(fail(format!("give {} to {uid}:{gid}", dir.display()), e));
        }
    }
    Ok(dir)
}

/// Remove it (empty, as a failed run leaves it).
pub fn remove(dir: &Path) {
    let _ = std::fs::remove_dir(dir);
}

/// `command` with `TMPDIR` set to `dir` (every other variable as it would have been).
pub fn with_tmpdir(command: &Command, dir: &Path) -> Result<Command, LaunchError> {
    let current: Vec<CString> = match &command.env {
        Some(env) => env.clone(),
        None => std::env::vars_os()
            .filter_map(|(k, v)| {
                let mut kv = k.as_bytes().to_vec();
                kv.push(b'=');
                kv.extend_from_slice(v.as_bytes());
                CString::new(kv).ok()
            })
            .collect(),
    };
    let mut env: Vec<CString> =
        current.into_iter().filter(|kv| !kv.as_bytes().starts_with(b"TMPDIR=")).collect();
    let mut tmpdir = b"TMPDIR=".to_vec();
    tmpdir.extend_from_slice(dir.as_os_str().as_bytes());
    env.push(
        CString::new(tmpdir).map_err(|_| {
            LaunchError::refused(Step::Prepare, "the temporary directory's path has a NUL byte")
        })?,
    );
    Ok(Command { env: Some(env), ..command.clone() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    #[test]
    fn a_private_directory_is_made_for_the_workload_and_named_in_its_environment() {
        let argv = vec!["/bin/true".to_string()];
        let c = Command::resolve_with_env(
            &argv,
            &[("TMPDIR".into(), "/var/tmp".into()), ("A".into(), "1".into())],
        )
        .unwrap();
        assert_eq!(base(Some(&c)), Path::new("/var/tmp"));
        let relative = Command::resolve_with_env(&argv, &[("TMPDIR".into(), "tmp".into())]).unwrap();
        assert_eq!(base(Some(&relative)), Path::new("/tmp"));
        let euid = nix::unistd::geteuid().as_raw();
        let egid = nix::unistd::getegid().as_raw();
        let dir = create(&std::env::temp_dir(), euid, egid).unwrap();
        let m = std::fs::metadata(&dir).unwrap();
        assert_eq!((m.is_dir(), m.permissions().mode() & 0o777, m.uid()), (true, 0o700, euid));
        let with = with_tmpdir(&c, &dir).unwrap();
        let env: Vec<String> = with.env.unwrap().iter().map(|s| s.to_string_lossy().into_owned()).collect();
        assert_eq!(env.iter().filter(|kv| kv.starts_with("TMPDIR=")).count(), 1);
        assert!(
            env.contains(&format!("TMPDIR={}", dir.display())) && env.contains(&"A=1".to_string()),
            "{env:?}"
        );
        remove(&dir);
        assert!(!dir.exists());
    }

    #[test]
    fn a_shared_directory_without_the_sticky_bit_is_refused() {
        let base = std::env::temp_dir().join(format!("palisade-tmpdir-shared-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir(&base).unwrap();
        std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o777)).unwrap();
        let (u, g) = (nix::unistd::geteuid().as_raw(), nix::unistd::getegid().as_raw());
        let e = create(&base, u, g).unwrap_err();
        assert!(e.to_string().contains("without the sticky bit"), "{e}");
        assert_eq!(std::fs::read_dir(&base).unwrap().count(), 0, "nothing made");
        std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o1777)).unwrap();
        let dir = create(&base, u, g).unwrap();
        remove(&dir);
        std::fs::remove_dir_all(&base).unwrap();
    }
}
