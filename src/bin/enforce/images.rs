//! `enforce image load`, `enforce images`, `enforce rmi`: the image store
//! (`runtime_lite::image`).

use std::process::ExitCode;

use runtime_lite::image::store::{Store, Stored};

use crate::args::{Format, ImageLoadArgs, ImagesArgs, RmiArgs, RunArgs};
use crate::fail;

fn short(id: &str) -> &str {
    let hex = id.trim_start_matches("sha256:");
    &hex[..hex.len().min(12)]
}

fn line(s: &Stored) -> String {
    let tags = if s.tags.is_empty() { "<none>".to_string() } else { s.tags.join(",") };
    format!("{}  {tags}  {}", short(&s.id), s.rootfs.display())
}

pub fn load(a: ImageLoadArgs) -> ExitCode {
    let store = Store::at(Store::default_root());
    match store.load(&a.file, a.tag.as_deref()) {
        Ok((s, already)) => {
            for k in &s.skipped {
                enforcer::say!("enforce: image: not made: {k}");
            }
            match a.format {
                Format::Json => enforcer::out!("{}\n", serde_json::to_string_pretty(&s).unwrap_or_default()),
                Format::Text => {
                    let how = if already { "already stored" } else { "loaded" };
                    enforcer::out!("{how}: {}\n", line(&s));
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(125, e),
    }
}

pub fn list(a: ImagesArgs) -> ExitCode {
    let all = Store::at(Store::default_root()).list();
    match a.format {
        Format::Json => enforcer::out!("{}\n", serde_json::to_string_pretty(&all).unwrap_or_default()),
        Format::Text => {
            for s in &all {
                enforcer::out!("{}\n", line(s));
            }
        }
    }
    ExitCode::SUCCESS
}

pub fn remove(a: RmiArgs) -> ExitCode {
    match Store::at(Store::default_root()).remove(&a.image) {
        Ok(s) => {
            enforcer::out!("removed: {}\n", short(&s.id));
            ExitCode::SUCCESS
        }
        Err(e) => fail(1, e),
    }
}

/// A container of an image: its store (for the container's writable layer) and what the
/// report says of it.
pub struct ImageRun {
    pub store: Store,
    pub report: enforcer::report::ImageReport,
    /// The user as named (`app`, `1000:50`), when someone named one.
    pub spec: Option<String>,
}

/// `enforce run --image REF` (or a profile's `isolation.image`): the stored image (loaded
/// first when REF is an archive or a layout), and the run's command, environment, working
/// directory, user and root as the image's configuration gives them under what the command
/// line asks, as flags over the profile (`profile_user`: the ids the profile names, which win
/// over the image's `User`). `--env-file` comes between the image's `Env` and `-e`.
pub fn for_run(
    a: &mut RunArgs,
    reference: &str,
    profile_user: Option<(u32, u32)>,
) -> Result<ImageRun, (i32, String)> {
    if a.rootfs.is_some() {
        return Err((125, "--image and --rootfs both name the container's root: give one".into()));
    }
    let store = Store::at(Store::default_root());
    let err = |e: runtime_lite::image::ImageError| (125, e.to_string());
    // A path (or PATH:TAG) is loaded; anything else is a stored image's name.
    let (path, tag) = match reference.rsplit_once(':') {
        Some((p, t)) if std::path::Path::new(p).exists() && !std::path::Path::new(reference).exists() => {
            (Some(p.to_string()), Some(t.to_string()))
        }
        _ => (std::path::Path::new(reference).exists().then(|| reference.to_string()), None),
    };
    let stored = match path {
        Some(p) => store.load(std::path::Path::new(&p), tag.as_deref()).map_err(err)?.0,
        None => store.find(reference).map_err(err)?,
    };
    let root: std::os::fd::OwnedFd = std::fs::File::open(&stored.rootfs)
        .map_err(|e| (125, format!("image {}: {e}", stored.rootfs.display())))?
        .into();
    let mut env = Vec::new();
    for file in std::mem::take(&mut a.flags.env_file) {
        let text = std::fs::read_to_string(&file)
            .map_err(|e| (125, format!("--env-file {}: {}", file.display(), policy::error::io_reason(&e))))?;
        let pairs = policy::frontend::overrides::env_file(&text, &file.display().to_string())
            .map_err(|e| (125, e))?;
        env.extend(pairs.into_iter().map(|(k, v)| format!("{k}={v}")));
    }
    env.extend(a.flags.env.iter().cloned());
    let asked = runtime_lite::image::launch::Asked {
        args: a.cmd.clone(),
        entrypoint: a.entrypoint.clone(),
        env,
        user: a.flags.user.clone(),
        workdir: a.flags.workdir.clone(),
    };
    let launch = runtime_lite::image::launch::launch(
        &stored.config.config,
        &root,
        &asked,
        profile_user.map(|u| u.0),
        |n| std::env::var(n).ok(),
    )
    .map_err(err)?;
    for n in &launch.notes {
        enforcer::say!("enforce: warning: {n}");
    }
    a.cmd = launch.argv;
    a.flags.env = launch.env.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    a.flags.workdir = Some(launch.workdir);
    let (user, groups) = match &launch.user {
        Some(u) => (format!("{}:{}", u.uid, u.gid), u.groups.clone()),
        None => (profile_user.map_or_else(|| "0:0".to_string(), |(u, g)| format!("{u}:{g}")), Vec::new()),
    };
    use runtime_lite::image::launch::UserFrom;
    // A user someone named is a flag; root is the profile's own default (so a profile that
    // requires a non-root user says so below, naming who chose root).
    let root_default = launch.user.as_ref().is_some_and(|u| (u.uid, u.gid) == (0, 0));
    if launch.user_from == UserFrom::CommandLine || (launch.user_from == UserFrom::Image && !root_default) {
        a.flags.user = Some(user.clone());
    }
    a.rootfs = Some(stored.rootfs);
    let spec = launch.user.map(|u| u.spec);
    let report = enforcer::report::ImageReport {
        id: stored.id,
        reference: reference.to_string(),
        user,
        user_from: launch.user_from,
        groups,
        stop_signal: launch.stop_signal.map(|s| s.as_str().to_string()),
    };
    Ok(ImageRun { store, report, spec })
}

/// A profile that requires a non-root user (`process.run_as_non_root`) refuses a container of
/// an image that would run as root, naming who chose root.
pub fn non_root(c: &enforcer::CompiledPolicy, image: &ImageRun) -> Result<(), (i32, String)> {
    use runtime_lite::image::launch::UserFrom;
    // In the container the workload is root of its user namespace: `user: caller` is root.
    if !c.process().non_root || c.process().user.ids((0, 0)).0 != 0 {
        return Ok(());
    }
    let spec = image.spec.as_deref().unwrap_or("root");
    let who = match image.report.user_from {
        UserFrom::CommandLine => format!("--user {spec} is root"),
        UserFrom::Image => format!("the image's User ({spec}) is root"),
        UserFrom::Profile => "the profile's process.user is root".to_string(),
        UserFrom::Default => "the image names no User, so it runs as root".to_string(),
    };
    Err((
        125,
        format!("the profile requires a non-root user (process.run_as_non_root), and {who}; nothing was run (give --user UID[:GID], or the profile's process.user)"),
    ))
}
