//! Store tests on archives built in memory (no root needed).

use std::io::Write;

use super::*;

/// A layer tar from (path, contents) files.
pub(crate) fn layer_tar(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (p, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o755);
        h.set_mtime(1);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, p, *data).unwrap();
    }
    b.into_inner().unwrap()
}

fn add(b: &mut tar::Builder<Vec<u8>>, name: &str, data: &[u8]) {
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    b.append_data(&mut h, name, data).unwrap();
}

fn config_json(diff_ids: &[Digest]) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Entrypoint": ["/bin/app"], "Cmd": ["--x"], "Env": ["PATH=/bin", "A=1"], "WorkingDir": "/w", "User": "1000:1000"},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }))
    .unwrap()
}

/// A docker-save archive with one image of the given layers.
pub(crate) fn docker_archive(layers: &[Vec<u8>], tags: &[&str]) -> Vec<u8> {
    let diff_ids: Vec<Digest> = layers.iter().map(|l| Digest::of(l)).collect();
    let cfg = config_json(&diff_ids);
    let cfg_name = format!("{}.json", Digest::of(&cfg).hex());
    let mut b = tar::Builder::new(Vec::new());
    let mut names = Vec::new();
    for (i, l) in layers.iter().enumerate() {
        let n = format!("l{i}/layer.tar");
        add(&mut b, &n, l);
        names.push(n);
    }
    add(&mut b, &cfg_name, &cfg);
    let manifest = serde_json::json!([{"Config": cfg_name, "RepoTags": tags, "Layers": names}]);
    add(
        &mut b,
        "manifest.json",
        &serde_json::to_vec(&manifest).unwrap(),
    );
    b.into_inner().unwrap()
}

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// An OCI layout directory with gzip layers.
pub(crate) fn oci_dir(dir: &std::path::Path, layers: &[Vec<u8>], name: &str) {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |bytes: &[u8]| {
        let d = Digest::of(bytes);
        std::fs::write(blobs.join(d.hex()), bytes).unwrap();
        d
    };
    let diff_ids: Vec<Digest> = layers.iter().map(|l| Digest::of(l)).collect();
    let cfg = config_json(&diff_ids);
    let cfg_d = put(&cfg);
    let mut ldescs = Vec::new();
    for l in layers {
        let z = gz(l);
        let d = put(&z);
        ldescs.push(serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": z.len()}));
    }
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cfg_d, "size": cfg.len()},
        "layers": ldescs,
    }))
    .unwrap();
    let md = put(&manifest);
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": manifest.len(),
        "annotations": {"io.containerd.image.name": name, "org.opencontainers.image.ref.name": "latest"}}]});
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
}

fn store() -> (tempfile::TempDir, ImageStore) {
    let d = tempfile::tempdir().unwrap();
    let s = ImageStore::open(&DataLayout::new(d.path())).unwrap();
    (d, s)
}

