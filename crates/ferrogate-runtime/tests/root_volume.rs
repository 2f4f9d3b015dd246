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
