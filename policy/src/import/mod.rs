//! Docker seccomp JSON → profile: the importer behind `policyc import`.
//!
//! Keeps the meaning Docker (runc + libseccomp) gives the file: archMap arches, per-entry
//! errnoRet (EPERM when absent, for `SCMP_ACT_TRACE` too), includes/excludes (caps, arches,
//! minKernel), comments, and the legacy single `name`. An entry that repeats an argument index
//! is split into one rule per condition, as runc does (moby#52494). `SCMP_CMP_MASKED_EQ`
//! compares `arg & value == valueTwo & value`, as libseccomp masks the datum.
//!
//! Docker JSON is read in order, the profile language's last matching rule wins; the import
//! rewrites what libseccomp and runc decide differently (see `precedence`): runc drops
//! entries whose action is the default, libseccomp keeps the first argument-free rule of a
//! syscall and ignores conditional rules once it has one. Names libseccomp cannot resolve are
//! skipped as runc skips them. Every such change is a warning and a note in the YAML.
//!
//! runc answers ENOSYS for numbers above the largest one the JSON names on each arch (its
//! ENOSYS stub) unless the default is allow, log or trace: the import then says
//! `unknown: enosys-after-named`, which means the same, and `unknown: default` otherwise.

pub mod oci;

use std::collections::{BTreeMap, HashMap};

use crate::action::Action;
use crate::error::{Diagnostic, Error, Origin};
use crate::formats::docker::{DockerArg, DockerFilter, DockerProfile, DockerSyscall};
use crate::frontend::profile::{ArgCond, ArgValue, Capabilities, Profile, Rule, Seccomp, When};
use crate::frontend::spanned::Sp;
use crate::ir::{ArgOp, KernelVersion};
use crate::syscalls::arch::normalize_host;
use crate::syscalls::widths::arg_width;
use crate::syscalls::{table, Arch};
use crate::vocab::caps::{Cap, DOCKER_DEFAULT};

/// The imported profile and what the importer had to say.
#[derive(Debug)]
pub struct Imported {
    /// The profile.
    pub profile: Profile,
    /// Warnings (entries split, unknown names...).
    pub warnings: Vec<Diagnostic>,
}

/// Parse Docker JSON text (`file` names it in errors).
pub fn parse_docker(file: &str, text: &str) -> Result<DockerProfile, Error> {
    serde_json::from_str(text).map_err(|e| {
        let message = e.to_string().split(" at line").next().unwrap_or_default().to_string();
        let at = Origin::new(file, e.line() as u64, e.column() as u64);
        let line = text.lines().nth(e.line().saturating_sub(1)).unwrap_or_default().trim_start();
        let hint = if line.starts_with('#') || line.starts_with("//") {
            "JSON has no comments: remove the line (or put the text in a `comment` field)"
        } else if message.contains("unknown variant") || message.contains("unknown field") {
            "see the Docker seccomp profile format: defaultAction, defaultErrnoRet, architectures, archMap, syscalls (names, action, errnoRet, args, includes, excludes, comment)"
        } else {
            "a Docker/Podman seccomp profile is one JSON object: { \"defaultAction\": ..., \"syscalls\": [...] }"
        };
        Error::Invalid(vec![Diagnostic::error(at, format!("cannot parse Docker seccomp JSON: {message}")).with_hint(hint)])
    })
}

/// [`parse_docker`] and [`import`] of `text`, every diagnostic placed in the JSON: at the first
/// place its subject (the name in backquotes) is written, instead of the file's first byte.
pub fn import_text(file: &str, name: &str, text: &str) -> Result<Imported, Error> {
    let d = parse_docker(file, text)?;
    let place = |mut d: Diagnostic| {
        if d.origin.file == file && (d.origin.line, d.origin.column) == (1, 1) {
            if let Some((line, column)) = crate::lint::locate::find_in_json(text, &d.message) {
                d.origin = Origin::new(file, line, column);
            }
        }
        d
    };
    match import(file, name, &d) {
        Ok(mut i) => {
            i.warnings = i.warnings.into_iter().map(place).collect();
            Ok(i)
        }
        Err(Error::Invalid(ds)) => Err(Error::Invalid(ds.into_iter().map(place).collect())),
        Err(e) => Err(e),
    }
}

fn bad(file: &str, message: String, hint: &str) -> Error {
    Error::Invalid(vec![Diagnostic::error(Origin::new(file, 1, 1), message).with_hint(hint)])
}

fn action_of(file: &str, name: &str, errno: Option<u32>) -> Result<Action, Error> {
    let data = |d: Option<u32>, fallback: u16| -> Result<u16, Error> {
        match d {
            None => Ok(fallback),
            Some(v) if v <= 4095 => Ok(v as u16),
            Some(v) => Err(bad(file, format!("errnoRet {v} is out of range"), "errno must be 1..=4095")),
        }
    };
    Ok(match name {
        "SCMP_ACT_ERRNO" => Action::Errno(data(errno, 1)?),
        // runc: `ActTrace.SetReturnCode(EPERM)` when errnoRet is absent.
        "SCMP_ACT_TRACE" => Action::Trace(data(errno, 1)?),
        other => Action::parse(other)
            .map_err(|_| bad(file, format!("unknown action `{other}`"), "use an SCMP_ACT_* action"))?,
    })
}

fn value(v: u64) -> Sp<ArgValue> {
    Sp::new(if v > 0xffff { ArgValue::Name(format!("{v:#x}")) } else { ArgValue::Number(v) })
}

fn arg_cond(file: &str, a: &DockerArg) -> Result<ArgCond, Error> {
    let op = match a.op.as_str() {
        "SCMP_CMP_EQ" => ArgOp::Eq,
        "SCMP_CMP_NE" => ArgOp::Ne,
        "SCMP_CMP_LT" => ArgOp::Lt,
        "SCMP_CMP_LE" => ArgOp::Le,
        "SCMP_CMP_GT" => ArgOp::Gt,
        "SCMP_CMP_GE" => ArgOp::Ge,
        "SCMP_CMP_MASKED_EQ" => ArgOp::MaskedEq,
        other => {
            return Err(bad(file, format!("unknown comparison `{other}`"), "use an SCMP_CMP_* operator"))
        }
    };
    if a.index > 5 {
        return Err(bad(file, format!("argument index {} is out of range", a.index), "indexes are 0..=5"));
    }
    // libseccomp masks the datum (`arg & value == valueTwo & value`): a `valueTwo` with bits
    // outside the mask still matches.
    let (value_, mask) =
        if op == ArgOp::MaskedEq { (a.value_two & a.value, Some(value(a.value))) } else { (a.value, None) };
    // libseccomp compares all 64 bits on 64-bit arches; a value (or mask) above 32 bits keeps
    // that meaning with `width: 64` where the syscall's argument is 32 bits wide (found by the
    // `docker_json` fuzz target: such a value does not fit the 32-bit default).
    let wide = value_ > u64::from(u32::MAX) || (op == ArgOp::MaskedEq && a.value > u64::from(u32::MAX));
    Ok(ArgCond {
        index: Sp::new(a.index as u8),
        op: Sp::new(op),
        value: Some(value(value_)),
        values: None,
        mask,
        width: wide.then(|| Sp::new(64)),
    })
}

