//! Profile layers → IR: merge `extends` layers, check every name, resolve conditions.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::*;
use crate::action::{Action, ActionError};
use crate::caps::{self, Cap, Tweak};
use crate::error::{Diagnostic, Diagnostics, Error, Origin};
use crate::frontend::loader::Layer;
use crate::frontend::profile::{
    Ambient, ArgCond, ArgOp, ArgValue, LandlockMode, PathList, Rlimit, RlimitValue, Rule, Securebits,
    UserSpec,
};
use crate::frontend::spanned::Sp;
use crate::landlock_rights;
use crate::syscalls::arch::{host_of, normalize_host, ALL_ARCHES};
use crate::syscalls::{consts, groups, table, widths};

/// Options that change how a profile compiles.
#[derive(Clone, Debug, Default)]
pub struct CompileOptions {
    /// Kernel the policy targets, for `when.min_kernel` (`None`: a current kernel).
    pub kernel: Option<KernelVersion>,
    /// Build the per-arch tables only for the arches a kernel of this arch presents (the
    /// enforcer's case: it only runs here). `None`: every arch of the profile.
    pub tables_for: Option<Arch>,
}

const RLIMITS: [&str; 16] = [
    "as",
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];

const NAMESPACES: [&str; 8] = ["cgroup", "ipc", "mount", "net", "pid", "time", "user", "uts"];

/// Clone flags that create namespaces (Docker's 0x7E020000).
pub(crate) const CLONE_NEW_FLAGS: [(&str, u64); 7] = [
    ("CLONE_NEWNS", 0x0002_0000),
    ("CLONE_NEWCGROUP", 0x0200_0000),
    ("CLONE_NEWUTS", 0x0400_0000),
    ("CLONE_NEWIPC", 0x0800_0000),
    ("CLONE_NEWUSER", 0x1000_0000),
    ("CLONE_NEWPID", 0x2000_0000),
    ("CLONE_NEWNET", 0x4000_0000),
];

struct Ctx<'a> {
    file: &'a str,
}

impl Ctx<'_> {
    fn at<T>(&self, sp: &Sp<T>) -> Origin {
        Origin::new(self.file, sp.line, sp.column)
    }
}

/// Build the IR from loaded layers (parents first). Returns the policy and its warnings.
pub fn build(layers: &[Layer], opts: &CompileOptions) -> Result<(Policy, Vec<Diagnostic>), Error> {
    let mut diags = Diagnostics::default();
    let last = layers.last();
    let name = last
        .and_then(|l| l.profile.name.as_ref().map(|n| n.value.clone()))
        .or_else(|| last.map(|l| file_stem(&l.file)))
        .unwrap_or_else(|| "profile".into());
    let description = layers.iter().rev().find_map(|l| l.profile.description.clone());

    let process = build_process(layers, &mut diags);
    let noroot = process.securebits.bits & SECBIT_NOROOT != 0;
    let capabilities = build_caps(layers, process.uid, noroot, &mut diags);
    let seccomp = build_seccomp(layers, &capabilities.granted, opts, &mut diags);
    let landlock = build_landlock(layers, &mut diags);
    let isolation = build_isolation(layers, &mut diags);
    let warnings = diags.finish()?;
    let policy = Policy {
        name,
        description,
        sources: layers.iter().map(|l| l.file.clone()).collect(),
        process,
        capabilities,
        seccomp,
        landlock,
        isolation,
    };
    Ok((policy, warnings))
}

fn file_stem(file: &str) -> String {
    let base = file.strip_prefix("builtin:").unwrap_or(file);
    std::path::Path::new(base)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| base.to_string())
}

fn build_process(layers: &[Layer], diags: &mut Diagnostics) -> ProcessIr {
    let (mut uid, mut gid) = (0u32, 0u32);
    let mut nnp = true;
    let mut securebits = None;
    let mut rlimits = BTreeMap::new();
    for layer in layers {
        let Some(p) = &layer.profile.process else { continue };
        let ctx = Ctx { file: &layer.file };
        if let Some(u) = &p.user {
            match parse_user(&u.value) {
                Some((a, b)) => (uid, gid) = (a, b),
                None => diags.error(
                    ctx.at(u),
                    format!("invalid user {:?}", user_text(&u.value)),
                    Some("write `uid` or `uid:gid` with numbers (names are not resolved)".into()),
                ),
            }
        }
        if let Some(n) = &p.no_new_privs {
            nnp = n.value;
        }
        if let Some(s) = &p.securebits {
            securebits = Some(s.value);
        }
        for (key, sp) in &p.rlimits {
            if !RLIMITS.contains(&key.as_str()) {
                diags.error(
                    ctx.at(sp),
                    format!("unknown resource limit `{key}`"),
                    Some(format!("known limits: {}", RLIMITS.join(", "))),
                );
                continue;
            }
            match rlimit(&sp.value) {
                Ok(r) => {
                    rlimits.insert(key.clone(), r);
                }
                Err(m) => diags.error(
                    ctx.at(sp),
                    format!("invalid limit for `{key}`: {m}"),
                    Some("use a number, `unlimited`, or `{ soft: N, hard: M }` with soft <= hard".into()),
                ),
            }
        }
    }
    let mode = securebits.unwrap_or(if uid == 0 { Securebits::Locked } else { Securebits::None });
    let securebits = match mode {
        Securebits::None => SecurebitsIr { mode: "none".into(), bits: 0, names: vec![] },
        Securebits::Locked => SecurebitsIr {
            mode: "locked".into(),
            bits: 0x2f,
            names: [
                "SECBIT_NOROOT",
                "SECBIT_NOROOT_LOCKED",
                "SECBIT_NO_SETUID_FIXUP",
                "SECBIT_NO_SETUID_FIXUP_LOCKED",
                "SECBIT_KEEP_CAPS_LOCKED",
            ]
            .map(String::from)
            .to_vec(),
        },
    };
    ProcessIr { uid, gid, no_new_privs: nnp, securebits, rlimits }
}

