//! A complete runtime-spec `config.json` that runc and crun run: the process (command, user,
//! the five capability sets, rlimits, no_new_privs), the root, namespaces and id maps, runc's
//! default mounts plus the profile's, masked and read-only paths, the hostname, cgroup limits
//! and `linux.seccomp` compiled for one arch.

use serde_json::{json, Value};

use super::{landlock_loss, Exported, Loss, Options, Texts};
use crate::error::Error;
use crate::ir::{MountIr, Policy, UserIr};
use crate::vocab::{Namespace, NetworkMode, SecurebitsMode, TmpdirMode};
use crate::Arch;

/// The user namespace's host range when the profile names none (`map_root_to`).
pub const DEFAULT_HOST_ID: u32 = 100_000;

/// The annotation palisade-runtime reads the profile from.
pub const PROFILE_ANNOTATION: &str = "org.palisade.profile";

fn namespace(ns: Namespace) -> &'static str {
    match ns {
        Namespace::Mount => "mount",
        Namespace::Pid => "pid",
        Namespace::Net => "network",
        Namespace::Ipc => "ipc",
        Namespace::Uts => "uts",
        Namespace::User => "user",
        Namespace::Cgroup => "cgroup",
        Namespace::Time => "time",
    }
}

/// runc's `spec` mounts (those a user namespace allows).
fn default_mounts(userns: bool) -> Vec<Value> {
    let mut m = vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc"}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
        json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]}),
        json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]}),
        json!({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]}),
    ];
    if !userns {
        m.push(json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}));
    }
    m
}

