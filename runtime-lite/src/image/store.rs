//! The image store: each image's root filesystem, unpacked once and kept read-only beneath a
//! directory named by the image's id (the digest of its configuration), with its configuration
//! and tags. Where: `PALISADE_STORE`, else `/var/lib/palisade` for root, else
//! `$XDG_DATA_HOME/palisade` (`~/.local/share/palisade`). An image is unpacked into a temporary
//! directory of the store and renamed into place only when every layer applied and checked:
//! a failure leaves nothing half-unpacked.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::manifest::{self, Config};
use super::source::Source;
use super::ImageError;

/// An image in the store.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Stored {
    /// `sha256:...` of its configuration.
    pub id: String,
    /// Its names (`name:tag`), from the archives it was loaded from.
    pub tags: Vec<String>,
    /// Its configuration.
    pub config: Config,
    /// Entries its layers held that were not made (device nodes), and why.
    pub skipped: Vec<String>,
    /// Where its root filesystem is (not stored: found from the store).
    #[serde(skip)]
    pub rootfs: PathBuf,
}

/// The store.
#[derive(Clone, Debug)]
pub struct Store {
    root: PathBuf,
}

fn io(what: &Path) -> impl Fn(std::io::Error) -> ImageError + '_ {
    move |e| ImageError::Read { what: what.display().to_string(), why: e.to_string() }
}

impl Store {
    /// The store at `root`.
    pub fn at(root: impl Into<PathBuf>) -> Store {
        Store { root: root.into() }
    }

    /// This user's store.
    pub fn default_root() -> PathBuf {
        if let Some(p) = std::env::var_os("PALISADE_STORE").filter(|p| !p.is_empty()) {
            return PathBuf::from(p);
        }
        if nix::unistd::geteuid().is_root() {
            return PathBuf::from("/var/lib/palisade");
        }
        let data = std::env::var_os("XDG_DATA_HOME")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
            .unwrap_or_else(|| PathBuf::from("/tmp"));
        data.join("palisade")
    }

    /// Where the store is.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn images(&self) -> PathBuf {
        self.root.join("images")
    }

    fn dir_of(&self, id: &str) -> PathBuf {
        self.images().join(id.trim_start_matches("sha256:"))
    }

    /// The image `tag` names in the archive or layout at `path`, unpacked into the store
    /// unless it is there already (`true`: it was). Its tags are added either way.
    pub fn load(&self, path: &Path, tag: Option<&str>) -> Result<(Stored, bool), ImageError> {
        let src = Source::open(path)?;
        let image = manifest::resolve(&src, tag)?;
        let dir = self.dir_of(&image.id);
        if let Ok(mut stored) = self.read(&dir) {
            let mut changed = false;
            for t in &image.tags {
                if !stored.tags.contains(t) {
                    stored.tags.push(t.clone());
                    changed = true;
                }
            }
            if changed {
                self.write_meta(&dir, &stored)?;
            }
            return Ok((stored, true));
        }
        std::fs::create_dir_all(self.images()).map_err(io(&self.root))?;
        let tmp = self.root.join("tmp");
        std::fs::create_dir_all(&tmp).map_err(io(&tmp))?;
        let work = tmp.join(format!("{}-{}", image.id.trim_start_matches("sha256:"), std::process::id()));
        let _ = std::fs::remove_dir_all(&work);
        let unpacked = self.unpack(&src, &image, &work);
        match unpacked {
            Ok(stored) => match std::fs::rename(&work, &dir) {
                Ok(()) => Ok((Stored { rootfs: dir.join("rootfs"), ..stored }, false)),
                // Another load put it there first: that one is as good.
                Err(_) if dir.is_dir() => {
                    let _ = std::fs::remove_dir_all(&work);
                    Ok((self.read(&dir)?, true))
                }
                Err(e) => {
                    let _ = std::fs::remove_dir_all(&work);
                    Err(io(&dir)(e))
                }
            },
            Err(e) => {
                let _ = std::fs::remove_dir_all(&work);
                Err(e)
            }
        }
    }

    fn unpack(&self, src: &Source, image: &manifest::Resolved, work: &Path) -> Result<Stored, ImageError> {
        let rootfs = work.join("rootfs");
        std::fs::create_dir_all(&rootfs).map_err(io(&rootfs))?;
        std::fs::set_permissions(work, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .map_err(io(work))?;
        std::fs::set_permissions(&rootfs, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .map_err(io(&rootfs))?;
        let root: std::os::fd::OwnedFd = std::fs::File::open(&rootfs).map_err(io(&rootfs))?.into();
        let mut skipped = Vec::new();
        for l in &image.layers {
            skipped.extend(super::layer::apply(src, l, &root)?.skipped);
        }
        let stored = Stored {
            id: image.id.clone(),
            tags: image.tags.clone(),
            config: image.config.clone(),
            skipped,
            rootfs,
        };
        self.write_meta(work, &stored)?;
        Ok(stored)
    }

    fn write_meta(&self, dir: &Path, s: &Stored) -> Result<(), ImageError> {
        let file = dir.join("image.json");
        let text = serde_json::to_string_pretty(s)
            .map_err(|e| ImageError::Format { what: file.display().to_string(), why: e.to_string() })?;
        let tmp = dir.join(".image.json.tmp");
        std::fs::write(&tmp, text).map_err(io(&tmp))?;
        std::fs::rename(&tmp, &file).map_err(io(&file))
    }

    fn read(&self, dir: &Path) -> Result<Stored, ImageError> {
        let file = dir.join("image.json");
        let text = std::fs::read(&file).map_err(io(&file))?;
        let s: Stored = serde_json::from_slice(&text)
            .map_err(|e| ImageError::Format { what: file.display().to_string(), why: e.to_string() })?;
        Ok(Stored { rootfs: dir.join("rootfs"), ..s })
    }

    /// Every stored image.
    pub fn list(&self) -> Vec<Stored> {
        let Ok(dirs) = std::fs::read_dir(self.images()) else { return Vec::new() };
        let mut out: Vec<Stored> =
            dirs.filter_map(Result::ok).filter_map(|d| self.read(&d.path()).ok()).collect();
        out.sort_by(|a, b| a.tags.cmp(&b.tags).then(a.id.cmp(&b.id)));
        out
    }

    /// The stored image `name` names: a tag (`name:tag`, or `name` for `name:latest`), or its
    /// id or a prefix of it (12 hex digits at least).
    pub fn find(&self, name: &str) -> Result<Stored, ImageError> {
        let all = self.list();
        let latest = format!("{name}:latest");
        if let Some(s) = all.iter().find(|s| s.tags.iter().any(|t| t == name || *t == latest)) {
            return Ok(s.clone());
        }
        let hex = name.trim_start_matches("sha256:");
        let by_id: Vec<&Stored> = all
            .iter()
            .filter(|s| hex.len() >= 12 && s.id.trim_start_matches("sha256:").starts_with(hex))
            .collect();
        match by_id.as_slice() {
            [one] => Ok((*one).clone()),
            _ => Err(ImageError::NotStored(name.to_string())),
        }
    }

    /// Remove the stored image `name` names, unless a container's layer lies over it.
    pub fn remove(&self, name: &str) -> Result<Stored, ImageError> {
        let s = self.find(name)?;
        if let Some(layer) = self.layers_of(&s.id).first() {
            return Err(ImageError::InUse { image: name.to_string(), layer: layer.clone() });
        }
        let dir = self.dir_of(&s.id);
        std::fs::remove_dir_all(&dir).map_err(io(&dir))?;
        Ok(s)
    }
}
