//! `spec` (a default config.json, as runc writes one) and `features` (runtime-spec
//! `features.json`: what this runtime supports).

use std::path::Path;

use oci_spec::runtime::Spec;

use super::OciError;

/// Write `DIR/config.json` with runtime-spec's default (oci-spec's, which follows runc's):
/// `sh` as root, new namespaces but the user one, Docker's masked and read-only paths. Refused
/// when the file exists.
pub fn write_default(dir: &Path) -> Result<(), OciError> {
    let path = dir.join("config.json");
    if path.exists() {
        return Err(OciError::Config {
            field: "config.json".into(),
            why: format!("{} exists: remove it first", path.display()),
        });
    }
    let mut spec = Spec::default();
    if let Some(p) = spec.process_mut() {
        // No terminal: `create` does not make one yet.
        p.set_terminal(Some(false));
    }
    let text =
        serde_json::to_string_pretty(&spec).map_err(|e| OciError::io("encode config.json", e.into()))?;
    std::fs::write(&path, text + "\n").map_err(|e| OciError::io(format!("write {}", path.display()), e))
}

/// runtime-spec `features.json`.
pub fn features() -> serde_json::Value {
    let caps: Vec<String> =
        (0..=63u8).filter_map(policy::vocab::Cap::from_number).map(|c| c.name().to_string()).collect();
    serde_json::json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": "1.2.0",
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": [
            "async", "atime", "bind", "dev", "diratime", "dirsync", "exec", "lazytime", "loud", "mand",
            "noatime", "nodev", "nodiratime", "noexec", "nolazytime", "nomand", "norelatime",
            "nostrictatime", "nosuid", "private", "rbind", "relatime", "remount", "ro", "rprivate",
            "rshared", "rslave", "runbindable", "rw", "shared", "silent", "slave", "strictatime",
            "suid", "sync", "unbindable"
        ],
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"],
            "capabilities": caps,
            "cgroup": {"v1": true, "v2": true, "systemd": false, "systemdUser": false},
            "seccomp": {
                "enabled": true,
                "actions": ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"],
                "operators": ["SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"],
                "archs": ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM", "SCMP_ARCH_X32", "SCMP_ARCH_X86", "SCMP_ARCH_X86_64"],
                "supportedFlags": []
            },
            "apparmor": {"enabled": false},
            "selinux": {"enabled": false},
            "intelRdt": {"enabled": false},
            "mountExtensions": {"idmap": {"enabled": true}}
        },
        "annotations": {"org.palisade.runtime.compiler": "palisade BPF"}
    })
}
