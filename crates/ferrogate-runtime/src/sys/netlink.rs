//! Netlink sockets: open one (in this thread's network namespace or another's), send a
//! batch of requests and collect each one's acknowledgement, run a dump.
//!
//! A socket belongs to the network namespace it was created in for its whole life, so
//! a socket for a task's namespace is made on a short-lived thread that enters the
//! namespace first: no thread of the agent ever changes namespace for longer.

use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use super::cvt;
use super::rtnl::{self, Msg, NLMSG_DONE, NLMSG_ERROR};

/// The kernel refused request number `index` of a batch.
#[derive(Debug)]
pub struct NlError {
    /// The errno.
    pub errno: i32,
    /// The kernel's extended-ack text, if it gave one.
    pub message: Option<String>,
    /// Which request of the batch (0-based).
    pub index: usize,
}

impl fmt::Display for NlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", io::Error::from_raw_os_error(self.errno))?;
        if let Some(m) = &self.message {
            write!(f, " ({m})")?;
        }
        Ok(())
    }
}

impl std::error::Error for NlError {}

impl From<NlError> for io::Error {
    fn from(e: NlError) -> io::Error {
        io::Error::new(io::Error::from_raw_os_error(e.errno).kind(), e)
    }
}

/// The errno behind an error from this module (kernel refusal or system call).
pub fn errno(e: &io::Error) -> Option<i32> {
    e.raw_os_error().or_else(|| {
        e.get_ref()
            .and_then(|i| i.downcast_ref::<NlError>())
            .map(|n| n.errno)
    })
}

/// A netlink socket.
#[derive(Debug)]
pub struct Netlink {
    fd: OwnedFd,
    seq: u32,
}

const RECV_BUF: usize = 64 * 1024;

/// The size of `T` as a socket-address or option length.
fn socklen<T>() -> libc::socklen_t {
    libc::socklen_t::try_from(std::mem::size_of::<T>()).unwrap_or(libc::socklen_t::MAX)
}

impl Netlink {
    /// A `NETLINK_ROUTE` socket in this thread's network namespace, with extended
    /// acknowledgements (the kernel says why) and capped ones (no echo of the request),
    /// and a 10 s receive timeout.
    pub fn route() -> io::Result<Self> {
        Self::open(libc::NETLINK_ROUTE)
    }

    /// A `NETLINK_NETFILTER` socket (conntrack) in this thread's network namespace.
    pub fn netfilter() -> io::Result<Self> {
        Self::open(libc::NETLINK_NETFILTER)
    }