fn when_of(
    file: &str,
    inc: Option<&DockerFilter>,
    exc: Option<&DockerFilter>,
) -> Result<Option<When>, Error> {
    let strings = |v: &[String]| v.iter().map(|s| Sp::new(s.clone())).collect::<Vec<_>>();
    let mut w = When::default();
    if let Some(i) = inc {
        w.caps_present = strings(&i.caps);
        w.arches = strings(&i.arches);
        w.min_kernel = match i.min_kernel.as_deref() {
            None | Some("") => None,
            Some(k) => {
                let v = KernelVersion::parse_docker(k).ok_or_else(|| {
                    bad(
                        file,
                        format!("includes.minKernel {k:?} is not a kernel version"),
                        "Docker reads `major.minor` from its start, e.g. \"4.8\" or \"5.10.3-rc1\"",
                    )
                })?;
                Some(Sp::new(v.to_string()))
            }
        };
    }
    if let Some(e) = exc {
        w.caps_absent = strings(&e.caps);
        w.not_arches = strings(&e.arches);
        if e.min_kernel.is_some() {
            return Err(bad(
                file,
                "excludes.minKernel is not supported".into(),
                "Docker applies minKernel only in includes",
            ));
        }
    }
    let empty = w.caps_present.is_empty()
        && w.caps_absent.is_empty()
        && w.arches.is_empty()
        && w.not_arches.is_empty()
        && w.min_kernel.is_none();
    Ok((!empty).then_some(w))
}

/// Whether libseccomp could resolve `name` as one syscall, as runc asks it to
/// (`seccomp_syscall_resolve_name`, which answers for the native arch: a real number, a
/// negative pseudo-number for a syscall that only other arches have, or `__NR_SCMP_ERROR` for
/// a name no arch has). runc skips a name only in the last case (`unknown seccomp syscall ...
/// ignored`), and so does this import: no `@` (no syscall is named so; in the profile language
/// `@name` is a group of many), no blank around it (the profile language trims names,
/// libseccomp does not), and a syscall of some arch. A name that only other arches have stays:
/// libseccomp applies it on the arches of the filter that have it (`umount` on x86), as the
/// profile language does.
fn resolvable(name: &str) -> bool {
    !name.starts_with('@') && !name.is_empty() && name.trim() == name && table::is_known(name)
}

/// The entry's syscall names that Docker would use (each once); the others are reported,
/// dropped, and named in `skipped`.
fn names_of(
    file: &str,
    at: usize,
    s: &DockerSyscall,
    warnings: &mut Vec<Diagnostic>,
    skipped: &mut Vec<String>,
) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for n in s.names.iter().chain(&s.name) {
        if resolvable(n) {
            if !names.contains(n) {
                names.push(n.clone());
            }
            continue;
        }
        let shown = n.escape_debug();
        let (why, hint) = if n.trim().starts_with('@') {
            (
                "Docker JSON has no syscall groups, so runc (libseccomp) ignores it; it is not the Palisade group of that name".to_string(),
                format!("to allow the group, write `allow: [\"{shown}\"]` in the imported profile yourself"),
            )
        } else if n.trim() != n.as_str() || n.is_empty() {
            (
                "libseccomp resolves no syscall by that name, so runc ignores it".to_string(),
                "write the syscall's name without blanks".to_string(),
            )
        } else {
            (
                "no arch has a syscall of that name, so libseccomp resolves none and runc ignores it"
                    .to_string(),
                match table::suggest(n) {
                    Some(s) => {
                        format!("did you mean `{s}`? (the imported profile names `{shown}` in a comment)")
                    }
                    None => format!("the imported profile names `{shown}` in a comment"),
                },
            )
        };
        skipped.push(format!("`{shown}`"));
        warnings.push(
            Diagnostic::warning(
                Origin::new(file, 1, 1),
                format!("syscalls[{at}] ({}): `{shown}` is not a syscall name: {why}; skipped", s.action),
            )
            .with_hint(hint),
        );
    }
    names
}

/// One `syscalls` entry as runc reads it.
struct Entry<'a> {
    /// Its index in `syscalls`.
    at: usize,
    src: &'a DockerSyscall,
    action: Action,
    /// The names runc resolves, each once.
    names: Vec<String>,
    /// Names skipped as runc skips them, quoted, for the note.
    skipped: Vec<String>,
    /// No argument conditions.
    unconditional: bool,
    /// No includes/excludes: it applies wherever another entry does.
    always: bool,
}

/// `text` added to a rule's comment (kept in the YAML and in exports).
fn annotate(comment: &mut Option<String>, text: &str) {
    *comment = Some(match comment.take() {
        Some(c) if !c.is_empty() => format!("{c} [import: {text}]"),
        _ => format!("[import: {text}]"),
    });
}

fn rules_of(
    file: &str,
    e: &Entry,
    names: &[String],
    notes: &[String],
    warnings: &mut Vec<Diagnostic>,
) -> Result<Vec<Rule>, Error> {
    let s = e.src;
    let list: Vec<Sp<String>> = names.iter().cloned().map(Sp::new).collect();
    let mut base = Rule {
        when: when_of(file, s.includes.as_ref(), s.excludes.as_ref())?,
        comment: s.comment.clone().filter(|c| !c.is_empty()),
        ..Rule::default()
    };
    for n in notes {
        annotate(&mut base.comment, n);
    }
    match e.action {
        Action::Allow => base.allow = Some(list),
        a if a.permits() || matches!(a, Action::Trace(_) | Action::Notify) => {
            base.syscalls = Some(list);
            base.action = Some(Sp::new(a.to_string()));
        }
        a => {
            base.deny = Some(list);
            base.action = Some(Sp::new(a.to_string()));
        }
    }
    let conds: Vec<ArgCond> = s.args.iter().flatten().map(|a| arg_cond(file, a)).collect::<Result<_, _>>()?;
    let mut seen = BTreeMap::new();
    for c in &conds {
        *seen.entry(c.index.value).or_insert(0) += 1;
    }
    if seen.values().any(|n| *n > 1) {
        warnings.push(Diagnostic::warning(
            Origin::new(file, 1, 1),
            format!("an entry for {} repeats an argument index; runc adds each condition as a separate rule (OR), and so does this import", names.join(",")),
        ).with_hint("if AND was meant, write one rule with all conditions in the profile language"));
        return Ok(conds
            .into_iter()
            .flat_map(|c| {
                let mut r = base.clone();
                r.args = vec![Sp::new(c)];
                by_width(r, names)
            })
            .collect());
    }
    base.args = conds.into_iter().map(Sp::new).collect();
    Ok(by_width(base, names))
}

