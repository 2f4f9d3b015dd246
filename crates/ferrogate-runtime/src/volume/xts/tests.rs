//! The XTS backend's order of operations, with the recording `Syscall` fake
//! and a fake server that notes when it was started and stopped.

use std::sync::{Arc, Mutex};

use super::*;
use crate::ids::VolumeId;
use crate::syscall::RecordingSyscall;
use crate::volume::{mount_volume_fs, unmount_volume_fs, BlockShutdown, BlockStats};

/// Records ("start" | "shutdown", number of syscalls made before it).
#[derive(Debug)]
struct FakeServers {
    sys: Arc<RecordingSyscall>,
    log: Arc<Mutex<Vec<(&'static str, usize)>>>,
    fail: bool,
}

#[derive(Debug)]
struct FakeLayer {
    file: PathBuf,
    sys: Arc<RecordingSyscall>,
    log: Arc<Mutex<Vec<(&'static str, usize)>>>,
}

impl BlockCrypt for FakeLayer {
    fn device_file(&self) -> &Path {
        &self.file
    }
    fn shutdown(&mut self) -> BlockShutdown {
        let n = self.sys.ops().len();
        self.log.lock().unwrap().push(("shutdown", n));
        BlockShutdown {
            key_destroyed: true,
            unmounted: true,
            workers_stopped: true,
            error: None,
        }
    }
    fn stats(&self) -> BlockStats {
        BlockStats::default()
    }
}

impl XtsServers for FakeServers {
    fn start(&self, p: &ServeParams<'_>, key: XtsKey) -> io::Result<Box<dyn BlockCrypt>> {
        drop(key);
        self.log
            .lock()
            .unwrap()
            .push(("start", self.sys.ops().len()));
        if self.fail {
            return Err(io::Error::from_raw_os_error(libc::ENODEV));
        }
        Ok(Box::new(FakeLayer {
            file: p.mountpoint.join("disk"),
            sys: self.sys.clone(),
            log: self.log.clone(),
        }))
    }
}

type Log = Arc<Mutex<Vec<(&'static str, usize)>>>;

fn backend(fail: bool) -> (Arc<RecordingSyscall>, Log, XtsVolume) {
    let sys = Arc::new(RecordingSyscall::new());
    let log = Arc::new(Mutex::new(Vec::new()));
    let servers = FakeServers {
        sys: sys.clone(),
        log: log.clone(),
        fail,
    };
    let b = XtsVolume::with_servers("/sbin/mkfs.ext4".into(), Arc::new(servers));
    (sys, log, b)
}

fn req(size: u32) -> VolumeRequest {
    VolumeRequest {
        volume_id: VolumeId::new("vol-1").unwrap(),
        size_gib: size,
    }
}

fn key() -> DataKey {
    DataKey::from_slice(&[9; 64]).unwrap()
}

#[test]
fn xts_lifecycle_order() {
    let (sys, log, b) = backend(false);
    let layout = DataLayout::new("/d");
    let dev = b.create(&*sys, &layout, &req(20), &key()).unwrap();
    assert_eq!(dev.loop_file, Path::new("/d/xts/vol-1/disk"));
    assert_eq!(dev.image, Path::new("/d/volumes/vol-1.img"));
    mount_volume_fs(&*sys, &dev.loop_dev.path(), Path::new("/m")).unwrap();
    let seal = b.seal(&*sys, Path::new("/m"), key()).unwrap();
    assert_eq!(seal.key_identifier, None);
    assert_eq!(
        b.shred(&*sys, Path::new("/m"), &seal).unwrap(),
        ShredReport::default()
    );
    unmount_volume_fs(&*sys, Path::new("/m")).unwrap();
    b.destroy(&*sys, dev).unwrap();
    assert_eq!(
        sys.ops(),
        [
            "create_sparse_file",
            "mkdir_all",
            "loop_attach",
            "mkfs_ext4",
            "mount",
            "mkdir",
            "umount",
            "loop_detach",
            "remove_file",
            "remove_dir"
        ]
    );
    // The server starts after the image and its mount point exist and before
    // the loop device; its key dies after the loop detach, before deletion.
    assert_eq!(*log.lock().unwrap(), [("start", 2), ("shutdown", 8)]);
    let calls = sys.calls();
    assert_eq!(
        calls[0].args,
        format!("/d/volumes/vol-1.img {}", 20u64 << 30)
    );
    assert_eq!(calls[1].args, "/d/xts/vol-1 700");
    assert_eq!(calls[2].args, "/d/xts/vol-1/disk dio=true");
    assert_eq!(calls[3].args, "/sbin/mkfs.ext4 /dev/loop7 encrypt=false");
    assert_eq!(calls[5].args, "/m/data 700");
    assert_eq!(calls[9].args, "/d/xts/vol-1");
}

#[test]
fn a_server_that_cannot_start_leaves_nothing_and_no_plaintext_volume() {
    let (sys, log, b) = backend(true);
    let e = b
        .create(&*sys, &DataLayout::new("/d"), &req(20), &key())
        .unwrap_err();
    assert!(matches!(e, VolumeError::BlockLayer { .. }), "{e}");
    assert_eq!(
        sys.ops(),
        [
            "create_sparse_file",
            "mkdir_all",
            "remove_dir",
            "remove_file"
        ]
    );
    assert_eq!(log.lock().unwrap().len(), 1);
}

#[test]
fn failed_loop_or_mkfs_stops_the_server_first() {
    for (op, want) in [
        (
            "loop_attach",
            vec![
                "create_sparse_file",
                "mkdir_all",
                "loop_attach",
                "remove_dir",
                "remove_file",
            ],
        ),
        (
            "mkfs_ext4",
            vec![
                "create_sparse_file",
                "mkdir_all",
                "loop_attach",
                "mkfs_ext4",
                "loop_detach",
                "remove_dir",
                "remove_file",
            ],
        ),
    ] {
        let (sys, log, b) = backend(false);
        sys.fail_on(op, libc::EIO);
        assert!(b
            .create(&*sys, &DataLayout::new("/d"), &req(20), &key())
            .is_err());
        assert_eq!(sys.ops(), want, "{op}");
        let shut = log.lock().unwrap()[1];
        assert_eq!(shut.0, "shutdown");
        assert_eq!(shut.1, want.len() - 2, "{op}: key destroyed before cleanup");
    }
}

#[test]
fn sizes_outside_fargate_range_touch_nothing() {
    let (sys, log, b) = backend(false);
    for s in [0, 19, 201] {
        assert!(matches!(
            b.create(&*sys, &DataLayout::new("/d"), &req(s), &key()),
            Err(VolumeError::InvalidSize(_))
        ));
    }
    assert!(sys.ops().is_empty() && log.lock().unwrap().is_empty());
}

#[test]
fn the_key_is_destroyed_even_if_detach_fails() {
    let (sys, log, b) = backend(false);
    let dev = b
        .create(&*sys, &DataLayout::new("/d"), &req(20), &key())
        .unwrap();
    sys.fail_on("loop_detach", libc::EBUSY);
    assert!(matches!(
        b.destroy(&*sys, dev),
        Err(VolumeError::LoopDetach { .. })
    ));
    assert_eq!(log.lock().unwrap().last().unwrap().0, "shutdown");
    assert!(sys.ops().contains(&"remove_file"));
}

#[test]
fn backend_choice_parses_and_never_means_plaintext() {
    use crate::volume::BackendChoice;
    assert_eq!("xts".parse::<BackendChoice>(), Ok(BackendChoice::Xts));
    assert_eq!(
        "fscrypt".parse::<BackendChoice>(),
        Ok(BackendChoice::Fscrypt)
    );
    assert_eq!("auto".parse::<BackendChoice>(), Ok(BackendChoice::Auto));
    assert!("plaintext".parse::<BackendChoice>().is_err());
    assert!("none".parse::<BackendChoice>().is_err());
    assert_eq!(BackendChoice::default(), BackendChoice::Fscrypt);
    let chosen = crate::volume::select_backend(BackendChoice::Auto, Path::new("/nonexistent"));
    // Without mkfs the XTS check fails, so auto falls back to fscrypt, never
    // to the plaintext control.
    assert_eq!(chosen.kind(), VolumeKind::Fscrypt);
    for c in [BackendChoice::Xts, BackendChoice::Fscrypt] {
        let k = crate::volume::select_backend(c, Path::new("/x")).kind();
        assert_ne!(k, VolumeKind::PlaintextControl);
    }
}
