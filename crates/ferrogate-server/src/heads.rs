//! Request heads with control characters in header values.
//!
//! hyper refuses a request whose header value holds a control character (`Content-Type:
//! \x01…`) while parsing it, and answers `400` with an empty body: the client gets no error
//! in its protocol's shape. [`Heads`] sits between the socket and hyper and turns such
//! bytes in header lines into `0x80` (obs-text, which HTTP allows and which is not text to
//! `HeaderValue::to_str`): hyper then accepts the request, the header is one Ferrogate
//! cannot read, and the request is refused (or served) in its protocol's shape like any
//! other. Nothing else is touched: request lines and bodies pass as they are.
//!
//! It follows HTTP/1.1 message framing to find each request's head on a keep-alive
//! connection: a body is `Content-Length` bytes long; after a chunked body (which AWS SDKs
//! do not send) or a head too large to follow, it stops altering anything.

use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Heads larger than this are not followed (hyper refuses them anyway).
const MAX_HEAD: usize = 64 * 1024;

#[derive(Debug)]
enum Phase {
    /// Reading a head: the bytes so far, and whether the current line is the request line.
    Head { head: Vec<u8>, request_line: bool },
    /// Reading a body of this many more bytes.
    Body(u64),
    /// Not following the framing any more.
    Passthrough,
}

/// A connection whose request heads are made acceptable to hyper (see the module docs).
#[derive(Debug)]
pub(crate) struct Heads<IO> {
    inner: IO,
    phase: Phase,
}

impl<IO> Heads<IO> {
    pub(crate) fn new(inner: IO) -> Self {
        Self {
            inner,
            phase: Phase::Head {
                head: Vec::new(),
                request_line: true,
            },
        }
    }

    /// Rewrites `data` (just read) in place.
    fn sanitize(&mut self, data: &mut [u8]) {
        let mut i = 0;
        while i < data.len() {
            match &mut self.phase {
                Phase::Passthrough => return,
                Phase::Body(remaining) => {
                    let n = u64::try_from(data.len() - i)
                        .unwrap_or(u64::MAX)
                        .min(*remaining);
                    *remaining -= n;
                    i += usize::try_from(n).unwrap_or(data.len() - i);
                    if *remaining == 0 {
                        self.phase = Phase::Head {
                            head: Vec::new(),
                            request_line: true,
                        };
                    }
                }
                Phase::Head { head, request_line } => {
                    // One pass over this read's part of the head, then one copy into `head`.
                    let start = i;
                    let mut complete = false;
                    while i < data.len() {
                        let b = data[i];
                        let control =
                            (b < 0x20 && !matches!(b, b'\t' | b'\r' | b'\n')) || b == 0x7f;
                        if control && !*request_line {
                            data[i] = 0x80;
                        }
                        i += 1;
                        if b == b'\n' {
                            *request_line = false;
                            if head_ends(head, &data[start..i]) {
                                complete = true;
                                break;
                            }
                        }
                        if head.len() + (i - start) > MAX_HEAD {
                            break;
                        }
                    }
                    head.extend_from_slice(&data[start..i]);
                    if complete {
                        self.phase = next_phase(head);
                    } else if head.len() > MAX_HEAD {
                        self.phase = Phase::Passthrough;
                    }
                }
            }
        }
    }
}

/// Whether the head read so far (`head` then `tail`, which ends in `\n`) is complete: it
/// ends with an empty line, or it is one (a blank line before a request line).
fn head_ends(head: &[u8], tail: &[u8]) -> bool {
    let total = head.len() + tail.len();
    let at = |k: usize| {
        // The k-th byte from the end (1-based) of head ++ tail.
        if k <= tail.len() {
            tail[tail.len() - k]
        } else {
            head[head.len() - (k - tail.len())]
        }
    };
    (total >= 4 && at(4) == b'\r' && at(3) == b'\n' && at(2) == b'\r')
        || (total == 2 && at(2) == b'\r')
}

