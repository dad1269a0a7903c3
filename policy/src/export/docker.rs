//! `docker run` flags and the same as a compose service: capabilities, user, no_new_privs,
//! the seccomp profile (Docker JSON, by path), rlimits, and the isolation section's read-only
//! root, namespaces, network, hostname, mounts, limits and init.

use serde::Serialize;

use super::{landlock_loss, Exported, Loss, Options, Texts};
use crate::ir::{MountIr, Policy, UserIr};
use crate::vocab::{Namespace, NetworkMode, Resource, SecurebitsMode, TmpdirMode};

/// Where `docker` and `compose` look for the seccomp profile unless told.
pub const SECCOMP_FILE: &str = "docker-seccomp.json";

/// Docker's `--ulimit` names (it has no `as`).
fn ulimit_name(r: Resource) -> Option<&'static str> {
    (r != Resource::As).then(|| r.name())
}

/// What both forms hold.
#[derive(Default)]
struct Settings {
    cap_drop_all: bool,
    cap_add: Vec<String>,
    user: Option<String>,
    no_new_privs: bool,
    seccomp: String,
    ulimits: Vec<(String, i64, i64)>,
    read_only: bool,
    network: Option<&'static str>,
    ports: Vec<String>,
    host_namespaces: Vec<&'static str>,
    cgroupns_private: bool,
    hostname: Option<String>,
    binds: Vec<(String, String, bool)>,
    tmpfs: Vec<(String, bool, Option<u64>)>,
    memory: Option<u64>,
    pids: Option<u64>,
    cpus: Option<f64>,
    init: bool,
    env: Vec<(String, String)>,
    workdir: Option<String>,
}

fn settings(p: &Policy, t: &Texts, o: &Options, losses: &mut Vec<Loss>) -> Settings {
    let mut s = Settings::default();
    let granted = p.capabilities.granted;
    if granted != crate::vocab::caps::docker_default() {
        s.cap_drop_all = true;
        s.cap_add = granted.iter().map(|c| c.name().trim_start_matches("CAP_").to_string()).collect();
    }
    s.user = match p.process.user {
        UserIr::Id { uid: 0, gid: 0 } => None,
        UserIr::Id { uid, gid } => Some(format!("{uid}:{gid}")),
        UserIr::Caller => Some("$(id -u):$(id -g)".into()),
    };
    if !p.capabilities.ambient.is_empty() {
        losses.push(Loss {
            part: "capabilities.ambient".into(),
            at: t.at("capabilities", Some("ambient")),
            instead: format!(
                "Docker has no ambient capabilities: a non-root process starts without {}",
                p.capabilities.ambient.names().join(", ")
            ),
        });
    }
    if p.process.securebits.mode != SecurebitsMode::None {
        losses.push(Loss {
            part: "process.securebits".into(),
            at: t.at("process", Some("securebits")),
            instead: "Docker leaves the securebits as runc sets them".into(),
        });
    }
    if p.process.tmpdir == TmpdirMode::Private {
        losses.push(Loss {
            part: "process.tmpdir".into(),
            at: t.at("process", Some("tmpdir")),
            instead: "no private TMPDIR: the container's /tmp is the image's (add a --tmpfs /tmp)".into(),
        });
    }
    s.no_new_privs = p.process.no_new_privs;
    losses.extend(super::socketcall_loss(p, t));
    s.seccomp = o.seccomp_path.clone().unwrap_or_else(|| SECCOMP_FILE.to_string());
    for (r, l) in &p.process.rlimits {
        let value = |v: Option<u64>| v.map_or(-1, |v| i64::try_from(v).unwrap_or(-1));
        match ulimit_name(*r) {
            Some(name) => s.ulimits.push((name.to_string(), value(l.soft), value(l.hard))),
            None => losses.push(Loss {
                part: format!("process.rlimits.{}", r.name()),
                at: t.at("process", Some(r.name())),
                instead: "Docker has no --ulimit for it: the limit is the daemon's".into(),
            }),
        }
    }
    s.env = p.process.env.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    s.workdir = p.process.workdir.clone();
    if let Some(l) = landlock_loss(
        p,
        t,
        "Docker",
        &format!("run the container with palisade-runtime (`--runtime palisade`, registered with runtimeArgs [\"--profile\", \"{}\"])", o.profile),
    ) {
        losses.push(l);
    }
    let iso = &p.isolation;
    if !iso.enabled {
        return s;
    }
    // A Docker container writes a layer of its own over its image.
    s.read_only = iso.readonly_root(true);
    s.network = Some(match (iso.namespaces.contains(Namespace::Net), iso.network) {
        (true, NetworkMode::None) => "none",
        // Docker's default network: outbound connectivity, and `-p` reaches it.
        (true, NetworkMode::Private) => "bridge",
        _ => "host",
    });
    s.ports = iso.publish.iter().map(|p| p.to_string()).collect();
    for (ns, flag) in [(Namespace::Pid, "pid"), (Namespace::Ipc, "ipc"), (Namespace::Uts, "uts")] {
        if !iso.namespaces.contains(ns) {
            s.host_namespaces.push(flag);
        }
    }
    s.cgroupns_private = iso.namespaces.contains(Namespace::Cgroup);
    if iso.namespaces.contains(Namespace::User) {
        losses.push(Loss {
            part: "isolation.namespaces: user".into(),
            at: t.at("isolation", Some("namespaces")),
            instead: "Docker maps users for the whole daemon (dockerd --userns-remap), not per container"
                .into(),
        });
    }
    if iso.namespaces.contains(Namespace::Time) {
        losses.push(Loss {
            part: "isolation.namespaces: time".into(),
            at: t.at("isolation", Some("namespaces")),
            instead: "Docker has no time namespace: the container's clocks are the host's".into(),
        });
    }
    if iso.rootfs.is_some() {
        losses.push(Loss {
            part: "isolation.rootfs".into(),
            at: t.at("isolation", Some("rootfs")),
            instead: "the image is the root filesystem (docker import the directory to use it)".into(),
        });
    }
    let defaults = |list: &[String], docker: &[&str]| {
        list.len() == docker.len() && list.iter().all(|p| docker.contains(&p.as_str()))
    };
    if !defaults(&iso.masked_paths, &crate::ir::DEFAULT_MASKED_PATHS)
        || !defaults(&iso.readonly_paths, &crate::ir::DEFAULT_READONLY_PATHS)
    {
        losses.push(Loss {
            part: "isolation.masked_paths / readonly_paths".into(),
            at: t.at("isolation", Some("masked_paths")),
            instead: "Docker applies its own defaults, which no flag extends".into(),
        });
    }
    s.hostname = iso.hostname.clone();
    for m in &iso.mounts {
        match m {
            MountIr::Bind { source, target, readonly } => {
                s.binds.push((source.clone(), target.clone(), *readonly))
            }
            MountIr::Tmpfs { target, readonly, size } => s.tmpfs.push((target.clone(), *readonly, *size)),
        }
    }
    s.memory = iso.memory;
    s.pids = iso.pids;
    s.cpus = iso.cpu;
    s.init = iso.init;
    s
}

