//! Docker seccomp JSON → profile: the importer behind `policyc import`.
//!
//! Keeps the meaning Docker (runc + libseccomp) gives the file: archMap arches, per-entry
//! errnoRet (EPERM when absent), includes/excludes (caps, arches, minKernel), comments, and the
//! legacy single `name`. Docker JSON rules are order-free; libseccomp's meaning is kept as long
//! as entries with different actions do not overlap, which holds for Docker's and Podman's
//! profiles. An entry that repeats an argument index is split into one rule per condition, as
//! runc does (moby#52494).

use std::collections::BTreeMap;

use crate::action::Action;
use crate::error::{Diagnostic, Error, Origin};
use crate::formats::docker::{DockerArg, DockerFilter, DockerProfile, DockerSyscall};
use crate::frontend::profile::{ArgCond, ArgValue, Capabilities, Profile, Rule, Seccomp, When};
use crate::frontend::spanned::Sp;
use crate::ir::ArgOp;
use crate::syscalls::Arch;
use crate::vocab::caps::DOCKER_DEFAULT;

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
    serde_json::from_str(text).map_err(|e| Error::DockerJson {
        file: file.to_string(),
        line: e.line(),
        column: e.column(),
        message: e.to_string().split(" at line").next().unwrap_or_default().to_string(),
    })
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
        "SCMP_ACT_TRACE" => Action::Trace(data(errno, 0)?),
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
    let (value_, mask) =
        if op == ArgOp::MaskedEq { (a.value_two, Some(value(a.value))) } else { (a.value, None) };
    Ok(ArgCond {
        index: Sp::new(a.index as u8),
        op: Sp::new(op),
        value: Some(value(value_)),
        values: None,
        mask,
        width: None,
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
        w.min_kernel = i.min_kernel.clone().map(Sp::new);
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

/// Whether libseccomp could resolve `name` as one syscall, as runc asks it to: no `@` (no
/// syscall is named so; in the profile language `@name` is a group of many) and no blank
/// around it (the profile language trims names, libseccomp does not). A name that fails this
/// is skipped by runc (`unknown seccomp syscall ... ignored`), and so by this import.
fn resolvable(name: &str) -> bool {
    !name.starts_with('@') && !name.is_empty() && name.trim() == name
}

/// The entry's syscall names that Docker would use; the others are reported and dropped.
fn names_of(file: &str, at: usize, s: &DockerSyscall, warnings: &mut Vec<Diagnostic>) -> Vec<String> {
    let mut names = Vec::new();
    for n in s.names.iter().chain(&s.name) {
        if resolvable(n) {
            names.push(n.clone());
            continue;
        }
        let shown = n.escape_debug();
        let (why, hint) = match n.trim().starts_with('@') {
            true => (
                "Docker JSON has no syscall groups, so runc (libseccomp) ignores it; it is not the Palisade group of that name",
                format!("to allow the group, write `allow: [\"{shown}\"]` in the imported profile yourself"),
            ),
            false => (
                "libseccomp resolves no syscall by that name, so runc ignores it",
                "write the syscall's name without blanks".to_string(),
            ),
        };
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

fn rules_of(
    file: &str,
    at: usize,
    s: &DockerSyscall,
    warnings: &mut Vec<Diagnostic>,
) -> Result<Vec<Rule>, Error> {
    let had_names = !s.names.is_empty() || s.name.is_some();
    let names = names_of(file, at, s, warnings);
    if had_names && names.is_empty() {
        // runc checks the action before it looks the names up.
        action_of(file, &s.action, s.errno_ret)?;
        return Ok(vec![]);
    }
    if names.is_empty() {
        warnings.push(Diagnostic::warning(
            Origin::new(file, 1, 1),
            format!("an entry with action {} names no syscall; skipped", s.action),
        ));
        return Ok(vec![]);
    }
    let action = action_of(file, &s.action, s.errno_ret)?;
    let list: Vec<Sp<String>> = names.into_iter().map(Sp::new).collect();
    let mut base = Rule {
        when: when_of(file, s.includes.as_ref(), s.excludes.as_ref())?,
        comment: s.comment.clone().filter(|c| !c.is_empty()),
        ..Rule::default()
    };
    match action {
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
            format!("an entry for {} repeats an argument index; runc adds each condition as a separate rule (OR), and so does this import", base.allow.as_ref().or(base.deny.as_ref()).or(base.syscalls.as_ref()).map(|l| l.iter().map(|s| s.value.clone()).collect::<Vec<_>>().join(",")).unwrap_or_default()),
        ).with_hint("if AND was meant, write one rule with all conditions in the profile language"));
        return Ok(conds
            .into_iter()
            .map(|c| {
                let mut r = base.clone();
                r.args = vec![Sp::new(c)];
                r
            })
            .collect());
    }
    base.args = conds.into_iter().map(Sp::new).collect();
    Ok(vec![base])
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
/// together. libseccomp (so runc and crun) silently keeps the first such rule; Palisade's
/// last-rule-wins keeps the later one. Both readings are reported so the user can choose.
fn first_wins_conflicts(file: &str, d: &DockerProfile) -> Vec<Diagnostic> {
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
                    "syscalls[{j}] ({}) and syscalls[{i}] ({}) both apply to {} without argument conditions: libseccomp (runc, crun) keeps the first, syscalls[{i}]; the imported profile keeps the last, syscalls[{j}]",
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
    warnings.extend(first_wins_conflicts(file, d));
    let mut rules = Vec::new();
    for (at, s) in d.syscalls.iter().enumerate() {
        rules.extend(rules_of(file, at, s, &mut warnings)?.into_iter().map(Sp::new));
    }
    if !d.flags.is_empty() {
        warnings.push(Diagnostic::warning(
            Origin::new(file, 1, 1),
            format!("seccomp flags {:?} are not part of the profile language; dropped", d.flags),
        ));
    }
    let profile = Profile {
        name: Some(Sp::new(name.to_string())),
        description: Some(format!(
            "Imported from Docker seccomp profile {}",
            file.rsplit('/').next().unwrap_or(file)
        )),
        capabilities: Some(Capabilities {
            add: DOCKER_DEFAULT.iter().map(|c| Sp::new(c.to_string())).collect(),
            ..Capabilities::default()
        }),
        seccomp: Some(Seccomp {
            default: Some(Sp::new(default.to_string())),
            unknown: Some(Sp::new("default".into())),
            arches: (!arches.is_empty()).then(|| arches.into_iter().map(Sp::new).collect()),
            rules,
            ..Seccomp::default()
        }),
        ..Profile::default()
    };
    Ok(Imported { profile, warnings })
}

/// The profile as YAML text, with the schema line editors use.
pub fn to_yaml(profile: &Profile) -> Result<String, Error> {
    let body = serde_saphyr::to_string(profile)
        .map_err(|e| Error::Export { format: "yaml", message: e.to_string() })?;
    Ok(format!("# Imported by `policyc import`; the last matching seccomp rule wins.\n{body}"))
}

/// Import Docker JSON text and compile the result (as `policyc import` then `compile` would).
pub fn compile_docker(
    file: &str,
    text: &str,
    opts: &crate::CompileOptions,
) -> Result<crate::Compiled, Error> {
    let stem = file.rsplit('/').next().unwrap_or(file).trim_end_matches(".json");
    let d = parse_docker(file, text)?;
    let imported = import(file, stem, &d)?;
    let yaml = to_yaml(&imported.profile)?;
    crate::compile_text(&format!("{stem}.yaml"), &yaml, None, opts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syscalls::groups;
    use crate::{compile_text, CompileOptions, Policy};

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
        assert!(!yaml.contains("@privileged") && !yaml.contains(" ptrace"), "{yaml}");
        let about = |text: &str| warnings.iter().filter(|w| w.message.contains(text)).count();
        assert_eq!(about("`@privileged` is not a syscall name"), 2, "{warnings:#?}");
        assert_eq!(about("` ptrace` is not a syscall name"), 1, "{warnings:#?}");
        assert!(warnings.iter().all(|w| w.severity == crate::Severity::Warning && w.hint.is_some()));
        assert!(warnings[0].message.starts_with("syscalls[0] (SCMP_ACT_ALLOW)"), "{}", warnings[0]);
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
}
