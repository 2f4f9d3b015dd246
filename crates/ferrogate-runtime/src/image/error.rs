//! Image store errors.

use std::io;
use std::path::PathBuf;

/// Errors of the image store.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// Reference syntax.
    #[error("invalid image reference {reference:?}: {reason}")]
    InvalidReference {
        /// As given.
        reference: String,
        /// Why.
        reason: String,
    },
    /// No such image.
    #[error("image {0} not found in the local image store (load it with `ferrogate images load`)")]
    NotFound(String),
    /// A digest did not verify.
    #[error("digest mismatch for {what}: expected {expected}, got {actual}")]
    DigestMismatch {
        /// Which blob.
        what: String,
        /// Declared.
        expected: String,
        /// Computed.
        actual: String,
    },
    /// A layer entry would escape the layer or write through a symlink.
    #[error("unsafe path in layer {layer}: {path:?}: {reason}")]
    UnsafePath {
        /// Layer diff id.
        layer: String,
        /// Entry path.
        path: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// The archive is not a docker-save or OCI layout, or is inconsistent.
    #[error("invalid image archive: {0}")]
    InvalidArchive(String),
    /// A feature this store does not implement.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// `--tag` with an archive holding several images.
    #[error("extra tags need an archive with exactly one image, this one has {0}")]
    AmbiguousTag(usize),
    /// An image is in use by a task and cannot be removed.
    #[error("image {0} is in use by a task")]
    InUse(String),
    /// JSON of a manifest, config or index.
    #[error("malformed {what}: {source}")]
    Json {
        /// Which document.
        what: String,
        /// Parser error.
        source: serde_json::Error,
    },
    /// Filesystem.
    #[error("{op} {path}: {source}")]
    Io {
        /// What we were doing.
        op: &'static str,
        /// On which path.
        path: PathBuf,
        /// Cause.
        source: io::Error,
    },
}

impl ImageError {
    pub(crate) fn io(
        op: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(io::Error) -> ImageError {
        let path = path.into();
        move |source| ImageError::Io { op, path, source }
    }
}
