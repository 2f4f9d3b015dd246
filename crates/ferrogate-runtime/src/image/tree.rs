//! The directory a layer is unpacked into, reached only through descriptors.
//!
//! # Invariants
//!
//! - Every path is resolved from the descriptor of the tree's root with
//!   `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
//!   RESOLVE_NO_XDEV)`: a symlink anywhere on the way (the last component
//!   included) is `ELOOP`, a way above the root `EXDEV`, another mount
//!   `EXDEV`. A layer may *create* symlinks pointing anywhere; no operation
//!   of the loader ever goes through one.
//! - Every change is made on a descriptor of the inode itself (`fchmod`,
//!   `fchown`, `futimens`, `fsetxattr`) or on one name in a directory
//!   descriptor obtained that way (`mkdirat`, `openat(O_CREAT | O_EXCL |
//!   O_NOFOLLOW)`, `symlinkat`, `linkat` without `AT_SYMLINK_FOLLOW`,
//!   `mknodat`, `unlinkat`, and for symlinks `fchownat`/`utimensat` with
//!   `AT_SYMLINK_NOFOLLOW`). No call takes a path of more than one
//!   component relative to anything but the root descriptor, and none takes
//!   an absolute path.
//!
//! So a layer that plants `x -> /etc/shadow` (or a directory replaced by
//! such a link later in the same layer) can make the loader fail, never act
//! on the link's target.

use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use crate::sys::at;

/// Flags for a directory the loader reads, changes or creates entries in.
/// Read-only, not `O_PATH`: `fchmod`, `fchown` and `fsetxattr` refuse
/// `O_PATH` descriptors (`EBADF`), and root opens any directory for reading.
/// No `O_NOFOLLOW`: with it a final symlink is not resolved at all, so
/// `O_DIRECTORY` answers `ENOTDIR`; without it `RESOLVE_NO_SYMLINKS` refuses
/// the final component like every other (`ELOOP`).
const DIR_FLAGS: i32 = libc::O_RDONLY | libc::O_DIRECTORY;

/// Mode of directories the loader creates (explicit entries get theirs at
/// the end, after their children exist).
pub const NEW_DIR_MODE: u32 = 0o755;

/// The unpack destination. See the module docs.
pub struct Tree {
    root: OwnedFd,
}

/// Why an entry's directory could not be opened.
#[derive(Debug)]
pub enum Refused {
    /// A symlink on the way (`ELOOP`) or a way out (`EXDEV`).
    Symlink,
    /// Something on the way is not a directory.
    NotADirectory,
    /// Nothing there (when not creating).
    Missing,
    /// Any other failure.
    Io(io::Error),
}

impl From<io::Error> for Refused {
    fn from(e: io::Error) -> Self {
        match e.raw_os_error() {
            Some(libc::ELOOP | libc::EXDEV) => Refused::Symlink,
            Some(libc::ENOTDIR) => Refused::NotADirectory,
            Some(libc::ENOENT) => Refused::Missing,
            _ => Refused::Io(e),
        }
    }
}

impl Tree {
    /// Opens `dest`, an empty directory private to this process (its own
    /// path is the store's, not the image's, and may be followed).
    pub fn open(dest: &Path) -> io::Result<Tree> {
        let root = at::open(dest, libc::O_RDONLY | libc::O_DIRECTORY)?;
        Ok(Tree { root })
    }

    /// The directory at `rel` (`""` is the root).
    pub fn dir(&self, rel: &Path) -> Result<OwnedFd, Refused> {
        if rel.as_os_str().is_empty() {
            return Ok(self.root.try_clone()?);
        }
        Ok(at::openat2_os(
            self.root.as_fd(),
            rel.as_os_str(),
            DIR_FLAGS,
            0,
            at::RESOLVE_TREE,
        )?)
    }

