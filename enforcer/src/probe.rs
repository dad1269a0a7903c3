//! `enforce probe`: what the running kernel supports.

use std::fmt::Write;

use serde::Serialize;

use crate::sys;

/// Seccomp support.
#[derive(Clone, Debug, Serialize)]
pub struct SeccompProbe {
    /// `/proc/sys/kernel/seccomp/actions_avail`.
    pub actions: Vec<String>,
    /// Filter flags the kernel accepts.
    pub flags: Vec<String>,
}

/// Landlock support.
#[derive(Clone, Debug, Serialize)]
pub struct LandlockProbe {
    /// ABI version, if available.
    pub abi: Option<u32>,
    /// Why not, otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Whether the Landlock LSM is active (the ABI query succeeds only then; EOPNOTSUPP means
    /// built in but not enabled at boot).
    pub lsm_active: bool,
}

/// cgroup layout.
#[derive(Clone, Debug, Serialize)]
pub struct CgroupProbe {
    /// `unified` (v2 only), `hybrid` (v1 controllers plus a v2 mount) or `legacy` (v1 only).
    pub layout: String,
    /// cgroup v1 mounts and their controllers.
    pub v1: Vec<String>,
    /// cgroup2 mount points.
    pub v2: Vec<String>,
}

/// Everything `enforce probe` reports.
#[derive(Clone, Debug, Serialize)]
pub struct Probe {
    /// `uname -r`.
    pub kernel: String,
    /// Seccomp.
    pub seccomp: SeccompProbe,
    /// Landlock.
    pub landlock: LandlockProbe,
    /// Active LSMs (`/sys/kernel/security/lsm`; `null` when securityfs is not mounted).
    pub lsms: Option<Vec<String>>,
    /// `/proc/sys/user/max_user_namespaces` (0: user namespaces are off).
    pub max_user_namespaces: Option<u64>,
    /// Whether `PR_GET_NO_NEW_PRIVS` works (Linux ≥ 3.5).
    pub no_new_privs: bool,
    /// Capabilities the kernel knows (`cap_last_cap` + 1).
    pub capabilities: Option<u32>,
    /// cgroups.
    pub cgroups: CgroupProbe,
}

fn read(path: &str) -> Option<String> {
    std::fs::read_to_string(path).ok().map(|s| s.trim().to_string())
}

/// Probe the running kernel. Reads files and makes harmless system calls only.
pub fn probe() -> Probe {
    let flags = [
        ("TSYNC", 1),
        ("LOG", 2),
        ("SPEC_ALLOW", 4),
        ("NEW_LISTENER", 8),
        ("TSYNC_ESRCH", 16),
        ("WAIT_KILLABLE_RECV", 32),
    ]
    .into_iter()
    .filter(|(_, f)| sys::seccomp::filter_flag_supported(*f))
    .map(|(n, _)| n.to_string())
    .collect();
    let lsms: Option<Vec<String>> =
        read("/sys/kernel/security/lsm").map(|s| s.split(',').map(str::to_string).collect());
    let (abi, error) = match sys::landlock::abi_version() {
        Ok(a) => (Some(a), None),
        Err(e) => (None, Some(std::io::Error::from_raw_os_error(e).to_string())),
    };
    let mounts = read("/proc/self/mounts").unwrap_or_default();
    let mut v1 = Vec::new();
    let mut v2 = Vec::new();
    for line in mounts.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 4 {
            continue;
        }
        match f[2] {
            "cgroup2" => v2.push(f[1].to_string()),
            "cgroup" => {
                let ctrl: Vec<&str> = f[3]
                    .split(',')
                    .filter(|o| !["rw", "ro", "nosuid", "nodev", "noexec", "relatime"].contains(o))
                    .collect();
                v1.push(format!("{} ({})", f[1], ctrl.join(",")));
            }
            _ => {}
        }
    }
    let layout = match (v1.is_empty(), v2.is_empty()) {
        (true, false) => "unified",
        (false, false) => "hybrid",
        (false, true) => "legacy",
        (true, true) => "none",
    };
    Probe {
        kernel: read("/proc/sys/kernel/osrelease").unwrap_or_default(),
        seccomp: SeccompProbe {
            actions: read("/proc/sys/kernel/seccomp/actions_avail")
                .map(|s| s.split_whitespace().map(str::to_string).collect())
                .unwrap_or_default(),
            flags,
        },
        landlock: LandlockProbe { abi, error, lsm_active: abi.is_some() },
        lsms,
        max_user_namespaces: read("/proc/sys/user/max_user_namespaces").and_then(|s| s.parse().ok()),
        no_new_privs: sys::process::no_new_privs().is_ok(),
        capabilities: read("/proc/sys/kernel/cap_last_cap")
            .and_then(|s| s.parse::<u32>().ok())
            .map(|n| n + 1),
        cgroups: CgroupProbe { layout: layout.into(), v1, v2 },
    }
}

/// The human table.
pub fn text(p: &Probe) -> String {
    let mut o = String::new();
    let yes = |b: bool| if b { "yes" } else { "no" };
    let _ = writeln!(o, "kernel               {}", p.kernel);
    let _ = writeln!(o, "seccomp actions      {}", p.seccomp.actions.join(" "));
    let _ = writeln!(o, "seccomp flags        {}", p.seccomp.flags.join(" "));
    let ll = match (p.landlock.abi, &p.landlock.error) {
        (Some(a), _) => format!("ABI {a}"),
        (None, Some(e)) => format!("unavailable ({e})"),
        (None, None) => "unavailable".into(),
    };
    let _ = writeln!(o, "landlock             {ll}; LSM active: {}", yes(p.landlock.lsm_active));
    let lsms = match &p.lsms {
        Some(l) => l.join(","),
        None => "unknown (securityfs is not mounted at /sys/kernel/security)".into(),
    };
    let _ = writeln!(o, "active LSMs          {lsms}");
    let userns = match p.max_user_namespaces {
        Some(0) => "off (max_user_namespaces = 0)".to_string(),
        Some(n) => format!("yes (max {n})"),
        None => "unknown".into(),
    };
    let _ = writeln!(o, "user namespaces      {userns}");
    let _ = writeln!(o, "no_new_privs         {}", yes(p.no_new_privs));
    let _ = writeln!(
        o,
        "capabilities         {}",
        p.capabilities.map(|c| c.to_string()).unwrap_or_else(|| "unknown".into())
    );
    let _ = writeln!(o, "cgroups              {}", p.cgroups.layout);
    for m in &p.cgroups.v2 {
        let _ = writeln!(o, "  cgroup2            {m}");
    }
    for m in &p.cgroups.v1 {
        let _ = writeln!(o, "  cgroup v1          {m}");
    }
    o
}
