//! Real fscrypt volumes on real loop devices (root only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use ferrogate_runtime::volume::inspect::{
    encryption_policy, key_status, scan_allocated, KeyStatus,
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

#[test]
fn fscrypt_volume_hides_contents_and_names_and_control_does_not() {
    if !common::require_root("fscrypt_volume_hides_contents_and_names_and_control_does_not") {
        return;
    }
    let dir = common::data_dir();
    let layout = DataLayout::new(dir.path());
    layout.ensure().unwrap();
    let mkfs = host::find_mkfs_ext4();
    let marker = format!("FERROGATE-MARKER-{}", std::process::id());

    let enc = MountedVolume::provision(
        Box::new(FscryptVolume::new(mkfs.clone())),
        &layout,
        spec("vol-enc", 20),
    )
    .unwrap();
    let ctl = MountedVolume::provision(
        Box::new(PlaintextControlVolume::new(mkfs)),
        &layout,
        spec("vol-ctl", 20),
    )
    .unwrap();

    let pol = encryption_policy(&enc.data_dir())
        .unwrap()
        .expect("policy on data/");
    assert_eq!(
        (
            pol.version,
            pol.contents_mode,
            pol.filenames_mode,
            pol.flags
        ),
        (2, 1, 4, 3)
    );
    assert!(encryption_policy(&ctl.data_dir()).unwrap().is_none());
    let mount_root = enc.data_dir().parent().unwrap().to_owned();
    assert_eq!(
        key_status(&mount_root, &pol.master_key_identifier).unwrap(),
        KeyStatus::Present
    );

    for v in [&enc, &ctl] {
        let name = v.data_dir().join(format!("{marker}-name"));
        std::fs::write(&name, marker.repeat(1000)).unwrap();
        let f = std::fs::File::open(&name).unwrap();
        f.sync_all().unwrap();
    }
    // syncfs via umount happens at destroy; force writeback now.
    std::process::Command::new("sync").status().unwrap();

    let enc_img = enc.image_path().unwrap().to_owned();
    let ctl_img = ctl.image_path().unwrap().to_owned();
    let e = scan_allocated(&enc_img, marker.as_bytes()).unwrap();
    let c = scan_allocated(&ctl_img, marker.as_bytes()).unwrap();
    assert_eq!(e.hits, 0, "marker in clear in the encrypted image: {e:?}");
    assert!(c.hits >= 1000, "control scan must find the marker: {c:?}");

    let report = enc.destroy().unwrap();
    assert!(!report.files_busy);
    ctl.destroy().unwrap();
    assert!(!enc_img.exists() && !ctl_img.exists());
    assert!(common::loops_backed_under(dir.path()).is_empty());
    assert!(common::mounts_under(dir.path()).is_empty());
}

#[test]
fn sizes_outside_range_fail_and_200_gib_works() {
    if !common::require_root("sizes_outside_range_fail_and_200_gib_works") {
        return;
    }
    let dir = common::data_dir();
    let layout = DataLayout::new(dir.path());
    layout.ensure().unwrap();
    let b = || Box::new(FscryptVolume::new(host::find_mkfs_ext4())) as Box<dyn VolumeBackend>;
    assert!(MountedVolume::provision(b(), &layout, spec("v1", 201)).is_err());
    let v = MountedVolume::provision(b(), &layout, spec("v2", 200)).unwrap();
    let img = v.image_path().unwrap().to_owned();
    assert_eq!(std::fs::metadata(&img).unwrap().len(), 200u64 << 30);
    v.destroy().unwrap();
    assert!(!img.exists());
}

/// Removing the key while a file is open is reported as "files busy", not
/// ignored; once the file is closed, a second removal completes it.
#[test]
fn key_removal_reports_busy_files() {
    use ferrogate_runtime::syscall::LinuxSyscall;
    use ferrogate_runtime::volume::{mount_volume_fs, unmount_volume_fs, VolumeRequest};
    if !common::require_root("key_removal_reports_busy_files") {
        return;
    }
    let dir = common::data_dir();
    let layout = DataLayout::new(dir.path());
    layout.ensure().unwrap();
    let sys = LinuxSyscall;
    let b = FscryptVolume::new(host::find_mkfs_ext4());
    let dev = b
        .create(
            &sys,
            &layout,
            &VolumeRequest {
                volume_id: VolumeId::new("busy").unwrap(),
                size_gib: 20,
            },
        )
        .unwrap();
    let mnt = layout.run().join("busy");
    std::fs::create_dir_all(&mnt).unwrap();
    mount_volume_fs(&sys, &dev.loop_dev.path(), &mnt).unwrap();
    let seal = b.seal(&sys, &mnt, DataKey::generate().unwrap()).unwrap();
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
    let r = b.shred(&sys, &mnt, &seal).unwrap();
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
