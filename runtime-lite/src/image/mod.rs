//! Container images: read from an OCI image layout, an OCI archive or a `docker save` archive
//! ([`source`]), resolved to one image with every document checked against its digest
//! ([`manifest`]), its layers applied safely ([`layer`]) into a content-addressed store
//! ([`store`]) that containers run from; what a container of it runs ([`launch`]).

pub mod launch;
pub mod layer;
pub mod manifest;
pub mod source;
pub mod store;
pub mod writable;

/// Why an image cannot be read, checked or stored.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// A file could not be read or written.
    #[error("image: {what}: {why}")]
    Read {
        /// Which.
        what: String,
        /// Why.
        why: String,
    },
    /// A document or archive is not what it should be.
    #[error("image: {what}: {why}")]
    Format {
        /// Which.
        what: String,
        /// Why.
        why: String,
    },
    /// A blob's bytes do not hash to the digest that names it.
    #[error("image: {blob}: digest mismatch: expected {expected}, got {got} (the blob is damaged or was tampered with)")]
    Digest {
        /// The blob.
        blob: String,
        /// What its digest should be.
        expected: String,
        /// What it is.
        got: String,
    },
    /// An entry of a layer is refused or cannot be made.
    #[error("image: layer {blob}: entry {entry}: {why}")]
    Entry {
        /// The layer's blob.
        blob: String,
        /// The entry.
        entry: String,
        /// Why.
        why: String,
    },
    /// The image is for another platform.
    #[error("image: for {image}, and this machine is {host}")]
    Arch {
        /// The image's (or the index's) platforms.
        image: String,
        /// This machine's.
        host: String,
    },
    /// No image of that tag (or several, and no tag given).
    #[error("image: {}; it has {}", if tag.is_empty() { "several images: name one with :TAG".to_string() } else { format!("no image tagged {tag}") }, if known.is_empty() { "no tags".to_string() } else { known.join(", ") })]
    NoSuchTag {
        /// As asked (empty: none asked).
        tag: String,
        /// The tags it has.
        known: Vec<String>,
    },
    /// A container's writable layer lies over the image.
    #[error("image: {image} is used by the container whose layer is {} (enforce rm that container first; a layer no container is left for, of a run killed before it could remove it, can be removed by hand)", layer.display())]
    InUse {
        /// As asked.
        image: String,
        /// The layer.
        layer: std::path::PathBuf,
    },
    /// No stored image of that name.
    #[error("image: no stored image {0} (`enforce images` lists them)")]
    NotStored(String),
}
