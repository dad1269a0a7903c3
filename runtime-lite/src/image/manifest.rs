//! From an image source to one image: its configuration and its layers, each JSON document
//! checked against the digest that names it. An OCI index is followed to the manifest of the
//! tag asked for (or its only one), through a multi-arch index to this machine's platform; a
//! `docker save` archive's `manifest.json` to the entry of the tag. Layers are checked as they
//! are unpacked ([`super::layer`]).

use std::collections::BTreeMap;

use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use super::source::{Kind, Source};
use super::ImageError;

/// The annotation an OCI index names a manifest's tag with.
const REF_NAME: &str = "org.opencontainers.image.ref.name";
const INDEX: &str = "application/vnd.oci.image.index.v1+json";
const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// An OCI descriptor (the fields used).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor {
    #[serde(default)]
    media_type: String,
    digest: String,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(default)]
    platform: Option<Platform>,
}

#[derive(Clone, Debug, Deserialize)]
struct Platform {
    architecture: String,
    os: String,
    #[serde(default)]
    variant: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Index {
    manifests: Vec<Descriptor>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Manifest {
    #[serde(default)]
    media_type: String,
    config: Descriptor,
    layers: Vec<Descriptor>,
}

/// One entry of a `docker save` archive's `manifest.json`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

/// An image's configuration, as the OCI image spec and Docker write it (the fields used).
#[derive(Clone, Debug, Default, Deserialize, serde::Serialize, PartialEq, Eq)]
pub struct Config {
    /// `amd64`, `arm64`, ...
    #[serde(default)]
    pub architecture: String,
    /// `linux`.
    #[serde(default)]
    pub os: String,
    /// How a container of it runs.
    #[serde(default)]
    pub config: RunConfig,
    /// The layers' digests once uncompressed.
    pub rootfs: RootFs,
}

/// The run settings of an image (`config` of its configuration).
#[derive(Clone, Debug, Default, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct RunConfig {
    /// `name`, `uid`, `name:group`, `uid:gid`.
    #[serde(default)]
    pub user: Option<String>,
    /// `NAME=value`.
    #[serde(default)]
    pub env: Option<Vec<String>>,
    /// Exec form.
    #[serde(default)]
    pub entrypoint: Option<Vec<String>>,
    /// Exec form.
    #[serde(default)]
    pub cmd: Option<Vec<String>>,
    /// Absolute.
    #[serde(default)]
    pub working_dir: Option<String>,
    /// `80/tcp` → `{}`.
    #[serde(default)]
    pub exposed_ports: Option<BTreeMap<String, serde_json::Value>>,
    /// `SIGTERM`, `15`.
    #[serde(default)]
    pub stop_signal: Option<String>,
    /// Labels.
    #[serde(default)]
    pub labels: Option<BTreeMap<String, String>>,
}

/// The layers' uncompressed digests.
#[derive(Clone, Debug, Default, Deserialize, serde::Serialize, PartialEq, Eq)]
pub struct RootFs {
    /// `layers`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// In order, lowest first.
    pub diff_ids: Vec<String>,
}

/// One layer: where it is in the source and what its bytes must hash to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerRef {
    /// The member holding it.
    pub member: String,
    /// The digest of the member's bytes, when the source names it.
    pub digest: Option<String>,
    /// The digest of the uncompressed tar.
    pub diff_id: String,
}

/// One image, resolved and its documents checked.
#[derive(Clone, Debug)]
pub struct Resolved {
    /// The digest of its configuration (`sha256:...`): the image's id, as Docker's.
    pub id: String,
    /// Its configuration.
    pub config: Config,
    /// Its layers, lowest first.
    pub layers: Vec<LayerRef>,
    /// The names it is tagged with in the source.
    pub tags: Vec<String>,
}

/// `sha256:HEX` of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

/// This machine's architecture as images name it.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

fn json<T: serde::de::DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, ImageError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ImageError::Format { what: what.to_string(), why: e.to_string() })
}

/// The blob `d` names, checked against its digest.
fn blob(src: &Source, d: &Descriptor) -> Result<Vec<u8>, ImageError> {
    let name = Source::blob_name(&d.digest)?;
    let bytes = src.read(&name)?;
    let got = sha256(&bytes);
    if !got.eq_ignore_ascii_case(&d.digest) {
        return Err(ImageError::Digest { blob: name, expected: d.digest.clone(), got });
    }
    Ok(bytes)
}

/// The image `tag` names in `src` (its only one when `tag` is `None`).
pub fn resolve(src: &Source, tag: Option<&str>) -> Result<Resolved, ImageError> {
    let r = match src.kind {
        Kind::Oci => oci(src, tag)?,
        Kind::Docker => docker(src, tag)?,
    };
    let c = &r.config;
    if c.architecture != host_arch() || (!c.os.is_empty() && c.os != "linux") {
        return Err(ImageError::Arch {
            image: format!("{}/{}", c.os, c.architecture),
            host: format!("linux/{}", host_arch()),
        });
    }
    Ok(r)
}

