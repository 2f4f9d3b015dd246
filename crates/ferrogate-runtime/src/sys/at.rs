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

// ---------------------------------------------------------------------------
// Names as raw bytes. Image layers and OCI layouts name files with whatever
// bytes their authors chose (not necessarily UTF-8); the image loader works
// with these wrappers, every one of them relative to a directory descriptor.
// ---------------------------------------------------------------------------

/// How the image loader resolves a path below a directory it holds: never
/// through any symlink (`ELOOP`), never above the directory (`EXDEV`), never
/// onto another mount.
pub const RESOLVE_TREE: u64 = libc::RESOLVE_BENEATH
    | libc::RESOLVE_NO_SYMLINKS
    | libc::RESOLVE_NO_MAGICLINKS
    | libc::RESOLVE_NO_XDEV;

fn cos(name: &std::ffi::OsStr) -> io::Result<CString> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(name.as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "name contains a NUL byte"))
}

/// What the loader needs of a `struct stat`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileStat {
    /// `st_mode` (type and permission bits).
    pub mode: u32,
    /// `st_size`.
    pub size: u64,
    /// Bytes allocated (`st_blocks * 512`).
    pub allocated: u64,
}

impl FileStat {
    /// The file type bits (`S_IFMT`).
    pub fn kind(&self) -> u32 {
        self.mode & libc::S_IFMT
    }
}

fn file_stat(st: &libc::stat) -> FileStat {
    FileStat {
        mode: st.st_mode,
        size: u64::try_from(st.st_size).unwrap_or(0),
        allocated: u64::try_from(st.st_blocks).unwrap_or(0).saturating_mul(512),
    }
}

