use super::*;
use crate::{compile, compile_text, CompileOptions};

fn pol(yaml: &str) -> Policy {
    match compile_text("t.yaml", yaml, None, &CompileOptions::default()) {
        Ok(c) => c.policy,
        Err(e) => panic!("{e}\n{yaml}"),
    }
}

/// A small base profile; `extra` is appended under `seccomp.rules`.
fn sec(rules: &str) -> Policy {
    pol(&format!("name: t\nseccomp:\n  default: errno(EPERM)\n  arches: [x86_64]\n  rules:\n{rules}"))
}

fn only(d: &Diff) -> &Change {
    assert_eq!(d.changes.len(), 1, "{}", render::text(d, false));
    &d.changes[0]
}

#[test]
fn one_more_allowed_syscall_widens() {
    let a = sec("    - allow: [read]\n");
    let b = sec("    - allow: [read, write]\n");
    let d = diff(&a, &b);
    let c = only(&d);
    assert_eq!((c.tier, c.class, c.subject.as_str()), (Tier::Seccomp, Class::Widen, "write"));
    assert_eq!(c.message, "errno(EPERM) → allow");
    assert!(c.arches.is_empty(), "the only arch both accept is not listed");
    assert_eq!(d.summary, Summary { widen: 1, narrow: 0, neutral: 0 });
    let back = diff(&b, &a);
    assert_eq!(only(&back).class, Class::Narrow);
    assert!(!back.widens());
}

#[test]
fn errno_to_errno_is_neutral_and_kill_is_a_deny() {
    let a = sec("    - allow: [read]\n    - deny: [mount]\n      action: errno(EPERM)\n");
    let b = sec("    - allow: [read]\n    - deny: [mount]\n      action: errno(ENOSYS)\n");
    let c = only(&diff(&a, &b)).clone();
    assert_eq!((c.class, c.message.as_str()), (Class::Neutral, "errno(EPERM) → errno(ENOSYS)"));
    let k = sec("    - allow: [read]\n    - deny: [mount]\n      action: kill\n");
    assert_eq!(only(&diff(&a, &k)).class, Class::Neutral);
    let n = sec("    - allow: [read]\n    - deny: [mount]\n      action: notify\n");
    assert_eq!(only(&diff(&a, &n)).class, Class::Widen, "a supervisor may allow it");
    assert_eq!(only(&diff(&n, &sec("    - allow: [read, mount]\n"))).class, Class::Widen);
}

#[test]
fn default_unknown_and_arches() {
    let a =
        pol("name: t\nseccomp:\n  default: errno(EPERM)\n  arches: [x86_64]\n  rules: [{ allow: [read] }]\n");
    let b = pol("name: t\nseccomp:\n  default: allow\n  arches: [x86_64]\n  rules: [{ allow: [read] }]\n");
    let d = diff(&a, &b);
    let c = d.changes.iter().find(|c| c.subject == "default").unwrap();
    assert_eq!(c.class, Class::Widen);
    assert!(c.message.starts_with("errno(EPERM) → allow"), "{}", c.message);
    let u = pol("name: t\nseccomp:\n  default: errno(EPERM)\n  unknown: allow\n  arches: [x86_64]\n  rules: [{ allow: [read] }]\n");
    let c = only(&diff(&a, &u)).clone();
    assert_eq!((c.subject.as_str(), c.class), ("unknown", Class::Widen));
    let x = pol(
        "name: t\nseccomp:\n  default: errno(EPERM)\n  arches: [x86_64, x32]\n  rules: [{ allow: [read] }]\n",
    );
    let d = diff(&a, &x);
    let c = d.changes.iter().find(|c| c.subject == "arch x32").unwrap();
    assert_eq!(c.class, Class::Widen);
    assert_eq!(diff(&x, &a).changes.iter().find(|c| c.subject == "arch x32").unwrap().class, Class::Narrow);
}

