//! The local image store: `docker save` archives and OCI image layouts,
//! verified and unpacked once, addressed by content.
//!
//! The functions at this level are what the `ferrogate images` CLI calls;
//! they work whether or not the server is running (a file lock serializes
//! concurrent loads and removals against task starts).

mod archive;
pub mod budget;
pub mod digest;
mod error;
pub mod layer;
pub mod reference;
mod store;
#[cfg(test)]
mod tests;
mod tree;

use std::path::Path;

pub use budget::UnpackBudget;
pub use digest::Digest;
pub use error::{Budget, ImageError};
pub use reference::Reference;
pub use store::{ImageConfig, ImageStore, ImageSummary, RemoveOutcome, ResolvedImage, StoreLock};

use crate::layout::DataLayout;

/// `ferrogate images load [--tag NAME]... FILE`.
pub fn load(
    data_dir: &Path,
    path: &Path,
    extra_tags: &[String],
) -> Result<Vec<ImageSummary>, ImageError> {
    ImageStore::open(&DataLayout::new(data_dir))?.load(path, extra_tags)
}

/// `ferrogate images ls`.
pub fn list(data_dir: &Path) -> Result<Vec<ImageSummary>, ImageError> {
    ImageStore::open(&DataLayout::new(data_dir))?.list()
}

/// `ferrogate images rm REF`.
pub fn remove(data_dir: &Path, reference: &str) -> Result<RemoveOutcome, ImageError> {
    ImageStore::open(&DataLayout::new(data_dir))?.remove(reference)
}

/// Resolves a reference to its config and layer directories.
pub fn resolve(data_dir: &Path, reference: &str) -> Result<ResolvedImage, ImageError> {
    ImageStore::open(&DataLayout::new(data_dir))?.resolve(reference)
}
