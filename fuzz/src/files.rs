//! One fuzz input as several profile files, served to the loader from memory.
//!
//! The input is UTF-8 text. A line `#=== NAME` starts a new file called `NAME` (a relative
//! path: `a.yaml`, `sub/b.yaml`); the text before the first such line is `main.yaml`, unless
//! the input starts with one (then the first file is the profile compiled). Every file lives
//! under [`ROOT`]; `extends: a.yaml` from `main.yaml` reads `ROOT/a.yaml`, `../x.yaml` from
//! `sub/b.yaml` reads `ROOT/x.yaml`. Other paths are not found, so a run never reads the disk
//! (built-ins still come from the compiler). The separator is a YAML comment, so a seed file
//! made of one profile is itself a valid input.

use std::collections::BTreeMap;
use std::io;
use std::path::{Component, Path, PathBuf};

/// Where the in-memory files are (a directory that does not exist on disk).
pub const ROOT: &str = "/palisade-fuzz";

/// The line prefix that starts a new file.
pub const SEPARATOR: &str = "#=== ";

/// In-memory profile files, by absolute path.
#[derive(Debug, Default)]
pub struct Files {
    /// The path of the profile to compile.
    pub main: PathBuf,
    files: BTreeMap<PathBuf, String>,
}

impl Files {
    /// Split `text` into files (see the module documentation).
    pub fn parse(text: &str) -> Files {
        let mut files = BTreeMap::new();
        let mut main = None;
        let mut name = "main.yaml".to_string();
        let mut current = String::new();
        let mut first = true;
        for line in text.split_inclusive('\n') {
            if let Some(next) = line.strip_prefix(SEPARATOR) {
                if !(first && current.is_empty()) {
                    let path = normalize(&Path::new(ROOT).join(&name));
                    main.get_or_insert(path.clone());
                    files.entry(path).or_insert(std::mem::take(&mut current));
                }
                name = next.trim().to_string();
                current.clear();
            } else {
                current.push_str(line);
            }
            first = false;
        }
        let path = normalize(&Path::new(ROOT).join(&name));
        main.get_or_insert(path.clone());
        files.entry(path).or_insert(current);
        Files { main: main.unwrap_or_default(), files }
    }

    /// The spec to compile: the first file's path.
    pub fn spec(&self) -> String {
        self.main.display().to_string()
    }

    /// Read a file as the loader asks for it (`ROOT/sub/../a.yaml` is `ROOT/a.yaml`).
    pub fn read(&self, path: &Path) -> io::Result<String> {
        self.files
            .get(&normalize(path))
            .cloned()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "not one of the fuzz input's files"))
    }

    /// Compile the first file with everything it extends, reading only these files.
    pub fn compile(&self, opts: &policy::CompileOptions) -> Result<policy::Compiled, policy::Error> {
        policy::compile_with(&self.spec(), opts, &|p: &Path| self.read(p))
    }
}

/// `path` with `.` and `..` resolved lexically (the files are not on disk).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_without_separators_is_main_yaml() {
        let f = Files::parse("name: a\n");
        assert_eq!(f.spec(), "/palisade-fuzz/main.yaml");
        assert_eq!(f.read(Path::new("/palisade-fuzz/./main.yaml")).unwrap(), "name: a\n");
    }

    #[test]
    fn separators_name_the_files_and_the_first_is_compiled() {
        let f = Files::parse("#=== sub/a.yaml\nextends: ../b.yaml\n#=== b.yaml\nname: b\n");
        assert_eq!(f.spec(), "/palisade-fuzz/sub/a.yaml");
        assert_eq!(f.read(Path::new("/palisade-fuzz/sub/../b.yaml")).unwrap(), "name: b\n");
        assert!(f.read(Path::new("/etc/passwd")).is_err());
    }

    #[test]
    fn the_committed_seeds_compile() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/seeds/profile");
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            if let Err(e) = Files::parse(&text).compile(&Default::default()) {
                panic!("{}: {e}", path.display());
            }
        }
    }

    #[test]
    fn extends_reads_the_in_memory_parent() {
        let f = Files::parse("name: child\nextends: p.yaml\n#=== p.yaml\nname: p\n");
        let c = f.compile(&Default::default()).unwrap();
        assert_eq!(c.inputs.len(), 2);
    }
}
