//! The content-addressed image store.
//!
//! ```text
//! images/
//!   lock                      flock: exclusive for load/rm, shared for reads
//!   index.json                tags -> image id, image id -> record
//!   blobs/sha256/<hex>        image configs and OCI manifests, verified
//!   layers/<diff_id hex>/     unpacked layers (overlay lower dirs), verified
//!   tmp/                      staging; emptied under the exclusive lock
//! ```
//!
//! The image id is the digest of the image config, as in Docker. Compressed
//! layer blobs are verified while streaming and not kept: only the unpacked
//! layer is stored, under its diff id (the digest of the uncompressed tar).

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::archive::{maybe_gunzip, Source};
use super::budget::{Meter, Metered, UnpackBudget};
use super::digest::{Digest, HashingReader};
use super::error::ImageError;
use super::layer::unpack_layer_metered;
use super::reference::Reference;
use crate::layout::DataLayout;
use crate::sys;

mod load;

/// Runtime-relevant part of an image config (OCI `config` object).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageConfig {
    /// `Entrypoint`.
    #[serde(rename = "Entrypoint", default)]
    pub entrypoint: Option<Vec<String>>,
    /// `Cmd`.
    #[serde(rename = "Cmd", default)]
    pub cmd: Option<Vec<String>>,
    /// `Env` (`KEY=value`).
    #[serde(rename = "Env", default)]
    pub env: Option<Vec<String>>,
    /// `WorkingDir`.
    #[serde(rename = "WorkingDir", default)]
    pub working_dir: Option<String>,
    /// `User`.
    #[serde(rename = "User", default)]
    pub user: Option<String>,
}

#[derive(Deserialize)]
struct RootFs {
    #[serde(default)]
    diff_ids: Vec<Digest>,
}

#[derive(Deserialize)]
struct ConfigFile {
    #[serde(default)]
    config: Option<ImageConfig>,
    rootfs: RootFs,
    #[serde(default)]
    created: Option<String>,
    #[serde(default)]
    architecture: Option<String>,
    #[serde(default)]
    os: Option<String>,
}

/// One stored image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRecord {
    /// Config digest.
    pub id: Digest,
    /// Manifest digest, when loaded from an OCI layout.
    #[serde(default)]
    pub manifest_digest: Option<Digest>,
    /// Layers, bottom first.
    pub diff_ids: Vec<Digest>,
    /// Sum of uncompressed layer sizes.
    pub size: u64,
    /// Config `created`.
    #[serde(default)]
    pub created: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Index {
    version: u32,
    /// `name:tag` → image id.
    tags: BTreeMap<String, Digest>,
    /// image id → record.
    images: BTreeMap<Digest, ImageRecord>,
}

/// An image as `ferrogate images ls` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ImageSummary {
    /// Image id (config digest).
    pub id: String,
    /// Tags pointing at it.
    pub references: Vec<String>,
    /// Number of layers.
    pub layers: usize,
    /// Uncompressed size in bytes.
    pub size: u64,
    /// Creation time from the config.
    pub created: Option<String>,
}

/// What `remove` did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RemoveOutcome {
    /// Tags removed.
    pub untagged: Vec<String>,
    /// Image deleted (when no tag was left).
    pub deleted: Option<String>,
    /// Layer directories deleted.
    pub layers_deleted: usize,
}

/// A resolved image, ready to become a root filesystem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedImage {
    /// Image id.
    pub id: Digest,
    /// Runtime config.
    pub config: ImageConfig,
    /// Unpacked layer directories, bottom first.
    pub layer_dirs: Vec<PathBuf>,
    /// Their diff ids.
    pub diff_ids: Vec<Digest>,
}

/// The image store of one data directory.
#[derive(Clone, Debug)]
pub struct ImageStore {
    root: PathBuf,
    task_records: PathBuf,
    budget: UnpackBudget,
}

