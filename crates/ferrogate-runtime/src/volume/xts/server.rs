//! The FUSE server of one XTS volume: worker threads **inside the agent
//! process** (no daemon, no key on a pipe) serving one file, `disk`, whose
//! plaintext is the volume and whose ciphertext is the backing file. Each
//! worker keeps its `/dev/fuse` descriptor in a descriptor table of its own,
//! so the connection ends when the workers do, even if another thread of the
//! agent is stuck waiting on it (`crate::sys::fuse::private_fd_table`).
//!
//! It speaks `/dev/fuse` directly instead of through a FUSE library so that
//! each worker's buffer is sized to the largest request (`max_write` plus a
//! few pages) rather than a library's fixed 16 MiB, and is `mlock`ed,
//! excluded from core dumps and wiped on fork and on drop.
//!
//! Per worker: one cloned `/dev/fuse` descriptor, one [`KeySlot`], one buffer.
//! The buffer holds a request so that a WRITE's data lands 4 KiB aligned:
//! it is encrypted in place and written with one `O_DIRECT` `pwrite`; a READ's
//! ciphertext is read into the same place, decrypted in place and sent back
//! with one `writev`.
//!
//! [`XtsServer::shutdown`] destroys every key slot first (so a worker blocked
//! in I/O cannot outlive the key), then unmounts, aborts the connection if it
//! is still there, and joins the workers.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::disk::{Disk, KeySlot, SECTOR};
use super::kdf::XtsKey;
use super::proto;
use super::worker::Worker;
use crate::sys;
use crate::sys::mem::SecretPages;
use crate::sys::xts::XtsCipher;
use crate::volume::{BlockCrypt, BlockShutdown, BlockStats};

/// mountinfo filesystem type of every XTS volume server (`fuse.<subtype>`).
pub const FUSE_FSTYPE: &str = "fuse.ferrogate-xts";
/// Room before the data area for a WRITE's headers.
pub(super) const HEAD: usize = 4096;
/// How long an unmount waits for the loop device to let go of the file.
const UNMOUNT_PATIENCE: Duration = Duration::from_secs(3);
/// How long shutdown waits for the workers to leave.
const JOIN_PATIENCE: Duration = Duration::from_secs(3);

/// Tuning of one server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerConfig {
    /// Worker threads (each a cloned `/dev/fuse` descriptor and a buffer).
    /// The loop device keeps many requests in flight; with `O_DIRECT`
    /// backing I/O each one blocks a worker, so workers ≈ queue depth.
    pub threads: usize,
    /// Largest READ/WRITE the kernel sends (bytes, multiple of 4 KiB, at most
    /// 1 MiB, the kernel's default page limit per request).
    pub max_write: u32,
    /// Open the backing file with `O_DIRECT` (falls back to buffered I/O on
    /// file systems that refuse it).
    pub direct_backing: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            threads: 8,
            max_write: 1 << 20,
            direct_backing: true,
        }
    }
}

impl ServerConfig {
    fn normalized(&self) -> ServerConfig {
        let mw = (self.max_write.clamp(32 << 10, 1 << 20) / 4096) * 4096;
        ServerConfig {
            threads: self.threads.clamp(1, 64),
            max_write: mw,
            direct_backing: self.direct_backing,
        }
    }

    /// Bytes of buffer per worker: header room, the largest request's
    /// covering sectors, and one scratch sector.
    pub fn buffer_len(&self) -> usize {
        let mw = usize::try_from(self.normalized().max_write).unwrap_or(1 << 20);
        HEAD + mw + 3 * SECTOR
    }
}

/// What a server needs to know about its volume.
#[derive(Clone, Copy, Debug)]
pub struct ServeParams<'a> {
    /// The volume id (the mount's source in mountinfo).
    pub volume_id: &'a str,
    /// The ciphertext file (exists, `size` bytes, sparse).
    pub backing: &'a Path,
    /// Where to mount (an empty directory).
    pub mountpoint: &'a Path,
    /// Volume size in bytes (a multiple of 4 KiB).
    pub size: u64,
}

#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) reads: AtomicU64,
    pub(super) writes: AtomicU64,
    pub(super) bytes_read: AtomicU64,
    pub(super) bytes_written: AtomicU64,
    pub(super) syncs: AtomicU64,
    pub(super) io_errors: AtomicU64,
    pub(super) io_flushers: AtomicU64,
}

