//! The `Syscall` seam (after youki's `libcontainer::syscall`).
//!
//! Volume provisioning and sandbox setup are written against this trait, so
//! the *order* and *arguments* of every privileged operation are unit-tested
//! with [`RecordingSyscall`] without root. [`LinuxSyscall`] is the real thing
//! and is exercised by the root tests in `tests/`.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::secret::DataKey;
use crate::sys;

mod recording;
pub use recording::{Call, RecordingSyscall};

/// A loop device bound to a backing file. The open descriptor keeps it
/// referenced; with autoclear it detaches once nothing else holds it.
#[derive(Debug)]
pub struct LoopDevice {
    /// N in `/dev/loopN`.
    pub number: u32,
    /// Open descriptor on `/dev/loopN` (None in the fake).
    pub fd: Option<OwnedFd>,
}

impl LoopDevice {
    /// `/dev/loopN`.
    pub fn path(&self) -> PathBuf {
        PathBuf::from(format!("/dev/loop{}", self.number))
    }
}

/// A directory or file resolved inside a container root filesystem with
/// `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`: symlinks (absolute
/// ones included) and `..` resolve as if the root were `/`, so nothing
/// outside it is ever reached. Later operations act on the descriptor, not
/// on a path that could be changed in between.
#[derive(Debug)]
pub struct Confined {
    /// The root joined with the path it was resolved from (for messages,
    /// and all the fake has).
    pub path: PathBuf,
    /// `O_PATH` descriptor (None in the fake).
    pub fd: Option<OwnedFd>,
}

impl Confined {
    /// A path naming exactly the resolved object, for calls that only take
    /// paths (`mount(2)`): `/proc/self/fd/N` (the fake: [`Confined::path`]).
    pub fn proc_path(&self) -> PathBuf {
        match &self.fd {
            Some(fd) => PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd())),
            None => self.path.clone(),
        }
    }
    fn fd(&self) -> io::Result<BorrowedFd<'_>> {
        self.fd.as_ref().map(AsFd::as_fd).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "confined path without a descriptor",
            )
        })
    }
}

fn single_name(name: &str) -> io::Result<&str> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{name:?} is not a single file name"),
        ));
    }
    Ok(name)
}

/// The components of a path relative to a container root; `..` is refused
/// (it would be harmless under `RESOLVE_IN_ROOT`, but no caller needs it).
fn rel_components(rel: &str) -> io::Result<Vec<&str>> {
    let comps: Vec<&str> = rel
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    if comps.contains(&"..") {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{rel:?} contains '..'"),
        ));
    }
    Ok(comps)
}

