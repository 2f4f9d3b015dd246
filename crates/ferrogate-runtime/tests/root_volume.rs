//! Real encrypted volumes on real loop devices (root only), each test against
//! both backends: full-volume AES-256-XTS (FUSE) and fscrypt.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::Backend;
use ferrogate_runtime::volume::inspect::{
    encryption_policy, key_status, scan_allocated, KeyStatus, ScanResult,
};
use ferrogate_runtime::volume::{
    FscryptVolume, MountedVolume, PlaintextControlVolume, VolumeBackend, VolumeSpec,
};
use ferrogate_runtime::{host, DataKey, DataLayout, VolumeId};

fn spec(id: &str, size: u32) -> VolumeSpec {
    VolumeSpec {
        volume_id: VolumeId::new(id).unwrap(),
        size_gib: size,
        data_key: DataKey::generate().unwrap(),
    }
}

fn layout() -> (tempfile::TempDir, DataLayout) {
    let dir = common::data_dir();
    let layout = DataLayout::new(dir.path());
    layout.ensure().unwrap();
    (dir, layout)
}

/// Distinct markers for a file's contents, a file's name and a directory's
/// name, so that each is looked for on its own.
struct Markers {
    contents: String,
    file_name: String,
    dir_name: String,
}

fn markers() -> Markers {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let base = format!("FG{}x{t}", std::process::id());
    Markers {
        contents: format!("{base}-CONTENTS"),
        file_name: format!("{base}-FILENAME"),
        dir_name: format!("{base}-DIRNAME"),
    }
}

fn write_markers(v: &MountedVolume, m: &Markers) {
    let d = v.data_dir().join(&m.dir_name);
    std::fs::create_dir(&d).unwrap();
    let f = d.join(&m.file_name);
    std::fs::write(&f, m.contents.repeat(1000)).unwrap();
    std::fs::File::open(&f).unwrap().sync_all().unwrap();
    std::fs::File::open(&d).unwrap().sync_all().unwrap();
    // Push the journal and every dirty page to the backing file.
    std::process::Command::new("sync").status().unwrap();
}

fn scan(img: &Path, needle: &str) -> ScanResult {
    scan_allocated(img, needle.as_bytes()).unwrap()
}

/// Contents, file names and directory names written to the volume are not
/// in clear in the backing image; on the unencrypted control written the same
/// way the same scan finds all three. XTS also hides the filesystem's own
/// metadata (`lost+found`), which fscrypt leaves in clear.
fn volume_hides_contents_and_names_and_control_does_not(backend: Backend) {
    if !common::require_root("volume_hides_contents_and_names_and_control_does_not") {
        return;
    }
    let (dir, layout) = layout();
    let m = markers();
    let enc = MountedVolume::provision(backend.volume(), &layout, spec("vol-enc", 20)).unwrap();
    let ctl = MountedVolume::provision(
        Box::new(PlaintextControlVolume::new(host::find_mkfs_ext4())),
        &layout,
        spec("vol-ctl", 20),
    )
    .unwrap();
    for v in [&enc, &ctl] {
        write_markers(v, &m);
    }
    let enc_img = enc.image_path().unwrap().to_owned();
    let ctl_img = ctl.image_path().unwrap().to_owned();
    for needle in [&m.contents, &m.file_name, &m.dir_name] {
        let e = scan(&enc_img, needle);
        let c = scan(&ctl_img, needle);
        assert!(e.scanned_bytes > 0, "{e:?}");
        assert_eq!(e.hits, 0, "{needle} in clear in the encrypted image: {e:?}");
        assert!(c.hits >= 1, "the control scan must find {needle}: {c:?}");
    }
    assert!(scan(&ctl_img, &m.contents).hits >= 1000);
    let metadata = scan(&enc_img, "lost+found");
    assert!(scan(&ctl_img, "lost+found").hits >= 1);
    match backend {
        Backend::Xts => {
            assert_eq!(metadata.hits, 0, "XTS hides metadata: {metadata:?}");
            assert!(encryption_policy(&enc.data_dir()).unwrap().is_none());
            let s = enc.block_stats().unwrap();
            assert!(s.writes > 0 && s.syncs > 0, "{s:?}");
        }
        Backend::Fscrypt => {
            // Documented: fscrypt leaves the filesystem's metadata in clear.
            assert!(metadata.hits >= 1, "{metadata:?}");
            let pol = encryption_policy(&enc.data_dir()).unwrap().unwrap();
            assert_eq!(
                (
                    pol.version,
                    pol.contents_mode,
                    pol.filenames_mode,
                    pol.flags
                ),
                (2, 1, 4, 3)
            );
            assert_eq!(
                key_status(enc.mount_point(), &pol.master_key_identifier).unwrap(),
                KeyStatus::Present
            );
        }
    }
    assert!(encryption_policy(&ctl.data_dir()).unwrap().is_none());
    let report = enc.destroy().unwrap();
    assert!(!report.files_busy);
    ctl.destroy().unwrap();
    assert!(!enc_img.exists() && !ctl_img.exists());
    assert!(common::loops_backed_under(dir.path()).is_empty());
    assert!(common::mounts_under(dir.path()).is_empty());
}
crate::per_backend!(volume_hides_contents_and_names_and_control_does_not);

