//! fscrypt v2 ioctls (`linux/fscrypt.h`), as used by `shared/spec/fscrypt/fsc.c`.
//!
//! Struct layouts and ioctl numbers are pinned by tests against the values the
//! kernel headers produce (`sizeof`, `_IOWR`), because a wrong size silently
//! changes the ioctl number and the kernel answers `ENOTTY`.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

use zeroize::Zeroize;

use super::cvt;

/// Length of a v2 master key identifier.
pub const KEY_IDENTIFIER_SIZE: usize = 16;
/// Raw key length we add (the KMS data key). fscrypt v2 accepts 16..=64 bytes;
/// AES-256-XTS needs at least 64.
pub const RAW_KEY_SIZE: usize = 64;

/// DO NOT CHANGE: policy parameters are part of the on-disk format and of the
/// security claim in docs/security-model.md. Pinned by a test.
pub const FSCRYPT_POLICY_V2: u8 = 2;
/// `FSCRYPT_MODE_AES_256_XTS`.
pub const MODE_AES_256_XTS: u8 = 1;
/// `FSCRYPT_MODE_AES_256_CTS`.
pub const MODE_AES_256_CTS: u8 = 4;
/// `FSCRYPT_POLICY_FLAGS_PAD_32`.
pub const FLAGS_PAD_32: u8 = 0x03;

const KEY_SPEC_TYPE_IDENTIFIER: u32 = 2;

/// `FSCRYPT_KEY_REMOVAL_STATUS_FLAG_FILES_BUSY`.
pub const REMOVAL_FLAG_FILES_BUSY: u32 = 0x1;
/// `FSCRYPT_KEY_REMOVAL_STATUS_FLAG_OTHER_USERS`.
pub const REMOVAL_FLAG_OTHER_USERS: u32 = 0x2;

#[repr(C)]
#[derive(Clone, Copy)]
struct KeySpecifier {
    kind: u32,
    reserved: u32,
    u: [u8; 32],
}

#[repr(C)]
struct AddKeyArg {
    key_spec: KeySpecifier,
    raw_size: u32,
    key_id: u32,
    reserved: [u32; 8],
    raw: [u8; RAW_KEY_SIZE],
}

#[repr(C)]
struct RemoveKeyArg {
    key_spec: KeySpecifier,
    removal_status_flags: u32,
    reserved: [u32; 5],
}

#[repr(C)]
struct KeyStatusArg {
    key_spec: KeySpecifier,
    reserved: [u32; 6],
    status: u32,
    status_flags: u32,
    user_count: u32,
    out_reserved: [u32; 13],
}

/// `struct fscrypt_policy_v2`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PolicyV2 {
    /// Always 2 (`FSCRYPT_POLICY_V2`).
    pub version: u8,
    /// Contents mode.
    pub contents_mode: u8,
    /// File names mode.
    pub filenames_mode: u8,
    /// Flags (padding).
    pub flags: u8,
    /// log2 of the data unit size; 0 = filesystem block size.
    pub log2_data_unit_size: u8,
    reserved: [u8; 3],
    /// The key identifier (HKDF of the master key; not secret).
    pub master_key_identifier: [u8; KEY_IDENTIFIER_SIZE],
}

impl PolicyV2 {
    /// The policy Ferrogate applies: AES-256-XTS contents, AES-256-CTS names,
    /// 32-byte name padding.
    pub fn ferrogate(identifier: [u8; KEY_IDENTIFIER_SIZE]) -> Self {
        PolicyV2 {
            version: FSCRYPT_POLICY_V2,
            contents_mode: MODE_AES_256_XTS,
            filenames_mode: MODE_AES_256_CTS,
            flags: FLAGS_PAD_32,
            log2_data_unit_size: 0,
            reserved: [0; 3],
            master_key_identifier: identifier,
        }
    }
}

#[repr(C)]
struct GetPolicyExArg {
    policy_size: u64,
    policy: PolicyV2,
}

const fn ioc(dir: u32, nr: u32, size: usize) -> u64 {
    ((dir as u64) << 30) | ((size as u64) << 16) | ((b'f' as u64) << 8) | nr as u64
}
const IOC_READ: u32 = 2;
const IOC_RW: u32 = 3;

