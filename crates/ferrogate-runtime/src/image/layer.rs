//! Unpacking one layer tar into a directory that overlayfs can use as a
//! lower layer.
//!
//! Whiteouts become overlayfs's native format (Documentation/filesystems/
//! overlayfs.rst): `.wh.<name>` → a 0/0 character device `<name>`;
//! `.wh..wh..opq` → `trusted.overlay.opaque=y` on its directory.
//!
//! # Security
//!
//! A layer is untrusted, and it is unpacked as root *before* its digest is
//! checked (the digest covers the stream being unpacked), so a corrupt or
//! hostile archive gets the same treatment as a valid one.
//!
//! - Entry paths are relative and normalized; `..` and absolute paths are
//!   refused, and so are paths (and link targets) longer than 4095 bytes.
//! - Every file system operation goes through [`Tree`]: descriptors of the
//!   destination, `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | ..)` for
//!   every lookup, and modes, owners, times and xattrs set on descriptors of
//!   the inodes themselves (or, for symlinks, on one name with
//!   `AT_SYMLINK_NOFOLLOW`). No call follows a symlink the layer created,
//!   whether it is met on the way to an entry, at the entry, or in place of
//!   a directory whose mode is applied at the end. A layer that writes
//!   *through* a symlink it created is refused.
//! - A later entry with the path of an earlier one replaces it, as Docker
//!   and containerd do (`pkg/archive` and `archive.applyNaive`: remove, then
//!   create), except that a directory entry keeps an existing directory.
//!   When a directory is replaced (by a file, a symlink or a whiteout), its
//!   deferred mode and time are dropped with it; directory modes are applied
//!   last, deepest first, each directory reopened from the root without
//!   following any symlink, and a directory that cannot be reopened that way
//!   fails the layer.
//! - Hard links must point to a non-directory inside the layer, reached
//!   without symlinks; the link itself is linked (no `AT_SYMLINK_FOLLOW`).
//! - Device nodes other than whiteouts are skipped; only `user.*` and
//!   `security.capability` xattrs are applied (a `trusted.*` xattr from a
//!   layer could steer overlayfs), on files, directories and FIFOs.
//! - Sizes are bounded by the image's [`Meter`]: a file's length is charged
//!   before it is written, each block of data before it is written, and
//!   blocks of zeros (GNU sparse holes, or runs of zeros in any file) are
//!   left as holes: a sparse file stays sparse and costs only its data.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::{Component, Path, PathBuf};

use super::budget::{Meter, Metered, UnpackBudget};
use super::error::ImageError;
use super::tree::{open_child_dir, Cleared, Refused, Tree, NEW_DIR_MODE};
use crate::sys::at;

const WHITEOUT_PREFIX: &[u8] = b".wh.";
const OPAQUE_MARKER: &[u8] = b".wh..wh..opq";

/// Longest entry path or link target accepted: `PATH_MAX` less its NUL. A
/// longer one could not be named by any path-based tool in the container.
const MAX_PATH: usize = 4095;

/// Granularity of hole detection: a file-system block.
const BLOCK: usize = 4096;

/// How much file data is read at a time (a multiple of [`BLOCK`]).
const CHUNK: usize = 32 * BLOCK;

/// What was unpacked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LayerStats {
    /// Entries written (files, dirs, links, whiteouts).
    pub entries: u64,
    /// Whiteouts created (including opaque markers).
    pub whiteouts: u64,
    /// Device nodes skipped.
    pub skipped_devices: u64,
    /// Bytes of file content written (holes excluded).
    pub bytes: u64,
    /// Lengths of the files written (holes included).
    pub logical_bytes: u64,
}