/// What follows a complete head: its body, or the next head.
fn next_phase(head: &[u8]) -> Phase {
    if head == b"\r\n" {
        // A blank line before a request line is tolerated by HTTP/1.1 parsers.
        return Phase::Head {
            head: Vec::new(),
            request_line: true,
        };
    }
    let text = String::from_utf8_lossy(head);
    let mut length = None;
    for line in text.split("\r\n").skip(1) {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if name.eq_ignore_ascii_case("transfer-encoding") {
            return Phase::Passthrough;
        }
        if name.eq_ignore_ascii_case("content-length") {
            match value.trim().parse::<u64>() {
                Ok(n) => length = Some(n),
                Err(_) => return Phase::Passthrough,
            }
        }
    }
    match length {
        Some(n) if n > 0 => Phase::Body(n),
        _ => Phase::Head {
            head: Vec::new(),
            request_line: true,
        },
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Heads<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            let read = &mut buf.filled_mut()[before..];
            this.sanitize(read);
        }
        polled
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Heads<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, data)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(chunks: &[&[u8]]) -> Vec<u8> {
        let mut h = Heads::new(());
        let mut out = Vec::new();
        for c in chunks {
            let mut c = c.to_vec();
            h.sanitize(&mut c);
            out.extend(c);
        }
        out
    }

    #[test]
    fn control_characters_in_header_values_become_obs_text() {
        let req: &[u8] =
            b"POST / HTTP/1.1\r\nContent-Type: \x01x\x7f\r\nContent-Length: 3\r\n\r\n\x01\x02\x03";
        let out = run(&[req]);
        assert_eq!(
            out,
            b"POST / HTTP/1.1\r\nContent-Type: \x80x\x80\r\nContent-Length: 3\r\n\r\n\x01\x02\x03"
        );
    }

    #[test]
    fn bodies_and_request_lines_pass_and_the_next_head_is_found() {
        let first: &[u8] = b"POST /\x01 HTTP/1.1\r\nContent-Length: 2\r\n\r\n\x00";
        let second: &[u8] = b"\x00POST / HTTP/1.1\r\nX: \x02\r\n\r\n";
        let out = run(&[first, second]);
        assert_eq!(
            out,
            b"POST /\x01 HTTP/1.1\r\nContent-Length: 2\r\n\r\n\x00\x00POST / HTTP/1.1\r\nX: \x80\r\n\r\n"
        );
    }

    #[test]
    fn how_a_connection_is_split_into_reads_changes_nothing() {
        let stream: &[u8] = b"\r\nPOST /\x01 HTTP/1.1\r\nContent-Type: \x01x\x7f\r\nContent-Length: 5\r\n\r\n\x01\r\n\r\n\x02GET / HTTP/1.1\r\nX: \x03\r\n\r\nPOST / HTTP/1.1\r\nContent-Length: 0\r\nY: \x1f\r\n\r\n";
        let whole = run(&[stream]);
        assert_eq!(
            whole,
            b"\r\nPOST /\x01 HTTP/1.1\r\nContent-Type: \x80x\x80\r\nContent-Length: 5\r\n\r\n\x01\r\n\r\n\x02GET / HTTP/1.1\r\nX: \x80\r\n\r\nPOST / HTTP/1.1\r\nContent-Length: 0\r\nY: \x80\r\n\r\n"
        );
        for size in 1..stream.len() {
            let chunks: Vec<&[u8]> = stream.chunks(size).collect();
            assert_eq!(run(&chunks), whole, "reads of {size} bytes");
        }
    }

    #[test]
    fn chunked_bodies_end_the_rewriting() {
        let req: &[u8] = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n\x01\r\n0\r\n\r\nPOST / HTTP/1.1\r\nX: \x02\r\n\r\n";
        assert_eq!(run(&[req]), req);
    }
}