fn user_text(u: &UserSpec) -> String {
    match u {
        UserSpec::Uid(n) => n.to_string(),
        UserSpec::Text(t) => t.clone(),
    }
}

fn parse_user(u: &UserSpec) -> Option<(u32, u32)> {
    match u {
        UserSpec::Uid(n) => Some((*n, *n)),
        UserSpec::Text(t) => {
            let mut it = t.splitn(2, ':');
            let uid: u32 = it.next()?.trim().parse().ok()?;
            let gid = match it.next() {
                Some(g) => g.trim().parse().ok()?,
                None => uid,
            };
            Some((uid, gid))
        }
    }
}

fn rlimit(r: &Rlimit) -> Result<RlimitIr, String> {
    let one = |v: &RlimitValue| match v {
        RlimitValue::Number(n) => Ok(Some(*n)),
        RlimitValue::Word(w) if w == "unlimited" || w == "infinity" => Ok(None),
        RlimitValue::Word(w) => Err(format!("`{w}` is not a number or `unlimited`")),
    };
    let (soft, hard) = match r {
        Rlimit::Value(v) => (one(v)?, one(v)?),
        Rlimit::Pair { soft, hard } => (one(soft)?, one(hard)?),
    };
    if let (Some(s), Some(h)) = (soft, hard) {
        if s > h {
            return Err(format!("soft limit {s} is above hard limit {h}"));
        }
    }
    if soft.is_none() && hard.is_some() {
        return Err("soft limit unlimited is above the hard limit".into());
    }
    Ok(RlimitIr { soft, hard })
}

fn parse_caps(list: &[Sp<String>], ctx: &Ctx, diags: &mut Diagnostics) -> (bool, BTreeSet<Cap>) {
    let mut all = false;
    let mut set = BTreeSet::new();
    for c in list {
        if c.value.eq_ignore_ascii_case("ALL") {
            all = true;
        } else if let Some(cap) = Cap::parse(&c.value) {
            set.insert(cap);
        } else {
            diags.error(
                ctx.at(c),
                format!("unknown capability `{}`", c.value),
                Some(match caps::suggest(&c.value) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => "see `man 7 capabilities` for the names".into(),
                }),
            );
        }
    }
    (all, set)
}

/// `SECBIT_NOROOT`: uid 0 gets no capabilities from exec.
const SECBIT_NOROOT: u32 = 1;

/// The five sets. uid 0 without `SECBIT_NOROOT` gets the bounding set back at every exec, so
/// the bounding set is what limits it; with `SECBIT_NOROOT` (and for every other uid) only the
/// ambient set survives exec, so the granted capabilities are made inheritable and ambient.
fn build_caps(layers: &[Layer], uid: u32, noroot: bool, diags: &mut Diagnostics) -> CapsIr {
    let mut granted = BTreeSet::new();
    let mut ambient: Option<(Ambient, Origin)> = None;
    for layer in layers {
        let Some(c) = &layer.profile.capabilities else { continue };
        let ctx = Ctx { file: &layer.file };
        let (add_all, add) = parse_caps(&c.add, &ctx, diags);
        let (drop_all, drop) = parse_caps(&c.drop, &ctx, diags);
        granted = caps::tweak(&granted, &Tweak { add_all, drop_all, add, drop });
        if let Some(a) = &c.ambient {
            ambient = Some((a.value.clone(), ctx.at(a)));
        }
    }
    let amb: BTreeSet<Cap> = match &ambient {
        None => granted.clone(),
        Some((Ambient::Mode(m), _)) if m == "auto" => granted.clone(),
        Some((Ambient::Mode(m), _)) if m == "none" => BTreeSet::new(),
        Some((Ambient::Mode(m), at)) => {
            diags.error(
                at.clone(),
                format!("invalid ambient mode `{m}`"),
                Some("use `auto`, `none` or a list of capabilities".into()),
            );
            BTreeSet::new()
        }
        Some((Ambient::List(list), at)) => {
            let mut set = BTreeSet::new();
            for name in list {
                match Cap::parse(name) {
                    Some(c) if granted.contains(&c) => {
                        set.insert(c);
                    }
                    Some(c) => diags.error(
                        at.clone(),
                        format!("ambient capability {} is not granted", c.name()),
                        Some("add it to `capabilities.add` first".into()),
                    ),
                    None => diags.error(
                        at.clone(),
                        format!("unknown capability `{name}`"),
                        caps::suggest(name).map(|s| format!("did you mean `{s}`?")),
                    ),
                }
            }
            set
        }
    };
    let names = caps::names(&granted);
    if uid == 0 && noroot {
        CapsIr {
            granted: names.clone(),
            bounding: names.clone(),
            permitted: names.clone(),
            effective: names.clone(),
            inheritable: names.clone(),
            ambient: names,
        }
    } else if uid == 0 {
        CapsIr {
            granted: names.clone(),
            bounding: names.clone(),
            permitted: names.clone(),
            effective: names,
            inheritable: vec![],
            ambient: vec![],
        }
    } else {
        let a = caps::names(&amb);
        CapsIr {
            granted: names.clone(),
            bounding: names,
            permitted: a.clone(),
            effective: a.clone(),
            inheritable: a.clone(),
            ambient: a,
        }
    }
}

