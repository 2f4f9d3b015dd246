//! The single writer thread, group commit, and pipelined durability.
//!
//! SQLite allows one writer at a time, and a durable commit costs an fsync. Instead of one
//! fsync per request, requests hand their transaction bodies ("jobs") to the writer thread,
//! which runs waiting jobs inside one SQLite transaction (each in its own savepoint, so one
//! job's failure undoes only its own writes) and commits once.
//!
//! The commit itself does not wait for the disk (`synchronous=NORMAL`). The batch's
//! completions go to a second thread, the syncer, which calls `fdatasync` on the WAL file
//! and only then answers every caller of every batch committed before that sync began. So
//! an acknowledged write is always on disk.
//!
//! While the syncer is busy, the writer keeps its transaction open and adds the jobs that
//! arrive: they would wait for that sync anyway, and one larger commit rewrites the hot
//! index pages once instead of once per small commit. It commits as soon as the syncer is
//! free (or the batch is full).

use std::collections::VecDeque;
use std::fs::File;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc as std_mpsc, Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use rusqlite::Connection;
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};

use crate::engine::{with_savepoint, WriteTx};
use crate::generation::{Counter, Written};
use crate::sqlite::{run as run_sql, SqliteTx};
use crate::StoreError;

type Completion = Box<dyn FnOnce(Result<(), StoreError>) + Send>;
type Job = Box<dyn FnOnce(&mut dyn WriteTx) -> Completion + Send>;

/// The most jobs committed together. Bounds the latency a job can add to others.
const MAX_BATCH: usize = 1024;
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

