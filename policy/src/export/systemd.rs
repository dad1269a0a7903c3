//! A systemd unit drop-in (`[Service]`): the process tier (user, capabilities, securebits,
//! no_new_privs, rlimits), the seccomp tier as `SystemCallFilter=` (which cannot compare
//! arguments: a call whose verdict depends on them gets the narrower of its verdicts, and the
//! loss report says which), address families and namespaces where the profile restricts them
//! by argument, Landlock's paths and ports as sandboxing directives, and the isolation
//! section's private network, tmp, read-only system, mounts and limits. A comment gives the
//! exact alternative: `ExecStart=` wrapped in `enforce run --profile`.

use std::collections::BTreeSet;

use super::{Exported, Loss, Options, Texts};
use crate::action::Action;
use crate::error::Error;
use crate::ir::{ArgOp, MountIr, Policy, UserIr};
use crate::vocab::{FsRight, Namespace, NamespaceSet, NetworkMode, SecurebitsMode, TmpdirMode};
use crate::Arch;

/// systemd's name of an arch (`SystemCallArchitectures=`).
fn arch_name(a: Arch) -> Option<&'static str> {
    Some(match a {
        Arch::X86_64 => "x86-64",
        Arch::X86 => "x86",
        Arch::X32 => "x32",
        Arch::Aarch64 => "arm64",
        Arch::Arm => "arm",
        Arch::Riscv64 => "riscv64",
        Arch::S390x => "s390x",
        Arch::S390 => "s390",
        Arch::Ppc64le => "ppc64-le",
        Arch::Ppc64 => "ppc64",
        Arch::Ppc => "ppc",
        Arch::Mips => "mips",
        Arch::Mipsel => "mips-le",
        Arch::Mips64 => "mips64",
        Arch::Mipsel64 => "mips64-le",
        Arch::Loongarch64 => "loongarch64",
        _ => return None,
    })
}

const NAMESPACE_CALLS: [&str; 4] = ["clone", "clone3", "unshare", "setns"];

/// A Landlock path with its variables as systemd specifiers (`%h` home, `%T` temporary
/// directory, `%t` runtime directory); `None` for `${CWD}` and `${env:NAME}`, which have none.
fn specifiers(path: &str) -> Option<String> {
    let mut out = path.replace('%', "%%");
    for (var, spec) in [("${HOME}", "%h"), ("${TMPDIR}", "%T"), ("${XDG_RUNTIME_DIR}", "%t")] {
        out = out.replace(var, spec);
    }
    (!out.contains("${")).then_some(out)
}

