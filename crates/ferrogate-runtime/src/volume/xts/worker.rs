//! One worker of an XTS volume server: reads requests from its `/dev/fuse`
//! descriptor and answers them (see [`super::server`] for the design).

use std::fs::File;
use std::io::{self, IoSlice, Read, Write};
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc};

use super::disk::SECTOR;
use super::proto::{self, init_flags, Attr, Reply, Request};
use super::server::{Shared, HEAD};
use crate::sys;
use crate::sys::mem::SecretPages;

/// Attribute and entry cache lifetime given to the kernel.
const TTL_SECS: u64 = 3600;

pub(super) struct Worker {
    pub(super) dev: File,
    pub(super) buf: SecretPages,
    pub(super) slot: usize,
    pub(super) shared: Arc<Shared>,
    pub(super) exited: mpsc::Sender<usize>,
}

/// Where a message is read into: the data of a WRITE then starts at `HEAD`.
const RECV_AT: usize = HEAD - proto::IN_HEADER_LEN - proto::WRITE_IN_LEN;

/// Tests only: workers read `FSYNC` requests and never answer them, as a
/// worker killed mid-request would not (`tests::kill_9_with_a_request_in_flight`).
#[cfg(test)]
pub(super) static STALL_SYNC: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);
/// Tests only: set once a worker has read an `FSYNC` it will not answer.
#[cfg(test)]
pub(super) static SYNC_STALLED: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

impl Worker {
    /// Serves until the connection ends. First moves to a descriptor table of
    /// its own holding only its `/dev/fuse` descriptor and the backing file
    /// (`sys::fuse::private_fd_table` says why) and reports that on `ready`:
    /// the starter then closes its copy of the descriptor. A worker that
    /// cannot do so serves nothing.
    pub(super) fn run(mut self, ready: mpsc::Sender<io::Result<()>>) {
        let own =
            sys::fuse::private_fd_table(&[self.dev.as_raw_fd(), self.shared.disk.backing_fd()]);
        let failed = own.is_err();
        let _ = ready.send(own);
        if failed {
            let _ = self.exited.send(self.slot);
            return;
        }
        if sys::fuse::set_io_flusher().is_ok() {
            self.shared
                .stats
                .io_flushers
                .fetch_add(1, Ordering::Relaxed);
        }
        while !self.shared.stop.load(Ordering::Relaxed) {
            let n = match (&self.dev).read(&mut self.buf.as_mut_slice()[RECV_AT..]) {
                Ok(n) => n,
                Err(e) => match e.raw_os_error() {
                    // Interrupted, or a request that was answered (aborted)
                    // before we got it.
                    Some(libc::EINTR | libc::ENOENT | libc::EAGAIN) => continue,
                    // ENODEV: unmounted or aborted. Anything else is a bug
                    // in the buffer sizing; either way this worker is done.
                    Some(libc::ENODEV) => break,
                    _ => {
                        tracing::warn!(error = %e, "XTS volume server: reading /dev/fuse failed");
                        break;
                    }
                },
            };
            if !self.dispatch(n) {
                break;
            }
        }
        let _ = self.exited.send(self.slot);
    }

    /// Sends a reply; false once the connection is gone.
    fn send(&self, bytes: &[u8]) -> bool {
        // ENOENT: the request was interrupted meanwhile; nobody waits.
        let r = (&self.dev).write(bytes);
        !matches!(r, Err(e) if e.raw_os_error() == Some(libc::ENODEV))
    }

    fn send_data(&self, unique: u64, data: &[u8]) -> bool {
        let hdr = proto::data_header(unique, data.len());
        let r = (&self.dev).write_vectored(&[IoSlice::new(&hdr), IoSlice::new(data)]);
        !matches!(r, Err(e) if e.raw_os_error() == Some(libc::ENODEV))
    }

    fn fail(&self, unique: u64, e: &io::Error) -> bool {
        self.shared.stats.io_errors.fetch_add(1, Ordering::Relaxed);
        self.send(Reply::error(unique, e.raw_os_error().unwrap_or(libc::EIO)).bytes())
    }

    fn attr(&self, ino: u64) -> Option<Attr> {
        let time = self.shared.started;
        match ino {
            proto::ROOT_INO => Some(Attr {
                ino,
                size: 0,
                mode: 0o040_700,
                nlink: 2,
                time,
            }),
            proto::DISK_INO => Some(Attr {
                ino,
                size: self.shared.disk.size(),
                mode: 0o100_600,
                nlink: 1,
                time,
            }),
            _ => None,
        }
    }

