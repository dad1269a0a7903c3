//! A bundle's `config.json` (runtime-spec 1.x, Linux), read into typed values: everything that
//! cannot be done is refused here, naming the field, before anything exists.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use nix::mount::MsFlags;
use oci_spec::runtime::{Capabilities, LinuxNamespaceType, Spec};
use policy::ir::{CapsIr, RlimitIr};
use policy::vocab::{Cap, CapSet, Namespace, Resource};

use super::OciError;

/// A bundle, ready to run.
#[derive(Debug)]
pub struct Bundle {
    /// The bundle directory (absolute).
    pub dir: PathBuf,
    /// The root filesystem (absolute).
    pub rootfs: PathBuf,
    /// `root.readonly`.
    pub readonly_root: bool,
    /// `process`.
    pub process: ProcessSpec,
    /// Namespaces to create.
    pub new_namespaces: Vec<Namespace>,
    /// Namespaces to join: kind and path.
    pub joined: Vec<(Namespace, PathBuf)>,
    /// `uid_map` and `gid_map` lines (with a new user namespace).
    pub uid_map: String,
    /// See `uid_map`.
    pub gid_map: String,
    /// `mounts`, in order.
    pub mounts: Vec<MountSpec>,
    /// `linux.maskedPaths`.
    pub masked: Vec<String>,
    /// `linux.readonlyPaths`.
    pub readonly: Vec<String>,
    /// `hostname`.
    pub hostname: Option<String>,
    /// `domainname`.
    pub domainname: Option<String>,
    /// `linux.sysctl`, by name.
    pub sysctl: BTreeMap<String, String>,
    /// `linux.rootfsPropagation` (default `rslave`, as runc).
    pub propagation: MsFlags,
    /// `linux.seccomp` as JSON (Docker's profile format).
    pub seccomp: Option<String>,
    /// `annotations`.
    pub annotations: BTreeMap<String, String>,
    /// `hooks`.
    pub hooks: super::hooks::Hooks,
    /// `linux.devices`.
    pub devices: Vec<DeviceSpec>,
    /// The cgroup (under the hierarchies' roots; `None`: the runtime's default) and the limits
    /// applied to it.
    pub cgroup: (Option<String>, cgroups_rs::fs::Resources),
    /// Warnings for what is ignored.
    pub warnings: Vec<String>,
}

/// `process`.
#[derive(Debug, Clone)]
pub struct ProcessSpec {
    /// `args`.
    pub args: Vec<String>,
    /// `env`, in order.
    pub env: Vec<(String, String)>,
    /// `cwd`.
    pub cwd: String,
    /// `user.uid`.
    pub uid: u32,
    /// `user.gid`.
    pub gid: u32,
    /// `user.additionalGids`.
    pub groups: Vec<u32>,
    /// `user.umask`.
    pub umask: Option<u32>,
    /// The five capability sets.
    pub caps: CapsIr,
    /// `rlimits`, set exactly.
    pub rlimits: Vec<(Resource, RlimitIr)>,
    /// `noNewPrivileges`.
    pub no_new_privs: bool,
    /// `oomScoreAdj`.
    pub oom_score_adj: Option<i32>,
    /// `terminal`.
    pub terminal: bool,
    /// `consoleSize`: rows, columns.
    pub console_size: Option<(u16, u16)>,
}

/// One entry of `linux.devices`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceSpec {
    /// Absolute path in the container.
    pub path: String,
    /// `S_IFCHR`, `S_IFBLK` or `S_IFIFO`.
    pub kind: nix::sys::stat::SFlag,
    /// Major number.
    pub major: u64,
    /// Minor number.
    pub minor: u64,
    /// Permission bits (default 0666).
    pub mode: u32,
    /// Owner (default 0).
    pub uid: u32,
    /// Group (default 0).
    pub gid: u32,
}

/// One entry of `mounts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountSpec {
    /// `destination` (absolute in the container).
    pub target: String,
    /// `type` (`bind` for a bind mount).
    pub fstype: String,
    /// `source`: a host path for a bind (absolute, or relative to the bundle).
    pub source: String,
    /// Mount flags from `options`.
    pub flags: MsFlags,
    /// Propagation flags from `options` (applied after the mount).
    pub propagation: MsFlags,
    /// The other `options`, passed to the filesystem.
    pub data: String,
    /// `tmpcopyup` (runc's and crun's extension): a tmpfs starts with a copy of what the image
    /// has at its mount point.
    pub copy_up: bool,
    /// `idmap` / `ridmap`: the mount shows owners through these mappings.
    pub idmap: Option<super::idmapped::Idmap>,
}