/// The `docker run` flags (shell words).
pub fn flags(p: &Policy, t: &Texts, o: &Options) -> (Vec<String>, Vec<Loss>) {
    let mut losses = Vec::new();
    let s = settings(p, t, o, &mut losses);
    let mut out: Vec<String> = Vec::new();
    let mut flag = |f: &str, v: String| {
        out.push(f.to_string());
        out.push(v);
    };
    if s.cap_drop_all {
        flag("--cap-drop", "ALL".into());
        for c in &s.cap_add {
            flag("--cap-add", c.clone());
        }
    }
    if let Some(u) = &s.user {
        flag("--user", u.clone());
    }
    if s.no_new_privs {
        flag("--security-opt", "no-new-privileges".into());
    }
    flag("--security-opt", format!("seccomp={}", s.seccomp));
    for (name, soft, hard) in &s.ulimits {
        flag("--ulimit", format!("{name}={soft}:{hard}"));
    }
    if let Some(n) = s.network {
        flag("--network", n.into());
    }
    for p in &s.ports {
        flag("--publish", p.clone());
    }
    for ns in &s.host_namespaces {
        flag(&format!("--{ns}"), "host".into());
    }
    if s.cgroupns_private {
        flag("--cgroupns", "private".into());
    }
    if let Some(h) = &s.hostname {
        flag("--hostname", h.clone());
    }
    for (source, target, ro) in &s.binds {
        let ro = if *ro { ",readonly" } else { "" };
        flag("--mount", format!("type=bind,source={source},target={target}{ro}"));
    }
    for (target, ro, size) in &s.tmpfs {
        let mut opts = vec![if *ro { "ro".to_string() } else { "rw".to_string() }];
        opts.extend(size.map(|n| format!("size={n}")));
        flag("--tmpfs", format!("{target}:{}", opts.join(",")));
    }
    if let Some(m) = s.memory {
        flag("--memory", format!("{m}b"));
    }
    if let Some(n) = s.pids {
        flag("--pids-limit", n.to_string());
    }
    if let Some(c) = s.cpus {
        flag("--cpus", c.to_string());
    }
    for (k, v) in &s.env {
        flag("--env", format!("{k}={v}"));
    }
    if let Some(w) = &s.workdir {
        flag("--workdir", w.clone());
    }
    if s.read_only {
        out.push("--read-only".into());
    }
    if s.init {
        out.push("--init".into());
    }
    (out, losses)
}

