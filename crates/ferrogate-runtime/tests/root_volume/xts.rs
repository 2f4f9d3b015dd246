//! What only the XTS backend has: its own FUSE server, its own key.

use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

use ferrogate_runtime::syscall::{LinuxSyscall, Syscall};
use ferrogate_runtime::volume::inspect::scan_allocated;
use ferrogate_runtime::volume::xts::{server, ServeParams, ServerConfig, XtsKey};
use ferrogate_runtime::volume::{
    mount_volume_fs, unmount_volume_fs, BlockCrypt, MountedVolume, VolumeBackend, VolumeRequest,
    XtsVolume,
};
use ferrogate_runtime::{host, DataKey, DataLayout, VolumeId};

use super::{common, layout, spec};

fn conn_of(mountpoint: &Path) -> PathBuf {
    let dev = std::fs::metadata(mountpoint).unwrap().dev();
    let id = (libc::major(dev) << 20) | libc::minor(dev);
    PathBuf::from(format!("/sys/fs/fuse/connections/{id}"))
}

/// A server started by hand on `backing`, mounted under the layout's `xts/`.
fn serve(layout: &DataLayout, name: &str, backing: &Path, key: &[u8; 64]) -> Box<dyn BlockCrypt> {
    let mountpoint = layout.xts().join(name);
    std::fs::create_dir_all(&mountpoint).unwrap();
    let size = std::fs::metadata(backing).unwrap().len();
    let p = ServeParams {
        volume_id: name,
        backing,
        mountpoint: &mountpoint,
        size,
    };
    let k = XtsKey::derive(&DataKey::from_slice(key).unwrap()).unwrap();
    Box::new(server::start(&p, k, &ServerConfig::default()).unwrap())
}

/// The image holds ciphertext that decrypts with the volume's key and only
/// with it: the image of a volume, copied after unmount and served again by a
/// new server under the same data key, mounts and gives the file back; under
/// another key the filesystem is not even recognised.
#[test]
fn xts_image_needs_its_key_and_survives_a_new_server() {
    if !common::require_root("xts_image_needs_its_key_and_survives_a_new_server") {
        return;
    }
    let (dir, layout) = layout();
    let sys = LinuxSyscall;
    let key_bytes: [u8; 64] = std::array::from_fn(|i| u8::try_from(i * 7 % 251).unwrap());
    let b = XtsVolume::new(host::find_mkfs_ext4());
    let req = VolumeRequest {
        volume_id: VolumeId::new("vol-keep").unwrap(),
        size_gib: 20,
    };
    let dev = b
        .create(
            &sys,
            &layout,
            &req,
            &DataKey::from_slice(&key_bytes).unwrap(),
        )
        .unwrap();
    let mnt = layout.run().join("keep");
    std::fs::create_dir_all(&mnt).unwrap();
    mount_volume_fs(&sys, &dev.loop_dev.path(), &mnt).unwrap();
    b.seal(&sys, &mnt, DataKey::from_slice(&key_bytes).unwrap())
        .unwrap();
    let payload: Vec<u8> = (0..3u32 << 20)
        .map(|i| u8::try_from(i % 253).unwrap())
        .collect();
    std::fs::write(mnt.join("data/payload"), &payload).unwrap();
    unmount_volume_fs(&sys, &mnt).unwrap();
    let copy = dir.path().join("copy.img");
    let st = std::process::Command::new("cp")
        .args(["--sparse=always"])
        .arg(&dev.image)
        .arg(&copy)
        .status()
        .unwrap();
    assert!(st.success());
    b.destroy(&sys, dev).unwrap();

    // Another key: ext4 finds no superblock.
    let mut wrong = key_bytes;
    wrong[0] ^= 1;
    let mut srv = serve(&layout, "wrong", &copy, &wrong);
    let lo = sys.loop_attach(srv.device_file(), true).unwrap();
    let e = mount_volume_fs(&sys, &lo.path(), &mnt).unwrap_err();
    assert!(e.to_string().contains("mounting"), "{e}");
    sys.loop_detach(&lo).unwrap();
    drop(lo);
    assert!(srv.shutdown().key_destroyed);
    drop(srv);

    // The same key, a new server: the file is back.
    let mut srv = serve(&layout, "right", &copy, &key_bytes);
    let lo = sys.loop_attach(srv.device_file(), true).unwrap();
    mount_volume_fs(&sys, &lo.path(), &mnt).unwrap();
    assert_eq!(std::fs::read(mnt.join("data/payload")).unwrap(), payload);
    unmount_volume_fs(&sys, &mnt).unwrap();
    sys.loop_detach(&lo).unwrap();
    drop(lo);
    let down = srv.shutdown();
    assert!(down.key_destroyed && down.workers_stopped, "{down:?}");
    drop(srv);
    for d in ["wrong", "right"] {
        std::fs::remove_dir(layout.xts().join(d)).unwrap();
    }
    assert!(common::mounts_under(dir.path()).is_empty());
    assert!(common::loops_backed_under(dir.path()).is_empty());
}

