//! `seccomp:` the default verdicts (`unknown: enosys-after` resolved per arch), arches, rules in
//! order, and the knobs that add rules (`restrict_namespaces`, `restrict_address_families`,
//! `deny_io_uring`); then the tables.

use std::collections::{BTreeMap, BTreeSet};

use super::args::{arg_cond, arg_value};
use super::Ctx;
use crate::action::{Action, ActionError};
use crate::error::{Diagnostics, Origin};
use crate::frontend::loader::Layer;
use crate::frontend::profile::{Rule, When};
use crate::frontend::spanned::Sp;
use crate::ir::{
    lower, ArgCondIr, ArgOp, CompileOptions, EnosysAfterIr, KernelVersion, RuleIr, SeccompIr, WhenIr,
};
use crate::syscalls::arch::{host_of, normalize_host, ALL_ARCHES, HOST_NAMES};
use crate::syscalls::{groups, table, Arch};
use crate::vocab::{Cap, CapSet, Flag, Namespace};

/// The arches a profile accepts when it names none.
const DEFAULT_ARCHES: [Arch; 2] = [Arch::X86_64, Arch::Aarch64];

pub(super) fn check(
    layers: &[Layer],
    granted: CapSet,
    opts: &CompileOptions,
    diags: &mut Diagnostics,
) -> SeccompIr {
    let mut default_action = Action::Errno(1);
    let mut unknown: Option<Unknown> = None;
    let mut rules = Vec::new();
    let mut knob_ns: Option<(bool, Origin)> = None;
    let mut knob_af: Option<(Vec<u64>, Origin)> = None;
    let mut knob_uring: Option<(bool, Origin)> = None;
    let mut clone3_fallback = true;

    // Arches first: constants are checked against them.
    let arches = arches(layers, diags);
    for layer in layers {
        let Some(s) = &layer.profile.seccomp else { continue };
        let ctx = Ctx { file: &layer.file };
        if let Some(d) = &s.default {
            if let Some(a) = action(d, &ctx, diags) {
                default_action = a;
            }
        }
        if let Some(u) = &s.unknown {
            if let Some(spec) = unknown_spec(u, &ctx, diags) {
                unknown = Some(spec);
            }
        }
        for rule in &s.rules {
            if let Some(r) = self::rule(rule, &ctx, &arches, diags) {
                rules.push(r);
            }
        }
        if let Some(k) = &s.restrict_namespaces {
            knob_ns = Some((k.value, ctx.at(k)));
        }
        if let Some(k) = &s.restrict_address_families {
            let mut fams: Vec<u64> =
                k.value.iter().filter_map(|v| arg_value(v, &ctx, &arches, diags)).collect();
            fams.sort_unstable();
            fams.dedup();
            knob_af = Some((fams, ctx.at(k)));
        }
        if let Some(k) = &s.deny_io_uring {
            knob_uring = Some((k.value, ctx.at(k)));
        }
        if let Some(k) = &s.clone3_fallback {
            clone3_fallback = k.value;
        }
    }
    // The rules written in `rules` (the knobs' and the implicit clone3 rule come after).
    let written = rules.len();
    if let Some((true, at)) = knob_ns {
        rules.extend(namespace_rules(&at));
    }
    if let Some((fams, at)) = knob_af {
        rules.extend(address_family_rules(fams, &at));
    }
    if let Some((true, at)) = knob_uring {
        let names = ["io_uring_enter", "io_uring_register", "io_uring_setup"];
        rules.push(knob_rule(&names, Action::Errno(1), vec![], &at, "deny_io_uring"));
    }
    for r in &mut rules {
        r.active = r.when.caps_ok(granted);
    }
    let (unknown_action, enosys_after) = match unknown {
        None => (Action::Errno(38), None),
        Some(Unknown::Default) => (default_action, None),
        Some(Unknown::Verdict(a)) => (a, None),
        Some(Unknown::EnosysAfter(name, at)) => {
            let e = enosys_after(name, &at, &rules[..written], &arches, opts, diags);
            (default_action, Some(e))
        }
    };
    if let Some(r) = clone3_rule(&rules).filter(|_| clone3_fallback) {
        rules.insert(0, r);
    }
    let tables = lower::tables(&rules, &arches, default_action, enosys_after.as_ref(), opts);
    SeccompIr { default_action, unknown_action, enosys_after, arches, rules, tables }
}

/// What `seccomp.unknown` says.
enum Unknown {
    /// `default`: the default verdict.
    Default,
    /// A verdict.
    Verdict(Action),
    /// `enosys-after NAME` (`Some`) or `enosys-after-named` (`None`), where it is written.
    EnosysAfter(Option<String>, Origin),
}

/// The words that start runc's stub in `unknown`.
const ENOSYS_AFTER: &str = "enosys-after";

