//! Where container output goes: a bounded buffer of lines between a container's output
//! reader (the runtime) and a log driver (the server's awslogs shipper), so that the runtime
//! knows nothing of CloudWatch Logs.
//!
//! The buffer is bounded in bytes (`max-buffer-size`). Docker's two modes
//! (<https://docs.docker.com/engine/logging/configure/#configure-the-delivery-mode-of-log-messages-from-container-to-log-driver>):
//! - **blocking**: a full buffer makes the reader wait, so the pipe is not read and the
//!   container blocks on its next write once the pipe is full;
//! - **non-blocking**: a full buffer drops the line (counted), the container never waits.
//!
//! At the end of a container's output the reader closes its [`LogSender`] and waits until
//! the driver says everything it took is delivered ([`LogReceiver::finished`]), so the task
//! is reported stopped only after its last lines are stored.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use tokio::sync::{oneshot, Notify};

use crate::ids::{ContainerName, TaskId};

/// The longest piece of a line handed over at once: a longer line goes as several pieces,
/// all but the last marked `partial` (the driver joins or splits them by its own limits).
pub const MAX_LINE_PIECE: usize = 256 * 1024;

/// One line of a container's output (without its newline), or a piece of a long one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// When the agent read it.
    pub at: SystemTime,
    /// The bytes, as written (not necessarily UTF-8).
    pub bytes: Vec<u8>,
    /// True when the line goes on in the next piece (it was longer than
    /// [`crate::agent::MAX_LINE_PIECE`]).
    pub partial: bool,
}

/// What a full buffer does to the container (the `mode` log option).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BufferMode {
    /// The reader waits for room (Docker's and ECS's default).
    Blocking,
    /// The line is dropped and counted.
    NonBlocking,
}

/// Gives the runtime the log driver of each container of a task (called once per container,
/// when the task's output pipes are made). `None`: the container's output is read and
/// dropped.
pub trait OutputSinks: Send + Sync + std::fmt::Debug {
    /// The sender for `container` of `task`, if its output is to be kept.
    fn open(&self, task: &TaskId, container: &ContainerName) -> Option<LogSender>;
}

/// Keeps nothing: every container's output is read and dropped (the default).
#[derive(Debug, Default)]
pub struct Discard;

impl OutputSinks for Discard {
    fn open(&self, _: &TaskId, _: &ContainerName) -> Option<LogSender> {
        None
    }
}

#[derive(Default)]
struct Buf {
    lines: VecDeque<LogLine>,
    bytes: usize,
    /// The sender is done (no more lines will come).
    closed: bool,
    /// The receiver is gone: lines are dropped.
    gone: bool,
}

struct Shared {
    buf: Mutex<Buf>,
    /// Lines (or the close) arrived.
    to_rx: Notify,
    /// Room was made.
    to_tx: Notify,
    dropped: AtomicU64,
    mode: BufferMode,
    cap: usize,
}

/// The reader's end. Dropping it closes the buffer as [`LogSender::close`] does, without
/// waiting.
pub struct LogSender {
    shared: Arc<Shared>,
    done: Option<oneshot::Receiver<()>>,
}

/// The driver's end.
pub struct LogReceiver {
    shared: Arc<Shared>,
    done: Option<oneshot::Sender<()>>,
}

impl std::fmt::Debug for LogSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogSender")
            .field("mode", &self.shared.mode)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for LogReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogReceiver").finish_non_exhaustive()
    }
}