/// `rule` split so that the syscalls of each part agree on the width of every argument it
/// tests (`socket` and `mmap` on argument 0: 32 and 64 bits), in the order of `names`.
fn by_width(rule: Rule, names: &[String]) -> Vec<Rule> {
    let indexes: Vec<u8> = rule.args.iter().map(|a| a.value.index.value).collect();
    let mut groups: Vec<(Vec<u8>, Vec<String>)> = Vec::new();
    for n in names {
        let widths: Vec<u8> = indexes.iter().map(|i| arg_width(n, *i)).collect();
        match groups.iter_mut().find(|(w, _)| *w == widths) {
            Some((_, list)) => list.push(n.clone()),
            None => groups.push((widths, vec![n.clone()])),
        }
    }
    if groups.len() <= 1 {
        return vec![rule];
    }
    groups
        .into_iter()
        .map(|(_, list)| {
            let mut r = rule.clone();
            let list: Vec<Sp<String>> = list.into_iter().map(Sp::new).collect();
            for slot in [&mut r.allow, &mut r.deny, &mut r.syscalls] {
                if slot.is_some() {
                    *slot = Some(list.clone());
                }
            }
            r
        })
        .collect()
}

/// `d` with the names Docker can never match left out of `includes`/`excludes` (a capability
/// no kernel has, an arch Go does not name), and for each entry whether it can never apply:
/// Docker compares those names as strings, so an unknown capability in `includes.caps` is never
/// granted (the entry never applies), one in `excludes` never excludes, and an unknown arch
/// never is the host's. Each is reported.
fn known_filters(
    file: &str,
    d: &DockerProfile,
    warnings: &mut Vec<Diagnostic>,
) -> (DockerProfile, Vec<bool>) {
    let mut d = d.clone();
    let mut never = vec![false; d.syscalls.len()];
    let mut warn = |what: String| {
        warnings.push(Diagnostic::warning(Origin::new(file, 1, 1), what).with_hint(
            "Docker compares these names as strings: check the spelling (capabilities as CAP_*, arches as Go names: amd64, arm64, ...)",
        ))
    };
    for (at, s) in d.syscalls.iter_mut().enumerate() {
        if let Some(inc) = s.includes.as_mut() {
            if let Some(c) = inc.caps.iter().find(|c| Cap::parse(c).is_none()) {
                warn(format!("syscalls[{at}] includes the unknown capability `{c}`, never granted: the entry never applies; skipped"));
                never[at] = true;
            }
            let before = inc.arches.len();
            let unknown: Vec<String> =
                inc.arches.iter().filter(|a| normalize_host(a).is_none()).cloned().collect();
            inc.arches.retain(|a| normalize_host(a).is_some());
            if !unknown.is_empty() {
                if inc.arches.is_empty() && before > 0 {
                    warn(format!(
                        "syscalls[{at}] includes only unknown arches ({}): the entry never applies; skipped",
                        unknown.join(", ")
                    ));
                    never[at] = true;
                } else {
                    warn(format!(
                        "syscalls[{at}] includes unknown arches ({}), never the host's; left out",
                        unknown.join(", ")
                    ));
                }
            }
        }
        if let Some(exc) = s.excludes.as_mut() {
            let unknown: Vec<String> = exc
                .caps
                .iter()
                .filter(|c| Cap::parse(c).is_none())
                .chain(exc.arches.iter().filter(|a| normalize_host(a).is_none()))
                .cloned()
                .collect();
            exc.caps.retain(|c| Cap::parse(c).is_some());
            exc.arches.retain(|a| normalize_host(a).is_some());
            if !unknown.is_empty() {
                warn(format!(
                    "syscalls[{at}] excludes unknown names ({}), which never exclude; left out",
                    unknown.join(", ")
                ));
            }
        }
    }
    (d, never)
}

/// Whether two entries' `includes`/`excludes` can hold at once (same capabilities and arch).
fn may_overlap(a: &DockerSyscall, b: &DockerSyscall) -> bool {
    let empty = DockerFilter::default();
    let (ai, ae) = (a.includes.as_ref().unwrap_or(&empty), a.excludes.as_ref().unwrap_or(&empty));
    let (bi, be) = (b.includes.as_ref().unwrap_or(&empty), b.excludes.as_ref().unwrap_or(&empty));
    let clash = |inc: &DockerFilter, exc: &DockerFilter| {
        inc.caps.iter().any(|c| exc.caps.contains(c))
            || inc.arches.iter().any(|x| exc.arches.contains(x))
            || (!inc.arches.is_empty()
                && !exc.arches.is_empty()
                && inc.arches.iter().all(|x| exc.arches.contains(x)))
    };
    let arches_disjoint =
        !ai.arches.is_empty() && !bi.arches.is_empty() && !ai.arches.iter().any(|x| bi.arches.contains(x));
    !(clash(ai, be) || clash(bi, ae) || arches_disjoint)
}

/// Entries without arguments that name the same syscall with different actions and can apply
/// together. libseccomp (so runc and crun) silently keeps the first such rule, and so does
/// the import (`precedence`); the pair is reported so the user can say what they mean.
fn first_wins_conflicts(file: &str, d: &DockerProfile, default: Action) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let arg_free: Vec<(usize, &DockerSyscall)> =
        d.syscalls.iter().enumerate().filter(|(_, s)| s.args.as_ref().is_none_or(|a| a.is_empty())).collect();
    for (k, (j, later)) in arg_free.iter().enumerate() {
        let names: Vec<&String> =
            later.names.iter().chain(later.name.iter()).filter(|n| resolvable(n)).collect();
        for (i, earlier) in &arg_free[..k] {
            if earlier.action == later.action && earlier.errno_ret == later.errno_ret {
                continue;
            }
            // runc drops an entry whose action is the default before libseccomp sees it.
            let is_default =
                |s: &DockerSyscall| action_of(file, &s.action, s.errno_ret).ok() == Some(default);
            if is_default(earlier) || is_default(later) {
                continue;
            }
            if !may_overlap(earlier, later) {
                continue;
            }
            let shared: Vec<&str> = names
                .iter()
                .filter(|n| earlier.names.contains(n) || earlier.name.as_ref() == Some(**n))
                .map(|n| n.as_str())
                .collect();
            if shared.is_empty() {
                continue;
            }
            out.push(Diagnostic {
                severity: crate::error::Severity::Warning,
                origin: Origin::new(file, 1, 1),
                message: format!(
                    "syscalls[{j}] ({}) and syscalls[{i}] ({}) both apply to {} without argument conditions: libseccomp (runc, crun) keeps the first, syscalls[{i}], and so does the imported profile",
                    later.action,
                    earlier.action,
                    shared.join(", ")
                ),
                hint: Some("remove the names from the entry you do not mean".into()),
            });
        }
    }
    out
}

