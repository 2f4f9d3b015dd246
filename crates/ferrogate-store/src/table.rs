//! Typed tables: records serialized as one version byte followed by JSON.
//!
//! Every stored type implements [`Record`] from its first day, so that a later version can
//! upgrade old bytes on read (garage's `Migrate`). JSON keeps the database inspectable with
//! the `sqlite3` shell; secrets are never stored in clear (see [`crate::seal`]).

use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::engine::{prefix_end, Direction, ReadTx, WriteTx};
use crate::StoreError;

/// A stored type.
pub trait Record: Serialize + DeserializeOwned {
    /// The current version, written as the first byte. Bump it when the layout changes
    /// and teach [`Record::upgrade`] the old one.
    const VERSION: u8 = 1;

    /// Decodes a record written with an older `version`.
    fn upgrade(version: u8, json: &[u8]) -> Result<Self, String> {
        let _ = json;
        Err(format!("no upgrade from version {version}"))
    }
}

/// A tree of records of one type.
#[derive(Debug)]
pub struct Table<R> {
    tree: &'static str,
    _record: PhantomData<fn() -> R>,
}

impl<R> Clone for Table<R> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<R> Copy for Table<R> {}

impl<R: Record> Table<R> {
    /// The table stored in `tree`.
    pub const fn new(tree: &'static str) -> Self {
        Self {
            tree,
            _record: PhantomData,
        }
    }

    /// The tree name.
    pub fn tree(&self) -> &'static str {
        self.tree
    }

    /// Encodes a record.
    pub fn encode(record: &R) -> Result<Vec<u8>, StoreError> {
        let mut out = vec![R::VERSION];
        serde_json::to_writer(&mut out, record)
            .map_err(|e| StoreError::Engine(format!("encode: {e}")))?;
        Ok(out)
    }

    fn decode(&self, bytes: &[u8]) -> Result<R, StoreError> {
        let corrupt = |reason: String| StoreError::Corrupt {
            tree: self.tree,
            reason,
        };
        let (&version, json) = bytes
            .split_first()
            .ok_or_else(|| corrupt("empty record".into()))?;
        if version == R::VERSION {
            serde_json::from_slice(json).map_err(|e| corrupt(e.to_string()))
        } else if version < R::VERSION {
            R::upgrade(version, json).map_err(corrupt)
        } else {
            Err(corrupt(format!(
                "version {version} is newer than this build's {}",
                R::VERSION
            )))
        }
    }

    /// The record at `key`.
    pub fn get(&self, tx: &dyn ReadTx, key: &[u8]) -> Result<Option<R>, StoreError> {
        tx.get(self.tree, key)?.map(|b| self.decode(&b)).transpose()
    }

    /// Stores a record.
    pub fn put(&self, tx: &mut dyn WriteTx, key: &[u8], record: &R) -> Result<(), StoreError> {
        tx.put(self.tree, key, &Self::encode(record)?)
    }

    /// Stores already-encoded bytes (from [`Table::encode`], done outside the writer).
    pub fn put_encoded(
        &self,
        tx: &mut dyn WriteTx,
        key: &[u8],
        bytes: &[u8],
    ) -> Result<(), StoreError> {
        tx.put(self.tree, key, bytes)
    }

    /// Removes the record at `key`.
    pub fn delete(&self, tx: &mut dyn WriteTx, key: &[u8]) -> Result<bool, StoreError> {
        tx.delete(self.tree, key)
    }

    /// Up to `limit` records whose keys start with `prefix`, in key order, starting after
    /// `after` (exclusive) when given (before it, for [`Direction::Reverse`]).
    pub fn scan(
        &self,
        tx: &dyn ReadTx,
        prefix: &[u8],
        after: Option<&[u8]>,
        direction: Direction,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, R)>, StoreError> {
        let end = prefix_end(prefix);
        let (start, end): (Vec<u8>, Option<Vec<u8>>) = match (direction, after) {
            (Direction::Forward, Some(a)) => {
                let mut s = a.to_vec();
                s.push(0);
                (s, end)
            }
            (Direction::Reverse, Some(a)) => (prefix.to_vec(), Some(a.to_vec())),
            (_, None) => (prefix.to_vec(), end),
        };
        let rows = tx.range(self.tree, &start, end.as_deref(), direction, limit)?;
        rows.into_iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| Ok((k, self.decode(&v)?)))
            .collect()
    }
}