/// A buffer of at most `cap` bytes of lines (at least one line is always let in, however
/// long, so a line longer than the buffer still goes through).
pub fn log_channel(mode: BufferMode, cap: usize) -> (LogSender, LogReceiver) {
    let shared = Arc::new(Shared {
        buf: Mutex::new(Buf::default()),
        to_rx: Notify::new(),
        to_tx: Notify::new(),
        dropped: AtomicU64::new(0),
        mode,
        cap,
    });
    let (done_tx, done_rx) = oneshot::channel();
    (
        LogSender {
            shared: shared.clone(),
            done: Some(done_rx),
        },
        LogReceiver {
            shared,
            done: Some(done_tx),
        },
    )
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Buf> {
        // A panic while holding this lock leaves a consistent queue: keep using it.
        self.buf.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl LogSender {
    /// Hands `line` over: waits for room in blocking mode, drops it (counted) in
    /// non-blocking mode when the buffer is full. Lines are dropped once the receiver is
    /// gone.
    pub async fn send(&self, line: LogLine) {
        let s = &self.shared;
        loop {
            {
                let mut b = s.lock();
                if b.gone {
                    return;
                }
                let fits = b.lines.is_empty() || b.bytes + line.bytes.len() <= s.cap;
                if fits {
                    b.bytes += line.bytes.len();
                    b.lines.push_back(line);
                    drop(b);
                    s.to_rx.notify_one();
                    return;
                }
                if s.mode == BufferMode::NonBlocking {
                    s.dropped.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            }
            s.to_tx.notified().await;
        }
    }

    /// Says no more lines come and waits until the receiver has delivered what it took
    /// (or is gone).
    pub async fn close(mut self) {
        self.shut();
        if let Some(done) = self.done.take() {
            let _ = done.await;
        }
    }

    fn shut(&self) {
        self.shared.lock().closed = true;
        self.shared.to_rx.notify_one();
    }
}

impl Drop for LogSender {
    fn drop(&mut self) {
        self.shut();
    }
}

impl LogReceiver {
    /// The next line; `None` once the sender closed and every line was taken.
    pub async fn recv(&mut self) -> Option<LogLine> {
        let s = &self.shared;
        loop {
            {
                let mut b = s.lock();
                if let Some(l) = b.lines.pop_front() {
                    b.bytes -= l.bytes.len();
                    drop(b);
                    s.to_tx.notify_one();
                    return Some(l);
                }
                if b.closed {
                    return None;
                }
            }
            s.to_rx.notified().await;
        }
    }

    /// Lines dropped so far because the buffer was full (non-blocking mode).
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Tells the sender that everything taken is delivered: its `close` returns.
    pub fn finished(mut self) {
        if let Some(d) = self.done.take() {
            let _ = d.send(());
        }
    }
}

impl Drop for LogReceiver {
    fn drop(&mut self) {
        let mut b = self.shared.lock();
        b.gone = true;
        b.lines.clear();
        b.bytes = 0;
        drop(b);
        self.shared.to_tx.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(n: usize) -> LogLine {
        LogLine {
            at: SystemTime::UNIX_EPOCH,
            bytes: vec![b'x'; n],
            partial: false,
        }
    }

    #[tokio::test]
    async fn non_blocking_drops_and_counts_when_full() {
        let (tx, mut rx) = log_channel(BufferMode::NonBlocking, 100);
        for _ in 0..5 {
            tx.send(line(40)).await;
        }
        assert_eq!(rx.dropped(), 3, "two lines of 40 fit in 100 bytes");
        assert_eq!(rx.recv().await.map(|l| l.bytes.len()), Some(40));
        tx.send(line(40)).await;
        assert_eq!(rx.dropped(), 3);
        // A line longer than the whole buffer still goes through an empty buffer.
        let (tx, mut rx) = log_channel(BufferMode::NonBlocking, 10);
        tx.send(line(50)).await;
        assert_eq!(rx.recv().await.map(|l| l.bytes.len()), Some(50));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn blocking_waits_for_room_and_close_waits_for_delivery() {
        let (tx, mut rx) = log_channel(BufferMode::Blocking, 100);
        let writer = tokio::spawn(async move {
            for _ in 0..50 {
                tx.send(line(40)).await;
            }
            tx.close().await;
        });
        let mut n = 0;
        while let Some(l) = rx.recv().await {
            assert_eq!(l.bytes.len(), 40);
            n += 1;
            assert!(!writer.is_finished(), "close returned before delivery");
        }
        assert_eq!((n, rx.dropped()), (50, 0));
        rx.finished();
        writer.await.unwrap();
    }

    #[tokio::test]
    async fn a_dropped_sender_ends_the_receiver() {
        let (tx, mut rx) = log_channel(BufferMode::Blocking, 10);
        tx.send(line(1)).await;
        drop(tx);
        assert!(rx.recv().await.is_some());
        assert!(rx.recv().await.is_none());
    }

    #[tokio::test]
    async fn a_gone_receiver_never_blocks_the_sender() {
        let (tx, rx) = log_channel(BufferMode::Blocking, 10);
        tx.send(line(10)).await;
        drop(rx);
        tx.send(line(10)).await;
        tx.close().await;
    }
}
