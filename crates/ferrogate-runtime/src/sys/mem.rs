//! Memory that holds key schedules or plaintext: locked into RAM, left out of
//! core dumps, not inherited by forked children, wiped before it is unmapped.

use std::ffi::c_void;
use std::io;
use std::ptr::NonNull;

use zeroize::Zeroize;

use super::cvt;

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(n).ok().filter(|&n| n > 0).unwrap_or(4096)
}

/// `mlock(2)` of every page touching `[start, start + len)`. The pages stay
/// locked until they are unmapped (heap pages: for the life of the process;
/// they are few, and reused by the allocator).
pub fn lock_range(start: usize, len: usize) -> io::Result<()> {
    let page = page_size();
    let first = start & !(page - 1);
    let end = start
        .saturating_add(len)
        .div_ceil(page)
        .saturating_mul(page);
    // SAFETY: mlock only changes the residency of pages already mapped in
    // this range (ENOMEM if some are not); it reads and writes no memory.
    cvt(unsafe { libc::mlock(first as *const c_void, end - first) }).map(drop)
}

/// An anonymous private mapping of whole pages, page-aligned (so usable as an
/// `O_DIRECT` buffer), `mlock`ed if the process may lock memory, marked
/// `MADV_DONTDUMP` and `MADV_WIPEONFORK`, and zeroed before `munmap`.
pub struct SecretPages {
    ptr: NonNull<u8>,
    len: usize,
    locked: bool,
}

// SAFETY: the mapping is owned by this value alone; access goes through
// `&self` / `&mut self`.
unsafe impl Send for SecretPages {}

impl SecretPages {
    /// Maps at least `len` bytes (rounded up to whole pages).
    pub fn new(len: usize) -> io::Result<SecretPages> {
        let page = page_size();
        let len = len.max(1).div_ceil(page).saturating_mul(page);
        // SAFETY: a new anonymous mapping chosen by the kernel; no existing
        // memory is affected.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr = NonNull::new(p.cast::<u8>()).ok_or_else(|| io::Error::other("mmap gave null"))?;
        // SAFETY: `p..p+len` is the mapping just made; advice and locking
        // change how the kernel treats it, not its contents. Advice failures
        // (old kernels) are tolerated: they only narrow the protection.
        let locked = unsafe {
            libc::madvise(p, len, libc::MADV_DONTDUMP);
            libc::madvise(p, len, libc::MADV_WIPEONFORK);
            libc::mlock(p, len) == 0
        };
        Ok(SecretPages { ptr, len, locked })
    }

    /// The whole mapping.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: `ptr..ptr+len` is mapped read-write for the life of `self`,
        // and `&mut self` makes this the only reference.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }

    /// The whole mapping, read-only.
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: `ptr..ptr+len` is mapped for the life of `self`; `&self`
        // excludes a concurrent `&mut`.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// Length in bytes (whole pages).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether `mlock` succeeded.
    pub fn locked(&self) -> bool {
        self.locked
    }
}

impl Drop for SecretPages {
    fn drop(&mut self) {
        self.as_mut_slice().zeroize();
        // SAFETY: the mapping was made by `new` and is unmapped once; no
        // reference into it outlives `self`.
        unsafe { libc::munmap(self.ptr.as_ptr().cast::<c_void>(), self.len) };
    }
}

impl std::fmt::Debug for SecretPages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretPages")
            .field("len", &self.len)
            .field("locked", &self.locked)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_aligned_writable_and_rounded_up() {
        let mut p = SecretPages::new(5000).unwrap();
        assert_eq!(p.len() % page_size(), 0);
        assert!(p.len() >= 5000);
        let s = p.as_mut_slice();
        assert_eq!(s.as_ptr() as usize % page_size(), 0);
        s[4999] = 7;
        assert_eq!(s[4999], 7);
        assert!(lock_range(s.as_ptr() as usize + 10, 100).is_ok() || !crate::host::is_root());
    }
}
