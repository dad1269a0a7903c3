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
//! An entry holds a whole [`CompiledPolicy`] ([`entry`] says how): starting reads only this
//! machine's program and the small parts of the policy.
//!
//! The cache is trusted like the binary itself: its directory must belong to the effective
//! user and be private (mode `0700`), entries must belong to that user and not be writable by
//! anyone else, and no symlink is followed. Anything else, or any entry that does not read
//! back, is a miss: the profile is compiled as if there were no cache.

mod entry;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use policy::CompileOptions;
use sha2::{Digest, Sha256};

use crate::compiled::CompiledPolicy;
use crate::paths::{PathError, TooOpen};
use entry::hex;

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
pub enum CacheHit {
    /// Read from the cache.
    Hit,
    /// Compiled (and stored when the cache could be written).
    Compiled,
}

/// A private directory of compiled policies.
#[derive(Debug)]
pub struct CompileCache {
    dir: PathBuf,
}

/// The default directory: `$PALISADE_CACHE_DIR`, else `cache` in this user's runtime
/// directory ([`crate::paths::runtime_dir`]); `None` when there is no private one (no shared
/// `/tmp` cache).
pub fn default_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("PALISADE_CACHE_DIR") {
        return Some(PathBuf::from(d));
    }
    crate::paths::runtime_dir().ok().map(|d| d.join("cache"))
}

