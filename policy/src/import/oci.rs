//! The other exports read back: a Security Profiles Operator `SeccompProfile` (YAML; its
//! `spec` is an OCI seccomp section) and a runtime-spec `config.json` (its `linux.seccomp`, the
//! process's ids, capability sets, rlimits and no_new_privs, and as an isolation section its
//! namespaces, hostname, read-only root, masked and read-only paths and cgroup limits). The
//! seccomp part goes through the Docker JSON import, with the meaning runc gives it.

use serde_json::Value;

use super::{import, parse_docker, Imported};
use crate::error::{Diagnostic, Error, Origin};
use crate::frontend::profile::{
    Ambient, Capabilities, Isolation, Limits, PathList, Process, Rlimit, RlimitValue, UserSpec,
};
use crate::frontend::spanned::Sp;

/// What kind of file `text` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Docker/Podman seccomp JSON.
    Docker,
    /// A runtime-spec `config.json`.
    OciConfig,
    /// A `SeccompProfile` (YAML).
    SeccompProfile,
}

/// Tell the three apart: YAML (or JSON) with `kind: SeccompProfile`, JSON with `ociVersion`,
/// else Docker JSON.
pub fn kind_of(text: &str) -> Kind {
    match serde_json::from_str::<Value>(text) {
        Ok(v) if v.get("ociVersion").is_some() => Kind::OciConfig,
        Ok(v) if v.get("kind").and_then(Value::as_str) == Some("SeccompProfile") => Kind::SeccompProfile,
        Ok(_) => Kind::Docker,
        Err(_) if text.lines().any(|l| l.trim() == "kind: SeccompProfile") => Kind::SeccompProfile,
        Err(_) => Kind::Docker,
    }
}

fn bad(file: &str, message: String, hint: &str) -> Error {
    Error::Invalid(vec![Diagnostic::error(Origin::new(file, 1, 1), message).with_hint(hint)])
}

/// Import a `SeccompProfile` document (the first of the file).
pub fn import_seccomp_profile(file: &str, name: &str, text: &str) -> Result<Imported, Error> {
    let docs: Vec<Value> = serde_saphyr::from_multiple(text).map_err(|e| {
        bad(file, format!("cannot parse YAML: {e}"), "a SeccompProfile is a Kubernetes YAML document")
    })?;
    let doc = docs
        .into_iter()
        .find(|d| d.get("kind").and_then(Value::as_str) == Some("SeccompProfile"))
        .ok_or_else(|| bad(file, "no SeccompProfile document".into(), "kind: SeccompProfile"))?;
    let mut spec = doc
        .get("spec")
        .cloned()
        .ok_or_else(|| bad(file, "the SeccompProfile has no spec".into(), "spec: {defaultAction: ...}"))?;
    let Some(fields) = spec.as_object_mut() else {
        return Err(bad(file, "spec is not a mapping".into(), "spec: {defaultAction: ...}"));
    };
    if let Some(base) = fields.get("baseProfileName") {
        return Err(bad(
            file,
            format!("spec.baseProfileName {base}: the base profile is in the cluster, not in this file"),
            "import the base profile's SeccompProfile and merge it, or drop baseProfileName",
        ));
    }
    if fields.get("state").and_then(Value::as_str) == Some("Disabled") {
        return Err(bad(
            file,
            "spec.state is Disabled: the operator does not install it".into(),
            "state: Enabled",
        ));
    }
    for key in ["state", "listenerPath", "listenerMetadata"] {
        fields.remove(key);
    }
    let json = serde_json::to_string(&spec).map_err(|e| bad(file, e.to_string(), ""))?;
    let d = parse_docker(file, &json)?;
    import(file, name, &d)
}