fn parse_action(sp: &Sp<String>, ctx: &Ctx, diags: &mut Diagnostics) -> Option<Action> {
    match Action::parse(&sp.value) {
        Ok(Action::Errno(0)) => {
            diags.warning(
                ctx.at(sp),
                "errno(0) makes the call look successful without running it",
                Some("use a real errno such as EPERM unless faking success is intended".into()),
            );
            Some(Action::Errno(0))
        }
        Ok(a) => Some(a),
        Err(ActionError::BadErrno(e)) => {
            diags.error(
                ctx.at(sp),
                format!("invalid errno `{e}` in `{}`", sp.value),
                Some("errno must be 1..=4095 or a name such as EPERM, EACCES, ENOSYS".into()),
            );
            None
        }
        Err(ActionError::BadTrace(e)) => {
            diags.error(
                ctx.at(sp),
                format!("invalid trace data `{e}`"),
                Some("trace(N) takes 0..=65535".into()),
            );
            None
        }
        Err(ActionError::Unknown) => {
            diags.error(ctx.at(sp), format!("unknown action `{}`", sp.value), Some("use allow, errno(N|NAME), kill, kill-process, kill-thread, trap, log, trace(N) or notify".into()));
            None
        }
    }
}

fn build_seccomp(
    layers: &[Layer],
    granted: &[String],
    opts: &CompileOptions,
    diags: &mut Diagnostics,
) -> SeccompIr {
    let mut default_action = Action::Errno(1);
    let mut unknown: Option<Option<Action>> = None; // Some(None) = same as default
    let mut arches: Option<Vec<Arch>> = None;
    let mut rules = Vec::new();
    let mut knob_ns: Option<(bool, Origin)> = None;
    let mut knob_af: Option<(Vec<u64>, Origin)> = None;
    let mut knob_uring: Option<(bool, Origin)> = None;

    // Arches first: constants are checked against them.
    for layer in layers {
        let Some(s) = &layer.profile.seccomp else { continue };
        let ctx = Ctx { file: &layer.file };
        if let Some(list) = &s.arches {
            let mut set = Vec::new();
            for a in list {
                match Arch::parse(&a.value) {
                    Some(arch) if !set.contains(&arch) => set.push(arch),
                    Some(_) => {}
                    None => diags.error(
                        ctx.at(a),
                        format!("unknown architecture `{}`", a.value),
                        Some(format!("known: {}", ALL_ARCHES.map(|a| a.name()).join(", "))),
                    ),
                }
            }
            set.sort();
            arches = Some(set);
        }
    }
    let arches = arches.unwrap_or_else(|| vec![Arch::X86_64, Arch::Aarch64]);

    for layer in layers {
        let Some(s) = &layer.profile.seccomp else { continue };
        let ctx = Ctx { file: &layer.file };
        if let Some(d) = &s.default {
            if let Some(a) = parse_action(d, &ctx, diags) {
                default_action = a;
            }
        }
        if let Some(u) = &s.unknown {
            if u.value == "default" {
                unknown = Some(None);
            } else if let Some(a) = parse_action(u, &ctx, diags) {
                unknown = Some(Some(a));
            }
        }
        for rule in &s.rules {
            if let Some(r) = build_rule(rule, &ctx, &arches, granted, diags) {
                rules.push(r);
            }
        }
        if let Some(k) = &s.restrict_namespaces {
            knob_ns = Some((k.value, ctx.at(k)));
        }
        if let Some(k) = &s.restrict_address_families {
            let mut fams = Vec::new();
            for v in &k.value {
                if let Some(n) = arg_value(v, &ctx, &arches, diags) {
                    fams.push(n);
                }
            }
            fams.sort_unstable();
            fams.dedup();
            knob_af = Some((fams, ctx.at(k)));
        }
        if let Some(k) = &s.deny_io_uring {
            knob_uring = Some((k.value, ctx.at(k)));
        }
    }
    if let Some((true, at)) = knob_ns {
        rules.extend(namespace_rules(&at));
    }
    if let Some((fams, at)) = knob_af {
        rules.extend(address_family_rules(fams, &at));
    }
    if let Some((true, at)) = knob_uring {
        rules.push(simple_rule(
            &["io_uring_enter", "io_uring_register", "io_uring_setup"],
            Action::Errno(1),
            vec![],
            &at,
            "deny_io_uring",
        ));
    }
    for r in &mut rules {
        r.active = r.when.caps_ok(granted);
    }
    if let Some(r) = clone3_rule(&rules) {
        rules.insert(0, r);
    }
    let unknown_action = match unknown {
        None => Action::Errno(38),
        Some(None) => default_action,
        Some(Some(a)) => a,
    };
    let tables = build_tables(&rules, &arches, default_action, opts);
    SeccompIr { default_action, unknown_action, arches, rules, tables }
}

/// `clone3` passes its flags in memory, where seccomp cannot look. Wherever `clone` is
/// argument-filtered and the profile says nothing about `clone3`, `clone3` gets ENOSYS (so libc
/// falls back to `clone`), as the lowest-precedence rule.
fn clone3_rule(rules: &[RuleIr]) -> Option<RuleIr> {
    let names = |r: &RuleIr, n: &str| r.syscalls.binary_search_by(|s| s.as_str().cmp(n)).is_ok();
    if rules.iter().any(|r| names(r, "clone3")) {
        return None;
    }
    let filtered = rules.iter().find(|r| r.active && !r.args.is_empty() && names(r, "clone"))?;
    Some(RuleIr {
        syscalls: vec!["clone3".into()],
        action: Action::Errno(38),
        args: vec![],
        when: WhenIr::default(),
        active: true,
        origin: filtered.origin.clone(),
        comment: Some("implicit: clone is argument-filtered, so clone3 returns ENOSYS".into()),
    })
}

