//! The Ferrogate server: configuration, the data directory, the composition root ([`App`])
//! and the HTTP listener. Every request takes one path (shared/DESIGN.md §2), implemented
//! in [`dispatch`]: authenticate (SigV4) → route → decode once → authorize → handle in a
//! store transaction → audit in that same transaction → encode.
#![deny(missing_docs)]

mod app;
mod datadir;
pub mod dispatch;
mod http;
pub mod launcher;

pub use app::App;
pub use datadir::{Credentials, DataDir, DataDirError};
pub use http::{serve, serve_with, Limits, Listening};

use std::net::SocketAddr;
use std::path::PathBuf;

use ferrogate_types::AccountId;

/// Server configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on; port 0 picks a free port (printed at start).
    pub listen: SocketAddr,
    /// The data directory (database, root key, credentials).
    pub data_dir: PathBuf,
    /// The account created on first start.
    pub account_id: AccountId,
}
