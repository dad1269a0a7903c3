//! Idmapped bind mounts (`mounts[].options` `idmap` / `ridmap`, runtime-spec 1.1): the mount
//! shows its files' owners through a user namespace's mapping, so a host directory owned by
//! host root is owned by the container's root. The runtime makes each such mount before the
//! init exists: a detached copy of the source's tree (`open_tree`), idmapped through a user
//! namespace made for it with the mount's mappings (or the container's); the init inherits
//! the descriptors and attaches them at their destinations inside the root.

use std::os::fd::OwnedFd;
use std::path::Path;

use nix::unistd::ForkResult;

use super::config::MountSpec;
use super::OciError;
use crate::error::SysError;

/// How one mount is idmapped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idmap {
    /// `uid_map` lines (`INSIDE HOST COUNT`) of the namespace the mount is idmapped through.
    pub uid_map: String,
    /// `gid_map` lines.
    pub gid_map: String,
    /// `ridmap` (or `rbind` with `idmap`): the mounts beneath the source are copied and
    /// idmapped too; else only the source's own mount.
    pub recursive: bool,
}

/// The `idmap` of mount `i` from its options and mappings; `container` is the container's own
/// `uid_map`/`gid_map` (empty without a new user namespace), used when the mount names none.
pub(super) fn of(
    i: usize,
    m: &oci_spec::runtime::Mount,
    spec: &MountSpec,
    container: (&str, &str),
) -> Result<Option<Idmap>, OciError> {
    let field = |f: &str| format!("mounts[{i}].{f}");
    let bad = |f: &str, why: &str| OciError::Config { field: field(f), why: why.to_string() };
    let options: Vec<&str> = m.options().iter().flatten().map(String::as_str).collect();
    let (idmap, ridmap) = (options.contains(&"idmap"), options.contains(&"ridmap"));
    let lines = |v: Option<&Vec<oci_spec::runtime::LinuxIdMapping>>| -> String {
        v.into_iter()
            .flatten()
            .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
            .collect()
    };
    let (uid_map, gid_map) = (lines(m.uid_mappings().as_ref()), lines(m.gid_mappings().as_ref()));
    if !idmap && !ridmap {
        if !uid_map.is_empty() || !gid_map.is_empty() {
            return Err(bad("uidMappings", "mappings without the `idmap` or `ridmap` option"));
        }
        return Ok(None);
    }
    if !spec.is_bind() {
        return Err(bad("options", "`idmap` and `ridmap` are for bind mounts"));
    }
    if uid_map.is_empty() != gid_map.is_empty() {
        let which = if uid_map.is_empty() { "uidMappings" } else { "gidMappings" };
        return Err(bad(which, "uidMappings and gidMappings go together"));
    }
    let (uid_map, gid_map) = match uid_map.is_empty() {
        false => (uid_map, gid_map),
        true if !container.0.is_empty() => (container.0.to_string(), container.1.to_string()),
        true => {
            return Err(bad(
                "uidMappings",
                "an idmapped mount needs mappings of its own or a new user namespace to take them from",
            ))
        }
    };
    let recursive = ridmap || spec.flags.contains(nix::mount::MsFlags::MS_REC);
    Ok(Some(Idmap { uid_map, gid_map, recursive }))
}

/// The idmapped trees of `mounts`, one entry per mount (`None`: not idmapped). Made by the
/// runtime (host root) before the init is cloned; dropped, they leave nothing behind.
pub(super) fn trees(mounts: &[MountSpec]) -> Result<Vec<Option<OwnedFd>>, OciError> {
    mounts.iter().enumerate().map(|(i, m)| m.idmap.as_ref().map(|x| tree(i, m, x)).transpose()).collect()
}

fn tree(i: usize, m: &MountSpec, idmap: &Idmap) -> Result<OwnedFd, OciError> {
    let fail = |e: SysError| OciError::Config { field: format!("mounts[{i}]"), why: e.to_string() };
    let tree = crate::sys::clone_tree(Path::new(&m.source), idmap.recursive).map_err(fail)?;
    let userns = userns(&idmap.uid_map, &idmap.gid_map)?;
    crate::sys::idmap_tree(&tree, &userns, idmap.recursive).map_err(fail)?;
    Ok(tree)
}

/// A user namespace with these maps, held by its descriptor: a child made in it waits until
/// its maps are written and the namespace is opened, then exits.
fn userns(uid_map: &str, gid_map: &str) -> Result<OwnedFd, OciError> {
    let (hold, wait) = nix::unistd::pipe().map_err(|e| SysError::errno("pipe", e))?;
    let flags = nix::sched::CloneFlags::CLONE_NEWUSER;
    match crate::sys::fork_into(flags).map_err(|e| SysError::errno("clone a user namespace", e))? {
        ForkResult::Child => {
            drop(wait);
            // Until the runtime closes its end (or exits).
            let mut b = [0u8; 1];
            let _ = nix::unistd::read(&hold, &mut b);
            std::process::exit(0)
        }
        ForkResult::Parent { child } => {
            drop(hold);
            let pid = child.as_raw();
            let made = crate::idmap::write_map_lines(pid, uid_map, gid_map, true)
                .map_err(|e| OciError::io("write an idmapped mount's uid_map and gid_map", e))
                .and_then(|()| {
                    std::fs::File::open(format!("/proc/{pid}/ns/user"))
                        .map(OwnedFd::from)
                        .map_err(|e| OciError::io("open an idmapped mount's user namespace", e))
                });
            drop(wait);
            let _ = nix::sys::wait::waitpid(child, None);
            made
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(json: &str, container: (&str, &str)) -> Result<Option<Idmap>, OciError> {
        let m: oci_spec::runtime::Mount = serde_json::from_str(json).unwrap();
        let spec = super::super::config::mount(0, &m, Path::new("/b"))?;
        of(0, &m, &spec, container)
    }

    #[test]
    fn a_mount_without_mappings_takes_the_containers() {
        let j = r#"{"destination":"/d","type":"bind","source":"/s","options":["rbind","idmap"]}"#;
        let x = parsed(j, ("0 100000 65536\n", "0 100000 65536\n")).unwrap().unwrap();
        assert_eq!(x.uid_map, "0 100000 65536\n");
        assert!(x.recursive);
        let e = parsed(j, ("", "")).unwrap_err().to_string();
        assert!(e.contains("mounts[0].uidMappings") && e.contains("new user namespace"), "{e}");
    }

    #[test]
    fn its_own_mappings_win_and_are_for_idmap_only() {
        let own = r#"{"destination":"/d","type":"bind","source":"/s","options":["bind","idmap"],
            "uidMappings":[{"containerID":0,"hostID":1000,"size":1}],
            "gidMappings":[{"containerID":0,"hostID":1001,"size":1}]}"#;
        let x = parsed(own, ("0 100000 65536\n", "0 100000 65536\n")).unwrap().unwrap();
        assert_eq!(
            (x.uid_map.as_str(), x.gid_map.as_str(), x.recursive),
            ("0 1000 1\n", "0 1001 1\n", false)
        );
        let stray = r#"{"destination":"/d","type":"bind","source":"/s","options":["bind"],
            "uidMappings":[{"containerID":0,"hostID":1000,"size":1}]}"#;
        assert!(parsed(stray, ("", "")).unwrap_err().to_string().contains("without the `idmap`"));
        let tmpfs = r#"{"destination":"/d","type":"tmpfs","source":"tmpfs","options":["idmap"]}"#;
        assert!(parsed(tmpfs, ("0 1 1\n", "0 1 1\n")).unwrap_err().to_string().contains("for bind mounts"));
    }
}