#[test]
fn docker_archive_loads_resolves_and_dedupes_layers() {
    let (d, s) = store();
    let l1 = layer_tar(&[("bin/app", b"#!app")]);
    let l2 = layer_tar(&[("etc/conf", b"x=1")]);
    let a = d.path().join("a.tar");
    std::fs::write(
        &a,
        docker_archive(&[l1.clone(), l2.clone()], &["busybox:latest"]),
    )
    .unwrap();
    let out = s
        .load(&a, &["public.ecr.aws/docker/library/busybox:latest".into()])
        .unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(
        out[0].references,
        [
            "docker.io/library/busybox:latest",
            "public.ecr.aws/docker/library/busybox:latest"
        ]
    );
    let r = s.resolve("busybox").unwrap();
    assert_eq!(
        r.config.entrypoint.as_deref(),
        Some(&["/bin/app".to_string()][..])
    );
    assert_eq!(r.config.user.as_deref(), Some("1000:1000"));
    assert_eq!(r.layer_dirs.len(), 2);
    assert_eq!(
        std::fs::read(r.layer_dirs[0].join("bin/app")).unwrap(),
        b"#!app"
    );
    assert_eq!(
        s.resolve("public.ecr.aws/docker/library/busybox:latest")
            .unwrap()
            .id,
        r.id
    );
    assert_eq!(s.resolve(&r.id.to_string()).unwrap().id, r.id);
    assert_eq!(s.resolve(&r.id.hex()[..12]).unwrap().id, r.id);
    assert_eq!(s.resolve(&format!("busybox@{}", r.id)).unwrap().id, r.id);
    assert!(matches!(
        s.resolve("busybox:other"),
        Err(ImageError::NotFound(_))
    ));

    // Second image sharing l1: the layer is not unpacked again.
    let a2 = d.path().join("b.tar");
    std::fs::write(&a2, docker_archive(std::slice::from_ref(&l1), &["other:1"])).unwrap();
    let before = std::fs::metadata(&r.layer_dirs[0])
        .unwrap()
        .modified()
        .unwrap();
    s.load(&a2, &[]).unwrap();
    assert_eq!(
        std::fs::metadata(&r.layer_dirs[0])
            .unwrap()
            .modified()
            .unwrap(),
        before
    );
    assert_eq!(s.list().unwrap().len(), 2);

    // Removing one tag keeps the image; removing the last deletes it but not
    // the shared layer.
    let o = s.remove("busybox").unwrap();
    assert_eq!(o.deleted, None);
    let o = s
        .remove("public.ecr.aws/docker/library/busybox:latest")
        .unwrap();
    assert!(o.deleted.is_some());
    assert_eq!(o.layers_deleted, 1);
    assert!(r.layer_dirs[0].is_dir() && !r.layer_dirs[1].exists());
    assert_eq!(s.list().unwrap().len(), 1);
}

#[test]
fn gzip_wrapped_docker_archive_loads() {
    let (d, s) = store();
    let a = d.path().join("a.tar.gz");
    std::fs::write(
        &a,
        gz(&docker_archive(&[layer_tar(&[("f", b"1")])], &["x:1"])),
    )
    .unwrap();
    assert_eq!(
        s.load(&a, &[]).unwrap()[0].references,
        ["docker.io/library/x:1"]
    );
}

#[test]
fn oci_layout_dir_and_tar_load() {
    let (d, s) = store();
    let dir = d.path().join("oci");
    oci_dir(
        &dir,
        &[layer_tar(&[("bin/app", b"oci")])],
        "example.com/team/app:2",
    );
    let out = s.load(&dir, &[]).unwrap();
    assert_eq!(out[0].references, ["example.com/team/app:2"]);
    let r = s.resolve("example.com/team/app:2").unwrap();
    assert_eq!(
        std::fs::read(r.layer_dirs[0].join("bin/app")).unwrap(),
        b"oci"
    );
    // The same layout as a tar.
    let mut b = tar::Builder::new(Vec::new());
    b.append_dir_all(".", &dir).unwrap();
    let t = d.path().join("oci.tar");
    std::fs::write(&t, b.into_inner().unwrap()).unwrap();
    let out = s.load(&t, &["again:1".into()]).unwrap();
    assert!(out[0]
        .references
        .contains(&"docker.io/library/again:1".to_string()));
}

