//! `isolation:` namespaces, root filesystem, network, user mapping, clock offsets, mounts,
//! masked and read-only paths, the PID-1 shim, logs and cgroup limits.

use super::{normalize_path, Ctx};
use crate::error::{Diagnostics, Origin};
use crate::frontend::loader::Layer;
use crate::frontend::profile::{ArgValue, Isolation, MountSpec, PathList};
use crate::frontend::spanned::Sp;
use crate::ir::pathvars;
use crate::ir::{IsolationIr, MountIr, TimeOffsets, DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS};
use crate::vocab::{Flag, LimitsMode, Namespace, NamespaceSet, NetworkMode};

/// Largest clock offset the kernel takes (`KTIME_SEC_MAX / 2`, rounded down).
const MAX_TIME_OFFSET: i64 = 4_000_000_000;

pub(super) fn check(layers: &[Layer], diags: &mut Diagnostics) -> IsolationIr {
    let mut out = IsolationIr::default();
    let mut init: Option<bool> = None;
    let mut offsets_at = None;
    let (mut network_at, mut namespaces_at, mut publish_at) = (None, None, None);
    for layer in layers {
        let Some(i) = &layer.profile.isolation else { continue };
        out.enabled = true;
        let ctx = Ctx { file: &layer.file };
        section(i, &ctx, &mut out, diags);
        if let Some(b) = &i.init {
            init = Some(b.value);
        }
        if let Some(t) = &i.time_offsets {
            offsets_at = Some(ctx.at(t));
        }
        if let Some(n) = i.network.as_ref().filter(|n| NetworkMode::parse(&n.value).is_some()) {
            network_at = Some(ctx.at(n));
        }
        for p in i.publish.iter().flatten() {
            publish_at.get_or_insert(ctx.at(p));
            match crate::ir::Published::parse(&p.value) {
                Ok(x) if !out.publish.contains(&x) => out.publish.push(x),
                Ok(_) => {}
                Err(why) => diags.error(
                    ctx.at(p),
                    format!("invalid published port `{}`: {why}", p.value),
                    Some("write `HOST:CONTAINER` as `docker run -p` does, e.g. \"8080:80\" or \"127.0.0.1:5353:53/udp\"".into()),
                ),
            }
        }
        if let Some(list) = &i.namespaces {
            // The list has no place of its own: its first entry's (the file's, when empty).
            namespaces_at = Some(list.first().map_or_else(|| Origin::new(ctx.file, 0, 0), |n| ctx.at(n)));
        }
    }
    if let Some(at) = offsets_at.filter(|_| !out.namespaces.contains(Namespace::Time)) {
        diags.error(
            at,
            "time_offsets need a time namespace",
            Some("add `time` to `isolation.namespaces`".into()),
        );
    }
    if let Some(at) = publish_at {
        match &network_at {
            // Publishing means a network of the container's own that the host can reach.
            None => out.network = NetworkMode::Private,
            Some(_) if out.network == NetworkMode::Private => {}
            Some(n) => diags.error(
                at,
                format!("published ports need `network: private`, and the network is `{}`", out.network),
                Some(format!("write `network: private` (at {n}), or drop `publish`")),
            ),
        }
    }
    network(&mut out, network_at, namespaces_at, diags);
    out.init = init.unwrap_or(out.namespaces.contains(Namespace::Pid));
    out
}

/// `network: none` is a network namespace of the container's own (loopback only): the
/// runtime creates one only when `net` is among the namespaces, and shares the host's
/// otherwise. So, over every layer: a `network: none` that is written (by any layer, or by
/// `enforce run --network none`) while the namespaces leave out `net` is an error (it would be
/// the host's network: every interface, host TCP ports, host abstract unix sockets); when
/// `network` is not written, leaving out `net` means the host's network and the policy says so
/// (`host`), with a warning. Without an `isolation` section the defaults (with `net`) hold.
fn network(
    out: &mut IsolationIr,
    network_at: Option<Origin>,
    namespaces_at: Option<Origin>,
    diags: &mut Diagnostics,
) {
    if !out.enabled || out.network == NetworkMode::Host || out.namespaces.contains(Namespace::Net) {
        return;
    }
    match (network_at, namespaces_at) {
        (Some(at), _) => diags.error(
            at,
            format!("`network: {}` needs a network namespace, but `isolation.namespaces` leaves out `net`: the container would share the host's network", out.network),
            Some("add `net` to `isolation.namespaces`, or write `network: host` to share the host's network".into()),
        ),
        (None, Some(at)) => {
            diags.warning(
                at,
                "`isolation.namespaces` leaves out `net`: the container shares the host's network (`network: host`)",
                Some("add `net` for a network of its own (loopback only), or write `network: host` to say so".into()),
            );
            out.network = NetworkMode::Host;
        }
        // The namespaces are the defaults (with `net`) unless a layer lists them.
        (None, None) => {}
    }
}

