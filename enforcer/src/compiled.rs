//! [`CompiledPolicy`]: the one artifact between the compiler and everything that applies a
//! policy (the launcher, runtime-lite, `enforce exec`), and the unit the compile cache stores.
//!
//! It holds a whole compile: the policy, its warnings, the profile files it came from, and,
//! when it was compiled for this machine, the seccomp program this machine runs. Starting a
//! workload needs the program and the small parts of the policy (process, capabilities,
//! Landlock, isolation); the seccomp rules and per-arch tables are most of the policy's size,
//! so they are held apart and, when the cache stored them, decoded only when something asks
//! (a report's verdict counts, a program for another machine, the whole policy).
//!
//! Invariant: the seccomp section belongs to this policy. It is never exposed as a policy
//! with its rules missing: [`CompiledPolicy::policy`] gives the whole policy, the accessors
//! give the parts that are always present.

use std::cell::OnceCell;
use std::collections::BTreeMap;

use policy::backend::seccomp::bpf::{self, Program};
use policy::ir::pathvars::{self, PathVar};
use policy::ir::{ArchTable, CapsIr, IsolationIr, LandlockIr, MountIr, ProcessIr, RuleIr, SeccompIr};
use policy::{Action, Arch, Compiled, Diagnostic, Input, Policy};
use sha2::{Digest, Sha256};

/// The seccomp rules and tables of a policy.
#[derive(Clone, Debug)]
struct Section {
    rules: Vec<RuleIr>,
    tables: BTreeMap<String, ArchTable>,
}

/// A compiled policy, ready to plan from.
#[derive(Clone, Debug)]
pub struct CompiledPolicy {
    /// The policy; its seccomp rules and tables are in `section`.
    head: Policy,
    /// The seccomp section as the cache stored it (JSON of the whole `SeccompIr`), if it came
    /// from there.
    encoded: Option<String>,
    /// The seccomp section, decoded (at once for a fresh compile, on demand from `encoded`).
    section: OnceCell<Result<Section, String>>,
    warnings: Vec<Diagnostic>,
    inputs: Vec<Input>,
    program: Option<Program>,
    digest: OnceCell<String>,
}

impl CompiledPolicy {
    /// A fresh compile; with `machine`, that machine's seccomp program is compiled now (a
    /// policy that cannot run there gets none: the plan says why).
    pub fn new(compiled: Compiled, machine: Option<Arch>) -> CompiledPolicy {
        let program = machine.and_then(|host| {
            let target = bpf::target_for(&compiled.policy, Some(host), Some(host)).ok()?;
            bpf::compile(&compiled.policy, target).ok()
        });
        let Compiled { mut policy, warnings, inputs } = compiled;
        let s = &mut policy.seccomp;
        let section = Section { rules: std::mem::take(&mut s.rules), tables: std::mem::take(&mut s.tables) };
        CompiledPolicy {
            head: policy,
            encoded: None,
            section: OnceCell::from(Ok(section)),
            warnings,
            inputs,
            program,
            digest: OnceCell::new(),
        }
    }

    /// A compile as the cache stored it: `head` without its seccomp rules and tables,
    /// `section` the JSON of its whole seccomp section. `None` when `head` holds rules or
    /// tables (it is not such a head).
    pub(crate) fn stored(
        head: Policy,
        section: String,
        warnings: Vec<Diagnostic>,
        inputs: Vec<Input>,
        program: Option<Program>,
        digest: String,
    ) -> Option<CompiledPolicy> {
        if !head.seccomp.rules.is_empty() || !head.seccomp.tables.is_empty() {
            return None;
        }
        Some(CompiledPolicy {
            head,
            encoded: Some(section),
            section: OnceCell::new(),
            warnings,
            inputs,
            program,
            digest: OnceCell::from(digest),
        })
    }

    /// The profile's name.
    pub fn name(&self) -> &str {
        &self.head.name
    }

    /// The workload process: user, no_new_privs, securebits, rlimits.
    pub fn process(&self) -> &ProcessIr {
        &self.head.process
    }

    /// The capability sets.
    pub fn capabilities(&self) -> &CapsIr {
        &self.head.capabilities
    }