#[test]
fn argument_changes_name_what_is_newly_allowed() {
    let a = pol("name: t\nseccomp:\n  arches: [x86_64]\n  rules: [{ allow: [socket] }]\n  restrict_address_families: [AF_UNIX, AF_INET]\n");
    let b = pol("name: t\nseccomp:\n  arches: [x86_64]\n  rules: [{ allow: [socket] }]\n  restrict_address_families: [AF_UNIX, AF_INET, AF_NETLINK]\n");
    let d = diff(&a, &b);
    let c = d.changes.iter().find(|c| c.subject == "socket").expect("socket changed");
    assert_eq!(c.class, Class::Widen);
    assert!(c.message.contains("AF_NETLINK (0x10)"), "{}", c.message);
    assert!(!d.changes.iter().any(|c| c.class == Class::Narrow), "{}", render::text(&d, false));
    // clone without the namespace mask: CLONE_NEWUSER is named.
    let masked =
        sec("    - allow: [clone]\n      args: [{ index: 0, op: masked_eq, mask: 0x7E020000, value: 0 }]\n");
    let open = sec("    - allow: [clone]\n");
    let d = diff(&masked, &open);
    let c = d.changes.iter().find(|c| c.subject == "clone").unwrap();
    assert_eq!(c.class, Class::Widen);
    assert!(c.message.contains("CLONE_NEWUSER"), "{}", c.message);
    let back = diff(&open, &masked);
    assert!(back.changes.iter().all(|c| c.class != Class::Widen), "{}", render::text(&back, false));
}

#[test]
fn capability_sets() {
    let a = pol("name: t\ncapabilities: { drop: [ALL], add: [CHOWN] }\n");
    let b = pol("name: t\ncapabilities: { drop: [ALL], add: [CHOWN, NET_ADMIN] }\n");
    let d = diff(&a, &b);
    let c = d.changes.iter().find(|c| c.tier == Tier::Capabilities).unwrap();
    assert_eq!((c.subject.as_str(), c.class), ("CAP_NET_ADMIN", Class::Widen));
    assert!(c.message.starts_with("added to granted, bounding"), "{}", c.message);
    let back = diff(&b, &a);
    let c = back.changes.iter().find(|c| c.tier == Tier::Capabilities).unwrap();
    assert_eq!(c.class, Class::Narrow);
}

#[test]
fn landlock_rights_ports_scopes_mode() {
    let base = "name: t\nlandlock:\n  mode: enforce\n  filesystem:\n    - { path: /usr, access: [read] }\n";
    let a = pol(base);
    let b = pol(&format!("{base}    - {{ path: /usr/bin, access: [execute] }}\n"));
    let c = only(&diff(&a, &b)).clone();
    assert_eq!((c.subject.as_str(), c.class), ("/usr/bin", Class::Widen));
    assert_eq!(c.message, "now also allows execute");
    // A rule its parent already covers changes nothing.
    let covered = pol(&format!("{base}    - {{ path: /usr/share, access: [read_file] }}\n"));
    assert!(diff(&a, &covered).is_empty(), "{}", render::text(&diff(&a, &covered), false));
    // Widening a parent is reported at the parent only.
    let wide = pol("name: t\nlandlock:\n  mode: enforce\n  filesystem:\n    - { path: /usr, access: [read, write_file] }\n    - { path: /usr/bin, access: [execute] }\n");
    let d = diff(&b, &wide);
    assert_eq!(only(&d).subject, "/usr");
    let be = pol(&base.replace("enforce", "best-effort"));
    assert_eq!(only(&diff(&a, &be)).class, Class::Widen);
    let net_a = pol(&format!("{base}  network: {{ bind: [80], connect: [] }}\n  scope: [signal]\n"));
    let net_b = pol(&format!("{base}  network: {{ bind: [80, 8080], connect: [] }}\n"));
    let d = diff(&net_a, &net_b);
    assert!(d
        .changes
        .iter()
        .any(|c| c.subject == "bind ports" && c.class == Class::Widen && c.message.contains("8080")));
    assert!(d.changes.iter().any(|c| c.subject == "scope signal" && c.class == Class::Widen));
    assert!(diff(&net_a, &a).changes.iter().any(|c| c.subject == "network" && c.class == Class::Widen));
}

