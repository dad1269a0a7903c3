//! Where an image's files come from: an OCI image layout directory, or a tar of one
//! (`oci-archive`, `podman save --format oci-archive`, newer `docker save`), or a
//! `docker save` archive (`manifest.json` and its files). A tar is read once to find its
//! members; each is then read in place.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};

use super::ImageError;

/// Largest JSON document read whole (an index, a manifest, a configuration).
pub const MAX_JSON: u64 = 4 << 20;

/// What kind of image source it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// An OCI image layout (`oci-layout`, `index.json`, `blobs/`), as a directory or a tar.
    Oci,
    /// A `docker save` archive (`manifest.json`), without an OCI layout.
    Docker,
}

/// An image source, its members found.
#[derive(Debug)]
pub struct Source {
    /// As given.
    pub path: PathBuf,
    /// What it holds.
    pub kind: Kind,
    /// A tar's members: name → (offset of the data, size). `None`: a directory.
    members: Option<HashMap<String, (u64, u64)>>,
}

/// A member name without `./` and with no `..`, or `None`.
fn normal(name: &str) -> Option<String> {
    let mut parts = Vec::new();
    for c in Path::new(name).components() {
        match c {
            Component::Normal(p) => parts.push(p.to_str()?.to_string()),
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(parts.join("/"))
}

impl Source {
    /// Open `path`: a directory, or a tar.
    pub fn open(path: &Path) -> Result<Source, ImageError> {
        let read =
            |why: std::io::Error| ImageError::Read { what: path.display().to_string(), why: why.to_string() };
        let meta = std::fs::metadata(path).map_err(read)?;
        if meta.is_dir() {
            let kind = if path.join("oci-layout").is_file() && path.join("index.json").is_file() {
                Kind::Oci
            } else {
                return Err(ImageError::Format {
                    what: path.display().to_string(),
                    why: "not an OCI image layout (no oci-layout and index.json)".into(),
                });
            };
            return Ok(Source { path: path.to_path_buf(), kind, members: None });
        }
        let mut members = HashMap::new();
        let file = File::open(path).map_err(read)?;
        let mut archive = tar::Archive::new(file);
        let entries = archive.entries_with_seek().map_err(read)?;
        for e in entries {
            let e = e.map_err(|err| ImageError::Format {
                what: path.display().to_string(),
                why: format!("not a readable tar: {err}"),
            })?;
            if !e.header().entry_type().is_file() {
                continue;
            }
            let name = e.path().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
            if let Some(n) = normal(&name) {
                members.insert(n, (e.raw_file_position(), e.size()));
            }
        }
        let kind = if members.contains_key("oci-layout") && members.contains_key("index.json") {
            Kind::Oci
        } else if members.contains_key("manifest.json") {
            Kind::Docker
        } else {
            return Err(ImageError::Format {
                what: path.display().to_string(),
                why: "neither an OCI archive (oci-layout, index.json) nor a docker save archive (manifest.json)".into(),
            });
        };
        Ok(Source { path: path.to_path_buf(), kind, members: Some(members) })
    }

    /// Member `name` (a path inside the image source), to read.
    pub fn reader(&self, name: &str) -> Result<Box<dyn Read>, ImageError> {
        let missing = || ImageError::Format {
            what: format!("{}: {name}", self.path.display()),
            why: "missing (the archive is truncated, or its index names a file it lacks)".into(),
        };
        let name = normal(name).ok_or_else(missing)?;
        let read = |why: std::io::Error| ImageError::Read {
            what: format!("{}: {name}", self.path.display()),
            why: why.to_string(),
        };
        match &self.members {
            None => {
                // A layout directory: the member beneath it, no link followed out of it.
                let root = std::fs::File::open(&self.path).map_err(read)?;
                let fd = crate::sys::open_in_root(&root.into(), Path::new(&name), libc::O_RDONLY).map_err(
                    |e| {
                        if e.kind() == std::io::ErrorKind::NotFound {
                            missing()
                        } else {
                            read(e)
                        }
                    },
                )?;
                Ok(Box::new(File::from(fd)))
            }
            Some(m) => {
                let (offset, size) = *m.get(&name).ok_or_else(missing)?;
                let mut f = File::open(&self.path).map_err(read)?;
                f.seek(SeekFrom::Start(offset)).map_err(read)?;
                Ok(Box::new(f.take(size)))
            }
        }
    }

    /// Member `name`, whole (a JSON document: at most [`MAX_JSON`] bytes).
    pub fn read(&self, name: &str) -> Result<Vec<u8>, ImageError> {
        let mut out = Vec::new();
        self.reader(name)?.take(MAX_JSON + 1).read_to_end(&mut out).map_err(|e| ImageError::Read {
            what: format!("{}: {name}", self.path.display()),
            why: e.to_string(),
        })?;
        if out.len() as u64 > MAX_JSON {
            return Err(ImageError::Format {
                what: format!("{}: {name}", self.path.display()),
                why: format!("larger than {MAX_JSON} bytes"),
            });
        }
        Ok(out)
    }

    /// The member holding blob `digest` (`sha256:HEX`) of an OCI layout.
    pub fn blob_name(digest: &str) -> Result<String, ImageError> {
        let (algo, hex) = digest.split_once(':').unwrap_or(("", ""));
        let ok = algo == "sha256" && hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit());
        if !ok {
            return Err(ImageError::Format { what: digest.to_string(), why: "not a sha256 digest".into() });
        }
        Ok(format!("blobs/sha256/{}", hex.to_ascii_lowercase()))
    }
}