/// The config.json for `p` on `arch` (default: the profile's first native arch).
pub fn config(p: &Policy, t: &Texts, o: &Options, arch: Option<Arch>) -> Result<Exported, Error> {
    let mut losses = Vec::new();
    let iso = &p.isolation;
    let (uid, gid) = match p.process.user {
        UserIr::Id { uid, gid } => (uid, gid),
        UserIr::Caller => {
            losses.push(Loss {
                part: "process.user: caller".into(),
                at: t.at("process", Some("user")),
                instead: "config.json needs numbers: process.user is 0:0 (edit it to the caller's ids)"
                    .into(),
            });
            (0, 0)
        }
    };
    let caps = |set: crate::vocab::CapSet| -> Vec<&'static str> { set.iter().map(|c| c.name()).collect() };
    let c = &p.capabilities;
    let rlimits: Vec<Value> = p
        .process
        .rlimits
        .iter()
        .map(|(r, l)| {
            let v = |x: Option<u64>| x.unwrap_or(u64::MAX);
            json!({"type": format!("RLIMIT_{}", r.name().to_uppercase()), "soft": v(l.soft), "hard": v(l.hard)})
        })
        .collect();
    let mut env = vec!["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string()];
    env.extend(p.process.env.iter().map(|(k, v)| format!("{k}={v}")));
    let args: Vec<String> = if o.command.is_empty() { vec!["sh".into()] } else { o.command.clone() };
    if p.process.securebits.mode != SecurebitsMode::None {
        losses.push(Loss {
            part: "process.securebits".into(),
            at: t.at("process", Some("securebits")),
            instead: "config.json has no securebits: runc leaves them as they are".into(),
        });
    }
    if p.process.tmpdir == TmpdirMode::Private {
        losses.push(Loss {
            part: "process.tmpdir".into(),
            at: t.at("process", Some("tmpdir")),
            instead: "no private TMPDIR: the container's /tmp is the root filesystem's".into(),
        });
    }
    // Namespaces: the profile's when it has an isolation section, else runc's defaults.
    let mut set: Vec<Namespace> = if iso.enabled {
        iso.namespaces.iter().collect()
    } else {
        vec![Namespace::Pid, Namespace::Net, Namespace::Ipc, Namespace::Uts, Namespace::Mount]
    };
    if iso.enabled && iso.network == NetworkMode::Private {
        losses.push(Loss {
            part: "isolation.network: private".into(),
            at: t.at("isolation", Some("network")),
            instead: "config.json gives the container a network namespace with loopback only: runc starts no user-mode network and publishes no port (the engine above it does)".into(),
        });
    }
    if iso.enabled && iso.network == NetworkMode::Host {
        set.retain(|ns| *ns != Namespace::Net);
    }
    if !set.contains(&Namespace::Mount) {
        set.push(Namespace::Mount);
    }
    let userns = set.contains(&Namespace::User);
    let mut linux = json!({
        "namespaces": set.iter().map(|ns| json!({"type": namespace(*ns)})).collect::<Vec<_>>(),
        "maskedPaths": iso.masked_paths,
        "readonlyPaths": iso.readonly_paths,
        "resources": {"devices": [{"allow": false, "access": "rwm"}]},
    });
    if userns {
        let host = iso.map_root_to.unwrap_or(DEFAULT_HOST_ID);
        let map = json!([{"containerID": 0, "hostID": host, "size": 65536}]);
        linux["uidMappings"] = map.clone();
        linux["gidMappings"] = map;
    }
    if let Some(m) = iso.memory {
        linux["resources"]["memory"] = json!({"limit": m});
    }
    if let Some(n) = iso.pids {
        linux["resources"]["pids"] = json!({"limit": n});
    }
    if let Some(c) = iso.cpu {
        linux["resources"]["cpu"] = json!({"quota": (c * 100_000.0).round() as i64, "period": 100_000});
    }
    if let Some(off) = iso.time_offsets.filter(|_| set.contains(&Namespace::Time)) {
        linux["timeOffsets"] = json!({"monotonic": {"secs": off.monotonic, "nanosecs": 0}, "boottime": {"secs": off.boottime, "nanosecs": 0}});
    }
    let native = crate::backend::seccomp::oci::target_arch(p, arch)
        .ok_or_else(|| Error::Export { format: "oci-config", message: "the profile lists no arch".into() })?;
    let seccomp = crate::backend::seccomp::oci::to_oci(p, native, None)?;
    losses.extend(super::socketcall_loss(p, t));
    linux["seccomp"] = serde_json::to_value(&seccomp)
        .map_err(|e| Error::Export { format: "oci-config", message: e.to_string() })?;
    let mut mounts = default_mounts(userns);
    for m in &iso.mounts {
        mounts.push(match m {
            MountIr::Bind { source, target, readonly } => {
                let mut opts = vec!["rbind", "rprivate"];
                if *readonly {
                    opts.push("ro");
                }
                json!({"destination": target, "type": "bind", "source": source, "options": opts})
            }
            MountIr::Tmpfs { target, readonly, size } => {
                let mut opts = vec!["nosuid".to_string(), "nodev".to_string()];
                opts.extend(size.map(|n| format!("size={n}")));
                if *readonly {
                    opts.push("ro".into());
                }
                json!({"destination": target, "type": "tmpfs", "source": "tmpfs", "options": opts})
            }
        });
    }
    if iso.rootfs.is_some() {
        losses.push(Loss {
            part: "isolation.rootfs".into(),
            at: t.at("isolation", Some("rootfs")),
            instead: "root.path is the bundle's `rootfs` (copy or link the directory there)".into(),
        });
    }
    let mut annotations = serde_json::Map::new();
    if let Some(l) = landlock_loss(
        p,
        t,
        "runc and crun",
        &format!(
            "the config carries the annotation {PROFILE_ANNOTATION}={}, which palisade-runtime applies",
            o.profile
        ),
    ) {
        losses.push(l);
        annotations.insert(PROFILE_ANNOTATION.into(), json!(o.profile));
    }
    let mut config = json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": {"uid": uid, "gid": gid},
            "args": args,
            "env": env,
            "cwd": p.process.workdir.clone().unwrap_or_else(|| "/".into()),
            "capabilities": {
                "bounding": caps(c.bounding),
                "effective": caps(c.effective),
                "permitted": caps(c.permitted),
                "inheritable": caps(c.inheritable),
                "ambient": caps(c.ambient),
            },
            "rlimits": rlimits,
            "noNewPrivileges": p.process.no_new_privs,
        },
        "root": {"path": "rootfs", "readonly": iso.enabled && iso.readonly_rootfs},
        "mounts": mounts,
        "linux": linux,
    });
    if set.contains(&Namespace::Uts) {
        config["hostname"] = json!(iso.host_name());
    }
    if !annotations.is_empty() {
        config["annotations"] = Value::Object(annotations);
    }
    let text = serde_json::to_string_pretty(&config)
        .map_err(|e| Error::Export { format: "oci-config", message: e.to_string() })?
        + "\n";
    Ok(Exported { text, losses })
}
