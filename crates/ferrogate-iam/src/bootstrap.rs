//! First start: the account, the AWS managed policies Ferrogate ships, and the root user's
//! access key.

use ferrogate_store::seal::Sealer;
use ferrogate_store::{Store, StoreError, WriteTx};
use ferrogate_types::{AccountId, Timestamp};
use zeroize::Zeroizing;

use crate::model::{keys, tables, Account, ManagedPolicy, PolicyVersion};
use crate::IamError;

/// AWS managed policies present in every installation (`arn:aws:iam::aws:policy/…`).
const AWS_MANAGED: &[(&str, &str, &str)] = &[(
    "AdministratorAccess",
    "ANPAIWMBCKSKIEE64ZLYK",
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
)];

/// The root credentials created on first start.
pub struct RootCredentials {
    /// The access key id.
    pub access_key_id: String,
    /// The secret (shown once, then stored 0600 by the caller).
    pub secret_access_key: Zeroizing<String>,
}

impl std::fmt::Debug for RootCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RootCredentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// Creates `account` with a root access key if it does not exist. Returns the new
/// credentials, or `None` when the account already existed.
pub async fn ensure_account(
    store: &Store,
    sealer: std::sync::Arc<dyn Sealer>,
    account: &AccountId,
    now: Timestamp,
) -> Result<Option<RootCredentials>, IamError> {
    let id = account.to_string();
    store
        .write(move |tx: &mut dyn WriteTx| {
            seed_aws_managed(tx, now)?;
            if tables::ACCOUNTS.get(tx, &keys::account(&id))?.is_some() {
                return Ok(None);
            }
            create_account_record(tx, &id, now)?;
            let (key, secret) = crate::api::create_key(tx, sealer.as_ref(), &id, None, now)?;
            Ok(Some(RootCredentials {
                access_key_id: key.access_key_id,
                secret_access_key: secret,
            }))
        })
        .await
}

/// Records an account (first start, or `organizations:CreateAccount`).
pub(crate) fn create_account_record(
    tx: &mut dyn WriteTx,
    id: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    tables::ACCOUNTS.put(
        tx,
        &keys::account(id),
        &Account {
            id: id.to_owned(),
            created: now,
        },
    )
}

fn seed_aws_managed(tx: &mut dyn WriteTx, now: Timestamp) -> Result<(), StoreError> {
    for (name, id, doc) in AWS_MANAGED {
        let key = keys::policy("aws", name);
        if tables::POLICIES.get(tx, &key)?.is_some() {
            continue;
        }
        let p = ManagedPolicy {
            name: (*name).into(),
            policy_id: (*id).into(),
            path: "/".into(),
            account: "aws".into(),
            description: Some("Provides full access to AWS services and resources.".into()),
            default_version_id: "v1".into(),
            versions: vec![PolicyVersion {
                version_id: "v1".into(),
                document: (*doc).into(),
                create_date: now,
            }],
            attachment_count: 0,
            create_date: now,
            update_date: now,
            tags: Vec::new(),
        };
        tables::POLICIES.put(tx, &key, &p)?;
    }
    Ok(())
}

/// The root user's credentials read back from the database: its oldest active access key,
/// with the secret unsealed. For a credentials file lost to a crash between the first
/// commit and the file's write, or removed by hand. `None` when the root user has no
/// active access key (the operator removed them: nothing is recreated behind their back).
pub fn recover_root_credentials(
    store: &Store,
    sealer: &dyn Sealer,
    account: &AccountId,
) -> Result<Option<RootCredentials>, IamError> {
    use base64::Engine as _;
    let id = account.to_string();
    let keys = store.read(|tx| crate::api::keys_of(tx, &id, None))?;
    let Some(key) = keys
        .into_iter()
        .find(|k| k.status == crate::model::KeyStatus::Active)
    else {
        return Ok(None);
    };
    let sealed = base64::engine::general_purpose::STANDARD
        .decode(&key.sealed_secret)
        .map_err(|_| {
            IamError::Internal(StoreError::Engine("a sealed secret is not base64".into()))
        })?;
    let secret = sealer.open(&sealed, key.access_key_id.as_bytes())?;
    let secret = String::from_utf8(secret.to_vec()).map_err(|_| {
        IamError::Internal(StoreError::Engine("a sealed secret is not UTF-8".into()))
    })?;
    Ok(Some(RootCredentials {
        access_key_id: key.access_key_id,
        secret_access_key: Zeroizing::new(secret),
    }))
}
