use thiserror::Error;

/// A storage failure. Every variant is internal to Ferrogate: callers answer the client
/// with a generic internal error and log the details with the request id.
#[derive(Debug, Clone, Error)]
pub enum StoreError {
    /// The engine failed (I/O, corruption, full disk).
    #[error("storage engine error: {0}")]
    Engine(String),
    /// A stored record could not be decoded.
    #[error("corrupt record in tree {tree}: {reason}")]
    Corrupt {
        /// The tree.
        tree: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// The writer thread is gone (shutting down) or a job panicked.
    #[error("the store is not accepting writes: {0}")]
    Unavailable(String),
    /// Sealing or unsealing a secret failed.
    #[error("sealed secret could not be opened")]
    Seal,
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Engine(e.to_string())
    }
}
