//! The narrow engine interface: ordered byte-string trees with transactions.

use crate::StoreError;

/// Key-value pairs returned by a range scan.
pub type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// Scan order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Ascending keys.
    Forward,
    /// Descending keys.
    Reverse,
}

/// A consistent read-only view (a snapshot for its whole lifetime).
pub trait ReadTx {
    /// The change generation this snapshot's reads are at least as new as (see
    /// [`crate::generation`]): a cache may keep what it read here under this value, and use
    /// it while [`crate::Store::generation`] (read before the user's own snapshot) still
    /// equals it. `None` where nothing may be cached (the writer's transaction, which sees
    /// uncommitted writes).
    fn generation(&self) -> Option<u64> {
        None
    }

    /// The value stored at `key` in `tree`.
    fn get(&self, tree: &'static str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;

    /// Up to `limit` entries with `start <= key < end` (`end = None`: unbounded), in order.
    fn range(
        &self,
        tree: &'static str,
        start: &[u8],
        end: Option<&[u8]>,
        direction: Direction,
        limit: usize,
    ) -> Result<Entries, StoreError>;
}

/// A read-write transaction. Only the writer thread holds one.
pub trait WriteTx: ReadTx {
    /// Inserts or replaces.
    fn put(&mut self, tree: &'static str, key: &[u8], value: &[u8]) -> Result<(), StoreError>;
    /// Removes; true if something was removed.
    fn delete(&mut self, tree: &'static str, key: &[u8]) -> Result<bool, StoreError>;
    /// Opens a nested savepoint.
    fn savepoint(&mut self) -> Result<(), StoreError>;
    /// Undoes everything since the innermost open savepoint and closes it.
    fn rollback_savepoint(&mut self) -> Result<(), StoreError>;
    /// Keeps everything since the innermost open savepoint and closes it.
    fn release_savepoint(&mut self) -> Result<(), StoreError>;
}

/// A transaction handed to a handler: a read snapshot for read-only operations, the
/// writer's transaction for the others.
pub enum TxRef<'a> {
    /// A read-only snapshot.
    Read(&'a dyn ReadTx),
    /// The writer's transaction.
    Write(&'a mut dyn WriteTx),
}

impl TxRef<'_> {
    /// Reads, in either kind.
    pub fn read(&self) -> &dyn ReadTx {
        match self {
            TxRef::Read(r) => *r,
            TxRef::Write(w) => &**w,
        }
    }

    /// Writes; an error if a handler that writes was given a read snapshot (a bug in the
    /// operation's `read_only` declaration, refused rather than silently lost).
    pub fn write(&mut self) -> Result<&mut dyn WriteTx, StoreError> {
        match self {
            TxRef::Read(_) => Err(StoreError::Unavailable(
                "a read-only operation tried to write".into(),
            )),
            TxRef::Write(w) => Ok(&mut **w),
        }
    }
}

/// Runs `f` inside a savepoint: its writes are kept if it returns `Ok` and undone if it
/// returns `Err`, leaving the rest of the transaction as it was. This is how a failed
/// request changes nothing while its audit record is still written.
pub fn with_savepoint<T, E>(
    tx: &mut dyn WriteTx,
    f: impl FnOnce(&mut dyn WriteTx) -> Result<T, E>,
) -> Result<Result<T, E>, StoreError> {
    tx.savepoint()?;
    let r = f(tx);
    if r.is_ok() {
        tx.release_savepoint()?;
    } else {
        tx.rollback_savepoint()?;
    }
    Ok(r)
}

/// The smallest key greater than every key starting with `prefix`, or `None` when the
/// prefix is all `0xff` (no upper bound).
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_ends() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(&[1, 0xff]), Some(vec![2]));
        assert_eq!(prefix_end(&[0xff, 0xff]), None);
        assert_eq!(prefix_end(b""), None);
    }
}