/// One layer's section, over what the layers before it set.
fn section(i: &Isolation, ctx: &Ctx, out: &mut IsolationIr, diags: &mut Diagnostics) {
    if let Some(list) = &i.namespaces {
        let mut set = NamespaceSet::EMPTY;
        for n in list {
            match Namespace::parse(&n.value) {
                Some(ns) => set.insert(ns),
                None => diags.error(
                    ctx.at(n),
                    format!("unknown namespace `{}`", n.value),
                    Some(format!("namespaces: {}", NamespaceSet::all().names().join(", "))),
                ),
            }
        }
        out.namespaces = set;
    }
    if let Some(h) = &i.hostname {
        let ok = !h.value.is_empty()
            && h.value.len() <= 64
            && h.value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
        if !ok {
            diags.error(
                ctx.at(h),
                format!("invalid hostname `{}`", h.value),
                Some("use 1..=64 letters, digits, `-` and `.`".into()),
            );
        }
        out.hostname = Some(h.value.clone());
    }
    if let Some(r) = &i.rootfs {
        match resolve_path(&r.value, ctx.file) {
            Ok(p) => out.rootfs = Some(p),
            Err(why) => diags.error(
                ctx.at(r),
                format!("rootfs `{}` cannot be resolved{why}", r.value),
                Some(RESOLVE_HINT.into()),
            ),
        }
    }
    if let Some(img) = &i.image {
        let v = img.value.as_str();
        if let Some(r) = &i.rootfs {
            diags.error(
                ctx.at(r),
                "`rootfs` and `image` both name the container's root".to_string(),
                Some("keep one".into()),
            );
        }
        // A path (absolute, or `./`, `../` from the profile's directory) or a stored image.
        let path = v.starts_with('/') || v.starts_with("./") || v.starts_with("../");
        let (file, tag) = match v.rsplit_once(':') {
            Some((f, t)) if path && !t.contains('/') => (f, Some(t)),
            _ => (v, None),
        };
        match path.then(|| resolved(file, ctx.file)) {
            None if !v.is_empty() && !v.contains(char::is_whitespace) => out.image = Some(v.to_string()),
            None => diags.error(
                ctx.at(img),
                format!("invalid image `{v}`"),
                Some("name a stored image (`name:tag`), or a path starting with `/`, `./` or `../`".into()),
            ),
            Some(Ok(p)) => out.image = Some(tag.map_or_else(|| p.clone(), |t| format!("{p}:{t}"))),
            Some(Err(why)) => diags.error(
                ctx.at(img),
                format!("image `{v}` cannot be resolved{why}"),
                Some(RESOLVE_HINT.into()),
            ),
        }
    }
    if let Some(r) = &i.readonly_rootfs {
        out.readonly_rootfs = r.value;
        out.readonly_rootfs_written = true;
    }
    if let Some(n) = &i.network {
        match NetworkMode::parse(&n.value) {
            Some(m) => out.network = m,
            None => diags.error(
                ctx.at(n),
                format!("unknown network `{}`", n.value),
                Some(format!("use {}", NetworkMode::choices())),
            ),
        }
    }
    if let Some(m) = i.users.as_ref().and_then(|u| u.map_root_to.as_ref()) {
        match &m.value {
            ArgValue::Name(a) if a == "auto" => out.map_root_to = None,
            ArgValue::Number(n) if *n > 0 && *n <= u64::from(u32::MAX - 65536) => {
                out.map_root_to = Some(*n as u32)
            }
            _ => diags.error(
                ctx.at(m),
                "map_root_to must be `auto` or a host uid above 0".to_string(),
                Some("container root is never host root".into()),
            ),
        }
    }
    if let Some(t) = &i.time_offsets {
        let (monotonic, boottime) = (t.value.monotonic.unwrap_or(0), t.value.boottime.unwrap_or(0));
        if monotonic.abs() > MAX_TIME_OFFSET || boottime.abs() > MAX_TIME_OFFSET {
            diags.error(
                ctx.at(t),
                "a time offset is out of range",
                Some(format!("offsets are seconds within ±{MAX_TIME_OFFSET}")),
            );
        }
        out.time_offsets = Some(TimeOffsets { monotonic, boottime });
    }
    out.mounts.extend(i.mounts.iter().filter_map(|m| mount(m, ctx, diags)));
    for (field, list, default) in [
        (&i.masked_paths, &mut out.masked_paths, &DEFAULT_MASKED_PATHS[..]),
        (&i.readonly_paths, &mut out.readonly_paths, &DEFAULT_READONLY_PATHS[..]),
    ] {
        if let Some(v) = field {
            match path_list(&v.value, default) {
                Ok(l) => *list = l,
                Err(e) => diags.error(ctx.at(v), e, Some("e.g. `[/proc/kcore, /sys/firmware]`".into())),
            }
        }
    }
    if let Some(l) = &i.logs {
        if let Some(s) = &l.max_size {
            match parse_size(&s.value) {
                Some(n) if n >= 1024 => out.log_max_size = n,
                _ => diags.error(
                    ctx.at(s),
                    "invalid log max_size".to_string(),
                    Some("at least 1Ki, e.g. `10Mi`".into()),
                ),
            }
        }
        if let Some(f) = &l.max_files {
            if f.value == 0 {
                diags.error(
                    ctx.at(f),
                    "max_files must be at least 1".to_string(),
                    Some("e.g. `max_files: 3`".into()),
                );
            }
            out.log_max_files = f.value.max(1);
        }
    }
    if let Some(l) = &i.limits {
        if let Some(m) = &l.memory {
            match parse_size(&m.value) {
                Some(n) if n >= 1 << 20 => out.memory = Some(n),
                _ => diags.error(
                    ctx.at(m),
                    "invalid memory limit".to_string(),
                    Some("at least 1Mi, e.g. `256Mi`".into()),
                ),
            }
        }
        if let Some(p) = &l.pids {
            if p.value == 0 {
                diags.error(
                    ctx.at(p),
                    "pids must be at least 1".to_string(),
                    Some("e.g. `pids: 128`".into()),
                );
            }
            out.pids = Some(p.value);
        }
        if let Some(c) = &l.cpu {
            if !(c.value > 0.0 && c.value <= 1024.0) {
                diags.error(
                    ctx.at(c),
                    "cpu must be above 0".to_string(),
                    Some("e.g. 0.5 for half a CPU".into()),
                );
            }
            out.cpu = Some(c.value);
        }
        if let Some(m) = &l.mode {
            match LimitsMode::parse(&m.value) {
                Some(mode) => out.limits_mode = mode,
                None => diags.error(
                    ctx.at(m),
                    format!("unknown limits mode `{}`", m.value),
                    Some(format!("use {}", LimitsMode::choices())),
                ),
            }
        }
    }
}

