//! The part of the FUSE wire protocol (linux/fuse.h, 7.x) a one-file
//! filesystem needs: decoding requests from `/dev/fuse` and encoding replies.
//! Pure byte handling, no I/O; every length is checked, nothing panics on a
//! malformed message.
//!
//! The filesystem has two inodes: the root directory (1) and the disk file
//! ([`DISK_INO`]) named [`DISK_NAME`].

/// `struct fuse_in_header`.
pub const IN_HEADER_LEN: usize = 40;
/// `struct fuse_out_header`.
pub const OUT_HEADER_LEN: usize = 16;
/// `struct fuse_write_in`: a WRITE's data starts this far after the header.
pub const WRITE_IN_LEN: usize = 40;

/// The root directory's inode.
pub const ROOT_INO: u64 = 1;
/// The disk file's inode.
pub const DISK_INO: u64 = 2;
/// The disk file's name.
pub const DISK_NAME: &[u8] = b"disk";

/// Protocol version we speak: 7.38 (what linux/fuse.h of Linux 6.1+ defines).
pub const MAJOR: u32 = 7;
/// Highest minor version we answer with.
pub const MAX_MINOR: u32 = 38;

/// INIT flags (linux/fuse.h).
pub mod init_flags {
    /// Reads may be sent in parallel.
    pub const ASYNC_READ: u32 = 1 << 0;
    /// Writes larger than a page.
    pub const BIG_WRITES: u32 = 1 << 5;
    /// Direct I/O may be split into parallel, asynchronous requests.
    pub const ASYNC_DIO: u32 = 1 << 15;
    /// `max_pages` in the INIT reply is honoured.
    pub const MAX_PAGES: u32 = 1 << 22;
}

/// `FOPEN_DIRECT_IO`: no page cache for the file.
pub const FOPEN_DIRECT_IO: u32 = 1 << 0;
/// `FOPEN_NOFLUSH`: closing the file sends no FLUSH (Linux 5.16). Durability comes from
/// FSYNC (the loop device's flushes); a FLUSH sent while the agent itself exits would wait
/// for workers that are already gone.
pub const FOPEN_NOFLUSH: u32 = 1 << 5;
/// `FOPEN_PARALLEL_DIRECT_WRITES`: direct writes are not serialised by the inode lock.
pub const FOPEN_PARALLEL_DIRECT_WRITES: u32 = 1 << 6;
/// `FATTR_SIZE` in a SETATTR's `valid`.
pub const FATTR_SIZE: u32 = 1 << 3;

/// Opcodes (enum fuse_opcode).
pub mod op {
    #![allow(missing_docs)]
    pub const LOOKUP: u32 = 1;
    pub const FORGET: u32 = 2;
    pub const GETATTR: u32 = 3;
    pub const SETATTR: u32 = 4;
    pub const SYMLINK: u32 = 6;
    pub const MKNOD: u32 = 8;
    pub const MKDIR: u32 = 9;
    pub const UNLINK: u32 = 10;
    pub const RMDIR: u32 = 11;
    pub const RENAME: u32 = 12;
    pub const LINK: u32 = 13;
    pub const OPEN: u32 = 14;
    pub const READ: u32 = 15;
    pub const WRITE: u32 = 16;
    pub const STATFS: u32 = 17;
    pub const RELEASE: u32 = 18;
    pub const FSYNC: u32 = 20;
    pub const FLUSH: u32 = 25;
    pub const INIT: u32 = 26;
    pub const OPENDIR: u32 = 27;
    pub const READDIR: u32 = 28;
    pub const RELEASEDIR: u32 = 29;
    pub const FSYNCDIR: u32 = 30;
    pub const ACCESS: u32 = 34;
    pub const CREATE: u32 = 35;
    pub const INTERRUPT: u32 = 36;
    pub const DESTROY: u32 = 38;
    pub const BATCH_FORGET: u32 = 42;
    pub const FALLOCATE: u32 = 43;
    pub const RENAME2: u32 = 45;
    pub const TMPFILE: u32 = 51;
}

fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(off..off + 2)?.try_into().ok()?))
}
fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(off..off + 4)?.try_into().ok()?))
}
fn u64_at(b: &[u8], off: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(off..off + 8)?.try_into().ok()?))
}

/// `struct fuse_in_header`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InHeader {
    /// Length of the whole message.
    pub len: u32,
    /// Opcode.
    pub opcode: u32,
    /// Request id, echoed in the reply.
    pub unique: u64,
    /// Inode the request is about.
    pub nodeid: u64,
    /// Length of extension headers after the op's struct, in 8-byte units.
    pub total_extlen: u16,
}

/// A decoded request. Offsets are into the message as read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request<'a> {
    /// INIT: the kernel's protocol version and capabilities.
    Init {
        /// Kernel major version.
        major: u32,
        /// Kernel minor version.
        minor: u32,
        /// Kernel's readahead limit.
        max_readahead: u32,
        /// Kernel's capability flags.
        flags: u32,
    },
    /// LOOKUP of `name` in `parent`.
    Lookup {
        /// Parent inode.
        parent: u64,
        /// Name, without the trailing NUL.
        name: &'a [u8],
    },
    /// GETATTR.
    Getattr {
        /// Inode.
        nodeid: u64,
    },
    /// SETATTR.
    Setattr {
        /// Inode.
        nodeid: u64,
        /// `FATTR_*` bits.
        valid: u32,
        /// New size if `valid & FATTR_SIZE`.
        size: u64,
    },
    /// OPEN.
    Open {
        /// Inode.
        nodeid: u64,
    },
    /// OPENDIR.
    Opendir {
        /// Inode.
        nodeid: u64,
    },
    /// READ (`size` bytes at `offset`).
    Read {
        /// Inode.
        nodeid: u64,
        /// Offset in the file.
        offset: u64,
        /// Bytes wanted.
        size: u32,
    },
    /// READDIR.
    Readdir {
        /// Inode.
        nodeid: u64,
        /// Directory offset (entries already returned).
        offset: u64,
        /// Reply buffer size.
        size: u32,
    },
    /// WRITE of `size` bytes at `offset`; the data is at `data_start` in the message.
    Write {
        /// Inode.
        nodeid: u64,
        /// Offset in the file.
        offset: u64,
        /// Bytes.
        size: u32,
        /// Where the data begins in the message.
        data_start: usize,
    },
    /// FALLOCATE.
    Fallocate {
        /// Inode.
        nodeid: u64,
        /// Offset.
        offset: u64,
        /// Length.
        length: u64,
        /// `FALLOC_FL_*`.
        mode: u32,
    },
    /// FSYNC, FLUSH or FSYNCDIR: make what was written durable.
    Sync,
    /// STATFS.
    Statfs,
    /// RELEASE, RELEASEDIR, ACCESS: nothing to do but say yes.
    Ok,
    /// FORGET, BATCH_FORGET, INTERRUPT: no reply at all.
    NoReply,
    /// DESTROY: the connection is going away.
    Destroy,
    /// Anything that would create, rename or remove names: refused (`EPERM`).
    Refused,
    /// Anything else: `ENOSYS`, which the kernel remembers per opcode.
    Unsupported,
}

/// Decodes the header of a message.
pub fn parse_header(msg: &[u8]) -> Option<InHeader> {
    Some(InHeader {
        len: u32_at(msg, 0)?,
        opcode: u32_at(msg, 4)?,
        unique: u64_at(msg, 8)?,
        nodeid: u64_at(msg, 16)?,
        total_extlen: u16_at(msg, 36)?,
    })
}