fn simple_rule(names: &[&str], action: Action, args: Vec<ArgCondIr>, at: &Origin, knob: &str) -> RuleIr {
    RuleIr {
        syscalls: names.iter().map(|s| s.to_string()).collect(),
        action,
        args,
        when: WhenIr::default(),
        active: true,
        origin: at.short(),
        comment: Some(format!("from seccomp.{knob}")),
    }
}

fn namespace_rules(at: &Origin) -> Vec<RuleIr> {
    let mut out = vec![
        simple_rule(&["setns", "unshare"], Action::Errno(1), vec![], at, "restrict_namespaces"),
        simple_rule(&["clone3"], Action::Errno(38), vec![], at, "restrict_namespaces"),
    ];
    for (index, s390) in [(0u8, false), (1u8, true)] {
        for (_, flag) in CLONE_NEW_FLAGS {
            let cond =
                ArgCondIr { index, width: 32, op: ArgOp::MaskedEq, values: vec![flag], mask: Some(flag) };
            let mut r = simple_rule(&["clone"], Action::Errno(1), vec![cond], at, "restrict_namespaces");
            let hosts = vec!["s390".to_string(), "s390x".to_string()];
            if s390 {
                r.when.arches = hosts;
            } else {
                r.when.not_arches = hosts;
            }
            out.push(r);
        }
    }
    out
}

fn address_family_rules(fams: Vec<u64>, at: &Origin) -> Vec<RuleIr> {
    let cond = ArgCondIr { index: 0, width: 32, op: ArgOp::NotIn, values: fams, mask: None };
    vec![
        simple_rule(
            &["socket", "socketpair"],
            Action::Errno(97),
            vec![cond],
            at,
            "restrict_address_families",
        ),
        // socketcall multiplexes socket() on 32-bit arches, where argument filters cannot see
        // the family: deny it outright.
        simple_rule(&["socketcall"], Action::Errno(1), vec![], at, "restrict_address_families"),
    ]
}

fn expand_names(list: &[Sp<String>], ctx: &Ctx, strict: bool, diags: &mut Diagnostics) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for n in list {
        let name = n.value.trim();
        if name.starts_with('@') {
            match groups::group(name) {
                Some(g) => out.extend(g.expand().into_iter().map(String::from)),
                None => {
                    let best = groups::GROUPS.iter().map(|g| (table::strsim(name, g.name), g.name)).min();
                    let hint = match best {
                        Some((d, g)) if d <= 3 => {
                            format!("did you mean `{g}`? (`policyc groups` lists them)")
                        }
                        _ => "`policyc groups` lists the groups".into(),
                    };
                    diags.error(ctx.at(n), format!("unknown syscall group `{name}`"), Some(hint));
                }
            }
        } else if table::is_known(name) {
            out.insert(name.to_string());
        } else {
            let hint = table::suggest(name).map(|s| format!("did you mean `{s}`?"));
            if strict {
                diags.error(
                    ctx.at(n),
                    format!("unknown syscall `{name}` in a deny rule"),
                    hint.or(Some(
                        "a deny rule must name real syscalls, or it silently denies nothing".into(),
                    )),
                );
            } else {
                diags.warning(ctx.at(n), format!("unknown syscall `{name}` (ignored on every arch)"), hint);
                out.insert(name.to_string());
            }
        }
    }
    out
}

fn build_rule(
    rule: &Sp<Rule>,
    ctx: &Ctx,
    arches: &[Arch],
    granted: &[String],
    diags: &mut Diagnostics,
) -> Option<RuleIr> {
    let r = &rule.value;
    let at = ctx.at(rule);
    let kinds = [r.allow.is_some(), r.deny.is_some(), r.syscalls.is_some()];
    if kinds.iter().filter(|k| **k).count() != 1 {
        diags.error(
            at,
            "a rule needs exactly one of `allow`, `deny` or `syscalls`",
            Some("split it into one rule per verdict".into()),
        );
        return None;
    }
    let action_given = r.action.as_ref().and_then(|a| parse_action(a, ctx, diags));
    let (names, action, strict) = if let Some(list) = &r.allow {
        if let Some(a) = &r.action {
            diags.error(
                ctx.at(a),
                "an `allow` rule takes no `action`",
                Some("use `syscalls:` with `action:` for other verdicts".into()),
            );
        }
        (list, Action::Allow, false)
    } else if let Some(list) = &r.deny {
        let action = action_given.unwrap_or(Action::Errno(1));
        if action.permits() {
            if let Some(a) = &r.action {
                diags.error(
                    ctx.at(a),
                    format!("a `deny` rule cannot have action `{action}`"),
                    Some("use `allow:` or `syscalls:` for permitting verdicts".into()),
                );
            }
        }
        (list, action, true)
    } else {
        let list = r.syscalls.as_ref()?;
        let Some(action) = action_given else {
            if r.action.is_none() {
                diags.error(at, "a `syscalls` rule needs an `action`", Some("add e.g. `action: log`".into()));
            }
            return None;
        };
        (list, action, !action.permits())
    };
    let names = expand_names(names, ctx, strict, diags);
    let mut args = Vec::new();
    for c in &r.args {
        if let Some(a) = build_arg(c, &names, ctx, arches, diags) {
            args.push(a);
        }
    }
    args.sort();
    let when = build_when(r.when.as_ref(), ctx, diags);
    Some(RuleIr {
        syscalls: names.into_iter().collect(),
        action,
        args,
        active: when.caps_ok(granted),
        when,
        origin: at.short(),
        comment: r.comment.clone(),
    })
}