    /// The Landlock tier.
    pub fn landlock(&self) -> &LandlockIr {
        &self.head.landlock
    }

    /// The isolation tier.
    pub fn isolation(&self) -> &IsolationIr {
        &self.head.isolation
    }

    /// The arches the seccomp filter accepts.
    pub fn arches(&self) -> &[Arch] {
        &self.head.seccomp.arches
    }

    /// The seccomp default verdict.
    pub fn default_action(&self) -> Action {
        self.head.seccomp.default_action
    }

    /// The warnings of the compile.
    pub fn warnings(&self) -> &[Diagnostic] {
        &self.warnings
    }

    /// Every profile file the compile read (built-ins excluded), with its text.
    pub fn inputs(&self) -> &[Input] {
        &self.inputs
    }

    /// The seccomp program of the machine it was compiled for, if any.
    pub fn program(&self) -> Option<&Program> {
        self.program.as_ref()
    }

    /// The program for a kernel of arch `target`: the stored one when it is for `target`,
    /// else compiled now from the seccomp section.
    pub fn program_for(&self, target: Arch) -> Result<Program, String> {
        match &self.program {
            Some(p) if p.target == target => Ok(p.clone()),
            _ => bpf::compile(&self.policy()?, target).map_err(|e| e.to_string()),
        }
    }

    /// The kernel arch whose program a machine of arch `host` needs.
    pub fn target_for(&self, host: Arch) -> Result<Arch, String> {
        // The target depends only on the accepted arches, which the head keeps.
        bpf::target_for(&self.head, Some(host), Some(host)).map_err(|e| e.to_string())
    }

    /// The per-arch seccomp tables (decoded on first use).
    pub fn tables(&self) -> Result<&BTreeMap<String, ArchTable>, String> {
        self.section().map(|s| &s.tables)
    }

    /// The whole policy (a copy).
    pub fn policy(&self) -> Result<Policy, String> {
        let s = self.section()?;
        let mut p = self.head.clone();
        (p.seccomp.rules, p.seccomp.tables) = (s.rules.clone(), s.tables.clone());
        Ok(p)
    }

    /// SHA-256 of the whole policy (of its head, then its seccomp section, each as JSON):
    /// what a detached container records, so that `enforce exec` refuses a changed profile.
    pub fn digest(&self) -> Result<&str, String> {
        if let Some(d) = self.digest.get() {
            return Ok(d);
        }
        let (head, section) = self.json()?;
        Ok(self.digest.get_or_init(|| digest_of(&head, &section)))
    }

    /// The head and the seccomp section as JSON (what the cache stores).
    pub(crate) fn json(&self) -> Result<(String, String), String> {
        let head = serde_json::to_string(&self.head).map_err(|e| e.to_string())?;
        let section = match &self.encoded {
            Some(json) => json.clone(),
            None => {
                let s = self.section()?;
                let full = SeccompIr {
                    rules: s.rules.clone(),
                    tables: s.tables.clone(),
                    ..self.head.seccomp.clone()
                };
                serde_json::to_string(&full).map_err(|e| e.to_string())?
            }
        };
        Ok((head, section))
    }

