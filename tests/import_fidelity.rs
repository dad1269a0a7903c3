//! Fidelity of `policyc import` on real-world Docker/OCI seccomp profiles (issue 15): every
//! file of the corpus is imported, compiled, and its x86-64 BPF compared with libseccomp's
//! filter of the ORIGINAL JSON (built as runc builds it, `tests/common/scmp.rs`), under three
//! capability sets: Docker's default, none, all. Both programs run in our interpreter at every
//! number 0..=1023 of x86-64, of x86 and of x32 (when the profile's archMap gives x86-64 those
//! sub-arches), at the boundary arguments of every condition of the import and of the JSON,
//! and at a foreign arch.
//!
//! The permissively licensed files (MIT, Apache-2.0, BSD, CC-BY) are in
//! `tests/fixtures/seccomp-corpus/` (`LICENSES.md` names each one's source and license); the
//! others are read from `../shared/data/seccomp-corpus/` when that directory exists.
//!
//! Accepted differences (each is [`Accepted`], checked precisely where it is found):
//! - [`Accepted::LowWord`]: on x86-64 (and x86-64's sub-arches), an argument whose C type is
//!   32 bits wide (`arg_width`) is compared on its low word by Palisade, on 64 bits by
//!   libseccomp (CVE-2019-7303): accepted when the two agree once the high word of every such
//!   argument is cleared.
//! - [`Accepted::X32LowWord`]: on x32 libseccomp compares the low word of every argument,
//!   Palisade the full 64 bits of a 64-bit argument: accepted when libseccomp's verdict is
//!   Palisade's on the arguments with every high word cleared.
//! - [`Accepted::UnknownToLibseccomp`]: a name the libseccomp linked here cannot resolve on
//!   x86-64 (newer than its table) is skipped by runc, so libseccomp gives the number its
//!   default action; the import keeps the rule (a newer runc + libseccomp applies it).
//! - [`Accepted::ForeignArch`]: a call of an arch the filter does not list is KILL_PROCESS in
//!   Palisade, KILL_THREAD (libseccomp's default bad-arch action) in libseccomp.
//! - [`Accepted::Socketcall`]: on x86, libseccomp also applies a rule for `socket`, `connect`...
//!   to `socketcall(SYS_*)` and drops its argument conditions there; Palisade applies the
//!   rules to the direct syscalls only and gives `socketcall` its own verdict: accepted for the
//!   `socketcall` number of x86 only, where Palisade's verdict does not permit the call.
//!
//! Palisade's implicit `clone3` → ENOSYS (where `clone` is argument-filtered) is not accepted
//! either: runc adds no such rule, and the import writes `clone3_fallback: false`.
//!
//! The oracle is libseccomp as linked (2.5 on Debian 12), with runc's ENOSYS stub in front of
//! it ([`RuncStub`]; runc's `libcontainer/seccomp/patchbpf/enosys_linux.go`): unless the
//! default action is allow, log or trace, a number above the largest number that the entries
//! Docker keeps (whatever their action) name on the arch gets ENOSYS. The import must say the
//! same (`unknown: enosys-after-named`): no difference is accepted for it.
//!
//! Where `tests/common/scmp.rs` reads the JSON differently from runc, the JSON given to it is
//! first rewritten to what runc reads ([`as_runc_reads`]): an `SCMP_ACT_ERRNO` entry without
//! `errnoRet` is EPERM in runc (not `defaultErrnoRet`), `SCMP_ACT_TRACE` without it is trace
//! data EPERM (1), for the default action too, and an entry that tests one argument index twice
//! is one rule per condition.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::scmp;
use policy::backend::seccomp::bpf::{self, interp, SeccompData, SockFilter};
use policy::formats::docker::DockerProfile;
use policy::frontend::profile::Capabilities;
use policy::frontend::spanned::Sp;
use policy::import::{import, parse_docker, to_yaml};
use policy::ir::{points, ArgCondIr, ArgOp};
use policy::syscalls::{table, widths::arg_width, Arch};
use policy::{compile_text, Action, CompileOptions, Policy};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/seccomp-corpus");
const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data/seccomp-corpus");