#[derive(Debug)]
pub(super) struct Shared {
    pub(super) disk: Disk,
    pub(super) keys: Vec<KeySlot>,
    pub(super) stop: AtomicBool,
    pub(super) stats: Counters,
    pub(super) max_write: u32,
    pub(super) started: u64,
}

/// A running server. Dropping it shuts it down.
pub struct XtsServer {
    mountpoint: PathBuf,
    device_file: PathBuf,
    shared: Arc<Shared>,
    workers: Vec<Option<JoinHandle<()>>>,
    exited: mpsc::Receiver<usize>,
    conn: Option<u64>,
    locked_bytes: u64,
    buffer_bytes: u64,
    finished: Option<BlockShutdown>,
}

impl std::fmt::Debug for XtsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XtsServer")
            .field("mountpoint", &self.mountpoint)
            .field("workers", &self.workers.len())
            .field("conn", &self.conn)
            .finish_non_exhaustive()
    }
}

fn open_backing(path: &Path, direct: bool) -> io::Result<(File, bool)> {
    let open = |flags: i32| {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW | flags)
            .open(path)
    };
    if direct {
        match open(libc::O_DIRECT) {
            Ok(f) => return Ok((f, true)),
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {}
            Err(e) => return Err(e),
        }
    }
    open(0).map(|f| (f, false))
}

/// Mounts the FUSE control filesystem at `/sys/fs/fuse/connections` if it is
/// not there (systemd normally does; minimal hosts may not): it is how a
/// connection whose mount had to be detached lazily is aborted. Once per
/// process; failure only weakens that last resort.
pub(crate) fn ensure_fusectl() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let dir = Path::new("/sys/fs/fuse/connections");
        let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let mounted = mi.lines().any(|l| {
            l.split_once(" - ").is_some_and(|(left, right)| {
                right.starts_with("fusectl ")
                    && left.split(' ').nth(4) == Some("/sys/fs/fuse/connections")
            })
        });
        if !mounted && dir.is_dir() {
            if let Err(e) =
                sys::mount::mount(Some(Path::new("fusectl")), dir, Some("fusectl"), 0, None)
            {
                tracing::warn!(error = %e, "cannot mount fusectl at /sys/fs/fuse/connections");
            }
        }
    });
}

/// Starts the server of one volume: expands the key into one cipher per
/// worker (then drops `key`, which zeroizes it), mounts the FUSE file system
/// at `p.mountpoint`, starts the workers and waits until the kernel's INIT is
/// answered. On error nothing is left mounted or running.
pub fn start(p: &ServeParams<'_>, key: XtsKey, cfg: &ServerConfig) -> io::Result<XtsServer> {
    let cfg = cfg.normalized();
    ensure_fusectl();
    let (backing, direct) = open_backing(p.backing, cfg.direct_backing)?;
    let keys = (0..cfg.threads)
        .map(|_| XtsCipher::new(key.expose()).map(KeySlot::new))
        .collect::<Result<Vec<_>, _>>()
        .map_err(io::Error::other)?;
    drop(key);
    let bufs = (0..cfg.threads)
        .map(|_| SecretPages::new(cfg.buffer_len()))
        .collect::<io::Result<Vec<_>>>()?;
    let locked_bytes = bufs
        .iter()
        .filter(|b| b.locked())
        .map(|b| b.len() as u64)
        .sum();
    let buffer_bytes = bufs.iter().map(|b| b.len() as u64).sum();
    let shared = Arc::new(Shared {
        disk: Disk::new(backing, p.size, direct),
        keys,
        stop: AtomicBool::new(false),
        stats: Counters::default(),
        max_write: cfg.max_write,
        started: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    });
    let master = sys::fuse::open_dev()?;
    let opts = format!(
        "fd={},rootmode=40000,user_id=0,group_id=0,default_permissions,max_read={}",
        master.as_raw_fd(),
        cfg.max_write
    );
    sys::mount::mount(
        Some(Path::new(&format!("xts:{}", p.volume_id))),
        p.mountpoint,
        Some(FUSE_FSTYPE),
        libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC | libc::MS_NOATIME,
        Some(&opts),
    )?;
    let (tx, exited) = mpsc::channel();
    let mut server = XtsServer {
        mountpoint: p.mountpoint.to_owned(),
        device_file: p
            .mountpoint
            .join(std::str::from_utf8(proto::DISK_NAME).unwrap_or("disk")),
        shared,
        workers: Vec::new(),
        exited,
        conn: None,
        locked_bytes,
        buffer_bytes,
        finished: None,
    };
    // From here on, dropping `server` unmounts and stops what was started.
    let mut devs = Vec::with_capacity(cfg.threads);
    for _ in 1..cfg.threads {
        devs.push(sys::fuse::clone_dev(master.as_fd())?);
    }
    devs.push(master);
    for (slot, (dev, buf)) in devs.into_iter().zip(bufs).enumerate() {
        let raw = dev.as_raw_fd();
        let w = Worker {
            dev,
            buf,
            slot,
            shared: server.shared.clone(),
            exited: tx.clone(),
        };
        let (ready_tx, ready) = mpsc::channel();
        let h = std::thread::Builder::new()
            .name(format!("fg-xts-{slot}"))
            .stack_size(256 << 10)
            .spawn(move || w.run(ready_tx))?;
        server.workers.push(Some(h));
        match ready.recv() {
            // The worker's `File` owns its copy in its own table now; this
            // one, in the shared table, is owned by no one.
            Ok(Ok(())) => sys::fuse::close_moved(raw),
            // The worker did not move (its `File` still owns `raw` here, and
            // closes it as it exits); dropping `server` stops the others.
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err(io::Error::other("an XTS worker died while starting")),
        }
    }
    // The first request to the new mount waits for INIT; its answer proves
    // the workers serve. st_dev names the connection in fusectl.
    let st = std::fs::metadata(p.mountpoint)?;
    let dev = st.dev();
    server.conn = Some((u64::from(libc::major(dev)) << 20) | u64::from(libc::minor(dev)));
    Ok(server)
}

