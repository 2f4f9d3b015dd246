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
    /// Unpacking the image would exceed its budget (see `UnpackBudget`).
    #[error("image exceeds the {budget} budget of {} ({limit} bytes): {}; nothing of it was kept", human(*limit), budget.counts())]
    BudgetExceeded {
        /// Which count.
        budget: Budget,
        /// Its limit in bytes.
        limit: u64,
    },
    /// An OCI layout (or docker-save directory) member that resolves outside
    /// the layout, through a symlink or `..`. It is not read: nothing about
    /// the file it points at (not even its digest) reaches an error.
    #[error("member {member:?} of the image layout leaves the layout (a symlink or '..' pointing outside it)")]
    LeavesLayout {
        /// Member name, as the manifest gives it.
        member: String,
    },
    /// A file system operation of the layer unpacker failed.
    #[error("unpacking layer {layer}: {op} {path:?}: {source}")]
    Unpack {
        /// Layer diff id.
        layer: String,
        /// What we were doing.
        op: &'static str,
        /// Entry path inside the layer.
        path: String,
        /// Cause.
        source: io::Error,
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

/// The counts of an [`UnpackBudget`](super::budget::UnpackBudget).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Budget {
    /// File data written plus a fixed cost per entry.
    Unpacked,
    /// File lengths with holes; uncompressed layer streams.
    Logical,
    /// Tar metadata before one entry (`budget::MAX_METADATA`, fixed).
    Metadata,
}

impl Budget {
    fn counts(self) -> &'static str {
        match self {
            Budget::Unpacked => {
                "file data written (holes excluded) plus 4 KiB per entry, over all layers unpacked for it"
            }
            Budget::Logical => {
                "file lengths (holes included), or uncompressed layer streams, over all layers unpacked for it"
            }
            Budget::Metadata => "tar headers, long names and PAX records before one entry of a layer",
        }
    }
}

impl std::fmt::Display for Budget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Budget::Unpacked => "unpacked-size",
            Budget::Logical => "logical-size",
            Budget::Metadata => "tar-metadata",
        })
    }
}

/// `32 GiB`, `1.5 MiB`, `512 bytes`.
fn human(n: u64) -> String {
    const UNITS: [(&str, u32); 4] = [("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)];
    for (unit, shift) in UNITS {
        let base = 1u64 << shift;
        if n >= base {
            return if n % base == 0 {
                format!("{} {unit}", n >> shift)
            } else {
                // Display only; one decimal is enough.
                #[allow(clippy::cast_precision_loss)]
                let v = n as f64 / base as f64;
                format!("{v:.1} {unit}")
            };
        }
    }
    format!("{n} bytes")
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
