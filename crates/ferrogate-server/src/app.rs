//! The composition root: opens the store and the root key, and hands each part only what
//! it needs.

use std::sync::Arc;

use ferrogate_iam::authz::Authorizer;
use ferrogate_iam::bootstrap::{ensure_account, RootCredentials};
use ferrogate_iam::credentials::IamCredentials;
use ferrogate_store::seal::{FileRootKey, Sealer};
use ferrogate_store::Store;
use ferrogate_types::{AccountId, Clock, SystemClock};

use crate::datadir::{Credentials, DataDir};

/// Everything a request needs.
#[derive(Clone)]
pub struct App {
    pub(crate) store: Store,
    pub(crate) sealer: Arc<dyn Sealer>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) credentials: IamCredentials,
    pub(crate) authorizer: Authorizer,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The data directory.
    #[error(transparent)]
    DataDir(#[from] crate::DataDirError),
    /// The root key.
    #[error(transparent)]
    RootKey(#[from] ferrogate_store::seal::RootKeyError),
    /// The database.
    #[error("database: {0}")]
    Store(#[from] ferrogate_store::StoreError),
    /// Bootstrapping the account.
    #[error("creating the account: {0}")]
    Bootstrap(#[from] ferrogate_iam::IamError),
}

impl App {
    /// Opens the data directory, the root key and the database, and creates `account` with
    /// a root access key on first start (written 0600 to the data directory).
    pub async fn open(
        dir: &DataDir,
        account: &AccountId,
    ) -> Result<(Self, Option<RootCredentials>), StartError> {
        Self::open_with_clock(dir, account, Arc::new(SystemClock)).await
    }

    /// As [`App::open`], with an injected clock.
    pub async fn open_with_clock(
        dir: &DataDir,
        account: &AccountId,
        clock: Arc<dyn Clock>,
    ) -> Result<(Self, Option<RootCredentials>), StartError> {
        let sealer: Arc<dyn Sealer> = Arc::new(FileRootKey::load_or_create(&dir.root_key())?);
        let store = Store::open(&dir.database())?;
        let created = ensure_account(&store, sealer.clone(), account, clock.now()).await?;
        if let Some(c) = &created {
            dir.write_credentials(&Credentials {
                account_id: account.to_string(),
                access_key_id: c.access_key_id.clone(),
                secret_access_key: c.secret_access_key.clone(),
                endpoint: None,
            })?;
        }
        let app = Self {
            credentials: IamCredentials::new(store.clone(), sealer.clone()),
            authorizer: Authorizer::new(),
            store,
            sealer,
            clock,
        };
        Ok((app, created))
    }

    /// The store (for tests and benchmarks).
    pub fn store(&self) -> &Store {
        &self.store
    }
}