impl XtsServer {
    fn unmount(&self) -> Result<bool, String> {
        let deadline = Instant::now() + UNMOUNT_PATIENCE;
        loop {
            match sys::mount::umount2(&self.mountpoint, 0) {
                Ok(()) => return Ok(true),
                Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL | libc::ENOENT)) => {
                    return Ok(true)
                }
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => {
                    // Still busy (or stuck): detach it; the connection is
                    // aborted below, so whoever holds it gets errors.
                    return match sys::mount::umount2(&self.mountpoint, libc::MNT_DETACH) {
                        Ok(()) => Ok(false),
                        Err(e2) => Err(format!(
                            "unmounting {}: {e}; lazily: {e2}",
                            self.mountpoint.display()
                        )),
                    };
                }
            }
        }
    }

    fn join_workers(&mut self) -> bool {
        let deadline = Instant::now() + JOIN_PATIENCE;
        let mut left = self.workers.iter().filter(|w| w.is_some()).count();
        while left > 0 {
            let wait = deadline.saturating_duration_since(Instant::now());
            match self.exited.recv_timeout(wait) {
                Ok(slot) => {
                    if let Some(h) = self.workers.get_mut(slot).and_then(Option::take) {
                        let _ = h.join();
                        left -= 1;
                    }
                }
                Err(_) => return false,
            }
        }
        true
    }
}

impl BlockCrypt for XtsServer {
    fn device_file(&self) -> &Path {
        &self.device_file
    }

    fn shutdown(&mut self) -> BlockShutdown {
        if let Some(done) = &self.finished {
            return done.clone();
        }
        self.shared.stop.store(true, Ordering::SeqCst);
        for k in &self.shared.keys {
            k.destroy();
        }
        let key_destroyed = self.shared.keys.iter().all(|k| !k.present());
        let unmounted = self.unmount();
        if let Some(conn) = self.conn {
            // No-op if the unmount already ended the connection.
            let _ = std::fs::write(format!("/sys/fs/fuse/connections/{conn}/abort"), b"1");
        }
        let workers_stopped = self.join_workers();
        let report = BlockShutdown {
            key_destroyed,
            unmounted: matches!(unmounted, Ok(true)),
            workers_stopped,
            error: unmounted.err(),
        };
        self.finished = Some(report.clone());
        report
    }

    fn stats(&self) -> BlockStats {
        let c = &self.shared.stats;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        BlockStats {
            reads: get(&c.reads),
            writes: get(&c.writes),
            bytes_read: get(&c.bytes_read),
            bytes_written: get(&c.bytes_written),
            syncs: get(&c.syncs),
            io_errors: get(&c.io_errors),
            workers: self.workers.len(),
            io_flushers: get(&c.io_flushers),
            buffer_bytes: self.buffer_bytes,
            locked_bytes: self.locked_bytes,
        }
    }
}

impl Drop for XtsServer {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}
