//! The SigV4 credential lookup: access key id → secret (unsealed) and principal.

use std::sync::Arc;

use base64::Engine as _;
use ferrogate_store::seal::Sealer;
use ferrogate_store::Store;
use ferrogate_types::{AccountId, Principal, PrincipalKind, Timestamp};
use ferrogate_wire::sigv4::{CredentialLookup, LookupError, SecretKey};

use crate::model::{keys, tables, KeyStatus};

/// Looks credentials up in the store.
#[derive(Clone)]
pub struct IamCredentials {
    store: Store,
    sealer: Arc<dyn Sealer>,
}

impl IamCredentials {
    /// A lookup over `store`, opening secrets with `sealer`.
    pub fn new(store: Store, sealer: Arc<dyn Sealer>) -> Self {
        Self { store, sealer }
    }
}

impl CredentialLookup for IamCredentials {
    type Identity = Principal;

    fn lookup(&self, akid: &str, token: Option<&str>, _now: Timestamp) -> Result<(SecretKey, Principal), LookupError> {
        if akid.is_empty() || akid.len() > 128 {
            return Err(LookupError::UnknownAccessKey);
        }
        // Temporary credentials (`ASIA…` + session token) arrive with STS AssumeRole; until
        // then a session token is never valid.
        if token.is_some() {
            return Err(LookupError::InvalidToken);
        }
        let found = self.store.read(|tx| {
            let Some(key) = tables::KEYS.get(tx, &keys::key(akid))? else { return Ok(None) };
            let user = match &key.user_name {
                Some(name) => tables::USERS.get(tx, &keys::user(&key.account, name))?,
                None => None,
            };
            Ok::<_, ferrogate_store::StoreError>(Some((key, user)))
        });
        let (key, user) = match found {
            Ok(Some(kv)) => kv,
            Ok(None) => return Err(LookupError::UnknownAccessKey),
            Err(e) => {
                tracing::error!(error = %e, "credential lookup failed");
                return Err(LookupError::Unavailable);
            }
        };
        if key.status != KeyStatus::Active {
            return Err(LookupError::InactiveAccessKey);
        }
        let account = AccountId::parse(&key.account).map_err(|_| LookupError::Unavailable)?;
        let principal = match (&key.user_name, user) {
            (None, _) => Principal::root(account, Some(akid.to_owned())),
            (Some(_), Some(u)) => Principal {
                arn: u.arn(account.as_str()),
                principal_id: u.user_id.clone(),
                access_key_id: Some(akid.to_owned()),
                kind: PrincipalKind::IamUser { user_name: u.name.clone() },
                account,
            },
            // A key whose user is gone is unusable (DeleteUser refuses while keys exist,
            // so this is only reachable through corruption): refuse.
            (Some(_), None) => return Err(LookupError::UnknownAccessKey),
        };
        let sealed = base64::engine::general_purpose::STANDARD
            .decode(&key.sealed_secret)
            .map_err(|_| LookupError::Unavailable)?;
        let secret = self.sealer.open(&sealed, akid.as_bytes()).map_err(|e| {
            tracing::error!(error = %e, access_key_id = akid, "cannot unseal an access key's secret");
            LookupError::Unavailable
        })?;
        let secret = String::from_utf8(secret.to_vec()).map_err(|_| LookupError::Unavailable)?;
        Ok((SecretKey::new(secret), principal))
    }
}
