//! A cache of compiled policies for `enforce`: compiling a profile costs more than starting
//! the container it describes, and the same profile is run again and again.
//!
//! An entry is reused only when everything the compile depended on is unchanged:
//! - the key covers this `enforce` binary (device, inode, size and modification time of
//!   `/proc/self/exe`, and its version), the profile as given, the working directory and the
//!   compile options;
//! - the entry lists every profile file that went in (built-ins are part of the binary) with
//!   the SHA-256 of the text that was compiled; each file is read and hashed again on use.
//!
//! An entry keeps the policy's seccomp rules and tables apart, as their JSON, with this
//! machine's program compiled from them: starting reads only the program, and the rest is
//! decoded when something asks for it (a report, a detached container's digest, `enforce exec`).
//!
//! The cache is trusted like the binary itself: its directory must belong to the effective
//! user and be private (mode `0700`), entries must belong to that user and not be writable by
//! anyone else, and no symlink is followed. Anything else, or any entry that does not read
//! back, is a miss: the profile is compiled as if there were no cache.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use policy::backend::seccomp::bpf::{self, insn::SockFilter, Program};
use policy::{Arch, CompileOptions, Compiled, Diagnostic, Input, Policy};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::plan::SeccompDetail;

/// Version of the entry format (part of the key).
const FORMAT: u32 = 4;

/// Entries kept; on a store beyond this the least recently written go (every rebuilt binary
/// makes new keys, so the directory would otherwise only grow).
const MAX_ENTRIES: usize = 64;

/// Why the cache cannot be used (the profile is then compiled without it).
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The directory cannot be created or examined.
    #[error("cannot use the compile cache {}: {source}", path.display())]
    Io {
        /// The directory.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// The directory is not private to this user.
    #[error("the compile cache {} is not used: {why}", path.display())]
    Untrusted {
        /// The directory.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
}

/// Whether a compile came from the cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Read from the cache.
    Hit,
    /// Compiled (and stored when the cache could be written).
    Compiled,
}

/// A compiled profile and, when the options name a machine (`tables_for`), that machine's
/// seccomp program (compiled with it, so a cache hit skips both). The policy's seccomp rules
/// and tables are held apart ([`SeccompDetail`]); on a cache hit they stay encoded until
/// [`Prepared::into_compiled`] or a report needs them.
#[derive(Clone, Debug)]
pub struct Prepared {
    /// The compile, its policy without seccomp rules and tables.
    head: Compiled,
    detail: SeccompDetail,
    program: Option<Program>,
}

impl Prepared {
    /// A compile made here, with the program compiled for this machine if any.
    pub fn new(mut compiled: Compiled, program: Option<Program>) -> Prepared {
        let detail = SeccompDetail::take(&mut compiled.policy);
        Prepared { head: compiled, detail, program }
    }

    /// The warnings of the compile.
    pub fn warnings(&self) -> &[Diagnostic] {
        &self.head.warnings
    }

    /// The policy without its seccomp rules and tables: enough to decide how to run it
    /// (isolation, capabilities, Landlock, the accepted arches and default actions).
    pub fn head(&self) -> &Policy {
        &self.head.policy
    }

    /// The seccomp program for this machine, when it came with the compile.
    pub fn program(&self) -> Option<&Program> {
        self.program.as_ref()
    }

    /// The whole policy (cloned; its seccomp section decoded when it was stored encoded).
    pub fn policy(&self) -> Result<Policy, String> {
        self.detail.joined(&self.head.policy)
    }

    /// The whole compile.
    pub fn into_compiled(self) -> Result<Compiled, String> {
        let mut c = self.head;
        self.detail.restore(&mut c.policy)?;
        Ok(c)
    }

    /// The parts a [`crate::Plan`] is made of.
    pub(crate) fn into_parts(self) -> (Policy, SeccompDetail, Option<Program>) {
        (self.head.policy, self.detail, self.program)
    }
}

