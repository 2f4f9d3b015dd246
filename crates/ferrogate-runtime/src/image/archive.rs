//! Reading image archives: a tar file (`docker save`, or an OCI layout packed
//! as tar) or a directory (an OCI layout). Members are addressed by their
//! normalized path; names come from untrusted manifests, so `..` and absolute
//! paths are refused here too.
//!
//! # Security
//!
//! A directory is read only through a descriptor of it: every member is
//! opened with `openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)`, so a
//! symlink inside the layout may point to another member (the legacy
//! `docker save` format links identical `layer.tar`s that way), but one that
//! leads out of it (absolute, or climbing above it) is refused
//! ([`ImageError::LeavesLayout`]) before anything is read: no byte of a host
//! file, and so no digest of one, can reach the store or an error message.
//! Members must be regular files (a FIFO would block the load, a device
//! could stream forever).

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use super::budget::copy_capped;
use super::error::ImageError;
use crate::sys::at;

/// Most we read of a JSON member (manifests, configs, indexes).
const MAX_JSON: u64 = 16 << 20;

/// Most members an archive may have. `docker save` writes three or four per
/// layer and an OCI layout one per blob: real archives have dozens.
const MAX_MEMBERS: usize = 100_000;

/// Most bytes read while indexing a tar archive. Member data is skipped by
/// seeking, so this bounds headers, long names and PAX records, which the
/// tar reader keeps in memory.
const MAX_INDEX_READ: u64 = 64 << 20;

/// The archive file, counting what the indexer reads.
struct IndexReader {
    file: File,
    read: u64,
}

impl Read for IndexReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read(buf)?;
        self.read += n as u64;
        if self.read > MAX_INDEX_READ {
            return Err(io::Error::other(
                "more than 64 MiB of tar headers, long names and PAX records",
            ));
        }
        Ok(n)
    }
}

impl Seek for IndexReader {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.file.seek(pos)
    }
}

/// A tar member: data at an offset, or a link to another member.
#[derive(Clone, Debug)]
pub enum Member {
    /// Regular file data.
    File {
        /// Offset of the data in the tar file.
        offset: u64,
        /// Length.
        size: u64,
    },
    /// Symlink or hard link (normalized target).
    Link(String),
}

/// An opened archive.
pub enum Source {
    /// A tar file with an index of its members.
    Tar {
        /// The file.
        path: PathBuf,
        /// name → member.
        members: HashMap<String, Member>,
    },
    /// A directory.
    Dir {
        /// As given (for messages).
        path: PathBuf,
        /// Every member is opened relative to this.
        fd: OwnedFd,
    },
}

/// How members of a layout directory are resolved: links may stay inside
/// it, never leave it.
const RESOLVE_LAYOUT: u64 = libc::RESOLVE_BENEATH | libc::RESOLVE_NO_MAGICLINKS;

/// Normalizes a member name; `..` may not climb above the archive root.
pub fn normalize(name: &str) -> Result<String, ImageError> {
    let mut parts: Vec<&str> = Vec::new();
    for c in Path::new(name).components() {
        match c {
            Component::Normal(n) => parts.push(n.to_str().ok_or_else(|| bad(name))?),
            Component::CurDir | Component::RootDir => {}
            Component::ParentDir => {
                if parts.pop().is_none() {
                    return Err(bad(name));
                }
            }
            Component::Prefix(_) => return Err(bad(name)),
        }
    }
    if parts.is_empty() {
        return Err(bad(name));
    }
    Ok(parts.join("/"))
}

fn bad(name: &str) -> ImageError {
    ImageError::InvalidArchive(format!("member name {name:?} escapes the archive"))
}

