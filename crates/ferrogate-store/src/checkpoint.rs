//! Background checkpoints: copying the WAL into the database file on a thread of its own,
//! so that the writer thread does not stall on it (a checkpoint of thousands of pages was
//! the main source of tail latency). `PASSIVE` checkpoints never block the writer or
//! readers; the writer's own auto-checkpoint stays as a backstop at a higher threshold.

use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use crate::StoreError;

/// How often to checkpoint.
const INTERVAL: Duration = Duration::from_millis(200);

pub(crate) struct Checkpointer {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    pub(crate) fn start(db: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(db)?;
        conn.busy_timeout(Duration::from_secs(1))?;
        // The checkpointing connection decides the syncs: WAL before, database after.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let s = stop.clone();
        let thread = std::thread::Builder::new()
            .name("fg-store-ckpt".into())
            .spawn(move || run(&conn, &s))
            .map_err(|e| {
                StoreError::Unavailable(format!("cannot start the checkpoint thread: {e}"))
            })?;
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }
}

fn run(conn: &Connection, stop: &(Mutex<bool>, Condvar)) {
    let (lock, wake) = stop;
    let mut stopped = lock
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    while !*stopped {
        let (guard, _) = wake
            .wait_timeout(stopped, INTERVAL)
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        stopped = guard;
        if *stopped {
            break;
        }
        drop(stopped);
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::debug!(error = %e, "background checkpoint did not run");
        }
        stopped = lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        *self
            .stop
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = true;
        self.stop.1.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