    /// The directory at `rel`, creating missing directories on the way
    /// (mode [`NEW_DIR_MODE`], owned by the loader, as Docker does for
    /// parents a layer does not list).
    pub fn dir_creating(&self, rel: &Path) -> Result<OwnedFd, Refused> {
        match self.dir(rel) {
            Err(Refused::Missing) => {}
            other => return other,
        }
        let mut cur = self.root.try_clone()?;
        for c in rel.components() {
            let Component::Normal(name) = c else {
                return Err(Refused::Io(io::Error::from_raw_os_error(libc::EINVAL)));
            };
            cur = match open_child_dir(cur.as_fd(), name) {
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                    match at::mkdirat_os(cur.as_fd(), name, NEW_DIR_MODE) {
                        Err(e) if e.raw_os_error() != Some(libc::EEXIST) => return Err(e.into()),
                        _ => {}
                    }
                    open_child_dir(cur.as_fd(), name)?
                }
                r => r?,
            };
        }
        Ok(cur)
    }

    /// Makes room for an entry `name` in `parent` (the directory at
    /// `parent_rel`): removes what is there, unless it is a directory and
    /// `keep_dir`. Returns whether a directory was kept. A directory that is
    /// removed goes with everything below it (Docker and containerd replace
    /// a directory the same way when a later entry names its path).
    pub fn clear(
        &self,
        parent: BorrowedFd<'_>,
        parent_rel: &Path,
        name: &OsStr,
        keep_dir: bool,
    ) -> io::Result<Cleared> {
        let st = match at::fstatat_nofollow(parent, name) {
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(Cleared::Nothing),
            r => r?,
        };
        if st.kind() != libc::S_IFDIR {
            at::unlinkat(parent, name, false)?;
            return Ok(Cleared::Removed);
        }
        if keep_dir {
            return Ok(Cleared::KeptDirectory);
        }
        self.remove_tree(&parent_rel.join(name))?;
        Ok(Cleared::RemovedDirectory)
    }

    /// Removes the directory at `rel` and everything in it. Iterative, with
    /// one descriptor open at a time (a deep tree needs neither stack nor
    /// descriptors in proportion to its depth); each directory is reopened
    /// from the root under the same rules as everything else.
    fn remove_tree(&self, rel: &Path) -> io::Result<()> {
        let refused = |r: Refused| match r {
            Refused::Io(e) => e,
            _ => io::Error::from_raw_os_error(libc::ELOOP),
        };
        let mut stack: Vec<(PathBuf, Vec<std::ffi::OsString>)> =
            vec![(rel.to_owned(), self.empty_files(rel).map_err(refused)?)];
        while let Some((dir, pending)) = stack.last_mut() {
            if let Some(sub) = pending.pop() {
                let p = dir.join(sub);
                let subdirs = self.empty_files(&p).map_err(refused)?;
                stack.push((p, subdirs));
                continue;
            }
            let Some((done, _)) = stack.pop() else { break };
            let parent = self
                .dir(done.parent().unwrap_or(Path::new("")))
                .map_err(refused)?;
            let name = done
                .file_name()
                .ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
            at::unlinkat(parent.as_fd(), name, true)?;
        }
        Ok(())
    }

    /// Unlinks everything but subdirectories in the directory at `rel`;
    /// returns the subdirectories' names.
    fn empty_files(&self, rel: &Path) -> Result<Vec<std::ffi::OsString>, Refused> {
        let fd = self.dir(rel)?;
        let mut subdirs = Vec::new();
        for (name, is_dir) in at::dir_entries(fd.as_fd())? {
            if is_dir {
                subdirs.push(name);
            } else {
                at::unlinkat(fd.as_fd(), &name, false)?;
            }
        }
        Ok(subdirs)
    }
}

/// What [`Tree::clear`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cleared {
    /// Nothing was there.
    Nothing,
    /// A non-directory was removed.
    Removed,
    /// A directory (and its contents) was removed.
    RemovedDirectory,
    /// A directory was there and kept.
    KeptDirectory,
}

/// One directory below `dir`, never through a symlink.
pub fn open_child_dir(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<OwnedFd> {
    at::openat2_os(dir, name, DIR_FLAGS, 0, at::RESOLVE_TREE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn no_path_goes_through_a_symlink() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir(outside.path().join("sub")).unwrap();
        let d = tempfile::tempdir().unwrap();
        symlink(outside.path(), d.path().join("abs")).unwrap();
        std::fs::create_dir(d.path().join("real")).unwrap();
        symlink("real", d.path().join("rel")).unwrap();
        let t = Tree::open(d.path()).unwrap();
        for p in ["abs", "abs/sub", "rel", "rel/x"] {
            assert!(matches!(t.dir(Path::new(p)), Err(Refused::Symlink)), "{p}");
            assert!(
                matches!(t.dir_creating(Path::new(p)), Err(Refused::Symlink)),
                "{p}"
            );
        }
        assert!(!outside.path().join("x").exists());
        t.dir_creating(Path::new("real/a/b")).unwrap();
        assert!(d.path().join("real/a/b").is_dir());
        std::fs::write(d.path().join("file"), b"").unwrap();
        assert!(matches!(
            t.dir_creating(Path::new("file/x")),
            Err(Refused::NotADirectory)
        ));
    }

    #[test]
    fn removing_a_tree_never_leaves_it() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("keep"), b"k").unwrap();
        let d = tempfile::tempdir().unwrap();
        let t = Tree::open(d.path()).unwrap();
        t.dir_creating(Path::new("x/a/b/c")).unwrap();
        std::fs::write(d.path().join("x/a/f"), b"").unwrap();
        symlink(outside.path(), d.path().join("x/a/b/link")).unwrap();
        let root = t.dir(Path::new("")).unwrap();
        assert_eq!(
            t.clear(root.as_fd(), Path::new(""), OsStr::new("x"), false)
                .unwrap(),
            Cleared::RemovedDirectory
        );
        assert!(!d.path().join("x").exists());
        assert!(outside.path().join("keep").exists());
    }
}