/// `fsync` inside the filesystem reaches the backing file: ext4's journal
/// commit becomes a flush of the loop device, a FUSE FSYNC, an `fdatasync`
/// of the image. (A server answering FSYNC with ENOSYS would make the kernel
/// stop sending it and report success: this test would then fail.)
#[test]
fn xts_fsync_reaches_the_backing_file() {
    if !common::require_root("xts_fsync_reaches_the_backing_file") {
        return;
    }
    let (_dir, layout) = layout();
    let v = MountedVolume::provision(
        Box::new(XtsVolume::new(host::find_mkfs_ext4())),
        &layout,
        spec("vol-sync", 20),
    )
    .unwrap();
    let f = v.data_dir().join("f");
    std::fs::write(&f, vec![1u8; 1 << 20]).unwrap();
    let before = v.block_stats().unwrap();
    let file = std::fs::OpenOptions::new().write(true).open(&f).unwrap();
    file.write_all_at(b"durable", 4096).unwrap();
    file.sync_all().unwrap();
    let after = v.block_stats().unwrap();
    assert!(after.syncs > before.syncs, "{before:?} -> {after:?}");
    assert!(after.bytes_written > before.bytes_written);
    assert_eq!(after.io_errors, 0);
    // Every worker's buffer is locked in memory (root may lock).
    assert_eq!(after.locked_bytes, after.buffer_bytes, "{after:?}");
    drop(file);
    v.destroy().unwrap();
}

/// Teardown ends the server: its FUSE connection disappears from the kernel,
/// nothing is mounted or attached, and `destroy` reported the key destroyed
/// (it fails otherwise).
#[test]
fn xts_teardown_ends_the_connection() {
    if !common::require_root("xts_teardown_ends_the_connection") {
        return;
    }
    let (dir, layout) = layout();
    let v = MountedVolume::provision(
        Box::new(XtsVolume::new(host::find_mkfs_ext4())),
        &layout,
        spec("vol-end", 20),
    )
    .unwrap();
    let file = v.loop_file().unwrap().to_owned();
    let conn = conn_of(file.parent().unwrap());
    assert!(conn.exists(), "{}", conn.display());
    std::fs::write(v.data_dir().join("x"), b"x").unwrap();
    v.destroy().unwrap();
    assert!(!conn.exists(), "connection {} still there", conn.display());
    assert!(!file.parent().unwrap().exists());
    assert!(common::mounts_under(dir.path()).is_empty());
    assert!(common::loops_backed_under(dir.path()).is_empty());
}

