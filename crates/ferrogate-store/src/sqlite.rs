//! The embedded engine: one SQLite file in WAL mode.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

use crate::checkpoint::Checkpointer;
use crate::engine::{Direction, ReadTx, WriteTx};
use crate::generation::{Counter, Written};
use crate::writer::{Writer, WriterStats};
use crate::StoreError;

/// Schema migrations, applied in order; `PRAGMA user_version` records how many ran.
/// Append only: never edit a migration that has shipped.
const MIGRATIONS: &[&str] = &[
    // 1: ordered trees of versioned records. A rowid table with a unique index rather than
    // WITHOUT ROWID: values (audit records) are often over 1 KB, and SQLite keeps large rows
    // far better in a rowid table, where inserts append and only the small (tree, k) index
    // entries are balanced.
    "CREATE TABLE kv (id INTEGER PRIMARY KEY, tree TEXT NOT NULL, k BLOB NOT NULL, v BLOB NOT NULL);
     CREATE UNIQUE INDEX kv_tree_k ON kv (tree, k);",
    // 2: trees named `*.index` (small entries, mostly key-only: the audit log's lookup
    // index) in a WITHOUT ROWID table, where an entry is one b-tree insert instead of two
    // (the row and its unique index entry). Seven of them per audited request.
    "CREATE TABLE kvi (tree TEXT NOT NULL, k BLOB NOT NULL, v BLOB NOT NULL, PRIMARY KEY (tree, k)) WITHOUT ROWID;
     INSERT INTO kvi (tree, k, v) SELECT tree, k, v FROM kv WHERE tree LIKE '%.index';
     DELETE FROM kv WHERE tree LIKE '%.index';",
];

/// The table holding `tree`: see migration 2.
fn table(tree: &str) -> Table {
    if tree.ends_with(".index") {
        Table::Index
    } else {
        Table::Kv
    }
}

#[derive(Clone, Copy)]
enum Table {
    Kv,
    Index,
}

impl Table {
    fn sql(self, kv: &'static str, kvi: &'static str) -> &'static str {
        match self {
            Table::Kv => kv,
            Table::Index => kvi,
        }
    }
}

/// Statements cached per connection: transaction control, savepoints by depth, and each
/// table's get/put/delete/range forms.
const STATEMENT_CACHE: usize = 64;

/// The store: a pool of readers and the group-committing writer.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    readers: Mutex<Vec<Connection>>,
    generation: Arc<Counter>,
    writer: Writer,
    // Dropped after the writer, so the last batch is written before checkpoints stop.
    _checkpointer: Checkpointer,
}

/// The query planner stability guarantee: a statement's plan does not depend on the values
/// bound to it. Without it, the bundled SQLite (built with STAT4) marks every range scan
/// (`k >= ?2 AND k < ?3`) for re-preparation whenever its bounds change, which is every
/// call: re-parsing and re-planning was a tenth of a request's CPU time in KMS benchmarks.
fn stable_plans(conn: &Connection) -> Result<(), StoreError> {
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    Ok(())
}

