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
    assert_eq!(BackendChoice::default(), BackendChoice::Auto);
    let chosen = crate::volume::select_backend(BackendChoice::Auto, Path::new("/nonexistent"));
    // Without mkfs the XTS check fails, so auto falls back to fscrypt, never
    // to the plaintext control.
    assert_eq!(chosen.kind(), VolumeKind::Fscrypt);
    for c in [BackendChoice::Xts, BackendChoice::Fscrypt] {
        let k = crate::volume::select_backend(c, Path::new("/x")).kind();
        assert_ne!(k, VolumeKind::PlaintextControl);
    }
}

/// A real server with `threads` workers for a 64 MiB volume in `dir`
/// (backing file `backing`, mounted on `mnt`): (server, mount point, backing).
fn small_server(dir: &Path, threads: usize) -> (server::XtsServer, PathBuf, PathBuf) {
    let backing = dir.join("backing");
    std::fs::File::create(&backing)
        .unwrap()
        .set_len(64 << 20)
        .unwrap();
    let mnt = dir.join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let p = ServeParams {
        volume_id: "vol-small",
        backing: &backing,
        mountpoint: &mnt,
        size: 64 << 20,
    };
    let cfg = ServerConfig {
        threads,
        ..ServerConfig::default()
    };
    let server = server::start(&p, XtsKey::derive(&key()).unwrap(), &cfg).unwrap();
    (server, mnt, backing)
}

/// Set in the child process of `kill_9_with_a_request_in_flight`: the
/// directory it works in.
const KILL9_CHILD: &str = "FERROGATE_XTS_KILL9_CHILD";

/// A `kill -9` of a process one of whose threads waits on the process's own
/// XTS server for an answer (in the agent: `LOOP_CONFIGURE` flushing the FUSE
/// file) must still end the process. Such a wait cannot be interrupted once
/// a worker has read the request; the workers die, and only the end of the
/// connection (its last `/dev/fuse` descriptor closed) releases the waiter.
/// With the workers' descriptors in the process's shared table, the waiter
/// itself kept them open and the process never finished dying. The child is
/// this test binary again, running only this test with `KILL9_CHILD` set.
#[test]
fn kill_9_with_a_request_in_flight() {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    if let Some(dir) = std::env::var_os(KILL9_CHILD) {
        return kill_9_child(Path::new(&dir));
    }
    if !crate::host::test_may_run_as_root("kill_9_with_a_request_in_flight") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "volume::xts::tests::kill_9_with_a_request_in_flight",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(KILL9_CHILD, dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let conn = loop {
        let mut line = String::new();
        assert_ne!(
            out.read_line(&mut line).unwrap(),
            0,
            "the child ended early"
        );
        // The harness may have printed the test's name on the same line.
        if let Some(c) = line.split("stalled ").nth(1) {
            break c.trim().to_owned();
        }
    };
    child.kill().unwrap();
    // Not a timing assertion: a process that has not died after this long is
    // stuck for good (it was, before the fix).
    let deadline = Instant::now() + Duration::from_secs(30);
    let reaped = loop {
        if child.try_wait().unwrap().is_some() {
            break true;
        }
        if Instant::now() > deadline {
            break false;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // Free a stuck child, then clean up the dead mount either way.
    let _ = std::fs::write(format!("/sys/fs/fuse/connections/{conn}/abort"), b"1");
    let _ = child.wait();
    let _ = crate::sys::mount::umount2(&dir.path().join("mnt"), libc::MNT_DETACH);
    assert!(
        reaped,
        "a process killed while waiting on its own XTS server did not die"
    );
}

/// The child: serves a volume, stalls an `fsync` of it in a thread, says so
/// (with the connection's id) and waits to be killed.
fn kill_9_child(dir: &Path) {
    use std::os::unix::fs::MetadataExt;
    use std::sync::atomic::Ordering;

    let (server, mnt, _) = small_server(dir, 2);
    let dev = std::fs::metadata(&mnt).unwrap().dev();
    let conn = (u64::from(libc::major(dev)) << 20) | u64::from(libc::minor(dev));
    super::worker::STALL_SYNC.store(true, Ordering::SeqCst);
    let disk = mnt.join("disk");
    std::thread::spawn(move || {
        let f = std::fs::OpenOptions::new().write(true).open(disk).unwrap();
        let _ = f.sync_all();
    });
    while !super::worker::SYNC_STALLED.load(Ordering::SeqCst) {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    println!("stalled {conn}");
    std::mem::forget(server);
    loop {
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
}

/// Where the descriptors of a running server live: each worker's table holds
/// its own `/dev/fuse` descriptor, the backing file and the standard streams,
/// nothing else (no other worker's descriptor, none of the agent's sockets or
/// pipes); the process's shared table holds no `/dev/fuse` descriptor at all.
#[test]
fn each_worker_alone_holds_its_fuse_descriptor() {
    if !crate::host::test_may_run_as_root("each_worker_alone_holds_its_fuse_descriptor") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (mut server, mnt, backing) = small_server(dir.path(), 3);
    let links = |fd_dir: &Path| -> Vec<(u32, String)> {
        let mut v: Vec<(u32, String)> = std::fs::read_dir(fd_dir)
            .unwrap()
            .filter_map(Result::ok)
            .filter_map(|e| {
                let n = e.file_name().to_str()?.parse().ok()?;
                let t = std::fs::read_link(e.path()).ok()?;
                Some((n, t.display().to_string()))
            })
            .collect();
        v.sort();
        v
    };
    let mut workers = 0;
    for t in std::fs::read_dir("/proc/self/task").unwrap() {
        let t = t.unwrap().path();
        let comm = std::fs::read_to_string(t.join("comm")).unwrap_or_default();
        if !comm.starts_with("fg-xts-") {
            continue;
        }
        workers += 1;
        let fds = links(&t.join("fd"));
        let fuse: Vec<_> = fds.iter().filter(|(_, l)| l == "/dev/fuse").collect();
        assert_eq!(fuse.len(), 1, "worker {comm}: {fds:?}");
        for (n, l) in &fds {
            assert!(
                *n <= 2 || l == "/dev/fuse" || Path::new(l) == backing,
                "worker {comm} holds {n} -> {l}"
            );
        }
    }
    assert_eq!(workers, 3);
    let shared = links(Path::new("/proc/self/fd"));
    assert!(
        !shared.iter().any(|(_, l)| l == "/dev/fuse"),
        "the shared table holds a /dev/fuse descriptor: {shared:?}"
    );
    // And the server still serves through them.
    let disk = mnt.join("disk");
    std::fs::OpenOptions::new()
        .write(true)
        .open(&disk)
        .and_then(|f| {
            use std::os::unix::fs::FileExt;
            f.write_all_at(b"served", 4096)?;
            f.sync_all()
        })
        .unwrap();
    let report = server.shutdown();
    assert!(report.key_destroyed && report.workers_stopped, "{report:?}");
}
