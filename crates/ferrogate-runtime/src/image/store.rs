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

    /// Loads a `docker save` archive or an OCI layout (tar, gzip'd tar, or
    /// directory). `extra_tags` name the image too (the archive must hold
    /// exactly one image then).
    pub fn load(
        &self,
        path: &Path,
        extra_tags: &[String],
    ) -> Result<Vec<ImageSummary>, ImageError> {
        let extra: Vec<Reference> = extra_tags
            .iter()
            .map(|t| Reference::parse(t))
            .collect::<Result<_, _>>()?;
        if let Some(r) = extra.iter().find(|r| r.tag.is_none()) {
            return Err(ImageError::InvalidReference {
                reference: r.to_string(),
                reason: "a tag to add cannot be a digest".into(),
            });
        }
        let _lock = self.lock(true)?;
        self.clean_tmp();
        let tmp = self.root.join("tmp");
        let gunzipped = maybe_gunzip(path, &tmp, self.budget.max_bytes)?;
        let src = Source::open(gunzipped.as_deref().unwrap_or(path))?;
        let loaded = if src.has("manifest.json")? {
            self.load_docker(&src)?
        } else if src.has("index.json")? {
            self.load_oci(&src)?
        } else {
            return Err(ImageError::InvalidArchive(
                "neither manifest.json (docker save) nor index.json (OCI layout) found".into(),
            ));
        };
        if !extra.is_empty() && loaded.len() != 1 {
            return Err(ImageError::AmbiguousTag(loaded.len()));
        }
        let mut idx = self.read_index()?;
        for (rec, tags) in &loaded {
            idx.images.insert(rec.id.clone(), rec.clone());
            for t in tags.iter().chain(extra.iter()) {
                if let Some(k) = t.tagged() {
                    idx.tags.insert(k, rec.id.clone());
                }
            }
        }
        self.write_index(&idx)?;
        Ok(loaded.iter().map(|(rec, _)| summary(&idx, rec)).collect())
    }

    fn load_docker(&self, src: &Source) -> Result<Vec<(ImageRecord, Vec<Reference>)>, ImageError> {
        #[derive(Deserialize)]
        struct Entry {
            #[serde(rename = "Config")]
            config: String,
            #[serde(rename = "RepoTags", default)]
            repo_tags: Option<Vec<String>>,
            #[serde(rename = "Layers")]
            layers: Vec<String>,
        }
        let raw = src.read_small("manifest.json")?;
        let entries: Vec<Entry> =
            serde_json::from_slice(&raw).map_err(|source| ImageError::Json {
                what: "manifest.json".into(),
                source,
            })?;
        check_counts(entries.len(), entries.iter().map(|e| e.layers.len()))?;
        if entries.is_empty() {
            return Err(ImageError::InvalidArchive(
                "manifest.json lists no image".into(),
            ));
        }
        let mut out = Vec::new();
        for e in entries {
            let cfg_bytes = src.read_small(&e.config)?;
            let id = Digest::of(&cfg_bytes);
            // Both layouts name the config by its digest: `<hex>.json`
            // (legacy) or `blobs/sha256/<hex>`.
            let declared = e
                .config
                .rsplit('/')
                .next()
                .map(|n| n.trim_end_matches(".json"))
                .unwrap_or_default();
            if Digest::from_hex(declared).is_ok() && declared != id.hex() {
                return Err(ImageError::DigestMismatch {
                    what: format!("config {}", e.config),
                    expected: format!("sha256:{declared}"),
                    actual: id.to_string(),
                });
            }
            let cfg = parse_config(&cfg_bytes, &e.config)?;
            if cfg.rootfs.diff_ids.len() != e.layers.len() {
                return Err(ImageError::InvalidArchive(format!(
                    "config lists {} layers, manifest.json {}",
                    cfg.rootfs.diff_ids.len(),
                    e.layers.len()
                )));
            }
            let mut size = 0;
            let meter = Meter::new(self.budget);
            for (member, diff_id) in e.layers.iter().zip(&cfg.rootfs.diff_ids) {
                let blob = member
                    .strip_prefix("blobs/sha256/")
                    .and_then(|h| Digest::from_hex(h).ok());
                size += self.import_layer(src, member, blob.as_ref(), diff_id, &meter)?;
            }
            self.write_blob(&id, &cfg_bytes)?;
            let tags = e
                .repo_tags
                .unwrap_or_default()
                .iter()
                .map(|t| Reference::parse(t))
                .collect::<Result<Vec<_>, _>>()?;
            out.push((
                ImageRecord {
                    id,
                    manifest_digest: None,
                    diff_ids: cfg.rootfs.diff_ids,
                    size,
                    created: cfg.created,
                },
                tags,
            ));
        }
        Ok(out)
    }

    fn load_oci(&self, src: &Source) -> Result<Vec<(ImageRecord, Vec<Reference>)>, ImageError> {
        let raw = src.read_small("index.json")?;
        let index: OciIndex = serde_json::from_slice(&raw).map_err(|source| ImageError::Json {
            what: "index.json".into(),
            source,
        })?;
        let mut out = Vec::new();
        check_counts(index.manifests.len(), std::iter::empty())?;
        for desc in index.manifests {
            let names = desc.names();
            let manifest_desc = self.pick_manifest(src, desc)?;
            let mbytes = read_verified(src, &manifest_desc.digest, manifest_desc.size, "manifest")?;
            let manifest: OciManifest =
                serde_json::from_slice(&mbytes).map_err(|source| ImageError::Json {
                    what: format!("manifest {}", manifest_desc.digest),
                    source,
                })?;
            let cfg_bytes =
                read_verified(src, &manifest.config.digest, manifest.config.size, "config")?;
            let cfg = parse_config(&cfg_bytes, &manifest.config.digest.to_string())?;
            check_counts(1, std::iter::once(manifest.layers.len()))?;
            if cfg.rootfs.diff_ids.len() != manifest.layers.len() {
                return Err(ImageError::InvalidArchive(format!(
                    "config lists {} layers, manifest {}",
                    cfg.rootfs.diff_ids.len(),
                    manifest.layers.len()
                )));
            }
            let mut size = 0;
            let meter = Meter::new(self.budget);
            for (l, diff_id) in manifest.layers.iter().zip(&cfg.rootfs.diff_ids) {
                if l.media_type.contains("zstd") {
                    return Err(ImageError::Unsupported(format!(
                        "zstd-compressed layer {}",
                        l.digest
                    )));
                }
                let member = format!("blobs/sha256/{}", l.digest.hex());
                size += self.import_layer(src, &member, Some(&l.digest), diff_id, &meter)?;
            }
            self.write_blob(&manifest.config.digest, &cfg_bytes)?;
            self.write_blob(&manifest_desc.digest, &mbytes)?;
            out.push((
                ImageRecord {
                    id: manifest.config.digest.clone(),
                    manifest_digest: Some(manifest_desc.digest.clone()),
                    diff_ids: cfg.rootfs.diff_ids,
                    size,
                    created: cfg.created,
                },
                names,
            ));
        }
        if out.is_empty() {
            return Err(ImageError::InvalidArchive(
                "index.json lists no manifest".into(),
            ));
        }
        Ok(out)
    }

    /// Follows a nested image index to the manifest for this host's platform.
    fn pick_manifest(
        &self,
        src: &Source,
        desc: OciDescriptor,
    ) -> Result<OciDescriptor, ImageError> {
        let mut d = desc;
        for _ in 0..4 {
            if !d.media_type.contains("index") && !d.media_type.contains("manifest.list") {
                return Ok(d);
            }
            let bytes = read_verified(src, &d.digest, d.size, "image index")?;
            let idx: OciIndex =
                serde_json::from_slice(&bytes).map_err(|source| ImageError::Json {
                    what: format!("index {}", d.digest),
                    source,
                })?;
            let arch = host_arch();
            d = idx
                .manifests
                .into_iter()
                .find(|m| {
                    m.platform
                        .as_ref()
                        .is_none_or(|p| p.os == "linux" && p.architecture == arch)
                })
                .ok_or_else(|| {
                    ImageError::Unsupported(format!("no linux/{arch} manifest in the image index"))
                })?;
        }
        Err(ImageError::InvalidArchive(
            "image indexes nested too deeply".into(),
        ))
    }

    /// Streams one layer: verifies the blob digest (if known) and the diff id,
    /// unpacks into staging within the image's budget (`meter`), renames into
    /// place. Returns the uncompressed size.
    fn import_layer(
        &self,
        src: &Source,
        member: &str,
        blob: Option<&Digest>,
        diff_id: &Digest,
        meter: &Meter,
    ) -> Result<u64, ImageError> {
        let dest = self.layer_dir(diff_id);
        if dest.is_dir() {
            // Unpacked and verified by an earlier load.
            return Ok(dir_size(&dest));
        }
        let staging = tempfile::Builder::new()
            .prefix("layer-")
            .tempdir_in(self.root.join("tmp"))
            .map_err(ImageError::io(
                "creating staging dir in",
                self.root.join("tmp"),
            ))?;
        let mut raw = HashingReader::new(src.open_member(member)?);
        let (diff, size) = {
            let mut br = BufReader::new(&mut raw);
            let head = br
                .fill_buf()
                .map_err(ImageError::io("reading layer", member))?
                .to_vec();
            if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
                return Err(ImageError::Unsupported(format!(
                    "zstd-compressed layer {member}"
                )));
            }
            let inner: Box<dyn Read + '_> = if head.starts_with(&[0x1f, 0x8b]) {
                Box::new(flate2::read::MultiGzDecoder::new(&mut br))
            } else {
                Box::new(&mut br)
            };
            let mut plain = HashingReader::new(inner);
            unpack_layer_metered(&mut plain, staging.path(), diff_id.hex(), meter)?;
            // Every uncompressed byte is counted, including any after the
            // tar's end (the diff id covers them, so they are read).
            meter.entry_data(true);
            std::io::copy(&mut Metered::new(&mut plain, meter), &mut std::io::sink()).map_err(
                |e| {
                    meter
                        .exceeded()
                        .unwrap_or_else(|| ImageError::io("reading layer", member)(e))
                },
            )?;
            let r = plain
                .finish()
                .map_err(ImageError::io("reading layer", member))?;
            // Anything after the compressed stream still belongs to the blob.
            std::io::copy(&mut br, &mut std::io::sink())
                .map_err(ImageError::io("reading layer", member))?;
            r
        };
        let (raw_digest, _) = raw
            .finish()
            .map_err(ImageError::io("reading layer", member))?;
        if let Some(b) = blob {
            if &raw_digest != b {
                return Err(ImageError::DigestMismatch {
                    what: format!("layer blob {member}"),
                    expected: b.to_string(),
                    actual: raw_digest.to_string(),
                });
            }
        }
        if &diff != diff_id {
            return Err(ImageError::DigestMismatch {
                what: format!("layer {member} (diff id)"),
                expected: diff_id.to_string(),
                actual: diff.to_string(),
            });
        }
        // The staging directory was created 0700; the layer root becomes the
        // container's `/` where no upper layer overrides it.
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(staging.path(), fs::Permissions::from_mode(0o755))
            .map_err(ImageError::io("chmod", staging.path()))?;
        let staged = staging.keep();
        fs::rename(&staged, &dest).map_err(ImageError::io("storing layer", &dest))?;
        Ok(size)
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
        let cfg = parse_config(&bytes, &id.to_string())?;
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

