//! `policyc merge` and `enforce record --append`: one profile that allows what each of several
//! learned profiles allows (several runs of a test suite make one profile).
//!
//! The inputs are allow-lists as `enforce record` writes them: a default verdict, `allow`
//! rules, Landlock paths and ports, capabilities added to none. The merge is their union, tier
//! by tier; then each input and the result are compiled and compared (`policyc diff`): the
//! result must not narrow any input, or the merge fails saying where. A profile that is not an
//! allow-list (a `deny` rule, `extends`, different defaults) is refused with its location.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::{Diagnostic, Error, Origin};
use crate::frontend::loader;
use crate::frontend::profile::{
    ArgValue, Capabilities, Landlock, Network, Process, Profile, Rule, Seccomp, UserSpec,
};
use crate::frontend::spanned::Sp;

/// Header comments carried from the inputs into the result.
const CARRIED: [&str; 6] =
    ["# Learned by", "# Recorded under", "# Refused by", "# Warning", "# Incomplete", "# Merged from"];

/// One input: its file name (for messages) and text.
pub struct Input<'a> {
    /// File name.
    pub file: &'a str,
    /// Its YAML.
    pub text: &'a str,
}

fn refuse<T>(file: &str, line: u64, column: u64, message: impl Into<String>, hint: &str) -> Result<T, Error> {
    let d = Diagnostic::error(Origin::new(file, line.max(1), column.max(1)), message).with_hint(hint);
    Err(Error::Invalid(vec![d]))
}

const HINT: &str =
    "merge unions learned profiles (what `enforce record` writes): allow rules only, no extends";

/// The union of `inputs`, as YAML (header comments of the inputs kept).
pub fn merge(inputs: &[Input]) -> Result<String, Error> {
    let mut profiles = Vec::new();
    for i in inputs {
        let p = loader::parse(i.file, i.text)?;
        check_mergeable(i.file, &p)?;
        profiles.push(p);
    }
    let Some((first, rest)) = profiles.split_first() else {
        return refuse("merge", 1, 1, "nothing to merge", "give two profiles or more");
    };
    let mut merged = first.clone();
    for (p, i) in rest.iter().zip(&inputs[1..]) {
        merged = pair(&merged, p, i.file)?;
    }
    let body = serde_saphyr::to_string(&merged)
        .map_err(|e| Error::Export { format: "yaml", message: e.to_string() })?;
    let mut header = format!(
        "# Merged from {} recordings by `policyc merge`: it allows what each allows (the last matching seccomp rule wins).\n",
        inputs.iter().map(|i| runs(i.text)).sum::<usize>()
    );
    let mut seen = BTreeSet::new();
    // A claim about the base a run was recorded under holds for the merge only if every run
    // makes it.
    let everywhere = |line: &str| inputs.iter().all(|i| i.text.lines().any(|l| l == line));
    for line in inputs.iter().flat_map(|i| i.text.lines()) {
        let base = line.starts_with("# Recorded under");
        if CARRIED.iter().any(|c| line.starts_with(c))
            && !line.starts_with("# Merged from")
            && (!base || everywhere(line))
            && seen.insert(line)
        {
            header.push_str(line);
            header.push('\n');
        }
    }
    let text = header + &flow_lists(&body);
    not_narrower(inputs, &text)?;
    Ok(text)
}

/// Block lists of plain scalars written on one line (`allow: [read, write]`), as
/// `enforce record` writes them.
fn flow_lists(yaml: &str) -> String {
    let lines: Vec<&str> = yaml.lines().collect();
    let indent = |l: &str| l.len() - l.trim_start().len();
    let plain = |s: &str| {
        !s.is_empty() && !s.contains([',', '[', ']', '{', '}', '#', '"', '\'']) && !s.contains(": ")
    };
    let mut out = String::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let mut items = Vec::new();
        let mut j = i + 1;
        if line.ends_with(':') {
            let key_indent = indent(line);
            while let Some(next) = lines.get(j) {
                let item = next.trim_start().strip_prefix("- ");
                // Items sit at the key's indent or deeper (serde-saphyr writes them at its indent).
                match item {
                    Some(v) if indent(next) >= key_indent && plain(v) && !v.ends_with(':') => {
                        items.push(v);
                        j += 1;
                    }
                    _ => break,
                }
            }
        }
        // Not a list of scalars: a list of maps (`- path: ...`) at the key's own indent ends it.
        if items.is_empty() {
            out.push_str(line);
            out.push('\n');
            i += 1;
        } else {
            out.push_str(&format!("{line} [{}]\n", items.join(", ")));
            i = j;
        }
    }
    out
}