    /// Handles one message; false when the worker should stop.
    fn dispatch(&mut self, n: usize) -> bool {
        let Some(msg) = self.buf.as_slice().get(RECV_AT..RECV_AT + n) else {
            return true;
        };
        let Some(h) = proto::parse_header(msg) else {
            return true;
        };
        let Some(req) = proto::parse(&h, msg) else {
            return self.send(Reply::error(h.unique, libc::EINVAL).bytes());
        };
        let u = h.unique;
        match req {
            Request::Init {
                major,
                minor,
                max_readahead,
                flags,
            } => self.init(u, major, minor, max_readahead, flags),
            Request::Lookup { parent, name } => {
                let found = parent == proto::ROOT_INO && name == proto::DISK_NAME;
                match self.attr(proto::DISK_INO).filter(|_| found) {
                    Some(a) => {
                        let mut r = Reply::new(u, 0);
                        r.u64(proto::DISK_INO)
                            .u64(1)
                            .u64(TTL_SECS)
                            .u64(TTL_SECS)
                            .u32(0)
                            .u32(0)
                            .attr(&a);
                        self.send(r.bytes())
                    }
                    None => self.send(Reply::error(u, libc::ENOENT).bytes()),
                }
            }
            Request::Getattr { nodeid } => self.reply_attr(u, nodeid),
            Request::Setattr {
                nodeid,
                valid,
                size,
            } => {
                if valid & proto::FATTR_SIZE != 0 && size != self.shared.disk.size() {
                    // A fixed-size device.
                    return self.send(Reply::error(u, libc::EPERM).bytes());
                }
                self.reply_attr(u, nodeid)
            }
            Request::Open { nodeid } => match nodeid {
                proto::DISK_INO => {
                    let mut r = Reply::new(u, 0);
                    r.u64(0)
                        .u32(
                            proto::FOPEN_DIRECT_IO
                                | proto::FOPEN_PARALLEL_DIRECT_WRITES
                                | proto::FOPEN_NOFLUSH,
                        )
                        .u32(0);
                    self.send(r.bytes())
                }
                proto::ROOT_INO => self.send(Reply::error(u, libc::EISDIR).bytes()),
                _ => self.send(Reply::error(u, libc::ENOENT).bytes()),
            },
            Request::Opendir { nodeid } if nodeid == proto::ROOT_INO => {
                let mut r = Reply::new(u, 0);
                r.u64(0).u32(0).u32(0);
                self.send(r.bytes())
            }
            Request::Opendir { .. } => self.send(Reply::error(u, libc::ENOTDIR).bytes()),
            Request::Readdir {
                nodeid,
                offset,
                size,
            } => self.readdir(u, nodeid, offset, size),
            Request::Read {
                nodeid,
                offset,
                size,
            } => self.read(u, nodeid, offset, size),
            Request::Write {
                nodeid,
                offset,
                size,
                data_start,
            } => self.write(u, nodeid, offset, size, data_start),
            Request::Fallocate {
                nodeid,
                offset,
                length,
                mode,
            } => {
                if nodeid != proto::DISK_INO {
                    return self.send(Reply::error(u, libc::EISDIR).bytes());
                }
                let len = self.buf.len();
                let scratch = &mut self.buf.as_mut_slice()[len - SECTOR..];
                let key = &self.shared.keys[self.slot];
                match self
                    .shared
                    .disk
                    .fallocate(key, offset, length, mode, scratch)
                {
                    Ok(()) => self.send(Reply::new(u, 0).bytes()),
                    Err(e) => self.fail(u, &e),
                }
            }
            #[cfg(test)]
            Request::Sync if STALL_SYNC.load(Ordering::SeqCst) => {
                SYNC_STALLED.store(true, Ordering::SeqCst);
                true
            }
            Request::Sync => {
                self.shared.stats.syncs.fetch_add(1, Ordering::Relaxed);
                match self.shared.disk.sync() {
                    Ok(()) => self.send(Reply::new(u, 0).bytes()),
                    Err(e) => self.fail(u, &e),
                }
            }
            Request::Statfs => {
                let mut r = Reply::new(u, 0);
                let blocks = self.shared.disk.size() / SECTOR as u64;
                r.u64(blocks).u64(0).u64(0).u64(2).u64(0);
                r.u32(4096).u32(255).u32(4096).u32(0).put(&[0u8; 24]);
                self.send(r.bytes())
            }
            Request::Ok => self.send(Reply::new(u, 0).bytes()),
            Request::NoReply => true,
            Request::Destroy => {
                self.shared.stop.store(true, Ordering::SeqCst);
                self.send(Reply::new(u, 0).bytes());
                false
            }
            Request::Refused => self.send(Reply::error(u, libc::EPERM).bytes()),
            Request::Unsupported => {
                tracing::trace!(
                    opcode = h.opcode,
                    "XTS volume server: unsupported FUSE opcode"
                );
                self.send(Reply::error(u, libc::ENOSYS).bytes())
            }
        }
    }