/// The corpus files that are not permissively licensed: read from `../shared` only.
const SHARED_ONLY: [&str; 10] = [
    "chaitin__SafeLine__seccomp.json",
    "geohot__battlechess__seccomp.json",
    "ihac__Cessa__profiles_httpd-test.profile.json",
    "ihac__Cessa__profiles_nginx-test.profile.json",
    "ihac__Cessa__profiles_tomcat-test.profile.json",
    "kehanlu__OnlineJudge-Lite__seccomp.json",
    "minio__directpv__seccomp.json",
    "netdata__kernel-collector__seccomp.json",
    "s3fs-fuse__s3fs-fuse__seccomp.json",
    "sio2project__oioioi__extra_docker_seccomp.json",
];

/// What the test expects of a file other than "the import keeps libseccomp's meaning".
const NOT_IMPORTABLE: [(&str, &str); 2] = [
    // Docker refuses it too: it is not JSON (a `#` comment line, as shipped).
    ("s3fs-fuse__s3fs-fuse__seccomp.json", "not JSON"),
    // Docker's pre-release format (`default_action`, numeric actions): no Docker release reads it.
    ("moby__moby__profiles_seccomp_default_20160208-d57816de02.json", "pre-release format"),
];

/// A documented difference between the import and libseccomp.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Accepted {
    LowWord,
    X32LowWord,
    UnknownToLibseccomp,
    ForeignArch,
    Socketcall,
}

/// The three capability sets a container may run with.
#[derive(Clone, Copy, Debug)]
enum CapSet {
    Docker,
    None,
    All,
}

/// The comparison under one capability set.
#[derive(Debug)]
struct SetResult {
    caps: CapSet,
    /// Differences not accepted.
    differ: usize,
    /// The first few of them.
    examples: Vec<String>,
    /// Accepted differences by kind.
    accepted: BTreeMap<Accepted, usize>,
    /// Instructions of the import's x86-64 program and of libseccomp's binary tree.
    lengths: (usize, usize),
}

/// The file's outcome.
#[derive(Debug)]
enum Outcome {
    /// Not valid Docker JSON (Docker refuses it too).
    NotJson(String),
    /// The import or the compile of its result failed.
    Failed(String),
    /// libseccomp refuses to build the filter (so runc cannot start a container with it).
    LibseccompRefuses(String),
    /// Compared under each capability set.
    Compared(Vec<SetResult>),
}

impl Outcome {
    fn keeps_meaning(&self) -> bool {
        matches!(self, Outcome::Compared(sets) if sets.iter().all(|r| r.differ == 0))
    }

    fn summary(&self) -> String {
        match self {
            Outcome::NotJson(e) => format!("not Docker JSON: {e}"),
            Outcome::Failed(e) => format!("failed: {e}"),
            Outcome::LibseccompRefuses(e) => format!("libseccomp refuses it: {e}"),
            Outcome::Compared(sets) => sets
                .iter()
                .map(|r| {
                    format!(
                        "{:?}: {} differ, accepted {:?}, {} instructions against libseccomp's {}",
                        r.caps, r.differ, r.accepted, r.lengths.0, r.lengths.1
                    )
                })
                .collect::<Vec<_>>()
                .join("; "),
        }
    }
}

/// Every corpus file: (name, path), the fixtures first.
fn corpus() -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let mut add = |dir: &Path, only: Option<&[&str]>| {
        let Ok(list) = std::fs::read_dir(dir) else { return };
        let mut files: Vec<PathBuf> = list
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        for p in files {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
            if only.is_none_or(|o| o.contains(&name.as_str())) {
                out.push((name, p));
            }
        }
    };
    add(Path::new(FIXTURES), None);
    add(Path::new(SHARED), Some(&SHARED_ONLY));
    out
}