fn mount(m: &Sp<MountSpec>, ctx: &Ctx, diags: &mut Diagnostics) -> Option<MountIr> {
    let spec = &m.value;
    let target = normalize_path(&spec.target);
    if target.is_none() {
        diags.error(
            ctx.at(m),
            format!("mount target `{}` is not absolute", spec.target),
            Some("write the path inside the container from its root, e.g. /data".into()),
        );
    }
    let readonly = spec.readonly.unwrap_or(false);
    let mount = match spec.kind.as_str() {
        "bind" => match spec.source.as_deref().map(|s| (s, resolve_path(s, ctx.file))) {
            Some((_, Ok(source))) => Some(MountIr::Bind { source, target: target.clone()?, readonly }),
            Some((source, Err(why))) => {
                diags.error(
                    ctx.at(m),
                    format!("bind source `{source}` cannot be resolved{why}"),
                    Some(RESOLVE_HINT.into()),
                );
                None
            }
            None => {
                diags.error(
                    ctx.at(m),
                    "a bind mount needs a `source` (absolute or relative to the profile)".to_string(),
                    Some("e.g. `{ type: bind, source: ./data, target: /data }`".into()),
                );
                None
            }
        },
        "tmpfs" => match spec.size.as_ref().map(parse_size) {
            Some(None) => {
                diags.error(
                    ctx.at(m),
                    "invalid tmpfs size".to_string(),
                    Some("write e.g. `64Mi` or a number of bytes".into()),
                );
                None
            }
            size => Some(MountIr::Tmpfs { target: target.clone()?, readonly, size: size.flatten() }),
        },
        other => {
            diags.error(
                ctx.at(m),
                format!("unknown mount type `{other}`"),
                Some("use `bind` or `tmpfs`".into()),
            );
            None
        }
    };
    mount.filter(|_| target.is_some())
}

