//! A recording as a profile: the system calls seen, per arch, allowed (with what `enforce`
//! itself calls after the filter is in place), everything else refused with EPERM; a header
//! says what was run, and each rule how often and where its calls were first seen.

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

/// An address family by its `AF_*` name, else its number.
fn family(n: u64) -> String {
    policy::syscalls::consts::family_name(n).map_or_else(|| n.to_string(), str::to_string)
}

/// The profile's YAML. `name` names it; `command` is what was recorded.
pub fn profile(obs: &Observations, name: &str, command: &[String], native: &str) -> String {
    let mut out = String::new();
    let date = std::process::Command::new("date").arg("-u").arg("+%Y-%m-%dT%H:%M:%SZ").output();
    let date = date.ok().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()).unwrap_or_default();
    let shown = shell_words(command);
    out.push_str(&format!("# Learned by `enforce record` on {date} from: {shown}\n"));
    out.push_str(&format!("# Replay: enforce run --profile THIS_FILE -- {shown}\n"));
    if obs.interrupted {
        out.push_str("# Incomplete: the recording was interrupted (SIGINT or SIGTERM); what the command would have done after is not here.\n");
    }
    out.push_str(&format!("name: {name}\n"));
    out.push_str(&format!(
        "description: System calls {} made (recorded; seccomp only)\n",
        command.first().map(String::as_str).unwrap_or("the command")
    ));
    out.push_str("process:\n  user: caller\n  no_new_privs: true\n");
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
    let launcher: Vec<&str> = policy::syscalls::launcher::AFTER_FILTER.iter().map(|(n, _)| *n).collect();
    out.push_str("    # What enforce itself calls after the filter is in place, up to the exec.\n");
    out.push_str(&format!("    - allow: [{}]\n", launcher.join(", ")));
    for (arch, seen) in &obs.syscalls {
        let calls: u64 = seen.values().map(|s| s.calls).sum();
        // The recorder's own exec is not the command's.
        let me = std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_default();
        let mut firsts: Vec<&str> =
            seen.values().map(|s| s.first_in.as_str()).filter(|s| !s.is_empty() && *s != me).collect();
        firsts.sort();
        firsts.dedup();
        out.push_str(&format!(
            "    # {calls} calls of {} system calls on {arch}, first seen in {}\n",
            seen.len(),
            firsts.join(", ")
        ));
        let mut names: Vec<&str> = seen.keys().map(String::as_str).collect();
        // restrict_namespaces answers clone3 with ENOSYS (its flags are out of a filter's
        // reach): the C library then falls back to clone, which must be allowed.
        let fallback = !obs.namespaces && seen.contains_key("clone3") && !seen.contains_key("clone");
        if fallback {
            names.push("clone");
            names.sort();
        }
        out.push_str(&format!("    - allow: [{}]\n", names.join(", ")));
        if fallback {
            out.push_str("      # clone: the fallback for clone3, which restrict_namespaces refuses\n");
        }
        if arch != native {
            out.push_str(&format!("      when: {{ arches: [{arch}] }}\n"));
        }
    }
    // IP sockets: Landlock's TCP rules, to the ports bound and connected to.
    if obs.families.contains(&2) || obs.families.contains(&10) {
        let list =
            |s: &std::collections::BTreeSet<u16>| s.iter().map(u16::to_string).collect::<Vec<_>>().join(", ");
        out.push_str("landlock:\n  # The ports its IP sockets were bound and connected to.\n");
        out.push_str(&format!(
            "  network: {{ bind: [{}], connect: [{}] }}\n",
            list(&obs.bind_ports),
            list(&obs.connect_ports)
        ));
    }
    out
}