/// A private directory of compiled policies.
#[derive(Debug)]
pub struct CompileCache {
    dir: PathBuf,
}

#[derive(Serialize, Deserialize)]
struct Dep {
    path: String,
    sha256: String,
}

/// What is stored (borrowing the policy) ...
#[derive(Serialize)]
struct EntryOut<'a> {
    format: u32,
    key: &'a str,
    deps: Vec<Dep>,
    warnings: &'a [Diagnostic],
    /// The policy, its seccomp rules and tables left empty (its whole seccomp section is on
    /// the next line).
    policy: &'a Policy,
    program: Option<StoredProgram>,
}

/// A seccomp program as stored: its instructions as one hex string, 16 digits each (code,
/// jt, jf, k), which reads back much faster than a JSON array of numbers.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredProgram {
    target: String,
    arches: Vec<String>,
    big_endian: bool,
    insns: String,
}

impl StoredProgram {
    fn new(p: &Program) -> StoredProgram {
        let insns =
            p.insns.iter().map(|i| format!("{:04x}{:02x}{:02x}{:08x}", i.code, i.jt, i.jf, i.k)).collect();
        StoredProgram {
            target: p.target.name().to_string(),
            arches: p.arches.iter().map(|a| a.name().to_string()).collect(),
            big_endian: p.big_endian,
            insns,
        }
    }