/// `64Mi`, `1G`, `512k`, or bytes.
fn parse_size(v: &ArgValue) -> Option<u64> {
    match v {
        ArgValue::Number(n) => Some(*n),
        ArgValue::Negative(_) => None,
        ArgValue::Name(t) => {
            let t = t.trim();
            let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
            let (num, unit) = t.split_at(split);
            let n: u64 = num.parse().ok()?;
            let mul: u64 = match unit.trim() {
                "" => 1,
                "k" | "K" | "Ki" | "KiB" => 1 << 10,
                "m" | "M" | "Mi" | "MiB" => 1 << 20,
                "g" | "G" | "Gi" | "GiB" => 1 << 30,
                _ => return None,
            };
            n.checked_mul(mul)
        }
    }
}

const RESOLVE_HINT: &str = "write an absolute path, a path relative to a profile file (not a builtin), or one that starts with a variable (${CWD}, ${HOME}, ${TMPDIR}, ${XDG_RUNTIME_DIR}, ${env:NAME})";

/// A path of the isolation section: absolute, relative to the profile's directory, or starting
/// with a path variable (kept as written, expanded when applied). `Err`: why not, as `: ...`
/// or nothing.
fn resolve_path(p: &str, file: &str) -> Result<String, String> {
    if let Some(symbolic) = pathvars::normalize(p) {
        return symbolic.map_err(|e| format!(": {e}"));
    }
    resolved(p, file)
}

fn resolved(p: &str, file: &str) -> Result<String, String> {
    if p.starts_with('/') {
        return normalize_path(p).ok_or_else(String::new);
    }
    if file.starts_with("builtin:") {
        return Err(String::new());
    }
    // A bare file name (`p.yaml`) has an empty parent: the working directory.
    let dir = std::path::Path::new(file).parent().filter(|d| !d.as_os_str().is_empty());
    let dir = dir.unwrap_or(std::path::Path::new("."));
    let mut dir = std::fs::canonicalize(dir).map_err(|_| String::new())?;
    // Leading `..` climb the profile's directory, which is canonical (no link in it): exact
    // without resolving anything beneath, so the path is looked up when the policy is applied
    // (a link switched since, to a new rootfs, is followed then) and a compiled policy never
    // holds where a link led once.
    let mut rest = p;
    loop {
        if let Some(r) = rest.strip_prefix("../") {
            dir.pop();
            rest = r;
        } else if rest == ".." {
            dir.pop();
            rest = "";
        } else if let Some(r) = rest.strip_prefix("./") {
            rest = r;
        } else {
            break;
        }
    }
    if rest.split('/').any(|c| c == "..") {
        return Err(": `..` may only start a relative path (what it climbs out of must not be a link)".into());
    }
    normalize_path(dir.join(rest).to_str().ok_or_else(String::new)?).ok_or_else(String::new)
}

fn path_list(v: &PathList, default: &[&str]) -> Result<Vec<String>, String> {
    match v {
        PathList::Keyword(k) if k == "default" => Ok(default.iter().map(|s| s.to_string()).collect()),
        PathList::Keyword(k) if k == "none" => Ok(vec![]),
        PathList::Keyword(k) => Err(format!("`{k}`: use `default`, `none` or a list of absolute paths")),
        PathList::List(l) => l
            .iter()
            .map(|p| normalize_path(p).ok_or_else(|| format!("`{p}` is not an absolute path")))
            .collect(),
    }
}
