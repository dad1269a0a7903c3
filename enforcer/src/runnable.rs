//! Whether Landlock will let the command start, decided before anything is applied: exec
//! needs `execute` on the command, on each `#!` interpreter (which then opens the script, so
//! that needs `read_file`), and on the ELF loader the kernel maps (`PT_INTERP`). A command that
//! would be refused is refused now, naming the file and the right, instead of a bare
//! `Permission denied` after the process has been confined.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use object::read::elf::{FileHeader, ProgramHeader};
use object::read::ReadCache;
use object::FileKind;
use policy::vocab::{Flag, FsAccess, FsRight};

use crate::error::{Failure, LaunchError, Step};
use crate::landlock::PathOutcome;

/// The kernel follows at most this many `#!` interpreters (and binfmt handlers) per exec.
const MAX_DEPTH: usize = 5;

/// How many bytes of a `#!` line the kernel reads (`BINPRM_BUF_SIZE`).
const SHEBANG_MAX: usize = 256;

/// One file exec opens, why, and the right Landlock checks for it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Need {
    /// The file.
    pub path: PathBuf,
    /// `execute` or `read_file`.
    pub right: FsRight,
    /// Why exec opens it.
    pub role: String,
}

/// Refuse (exit 126, as the exec would fail) when a rule set that handles `handled` and grants
/// `rules` would deny a file the exec of `command` opens.
pub(crate) fn check(command: &Path, handled: FsAccess, rules: &[PathOutcome]) -> Result<(), LaunchError> {
    // A rule on `/` that grants both rights lets every exec through: nothing to read.
    let needed: FsAccess = [FsRight::EXECUTE, FsRight::READ_FILE].into_iter().collect::<FsAccess>() & handled;
    if rules.iter().any(|r| r.path == "/" && (needed - r.allowed).is_empty()) {
        return Ok(());
    }
    let rules: Vec<(PathBuf, FsAccess)> = rules
        .iter()
        .filter(|r| !r.allowed.is_empty())
        .filter_map(|r| Some((std::fs::canonicalize(&r.path).ok()?, r.allowed)))
        .collect();
    for need in needs(command) {
        if !handled.contains(need.right) {
            continue;
        }
        // Landlock grants by the file's place in the tree: follow symlinks as open does.
        let Ok(real) = std::fs::canonicalize(&need.path) else { continue };
        let granted = rules.iter().any(|(at, allowed)| real.starts_with(at) && allowed.contains(need.right));
        if !granted {
            let at = if real == need.path { String::new() } else { format!(" ({})", real.display()) };
            let dir = real.parent().unwrap_or(Path::new("/")).display().to_string();
            let right = need.right.name();
            let why = format!(
                "landlock would refuse {} {}{at}, {}: no rule grants `{right}` on it or a directory above it; nothing was run (grant it, e.g. `- {{ path: {dir}, access: [read, execute] }}`)",
                if need.right == FsRight::EXECUTE { "to execute" } else { "to read" },
                need.path.display(),
                need.role,
            );
            return Err(LaunchError { step: Step::Exec, failure: Failure::NotExecutable(why) });
        }
    }
    Ok(())
}

/// The files exec of `command` opens, in order: the command, then for a script its
/// interpreter (and the script, which the interpreter reads), for an ELF file its loader.
pub(crate) fn needs(command: &Path) -> Vec<Need> {
    let mut out = Vec::new();
    let mut current = command.to_path_buf();
    let mut role = "the command".to_string();
    for _ in 0..MAX_DEPTH {
        out.push(Need { path: current.clone(), right: FsRight::EXECUTE, role: role.clone() });
        match header(&current) {
            Some(Header::Script(interpreter)) => {
                let script = current.display().to_string();
                out.push(Need {
                    path: current.clone(),
                    right: FsRight::READ_FILE,
                    role: format!("a script its interpreter {} reads", interpreter.display()),
                });
                role = format!("the `#!` interpreter of {script}");
                current = interpreter;
            }
            Some(Header::Elf(Some(loader))) => {
                let role = format!("the ELF loader of {}", current.display());
                out.push(Need { path: loader, right: FsRight::EXECUTE, role });
                break;
            }
            Some(Header::Elf(None)) | None => break,
        }
    }
    out
}

/// What exec finds at the start of a file.
#[derive(Debug, PartialEq, Eq)]
enum Header {
    /// `#!` and the interpreter's path.
    Script(PathBuf),
    /// An ELF file and its `PT_INTERP`, if any (none: static).
    Elf(Option<PathBuf>),
}

/// Read what exec reads; `None` for anything else (not a regular file, unreadable, another
/// format: exec itself says what it makes of those).
fn header(path: &Path) -> Option<Header> {
    // Only a regular file is opened (a device opened by root may act on open); non-blocking and
    // without taking a controlling terminal all the same, in case it was swapped since.
    if !std::fs::metadata(path).ok()?.is_file() {
        return None;
    }
    let flags = libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC;
    let mut file = std::fs::OpenOptions::new().read(true).custom_flags(flags).open(path).ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let mut start = [0u8; SHEBANG_MAX];
    let n = read_up_to(&mut file, &mut start)?;
    let start = &start[..n];
    if let Some(rest) = start.strip_prefix(b"#!") {
        return shebang(rest).map(Header::Script);
    }
    if start.starts_with(b"\x7fELF") {
        return Some(Header::Elf(elf_interpreter(file)));
    }
    None
}

fn read_up_to(file: &mut File, buf: &mut [u8]) -> Option<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    Some(n)
}