fn configure(conn: &Connection) -> Result<(), StoreError> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    stable_plans(conn)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Savepoint (statement) journals in memory: every request's transaction runs in a
    // savepoint, and writing those journals to a temp file cost a fifth of the writer's time.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // NORMAL, not FULL: commits write the WAL without an fsync, and the writer's syncer
    // thread makes each batch durable with an fdatasync of the WAL before any caller of that
    // batch is answered (see `writer`). Checkpoints sync the WAL before copying it and the
    // database after, so a committed batch is always in a synced WAL or a synced database.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    // Checkpoints run on their own thread (`checkpoint`); the writer's own auto-checkpoint
    // is a backstop at 16384 pages (64 MiB of WAL) should that thread fall behind.
    conn.pragma_update(None, "wal_autocheckpoint", 16_384)?;
    // Deleted and overwritten content is zeroed where that costs no extra I/O (the pages
    // being written anyway), so what was deleted does not linger in the file's free space.
    conn.pragma_update(None, "secure_delete", "FAST")?;
    Ok(())
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Engine(format!(
            "journal_mode is {mode}, WAL required"
        )));
    }
    let applied: usize = conn
        .pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0))?
        .try_into()
        .unwrap_or(0);
    if applied > MIGRATIONS.len() {
        return Err(StoreError::Engine(format!(
            "the database has schema version {applied}, newer than this build's {}; refusing to touch it",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(
            None,
            "user_version",
            i64::try_from(i + 1).unwrap_or(i64::MAX),
        )?;
        tx.commit()?;
        tracing::info!(version = i + 1, "applied schema migration");
    }
    Ok(())
}

/// SQLite's WAL file for a database: the database path with `-wal` appended.
/// Creates the database file `0600` if it is missing, and makes an existing one and its
/// `-wal` and `-shm` files `0600`: SQLite creates the WAL and shared-memory files with the
/// database file's permissions, and its own default for a new file is `0644`.
fn owner_only(db: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let io = |e: std::io::Error| StoreError::Engine(format!("{}: {e}", db.display()));
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(db)
        .map_err(io)?;
    for p in [db.to_owned(), wal_path(db), side_path(db, "-shm")] {
        match std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
            _ => {}
        }
    }
    Ok(())
}

fn side_path(db: &Path, suffix: &str) -> PathBuf {
    let mut s = db.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn wal_path(db: &Path) -> PathBuf {
    side_path(db, "-wal")
}

impl Store {
    /// Opens (creating if needed) the database at `path`, applies migrations and starts the
    /// writer thread.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        owner_only(path)?;
        let mut conn = Connection::open(path)?;
        configure(&conn)?;
        migrate(&mut conn)?;
        let generation = Arc::new(Counter::default());
        let writer = Writer::start(conn, wal_path(path), generation.clone())?;
        let checkpointer = Checkpointer::start(path)?;
        Ok(Self {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                readers: Mutex::new(Vec::new()),
                generation,
                writer,
                _checkpointer: checkpointer,
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `f` on a consistent snapshot. Reads never wait for the writer (WAL). The
    /// snapshot (a pooled connection and its read transaction) is taken on the first read,
    /// so a closure that reads nothing (a cached authorization, `GetCallerIdentity`) costs
    /// nothing.
    pub fn read<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&dyn ReadTx) -> Result<T, E>,
    ) -> Result<T, E> {
        let lazy = LazyRead {
            store: self,
            generation: std::cell::OnceCell::new(),
            conn: std::cell::OnceCell::new(),
        };
        let result = f(&lazy);
        if let Some(Ok(conn)) = lazy.conn.into_inner() {
            if run(&conn, "COMMIT").is_ok() {
                if let Ok(mut pool) = self.inner.readers.lock() {
                    pool.push(conn);
                }
            }
        }
        result
    }

    fn begin_read(&self) -> Result<Connection, StoreError> {
        if self.inner.writer.failed() {
            // What readers would see may not be on disk (see `writer`): refuse.
            return Err(crate::writer::failed_error());
        }
        let conn = match self.inner.readers.lock().map(|mut p| p.pop()) {
            Ok(Some(c)) => c,
            _ => self.open_reader()?,
        };
        run(&conn, "BEGIN")?;
        Ok(conn)
    }

    fn open_reader(&self) -> Result<Connection, StoreError> {
        let conn = Connection::open_with_flags(
            &self.inner.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        stable_plans(&conn)?;
        Ok(conn)
    }

    /// Runs `f` in the writer's transaction and resolves once that transaction is durably
    /// committed. If `f` returns `Err` its writes are rolled back (the batch's other jobs
    /// are unaffected) and the error is returned, also only after the commit.
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&mut dyn WriteTx) -> Result<T, E> + Send + 'static,
    {
        self.inner.writer.submit(f).await
    }

    /// The change generation now (see [`crate::generation`]).
    pub fn generation(&self) -> u64 {
        self.inner.generation.current()
    }

    /// Counters of the group-commit writer (batches, jobs).
    pub fn writer_stats(&self) -> WriterStats {
        self.inner.writer.stats()
    }
}

/// Runs one statement through the connection's statement cache: transaction control runs
/// several times per request, and re-parsing it each time was a measurable share of the
/// writer's time.
pub(crate) fn run(conn: &Connection, sql: &str) -> Result<(), StoreError> {
    conn.prepare_cached(sql)?.execute([])?;
    Ok(())
}

/// A read snapshot opened on first use.
struct LazyRead<'s> {
    store: &'s Store,
    /// The change generation read before the snapshot was opened (or before it will be).
    generation: std::cell::OnceCell<u64>,
    conn: std::cell::OnceCell<Result<Connection, StoreError>>,
}

impl LazyRead<'_> {
    fn generation(&self) -> u64 {
        *self
            .generation
            .get_or_init(|| self.store.inner.generation.current())
    }

    fn tx(&self) -> Result<SqliteTx<'_>, StoreError> {
        match self.conn.get_or_init(|| {
            // The generation is read before the snapshot begins: whatever this snapshot
            // shows is at least as new as it.
            self.generation();
            self.store.begin_read()
        }) {
            Ok(conn) => Ok(SqliteTx {
                conn,
                depth: 0,
                written: None,
            }),
            Err(e) => Err(e.clone()),
        }
    }
}