/// The JSON as runc reads it, for `scmp::filter` (see the module comment), and the trace data
/// runc gives a default `SCMP_ACT_TRACE` (`None` when the default is not trace).
fn as_runc_reads(d: &DockerProfile) -> (DockerProfile, Option<u16>) {
    let mut d = d.clone();
    let mut split = Vec::new();
    for mut s in std::mem::take(&mut d.syscalls) {
        if matches!(s.action.as_str(), "SCMP_ACT_ERRNO" | "SCMP_ACT_TRACE") && s.errno_ret.is_none() {
            s.errno_ret = Some(1);
        }
        // runc adds an entry that tests one argument index twice as one rule per condition.
        let args = s.args.clone().unwrap_or_default();
        let repeated = args.iter().enumerate().any(|(i, a)| args[..i].iter().any(|b| b.index == a.index));
        if repeated {
            for a in args {
                let mut one = s.clone();
                one.args = Some(vec![a]);
                split.push(one);
            }
        } else {
            split.push(s);
        }
    }
    d.syscalls = split;
    let trace = (d.default_action == "SCMP_ACT_TRACE").then(|| d.default_errno_ret.unwrap_or(1) as u16);
    (d, trace)
}

fn with_caps(
    profile: &policy::frontend::profile::Profile,
    caps: CapSet,
) -> policy::frontend::profile::Profile {
    let mut p = profile.clone();
    let add: Vec<String> = match caps {
        CapSet::Docker => policy::vocab::caps::DOCKER_DEFAULT.iter().map(|c| c.to_string()).collect(),
        CapSet::None => vec![],
        CapSet::All => vec!["ALL".into()],
    };
    p.capabilities =
        Some(Capabilities { add: add.into_iter().map(Sp::new).collect(), ..Capabilities::default() });
    p
}

fn run(prog: &[SockFilter], arch: u32, nr: u32, args: [u64; 6]) -> Action {
    let d = SeccompData { nr, arch, instruction_pointer: 0, args };
    Action::from_ret(interp::run(prog, &d, false).ret)
}

/// The conditions the JSON gives `name`, as IR conditions (for boundary points only).
fn json_conds(d: &DockerProfile, name: &str) -> Vec<ArgCondIr> {
    let mut out = Vec::new();
    for s in d.syscalls.iter().filter(|s| s.names.iter().chain(s.name.iter()).any(|n| n == name)) {
        for a in s.args.iter().flatten() {
            let masked = a.op == "SCMP_CMP_MASKED_EQ";
            out.push(ArgCondIr {
                index: a.index.min(5) as u8,
                width: 64,
                op: if masked { ArgOp::MaskedEq } else { ArgOp::Eq },
                values: vec![if masked { a.value_two & a.value } else { a.value }],
                mask: masked.then_some(a.value),
            });
        }
    }
    out
}

/// runc's ENOSYS stub for the JSON under some capabilities: per arch of the filter, the largest
/// number named (the stub answers ENOSYS above it).
///
/// As `generatePatch` and `findLastSyscalls` do: no stub when the default action is allow, log
/// or trace (`isAllowAction`; runc also means to skip it when defaultErrnoRet is ENOSYS, but
/// compares that errno with the whole `SCMP_ACT_ERRNO(ENOSYS)` value, so it never does: the
/// stub then answers what the default answers anyway). Every name of every entry Docker hands
/// runc counts, an entry whose action is the default included (runc drops those only when it
/// adds rules to libseccomp, after the stub's numbers are taken), each looked up in the arch's
/// table; an arch where that finds nothing, or only 0, gets no stub. Numbers are compared whole:
/// x32's carry the x32 bit, in the numbers the stub compares and in its largest one. Names are
/// looked up in Palisade's tables, not libseccomp 2.5's: as for [`Accepted::UnknownToLibseccomp`],
/// this is runc with a libseccomp that knows every name. (runc's stub also answers ENOSYS at 0
/// on s390x; only the x86 arches are compared here.)
struct RuncStub {
    above: BTreeMap<Arch, u32>,
}

