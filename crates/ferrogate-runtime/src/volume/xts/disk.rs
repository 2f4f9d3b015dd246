//! The encrypted disk: plaintext byte ranges of the volume mapped onto
//! AES-256-XTS ciphertext in the backing file, sector `s` (4 KiB) at the same
//! offset, tweak `s`.
//!
//! - Aligned I/O (all the loop device sends: its logical block size is 4 KiB)
//!   is encrypted or decrypted in place in the worker's buffer, one `pwrite`
//!   or `pread` per request, no read-modify-write.
//! - Unaligned writes (only other users of the file) read, decrypt, patch,
//!   encrypt and write each partial sector under an exclusive lock.
//! - An all-zero backing sector is a hole and reads as zeros: a fresh sparse
//!   volume costs nothing, and `fallocate(PUNCH_HOLE)` (loop's discard) frees
//!   space. A real ciphertext sector is all zero with probability 2^-32768.
//! - The key lives in [`KeySlot`]s, one per worker. [`KeySlot::destroy`]
//!   frees it at once, even while a worker is blocked in I/O: from then on
//!   every request fails with `EIO`.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::{Mutex, RwLock};

use crate::sys::xts::XtsCipher;

/// Sector (XTS data unit) size, equal to the loop device's logical block size.
pub const SECTOR: usize = 4096;
const SECTOR_U64: u64 = 4096;

/// One worker's copy of the key schedules.
#[derive(Debug)]
pub struct KeySlot(Mutex<Option<XtsCipher>>);

fn key_gone() -> io::Error {
    io::Error::from_raw_os_error(libc::EIO)
}

impl KeySlot {
    /// A slot holding `cipher`.
    pub fn new(cipher: XtsCipher) -> KeySlot {
        KeySlot(Mutex::new(Some(cipher)))
    }

    /// Frees the key schedules (aws-lc wipes them). Waits only for a cipher
    /// call in progress (microseconds), never for I/O.
    pub fn destroy(&self) {
        let mut g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        drop(g.take());
    }

    /// Whether the key is still here.
    pub fn present(&self) -> bool {
        self.0.lock().map(|g| g.is_some()).unwrap_or(false)
    }

    /// Encrypts whole sectors in place; `buf` starts at sector `first`.
    fn encrypt(&self, first: u64, buf: &mut [u8]) -> io::Result<()> {
        let mut g = self.0.lock().map_err(|_| key_gone())?;
        let c = g.as_mut().ok_or_else(key_gone)?;
        for (s, chunk) in (first..).zip(buf.chunks_exact_mut(SECTOR)) {
            c.encrypt(s, chunk).map_err(|_| key_gone())?;
        }
        Ok(())
    }

    /// Decrypts whole sectors in place, leaving holes (all-zero sectors) as zeros.
    fn decrypt(&self, first: u64, buf: &mut [u8]) -> io::Result<()> {
        let mut g = self.0.lock().map_err(|_| key_gone())?;
        let c = g.as_mut().ok_or_else(key_gone)?;
        for (s, chunk) in (first..).zip(buf.chunks_exact_mut(SECTOR)) {
            if !is_zero(chunk) {
                c.decrypt(s, chunk).map_err(|_| key_gone())?;
            }
        }
        Ok(())
    }
}

fn is_zero(b: &[u8]) -> bool {
    // Word at a time: this runs on every sector read. Ciphertext fails on the
    // first word; only holes are scanned to the end.
    let mut words = b.chunks_exact(8);
    words
        .by_ref()
        .all(|w| <[u8; 8]>::try_from(w).is_ok_and(|w| u64::from_ne_bytes(w) == 0))
        && words.remainder().iter().all(|&x| x == 0)
}

/// The backing file and the volume's geometry.
#[derive(Debug)]
pub struct Disk {
    backing: File,
    size: u64,
    direct: bool,
    /// Aligned I/O shares it; read-modify-write and hole punching take it alone.
    rmw: RwLock<()>,
}