fn arg_value(v: &Sp<ArgValue>, ctx: &Ctx, arches: &[Arch], diags: &mut Diagnostics) -> Option<u64> {
    match &v.value {
        ArgValue::Number(n) => Some(*n),
        ArgValue::Negative(n) => Some(*n as u64),
        ArgValue::Name(text) => match consts::parse_value(text) {
            Ok((value, used)) => {
                for c in used {
                    if let Some(bad) = arches.iter().find(|a| !c.valid_on(**a)) {
                        diags.error(ctx.at(v), format!("constant {} has another value on {bad}", c.name), Some(format!("write the number for each arch in separate rules with `when.arches`, or drop {bad} from `seccomp.arches`")));
                    }
                }
                Some(value)
            }
            Err(consts::ValueError::Unknown(part)) => {
                let hint =
                    consts::suggest(&part).map(|s| format!("did you mean `{s}`?")).unwrap_or_else(|| {
                        "use a number or a known constant (AF_*, CLONE_*, TIOC*, PROT_*, O_*, SOCK_*)".into()
                    });
                diags.error(ctx.at(v), format!("unknown constant `{part}`"), Some(hint));
                None
            }
        },
    }
}

fn build_arg(
    c: &Sp<ArgCond>,
    names: &BTreeSet<String>,
    ctx: &Ctx,
    arches: &[Arch],
    diags: &mut Diagnostics,
) -> Option<ArgCondIr> {
    let cond = &c.value;
    let index = cond.index.value;
    if index > 5 {
        diags.error(
            ctx.at(&cond.index),
            format!("argument index {index} is out of range"),
            Some("syscalls have arguments 0..=5".into()),
        );
        return None;
    }
    let op = cond.op.value;
    let width = match &cond.width {
        Some(w) if w.value == 32 || w.value == 64 => w.value,
        Some(w) => {
            diags.error(ctx.at(w), format!("invalid width {}", w.value), Some("width is 32 or 64".into()));
            return None;
        }
        None => {
            let ws: BTreeSet<u8> = names.iter().map(|n| widths::arg_width(n, index)).collect();
            if ws.len() > 1 {
                diags.error(
                    ctx.at(c),
                    format!("the syscalls of this rule disagree on the width of argument {index}"),
                    Some("split the rule, or set `width: 32` or `width: 64`".into()),
                );
                return None;
            }
            ws.into_iter().next().unwrap_or(64)
        }
    };
    let needs_values = matches!(op, ArgOp::In | ArgOp::NotIn);
    let needs_mask = op == ArgOp::MaskedEq;
    if needs_values != cond.values.is_some()
        || needs_values == cond.value.is_some()
        || needs_mask != cond.mask.is_some()
    {
        let want = match op {
            ArgOp::In | ArgOp::NotIn => "`values` (a list) and no `value`",
            ArgOp::MaskedEq => "`mask` and `value`",
            _ => "`value` only",
        };
        diags.error(
            ctx.at(&cond.op),
            format!("operator `{}` needs {want}", op_name(op)),
            Some("see the argument conditions in docs/profile-language.md".into()),
        );
        return None;
    }
    let fit = |v: u64, at: Origin, diags: &mut Diagnostics| -> Option<u64> {
        if width == 32 && v > u64::from(u32::MAX) {
            if v >> 32 == u64::from(u32::MAX) {
                return Some(v & u64::from(u32::MAX));
            }
            diags.error(at, format!("value {v:#x} does not fit the 32-bit argument {index}"), Some("32-bit arguments compare the low word only; set `width: 64` if the argument is really 64-bit".into()));
            return None;
        }
        Some(v)
    };
    let mut values = Vec::new();
    if let Some(v) = &cond.value {
        values.push(fit(arg_value(v, ctx, arches, diags)?, ctx.at(v), diags)?);
    }
    if let Some(list) = &cond.values {
        if list.is_empty() {
            diags.error(ctx.at(&cond.op), format!("`{}` needs at least one value", op_name(op)), None);
            return None;
        }
        for v in list {
            values.push(fit(arg_value(v, ctx, arches, diags)?, ctx.at(v), diags)?);
        }
        values.sort_unstable();
        values.dedup();
    }
    let mask = match &cond.mask {
        Some(m) => Some(fit(arg_value(m, ctx, arches, diags)?, ctx.at(m), diags)?),
        None => None,
    };
    if let (Some(m), Some(v)) = (mask, values.first()) {
        if v & !m != 0 {
            diags.warning(
                ctx.at(c),
                format!("masked_eq value {v:#x} has bits outside mask {m:#x}: it can never match"),
                Some("clear those bits from `value`".into()),
            );
        }
    }
    Some(ArgCondIr { index, width, op, values, mask })
}

/// The profile-language spelling of an operator.
pub fn op_name(op: ArgOp) -> &'static str {
    match op {
        ArgOp::Eq => "eq",
        ArgOp::Ne => "ne",
        ArgOp::Lt => "lt",
        ArgOp::Le => "le",
        ArgOp::Gt => "gt",
        ArgOp::Ge => "ge",
        ArgOp::MaskedEq => "masked_eq",
        ArgOp::In => "in",
        ArgOp::NotIn => "not_in",
    }
}