/// A server that dies (its connection aborted, as when the agent is killed)
/// turns I/O into errors at once, never a hang, and the volume can still be
/// torn down completely.
#[test]
fn xts_dead_server_means_errors_not_hangs() {
    if !common::require_root("xts_dead_server_means_errors_not_hangs") {
        return;
    }
    let (dir, layout) = layout();
    let v = MountedVolume::provision(
        Box::new(XtsVolume::new(host::find_mkfs_ext4())),
        &layout,
        spec("vol-dead", 20),
    )
    .unwrap();
    let conn = conn_of(v.loop_file().unwrap().parent().unwrap());
    std::fs::write(conn.join("abort"), b"1").unwrap();
    let t = std::time::Instant::now();
    let f = v.data_dir().join("after");
    let r =
        std::fs::write(&f, vec![0u8; 1 << 20]).and_then(|()| std::fs::File::open(&f)?.sync_all());
    assert!(r.is_err(), "writing through a dead server must fail");
    assert!(t.elapsed().as_secs() < 10, "{:?}", t.elapsed());
    // Teardown reports what it could not do cleanly, but leaves nothing.
    let _ = v.destroy();
    assert!(common::mounts_under(dir.path()).is_empty());
    assert!(common::loops_backed_under(dir.path()).is_empty());
    assert!(std::fs::read_dir(layout.volumes())
        .unwrap()
        .next()
        .is_none());
}

/// The FUSE file itself, without a loop device: unaligned reads and writes
/// (read-modify-write of partial sectors), holes, `fallocate` punch, `stat`,
/// `readdir`, refused renames; and the image holds no plaintext.
#[test]
fn xts_fuse_file_semantics() {
    if !common::require_root("xts_fuse_file_semantics") {
        return;
    }
    let (dir, layout) = layout();
    let backing = dir.path().join("raw.img");
    let f = std::fs::File::create(&backing).unwrap();
    f.set_len(64 << 20).unwrap();
    drop(f);
    let key: [u8; 64] = std::array::from_fn(|i| u8::try_from(i).unwrap() ^ 3);
    let mut srv = serve(&layout, "raw", &backing, &key);
    let disk = srv.device_file().to_owned();
    let md = std::fs::metadata(&disk).unwrap();
    assert_eq!(md.len(), 64 << 20);
    assert_eq!(md.mode() & 0o7777, 0o600);
    let names: Vec<_> = std::fs::read_dir(disk.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["disk"]);
    assert!(std::fs::rename(&disk, disk.with_file_name("x")).is_err());
    assert!(std::fs::write(disk.with_file_name("new"), b"x").is_err());
    let h = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&disk)
        .unwrap();
    let marker = b"UNALIGNED-PLAINTEXT-MARKER";
    h.write_all_at(marker, 4096 * 5 - 7).unwrap();
    h.write_all_at(&[0xEE; 10000], 1 << 20).unwrap();
    let mut got = vec![0u8; marker.len() + 20];
    h.read_exact_at(&mut got, 4096 * 5 - 17).unwrap();
    assert_eq!(
        &got[..10],
        &[0u8; 10],
        "untouched bytes of a written sector are zero"
    );
    assert_eq!(&got[10..10 + marker.len()], marker);
    let mut big = vec![0u8; 10000];
    h.read_exact_at(&mut big, 1 << 20).unwrap();
    assert!(big.iter().all(|&b| b == 0xEE));
    let mut hole = vec![1u8; 8192];
    h.read_exact_at(&mut hole, 32 << 20).unwrap();
    assert!(
        hole.iter().all(|&b| b == 0),
        "unwritten sectors read as zeros"
    );
    // Punch a hole over part of the 0xEE run: zeros there, 0xEE around it.
    let rc = std::process::Command::new("fallocate")
        .args([
            "--punch-hole",
            "--offset",
            &((1u64 << 20) + 100).to_string(),
            "--length",
            "8192",
        ])
        .arg(&disk)
        .status()
        .unwrap();
    assert!(rc.success());
    h.read_exact_at(&mut big, 1 << 20).unwrap();
    assert!(big[..100].iter().all(|&b| b == 0xEE));
    assert!(big[100..8292].iter().all(|&b| b == 0));
    assert!(big[8292..].iter().all(|&b| b == 0xEE));
    h.sync_all().unwrap();
    assert!(srv.stats().syncs >= 1);
    assert!(h.set_len(1).is_err(), "the disk has a fixed size");
    drop(h);
    let s = scan_allocated(&backing, marker).unwrap();
    assert!(s.scanned_bytes > 0);
    assert_eq!(s.hits, 0);
    assert!(srv.shutdown().key_destroyed);
    drop(srv);
    std::fs::remove_dir(layout.xts().join("raw")).unwrap();
    assert!(common::mounts_under(dir.path()).is_empty());
}
