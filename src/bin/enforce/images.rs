//! `enforce image load`, `enforce images`, `enforce rmi`: the image store
//! (`runtime_lite::image`).

use std::process::ExitCode;

use runtime_lite::image::store::{Store, Stored};

use crate::args::{Format, ImageLoadArgs, ImagesArgs, RmiArgs};
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
