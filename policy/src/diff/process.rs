//! The process (user, no_new_privs, securebits, rlimits) and the isolation section.

use super::{more_is_wider, Change, Class, Tier};
use crate::ir::{IsolationIr, MountIr, Policy, RlimitIr, TimeOffsets};
use crate::vocab::{Resource, TmpdirMode};

fn fmt_limit(v: Option<u64>) -> String {
    v.map_or_else(|| "unlimited".to_string(), |v| v.to_string())
}

/// `None` (unlimited, or not set) is the most permissive.
fn limit_class(old: Option<u64>, new: Option<u64>) -> Class {
    more_is_wider(old.unwrap_or(u64::MAX), new.unwrap_or(u64::MAX))
}

pub(super) fn process(old: &Policy, new: &Policy, out: &mut Vec<Change>) {
    let (o, n) = (&old.process, &new.process);
    let change = |class, subject: &str, message: String| Change::new(Tier::Process, class, subject, message);
    if o.user != n.user {
        // `caller` may be root, but with no capability at all (the compiler sees to that).
        let class = match (o.user.is_root(), n.user.is_root()) {
            (_, true) => Class::Widen,
            (true, _) => Class::Narrow,
            _ => Class::Neutral,
        };
        out.push(change(class, "user", format!("{} → {}", o.user, n.user)));
    }
    if o.tmpdir != n.tmpdir {
        // A private directory is writable where the shared one may not be, but nothing of
        // anyone else's is in it.
        let class = if n.tmpdir == TmpdirMode::Private { Class::Narrow } else { Class::Widen };
        out.push(change(class, "tmpdir", format!("{} → {}", o.tmpdir, n.tmpdir)));
    }
    // What the workload is told, not what it may do.
    if o.env != n.env {
        let names: std::collections::BTreeSet<&String> =
            o.env.keys().chain(n.env.keys()).filter(|k| o.env.get(*k) != n.env.get(*k)).collect();
        let names: Vec<&str> = names.into_iter().map(String::as_str).collect();
        out.push(change(Class::Neutral, "env", format!("changes {}", names.join(", "))));
    }
    if o.workdir != n.workdir {
        let show = |w: &Option<String>| w.clone().unwrap_or_else(|| "(default)".into());
        out.push(change(Class::Neutral, "workdir", format!("{} → {}", show(&o.workdir), show(&n.workdir))));
    }
    if o.no_new_privs != n.no_new_privs {
        let class = if n.no_new_privs { Class::Narrow } else { Class::Widen };
        out.push(change(class, "no_new_privs", format!("{} → {}", o.no_new_privs, n.no_new_privs)));
    }
    let dropped = (o.securebits.bits - n.securebits.bits).names();
    let added = (n.securebits.bits - o.securebits.bits).names();
    if !dropped.is_empty() {
        let names = dropped;
        // The bits keep root (and setuid-root programs) from regaining capabilities; a non-root
        // user under no_new_privs can get neither.
        let (class, why) = match !n.user.is_root() && n.no_new_privs {
            true => (Class::Neutral, format!(" (no effect for user {} under no_new_privs)", n.user)),
            false => (Class::Widen, String::new()),
        };
        out.push(change(class, "securebits", format!("no longer sets {}{why}", names.join(", "))));
    }
    if !added.is_empty() {
        let names = added;
        out.push(change(Class::Narrow, "securebits", format!("now sets {}", names.join(", "))));
    }
    // A limit the profile does not set is inherited: as permissive as unlimited, for all we know.
    let names: std::collections::BTreeSet<&Resource> = o.rlimits.keys().chain(n.rlimits.keys()).collect();
    for name in names {
        let (a, b) = (o.rlimits.get(name), n.rlimits.get(name));
        let part = |r: Option<&RlimitIr>, hard: bool| r.map(|r| if hard { r.hard } else { r.soft });
        let raises = |r: Option<&RlimitIr>| r.is_some_and(|r| r.raise);
        if raises(a) != raises(b) {
            let (class, m) = if raises(b) {
                (Class::Widen, "now raises the current hard limit when it is lower")
            } else {
                (Class::Narrow, "no longer raises the current hard limit")
            };
            out.push(change(class, &format!("rlimit {name}"), m.to_string()));
        }
        for (kind, hard) in [("soft", false), ("hard", true)] {
            let (x, y) = (part(a, hard), part(b, hard));
            if x != y {
                let show = |v: Option<Option<u64>>| v.map_or_else(|| "inherited".to_string(), fmt_limit);
                let m = format!("{kind} {} → {}", show(x), show(y));
                out.push(change(limit_class(x.flatten(), y.flatten()), &format!("rlimit {name}"), m));
            }
        }
    }
}

fn mount_text(m: &MountIr) -> String {
    let mode = if m.readonly() { "ro" } else { "rw" };
    match m {
        MountIr::Bind { source, target, .. } => format!("bind {source} → {target} ({mode})"),
        MountIr::Tmpfs { target, .. } => format!("tmpfs {target} ({mode})"),
    }
}