fn einval() -> io::Error {
    io::Error::from_raw_os_error(libc::EINVAL)
}

fn sectors(offset: u64, end: u64) -> (u64, u64) {
    (offset / SECTOR_U64, end.div_ceil(SECTOR_U64))
}

fn usize_of(n: u64) -> io::Result<usize> {
    usize::try_from(n).map_err(|_| einval())
}

impl Disk {
    /// A disk of `size` bytes (a multiple of [`SECTOR`]) over `backing`,
    /// opened with `O_DIRECT` if `direct` (buffers must then be 4 KiB aligned).
    pub fn new(backing: File, size: u64, direct: bool) -> Disk {
        Disk {
            backing,
            size,
            direct,
            rmw: RwLock::new(()),
        }
    }

    /// The backing file's descriptor (workers keep it in their own tables).
    pub fn backing_fd(&self) -> std::os::fd::RawFd {
        std::os::fd::AsRawFd::as_raw_fd(&self.backing)
    }

    /// Size of the volume in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Reads plaintext of `[offset, offset + len)` (clipped to the disk) into
    /// `area`, which must be 4 KiB aligned and hold the covering sectors
    /// (`len` + 8 KiB is always enough). Returns where in `area` the
    /// requested bytes are.
    pub fn read(
        &self,
        key: &KeySlot,
        offset: u64,
        len: u32,
        area: &mut [u8],
    ) -> io::Result<std::ops::Range<usize>> {
        if offset >= self.size {
            return Ok(0..0);
        }
        let end = offset.saturating_add(u64::from(len)).min(self.size);
        let (s0, s1) = sectors(offset, end);
        let n = usize_of((s1 - s0) * SECTOR_U64)?;
        let buf = area.get_mut(..n).ok_or_else(einval)?;
        {
            let _shared = self.rmw.read().map_err(|_| key_gone())?;
            self.read_exact_at(buf, s0 * SECTOR_U64)?;
        }
        key.decrypt(s0, buf)?;
        let lo = usize_of(offset - s0 * SECTOR_U64)?;
        Ok(lo..lo + usize_of(end - offset)?)
    }