/// Most images one archive may hold. Each costs reading and hashing its
/// manifest and config (up to 16 MiB each); real archives hold a few.
const MAX_IMAGES: usize = 256;

/// Most layers one image may have. Docker refuses more than 127 and
/// overlayfs stacks at most 500; each layer listed costs a look into the
/// store even when it is already there.
const MAX_LAYERS: usize = 256;

fn check_counts(images: usize, layers: impl Iterator<Item = usize>) -> Result<(), ImageError> {
    if images > MAX_IMAGES {
        return Err(ImageError::InvalidArchive(format!(
            "{images} images in one archive (at most {MAX_IMAGES})"
        )));
    }
    for n in layers {
        if n > MAX_LAYERS {
            return Err(ImageError::InvalidArchive(format!(
                "an image of {n} layers (at most {MAX_LAYERS})"
            )));
        }
    }
    Ok(())
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

fn parse_config(bytes: &[u8], what: &str) -> Result<ConfigFile, ImageError> {
    let c: ConfigFile = serde_json::from_slice(bytes).map_err(|source| ImageError::Json {
        what: format!("image config {what}"),
        source,
    })?;
    if let Some(os) = &c.os {
        if os != "linux" {
            return Err(ImageError::Unsupported(format!("image for os {os}")));
        }
    }
    if let Some(a) = &c.architecture {
        if a != host_arch() {
            tracing::warn!(architecture = %a, "image architecture differs from the host");
        }
    }
    Ok(c)
}

fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

fn read_verified(
    src: &Source,
    d: &Digest,
    size: Option<u64>,
    what: &str,
) -> Result<Vec<u8>, ImageError> {
    let bytes = src.read_small(&format!("blobs/sha256/{}", d.hex()))?;
    let actual = Digest::of(&bytes);
    if &actual != d {
        return Err(ImageError::DigestMismatch {
            what: what.into(),
            expected: d.to_string(),
            actual: actual.to_string(),
        });
    }
    if let Some(s) = size {
        if s != bytes.len() as u64 {
            return Err(ImageError::InvalidArchive(format!(
                "{what} {d}: size {} != declared {s}",
                bytes.len()
            )));
        }
    }
    Ok(bytes)
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

#[derive(Deserialize)]
struct OciIndex {
    #[serde(default)]
    manifests: Vec<OciDescriptor>,
}

#[derive(Deserialize)]
struct OciPlatform {
    architecture: String,
    os: String,
}

#[derive(Deserialize)]
struct OciDescriptor {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    digest: Digest,
    #[serde(default)]
    size: Option<u64>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(default)]
    platform: Option<OciPlatform>,
}

impl OciDescriptor {
    /// Names from annotations: containerd's full name, or an OCI ref name
    /// that is a full reference (a bare tag names nothing on its own).
    fn names(&self) -> Vec<Reference> {
        let mut v = Vec::new();
        if let Some(n) = self.annotations.get("io.containerd.image.name") {
            if let Ok(r) = Reference::parse(n) {
                v.push(r);
            }
        }
        if let Some(n) = self.annotations.get("org.opencontainers.image.ref.name") {
            if n.contains('/') || n.contains(':') {
                if let Ok(r) = Reference::parse(n) {
                    if !v.contains(&r) {
                        v.push(r);
                    }
                }
            }
        }
        v
    }
}

#[derive(Deserialize)]
struct OciManifest {
    config: OciDescriptor,
    #[serde(default)]
    layers: Vec<OciDescriptor>,
}
