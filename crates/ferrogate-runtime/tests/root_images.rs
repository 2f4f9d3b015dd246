//! Attacks on `ferrogate images load` by an image author (issue 19, found
//! items 1, 7 and 9), each through the public loader, as root, the way the
//! CLI runs it. Each test fails on the loader that predates the fix.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use ferrogate_runtime::image::{self, Digest};
use tar::EntryType as T;

/// (path, kind, mode, data, link target).
type Entry<'a> = (&'a str, T, u32, &'a [u8], Option<&'a str>);

/// A layer of raw entries; paths are written as they are, without the
/// builder's checks.
fn layer(entries: &[Entry<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, kind, mode, data, link) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(*kind);
        h.set_mode(*mode);
        h.set_size(data.len() as u64);
        h.set_mtime(1_700_000_000);
        h.as_old_mut().name[..path.len()].copy_from_slice(path.as_bytes());
        if let Some(l) = link {
            h.set_link_name(l).unwrap();
        }
        h.set_cksum();
        b.append(&h, *data).unwrap();
    }
    b.into_inner().unwrap()
}

fn add(b: &mut tar::Builder<Vec<u8>>, name: &str, data: &[u8]) {
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_entry_type(T::Regular);
    b.append_data(&mut h, name, data).unwrap();
}

/// A `docker save` archive of one image whose config declares `diff_id`
/// for `layer` (pass the layer's real digest, or another to make it corrupt).
fn docker_archive(dest: &Path, layer: &[u8], diff_id: &Digest) {
    let cfg = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }))
    .unwrap();
    let cfg_name = format!("{}.json", Digest::of(&cfg).hex());
    let mut b = tar::Builder::new(Vec::new());
    add(&mut b, "l/layer.tar", layer);
    add(&mut b, &cfg_name, &cfg);
    let manifest = serde_json::json!([{"Config": cfg_name, "RepoTags": ["evil:1"], "Layers": ["l/layer.tar"]}]);
    add(
        &mut b,
        "manifest.json",
        &serde_json::to_vec(&manifest).unwrap(),
    );
    fs::write(dest, b.into_inner().unwrap()).unwrap();
}

/// A 12-byte tar number: octal, or base-256 when it does not fit.
fn num12(v: u64) -> [u8; 12] {
    let mut out = [0u8; 12];
    if v < 8u64.pow(11) {
        out[..11].copy_from_slice(format!("{v:011o}").as_bytes());
    } else {
        out[0] = 0x80;
        out[4..].copy_from_slice(&v.to_be_bytes());
    }
    out
}

/// A layer with one GNU sparse file of `real_size` bytes holding `data` at
/// its end: a few hundred bytes of archive.
fn sparse_layer(path: &str, real_size: u64, data: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(T::GNUSparse);
    h.set_path(path).unwrap();
    h.set_mode(0o644);
    h.set_size(data.len() as u64);
    h.set_mtime(1_700_000_000);
    let g = h.as_gnu_mut().unwrap();
    g.sparse[0].offset = num12(real_size - data.len() as u64);
    g.sparse[0].numbytes = num12(data.len() as u64);
    g.realsize = num12(real_size);
    h.set_cksum();
    b.append(&h, data).unwrap();
    b.into_inner().unwrap()
}