/// Normalizes a tar entry path: strips `./`, refuses absolute paths and `..`.
/// `Ok(None)` for the root entry itself.
pub fn safe_relative(raw: &Path) -> Result<Option<PathBuf>, &'static str> {
    let mut out = PathBuf::new();
    for c in raw.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir => {}
            Component::ParentDir => return Err("contains '..'"),
            Component::RootDir | Component::Prefix(_) => return Err("is absolute"),
        }
    }
    if out.as_os_str().is_empty() {
        Ok(None)
    } else {
        Ok(Some(out))
    }
}

/// Header fields applied to every inode.
#[derive(Clone, Copy)]
struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: i64,
}

impl Meta {
    fn of(h: &tar::Header) -> Meta {
        let id = |v: io::Result<u64>| v.ok().and_then(|u| u32::try_from(u).ok()).unwrap_or(0);
        Meta {
            mode: h.mode().unwrap_or(0o644) & 0o7777,
            uid: id(h.uid()),
            gid: id(h.gid()),
            mtime: h
                .mtime()
                .ok()
                .and_then(|m| i64::try_from(m).ok())
                .unwrap_or(0),
        }
    }
}

/// Where an entry goes: its directory (opened without symlinks) and name.
struct Place<'p> {
    rel: &'p Path,
    parent: BorrowedFd<'p>,
    parent_rel: &'p Path,
    name: &'p OsStr,
}

struct Unpacker<'a> {
    tree: Tree,
    layer: &'a str,
    meter: &'a Meter,
    stats: LayerStats,
    /// Explicit directories: mode and mtime, applied at the end.
    dirs: BTreeMap<PathBuf, (u32, i64)>,
    buf: Vec<u8>,
}

type Xattrs = Vec<(String, Vec<u8>)>;