/// Decodes a whole message (`msg` is exactly what one read returned).
/// `None` means malformed: the caller answers `EINVAL` (or `EIO`).
pub fn parse<'a>(h: &InHeader, msg: &'a [u8]) -> Option<Request<'a>> {
    if usize::try_from(h.len).ok()? != msg.len() {
        return None;
    }
    let b = msg.get(IN_HEADER_LEN..)?;
    let n = h.nodeid;
    Some(match h.opcode {
        op::INIT => Request::Init {
            major: u32_at(b, 0)?,
            minor: u32_at(b, 4)?,
            max_readahead: u32_at(b, 8)?,
            flags: u32_at(b, 12)?,
        },
        op::LOOKUP => {
            let end = b.iter().position(|&c| c == 0)?;
            Request::Lookup {
                parent: n,
                name: b.get(..end)?,
            }
        }
        op::GETATTR => Request::Getattr { nodeid: n },
        op::SETATTR => Request::Setattr {
            nodeid: n,
            valid: u32_at(b, 0)?,
            size: u64_at(b, 16)?,
        },
        op::OPEN => Request::Open { nodeid: n },
        op::OPENDIR => Request::Opendir { nodeid: n },
        op::READ => Request::Read {
            nodeid: n,
            offset: u64_at(b, 8)?,
            size: u32_at(b, 16)?,
        },
        op::READDIR => Request::Readdir {
            nodeid: n,
            offset: u64_at(b, 8)?,
            size: u32_at(b, 16)?,
        },
        op::WRITE => {
            let size = u32_at(b, 16)?;
            let data_start =
                IN_HEADER_LEN + WRITE_IN_LEN + usize::from(h.total_extlen).checked_mul(8)?;
            if data_start.checked_add(usize::try_from(size).ok()?)? != msg.len() {
                return None;
            }
            Request::Write {
                nodeid: n,
                offset: u64_at(b, 8)?,
                size,
                data_start,
            }
        }
        op::FALLOCATE => Request::Fallocate {
            nodeid: n,
            offset: u64_at(b, 8)?,
            length: u64_at(b, 16)?,
            mode: u32_at(b, 24)?,
        },
        op::FSYNC | op::FLUSH | op::FSYNCDIR => Request::Sync,
        op::STATFS => Request::Statfs,
        op::RELEASE | op::RELEASEDIR | op::ACCESS => Request::Ok,
        op::FORGET | op::BATCH_FORGET | op::INTERRUPT => Request::NoReply,
        op::DESTROY => Request::Destroy,
        op::SYMLINK
        | op::MKNOD
        | op::MKDIR
        | op::UNLINK
        | op::RMDIR
        | op::RENAME
        | op::RENAME2
        | op::LINK
        | op::CREATE
        | op::TMPFILE => Request::Refused,
        _ => Request::Unsupported,
    })
}

/// A reply being built: header plus a small payload, on the stack.
pub struct Reply {
    buf: [u8; 256],
    len: usize,
}

impl Reply {
    /// A reply to `unique` with `error` (0 or a negative errno) and no payload yet.
    pub fn new(unique: u64, error: i32) -> Reply {
        let mut r = Reply {
            buf: [0; 256],
            len: OUT_HEADER_LEN,
        };
        r.buf[4..8].copy_from_slice(&error.to_le_bytes());
        r.buf[8..16].copy_from_slice(&unique.to_le_bytes());
        r.set_len(0);
        r
    }

    /// An error reply (`errno` positive, sent negated).
    pub fn error(unique: u64, errno: i32) -> Reply {
        Reply::new(unique, -errno.abs())
    }

    fn set_len(&mut self, extra: usize) {
        let total = u32::try_from(self.len + extra).unwrap_or(u32::MAX);
        self.buf[0..4].copy_from_slice(&total.to_le_bytes());
    }

