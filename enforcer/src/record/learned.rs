//! A recording as a profile: the system calls seen, per arch, allowed (with what `enforce`
//! itself calls after the filter is in place), everything else refused with EPERM; a header
//! says what was run, and each rule how often and where its calls were first seen.

use super::collapse::Collapse;
use super::Observations;

/// `argv` as a shell would take it back (words with spaces or quotes single-quoted).
fn shell_words(argv: &[String]) -> String {
    let plain =
        |w: &str| !w.is_empty() && w.chars().all(|c| c.is_ascii_alphanumeric() || "-_=:,./@%+".contains(c));
    let words: Vec<String> = argv
        .iter()
        .map(|w| {
            if plain(w) {
                w.clone()
            } else if w.contains(['\n', '\r']) {
                // One comment line: ANSI-C quoting, as bash reads it.
                let e =
                    w.replace('\\', "\\\\").replace('\'', "\\'").replace('\n', "\\n").replace('\r', "\\r");
                format!("$'{e}'")
            } else {
                format!("'{}'", w.replace('\'', "'\\''"))
            }
        })
        .collect();
    words.join(" ")
}

/// Text the workload chose (a file name, a path) for a `#` comment: control characters
/// escaped, so that it cannot end the comment and write a rule.
fn said(s: &str) -> String {
    s.chars()
        .flat_map(|c| match c.is_control() {
            true => c.escape_default().collect::<Vec<_>>(),
            false => vec![c],
        })
        .collect()
}

/// Text as a YAML scalar: plain when it is only safe characters, else double-quoted with every
/// special character escaped.
fn yaml_scalar(p: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "/._-+@%=~".contains(c);
    if !p.is_empty() && p.chars().all(safe) && !p.starts_with('-') {
        return p.to_string();
    }
    let mut out = String::from("\"");
    for c in p.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// An address family by its `AF_*` name, else its number.
fn family(n: u64) -> String {
    policy::syscalls::consts::family_name(n).map_or_else(|| n.to_string(), str::to_string)
}

/// What the profile is written from besides the observations.
#[derive(Clone, Debug)]
pub struct Learn<'a> {
    /// The profile's name.
    pub name: &'a str,
    /// The command recorded.
    pub command: &'a [String],
    /// This kernel's arch (the seccomp `arches` list starts with it).
    pub native: &'a str,
    /// How the paths are gathered into Landlock rules.
    pub collapse: Collapse,
    /// The base profile it was recorded under (`--profile BASE`).
    pub base: Option<&'a super::base::Base>,
    /// The process settings it ran with, kept (a base's, or a container's); `None`: the
    /// caller's.
    pub process: Option<&'a policy::ir::ProcessIr>,
    /// Where the recording's root is now: `/` for a host run, a container's root directory
    /// (`None`: gone).
    pub root: Option<&'a std::path::Path>,
    /// Recorded in a container with a PID-1 shim, which runs under the profile too.
    pub shim: bool,
}

/// Calls allowed only with the argument values seen (the argument the built-ins filter).
const BY_VALUE: [&str; 5] = ["personality", "prctl", "ioctl", "socket", "socketpair"];