/// A held store lock (released on drop).
pub struct StoreLock(#[allow(dead_code)] File);

impl ImageStore {
    /// Opens (creating if needed) the store under `layout`.
    pub fn open(layout: &DataLayout) -> Result<Self, ImageError> {
        let root = layout.images();
        let mut b = fs::DirBuilder::new();
        b.recursive(true).mode(0o700);
        for d in [
            root.clone(),
            root.join("blobs/sha256"),
            root.join("layers"),
            root.join("tmp"),
        ] {
            b.create(&d).map_err(ImageError::io("creating", d))?;
        }
        Ok(ImageStore {
            root,
            task_records: layout.task_records(),
            budget: UnpackBudget::DEFAULT,
        })
    }

    /// Loads with `budget` instead of [`UnpackBudget::DEFAULT`].
    pub fn with_budget(mut self, budget: UnpackBudget) -> Self {
        self.budget = budget;
        self
    }

    /// Holds a shared lock: no load or removal can change the store until the
    /// guard is dropped. The agent holds it from resolving a task's images
    /// until the task record that pins their layers is on disk.
    pub fn read_lock(&self) -> Result<StoreLock, ImageError> {
        self.lock(false)
    }

    fn lock(&self, exclusive: bool) -> Result<StoreLock, ImageError> {
        let p = self.root.join("lock");
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&p)
            .map_err(ImageError::io("opening", &p))?;
        sys::flock(f.as_fd(), exclusive).map_err(ImageError::io("locking", &p))?;
        Ok(StoreLock(f))
    }

    /// Directory of an unpacked layer.
    pub fn layer_dir(&self, diff_id: &Digest) -> PathBuf {
        self.root.join("layers").join(diff_id.hex())
    }

    /// The directory that holds all layer directories (the sandbox mounts
    /// overlays with lower dirs relative to it, to keep the option short).
    pub fn layers_root(&self) -> PathBuf {
        self.root.join("layers")
    }

    fn blob_path(&self, d: &Digest) -> PathBuf {
        self.root.join("blobs/sha256").join(d.hex())
    }

    fn read_index(&self) -> Result<Index, ImageError> {
        let p = self.root.join("index.json");
        match fs::read(&p) {
            Ok(b) => serde_json::from_slice(&b).map_err(|source| ImageError::Json {
                what: p.display().to_string(),
                source,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Index {
                version: 1,
                ..Index::default()
            }),
            Err(e) => Err(ImageError::io("reading", p)(e)),
        }
    }

    fn write_index(&self, idx: &Index) -> Result<(), ImageError> {
        let p = self.root.join("index.json");
        let bytes = serde_json::to_vec_pretty(idx).map_err(|source| ImageError::Json {
            what: "index".into(),
            source,
        })?;
        write_atomic(&self.root.join("tmp"), &p, &bytes)
    }

    fn write_blob(&self, d: &Digest, bytes: &[u8]) -> Result<(), ImageError> {
        let p = self.blob_path(d);
        if p.exists() {
            return Ok(());
        }
        write_atomic(&self.root.join("tmp"), &p, bytes)
    }

    fn clean_tmp(&self) {
        if let Ok(rd) = fs::read_dir(self.root.join("tmp")) {
            for e in rd.flatten() {
                let p = e.path();
                let _ = if p.is_dir() {
                    fs::remove_dir_all(&p)
                } else {
                    fs::remove_file(&p)
                };
            }
        }
    }

    /// All images, sorted by first reference.
    pub fn list(&self) -> Result<Vec<ImageSummary>, ImageError> {
        let _lock = self.lock(false)?;
        let idx = self.read_index()?;
        let mut v: Vec<ImageSummary> = idx.images.values().map(|r| summary(&idx, r)).collect();
        v.sort_by(|a, b| {
            a.references
                .first()
                .cmp(&b.references.first())
                .then(a.id.cmp(&b.id))
        });
        Ok(v)
    }

    fn find(&self, idx: &Index, reference: &str) -> Result<Digest, ImageError> {
        // Image id, full or a unique prefix of at least 12 hex digits.
        let hex = reference.strip_prefix("sha256:").unwrap_or(reference);
        if hex.len() >= 12 && hex.len() <= 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            let hits: Vec<&Digest> = idx
                .images
                .keys()
                .filter(|d| d.hex().starts_with(hex))
                .collect();
            if hits.len() == 1 {
                return Ok(hits[0].clone());
            }
        }
        let r = Reference::parse(reference)?;
        if let Some(d) = &r.digest {
            return idx
                .images
                .values()
                .find(|rec| &rec.id == d || rec.manifest_digest.as_ref() == Some(d))
                .map(|rec| rec.id.clone())
                .ok_or_else(|| ImageError::NotFound(r.to_string()));
        }
        let key = r.tagged().unwrap_or_default();
        idx.tags.get(&key).cloned().ok_or(ImageError::NotFound(key))
    }

    /// Resolves a reference to its config and layer directories.
    pub fn resolve(&self, reference: &str) -> Result<ResolvedImage, ImageError> {
        let _lock = self.lock(false)?;
        let idx = self.read_index()?;
        let id = self.find(&idx, reference)?;
        let rec = idx
            .images
            .get(&id)
            .ok_or_else(|| ImageError::NotFound(reference.to_owned()))?;
        let cfg_path = self.blob_path(&id);
        let bytes = fs::read(&cfg_path).map_err(ImageError::io("reading", &cfg_path))?;
        let cfg = load::parse_config(&bytes, &id.to_string())?;
        let layer_dirs: Vec<PathBuf> = rec.diff_ids.iter().map(|d| self.layer_dir(d)).collect();
        if let Some(missing) = layer_dirs.iter().find(|d| !d.is_dir()) {
            return Err(ImageError::InvalidArchive(format!(
                "layer {} missing from the store",
                missing.display()
            )));
        }
        Ok(ResolvedImage {
            id,
            config: cfg.config.unwrap_or_default(),
            layer_dirs,
            diff_ids: rec.diff_ids.clone(),
        })
    }

    /// Removes a tag (or, given an id, every tag of that image). An image left
    /// without tags is deleted, and so are layers no other image or live task
    /// uses.
    pub fn remove(&self, reference: &str) -> Result<RemoveOutcome, ImageError> {
        let _lock = self.lock(true)?;
        let mut idx = self.read_index()?;
        let id = self.find(&idx, reference)?;
        let mut out = RemoveOutcome::default();
        let by_tag = Reference::parse(reference)
            .ok()
            .filter(|r| r.digest.is_none())
            .and_then(|r| r.tagged())
            .filter(|k| idx.tags.contains_key(k));
        match by_tag {
            Some(k) => {
                idx.tags.remove(&k);
                out.untagged.push(k);
            }
            None => {
                let ks: Vec<String> = idx
                    .tags
                    .iter()
                    .filter(|(_, v)| **v == id)
                    .map(|(k, _)| k.clone())
                    .collect();
                for k in ks {
                    idx.tags.remove(&k);
                    out.untagged.push(k);
                }
            }
        }
        if !idx.tags.values().any(|v| *v == id) {
            if let Some(rec) = idx.images.remove(&id) {
                let in_use = self.layers_in_use();
                let still: BTreeSet<&Digest> = idx
                    .images
                    .values()
                    .flat_map(|r| r.diff_ids.iter())
                    .collect();
                for d in &rec.diff_ids {
                    if !still.contains(d) && !in_use.contains(d.hex()) {
                        let dir = self.layer_dir(d);
                        if fs::remove_dir_all(&dir).is_ok() {
                            out.layers_deleted += 1;
                        }
                    }
                }
                let _ = fs::remove_file(self.blob_path(&id));
                if let Some(m) = &rec.manifest_digest {
                    let _ = fs::remove_file(self.blob_path(m));
                }
                out.deleted = Some(id.to_string());
            }
        }
        self.write_index(&idx)?;
        Ok(out)
    }

    /// Layer hexes referenced by task records of tasks the agent started.
    fn layers_in_use(&self) -> BTreeSet<String> {
        #[derive(Deserialize)]
        struct Rec {
            #[serde(default)]
            layers: Vec<String>,
        }
        let mut s = BTreeSet::new();
        if let Ok(rd) = fs::read_dir(&self.task_records) {
            for e in rd.flatten() {
                if let Ok(b) = fs::read(e.path()) {
                    if let Ok(r) = serde_json::from_slice::<Rec>(&b) {
                        s.extend(r.layers);
                    }
                }
            }
        }
        s
    }
}