    fn open(protocol: libc::c_int) -> io::Result<Self> {
        // SAFETY: plain socket creation; the result is checked.
        let fd = cvt(unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                protocol,
            )
        })?;
        // SAFETY: `fd` was just returned by socket() and is owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        for opt in [libc::NETLINK_EXT_ACK, libc::NETLINK_CAP_ACK] {
            let one: libc::c_int = 1;
            // SAFETY: `one` is a valid c_int whose size is passed; the kernel only reads it.
            cvt(unsafe {
                libc::setsockopt(
                    fd.as_raw_fd(),
                    libc::SOL_NETLINK,
                    opt,
                    (&one as *const libc::c_int).cast(),
                    socklen::<libc::c_int>(),
                )
            })?;
        }
        // A kernel that never answers must not hang a task's start forever.
        let tv = libc::timeval {
            tv_sec: 10,
            tv_usec: 0,
        };
        // SAFETY: `tv` is a valid timeval whose size is passed; the kernel only reads it.
        cvt(unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&tv as *const libc::timeval).cast(),
                socklen::<libc::timeval>(),
            )
        })?;
        // Not bound: the kernel binds on the first send, with a port id of its choosing
        // (binding to our pid would collide between threads).
        Ok(Netlink { fd, seq: 0 })
    }

    /// A `NETLINK_ROUTE` socket in the network namespace open as `netns`, created on a
    /// thread that enters the namespace and then ends.
    pub fn route_in(netns: BorrowedFd<'_>) -> io::Result<Self> {
        let ns = netns.try_clone_to_owned()?;
        std::thread::Builder::new()
            .name("netns-socket".into())
            .spawn(move || {
                super::process::setns(std::os::fd::AsFd::as_fd(&ns), libc::CLONE_NEWNET)?;
                Netlink::route()
            })?
            .join()
            .map_err(|_| io::Error::other("the namespace thread panicked"))?
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    fn send(&self, buf: &[u8]) -> io::Result<()> {
        // SAFETY: sockaddr_nl is plain old data; all zeros (port 0, no groups) addresses
        // the kernel.
        let mut sa: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        sa.nl_family = libc::sa_family_t::try_from(libc::AF_NETLINK).unwrap_or(16);
        loop {
            // SAFETY: `buf` is valid for `buf.len()` bytes and `sa` is a valid sockaddr_nl
            // whose size is passed; the kernel only reads both.
            let r = unsafe {
                libc::sendto(
                    self.fd.as_raw_fd(),
                    buf.as_ptr().cast(),
                    buf.len(),
                    0,
                    (&sa as *const libc::sockaddr_nl).cast(),
                    socklen::<libc::sockaddr_nl>(),
                )
            };
            if r >= 0 {
                return Ok(());
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }

    fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            // SAFETY: `buf` is writable for `buf.len()` bytes.
            let r =
                unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if let Ok(n) = usize::try_from(r) {
                return Ok(n);
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }

    /// Sends `msgs` in one datagram (the kernel handles them in order) and waits for
    /// every acknowledgement. Requests after a refused one are still carried out by the
    /// kernel: only batch requests that do not depend on each other's success. The first
    /// refusal is returned, naming its request.
    pub fn transact(&mut self, msgs: Vec<Msg>) -> io::Result<()> {
        if msgs.is_empty() {
            return Ok(());
        }
        let first = self.seq.wrapping_add(1);
        let mut buf = Vec::new();
        for m in msgs.iter().cloned() {
            let seq = self.next_seq();
            buf.extend_from_slice(&m.with_ack().finish(seq));
        }
        self.send(&buf)?;
        let mut pending = msgs.len();
        let mut failure: Option<NlError> = None;
        let mut rb = vec![0u8; RECV_BUF];
        while pending > 0 {
            let n = self.recv(&mut rb)?;
            for m in rtnl::messages(&rb[..n]) {
                if m.kind != NLMSG_ERROR {
                    continue;
                }
                let index = m.seq.wrapping_sub(first) as usize;
                if index >= msgs.len() {
                    continue; // an answer to an earlier, abandoned request
                }
                pending -= 1;
                if let Some((errno, message)) = rtnl::ack(m.payload, m.flags) {
                    if errno != 0 && failure.as_ref().is_none_or(|f| f.index > index) {
                        failure = Some(NlError {
                            errno,
                            message,
                            index,
                        });
                    }
                }
            }
        }
        match failure {
            Some(f) => Err(f.into()),
            None => Ok(()),
        }
    }

    /// Sends one request that answers with data (a get or a dump) and returns the
    /// payloads of the answers of type `kind`.
    pub fn request(&mut self, msg: Msg, kind: u16) -> io::Result<Vec<Vec<u8>>> {
        let seq = self.next_seq();
        self.send(&msg.finish(seq))?;
        let mut out = Vec::new();
        let mut rb = vec![0u8; RECV_BUF];
        loop {
            let n = self.recv(&mut rb)?;
            let mut done = false;
            for m in rtnl::messages(&rb[..n]) {
                if m.seq != seq {
                    continue;
                }
                match m.kind {
                    NLMSG_DONE => done = true,
                    NLMSG_ERROR => match rtnl::ack(m.payload, m.flags) {
                        Some((0, _)) => done = true,
                        Some((errno, message)) => {
                            return Err(NlError {
                                errno,
                                message,
                                index: 0,
                            }
                            .into())
                        }
                        None => done = true,
                    },
                    k if k == kind => {
                        out.push(m.payload.to_vec());
                        // A plain get answers with one message and no DONE.
                        if m.flags & rtnl::NLM_F_MULTI == 0 {
                            done = true;
                        }
                    }
                    _ => {}
                }
            }
            if done {
                return Ok(out);
            }
        }
    }
}