/// `FS_IOC_SET_ENCRYPTION_POLICY` (declared with the 12-byte v1 struct size).
pub const FS_IOC_SET_ENCRYPTION_POLICY: u64 = ioc(IOC_READ, 19, 12);
/// `FS_IOC_GET_ENCRYPTION_POLICY_EX`.
pub const FS_IOC_GET_ENCRYPTION_POLICY_EX: u64 = ioc(IOC_RW, 22, 9);
/// `FS_IOC_ADD_ENCRYPTION_KEY`.
pub const FS_IOC_ADD_ENCRYPTION_KEY: u64 = ioc(IOC_RW, 23, 80);
/// `FS_IOC_REMOVE_ENCRYPTION_KEY`.
pub const FS_IOC_REMOVE_ENCRYPTION_KEY: u64 = ioc(IOC_RW, 24, 64);
/// `FS_IOC_REMOVE_ENCRYPTION_KEY_ALL_USERS`.
pub const FS_IOC_REMOVE_ENCRYPTION_KEY_ALL_USERS: u64 = ioc(IOC_RW, 25, 64);
/// `FS_IOC_GET_ENCRYPTION_KEY_STATUS`.
pub const FS_IOC_GET_ENCRYPTION_KEY_STATUS: u64 = ioc(IOC_RW, 26, 128);

fn spec(identifier: &[u8; KEY_IDENTIFIER_SIZE]) -> KeySpecifier {
    let mut u = [0u8; 32];
    u[..KEY_IDENTIFIER_SIZE].copy_from_slice(identifier);
    KeySpecifier {
        kind: KEY_SPEC_TYPE_IDENTIFIER,
        reserved: 0,
        u,
    }
}

/// `FS_IOC_ADD_ENCRYPTION_KEY` with a raw 64-byte key on the filesystem that
/// contains `fd`. Returns the key identifier. The kernel copy of the argument
/// is the only other copy; ours is zeroized before returning.
pub fn add_key(
    fd: BorrowedFd<'_>,
    key: &[u8; RAW_KEY_SIZE],
) -> io::Result<[u8; KEY_IDENTIFIER_SIZE]> {
    let mut arg = Box::new(AddKeyArg {
        key_spec: KeySpecifier {
            kind: KEY_SPEC_TYPE_IDENTIFIER,
            reserved: 0,
            u: [0; 32],
        },
        raw_size: 64,
        key_id: 0,
        reserved: [0; 8],
        raw: [0; RAW_KEY_SIZE],
    });
    arg.raw.copy_from_slice(key);
    // SAFETY: `arg` is a properly laid out `fscrypt_add_key_arg` with `raw_size`
    // bytes of key following the header, matching the ioctl's declared size.
    let r = unsafe {
        libc::ioctl(
            fd.as_raw_fd(),
            FS_IOC_ADD_ENCRYPTION_KEY as libc::Ioctl,
            &mut *arg as *mut AddKeyArg,
        )
    };
    arg.raw.zeroize();
    cvt(r)?;
    let mut id = [0u8; KEY_IDENTIFIER_SIZE];
    id.copy_from_slice(&arg.key_spec.u[..KEY_IDENTIFIER_SIZE]);
    Ok(id)
}

/// `FS_IOC_SET_ENCRYPTION_POLICY` on an empty directory.
pub fn set_policy(dir: BorrowedFd<'_>, policy: &PolicyV2) -> io::Result<()> {
    // SAFETY: `policy` is a valid `fscrypt_policy_v2`; the kernel reads the
    // version byte and then the v2 struct.
    cvt(unsafe {
        libc::ioctl(
            dir.as_raw_fd(),
            FS_IOC_SET_ENCRYPTION_POLICY as libc::Ioctl,
            policy as *const PolicyV2,
        )
    })
    .map(drop)
}