/// The drop-in for `p` (its seccomp part from the table of `arch`, default the first native
/// arch of the profile).
pub fn dropin(p: &Policy, t: &Texts, o: &Options, arch: Option<Arch>) -> Result<Exported, Error> {
    let mut losses = Vec::new();
    let mut lines: Vec<String> = vec!["[Service]".into()];
    let mut set = |k: &str, v: String| lines.push(format!("{k}={v}"));
    match p.process.user {
        UserIr::Id { uid: 0, .. } => {}
        UserIr::Id { uid, gid } => {
            set("User", uid.to_string());
            set("Group", gid.to_string());
        }
        UserIr::Caller => {}
    }
    let c = &p.capabilities;
    let names = |s: crate::vocab::CapSet| s.iter().map(|c| c.name()).collect::<Vec<_>>().join(" ");
    set("CapabilityBoundingSet", names(c.bounding));
    set("AmbientCapabilities", names(c.ambient));
    set("NoNewPrivileges", if p.process.no_new_privs { "yes" } else { "no" }.into());
    if p.process.securebits.mode == SecurebitsMode::Locked {
        set(
            "SecureBits",
            "noroot noroot-locked no-setuid-fixup no-setuid-fixup-locked keep-caps-locked".into(),
        );
    }
    for (r, l) in &p.process.rlimits {
        let v = |x: Option<u64>| x.map_or("infinity".to_string(), |n| n.to_string());
        set(&format!("Limit{}", r.name().to_uppercase()), format!("{}:{}", v(l.soft), v(l.hard)));
    }
    for (k, v) in &p.process.env {
        set("Environment", format!("\"{k}={v}\""));
    }
    if let Some(w) = &p.process.workdir {
        set("WorkingDirectory", w.clone());
    }
    if p.process.tmpdir == TmpdirMode::Private {
        set("PrivateTmp", "yes".into());
    }
    // seccomp.
    let s = &p.seccomp;
    let mut arches = Vec::new();
    for a in &s.arches {
        match arch_name(*a) {
            Some(n) => arches.push(n),
            None => losses.push(Loss {
                part: format!("seccomp.arches: {}", a.name()),
                at: t.at("seccomp", Some("arches")),
                instead: "systemd has no name for it: its calls are refused with the others".into(),
            }),
        }
    }
    if !arches.is_empty() {
        set("SystemCallArchitectures", arches.join(" "));
    }
    let native = crate::backend::seccomp::oci::target_arch(p, arch)
        .ok_or_else(|| Error::Export { format: "systemd", message: "the profile lists no arch".into() })?;
    let table = s.tables.get(native.name()).ok_or_else(|| Error::Export {
        format: "systemd",
        message: format!("no syscall table for {}", native.name()),
    })?;
    let deny_default = s.default_action != Action::Allow && s.default_action != Action::Log;
    let mut listed: Vec<String> = Vec::new();
    let mut families: Option<BTreeSet<&'static str>> = None;
    let mut restrict_namespaces = false;
    let arch32 = native.is_32bit();
    let allowed = |a: Action| matches!(a, Action::Allow | Action::Log);
    for (name, sc) in &table.syscalls {
        let mut verdict = allowed(sc.action);
        if !sc.conditional.is_empty() {
            let on_first = sc.conditional.iter().all(|c| c.args.iter().all(|a| a.index == 0));
            // Namespace flags only: every mask within the CLONE_NEW* bits.
            let ns_flags = on_first
                && sc.conditional.iter().all(|c| {
                    c.args.iter().all(|a| {
                        a.op == ArgOp::MaskedEq
                            && a.mask.is_some_and(|m| m & !NamespaceSet::all().clone_flags() == 0)
                    })
                });
            if on_first && (name == "socket" || name == "socketpair") {
                // The families the call allows, exactly: its verdict for each family number.
                let ok: BTreeSet<&'static str> = (1..64u64)
                    .filter(|f| allowed(sc.verdict(&[*f, 0, 0, 0, 0, 0], arch32)))
                    .filter_map(crate::syscalls::consts::family_name)
                    .collect();
                families = Some(match families {
                    Some(before) => before.intersection(&ok).copied().collect(),
                    None => ok,
                });
                verdict = true;
            } else if ns_flags
                && NAMESPACE_CALLS.contains(&name.as_str())
                && allowed(sc.verdict(&[0; 6], arch32))
            {
                restrict_namespaces = true;
                verdict = true;
            } else {
                // The narrower: denied when any verdict for it denies.
                let narrow = allowed(sc.action) && sc.conditional.iter().all(|c| allowed(c.action));
                let origin = sc.conditional.first().map(|c| c.origin.clone()).or_else(|| sc.origin.clone());
                losses.push(Loss {
                    part: format!("seccomp: {name} by its arguments"),
                    at: origin.unwrap_or_else(|| t.at("seccomp", None)),
                    instead: format!(
                        "SystemCallFilter= cannot compare arguments: {name} is {} for every argument",
                        if narrow { "allowed" } else { "denied" }
                    ),
                });
                verdict = narrow;
            }
        }
        match (deny_default, verdict, sc.action) {
            (true, true, _) => listed.push(name.clone()),
            (false, false, Action::Errno(e)) => listed.push(format!("{name}:{e}")),
            (false, false, a) => {
                listed.push(format!("{name}:{}", 1));
                losses.push(Loss {
                    part: format!("seccomp: {name} {a}"),
                    at: sc.origin.clone().unwrap_or_else(|| t.at("seccomp", None)),
                    instead: "a deny list returns an errno: EPERM instead".into(),
                });
            }
            _ => {}
        }
    }
    match families {
        Some(f) if f.is_empty() => set("RestrictAddressFamilies", "none".into()),
        Some(f) => set("RestrictAddressFamilies", f.into_iter().collect::<Vec<_>>().join(" ")),
        None => {}
    }
    if restrict_namespaces {
        losses.push(Loss {
            part: "seccomp: namespace flags of clone, clone3, unshare".into(),
            at: t.at("seccomp", Some("restrict_namespaces")),
            instead: "RestrictNamespaces=yes: no namespace may be made (narrower where the profile allowed some with a capability)".into(),
        });
        set("RestrictNamespaces", "yes".into());
    }
    if deny_default {
        set("SystemCallFilter", listed.join(" "));
        match s.default_action {
            Action::Errno(e) => set("SystemCallErrorNumber", e.to_string()),
            Action::KillProcess | Action::KillThread => {}
            other => losses.push(Loss {
                part: format!("seccomp.default {other}"),
                at: t.at("seccomp", Some("default")),
                instead: "systemd kills a process that makes a call not listed".into(),
            }),
        }
    } else if !listed.is_empty() {
        set("SystemCallFilter", format!("~{}", listed.join(" ")));
    }
    // Landlock.
    let l = &p.landlock;
    if l.restrict_fs {
        let (mut rw, mut ro, mut exec) = (Vec::new(), Vec::new(), Vec::new());
        for r in &l.filesystem {
            // Path variables as systemd's specifiers; the working directory has none.
            let Some(path) = specifiers(&r.path) else {
                losses.push(Loss {
                    part: format!("landlock path {}", r.path),
                    at: r.origins.first().cloned().unwrap_or_else(|| t.at("landlock", Some("filesystem"))),
                    instead: "systemd has no specifier for it: the rule is left out".into(),
                });
                continue;
            };
            let writes = [FsRight::WRITE_FILE, FsRight::MAKE_REG, FsRight::REMOVE_FILE]
                .iter()
                .any(|f| r.access.contains(*f));
            if writes {
                rw.push(format!("-{path}"));
            } else {
                ro.push(format!("-{path}"));
            }
            if r.access.contains(FsRight::EXECUTE) {
                exec.push(format!("-{path}"));
            }
        }
        set("ProtectSystem", "strict".into());
        if !ro.is_empty() {
            set("ReadOnlyPaths", ro.join(" "));
        }
        if !rw.is_empty() {
            set("ReadWritePaths", rw.join(" "));
        }
        if !exec.is_empty() {
            set("NoExecPaths", "/".into());
            set("ExecPaths", exec.join(" "));
        }
        losses.push(Loss {
            part: "landlock.filesystem".into(),
            at: t.at("landlock", Some("filesystem")),
            instead: "reads outside the listed paths stay allowed (systemd has no default-deny for paths); writes only beneath ReadWritePaths= and the API file systems".into(),
        });
    }
    if let Some(n) = &l.network {
        let mut binds: Vec<String> = n.bind.iter().map(|p| format!("tcp:{p}")).collect();
        binds.sort();
        for b in binds {
            set("SocketBindAllow", b);
        }
        set("SocketBindDeny", "any".into());
        losses.push(Loss {
            part: "landlock.network.connect".into(),
            at: t.at("landlock", Some("network")),
            instead: "systemd cannot restrict TCP connects by port: connects stay allowed".into(),
        });
    }
    if !l.scopes.is_empty() {
        losses.push(Loss {
            part: "landlock.scope".into(),
            at: t.at("landlock", Some("scope")),
            instead: "systemd has no Landlock scopes: abstract sockets and signals stay reachable".into(),
        });
    }
    // Isolation.
    let iso = &p.isolation;
    if iso.enabled {
        if iso.network == NetworkMode::None && iso.namespaces.contains(Namespace::Net) {
            set("PrivateNetwork", "yes".into());
        }
        if iso.network == NetworkMode::Private {
            losses.push(Loss {
                part: "isolation.network: private".into(),
                at: t.at("isolation", Some("network")),
                instead: "systemd has no user-mode network: the unit shares the host's network, and ports are the host's".into(),
            });
        }
        if iso.namespaces.contains(Namespace::User) {
            set("PrivateUsers", "yes".into());
        }
        if iso.namespaces.contains(Namespace::Ipc) {
            set("PrivateIPC", "yes".into());
        }
        if iso.namespaces.contains(Namespace::Uts) {
            set("ProtectHostname", "yes".into());
        }
        if iso.readonly_rootfs && !l.restrict_fs {
            set("ProtectSystem", "strict".into());
        }
        for m in &iso.mounts {
            match m {
                MountIr::Bind { source, target, readonly: true } => {
                    set("BindReadOnlyPaths", format!("{source}:{target}"))
                }
                MountIr::Bind { source, target, readonly: false } => {
                    set("BindPaths", format!("{source}:{target}"))
                }
                MountIr::Tmpfs { target, readonly, size } => {
                    let mut opts = vec![if *readonly { "ro".to_string() } else { "rw".to_string() }];
                    opts.extend(size.map(|n| format!("size={n}")));
                    set("TemporaryFileSystem", format!("{target}:{}", opts.join(",")));
                }
            }
        }
        if let Some(m) = iso.memory {
            set("MemoryMax", m.to_string());
        }
        if let Some(n) = iso.pids {
            set("TasksMax", n.to_string());
        }
        if let Some(c) = iso.cpu {
            set("CPUQuota", format!("{}%", (c * 100.0).round() as u64));
        }
        for (ns, what) in [
            (Namespace::Pid, "a pid namespace"),
            (Namespace::Time, "a time namespace"),
            (Namespace::Cgroup, "a cgroup namespace"),
        ] {
            if iso.namespaces.contains(ns) {
                losses.push(Loss {
                    part: format!("isolation.namespaces: {}", ns.proc_name()),
                    at: t.at("isolation", Some("namespaces")),
                    instead: format!("a service has no {what} of its own"),
                });
            }
        }
        if iso.hostname.is_some() {
            losses.push(Loss {
                part: "isolation.hostname".into(),
                at: t.at("isolation", Some("hostname")),
                instead: "a service keeps the host's name (ProtectHostname= only stops changes)".into(),
            });
        }
        if iso.rootfs.is_some() {
            set("RootDirectory", iso.rootfs.clone().unwrap_or_default());
        }
    }
    let command = if o.command.is_empty() { "COMMAND".to_string() } else { o.command.join(" ") };
    lines.push(String::new());
    lines.push("# The exact policy, every tier, instead of the directives above:".into());
    lines.push("# ExecStart=".into());
    lines.push(format!("# ExecStart=/usr/local/bin/enforce run --profile {} -- {command}", o.profile));
    Ok(Exported { text: lines.join("\n") + "\n", losses })
}