impl Unpacker<'_> {
    fn unsafe_path(&self, path: &Path, reason: &'static str) -> ImageError {
        ImageError::UnsafePath {
            layer: self.layer.to_owned(),
            path: path.display().to_string(),
            reason,
        }
    }

    fn fs(&self, op: &'static str, rel: &Path) -> impl FnOnce(io::Error) -> ImageError {
        let (layer, path) = (self.layer.to_owned(), rel.display().to_string());
        move |source| ImageError::Unpack {
            layer,
            op,
            path,
            source,
        }
    }

    fn refused(&self, rel: &Path, op: &'static str, r: Refused) -> ImageError {
        match r {
            Refused::Symlink => self.unsafe_path(rel, "would be written through a symlink"),
            Refused::NotADirectory => self.unsafe_path(rel, "a parent is not a directory"),
            Refused::Missing => self.fs(op, rel)(io::Error::from_raw_os_error(libc::ENOENT)),
            Refused::Io(e) => self.fs(op, rel)(e),
        }
    }

    /// Makes room for an entry; true if a directory was kept.
    fn clear(&mut self, at: &Place<'_>, keep_dir: bool) -> Result<bool, ImageError> {
        let c = self
            .tree
            .clear(at.parent, at.parent_rel, at.name, keep_dir)
            .map_err(self.fs("replacing", at.rel))?;
        if c == Cleared::RemovedDirectory {
            // Paths order component by component, so a directory's
            // descendants follow it: a range, not a scan of every directory
            // (an archive replacing directories over and over stays linear).
            let gone: Vec<PathBuf> = self
                .dirs
                .range::<Path, _>((
                    std::ops::Bound::Included(at.rel),
                    std::ops::Bound::Unbounded,
                ))
                .map(|(d, _)| d)
                .take_while(|d| d.starts_with(at.rel))
                .cloned()
                .collect();
            for d in gone {
                self.dirs.remove(&d);
            }
        }
        Ok(c == Cleared::KeptDirectory)
    }

    fn entry<R: Read>(&mut self, e: &mut tar::Entry<'_, R>) -> Result<(), ImageError> {
        let raw = PathBuf::from(OsStr::from_bytes(&e.path_bytes()));
        if raw.as_os_str().len() > MAX_PATH {
            return Err(self.unsafe_path(&raw, "path longer than 4095 bytes"));
        }
        let rel = match safe_relative(&raw) {
            Ok(Some(r)) => r,
            Ok(None) => return Ok(()),
            Err(reason) => return Err(self.unsafe_path(&raw, reason)),
        };
        let (Some(name), Some(parent_rel)) = (rel.file_name(), rel.parent()) else {
            return Err(self.unsafe_path(&raw, "has no file name"));
        };
        let parent = self
            .tree
            .dir_creating(parent_rel)
            .map_err(|r| self.refused(&rel, "creating directory", r))?;
        self.meter.entry()?;
        let at = Place {
            rel: &rel,
            parent: parent.as_fd(),
            parent_rel,
            name,
        };
        let name = name.as_bytes();
        if name == OPAQUE_MARKER {
            at::fsetxattr(at.parent, "trusted.overlay.opaque", b"y")
                .map_err(self.fs("marking opaque", parent_rel))?;
            self.stats.whiteouts += 1;
            return Ok(());
        }
        if let Some(hidden) = name.strip_prefix(WHITEOUT_PREFIX) {
            return self.whiteout(&at, hidden);
        }
        let meta = Meta::of(e.header());
        let xattrs = allowed_xattrs(e);
        use tar::EntryType as T;
        let kind = e.header().entry_type();
        match kind {
            T::Directory => self.directory(&at, meta, &xattrs)?,
            T::Regular | T::Continuous | T::GNUSparse => {
                // For GNU sparse entries, the length with the holes.
                let len = e.size();
                self.file(&at, meta, &xattrs, e, len)?
            }
            T::Symlink => self.symlink(&at, meta, e.link_name_bytes())?,
            T::Link => self.hard_link(&at, e.link_name_bytes())?,
            T::Fifo => self.fifo(&at, meta, &xattrs)?,
            T::Char | T::Block => {
                let major = e.header().device_major().ok().flatten().unwrap_or(1);
                let minor = e.header().device_minor().ok().flatten().unwrap_or(1);
                if kind != T::Char || major != 0 || minor != 0 {
                    tracing::warn!(layer = self.layer, path = %rel.display(), "skipping device node in image layer");
                    self.stats.skipped_devices += 1;
                    return Ok(());
                }
                // Already in overlay whiteout format.
                self.make_whiteout(&at)?;
                at::utimensat_nofollow(at.parent, at.name, meta.mtime)
                    .map_err(self.fs("setting times", &rel))?;
            }
            _ => return Ok(()),
        }
        self.stats.entries += 1;
        Ok(())
    }

    fn whiteout(&mut self, at: &Place<'_>, hidden: &[u8]) -> Result<(), ImageError> {
        if hidden.starts_with(WHITEOUT_PREFIX) {
            // Other AUFS metadata (.wh..wh.plnk etc.): meaningless here.
            return Ok(());
        }
        if hidden.is_empty() || hidden == b"." || hidden == b".." {
            return Err(self.unsafe_path(at.rel, "invalid whiteout name"));
        }
        let target = at.parent_rel.join(OsStr::from_bytes(hidden));
        self.make_whiteout(&Place {
            rel: &target,
            name: OsStr::from_bytes(hidden),
            ..*at
        })
    }

    fn make_whiteout(&mut self, at: &Place<'_>) -> Result<(), ImageError> {
        self.clear(at, false)?;
        at::mknodat_os(at.parent, at.name, libc::S_IFCHR | 0o600, 0, 0)
            .map_err(self.fs("creating whiteout", at.rel))?;
        self.stats.whiteouts += 1;
        Ok(())
    }

    fn directory(&mut self, at: &Place<'_>, meta: Meta, xattrs: &Xattrs) -> Result<(), ImageError> {
        if !self.clear(at, true)? {
            at::mkdirat_os(at.parent, at.name, NEW_DIR_MODE)
                .map_err(self.fs("creating directory", at.rel))?;
        }
        let fd = open_child_dir(at.parent, at.name).map_err(|e| {
            let r = Refused::from(e);
            self.refused(at.rel, "opening directory", r)
        })?;
        chown(fd.as_fd(), meta.uid, meta.gid).map_err(self.fs("chown", at.rel))?;
        set_xattrs(fd.as_fd(), xattrs);
        // Mode and time last: children change the time, and a 0555
        // directory would refuse its children to a non-root loader.
        self.dirs.insert(at.rel.to_owned(), (meta.mode, meta.mtime));
        Ok(())
    }

    fn file<R: Read>(
        &mut self,
        at: &Place<'_>,
        meta: Meta,
        xattrs: &Xattrs,
        data: &mut R,
        len: u64,
    ) -> Result<(), ImageError> {
        self.meter.logical(len)?;
        self.clear(at, false)?;
        let fd = at::openat_os(
            at.parent,
            at.name,
            libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW,
            0o600,
        )
        .map_err(self.fs("creating file", at.rel))?;
        let f = File::from(fd);
        let written = self.write_sparse(data, &f, at.rel)?;
        f.set_len(len)
            .map_err(self.fs("setting length of", at.rel))?;
        self.stats.bytes += written;
        self.stats.logical_bytes += len;
        self.settle(f.as_fd(), meta, xattrs, at.rel)
    }

    /// Copies `data` into `f`, leaving every all-zero block a hole. Each
    /// run of data is charged to the meter before it is written.
    fn write_sparse<R: Read>(
        &mut self,
        data: &mut R,
        f: &File,
        rel: &Path,
    ) -> Result<u64, ImageError> {
        let mut off = 0u64;
        let mut written = 0u64;
        loop {
            let n = read_full(data, &mut self.buf).map_err(|e| self.read_error(rel, e))?;
            if n == 0 {
                return Ok(written);
            }
            let chunk = &self.buf[..n];
            let mut i = 0;
            while i < n {
                let start = i;
                while i < n && !is_zero(&chunk[i..n.min(i + BLOCK)]) {
                    i = n.min(i + BLOCK);
                }
                if start < i {
                    let run = &chunk[start..i];
                    self.meter.data(run.len() as u64)?;
                    f.write_all_at(run, off + start as u64)
                        .map_err(self.fs("writing file", rel))?;
                    written += run.len() as u64;
                }
                while i < n && is_zero(&chunk[i..n.min(i + BLOCK)]) {
                    i = n.min(i + BLOCK);
                }
            }
            off += n as u64;
        }
    }

    fn read_error(&self, rel: &Path, e: io::Error) -> ImageError {
        self.meter.exceeded().unwrap_or_else(|| {
            ImageError::InvalidArchive(format!(
                "layer {}: reading {}: {e}",
                self.layer,
                rel.display()
            ))
        })
    }

    fn symlink(
        &mut self,
        at: &Place<'_>,
        meta: Meta,
        target: Option<std::borrow::Cow<'_, [u8]>>,
    ) -> Result<(), ImageError> {
        let target = target
            .filter(|t| !t.is_empty())
            .ok_or_else(|| self.unsafe_path(at.rel, "symlink without target"))?;
        if target.len() > MAX_PATH {
            return Err(self.unsafe_path(at.rel, "link target longer than 4095 bytes"));
        }
        self.clear(at, false)?;
        at::symlinkat_os(OsStr::from_bytes(&target), at.parent, at.name)
            .map_err(self.fs("creating symlink", at.rel))?;
        match at::fchownat_nofollow(at.parent, at.name, meta.uid, meta.gid) {
            Err(e) if !eperm_without_root(&e) => return Err(self.fs("chown", at.rel)(e)),
            _ => {}
        }
        at::utimensat_nofollow(at.parent, at.name, meta.mtime)
            .map_err(self.fs("setting times", at.rel))
    }

    fn hard_link(
        &mut self,
        at: &Place<'_>,
        target: Option<std::borrow::Cow<'_, [u8]>>,
    ) -> Result<(), ImageError> {
        let outside = "hard link target outside the layer";
        let target = target.ok_or_else(|| self.unsafe_path(at.rel, "hard link without target"))?;
        if target.len() > MAX_PATH {
            return Err(self.unsafe_path(at.rel, "link target longer than 4095 bytes"));
        }
        let trel = match safe_relative(Path::new(OsStr::from_bytes(&target))) {
            Ok(Some(t)) => t,
            _ => return Err(self.unsafe_path(at.rel, outside)),
        };
        if trel == at.rel {
            return Err(self.unsafe_path(at.rel, "hard link to itself"));
        }
        let missing = "hard link target missing or a directory";
        let (Some(tname), Some(tparent_rel)) = (trel.file_name(), trel.parent()) else {
            return Err(self.unsafe_path(at.rel, outside));
        };
        let tparent = match self.tree.dir(tparent_rel) {
            Ok(fd) => fd,
            Err(Refused::Symlink) => {
                return Err(self.unsafe_path(at.rel, "hard link target reached through a symlink"))
            }
            Err(_) => return Err(self.unsafe_path(at.rel, missing)),
        };
        match at::fstatat_nofollow(tparent.as_fd(), tname) {
            Ok(st) if st.kind() != libc::S_IFDIR => {}
            _ => return Err(self.unsafe_path(at.rel, missing)),
        }
        self.clear(at, false)?;
        at::linkat(tparent.as_fd(), tname, at.parent, at.name)
            .map_err(self.fs("creating hard link", at.rel))
    }

    fn fifo(&mut self, at: &Place<'_>, meta: Meta, xattrs: &Xattrs) -> Result<(), ImageError> {
        self.clear(at, false)?;
        at::mknodat_os(at.parent, at.name, libc::S_IFIFO | 0o600, 0, 0)
            .map_err(self.fs("creating fifo", at.rel))?;
        // Opening a FIFO for reading without blocking needs no writer.
        let fd = at::openat_os(
            at.parent,
            at.name,
            libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOFOLLOW,
            0,
        )
        .map_err(self.fs("opening fifo", at.rel))?;
        self.settle(fd.as_fd(), meta, xattrs, at.rel)
    }

    /// Owner, then mode (chown clears set-uid bits), then xattrs (chown
    /// drops `security.capability`), then times, all on the descriptor.
    fn settle(
        &self,
        fd: BorrowedFd<'_>,
        meta: Meta,
        xattrs: &Xattrs,
        rel: &Path,
    ) -> Result<(), ImageError> {
        chown(fd, meta.uid, meta.gid).map_err(self.fs("chown", rel))?;
        at::fchmod(fd, meta.mode).map_err(self.fs("chmod", rel))?;
        set_xattrs(fd, xattrs);
        at::futimens(fd, meta.mtime).map_err(self.fs("setting times", rel))
    }

    /// Directory modes and times, deepest first, each directory reopened
    /// from the root without following any symlink.
    fn settle_dirs(&mut self) -> Result<(), ImageError> {
        let mut dirs: Vec<(PathBuf, (u32, i64))> =
            std::mem::take(&mut self.dirs).into_iter().collect();
        dirs.sort_by_key(|(p, _)| std::cmp::Reverse(p.components().count()));
        for (rel, (mode, mtime)) in dirs {
            let fd = self
                .tree
                .dir(&rel)
                .map_err(|r| self.refused(&rel, "opening directory", r))?;
            at::fchmod(fd.as_fd(), mode).map_err(self.fs("chmod", &rel))?;
            at::futimens(fd.as_fd(), mtime).map_err(self.fs("setting times", &rel))?;
        }
        Ok(())
    }
}