impl Source {
    /// Opens a tar file or directory.
    pub fn open(path: &Path) -> Result<Source, ImageError> {
        let meta = std::fs::metadata(path).map_err(ImageError::io("opening", path))?;
        if meta.is_dir() {
            let fd = at::open(path, libc::O_RDONLY | libc::O_DIRECTORY)
                .map_err(ImageError::io("opening", path))?;
            return Ok(Source::Dir {
                path: path.to_owned(),
                fd,
            });
        }
        let file = File::open(path).map_err(ImageError::io("opening", path))?;
        let mut archive = tar::Archive::new(IndexReader { file, read: 0 });
        let mut members = HashMap::new();
        let entries = archive
            .entries_with_seek()
            .map_err(|e| ImageError::InvalidArchive(format!("not a tar archive: {e}")))?;
        for e in entries {
            let e = e.map_err(|e| ImageError::InvalidArchive(format!("reading tar: {e}")))?;
            if members.len() >= MAX_MEMBERS {
                return Err(ImageError::InvalidArchive(format!(
                    "more than {MAX_MEMBERS} members"
                )));
            }
            let Ok(p) = e.path() else { continue };
            let Some(name) = p.to_str().map(str::to_owned) else {
                continue;
            };
            let Ok(name) = normalize(&name) else { continue };
            let kind = e.header().entry_type();
            let m = if kind.is_file() {
                Member::File {
                    offset: e.raw_file_position(),
                    size: e.size(),
                }
            } else if kind.is_symlink() || kind.is_hard_link() {
                let Some(target) = e.link_name().ok().flatten() else {
                    continue;
                };
                let target = target.to_string_lossy().into_owned();
                let full = if kind.is_symlink() {
                    let dir = Path::new(&name)
                        .parent()
                        .map(|p| p.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    format!("{dir}/{target}")
                } else {
                    target
                };
                Member::Link(full)
            } else {
                continue;
            };
            members.insert(name, m);
        }
        Ok(Source::Tar {
            path: path.to_owned(),
            members,
        })
    }

    /// True if the member exists. A member of a directory that leaves it is
    /// an error, not an absence.
    pub fn has(&self, name: &str) -> Result<bool, ImageError> {
        let Ok(n) = normalize(name) else {
            return Ok(false);
        };
        match self {
            Source::Tar { members, .. } => Ok(members.contains_key(&n)),
            Source::Dir { .. } => match self.open_dir_member(&n) {
                Ok(_) => Ok(true),
                Err(ImageError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                    Ok(false)
                }
                Err(e) => Err(e),
            },
        }
    }

    /// Opens a regular file of a layout directory, without leaving it.
    fn open_dir_member(&self, n: &str) -> Result<File, ImageError> {
        let Source::Dir { path, fd } = self else {
            return Err(ImageError::InvalidArchive(format!(
                "member {n:?} not found"
            )));
        };
        let shown = path.join(n);
        // O_NONBLOCK: opening a FIFO must not wait for a writer.
        let f = match at::openat2_os(
            fd.as_fd(),
            OsStr::new(n),
            libc::O_RDONLY | libc::O_NONBLOCK,
            0,
            RESOLVE_LAYOUT,
        ) {
            Ok(f) => f,
            Err(e) if e.raw_os_error() == Some(libc::EXDEV) => {
                return Err(ImageError::LeavesLayout {
                    member: n.to_owned(),
                })
            }
            Err(e) => return Err(ImageError::io("opening", shown)(e)),
        };
        let st = at::stat_fd(f.as_fd()).map_err(ImageError::io("inspecting", &shown))?;
        if st.kind() != libc::S_IFREG {
            return Err(ImageError::InvalidArchive(format!(
                "member {n:?} is not a regular file"
            )));
        }
        Ok(File::from(f))
    }

    /// Opens a member for streaming.
    pub fn open_member(&self, name: &str) -> Result<Box<dyn Read + '_>, ImageError> {
        let mut n = normalize(name)?;
        match self {
            Source::Dir { .. } => Ok(Box::new(self.open_dir_member(&n)?)),
            Source::Tar { path, members } => {
                for _ in 0..8 {
                    match members.get(&n) {
                        Some(Member::File { offset, size }) => {
                            let mut f =
                                File::open(path).map_err(ImageError::io("opening", path))?;
                            f.seek(SeekFrom::Start(*offset))
                                .map_err(ImageError::io("seeking", path))?;
                            return Ok(Box::new(f.take(*size)));
                        }
                        Some(Member::Link(t)) => n = normalize(t)?,
                        None => break,
                    }
                }
                Err(ImageError::InvalidArchive(format!(
                    "member {name:?} not found"
                )))
            }
        }
    }

    /// Reads a small member fully.
    pub fn read_small(&self, name: &str) -> Result<Vec<u8>, ImageError> {
        let mut r = self.open_member(name)?.take(MAX_JSON + 1);
        let mut buf = Vec::new();
        r.read_to_end(&mut buf)
            .map_err(|e| ImageError::InvalidArchive(format!("reading {name}: {e}")))?;
        if buf.len() as u64 > MAX_JSON {
            return Err(ImageError::InvalidArchive(format!(
                "{name} is larger than 16 MiB"
            )));
        }
        Ok(buf)
    }
}

/// If `path` is gzip-compressed, decompresses it into `tmp_dir` and returns
/// the new path (the caller deletes it). Otherwise returns `None`. More than
/// `limit` bytes of output is a budget error: the copy is on the host disk.
pub fn maybe_gunzip(
    path: &Path,
    tmp_dir: &Path,
    limit: u64,
) -> Result<Option<tempfile::TempPath>, ImageError> {
    if path.is_dir() {
        return Ok(None);
    }
    let mut f = File::open(path).map_err(ImageError::io("opening", path))?;
    let mut magic = [0u8; 2];
    let n = f
        .read(&mut magic)
        .map_err(ImageError::io("reading", path))?;
    if n < 2 || magic != [0x1f, 0x8b] {
        return Ok(None);
    }
    f.seek(SeekFrom::Start(0))
        .map_err(ImageError::io("seeking", path))?;
    let mut out = tempfile::NamedTempFile::new_in(tmp_dir)
        .map_err(ImageError::io("creating temp file in", tmp_dir))?;
    copy_capped(flate2::read::MultiGzDecoder::new(f), &mut out, limit)?.map_err(|e| {
        ImageError::InvalidArchive(format!("decompressing {}: {e}", path.display()))
    })?;
    Ok(Some(out.into_temp_path()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_names_cannot_escape() {
        assert_eq!(normalize("./a/b").unwrap(), "a/b");
        assert_eq!(normalize("x/../y").unwrap(), "y");
        assert!(normalize("../etc/shadow").is_err());
        assert!(normalize("a/../../b").is_err());
        assert_eq!(normalize("/blobs/sha256/x").unwrap(), "blobs/sha256/x");
    }
}