impl MountSpec {
    /// A bind mount (`type: bind`, or a `bind`/`rbind` option).
    pub fn is_bind(&self) -> bool {
        self.flags.contains(MsFlags::MS_BIND)
    }
}

fn bad(field: &str, why: impl std::fmt::Display) -> OciError {
    OciError::Config { field: field.to_string(), why: why.to_string() }
}

/// Read `DIR/config.json`.
pub fn load(dir: &Path) -> Result<Bundle, OciError> {
    let dir = std::path::absolute(dir).map_err(|e| bad("bundle", e))?;
    let file = dir.join("config.json");
    let text = std::fs::read_to_string(&file)
        .map_err(|e| OciError::Io { what: format!("read {}", file.display()), source: e })?;
    let de = &mut serde_json::Deserializer::from_str(&text);
    let spec: Spec = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        bad(&path, format!("{}:{}:{}: {inner}", file.display(), inner.line(), inner.column()))
    })?;
    bundle(dir, &spec)
}

/// The typed bundle of `spec`, read from `dir`.
pub fn bundle(dir: PathBuf, spec: &Spec) -> Result<Bundle, OciError> {
    let mut warnings = Vec::new();
    if !spec.version().starts_with("1.") {
        return Err(bad("ociVersion", format!("`{}` is not a 1.x runtime-spec version", spec.version())));
    }
    let root = spec.root().as_ref().ok_or_else(|| bad("root", "missing"))?;
    let rootfs = dir.join(root.path());
    match std::fs::metadata(&rootfs) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(bad("root.path", format!("{} is not a directory", rootfs.display()))),
        Err(e) => return Err(bad("root.path", format!("{}: {e}", rootfs.display()))),
    }
    let p = spec.process().as_ref().ok_or_else(|| bad("process", "missing"))?;
    let process = process(p, &mut warnings)?;
    let linux = spec.linux().as_ref();
    let mut new_namespaces = Vec::new();
    let mut joined = Vec::new();
    for (i, ns) in linux.and_then(|l| l.namespaces().as_ref()).into_iter().flatten().enumerate() {
        let kind = namespace(ns.typ());
        match ns.path() {
            None => new_namespaces.push(kind),
            Some(path) => {
                if path.as_os_str().is_empty() || !path.is_absolute() {
                    return Err(bad(
                        &format!("linux.namespaces[{i}].path"),
                        format!("`{}` is not an absolute path", path.display()),
                    ));
                }
                joined.push((kind, path.clone()));
            }
        }
    }
    // A joined mount namespace (by path) is where the init builds the container's tree, as
    // runc does: its other processes see the root pivoted too.
    if !new_namespaces.contains(&Namespace::Mount) && !joined.iter().any(|(ns, _)| *ns == Namespace::Mount) {
        return Err(bad("linux.namespaces", "a mount namespace (new, or joined by path) is required"));
    }
    let userns = new_namespaces.contains(&Namespace::User);
    let joined_userns = joined.iter().any(|(ns, _)| *ns == Namespace::User);
    let map = |field: &str, m: Option<&Vec<oci_spec::runtime::LinuxIdMapping>>| -> Result<String, OciError> {
        let lines: Vec<String> = m
            .into_iter()
            .flatten()
            .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
            .collect();
        match (userns, lines.is_empty()) {
            (true, true) => Err(bad(field, "a new user namespace needs a mapping")),
            // A joined user namespace has its mappings already (these are ignored).
            (false, false) if joined_userns => Ok(String::new()),
            (false, false) => Err(bad(field, "mappings without a new user namespace")),
            _ => Ok(lines.concat()),
        }
    };
    let uid_map = map("linux.uidMappings", linux.and_then(|l| l.uid_mappings().as_ref()))?;
    let gid_map = map("linux.gidMappings", linux.and_then(|l| l.gid_mappings().as_ref()))?;
    let mut mounts = Vec::new();
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        let mut spec = mount(i, m, &dir)?;
        spec.idmap = super::idmapped::of(i, m, &spec, (&uid_map, &gid_map))?;
        mounts.push(spec);
    }
    let propagation = match linux.and_then(|l| l.rootfs_propagation().as_deref()) {
        None | Some("") => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        Some(p) => match propagation_of(p) {
            Some(f) => f,
            None => return Err(bad("linux.rootfsPropagation", format!("unknown propagation `{p}`"))),
        },
    };
    let seccomp = match linux.and_then(|l| l.seccomp().as_ref()) {
        Some(s) => Some(serde_json::to_string(s).map_err(|e| bad("linux.seccomp", e))?),
        None => None,
    };
    let hostname = spec.hostname().clone().filter(|h| !h.is_empty());
    // In a uts namespace of its own, or one joined by path (as runc sets it there).
    let uts = new_namespaces.contains(&Namespace::Uts) || joined.iter().any(|(ns, _)| *ns == Namespace::Uts);
    if hostname.is_some() && !uts {
        return Err(bad("hostname", "setting the hostname needs a uts namespace (new, or joined by path)"));
    }
    let cgroup_path = super::resources::path(linux.and_then(|l| l.cgroups_path().as_deref()))?;
    let limits = match linux.and_then(|l| l.resources().as_ref()) {
        Some(r) => super::resources::of(r)?,
        None => cgroups_rs::fs::Resources::default(),
    };
    let mut devices = Vec::new();
    for (i, d) in linux.and_then(|l| l.devices().as_ref()).into_iter().flatten().enumerate() {
        use nix::sys::stat::SFlag;
        let field = format!("linux.devices[{i}]");
        let path = d.path().display().to_string();
        if !path.starts_with('/') || path.split('/').any(|c| c == "..") {
            return Err(bad(
                &format!("{field}.path"),
                format!("`{path}` is not an absolute path without `..`"),
            ));
        }
        let kind = match d.typ().as_str() {
            "c" | "u" => SFlag::S_IFCHR,
            "b" => SFlag::S_IFBLK,
            "p" => SFlag::S_IFIFO,
            other => return Err(bad(&format!("{field}.type"), format!("unknown device type `{other}`"))),
        };
        let number = |v: i64, what: &str| {
            u64::try_from(v)
                .map_err(|_| bad(&format!("{field}.{what}"), format!("{v} is not a device number")))
        };
        devices.push(DeviceSpec {
            path,
            kind,
            major: number(d.major(), "major")?,
            minor: number(d.minor(), "minor")?,
            mode: d.file_mode().unwrap_or(0o666) & 0o7777,
            uid: d.uid().unwrap_or(0),
            gid: d.gid().unwrap_or(0),
        });
    }
    Ok(Bundle {
        dir,
        rootfs,
        readonly_root: root.readonly().unwrap_or(false),
        process,
        new_namespaces,
        joined,
        uid_map,
        gid_map,
        mounts,
        masked: linux.and_then(|l| l.masked_paths().clone()).unwrap_or_default(),
        readonly: linux.and_then(|l| l.readonly_paths().clone()).unwrap_or_default(),
        hostname,
        domainname: spec.domainname().clone().filter(|h| !h.is_empty()),
        sysctl: linux
            .and_then(|l| l.sysctl().as_ref())
            .map(|s| s.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
        propagation,
        seccomp,
        annotations: spec
            .annotations()
            .as_ref()
            .map(|a| a.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
        cgroup: (cgroup_path, limits),
        hooks: super::hooks::Hooks::of(spec.hooks().as_ref()),
        devices,
        warnings,
    })
}

fn namespace(t: LinuxNamespaceType) -> Namespace {
    match t {
        LinuxNamespaceType::Mount => Namespace::Mount,
        LinuxNamespaceType::Cgroup => Namespace::Cgroup,
        LinuxNamespaceType::Uts => Namespace::Uts,
        LinuxNamespaceType::Ipc => Namespace::Ipc,
        LinuxNamespaceType::User => Namespace::User,
        LinuxNamespaceType::Pid => Namespace::Pid,
        LinuxNamespaceType::Network => Namespace::Net,
        LinuxNamespaceType::Time => Namespace::Time,
    }
}

/// `process` (of config.json, or of `exec --process`).
pub fn process(p: &oci_spec::runtime::Process, warnings: &mut Vec<String>) -> Result<ProcessSpec, OciError> {
    let args = p.args().clone().unwrap_or_default();
    if args.is_empty() {
        return Err(bad("process.args", "empty: there is nothing to run"));
    }
    let cwd = p.cwd().display().to_string();
    if !cwd.starts_with('/') {
        return Err(bad("process.cwd", format!("`{cwd}` is not absolute")));
    }
    let mut env = Vec::new();
    for (i, e) in p.env().iter().flatten().enumerate() {
        match e.split_once('=') {
            Some((k, v)) if !k.is_empty() => env.push((k.to_string(), v.to_string())),
            _ => return Err(bad(&format!("process.env[{i}]"), format!("`{e}` is not NAME=value"))),
        }
    }
    let u = p.user();
    let set = |s: &Option<Capabilities>| -> CapSet {
        s.iter().flatten().filter_map(|c| Cap::parse(&c.to_string())).collect()
    };
    let mut caps = match p.capabilities() {
        Some(c) => CapsIr {
            granted: set(c.permitted()),
            bounding: set(c.bounding()),
            permitted: set(c.permitted()),
            effective: set(c.effective()),
            inheritable: set(c.inheritable()),
            ambient: set(c.ambient()),
        },
        None => CapsIr::default(),
    };
    // The kernel raises an ambient capability only when it is permitted and inheritable;
    // runc warns about the others and goes on without them.
    let raisable = caps.ambient & caps.inheritable & caps.permitted;
    let dropped = caps.ambient - raisable;
    if !dropped.is_empty() {
        let names: Vec<&str> = dropped.iter().map(|c| c.name()).collect();
        warnings.push(format!(
            "process.capabilities.ambient: {} not raised (not both permitted and inheritable), as runc",
            names.join(", ")
        ));
        caps.ambient = raisable;
    }
    let mut rlimits = Vec::new();
    for (i, r) in p.rlimits().iter().flatten().enumerate() {
        let name = r.typ().to_string();
        let bare = name.trim_start_matches("RLIMIT_").to_ascii_lowercase();
        let Some(resource) = Resource::parse(&bare) else {
            return Err(bad(&format!("process.rlimits[{i}].type"), format!("unknown resource `{name}`")));
        };
        if r.soft() > r.hard() {
            return Err(bad(&format!("process.rlimits[{i}]"), "soft is above hard"));
        }
        let v = |x: u64| (x != u64::MAX).then_some(x);
        rlimits.push((resource, RlimitIr { soft: v(r.soft()), hard: v(r.hard()), raise: true }));
    }
    if p.apparmor_profile().as_ref().is_some_and(|a| !a.is_empty()) {
        warnings.push("process.apparmorProfile ignored: this machine has no AppArmor".into());
    }
    if p.selinux_label().as_ref().is_some_and(|a| !a.is_empty()) {
        warnings.push("process.selinuxLabel ignored: this machine has no SELinux".into());
    }
    Ok(ProcessSpec {
        args,
        env,
        cwd,
        uid: u.uid(),
        gid: u.gid(),
        groups: u.additional_gids().clone().unwrap_or_default(),
        umask: u.umask(),
        caps,
        rlimits,
        no_new_privs: p.no_new_privileges().unwrap_or(false),
        oom_score_adj: p.oom_score_adj(),
        terminal: p.terminal().unwrap_or(false),
        console_size: p.console_size().map(|s| {
            let clamp = |v: u64| u16::try_from(v).unwrap_or(u16::MAX);
            (clamp(s.height()), clamp(s.width()))
        }),
    })
}

/// A propagation option.
fn propagation_of(o: &str) -> Option<MsFlags> {
    let rec = MsFlags::MS_REC;
    Some(match o {
        "private" => MsFlags::MS_PRIVATE,
        "rprivate" => MsFlags::MS_PRIVATE | rec,
        "shared" => MsFlags::MS_SHARED,
        "rshared" => MsFlags::MS_SHARED | rec,
        "slave" => MsFlags::MS_SLAVE,
        "rslave" => MsFlags::MS_SLAVE | rec,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        "runbindable" => MsFlags::MS_UNBINDABLE | rec,
        _ => return None,
    })
}

/// A mount option that sets (`true`) or clears a flag.
fn flag_of(o: &str) -> Option<(bool, MsFlags)> {
    Some(match o {
        "ro" => (true, MsFlags::MS_RDONLY),
        "rw" => (false, MsFlags::MS_RDONLY),
        "nosuid" => (true, MsFlags::MS_NOSUID),
        "suid" => (false, MsFlags::MS_NOSUID),
        "nodev" => (true, MsFlags::MS_NODEV),
        "dev" => (false, MsFlags::MS_NODEV),
        "noexec" => (true, MsFlags::MS_NOEXEC),
        "exec" => (false, MsFlags::MS_NOEXEC),
        "sync" => (true, MsFlags::MS_SYNCHRONOUS),
        "async" => (false, MsFlags::MS_SYNCHRONOUS),
        "dirsync" => (true, MsFlags::MS_DIRSYNC),
        "remount" => (true, MsFlags::MS_REMOUNT),
        "mand" => (true, MsFlags::MS_MANDLOCK),
        "nomand" => (false, MsFlags::MS_MANDLOCK),
        "atime" => (false, MsFlags::MS_NOATIME),
        "noatime" => (true, MsFlags::MS_NOATIME),
        "diratime" => (false, MsFlags::MS_NODIRATIME),
        "nodiratime" => (true, MsFlags::MS_NODIRATIME),
        "bind" => (true, MsFlags::MS_BIND),
        "rbind" => (true, MsFlags::MS_BIND | MsFlags::MS_REC),
        "relatime" => (true, MsFlags::MS_RELATIME),
        "norelatime" => (false, MsFlags::MS_RELATIME),
        "strictatime" => (true, MsFlags::MS_STRICTATIME),
        "nostrictatime" => (false, MsFlags::MS_STRICTATIME),
        "lazytime" => (true, MsFlags::MS_LAZYTIME),
        "nolazytime" => (false, MsFlags::MS_LAZYTIME),
        "silent" => (true, MsFlags::MS_SILENT),
        "loud" => (false, MsFlags::MS_SILENT),
        _ => return None,
    })
}

pub(super) fn mount(i: usize, m: &oci_spec::runtime::Mount, bundle: &Path) -> Result<MountSpec, OciError> {
    let field = |f: &str| format!("mounts[{i}].{f}");
    let target = m.destination().display().to_string();
    if !target.starts_with('/') {
        return Err(bad(&field("destination"), format!("`{target}` is not absolute")));
    }
    let mut flags = MsFlags::empty();
    let mut propagation = MsFlags::empty();
    let mut data = Vec::new();
    let mut copy_up = false;
    for o in m.options().iter().flatten() {
        if o == "tmpcopyup" {
            copy_up = true;
        } else if let Some((on, f)) = flag_of(o) {
            if on {
                flags |= f;
            } else {
                flags &= !f;
            }
        } else if let Some(p) = propagation_of(o) {
            propagation = p;
        } else if o == "idmap" || o == "ridmap" {
            // super::idmapped reads them with the mount's mappings.
        } else if o.starts_with("idmap=") || o.starts_with("ridmap=") {
            return Err(bad(
                &field("options"),
                format!("`{o}`: give the mappings in uidMappings and gidMappings"),
            ));
        } else {
            data.push(o.as_str());
        }
    }
    let fstype = m.typ().clone().unwrap_or_default();
    if fstype == "bind" {
        flags |= MsFlags::MS_BIND;
    }
    let mut source = m.source().as_ref().map(|s| s.display().to_string()).unwrap_or_default();
    if flags.contains(MsFlags::MS_BIND) {
        if source.is_empty() {
            return Err(bad(&field("source"), "a bind mount needs a source"));
        }
        if !source.starts_with('/') {
            source = bundle.join(&source).display().to_string();
        }
    } else if fstype.is_empty() {
        return Err(bad(&field("type"), "missing (and the mount is not a bind)"));
    }
    if copy_up && fstype != "tmpfs" {
        return Err(bad(&field("options"), "tmpcopyup is for a tmpfs"));
    }
    Ok(MountSpec { target, fstype, source, flags, propagation, data: data.join(","), copy_up, idmap: None })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_become_flags_propagation_and_data() {
        let m: oci_spec::runtime::Mount = serde_json::from_str(
            r#"{"destination":"/dev","type":"tmpfs","source":"tmpfs","options":["nosuid","strictatime","mode=755","size=65536k","rprivate"]}"#,
        )
        .unwrap();
        let s = mount(0, &m, Path::new("/b")).unwrap();
        assert_eq!(s.flags, MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME);
        assert_eq!(s.propagation, MsFlags::MS_PRIVATE | MsFlags::MS_REC);
        assert_eq!(s.data, "mode=755,size=65536k");
        let b: oci_spec::runtime::Mount = serde_json::from_str(
            r#"{"destination":"/etc/hosts","type":"bind","source":"hosts","options":["rbind","ro"]}"#,
        )
        .unwrap();
        let s = mount(1, &b, Path::new("/b")).unwrap();
        assert!(s.is_bind() && s.flags.contains(MsFlags::MS_RDONLY | MsFlags::MS_REC));
        assert_eq!(s.source, "/b/hosts");
    }

    #[test]
    fn a_relative_destination_names_its_field() {
        let m: oci_spec::runtime::Mount =
            serde_json::from_str(r#"{"destination":"proc","type":"proc","source":"proc"}"#).unwrap();
        let e = mount(3, &m, Path::new("/b")).unwrap_err().to_string();
        assert!(e.contains("mounts[3].destination"), "{e}");
    }
}