/// The entry's `SCHILY.xattr.*` records that a layer may set.
fn allowed_xattrs<R: Read>(e: &mut tar::Entry<'_, R>) -> Xattrs {
    let mut out = Vec::new();
    if let Ok(Some(exts)) = e.pax_extensions() {
        for ext in exts.flatten() {
            let Ok(key) = ext.key() else { continue };
            if let Some(name) = key.strip_prefix("SCHILY.xattr.") {
                if name.starts_with("user.") || name == "security.capability" {
                    out.push((name.to_owned(), ext.value_bytes().to_vec()));
                }
            }
        }
    }
    out
}

/// Best effort, as Docker: a file system without user xattrs still gets the
/// file.
fn set_xattrs(fd: BorrowedFd<'_>, xattrs: &Xattrs) {
    for (k, v) in xattrs {
        if let Err(e) = at::fsetxattr(fd, k, v) {
            tracing::debug!(xattr = %k, error = %e, "xattr from image layer not applied");
        }
    }
}

fn is_zero(block: &[u8]) -> bool {
    // An OR over the block vectorizes; data blocks are rare enough to be
    // zero that an early exit buys nothing.
    block.iter().fold(0u8, |acc, b| acc | b) == 0
}

/// Reads until `buf` is full or the stream ends, so chunks start at
/// multiples of the chunk size and blocks line up with the file's.
fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Without root (unit tests, rootless inspection) ownership cannot be
/// reproduced: `EPERM` is ignored then, and only then.
fn eperm_without_root(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::EPERM) && !crate::host::is_root()
}