    fn program(self) -> Option<Program> {
        let arches = self.arches.iter().map(|a| Arch::parse(a)).collect::<Option<Vec<_>>>()?;
        let text = self.insns.as_bytes();
        if text.len() % 16 != 0 {
            return None;
        }
        // Hex digits only: no sign, no space.
        let field = |c: &[u8]| c.iter().try_fold(0u32, |v, &b| Some(v << 4 | char::from(b).to_digit(16)?));
        let insns = text
            .chunks(16)
            .map(|c| {
                Some(SockFilter {
                    code: field(&c[..4])? as u16,
                    jt: field(&c[4..6])? as u8,
                    jf: field(&c[6..8])? as u8,
                    k: field(&c[8..])?,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Program::from_insns(Arch::parse(&self.target)?, arches, self.big_endian, insns))
    }
}

/// ... and what is read back. The seccomp section follows on the next line of the file,
/// untouched until it is decoded (compact JSON has no raw newline).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    format: u32,
    key: String,
    deps: Vec<Dep>,
    warnings: Vec<Diagnostic>,
    policy: Policy,
    program: Option<StoredProgram>,
}

fn hex(d: impl AsRef<[u8]>) -> String {
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// The default directory: `$PALISADE_CACHE_DIR`, else `cache` in the runtime directory
/// (`$PALISADE_RUNTIME_DIR`, `/run/palisade` for root, `$XDG_RUNTIME_DIR/palisade` for
/// others); `None` when a non-root user has no `XDG_RUNTIME_DIR` (no shared `/tmp` cache).
pub fn default_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("PALISADE_CACHE_DIR") {
        return Some(PathBuf::from(d));
    }
    if let Some(d) = std::env::var_os("PALISADE_RUNTIME_DIR") {
        return Some(PathBuf::from(d).join("cache"));
    }
    if nix::unistd::geteuid().is_root() {
        return Some(PathBuf::from("/run/palisade/cache"));
    }
    std::env::var_os("XDG_RUNTIME_DIR").map(|d| PathBuf::from(d).join("palisade/cache"))
}

impl CompileCache {
    /// Use `dir` (created `0700` when missing), after checking that it is private.
    pub fn open(dir: &Path) -> Result<CompileCache, CacheError> {
        let io = |source| CacheError::Io { path: dir.to_path_buf(), source };
        if let Some(parent) = dir.parent() {
            DirBuilder::new().recursive(true).mode(0o755).create(parent).map_err(io)?;
        }
        match DirBuilder::new().mode(0o700).create(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io(e)),
        }
        let meta = std::fs::symlink_metadata(dir).map_err(io)?;
        let untrusted = |why: String| CacheError::Untrusted { path: dir.to_path_buf(), why };
        let euid = nix::unistd::geteuid().as_raw();
        if !meta.is_dir() {
            return Err(untrusted("not a directory (symlinks are not followed)".into()));
        }
        if meta.uid() != euid {
            return Err(untrusted(format!("owned by uid {}, not {euid}", meta.uid())));
        }
        if meta.mode() & 0o077 != 0 {
            return Err(untrusted(format!("mode {:o} lets others in (want 0700)", meta.mode() & 0o777)));
        }
        Ok(CompileCache { dir: dir.to_path_buf() })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Compile `spec` with `opts`, or reuse the entry of an identical earlier compile.
    /// Errors are the compiler's: a cache that cannot be read or written is a miss.
    pub fn compile(&self, spec: &str, opts: &CompileOptions) -> Result<(Prepared, Outcome), policy::Error> {
        let key = key(spec, opts);
        let path = self.dir.join(format!("{key}.json"));
        if let Some(c) = load(&path, &key) {
            return Ok((c, Outcome::Hit));
        }
        let compiled = policy::compile(spec, opts)?;
        let program = opts.tables_for.and_then(|host| machine_program(&compiled.policy, host));
        store(&self.dir, &path, &key, &compiled, program.as_ref());
        let prepared = Prepared::new(compiled, program);
        Ok((prepared, Outcome::Compiled))
    }
}

/// The seccomp program a kernel of arch `host` needs, as [`crate::Plan`] would compile it
/// (`None` when it cannot be: the plan then reports why).
fn machine_program(policy: &Policy, host: Arch) -> Option<Program> {
    let target = bpf::target_for(policy, Some(host), Some(host)).ok()?;
    bpf::compile(policy, target).ok()
}

/// Compile `spec` for `enforce`: through the cache in [`default_dir`] when `use_cache` and
/// there is one. Also returns why the cache was not used, when that is worth saying.
pub fn compile(
    spec: &str,
    opts: &CompileOptions,
    use_cache: bool,
) -> Result<(Prepared, Option<CacheError>), policy::Error> {
    let uncached = || policy::compile(spec, opts).map(|compiled| Prepared::new(compiled, None));
    let Some(dir) = default_dir().filter(|_| use_cache) else {
        return Ok((uncached()?, None));
    };
    match CompileCache::open(&dir) {
        Ok(cache) => Ok((cache.compile(spec, opts)?.0, None)),
        Err(e) => Ok((uncached()?, Some(e))),
    }
}

/// Everything a compile depends on besides the profile files' contents.
fn key(spec: &str, opts: &CompileOptions) -> String {
    let mut h = Sha256::new();
    h.update(format!("palisade compile cache {FORMAT} {}\n", env!("CARGO_PKG_VERSION")));
    match std::fs::metadata("/proc/self/exe") {
        Ok(m) => {
            h.update(format!("exe {} {} {} {} {}\n", m.dev(), m.ino(), m.size(), m.mtime(), m.mtime_nsec()))
        }
        // Without an identity for the binary nothing can be reused safely: a fresh key.
        Err(_) => h.update(format!("exe unknown {:?}\n", std::time::SystemTime::now())),
    }
    let cwd = std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_default();
    h.update(format!("cwd {cwd}\nspec {spec}\noptions {opts:?}\n"));
    hex(h.finalize())
}

fn dep(input: &Input) -> Dep {
    Dep { path: input.file.clone(), sha256: hex(Sha256::digest(input.text.as_bytes())) }
}

/// Open a file of ours: no symlink, owned by this user, writable by nobody else.
fn open_private(path: &Path) -> Option<File> {
    let f = OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW).open(path).ok()?;
    let m = f.metadata().ok()?;
    let ok = m.is_file() && m.uid() == nix::unistd::geteuid().as_raw() && m.mode() & 0o022 == 0;
    ok.then_some(f)
}

fn load(path: &Path, key: &str) -> Option<Prepared> {
    let mut text = String::new();
    open_private(path)?.read_to_string(&mut text).ok()?;
    let nl = text.find('\n')?;
    if text.len() < nl + 3 || !text.ends_with('\n') {
        return None; // no seccomp section
    }
    let e: Entry = serde_json::from_str(&text[..nl]).ok()?;
    if e.format != FORMAT || e.key != key {
        return None;
    }
    let mut inputs = Vec::with_capacity(e.deps.len());
    for d in &e.deps {
        let text = std::fs::read_to_string(&d.path).ok()?;
        let input = Input { file: d.path.clone(), text };
        if dep(&input).sha256 != d.sha256 {
            return None;
        }
        inputs.push(input);
    }
    let policy = e.policy;
    if !policy.seccomp.rules.is_empty() || !policy.seccomp.tables.is_empty() {
        return None;
    }
    let program = match e.program {
        Some(p) => Some(p.program()?),
        None => None,
    };
    // The section is the rest of the text: moved to the front of the same buffer, not copied
    // into a new one.
    text.pop();
    text.drain(..=nl);
    Some(Prepared {
        head: Compiled { policy, warnings: e.warnings, inputs },
        detail: SeccompDetail::Json(text),
        program,
    })
}

/// Write the entry next to its final name, then rename it into place (readers never see half
/// an entry). Best effort: a cache that cannot be written only costs the next compile.
fn store(dir: &Path, path: &Path, key: &str, c: &Compiled, program: Option<&Program>) {
    let mut head = c.policy.clone();
    head.seccomp.rules.clear();
    head.seccomp.tables.clear();
    let entry = EntryOut {
        format: FORMAT,
        key,
        deps: c.inputs.iter().map(dep).collect(),
        warnings: &c.warnings,
        policy: &head,
        program: program.map(StoredProgram::new),
    };
    let mut json = Vec::new();
    let written = serde_json::to_writer(&mut json, &entry)
        .and_then(|()| {
            json.push(b'\n');
            serde_json::to_writer(&mut json, &c.policy.seccomp)
        })
        .map(|()| json.push(b'\n'));
    if written.is_err() {
        return;
    }
    let tmp = dir.join(format!(".{key}.{}.tmp", std::process::id()));
    let written = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&tmp)
        .and_then(|mut f| f.write_all(&json));
    if written.is_err() || std::fs::rename(&tmp, path).is_err() {
        let _ = std::fs::remove_file(&tmp);
        return;
    }
    prune(dir, MAX_ENTRIES);
}