/// What the import does with one name of one entry so that the profile language's
/// last-match-wins gives libseccomp's verdict.
#[derive(Debug, PartialEq, Eq)]
enum Fate {
    /// Kept as written.
    Keep,
    /// Dropped from this entry: an earlier entry decides (its index, and why).
    Drop(usize, &'static str),
    /// Kept, then the earlier argument-free entries (indexes into the entries, in order) are
    /// stated again after it, so that where one of them applies the first of them decides.
    Restate(Vec<usize>),
}

const DEFAULT_DROPPED: &str = "runc drops an entry whose action is the default";
const FIRST_KEPT: &str = "libseccomp keeps the first argument-free rule of a syscall";
const CONDITIONS_IGNORED: &str =
    "libseccomp ignores conditional rules of a syscall that has an argument-free rule";

/// libseccomp's precedence for `name` in entry `k`, given the entries before it that name it
/// (`earlier`, indexes into `entries`, in order). For one syscall, libseccomp (2.5, as runc
/// uses it) keeps the first argument-free rule it is given and ignores every rule added after
/// it, a later argument-free rule replaces the conditional rules before it, and runc never
/// gives it a rule whose action is the default (libseccomp refuses those).
fn precedence(entries: &[Entry], earlier: &[usize], k: usize, default: Action) -> Fate {
    let e = &entries[k];
    let mut uncond = Vec::new();
    for &i in earlier {
        let p = &entries[i];
        if p.action == default || !may_overlap(p.src, e.src) {
            continue;
        }
        if e.action == default {
            return Fate::Drop(i, DEFAULT_DROPPED);
        }
        if !p.unconditional {
            continue;
        }
        if p.always {
            // Wherever `e` applies, `p` does and decides; with the same action `e` changes
            // nothing libseccomp would not do.
            return match p.action == e.action {
                true => Fate::Keep,
                false if e.unconditional => Fate::Drop(i, FIRST_KEPT),
                false => Fate::Drop(i, CONDITIONS_IGNORED),
            };
        }
        uncond.push(i);
    }
    match uncond.iter().any(|&i| entries[i].action != e.action) {
        true => Fate::Restate(uncond),
        false => Fate::Keep,
    }
}

/// Convert a Docker profile. `name` becomes the profile name.
pub fn import(file: &str, name: &str, d: &DockerProfile) -> Result<Imported, Error> {
    let mut warnings = Vec::new();
    let default = action_of(file, &d.default_action, d.default_errno_ret)?;
    let mut arches: Vec<String> = Vec::new();
    let all = d
        .arch_map
        .iter()
        .flat_map(|m| std::iter::once(&m.architecture).chain(m.sub_architectures.iter().flatten()))
        .chain(&d.architectures);
    for a in all {
        let arch = Arch::parse(a)
            .ok_or_else(|| bad(file, format!("unknown architecture `{a}`"), "use SCMP_ARCH_* names"))?;
        if !arches.iter().any(|x| x == arch.name()) {
            arches.push(arch.name().to_string());
        }
    }
    let (cleaned, never) = known_filters(file, d, &mut warnings);
    let d = &cleaned;
    warnings.extend(first_wins_conflicts(file, d, default));
    // Entries as runc reads them.
    let mut entries = Vec::new();
    let mut notes = Vec::new();
    for (at, s) in d.syscalls.iter().enumerate() {
        if never[at] {
            notes.push(format!("syscalls[{at}] ({}) skipped: its includes can never hold", s.action));
            continue;
        }
        let had_names = !s.names.is_empty() || s.name.is_some();
        let mut skipped = Vec::new();
        let names = names_of(file, at, s, &mut warnings, &mut skipped);
        if !had_names {
            warnings.push(Diagnostic::warning(
                Origin::new(file, 1, 1),
                format!("an entry with action {} names no syscall; skipped", s.action),
            ));
            continue;
        }
        // runc checks the action before it looks the names up.
        let action = action_of(file, &s.action, s.errno_ret)?;
        if names.is_empty() {
            notes.push(format!(
                "syscalls[{at}] ({}) skipped, as runc skips {}: not syscall names",
                s.action,
                skipped.join(", ")
            ));
            continue;
        }
        let empty = |f: Option<&DockerFilter>| f.is_none_or(DockerFilter::is_empty);
        entries.push(Entry {
            at,
            src: s,
            action,
            names,
            skipped,
            unconditional: s.args.as_ref().is_none_or(|a| a.is_empty()),
            always: empty(s.includes.as_ref()) && empty(s.excludes.as_ref()),
        });
    }
    let mut rules = Vec::new();
    // Names runc counts for its ENOSYS stub that no rule of the import names wherever their
    // entry applies: (entry, names).
    let mut uncounted: Vec<(usize, Vec<String>)> = Vec::new();
    let mut by_name: HashMap<&str, Vec<usize>> = HashMap::new();
    for (k, e) in entries.iter().enumerate() {
        let mut kept = Vec::new();
        let mut dropped: BTreeMap<(usize, &'static str), Vec<&str>> = BTreeMap::new();
        let mut restate: BTreeMap<Vec<usize>, Vec<String>> = BTreeMap::new();
        for n in &e.names {
            let earlier = by_name.get(n.as_str()).map(Vec::as_slice).unwrap_or_default();
            match precedence(&entries, earlier, k, default) {
                Fate::Keep => kept.push(n.clone()),
                Fate::Drop(i, why) => dropped.entry((i, why)).or_default().push(n),
                Fate::Restate(list) => {
                    kept.push(n.clone());
                    restate.entry(list).or_default().push(n.clone());
                }
            }
        }
        let mut own = Vec::new();
        if !e.skipped.is_empty() {
            own.push(format!("runc skips {}: not syscall names", e.skipped.join(", ")));
        }
        for ((i, why), names) in &dropped {
            let p = &entries[*i];
            let list = names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ");
            let text = format!("{list} dropped: {why}; syscalls[{}] ({}) decides", p.at, p.src.action);
            if *why != FIRST_KEPT {
                // FIRST_KEPT pairs are reported by `first_wins_conflicts`.
                warnings.push(
                    Diagnostic::warning(
                        Origin::new(file, 1, 1),
                        format!("syscalls[{}] ({}): {text}", e.at, e.src.action),
                    )
                    .with_hint("remove the names from the entry you do not mean"),
                );
            }
            own.push(text);
            if *why == DEFAULT_DROPPED && !p.always {
                uncounted.push((k, names.iter().map(|n| n.to_string()).collect()));
            }
        }
        if kept.is_empty() {
            notes.push(format!("syscalls[{}] ({}) skipped: {}", e.at, e.src.action, own.join("; ")));
        } else {
            rules.extend(rules_of(file, e, &kept, &own, &mut warnings)?.into_iter().map(Sp::new));
        }
        for (list, names) in &restate {
            if !e.unconditional {
                // Argument-free pairs are reported by `first_wins_conflicts`.
                warnings.push(
                    Diagnostic::warning(
                        Origin::new(file, 1, 1),
                        format!(
                            "syscalls[{}] ({}): its conditions on {} are not tested where an earlier argument-free entry applies ({}): {CONDITIONS_IGNORED}; the imported profile states those entries again after it",
                            e.at,
                            e.src.action,
                            names.join(", "),
                            list.iter().map(|&i| format!("syscalls[{}]", entries[i].at)).collect::<Vec<_>>().join(", ")
                        ),
                    )
                    .with_hint("remove the names from the entry you do not mean"),
                );
            }
            // The earliest last, so that it wins where it applies.
            for &i in list.iter().rev() {
                let p = &entries[i];
                let note = format!(
                    "restated after syscalls[{}]: {FIRST_KEPT}, so syscalls[{}] ({}) decides {} where it applies",
                    e.at,
                    p.at,
                    p.src.action,
                    names.join(", ")
                );
                rules.extend(rules_of(file, p, names, &[note], &mut warnings)?.into_iter().map(Sp::new));
            }
        }
        for n in &e.names {
            by_name.entry(n.as_str()).or_default().push(k);
        }
    }
    if !d.flags.is_empty() {
        warnings.push(Diagnostic::warning(
            Origin::new(file, 1, 1),
            format!("seccomp flags {:?} are not part of the profile language; dropped", d.flags),
        ));
    }
    let mut description =
        format!("Imported from Docker seccomp profile {}", file.rsplit('/').next().unwrap_or(file));
    for n in &notes {
        description.push_str(&format!(". [import: {n}]"));
    }
    // runc's ENOSYS stub (libcontainer/seccomp/patchbpf): unless the default is allow, log or
    // trace, runc puts in front of libseccomp's filter a test that answers ENOSYS for every
    // number above the largest one the JSON names on the arch (each name of each entry Docker
    // keeps, its action the default or not). `enosys-after-named` is that test. A default of
    // errno(ENOSYS) makes the stub change nothing.
    let stub = !matches!(default, Action::Allow | Action::Log | Action::Trace(_))
        && default != Action::Errno(ENOSYS)
        && !rules.is_empty();
    if stub && !uncounted.is_empty() {
        // runc counts the names of an entry whose action is the default even where it gives
        // libseccomp no rule for them; where an earlier entry that names them does not apply,
        // no rule of the import names them. A rule with the default verdict, first (so that
        // it decides nothing any other rule decides), names them where their entry applies.
        let mut first = Vec::new();
        for (k, names) in &uncounted {
            let e = &entries[*k];
            let mut r = Rule {
                deny: Some(names.iter().cloned().map(Sp::new).collect()),
                action: Some(Sp::new(default.to_string())),
                when: when_of(file, e.src.includes.as_ref(), e.src.excludes.as_ref())?,
                ..Rule::default()
            };
            let text = format!(
                "runc counts {} of syscalls[{}] ({}, the default) for its ENOSYS stub; stated first with the default, to count here too",
                names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", "),
                e.at,
                e.src.action
            );
            annotate(&mut r.comment, &text);
            first.push(Sp::new(r));
        }
        rules.splice(0..0, first);
    }
    let unknown = if stub { ENOSYS_AFTER_NAMED } else { "default" };
    let profile = Profile {
        name: Some(Sp::new(name.to_string())),
        description: Some(description),
        capabilities: Some(Capabilities {
            add: DOCKER_DEFAULT.iter().map(|c| Sp::new(c.to_string())).collect(),
            ..Capabilities::default()
        }),
        seccomp: Some(Seccomp {
            default: Some(Sp::new(default.to_string())),
            unknown: Some(Sp::new(unknown.into())),
            arches: (!arches.is_empty()).then(|| arches.into_iter().map(Sp::new).collect()),
            rules,
            // runc adds no clone3 rule of its own.
            clone3_fallback: Some(Sp::new(false)),
            ..Seccomp::default()
        }),
        ..Profile::default()
    };
    Ok(Imported { profile, warnings })
}

/// errno of runc's stub.
const ENOSYS: u16 = 38;

/// The `unknown` of an import that runc would give its ENOSYS stub.
const ENOSYS_AFTER_NAMED: &str = "enosys-after-named";

/// The profile as YAML text, with the schema line editors use (and a comment on
/// `unknown: enosys-after-named`, which mirrors runc's stub).
pub fn to_yaml(profile: &Profile) -> Result<String, Error> {
    let body = serde_saphyr::to_string(profile)
        .map_err(|e| Error::Export { format: "yaml", message: e.to_string() })?;
    let mut text = String::from("# Imported by `policyc import`; the last matching seccomp rule wins.\n");
    for line in body.lines() {
        if line.trim() == format!("unknown: {ENOSYS_AFTER_NAMED}") {
            let indent = &line[..line.len() - line.trim_start().len()];
            text.push_str(&format!("{indent}# runc's ENOSYS stub: runc answers ENOSYS to a call above the largest syscall number\n{indent}# the JSON names on its arch; here too, where no rule decides the call.\n"));
        }
        text.push_str(line);
        text.push('\n');
    }
    Ok(text)
}

/// Import Docker JSON text and compile the result (as `policyc import` then `compile` would).
pub fn compile_docker(
    file: &str,
    text: &str,
    opts: &crate::CompileOptions,
) -> Result<crate::Compiled, Error> {
    let stem = file.rsplit('/').next().unwrap_or(file).trim_end_matches(".json");
    let imported = import_text(file, stem, text)?;
    let yaml = to_yaml(&imported.profile)?;
    crate::compile_text(&format!("{stem}.yaml"), &yaml, None, opts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syscalls::groups;
    use crate::{compile_text, CompileOptions, Policy};

    /// Issue 15: diagnostics of JSON input point into the JSON, and a parse error says why.
    #[test]
    fn diagnostics_point_into_the_json_and_a_comment_gets_a_hint() {
        let bad_action = "{\n  \"defaultAction\": \"SCMP_ACT_ERRNO\",\n  \"syscalls\": [\n    { \"names\": [\"read\"], \"action\": \"SCMP_ACT_BOGUS\" }\n  ]\n}\n";
        let Err(Error::Invalid(ds)) = import_text("p.json", "p", bad_action) else { panic!("accepted") };
        let col = bad_action.lines().nth(3).unwrap().find("\"SCMP_ACT_BOGUS\"").unwrap() as u64 + 1;
        assert_eq!((ds[0].origin.line, ds[0].origin.column), (4, col), "{ds:?}");
        let skipped = "{\"defaultAction\": \"SCMP_ACT_ERRNO\",\n \"syscalls\": [{\"names\": [\"read\", \"sysctl\"], \"action\": \"SCMP_ACT_ALLOW\"}]}\n";
        let i = import_text("p.json", "p", skipped).unwrap();
        let w = i.warnings.iter().find(|w| w.message.contains("`sysctl`")).expect("a warning for sysctl");
        let col = skipped.lines().nth(1).unwrap().find("\"sysctl\"").unwrap() as u64 + 1;
        assert_eq!((w.origin.line, w.origin.column), (2, col), "{w:?}");
        let comment = "# my profile\n{\"defaultAction\": \"SCMP_ACT_ERRNO\"}\n";
        let Err(Error::Invalid(ds)) = parse_docker("p.json", comment) else { panic!("parsed") };
        assert_eq!((ds[0].origin.line, ds[0].origin.column), (1, 1));
        assert!(ds[0].hint.as_deref().unwrap_or_default().contains("JSON has no comments"), "{ds:?}");
    }

    fn imported(json: &str) -> (Policy, Vec<Diagnostic>, String) {
        let d = parse_docker("p.json", json).unwrap();
        let i = import("p.json", "p", &d).unwrap();
        let yaml = to_yaml(&i.profile).unwrap();
        let c = compile_text("p.yaml", &yaml, None, &CompileOptions::default()).unwrap();
        (c.policy, i.warnings, yaml)
    }

    fn permits(p: &Policy, name: &str) -> Option<bool> {
        p.evaluate_name(Arch::X86_64, name, [0; 6]).map(|e| e.action.permits())
    }

    /// Found by the `docker_json` fuzz target: a `minKernel` of `4.8'` was copied into the
    /// profile, which then did not compile. moby reads `%d.%d` from the start and ignores the
    /// rest; the import writes what moby read, and refuses what moby refuses.
    #[test]
    fn min_kernel_is_read_as_moby_reads_it() {
        let json = |k: &str| {
            format!(
                r#"{{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{{"names": ["read"], "action": "SCMP_ACT_ALLOW", "includes": {{"minKernel": {k:?}}}}}]}}"#
            )
        };
        for (k, want) in [("4.8'", "4.8"), ("5.10.3-rc1", "5.10"), (" 4.8", "4.8"), ("6.1", "6.1")] {
            let (_, _, yaml) = imported(&json(k));
            assert!(
                yaml.contains(&format!("min_kernel: '{want}'"))
                    || yaml.contains(&format!("min_kernel: \"{want}\"")),
                "{k}: {yaml}"
            );
        }
        let (p, _, _) = imported(&json(""));
        assert_eq!(permits(&p, "read"), Some(true));
        for k in ["4", "four", "4.x", ".8", "-4.8"] {
            let d = parse_docker("p.json", &json(k)).unwrap();
            let Err(e) = import("p.json", "p", &d) else { panic!("{k} accepted") };
            assert!(e.to_string().contains("is not a kernel version"), "{k}: {e}");
        }
    }

    /// Issue 14, finding 12: Docker ignores a name `@privileged`; the import allowed the 54
    /// syscalls of the Palisade group of that name.
    #[test]
    fn a_docker_name_starting_with_at_is_an_unknown_syscall_not_a_group() {
        let json = r#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{"names": ["read", "@privileged", " ptrace"], "action": "SCMP_ACT_ALLOW"},
                         {"names": ["@privileged"], "action": "SCMP_ACT_ALLOW"}]}"#;
        let (p, warnings, yaml) = imported(json);
        let members = groups::group("@privileged").unwrap().expand();
        assert!(members.len() > 40, "{members:?}");
        let allowed: Vec<_> = members.iter().filter(|n| permits(&p, n) == Some(true)).collect();
        assert!(allowed.is_empty(), "allowed: {allowed:?}");
        assert_eq!(permits(&p, "ptrace"), Some(false));
        assert_eq!(permits(&p, "read"), Some(true));
        // The skipped names stay only in the notes of the YAML, never in a rule.
        let in_rules = yaml.lines().filter(|l| l.trim_start().starts_with("- ")).any(|l| {
            let item = l.trim_start()[2..].trim().trim_matches('"');
            item == "@privileged" || item == " ptrace" || item == "ptrace"
        });
        assert!(!in_rules, "{yaml}");
        assert!(yaml.contains("runc skips `@privileged`, ` ptrace`"), "{yaml}");
        let about = |text: &str| warnings.iter().filter(|w| w.message.contains(text)).count();
        assert_eq!(about("`@privileged` is not a syscall name"), 2, "{warnings:#?}");
        assert_eq!(about("` ptrace` is not a syscall name"), 1, "{warnings:#?}");
        assert!(warnings.iter().all(|w| w.severity == crate::Severity::Warning && w.hint.is_some()));
        assert!(warnings[0].message.starts_with("syscalls[0] (SCMP_ACT_ALLOW)"), "{}", warnings[0]);
    }

