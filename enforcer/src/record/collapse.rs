//! From the paths a recording saw to Landlock rules a person can read: files gathered into
//! their directories, the well-known system trees summarised at their roots, and the
//! recording's working, home and temporary directories written as `${CWD}`, `${HOME}` and
//! `${TMPDIR}` (so the profile replays from another directory, for another user).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use policy::ir::beneath;
use policy::vocab::{FsAccess, FsRight};

/// How far the paths are gathered (`enforce record --collapse`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Collapse {
    /// Each path as seen (a file made by the run is still its directory's).
    None,
    /// A file's rights go to its directory (devices stay themselves).
    Dir,
    /// As `dir`, and everything beneath a well-known system tree ([`SYSTEM_TREES`]) or beneath
    /// the working, home or temporary directory goes to that tree's root.
    #[default]
    Tree,
}

/// System trees summarised at their root by [`Collapse::Tree`].
pub const SYSTEM_TREES: [&str; 11] =
    ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt", "/sys", "/proc"];

/// One Landlock rule of the learned profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// As the profile writes it (`${CWD}/src`).
    pub path: String,
    /// The rights beneath it.
    pub access: FsAccess,
    /// How many paths seen it stands for.
    pub paths: usize,
}

/// What the paths were seen to be, and where they are now.
pub struct Seen<'a> {
    /// Resolved path → the rights it needed.
    pub files: &'a BTreeMap<String, FsAccess>,
    /// Those that were directories.
    pub dirs: &'a BTreeSet<String>,
    /// Entries the run made: at replay they are not there yet, so rights on them (or beneath
    /// them) are their first existing directory's.
    pub made: &'a BTreeSet<String>,
    /// Where the recording's root is on this machine now (`/` for a host run, a container's
    /// root directory), to find the files the run made and removed; `None`: not known.
    pub root: Option<&'a Path>,
    /// Recorded under a base profile: the rights of those given that it does not grant at a
    /// path. A gathered rule keeps only what the base grants where it is written; the rest
    /// stays with the paths it was seen at (never wider than the base).
    pub refused: Option<&'a Refused<'a>>,
}

/// The rights of those given that a base profile does not grant at a path.
pub type Refused<'a> = dyn Fn(&str, FsAccess) -> FsAccess + 'a;

/// Rights that only read or run what is there: the ones a system tree is summarised with.
fn reading() -> FsAccess {
    [FsRight::READ_FILE, FsRight::READ_DIR, FsRight::EXECUTE].into_iter().collect()
}

/// The rules for what was `seen`, with `vars` (`CWD` → its value at recording, ...) written as
/// variables.
pub fn rules(seen: &Seen, vars: &BTreeMap<String, String>, how: Collapse) -> Vec<Rule> {
    let mut roots: Vec<&str> = vars.values().map(String::as_str).filter(|v| *v != "/").collect();
    // The longest value first: a working directory inside the temporary one is `${CWD}`.
    roots.sort_by_key(|r| std::cmp::Reverse(r.len()));
    // Where each right goes, with the paths it was seen at (for a base to clip).
    let mut gathered: BTreeMap<String, Vec<(String, FsAccess)>> = BTreeMap::new();
    for (seen_at, access) in seen.files {
        let before = before_the_run(seen_at, seen.made);
        let path = seen.root.map_or_else(|| before.clone(), |r| existing(&before, r));
        // The directory of a made entry, or an existing ancestor of a path that is gone, is a
        // directory.
        let is_dir = seen.dirs.contains(&path) || path == "/" || path != *seen_at;
        let (to_root, rest) = (*access & reading(), *access - reading());
        for (part, system) in [(to_root, true), (rest, false)] {
            if !part.is_empty() {
                let at = gather(&path, how, &roots, is_dir, system);
                gathered.entry(at).or_default().push((path.clone(), part));
            }
        }
    }
    let mut rules: BTreeMap<String, (FsAccess, usize)> = BTreeMap::new();
    for (at, members) in gathered {
        let union = members.iter().fold(FsAccess::EMPTY, |u, (_, a)| u | *a);
        let refused = seen.refused.map_or(FsAccess::EMPTY, |f| f(&at, union));
        let e = rules.entry(at).or_default();
        e.0 |= union - refused;
        e.1 += members.len();
        for (p, a) in members.iter().filter(|_| !refused.is_empty()) {
            let back = *a & refused;
            if !back.is_empty() {
                let e = rules.entry(p.clone()).or_default();
                e.0 |= back;
                e.1 += 1;
            }
        }
    }
    rules.retain(|_, (a, _)| !a.is_empty());
    // A rule beneath another that grants all it grants says nothing more.
    let kept: Vec<(&String, &(FsAccess, usize))> = rules
        .iter()
        .filter(|(p, (a, _))| {
            !rules.iter().any(|(q, (b, _))| q != *p && beneath(p, q) && (*a - *b).is_empty())
        })
        .collect();
    kept.into_iter()
        .map(|(p, (access, n))| Rule { path: with_vars(p, vars), access: *access, paths: *n })
        .collect()
}

