//! Test images built from Debian's busybox-static (`/bin/busybox`), in
//! `docker save` and OCI layout form.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use ferrogate_runtime::image::Digest;

/// Applets linked into /bin.
pub const APPLETS: &[&str] = &[
    "sh", "echo", "cat", "ls", "ps", "sleep", "dd", "head", "tail", "awk", "sort", "id",
    "hostname", "true", "false", "env", "printf", "wc", "grep", "tr", "mkdir", "rm", "touch",
    "sync", "stat", "test", "seq", "cut", "yes", "kill", "mount", "readlink", "mv",
];

fn busybox() -> PathBuf {
    for p in ["/bin/busybox", "/usr/bin/busybox"] {
        if Path::new(p).is_file() {
            return PathBuf::from(p);
        }
    }
    panic!("busybox not found: apt-get install -y busybox-static");
}

fn add(
    b: &mut tar::Builder<Vec<u8>>,
    path: &str,
    kind: tar::EntryType,
    mode: u32,
    data: &[u8],
    link: Option<&str>,
) {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(data.len() as u64);
    h.set_mtime(1_700_000_000);
    if let Some(l) = link {
        h.set_link_name(l).unwrap();
    }
    b.append_data(&mut h, path, data).unwrap();
}

/// busybox and its applet symlinks under `bin/`.
pub fn add_busybox(b: &mut tar::Builder<Vec<u8>>) {
    let bb = std::fs::read(busybox()).unwrap();
    add(b, "bin/", tar::EntryType::Directory, 0o755, b"", None);
    add(b, "bin/busybox", tar::EntryType::Regular, 0o755, &bb, None);
    for a in APPLETS {
        add(
            b,
            &format!("bin/{a}"),
            tar::EntryType::Symlink,
            0o777,
            b"",
            Some("busybox"),
        );
    }
}

/// Adds a directory entry.
pub fn add_dir(b: &mut tar::Builder<Vec<u8>>, path: &str, mode: u32) {
    add(b, path, tar::EntryType::Directory, mode, b"", None);
}

/// Adds a symlink entry `path -> target`.
pub fn add_symlink(b: &mut tar::Builder<Vec<u8>>, path: &str, target: &str) {
    add(b, path, tar::EntryType::Symlink, 0o777, b"", Some(target));
}

/// Adds a FIFO entry.
pub fn add_fifo(b: &mut tar::Builder<Vec<u8>>, path: &str) {
    add(b, path, tar::EntryType::Fifo, 0o644, b"", None);
}

/// Adds a regular file entry.
pub fn add_file(b: &mut tar::Builder<Vec<u8>>, path: &str, mode: u32, data: &[u8]) {
    add(b, path, tar::EntryType::Regular, mode, data, None);
}

/// The layer: busybox, applet symlinks, passwd/group.
pub fn busybox_layer() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    add_busybox(&mut b);
    for d in ["etc/", "root/", "home/", "home/app/"] {
        add(&mut b, d, tar::EntryType::Directory, 0o755, b"", None);
    }
    add(&mut b, "etc/passwd", tar::EntryType::Regular, 0o644, b"root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n", None);
    add(
        &mut b,
        "etc/group",
        tar::EntryType::Regular,
        0o644,
        b"root:x:0:\napp:x:1000:\nnogroup:x:65534:\n",
        None,
    );
    b.into_inner().unwrap()
}

/// A one-layer `docker save`-style archive at `dest`, tagged `tag`, whose
/// layer is built by `fill`.
pub fn docker_save_archive_custom(
    dest: &Path,
    tag: &str,
    fill: impl FnOnce(&mut tar::Builder<Vec<u8>>),
) {
    let mut b = tar::Builder::new(Vec::new());
    fill(&mut b);
    write_docker_save(dest, tag, &b.into_inner().unwrap());
}

fn config(layer: &[u8]) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux", "created": "2026-01-01T00:00:00Z",
        "config": {"Cmd": ["sh"], "Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [Digest::of(layer).to_string()]},
    }))
    .unwrap()
}

/// A `docker save`-style archive at `dest`, tagged `busybox:latest`.
pub fn docker_save_archive(dest: &Path) {
    write_docker_save(dest, "busybox:latest", &busybox_layer());
}

fn write_docker_save(dest: &Path, tag: &str, layer: &[u8]) {
    let layer = layer.to_vec();
    let cfg = config(&layer);
    let cfg_name = format!("{}.json", Digest::of(&cfg).hex());
    let mut b = tar::Builder::new(Vec::new());
    add(&mut b, "abc/", tar::EntryType::Directory, 0o755, b"", None);
    add(
        &mut b,
        "abc/layer.tar",
        tar::EntryType::Regular,
        0o644,
        &layer,
        None,
    );
    add(
        &mut b,
        &cfg_name,
        tar::EntryType::Regular,
        0o644,
        &cfg,
        None,
    );
    let manifest =
        serde_json::json!([{"Config": cfg_name, "RepoTags": [tag], "Layers": ["abc/layer.tar"]}]);
    add(
        &mut b,
        "manifest.json",
        tar::EntryType::Regular,
        0o644,
        &serde_json::to_vec(&manifest).unwrap(),
        None,
    );
    std::fs::write(dest, b.into_inner().unwrap()).unwrap();
}

/// An OCI image layout (as a tar) at `dest`, named `name`.
pub fn oci_archive(dest: &Path, name: &str) {
    let layer = busybox_layer();
    let cfg = config(&layer);
    let mut b = tar::Builder::new(Vec::new());
    let put = |b: &mut tar::Builder<Vec<u8>>, bytes: &[u8]| {
        let d = Digest::of(bytes);
        add(
            b,
            &format!("blobs/sha256/{}", d.hex()),
            tar::EntryType::Regular,
            0o644,
            bytes,
            None,
        );
        d
    };
    let ld = put(&mut b, &layer);
    let cd = put(&mut b, &cfg);
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd.to_string(), "size": cfg.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld.to_string(), "size": layer.len()}],
    }))
    .unwrap();
    let md = put(&mut b, &manifest);
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md.to_string(), "size": manifest.len(),
        "annotations": {"io.containerd.image.name": name}}]});
    add(
        &mut b,
        "index.json",
        tar::EntryType::Regular,
        0o644,
        &serde_json::to_vec(&index).unwrap(),
        None,
    );
    add(
        &mut b,
        "oci-layout",
        tar::EntryType::Regular,
        0o644,
        br#"{"imageLayoutVersion":"1.0.0"}"#,
        None,
    );
    std::fs::write(dest, b.into_inner().unwrap()).unwrap();
}