/// Privileged operations used by volume and sandbox setup.
pub trait Syscall: Send + Sync {
    /// Creates a new sparse file of `size` bytes (fails if it exists), mode 0600.
    fn create_sparse_file(&self, path: &Path, size: u64) -> io::Result<()>;
    /// Removes a file.
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Removes an empty directory.
    fn remove_dir(&self, path: &Path) -> io::Result<()>;
    /// Creates one directory (`EEXIST` is an error).
    fn mkdir(&self, path: &Path, mode: u32) -> io::Result<()>;
    /// Creates a directory and its parents (existing ones are fine).
    fn mkdir_all(&self, path: &Path, mode: u32) -> io::Result<()>;
    /// Writes a whole file (creating or truncating it) with `mode`.
    fn write_file(&self, path: &Path, contents: &[u8], mode: u32) -> io::Result<()>;
    /// Creates a symlink `link` -> `target`.
    fn symlink(&self, target: &Path, link: &Path) -> io::Result<()>;
    /// Creates a device node.
    fn mknod(&self, path: &Path, mode: u32, major: u32, minor: u32) -> io::Result<()>;
    /// Changes permissions.
    fn chmod(&self, path: &Path, mode: u32) -> io::Result<()>;
    /// Changes the working directory.
    fn chdir(&self, path: &Path) -> io::Result<()>;
    /// Runs `mkfs.ext4` on an image file.
    fn mkfs_ext4(&self, mkfs: &Path, image: &Path, encrypt: bool) -> io::Result<()>;
    /// Attaches `image` to a free loop device (autoclear; direct I/O if asked).
    fn loop_attach(&self, image: &Path, direct_io: bool) -> io::Result<LoopDevice>;
    /// Detaches a loop device (`LOOP_CLR_FD`).
    fn loop_detach(&self, dev: &LoopDevice) -> io::Result<()>;
    /// `FS_IOC_ADD_ENCRYPTION_KEY` on the filesystem mounted at `fs_root`.
    fn fscrypt_add_key(&self, fs_root: &Path, key: &DataKey) -> io::Result<[u8; 16]>;
    /// `FS_IOC_SET_ENCRYPTION_POLICY` (Ferrogate's v2 policy) on empty `dir`.
    fn fscrypt_set_policy(&self, dir: &Path, identifier: &[u8; 16]) -> io::Result<()>;
    /// `FS_IOC_REMOVE_ENCRYPTION_KEY`; returns the removal status flags.
    fn fscrypt_remove_key(&self, fs_root: &Path, identifier: &[u8; 16]) -> io::Result<u32>;
    /// `mount(2)`.
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: u64,
        data: Option<&str>,
    ) -> io::Result<()>;
    /// `umount2(2)`.
    fn umount(&self, target: &Path, flags: i32) -> io::Result<()>;
    /// `pivot_root(2)`.
    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> io::Result<()>;
    /// `unshare(2)`.
    fn unshare(&self, flags: i32) -> io::Result<()>;
    /// `sethostname(2)`.
    fn sethostname(&self, name: &str) -> io::Result<()>;
    /// Brings `lo` up in the current network namespace.
    fn loopback_up(&self) -> io::Result<()>;
    /// `setgroups` + `setresgid` + `setresuid`.
    fn set_ids(&self, uid: u32, gid: u32, groups: &[u32]) -> io::Result<()>;
    /// `prctl(2)` with one integer argument.
    fn prctl(&self, option: i32, arg: u64) -> io::Result<i32>;
    /// `capset(2)`.
    fn capset(&self, effective: u64, permitted: u64, inheritable: u64) -> io::Result<()>;
    /// `setrlimit(2)`.
    fn setrlimit(&self, resource: u32, soft: u64, hard: u64) -> io::Result<()>;
    /// Installs a seccomp BPF filter.
    fn seccomp(&self, program: &[sys::seccomp::SockFilter]) -> io::Result<()>;

    /// Opens a container root directory (`O_PATH`, not following a final
    /// symlink) to resolve paths in with the `*_in` operations.
    fn open_root(&self, root: &Path) -> io::Result<Confined>;
    /// Resolves `rel` inside `root` (see [`Confined`]); a final symlink is
    /// followed, inside the root.
    fn resolve_in(&self, root: &Confined, rel: &str) -> io::Result<Confined>;
    /// Creates the directory `rel` and its missing parents inside `root`,
    /// every component resolved inside it, and returns it. A dangling
    /// symlink on the way is an error.
    fn mkdir_all_in(&self, root: &Confined, rel: &str, mode: u32) -> io::Result<Confined>;
    /// Creates the directory `name` in `dir` (`EEXIST` is an error).
    fn mkdir_in(&self, dir: &Confined, name: &str, mode: u32) -> io::Result<()>;
    /// Creates the device node `name` in `dir`.
    fn mknod_in(
        &self,
        dir: &Confined,
        name: &str,
        mode: u32,
        major: u32,
        minor: u32,
    ) -> io::Result<()>;
    /// Creates the symlink `name` -> `target` in `dir`.
    fn symlink_in(&self, target: &str, dir: &Confined, name: &str) -> io::Result<()>;
    /// Writes the regular file `name` in `dir` (created or truncated; a
    /// symlink, FIFO or anything else that is not a regular file is refused).
    fn write_file_in(
        &self,
        dir: &Confined,
        name: &str,
        contents: &[u8],
        mode: u32,
    ) -> io::Result<()>;
    /// Like [`Syscall::write_file_in`], but a symlink at `name` is removed first (the
    /// link itself, inside `dir`), as Docker's bind mounts replace whatever an image has
    /// at `/etc/hosts` or `/etc/resolv.conf`; anything else that is not a regular file is
    /// still refused.
    fn replace_file_in(
        &self,
        dir: &Confined,
        name: &str,
        contents: &[u8],
        mode: u32,
    ) -> io::Result<()>;
    /// Changes the permissions of the resolved object itself.
    fn chmod_in(&self, target: &Confined, mode: u32) -> io::Result<()>;
    /// Where the resolved object is, as this process sees it (`readlink` of
    /// `/proc/self/fd/N`).
    fn real_path(&self, target: &Confined) -> io::Result<PathBuf>;

    /// A detached copy of the mount tree at `source` (which must be a directory, reached
    /// without following a final symlink), id-mapped through the user namespace `userns`,
    /// `nosuid,nodev`, read-only if asked: what a task sees of host directories. Its
    /// [`Confined::proc_path`] reaches it.
    fn idmapped_tree(
        &self,
        source: &Path,
        userns: BorrowedFd<'_>,
        read_only: bool,
    ) -> io::Result<Confined>;
    /// Attaches the detached tree `tree` at `target`, over what is mounted there.
    fn attach(&self, tree: &Confined, target: &Path) -> io::Result<()>;
    /// Sets the filesystem uid and gid and raises the permitted capabilities again (see
    /// `sys::userns::set_fs_ids`).
    fn set_fs_ids(&self, uid: u32, gid: u32) -> io::Result<()>;
}