/// Found item 1: a directory `x` of mode 04777 followed by a symlink
/// `x -> <host file>` made the host file `-rwsrwxrwx`, before any digest
/// was checked. Also through an intermediate component: `a/b` (0777)
/// followed by `a -> <host dir>` changed `<host dir>/b`.
#[test]
fn a_layer_cannot_change_the_mode_of_a_host_file() {
    if !common::require_root("a_layer_cannot_change_the_mode_of_a_host_file") {
        return;
    }
    let data = common::data_dir();
    let host = tempfile::tempdir().unwrap();
    let victim = host.path().join("victim");
    fs::write(&victim, b"a host file").unwrap();
    fs::set_permissions(&victim, fs::Permissions::from_mode(0o644)).unwrap();
    let victim_dir = host.path().join("b");
    fs::create_dir(&victim_dir).unwrap();
    fs::set_permissions(&victim_dir, fs::Permissions::from_mode(0o700)).unwrap();
    let before = (
        fs::metadata(&victim).unwrap().mtime(),
        fs::metadata(&victim_dir).unwrap().mtime(),
    );
    let l = layer(&[
        ("x", T::Directory, 0o4777, b"", None),
        ("x", T::Symlink, 0o777, b"", Some(victim.to_str().unwrap())),
        ("a", T::Directory, 0o755, b"", None),
        ("a/b", T::Directory, 0o777, b"", None),
        (
            "a",
            T::Symlink,
            0o777,
            b"",
            Some(host.path().to_str().unwrap()),
        ),
    ]);
    let check = |what: &str| {
        let m = fs::metadata(&victim).unwrap();
        assert_eq!(m.mode() & 0o7777, 0o644, "{what}: host file mode changed");
        let d = fs::metadata(&victim_dir).unwrap();
        assert_eq!(
            d.mode() & 0o7777,
            0o700,
            "{what}: host directory mode changed"
        );
        assert_eq!((m.mtime(), d.mtime()), before, "{what}: host times changed");
    };
    // A corrupt archive (wrong diff id): refused, and refused harmlessly.
    let corrupt = data.path().join("corrupt.tar");
    docker_archive(&corrupt, &l, &Digest::of(b"something else"));
    let r = image::load(data.path(), &corrupt, &[]);
    assert!(
        matches!(r, Err(image::ImageError::DigestMismatch { .. })),
        "{r:?}"
    );
    check("corrupt archive");
    // A valid one: loads, with the links stored as links.
    let valid = data.path().join("valid.tar");
    docker_archive(&valid, &l, &Digest::of(&l));
    image::load(data.path(), &valid, &[]).unwrap();
    check("valid archive");
    let r = image::resolve(data.path(), "evil:1").unwrap();
    assert_eq!(fs::read_link(r.layer_dirs[0].join("x")).unwrap(), victim);
}

/// Found item 7: a GNU sparse entry was expanded in full (a 20 KB archive
/// wrote 4 GiB). The file must keep its length and its holes.
#[test]
fn a_sparse_file_stays_sparse() {
    if !common::require_root("a_sparse_file_stays_sparse") {
        return;
    }
    let data = common::data_dir();
    let real = 4u64 << 30;
    let l = sparse_layer("big", real, &[0x5a; 512]);
    assert!(l.len() < 20_000);
    let a = data.path().join("sparse.tar");
    docker_archive(&a, &l, &Digest::of(&l));
    let t = std::time::Instant::now();
    image::load(data.path(), &a, &[]).unwrap();
    let r = image::resolve(data.path(), "evil:1").unwrap();
    let m = fs::metadata(r.layer_dirs[0].join("big")).unwrap();
    assert_eq!(m.len(), real);
    assert!(
        m.blocks() * 512 <= 1 << 20,
        "a {} B archive allocated {} bytes on the host",
        l.len(),
        m.blocks() * 512
    );
    eprintln!("sparse 4 GiB file loaded in {:?}", t.elapsed());
}

/// Item 7's class: nothing bounds the unpacked size. A sparse file longer
/// than the logical budget is refused before anything is written, with an
/// error that names the budget.
#[test]
fn an_image_larger_than_the_budget_is_refused() {
    if !common::require_root("an_image_larger_than_the_budget_is_refused") {
        return;
    }
    let data = common::data_dir();
    let l = sparse_layer("huge", 1 << 50, &[1; 512]);
    let a = data.path().join("huge.tar");
    docker_archive(&a, &l, &Digest::of(&l));
    let e = image::load(data.path(), &a, &[]).unwrap_err();
    assert!(matches!(e, image::ImageError::BudgetExceeded { .. }), "{e}");
    assert!(e.to_string().contains("128 GiB"), "{e}");
    assert!(image::list(data.path()).unwrap().is_empty());
    assert_eq!(
        fs::read_dir(data.path().join("images/layers"))
            .unwrap()
            .count(),
        0
    );
}

