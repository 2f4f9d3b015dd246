//! Ferrogate's embedded store: ordered key-value trees behind a narrow engine trait, typed
//! tables on top, one transaction per request, and group commit.
//!
//! - [`engine`]: the [`ReadTx`]/[`WriteTx`] traits every service programs against. They are
//!   deliberately small (get, put, delete, ordered range) so that a PostgreSQL engine can
//!   be added without touching a service (garage `db/lib.rs`).
//! - [`sqlite`]: the embedded engine. WAL, `synchronous=NORMAL` plus an explicit
//!   `fdatasync` of the WAL before any caller is answered: a write that was acknowledged
//!   survives `kill -9` and power loss. If that sync fails, the store stops (writes and
//!   reads refuse) until it is reopened.
//! - `writer`: the single writer thread. Concurrent requests' transactions are batched
//!   into one SQLite transaction, each inside its own savepoint, and committed together;
//!   every caller is answered only after the WAL holding that commit is synced (group
//!   commit).
//! - [`generation`]: the change counter caches check, so that none is ever stale.
//! - [`table`]: typed records with a version byte and an upgrade path from day one.
//! - [`key`]: order-preserving composite keys.
//! - [`seal`]: the root key file and AES-256-GCM sealing of secrets stored in the database.
#![deny(missing_docs)]

mod checkpoint;
pub mod engine;
mod error;
pub mod generation;
pub mod key;
pub mod seal;
pub mod sqlite;
pub mod table;
mod writer;

pub use engine::{Direction, ReadTx, TxRef, WriteTx};
pub use error::StoreError;
pub use key::Key;
pub use sqlite::Store;
pub use table::{Record, Table};
