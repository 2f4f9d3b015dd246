//! The change generation: a counter that tells a cache whether what it loaded may have
//! changed.
//!
//! The writer notes whether a batch wrote to any tree a cache may read (every tree but the
//! append-only logs in [`UNCACHED`]) and, once the batch's `COMMIT` has returned (so that a
//! snapshot opened from then on sees it) and *before* any caller of the batch is answered,
//! moves the counter on. A value loaded from a snapshot opened after the counter read `g` is
//! therefore exact for as long as the counter still reads `g`: any change acknowledged to
//! anyone has already moved it. Writes that are rolled back still move it (a spare reload,
//! never a stale answer).
//!
//! [`crate::ReadTx::generation`] gives the value a read snapshot may cache under.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

/// Tree-name prefixes of append-only logs that no cache reads: writes to them (every
/// request's audit record, log events) leave the generation alone. A tree that is missing
/// here only costs caches a reload; a tree a cache reads must never be listed.
pub const UNCACHED: &[&str] = &["trail.", "logs."];

/// The store-wide counter.
#[derive(Debug, Default)]
pub(crate) struct Counter(AtomicU64);

impl Counter {
    pub(crate) fn current(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// Whether one batch wrote a tree that caches may read.
#[derive(Debug, Default)]
pub(crate) struct Written(Cell<bool>);

impl Written {
    /// Notes a write to `tree`.
    pub(crate) fn note(&self, tree: &str) {
        if !self.0.get() && !UNCACHED.iter().any(|p| tree.starts_with(p)) {
            self.0.set(true);
        }
    }

    /// Moves the counter on if the batch wrote such a tree (after its commit).
    pub(crate) fn publish(&self, counter: &Counter) {
        if self.0.replace(false) {
            counter.0.fetch_add(1, Ordering::SeqCst);
        }
    }
}
