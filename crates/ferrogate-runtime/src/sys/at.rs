//! Descriptor-relative file operations (`openat2`, `mkdirat`, ...), used to
//! build a container root without ever resolving a path of the image against
//! the host's `/`.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use super::{cvt, cvt_long};

/// How every lookup inside a container root is resolved: as if the root
/// were `/` (absolute symlinks and `..` stay inside it), and never through
/// `/proc/<pid>/fd`-style magic links.
pub const RESOLVE_CONFINED: u64 = libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS;

fn cname(name: &str) -> io::Result<CString> {
    CString::new(name.as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "name contains a NUL byte"))
}

/// `open(2)` of an absolute or cwd-relative path.
pub fn open(path: &std::path::Path, flags: i32) -> io::Result<OwnedFd> {
    let c = super::cpath(path)?;
    // SAFETY: `c` is a valid C string; open has no other preconditions.
    let fd = cvt(unsafe { libc::open(c.as_ptr(), flags | libc::O_CLOEXEC) })?;
    // SAFETY: `fd` was just returned by open and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `struct open_how` (libc's is non-exhaustive).
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// `openat2(2)` with `how.resolve = resolve`. `ENOSYS` (kernel older than
/// 5.6) is returned as is: callers fail closed, there is no fallback.
pub fn openat2(
    dir: BorrowedFd<'_>,
    path: &str,
    flags: i32,
    mode: u32,
    resolve: u64,
) -> io::Result<OwnedFd> {
    let c = cname(path)?;
    let how = OpenHow {
        flags: u64::try_from(flags | libc::O_CLOEXEC).unwrap_or(0),
        mode: u64::from(mode),
        resolve,
    };
    loop {
        // SAFETY: `c` is a valid C string, `how` a valid `struct open_how`
        // whose size is passed; the kernel only reads both.
        let r = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dir.as_raw_fd(),
                c.as_ptr(),
                &how as *const OpenHow,
                std::mem::size_of::<OpenHow>(),
            )
        };
        match cvt_long(r) {
            // RESOLVE_IN_ROOT returns EAGAIN when a concurrent rename could
            // have let a `..` escape; retrying is the documented answer.
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => continue,
            Err(e) => return Err(e),
            Ok(fd) => {
                let fd = i32::try_from(fd).map_err(|_| io::Error::other("fd out of range"))?;
                // SAFETY: `fd` was just returned by openat2 and is owned by
                // nobody else.
                return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
            }
        }
    }
}

/// `openat(2)` of one name in `dir`.
pub fn openat(dir: BorrowedFd<'_>, name: &str, flags: i32, mode: u32) -> io::Result<OwnedFd> {
    let c = cname(name)?;
    // SAFETY: `c` is a valid C string; `dir` a valid descriptor.
    let fd = cvt(unsafe {
        libc::openat(
            dir.as_raw_fd(),
            c.as_ptr(),
            flags | libc::O_CLOEXEC,
            mode as libc::c_uint,
        )
    })?;
    // SAFETY: `fd` was just returned by openat and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `mkdirat(2)`: never follows a symlink at `name`.
pub fn mkdirat(dir: BorrowedFd<'_>, name: &str, mode: u32) -> io::Result<()> {
    let c = cname(name)?;
    // SAFETY: `c` is a valid C string; `dir` a valid descriptor.
    cvt(unsafe { libc::mkdirat(dir.as_raw_fd(), c.as_ptr(), mode) }).map(drop)
}

/// `mknodat(2)`.
pub fn mknodat(
    dir: BorrowedFd<'_>,
    name: &str,
    mode: u32,
    major: u32,
    minor: u32,
) -> io::Result<()> {
    let c = cname(name)?;
    let dev = libc::makedev(major, minor);
    // SAFETY: `c` is a valid C string; `dir` a valid descriptor.
    cvt(unsafe { libc::mknodat(dir.as_raw_fd(), c.as_ptr(), mode, dev) }).map(drop)
}

/// `symlinkat(2)`: creates `name` in `dir` pointing at `target`.
pub fn symlinkat(target: &str, dir: BorrowedFd<'_>, name: &str) -> io::Result<()> {
    let t = cname(target)?;
    let n = cname(name)?;
    // SAFETY: both are valid C strings; `dir` a valid descriptor.
    cvt(unsafe { libc::symlinkat(t.as_ptr(), dir.as_raw_fd(), n.as_ptr()) }).map(drop)
}

/// `fstat(2)`: (st_mode, st_size). Works on `O_PATH` descriptors.
pub fn fstat(fd: BorrowedFd<'_>) -> io::Result<(u32, u64)> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `st` is a writable `struct stat`; `fd` a valid descriptor.
    cvt(unsafe { libc::fstat(fd.as_raw_fd(), st.as_mut_ptr()) })?;
    // SAFETY: fstat succeeded, so it filled `st`.
    let st = unsafe { st.assume_init() };
    Ok((st.st_mode, u64::try_from(st.st_size).unwrap_or(0)))
}