impl CompileCache {
    /// Use `dir` (created `0700` when missing), after checking that it is private.
    pub fn open(dir: &Path) -> Result<CompileCache, CacheError> {
        crate::paths::private_dir(dir, TooOpen::Refuse).map_err(|e| match e {
            PathError::NotPrivate { path, why } => CacheError::Untrusted { path, why },
            PathError::Io { path, source } => CacheError::Io { path, source },
            other => {
                CacheError::Io { path: dir.to_path_buf(), source: std::io::Error::other(other.to_string()) }
            }
        })?;
        Ok(CompileCache { dir: dir.to_path_buf() })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Compile `spec` with `opts` (with the program of the machine `opts.tables_for` names),
    /// or reuse the entry of an identical earlier compile. Errors are the compiler's: a cache
    /// that cannot be read or written is a miss.
    pub fn compile(
        &self,
        spec: &str,
        opts: &CompileOptions,
    ) -> Result<(CompiledPolicy, CacheHit), policy::Error> {
        let key = key(spec, opts);
        let path = self.dir.join(format!("{key}.json"));
        if let Some(c) = entry::load(&path, &key) {
            return Ok((c, CacheHit::Hit));
        }
        let compiled = CompiledPolicy::new(policy::compile(spec, opts)?, opts.tables_for);
        if entry::store(&self.dir, &path, &key, &compiled, true, None) {
            prune(&self.dir, MAX_ENTRIES);
        }
        Ok((compiled, CacheHit::Compiled))
    }

    /// Compile the profile `text` (shown as `file`; no `extends` of files), or reuse the entry
    /// of an earlier compile of the same text: the key holds the text's digest.
    pub fn compile_text(
        &self,
        file: &str,
        text: &str,
        opts: &CompileOptions,
    ) -> Result<(CompiledPolicy, CacheHit), policy::Error> {
        let key = key(&format!("text {file} {}", hex(Sha256::digest(text.as_bytes()))), opts);
        let path = self.dir.join(format!("{key}.json"));
        if let Some(c) = entry::load(&path, &key) {
            return Ok((c, CacheHit::Hit));
        }
        let compiled = CompiledPolicy::new(policy::compile_text(file, text, None, opts)?, opts.tables_for);
        if entry::store(&self.dir, &path, &key, &compiled, false, None) {
            prune(&self.dir, MAX_ENTRIES);
        }
        Ok((compiled, CacheHit::Compiled))
    }

    /// Compile `text` (shown as `file`, held in memory) as a layer over `base`, the profile it
    /// `extends`, relative paths against `cwd` (`enforce run`'s flags over `--profile`), or
    /// reuse the entry of an earlier compile: the key holds the text's digest and the base's
    /// canonical path (relative paths in it resolve against its real directory), and the entry
    /// depends on every file the layer extends.
    pub fn compile_layer(
        &self,
        file: &str,
        text: &str,
        base: &str,
        cwd: Option<&Path>,
        opts: &CompileOptions,
    ) -> Result<(CompiledPolicy, CacheHit), policy::Error> {
        let digest = hex(Sha256::digest(text.as_bytes()));
        let real = match base.starts_with("builtin:") {
            true => String::new(),
            false => std::fs::canonicalize(base).map(|p| p.display().to_string()).unwrap_or_default(),
        };
        let key = key(&format!("layer {file} {digest} over {base} real {real}"), opts);
        let path = self.dir.join(format!("{key}.json"));
        if let Some(c) = entry::load(&path, &key) {
            return Ok((c, CacheHit::Hit));
        }
        let compiled = CompiledPolicy::new(policy::compile_text(file, text, cwd, opts)?, opts.tables_for);
        if entry::store(&self.dir, &path, &key, &compiled, true, Some(file)) {
            prune(&self.dir, MAX_ENTRIES);
        }
        Ok((compiled, CacheHit::Compiled))
    }
}

/// [`CompileCache::compile_layer`] in [`default_dir`] when `use_cache` (compiled without a
/// cache when there is none that can be used).
pub fn compile_layer(
    file: &str,
    text: &str,
    base: &str,
    cwd: Option<&Path>,
    opts: &CompileOptions,
    use_cache: bool,
) -> Result<CompiledPolicy, policy::Error> {
    let cached = default_dir().filter(|_| use_cache).and_then(|d| CompileCache::open(&d).ok());
    match cached {
        Some(cache) => Ok(cache.compile_layer(file, text, base, cwd, opts)?.0),
        None => Ok(CompiledPolicy::new(policy::compile_text(file, text, cwd, opts)?, opts.tables_for)),
    }
}

/// [`CompileCache::compile_text`] in [`default_dir`] (compiled without a cache when there is
/// none that can be used): `palisade-runtime` compiles config.json's seccomp section so.
pub fn compile_text(file: &str, text: &str, opts: &CompileOptions) -> Result<CompiledPolicy, policy::Error> {
    let cached = default_dir().and_then(|d| CompileCache::open(&d).ok());
    match cached {
        Some(cache) => Ok(cache.compile_text(file, text, opts)?.0),
        None => Ok(CompiledPolicy::new(policy::compile_text(file, text, None, opts)?, opts.tables_for)),
    }
}

/// Compile `spec` for `enforce`: through the cache in [`default_dir`] when `use_cache` and
/// there is one. Also returns why the cache was not used, when that is worth saying.
pub fn compile(
    spec: &str,
    opts: &CompileOptions,
    use_cache: bool,
) -> Result<(CompiledPolicy, Option<CacheError>), policy::Error> {
    let uncached = || policy::compile(spec, opts).map(|c| CompiledPolicy::new(c, opts.tables_for));
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
    h.update(format!("palisade compile cache {} {}\n", entry::FORMAT, env!("CARGO_PKG_VERSION")));
    match std::fs::metadata("/proc/self/exe") {
        Ok(m) => {
            h.update(format!("exe {} {} {} {} {}\n", m.dev(), m.ino(), m.size(), m.mtime(), m.mtime_nsec()))
        }
        // Without an identity for the binary nothing can be reused safely: a fresh key.
        Err(_) => h.update(format!("exe unknown {:?}\n", std::time::SystemTime::now())),
    }
    let cwd = std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_default();
    h.update(format!("cwd {cwd}\nspec {spec}\noptions {opts:?}\n"));
    // Where the profile is now: a link on its way switched since (a new release's directory)
    // is another profile, whose relative paths resolve elsewhere.
    if !spec.starts_with("builtin:") {
        let real = std::fs::canonicalize(spec).map(|p| p.display().to_string()).unwrap_or_default();
        h.update(format!("real {real}\n"));
    }
    hex(h.finalize())
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

    use entry::StoredProgram;
    use policy::Arch;

    fn tempdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("palisade-cache-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn ir(c: &CompiledPolicy) -> String {
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
            assert_eq!((o1, o2), (CacheHit::Compiled, CacheHit::Hit), "{spec}");
            assert_eq!(ir(&a), ir(&b), "{spec}");
            assert_eq!(a.warnings(), b.warnings());
            assert_eq!(a.digest().unwrap(), b.digest().unwrap(), "{spec}");
            assert!(a.program().is_none() && b.program().is_none(), "no machine named, no program");
        }
        // For a machine: its program comes back with the policy, instruction for instruction.
        let host = CompileOptions { tables_for: Some(Arch::X86_64), ..Default::default() };
        let (a, _) = cache.compile("builtin:docker-default", &host).unwrap();
        let (b, o) = cache.compile("builtin:docker-default", &host).unwrap();
        assert_eq!(o, CacheHit::Hit);
        let (pa, pb) = (a.program().unwrap(), b.program().unwrap());
        assert_eq!(pa.insns, pb.insns);
        assert_eq!((pa.target, &pa.arches, pa.big_endian), (pb.target, &pb.arches, pb.big_endian));
        let fresh = policy::backend::seccomp::bpf::compile(&b.policy().unwrap(), Arch::X86_64).unwrap();
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
        assert_eq!(a.inputs().len(), 2);
        assert_eq!(cache.compile(&spec, &opts).unwrap().1, CacheHit::Hit);
        // The parent widens: the cached policy must not be used.
        std::fs::write(
            &parent,
            "name: parent\nseccomp:\n  default: errno(EPERM)\n  rules:\n    - { allow: [read, write] }\n",
        )
        .unwrap();
        let (b, o) = cache.compile(&spec, &opts).unwrap();
        assert_eq!(o, CacheHit::Compiled);
        assert_ne!(ir(&a), ir(&b));
        assert_ne!(a.digest().unwrap(), b.digest().unwrap());
        assert_eq!(cache.compile(&spec, &opts).unwrap().1, CacheHit::Hit);
        std::fs::write(&child, "name: child2\nextends: parent.yaml\n").unwrap();
        assert_eq!(cache.compile(&spec, &opts).unwrap().1, CacheHit::Compiled);
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
        assert_eq!(cache.compile("builtin:strict", &opts).unwrap().1, CacheHit::Compiled);
        // Garbage: not used (and replaced).
        std::fs::write(&entry, b"{not json").unwrap();
        assert_eq!(cache.compile("builtin:strict", &opts).unwrap().1, CacheHit::Compiled);
        assert_eq!(cache.compile("builtin:strict", &opts).unwrap().1, CacheHit::Hit);
        // A symlink in place of the entry: not followed.
        let real = d.join("elsewhere.json");
        std::fs::rename(&entry, &real).unwrap();
        std::os::unix::fs::symlink(&real, &entry).unwrap();
        assert_eq!(cache.compile("builtin:strict", &opts).unwrap().1, CacheHit::Compiled);
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
        let host = CompileOptions { tables_for: Some(Arch::X86_64), ..Default::default() };
        cache.compile("builtin:web", &all).unwrap();
        let (c, o) = cache.compile("builtin:web", &host).unwrap();
        assert_eq!(o, CacheHit::Compiled);
        assert!(c.tables().unwrap().len() < 18);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn stored_programs_read_back_exactly_and_bad_ones_are_refused() {
        let compiled = policy::compile("builtin:docker-default", &CompileOptions::default()).unwrap();
        let program = |arch| policy::backend::seccomp::bpf::compile(&compiled.policy, arch).unwrap();
        for arch in [Arch::X86_64, Arch::Aarch64, Arch::S390x] {
            let p = program(arch);
            let back = StoredProgram::new(&p).program().unwrap();
            assert_eq!(back.insns, p.insns, "{arch:?}");
            assert_eq!((back.target, &back.arches, back.big_endian), (p.target, &p.arches, p.big_endian));
        }
        let p = program(Arch::X86_64);
        let good = serde_json::to_value(StoredProgram::new(&p)).unwrap();
        let with = |insns: String| {
            let mut v = good.clone();
            v["insns"] = serde_json::json!(insns);
            serde_json::from_value::<StoredProgram>(v).unwrap().program()
        };
        let text = good["insns"].as_str().unwrap().to_string();
        assert!(with(text[..text.len() - 1].to_string()).is_none(), "a cut instruction");
        assert!(with(text.replacen('0', "g", 1)).is_none(), "not hex");
        assert!(with(text.replacen('0', "é", 1)).is_none(), "not ASCII");
        assert!(with(text.replacen('0', "+", 1)).is_none(), "a sign is not a digit");
    }

    #[test]
    fn a_seccomp_section_that_does_not_decode_is_an_error_not_a_different_policy() {
        let d = tempdir("detail");
        let dir = d.join("c");
        let cache = CompileCache::open(&dir).unwrap();
        let host = CompileOptions { tables_for: Some(Arch::X86_64), ..Default::default() };
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
        assert_eq!(o, CacheHit::Hit);
        assert!(c.policy().unwrap_err().contains("another policy"));
        // Not a seccomp section at all.
        write(&serde_json::json!({"rules": 3}));
        let (c, o) = cache.compile("builtin:web", &host).unwrap();
        assert_eq!(o, CacheHit::Hit);
        assert!(c.policy().is_err());
        // No section at all: not an entry.
        std::fs::write(&entry, format!("{head}\n")).unwrap();
        assert_eq!(cache.compile("builtin:web", &host).unwrap().1, CacheHit::Compiled);
        std::fs::remove_dir_all(&d).unwrap();
    }
}