fn summary(idx: &Index, rec: &ImageRecord) -> ImageSummary {
    ImageSummary {
        id: rec.id.to_string(),
        references: idx
            .tags
            .iter()
            .filter(|(_, v)| **v == rec.id)
            .map(|(k, _)| k.clone())
            .collect(),
        layers: rec.diff_ids.len(),
        size: rec.size,
        created: rec.created.clone(),
    }
}

fn dir_size(p: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![p.to_owned()];
    while let Some(d) = stack.pop() {
        if let Ok(rd) = fs::read_dir(&d) {
            for e in rd.flatten() {
                if let Ok(m) = e.metadata() {
                    if m.is_dir() {
                        stack.push(e.path());
                    } else {
                        total += m.len();
                    }
                }
            }
        }
    }
    total
}

fn write_atomic(tmp_dir: &Path, dest: &Path, bytes: &[u8]) -> Result<(), ImageError> {
    let mut f = tempfile::NamedTempFile::new_in(tmp_dir)
        .map_err(ImageError::io("creating temp file in", tmp_dir))?;
    f.write_all(bytes)
        .map_err(ImageError::io("writing", dest))?;
    f.as_file()
        .sync_all()
        .map_err(ImageError::io("syncing", dest))?;
    f.persist(dest)
        .map_err(|e| ImageError::io("renaming into", dest)(e.error))?;
    Ok(())
}