/// The profile's YAML.
pub fn profile(obs: &Observations, how: &Learn) -> String {
    let mut out = String::new();
    let date = std::process::Command::new("date").arg("-u").arg("+%Y-%m-%dT%H:%M:%SZ").output();
    let date = date.ok().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()).unwrap_or_default();
    let shown = shell_words(how.command);
    out.push_str(&format!("# Learned by `enforce record` on {date} from: {shown}\n"));
    out.push_str(&format!("# Replay: enforce run --profile THIS_FILE -- {shown}\n"));
    if obs.interrupted {
        out.push_str("# Incomplete: the recording was interrupted (SIGINT or SIGTERM); what the command would have done after is not here.\n");
    }
    if obs.syscalls.values().any(|m| m.contains_key("io_uring_setup")) {
        out.push_str("# Warning: it set up io_uring; what it did through io_uring (reads, writes, opens) was not seen and is not here.\n");
    }
    for p in &obs.setid_execs {
        out.push_str(&format!(
            "# Warning: it executed {}, which is set-user-ID or set-group-ID; {}\n",
            said(p),
            if obs.no_new_privs {
                "it ran without that privilege (no_new_privs), and so does a replay."
            } else {
                "what it did with that privilege is learned only as far as the calls show."
            }
        ));
    }
    if let Some(b) = how.base {
        out.push_str(&format!(
            "# Recorded under {}: never wider than it (its process settings are kept; only what it let through was learned).\n",
            b.name
        ));
        for (what, why) in &obs.denied {
            out.push_str(&format!(
                "# Refused by {}, not learned: {}: {}\n",
                said(&b.name),
                said(what),
                said(why)
            ));
        }
    }
    out.push_str(&format!("name: {}\n", yaml_scalar(how.name)));
    let what = how.command.first().map(String::as_str).unwrap_or("the command");
    let description = format!("What {what} did, recorded (system calls, paths, ports, capabilities)");
    out.push_str(&format!("description: {}\n", yaml_scalar(&description)));
    match how.process {
        Some(p) => process_of(p, &mut out),
        None => {
            // Capabilities are granted to a named user only (`caller` keeps whatever it has).
            let user = if obs.caps.is_empty() {
                "caller".to_string()
            } else {
                format!("\"{}:{}\"", nix::unistd::getuid(), nix::unistd::getgid())
            };
            out.push_str(&format!("process:\n  user: {user}\n  no_new_privs: true\n"));
        }
    }
    capabilities(obs, &mut out);
    seccomp(obs, how, &mut out);
    landlock(obs, how, &mut out);
    out
}

/// The base profile's process section (with no_new_privs), written back.
fn process_of(p: &policy::ir::ProcessIr, out: &mut String) {
    let quote = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
    let user = match p.user {
        policy::ir::UserIr::Id { uid, gid } => format!("\"{uid}:{gid}\""),
        policy::ir::UserIr::Caller => "caller".into(),
    };
    out.push_str(&format!("process:\n  user: {user}\n  no_new_privs: true\n"));
    out.push_str(&format!("  securebits: {}\n", p.securebits.mode.name()));
    if !p.tmpdir.is_inherit() {
        out.push_str(&format!("  tmpdir: {}\n", p.tmpdir.name()));
    }
    if let Some(w) = &p.workdir {
        out.push_str(&format!("  workdir: {}\n", quote(w)));
    }
    if !p.env.is_empty() {
        out.push_str("  env:\n");
        for (k, v) in &p.env {
            out.push_str(&format!("    {k}: {}\n", quote(v)));
        }
    }
    if !p.rlimits.is_empty() {
        out.push_str("  rlimits:\n");
        let n = |v: Option<u64>| v.map_or_else(|| "unlimited".to_string(), |v| v.to_string());
        for (r, l) in &p.rlimits {
            let raise = if l.raise { ", raise: true" } else { "" };
            out.push_str(&format!(
                "    {}: {{ soft: {}, hard: {}{raise} }}\n",
                r.name(),
                n(l.soft),
                n(l.hard)
            ));
        }
    }
}

/// `capabilities`: none but those inferred.
fn capabilities(obs: &Observations, out: &mut String) {
    out.push_str("capabilities:\n");
    if obs.caps.is_empty() {
        out.push_str("  # No call was seen that would use a capability.\n  drop: [ALL]\n");
        return;
    }
    out.push_str("  # Inferred from what the calls did (the kernel does not say which capability let a call through):\n");
    for (cap, why) in &obs.caps {
        out.push_str(&format!("  #   {cap}: {}\n", said(why)));
    }
    let names: Vec<&str> = obs.caps.keys().map(|c| c.trim_start_matches("CAP_")).collect();
    out.push_str(&format!("  drop: [ALL]\n  add: [{}]\n", names.join(", ")));
}