    /// Found by the `docker_json` fuzz target: one entry for `socket` (argument 0 is 32 bits)
    /// and `mmap` (64 bits) with a condition on argument 0 made a rule the compiler refuses.
    /// The import splits it by width; the meaning is each syscall's.
    #[test]
    fn an_entry_whose_syscalls_disagree_on_an_argument_width_is_split() {
        let json = r#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{"names": ["socket", "mmap", "connect"], "action": "SCMP_ACT_ALLOW",
                          "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]}]}"#;
        let (p, _, _) = imported(json);
        assert_eq!(p.seccomp.rules.len(), 2, "{:?}", p.seccomp.rules);
        for name in ["socket", "mmap", "connect"] {
            assert_eq!(verdict(&p, name, [1, 0, 0, 0, 0, 0]), Some(Action::Allow), "{name}(1)");
            assert_eq!(verdict(&p, name, [2, 0, 0, 0, 0, 0]), Some(Action::Errno(1)), "{name}(2)");
        }
        // 32 bits for socket's domain: the high word is not compared; 64 for mmap's address.
        assert_eq!(verdict(&p, "socket", [0x1_0000_0001, 0, 0, 0, 0, 0]), Some(Action::Allow));
        assert_eq!(verdict(&p, "mmap", [0x1_0000_0001, 0, 0, 0, 0, 0]), Some(Action::Errno(1)));
    }

