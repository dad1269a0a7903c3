//! Kubernetes objects: a Security Profiles Operator `SeccompProfile` (the seccomp tier, which
//! the operator installs on every node), a Pod whose pod- and container-level
//! `securityContext` carry the rest (capabilities, no_new_privs, ids, a read-only root, the
//! seccomp profile by its node path), and with `--runtime-class` a `RuntimeClass` that selects
//! palisade-runtime plus the pod annotation that hands it the profile, so Landlock reaches the
//! pod.

use serde_json::{json, Value};

use super::{landlock_loss, Exported, Loss, Options, Texts};
use crate::error::Error;
use crate::ir::{MountIr, Policy, UserIr};
use crate::vocab::{Namespace, NetworkMode, SecurebitsMode, TmpdirMode};
use crate::Arch;

/// The annotation palisade-runtime reads the profile from (CRI passes pod annotations on).
pub const PROFILE_ANNOTATION: &str = super::oci::PROFILE_ANNOTATION;

/// A Kubernetes object name from the profile's name (lowercase letters, digits, `-`).
fn object_name(name: &str) -> String {
    let s: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    let s = s.trim_matches('-').to_string();
    if s.is_empty() {
        "palisade".into()
    } else {
        s
    }
}

/// The `SeccompProfile` spec: the OCI seccomp section, in the CRD's shape (it has no
/// `defaultErrnoRet`, and argument values are int64).
fn seccomp_spec(p: &Policy, t: &Texts, arch: Option<Arch>, losses: &mut Vec<Loss>) -> Result<Value, Error> {
    let bad = |message: String| Error::Export { format: "k8s", message };
    let native = crate::backend::seccomp::oci::target_arch(p, arch)
        .ok_or_else(|| bad("the profile lists no arch".into()))?;
    let oci = crate::backend::seccomp::oci::to_oci(p, native, None)?;
    losses.extend(super::socketcall_loss(p, t));
    let mut v = serde_json::to_value(&oci).map_err(|e| bad(e.to_string()))?;
    let Some(spec) = v.as_object_mut() else {
        return Err(bad("the seccomp section is not an object".into()));
    };
    if let Some(errno) = spec.remove("defaultErrnoRet").and_then(|e| e.as_u64()).filter(|e| *e != 1) {
        losses.push(Loss {
            part: format!("seccomp.default errno {errno}"),
            at: t.at("seccomp", Some("default")),
            instead: "the SeccompProfile CRD has no defaultErrnoRet: the default action returns EPERM".into(),
        });
    }
    for key in ["flags", "listenerPath", "listenerMetadata"] {
        spec.remove(key);
    }
    for rule in spec.get_mut("syscalls").and_then(Value::as_array_mut).into_iter().flatten() {
        for arg in rule.get_mut("args").and_then(Value::as_array_mut).into_iter().flatten() {
            for key in ["value", "valueTwo"] {
                if arg.get(key).and_then(Value::as_u64).is_some_and(|x| x > i64::MAX as u64) {
                    return Err(bad(format!(
                        "an argument value above 2^63 ({}) does not fit the CRD's int64",
                        arg[key]
                    )));
                }
            }
        }
    }
    Ok(v)
}