/// Writes an OCI layout at `dir` with one empty layer; returns the config
/// blob's path (to be replaced by the caller).
fn oci_layout(dir: &Path) -> std::path::PathBuf {
    let blobs = dir.join("blobs/sha256");
    fs::create_dir_all(&blobs).unwrap();
    let put = |bytes: &[u8]| {
        let d = Digest::of(bytes);
        fs::write(blobs.join(d.hex()), bytes).unwrap();
        d
    };
    let l = layer(&[("f", T::Regular, 0o644, b"x", None)]);
    let cfg = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [Digest::of(&l)]},
    }))
    .unwrap();
    let cfg_d = put(&cfg);
    let l_d = put(&l);
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cfg_d, "size": cfg.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": l_d, "size": l.len()}],
    }))
    .unwrap();
    let md = put(&manifest);
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": manifest.len(),
        "annotations": {"io.containerd.image.name": "example.com/evil:1"}}]});
    fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    blobs.join(cfg_d.hex())
}

/// Found item 9 (OCI part): a layout's blob could be a symlink to any host
/// file, which was read, hashed, and its SHA-256 printed in the mismatch
/// error. Needs no root: an unprivileged user's own files are as exposed.
#[test]
fn an_oci_layout_cannot_read_host_files() {
    let data = common::data_dir();
    let host = tempfile::tempdir().unwrap();
    let secret = host.path().join("secret");
    fs::write(&secret, b"host secret: hunter2").unwrap();
    let secret_digest = Digest::of(&fs::read(&secret).unwrap());
    for how in ["absolute", "relative", "index"] {
        let dir = data.path().join(format!("oci-{how}"));
        let cfg = oci_layout(&dir);
        match how {
            "absolute" => {
                fs::remove_file(&cfg).unwrap();
                std::os::unix::fs::symlink(&secret, &cfg).unwrap();
            }
            "relative" => {
                fs::remove_file(&cfg).unwrap();
                // blobs/sha256/<cfg> -> ../../../<host>/secret
                let up = Path::new("../../..").join(pathdiff(&secret, data.path()));
                std::os::unix::fs::symlink(up, &cfg).unwrap();
            }
            _ => {
                fs::remove_file(dir.join("index.json")).unwrap();
                std::os::unix::fs::symlink(&secret, dir.join("index.json")).unwrap();
            }
        }
        let e = image::load(data.path(), &dir, &[]).unwrap_err();
        let msg = e.to_string();
        assert!(
            !msg.contains(secret_digest.hex()) && !msg.contains("hunter2"),
            "{how}: the error reveals the host file: {msg}"
        );
        assert!(
            matches!(e, image::ImageError::LeavesLayout { .. }),
            "{how}: {msg}"
        );
    }
    assert!(image::list(data.path()).unwrap().is_empty());
}

/// `secret`'s path relative to `base`'s parent's parent... as `..` steps
/// from `base`: enough `..` to reach `/`, then the absolute path.
fn pathdiff(target: &Path, base: &Path) -> std::path::PathBuf {
    let depth = base.components().count();
    let mut p = std::path::PathBuf::new();
    for _ in 0..depth {
        p.push("..");
    }
    p.join(target.strip_prefix("/").unwrap())
}

/// Links that stay inside a layout still work (`docker save` links
/// identical layers to one copy).
#[test]
fn links_inside_a_layout_still_load() {
    let data = common::data_dir();
    let dir = data.path().join("oci");
    let cfg = oci_layout(&dir);
    let name = cfg.file_name().unwrap().to_owned();
    fs::rename(&cfg, dir.join("config.json")).unwrap();
    std::os::unix::fs::symlink(
        Path::new("../..").join("config.json"),
        dir.join("blobs/sha256").join(name),
    )
    .unwrap();
    let out = image::load(data.path(), &dir, &[]).unwrap();
    assert_eq!(out[0].references, ["example.com/evil:1"]);
}
