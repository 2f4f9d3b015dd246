//! The single writer thread and group commit.
//!
//! SQLite allows one writer at a time, and a durable commit costs an fsync. Instead of one
//! fsync per request, requests hand their transaction bodies ("jobs") to this thread, which
//! runs every job that is waiting inside one SQLite transaction (each in its own savepoint,
//! so one job's failure undoes only its own writes) and commits once. Every job's caller is
//! answered after that commit returns, so an acknowledged write is always durable, and
//! under load one fsync covers many requests.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use crate::engine::{with_savepoint, WriteTx};
use crate::sqlite::SqliteTx;
use crate::StoreError;

type Completion = Box<dyn FnOnce(Result<(), StoreError>) + Send>;
type Job = Box<dyn FnOnce(&mut dyn WriteTx) -> Completion + Send>;

/// The most jobs committed together. Bounds the latency a job can add to others.
const MAX_BATCH: usize = 512;
/// Jobs that may wait for the writer before submitters are slowed down.
const QUEUE: usize = 4096;

/// Counters, for benchmarks and tests of group commit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterStats {
    /// Transactions committed.
    pub batches: u64,
    /// Jobs run.
    pub jobs: u64,
}

#[derive(Default)]
struct Counters {
    batches: AtomicU64,
    jobs: AtomicU64,
}

pub(crate) struct Writer {
    queue: Option<mpsc::Sender<Job>>,
    counters: Arc<Counters>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    pub(crate) fn start(conn: Connection) -> Result<Self, StoreError> {
        let (tx, rx) = mpsc::channel(QUEUE);
        let counters = Arc::new(Counters::default());
        let c = counters.clone();
        let thread = std::thread::Builder::new()
            .name("ferrogate-store-writer".into())
            .spawn(move || run(conn, rx, &c))
            .map_err(|e| StoreError::Unavailable(format!("cannot start writer thread: {e}")))?;
        Ok(Self { queue: Some(tx), counters, thread: Some(thread) })
    }

    pub(crate) async fn submit<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&mut dyn WriteTx) -> Result<T, E> + Send + 'static,
    {
        let (done, result) = oneshot::channel::<Result<T, E>>();
        let job: Job = Box::new(move |tx| {
            let outcome = match with_savepoint(tx, f) {
                Ok(r) => r,
                Err(e) => Err(E::from(e)),
            };
            Box::new(move |commit| {
                let answer = match commit {
                    Ok(()) => outcome,
                    Err(e) => Err(E::from(e)),
                };
                // The caller may have gone away (client disconnected); the write stands.
                let _ = done.send(answer);
            })
        });
        let queue = self.queue.as_ref().ok_or_else(|| StoreError::Unavailable("store closed".into()))?;
        queue.send(job).await.map_err(|_| E::from(StoreError::Unavailable("writer stopped".into())))?;
        result
            .await
            .unwrap_or_else(|_| Err(E::from(StoreError::Unavailable("the write was abandoned (a bug: see the log)".into()))))
    }

    pub(crate) fn stats(&self) -> WriterStats {
        WriterStats {
            batches: self.counters.batches.load(Ordering::Relaxed),
            jobs: self.counters.jobs.load(Ordering::Relaxed),
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Closing the queue lets the thread finish what is queued and exit.
        self.queue.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(conn: Connection, mut queue: mpsc::Receiver<Job>, counters: &Counters) {
    while let Some(first) = queue.blocking_recv() {
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        let n = jobs.len() as u64;
        if let Err(e) = crate::sqlite::run(&conn, "BEGIN IMMEDIATE") {
            // Dropping the jobs answers their callers with `Unavailable`.
            tracing::error!(error = %e, "cannot begin a write transaction");
            continue;
        }
        let mut completions = Vec::with_capacity(jobs.len());
        for job in jobs {
            let mut tx = SqliteTx { conn: &conn, depth: 0 };
            match catch_unwind(AssertUnwindSafe(|| job(&mut tx))) {
                Ok(c) => completions.push(c),
                Err(_) => {
                    tracing::error!("a write job panicked; its writes are rolled back");
                    while tx.depth > 0 {
                        if tx.rollback_savepoint().is_err() {
                            break;
                        }
                    }
                }
            }
        }
        let committed = crate::sqlite::run(&conn, "COMMIT");
        if let Err(e) = &committed {
            tracing::error!(error = %e, "commit failed; the batch is rolled back");
            let _ = crate::sqlite::run(&conn, "ROLLBACK");
        }
        counters.batches.fetch_add(1, Ordering::Relaxed);
        counters.jobs.fetch_add(n, Ordering::Relaxed);
        for c in completions {
            c(committed.clone());
        }
    }
}
