//! Human and JSON reports: `explain`, `groups`, `list`.

use std::fmt::Write;

use serde::Serialize;

use crate::ir::eval::{Decider, Evaluation};
use crate::ir::Policy;
use crate::syscalls::{consts, groups, table, Arch};
use crate::vocab::CapSet;

/// A syscall query `NAME[:a0,a1,...]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyscallQuery {
    /// Syscall name.
    pub name: String,
    /// Arguments (missing ones are 0).
    pub args: [u64; 6],
}

/// Parse `NAME[:a0,a1,...]`; arguments are numbers or constant names.
pub fn parse_query(text: &str) -> Result<SyscallQuery, String> {
    let (name, rest) = text.split_once(':').unwrap_or((text, ""));
    if !table::is_known(name) {
        let hint = table::suggest(name).map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default();
        return Err(format!("unknown syscall `{name}`{hint}"));
    }
    Ok(SyscallQuery { name: name.to_string(), args: parse_args(rest)? })
}

/// Parse `a0,a1,...` (up to six numbers or constants; missing ones are 0).
pub fn parse_args(text: &str) -> Result<[u64; 6], String> {
    let mut args = [0u64; 6];
    if !text.is_empty() {
        for (i, a) in text.split(',').enumerate() {
            if i >= 6 {
                return Err("at most 6 arguments".into());
            }
            args[i] = consts::parse_value(a.trim()).map_err(|_| format!("invalid argument `{a}`"))?.0;
        }
    }
    Ok(args)
}

