//! The composition root: opens the store and the root key, and hands each part only what
//! it needs.

use std::sync::Arc;

use ferrogate_api::{Executor, Host, Registry};
use ferrogate_iam::authz::Authorizer;
use ferrogate_iam::bootstrap::{ensure_account, recover_root_credentials, RootCredentials};
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
    pub(crate) kms: Arc<ferrogate_kms::Kms>,
    pub(crate) ecs: Arc<ferrogate_ecs::Ecs>,
    /// CloudWatch Logs (the awslogs driver calls it through `exec`).
    pub(crate) logs: Arc<ferrogate_logs::Logs>,
    /// Secrets Manager (the task launcher will resolve `secrets` through `exec`).
    pub(crate) secrets: Arc<ferrogate_secrets::Secrets>,
    /// Systems Manager Parameter Store.
    pub(crate) ssm: Arc<ferrogate_ssm::Ssm>,
    pub(crate) ec2: Arc<ferrogate_ec2::Ec2>,
    /// Runs every operation of every service (clients' and services' own calls).
    pub(crate) exec: Executor,
    /// The services requests are routed to.
    pub(crate) registry: Arc<Registry>,
    account: AccountId,
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
    /// A database without its root key: every secret in it is sealed under a key that is
    /// gone. A new key would only make them unreadable for good.
    #[error("{database} exists but its root key {root_key} does not: restore the root key from your backup (refusing to create a new one, which could never open the secrets sealed in the database)")]
    RootKeyMissing {
        /// The database.
        database: String,
        /// The root key file.
        root_key: String,
    },
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
        if dir.database().exists() && !dir.root_key().exists() {
            return Err(StartError::RootKeyMissing {
                database: dir.database().display().to_string(),
                root_key: dir.root_key().display().to_string(),
            });
        }
        let sealer: Arc<dyn Sealer> = Arc::new(FileRootKey::load_or_create(&dir.root_key())?);
        let store = Store::open(&dir.database())?;
        let created = ensure_account(&store, sealer.clone(), account, clock.now()).await?;
        let recovered = if created.is_none() && !dir.has_credentials() {
            // A crash between the first commit and the file's write, or a file removed by
            // hand: the secret is sealed in the database, so write the file again.
            let recovered = recover_root_credentials(&store, sealer.as_ref(), account)?;
            match &recovered {
                Some(_) => {
                    tracing::warn!("the credentials file was missing; rewrote it from the database");
                }
                None => tracing::warn!(
                    "the credentials file is missing and the root user has no active access key: no credentials file is written"
                ),
            }
            recovered
        } else {
            None
        };
        if let Some(c) = created.as_ref().or(recovered.as_ref()) {
            dir.write_credentials(&Credentials {
                account_id: account.to_string(),
                access_key_id: c.access_key_id.clone(),
                secret_access_key: c.secret_access_key.clone(),
                endpoint: None,
            })?;
        }
        let kms = ferrogate_kms::Kms::new();
        let ecs = ferrogate_ecs::Ecs::new(kms.clone());
        let ec2 = Arc::new(ferrogate_ec2::Ec2::new());
        let credentials = IamCredentials::new(store.clone(), sealer.clone());
        let authorizer = Authorizer::new();
        let dropped = credentials.clone();
        let exec = Executor::new(Host {
            store: store.clone(),
            sealer: sealer.clone(),
            clock: clock.clone(),
            decider: Arc::new(authorizer),
            audit: Arc::new(ferrogate_trail::api::TrailLog),
            invalidate: Arc::new(move || dropped.invalidate()),
        });
        let logs = ferrogate_logs::Logs::new(kms.clone(), exec.clone());
        let secrets = ferrogate_secrets::Secrets::new(kms.clone(), exec.clone());
        let ssm = ferrogate_ssm::Ssm::new(kms.clone(), exec.clone());
        // Every service Ferrogate serves: one line each.
        let registry = Registry::new()
            .with(Arc::new(ferrogate_iam::api::Iam))
            .with(Arc::new(ferrogate_iam::api::Sts))
            .with(Arc::new(ferrogate_iam::org::api::Organizations))
            .with(kms.clone())
            .with(ecs.clone())
            .with(Arc::new(ferrogate_trail::api::CloudTrail))
            .with(ec2.clone())
            .with(logs.clone())
            .with(secrets.clone())
            .with(ssm.clone());
        let app = Self {
            credentials,
            ecs,
            ec2,
            kms,
            logs,
            secrets,
            ssm,
            exec,
            registry: Arc::new(registry),
            account: account.clone(),
            store,
            sealer,
            clock,
        };
        Ok((app, created))
    }

    /// Applies what time does to KMS keys (automatic rotation, deletion at the end of the
    /// waiting period, expiry of imported material) with an `AwsServiceEvent` record for
    /// each, in one durable transaction, then to log events (retention). The server runs
    /// it periodically; tests call it after moving the clock.
    pub async fn run_maintenance(&self) -> Result<usize, ferrogate_store::StoreError> {
        let sealer = self.sealer.clone();
        let now = self.clock.now();
        let principal =
            ferrogate_types::Principal::service(self.account.clone(), "kms.amazonaws.com");
        let changed = self
            .store
            .write(move |tx| {
                let ctx = ferrogate_api::Ctx {
                    principal: &principal,
                    now,
                    region: "",
                    request_id: "",
                    sealer: &*sealer,
                };
                let events =
                    ferrogate_kms::maintenance::maintain(tx, &ctx).map_err(|e| match e {
                        ferrogate_kms::KmsError::Internal(s) => s,
                        other => ferrogate_store::StoreError::Unavailable(other.to_string()),
                    })?;
                for e in &events {
                    let resource = ferrogate_trail::record::RecordResource {
                        arn: e.key_arn.clone(),
                        account_id: e.account.clone(),
                        kind: "AWS::KMS::Key".into(),
                    };
                    let record = ferrogate_trail::EventRecord::service_event(
                        "kms.amazonaws.com",
                        &e.account,
                        &e.region,
                        e.name,
                        now,
                        vec![resource],
                    );
                    let lookup = vec![ferrogate_trail::LookupResource {
                        resource_type: "AWS::KMS::Key".into(),
                        resource_name: e.key_arn.clone(),
                    }];
                    ferrogate_trail::PreparedEvent::new(
                        &record,
                        &e.account,
                        &e.region,
                        Some("kms.amazonaws.com"),
                        lookup,
                        now.millis(),
                    )?
                    .append(tx)?;
                }
                Ok::<_, ferrogate_store::StoreError>(events.len())
            })
            .await?;
        let expired = self.expire_log_events().await?;
        let purged = self.purge_deleted_secrets().await?;
        Ok(changed + expired + purged)
    }

    /// Deletes the secrets whose recovery window has ended (Secrets Manager's scheduled
    /// deletion); the number deleted.
    pub async fn purge_deleted_secrets(&self) -> Result<usize, ferrogate_store::StoreError> {
        let now = self.clock.now();
        let purged = self
            .store
            .write(move |tx| {
                ferrogate_secrets::maintenance::purge_deleted(tx, now).map_err(|e| match e {
                    ferrogate_secrets::SecretsError::Internal(s) => s,
                    other => ferrogate_store::StoreError::Unavailable(other.to_string()),
                })
            })
            .await?;
        for arn in &purged {
            tracing::info!(secret = %arn, "secret deleted at the end of its recovery window");
        }
        Ok(purged.len())
    }

    /// Deletes the log events that have outlived their group's retention (CloudWatch
    /// Logs' retention, enforced here rather than on read alone); the number of groups
    /// that lost events.
    pub async fn expire_log_events(&self) -> Result<usize, ferrogate_store::StoreError> {
        let now = self.clock.now().millis();
        let expired = self
            .store
            .write(move |tx| {
                ferrogate_logs::retention::maintain(tx, now).map_err(|e| match e {
                    ferrogate_logs::LogsError::Internal(s) => s,
                    other => ferrogate_store::StoreError::Unavailable(other.to_string()),
                })
            })
            .await?;
        if expired.groups > 0 {
            tracing::info!(
                groups = expired.groups,
                bytes = expired.bytes,
                "expired log events deleted"
            );
        }
        Ok(expired.groups)
    }

    /// The CloudWatch Logs service (the awslogs driver appends through it, with
    /// `ferrogate_api::Client` as the task's execution role).
    pub fn logs(&self) -> &Arc<ferrogate_logs::Logs> {
        &self.logs
    }

    /// The Secrets Manager service (the task launcher resolves `secrets` through it, with
    /// `ferrogate_api::Client` as the task's execution role).
    pub fn secrets(&self) -> &Arc<ferrogate_secrets::Secrets> {
        &self.secrets
    }

    /// The Parameter Store service (the task launcher resolves `secrets` named by SSM
    /// parameters through it).
    pub fn ssm(&self) -> &Arc<ferrogate_ssm::Ssm> {
        &self.ssm
    }

    /// The store (for tests and benchmarks).
    pub fn store(&self) -> &Store {
        &self.store
    }
}