/// What the writer, the syncer and submitters share.
#[derive(Default)]
struct State {
    queue: VecDeque<(Job, OwnedSemaphorePermit)>,
    /// Batches committed but not yet synced.
    unsynced: usize,
    /// The writer is waiting on `wake`: a submitter must notify (otherwise it need not: a
    /// notification is a system call, and the busy writer looks at the queue anyway).
    writer_waits: bool,
    closed: bool,
    /// Set when durability can no longer be promised (an `fdatasync` failed, or the syncer
    /// is gone). From then on nothing is written or read: after a failed `fdatasync` the
    /// kernel may have dropped the dirty pages while a retry reports success, so the only
    /// honest state is "stopped" until an operator restarts the server (and SQLite recovers
    /// from what is really on disk).
    failed: bool,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    permits: Arc<Semaphore>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock can only come from a bug in this file; the state is
        // a queue and counters, still coherent, so carry on rather than poison every caller.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

pub(crate) struct Writer {
    shared: Arc<Shared>,
    counters: Arc<Counters>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    pub(crate) fn start(
        conn: Connection,
        wal: PathBuf,
        generation: Arc<Counter>,
    ) -> Result<Self, StoreError> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            permits: Arc::new(Semaphore::new(QUEUE)),
        });
        let counters = Arc::new(Counters::default());
        let (s, c) = (shared.clone(), counters.clone());
        let thread = std::thread::Builder::new()
            .name("fg-store-writer".into())
            .spawn(move || run(conn, &s, wal, &c, &generation))
            .map_err(|e| StoreError::Unavailable(format!("cannot start writer thread: {e}")))?;
        Ok(Self {
            shared,
            counters,
            thread: Some(thread),
        })
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
        let permit = self
            .shared
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| E::from(StoreError::Unavailable("store closed".into())))?;
        let waits = {
            let mut state = self.shared.lock();
            if state.failed {
                return Err(E::from(failed_error()));
            }
            if state.closed {
                return Err(E::from(StoreError::Unavailable("store closed".into())));
            }
            state.queue.push_back((job, permit));
            state.writer_waits
        };
        if waits {
            self.shared.wake.notify_all();
        }
        result.await.unwrap_or_else(|_| {
            Err(E::from(StoreError::Unavailable(
                "the write was not done: the store stopped (see the log)".into(),
            )))
        })
    }

    /// Whether the store stopped because durability could not be promised.
    pub(crate) fn failed(&self) -> bool {
        self.shared.lock().failed
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
        // The thread finishes what is queued, hands the last batch to the syncer, waits for
        // it, and exits.
        self.shared.lock().closed = true;
        self.shared.wake.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(
    conn: Connection,
    shared: &Arc<Shared>,
    wal: PathBuf,
    counters: &Arc<Counters>,
    generation: &Counter,
) {
    let (to_syncer, from_writer) = std_mpsc::channel::<Vec<Completion>>();
    let (s, c) = (shared.clone(), counters.clone());
    let syncer = match std::thread::Builder::new()
        .name("fg-store-syncer".into())
        .spawn(move || sync_loop(from_writer, wal, &s, &c))
    {
        Ok(h) => h,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the WAL syncer thread; refusing writes");
            shared.lock().closed = true;
            return; // queued jobs are dropped: their callers get `Unavailable`
        }
    };
    loop {
        let mut state = shared.lock();
        while state.queue.is_empty() && !state.closed {
            state = wait(shared, state);
        }
        if state.failed {
            // Durability is lost: refuse what is queued (dropping a job answers its caller
            // with `Unavailable`) and stop.
            let jobs: Vec<_> = state.queue.drain(..).collect();
            drop(state);
            drop(jobs);
            break;
        }
        if state.queue.is_empty() {
            break; // closed and drained
        }
        drop(state);
        if let Err(e) = run_sql(&conn, "BEGIN IMMEDIATE") {
            tracing::error!(error = %e, "cannot begin a write transaction");
            // Answer what is queued with the failure rather than retrying forever.
            let jobs: Vec<_> = shared.lock().queue.drain(..).collect();
            drop(jobs);
            continue;
        }
        let written = Written::default();
        let completions = fill_batch(&conn, shared, &written);
        counters.batches.fetch_add(1, Ordering::Relaxed);
        counters
            .jobs
            .fetch_add(completions.len() as u64, Ordering::Relaxed);
        match run_sql(&conn, "COMMIT") {
            Ok(()) => {
                // Visible to new snapshots from here on; no caller is answered before this.
                written.publish(generation);
                shared.lock().unsynced += 1;
                if let Err(std_mpsc::SendError(completions)) = to_syncer.send(completions) {
                    // The syncer is gone: the batch's durability is unknown, so say so, and
                    // stop: later batches could not be made durable either.
                    tracing::error!("the WAL syncer stopped; the store stops");
                    fail(shared);
                    for c in completions {
                        c(Err(StoreError::Unavailable(
                            "the WAL syncer stopped".into(),
                        )));
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

/// Runs queued jobs in the open transaction until the queue is empty and the syncer is idle
/// (or the batch is full).
fn fill_batch(conn: &Connection, shared: &Shared, written: &Written) -> Vec<Completion> {
    let mut completions = Vec::new();
    let mut state = shared.lock();
    loop {
        let room = MAX_BATCH.saturating_sub(completions.len());
        let take = room.min(state.queue.len());
        let jobs: Vec<_> = state.queue.drain(..take).collect();
        drop(state);
        for (job, permit) in jobs {
            drop(permit);
            if let Some(c) = run_job(conn, job, written) {
                completions.push(c);
            }
        }
        state = shared.lock();
        if completions.len() >= MAX_BATCH {
            return completions;
        }
        while state.queue.is_empty() && state.unsynced > 0 && !state.closed {
            state = wait(shared, state);
        }
        if state.queue.is_empty() {
            return completions;
        }
    }
}

/// The writer waits for a submitter, the syncer or shutdown (saying so while it waits).
fn wait<'s>(shared: &'s Shared, mut state: MutexGuard<'s, State>) -> MutexGuard<'s, State> {
    state.writer_waits = true;
    let mut state = shared
        .wake
        .wait(state)
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    state.writer_waits = false;
    state
}

fn run_job(conn: &Connection, job: Job, written: &Written) -> Option<Completion> {
    let mut tx = SqliteTx {
        conn,
        depth: 0,
        written: Some(written),
    };
    match catch_unwind(AssertUnwindSafe(|| job(&mut tx))) {
        Ok(c) => Some(c),
        Err(_) => {
            tracing::error!("a write job panicked; its writes are rolled back");
            while tx.depth > 0 {
                if tx.rollback_savepoint().is_err() {
                    break;
                }
            }
            None
        }
    }
}

/// Makes committed batches durable, many at a time, and then answers their callers.
fn sync_loop(
    batches: std_mpsc::Receiver<Vec<Completion>>,
    wal: PathBuf,
    shared: &Shared,
    counters: &Counters,
) {
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
            tracing::error!(error = %e, "fdatasync of the WAL failed: the affected writes are reported as failed and the store stops; restart the server");
            fail(shared);
        }
        let n = pending.len();
        for c in pending.into_iter().flatten() {
            c(synced.clone());
        }
        shared.lock().unsynced -= n;
        shared.wake.notify_all();
    }
}

/// Stops the store for good (see [`State::failed`]).
fn fail(shared: &Shared) {
    let mut state = shared.lock();
    state.failed = true;
    state.closed = true;
    drop(state);
    shared.wake.notify_all();
}

pub(crate) fn failed_error() -> StoreError {
    StoreError::Unavailable(
        "the store stopped because a write could not be made durable; see the log and restart the server".into(),
    )
}

fn sync_wal(file: &mut Option<File>, wal: &PathBuf) -> Result<(), StoreError> {
    if file.is_none() {
        // The WAL exists from the first commit on and is never deleted while the writer's
        // connection is open (SQLite reuses it from the start after checkpoints).
        *file = Some(
            File::open(wal)
                .map_err(|e| StoreError::Engine(format!("open {}: {e}", wal.display())))?,
        );
    }
    match file {
        Some(f) => f
            .sync_data()
            .map_err(|e| StoreError::Engine(format!("fdatasync {}: {e}", wal.display()))),
        None => Err(StoreError::Engine("no WAL file".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::WriteTx;

    fn writer_with_wal(wal: PathBuf) -> (tempfile::TempDir, Writer) {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join("db.sqlite")).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.execute_batch("CREATE TABLE kv (id INTEGER PRIMARY KEY, tree TEXT NOT NULL, k BLOB NOT NULL, v BLOB NOT NULL); CREATE UNIQUE INDEX kv_tree_k ON kv (tree, k);").unwrap();
        (dir, Writer::start(conn, wal, Arc::default()).unwrap())
    }

    async fn put(w: &Writer, k: &[u8]) -> Result<(), StoreError> {
        let k = k.to_vec();
        w.submit(move |tx: &mut dyn WriteTx| tx.put("t", &k, b"v"))
            .await
    }

    #[tokio::test]
    async fn a_failed_sync_fails_the_write_and_stops_the_store() {
        // A WAL path that cannot be opened makes the first fdatasync fail.
        let (_dir, w) = writer_with_wal(PathBuf::from("/nonexistent/ferrogate/db-wal"));
        let first = put(&w, b"a").await;
        assert!(first.is_err(), "an unsynced write must not be acknowledged");
        assert!(w.failed());
        let second = put(&w, b"b").await.unwrap_err();
        assert!(second.to_string().contains("restart"), "{second}");
        drop(w);
    }

    #[tokio::test]
    async fn a_synced_write_is_acknowledged() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db.sqlite");
        let conn = Connection::open(&db).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.execute_batch("CREATE TABLE kv (id INTEGER PRIMARY KEY, tree TEXT NOT NULL, k BLOB NOT NULL, v BLOB NOT NULL); CREATE UNIQUE INDEX kv_tree_k ON kv (tree, k);").unwrap();
        let w = Writer::start(conn, dir.path().join("db.sqlite-wal"), Arc::default()).unwrap();
        put(&w, b"a").await.unwrap();
        assert!(!w.failed());
        assert_eq!(w.stats().syncs, 1);
    }
}