/// Import a runtime-spec `config.json`.
pub fn import_oci_config(file: &str, name: &str, text: &str) -> Result<Imported, Error> {
    let c: Value = serde_json::from_str(text).map_err(|e| {
        Error::Invalid(vec![Diagnostic::error(
            Origin::new(file, e.line() as u64, e.column() as u64),
            format!("cannot parse config.json: {e}"),
        )])
    })?;
    let seccomp = c
        .pointer("/linux/seccomp")
        .cloned()
        .unwrap_or_else(|| serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW"}));
    let d = parse_docker(file, &seccomp.to_string())?;
    let mut imported = import(file, name, &d)?;
    let p = &mut imported.profile;
    let strings = |v: Option<&Value>| -> Vec<String> {
        v.and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect()
    };
    // Capabilities: what the process can use (permitted, effective, ambient), by name.
    let caps = c.pointer("/process/capabilities");
    let mut granted: Vec<String> = ["permitted", "effective", "ambient"]
        .iter()
        .flat_map(|set| strings(caps.and_then(|c| c.get(*set))))
        .collect();
    granted.sort();
    granted.dedup();
    let ambient = strings(caps.and_then(|c| c.get("ambient")));
    p.capabilities = Some(Capabilities {
        drop: vec![Sp::new("ALL".into())],
        add: granted.into_iter().map(Sp::new).collect(),
        ambient: Some(Sp::new(if ambient.is_empty() {
            Ambient::Mode("none".into())
        } else {
            Ambient::List(ambient)
        })),
    });
    let num = |ptr: &str| c.pointer(ptr).and_then(Value::as_u64);
    let mut process = Process::default();
    let (uid, gid) = (num("/process/user/uid").unwrap_or(0), num("/process/user/gid").unwrap_or(0));
    process.user = Some(Sp::new(UserSpec::Text(format!("{uid}:{gid}"))));
    process.no_new_privs =
        Some(Sp::new(c.pointer("/process/noNewPrivileges").and_then(Value::as_bool).unwrap_or(false)));
    for r in c.pointer("/process/rlimits").and_then(Value::as_array).into_iter().flatten() {
        let Some(kind) = r.get("type").and_then(Value::as_str) else { continue };
        let resource = kind.trim_start_matches("RLIMIT_").to_lowercase();
        let value = |k: &str| match r.get(k).and_then(Value::as_u64) {
            Some(u64::MAX) | None => RlimitValue::Word("unlimited".into()),
            Some(n) => RlimitValue::Number(n),
        };
        // config.json sets them exactly.
        process.rlimits.insert(
            resource,
            Sp::new(Rlimit::Pair { soft: value("soft"), hard: value("hard"), raise: Some(true) }),
        );
    }
    if let Some(cwd) = c.pointer("/process/cwd").and_then(Value::as_str).filter(|d| *d != "/") {
        process.workdir = Some(Sp::new(cwd.to_string()));
    }
    p.process = Some(process);
    // The container: namespaces, root, paths, limits.
    let mut iso = Isolation::default();
    let namespaces: Vec<Sp<String>> = c
        .pointer("/linux/namespaces")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|n| n.get("type").and_then(Value::as_str))
        .map(|t| Sp::new(if t == "network" { "net".to_string() } else { t.to_string() }))
        .collect();
    let net = namespaces.iter().any(|n| n.value == "net");
    iso.namespaces = Some(namespaces);
    iso.network = Some(Sp::new(if net { "none" } else { "host" }.to_string()));
    iso.hostname = c.get("hostname").and_then(Value::as_str).map(|h| Sp::new(h.to_string()));
    iso.readonly_rootfs =
        Some(Sp::new(c.pointer("/root/readonly").and_then(Value::as_bool).unwrap_or(false)));
    iso.masked_paths = Some(Sp::new(PathList::List(strings(c.pointer("/linux/maskedPaths")))));
    iso.readonly_paths = Some(Sp::new(PathList::List(strings(c.pointer("/linux/readonlyPaths")))));
    let mut limits = Limits::default();
    if let Some(m) = num("/linux/resources/memory/limit") {
        limits.memory = Some(Sp::new(crate::frontend::profile::ArgValue::Number(m)));
    }
    limits.pids = num("/linux/resources/pids/limit").map(Sp::new);
    if let (Some(q), Some(per)) = (num("/linux/resources/cpu/quota"), num("/linux/resources/cpu/period")) {
        limits.cpu = Some(Sp::new(q as f64 / per.max(1) as f64));
    }
    if limits.memory.is_some() || limits.pids.is_some() || limits.cpu.is_some() {
        iso.limits = Some(limits);
    }
    p.isolation = Some(iso);
    p.description = Some(format!("Imported from runtime-spec config {file}"));
    Ok(imported)
}