/// The verdict of one query on one arch.
#[derive(Clone, Debug, Serialize)]
pub struct QueryResult {
    /// Arch.
    pub arch: String,
    /// Syscall.
    pub syscall: String,
    /// Number on that arch (`None`: not a syscall there).
    pub nr: Option<u32>,
    /// Arguments.
    pub args: Vec<String>,
    /// Evaluation (absent when the arch has no such syscall).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evaluation: Option<Evaluation>,
    /// The rule's comment, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// Evaluate a query on the given arches (all the policy's arches with tables when empty).
pub fn query(policy: &Policy, q: &SyscallQuery, arches: &[Arch]) -> Vec<QueryResult> {
    let list: Vec<Arch> = if arches.is_empty() {
        policy.seccomp.arches.iter().copied().filter(|a| table::table(*a).is_some()).collect()
    } else {
        arches.to_vec()
    };
    list.into_iter()
        .map(|arch| {
            let nr = table::table(arch).and_then(|t| t.nr(&q.name));
            let evaluation = nr.map(|n| policy.evaluate(arch.audit_arch(), n, q.args));
            let comment = match &evaluation {
                Some(Evaluation { decided_by: Decider::Rule { index, .. }, .. }) => {
                    policy.seccomp.rules[*index].comment.clone()
                }
                _ => None,
            };
            QueryResult {
                arch: arch.name().into(),
                syscall: q.name.clone(),
                nr,
                args: q.args.iter().map(|a| format!("{a:#x}")).collect(),
                evaluation,
                comment,
            }
        })
        .collect()
}

/// A syscall number as tables write it: x32's (with the x32 bit) in hex.
fn number(nr: u32) -> String {
    match nr >= crate::syscalls::arch::X32_SYSCALL_BIT {
        true => format!("{nr:#x}"),
        false => nr.to_string(),
    }
}

/// Text form of query results.
pub fn query_text(results: &[QueryResult]) -> String {
    let mut out = String::new();
    for r in results {
        let args = r.args.join(",");
        match (&r.nr, &r.evaluation) {
            (Some(nr), Some(e)) => {
                let why = match &e.decided_by {
                    Decider::Rule { origin, .. } => format!("rule at {origin}"),
                    Decider::Default => "default verdict".into(),
                    Decider::Unknown => "unknown-syscall verdict".into(),
                    Decider::EnosysAfter { above } => {
                        format!("no rule, and above {}, the `unknown: enosys-after` cut-off", number(*above))
                    }
                    Decider::BadArch => "arch not accepted".into(),
                    Decider::X32NotAllowed => "x32 not accepted".into(),
                };
                let _ = write!(out, "{:<8} {}({args}) [nr {nr}] -> {}  ({why})", r.arch, r.syscall, e.action);
                if let Some(c) = &r.comment {
                    let _ = write!(out, "  # {c}");
                }
                out.push('\n');
            }
            _ => {
                let _ = writeln!(out, "{:<8} {}: no such syscall on this arch", r.arch, r.syscall);
            }
        }
    }
    out
}

/// A one-page summary of every tier.
pub fn explain_text(p: &Policy) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "profile {}{}",
        p.name,
        p.description.as_ref().map(|d| format!(": {d}")).unwrap_or_default()
    );
    let _ = writeln!(o, "  from: {}", p.sources.join(" -> "));
    let pr = &p.process;
    let _ = writeln!(
        o,
        "\nprocess\n  user {}, no_new_privs {}, securebits {} ({:#x})",
        pr.user,
        pr.no_new_privs,
        pr.securebits.mode,
        pr.securebits.bits.bits()
    );
    if pr.tmpdir == crate::vocab::TmpdirMode::Private {
        let _ = writeln!(o, "  tmpdir private: a new directory for each run, its TMPDIR");
    }
    for (k, v) in &pr.rlimits {
        let f = |x: Option<u64>| x.map(|n| n.to_string()).unwrap_or_else(|| "unlimited".into());
        let how = if v.raise { ", raised if need be" } else { " at most" };
        let _ = writeln!(o, "  rlimit {k}: soft {} hard {}{how}", f(v.soft), f(v.hard));
    }
    let c = &p.capabilities;
    let list = |v: &CapSet| if v.is_empty() { "(none)".to_string() } else { v.names().join(" ") };
    let _ = writeln!(o, "\ncapabilities\n  granted     {}\n  bounding    {}\n  permitted   {}\n  effective   {}\n  inheritable {}\n  ambient     {}", list(&c.granted), list(&c.bounding), list(&c.permitted), list(&c.effective), list(&c.inheritable), list(&c.ambient));
    let s = &p.seccomp;
    let unknown = match &s.enosys_after {
        None => format!("unknown syscalls {}", s.unknown_action),
        Some(e) => {
            let cuts: Vec<String> = e.above.iter().map(|(a, nr)| format!("{a} {}", number(*nr))).collect();
            let cuts = if cuts.is_empty() { "none".to_string() } else { cuts.join(", ") };
            format!("{}: errno(ENOSYS) above the cut-off where no rule decides ({cuts})", e.spelling())
        }
    };
    let _ = writeln!(
        o,
        "\nseccomp\n  default {}, {unknown}, other arches kill-process\n  arches {}",
        s.default_action,
        s.arches.iter().map(|a| a.name()).collect::<Vec<_>>().join(" ")
    );
    let _ = writeln!(
        o,
        "  {} rules ({} inactive: capability conditions not met)",
        s.rules.len(),
        s.rules.iter().filter(|r| !r.active).count()
    );
    for (arch, t) in &s.tables {
        let allowed = t.syscalls.values().filter(|x| x.action.permits() && x.conditional.is_empty()).count();
        let cond = t.syscalls.values().filter(|x| !x.conditional.is_empty()).count();
        let denied = t.syscalls.values().filter(|x| !x.action.permits() && x.conditional.is_empty()).count();
        let total = table::table(Arch::parse(arch).unwrap_or(Arch::X86_64)).map(|t| t.len()).unwrap_or(0);
        let stub = match s.enosys_after.as_ref().and_then(|e| e.above.get(arch)) {
            Some(cut) => format!(" (errno(ENOSYS) above {})", number(*cut)),
            None => String::new(),
        };
        let _ = writeln!(o, "  {arch:<8} {total} syscalls: {allowed} allowed, {denied} set by a non-allow rule, {cond} argument-dependent, the rest {}{stub}", s.default_action);
    }
    let l = &p.landlock;
    let _ = writeln!(o, "\nlandlock\n  mode {}, min_abi {}", l.mode, l.min_abi);
    if l.restrict_fs {
        for r in &l.filesystem {
            let _ = writeln!(o, "  {:<20} {}", r.path, r.access.names().join(" "));
        }
        let _ = writeln!(o, "  (everything else: no access)");
    } else {
        let _ = writeln!(o, "  filesystem not restricted");
    }
    match &l.network {
        Some(n) => {
            let ports = |v: &Vec<u16>| {
                if v.is_empty() {
                    "none".into()
                } else {
                    v.iter().map(u16::to_string).collect::<Vec<_>>().join(" ")
                }
            };
            let _ = writeln!(o, "  tcp bind {}; tcp connect {}", ports(&n.bind), ports(&n.connect));
        }
        None => {
            let _ = writeln!(o, "  network not restricted");
        }
    }
    if !l.scopes.is_empty() {
        let _ = writeln!(o, "  scoped: {}", l.scopes.names().join(" "));
    }
    let i = &p.isolation;
    if i.enabled {
        let _ = writeln!(
            o,
            "\nisolation\n  namespaces {}\n  rootfs {}{}, network {}, init {}",
            i.namespaces.names().join(" "),
            i.rootfs.as_deref().unwrap_or("(host root)"),
            if i.readonly_rootfs { " read-only" } else { "" },
            i.network,
            i.init
        );
        if let Some(t) = i.time_offsets {
            let _ = writeln!(o, "  clocks monotonic {:+}s, boottime {:+}s", t.monotonic, t.boottime);
        }
    }
    o
}

/// A group listing entry.
#[derive(Clone, Debug, Serialize)]
pub struct GroupInfo {
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Expanded members.
    pub syscalls: Vec<String>,
}

/// Groups (all, or the named one).
pub fn groups(name: Option<&str>) -> Result<Vec<GroupInfo>, String> {
    let pick: Vec<&groups::Group> = match name {
        None => groups::GROUPS.iter().collect(),
        Some(n) => {
            let full = if n.starts_with('@') { n.to_string() } else { format!("@{n}") };
            vec![groups::group(&full).ok_or_else(|| format!("no syscall group named `{full}`"))?]
        }
    };
    Ok(pick
        .into_iter()
        .map(|g| GroupInfo {
            name: g.name.into(),
            description: g.description.into(),
            syscalls: g.expand().into_iter().map(String::from).collect(),
        })
        .collect())
}
