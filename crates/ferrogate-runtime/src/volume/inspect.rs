//! Read-only inspection of volumes: encryption policy, key status, and a
//! plaintext scan of a backing image (the Rust twin of
//! `shared/spec/fscrypt/scan.py`).

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::sys;

pub use crate::sys::fscrypt::{KeyStatus, PolicyV2};

fn open_dir(p: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW)
        .open(p)
}

/// The fscrypt policy of a directory, if it has one.
pub fn encryption_policy(dir: &Path) -> io::Result<Option<PolicyV2>> {
    sys::fscrypt::get_policy(open_dir(dir)?.as_fd())
}

/// Status of the key with `identifier` on the filesystem containing `fs_root`.
pub fn key_status(fs_root: &Path, identifier: &[u8; 16]) -> io::Result<KeyStatus> {
    sys::fscrypt::key_status(open_dir(fs_root)?.as_fd(), identifier)
}

/// Drops the page cache (benchmarks: read back from disk, not memory).
pub fn drop_caches() -> io::Result<()> {
    sys::drop_caches()
}

/// Result of [`scan_allocated`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScanResult {
    /// Bytes read (allocated extents only).
    pub scanned_bytes: u64,
    /// Occurrences of the marker.
    pub hits: u64,
}

/// Counts occurrences of `marker` in the allocated (SEEK_DATA) extents of a
/// sparse file, including matches that straddle read chunks.
pub fn scan_allocated(path: &Path, marker: &[u8]) -> io::Result<ScanResult> {
    if marker.is_empty() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "empty marker"));
    }
    let mut f = File::open(path)?;
    let size = f.metadata()?.len();
    let mut res = ScanResult::default();
    let mut off = 0u64;
    let mut buf = vec![0u8; 8 << 20];
    while off < size {
        let Some(d) = sys::seek_data_hole(f.as_fd(), off, false)? else {
            break;
        };
        let h = sys::seek_data_hole(f.as_fd(), d, true)?.unwrap_or(size);
        f.seek(SeekFrom::Start(d))?;
        let mut pos = d;
        let mut tail: Vec<u8> = Vec::new();
        while pos < h {
            let want = usize::try_from((h - pos).min(buf.len() as u64)).unwrap_or(buf.len());
            let n = f.read(&mut buf[..want])?;
            if n == 0 {
                break;
            }
            let mut window = std::mem::take(&mut tail);
            window.extend_from_slice(&buf[..n]);
            res.hits += count(&window, marker);
            let keep = marker.len() - 1;
            tail = window[window.len().saturating_sub(keep)..].to_vec();
            res.scanned_bytes += n as u64;
            pos += n as u64;
        }
        off = h;
    }
    Ok(res)
}

fn count(hay: &[u8], needle: &[u8]) -> u64 {
    if hay.len() < needle.len() {
        return 0;
    }
    hay.windows(needle.len()).filter(|w| *w == needle).count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn scan_finds_markers_across_chunk_edges_and_skips_holes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("img");
        let mut f = File::create(&p).unwrap();
        f.set_len(64 << 20).unwrap();
        // Straddles the 8 MiB chunk boundary.
        f.seek(SeekFrom::Start((8 << 20) - 3)).unwrap();
        f.write_all(b"MARKER").unwrap();
        f.seek(SeekFrom::Start(40 << 20)).unwrap();
        f.write_all(b"xxMARKERxx").unwrap();
        drop(f);
        let r = scan_allocated(&p, b"MARKER").unwrap();
        assert_eq!(r.hits, 2);
        assert!(r.scanned_bytes < 64 << 20, "holes skipped: {r:?}");
    }
}