    /// Writes the plaintext `data` at `offset`. Aligned writes encrypt `data`
    /// in place (it must then be 4 KiB aligned in memory); others go through
    /// `scratch` (one 4 KiB-aligned sector) sector by sector.
    pub fn write(
        &self,
        key: &KeySlot,
        offset: u64,
        data: &mut [u8],
        scratch: &mut [u8],
    ) -> io::Result<()> {
        let end = offset
            .checked_add(data.len() as u64)
            .filter(|&e| e <= self.size)
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOSPC))?;
        let aligned_mem = !self.direct || data.as_ptr() as usize % SECTOR == 0;
        if offset % SECTOR_U64 == 0 && data.len() % SECTOR == 0 && aligned_mem {
            let _shared = self.rmw.read().map_err(|_| key_gone())?;
            key.encrypt(offset / SECTOR_U64, data)?;
            return self.backing.write_all_at(data, offset);
        }
        let _alone = self.rmw.write().map_err(|_| key_gone())?;
        self.patch(key, offset, end, Some(data), scratch)
    }

    /// Replaces `[offset, end)` sector by sector with `data` (or zeros).
    /// Caller holds the exclusive lock.
    fn patch(
        &self,
        key: &KeySlot,
        offset: u64,
        end: u64,
        data: Option<&[u8]>,
        scratch: &mut [u8],
    ) -> io::Result<()> {
        let sector = scratch.get_mut(..SECTOR).ok_or_else(einval)?;
        let (s0, s1) = sectors(offset, end);
        for s in s0..s1 {
            let start = s * SECTOR_U64;
            let lo = offset.max(start);
            let hi = end.min(start + SECTOR_U64);
            if lo == start && hi == start + SECTOR_U64 {
                sector.fill(0);
            } else {
                self.read_exact_at(sector, start)?;
                key.decrypt(s, sector)?;
            }
            let dst = sector
                .get_mut(usize_of(lo - start)?..usize_of(hi - start)?)
                .ok_or_else(einval)?;
            match data {
                Some(d) => dst.copy_from_slice(
                    d.get(usize_of(lo - offset)?..usize_of(hi - offset)?)
                        .ok_or_else(einval)?,
                ),
                None => dst.fill(0),
            }
            key.encrypt(s, sector)?;
            self.backing.write_all_at(sector, start)?;
        }
        Ok(())
    }

    /// `fallocate` as the loop device uses it: `PUNCH_HOLE` (discard) and
    /// `ZERO_RANGE` (write-zeroes) make the range read as zeros, whole
    /// sectors by punching holes in the backing file, partial edge sectors
    /// by writing encrypted zeros. Plain allocation is a no-op (space is
    /// allocated on write). Other modes: `EOPNOTSUPP`.
    pub fn fallocate(
        &self,
        key: &KeySlot,
        offset: u64,
        length: u64,
        mode: u32,
        scratch: &mut [u8],
    ) -> io::Result<()> {
        const KEEP_SIZE: u32 = 0x01;
        const PUNCH_HOLE: u32 = 0x02;
        const ZERO_RANGE: u32 = 0x10;
        if mode & !(KEEP_SIZE | PUNCH_HOLE | ZERO_RANGE) != 0 {
            return Err(io::Error::from_raw_os_error(libc::EOPNOTSUPP));
        }
        let end = offset.saturating_add(length).min(self.size);
        if mode & (PUNCH_HOLE | ZERO_RANGE) == 0 || offset >= end {
            return Ok(());
        }
        let a = offset.div_ceil(SECTOR_U64) * SECTOR_U64;
        let b = end / SECTOR_U64 * SECTOR_U64;
        let _alone = self.rmw.write().map_err(|_| key_gone())?;
        if a >= b {
            return self.patch(key, offset, end, None, scratch);
        }
        crate::sys::fuse::punch_hole(&self.backing, a, b - a)?;
        if offset < a {
            self.patch(key, offset, a, None, scratch)?;
        }
        if b < end {
            self.patch(key, b, end, None, scratch)?;
        }
        Ok(())
    }

    /// `fdatasync` of the backing file: with `O_DIRECT` the data is already
    /// in the device, but block allocations in the sparse file (metadata)
    /// and the device's volatile write cache still need it.
    pub fn sync(&self) -> io::Result<()> {
        self.backing.sync_data()
    }

    fn read_exact_at(&self, buf: &mut [u8], at: u64) -> io::Result<()> {
        let mut done = 0;
        while done < buf.len() {
            match self.backing.read_at(&mut buf[done..], at + done as u64) {
                // Past the end of a backing file shorter than the volume: zeros.
                Ok(0) => {
                    buf[done..].fill(0);
                    return Ok(());
                }
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::mem::SecretPages;

    fn disk(dir: &tempfile::TempDir, size: u64) -> Disk {
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(dir.path().join("backing"))
            .unwrap();
        f.set_len(size).unwrap();
        Disk::new(f, size, false)
    }

    fn key() -> KeySlot {
        let mut k = [0u8; 64];
        for (i, b) in k.iter_mut().enumerate() {
            *b = u8::try_from(i).unwrap();
        }
        KeySlot::new(XtsCipher::new(&k).unwrap())
    }

    fn read_all(d: &Disk, k: &KeySlot, off: u64, len: u32) -> Vec<u8> {
        let mut area = SecretPages::new(len as usize + 2 * SECTOR).unwrap();
        let r = d.read(k, off, len, area.as_mut_slice()).unwrap();
        area.as_mut_slice()[r].to_vec()
    }

    #[test]
    fn aligned_and_unaligned_writes_read_back_and_are_encrypted() {
        let dir = tempfile::tempdir().unwrap();
        let d = disk(&dir, 1 << 20);
        let k = key();
        let mut scratch = SecretPages::new(SECTOR).unwrap();
        let mut pages = SecretPages::new(3 * SECTOR).unwrap();
        let data = pages.as_mut_slice();
        data.fill(b'M');
        d.write(&k, 8192, data, scratch.as_mut_slice()).unwrap();
        // In place: the buffer now holds ciphertext.
        assert!(!data.iter().all(|&b| b == b'M'));
        assert_eq!(read_all(&d, &k, 8192, 3 * 4096), vec![b'M'; 3 * 4096]);
        // Unaligned patch across a sector edge keeps the neighbours.
        let mut p = b"PATCH".to_vec();
        d.write(&k, 4096 * 3 - 2, &mut p, scratch.as_mut_slice())
            .unwrap();
        let got = read_all(&d, &k, 4096 * 3 - 4, 10);
        assert_eq!(&got, b"MMPATCHMMM");
        // Before and after the written range: holes, read as zeros.
        assert_eq!(read_all(&d, &k, 0, 8192), vec![0u8; 8192]);
        let raw = std::fs::read(dir.path().join("backing")).unwrap();
        assert!(!raw.windows(5).any(|w| w == b"PATCH" || w == b"MMMMM"));
        assert!(raw[..8192].iter().all(|&b| b == 0));
    }

    #[test]
    fn discard_makes_zeros_and_frees_whole_sectors() {
        let dir = tempfile::tempdir().unwrap();
        let d = disk(&dir, 1 << 20);
        let k = key();
        let mut scratch = SecretPages::new(SECTOR).unwrap();
        let mut pages = SecretPages::new(4 * SECTOR).unwrap();
        pages.as_mut_slice().fill(7);
        d.write(&k, 0, pages.as_mut_slice(), scratch.as_mut_slice())
            .unwrap();
        // Punch [100, 3*4096+100): sector 0 and 3 partially, 1 and 2 wholly.
        d.fallocate(&k, 100, 3 * 4096, 0x03, scratch.as_mut_slice())
            .unwrap();
        let got = read_all(&d, &k, 0, 4 * 4096);
        assert!(got[..100].iter().all(|&b| b == 7));
        assert!(got[100..3 * 4096 + 100].iter().all(|&b| b == 0));
        assert!(got[3 * 4096 + 100..].iter().all(|&b| b == 7));
        let raw = std::fs::read(dir.path().join("backing")).unwrap();
        assert!(raw[4096..3 * 4096].iter().all(|&b| b == 0), "holes punched");
        assert!(d
            .fallocate(&k, 0, 4096, 0x08, scratch.as_mut_slice())
            .is_err());
    }

    #[test]
    fn writes_past_the_end_fail_and_reads_past_it_are_empty() {
        let dir = tempfile::tempdir().unwrap();
        let d = disk(&dir, 1 << 16);
        let k = key();
        let mut scratch = SecretPages::new(SECTOR).unwrap();
        let mut pages = SecretPages::new(SECTOR).unwrap();
        let e = d
            .write(&k, 1 << 16, pages.as_mut_slice(), scratch.as_mut_slice())
            .unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOSPC));
        assert!(read_all(&d, &k, 1 << 16, 4096).is_empty());
        assert_eq!(read_all(&d, &k, (1 << 16) - 10, 4096).len(), 10);
    }

    #[test]
    fn a_destroyed_key_fails_every_request() {
        let dir = tempfile::tempdir().unwrap();
        let d = disk(&dir, 1 << 16);
        let k = key();
        let mut scratch = SecretPages::new(SECTOR).unwrap();
        let mut pages = SecretPages::new(SECTOR).unwrap();
        pages.as_mut_slice().fill(1);
        d.write(&k, 0, pages.as_mut_slice(), scratch.as_mut_slice())
            .unwrap();
        k.destroy();
        assert!(!k.present());
        let mut area = SecretPages::new(3 * SECTOR).unwrap();
        let e = d.read(&k, 0, 4096, area.as_mut_slice()).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EIO));
        let e = d
            .write(&k, 0, pages.as_mut_slice(), scratch.as_mut_slice())
            .unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EIO));
    }
}
