//! Command-line overrides (`enforce run --allow-rw . -e K=V -v SRC:DST ...`) as a profile
//! layer: YAML text that `extends` the profile given and is compiled like any other child, so
//! a flag means exactly what the same key written in a profile means and merges the same way
//! (Landlock paths and ports are added, mounts appended, `env` merged by name, scalars
//! replaced). `enforce run --print-profile` prints the layer.
//!
//! Every path is made absolute against the working directory here: a flag's relative path is
//! relative to where you are.

use std::fmt::Write as _;
use std::path::Path;

use crate::vocab::NetworkMode;

/// The name a flag layer's diagnostics carry.
pub const FILE: &str = "enforce-flags.yaml";

/// A Landlock path rule from a flag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Allow {
    /// Absolute path.
    pub path: String,
    /// `read`, `read, write` or `read, execute`.
    pub access: &'static str,
}

/// A bind mount from `-v SRC:DST[:ro]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Volume {
    /// Absolute host path.
    pub source: String,
    /// Absolute path in the container.
    pub target: String,
    /// `:ro`.
    pub readonly: bool,
}

/// Everything the flags set, typed; empty when no flag was given.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Overrides {
    /// `-u`: `uid`, `uid:gid` or `caller`.
    pub user: Option<String>,
    /// `-e`, `--env-file`, in order (a later one wins).
    pub env: Vec<(String, String)>,
    /// `-w`.
    pub workdir: Option<String>,
    /// `--allow-ro`, `--allow-rw`, `--allow-exec`.
    pub allow: Vec<Allow>,
    /// `--bind-tcp`.
    pub bind_tcp: Vec<u16>,
    /// `--connect-tcp`.
    pub connect_tcp: Vec<u16>,
    /// `-v`.
    pub volumes: Vec<Volume>,
    /// `--tmpfs`.
    pub tmpfs: Vec<String>,
    /// `--read-only`.
    pub read_only: bool,
    /// `--network`.
    pub network: Option<NetworkMode>,
    /// `--publish`, as written.
    pub publish: Vec<String>,
    /// `--memory`.
    pub memory: Option<String>,
    /// `--pids-limit`.
    pub pids: Option<u64>,
    /// `--cpus`.
    pub cpus: Option<f64>,
    /// `--hostname`.
    pub hostname: Option<String>,
}

/// `path` made absolute against `cwd` (`.` is `cwd` itself), without `.` components.
pub fn absolute(path: &str, cwd: &Path) -> String {
    let joined = if path.starts_with('/') { Path::new(path).to_path_buf() } else { cwd.join(path) };
    let parts: Vec<String> = joined
        .components()
        .filter_map(|c| match c {
            std::path::Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            std::path::Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .fold(Vec::new(), |mut out: Vec<String>, c| {
            // `..` is taken lexically, as a shell's `cd ..` does.
            if c == ".." {
                out.pop();
            } else {
                out.push(c);
            }
            out
        });
    format!("/{}", parts.join("/"))
}

/// Parse `-v SRC:DST[:ro|:rw]` (SRC relative to `cwd`).
pub fn volume(spec: &str, cwd: &Path) -> Result<Volume, String> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (src, dst, readonly) = match parts.as_slice() {
        [s, d] => (*s, *d, false),
        [s, d, "ro"] => (*s, *d, true),
        [s, d, "rw"] => (*s, *d, false),
        _ => return Err(format!("`{spec}`: write SRC:DST, SRC:DST:ro or SRC:DST:rw")),
    };
    if src.is_empty() || !dst.starts_with('/') {
        return Err(format!("`{spec}`: DST must be an absolute path in the container, SRC a host path"));
    }
    Ok(Volume { source: absolute(src, cwd), target: dst.to_string(), readonly })
}

/// Parse `-e K=V`; a bare `K` takes this process's value (as Docker does), or is left out.
pub fn env_var(spec: &str) -> Result<Option<(String, String)>, String> {
    match spec.split_once('=') {
        Some(("", _)) => Err(format!("`{spec}`: the name is empty")),
        Some((k, v)) => Ok(Some((k.to_string(), v.to_string()))),
        None if spec.is_empty() => Err("an empty -e".to_string()),
        None => Ok(std::env::var(spec).ok().map(|v| (spec.to_string(), v))),
    }
}

/// The variables of an env file: `K=V` lines; blank lines and `#` comments skipped.
pub fn env_file(text: &str, file: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match env_var(line) {
            Ok(Some(kv)) => out.push(kv),
            Ok(None) => {}
            Err(e) => return Err(format!("{file}:{}: {e}", i + 1)),
        }
    }
    Ok(out)
}