fn build_when(when: Option<&crate::frontend::profile::When>, ctx: &Ctx, diags: &mut Diagnostics) -> WhenIr {
    let Some(w) = when else { return WhenIr::default() };
    let caps = |list: &[Sp<String>], diags: &mut Diagnostics| -> Vec<String> {
        let mut out = BTreeSet::new();
        for c in list {
            match Cap::parse(&c.value) {
                Some(cap) => {
                    out.insert(cap);
                }
                None => diags.error(
                    ctx.at(c),
                    format!("unknown capability `{}`", c.value),
                    caps::suggest(&c.value).map(|s| format!("did you mean `{s}`?")),
                ),
            }
        }
        out.into_iter().map(Cap::name).collect()
    };
    let hosts = |list: &[Sp<String>], diags: &mut Diagnostics| -> Vec<String> {
        let mut out = BTreeSet::new();
        for a in list {
            match normalize_host(&a.value) {
                Some(h) => {
                    out.insert(h.to_string());
                }
                None => diags.error(
                    ctx.at(a),
                    format!("unknown host architecture `{}`", a.value),
                    Some(format!(
                        "`when.arches` uses Docker's names: {}",
                        crate::syscalls::arch::HOST_NAMES.join(", ")
                    )),
                ),
            }
        }
        out.into_iter().collect()
    };
    let min_kernel = w.min_kernel.as_ref().and_then(|k| {
        let v = KernelVersion::parse(&k.value);
        if v.is_none() {
            diags.error(
                ctx.at(k),
                format!("invalid kernel version `{}`", k.value),
                Some("write `major.minor`, e.g. \"4.8\"".into()),
            );
        }
        v
    });
    WhenIr {
        caps_present: caps(&w.caps_present, diags),
        caps_absent: caps(&w.caps_absent, diags),
        arches: hosts(&w.arches, diags),
        not_arches: hosts(&w.not_arches, diags),
        min_kernel,
    }
}

fn build_tables(
    rules: &[RuleIr],
    arches: &[Arch],
    default_action: Action,
    opts: &CompileOptions,
) -> BTreeMap<String, ArchTable> {
    // Syscall name → the rules naming it, in order: one pass over the rules instead of
    // testing every rule for every syscall of every arch.
    let mut by_name: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, r) in rules.iter().enumerate() {
        for s in &r.syscalls {
            by_name.entry(s.as_str()).or_default().push(i);
        }
    }
    let mut out = BTreeMap::new();
    for &arch in arches {
        if let Some(target) = opts.tables_for {
            if arch != target && arch.family_head() != target {
                continue;
            }
        }
        let Some(t) = table::table(arch) else { continue };
        let host = host_of(arch, arches);
        let in_force: Vec<bool> =
            rules.iter().map(|r| r.active && r.when.host_ok(host) && r.when.kernel_ok(opts.kernel)).collect();
        let mut syscalls = BTreeMap::new();
        for (nr, name) in t.iter() {
            let Some(idx) = by_name.get(name) else { continue };
            let applicable: Vec<&RuleIr> = idx.iter().filter(|i| in_force[**i]).map(|i| &rules[*i]).collect();
            let s = resolve_syscall(nr, &applicable, default_action);
            if s.origin.is_some() || !s.conditional.is_empty() {
                syscalls.insert(name.to_string(), s);
            }
        }
        out.insert(
            arch.name().to_string(),
            ArchTable {
                audit_arch: arch.audit_arch(),
                host: host.to_string(),
                max_nr: t.range().1,
                syscalls,
            },
        );
    }
    out
}

/// Collapse the applicable rules of one syscall: everything before the last unconditional rule
/// is shadowed by it.
fn resolve_syscall(nr: u32, rules: &[&RuleIr], default_action: Action) -> SyscallIr {
    let last_uncond = rules.iter().rposition(|r| r.args.is_empty());
    let (action, origin, rest) = match last_uncond {
        Some(i) => (rules[i].action, Some(rules[i].origin.clone()), &rules[i + 1..]),
        None => (default_action, None, rules),
    };
    let conditional = rest
        .iter()
        .map(|r| CondIr { args: r.args.clone(), action: r.action, origin: r.origin.clone() })
        .collect();
    SyscallIr { nr, action, origin, conditional }
}