impl ReadTx for LazyRead<'_> {
    fn generation(&self) -> Option<u64> {
        Some(LazyRead::generation(self))
    }

    fn get(&self, tree: &'static str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.tx()?.get(tree, key)
    }

    fn range(
        &self,
        tree: &'static str,
        start: &[u8],
        end: Option<&[u8]>,
        direction: Direction,
        limit: usize,
    ) -> Result<crate::engine::Entries, StoreError> {
        self.tx()?.range(tree, start, end, direction, limit)
    }
}

/// A transaction on one SQLite connection.
pub(crate) struct SqliteTx<'c> {
    pub(crate) conn: &'c Connection,
    pub(crate) depth: usize,
    /// The writer's note of which watched trees its batch wrote (none for readers).
    pub(crate) written: Option<&'c Written>,
}

impl ReadTx for SqliteTx<'_> {
    fn get(&self, tree: &'static str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let mut st = self.conn.prepare_cached(table(tree).sql(
            "SELECT v FROM kv WHERE tree = ?1 AND k = ?2",
            "SELECT v FROM kvi WHERE tree = ?1 AND k = ?2",
        ))?;
        Ok(st.query_row(params![tree, key], |r| r.get(0)).optional()?)
    }

    fn range(
        &self,
        tree: &'static str,
        start: &[u8],
        end: Option<&[u8]>,
        direction: Direction,
        limit: usize,
    ) -> Result<crate::engine::Entries, StoreError> {
        let t = table(tree);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let map = |r: &rusqlite::Row<'_>| Ok((r.get(0)?, r.get(1)?));
        let rows = match end {
            Some(end) => {
                let sql = match direction {
                    Direction::Forward => t.sql(
                        "SELECT k, v FROM kv WHERE tree = ?1 AND k >= ?2 AND k < ?3 ORDER BY k ASC LIMIT ?4",
                        "SELECT k, v FROM kvi WHERE tree = ?1 AND k >= ?2 AND k < ?3 ORDER BY k ASC LIMIT ?4",
                    ),
                    Direction::Reverse => t.sql(
                        "SELECT k, v FROM kv WHERE tree = ?1 AND k >= ?2 AND k < ?3 ORDER BY k DESC LIMIT ?4",
                        "SELECT k, v FROM kvi WHERE tree = ?1 AND k >= ?2 AND k < ?3 ORDER BY k DESC LIMIT ?4",
                    ),
                };
                let mut st = self.conn.prepare_cached(sql)?;
                let rows = st.query_map(params![tree, start, end, limit], map)?;
                rows.collect::<Result<Vec<_>, _>>()?
            }
            None => {
                let sql = match direction {
                    Direction::Forward => t.sql(
                        "SELECT k, v FROM kv WHERE tree = ?1 AND k >= ?2 ORDER BY k ASC LIMIT ?3",
                        "SELECT k, v FROM kvi WHERE tree = ?1 AND k >= ?2 ORDER BY k ASC LIMIT ?3",
                    ),
                    Direction::Reverse => t.sql(
                        "SELECT k, v FROM kv WHERE tree = ?1 AND k >= ?2 ORDER BY k DESC LIMIT ?3",
                        "SELECT k, v FROM kvi WHERE tree = ?1 AND k >= ?2 ORDER BY k DESC LIMIT ?3",
                    ),
                };
                let mut st = self.conn.prepare_cached(sql)?;
                let rows = st.query_map(params![tree, start, limit], map)?;
                rows.collect::<Result<Vec<_>, _>>()?
            }
        };
        Ok(rows)
    }
}

