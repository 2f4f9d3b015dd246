//! The few FUSE and file calls the XTS volume server needs beyond `std`:
//! cloning a `/dev/fuse` descriptor, punching holes, marking a thread as an
//! I/O flusher. Reading requests and writing replies use `std::fs::File`.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
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
