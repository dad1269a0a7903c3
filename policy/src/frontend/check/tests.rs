//! Every diagnostic of the checker, one row each: a profile snippet, the message it must give,
//! its hint, and where it must point (`at`: the text found first at that line and column).

use crate::error::{Diagnostic, Severity};
use crate::vocab::NetworkMode;
use crate::{compile_text, CompileOptions};

use Severity::{Error as E, Warning as W};

/// (snippet, severity, message contains, hint contains, the text the location points at)
type Case = (&'static str, Severity, &'static str, &'static str, &'static str);

const CASES: &[Case] = &[
    // process
    ("process: { user: \"www:data\" }", E, "invalid user \"www:data\"", "uid:gid", "\"www:data\""),
    ("process:\n  env: { \"A=B\": x }\n", E, "invalid environment variable `A=B`", "without `=`", "x }"),
    ("process: { workdir: src }\n", E, "workdir `src`: not absolute", "${CWD}", "src"),
    ("process:\n  rlimits:\n    nofiles: 10\n", E, "unknown resource limit `nofiles`", "nofile", "10"),
    ("process:\n  rlimits:\n    nofile: lots\n", E, "invalid limit for `nofile`: `lots` is not a number", "unlimited", "lots"),
    ("process:\n  rlimits:\n    nofile: { soft: 9, hard: 8 }\n", E, "soft limit 9 is above hard limit 8", "soft <= hard", "{ soft"),
    ("process:\n  rlimits:\n    core: { soft: unlimited, hard: 8 }\n", E, "soft limit unlimited is above the hard limit", "soft <= hard", "{ soft"),
    // capabilities
    ("capabilities: { add: [NET_ADMN] }", E, "unknown capability `NET_ADMN`", "CAP_NET_ADMIN", "NET_ADMN"),
    ("capabilities: { drop: [FOOBARBAZ] }", E, "unknown capability `FOOBARBAZ`", "man 7 capabilities", "FOOBARBAZ"),
    ("capabilities: { add: [KILL], ambient: sometimes }", E, "invalid ambient mode `sometimes`", "`auto`, `none`", "sometimes"),
    ("capabilities: { add: [KILL], ambient: [CHOWN] }", E, "ambient capability CAP_CHOWN is not granted", "capabilities.add", "[CHOWN]"),
    ("capabilities: { add: [KILL], ambient: [KIL] }", E, "unknown capability `KIL`", "CAP_KILL", "[KIL]"),
    ("process: { user: caller }\ncapabilities: { add: [KILL] }", E, "`user: caller` with capabilities granted (CAP_KILL)", "drop: [ALL]", "caller"),
    // seccomp: arches, actions
    ("seccomp: { arches: [x86_65] }", E, "unknown architecture `x86_65`", "known: x86_64", "x86_65"),
    ("seccomp: { default: \"errno(0)\" }", W, "errno(0) makes the call look successful", "EPERM", "\"errno(0)\""),
    ("seccomp: { default: \"errno(EWHAT)\" }", E, "invalid errno `EWHAT` in `errno(EWHAT)`", "1..=4095", "\"errno(EWHAT)\""),
    ("seccomp: { default: \"trace(70000)\" }", E, "invalid trace data `70000`", "0..=65535", "\"trace(70000)\""),
    ("seccomp: { default: deny-ish }", E, "unknown action `deny-ish`", "kill-process", "deny-ish"),
    // seccomp: unknown (runc's ENOSYS stub)
    ("seccomp: { unknown: enosys-after mkdri }", E, "unknown syscall `mkdri` in `unknown: enosys-after mkdri`", "did you mean `mkdir`", "enosys-after"),
    ("seccomp: { unknown: enosys-after qqqqqqqqqq }", E, "unknown syscall `qqqqqqqqqq` in `unknown: enosys-after qqqqqqqqqq`", "enosys-after-named", "enosys-after"),
    ("seccomp: { unknown: enosys-after }", E, "`unknown: enosys-after` names no syscall to come after", "enosys-after NAME", "enosys-after"),
    ("seccomp: { unknown: enosys-after-newest }", E, "`unknown: enosys-after-newest` is neither `enosys-after NAME` nor `enosys-after-named`", "enosys-after-named", "enosys-after"),
    ("seccomp:\n  arches: [x86_64, aarch64, arm]\n  unknown: enosys-after open\n", E, "`unknown: enosys-after open`: `open` is not a syscall on aarch64", "every arch of the profile", "enosys-after"),
    // seccomp: rules
    ("seccomp:\n  rules:\n    - { allow: [\"@nope\"] }\n", E, "unknown syscall group `@nope`", "policyc groups", "\"@nope\""),
    ("seccomp:\n  rules:\n    - { allow: [\"@debgu\"] }\n", E, "unknown syscall group `@debgu`", "did you mean `@debug`", "\"@debgu\""),
    ("seccomp:\n  rules:\n    - { deny: [mkdri] }\n", E, "unknown syscall `mkdri` in a deny rule", "did you mean `mkdir`", "mkdri"),
    ("seccomp:\n  rules:\n    - { deny: [qqqqqqqqqq] }\n", E, "unknown syscall `qqqqqqqqqq` in a deny rule", "silently denies nothing", "qqqqqqqqqq"),
    ("seccomp:\n  rules:\n    - { allow: [qqqqqqqqqq] }\n", W, "unknown syscall `qqqqqqqqqq` (ignored on every arch)", "man 2 syscalls", "qqqqqqqqqq"),
    ("seccomp:\n  rules:\n    - { allow: [read], deny: [write] }\n", E, "a rule needs exactly one of `allow`, `deny` or `syscalls`", "one rule per verdict", "{ allow"),
    ("seccomp:\n  rules:\n    - { allow: [read], action: log }\n", E, "an `allow` rule takes no `action`", "`syscalls:`", "log"),
    ("seccomp:\n  rules:\n    - { deny: [read], action: allow }\n", E, "a `deny` rule cannot have action `allow`", "permitting verdicts", "allow }"),
    ("seccomp:\n  rules:\n    - { syscalls: [read] }\n", E, "a `syscalls` rule needs an `action`", "action: log", "{ syscalls"),
    ("seccomp:\n  rules:\n    - { allow: [read], when: { caps_present: [SYS_ADMN] } }\n", E, "unknown capability `SYS_ADMN`", "CAP_SYS_ADMIN", "SYS_ADMN"),
    ("seccomp:\n  rules:\n    - { allow: [read], when: { arches: [amd65] } }\n", E, "unknown host architecture `amd65`", "Docker's names", "amd65"),
    ("seccomp:\n  rules:\n    - { allow: [read], when: { min_kernel: \"four\" } }\n", E, "invalid kernel version `four`", "major.minor", "\"four\""),
    ("seccomp:\n  rules:\n    - { allow: [read], when: { max_kernel_below: \"5.0\" } }\n", E, "`max_kernel_below` is not supported", "min_kernel", "\"5.0\""),
    // seccomp: argument conditions
    ("seccomp:\n  rules:\n    - allow: [read]\n      args: [{ index: 6, op: eq, value: 1 }]\n", E, "argument index 6 is out of range", "0..=5", "6,"),
    ("seccomp:\n  rules:\n    - allow: [read]\n      args: [{ index: 0, op: eq, value: 1, width: 16 }]\n", E, "invalid width 16", "32 or 64", "16 }"),
    ("seccomp:\n  rules:\n    - allow: [socket, mmap]\n      args: [{ index: 0, op: eq, value: 1 }]\n", E, "disagree on the width of argument 0", "width: 32", "{ index"),
    ("seccomp:\n  rules:\n    - allow: [read]\n      args: [{ index: 0, op: in, value: 1 }]\n", E, "operator `in` needs `values` (a list) and no `value`", "docs/profile-language.md", "in,"),
    ("seccomp:\n  rules:\n    - allow: [read]\n      args: [{ index: 0, op: masked_eq, value: 1 }]\n", E, "operator `masked_eq` needs `mask` and `value`", "docs/profile-language.md", "masked_eq"),
    ("seccomp:\n  rules:\n    - allow: [read]\n      args: [{ index: 0, op: in, values: [] }]\n", E, "`in` needs at least one value", "values: [1, 2]", "in,"),
    ("seccomp:\n  rules:\n    - allow: [socket]\n      args: [{ index: 0, op: eq, value: 0x100000000 }]\n", E, "value 0x100000000 does not fit the 32-bit argument 0", "width: 64", "0x100000000"),
    ("seccomp:\n  rules:\n    - allow: [read]\n      args: [{ index: 0, op: masked_eq, mask: 1, value: 2 }]\n", W, "masked_eq value 0x2 has bits outside mask 0x1", "clear those bits", "{ index"),
    ("seccomp:\n  rules:\n    - allow: [socket]\n      args: [{ index: 0, op: eq, value: AF_INTE }]\n", E, "unknown constant `AF_INTE`", "did you mean `AF_INET`", "AF_INTE"),
    ("seccomp:\n  rules:\n    - allow: [socket]\n      args: [{ index: 0, op: eq, value: QQQQQQQQ }]\n", E, "unknown constant `QQQQQQQQ`", "known constant", "QQQQQQQQ"),
    ("seccomp:\n  arches: [x86_64, mips]\n  rules:\n    - allow: [ioctl]\n      args: [{ index: 1, op: eq, value: TIOCSTI }]\n", E, "constant TIOCSTI has another value on mips", "when.arches", "TIOCSTI"),
    // landlock
    ("landlock: { min_abi: 11 }", E, "min_abi 11 is out of range", "1..=10", "11"),
    ("landlock:\n  min_abi: 1\n  network: { bind: [80] }\n", W, "min_abi 1 is below ABI 4", "raise min_abi to 4", "1\n"),
    ("landlock:\n  filesystem:\n    - { path: var/cache, access: [read] }\n", E, "landlock path `var/cache` is not absolute", "absolute path", "var/cache"),
    ("landlock:\n  filesystem:\n    - { path: /srv/../etc, access: [read] }\n", E, "landlock path `/srv/../etc` is not absolute", "without `..`", "/srv/../etc"),
    ("landlock:\n  filesystem:\n    - { path: \"${PWD}/x\", access: [read] }\n", E, "landlock path `${PWD}/x`: unknown path variable `${PWD}`", "${CWD}", "\"${PWD}"),
    ("landlock:\n  filesystem:\n    - { path: /srv, access: [reed] }\n", E, "unknown filesystem access right `reed`", "read_file", "reed"),
    ("landlock:\n  filesystem:\n    - { path: /srv, access: [] }\n", E, "landlock rule for `/srv` grants nothing", "unlisted paths are denied", "{ path"),
    ("landlock: { scope: [signals] }", E, "unknown landlock scope `signals`", "abstract-unix-socket", "signals"),
    // isolation
    ("isolation: { namespaces: [users] }", E, "unknown namespace `users`", "time", "users"),
    ("isolation: { hostname: \"a b\" }", E, "invalid hostname `a b`", "letters, digits", "\"a b\""),
    ("name: x\nisolation: { rootfs: r/../x }", E, "rootfs `r/../x` cannot be resolved: `..` may only start a relative path", "relative to a profile file", "r/../x"),
    ("isolation: { rootfs: \"${HOME}/../r\" }", E, "rootfs `${HOME}/../r` cannot be resolved: `${HOME}/../r` climbs with `..`", "${XDG_RUNTIME_DIR}", "\"${HOME}"),
    ("isolation: { network: bridge }", E, "unknown network `bridge`", "`none`, `private` or `host`", "bridge"),
    // Issue 14, finding 3: `none` without `net` was the host's network, and said `none`.
    ("isolation:\n  namespaces: [user, mount, pid]\n  network: none\n", E, "`network: none` needs a network namespace, but `isolation.namespaces` leaves out `net`", "add `net` to `isolation.namespaces`, or write `network: host`", "none\n"),
    ("isolation: { namespaces: [user, mount, pid] }", W, "`isolation.namespaces` leaves out `net`: the container shares the host's network", "add `net`", "user"),
    ("isolation: { users: { map_root_to: 0 } }", E, "map_root_to must be `auto` or a host uid above 0", "never host root", "0 }"),
    ("isolation: { namespaces: [time, user, mount], time_offsets: { boottime: 99999999999 } }", E, "a time offset is out of range", "seconds", "{ boottime"),
    ("isolation: { time_offsets: { boottime: 60 } }", E, "time_offsets need a time namespace", "add `time`", "{ boottime"),
    ("isolation:\n  mounts:\n    - { type: tmpfs, target: data }\n", E, "mount target `data` is not absolute", "e.g. /data", "{ type"),
    ("isolation:\n  mounts:\n    - { type: bind, target: /data }\n", E, "a bind mount needs a `source`", "source: ./data", "{ type"),
    ("name: x\nisolation:\n  mounts:\n    - { type: bind, source: data/../../x, target: /data }\n", E, "bind source `data/../../x` cannot be resolved: `..` may only start a relative path", "relative to a profile file", "{ type"),
    ("isolation:\n  mounts:\n    - { type: tmpfs, target: /t, size: 12parsecs }\n", E, "invalid tmpfs size", "64Mi", "{ type"),
    ("isolation:\n  mounts:\n    - { type: overlay, target: /t }\n", E, "unknown mount type `overlay`", "`bind` or `tmpfs`", "{ type"),
    ("isolation: { masked_paths: some }", E, "`some`: use `default`, `none` or a list of absolute paths", "/proc/kcore", "some"),
    ("isolation: { readonly_paths: [proc/sys] }", E, "`proc/sys` is not an absolute path", "/proc/kcore", "[proc/sys]"),
    ("isolation: { logs: { max_size: 10 } }", E, "invalid log max_size", "1Ki", "10 }"),
    ("isolation: { logs: { max_files: 0 } }", E, "max_files must be at least 1", "max_files: 3", "0 }"),
    ("isolation: { limits: { memory: 1k } }", E, "invalid memory limit", "256Mi", "1k"),
    ("isolation: { limits: { pids: 0 } }", E, "pids must be at least 1", "pids: 128", "0 }"),
    ("isolation: { limits: { cpu: 0 } }", E, "cpu must be above 0", "half a CPU", "0 }"),
    ("isolation: { limits: { mode: strict } }", E, "unknown limits mode `strict`", "`enforce` or `best-effort`", "strict"),
];