fn seccomp(obs: &Observations, how: &Learn, out: &mut String) {
    let native = how.native;
    let mut arches: Vec<&str> = vec![native];
    arches.extend(obs.syscalls.keys().map(String::as_str).filter(|a| *a != native));
    out.push_str(&format!("seccomp:\n  default: errno(EPERM)\n  arches: [{}]\n", arches.join(", ")));
    if !obs.namespaces {
        out.push_str("  # No namespace was made or joined.\n  restrict_namespaces: true\n");
    }
    if !obs.families.is_empty() {
        let names: Vec<String> = obs.families.iter().map(|f| family(*f)).collect();
        out.push_str(&format!(
            "  # The address families its sockets used.\n  restrict_address_families: [{}]\n",
            names.join(", ")
        ));
    }
    out.push_str("  rules:\n");
    let launcher: Vec<&str> = policy::syscalls::launcher::AFTER_FILTER
        .iter()
        .map(|(n, _)| *n)
        .filter(|n| !BY_VALUE.contains(n))
        .collect();
    out.push_str("    # What enforce itself calls after the filter is in place, up to the exec.\n");
    out.push_str(&format!("    - allow: [{}]\n", launcher.join(", ")));
    if how.shim {
        // Under a base, only what the base lets the shim do (it runs under the base's filter).
        let arch = policy::syscalls::arch::ALL_ARCHES.into_iter().find(|a| a.name() == native);
        let let_through = |(n, args): &(&str, [u64; 6])| {
            how.base.is_none_or(|b| arch.is_some_and(|a| b.permits(a, n, *args)))
        };
        let mut shim: Vec<&str> = policy::syscalls::launcher::SHIM
            .iter()
            .filter(|c| let_through(c))
            .map(|(n, _)| *n)
            .filter(|n| !BY_VALUE.contains(n))
            .collect();
        shim.dedup();
        out.push_str(
            "    # What the container's PID-1 shim calls under the profile (it confines itself too).\n",
        );
        out.push_str(&format!("    - allow: [{}]\n", shim.join(", ")));
    }
    // The recorder's own exec is not the command's.
    let me = std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_default();
    let fallback = !obs.namespaces && obs.clone_flags.is_some();
    for (arch, seen) in &obs.syscalls {
        let calls: u64 = seen.values().map(|s| s.calls).sum();
        let mut firsts: Vec<&str> =
            seen.values().map(|s| s.first_in.as_str()).filter(|s| !s.is_empty() && *s != me).collect();
        firsts.sort();
        firsts.dedup();
        out.push_str(&format!(
            "    # {calls} calls of {} system calls on {arch}, first seen in {}\n",
            seen.len(),
            said(&firsts.join(", "))
        ));
        let names: Vec<&str> =
            seen.keys().map(String::as_str).filter(|n| !BY_VALUE.contains(n) && *n != "clone").collect();
        if arch != native {
            // `when.arches` names the host, not a call's ABI: the language has no rule for one
            // ABI only, so these names are allowed on every arch the profile lists.
            out.push_str(&format!(
                "    # (calls of the {arch} ABI: allowed on every arch listed above, as a rule cannot name one ABI)\n"
            ));
        }
        out.push_str(&format!("    - allow: [{}]\n", names.join(", ")));
    }
    by_value(obs, how.shim, out);
    if let Some(flags) =
        obs.clone_flags.filter(|_| fallback || obs.syscalls.values().any(|s| s.contains_key("clone")))
    {
        out.push_str(&format!("    # clone with the flags seen ({}), any exit signal", clone_names(flags)));
        if !obs.syscalls.values().any(|s| s.contains_key("clone")) {
            // restrict_namespaces answers clone3 with ENOSYS (its flags are out of a filter's
            // reach): the C library then falls back to clone.
            out.push_str("; the fallback for clone3, which restrict_namespaces refuses");
        }
        let s390 = native.starts_with("s390");
        out.push_str(&format!(
            "\n    - allow: [clone]\n      args: [{{ index: {}, op: masked_eq, mask: {:#x}, value: 0 }}]\n",
            usize::from(s390),
            !flags & 0xffff_ff00
        ));
    }
}

