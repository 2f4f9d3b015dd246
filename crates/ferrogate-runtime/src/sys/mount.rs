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