fn diagnostics(yaml: &str) -> Vec<Diagnostic> {
    match compile_text("t.yaml", yaml, None, &CompileOptions::default()) {
        Ok(c) => c.warnings,
        Err(e) => e.diagnostics().to_vec(),
    }
}

/// 1-based line and column of the first `needle` in `text`.
fn position(text: &str, needle: &str) -> (u64, u64) {
    let at = text.find(needle).unwrap_or_else(|| panic!("`{needle}` is not in the snippet {text:?}"));
    let before = &text[..at];
    let line = before.matches('\n').count() as u64 + 1;
    let column = (at - before.rfind('\n').map_or(0, |n| n + 1)) as u64 + 1;
    (line, column)
}

#[test]
fn every_diagnostic_says_what_where_and_how_to_fix_it() {
    let mut failures = Vec::new();
    for (yaml, severity, message, hint, at) in CASES {
        let found = diagnostics(yaml);
        let Some(d) = found.iter().find(|d| d.message.contains(message)) else {
            failures.push(format!("{yaml:?}: no diagnostic `{message}` in {found:#?}"));
            continue;
        };
        let (line, column) = position(yaml, at);
        let got = (d.severity, d.origin.file.as_str(), d.origin.line, d.origin.column);
        if got != (*severity, "t.yaml", line, column) {
            failures.push(format!(
                "{yaml:?}: `{message}` is {got:?}, want {severity:?} at {line}:{column} ({at:?})"
            ));
        }
        if !d.hint.as_deref().is_some_and(|h| h.contains(hint)) {
            failures.push(format!("{yaml:?}: hint {:?} lacks `{hint}`", d.hint));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_diagnostic_of_the_table_has_a_hint() {
    for (yaml, ..) in CASES {
        for d in diagnostics(yaml) {
            assert!(d.hint.is_some(), "{yaml:?}: `{}` has no hint", d.message);
        }
    }
}

#[test]
fn paths_of_a_profile_named_without_a_directory_resolve_against_the_working_directory() {
    let c = compile_text(
        "t.yaml",
        "isolation: { rootfs: ., mounts: [{ type: bind, source: src, target: /s }] }",
        None,
        &CompileOptions::default(),
    )
    .unwrap();
    let cwd = std::env::current_dir().unwrap();
    assert_eq!(c.policy.isolation.rootfs.as_deref(), cwd.to_str());
    let want = crate::ir::MountIr::Bind {
        source: cwd.join("src").display().to_string(),
        target: "/s".into(),
        readonly: false,
    };
    assert_eq!(c.policy.isolation.mounts, [want]);
}

#[test]
fn the_table_covers_every_diagnostic_of_the_checker() {
    // Each `diags.error`/`diags.warning` call of the checker's sources has a row: a new
    // diagnostic needs a new row (counted here, so the table cannot fall behind).
    let sources = [
        include_str!("args.rs"),
        include_str!("caps.rs"),
        include_str!("isolation.rs"),
        include_str!("landlock.rs"),
        include_str!("process.rs"),
        include_str!("seccomp.rs"),
    ];
    let sites: usize =
        sources.iter().map(|s| s.matches("diags.error(").count() + s.matches("diags.warning(").count()).sum();
    let distinct: std::collections::BTreeSet<&str> = CASES.iter().map(|c| c.2).collect();
    assert!(distinct.len() >= sites, "{sites} diagnostic sites, {} distinct rows", distinct.len());
}

#[test]
fn paths_with_variables_are_kept_as_written() {
    let yaml = "landlock:\n  filesystem:\n    - { path: \"${CWD}//src/.\", access: [read] }\nisolation:\n  rootfs: \"${HOME}/images/deb\"\n  mounts: [{ type: bind, source: \"/srv/${env:USER}\", target: /s }]\n";
    let c = compile_text("t.yaml", yaml, None, &CompileOptions::default()).unwrap();
    assert_eq!(c.policy.landlock.filesystem[0].path, "${CWD}/src");
    assert_eq!(c.policy.isolation.rootfs.as_deref(), Some("${HOME}/images/deb"));
    let want =
        crate::ir::MountIr::Bind { source: "/srv/${env:USER}".into(), target: "/s".into(), readonly: false };
    assert_eq!(c.policy.isolation.mounts, [want]);
}

/// Issue 14, finding 3: whatever the layers say, a policy that says `network: none` has a
/// network namespace of its own (the runtime creates one only when `net` is among the
/// namespaces), and a profile that writes `network: none` without `net` is refused.
#[test]
fn network_none_always_comes_with_a_network_namespace() {
    let namespaces = [None, Some("[user, mount, pid, net]"), Some("[user, mount, pid]")];
    let networks = [None, Some("none"), Some("host")];
    for ns in namespaces {
        for net in networks {
            let mut yaml = String::from("isolation:\n");
            if let Some(ns) = ns {
                yaml += &format!("  namespaces: {ns}\n");
            }
            if let Some(net) = net {
                yaml += &format!("  network: {net}\n");
            }
            let result = compile_text("t.yaml", &yaml, None, &CompileOptions::default());
            let refused = ns == Some("[user, mount, pid]") && net == Some("none");
            match result {
                Ok(c) if !refused => {
                    let iso = &c.policy.isolation;
                    let none = iso.network == NetworkMode::None;
                    assert_eq!(
                        none,
                        iso.own_network(),
                        "{yaml}: network {} but own network {}",
                        iso.network,
                        iso.own_network()
                    );
                    assert_eq!(
                        none,
                        net != Some("host") && ns != Some("[user, mount, pid]"),
                        "{yaml}: network {}",
                        iso.network
                    );
                }
                Ok(c) => panic!("{yaml}: accepted, network {}", c.policy.isolation.network),
                Err(e) if refused => {
                    let d = &e.diagnostics()[0];
                    assert_eq!((d.origin.line, d.origin.column), (3, 12), "{yaml}: {d}");
                    assert!(d.message.contains("`network: none` needs a network namespace"), "{d}");
                }
                Err(e) => panic!("{yaml}: {e}"),
            }
        }
    }
}

/// The rule holds over `extends` layers: the error points at the `network: none` in force,
/// in whichever file wrote it.
#[test]
fn network_none_is_checked_over_every_layer() {
    let dir = std::env::temp_dir().join(format!("palisade-network-layers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let parent = dir.join("parent.yaml");
    std::fs::write(&parent, "isolation:\n  network: none\n").unwrap();
    let child = "extends: parent.yaml\nisolation: { namespaces: [user, mount] }\n";
    let err = compile_text("child.yaml", child, Some(&dir), &CompileOptions::default()).unwrap_err();
    let d = &err.diagnostics()[0];
    let want = (parent.display().to_string(), 2, 12);
    assert_eq!((d.origin.file.clone(), d.origin.line, d.origin.column), want, "{d}");
    // The other way round: a layer (as `enforce run --network none` writes) over a parent
    // without `net`.
    std::fs::write(&parent, "isolation:\n  namespaces: [user, mount, pid]\n").unwrap();
    let child = "extends: parent.yaml\nisolation:\n  network: none\n";
    let err = compile_text("child.yaml", child, Some(&dir), &CompileOptions::default()).unwrap_err();
    let d = &err.diagnostics()[0];
    assert_eq!((d.origin.file.as_str(), d.origin.line, d.origin.column), ("child.yaml", 3, 12), "{d}");
    // A later `network: host` settles it.
    let child = "extends: parent.yaml\nisolation:\n  network: host\n";
    let c = compile_text("child.yaml", child, Some(&dir), &CompileOptions::default()).unwrap();
    assert_eq!(c.policy.isolation.network, NetworkMode::Host);
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    let _ = std::fs::remove_dir_all(&dir);
}
