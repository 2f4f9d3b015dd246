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

/// `open_tree(path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_SYMLINK_NOFOLLOW)`: a
/// detached copy of the mount at `path` (not its submounts), alive while the descriptor
/// is. A final symlink is not followed.
pub fn open_tree_clone(path: &Path) -> io::Result<std::os::fd::OwnedFd> {
    const OPEN_TREE_CLONE: libc::c_uint = 1;
    let p = cpath(path)?;
    // OPEN_TREE_CLOEXEC is O_CLOEXEC.
    let flags = OPEN_TREE_CLONE
        | libc::O_CLOEXEC as libc::c_uint
        | libc::AT_SYMLINK_NOFOLLOW as libc::c_uint;
    // SAFETY: `p` is a valid C string; no other pointers.
    let fd =
        cvt_long(unsafe { libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, p.as_ptr(), flags) })?;
    let fd = i32::try_from(fd).map_err(|_| io::Error::other("fd out of range"))?;
    // SAFETY: `fd` was just returned by open_tree and is owned by nobody else.
    Ok(unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) })
}

/// `struct mount_attr` (linux/mount.h).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

const MOUNT_ATTR_RDONLY: u64 = 0x1;
const MOUNT_ATTR_NOSUID: u64 = 0x2;
const MOUNT_ATTR_NODEV: u64 = 0x4;
const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;
const AT_RECURSIVE: libc::c_uint = 0x8000;

fn mount_setattr(fd: std::os::fd::BorrowedFd<'_>, attr: &MountAttr) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let empty = c"";
    // SAFETY: `fd` is open, `empty` a valid C string and `attr` a valid `struct mount_attr`
    // whose size is passed; the kernel only reads them.
    cvt_long(unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            empty.as_ptr(),
            libc::AT_EMPTY_PATH as libc::c_uint | AT_RECURSIVE,
            attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    })
    .map(drop)
}

/// Makes the detached mount tree `fd` (fresh from `open_tree(OPEN_TREE_CLONE)`, never
/// attached) an id-mapped mount through the user namespace `userns`: a file owned by `u` on
/// disk appears owned by whatever host id `u` maps to in that namespace, and files created
/// through it store the reverse mapping. Also `nosuid,nodev`, and read-only when asked.
pub fn make_tree_idmapped(
    fd: std::os::fd::BorrowedFd<'_>,
    userns: std::os::fd::BorrowedFd<'_>,
    read_only: bool,
) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let ns =
        u64::try_from(userns.as_raw_fd()).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
    let ro = if read_only { MOUNT_ATTR_RDONLY } else { 0 };
    mount_setattr(
        fd,
        &MountAttr {
            attr_set: MOUNT_ATTR_IDMAP | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | ro,
            attr_clr: 0,
            propagation: 0,
            userns_fd: ns,
        },
    )
}

/// `move_mount(fd, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH)`: attaches the detached
/// mount `fd` at `target` (over whatever is mounted there) in this mount namespace.
pub fn move_mount_to(fd: std::os::fd::BorrowedFd<'_>, target: &Path) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;
    let t = cpath(target)?;
    let empty = c"";
    // SAFETY: both strings are valid and NUL-terminated; `fd` is open.
    cvt_long(unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            fd.as_raw_fd(),
            empty.as_ptr(),
            libc::AT_FDCWD,
            t.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH,
        )
    })
    .map(drop)
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::{AsFd, AsRawFd};

    /// The sandbox init's copy of the layer tree: detached, id-mapped through a task's user
    /// namespace and read-only, while the directory it copies stays writable: files owned
    /// by root on disk are owned by the task's first id through it.
    #[test]
    fn a_detached_idmapped_tree_is_read_only_and_maps_owners() {
        use std::os::unix::fs::MetadataExt;
        if !crate::host::test_may_run_as_root(
            "a_detached_idmapped_tree_is_read_only_and_maps_owners",
        ) {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("layer")).unwrap();
        std::fs::write(dir.path().join("layer/f"), b"x").unwrap();
        let tree = open_tree_clone(dir.path()).unwrap();
        let create = |fd: std::os::fd::BorrowedFd<'_>| {
            crate::sys::at::openat(fd, "g", libc::O_CREAT | libc::O_WRONLY, 0o600)
        };
        assert!(create(tree.as_fd()).is_ok(), "writable before");
        let base = 1_600_000_000;
        let ns = crate::sys::userns::create(base, 65536).unwrap();
        make_tree_idmapped(tree.as_fd(), ns.as_fd(), true).unwrap();
        let e = create(tree.as_fd()).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EROFS), "{e}");
        let layer =
            crate::sys::at::openat(tree.as_fd(), "layer", libc::O_PATH | libc::O_DIRECTORY, 0)
                .unwrap();
        let e = create(layer.as_fd()).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EROFS), "{e}");
        let through =
            std::fs::metadata(format!("/proc/self/fd/{}/layer/f", tree.as_raw_fd())).unwrap();
        assert_eq!((through.uid(), through.gid()), (base, base));
        let direct = std::fs::metadata(dir.path().join("layer/f")).unwrap();
        assert_eq!(direct.uid(), 0);
        std::fs::write(dir.path().join("h"), b"x").unwrap();
    }
}
