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

/// `enforce run --image REF`: the stored image (loaded first when REF is an archive or a
/// layout), and the run's command, environment, working directory, user and root as the
/// image's configuration gives them under what the command line asks; returns the store and
/// the image's id, for the container's writable layer.
pub fn for_run(a: &mut RunArgs) -> Result<Option<(Store, String)>, (i32, String)> {
    let Some(reference) = a.image.clone() else { return Ok(None) };
    if a.rootfs.is_some() {
        return Err((125, "--image and --rootfs both name the container's root: give one".into()));
    }
    let store = Store::at(Store::default_root());
    let err = |e: runtime_lite::image::ImageError| (125, e.to_string());
    // A path (or PATH:TAG) is loaded; anything else is a stored image's name.
    let (path, tag) = match reference.rsplit_once(':') {
        Some((p, t)) if std::path::Path::new(p).exists() && !std::path::Path::new(&reference).exists() => {
            (Some(p.to_string()), Some(t.to_string()))
        }
        _ => (std::path::Path::new(&reference).exists().then(|| reference.clone()), None),
    };
    let stored = match path {
        Some(p) => store.load(std::path::Path::new(&p), tag.as_deref()).map_err(err)?.0,
        None => store.find(&reference).map_err(err)?,
    };
    let root: std::os::fd::OwnedFd = std::fs::File::open(&stored.rootfs)
        .map_err(|e| (125, format!("image {}: {e}", stored.rootfs.display())))?
        .into();
    let asked = runtime_lite::image::launch::Asked {
        args: a.cmd.clone(),
        entrypoint: a.entrypoint.clone(),
        env: a.flags.env.clone(),
        user: a.flags.user.clone(),
        workdir: a.flags.workdir.clone(),
    };
    let launch =
        runtime_lite::image::launch::launch(&stored.config.config, &root, &asked, |n| std::env::var(n).ok())
            .map_err(err)?;
    a.cmd = launch.argv;
    a.flags.env = launch.env.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    a.flags.workdir = Some(launch.workdir);
    if let Some(u) = launch.user {
        a.flags.user = Some(format!("{}:{}", u.uid, u.gid));
    }
    a.rootfs = Some(stored.rootfs);
    Ok(Some((store, stored.id)))
}