/// `path`, or, when the run made it or a directory above it, the directory the first of those
/// was made in.
fn before_the_run(path: &str, made: &BTreeSet<String>) -> String {
    let top = Path::new(path).ancestors().filter(|a| made.contains(a.to_string_lossy().as_ref())).last();
    match top.and_then(Path::parent) {
        Some(dir) => dir.to_string_lossy().into_owned(),
        None => path.to_string(),
    }
}

/// `path`, or its nearest ancestor that still exists beneath `root` (a file the run made and
/// removed); `/dev` and `/proc` as they are (a container's are not beneath its root).
fn existing(path: &str, root: &Path) -> String {
    if beneath(path, "/dev") || beneath(path, "/proc") {
        return path.to_string();
    }
    let mut p = Path::new(path);
    while std::fs::symlink_metadata(root.join(p.strip_prefix("/").unwrap_or(p))).is_err() {
        match p.parent() {
            Some(up) => p = up,
            None => return "/".into(),
        }
    }
    p.to_string_lossy().into_owned()
}

/// Where rights seen at `path` go under `how`: the working, home or temporary directory's root
/// first, then (`reads`: rights that only read or run) a system tree's root, else the
/// directory (a file's, or itself).
fn gather(path: &str, how: Collapse, roots: &[&str], is_dir: bool, reads: bool) -> String {
    if how == Collapse::Tree {
        if let Some(r) = roots.iter().find(|r| beneath(path, r)) {
            return r.to_string();
        }
        if let Some(t) = SYSTEM_TREES.iter().find(|t| reads && beneath(path, t)) {
            return t.to_string();
        }
    }
    if how == Collapse::None || is_dir || beneath(path, "/dev") {
        return path.to_string();
    }
    Path::new(path).parent().map_or_else(|| path.to_string(), |d| d.to_string_lossy().into_owned())
}

/// `path` with the longest variable value it is beneath written as the variable.
fn with_vars(path: &str, vars: &BTreeMap<String, String>) -> String {
    let best = vars
        .iter()
        .filter(|(_, v)| v.as_str() != "/" && !v.is_empty() && beneath(path, v))
        .max_by_key(|(_, v)| v.len());
    match best {
        Some((name, v)) => format!("${{{name}}}{}", &path[v.len()..]),
        None => path.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acc(r: &[FsRight]) -> FsAccess {
        r.iter().copied().collect()
    }

    #[test]
    fn files_gather_into_directories_trees_at_their_roots_and_variables_are_written() {
        let base = std::env::temp_dir().join(format!("palisade-collapse-{}", std::process::id()));
        let work = base.join("work");
        std::fs::create_dir_all(work.join("src")).unwrap();
        std::fs::write(work.join("src/a.c"), "").unwrap();
        let w = work.to_string_lossy().to_string();
        let files: BTreeMap<String, FsAccess> = [
            ("/usr/lib/x86_64-linux-gnu/libc.so.6".to_string(), acc(&[FsRight::READ_FILE])),
            ("/usr/bin/cc".to_string(), acc(&[FsRight::EXECUTE])),
            ("/dev/null".to_string(), acc(&[FsRight::WRITE_FILE])),
            (format!("{w}/src/a.c"), acc(&[FsRight::READ_FILE])),
            (format!("{w}/src/gone.o"), acc(&[FsRight::WRITE_FILE])),
            (w.clone(), acc(&[FsRight::MAKE_REG, FsRight::READ_FILE])),
        ]
        .into();
        let vars: BTreeMap<String, String> =
            [("CWD".to_string(), w.clone()), ("TMPDIR".to_string(), base.to_string_lossy().to_string())]
                .into();
        // What the recorder saw to be directories.
        let dirs: BTreeSet<String> = [w.clone(), format!("{w}/src"), "/usr/bin".into()].into();
        let made = BTreeSet::new();
        let seen =
            Seen { files: &files, dirs: &dirs, made: &made, root: Some(Path::new("/")), refused: None };
        let tree = rules(&seen, &vars, Collapse::Tree);
        let shown: Vec<(String, Vec<&str>)> =
            tree.iter().map(|r| (r.path.clone(), r.access.names())).collect();
        assert_eq!(
            shown,
            [
                ("/dev/null".to_string(), vec!["write_file"]),
                ("${CWD}".to_string(), vec!["write_file", "read_file", "make_reg"]),
                ("/usr".to_string(), vec!["execute", "read_file"]),
            ]
        );
        let dir = rules(&seen, &vars, Collapse::Dir);
        let paths: Vec<&str> = dir.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(paths, ["/dev/null", "${CWD}", "${CWD}/src", "/usr/bin", "/usr/lib/x86_64-linux-gnu"]);
        let none = rules(&seen, &vars, Collapse::None);
        let paths: Vec<&str> = none.iter().map(|r| r.path.as_str()).collect();
        // The removed object file is its directory's; reading a.c says nothing more than
        // ${CWD}'s read_file.
        assert!(paths.contains(&"${CWD}") && paths.contains(&"/usr/bin/cc"), "{paths:?}");
        assert!(!paths.iter().any(|p| p.ends_with("gone.o")), "{paths:?}");
        std::fs::remove_dir_all(&base).unwrap();
    }
}
