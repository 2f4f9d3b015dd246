//! The Ferrogate server: configuration, the data directory, the composition root ([`App`],
//! where every service is registered) and the HTTP listener. Every request takes one path:
//! [`dispatch`] authenticates (SigV4) and routes; the service's operation table
//! (`ferrogate_api`) decodes once, authorizes, handles in a store transaction, audits in
//! that same transaction and encodes.
#![deny(missing_docs)]

mod app;
mod awslogs;
mod datadir;
pub mod dispatch;
mod heads;
mod http;
mod keyflow;
pub mod launcher;
mod tasknet;

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