/// The real system calls.
#[derive(Debug, Default, Clone, Copy)]
pub struct LinuxSyscall;

fn open_dir(path: &Path) -> io::Result<fs::File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW)
        .open(path)
}

impl Syscall for LinuxSyscall {
    fn create_sparse_file(&self, path: &Path, size: u64) -> io::Result<()> {
        let f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)?;
        f.set_len(size)
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }
    fn remove_dir(&self, path: &Path) -> io::Result<()> {
        fs::remove_dir(path)
    }
    fn mkdir(&self, path: &Path, mode: u32) -> io::Result<()> {
        use std::os::unix::fs::DirBuilderExt;
        fs::DirBuilder::new().mode(mode).create(path)
    }
    fn mkdir_all(&self, path: &Path, mode: u32) -> io::Result<()> {
        use std::os::unix::fs::DirBuilderExt;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(mode)
            .create(path)
    }
    fn write_file(&self, path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)?;
        f.write_all(contents)
    }
    fn symlink(&self, target: &Path, link: &Path) -> io::Result<()> {
        std::os::unix::fs::symlink(target, link)
    }
    fn mknod(&self, path: &Path, mode: u32, major: u32, minor: u32) -> io::Result<()> {
        sys::mknod(path, mode, major, minor)
    }
    fn chmod(&self, path: &Path, mode: u32) -> io::Result<()> {
        fs::set_permissions(path, fs::Permissions::from_mode(mode))
    }
    fn chdir(&self, path: &Path) -> io::Result<()> {
        std::env::set_current_dir(path)
    }
    fn mkfs_ext4(&self, mkfs: &Path, image: &Path, encrypt: bool) -> io::Result<()> {
        let mut cmd = Command::new(mkfs);
        cmd.args(["-q", "-F", "-m", "0", "-b", "4096"]);
        if encrypt {
            cmd.args(["-O", "encrypt"]);
        }
        // The image is a fresh sparse file: skip zeroing the inode tables and
        // the journal (they read as zeros already).
        cmd.args(["-E", "lazy_itable_init=1,lazy_journal_init=1"]);
        cmd.arg(image);
        cmd.stdin(std::process::Stdio::null());
        let out = cmd.output()?;
        if out.status.success() {
            Ok(())
        } else {
            let stderr = String::from_utf8_lossy(&out.stderr);
            Err(io::Error::other(format!(
                "{} exited with {}: {}",
                mkfs.display(),
                out.status,
                stderr.trim()
            )))
        }
    }
    fn loop_attach(&self, image: &Path, direct_io: bool) -> io::Result<LoopDevice> {
        let backing = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(image)?;
        let ctl = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_CLOEXEC)
            .open("/dev/loop-control")?;
        let name = image
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // LOOP_CTL_GET_FREE and LOOP_CONFIGURE are two calls; another process
        // can grab the device in between (EBUSY), so retry a few times. Within this
        // process the pair is serialised: tasks starting together would otherwise all be
        // handed the same free device and exhaust their retries colliding (200 at once
        // did). The lock guards no data, so a poisoned one is as good as any.
        static ATTACH: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _serial = ATTACH.lock().unwrap_or_else(|p| p.into_inner());
        let mut last = io::Error::other("no free loop device");
        for _ in 0..16 {
            let n = sys::loopdev::get_free(ctl.as_fd())?;
            let dev = OpenOptions::new()
                .read(true)
                .write(true)
                .custom_flags(libc::O_CLOEXEC)
                .open(format!("/dev/loop{n}"))?;
            let mut flags = sys::loopdev::LO_FLAGS_AUTOCLEAR;
            if direct_io {
                flags |= sys::loopdev::LO_FLAGS_DIRECT_IO;
            }
            match sys::loopdev::configure(
                dev.as_fd(),
                backing.as_fd(),
                flags,
                4096,
                name.as_bytes(),
            ) {
                Ok(()) => {
                    return Ok(LoopDevice {
                        number: n,
                        fd: Some(dev.into()),
                    })
                }
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => last = e,
                Err(e) if direct_io && e.raw_os_error() == Some(libc::EINVAL) => {
                    // Direct I/O not possible on this backing file system:
                    // configure without it (still encrypted above; only a
                    // performance difference).
                    sys::loopdev::configure(
                        dev.as_fd(),
                        backing.as_fd(),
                        sys::loopdev::LO_FLAGS_AUTOCLEAR,
                        4096,
                        name.as_bytes(),
                    )?;
                    return Ok(LoopDevice {
                        number: n,
                        fd: Some(dev.into()),
                    });
                }
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }
    fn loop_detach(&self, dev: &LoopDevice) -> io::Result<()> {
        match &dev.fd {
            Some(fd) => match sys::loopdev::clear(fd.as_fd()) {
                // ENXIO: already detached (autoclear beat us).
                Err(e) if e.raw_os_error() == Some(libc::ENXIO) => Ok(()),
                r => r,
            },
            None => {
                let f = OpenOptions::new().read(true).open(dev.path())?;
                match sys::loopdev::clear(f.as_fd()) {
                    Err(e) if e.raw_os_error() == Some(libc::ENXIO) => Ok(()),
                    r => r,
                }
            }
        }
    }
    fn fscrypt_add_key(&self, fs_root: &Path, key: &DataKey) -> io::Result<[u8; 16]> {
        let d = open_dir(fs_root)?;
        sys::fscrypt::add_key(d.as_fd(), key.expose())
    }
    fn fscrypt_set_policy(&self, dir: &Path, identifier: &[u8; 16]) -> io::Result<()> {
        let d = open_dir(dir)?;
        sys::fscrypt::set_policy(d.as_fd(), &sys::fscrypt::PolicyV2::ferrogate(*identifier))
    }
    fn fscrypt_remove_key(&self, fs_root: &Path, identifier: &[u8; 16]) -> io::Result<u32> {
        let d = open_dir(fs_root)?;
        sys::fscrypt::remove_key(d.as_fd(), identifier)
    }
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: u64,
        data: Option<&str>,
    ) -> io::Result<()> {
        sys::mount::mount(source, target, fstype, flags, data)
    }
    fn umount(&self, target: &Path, flags: i32) -> io::Result<()> {
        sys::mount::umount2(target, flags)
    }
    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> io::Result<()> {
        sys::mount::pivot_root(new_root, put_old)
    }
    fn unshare(&self, flags: i32) -> io::Result<()> {
        sys::mount::unshare(flags)
    }
    fn sethostname(&self, name: &str) -> io::Result<()> {
        sys::sethostname(name)
    }
    fn loopback_up(&self) -> io::Result<()> {
        sys::mount::loopback_up()
    }
    fn set_ids(&self, uid: u32, gid: u32, groups: &[u32]) -> io::Result<()> {
        sys::process::set_ids(uid, gid, groups)
    }
    fn prctl(&self, option: i32, arg: u64) -> io::Result<i32> {
        sys::process::prctl(option, arg)
    }
    fn capset(&self, effective: u64, permitted: u64, inheritable: u64) -> io::Result<()> {
        sys::process::capset(effective, permitted, inheritable)
    }
    fn setrlimit(&self, resource: u32, soft: u64, hard: u64) -> io::Result<()> {
        sys::process::setrlimit(resource, soft, hard)
    }
    fn seccomp(&self, program: &[sys::seccomp::SockFilter]) -> io::Result<()> {
        sys::seccomp::install(program)
    }
    fn open_root(&self, root: &Path) -> io::Result<Confined> {
        let fd = sys::at::open(root, libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW)?;
        Ok(Confined {
            path: root.to_owned(),
            fd: Some(fd),
        })
    }
    fn resolve_in(&self, root: &Confined, rel: &str) -> io::Result<Confined> {
        let comps = rel_components(rel)?;
        let joined = if comps.is_empty() {
            ".".to_owned()
        } else {
            comps.join("/")
        };
        let fd = sys::at::openat2(
            root.fd()?,
            &joined,
            libc::O_PATH,
            0,
            sys::at::RESOLVE_CONFINED,
        )
        .map_err(|e| io::Error::new(e.kind(), format!("{}/{joined}: {e}", root.path.display())))?;
        Ok(Confined {
            path: root.path.join(joined),
            fd: Some(fd),
        })
    }
    fn mkdir_all_in(&self, root: &Confined, rel: &str, mode: u32) -> io::Result<Confined> {
        let rootfd = root.fd()?;
        let open_dir = |p: &str| {
            sys::at::openat2(
                rootfd,
                p,
                libc::O_PATH | libc::O_DIRECTORY,
                0,
                sys::at::RESOLVE_CONFINED,
            )
        };
        let mut dir = open_dir(".")?;
        let mut prefix = String::new();
        for c in rel_components(rel)? {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(c);
            let ctx = |e: io::Error| {
                io::Error::new(e.kind(), format!("{}/{prefix}: {e}", root.path.display()))
            };
            dir = match open_dir(&prefix) {
                Ok(fd) => fd,
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                    // mkdirat never follows a symlink at `c`: a dangling
                    // link gives EEXIST and the re-open below fails.
                    match sys::at::mkdirat(dir.as_fd(), c, mode) {
                        Err(e) if e.raw_os_error() != Some(libc::EEXIST) => return Err(ctx(e)),
                        _ => {}
                    }
                    open_dir(&prefix).map_err(|e| {
                        if e.raw_os_error() == Some(libc::ENOENT) {
                            ctx(io::Error::new(
                                io::ErrorKind::NotFound,
                                "a symbolic link whose target does not exist",
                            ))
                        } else {
                            ctx(e)
                        }
                    })?
                }
                Err(e) => return Err(ctx(e)),
            };
        }
        Ok(Confined {
            path: root.path.join(prefix),
            fd: Some(dir),
        })
    }
    fn mkdir_in(&self, dir: &Confined, name: &str, mode: u32) -> io::Result<()> {
        sys::at::mkdirat(dir.fd()?, single_name(name)?, mode)
    }
    fn mknod_in(
        &self,
        dir: &Confined,
        name: &str,
        mode: u32,
        major: u32,
        minor: u32,
    ) -> io::Result<()> {
        sys::at::mknodat(dir.fd()?, single_name(name)?, mode, major, minor)
    }
    fn symlink_in(&self, target: &str, dir: &Confined, name: &str) -> io::Result<()> {
        sys::at::symlinkat(target, dir.fd()?, single_name(name)?)
    }
    fn write_file_in(
        &self,
        dir: &Confined,
        name: &str,
        contents: &[u8],
        mode: u32,
    ) -> io::Result<()> {
        // O_NOFOLLOW: a symlink at `name` is refused (ELOOP); O_NONBLOCK: a
        // FIFO without a reader fails (ENXIO) instead of blocking forever.
        let fd = sys::at::openat(
            dir.fd()?,
            single_name(name)?,
            libc::O_WRONLY | libc::O_CREAT | libc::O_NOFOLLOW | libc::O_NONBLOCK,
            mode,
        )?;
        let (st_mode, _) = sys::at::fstat(fd.as_fd())?;
        if st_mode & libc::S_IFMT != libc::S_IFREG {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{}/{name} is not a regular file", dir.path.display()),
            ));
        }
        let mut f = fs::File::from(fd);
        f.set_len(0)?;
        f.write_all(contents)
    }
    fn replace_file_in(
        &self,
        dir: &Confined,
        name: &str,
        contents: &[u8],
        mode: u32,
    ) -> io::Result<()> {
        let n = std::ffi::OsStr::new(single_name(name)?);
        match sys::at::fstatat_nofollow(dir.fd()?, n) {
            Ok(st) if st.kind() == libc::S_IFLNK => sys::at::unlinkat(dir.fd()?, n, false)?,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        // A link put back in between is refused by O_NOFOLLOW.
        self.write_file_in(dir, name, contents, mode)
    }
    fn chmod_in(&self, target: &Confined, mode: u32) -> io::Result<()> {
        target.fd()?;
        // chmod(2) through the magic link acts on exactly the object the
        // descriptor refers to (fchmod does not take O_PATH descriptors).
        fs::set_permissions(target.proc_path(), fs::Permissions::from_mode(mode))
    }
    fn real_path(&self, target: &Confined) -> io::Result<PathBuf> {
        target.fd()?;
        fs::read_link(target.proc_path())
    }
    fn idmapped_tree(
        &self,
        source: &Path,
        userns: BorrowedFd<'_>,
        read_only: bool,
    ) -> io::Result<Confined> {
        let fd = sys::mount::open_tree_clone(source)?;
        sys::mount::make_tree_idmapped(fd.as_fd(), userns, read_only)?;
        Ok(Confined {
            path: source.to_owned(),
            fd: Some(fd),
        })
    }
    fn attach(&self, tree: &Confined, target: &Path) -> io::Result<()> {
        sys::mount::move_mount_to(tree.fd()?, target)
    }
    fn set_fs_ids(&self, uid: u32, gid: u32) -> io::Result<()> {
        sys::userns::set_fs_ids(uid, gid)
    }
}