fn build_landlock(layers: &[Layer], diags: &mut Diagnostics) -> LandlockIr {
    let mut present = false;
    let mut mode = LandlockMode::Enforce;
    let mut min_abi: Option<(u32, Origin)> = None;
    let mut paths: BTreeMap<String, (u64, Vec<String>)> = BTreeMap::new();
    let mut network: Option<(BTreeSet<u16>, BTreeSet<u16>)> = None;
    let mut scopes: BTreeSet<String> = BTreeSet::new();
    for layer in layers {
        let Some(l) = &layer.profile.landlock else { continue };
        present = true;
        let ctx = Ctx { file: &layer.file };
        if let Some(m) = &l.mode {
            mode = m.value;
        }
        if let Some(a) = &l.min_abi {
            if a.value == 0 || a.value > landlock_rights::MAX_ABI {
                diags.error(
                    ctx.at(a),
                    format!("min_abi {} is out of range", a.value),
                    Some(format!("Landlock ABIs are 1..={}", landlock_rights::MAX_ABI)),
                );
            }
            min_abi = Some((a.value, ctx.at(a)));
        }
        for rule in &l.filesystem {
            let p = &rule.value.path;
            let Some(path) = normalize_path(&p.value) else {
                diags.error(
                    ctx.at(p),
                    format!("landlock path `{}` is not absolute", p.value),
                    Some("write an absolute path without `..`, e.g. /var/cache/web".into()),
                );
                continue;
            };
            let mut bits = 0u64;
            for a in &rule.value.access {
                match landlock_rights::parse_access(&a.value) {
                    Some(b) => bits |= b,
                    None => diags.error(
                        ctx.at(a),
                        format!("unknown filesystem access right `{}`", a.value),
                        Some(format!(
                            "use read, write, execute, all or one of: {}",
                            landlock_rights::FS_RIGHTS.iter().map(|r| r.name).collect::<Vec<_>>().join(", ")
                        )),
                    ),
                }
            }
            if rule.value.access.is_empty() {
                diags.error(
                    ctx.at(rule),
                    format!("landlock rule for `{path}` grants nothing"),
                    Some("list the rights, or drop the rule (unlisted paths are denied)".into()),
                );
            }
            let e = paths.entry(path).or_default();
            e.0 |= bits;
            e.1.push(ctx.at(rule).short());
        }
        if let Some(n) = &l.network {
            let (b, c) = network.get_or_insert_with(Default::default);
            b.extend(n.bind.iter().map(|p| p.value));
            c.extend(n.connect.iter().map(|p| p.value));
        }
        if let Some(list) = &l.scope {
            for s in list {
                if landlock_rights::SCOPES.iter().any(|(n, _)| *n == s.value) {
                    scopes.insert(s.value.clone());
                } else {
                    diags.error(
                        ctx.at(s),
                        format!("unknown landlock scope `{}`", s.value),
                        Some("scopes are `abstract-unix-socket` and `signal`".into()),
                    );
                }
            }
        }
    }
    let mut needed = 0;
    if !paths.is_empty() {
        needed = paths.values().map(|(b, _)| landlock_rights::min_abi_for_fs(*b)).max().unwrap_or(1);
    }
    if network.is_some() {
        needed = needed.max(4);
    }
    if !scopes.is_empty() {
        needed = needed.max(6);
    }
    let min_abi = match min_abi {
        Some((v, at)) => {
            if v < needed && mode == LandlockMode::Enforce {
                diags.warning(at, format!("min_abi {v} is below ABI {needed}, which the rules need"), Some(format!("on kernels with ABI {v}..{needed} some rights cannot be enforced and will be dropped; raise min_abi to {needed} to refuse such kernels")));
            }
            v
        }
        None => needed,
    };
    let mode_name = if !present {
        "off"
    } else {
        match mode {
            LandlockMode::Enforce => "enforce",
            LandlockMode::BestEffort => "best-effort",
            LandlockMode::Off => "off",
        }
    };
    LandlockIr {
        mode: mode_name.into(),
        min_abi,
        restrict_fs: !paths.is_empty(),
        filesystem: paths
            .into_iter()
            .map(|(path, (bits, origins))| PathRuleIr {
                path,
                access: landlock_rights::fs_names(bits),
                origins,
            })
            .collect(),
        network: network
            .map(|(b, c)| NetworkIr { bind: b.into_iter().collect(), connect: c.into_iter().collect() }),
        scopes: scopes.into_iter().collect(),
    }
}

fn normalize_path(p: &str) -> Option<String> {
    if !p.starts_with('/') || p.split('/').any(|c| c == "..") {
        return None;
    }
    let parts: Vec<&str> = p.split('/').filter(|c| !c.is_empty() && *c != ".").collect();
    Some(format!("/{}", parts.join("/")))
}

/// `64Mi`, `1G`, `512k`, or bytes.
pub fn parse_size(v: &ArgValue) -> Option<u64> {
    match v {
        ArgValue::Number(n) => Some(*n),
        ArgValue::Negative(_) => None,
        ArgValue::Name(t) => {
            let t = t.trim();
            let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
            let (num, unit) = t.split_at(split);
            let n: u64 = num.parse().ok()?;
            let mul: u64 = match unit.trim() {
                "" => 1,
                "k" | "K" | "Ki" | "KiB" => 1 << 10,
                "m" | "M" | "Mi" | "MiB" => 1 << 20,
                "g" | "G" | "Gi" | "GiB" => 1 << 30,
                _ => return None,
            };
            n.checked_mul(mul)
        }
    }
}

/// A path of the isolation section: absolute, or relative to the profile's directory.
fn resolve_path(p: &str, file: &str) -> Option<String> {
    if p.starts_with('/') {
        return normalize_path(p);
    }
    if file.starts_with("builtin:") {
        return None;
    }
    let dir = std::path::Path::new(file).parent().unwrap_or(std::path::Path::new("."));
    let dir = std::fs::canonicalize(dir).ok()?;
    let joined = dir.join(p);
    let text = joined.to_str()?;
    if p.split('/').any(|c| c == "..") {
        return std::fs::canonicalize(&joined).ok().and_then(|c| c.to_str().map(str::to_string));
    }
    normalize_path(text)
}

fn path_list(v: &PathList, default: &[&str]) -> Result<Vec<String>, String> {
    match v {
        PathList::Keyword(k) if k == "default" => Ok(default.iter().map(|s| s.to_string()).collect()),
        PathList::Keyword(k) if k == "none" => Ok(vec![]),
        PathList::Keyword(k) => Err(format!("`{k}`: use `default`, `none` or a list of absolute paths")),
        PathList::List(l) => l
            .iter()
            .map(|p| normalize_path(p).ok_or_else(|| format!("`{p}` is not an absolute path")))
            .collect(),
    }
}