/// The interpreter of a `#!` line as the kernel reads it: blanks skipped, up to the next blank
/// or the line's end.
fn shebang(rest: &[u8]) -> Option<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    let line = rest.split(|b| *b == b'\n').next().unwrap_or(rest);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let start = line.iter().position(|b| *b != b' ' && *b != b'\t')?;
    let word = line[start..].split(|b| *b == b' ' || *b == b'\t').next()?;
    (!word.is_empty()).then(|| PathBuf::from(std::ffi::OsStr::from_bytes(word)))
}

/// `PT_INTERP` of an ELF file, read lazily (only the headers and that segment).
fn elf_interpreter(file: File) -> Option<PathBuf> {
    let data = ReadCache::new(file);
    match FileKind::parse(&data).ok()? {
        FileKind::Elf32 => interp::<object::elf::FileHeader32<object::Endianness>>(&data),
        FileKind::Elf64 => interp::<object::elf::FileHeader64<object::Endianness>>(&data),
        _ => None,
    }
}

fn interp<H: FileHeader<Endian = object::Endianness>>(data: &ReadCache<File>) -> Option<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    let header = H::parse(data).ok()?;
    let endian = header.endian().ok()?;
    let found = header
        .program_headers(endian, data)
        .ok()?
        .iter()
        .find_map(|ph| ph.interpreter(endian, data).ok().flatten())?;
    Some(PathBuf::from(std::ffi::OsStr::from_bytes(found)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("palisade-runnable-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn rule(path: &Path, rights: &[&str]) -> PathOutcome {
        PathOutcome {
            path: path.display().to_string(),
            allowed: FsAccess::parse_all(rights.iter().copied()).unwrap(),
            note: None,
            resolves_to: None,
        }
    }

    #[test]
    fn shebang_lines_are_read_as_the_kernel_reads_them() {
        assert_eq!(shebang(b"/bin/sh\n"), Some("/bin/sh".into()));
        assert_eq!(shebang(b" \t/usr/bin/env python3 -u\nprint()"), Some("/usr/bin/env".into()));
        assert_eq!(shebang(b"/bin/sh\r\n"), Some("/bin/sh".into()));
        assert_eq!(shebang(b"   \n/bin/sh"), None);
        assert_eq!(shebang(b""), None);
    }

    #[test]
    fn a_script_needs_its_interpreter_and_an_elf_file_its_loader() {
        let d = dir("needs");
        let script = d.join("s.sh");
        std::fs::write(&script, "#!/bin/sh -e\necho hi\n").unwrap();
        let n = needs(&script);
        let got: Vec<(&Path, FsRight)> = n.iter().map(|n| (n.path.as_path(), n.right)).collect();
        assert_eq!(
            &got[..3],
            [
                (script.as_path(), FsRight::EXECUTE),
                (script.as_path(), FsRight::READ_FILE),
                (Path::new("/bin/sh"), FsRight::EXECUTE),
            ]
        );
        // /bin/sh is dynamically linked here: its loader comes last.
        let loader = &n[3];
        assert_eq!(loader.right, FsRight::EXECUTE);
        assert!(loader.path.to_string_lossy().contains("ld-linux"), "{loader:?}");
        assert!(loader.role.contains("ELF loader of /bin/sh"), "{loader:?}");
        // Neither a script nor ELF: only the command itself.
        let data = d.join("data");
        std::fs::write(&data, "plain").unwrap();
        assert_eq!(needs(&data).len(), 1);
        // A loop of scripts stops where the kernel would.
        let a = d.join("a");
        std::fs::write(&a, format!("#!{}\n", a.display())).unwrap();
        assert_eq!(needs(&a).len(), 2 * MAX_DEPTH);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_command_landlock_would_refuse_is_refused_with_the_file_and_right() {
        let d = dir("check");
        let script = d.join("s.sh");
        std::fs::write(&script, "#!/bin/sh\n").unwrap();
        let handled = FsAccess::all();
        let usr = rule(Path::new("/usr"), &["read_file", "execute"]);
        let lib = [
            rule(Path::new("/lib"), &["read_file", "execute"]),
            rule(Path::new("/lib64"), &["read_file", "execute"]),
        ];
        let bin = rule(Path::new("/bin"), &["execute"]);
        let mut all = vec![usr.clone(), bin.clone(), rule(&d, &["read_file", "execute"])];
        all.extend(lib.iter().cloned());
        check(&script, handled, &all).unwrap();
        // The script may not be read by its interpreter.
        let mut no_read = vec![usr.clone(), bin.clone(), rule(&d, &["execute"])];
        no_read.extend(lib.iter().cloned());
        let e = check(&script, handled, &no_read).unwrap_err();
        assert_eq!((e.step, e.exit_code()), (Step::Exec, 126));
        let m = e.to_string();
        assert!(
            m.contains("refuse to read") && m.contains("`read_file`") && m.contains("/bin/sh reads"),
            "{m}"
        );
        // The interpreter may not be executed.
        let e = check(&script, handled, &[rule(&d, &["read_file", "execute"])]).unwrap_err();
        assert!(
            e.to_string().contains("to execute /bin/sh") && e.to_string().contains("`#!` interpreter"),
            "{e}"
        );
        // `/` with both rights: nothing is read at all (the command need not even exist here).
        check(Path::new("/nonexistent/x"), handled, &[rule(Path::new("/"), &["read_file", "execute"])])
            .unwrap();
        // Rights the ruleset does not handle are not checked.
        check(&script, FsAccess::parse_all(["write_file"]).unwrap(), &[]).unwrap();
        std::fs::remove_dir_all(&d).unwrap();
    }
}