#[test]
fn process_changes() {
    let a =
        pol("name: t\nprocess:\n  user: \"1000:1000\"\n  no_new_privs: true\n  rlimits: { nofile: 1024 }\n");
    let b = pol("name: t\nprocess:\n  user: \"0:0\"\n  no_new_privs: false\n  rlimits: { nofile: 4096 }\n");
    let d = diff(&a, &b);
    for s in ["user", "no_new_privs", "rlimit nofile"] {
        let c = d.changes.iter().find(|c| c.subject == s).unwrap_or_else(|| panic!("{s}"));
        assert_eq!(c.class, Class::Widen, "{s}");
    }
    let back = diff(&b, &a);
    assert!(!back.widens(), "{}", render::text(&back, false));
    let bits = back.changes.iter().find(|c| c.subject == "securebits").unwrap();
    assert_eq!(bits.class, Class::Neutral, "no effect for a non-root user under no_new_privs");
    // The caller's own ids (no capability possible) instead of a fixed user: neutral; a limit
    // that may now raise the current hard limit: wider.
    let c = pol("name: t\nprocess:\n  user: caller\n  no_new_privs: true\n  rlimits: { nofile: { soft: 1024, hard: 1024, raise: true } }\n");
    let d = diff(&a, &c);
    let user = d.changes.iter().find(|c| c.subject == "user").unwrap();
    assert_eq!((user.class, user.message.as_str()), (Class::Neutral, "1000:1000 → caller"));
    let raise = d.changes.iter().find(|c| c.subject == "rlimit nofile").unwrap();
    assert_eq!(raise.class, Class::Widen, "{}", raise.message);
}

#[test]
fn isolation_changes() {
    let a = pol("name: t\nisolation:\n  network: none\n");
    let b = pol("name: t\nisolation:\n  network: host\n  namespaces: [user, pid, mount, uts, ipc, cgroup]\n  mounts:\n    - { type: bind, source: /srv, target: /srv }\n");
    let d = diff(&a, &b);
    for s in ["network", "mount /srv"] {
        assert_eq!(d.changes.iter().find(|c| c.subject == s).unwrap().class, Class::Widen, "{s}");
    }
    assert!(d.changes.iter().all(|c| c.class == Class::Widen), "{}", render::text(&d, false));
    let none = pol("name: t\n");
    assert_eq!(
        diff(&a, &none).changes.iter().find(|c| c.subject == "isolation").unwrap().class,
        Class::Widen
    );
}

#[test]
fn the_same_meaning_written_differently_diffs_empty() {
    let pairs = [
        // Reordered (independent) rules.
        (
            sec("    - allow: [read]\n    - allow: [write]\n"),
            sec("    - allow: [write]\n    - allow: [read]\n"),
        ),
        // One rule or two.
        (sec("    - allow: [read, write]\n"), sec("    - allow: [read]\n    - allow: [write]\n")),
        // A group or its names.
        (sec("    - allow: [\"@signal\"]\n"), {
            let names = crate::syscalls::groups::group("@signal").unwrap().expand();
            sec(&format!("    - allow: [{}]\n", names.into_iter().collect::<Vec<_>>().join(", ")))
        }),
        // A rule that the default already says.
        (sec("    - allow: [read]\n"), sec("    - allow: [read]\n    - deny: [mount]\n")),
    ];
    for (i, (a, b)) in pairs.iter().enumerate() {
        let d = diff(a, b);
        assert!(d.is_empty(), "pair {i}:\n{}", render::text(&d, false));
    }
    // extends versus inline: web, and web with docker-default's rules pasted in, mean the same.
    let web = compile("builtin:web", &CompileOptions::default()).unwrap().policy;
    let parent = crate::builtin::text("docker-default").unwrap();
    let child = crate::builtin::text("web").unwrap().replace("extends: docker-default\n", "");
    let merged = crate::frontend::loader::load_text("docker-default.yaml", parent, None).unwrap();
    let mut layers = merged;
    layers.extend(crate::frontend::loader::load_text("web.yaml", &child, None).unwrap());
    let (inline, _) = crate::frontend::check::check(&layers, &CompileOptions::default()).unwrap();
    assert!(diff(&web, &inline).is_empty(), "{}", render::text(&diff(&web, &inline), false));
}