pub(super) fn isolation(old: &IsolationIr, new: &IsolationIr, out: &mut Vec<Change>) {
    let change =
        |class, subject: &str, message: String| Change::new(Tier::Isolation, class, subject, message);
    match (old.enabled, new.enabled) {
        (true, false) => {
            out.push(change(Class::Widen, "isolation", "removed: the workload runs on the host".into()));
            return;
        }
        (false, true) => {
            out.push(change(Class::Narrow, "isolation", "added: the workload runs in namespaces".into()));
        }
        (false, false) => return,
        (true, true) => {}
    }
    for ns in (old.namespaces - new.namespaces).iter() {
        out.push(change(
            Class::Widen,
            &format!("namespace {ns}"),
            "no longer created (the host's is shared)".into(),
        ));
    }
    for ns in (new.namespaces - old.namespaces).iter() {
        out.push(change(Class::Narrow, &format!("namespace {ns}"), "now created".into()));
    }
    if old.network != new.network {
        let class = if new.network.reach() > old.network.reach() { Class::Widen } else { Class::Narrow };
        out.push(change(class, "network", format!("{} → {}", old.network, new.network)));
    }
    for p in new.publish.iter().filter(|p| !old.publish.contains(p)) {
        out.push(change(Class::Widen, "published port", format!("{p} now published")));
    }
    for p in old.publish.iter().filter(|p| !new.publish.contains(p)) {
        out.push(change(Class::Narrow, "published port", format!("{p} no longer published")));
    }
    if old.readonly_rootfs != new.readonly_rootfs {
        let class = if new.readonly_rootfs { Class::Narrow } else { Class::Widen };
        let m = format!("read-only root {} → {}", old.readonly_rootfs, new.readonly_rootfs);
        out.push(change(class, "rootfs", m));
    }
    if old.rootfs != new.rootfs {
        let m = format!(
            "{} → {}",
            old.rootfs.as_deref().unwrap_or("host root"),
            new.rootfs.as_deref().unwrap_or("host root")
        );
        out.push(change(Class::Neutral, "rootfs", m));
    }
    if old.map_root_to != new.map_root_to {
        let show = |v: Option<u32>| v.map_or_else(|| "auto".to_string(), |v| v.to_string());
        out.push(change(
            Class::Neutral,
            "map_root_to",
            format!("{} → {}", show(old.map_root_to), show(new.map_root_to)),
        ));
    }
    if old.time_offsets != new.time_offsets {
        let show = |t: Option<TimeOffsets>| {
            t.map_or_else(
                || "none".to_string(),
                |t| format!("monotonic {}s, boottime {}s", t.monotonic, t.boottime),
            )
        };
        let m = format!("{} → {}", show(old.time_offsets), show(new.time_offsets));
        out.push(change(Class::Neutral, "time_offsets", m));
    }
    if old.hostname != new.hostname {
        let m = format!("{:?} → {:?}", old.hostname, new.hostname);
        out.push(change(Class::Neutral, "hostname", m));
    }
    for m in new.mounts.iter().filter(|m| !old.mounts.contains(m)) {
        // A bind mount exposes a host path; a writable one lets the workload change it.
        let class = if matches!(m, MountIr::Bind { .. }) { Class::Widen } else { Class::Neutral };
        out.push(change(class, &format!("mount {}", m.target()), format!("added: {}", mount_text(m))));
    }
    for m in old.mounts.iter().filter(|m| !new.mounts.contains(m)) {
        let class = if matches!(m, MountIr::Bind { .. }) { Class::Narrow } else { Class::Neutral };
        out.push(change(class, &format!("mount {}", m.target()), format!("removed: {}", mount_text(m))));
    }
    for (what, a, b) in [
        ("masked", &old.masked_paths, &new.masked_paths),
        ("read-only", &old.readonly_paths, &new.readonly_paths),
    ] {
        for p in a.iter().filter(|p| !b.contains(p)) {
            out.push(change(Class::Widen, p, format!("no longer {what}")));
        }
        for p in b.iter().filter(|p| !a.contains(p)) {
            out.push(change(Class::Narrow, p, format!("now {what}")));
        }
    }
    if old.init != new.init {
        out.push(change(Class::Neutral, "init", format!("{} → {}", old.init, new.init)));
    }
    for (what, a, b) in [("memory", old.memory, new.memory), ("pids", old.pids, new.pids)] {
        if a != b {
            out.push(change(
                limit_class(a, b),
                &format!("limit {what}"),
                format!("{} → {}", fmt_limit(a), fmt_limit(b)),
            ));
        }
    }
    if old.cpu != new.cpu {
        let (a, b) = (old.cpu.unwrap_or(f64::INFINITY), new.cpu.unwrap_or(f64::INFINITY));
        let show = |v: Option<f64>| v.map_or_else(|| "unlimited".to_string(), |v| v.to_string());
        out.push(change(more_is_wider(a, b), "limit cpu", format!("{} → {}", show(old.cpu), show(new.cpu))));
    }
    if old.log_max_size != new.log_max_size || old.log_max_files != new.log_max_files {
        let m = format!(
            "logs {} bytes × {} → {} bytes × {}",
            old.log_max_size, old.log_max_files, new.log_max_size, new.log_max_files
        );
        out.push(change(Class::Neutral, "logs", m));
    }
}