/// The objects, as YAML documents.
pub fn objects(p: &Policy, t: &Texts, o: &Options, arch: Option<Arch>) -> Result<Exported, Error> {
    let mut losses = Vec::new();
    let name = object_name(&p.name);
    let spec = seccomp_spec(p, t, arch, &mut losses)?;
    let profile = json!({
        "apiVersion": "security-profiles-operator.x-k8s.io/v1beta1",
        "kind": "SeccompProfile",
        "metadata": {"name": name},
        "spec": spec,
    });
    let docker_default = crate::compile("builtin:docker-default", &crate::CompileOptions::default())
        .ok()
        .and_then(|d| crate::backend::seccomp::docker::to_docker(&d.policy).ok())
        .and_then(|d| serde_json::to_value(d).ok());
    let ours = crate::backend::seccomp::docker::to_docker(p).ok().and_then(|d| serde_json::to_value(d).ok());
    let seccomp = if ours.is_some() && ours == docker_default {
        json!({"type": "RuntimeDefault"})
    } else {
        let path = o.seccomp_path.clone().unwrap_or_else(|| format!("operator/default/{name}.json"));
        json!({"type": "Localhost", "localhostProfile": path})
    };
    let c = &p.capabilities;
    let add: Vec<String> =
        c.granted.iter().map(|c| c.name().trim_start_matches("CAP_").to_string()).collect();
    let mut container_ctx = json!({
        "capabilities": {"drop": ["ALL"], "add": add},
        "allowPrivilegeEscalation": !p.process.no_new_privs,
        "seccompProfile": seccomp,
    });
    let mut pod_ctx = json!({"seccompProfile": seccomp});
    match p.process.user {
        UserIr::Id { uid, gid } => {
            for ctx in [&mut container_ctx, &mut pod_ctx] {
                ctx["runAsUser"] = json!(uid);
                ctx["runAsGroup"] = json!(gid);
                ctx["runAsNonRoot"] = json!(uid != 0);
            }
        }
        UserIr::Caller => losses.push(Loss {
            part: "process.user: caller".into(),
            at: t.at("process", Some("user")),
            instead: "the image's user runs the pod (set runAsUser)".into(),
        }),
    }
    if !c.ambient.is_empty() {
        losses.push(Loss {
            part: "capabilities.ambient".into(),
            at: t.at("capabilities", Some("ambient")),
            instead: format!(
                "Kubernetes has no ambient capabilities: a non-root container starts without {}",
                c.ambient.names().join(", ")
            ),
        });
    }
    if !p.process.rlimits.is_empty() {
        losses.push(Loss {
            part: "process.rlimits".into(),
            at: t.at("process", Some("rlimits")),
            instead: "a pod has no rlimits: the container runtime's defaults apply".into(),
        });
    }
    if p.process.securebits.mode != SecurebitsMode::None {
        losses.push(Loss {
            part: "process.securebits".into(),
            at: t.at("process", Some("securebits")),
            instead: "a pod has no securebits: the runtime leaves them as they are".into(),
        });
    }
    if p.process.tmpdir == TmpdirMode::Private {
        losses.push(Loss {
            part: "process.tmpdir".into(),
            at: t.at("process", Some("tmpdir")),
            instead: "no private TMPDIR (mount an emptyDir at /tmp)".into(),
        });
    }
    let mut container = json!({"name": "app", "image": "IMAGE", "securityContext": container_ctx});
    if !p.process.env.is_empty() {
        container["env"] =
            json!(p.process.env.iter().map(|(k, v)| json!({"name": k, "value": v})).collect::<Vec<_>>());
    }
    if let Some(w) = &p.process.workdir {
        container["workingDir"] = json!(w);
    }
    let mut pod_spec = json!({"securityContext": pod_ctx, "containers": [container]});
    let iso = &p.isolation;
    if iso.enabled {
        pod_spec["containers"][0]["securityContext"]["readOnlyRootFilesystem"] =
            json!(iso.readonly_root(true));
        if iso.network == NetworkMode::Host || !iso.namespaces.contains(Namespace::Net) {
            pod_spec["hostNetwork"] = json!(true);
        }
        if !iso.namespaces.contains(Namespace::Pid) {
            pod_spec["hostPID"] = json!(true);
        }
        if !iso.namespaces.contains(Namespace::Ipc) {
            pod_spec["hostIPC"] = json!(true);
        }
        if iso.namespaces.contains(Namespace::User) {
            pod_spec["hostUsers"] = json!(false);
        }
        if !iso.publish.is_empty() {
            losses.push(Loss {
                part: "isolation.publish".into(),
                at: t.at("isolation", Some("publish")),
                instead: "a pod's ports are published by a Service, not by the pod".into(),
            });
        }
        if iso.network == NetworkMode::None && iso.namespaces.contains(Namespace::Net) {
            losses.push(Loss {
                part: "isolation.network: none".into(),
                at: t.at("isolation", Some("network")),
                instead: "a pod gets the cluster network (restrict it with a NetworkPolicy)".into(),
            });
        }
        if let Some(h) = &iso.hostname {
            pod_spec["hostname"] = json!(h);
        }
        let (mut volumes, mut mounts) = (Vec::new(), Vec::new());
        for (i, m) in iso.mounts.iter().enumerate() {
            let vol = format!("m{i}");
            match m {
                MountIr::Bind { source, .. } => {
                    volumes.push(json!({"name": vol, "hostPath": {"path": source}}));
                }
                MountIr::Tmpfs { size, .. } => {
                    let mut e = json!({"medium": "Memory"});
                    if let Some(n) = size {
                        e["sizeLimit"] = json!(n.to_string());
                    }
                    volumes.push(json!({"name": vol, "emptyDir": e}));
                }
            }
            mounts.push(json!({"name": vol, "mountPath": m.target(), "readOnly": m.readonly()}));
        }
        if !volumes.is_empty() {
            pod_spec["volumes"] = json!(volumes);
            pod_spec["containers"][0]["volumeMounts"] = json!(mounts);
        }
        let mut limits = serde_json::Map::new();
        if let Some(m) = iso.memory {
            limits.insert("memory".into(), json!(m.to_string()));
        }
        if let Some(c) = iso.cpu {
            limits.insert("cpu".into(), json!(format!("{}m", (c * 1000.0).round() as u64)));
        }
        if !limits.is_empty() {
            pod_spec["containers"][0]["resources"] = json!({"limits": limits});
        }
        if iso.pids.is_some() {
            losses.push(Loss {
                part: "isolation.limits.pids".into(),
                at: t.at("isolation", Some("pids")),
                instead: "a pod's process limit is the kubelet's (--pod-max-pids)".into(),
            });
        }
        if iso.namespaces.contains(Namespace::Time) {
            losses.push(Loss {
                part: "isolation.namespaces: time".into(),
                at: t.at("isolation", Some("namespaces")),
                instead: "a pod has no time namespace".into(),
            });
        }
    }
    let mut metadata = json!({"name": name});
    let mut docs = vec![profile];
    match &o.runtime_class {
        Some(class) => {
            metadata["annotations"] = json!({PROFILE_ANNOTATION: o.profile});
            pod_spec["runtimeClassName"] = json!(class);
            docs.push(json!({
                "apiVersion": "node.k8s.io/v1",
                "kind": "RuntimeClass",
                "metadata": {"name": class},
                "handler": "palisade",
            }));
        }
        None => {
            if let Some(l) = landlock_loss(
                p,
                t,
                "Kubernetes",
                "give --runtime-class NAME for a RuntimeClass that runs the pod with palisade-runtime and this profile",
            ) {
                losses.push(l);
            }
        }
    }
    docs.insert(1, json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": pod_spec}));
    let mut text = String::new();
    for d in &docs {
        text.push_str("---\n");
        text.push_str(
            &serde_saphyr::to_string(d)
                .map_err(|e| Error::Export { format: "k8s", message: e.to_string() })?,
        );
    }
    Ok(Exported { text, losses })
}
