//! Containers' writable layers, in the store beside the images: `containers/ID/` holds
//! `upper/` and `work/` (the overlayfs's, or the copy of the root) and `image` (the id of the
//! image beneath, so that `enforce rmi` refuses an image a container still uses). A layer
//! goes with its container: at the end of a foreground run, or at `enforce rm`.

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use super::store::Store;
use super::ImageError;

fn io(what: &Path) -> impl Fn(std::io::Error) -> ImageError + '_ {
    move |e| ImageError::Read { what: what.display().to_string(), why: e.to_string() }
}

impl Store {
    fn containers(&self) -> PathBuf {
        self.root().join("containers")
    }

    /// A new, empty writable layer for a container of the image `image` (its id), named after
    /// `name` (a container's) and made unique.
    pub fn new_layer(&self, name: Option<&str>, image: &str) -> Result<PathBuf, ImageError> {
        let all = self.containers();
        std::fs::DirBuilder::new().recursive(true).mode(0o711).create(&all).map_err(io(&all))?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let dir = all.join(format!("{}-{}-{nanos:08x}", name.unwrap_or("run"), std::process::id()));
        std::fs::DirBuilder::new().mode(0o700).create(&dir).map_err(io(&dir))?;
        let made = ["upper", "work"]
            .iter()
            .try_for_each(|d| std::fs::DirBuilder::new().mode(0o755).create(dir.join(d)))
            .and_then(|()| std::fs::write(dir.join("image"), image));
        if let Err(e) = made {
            remove_layer(&dir);
            return Err(io(&dir)(e));
        }
        Ok(dir)
    }

    /// The layers of containers of the image `id`.
    pub fn layers_of(&self, id: &str) -> Vec<PathBuf> {
        let Ok(dirs) = std::fs::read_dir(self.containers()) else { return Vec::new() };
        dirs.filter_map(Result::ok)
            .map(|d| d.path())
            .filter(|d| std::fs::read_to_string(d.join("image")).is_ok_and(|i| i == id))
            .collect()
    }
}

/// Remove a container's layer (its files may be owned by container root's host ids: this runs
/// as the user who made it, who may remove them). overlayfs leaves `work/work` with mode 000,
/// which a normal user (container root is that user) must open up before removing it.
pub fn remove_layer(dir: &Path) {
    // Root needs no mode opened (and opens none: a path in the layer is the container's).
    if std::fs::remove_dir_all(dir).is_ok() || !dir.exists() || nix::unistd::geteuid().is_root() {
        return;
    }
    fn open_up(dir: &Path) {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            // Not through a link (file_type does not follow one).
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                open_up(&entry.path());
            }
        }
    }
    open_up(dir);
    let _ = std::fs::remove_dir_all(dir);
}