fn build_isolation(layers: &[Layer], diags: &mut Diagnostics) -> IsolationIr {
    let mut out = IsolationIr::default();
    let mut init: Option<bool> = None;
    for layer in layers {
        let Some(i) = &layer.profile.isolation else { continue };
        out.enabled = true;
        let ctx = Ctx { file: &layer.file };
        if let Some(list) = &i.namespaces {
            let mut set = BTreeSet::new();
            for n in list {
                if NAMESPACES.contains(&n.value.as_str()) {
                    set.insert(n.value.clone());
                } else {
                    diags.error(
                        ctx.at(n),
                        format!("unknown namespace `{}`", n.value),
                        Some(format!("namespaces: {}", NAMESPACES.join(", "))),
                    );
                }
            }
            out.namespaces = set.into_iter().collect();
        }
        if let Some(h) = &i.hostname {
            let ok = !h.value.is_empty()
                && h.value.len() <= 64
                && h.value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
            if !ok {
                diags.error(
                    ctx.at(h),
                    format!("invalid hostname `{}`", h.value),
                    Some("use 1..=64 letters, digits, `-` and `.`".into()),
                );
            }
            out.hostname = Some(h.value.clone());
        }
        if let Some(r) = &i.rootfs {
            match resolve_path(&r.value, &layer.file) {
                Some(p) => out.rootfs = Some(p),
                None => diags.error(
                    ctx.at(r),
                    format!("rootfs `{}` cannot be resolved", r.value),
                    Some(
                        "write an absolute path, or a path relative to a profile file (not a builtin)".into(),
                    ),
                ),
            }
        }
        if let Some(r) = &i.readonly_rootfs {
            out.readonly_rootfs = r.value;
        }
        if let Some(n) = &i.network {
            match n.value.as_str() {
                "none" | "host" => out.network = n.value.clone(),
                other => diags.error(
                    ctx.at(n),
                    format!("unknown network `{other}`"),
                    Some("use `none` or `host`".into()),
                ),
            }
        }
        if let Some(m) = i.users.as_ref().and_then(|u| u.map_root_to.as_ref()) {
            match &m.value {
                ArgValue::Name(a) if a == "auto" => out.map_root_to = None,
                ArgValue::Number(n) if *n > 0 && *n <= u64::from(u32::MAX - 65536) => {
                    out.map_root_to = Some(*n as u32)
                }
                _ => diags.error(
                    ctx.at(m),
                    "map_root_to must be `auto` or a host uid above 0".to_string(),
                    Some("container root is never host root".into()),
                ),
            }
        }
        for m in &i.mounts {
            let spec = &m.value;
            let target = normalize_path(&spec.target);
            let mut ok = target.is_some();
            if target.is_none() {
                diags.error(ctx.at(m), format!("mount target `{}` is not absolute", spec.target), None);
            }
            let (source, size) = match spec.kind.as_str() {
                "bind" => {
                    let src = spec.source.as_deref().and_then(|s| resolve_path(s, &layer.file));
                    if src.is_none() {
                        ok = false;
                        diags.error(
                            ctx.at(m),
                            "a bind mount needs a `source` (absolute or relative to the profile)".to_string(),
                            None,
                        );
                    }
                    (src, None)
                }
                "tmpfs" => {
                    let size = spec.size.as_ref().map(parse_size);
                    if let Some(None) = size {
                        ok = false;
                        diags.error(
                            ctx.at(m),
                            "invalid tmpfs size".to_string(),
                            Some("write e.g. `64Mi` or a number of bytes".into()),
                        );
                    }
                    (None, size.flatten())
                }
                other => {
                    ok = false;
                    diags.error(
                        ctx.at(m),
                        format!("unknown mount type `{other}`"),
                        Some("use `bind` or `tmpfs`".into()),
                    );
                    (None, None)
                }
            };
            if ok {
                out.mounts.push(MountIr {
                    kind: spec.kind.clone(),
                    source,
                    target: target.unwrap_or_default(),
                    readonly: spec.readonly.unwrap_or(false),
                    size,
                });
            }
        }
        for (field, list, default) in [
            (&i.masked_paths, &mut out.masked_paths, &DEFAULT_MASKED_PATHS[..]),
            (&i.readonly_paths, &mut out.readonly_paths, &DEFAULT_READONLY_PATHS[..]),
        ] {
            if let Some(v) = field {
                match path_list(&v.value, default) {
                    Ok(l) => *list = l,
                    Err(e) => diags.error(ctx.at(v), e, None),
                }
            }
        }
        if let Some(b) = &i.init {
            init = Some(b.value);
        }
        if let Some(l) = &i.logs {
            if let Some(s) = &l.max_size {
                match parse_size(&s.value) {
                    Some(n) if n >= 1024 => out.log_max_size = n,
                    _ => diags.error(
                        ctx.at(s),
                        "invalid log max_size".to_string(),
                        Some("at least 1Ki, e.g. `10Mi`".into()),
                    ),
                }
            }
            if let Some(f) = &l.max_files {
                if f.value == 0 {
                    diags.error(ctx.at(f), "max_files must be at least 1".to_string(), None);
                }
                out.log_max_files = f.value.max(1);
            }
        }
        if let Some(l) = &i.limits {
            if let Some(m) = &l.memory {
                match parse_size(&m.value) {
                    Some(n) if n >= 1 << 20 => out.memory = Some(n),
                    _ => diags.error(
                        ctx.at(m),
                        "invalid memory limit".to_string(),
                        Some("at least 1Mi, e.g. `256Mi`".into()),
                    ),
                }
            }
            if let Some(p) = &l.pids {
                if p.value == 0 {
                    diags.error(ctx.at(p), "pids must be at least 1".to_string(), None);
                }
                out.pids = Some(p.value);
            }
            if let Some(c) = &l.cpu {
                if !(c.value > 0.0 && c.value <= 1024.0) {
                    diags.error(
                        ctx.at(c),
                        "cpu must be above 0".to_string(),
                        Some("e.g. 0.5 for half a CPU".into()),
                    );
                }
                out.cpu = Some(c.value);
            }
            if let Some(m) = &l.mode {
                match m.value.as_str() {
                    "enforce" | "best-effort" => out.limits_mode = m.value.clone(),
                    other => diags.error(
                        ctx.at(m),
                        format!("unknown limits mode `{other}`"),
                        Some("use `enforce` or `best-effort`".into()),
                    ),
                }
            }
        }
    }
    out.init = init.unwrap_or(out.namespaces.iter().any(|n| n == "pid"));
    out
}