/// Whether descriptor `d` is tagged `tag` (`name:tag` or just `tag`).
fn tagged(d: &Descriptor, tag: &str) -> bool {
    let names = [d.annotations.get(REF_NAME), d.annotations.get("io.containerd.image.name")];
    names.into_iter().flatten().any(|n| n == tag || n.rsplit_once(':').is_some_and(|(_, t)| t == tag))
}

fn oci(src: &Source, tag: Option<&str>) -> Result<Resolved, ImageError> {
    let index: Index = json("index.json", &src.read("index.json")?)?;
    let tags: Vec<String> =
        index.manifests.iter().filter_map(|d| d.annotations.get(REF_NAME).cloned()).collect();
    let chosen = match tag {
        Some(t) => index
            .manifests
            .iter()
            .find(|d| tagged(d, t))
            .ok_or_else(|| ImageError::NoSuchTag { tag: t.to_string(), known: tags.clone() })?,
        None if index.manifests.len() == 1 => &index.manifests[0],
        None => {
            return Err(ImageError::NoSuchTag { tag: String::new(), known: tags });
        }
    };
    let mut d = chosen.clone();
    // A multi-arch index: this machine's platform.
    for _ in 0..4 {
        if d.media_type != INDEX && d.media_type != DOCKER_LIST {
            break;
        }
        let inner: Index = json(&d.digest, &blob(src, &d)?)?;
        let found = inner.manifests.iter().find(|m| {
            m.platform.as_ref().is_some_and(|p| {
                p.os == "linux"
                    && p.architecture == host_arch()
                    && p.variant.as_deref().is_none_or(|v| v != "attestation")
            })
        });
        let arches: Vec<String> = inner
            .manifests
            .iter()
            .filter_map(|m| m.platform.as_ref().map(|p| format!("{}/{}", p.os, p.architecture)))
            .collect();
        d = found.cloned().ok_or_else(|| ImageError::Arch {
            image: arches.join(", "),
            host: format!("linux/{}", host_arch()),
        })?;
    }
    let manifest: Manifest = json(&d.digest, &blob(src, &d)?)?;
    let _ = manifest.media_type;
    let config_bytes = blob(src, &manifest.config)?;
    let config: Config = json(&manifest.config.digest, &config_bytes)?;
    if config.rootfs.diff_ids.len() != manifest.layers.len() {
        return Err(ImageError::Format {
            what: manifest.config.digest.clone(),
            why: format!("{} layers, {} diff_ids", manifest.layers.len(), config.rootfs.diff_ids.len()),
        });
    }
    let layers = manifest
        .layers
        .iter()
        .zip(&config.rootfs.diff_ids)
        .map(|(l, diff)| {
            Ok(LayerRef {
                member: Source::blob_name(&l.digest)?,
                digest: Some(l.digest.clone()),
                diff_id: diff.clone(),
            })
        })
        .collect::<Result<_, ImageError>>()?;
    let tags = chosen.annotations.get(REF_NAME).cloned().into_iter().collect();
    Ok(Resolved { id: sha256(&config_bytes), config, layers, tags })
}

fn docker(src: &Source, tag: Option<&str>) -> Result<Resolved, ImageError> {
    let entries: Vec<DockerEntry> = json("manifest.json", &src.read("manifest.json")?)?;
    let all_tags: Vec<String> =
        entries.iter().flat_map(|e| e.repo_tags.clone().unwrap_or_default()).collect();
    let has = |e: &DockerEntry, t: &str| {
        e.repo_tags.iter().flatten().any(|n| n == t || n.rsplit_once(':').is_some_and(|(_, x)| x == t))
    };
    let entry = match tag {
        Some(t) => entries.iter().find(|e| has(e, t)),
        None if entries.len() == 1 => entries.first(),
        None => None,
    }
    .ok_or_else(|| ImageError::NoSuchTag { tag: tag.unwrap_or_default().to_string(), known: all_tags })?;
    let config_bytes = src.read(&entry.config)?;
    let id = sha256(&config_bytes);
    // The configuration's name is its digest (`HEX.json`, or `blobs/sha256/HEX`).
    let named = entry.config.trim_end_matches(".json").rsplit('/').next().unwrap_or("").to_ascii_lowercase();
    if format!("sha256:{named}") != id {
        return Err(ImageError::Digest {
            blob: entry.config.clone(),
            expected: format!("sha256:{named}"),
            got: id,
        });
    }
    let config: Config = json(&entry.config, &config_bytes)?;
    if config.rootfs.diff_ids.len() != entry.layers.len() {
        return Err(ImageError::Format {
            what: entry.config.clone(),
            why: format!("{} layers, {} diff_ids", entry.layers.len(), config.rootfs.diff_ids.len()),
        });
    }
    let layers = entry
        .layers
        .iter()
        .zip(&config.rootfs.diff_ids)
        .map(|(m, diff)| {
            let digest = m.strip_prefix("blobs/sha256/").map(|h| format!("sha256:{h}"));
            LayerRef { member: m.clone(), digest, diff_id: diff.clone() }
        })
        .collect();
    Ok(Resolved { id, config, layers, tags: entry.repo_tags.clone().unwrap_or_default() })
}