    /// Appends raw bytes (silently truncated past 256 bytes: no reply here is that long).
    pub fn put(&mut self, bytes: &[u8]) -> &mut Reply {
        let end = (self.len + bytes.len()).min(self.buf.len());
        let n = end - self.len;
        self.buf[self.len..end].copy_from_slice(&bytes[..n]);
        self.len = end;
        self.set_len(0);
        self
    }

    /// Appends a little-endian u16.
    pub fn u16(&mut self, v: u16) -> &mut Reply {
        self.put(&v.to_le_bytes())
    }
    /// Appends a little-endian u32.
    pub fn u32(&mut self, v: u32) -> &mut Reply {
        self.put(&v.to_le_bytes())
    }
    /// Appends a little-endian u64.
    pub fn u64(&mut self, v: u64) -> &mut Reply {
        self.put(&v.to_le_bytes())
    }

    /// The reply as sent.
    pub fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Appends `struct fuse_attr` (88 bytes).
    pub fn attr(&mut self, a: &Attr) -> &mut Reply {
        self.u64(a.ino)
            .u64(a.size)
            .u64(a.size.div_ceil(512))
            .u64(a.time)
            .u64(a.time)
            .u64(a.time)
            .u32(0)
            .u32(0)
            .u32(0)
            .u32(a.mode)
            .u32(a.nlink)
            .u32(0)
            .u32(0)
            .u32(0)
            .u32(4096)
            .u32(0)
    }
}

/// The attributes of one of the two inodes. Owner is root (uid and gid 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attr {
    /// Inode.
    pub ino: u64,
    /// Size in bytes.
    pub size: u64,
    /// `st_mode`.
    pub mode: u32,
    /// Link count.
    pub nlink: u32,
    /// atime = mtime = ctime (seconds since the epoch).
    pub time: u64,
}

/// Header for a reply whose payload (`payload_len` bytes) is sent separately
/// (READ data, with `writev`).
pub fn data_header(unique: u64, payload_len: usize) -> [u8; OUT_HEADER_LEN] {
    let mut h = [0u8; OUT_HEADER_LEN];
    let total = u32::try_from(OUT_HEADER_LEN + payload_len).unwrap_or(u32::MAX);
    h[0..4].copy_from_slice(&total.to_le_bytes());
    h[8..16].copy_from_slice(&unique.to_le_bytes());
    h
}