/// A YAML scalar: a JSON string is a valid YAML double-quoted one.
fn q(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

impl Overrides {
    /// Whether no flag was given.
    pub fn is_empty(&self) -> bool {
        *self == Overrides::default()
    }

    /// Whether a flag asks for a container (mounts, network, limits, hostname, read-only root).
    pub fn contained(&self) -> bool {
        !self.volumes.is_empty()
            || !self.tmpfs.is_empty()
            || self.read_only
            || self.network.is_some()
            || !self.publish.is_empty()
            || self.memory.is_some()
            || self.pids.is_some()
            || self.cpus.is_some()
            || self.hostname.is_some()
    }

    /// The layer over `base` (a profile path or `builtin:NAME`), as YAML.
    pub fn layer(&self, base: &str) -> String {
        let stem = Path::new(base.strip_prefix("builtin:").unwrap_or(base))
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "profile".into());
        let mut y = String::new();
        let _ = writeln!(y, "# enforce run's flags, as a layer over {base}");
        let _ = writeln!(y, "name: {}", q(&format!("{stem}+flags")));
        let _ = writeln!(y, "extends: {}", q(base));
        self.process(&mut y);
        self.landlock(&mut y);
        self.isolation(&mut y);
        y
    }

    fn process(&self, y: &mut String) {
        if self.user.is_none() && self.env.is_empty() && self.workdir.is_none() {
            return;
        }
        y.push_str("process:\n");
        if let Some(u) = &self.user {
            let _ = writeln!(y, "  user: {}", q(u));
        }
        if let Some(w) = &self.workdir {
            let _ = writeln!(y, "  workdir: {}", q(w));
        }
        if !self.env.is_empty() {
            y.push_str("  env:\n");
            // A later flag wins, as it would in a later layer.
            let mut seen = std::collections::BTreeMap::new();
            for (k, v) in &self.env {
                seen.insert(k.as_str(), v.as_str());
            }
            for (k, v) in seen {
                let _ = writeln!(y, "    {}: {}", q(k), q(v));
            }
        }
    }

    fn landlock(&self, y: &mut String) {
        if self.allow.is_empty() && self.bind_tcp.is_empty() && self.connect_tcp.is_empty() {
            return;
        }
        y.push_str("landlock:\n");
        if !self.allow.is_empty() {
            y.push_str("  filesystem:\n");
            for a in &self.allow {
                let _ = writeln!(y, "    - {{ path: {}, access: [{}] }}", q(&a.path), a.access);
            }
        }
        if !self.bind_tcp.is_empty() || !self.connect_tcp.is_empty() {
            let list = |v: &[u16]| v.iter().map(u16::to_string).collect::<Vec<_>>().join(", ");
            let _ = writeln!(
                y,
                "  network: {{ bind: [{}], connect: [{}] }}",
                list(&self.bind_tcp),
                list(&self.connect_tcp)
            );
        }
    }

    fn isolation(&self, y: &mut String) {
        if !self.contained() {
            return;
        }
        y.push_str("isolation:\n");
        if let Some(h) = &self.hostname {
            let _ = writeln!(y, "  hostname: {}", q(h));
        }
        if let Some(n) = self.network {
            let _ = writeln!(y, "  network: {n}");
        }
        if !self.publish.is_empty() {
            let list: Vec<String> = self.publish.iter().map(|p| q(p)).collect();
            let _ = writeln!(y, "  publish: [{}]", list.join(", "));
        }
        if self.read_only {
            y.push_str("  readonly_rootfs: true\n");
        }
        if !self.volumes.is_empty() || !self.tmpfs.is_empty() {
            y.push_str("  mounts:\n");
            for v in &self.volumes {
                let _ = writeln!(
                    y,
                    "    - {{ type: bind, source: {}, target: {}, readonly: {} }}",
                    q(&v.source),
                    q(&v.target),
                    v.readonly
                );
            }
            for t in &self.tmpfs {
                let _ = writeln!(y, "    - {{ type: tmpfs, target: {} }}", q(t));
            }
        }
        if self.memory.is_some() || self.pids.is_some() || self.cpus.is_some() {
            y.push_str("  limits:\n");
            if let Some(m) = &self.memory {
                let _ = writeln!(y, "    memory: {}", q(m));
            }
            if let Some(p) = self.pids {
                let _ = writeln!(y, "    pids: {p}");
            }
            if let Some(c) = self.cpus {
                let _ = writeln!(y, "    cpu: {c}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{compile_text, CompileOptions};

    #[test]
    fn flags_are_parsed_relative_to_where_you_are() {
        let cwd = Path::new("/home/ann/src");
        assert_eq!(absolute(".", cwd), "/home/ann/src");
        assert_eq!(absolute("./build/", cwd), "/home/ann/src/build");
        assert_eq!(absolute("/etc", cwd), "/etc");
        assert_eq!(absolute("../lib", cwd), "/home/ann/lib");
        assert_eq!(absolute("/../..", cwd), "/");
        let v = volume("data:/data:ro", cwd).unwrap();
        assert_eq!(v, Volume { source: "/home/ann/src/data".into(), target: "/data".into(), readonly: true });
        assert!(
            volume("data", cwd).is_err() && volume("a:rel", cwd).is_err() && volume("a:/b:rx", cwd).is_err()
        );
        assert_eq!(env_var("A=b=c").unwrap(), Some(("A".into(), "b=c".into())));
        assert!(env_var("=x").is_err());
        assert_eq!(env_var("PALISADE_SURELY_UNSET_VARIABLE").unwrap(), None);
        let f = env_file("# c\n\nA=1\n  B=two words\n", "f.env").unwrap();
        assert_eq!(f, [("A".into(), "1".into()), ("B".into(), "two words".into())]);
        assert!(env_file("ok=1\n=bad\n", "f.env").unwrap_err().starts_with("f.env:2: "));
    }

    #[test]
    fn a_layer_compiles_to_what_the_same_keys_in_a_profile_mean() {
        let o = Overrides {
            user: Some("caller".into()),
            env: vec![
                ("A".into(), "1".into()),
                ("Q".into(), "say \"hi\": #x".into()),
                ("A".into(), "2".into()),
            ],
            workdir: Some("/w".into()),
            allow: vec![
                Allow { path: "/w".into(), access: "read, write" },
                Allow { path: "/usr".into(), access: "read, execute" },
            ],
            bind_tcp: vec![8080],
            volumes: vec![Volume { source: "/srv".into(), target: "/data".into(), readonly: true }],
            tmpfs: vec!["/scratch".into()],
            read_only: true,
            network: Some(NetworkMode::None),
            pids: Some(64),
            hostname: Some("box".into()),
            ..Default::default()
        };
        let yaml = o.layer("builtin:strict");
        let c = compile_text(FILE, &yaml, None, &CompileOptions::default())
            .unwrap_or_else(|e| panic!("{e}\n{yaml}"));
        let p = &c.policy;
        assert_eq!(p.name, "strict+flags");
        assert_eq!(p.process.user, crate::ir::UserIr::Caller);
        assert_eq!(p.process.env.get("A").map(String::as_str), Some("2"));
        assert_eq!(p.process.env.get("Q").map(String::as_str), Some("say \"hi\": #x"));
        assert_eq!(p.process.workdir.as_deref(), Some("/w"));
        // Added to strict's own rules, as a child profile's would be.
        let paths: Vec<&str> = p.landlock.filesystem.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(paths, ["/", "/dev/null", "/tmp", "/usr", "/w"]);
        assert_eq!(p.landlock.network.as_ref().unwrap().bind, [8080]);
        let iso = &p.isolation;
        assert!(iso.enabled && iso.readonly_rootfs && iso.pids == Some(64));
        assert_eq!((iso.host_name(), iso.network), ("box", NetworkMode::None));
        assert_eq!(iso.mounts.len(), 2);
        assert!(Overrides::default().is_empty() && !o.is_empty());
    }
}