fn chown(fd: BorrowedFd<'_>, uid: u32, gid: u32) -> io::Result<()> {
    match at::fchown(fd, uid, gid) {
        Err(e) if eperm_without_root(&e) => Ok(()),
        r => r,
    }
}

/// Unpacks a layer tar stream into `dest` (an empty, private directory),
/// within the default [`UnpackBudget`].
pub fn unpack_layer<R: Read>(
    reader: R,
    dest: &Path,
    layer: &str,
) -> Result<LayerStats, ImageError> {
    unpack_layer_metered(reader, dest, layer, &Meter::new(UnpackBudget::DEFAULT))
}

/// Unpacks a layer tar stream into `dest`, charging `meter` (shared by the
/// layers of one image) for what is written and for every byte read from
/// `reader` up to the tar's end.
pub fn unpack_layer_metered<R: Read>(
    reader: R,
    dest: &Path,
    layer: &str,
    meter: &Meter,
) -> Result<LayerStats, ImageError> {
    let tree = Tree::open(dest).map_err(ImageError::io("opening", dest))?;
    let mut u = Unpacker {
        tree,
        layer,
        meter,
        stats: LayerStats::default(),
        dirs: BTreeMap::new(),
        buf: vec![0; CHUNK],
    };
    // Everything the tar reader reads is metered: the stream's length, and
    // the metadata it holds in memory before each entry.
    let mut archive = tar::Archive::new(Metered::new(reader, meter));
    let bad = |e: io::Error| {
        meter
            .exceeded()
            .unwrap_or_else(|| ImageError::InvalidArchive(format!("layer {layer}: {e}")))
    };
    for entry in archive.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        meter.entry_data(true);
        u.entry(&mut entry)?;
        // Whatever the entry did not use (a skipped device's data, say) is
        // data too, not metadata of the next entry.
        io::copy(&mut entry, &mut io::sink()).map_err(bad)?;
        meter.entry_data(false);
    }
    u.settle_dirs()?;
    Ok(u.stats)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever a layer names, an accepted path stays relative and free of `..`.
        #[test]
        fn accepted_paths_stay_inside(parts in proptest::collection::vec("(\\.\\.|\\.|[a-z]{1,3}|/)", 0..8)) {
            let s: String = parts.concat();
            if let Ok(Some(p)) = safe_relative(Path::new(&s)) {
                prop_assert!(p.is_relative());
                prop_assert!(p.components().all(|c| matches!(c, Component::Normal(_))));
            }
        }
    }
}