/// The calls of [`BY_VALUE`] seen, each allowed with the values seen only.
fn by_value(obs: &Observations, shim: bool, out: &mut String) {
    for name in BY_VALUE {
        let mut values = obs.values.get(name).cloned().unwrap_or_default();
        // enforce asks for its securebits after the filter is in place.
        let launcher = policy::syscalls::launcher::AFTER_FILTER.iter().filter(|(n, _)| *n == name);
        values.extend(launcher.map(|(_, a)| a[0]));
        if shim {
            let calls = policy::syscalls::launcher::SHIM.iter().filter(|(n, _)| *n == name);
            values.extend(calls.map(|(_, a)| a[0]));
        }
        if values.is_empty() {
            continue;
        }
        let list = |vs: &std::collections::BTreeSet<u64>| {
            vs.iter().map(|v| format!("{v:#x}")).collect::<Vec<_>>().join(", ")
        };
        match name {
            "socket" | "socketpair" => {
                out.push_str(&format!("    # {name} of the types seen\n"));
                for t in &values {
                    out.push_str(&format!(
                        "    - allow: [{name}]\n      args: [{{ index: 1, op: masked_eq, mask: 0xf, value: {t} }}]\n"
                    ));
                }
            }
            _ => {
                let index = if name == "ioctl" { 1 } else { 0 };
                out.push_str(&format!(
                    "    # {name} with the {} seen\n    - allow: [{name}]\n      args: [{{ index: {index}, op: in, values: [{}] }}]\n",
                    match name {
                        "ioctl" => "requests",
                        "prctl" => "options",
                        _ => "personas",
                    },
                    list(&values)
                ));
            }
        }
    }
}

/// `CLONE_VM|CLONE_FS|...` for the flags set in `flags`.
fn clone_names(flags: u64) -> String {
    let names: Vec<&str> = CLONE_FLAGS.iter().filter(|(_, bit)| flags & bit != 0).map(|(n, _)| *n).collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join("|")
    }
}

const CLONE_FLAGS: [(&str, u64); 24] = [
    ("CLONE_VM", 0x100),
    ("CLONE_FS", 0x200),
    ("CLONE_FILES", 0x400),
    ("CLONE_SIGHAND", 0x800),
    ("CLONE_PIDFD", 0x1000),
    ("CLONE_PTRACE", 0x2000),
    ("CLONE_VFORK", 0x4000),
    ("CLONE_PARENT", 0x8000),
    ("CLONE_THREAD", 0x10000),
    ("CLONE_NEWNS", 0x20000),
    ("CLONE_SYSVSEM", 0x40000),
    ("CLONE_SETTLS", 0x80000),
    ("CLONE_PARENT_SETTID", 0x100000),
    ("CLONE_CHILD_CLEARTID", 0x200000),
    ("CLONE_DETACHED", 0x400000),
    ("CLONE_UNTRACED", 0x800000),
    ("CLONE_CHILD_SETTID", 0x1000000),
    ("CLONE_NEWCGROUP", 0x2000000),
    ("CLONE_NEWUTS", 0x4000000),
    ("CLONE_NEWIPC", 0x8000000),
    ("CLONE_NEWUSER", 0x10000000),
    ("CLONE_NEWPID", 0x20000000),
    ("CLONE_NEWNET", 0x40000000),
    ("CLONE_IO", 0x80000000),
];