/// One `struct fuse_dirent` (name padded to 8 bytes) appended to `out` if it
/// fits in `limit`; false if it did not.
pub fn push_dirent(
    out: &mut Vec<u8>,
    limit: usize,
    ino: u64,
    off: u64,
    kind: u32,
    name: &[u8],
) -> bool {
    let unpadded = 24 + name.len();
    let len = unpadded.div_ceil(8) * 8;
    if out.len() + len > limit {
        return false;
    }
    out.extend_from_slice(&ino.to_le_bytes());
    out.extend_from_slice(&off.to_le_bytes());
    out.extend_from_slice(&u32::try_from(name.len()).unwrap_or(0).to_le_bytes());
    out.extend_from_slice(&kind.to_le_bytes());
    out.extend_from_slice(name);
    out.resize(out.len() + (len - unpadded), 0);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(opcode: u32, nodeid: u64, body: &[u8]) -> Vec<u8> {
        let mut m = Vec::new();
        let len = u32::try_from(IN_HEADER_LEN + body.len()).unwrap();
        m.extend_from_slice(&len.to_le_bytes());
        m.extend_from_slice(&opcode.to_le_bytes());
        m.extend_from_slice(&77u64.to_le_bytes());
        m.extend_from_slice(&nodeid.to_le_bytes());
        m.extend_from_slice(&[0u8; 16]);
        m.extend_from_slice(body);
        m
    }

    fn decode(m: &[u8]) -> Option<Request<'_>> {
        let h = parse_header(m)?;
        parse(&h, m)
    }

    #[test]
    fn write_data_offset_and_length_are_checked() {
        let mut body = vec![0u8; WRITE_IN_LEN];
        body[8..16].copy_from_slice(&8192u64.to_le_bytes());
        body[16..20].copy_from_slice(&4096u32.to_le_bytes());
        let mut m = msg(op::WRITE, DISK_INO, &body);
        m.extend_from_slice(&[0xAB; 4096]);
        let len = u32::try_from(m.len()).unwrap();
        m[0..4].copy_from_slice(&len.to_le_bytes());
        assert_eq!(
            decode(&m),
            Some(Request::Write {
                nodeid: DISK_INO,
                offset: 8192,
                size: 4096,
                data_start: 80
            })
        );
        // A message shorter than it claims, or data shorter than `size`: refused.
        assert_eq!(decode(&m[..m.len() - 1]), None);
        let mut short = m.clone();
        short.truncate(m.len() - 10);
        let len = u32::try_from(short.len()).unwrap();
        short[0..4].copy_from_slice(&len.to_le_bytes());
        assert_eq!(decode(&short), None);
    }

    #[test]
    fn lookup_needs_a_nul_and_truncated_bodies_are_malformed() {
        assert_eq!(
            decode(&msg(op::LOOKUP, ROOT_INO, b"disk\0")),
            Some(Request::Lookup {
                parent: ROOT_INO,
                name: b"disk"
            })
        );
        assert_eq!(decode(&msg(op::LOOKUP, ROOT_INO, b"disk")), None);
        assert_eq!(decode(&msg(op::READ, DISK_INO, &[0; 8])), None);
        assert_eq!(decode(&msg(op::INIT, 0, &[0; 4])), None);
        assert_eq!(decode(&[1, 2, 3]), None);
    }

    #[test]
    fn namespace_changes_are_refused_and_unknown_ops_unsupported() {
        for o in [op::MKDIR, op::CREATE, op::UNLINK, op::RENAME2, op::SYMLINK] {
            assert_eq!(decode(&msg(o, ROOT_INO, b"x\0")), Some(Request::Refused));
        }
        assert_eq!(decode(&msg(99, ROOT_INO, b"")), Some(Request::Unsupported));
        assert_eq!(
            decode(&msg(op::FSYNC, DISK_INO, &[0; 16])),
            Some(Request::Sync)
        );
        assert_eq!(
            decode(&msg(op::FLUSH, DISK_INO, &[0; 24])),
            Some(Request::Sync)
        );
    }

    #[test]
    fn replies_carry_length_error_and_unique() {
        let r = Reply::error(0x1122, libc::ENOENT);
        assert_eq!(r.bytes().len(), OUT_HEADER_LEN);
        assert_eq!(u32_at(r.bytes(), 0), Some(16));
        assert_eq!(r.bytes()[4..8], (-libc::ENOENT).to_le_bytes());
        assert_eq!(u64_at(r.bytes(), 8), Some(0x1122));
        let mut r = Reply::new(5, 0);
        r.u64(1).u32(2).u32(0);
        assert_eq!(u32_at(r.bytes(), 0), Some(32));
        let mut a = Reply::new(5, 0);
        a.attr(&Attr {
            ino: DISK_INO,
            size: 20 << 30,
            mode: 0o100_600,
            nlink: 1,
            time: 1,
        });
        assert_eq!(a.bytes().len(), OUT_HEADER_LEN + 88);
        assert_eq!(data_header(9, 4096)[0..4], 4112u32.to_le_bytes());
    }

    #[test]
    fn dirents_are_padded_and_bounded() {
        let mut out = Vec::new();
        assert!(push_dirent(&mut out, 4096, 1, 1, 4, b"."));
        assert_eq!(out.len(), 32);
        assert!(push_dirent(&mut out, 4096, 2, 2, 8, b"disk"));
        assert_eq!(out.len(), 64);
        assert!(!push_dirent(&mut out, 70, 2, 3, 8, b"disk"));
        assert_eq!(out.len(), 64);
    }
}