#[test]
fn digest_failures_are_refused_and_leave_nothing() {
    let (d, s) = store();
    // Tamper with the layer after the config recorded its diff id.
    let good = layer_tar(&[("f", b"good")]);
    let mut arch = docker_archive(std::slice::from_ref(&good), &["t:1"]);
    let pos = arch.windows(4).position(|w| w == b"good").unwrap();
    arch[pos..pos + 4].copy_from_slice(b"evil");
    let a = d.path().join("a.tar");
    std::fs::write(&a, &arch).unwrap();
    let e = s.load(&a, &[]).unwrap_err();
    assert!(matches!(e, ImageError::DigestMismatch { .. }), "{e}");
    assert!(s.list().unwrap().is_empty());
    assert_eq!(
        std::fs::read_dir(d.path().join("images/layers"))
            .unwrap()
            .count(),
        0
    );

    // Tampered config (name says one digest, content is another).
    let mut arch = docker_archive(&[good], &["t:1"]);
    let pos = arch.windows(8).position(|w| w == b"/bin/app").unwrap();
    arch[pos..pos + 8].copy_from_slice(b"/bin/bad");
    std::fs::write(&a, &arch).unwrap();
    assert!(matches!(
        s.load(&a, &[]).unwrap_err(),
        ImageError::DigestMismatch { .. }
    ));

    // OCI: a corrupted compressed blob.
    let dir = d.path().join("oci");
    oci_dir(&dir, &[layer_tar(&[("f", b"x")])], "x.io/a:1");
    for e in std::fs::read_dir(dir.join("blobs/sha256"))
        .unwrap()
        .flatten()
    {
        let b = std::fs::read(e.path()).unwrap();
        if b.starts_with(&[0x1f, 0x8b]) {
            let mut b2 = b.clone();
            let n = b2.len();
            b2[n - 9] ^= 0xff; // inside the gzip trailer/data
            std::fs::write(e.path(), b2).unwrap();
        }
    }
    assert!(s.load(&dir, &[]).is_err());
}

#[test]
fn manifest_member_traversal_is_refused() {
    let (d, s) = store();
    let mut b = tar::Builder::new(Vec::new());
    let manifest =
        serde_json::json!([{"Config": "../../etc/passwd", "RepoTags": ["a:1"], "Layers": []}]);
    add(
        &mut b,
        "manifest.json",
        &serde_json::to_vec(&manifest).unwrap(),
    );
    let a = d.path().join("a.tar");
    std::fs::write(&a, b.into_inner().unwrap()).unwrap();
    assert!(matches!(
        s.load(&a, &[]).unwrap_err(),
        ImageError::InvalidArchive(_)
    ));
}

#[test]
fn extra_tag_needs_single_image_and_not_digest() {
    let (d, s) = store();
    let a = d.path().join("a.tar");
    std::fs::write(&a, docker_archive(&[layer_tar(&[("f", b"1")])], &[])).unwrap();
    let e = s
        .load(&a, &[format!("x@sha256:{}", "a".repeat(64))])
        .unwrap_err();
    assert!(matches!(e, ImageError::InvalidReference { .. }));
    // Untagged archive + --tag names it.
    let out = s.load(&a, &["named:v1".into()]).unwrap();
    assert_eq!(out[0].references, ["docker.io/library/named:v1"]);
}

#[test]
fn archives_with_too_many_members_are_refused() {
    let (d, s) = store();
    let mut b = tar::Builder::new(Vec::new());
    for i in 0..100_001 {
        add(&mut b, &format!("m{i}"), b"");
    }
    let a = d.path().join("a.tar");
    std::fs::write(&a, b.into_inner().unwrap()).unwrap();
    let e = s.load(&a, &[]).unwrap_err();
    assert!(e.to_string().contains("members"), "{e}");
}

#[test]
fn images_and_layers_per_archive_are_bounded() {
    let (d, s) = store();
    let l = layer_tar(&[("f", b"1")]);
    let many: Vec<Vec<u8>> = (0..257).map(|_| l.clone()).collect();
    let a = d.path().join("a.tar");
    std::fs::write(&a, docker_archive(&many, &["x:1"])).unwrap();
    let e = s.load(&a, &[]).unwrap_err();
    assert!(e.to_string().contains("257 layers"), "{e}");
    // 256 copies of one layer are fine (and unpacked once).
    std::fs::write(&a, docker_archive(&many[..256], &["x:1"])).unwrap();
    s.load(&a, &[]).unwrap();
}