impl RuncStub {
    fn new(d: &DockerProfile, granted: &[String], arches: &[Arch]) -> RuncStub {
        let mut above = BTreeMap::new();
        if matches!(d.default_action.as_str(), "SCMP_ACT_ALLOW" | "SCMP_ACT_LOG" | "SCMP_ACT_TRACE") {
            return RuncStub { above };
        }
        let kept = scmp::kept(d, granted);
        for &arch in arches {
            let t = table::table(arch).expect("table");
            let max =
                kept.iter().flat_map(|s| s.names.iter().chain(s.name.iter())).filter_map(|n| t.nr(n)).max();
            if let Some(m) = max.filter(|m| *m != 0) {
                above.insert(arch, m);
            }
        }
        RuncStub { above }
    }

    /// runc's verdict: ENOSYS above the arch's largest number, else libseccomp's (`theirs`).
    fn verdict(&self, arch: Arch, nr: u32, theirs: Action) -> Action {
        match self.above.get(&arch) {
            Some(m) if nr > *m => Action::Errno(38),
            _ => theirs,
        }
    }
}

fn compare(
    file: &str,
    d: &DockerProfile,
    p: &Policy,
    theirs: &[SockFilter],
    trace: Option<u16>,
    granted: &[String],
) -> (usize, Vec<String>, BTreeMap<Accepted, usize>) {
    let ours = bpf::compile(p, Arch::X86_64).unwrap_or_else(|e| panic!("{file}: {e}"));
    let unknown = scmp::unknown_names(d);
    let their_default = scmp_default(d, trace);
    // libseccomp's filter has x86-64 and the sub-arches archMap gives it.
    let subs: Vec<Arch> = d
        .arch_map
        .iter()
        .filter(|m| m.architecture == "SCMP_ARCH_X86_64")
        .flat_map(|m| m.sub_architectures.iter().flatten())
        .filter_map(|a| Arch::parse(a))
        .collect();
    let mut arches = vec![Arch::X86_64];
    for a in [Arch::X86, Arch::X32] {
        if subs.contains(&a) && p.seccomp.arches.contains(&a) {
            arches.push(a);
        }
    }
    // The filter runc loads: its ENOSYS stub in front of libseccomp's program (the arches of
    // libseccomp's filter: x86-64 and the sub-arches of the archMap).
    let mut filter_arches = vec![Arch::X86_64];
    filter_arches.extend(subs.iter().copied().filter(|a| matches!(a, Arch::X86 | Arch::X32)));
    let stub = RuncStub::new(d, granted, &filter_arches);
    let runc = |arch: Arch, nr: u32, args: [u64; 6]| {
        // scmp.rs gives a default SCMP_ACT_TRACE the data 0; runc gives it defaultErrnoRet or 1.
        let theirs = match (run(theirs, arch.audit_arch(), nr, args), trace) {
            (Action::Trace(0), Some(t)) => Action::Trace(t),
            (a, _) => a,
        };
        stub.verdict(arch, nr, theirs)
    };
    let mut bad = Vec::new();
    let mut count = 0;
    let mut accepted: BTreeMap<Accepted, usize> = BTreeMap::new();
    for arch in arches {
        let t = table::table(arch).expect("table");
        let at = p.seccomp.tables.get(arch.name());
        for n in 0..=1023u32 {
            let nr = if arch == Arch::X32 { n | 0x4000_0000 } else { n };
            let name = t.name(nr).or_else(|| t.name(n));
            let mut conds: Vec<ArgCondIr> = name.map(|s| json_conds(d, s)).unwrap_or_default();
            if let Some(sc) = name.and_then(|s| at.and_then(|at| at.syscalls.get(s))) {
                conds.extend(sc.conditional.iter().flat_map(|c| c.args.iter().cloned()));
            }
            let refs: Vec<&ArgCondIr> = conds.iter().collect();
            for args in points::vectors(&refs, 4_000) {
                let a = ours.simulate(arch.audit_arch(), nr, args).action;
                let b = runc(arch, nr, args);
                if a == b {
                    continue;
                }
                let low = |args: [u64; 6], all: bool| {
                    let mut l = args;
                    for (i, v) in l.iter_mut().enumerate() {
                        if all || name.is_some_and(|s| arg_width(s, i as u8) == 32) {
                            *v &= u64::from(u32::MAX);
                        }
                    }
                    l
                };
                let why = if name.is_some_and(|s| unknown.iter().any(|u| u == s)) && b == their_default {
                    Some(Accepted::UnknownToLibseccomp)
                } else if arch == Arch::X32
                    && b == ours.simulate(arch.audit_arch(), nr, low(args, true)).action
                {
                    Some(Accepted::X32LowWord)
                } else if arch != Arch::X32
                    && low(args, false) != args
                    && a == runc(arch, nr, low(args, false))
                {
                    Some(Accepted::LowWord)
                } else if arch == Arch::X86 && name == Some("socketcall") && !a.permits() {
                    Some(Accepted::Socketcall)
                } else {
                    None
                };
                match why {
                    Some(w) => *accepted.entry(w).or_default() += 1,
                    None => {
                        count += 1;
                        if bad.len() < 5 {
                            bad.push(format!(
                                "{} nr {n} ({}) args {args:x?}: import {a}, runc + libseccomp {b}",
                                arch.name(),
                                name.unwrap_or("?")
                            ));
                        }
                    }
                }
            }
        }
    }
    // A foreign arch (aarch64 on this x86-64 host filter).
    for nr in [0u32, 1, 59, 221] {
        let a = ours.simulate(Arch::Aarch64.audit_arch(), nr, [0; 6]).action;
        let b = run(theirs, Arch::Aarch64.audit_arch(), nr, [0; 6]);
        if p.seccomp.arches.contains(&Arch::Aarch64) {
            // Not compared: libseccomp's filter here has no aarch64.
            continue;
        }
        if (a, b) == (Action::KillProcess, Action::KillThread) {
            *accepted.entry(Accepted::ForeignArch).or_default() += 1;
        } else if a != b {
            count += 1;
            bad.push(format!("foreign arch nr {nr}: import {a}, libseccomp {b}"));
        }
    }
    (count, bad, accepted)
}