    /// Found by the `docker_json` fuzz target: a value above 32 bits on a 32-bit argument
    /// (`socket`'s domain) made a rule the compiler refuses. libseccomp compares 64 bits there;
    /// so does the import, with `width: 64`.
    #[test]
    fn a_value_above_32_bits_on_a_32_bit_argument_is_compared_on_64_bits() {
        let json = r#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{"names": ["socket"], "action": "SCMP_ACT_ALLOW",
                          "args": [{"index": 0, "value": 8589934590, "op": "SCMP_CMP_EQ"}]}]}"#;
        let (p, _, yaml) = imported(json);
        assert!(yaml.contains("width: 64"), "{yaml}");
        assert_eq!(verdict(&p, "socket", [0x1_ffff_fffe, 0, 0, 0, 0, 0]), Some(Action::Allow));
        assert_eq!(verdict(&p, "socket", [0xffff_fffe, 0, 0, 0, 0, 0]), Some(Action::Errno(1)));
    }

    /// Found by the `docker_json` fuzz target: names in `includes`/`excludes` that no kernel
    /// or Go arch has made an import the compiler refuses. Docker compares them as strings:
    /// such an `includes` never holds, such an `excludes` never excludes.
    #[test]
    fn unknown_names_in_includes_and_excludes_mean_what_they_mean_to_docker() {
        let entry = |filter: &str| {
            format!(
                r#"{{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
                   "syscalls": [{{"names": ["clone"], "action": "SCMP_ACT_ALLOW", {filter}}}]}}"#
            )
        };
        for (filter, allowed) in [
            (r#""includes": {"caps": ["CAP_NO_SUCH"]}"#, false),
            (r#""includes": {"arches": ["no_such_arch"]}"#, false),
            (r#""includes": {"arches": ["no_such_arch", "amd64"]}"#, true),
            (r#""excludes": {"caps": ["CAP_NO_SUCH"]}"#, true),
            (r#""excludes": {"arches": ["no_such_arch"]}"#, true),
        ] {
            let (p, warnings, _) = imported(&entry(filter));
            assert_eq!(permits(&p, "clone"), Some(allowed), "{filter}");
            assert!(
                warnings.iter().any(|w| w.message.contains("unknown") && w.hint.is_some()),
                "{filter}: {warnings:#?}"
            );
        }
    }

    /// Nor does a deny entry deny the group: Docker denies nothing for it.
    #[test]
    fn a_deny_entry_naming_a_group_denies_nothing() {
        let json = r#"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{"names": ["@privileged"], "action": "SCMP_ACT_ERRNO"}]}"#;
        let (p, warnings, _) = imported(json);
        assert!(p.seccomp.rules.is_empty(), "{:?}", p.seccomp.rules);
        assert_eq!(permits(&p, "reboot"), Some(true));
        assert_eq!(warnings.len(), 1, "{warnings:#?}");
        // The action is still checked, as runc checks it.
        let bad = json.replace("SCMP_ACT_ERRNO", "SCMP_ACT_NOPE");
        let d = parse_docker("p.json", &bad).unwrap();
        assert!(import("p.json", "p", &d).is_err());
    }

    fn verdict(p: &Policy, name: &str, args: [u64; 6]) -> Option<Action> {
        p.evaluate_name(Arch::X86_64, name, args).map(|e| e.action)
    }

    /// Issue 15: libseccomp masks the datum of `SCMP_CMP_MASKED_EQ`; the import compared
    /// `arg & 4` with 6, which never holds.
    #[test]
    fn masked_eq_compares_the_masked_datum_as_libseccomp_does() {
        let json = r#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{"names": ["access"], "action": "SCMP_ACT_ALLOW",
                          "args": [{"index": 1, "op": "SCMP_CMP_MASKED_EQ", "value": 4, "valueTwo": 6}]}]}"#;
        let (p, _, _) = imported(json);
        assert_eq!(verdict(&p, "access", [0, 4, 0, 0, 0, 0]), Some(Action::Allow));
        assert_eq!(verdict(&p, "access", [0, 6, 0, 0, 0, 0]), Some(Action::Allow));
        assert_eq!(verdict(&p, "access", [0, 2, 0, 0, 0, 0]), Some(Action::Errno(1)));
    }

    /// Issue 15: runc gives `SCMP_ACT_TRACE` without errnoRet the data EPERM (1), for the
    /// default action and for rules.
    #[test]
    fn trace_without_errno_ret_gives_the_tracer_eperm_as_runc_does() {
        let json = r#"{"defaultAction": "SCMP_ACT_TRACE", "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"},
                         {"names": ["ptrace"], "action": "SCMP_ACT_TRACE", "errnoRet": 7}]}"#;
        let (p, _, _) = imported(json);
        assert_eq!(p.seccomp.default_action, Action::Trace(1));
        assert_eq!(verdict(&p, "ptrace", [0; 6]), Some(Action::Trace(7)));
        let json = json.replace(r#", "errnoRet": 7"#, "").replace("SCMP_ACT_TRACE\",", "SCMP_ACT_ALLOW\",");
        let (p, _, _) = imported(&json);
        assert_eq!(verdict(&p, "ptrace", [0; 6]), Some(Action::Trace(1)));
    }

    /// Issue 15 (jellyfin's profile): names no arch has made the imported deny rule an error
    /// at compile time; runc skips them. A name only another arch has (`umount`, x86) stays:
    /// libseccomp resolves it to a pseudo-number and applies it where it exists.
    #[test]
    fn names_no_arch_has_are_skipped_and_kept_in_a_comment() {
        let json = r#"{"defaultAction": "SCMP_ACT_ALLOW",
            "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]}],
            "syscalls": [{"names": ["posix_fadvise", "sysctl", "umount", "ptrace"], "action": "SCMP_ACT_ERRNO"},
                         {"names": ["posix_fallocate"], "action": "SCMP_ACT_ERRNO"}]}"#;
        let (p, warnings, yaml) = imported(json);
        assert_eq!(verdict(&p, "ptrace", [0; 6]), Some(Action::Errno(1)));
        assert_eq!(p.evaluate_name(Arch::X86, "umount", [0; 6]).map(|e| e.action), Some(Action::Errno(1)));
        let about = |text: &str| warnings.iter().filter(|w| w.message.contains(text)).count();
        for n in ["posix_fadvise", "sysctl", "posix_fallocate"] {
            assert_eq!(about(&format!("`{n}` is not a syscall name: no arch has")), 1, "{n}: {warnings:#?}");
        }
        assert_eq!(about("umount"), 0, "{warnings:#?}");
        assert!(
            warnings.iter().any(|w| w.hint.as_deref().is_some_and(|h| h.contains("`_sysctl`"))),
            "{warnings:#?}"
        );
        assert!(yaml.contains("runc skips `posix_fadvise`, `sysctl`: not syscall names"), "{yaml}");
        assert!(
            yaml.contains("syscalls[1] (SCMP_ACT_ERRNO) skipped, as runc skips `posix_fallocate`"),
            "{yaml}"
        );
    }

    /// Issue 15 (Podman's default profile): libseccomp keeps the first of two argument-free
    /// rules, so `setns` is allowed without CAP_SYS_ADMIN; the import kept the last.
    #[test]
    fn the_first_argument_free_rule_decides_as_in_libseccomp() {
        let json = r#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{"names": ["read", "setns"], "action": "SCMP_ACT_ALLOW"},
                         {"names": ["setns", "mount"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38,
                          "excludes": {"caps": ["CAP_SYS_ADMIN"]}}]}"#;
        let (p, warnings, yaml) = imported(json);
        assert_eq!(verdict(&p, "setns", [0; 6]), Some(Action::Allow));
        assert_eq!(verdict(&p, "mount", [0; 6]), Some(Action::Errno(38)));
        assert!(warnings
            .iter()
            .any(|w| w.message.contains("apply to setns") && w.message.contains("keeps the first")));
        assert!(yaml.contains("`setns` dropped: libseccomp keeps the first argument-free rule of a syscall; syscalls[0] (SCMP_ACT_ALLOW) decides"), "{yaml}");
    }

    /// The first argument-free rule applies only with some capabilities: it is stated again
    /// after the later one, so it decides where it applies and the later one elsewhere.
    #[test]
    fn a_first_rule_with_conditions_of_its_own_is_restated_after_the_later_one() {
        for (filter, expected) in [
            (r#""includes": {"caps": ["CAP_CHOWN"]}"#, Action::Allow),
            (r#""excludes": {"caps": ["CAP_CHOWN"]}"#, Action::Errno(38)),
            (r#""includes": {"caps": ["CAP_SYS_ADMIN"]}"#, Action::Errno(38)),
        ] {
            let json = format!(
                r#"{{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
                "syscalls": [{{"names": ["setns"], "action": "SCMP_ACT_ALLOW", {filter}}},
                             {{"names": ["setns"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}}]}}"#
            );
            let (p, _, yaml) = imported(&json);
            assert_eq!(verdict(&p, "setns", [0; 6]), Some(expected), "{filter}\n{yaml}");
            assert!(yaml.contains("restated after syscalls[1]"), "{yaml}");
        }
    }

    /// Issue 15: runc never gives libseccomp a rule whose action is the default, so a later
    /// entry with the default action does not override an earlier one.
    #[test]
    fn an_entry_with_the_default_action_overrides_nothing() {
        let json = r#"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ERRNO"},
                         {"names": ["personality", "read"], "action": "SCMP_ACT_ALLOW",
                          "args": [{"index": 0, "op": "SCMP_CMP_EQ", "value": 0}]}]}"#;
        let (p, warnings, yaml) = imported(json);
        assert_eq!(verdict(&p, "personality", [0; 6]), Some(Action::Errno(1)));
        assert_eq!(verdict(&p, "personality", [8, 0, 0, 0, 0, 0]), Some(Action::Errno(1)));
        assert!(
            yaml.contains("`personality` dropped: runc drops an entry whose action is the default"),
            "{yaml}"
        );
        assert!(warnings.iter().any(|w| w.message.contains("`personality` dropped")), "{warnings:#?}");
    }

    /// Issue 15: libseccomp ignores a conditional rule added after an argument-free one for the
    /// same syscall; the import let the conditional rule win where it matched.
    #[test]
    fn conditions_after_an_argument_free_rule_are_ignored_as_in_libseccomp() {
        let json = r#"{"defaultAction": "SCMP_ACT_KILL_PROCESS", "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ALLOW"},
                         {"names": ["personality"], "action": "SCMP_ACT_ERRNO",
                          "args": [{"index": 0, "op": "SCMP_CMP_EQ", "value": 0}]}]}"#;
        let (p, warnings, _) = imported(json);
        assert_eq!(verdict(&p, "personality", [0; 6]), Some(Action::Allow));
        assert!(
            warnings.iter().any(|w| w.message.contains("libseccomp ignores conditional rules")),
            "{warnings:#?}"
        );
        // A later argument-free rule replaces earlier conditional ones, as last-match-wins does.
        let json = r#"{"defaultAction": "SCMP_ACT_KILL_PROCESS", "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ERRNO",
                          "args": [{"index": 0, "op": "SCMP_CMP_EQ", "value": 0}]},
                         {"names": ["personality"], "action": "SCMP_ACT_ALLOW"}]}"#;
        let (p, warnings, _) = imported(json);
        assert_eq!(verdict(&p, "personality", [0; 6]), Some(Action::Allow));
        assert!(warnings.is_empty(), "{warnings:#?}");
    }

    /// A conditional entry after an argument-free one that applies only with some capability:
    /// where the earlier applies, libseccomp never tests the conditions.
    #[test]
    fn conditions_after_a_capability_dependent_argument_free_rule_yield_to_it() {
        let json = r#"{"defaultAction": "SCMP_ACT_KILL_PROCESS", "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_CHOWN"]}},
                         {"names": ["personality"], "action": "SCMP_ACT_ERRNO",
                          "args": [{"index": 0, "op": "SCMP_CMP_EQ", "value": 0}]}]}"#;
        let (p, warnings, _) = imported(json);
        assert_eq!(verdict(&p, "personality", [0; 6]), Some(Action::Allow));
        assert!(
            warnings.iter().any(|w| w
                .message
                .contains("are not tested where an earlier argument-free entry applies (syscalls[0])")),
            "{warnings:#?}"
        );
        // Without the capability the conditions decide, as in libseccomp.
        let json = json.replace("CAP_CHOWN", "CAP_SYS_ADMIN");
        let (p, _, _) = imported(&json);
        assert_eq!(verdict(&p, "personality", [0; 6]), Some(Action::Errno(1)));
        assert_eq!(verdict(&p, "personality", [8, 0, 0, 0, 0, 0]), Some(Action::KillProcess));
    }

    /// Issue 15: runc answers ENOSYS for a number above the largest one the JSON names on the
    /// arch (its stub, unless the default is allow, log or trace); the import gave `faccessat2`,
    /// `openat2`... the default (EPERM).
    #[test]
    fn runcs_enosys_stub_is_imported_as_enosys_after_named() {
        let json = r#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{"names": ["read", "openat2"], "action": "SCMP_ACT_ALLOW"}]}"#;
        let (p, _, yaml) = imported(json);
        assert!(yaml.contains("  # runc's ENOSYS stub: runc answers ENOSYS to a call above the largest syscall number\n  # the JSON names on its arch; here too, where no rule decides the call.\n  unknown: enosys-after-named\n"), "{yaml}");
        let e = p.seccomp.enosys_after.as_ref().expect("the stub");
        assert_eq!(e.cutoff(Arch::X86_64), table::table(Arch::X86_64).unwrap().nr("openat2"));
        assert_eq!(verdict(&p, "faccessat2", [0; 6]), Some(Action::Errno(38)));
        assert_eq!(verdict(&p, "openat2", [0; 6]), Some(Action::Allow));
        assert_eq!(verdict(&p, "mount", [0; 6]), Some(Action::Errno(1)));
        assert_eq!(p.evaluate(Arch::X86_64.audit_arch(), 1000, [0; 6]).action, Action::Errno(38));
        // No stub where runc adds none (or where it would change nothing).
        for default in [
            r#""SCMP_ACT_ALLOW""#,
            r#""SCMP_ACT_LOG""#,
            r#""SCMP_ACT_TRACE""#,
            r#""SCMP_ACT_ERRNO", "defaultErrnoRet": 38"#,
        ] {
            let json =
                json.replace(r#""SCMP_ACT_ERRNO""#, default).replace("SCMP_ACT_ALLOW\"}", "SCMP_ACT_KILL\"}");
            let (p, _, yaml) = imported(&json);
            assert!(yaml.contains("unknown: default") && !yaml.contains("ENOSYS stub"), "{default}: {yaml}");
            assert_eq!(p.seccomp.enosys_after, None, "{default}");
            assert_eq!(verdict(&p, "faccessat2", [0; 6]), Some(p.seccomp.default_action), "{default}");
        }
    }

    /// runc counts the names of an entry whose action is the default for its stub, though it
    /// gives libseccomp no rule for them: where the earlier entry the import keeps instead does
    /// not apply, a first rule with the default names them.
    #[test]
    fn names_of_a_default_action_entry_still_count_for_the_stub() {
        let json = r#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{"names": ["clone3"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
                         {"names": ["read", "clone3"], "action": "SCMP_ACT_ERRNO"},
                         {"names": ["write"], "action": "SCMP_ACT_ALLOW"}]}"#;
        let (p, _, yaml) = imported(json);
        assert!(
            yaml.contains(
                "runc counts `clone3` of syscalls[1] (SCMP_ACT_ERRNO, the default) for its ENOSYS stub"
            ),
            "{yaml}"
        );
        let first = &p.seccomp.rules[0];
        assert_eq!(
            (first.syscalls.as_slice(), first.action),
            (&["clone3".to_string()][..], Action::Errno(1))
        );
        let t = table::table(Arch::X86_64).unwrap();
        assert_eq!(p.seccomp.enosys_after.as_ref().unwrap().cutoff(Arch::X86_64), t.nr("clone3"));
        // As under runc: clone3 at the cut-off gets libseccomp's default, the next number ENOSYS.
        assert_eq!(verdict(&p, "clone3", [0; 6]), Some(Action::Errno(1)));
        assert_eq!(verdict(&p, "close_range", [0; 6]), Some(Action::Errno(38)));
        assert_eq!(verdict(&p, "write", [0; 6]), Some(Action::Allow));
    }
}