/// `FS_IOC_GET_ENCRYPTION_POLICY_EX`. `Ok(None)` if the directory has no
/// policy.
pub fn get_policy(dir: BorrowedFd<'_>) -> io::Result<Option<PolicyV2>> {
    let mut arg = GetPolicyExArg {
        policy_size: std::mem::size_of::<PolicyV2>() as u64,
        policy: PolicyV2::ferrogate([0; KEY_IDENTIFIER_SIZE]),
    };
    // SAFETY: `arg` is a valid `fscrypt_get_policy_ex_arg` with room for a v2 policy.
    let r = unsafe {
        libc::ioctl(
            dir.as_raw_fd(),
            FS_IOC_GET_ENCRYPTION_POLICY_EX as libc::Ioctl,
            &mut arg as *mut GetPolicyExArg,
        )
    };
    match cvt(r) {
        Ok(_) => Ok(Some(arg.policy)),
        // ENODATA: no policy; EOPNOTSUPP: filesystem without encryption.
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENODATA | libc::EOPNOTSUPP)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// `FS_IOC_REMOVE_ENCRYPTION_KEY`. Returns the removal status flags
/// ([`REMOVAL_FLAG_FILES_BUSY`], [`REMOVAL_FLAG_OTHER_USERS`]).
pub fn remove_key(fd: BorrowedFd<'_>, identifier: &[u8; KEY_IDENTIFIER_SIZE]) -> io::Result<u32> {
    let mut arg = RemoveKeyArg {
        key_spec: spec(identifier),
        removal_status_flags: 0,
        reserved: [0; 5],
    };
    // SAFETY: `arg` is a valid `fscrypt_remove_key_arg`.
    cvt(unsafe {
        libc::ioctl(
            fd.as_raw_fd(),
            FS_IOC_REMOVE_ENCRYPTION_KEY as libc::Ioctl,
            &mut arg as *mut RemoveKeyArg,
        )
    })?;
    Ok(arg.removal_status_flags)
}

/// Key status as reported by `FS_IOC_GET_ENCRYPTION_KEY_STATUS`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyStatus {
    /// Not present.
    Absent,
    /// Present and usable.
    Present,
    /// Removed, but some files were still in use.
    IncompletelyRemoved,
    /// A value this code does not know.
    Other(u32),
}

/// `FS_IOC_GET_ENCRYPTION_KEY_STATUS`.
pub fn key_status(
    fd: BorrowedFd<'_>,
    identifier: &[u8; KEY_IDENTIFIER_SIZE],
) -> io::Result<KeyStatus> {
    let mut arg = KeyStatusArg {
        key_spec: spec(identifier),
        reserved: [0; 6],
        status: 0,
        status_flags: 0,
        user_count: 0,
        out_reserved: [0; 13],
    };
    // SAFETY: `arg` is a valid `fscrypt_get_key_status_arg`.
    cvt(unsafe {
        libc::ioctl(
            fd.as_raw_fd(),
            FS_IOC_GET_ENCRYPTION_KEY_STATUS as libc::Ioctl,
            &mut arg as *mut KeyStatusArg,
        )
    })?;
    Ok(match arg.status {
        1 => KeyStatus::Absent,
        2 => KeyStatus::Present,
        3 => KeyStatus::IncompletelyRemoved,
        n => KeyStatus::Other(n),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values printed by a C program including `<linux/fscrypt.h>` on the
    /// development host (see docs/runtime.md).
    #[test]
    fn ioctl_numbers_and_sizes_match_kernel_headers() {
        assert_eq!(FS_IOC_SET_ENCRYPTION_POLICY, 0x800c_6613);
        assert_eq!(FS_IOC_ADD_ENCRYPTION_KEY, 0xc050_6617);
        assert_eq!(FS_IOC_REMOVE_ENCRYPTION_KEY, 0xc040_6618);
        assert_eq!(FS_IOC_GET_ENCRYPTION_KEY_STATUS, 0xc080_661a);
        assert_eq!(FS_IOC_GET_ENCRYPTION_POLICY_EX, 0xc009_6616);
        assert_eq!(std::mem::size_of::<AddKeyArg>(), 80 + RAW_KEY_SIZE);
        assert_eq!(std::mem::size_of::<RemoveKeyArg>(), 64);
        assert_eq!(std::mem::size_of::<KeyStatusArg>(), 128);
        assert_eq!(std::mem::size_of::<PolicyV2>(), 24);
        assert_eq!(std::mem::size_of::<GetPolicyExArg>(), 32);
    }

    /// DO NOT CHANGE: the documented policy.
    #[test]
    fn policy_is_aes256_xts_cts_pad32() {
        let p = PolicyV2::ferrogate([7; 16]);
        assert_eq!(
            (p.version, p.contents_mode, p.filenames_mode, p.flags),
            (2, 1, 4, 3)
        );
    }
}