/// The default action libseccomp's filter gives, as runc would (trace data included).
fn scmp_default(d: &DockerProfile, trace: Option<u16>) -> Action {
    match (d.default_action.as_str(), trace) {
        (_, Some(t)) => Action::Trace(t),
        ("SCMP_ACT_ERRNO", _) => Action::Errno(d.default_errno_ret.unwrap_or(1) as u16),
        (other, _) => Action::parse(other).unwrap_or(Action::KillThread),
    }
}

/// Instructions of the import's x86-64 program, and of libseccomp's binary tree for the same
/// arches (x86-64 and those of its family the import lists: what a kernel of x86-64 can run).
fn lengths(runc_json: &DockerProfile, p: &Policy, granted: &[String]) -> (usize, usize) {
    let ours = bpf::compile(p, Arch::X86_64).map(|b| b.insns.len()).unwrap_or(usize::MAX);
    let arches: Vec<scmp::ScmpArch> = bpf::program_arches(p, Arch::X86_64)
        .into_iter()
        .map(|a| match a {
            Arch::X86 => scmp::ScmpArch::X86,
            Arch::X32 => scmp::ScmpArch::X32,
            _ => scmp::ScmpArch::X8664,
        })
        .collect();
    let theirs = scmp::export(&scmp::filter_for(runc_json, granted, &arches, scmp::Optimize::Tree));
    (ours, theirs.len())
}