fn unknown_spec(u: &Sp<String>, ctx: &Ctx, diags: &mut Diagnostics) -> Option<Unknown> {
    let text = u.value.trim();
    if text == "default" {
        return Some(Unknown::Default);
    }
    let Some(rest) = text.strip_prefix(ENOSYS_AFTER) else {
        return action(u, ctx, diags).map(Unknown::Verdict);
    };
    if rest == "-named" {
        return Some(Unknown::EnosysAfter(None, ctx.at(u)));
    }
    let name = rest.trim_start();
    if name.is_empty() || name.len() == rest.len() {
        let message = match rest.is_empty() {
            true => format!("`unknown: {text}` names no syscall to come after"),
            false => format!("`unknown: {text}` is neither `enosys-after NAME` nor `enosys-after-named`"),
        };
        diags.error(
            ctx.at(u),
            message,
            Some("write `enosys-after NAME` (e.g. `enosys-after openat2`), or `enosys-after-named` for the newest syscall the rules name on each arch".into()),
        );
        return None;
    }
    if !table::is_known(name) {
        let hint = match table::suggest(name) {
            Some(s) => format!("did you mean `{s}`?"),
            None => "name a syscall (as in `man 2 syscalls`), or write `enosys-after-named` for the newest syscall the rules name on each arch".into(),
        };
        diags.error(ctx.at(u), format!("unknown syscall `{name}` in `unknown: {text}`"), Some(hint));
        return None;
    }
    Some(Unknown::EnosysAfter(Some(name.to_string()), ctx.at(u)))
}

/// The cut-off of each arch for `unknown: enosys-after` (written at `at`): `name`'s number, or
/// (`None`) the largest number a rule of `rules` in force on the arch names there, as runc
/// takes the largest number the JSON names (it finds none when that is 0, and adds no stub:
/// so neither does this). An arch without a syscall table has no cut-off.
fn enosys_after(
    name: Option<String>,
    at: &Origin,
    rules: &[RuleIr],
    arches: &[Arch],
    opts: &CompileOptions,
    diags: &mut Diagnostics,
) -> EnosysAfterIr {
    let mut above = BTreeMap::new();
    let mut missing = Vec::new();
    for &arch in arches {
        let Some(t) = table::table(arch) else { continue };
        let cut = match &name {
            Some(n) => {
                let nr = t.nr(n);
                if nr.is_none() {
                    missing.push(arch.name());
                }
                nr
            }
            None => {
                let host = host_of(arch, arches);
                rules
                    .iter()
                    .filter(|r| r.active && r.when.host_ok(host) && r.when.kernel_ok(opts.kernel))
                    .flat_map(|r| r.syscalls.iter().filter_map(|s| t.nr(s)))
                    .max()
                    .filter(|nr| *nr != 0)
            }
        };
        if let Some(c) = cut {
            above.insert(arch.name().to_string(), c);
        }
    }
    if let (Some(n), false) = (&name, missing.is_empty()) {
        diags.error(
            at.clone(),
            format!("`unknown: enosys-after {n}`: `{n}` is not a syscall on {}", missing.join(", ")),
            Some("name a syscall every arch of the profile has, or write `enosys-after-named` (the newest syscall the rules name on each arch)".into()),
        );
    }
    EnosysAfterIr { syscall: name, above }
}

/// The last layer's `arches`, sorted, or the default pair.
fn arches(layers: &[Layer], diags: &mut Diagnostics) -> Vec<Arch> {
    let mut arches: Option<Vec<Arch>> = None;
    for layer in layers {
        let Some(list) = layer.profile.seccomp.as_ref().and_then(|s| s.arches.as_ref()) else { continue };
        let ctx = Ctx { file: &layer.file };
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
    arches.unwrap_or_else(|| DEFAULT_ARCHES.to_vec())
}

fn action(sp: &Sp<String>, ctx: &Ctx, diags: &mut Diagnostics) -> Option<Action> {
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
            diags.error(
                ctx.at(sp),
                format!("unknown action `{}`", sp.value),
                Some("use allow, errno(N|NAME), kill, kill-process, kill-thread, trap, log, trace(N) or notify".into()),
            );
            None
        }
    }
}