#[test]
fn builtins_docker_default_to_web() {
    let opts = CompileOptions::default();
    let dd = compile("builtin:docker-default", &opts).unwrap().policy;
    let web = compile("builtin:web", &opts).unwrap().policy;
    assert!(diff(&dd, &dd).is_empty());
    let d = diff(&dd, &web);
    assert!(d.summary.narrow > 0 && d.summary.widen == 0, "{}", render::text(&d, false));
    let ptrace = d.changes.iter().find(|c| c.subject == "ptrace").unwrap();
    assert_eq!(ptrace.class, Class::Narrow);
    let text = render::text(&d, false);
    assert!(text.starts_with("docker-default → web\n"), "{text}");
    assert!(text.ends_with(&format!(
        "summary: 0 widen, {} narrow, {} neutral\n",
        d.summary.narrow, d.summary.neutral
    )));
    let json: serde_json::Value = serde_json::from_str(&render::json(&d)).unwrap();
    assert_eq!(json["summary"]["narrow"], d.summary.narrow);
    assert_eq!(json["changes"].as_array().unwrap().len(), d.changes.len());
    assert!(render::text(&d, true).contains("\x1b[32mnarrow"));
}

/// Issue 15: `unknown: enosys-after` changes what numbers outside the table get above the
/// cut-off, and what known syscalls no rule names get there: both are reported, per range and
/// per syscall, classified by the verdicts (allow → ENOSYS narrows, EPERM → ENOSYS is neutral).
#[test]
fn enosys_after_changes_are_reported_by_range_and_by_syscall() {
    let base = |default: &str, unknown: &str| {
        pol(&format!(
            "name: t\nseccomp:\n  default: {default}\n  unknown: {unknown}\n  arches: [x86_64]\n  rules: [{{ deny: [read] }}, {{ allow: [faccessat2] }}]\n"
        ))
    };
    let (a, b) = (base("errno(EPERM)", "default"), base("errno(EPERM)", "enosys-after openat2"));
    let d = diff(&a, &b);
    let u = d.changes.iter().find(|c| c.subject == "unknown").expect("an unknown change");
    assert_eq!(u.class, Class::Neutral);
    assert_eq!(
        u.message,
        "errno(EPERM) → errno(ENOSYS) (numbers outside the arch's table above 437 (`openat2`))"
    );
    // A syscall newer than openat2 that no rule names; faccessat2 is allowed on both sides.
    let p = d.changes.iter().find(|c| c.subject == "pidfd_getfd").expect("pidfd_getfd");
    assert_eq!((p.class, p.message.as_str()), (Class::Neutral, "errno(EPERM) → errno(ENOSYS)"));
    assert!(!d
        .changes
        .iter()
        .any(|c| ["faccessat2", "openat2", "mount", "default"].contains(&c.subject.as_str())));
    // Allowed by default, then ENOSYS: narrower; and back: wider, on the same subjects.
    let (a, b) = (base("allow", "default"), base("allow", "enosys-after openat2"));
    let d = diff(&a, &b);
    assert!(
        !d.changes.is_empty() && d.changes.iter().all(|c| c.class == Class::Narrow),
        "{}",
        render::text(&d, false)
    );
    let back = diff(&b, &a);
    assert!(back.widens() && back.changes.iter().all(|c| c.class == Class::Widen));
    assert_eq!(d.changes.len(), back.changes.len());
    // The cut-off moves from openat2 (437) to faccessat2 (439): 438 and 439 are syscalls, so
    // only pidfd_getfd (438) changes.
    let (a, b) =
        (base("errno(EPERM)", "enosys-after openat2"), base("errno(EPERM)", "enosys-after faccessat2"));
    let c = only(&diff(&a, &b)).clone();
    assert_eq!((c.subject.as_str(), c.message.as_str()), ("pidfd_getfd", "errno(ENOSYS) → errno(EPERM)"));
    assert!(diff(&b, &b).is_empty());
}
