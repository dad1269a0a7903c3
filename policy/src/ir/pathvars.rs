//! Variables in paths: `${CWD}`, `${HOME}`, `${TMPDIR}`, `${XDG_RUNTIME_DIR}` and
//! `${env:NAME}`, written in Landlock paths, bind-mount sources and `rootfs`.
//!
//! The compiler checks and keeps them as written (the IR, `policyc diff` and the compile cache
//! hold the symbolic path); whoever applies the policy substitutes the values of the process
//! that runs it ([`expand`]). A variable that starts a path stands for an absolute path; one
//! anywhere else for a single path component, so no value can climb out of where the profile
//! puts it (`/srv/${env:USER}` with `USER=../etc` is refused, not `/etc`).

use std::fmt;

use serde::{Deserialize, Serialize};

/// A path variable.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum PathVar {
    /// `${CWD}`: the working directory `enforce` was started in.
    Cwd,
    /// `${HOME}`: the caller's home directory.
    Home,
    /// `${TMPDIR}`: the caller's temporary directory (`/tmp` when unset).
    Tmpdir,
    /// `${XDG_RUNTIME_DIR}`: the caller's runtime directory (`/run/user/UID` when unset).
    XdgRuntimeDir,
    /// `${env:NAME}`: an environment variable of the caller.
    Env(String),
}

/// The names a profile may use (for hints).
pub const KNOWN: &str = "${CWD}, ${HOME}, ${TMPDIR}, ${XDG_RUNTIME_DIR}, ${env:NAME}";

impl PathVar {
    fn parse(name: &str) -> Option<PathVar> {
        Some(match name {
            "CWD" => PathVar::Cwd,
            "HOME" => PathVar::Home,
            "TMPDIR" => PathVar::Tmpdir,
            "XDG_RUNTIME_DIR" => PathVar::XdgRuntimeDir,
            _ => {
                let env = name.strip_prefix("env:")?;
                let ok = !env.is_empty()
                    && env.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    && !env.starts_with(|c: char| c.is_ascii_digit());
                return ok.then(|| PathVar::Env(env.to_string()));
            }
        })
    }
}

impl fmt::Display for PathVar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathVar::Cwd => f.write_str("CWD"),
            PathVar::Home => f.write_str("HOME"),
            PathVar::Tmpdir => f.write_str("TMPDIR"),
            PathVar::XdgRuntimeDir => f.write_str("XDG_RUNTIME_DIR"),
            PathVar::Env(n) => write!(f, "env:{n}"),
        }
    }
}

/// A piece of a path as written.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Text(String),
    Var(PathVar),
}

/// Whether `path` uses a variable at all.
pub fn is_symbolic(path: &str) -> bool {
    path.contains("${")
}

/// The variables `path` uses, in order.
pub fn vars(path: &str) -> Vec<PathVar> {
    pieces(path)
        .map(|ps| {
            ps.into_iter()
                .filter_map(|p| match p {
                    Piece::Var(v) => Some(v),
                    Piece::Text(_) => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

fn pieces(path: &str) -> Result<Vec<Piece>, String> {
    let mut out = Vec::new();
    let mut rest = path;
    while let Some(i) = rest.find("${") {
        if i > 0 {
            out.push(Piece::Text(rest[..i].to_string()));
        }
        let after = &rest[i + 2..];
        let end = after.find('}').ok_or_else(|| format!("`${{` without a closing `}}` in `{path}`"))?;
        let name = &after[..end];
        let var = PathVar::parse(name).ok_or_else(|| format!("unknown path variable `${{{name}}}`"))?;
        out.push(Piece::Var(var));
        rest = &after[end + 1..];
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest.to_string()));
    }
    Ok(out)
}

/// Check a path as a profile writes it and normalize its literal parts (no `.`, no repeated
/// slashes). It must be absolute or start with a variable followed by `/` or nothing, and have
/// no `..` component. `None` for a path without variables (the caller's own rules apply).
pub fn normalize(path: &str) -> Option<Result<String, String>> {
    if !is_symbolic(path) {
        return None;
    }
    Some(normalize_symbolic(path))
}

fn normalize_symbolic(path: &str) -> Result<String, String> {
    let ps = pieces(path)?;
    let starts_with_var = matches!(ps.first(), Some(Piece::Var(_)));
    if !starts_with_var && !path.starts_with('/') {
        return Err(format!("`{path}` is neither absolute nor starts with a variable"));
    }
    if starts_with_var {
        let slash_next = match ps.get(1) {
            None => true,
            Some(Piece::Text(t)) => t.starts_with('/'),
            Some(Piece::Var(_)) => false,
        };
        if !slash_next {
            return Err(format!(
                "a variable that starts a path is a directory: write `/` after it in `{path}`"
            ));
        }
    }
    if path.split('/').any(|c| c == "..") {
        return Err(format!("`{path}` climbs with `..`"));
    }
    let parts: Vec<&str> = path.split('/').filter(|c| !c.is_empty() && *c != ".").collect();
    let joined = parts.join("/");
    Ok(if starts_with_var { joined } else { format!("/{joined}") })
}

/// Why a path could not be expanded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExpandError {
    /// The variable has no value here.
    Unset(PathVar),
    /// Its value is not usable where the path puts it.
    Bad {
        /// The variable.
        var: PathVar,
        /// Its value.
        value: String,
        /// Why not.
        why: &'static str,
    },
    /// The path is not a valid symbolic path (a stored policy that did not come from the
    /// compiler).
    Invalid(String),
}

impl fmt::Display for ExpandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpandError::Unset(PathVar::Env(n)) => {
                write!(f, "${{env:{n}}} has no value here: {n} is not set")
            }
            ExpandError::Unset(v) => write!(f, "${{{v}}} has no value here"),
            ExpandError::Bad { var, value, why } => write!(f, "${{{var}}} is `{value}`, {why}"),
            ExpandError::Invalid(m) => f.write_str(m),
        }
    }
}

