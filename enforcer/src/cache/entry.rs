//! One cache entry on disk: a first line of JSON with the key, the files the compile read (and
//! their SHA-256), the warnings, the policy's head, this machine's program and the policy's
//! digest; then a second line, the JSON of the policy's whole seccomp section, which a start
//! never parses ([`CompiledPolicy`] decodes it when asked).

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use policy::backend::seccomp::bpf::insn::SockFilter;
use policy::backend::seccomp::bpf::Program;
use policy::{Arch, Diagnostic, Input, Policy};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::compiled::{digest_of, CompiledPolicy};

/// Version of the entry format (part of the key).
pub(super) const FORMAT: u32 = 6;

#[derive(Serialize, Deserialize)]
struct Dep {
    path: String,
    sha256: String,
}

/// The first line.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Head<P> {
    format: u32,
    key: String,
    deps: Vec<Dep>,
    warnings: Vec<Diagnostic>,
    /// The policy without its seccomp rules and tables (they are on the next line).
    policy: P,
    program: Option<StoredProgram>,
    digest: String,
}

/// A seccomp program as stored: its instructions as one hex string, 16 digits each (code,
/// jt, jf, k), which reads back much faster than a JSON array of numbers.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StoredProgram {
    target: String,
    arches: Vec<String>,
    big_endian: bool,
    insns: String,
}

impl StoredProgram {
    pub(super) fn new(p: &Program) -> StoredProgram {
        let insns =
            p.insns.iter().map(|i| format!("{:04x}{:02x}{:02x}{:08x}", i.code, i.jt, i.jf, i.k)).collect();
        StoredProgram {
            target: p.target.name().to_string(),
            arches: p.arches.iter().map(|a| a.name().to_string()).collect(),
            big_endian: p.big_endian,
            insns,
        }
    }

    pub(super) fn program(self) -> Option<Program> {
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

pub(super) fn hex(d: impl AsRef<[u8]>) -> String {
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
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

/// The entry at `path`, if it is one of ours for `key` and every file it depends on is
/// unchanged.
pub(super) fn load(path: &Path, key: &str) -> Option<CompiledPolicy> {
    let mut text = String::new();
    open_private(path)?.read_to_string(&mut text).ok()?;
    let nl = text.find('\n')?;
    if text.len() < nl + 3 || !text.ends_with('\n') {
        return None; // no seccomp section
    }
    let e: Head<Policy> = serde_json::from_str(&text[..nl]).ok()?;
    if e.format != FORMAT || e.key != key {
        return None;
    }
    let mut inputs = Vec::with_capacity(e.deps.len());
    for d in &e.deps {
        // As the compiler reads it: a regular file within the size limit, never a FIFO.
        let text = policy::frontend::loader::from_disk(std::path::Path::new(&d.path)).ok()?;
        let input = Input { file: d.path.clone(), text };
        if dep(&input).sha256 != d.sha256 {
            return None;
        }
        inputs.push(input);
    }
    let program = match e.program {
        Some(p) => Some(p.program()?),
        None => None,
    };
    // The section is the rest of the text: moved to the front of the same buffer, not copied
    // into a new one.
    text.pop();
    text.drain(..=nl);
    CompiledPolicy::stored(e.policy, text, e.warnings, inputs, program, e.digest)
}

/// Write the entry next to its final name, then rename it into place (readers never see half
/// an entry). Best effort: a cache that cannot be written only costs the next compile.
/// `files`: whether the entry depends on the policy's input files; `in_memory` names the one
/// that is not a file (a text compiled from memory, whose digest is in the key).
pub(super) fn store(
    dir: &Path,
    path: &Path,
    key: &str,
    c: &CompiledPolicy,
    files: bool,
    in_memory: Option<&str>,
) -> bool {
    let Ok((head, section)) = c.json() else { return false };
    let entry = Head {
        format: FORMAT,
        key: key.to_string(),
        deps: match files {
            true => c.inputs().iter().filter(|i| Some(i.file.as_str()) != in_memory).map(dep).collect(),
            false => Vec::new(),
        },
        warnings: c.warnings().to_vec(),
        policy: c.head(),
        program: c.program().map(StoredProgram::new),
        digest: digest_of(&head, &section),
    };
    let mut json = match serde_json::to_vec(&entry) {
        Ok(j) => j,
        Err(_) => return false,
    };
    json.push(b'\n');
    json.extend_from_slice(section.as_bytes());
    json.push(b'\n');
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
        return false;
    }
    true
}
