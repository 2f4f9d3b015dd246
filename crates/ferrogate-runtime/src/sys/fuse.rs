//! The few FUSE and file calls the XTS volume server needs beyond `std`:
//! cloning a `/dev/fuse` descriptor, giving a worker thread a descriptor table
//! of its own, punching holes, marking a thread as an I/O flusher. Reading
//! requests and writing replies use `std::fs::File`.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;

use super::cvt;

/// `FUSE_DEV_IOC_CLONE` = `_IOR(229, 0, uint32_t)` (linux/fuse.h).
const FUSE_DEV_IOC_CLONE: u64 = 0x8004_E500;
/// `PR_SET_IO_FLUSHER` (linux/prctl.h, Linux 5.6).
const PR_SET_IO_FLUSHER: i32 = 57;

/// Opens `/dev/fuse` (close-on-exec).
pub fn open_dev() -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_CLOEXEC)
        .open("/dev/fuse")
}

/// A second descriptor on the FUSE connection of `master` (`FUSE_DEV_IOC_CLONE`):
/// requests read from it are answered on it, so each worker thread has its own
/// processing queue instead of sharing one lock.
pub fn clone_dev(master: BorrowedFd<'_>) -> io::Result<File> {
    let f = open_dev()?;
    let fd =
        u32::try_from(master.as_raw_fd()).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
    // SAFETY: FUSE_DEV_IOC_CLONE reads one u32 (the master descriptor) from
    // the pointer, which points to `fd` for the duration of the call.
    cvt(unsafe {
        libc::ioctl(
            f.as_raw_fd(),
            FUSE_DEV_IOC_CLONE as libc::Ioctl,
            &fd as *const u32,
        )
    })?;
    Ok(f)
}

/// Gives the calling thread a descriptor table of its own
/// (`unshare(CLONE_FILES)`) and closes in it every descriptor but the standard
/// streams and `keep`. The process's shared table is untouched: the caller
/// closes there what now lives only here.
///
/// Why the XTS workers do this: a `/dev/fuse` connection ends (and every
/// request waiting on it fails) when its last descriptor is closed. If the
/// workers' descriptors lived in the process's shared table, a thread of the
/// same process waiting uninterruptibly for a FUSE answer (an `fsync`, a
/// `LOOP_CONFIGURE` flushing the FUSE file) would keep that table, and so the
/// connection, alive after a `kill -9` had taken the workers: the process
/// would never finish dying. In tables of their own, the descriptors go with
/// the workers, the kernel aborts the connection, and the waiter gets an error.
pub fn private_fd_table(keep: &[RawFd]) -> io::Result<()> {
    // SAFETY: unshare(CLONE_FILES) copies the calling thread's descriptor
    // table; no pointers. Every descriptor other threads own stays open in
    // the shared table, so closing the copies below affects no one else.
    cvt(unsafe { libc::unshare(libc::CLONE_FILES) })?;
    let mut keep: Vec<u32> = keep
        .iter()
        .filter_map(|&fd| u32::try_from(fd).ok())
        .filter(|&fd| fd > 2)
        .collect();
    keep.sort_unstable();
    keep.dedup();
    let mut from = 3u32;
    for k in keep {
        if k > from {
            close_range(from, k - 1)?;
        }
        from = k + 1;
    }
    close_range(from, u32::MAX)
}

/// Closes `fd` in the process's shared table after the worker that owns it
/// moved to a table of its own ([`private_fd_table`]): the `File` that owns
/// the descriptor now owns the copy in that table, so this copy has no owner.
/// The caller must not use `fd` afterwards.
pub fn close_moved(fd: RawFd) {
    // SAFETY: per the contract above, nothing in this process owns or uses
    // `fd` in the shared table any more; no pointers.
    let _ = unsafe { libc::close(fd) };
}

/// `close_range(first, last, 0)` (Linux 5.9) on the calling thread's table.
fn close_range(first: u32, last: u32) -> io::Result<()> {
    // SAFETY: closes descriptors of this thread's private table (see
    // `private_fd_table`); no pointers.
    super::cvt_long(unsafe {
        libc::syscall(
            libc::SYS_close_range,
            libc::c_uint::from(first),
            libc::c_uint::from(last),
            0 as libc::c_uint,
        )
    })
    .map(drop)
}

/// `fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)`: the range reads as
/// zeros afterwards and its blocks are freed.
pub fn punch_hole(file: &File, offset: u64, len: u64) -> io::Result<()> {
    let off =
        libc::off_t::try_from(offset).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let len = libc::off_t::try_from(len).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: fallocate on an open descriptor; no pointers.
    cvt(unsafe {
        libc::fallocate(
            file.as_raw_fd(),
            libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
            off,
            len,
        )
    })
    .map(drop)
}

/// `prctl(PR_SET_IO_FLUSHER, 1)` for the calling thread: its allocations never
/// recurse into writeback (`PF_MEMALLOC_NOIO`) and it is not throttled as a
/// dirtier, which is what a userspace block driver needs. Needs
/// `CAP_SYS_RESOURCE`.
pub fn set_io_flusher() -> io::Result<()> {
    super::process::prctl(PR_SET_IO_FLUSHER, 1).map(drop)
}
