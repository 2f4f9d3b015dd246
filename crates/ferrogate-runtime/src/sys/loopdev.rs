//! Loop device ioctls (`linux/loop.h`).

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

use super::cvt;

/// `LOOP_CTL_GET_FREE`.
pub const LOOP_CTL_GET_FREE: u64 = 0x4C82;
/// `LOOP_CONFIGURE` (Linux 5.8+).
pub const LOOP_CONFIGURE: u64 = 0x4C0A;
/// `LOOP_CLR_FD`.
pub const LOOP_CLR_FD: u64 = 0x4C01;

/// `LO_FLAGS_AUTOCLEAR`: detach when the last opener closes.
pub const LO_FLAGS_AUTOCLEAR: u32 = 4;
/// `LO_FLAGS_DIRECT_IO`.
pub const LO_FLAGS_DIRECT_IO: u32 = 16;

#[repr(C)]
struct LoopInfo64 {
    lo_device: u64,
    lo_inode: u64,
    lo_rdevice: u64,
    lo_offset: u64,
    lo_sizelimit: u64,
    lo_number: u32,
    lo_encrypt_type: u32,
    lo_encrypt_key_size: u32,
    lo_flags: u32,
    lo_file_name: [u8; 64],
    lo_crypt_name: [u8; 64],
    lo_encrypt_key: [u8; 32],
    lo_init: [u64; 2],
}

#[repr(C)]
struct LoopConfig {
    fd: u32,
    block_size: u32,
    info: LoopInfo64,
    reserved: [u64; 8],
}

/// `LOOP_CTL_GET_FREE` on `/dev/loop-control`: the number of a free device
/// (allocating one if needed).
pub fn get_free(ctl: BorrowedFd<'_>) -> io::Result<u32> {
    // SAFETY: LOOP_CTL_GET_FREE takes no argument.
    let n = cvt(unsafe { libc::ioctl(ctl.as_raw_fd(), LOOP_CTL_GET_FREE as libc::Ioctl) })?;
    u32::try_from(n).map_err(|_| io::Error::other("negative loop number"))
}

/// `LOOP_CONFIGURE`: binds `backing` to the loop device in one call.
pub fn configure(
    dev: BorrowedFd<'_>,
    backing: BorrowedFd<'_>,
    flags: u32,
    block_size: u32,
    name: &[u8],
) -> io::Result<()> {
    let backing_fd = u32::try_from(backing.as_raw_fd())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "bad fd"))?;
    let mut file_name = [0u8; 64];
    let n = name.len().min(63);
    file_name[..n].copy_from_slice(&name[..n]);
    let cfg = LoopConfig {
        fd: backing_fd,
        block_size,
        info: LoopInfo64 {
            lo_device: 0,
            lo_inode: 0,
            lo_rdevice: 0,
            lo_offset: 0,
            lo_sizelimit: 0,
            lo_number: 0,
            lo_encrypt_type: 0,
            lo_encrypt_key_size: 0,
            lo_flags: flags,
            lo_file_name: file_name,
            lo_crypt_name: [0; 64],
            lo_encrypt_key: [0; 32],
            lo_init: [0; 2],
        },
        reserved: [0; 8],
    };
    // SAFETY: `cfg` is a valid `struct loop_config` that lives across the call.
    cvt(unsafe {
        libc::ioctl(
            dev.as_raw_fd(),
            LOOP_CONFIGURE as libc::Ioctl,
            &cfg as *const LoopConfig,
        )
    })
    .map(drop)
}

/// `LOOP_CLR_FD`. If other openers remain, the kernel turns this into
/// autoclear and returns success.
pub fn clear(dev: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: LOOP_CLR_FD takes no argument.
    cvt(unsafe { libc::ioctl(dev.as_raw_fd(), LOOP_CLR_FD as libc::Ioctl) }).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn struct_sizes_match_kernel_headers() {
        assert_eq!(std::mem::size_of::<LoopInfo64>(), 232);
        assert_eq!(std::mem::size_of::<LoopConfig>(), 304);
    }
}