fn check(file: &str, text: &str) -> Outcome {
    let d = match parse_docker(file, text) {
        Ok(d) => d,
        Err(e) => return Outcome::NotJson(e.to_string()),
    };
    let imported = match import(file, "imported", &d) {
        Ok(i) => i,
        Err(e) => return Outcome::Failed(format!("import: {e}")),
    };
    let (runc_json, trace) = as_runc_reads(&d);
    let mut sets = Vec::new();
    for caps in [CapSet::Docker, CapSet::None, CapSet::All] {
        let yaml = match to_yaml(&with_caps(&imported.profile, caps)) {
            Ok(y) => y,
            Err(e) => return Outcome::Failed(format!("yaml: {e}")),
        };
        let p = match compile_text("imported.yaml", &yaml, None, &CompileOptions::default()) {
            Ok(c) => c.policy,
            Err(e) => return Outcome::Failed(format!("compile ({caps:?}): {e}")),
        };
        let granted: Vec<String> = p.capabilities.granted.names().into_iter().map(String::from).collect();
        let built = std::panic::catch_unwind(|| {
            scmp::export(&scmp::filter(&runc_json, &granted, true, scmp::Optimize::Tree))
        });
        let theirs = match built {
            Ok(t) => t,
            Err(e) => {
                let msg = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                return Outcome::LibseccompRefuses(msg);
            }
        };
        let (differ, examples, accepted) = compare(file, &runc_json, &p, &theirs, trace, &granted);
        let lengths = lengths(&runc_json, &p, &granted);
        sets.push(SetResult { caps, differ, examples, accepted, lengths });
    }
    Outcome::Compared(sets)
}

#[test]
fn imports_keep_libseccomps_meaning_on_the_real_world_corpus() {
    let files = corpus();
    assert!(files.len() >= 33, "the fixtures are missing: {files:?}");
    let mut failures = Vec::new();
    let mut kept = 0;
    for (file, path) in &files {
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let outcome = check(file, &text);
        let expected_refusal = NOT_IMPORTABLE.iter().find(|(f, _)| f == file);
        let summary = outcome.summary();
        let ok = match (&outcome, expected_refusal) {
            (Outcome::NotJson(_), Some(_)) => true,
            (o, None) => o.keeps_meaning(),
            _ => false,
        };
        eprintln!("{} {file}: {summary}", if ok { "ok  " } else { "FAIL" });
        if outcome.keeps_meaning() {
            kept += 1;
        }
        if !ok {
            let detail = match &outcome {
                Outcome::Compared(sets) => sets
                    .iter()
                    .flat_map(|r| r.examples.iter().map(move |b| format!("{:?}: {b}", r.caps)))
                    .collect(),
                other => vec![other.summary()],
            };
            failures.push(format!("{file}:\n    {}", detail.join("\n    ")));
        }
    }
    eprintln!("{kept} of {} files keep libseccomp's meaning under all three capability sets", files.len());
    assert!(failures.is_empty(), "{} files differ:\n{}", failures.len(), failures.join("\n"));
}

/// runc counts, for its ENOSYS stub, the names of an entry whose action is the default, which
/// the import drops from its rule when an earlier entry names them; where that earlier entry
/// applies only with a capability, the import names them in a first rule with the default. No
/// file of the corpus has such a pair: this one does (without that rule, the cut-off would be
/// `write`'s number, and everything above it ENOSYS).
#[test]
fn names_of_a_default_action_entry_count_for_runcs_stub() {
    let json = r#"{"defaultAction": "SCMP_ACT_ERRNO", "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]}],
        "syscalls": [{"names": ["clone3", "pidfd_open"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
                     {"names": ["read", "clone3", "pidfd_open"], "action": "SCMP_ACT_ERRNO"},
                     {"names": ["write", "execve"], "action": "SCMP_ACT_ALLOW"}]}"#;
    let outcome = check("default-action-entry.json", json);
    eprintln!("{}", outcome.summary());
    assert!(outcome.keeps_meaning(), "{}", outcome.summary());
}
