//! Loading images into the store: `docker save` archives and OCI layouts, every blob
//! verified, every layer unpacked once.

use super::*;

impl ImageStore {
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

pub(super) fn parse_config(bytes: &[u8], what: &str) -> Result<ConfigFile, ImageError> {
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
