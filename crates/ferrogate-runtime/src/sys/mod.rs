//! Raw Linux system calls, wrapped once, safely.
//!
//! This module is the only place in the crate where `unsafe` is allowed. Each
//! function here is a thin, safe wrapper: it validates or owns its inputs,
//! makes exactly one kind of system call, and turns the C return convention
//! into `io::Result`. Nothing here has policy; the order of operations lives in
//! `volume`, `sandbox` and `agent`, behind the [`crate::syscall::Syscall`] trait.
//!
//! Every `unsafe` block carries a `// SAFETY:` comment (enforced by
//! `clippy::undocumented_unsafe_blocks`).
#![allow(unsafe_code)]

pub mod at;
pub mod conntrack;
pub mod fscrypt;
pub mod fuse;
pub mod loopdev;
pub mod mem;
pub mod mount;
pub mod netlink;
pub mod process;
pub mod rtnl;
pub mod seccomp;
pub mod userns;
pub mod xts;

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Converts a C-style `-1 + errno` return into `io::Result`.
pub(crate) fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Like [`cvt`] for `long`-returning calls (`syscall(2)`).
pub(crate) fn cvt_long(ret: libc::c_long) -> io::Result<libc::c_long> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// A path as a NUL-terminated C string; paths with interior NULs are refused.
pub(crate) fn cpath(p: &Path) -> io::Result<CString> {
    CString::new(p.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))
}

/// A string as a NUL-terminated C string.
pub(crate) fn cstr(s: &str) -> io::Result<CString> {
    CString::new(s.as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "string contains a NUL byte"))
}

/// The effective user id of this process.
pub fn geteuid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// The device numbers (major, minor) of a character device open as `fd`; `None` for
/// anything else.
pub fn fstat_rdev(fd: std::os::fd::BorrowedFd<'_>) -> io::Result<Option<(u32, u32)>> {
    use std::os::fd::AsRawFd;
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `st` is a writable `struct stat`; `fd` is open.
    cvt(unsafe { libc::fstat(fd.as_raw_fd(), st.as_mut_ptr()) })?;
    // SAFETY: fstat succeeded and filled `st`.
    let st = unsafe { st.assume_init() };
    if st.st_mode & libc::S_IFMT != libc::S_IFCHR {
        return Ok(None);
    }
    Ok(Some((libc::major(st.st_rdev), libc::minor(st.st_rdev))))
}

/// Bytes available to unprivileged users on the file system holding `path`
/// (`statvfs(2)`: `f_bavail * f_frsize`).
pub fn statvfs_available(path: &Path) -> io::Result<u64> {
    let c = cpath(path)?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `c` is a valid C string and `st` a writable `struct statvfs`.
    cvt(unsafe { libc::statvfs(c.as_ptr(), st.as_mut_ptr()) })?;
    // SAFETY: statvfs succeeded and filled `st`.
    let st = unsafe { st.assume_init() };
    Ok(st.f_bavail.saturating_mul(st.f_frsize))
}

/// `mknod(2)`.
pub fn mknod(path: &Path, mode: u32, major: u32, minor: u32) -> io::Result<()> {
    let c = cpath(path)?;
    let dev = libc::makedev(major, minor);
    // SAFETY: `c` is a valid NUL-terminated string that outlives the call.
    cvt(unsafe { libc::mknod(c.as_ptr(), mode, dev) }).map(drop)
}

#[cfg(test)]
/// `lgetxattr(2)` into a small buffer (values longer than 256 bytes are an error).
pub fn lgetxattr(path: &Path, name: &str) -> io::Result<Vec<u8>> {
    let c = cpath(path)?;
    let n = cstr(name)?;
    let mut buf = vec![0u8; 256];
    // SAFETY: strings are valid; `buf` is writable for `buf.len()` bytes.
    let r = unsafe { libc::lgetxattr(c.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    buf.truncate(usize::try_from(r).unwrap_or(0));
    Ok(buf)
}

/// `sethostname(2)`.
pub fn sethostname(name: &str) -> io::Result<()> {
    // SAFETY: the pointer and length describe `name`'s bytes.
    cvt(unsafe { libc::sethostname(name.as_ptr().cast(), name.len()) }).map(drop)
}

/// Closes every descriptor from 3 up except `keep`: the last step before `execve` in a
/// sandbox child, so that no descriptor of the init (a directory above all) is reachable
/// through `/proc/self/fd` while the new program's path is resolved.
pub fn close_fds_except(keep: u32) -> io::Result<()> {
    let close = |first: u32, last: u32| {
        if first > last {
            return Ok(());
        }
        // SAFETY: as for `close_fds_from`; the caller is about to exec and owns nothing it
        // will use again below `keep` or above it.
        let r = unsafe { libc::syscall(libc::SYS_close_range, first, last, 0) };
        cvt_long(r).map(drop)
    };
    close(3, keep.saturating_sub(1))?;
    close(keep.saturating_add(1), u32::MAX)
}

/// `close_range(first, ~0, flags)`: closes (or marks close-on-exec) every
/// descriptor from `first` up.
pub fn close_fds_from(first: u32, cloexec_only: bool) -> io::Result<()> {
    let flags = if cloexec_only {
        libc::CLOSE_RANGE_CLOEXEC
    } else {
        0
    };
    // SAFETY: close_range only affects this process's descriptor table; the
    // caller guarantees no live Rust object owns a descriptor >= `first`
    // (or only marks them close-on-exec).
    let r = unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, flags) };
    cvt_long(r).map(drop)
}

/// Drops the page cache (`/proc/sys/vm/drop_caches` = 3). Benchmarks only.
pub fn drop_caches() -> io::Result<()> {
    std::fs::write("/proc/sys/vm/drop_caches", b"3")
}

/// `lseek(fd, off, SEEK_DATA)` / `SEEK_HOLE`. `Ok(None)` at end of data (`ENXIO`).
pub fn seek_data_hole(
    fd: std::os::fd::BorrowedFd<'_>,
    off: u64,
    hole: bool,
) -> io::Result<Option<u64>> {
    use std::os::fd::AsRawFd;
    let whence = if hole {
        libc::SEEK_HOLE
    } else {
        libc::SEEK_DATA
    };
    let off = libc::off_t::try_from(off).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: lseek on a borrowed, valid fd.
    let r = unsafe { libc::lseek(fd.as_raw_fd(), off, whence) };
    if r == -1 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::ENXIO) {
            return Ok(None);
        }
        return Err(e);
    }
    Ok(u64::try_from(r).ok())
}

/// `flock(2)` (blocking).
pub fn flock(fd: std::os::fd::BorrowedFd<'_>, exclusive: bool) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let op = if exclusive {
        libc::LOCK_EX
    } else {
        libc::LOCK_SH
    };
    loop {
        // SAFETY: flock on a borrowed, valid fd.
        match cvt(unsafe { libc::flock(fd.as_raw_fd(), op) }) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r.map(drop),
        }
    }
}

/// `flock(2)` with `LOCK_NB`: `Ok(false)` if someone else holds it.
pub fn try_flock_exclusive(fd: std::os::fd::BorrowedFd<'_>) -> io::Result<bool> {
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a borrowed, valid fd.
    match cvt(unsafe { libc::flock(fd.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) }) {
        Ok(_) => Ok(true),
        Err(e) if e.raw_os_error() == Some(libc::EWOULDBLOCK) => Ok(false),
        Err(e) => Err(e),
    }
}