/// `landlock`: the paths, gathered, and the TCP ports when IP sockets were used (or the base
/// restricts them); a base's lowest ABI and scopes are kept.
fn landlock(obs: &Observations, learn: &Learn, out: &mut String) {
    let (collapse, base) = (learn.collapse, learn.base.and_then(|b| b.landlock.as_ref()));
    let ip = obs.families.contains(&2) || obs.families.contains(&10) || base.is_some_and(|b| b.2);
    if obs.files.is_empty() && !ip {
        return;
    }
    out.push_str("landlock:\n  mode: enforce\n");
    if let Some((abi, scopes, _)) = base {
        out.push_str(&format!("  min_abi: {abi}\n"));
        if !scopes.is_empty() {
            out.push_str(&format!("  scope: [{}]\n", scopes.join(", ")));
        }
    }
    let clip = learn.base.map(|b| move |p: &str, a: policy::vocab::FsAccess| b.refused_at(p, a));
    let refused = clip.as_ref().map(|f| f as &super::collapse::Refused);
    let seen = super::collapse::Seen {
        files: &obs.files,
        dirs: &obs.dirs,
        made: &obs.made,
        root: learn.root,
        refused,
    };
    let rules = super::collapse::rules(&seen, &obs.vars, collapse);
    let how = match collapse {
        Collapse::None => "as seen",
        Collapse::Dir => "per directory",
        Collapse::Tree => {
            "per directory, system trees and the working, home and temporary directories at their roots"
        }
    };
    out.push_str(&format!("  # {} paths seen, gathered {how}.\n  filesystem:\n", obs.files.len()));
    for r in &rules {
        let path = yaml_scalar(&r.path);
        let seen = if r.paths > 1 { format!("  # {} paths", r.paths) } else { String::new() };
        out.push_str(&format!("    - {{ path: {path}, access: [{}] }}{seen}\n", r.access.names().join(", ")));
    }
    // IP sockets: Landlock's TCP rules, to the ports bound and connected to.
    if ip {
        let list =
            |s: &std::collections::BTreeSet<u16>| s.iter().map(u16::to_string).collect::<Vec<_>>().join(", ");
        out.push_str("  # The ports its IP sockets were bound and connected to.\n");
        out.push_str(&format!(
            "  network: {{ bind: [{}], connect: [{}] }}\n",
            list(&obs.bind_ports),
            list(&obs.connect_ports)
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Seen;
    use policy::vocab::FsRight;

    /// What the workload names (an executable, a path) cannot write rules into the profile.
    #[test]
    fn names_the_workload_chose_stay_in_their_comments_and_strings() {
        let evil = "/tmp/x\n    - allow: [mount]\n#";
        let mut obs = Observations::default();
        let seen = Seen { calls: 1, first_in: evil.to_string() };
        obs.syscalls.insert("x86_64".into(), [("read".to_string(), seen)].into());
        obs.setid_execs.insert(evil.to_string());
        let odd = "/srv/a, b: {c}\n\"d\"".to_string();
        obs.files.insert(odd.clone(), [FsRight::READ_FILE].into_iter().collect());
        let command = vec!["sh".to_string(), "-c".to_string(), "x\ny".to_string()];
        let how = Learn {
            name: "n: m",
            command: &command,
            native: "x86_64",
            collapse: Collapse::None,
            base: None,
            process: None,
            root: None,
            shim: false,
        };
        let text = profile(&obs, &how);
        let compiled = policy::compile_text("l.yaml", &text, None, &policy::CompileOptions::default())
            .unwrap_or_else(|e| panic!("{e}\n{text}"));
        let p = compiled.policy;
        let eval = p.evaluate_name(policy::Arch::X86_64, "mount", [0; 6]).unwrap();
        assert!(!eval.action.permits(), "{text}");
        assert_eq!(p.landlock.filesystem.iter().map(|r| r.path.as_str()).collect::<Vec<_>>(), [odd.as_str()]);
        assert_eq!(p.name, "n: m");
    }
}