    fn init(&self, u: u64, major: u32, minor: u32, max_readahead: u32, flags: u32) -> bool {
        if major != proto::MAJOR || minor < 9 {
            return self.send(Reply::error(u, libc::EPROTO).bytes());
        }
        let want = init_flags::ASYNC_READ
            | init_flags::BIG_WRITES
            | init_flags::ASYNC_DIO
            | init_flags::MAX_PAGES;
        let mw = self.shared.max_write;
        let mut r = Reply::new(u, 0);
        r.u32(proto::MAJOR)
            .u32(minor.min(proto::MAX_MINOR))
            .u32(max_readahead)
            .u32(flags & want)
            // max_background, congestion_threshold: the loop device keeps
            // many asynchronous direct-I/O requests in flight.
            .u16(64)
            .u16(48)
            .u32(mw)
            .u32(1)
            .u16(u16::try_from(mw / 4096).unwrap_or(256))
            .u16(0)
            .u32(0)
            .put(&[0u8; 28]);
        self.send(r.bytes())
    }

    fn reply_attr(&self, u: u64, nodeid: u64) -> bool {
        match self.attr(nodeid) {
            Some(a) => {
                let mut r = Reply::new(u, 0);
                r.u64(TTL_SECS).u32(0).u32(0).attr(&a);
                self.send(r.bytes())
            }
            None => self.send(Reply::error(u, libc::ENOENT).bytes()),
        }
    }

    fn readdir(&self, u: u64, nodeid: u64, offset: u64, size: u32) -> bool {
        if nodeid != proto::ROOT_INO {
            return self.send(Reply::error(u, libc::ENOTDIR).bytes());
        }
        let entries: [(u64, u32, &[u8]); 3] = [
            (proto::ROOT_INO, 4, b"."),
            (proto::ROOT_INO, 4, b".."),
            (proto::DISK_INO, 8, proto::DISK_NAME),
        ];
        let limit = usize::try_from(size).unwrap_or(0).min(4096);
        let mut out = Vec::new();
        for (i, (ino, kind, name)) in (1u64..)
            .zip(entries)
            .skip(usize::try_from(offset).unwrap_or(3))
        {
            if !proto::push_dirent(&mut out, limit, ino, i, kind, name) {
                break;
            }
        }
        self.send_data(u, &out)
    }

    fn read(&mut self, u: u64, nodeid: u64, offset: u64, size: u32) -> bool {
        if nodeid != proto::DISK_INO {
            return self.send(Reply::error(u, libc::EISDIR).bytes());
        }
        let size = size.min(self.shared.max_write);
        let len = self.buf.len();
        let area = &mut self.buf.as_mut_slice()[HEAD..len - SECTOR];
        let key = &self.shared.keys[self.slot];
        match self.shared.disk.read(key, offset, size, area) {
            Ok(range) => {
                let st = &self.shared.stats;
                st.reads.fetch_add(1, Ordering::Relaxed);
                st.bytes_read
                    .fetch_add(range.len() as u64, Ordering::Relaxed);
                let data = &self.buf.as_slice()[HEAD..][range];
                self.send_data(u, data)
            }
            Err(e) => self.fail(u, &e),
        }
    }

    fn write(&mut self, u: u64, nodeid: u64, offset: u64, size: u32, data_start: usize) -> bool {
        if nodeid != proto::DISK_INO {
            return self.send(Reply::error(u, libc::EISDIR).bytes());
        }
        let n = usize::try_from(size).unwrap_or(usize::MAX);
        let len = self.buf.len();
        let buf = self.buf.as_mut_slice();
        let at = RECV_AT + data_start;
        if at != HEAD {
            // Extension headers moved the data: bring it to the aligned spot.
            if at.checked_add(n).is_none_or(|e| e > len - SECTOR) {
                return self.send(Reply::error(u, libc::EINVAL).bytes());
            }
            buf.copy_within(at..at + n, HEAD);
        }
        let (front, scratch) = buf.split_at_mut(len - SECTOR);
        let Some(data) = front.get_mut(HEAD..HEAD + n) else {
            return self.send(Reply::error(u, libc::EINVAL).bytes());
        };
        let key = &self.shared.keys[self.slot];
        match self.shared.disk.write(key, offset, data, scratch) {
            Ok(()) => {
                let st = &self.shared.stats;
                st.writes.fetch_add(1, Ordering::Relaxed);
                st.bytes_written
                    .fetch_add(u64::from(size), Ordering::Relaxed);
                let mut r = Reply::new(u, 0);
                r.u32(size).u32(0);
                self.send(r.bytes())
            }
            Err(e) => self.fail(u, &e),
        }
    }
}