impl WriteTx for SqliteTx<'_> {
    fn put(&mut self, tree: &'static str, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        let mut st = self.conn.prepare_cached(table(tree).sql(
            "INSERT INTO kv (tree, k, v) VALUES (?1, ?2, ?3) ON CONFLICT (tree, k) DO UPDATE SET v = excluded.v",
            "INSERT INTO kvi (tree, k, v) VALUES (?1, ?2, ?3) ON CONFLICT (tree, k) DO UPDATE SET v = excluded.v",
        ))?;
        st.execute(params![tree, key, value])?;
        if let Some(w) = self.written {
            w.note(tree);
        }
        Ok(())
    }

    fn delete(&mut self, tree: &'static str, key: &[u8]) -> Result<bool, StoreError> {
        let mut st = self.conn.prepare_cached(table(tree).sql(
            "DELETE FROM kv WHERE tree = ?1 AND k = ?2",
            "DELETE FROM kvi WHERE tree = ?1 AND k = ?2",
        ))?;
        let removed = st.execute(params![tree, key])? > 0;
        if let Some(w) = self.written {
            w.note(tree);
        }
        Ok(removed)
    }

    fn savepoint(&mut self) -> Result<(), StoreError> {
        self.depth += 1;
        run(self.conn, &format!("SAVEPOINT sp{}", self.depth))?;
        Ok(())
    }

    fn rollback_savepoint(&mut self) -> Result<(), StoreError> {
        let d = self.depth;
        self.depth = d.saturating_sub(1);
        run(self.conn, &format!("ROLLBACK TO sp{d}"))?;
        run(self.conn, &format!("RELEASE sp{d}"))?;
        Ok(())
    }

    fn release_savepoint(&mut self) -> Result<(), StoreError> {
        let d = self.depth;
        self.depth = d.saturating_sub(1);
        run(self.conn, &format!("RELEASE sp{d}"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Direction;

    /// Range scans run from the statement cache as prepared: no re-parse per call.
    #[tokio::test]
    async fn range_scans_are_not_reprepared() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db.sqlite")).unwrap();
        for i in 0..5u8 {
            store
                .write(move |tx: &mut dyn WriteTx| tx.put("t", &[b'k', i], b"v"))
                .await
                .unwrap();
            store
                .read(|tx| tx.range("t", b"k", Some(&[b'k', i + 1]), Direction::Forward, 10))
                .unwrap();
        }
        let pool = store.inner.readers.lock().unwrap();
        let conn = pool.first().expect("a pooled reader");
        let st = conn
            .prepare_cached(
                "SELECT k, v FROM kv WHERE tree = ?1 AND k >= ?2 AND k < ?3 ORDER BY k ASC LIMIT ?4",
            )
            .unwrap();
        assert_eq!(st.get_status(rusqlite::StatementStatus::RePrepare), 0);
    }

    /// A write to a tree caches read moves the generation on before the writer answers;
    /// audit records do not; a read snapshot caches under the value read before it began.
    #[tokio::test]
    async fn the_generation_moves_on_before_a_write_is_acknowledged() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db.sqlite")).unwrap();
        assert_eq!(store.generation(), 0);
        store
            .write(|tx: &mut dyn WriteTx| tx.put("trail.events", b"k", b"v"))
            .await
            .unwrap();
        assert_eq!(store.generation(), 0);
        store
            .write(|tx: &mut dyn WriteTx| tx.put("kms.keys", b"k", b"v"))
            .await
            .unwrap();
        assert_eq!(store.generation(), 1);
        store
            .write(|tx: &mut dyn WriteTx| tx.delete("kms.grants", b"nothing"))
            .await
            .unwrap();
        assert_eq!(store.generation(), 2);
        // A job that fails is rolled back, but counts: a spare reload, never a stale one.
        let failed = store
            .write(|tx: &mut dyn WriteTx| {
                tx.put("iam.users", b"k", b"v")?;
                Err::<(), _>(StoreError::Unavailable("no".into()))
            })
            .await;
        assert!(failed.is_err());
        assert_eq!(store.generation(), 3);
        // A snapshot keeps the value it began with, even when a write lands meanwhile.
        let (s2, seen) = (
            store.clone(),
            std::sync::Arc::new(std::sync::Mutex::new(None)),
        );
        let seen2 = seen.clone();
        store
            .read(move |tx| {
                let g = tx.generation();
                tx.get("kms.keys", b"k")?;
                *seen2.lock().unwrap() = Some((g, tx.generation()));
                Ok::<_, StoreError>(())
            })
            .unwrap();
        assert_eq!(*seen.lock().unwrap(), Some((Some(3), Some(3))));
        drop(s2);
    }

    /// The database and its WAL are readable by their owner only, new or not, and what a
    /// write deletes does not stay in the file.
    #[tokio::test]
    async fn database_files_are_owner_only_and_deleted_values_are_zeroed() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db.sqlite");
        // An existing database from before (SQLite's default mode).
        drop(Connection::open(&db).unwrap());
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
        let store = Store::open(&db).unwrap();
        let secret = b"secret-value-0123456789-secret-value";
        store
            .write(move |tx: &mut dyn WriteTx| tx.put("t", b"k", secret))
            .await
            .unwrap();
        store
            .write(move |tx: &mut dyn WriteTx| tx.delete("t", b"k"))
            .await
            .unwrap();
        for p in [db.clone(), wal_path(&db)] {
            let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", p.display());
        }
        drop(store);
        let c = Connection::open(&db).unwrap();
        c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .unwrap();
        drop(c);
        let bytes = std::fs::read(&db).unwrap();
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret),
            "a deleted value is still in the database file"
        );
    }
}
