//! Container output. Each container's stdout and stderr are the write end of one pipe (so
//! their lines interleave as written); the agent reads the other end, cuts what it reads
//! into lines stamped with the time they were read, and hands them to the container's
//! [`LogSender`] (the awslogs driver's, given by [`crate::agent::OutputSinks`]). A container
//! without one has its output read and dropped, as a Fargate task without a log
//! configuration: nothing of it is kept anywhere. The container never holds a descriptor of
//! anything but its pipe.

use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::time::{Duration, SystemTime};

use tokio::io::AsyncReadExt;
use tokio::net::unix::pipe;
use tokio::task::JoinSet;

use crate::agent::{LogLine, LogSender};

/// Bytes read from a pipe at once.
const CHUNK: usize = 64 * 1024;

/// The longest piece of a line handed over at once.
const MAX_PIECE: usize = crate::agent::MAX_LINE_PIECE;

/// One pipe per container: (read end for the agent, write end for the sandbox init).
pub(crate) fn pipes(n: usize) -> io::Result<Vec<(File, File)>> {
    (0..n).map(|_| crate::sys::process::pipe()).collect()
}

/// The readers of one task's output pipes.
pub(crate) struct Output {
    readers: JoinSet<()>,
}

impl Output {
    /// Starts a reader per `(pipe read end, where its lines go)`. Must be called inside the
    /// runtime.
    pub(crate) fn start(readers: Vec<(File, Option<LogSender>)>) -> io::Result<Output> {
        let mut set = JoinSet::new();
        for (rd, sink) in readers {
            let rx = pipe::Receiver::from_owned_fd(OwnedFd::from(rd))?;
            set.spawn(async move {
                if let Err(e) = pump(rx, sink.as_ref()).await {
                    tracing::warn!(error = %e, "container output lost");
                }
                if let Some(s) = sink {
                    s.close().await;
                }
            });
        }
        Ok(Output { readers: set })
    }

    /// Waits until every container's output is read to its end (all its writers are
    /// gone) and taken by its sink, at most `limit`; readers still running then are
    /// stopped.
    pub(crate) async fn finish(mut self, limit: Duration) {
        let all = async { while self.readers.join_next().await.is_some() {} };
        if tokio::time::timeout(limit, all).await.is_err() {
            self.readers.abort_all();
        }
    }
}

/// Reads `rx` to its end, handing complete lines (and pieces of [`MAX_PIECE`] bytes of
/// longer ones) to `sink`. In blocking mode `send` waits while the sink's buffer is full:
/// the pipe is not read meanwhile, and the container blocks once the pipe is full.
async fn pump(mut rx: pipe::Receiver, sink: Option<&LogSender>) -> io::Result<()> {
    let mut buf = vec![0u8; CHUNK];
    let mut line: Vec<u8> = Vec::new();
    loop {
        let n = rx.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        let Some(sink) = sink else { continue };
        let at = SystemTime::now();
        for piece in Lines::new(&mut line, buf.get(..n).unwrap_or_default()) {
            sink.send(LogLine { at, ..piece }).await;
        }
    }
    if let (Some(sink), false) = (sink, line.is_empty()) {
        let bytes = std::mem::take(&mut line);
        sink.send(LogLine {
            at: SystemTime::now(),
            bytes,
            partial: false,
        })
        .await;
    }
    Ok(())
}

/// Cuts bytes into lines, carrying an unfinished line over in `pending`.
struct Lines<'a> {
    pending: &'a mut Vec<u8>,
    rest: &'a [u8],
}

impl<'a> Lines<'a> {
    fn new(pending: &'a mut Vec<u8>, rest: &'a [u8]) -> Self {
        Lines { pending, rest }
    }
}

impl Iterator for Lines<'_> {
    type Item = LogLine;

    fn next(&mut self) -> Option<LogLine> {
        loop {
            let room = MAX_PIECE - self.pending.len();
            let window = &self.rest[..self.rest.len().min(room)];
            if let Some(i) = window.iter().position(|&b| b == b'\n') {
                self.pending.extend_from_slice(&window[..i]);
                self.rest = &self.rest[i + 1..];
                return Some(piece(self.pending, false));
            }
            self.pending.extend_from_slice(window);
            self.rest = &self.rest[window.len()..];
            if self.pending.len() >= MAX_PIECE {
                return Some(piece(self.pending, true));
            }
            if self.rest.is_empty() {
                return None;
            }
        }
    }
}

fn piece(pending: &mut Vec<u8>, partial: bool) -> LogLine {
    LogLine {
        at: SystemTime::UNIX_EPOCH,
        bytes: std::mem::take(pending),
        partial,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::{log_channel, BufferMode};
    use std::io::Write;

    fn cut(chunks: &[&[u8]]) -> (Vec<(Vec<u8>, bool)>, Vec<u8>) {
        let mut pending = Vec::new();
        let mut out = Vec::new();
        for c in chunks {
            out.extend(Lines::new(&mut pending, c).map(|l| (l.bytes, l.partial)));
        }
        (out, pending)
    }

    #[test]
    fn lines_are_cut_at_newlines_across_reads_and_long_ones_in_pieces() {
        let (out, rest) = cut(&[b"a\nb", b"c\n\nd"]);
        assert_eq!(
            out,
            vec![
                (b"a".to_vec(), false),
                (b"bc".to_vec(), false),
                (vec![], false)
            ]
        );
        assert_eq!(rest, b"d");
        let long = vec![b'x'; MAX_PIECE + 10];
        let mut input = long.clone();
        input.push(b'\n');
        let (out, rest) = cut(&[&input[..1000], &input[1000..]]);
        assert_eq!(out.len(), 2);
        assert_eq!((out[0].0.len(), out[0].1), (MAX_PIECE, true));
        assert_eq!((out[1].0.len(), out[1].1), (10, false));
        assert!(rest.is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn output_reaches_the_sink_in_order_and_unsunk_output_is_drained() {
        let mut p = pipes(2).unwrap();
        let (r2, mut w2) = p.pop().unwrap();
        let (r1, mut w1) = p.pop().unwrap();
        let (tx, mut rx) = log_channel(BufferMode::Blocking, 1 << 20);
        let out = Output::start(vec![(r1, Some(tx)), (r2, None)]).unwrap();
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            while let Some(l) = rx.recv().await {
                got.push(String::from_utf8(l.bytes).unwrap());
            }
            rx.finished();
            got
        });
        // More than a pipe holds, from both containers: a writer that is not drained
        // would block here forever.
        let t1 = std::thread::spawn(move || {
            for i in 0..20_000 {
                writeln!(w1, "line {i}").unwrap();
            }
        });
        let t2 = std::thread::spawn(move || w2.write_all(&[b'y'; 300 * 1024]).unwrap());
        tokio::task::spawn_blocking(move || {
            t1.join().unwrap();
            t2.join().unwrap();
        })
        .await
        .unwrap();
        out.finish(Duration::from_secs(10)).await;
        let got = reader.await.unwrap();
        let want: Vec<String> = (0..20_000).map(|i| format!("line {i}")).collect();
        assert_eq!(got, want);
    }
}
