//! Mounts and namespaces.

use std::ffi::CString;
use std::io;
use std::path::Path;

use super::{cpath, cstr, cvt, cvt_long};

/// `mount(2)`. `source`, `fstype` and `data` may be absent.
pub fn mount(
    source: Option<&Path>,
    target: &Path,
    fstype: Option<&str>,
    flags: u64,
    data: Option<&str>,
) -> io::Result<()> {
    let src: Option<CString> = source.map(cpath).transpose()?;
    let tgt = cpath(target)?;
    let fs: Option<CString> = fstype.map(cstr).transpose()?;
    let dat: Option<CString> = data.map(cstr).transpose()?;
    // SAFETY: every pointer is either null or a valid NUL-terminated string
    // that outlives the call.
    cvt(unsafe {
        libc::mount(
            src.as_ref().map_or(std::ptr::null(), |c| c.as_ptr()),
            tgt.as_ptr(),
            fs.as_ref().map_or(std::ptr::null(), |c| c.as_ptr()),
            flags as libc::c_ulong,
            dat.as_ref()
                .map_or(std::ptr::null(), |c| c.as_ptr().cast::<libc::c_void>()),
        )
    })
    .map(drop)
}

/// `open_tree(path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC)`: a detached copy
/// of the mount at `path` (not its submounts), alive while the descriptor is.
pub fn open_tree_clone(path: &Path) -> io::Result<std::os::fd::OwnedFd> {
    const OPEN_TREE_CLONE: libc::c_uint = 1;
    let p = cpath(path)?;
    // OPEN_TREE_CLOEXEC is O_CLOEXEC.
    let flags = OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint;
    // SAFETY: `p` is a valid C string; no other pointers.
    let fd =
        cvt_long(unsafe { libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, p.as_ptr(), flags) })?;
    let fd = i32::try_from(fd).map_err(|_| io::Error::other("fd out of range"))?;
    // SAFETY: `fd` was just returned by open_tree and is owned by nobody else.
    Ok(unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) })
}

/// The running kernel's (major, minor) version, from `uname(2)`.
pub fn kernel_version() -> Option<(u32, u32)> {
    let mut u = std::mem::MaybeUninit::<libc::utsname>::uninit();
    // SAFETY: `u` is a writable `struct utsname`.
    cvt(unsafe { libc::uname(u.as_mut_ptr()) }).ok()?;
    // SAFETY: uname succeeded, so it filled `u`; `release` is NUL-terminated.
    let release = unsafe { std::ffi::CStr::from_ptr(u.assume_init_ref().release.as_ptr()) };
    let r = release.to_str().ok()?;
    let mut it = r.split(|c: char| !c.is_ascii_digit());
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

/// `umount2(2)`.
pub fn umount2(target: &Path, flags: i32) -> io::Result<()> {
    let tgt = cpath(target)?;
    // SAFETY: `tgt` is a valid C string.
    cvt(unsafe { libc::umount2(tgt.as_ptr(), flags) }).map(drop)
}

/// `pivot_root(2)`.
pub fn pivot_root(new_root: &Path, put_old: &Path) -> io::Result<()> {
    let n = cpath(new_root)?;
    let o = cpath(put_old)?;
    // SAFETY: both are valid C strings.
    cvt_long(unsafe { libc::syscall(libc::SYS_pivot_root, n.as_ptr(), o.as_ptr()) }).map(drop)
}

/// `unshare(2)`.
pub fn unshare(flags: i32) -> io::Result<()> {
    // SAFETY: unshare has no memory-safety preconditions.
    cvt(unsafe { libc::unshare(flags) }).map(drop)
}

/// Brings the loopback interface of the current network namespace up
/// (`SIOCGIFFLAGS` / `SIOCSIFFLAGS` on "lo").
pub fn loopback_up() -> io::Result<()> {
    #[repr(C)]
    struct IfReqFlags {
        name: [u8; 16],
        flags: libc::c_short,
        pad: [u8; 22],
    }
    // SAFETY: plain socket creation.
    let fd = cvt(unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: `fd` was just returned by socket() and is owned by nobody else.
    let owned = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    let mut req = IfReqFlags {
        name: [0; 16],
        flags: 0,
        pad: [0; 22],
    };
    req.name[..2].copy_from_slice(b"lo");
    // SAFETY: `req` is a valid 40-byte `struct ifreq` naming "lo".
    cvt(unsafe {
        libc::ioctl(
            fd,
            libc::SIOCGIFFLAGS as libc::Ioctl,
            &mut req as *mut IfReqFlags,
        )
    })?;
    req.flags |= libc::c_short::try_from(libc::IFF_UP).unwrap_or(1);
    // SAFETY: as above.
    cvt(unsafe {
        libc::ioctl(
            fd,
            libc::SIOCSIFFLAGS as libc::Ioctl,
            &mut req as *mut IfReqFlags,
        )
    })?;
    drop(owned);
    Ok(())
}