/// `clone3` passes its flags in memory, where seccomp cannot look. Wherever `clone` is
/// argument-filtered and the profile says nothing about `clone3`, `clone3` gets ENOSYS (so libc
/// falls back to `clone`), as the lowest-precedence rule.
fn clone3_rule(rules: &[RuleIr]) -> Option<RuleIr> {
    if rules.iter().any(|r| r.names("clone3")) {
        return None;
    }
    let filtered = rules.iter().find(|r| r.active && !r.args.is_empty() && r.names("clone"))?;
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

/// A rule a knob adds, placed where the knob is written.
fn knob_rule(names: &[&str], action: Action, args: Vec<ArgCondIr>, at: &Origin, knob: &str) -> RuleIr {
    RuleIr {
        syscalls: names.iter().map(|s| s.to_string()).collect(),
        action,
        args,
        when: WhenIr::default(),
        active: true,
        origin: at.clone(),
        comment: Some(format!("from seccomp.{knob}")),
    }
}

/// `restrict_namespaces`: `unshare` and `setns` denied, `clone3` ENOSYS (its flags are out of
/// reach), and `clone` with any `CLONE_NEW*` flag denied, in flag order.
fn namespace_rules(at: &Origin) -> Vec<RuleIr> {
    let knob = "restrict_namespaces";
    let mut out = vec![
        knob_rule(&["setns", "unshare"], Action::Errno(1), vec![], at, knob),
        knob_rule(&["clone3"], Action::Errno(38), vec![], at, knob),
    ];
    let mut flags: Vec<u64> =
        Namespace::ALL.iter().filter(|n| n.clone_can_create()).map(|n| n.clone_flag()).collect();
    flags.sort_unstable();
    // s390 passes clone's flags second.
    for (index, s390) in [(0u8, false), (1u8, true)] {
        for &flag in &flags {
            let cond =
                ArgCondIr { index, width: 32, op: ArgOp::MaskedEq, values: vec![flag], mask: Some(flag) };
            let mut r = knob_rule(&["clone"], Action::Errno(1), vec![cond], at, knob);
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
    let knob = "restrict_address_families";
    let cond = ArgCondIr { index: 0, width: 32, op: ArgOp::NotIn, values: fams, mask: None };
    vec![
        knob_rule(&["socket", "socketpair"], Action::Errno(97), vec![cond], at, knob),
        // socketcall multiplexes socket() on 32-bit arches, where argument filters cannot see
        // the family: deny it outright.
        knob_rule(&["socketcall"], Action::Errno(1), vec![], at, knob),
    ]
}

/// Syscall names and `@groups`, expanded. In a deny rule (`strict`) an unknown name is an
/// error: it would silently deny nothing.
fn expand_names(list: &[Sp<String>], ctx: &Ctx, strict: bool, diags: &mut Diagnostics) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for n in list {
        let name = n.value.trim();
        if name.starts_with('@') {
            match groups::group(name) {
                Some(g) => out.extend(g.expand().into_iter().map(String::from)),
                None => {
                    let hint = match crate::vocab::nearest(name, groups::GROUPS.iter().map(|g| g.name)) {
                        Some(g) => format!("did you mean `{g}`? (`policyc groups` lists them)"),
                        None => "`policyc groups` lists the groups".into(),
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
                let hint =
                    hint.unwrap_or_else(|| "syscall names are the kernel's, as in `man 2 syscalls`".into());
                diags.warning(
                    ctx.at(n),
                    format!("unknown syscall `{name}` (ignored on every arch)"),
                    Some(hint),
                );
                out.insert(name.to_string());
            }
        }
    }
    out
}

fn rule(rule: &Sp<Rule>, ctx: &Ctx, arches: &[Arch], diags: &mut Diagnostics) -> Option<RuleIr> {
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
    let action_given = r.action.as_ref().and_then(|a| action(a, ctx, diags));
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
    let mut args: Vec<ArgCondIr> =
        r.args.iter().filter_map(|c| arg_cond(c, &names, ctx, arches, diags)).collect();
    args.sort();
    let when = when(r.when.as_ref(), ctx, diags);
    Some(RuleIr {
        syscalls: names.into_iter().collect(),
        action,
        args,
        active: true, // decided once every rule is known
        when,
        origin: at,
        comment: r.comment.clone(),
    })
}

fn when(when: Option<&When>, ctx: &Ctx, diags: &mut Diagnostics) -> WhenIr {
    let Some(w) = when else { return WhenIr::default() };
    let caps = |list: &[Sp<String>], diags: &mut Diagnostics| -> CapSet {
        let mut out = CapSet::EMPTY;
        for c in list {
            match Cap::parse(&c.value) {
                Some(cap) => out.insert(cap),
                None => diags.error(
                    ctx.at(c),
                    format!("unknown capability `{}`", c.value),
                    Some(super::caps::hint(&c.value)),
                ),
            }
        }
        out
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
                    Some(format!("`when.arches` uses Docker's names: {}", HOST_NAMES.join(", "))),
                ),
            }
        }
        out.into_iter().collect()
    };
    if let Some(k) = &w.max_kernel_below {
        diags.error(
            ctx.at(k),
            "`max_kernel_below` is not supported: earlier versions accepted it and ignored it, so the rule applied on every kernel",
            Some("give the rule for newer kernels `min_kernel` instead, after this one (the last matching rule wins)".into()),
        );
    }
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
