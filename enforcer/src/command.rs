//! The workload's command: found like `execvp` does, before anything is applied.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::error::{Failure, LaunchError, Step};

/// A resolved command.
#[derive(Clone, Debug)]
pub struct Command {
    /// The executable.
    pub program: PathBuf,
    /// The executable as `execve` takes it.
    pub path: CString,
    /// `argv` (`argv[0]` as given).
    pub argv: Vec<CString>,
    /// The environment it gets (`KEY=VALUE`); `None`: this process's.
    pub env: Option<Vec<CString>>,
}

/// The search path when `PATH` is not set (glibc's for root, and Docker's).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

impl Command {
    /// Find `argv[0]` like `execvp`: as a path when it has a `/`, else in `$PATH`. The command
    /// gets this process's environment.
    pub fn resolve(argv: &[String]) -> Result<Command, LaunchError> {
        let path = std::env::var("PATH").unwrap_or_else(|_| DEFAULT_PATH.into());
        Command::find(argv, &path, None, None)
    }

    /// [`Command::resolve`] for a command that gets exactly `env` (searched in its `PATH`).
    pub fn resolve_with_env(argv: &[String], env: &[(String, String)]) -> Result<Command, LaunchError> {
        Command::resolve_in(argv, env, None)
    }

    /// [`Command::resolve`] for a command that gets this process's environment with `overrides`
    /// set on top, and runs in `dir` (where a relative command path is found).
    pub fn resolve_with_overrides(
        argv: &[String],
        overrides: &BTreeMap<String, String>,
        dir: Option<&Path>,
    ) -> Result<Command, LaunchError> {
        if overrides.is_empty() && dir.is_none() {
            return Command::resolve(argv);
        }
        let mut env: Vec<(String, String)> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        env.retain(|(k, _)| !overrides.contains_key(k));
        env.extend(overrides.iter().map(|(k, v)| (k.clone(), v.clone())));
        Command::resolve_in(argv, &env, dir)
    }

    /// A command that gets exactly `env` (searched in its `PATH`) and runs in `dir`.
    pub fn resolve_in(
        argv: &[String],
        env: &[(String, String)],
        dir: Option<&Path>,
    ) -> Result<Command, LaunchError> {
        let path = env.iter().find(|(k, _)| k == "PATH").map_or(DEFAULT_PATH, |(_, v)| v.as_str());
        let env = env
            .iter()
            .map(|(k, v)| CString::new(format!("{k}={v}")))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| {
                LaunchError::refused(Step::ResolveCommand, "an environment variable contains a NUL byte")
            })?;
        Command::find(argv, path, Some(env), dir)
    }

    fn find(
        argv: &[String],
        search: &str,
        env: Option<Vec<CString>>,
        dir: Option<&Path>,
    ) -> Result<Command, LaunchError> {
        let refuse = |m: &str| LaunchError::refused(Step::ResolveCommand, m);
        let cmd = argv.first().ok_or_else(|| refuse("no command given"))?;
        // `./x` and `bin/x` are found where the command will run.
        let joined;
        let cmd = match dir {
            Some(d) if cmd.contains('/') && !cmd.starts_with('/') => {
                joined = d.join(cmd).display().to_string();
                &joined
            }
            _ => cmd,
        };
        let program = find(cmd, search)?;
        let argv = argv
            .iter()
            .map(|a| CString::new(a.as_bytes()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| refuse("an argument contains a NUL byte"))?;
        let path = CString::new(program.as_os_str().as_bytes())
            .map_err(|_| refuse("the command path contains a NUL byte"))?;
        Ok(Command { program, path, argv, env })
    }

    /// The executable and its arguments, as a report lists them.
    pub fn words(&self) -> Vec<String> {
        std::iter::once(self.program.display().to_string())
            .chain(self.argv.iter().skip(1).map(|a| a.to_string_lossy().into_owned()))
            .collect()
    }
}

fn find(cmd: &str, search: &str) -> Result<PathBuf, LaunchError> {
    let fail = |f| LaunchError { step: Step::ResolveCommand, failure: f };
    let not_found = || fail(Failure::NotFound(format!("{cmd}: command not found")));
    let check = |p: &Path| -> Result<PathBuf, LaunchError> {
        use std::os::unix::fs::PermissionsExt;
        let m = std::fs::metadata(p).map_err(|_| not_found())?;
        if m.is_dir() || m.permissions().mode() & 0o111 == 0 {
            let why = format!("{}: permission denied (not an executable file)", p.display());
            return Err(fail(Failure::NotExecutable(why)));
        }
        Ok(p.to_path_buf())
    };
    if cmd.contains('/') {
        return check(Path::new(cmd));
    }
    let mut denied = None;
    for dir in search.split(':').filter(|d| !d.is_empty()) {
        let candidate = Path::new(dir).join(cmd);
        if candidate.exists() {
            match check(&candidate) {
                Ok(p) => return Ok(p),
                Err(e) => denied = Some(e),
            }
        }
    }
    Err(denied.unwrap_or_else(not_found))
}