    /// Substitute the path variables of Landlock paths, `rootfs` and bind sources with the
    /// values `lookup` gives (see [`policy::ir::pathvars`]). The digest stays that of the policy
    /// as compiled (symbolic), so a container and `enforce exec` into it agree wherever each
    /// runs. Returns every variable used, with its value (for the report and the container's
    /// state).
    pub fn expand_paths(
        &mut self,
        lookup: impl Fn(&PathVar) -> Option<String>,
    ) -> Result<BTreeMap<String, String>, String> {
        let iso = &self.head.isolation;
        let bind_sources = iso.mounts.iter().filter_map(|m| match m {
            MountIr::Bind { source, .. } => Some(source.as_str()),
            MountIr::Tmpfs { .. } => None,
        });
        let mut paths = self.head.landlock.filesystem.iter().map(|r| r.path.as_str()).chain(bind_sources);
        let symbolic = paths.any(pathvars::is_symbolic)
            || [&iso.rootfs, &self.head.process.workdir]
                .into_iter()
                .flatten()
                .any(|p| pathvars::is_symbolic(p));
        if !symbolic {
            // Nothing to expand (the usual case): the digest is not needed yet either.
            return Ok(BTreeMap::new());
        }
        // Taken before any path changes: the digest is that of the policy as compiled.
        self.digest()?;
        let mut used = BTreeMap::new();
        let mut expand = |path: &mut String, what: &str| -> Result<(), String> {
            if !pathvars::is_symbolic(path) {
                return Ok(());
            }
            let value = |v: &PathVar| {
                let got = lookup(v);
                if let Some(x) = &got {
                    used.insert(v.to_string(), x.clone());
                }
                got
            };
            *path = pathvars::expand(path, value).map_err(|e| format!("{what} `{path}`: {e}"))?;
            Ok(())
        };
        let l = &mut self.head.landlock;
        for rule in &mut l.filesystem {
            let at = rule.origins.first().map(|o| format!(" ({o})")).unwrap_or_default();
            expand(&mut rule.path, &format!("landlock path{at}"))?;
        }
        // Two rules may now name one path: one rule, as the compiler merges them.
        l.filesystem.sort_by(|a, b| a.path.cmp(&b.path));
        l.filesystem.dedup_by(|b, a| {
            let same = a.path == b.path;
            if same {
                a.access |= b.access;
                a.origins.append(&mut b.origins);
            }
            same
        });
        if let Some(w) = &mut self.head.process.workdir {
            expand(w, "workdir")?;
        }
        let iso = &mut self.head.isolation;
        if let Some(r) = &mut iso.rootfs {
            expand(r, "rootfs")?;
        }
        for m in &mut iso.mounts {
            if let MountIr::Bind { source, .. } = m {
                expand(source, "bind source")?;
            }
        }
        Ok(used)
    }

    /// The head as it is stored (for the cache).
    pub(crate) fn head(&self) -> &Policy {
        &self.head
    }

    fn section(&self) -> Result<&Section, String> {
        self.section
            .get_or_init(|| decode(&self.head.seccomp, self.encoded.as_deref()))
            .as_ref()
            .map_err(Clone::clone)
    }
}

