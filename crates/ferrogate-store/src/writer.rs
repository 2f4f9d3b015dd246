//! The single writer thread, group commit, and pipelined durability.
//!
//! SQLite allows one writer at a time, and a durable commit costs an fsync. Instead of one
//! fsync per request, requests hand their transaction bodies ("jobs") to the writer thread,
//! which runs every job that is waiting inside one SQLite transaction (each in its own
//! savepoint, so one job's failure undoes only its own writes) and commits once.
//!
//! The commit itself does not wait for the disk (`synchronous=NORMAL`). The batch's
//! completions go to a second thread, the syncer, which calls `fdatasync` on the WAL file
//! and only then answers every caller of every batch committed before that sync began.
//! So an acknowledged write is always on disk, and the writer prepares the next batch while
//! the previous one is being synced instead of idling through each fsync.

use std::fs::File;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc as std_mpsc, Arc};
use std::thread::JoinHandle;

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use crate::engine::{with_savepoint, WriteTx};
use crate::sqlite::{run as run_sql, SqliteTx};
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
    /// WAL syncs done.
    pub syncs: u64,
}

#[derive(Default)]
struct Counters {
    batches: AtomicU64,
    jobs: AtomicU64,
    syncs: AtomicU64,
}

pub(crate) struct Writer {
    queue: Option<mpsc::Sender<Job>>,
    counters: Arc<Counters>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    pub(crate) fn start(conn: Connection, wal: PathBuf) -> Result<Self, StoreError> {
        let (tx, rx) = mpsc::channel(QUEUE);
        let counters = Arc::new(Counters::default());
        let c = counters.clone();
        let thread = std::thread::Builder::new()
            .name("ferrogate-store-writer".into())
            .spawn(move || run(conn, rx, wal, &c))
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
            Box::new(move |durable| {
                let answer = match durable {
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
            syncs: self.counters.syncs.load(Ordering::Relaxed),
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Closing the queue lets the thread finish what is queued, hand the last batch to
        // the syncer, wait for it, and exit.
        self.queue.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(conn: Connection, mut queue: mpsc::Receiver<Job>, wal: PathBuf, counters: &Arc<Counters>) {
    let (to_syncer, from_writer) = std_mpsc::channel::<Vec<Completion>>();
    let c = counters.clone();
    let syncer = std::thread::Builder::new().name("ferrogate-store-syncer".into()).spawn(move || sync_loop(from_writer, wal, &c));
    let syncer = match syncer {
        Ok(h) => h,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the WAL syncer thread; refusing writes");
            return; // dropping the queue answers every caller with `Unavailable`
        }
    };
    while let Some(first) = queue.blocking_recv() {
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        let n = jobs.len() as u64;
        if let Err(e) = run_sql(&conn, "BEGIN IMMEDIATE") {
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
        counters.batches.fetch_add(1, Ordering::Relaxed);
        counters.jobs.fetch_add(n, Ordering::Relaxed);
        match run_sql(&conn, "COMMIT") {
            Ok(()) => {
                if let Err(std_mpsc::SendError(completions)) = to_syncer.send(completions) {
                    // The syncer is gone: the batch's durability is unknown, so say so.
                    for c in completions {
                        c(Err(StoreError::Unavailable("the WAL syncer stopped".into())));
                    }
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "commit failed; the batch is rolled back");
                let _ = run_sql(&conn, "ROLLBACK");
                for c in completions {
                    c(Err(e.clone()));
                }
            }
        }
    }
    drop(to_syncer);
    let _ = syncer.join();
}

/// Makes committed batches durable, many at a time, and then answers their callers.
fn sync_loop(batches: std_mpsc::Receiver<Vec<Completion>>, wal: PathBuf, counters: &Counters) {
    let mut file: Option<File> = None;
    while let Ok(first) = batches.recv() {
        let mut pending = vec![first];
        while let Ok(more) = batches.try_recv() {
            pending.push(more);
        }
        // Every batch in `pending` was committed (its WAL frames written) before this sync
        // starts, so this one fdatasync makes all of them durable.
        let synced = sync_wal(&mut file, &wal);
        counters.syncs.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = &synced {
            tracing::error!(error = %e, "fdatasync of the WAL failed: the affected writes are reported as failed");
        }
        for c in pending.into_iter().flatten() {
            c(synced.clone());
        }
    }
}

fn sync_wal(file: &mut Option<File>, wal: &PathBuf) -> Result<(), StoreError> {
    if file.is_none() {
        // The WAL exists from the first commit on and is never deleted while the writer's
        // connection is open (SQLite reuses it from the start after checkpoints).
        *file = Some(File::open(wal).map_err(|e| StoreError::Engine(format!("open {}: {e}", wal.display())))?);
    }
    match file {
        Some(f) => f.sync_data().map_err(|e| StoreError::Engine(format!("fdatasync {}: {e}", wal.display()))),
        None => Err(StoreError::Engine("no WAL file".into())),
    }
}