/// `openat2(2)` of a relative path of raw bytes. `EAGAIN` is retried as in
/// [`openat2`]; `ENOSYS` is returned as is (no fallback).
pub fn openat2_os(
    dir: BorrowedFd<'_>,
    path: &std::ffi::OsStr,
    flags: i32,
    mode: u32,
    resolve: u64,
) -> io::Result<OwnedFd> {
    let c = cos(path)?;
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

/// `openat(2)` of one name (raw bytes) in `dir`, close-on-exec.
pub fn openat_os(
    dir: BorrowedFd<'_>,
    name: &std::ffi::OsStr,
    flags: i32,
    mode: u32,
) -> io::Result<OwnedFd> {
    let c = cos(name)?;
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

/// `fstatat(dir, name, AT_SYMLINK_NOFOLLOW)`: a symlink at `name` is
/// described, not followed.
pub fn fstatat_nofollow(dir: BorrowedFd<'_>, name: &std::ffi::OsStr) -> io::Result<FileStat> {
    let c = cos(name)?;
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `c` is a valid C string, `st` a writable `struct stat`, `dir` a
    // valid descriptor.
    cvt(unsafe {
        libc::fstatat(
            dir.as_raw_fd(),
            c.as_ptr(),
            st.as_mut_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    })?;
    // SAFETY: fstatat succeeded, so it filled `st`.
    Ok(file_stat(&unsafe { st.assume_init() }))
}

/// `fstat(2)` of a descriptor.
pub fn stat_fd(fd: BorrowedFd<'_>) -> io::Result<FileStat> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `st` is a writable `struct stat`; `fd` a valid descriptor.
    cvt(unsafe { libc::fstat(fd.as_raw_fd(), st.as_mut_ptr()) })?;
    // SAFETY: fstat succeeded, so it filled `st`.
    Ok(file_stat(&unsafe { st.assume_init() }))
}

/// `mkdirat(2)` of one name (raw bytes); never follows a symlink at `name`.
pub fn mkdirat_os(dir: BorrowedFd<'_>, name: &std::ffi::OsStr, mode: u32) -> io::Result<()> {
    let c = cos(name)?;
    // SAFETY: `c` is a valid C string; `dir` a valid descriptor.
    cvt(unsafe { libc::mkdirat(dir.as_raw_fd(), c.as_ptr(), mode) }).map(drop)
}

/// `mknodat(2)` of one name (raw bytes).
pub fn mknodat_os(
    dir: BorrowedFd<'_>,
    name: &std::ffi::OsStr,
    mode: u32,
    major: u32,
    minor: u32,
) -> io::Result<()> {
    let c = cos(name)?;
    let dev = libc::makedev(major, minor);
    // SAFETY: `c` is a valid C string; `dir` a valid descriptor.
    cvt(unsafe { libc::mknodat(dir.as_raw_fd(), c.as_ptr(), mode, dev) }).map(drop)
}

/// `symlinkat(2)`: creates `name` in `dir` holding `target` (never resolved).
pub fn symlinkat_os(
    target: &std::ffi::OsStr,
    dir: BorrowedFd<'_>,
    name: &std::ffi::OsStr,
) -> io::Result<()> {
    let t = cos(target)?;
    let n = cos(name)?;
    // SAFETY: both are valid C strings; `dir` a valid descriptor.
    cvt(unsafe { libc::symlinkat(t.as_ptr(), dir.as_raw_fd(), n.as_ptr()) }).map(drop)
}

/// `linkat(2)` without `AT_SYMLINK_FOLLOW`: a symlink at `old` is linked
/// itself, not its target.
pub fn linkat(
    old_dir: BorrowedFd<'_>,
    old: &std::ffi::OsStr,
    new_dir: BorrowedFd<'_>,
    new: &std::ffi::OsStr,
) -> io::Result<()> {
    let o = cos(old)?;
    let n = cos(new)?;
    // SAFETY: both are valid C strings; both descriptors are valid.
    cvt(unsafe {
        libc::linkat(
            old_dir.as_raw_fd(),
            o.as_ptr(),
            new_dir.as_raw_fd(),
            n.as_ptr(),
            0,
        )
    })
    .map(drop)
}

/// `unlinkat(2)`; `dir_entry` removes an (empty) directory.
pub fn unlinkat(dir: BorrowedFd<'_>, name: &std::ffi::OsStr, dir_entry: bool) -> io::Result<()> {
    let c = cos(name)?;
    let flags = if dir_entry { libc::AT_REMOVEDIR } else { 0 };
    // SAFETY: `c` is a valid C string; `dir` a valid descriptor.
    cvt(unsafe { libc::unlinkat(dir.as_raw_fd(), c.as_ptr(), flags) }).map(drop)
}

/// `fchownat(dir, name, uid, gid, AT_SYMLINK_NOFOLLOW)`: for symlinks, the
/// one kind of inode the loader holds no descriptor to.
pub fn fchownat_nofollow(
    dir: BorrowedFd<'_>,
    name: &std::ffi::OsStr,
    uid: u32,
    gid: u32,
) -> io::Result<()> {
    let c = cos(name)?;
    // SAFETY: `c` is a valid C string; `dir` a valid descriptor.
    cvt(unsafe {
        libc::fchownat(
            dir.as_raw_fd(),
            c.as_ptr(),
            uid,
            gid,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    })
    .map(drop)
}

/// `fchown(2)`.
pub fn fchown(fd: BorrowedFd<'_>, uid: u32, gid: u32) -> io::Result<()> {
    // SAFETY: `fd` is a valid descriptor.
    cvt(unsafe { libc::fchown(fd.as_raw_fd(), uid, gid) }).map(drop)
}

/// `fchmod(2)`. Not on `O_PATH` descriptors (the kernel answers `EBADF`).
pub fn fchmod(fd: BorrowedFd<'_>, mode: u32) -> io::Result<()> {
    // SAFETY: `fd` is a valid descriptor.
    cvt(unsafe { libc::fchmod(fd.as_raw_fd(), mode) }).map(drop)
}

fn times(secs: i64) -> [libc::timespec; 2] {
    let ts = libc::timespec {
        tv_sec: secs as libc::time_t,
        tv_nsec: 0,
    };
    [ts, ts]
}

/// `futimens(2)`: access and modification time of a descriptor.
pub fn futimens(fd: BorrowedFd<'_>, secs: i64) -> io::Result<()> {
    let t = times(secs);
    // SAFETY: `t` is the 2-element array futimens requires; `fd` is valid.
    cvt(unsafe { libc::futimens(fd.as_raw_fd(), t.as_ptr()) }).map(drop)
}

/// `utimensat(dir, name, .., AT_SYMLINK_NOFOLLOW)`: times of `name` itself.
pub fn utimensat_nofollow(
    dir: BorrowedFd<'_>,
    name: &std::ffi::OsStr,
    secs: i64,
) -> io::Result<()> {
    let c = cos(name)?;
    let t = times(secs);
    // SAFETY: `c` is a valid C string, `t` a 2-element array; `dir` is valid.
    cvt(unsafe {
        libc::utimensat(
            dir.as_raw_fd(),
            c.as_ptr(),
            t.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    })
    .map(drop)
}

/// `fsetxattr(2)`.
pub fn fsetxattr(fd: BorrowedFd<'_>, name: &str, value: &[u8]) -> io::Result<()> {
    let n = cname(name)?;
    // SAFETY: `n` is a valid C string; `value` a readable buffer of
    // `value.len()` bytes; `fd` a valid descriptor.
    cvt(unsafe {
        libc::fsetxattr(
            fd.as_raw_fd(),
            n.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    })
    .map(drop)
}

/// The names in the directory `dir` (without `.` and `..`), each with
/// whether it is a directory (`d_type`, or `fstatat` where the file system
/// does not fill it in). Reads through a duplicate, so `dir` stays usable.
pub fn dir_entries(dir: BorrowedFd<'_>) -> io::Result<Vec<(std::ffi::OsString, bool)>> {
    use std::os::unix::ffi::OsStrExt;
    let dup = dir.try_clone_to_owned()?;
    let raw = std::os::fd::IntoRawFd::into_raw_fd(dup);
    // SAFETY: `raw` is a descriptor we own; on success fdopendir takes it
    // over (closedir closes it).
    let d = unsafe { libc::fdopendir(raw) };
    if d.is_null() {
        let e = io::Error::last_os_error();
        // SAFETY: fdopendir failed, so `raw` is still ours to close.
        drop(unsafe { OwnedFd::from_raw_fd(raw) });
        return Err(e);
    }
    // A fresh descriptor from dup shares its offset with `dir`: start over.
    // SAFETY: `d` is the valid DIR* just opened.
    unsafe { libc::rewinddir(d) };
    let mut out = Vec::new();
    let result = loop {
        // readdir signals errors only through errno.
        // SAFETY: errno is thread-local; writing it is always sound.
        unsafe { *libc::__errno_location() = 0 };
        // SAFETY: `d` is a valid DIR* until closedir below.
        let ent = unsafe { libc::readdir64(d) };
        if ent.is_null() {
            let e = io::Error::last_os_error();
            break if e.raw_os_error().unwrap_or(0) == 0 {
                Ok(())
            } else {
                Err(e)
            };
        }
        // SAFETY: readdir returned a valid entry whose d_name is
        // NUL-terminated; it stays valid until the next readdir, and the
        // name is copied out before that.
        let (name, kind) = unsafe {
            (
                std::ffi::CStr::from_ptr((*ent).d_name.as_ptr()),
                (*ent).d_type,
            )
        };
        let bytes = name.to_bytes();
        if bytes == b"." || bytes == b".." {
            continue;
        }
        let name = std::ffi::OsStr::from_bytes(bytes).to_owned();
        let is_dir = match kind {
            libc::DT_DIR => true,
            libc::DT_UNKNOWN => match fstatat_nofollow(dir, &name) {
                Ok(st) => st.kind() == libc::S_IFDIR,
                Err(e) => break Err(e),
            },
            _ => false,
        };
        out.push((name, is_dir));
    };
    // SAFETY: `d` is valid and not used after this.
    unsafe { libc::closedir(d) };
    result.map(|()| out)
}