/// The digest of a policy stored as `head` and `section` JSON.
pub(crate) fn digest_of(head: &str, section: &str) -> String {
    let mut h = Sha256::new();
    h.update(head.as_bytes());
    h.update(b"\n");
    h.update(section.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Decode a stored seccomp section, refusing one that belongs to another policy.
fn decode(head: &SeccompIr, encoded: Option<&str>) -> Result<Section, String> {
    let json = encoded.ok_or("the seccomp section is missing")?;
    let full: SeccompIr = serde_json::from_str(json).map_err(|e| format!("stored seccomp section: {e}"))?;
    if (full.default_action, full.unknown_action, &full.enosys_after, &full.arches)
        != (head.default_action, head.unknown_action, &head.enosys_after, &head.arches)
    {
        return Err("stored seccomp section belongs to another policy".into());
    }
    Ok(Section { rules: full.rules, tables: full.tables })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compiled(spec: &str) -> CompiledPolicy {
        let opts = policy::CompileOptions { tables_for: Some(Arch::X86_64), ..Default::default() };
        CompiledPolicy::new(policy::compile(spec, &opts).unwrap(), Some(Arch::X86_64))
    }

    #[test]
    fn a_stored_compile_gives_back_the_same_policy_digest_and_program() {
        for spec in ["builtin:docker-default", "builtin:web", "builtin:strict", "builtin:build"] {
            let fresh = compiled(spec);
            let (head, section) = fresh.json().unwrap();
            let head: Policy = serde_json::from_str(&head).unwrap();
            let program = fresh.program().cloned();
            let digest = fresh.digest().unwrap().to_string();
            let stored =
                CompiledPolicy::stored(head, section, vec![], vec![], program, digest.clone()).unwrap();
            let json = |p: Policy| serde_json::to_string(&p).unwrap();
            assert_eq!(json(stored.policy().unwrap()), json(fresh.policy().unwrap()), "{spec}");
            assert_eq!(stored.digest().unwrap(), digest);
            // Computed again from the stored parts, the digest is the same.
            let (h, s) = stored.json().unwrap();
            assert_eq!(digest_of(&h, &s), digest);
            let target = fresh.target_for(Arch::X86_64).unwrap();
            assert_eq!(stored.program_for(target).unwrap().insns, fresh.program_for(target).unwrap().insns);
            // For another target the program is compiled from the decoded section.
            match bpf::compile(&fresh.policy().unwrap(), Arch::X86) {
                Ok(i386) => assert_eq!(stored.program_for(Arch::X86).unwrap().insns, i386.insns, "{spec}"),
                Err(_) => assert!(stored.program_for(Arch::X86).is_err(), "{spec}"),
            }
        }
    }

    #[test]
    fn path_variables_are_expanded_for_a_run_and_the_digest_stays_symbolic() {
        let yaml = "name: t\nlandlock:\n  filesystem:\n    - { path: \"${CWD}\", access: [read] }\n    - { path: /w, access: [write] }\n    - { path: \"${HOME}/.cache\", access: [read] }\nisolation:\n  rootfs: \"${HOME}/r\"\n  mounts: [{ type: bind, source: \"${env:DATA}\", target: /d }]\n";
        let opts = policy::CompileOptions { tables_for: Some(Arch::X86_64), ..Default::default() };
        let c = || CompiledPolicy::new(policy::compile_text("t.yaml", yaml, None, &opts).unwrap(), None);
        let values = |v: &PathVar| match v {
            PathVar::Cwd => Some("/w".to_string()),
            PathVar::Home => Some("/home/ann".to_string()),
            PathVar::Env(n) if n == "DATA" => Some("/srv/data".to_string()),
            _ => None,
        };
        let mut x = c();
        let digest = x.digest().unwrap().to_string();
        let used = x.expand_paths(values).unwrap();
        assert_eq!(used.keys().collect::<Vec<_>>(), ["CWD", "HOME", "env:DATA"]);
        let g = |n| policy::vocab::FsAccess::parse_group(n).unwrap();
        let paths: Vec<(&str, policy::vocab::FsAccess)> =
            x.landlock().filesystem.iter().map(|r| (r.path.as_str(), r.access)).collect();
        // ${CWD} is /w here: the two rules are one, with both rights.
        assert_eq!(paths, [("/home/ann/.cache", g("read")), ("/w", g("read") | g("write"))]);
        assert_eq!(x.isolation().rootfs.as_deref(), Some("/home/ann/r"));
        assert!(matches!(&x.isolation().mounts[0], MountIr::Bind { source, .. } if source == "/srv/data"));
        assert_eq!(x.digest().unwrap(), digest);
        // A variable without a value: refused, naming the path and where it is written.
        let e = c().expand_paths(|v| (*v != PathVar::Home).then(|| "/w".to_string())).unwrap_err();
        assert!(e.contains("landlock path (t.yaml:6:7) `${HOME}/.cache`: ${HOME} has no value here"), "{e}");
    }

    #[test]
    fn a_section_of_another_policy_is_refused_when_decoded() {
        let fresh = compiled("builtin:web");
        let (head, section) = fresh.json().unwrap();
        let mut v: serde_json::Value = serde_json::from_str(&section).unwrap();
        v["default_action"] = serde_json::json!("allow");
        let head: Policy = serde_json::from_str(&head).unwrap();
        let stored =
            CompiledPolicy::stored(head.clone(), v.to_string(), vec![], vec![], None, String::new()).unwrap();
        assert!(stored.policy().unwrap_err().contains("another policy"));
        assert!(stored.tables().is_err());
        let garbage =
            CompiledPolicy::stored(head, "{\"rules\": 3}".into(), vec![], vec![], None, String::new())
                .unwrap();
        assert!(garbage.policy().is_err());
        // A head that still holds its rules is not a stored head.
        let whole = fresh.policy().unwrap();
        assert!(CompiledPolicy::stored(whole, section, vec![], vec![], None, String::new()).is_none());
    }
}