/// Keep the `keep` most recently written entries of `dir`.
fn prune(dir: &Path, keep: usize) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<(std::time::SystemTime, PathBuf)> = rd
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    if entries.len() <= keep {
        return;
    }
    entries.sort();
    for (_, p) in &entries[..entries.len() - keep] {
        let _ = std::fs::remove_file(p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn tempdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("palisade-cache-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn ir(c: &Prepared) -> String {
        serde_json::to_string(&c.policy().unwrap()).unwrap()
    }

    #[test]
    fn second_compile_is_a_hit_with_the_same_policy() {
        let d = tempdir("hit");
        let cache = CompileCache::open(&d.join("c")).unwrap();
        let opts = CompileOptions::default();
        for spec in ["builtin:web", "builtin:docker-default", "builtin:strict", "builtin:build"] {
            let (a, o1) = cache.compile(spec, &opts).unwrap();
            let (b, o2) = cache.compile(spec, &opts).unwrap();
            assert_eq!((o1, o2), (Outcome::Compiled, Outcome::Hit), "{spec}");
            assert_eq!(ir(&a), ir(&b), "{spec}");
            assert_eq!(a.warnings(), b.warnings());
            assert!(a.program().is_none() && b.program().is_none(), "no machine named, no program");
            // What the hit holds apart decodes to exactly what the compile made.
            let whole = b.clone().into_compiled().unwrap();
            assert_eq!(serde_json::to_string(&whole.policy).unwrap(), ir(&a), "{spec}");
        }
        // For a machine: its program comes back with the policy, instruction for instruction.
        let host = CompileOptions { tables_for: Some(policy::Arch::X86_64), ..Default::default() };
        let (a, _) = cache.compile("builtin:docker-default", &host).unwrap();
        let (b, o) = cache.compile("builtin:docker-default", &host).unwrap();
        assert_eq!(o, Outcome::Hit);
        let (pa, pb) = (a.program().unwrap(), b.program().unwrap());
        assert_eq!(pa.insns, pb.insns);
        assert_eq!((pa.target, &pa.arches, pa.big_endian), (pb.target, &pb.arches, pb.big_endian));
        let fresh = machine_program(&b.policy().unwrap(), policy::Arch::X86_64).unwrap();
        assert_eq!(fresh.insns, pb.insns, "the cached program is the one the cached policy compiles to");
        let mode = std::fs::metadata(d.join("c")).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_changed_profile_or_parent_is_compiled_again() {
        let d = tempdir("dep");
        let cache = CompileCache::open(&d.join("c")).unwrap();
        let opts = CompileOptions::default();
        let parent = d.join("parent.yaml");
        let child = d.join("child.yaml");
        std::fs::write(
            &parent,
            "name: parent\nseccomp:\n  default: errno(EPERM)\n  rules:\n    - { allow: [read] }\n",
        )
        .unwrap();
        std::fs::write(&child, "name: child\nextends: parent.yaml\n").unwrap();
        let spec = child.display().to_string();
        let (a, _) = cache.compile(&spec, &opts).unwrap();
        assert_eq!(a.clone().into_compiled().unwrap().inputs.len(), 2);
        assert_eq!(cache.compile(&spec, &opts).unwrap().1, Outcome::Hit);
        // The parent widens: the cached policy must not be used.
        std::fs::write(
            &parent,
            "name: parent\nseccomp:\n  default: errno(EPERM)\n  rules:\n    - { allow: [read, write] }\n",
        )
        .unwrap();
        let (b, o) = cache.compile(&spec, &opts).unwrap();
        assert_eq!(o, Outcome::Compiled);
        assert_ne!(ir(&a), ir(&b));
        assert_eq!(cache.compile(&spec, &opts).unwrap().1, Outcome::Hit);
        std::fs::write(&child, "name: child2\nextends: parent.yaml\n").unwrap();
        assert_eq!(cache.compile(&spec, &opts).unwrap().1, Outcome::Compiled);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn tampered_or_foreign_entries_are_not_trusted() {
        let d = tempdir("trust");
        let dir = d.join("c");
        let cache = CompileCache::open(&dir).unwrap();
        let opts = CompileOptions::default();
        cache.compile("builtin:strict", &opts).unwrap();
        let entry = std::fs::read_dir(&dir).unwrap().next().unwrap().unwrap().path();
        // Writable by others: not used.
        std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(0o666)).unwrap();
        assert_eq!(cache.compile("builtin:strict", &opts).unwrap().1, Outcome::Compiled);
        // Garbage: not used (and replaced).
        std::fs::write(&entry, b"{not json").unwrap();
        assert_eq!(cache.compile("builtin:strict", &opts).unwrap().1, Outcome::Compiled);
        assert_eq!(cache.compile("builtin:strict", &opts).unwrap().1, Outcome::Hit);
        // A symlink in place of the entry: not followed.
        let real = d.join("elsewhere.json");
        std::fs::rename(&entry, &real).unwrap();
        std::os::unix::fs::symlink(&real, &entry).unwrap();
        assert_eq!(cache.compile("builtin:strict", &opts).unwrap().1, Outcome::Compiled);
        // A directory others can write is refused as a whole.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(matches!(CompileCache::open(&dir), Err(CacheError::Untrusted { .. })));
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn the_cache_keeps_a_bounded_number_of_entries() {
        let d = tempdir("prune");
        for i in 0..5 {
            std::fs::write(d.join(format!("{i}.json")), "{}").unwrap();
            let t = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000 + i);
            std::fs::File::options()
                .write(true)
                .open(d.join(format!("{i}.json")))
                .unwrap()
                .set_modified(t)
                .unwrap();
        }
        std::fs::write(d.join("other"), "").unwrap();
        prune(&d, 3);
        let mut left: Vec<String> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["2.json", "3.json", "4.json", "other"]);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn options_are_part_of_the_key() {
        let d = tempdir("opts");
        let cache = CompileCache::open(&d.join("c")).unwrap();
        let all = CompileOptions::default();
        let host = CompileOptions { tables_for: Some(policy::Arch::X86_64), ..Default::default() };
        cache.compile("builtin:web", &all).unwrap();
        let (c, o) = cache.compile("builtin:web", &host).unwrap();
        assert_eq!(o, Outcome::Compiled);
        assert!(c.policy().unwrap().seccomp.tables.len() < 18);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn stored_programs_read_back_exactly_and_bad_ones_are_refused() {
        let compiled = policy::compile("builtin:docker-default", &CompileOptions::default()).unwrap();
        for arch in [policy::Arch::X86_64, policy::Arch::Aarch64, policy::Arch::S390x] {
            let p = machine_program(&compiled.policy, arch).unwrap();
            let back = StoredProgram::new(&p).program().unwrap();
            assert_eq!(back.insns, p.insns, "{arch:?}");
            assert_eq!((back.target, &back.arches, back.big_endian), (p.target, &p.arches, p.big_endian));
        }
        let p = machine_program(&compiled.policy, policy::Arch::X86_64).unwrap();
        let good = StoredProgram::new(&p).insns;
        let with = |insns: String| StoredProgram { insns, ..StoredProgram::new(&p) };
        assert!(with(good[..good.len() - 1].to_string()).program().is_none(), "a cut instruction");
        assert!(with(good.replacen('0', "g", 1)).program().is_none(), "not hex");
        assert!(with(good.replacen('0', "é", 1)).program().is_none(), "not ASCII");
        assert!(with(good.replacen('0', "+", 1)).program().is_none(), "a sign is not a digit");
    }

    #[test]
    fn a_seccomp_section_that_does_not_decode_is_an_error_not_a_different_policy() {
        let d = tempdir("detail");
        let dir = d.join("c");
        let cache = CompileCache::open(&dir).unwrap();
        let host = CompileOptions { tables_for: Some(policy::Arch::X86_64), ..Default::default() };
        cache.compile("builtin:web", &host).unwrap();
        let entry = std::fs::read_dir(&dir).unwrap().next().unwrap().unwrap().path();
        let text = std::fs::read_to_string(&entry).unwrap();
        let (head, section) = text.split_once('\n').unwrap();
        let mut v: serde_json::Value = serde_json::from_str(section).unwrap();
        let write = |v: &serde_json::Value| std::fs::write(&entry, format!("{head}\n{v}\n")).unwrap();
        // Another policy's section (a different default): refused when decoded.
        v["default_action"] = serde_json::json!("allow");
        write(&v);
        let (c, o) = cache.compile("builtin:web", &host).unwrap();
        assert_eq!(o, Outcome::Hit);
        assert!(c.policy().unwrap_err().contains("another policy"));
        // Not a seccomp section at all.
        write(&serde_json::json!({"rules": 3}));
        let (c, o) = cache.compile("builtin:web", &host).unwrap();
        assert_eq!(o, Outcome::Hit);
        assert!(c.into_compiled().is_err());
        // No section at all: not an entry.
        std::fs::write(&entry, format!("{head}\n")).unwrap();
        assert_eq!(cache.compile("builtin:web", &host).unwrap().1, Outcome::Compiled);
        std::fs::remove_dir_all(&d).unwrap();
    }
}