/// Substitute every variable of `path` with its value from `lookup`. A variable that starts
/// the path must be an absolute path without `..`; any other must be one component (no `/`,
/// not `.` or `..`, not empty). The result is normalized.
pub fn expand(path: &str, mut lookup: impl FnMut(&PathVar) -> Option<String>) -> Result<String, ExpandError> {
    // A stored policy is checked again: it may not have come from the compiler.
    normalize_symbolic(path).map_err(ExpandError::Invalid)?;
    let ps = pieces(path).map_err(ExpandError::Invalid)?;
    let mut out = String::new();
    for (i, p) in ps.into_iter().enumerate() {
        match p {
            Piece::Text(t) => out.push_str(&t),
            Piece::Var(var) => {
                let value = lookup(&var).ok_or_else(|| ExpandError::Unset(var.clone()))?;
                let bad = |why| ExpandError::Bad { var: var.clone(), value: value.clone(), why };
                if i == 0 {
                    if !value.starts_with('/') {
                        return Err(bad("not an absolute path"));
                    }
                    if value.split('/').any(|c| c == "..") {
                        return Err(bad("which climbs with `..`"));
                    }
                    // `cd / && enforce ...` must not turn "this directory" into everything.
                    if value.split('/').all(str::is_empty) {
                        return Err(bad("the whole filesystem (a variable never stands for `/`)"));
                    }
                } else if value.is_empty() || value.contains('/') || value == "." || value == ".." {
                    return Err(bad("not a single path component (a variable inside a path names one)"));
                }
                out.push_str(&value);
            }
        }
    }
    let parts: Vec<&str> = out.split('/').filter(|c| !c.is_empty() && *c != ".").collect();
    Ok(format!("/{}", parts.join("/")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(v: &PathVar) -> Option<String> {
        match v {
            PathVar::Cwd => Some("/home/ann/src/".into()),
            PathVar::Home => Some("/home/ann".into()),
            PathVar::Env(n) if n == "USER" => Some("ann".into()),
            PathVar::Env(n) if n == "UP" => Some("..".into()),
            PathVar::Env(n) if n == "REL" => Some("rel/dir".into()),
            _ => None,
        }
    }

    #[test]
    fn symbolic_paths_are_checked_and_normalized_as_written() {
        assert_eq!(normalize("/etc"), None);
        assert_eq!(normalize("${CWD}").unwrap(), Ok("${CWD}".into()));
        assert_eq!(normalize("${HOME}//.cache/./x/").unwrap(), Ok("${HOME}/.cache/x".into()));
        assert_eq!(normalize("/srv//${env:USER}").unwrap(), Ok("/srv/${env:USER}".into()));
        assert!(normalize("${PWD}/x").unwrap().unwrap_err().contains("unknown path variable `${PWD}`"));
        assert!(normalize("${env:1X}").unwrap().is_err());
        assert!(normalize("${CWD").unwrap().unwrap_err().contains("without a closing"));
        assert!(normalize("${CWD}x").unwrap().unwrap_err().contains("write `/` after it"));
        assert!(normalize("${HOME}${env:X}").unwrap().unwrap_err().contains("write `/` after it"));
        assert!(normalize("${CWD}/../etc").unwrap().unwrap_err().contains("climbs"));
        assert!(normalize("x/${CWD}").unwrap().unwrap_err().contains("neither absolute"));
        assert_eq!(vars("${HOME}/a/${env:USER}"), [PathVar::Home, PathVar::Env("USER".into())]);
    }

    #[test]
    fn values_are_substituted_and_cannot_climb_out() {
        assert_eq!(expand("${CWD}", values), Ok("/home/ann/src".into()));
        assert_eq!(expand("${HOME}/.cache", values), Ok("/home/ann/.cache".into()));
        assert_eq!(expand("/srv/${env:USER}/data", values), Ok("/srv/ann/data".into()));
        assert_eq!(expand("/srv/x-${env:USER}", values), Ok("/srv/x-ann".into()));
        assert_eq!(expand("${TMPDIR}", values), Err(ExpandError::Unset(PathVar::Tmpdir)));
        let e = expand("/srv/${env:UP}", values).unwrap_err();
        assert!(e.to_string().contains("${env:UP} is `..`, not a single path component"), "{e}");
        assert!(expand("/srv/${env:REL}", values).is_err());
        assert!(expand("${env:USER}/x", values).unwrap_err().to_string().contains("not an absolute path"));
        let climbing = |v: &PathVar| (*v == PathVar::Home).then(|| "/home/../etc".to_string());
        assert!(expand("${HOME}", climbing).unwrap_err().to_string().contains("climbs"));
        // Run from `/`, "this directory" would be everything: refused.
        let root = |_: &PathVar| Some("/".to_string());
        assert!(expand("${CWD}", root).unwrap_err().to_string().contains("never stands for `/`"));
        assert!(expand("${CWD}", |_: &PathVar| Some("//".to_string())).is_err());
        // A stored path the compiler would not have written is refused, not expanded.
        assert!(matches!(expand("${CWD}/../../etc", values), Err(ExpandError::Invalid(_))));
        assert!(matches!(expand("${HOME}${env:USER}", values), Err(ExpandError::Invalid(_))));
    }
}