/// How many recordings a learned profile holds (its `# Learned by` lines; at least one).
fn runs(text: &str) -> usize {
    text.lines().filter(|l| l.starts_with("# Learned by")).count().max(1)
}

fn check_mergeable(file: &str, p: &Profile) -> Result<(), Error> {
    if let Some(e) = &p.extends {
        return refuse(file, e.line, e.column, "a profile with `extends` cannot be merged", HINT);
    }
    for r in p.seccomp.iter().flat_map(|s| &s.rules) {
        if r.value.allow.is_none() {
            return refuse(file, r.line, r.column, "only `allow` rules can be merged", HINT);
        }
    }
    Ok(())
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// The union of two profiles (`b` read from `file`).
fn pair(a: &Profile, b: &Profile, file: &str) -> Result<Profile, Error> {
    if json(&a.isolation) != json(&b.isolation) {
        return refuse(
            file,
            1,
            1,
            "the isolation sections differ",
            "merge recordings of the same kind of run",
        );
    }
    Ok(Profile {
        name: a.name.clone(),
        description: a.description.clone(),
        extends: None,
        process: process(a, b, file)?,
        capabilities: capabilities(a.capabilities.as_ref(), b.capabilities.as_ref(), file)?,
        seccomp: seccomp(a.seccomp.as_ref(), b.seccomp.as_ref(), file)?,
        landlock: landlock(a.landlock.as_ref(), b.landlock.as_ref()),
        isolation: a.isolation.clone(),
    })
}

/// The same process settings; a run that needed capabilities names its user, which the other
/// (`caller`, with none) then takes too.
fn process(a: &Profile, b: &Profile, file: &str) -> Result<Option<Process>, Error> {
    let (pa, pb) = (a.process.clone().unwrap_or_default(), b.process.clone().unwrap_or_default());
    let caller =
        |p: &Process| matches!(p.user.as_ref().map(|u| &u.value), Some(UserSpec::Text(t)) if t == "caller");
    let mut pb2 = pb.clone();
    let mut pa2 = pa.clone();
    if caller(&pa) && !caller(&pb) {
        pa2.user = pb.user.clone();
    } else if caller(&pb) && !caller(&pa) {
        pb2.user = pa.user.clone();
    }
    if json(&pa2) != json(&pb2) {
        return refuse(
            file,
            1,
            1,
            format!("the process sections differ ({} and {})", json(&pa), json(&pb)),
            "merge recordings made by the same user with the same settings",
        );
    }
    Ok(a.process.as_ref().map(|_| pa2).or(b.process.clone()))
}

fn capabilities(
    a: Option<&Capabilities>,
    b: Option<&Capabilities>,
    file: &str,
) -> Result<Option<Capabilities>, Error> {
    let (Some(a), Some(b)) = (a, b) else { return Ok(None) };
    let all = |c: &Capabilities| c.drop.iter().any(|d| d.value.eq_ignore_ascii_case("ALL"));
    if !all(a) || !all(b) {
        return refuse(file, 1, 1, "capabilities that do not drop ALL cannot be merged", HINT);
    }
    let mut add: Vec<String> = a.add.iter().chain(&b.add).map(|c| c.value.clone()).collect();
    add.sort();
    add.dedup();
    Ok(Some(Capabilities {
        drop: vec![Sp::new("ALL".into())],
        add: add.into_iter().map(Sp::new).collect(),
        ambient: a.ambient.clone(),
    }))
}

fn seccomp(a: Option<&Seccomp>, b: Option<&Seccomp>, file: &str) -> Result<Option<Seccomp>, Error> {
    let (a, b) = match (a, b) {
        (Some(a), Some(b)) => (a, b),
        (x, y) => return Ok(x.or(y).cloned()),
    };
    let same = |x: &Option<Sp<String>>, y: &Option<Sp<String>>, what: &str| match x.as_ref().map(|v| &v.value)
        == y.as_ref().map(|v| &v.value)
    {
        true => Ok(()),
        false => refuse(file, 1, 1, format!("the seccomp `{what}` verdicts differ"), HINT),
    };
    same(&a.default, &b.default, "default")?;
    same(&a.unknown, &b.unknown, "unknown")?;
    if a.clone3_fallback.as_ref().map(|v| v.value) != b.clone3_fallback.as_ref().map(|v| v.value) {
        return refuse(file, 1, 1, "the seccomp `clone3_fallback` settings differ", HINT);
    }
    let arches = match (&a.arches, &b.arches) {
        (Some(x), Some(y)) => {
            let mut v = x.clone();
            v.extend(y.iter().filter(|n| !x.iter().any(|m| m.value == n.value)).cloned());
            Some(v)
        }
        _ => None,
    };
    let both = |x: &Option<Sp<bool>>, y: &Option<Sp<bool>>| {
        (x.as_ref().is_some_and(|v| v.value) && y.as_ref().is_some_and(|v| v.value)).then(|| Sp::new(true))
    };
    let names_socket = |s: &Seccomp| {
        s.rules
            .iter()
            .any(|r| r.value.allow.iter().flatten().any(|n| n.value == "socket" || n.value == "socketpair"))
    };
    let families = match (&a.restrict_address_families, &b.restrict_address_families) {
        (Some(x), Some(y)) => {
            let mut v = x.value.clone();
            v.extend(y.value.iter().filter(|f| !x.value.iter().any(|g| g.value == f.value)).cloned());
            Some(Sp::new(v))
        }
        (Some(x), None) if !names_socket(b) => Some(x.clone()),
        (None, Some(y)) if !names_socket(a) => Some(y.clone()),
        _ => None,
    };
    Ok(Some(Seccomp {
        default: a.default.clone(),
        unknown: a.unknown.clone(),
        arches,
        rules: rules(&a.rules, &b.rules),
        restrict_namespaces: both(&a.restrict_namespaces, &b.restrict_namespaces),
        restrict_address_families: families,
        deny_io_uring: both(&a.deny_io_uring, &b.deny_io_uring),
        clone3_fallback: a.clone3_fallback.clone(),
    }))
}

/// Allow rules of both: rules without arguments and with the same `when` become one list;
/// `in` rules on the same calls, argument and `when` take both value lists; the rest are kept
/// once each.
fn rules(a: &[Sp<Rule>], b: &[Sp<Rule>]) -> Vec<Sp<Rule>> {
    let mut plain: BTreeMap<String, (Rule, BTreeSet<String>)> = BTreeMap::new();
    let mut with_in: BTreeMap<String, (Rule, Vec<Sp<ArgValue>>)> = BTreeMap::new();
    let mut other: Vec<Rule> = Vec::new();
    let mut order: Vec<(u8, String)> = Vec::new();
    for r in a.iter().chain(b).map(|r| &r.value) {
        let names: Vec<String> = r.allow.iter().flatten().map(|n| n.value.clone()).collect();
        let when = json(&r.when);
        let single_in = match r.args.as_slice() {
            [c] if c.value.op.value == crate::ir::ArgOp::In => Some(c),
            _ => None,
        };
        if r.args.is_empty() {
            let e = plain.entry(when.clone()).or_insert_with(|| {
                order.push((0, when.clone()));
                (Rule { allow: Some(Vec::new()), comment: None, ..r.clone() }, BTreeSet::new())
            });
            e.1.extend(names);
        } else if let Some(c) = single_in {
            let key = format!("{}|{}|{when}", json(&names), c.value.index.value);
            let e = with_in.entry(key.clone()).or_insert_with(|| {
                order.push((1, key.clone()));
                (r.clone(), Vec::new())
            });
            for v in c.value.values.iter().flatten() {
                if !e.1.iter().any(|w| w.value == v.value) {
                    e.1.push(v.clone());
                }
            }
        } else if !other.iter().any(|o| json(o) == json(r)) {
            order.push((2, other.len().to_string()));
            other.push(r.clone());
        }
    }
    let mut out = Vec::new();
    for (kind, key) in order {
        let rule = match kind {
            0 => {
                let (mut r, names) = plain[&key].clone();
                r.allow = Some(names.into_iter().map(Sp::new).collect());
                r
            }
            1 => {
                let (mut r, values) = with_in[&key].clone();
                if let Some(c) = r.args.first_mut() {
                    c.value.values = Some(values);
                }
                r
            }
            _ => other[key.parse::<usize>().unwrap_or(0)].clone(),
        };
        out.push(Sp::new(rule));
    }
    out
}

fn landlock(a: Option<&Landlock>, b: Option<&Landlock>) -> Option<Landlock> {
    let (a, b) = (a?, b?);
    let mut paths: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in a.filesystem.iter().chain(&b.filesystem) {
        let e = paths.entry(r.value.path.value.clone()).or_default();
        for x in &r.value.access {
            if !e.contains(&x.value) {
                e.push(x.value.clone());
            }
        }
    }
    let filesystem = paths
        .into_iter()
        .map(|(path, access)| {
            Sp::new(crate::frontend::profile::FsRule {
                path: Sp::new(path),
                access: access.into_iter().map(Sp::new).collect(),
            })
        })
        .collect();
    let network = match (&a.network, &b.network) {
        (Some(x), Some(y)) => {
            let union = |p: &[Sp<u16>], q: &[Sp<u16>]| {
                let s: BTreeSet<u16> = p.iter().chain(q).map(|v| v.value).collect();
                s.into_iter().map(Sp::new).collect()
            };
            Some(Network { bind: union(&x.bind, &y.bind), connect: union(&x.connect, &y.connect) })
        }
        _ => None,
    };
    let scope = match (&a.scope, &b.scope) {
        (Some(x), Some(y)) => {
            Some(x.iter().filter(|s| y.iter().any(|t| t.value == s.value)).cloned().collect())
        }
        _ => None,
    };
    let min_abi = match (&a.min_abi, &b.min_abi) {
        (Some(x), Some(y)) => Some(Sp::new(x.value.min(y.value))),
        _ => None,
    };
    let enforce =
        |l: &Landlock| l.mode.as_ref().is_none_or(|m| m.value == crate::vocab::LandlockMode::Enforce);
    let mode = match enforce(a) && enforce(b) {
        true => a.mode.clone(),
        false => Some(Sp::new(crate::vocab::LandlockMode::BestEffort)),
    };
    Some(Landlock { mode, min_abi, filesystem, network, scope })
}

/// The merge must allow all each input allows: compiled and compared, nothing may narrow
/// (a higher lowest Landlock ABI aside: the union of the rights may need it).
fn not_narrower(inputs: &[Input], merged: &str) -> Result<(), Error> {
    let opts = crate::CompileOptions::default();
    let m = crate::compile_text("merged.yaml", merged, None, &opts)?.policy;
    for i in inputs {
        let p = crate::compile_text(i.file, i.text, None, &opts)?.policy;
        let d = crate::diff::diff(&p, &m);
        let narrower: Vec<String> = d
            .changes
            .iter()
            // A higher lowest ABI follows from the union of the rights: not less allowed.
            .filter(|c| c.class == crate::diff::Class::Narrow && c.subject != "min_abi")
            .map(|c| format!("{} {}", c.subject, c.message))
            .collect();
        if !narrower.is_empty() {
            return refuse(
                i.file,
                1,
                1,
                format!("the merge would allow less than this profile: {}", narrower.join("; ")),
                HINT,
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "# Learned by `enforce record` on D from: a\nname: a\nprocess: { user: caller }\ncapabilities: { drop: [ALL] }\nseccomp:\n  default: errno(EPERM)\n  arches: [x86_64]\n  restrict_namespaces: true\n  restrict_address_families: [AF_UNIX]\n  rules:\n    - allow: [read, write, socket]\n    - allow: [ioctl]\n      args: [{ index: 1, op: in, values: [0x5401] }]\nlandlock:\n  filesystem:\n    - { path: /usr, access: [read_file] }\n  network: { bind: [80], connect: [] }\n";
    const B: &str = "# Learned by `enforce record` on D from: b\nname: b\nprocess: { user: caller }\ncapabilities: { drop: [ALL] }\nseccomp:\n  default: errno(EPERM)\n  arches: [x86_64]\n  rules:\n    - allow: [read, openat]\n    - allow: [ioctl]\n      args: [{ index: 1, op: in, values: [0x5413] }]\nlandlock:\n  filesystem:\n    - { path: /usr, access: [execute] }\n    - { path: /etc, access: [read_file] }\n  network: { bind: [], connect: [443] }\n";

    fn policy(text: &str) -> crate::Policy {
        crate::compile_text("t.yaml", text, None, &crate::CompileOptions::default()).unwrap().policy
    }

    #[test]
    fn the_union_allows_what_each_allows_and_no_more() {
        let merged = merge(&[Input { file: "a.yaml", text: A }, Input { file: "b.yaml", text: B }]).unwrap();
        assert!(merged.starts_with("# Merged from 2 recordings"), "{merged}");
        assert!(merged.contains("  - allow: [openat, read, socket, write]\n"), "{merged}");
        assert!(
            merged.contains("values: [0x5401, 0x5413]") || merged.contains("values: [21505, 21523]"),
            "{merged}"
        );
        assert!(merged.contains("restrict_address_families: [AF_UNIX]"), "{merged}");
        assert!(!merged.contains("restrict_namespaces"), "only one run refused namespaces: {merged}");
        let m = policy(&merged);
        let allows = |p: &crate::Policy, name: &str, args: [u64; 6]| {
            p.evaluate_name(crate::Arch::X86_64, name, args).unwrap().action.permits()
        };
        assert!(allows(&m, "openat", [0; 6]) && allows(&m, "write", [0; 6]));
        assert!(allows(&m, "ioctl", [0, 0x5401, 0, 0, 0, 0]) && allows(&m, "ioctl", [0, 0x5413, 0, 0, 0, 0]));
        assert!(!allows(&m, "ioctl", [0, 0x5402, 0, 0, 0, 0]) && !allows(&m, "mkdir", [0; 6]));
        assert!(!allows(&m, "socket", [2, 1, 0, 0, 0, 0]), "AF_INET stays refused");
        let usr = m.landlock.filesystem.iter().find(|r| r.path == "/usr").unwrap();
        assert_eq!(usr.access.names(), ["execute", "read_file"]);
        let net = m.landlock.network.as_ref().unwrap();
        assert_eq!((net.bind.clone(), net.connect.clone()), (vec![80], vec![443]));
    }

    #[test]
    fn what_is_not_an_allow_list_is_refused_with_its_place() {
        let deny = "name: d\nseccomp:\n  rules:\n    - deny: [ptrace]\n";
        let e =
            merge(&[Input { file: "a.yaml", text: A }, Input { file: "d.yaml", text: deny }]).unwrap_err();
        assert!(e.to_string().contains("d.yaml:4:7: error: only `allow` rules can be merged"), "{e}");
        let ext = "name: e\nextends: docker-default\n";
        let e = merge(&[Input { file: "e.yaml", text: ext }, Input { file: "a.yaml", text: A }]).unwrap_err();
        assert!(
            e.to_string().contains("e.yaml:2:10: error: a profile with `extends` cannot be merged"),
            "{e}"
        );
        let other = B.replace("errno(EPERM)", "errno(EACCES)");
        let e =
            merge(&[Input { file: "a.yaml", text: A }, Input { file: "b.yaml", text: &other }]).unwrap_err();
        assert!(e.to_string().contains("the seccomp `default` verdicts differ"), "{e}");
    }
}