fn sizes_outside_range_fail_and_200_gib_works(backend: Backend) {
    if !common::require_root("sizes_outside_range_fail_and_200_gib_works") {
        return;
    }
    let (dir, layout) = layout();
    assert!(MountedVolume::provision(backend.volume(), &layout, spec("v1", 201)).is_err());
    assert!(MountedVolume::provision(backend.volume(), &layout, spec("v0", 19)).is_err());
    let v = MountedVolume::provision(backend.volume(), &layout, spec("v2", 200)).unwrap();
    let img = v.image_path().unwrap().to_owned();
    assert_eq!(std::fs::metadata(&img).unwrap().len(), 200u64 << 30);
    let free = fs_size(&v.data_dir());
    assert!(free > 190 << 30, "the filesystem spans the volume: {free}");
    v.destroy().unwrap();
    assert!(!img.exists());
    assert!(common::loops_backed_under(dir.path()).is_empty());
    assert!(common::mounts_under(dir.path()).is_empty());
}
crate::per_backend!(sizes_outside_range_fail_and_200_gib_works);

/// Size of the filesystem holding `p` (df's "Size").
fn fs_size(p: &Path) -> u64 {
    let out = std::process::Command::new("df")
        .args(["-B1", "--output=size"])
        .arg(p)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
        .unwrap()
}

/// Removing the fscrypt key while a file is open is reported as "files
/// busy", not ignored; once the file is closed, a second removal completes
/// it. (fscrypt only: the XTS key lives in the agent, see below.)
#[test]
fn fscrypt_key_removal_reports_busy_files() {
    use ferrogate_runtime::syscall::LinuxSyscall;
    use ferrogate_runtime::volume::{mount_volume_fs, unmount_volume_fs, VolumeRequest};
    if !common::require_root("fscrypt_key_removal_reports_busy_files") {
        return;
    }
    let (dir, layout) = layout();
    let sys = LinuxSyscall;
    let b = FscryptVolume::new(host::find_mkfs_ext4());
    let key = DataKey::generate().unwrap();
    let req = VolumeRequest {
        volume_id: VolumeId::new("busy").unwrap(),
        size_gib: 20,
    };
    let dev = b.create(&sys, &layout, &req, &key).unwrap();
    let mnt = layout.run().join("busy");
    std::fs::create_dir_all(&mnt).unwrap();
    mount_volume_fs(&sys, &dev.loop_dev.path(), &mnt).unwrap();
    let seal = b.seal(&sys, &mnt, key).unwrap();
    let id = seal.key_identifier.unwrap();
    let f = mnt.join("data/open-file");
    std::fs::write(&f, b"secret").unwrap();
    let held = std::fs::File::open(&f).unwrap();
    let r = b.shred(&sys, &mnt, &seal).unwrap();
    assert!(r.files_busy, "{r:?}");
    assert_eq!(
        key_status(&mnt, &id).unwrap(),
        KeyStatus::IncompletelyRemoved
    );
    drop(held);
    // The other tests of this binary run in parallel and spawn children (mkfs.ext4, mount):
    // a child holds a copy of every descriptor of this process from its fork to its exec,
    // so the file can stay open a moment after `held` is dropped. Once no process holds it,
    // the key goes.
    let mut r = b.shred(&sys, &mnt, &seal).unwrap();
    for _ in 0..50 {
        if !r.files_busy {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        r = b.shred(&sys, &mnt, &seal).unwrap();
    }
    assert!(!r.files_busy, "{r:?}");
    assert_eq!(key_status(&mnt, &id).unwrap(), KeyStatus::Absent);
    // Without the key, names are scrambled and contents unreadable.
    let names: Vec<String> = std::fs::read_dir(mnt.join("data"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 1);
    assert_ne!(names[0], "open-file");
    assert!(std::fs::read(mnt.join("data").join(&names[0])).is_err());
    unmount_volume_fs(&sys, &mnt).unwrap();
    b.destroy(&sys, dev).unwrap();
    assert!(common::loops_backed_under(dir.path()).is_empty());
}

#[path = "root_volume/xts.rs"]
mod xts;