/// The flags as one shell line (words quoted where the shell would split or expand them,
/// except `$(id -u)`, which is meant to be expanded).
pub fn docker(p: &Policy, t: &Texts, o: &Options) -> Exported {
    let (flags, losses) = flags(p, t, o);
    let words: Vec<String> = flags.iter().map(|w| quote(w)).collect();
    Exported { text: format!("{}\n", words.join(" ")), losses }
}

fn quote(w: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_=:,./@%+".contains(c);
    if w.contains("$(id -") || w.chars().all(plain) {
        if w.contains(' ') {
            return format!("\"{w}\"");
        }
        return w.to_string();
    }
    format!("'{}'", w.replace('\'', "'\\''"))
}

/// A compose service (`services.app`), as YAML.
#[derive(Serialize, Default)]
struct Service {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    cap_drop: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    cap_add: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<String>,
    security_opt: Vec<String>,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    ulimits: std::collections::BTreeMap<String, Ulimit>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    read_only: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    network_mode: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    ports: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ipc: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    uts: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cgroup: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hostname: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    volumes: Vec<Volume>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tmpfs: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mem_limit: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pids_limit: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cpus: Option<f64>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    init: bool,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    environment: std::collections::BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    working_dir: Option<String>,
}

#[derive(Serialize)]
struct Ulimit {
    soft: i64,
    hard: i64,
}

#[derive(Serialize)]
struct Volume {
    #[serde(rename = "type")]
    kind: &'static str,
    source: String,
    target: String,
    read_only: bool,
}

#[derive(Serialize)]
struct Compose {
    services: std::collections::BTreeMap<String, Service>,
}

/// The compose file fragment: one service, `app`.
pub fn compose(p: &Policy, t: &Texts, o: &Options) -> Exported {
    let mut losses = Vec::new();
    let s = settings(p, t, o, &mut losses);
    let host = |on: bool| on.then(|| "host".to_string());
    let mut security_opt = Vec::new();
    if s.no_new_privs {
        security_opt.push("no-new-privileges:true".to_string());
    }
    security_opt.push(format!("seccomp:{}", s.seccomp));
    // Compose reads `$` as interpolation: a caller's ids cannot be computed there.
    let user = match s.user {
        Some(u) if u.contains("$(") => {
            losses.push(Loss {
                part: "process.user: caller".into(),
                at: t.at("process", Some("user")),
                instead: "a compose file cannot run `id`: the image's user runs the service (set user:)"
                    .into(),
            });
            None
        }
        other => other,
    };
    let service = Service {
        cap_drop: if s.cap_drop_all { vec!["ALL".into()] } else { vec![] },
        cap_add: s.cap_add,
        user,
        security_opt,
        ulimits: s.ulimits.into_iter().map(|(n, soft, hard)| (n, Ulimit { soft, hard })).collect(),
        read_only: s.read_only,
        network_mode: s.network.map(str::to_string),
        ports: s.ports,
        pid: host(s.host_namespaces.contains(&"pid")),
        ipc: host(s.host_namespaces.contains(&"ipc")),
        uts: host(s.host_namespaces.contains(&"uts")),
        cgroup: s.cgroupns_private.then(|| "private".to_string()),
        hostname: s.hostname,
        volumes: s
            .binds
            .into_iter()
            .map(|(source, target, read_only)| Volume { kind: "bind", source, target, read_only })
            .collect(),
        tmpfs: s
            .tmpfs
            .into_iter()
            .map(|(target, ro, size)| {
                let mut opts = vec![if ro { "ro".to_string() } else { "rw".to_string() }];
                opts.extend(size.map(|n| format!("size={n}")));
                format!("{target}:{}", opts.join(","))
            })
            .collect(),
        mem_limit: s.memory,
        pids_limit: s.pids,
        cpus: s.cpus,
        init: s.init,
        environment: s.env.into_iter().map(|(k, v)| (k, v.replace('$', "$$"))).collect(),
        working_dir: s.workdir,
    };
    let doc = Compose { services: [("app".to_string(), service)].into_iter().collect() };
    let text = serde_saphyr::to_string(&doc).unwrap_or_default();
    Exported { text, losses }
}
