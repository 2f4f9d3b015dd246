//! The SigV4 credential lookup: access key id → secret (unsealed) and principal.
//!
//! Lookups are cached in memory, because every request needs one. The cache is exact, not
//! eventually consistent: every entry carries the *generation* read before it was loaded,
//! and [`IamCredentials::invalidate`] (called after any IAM write commits, before its
//! response is sent) moves the generation on, so a key deactivated or deleted by a
//! completed request is never honoured by a later one.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use ferrogate_store::seal::Sealer;
use ferrogate_store::Store;
use ferrogate_types::{AccountId, Principal, PrincipalKind, SessionContext, Timestamp};
use ferrogate_wire::sigv4::{CredentialLookup, LookupError, SecretKey};

use crate::model::{keys, tables, KeyStatus};

/// Cached entries beyond this many are dropped wholesale (the cache refills on demand).
const MAX_CACHED: usize = 10_000;

struct Cached {
    generation: u64,
    secret: SecretKey,
    principal: Principal,
}

/// Looks credentials up in the store.
#[derive(Clone)]
pub struct IamCredentials {
    store: Store,
    sealer: Arc<dyn Sealer>,
    generation: Arc<AtomicU64>,
    cache: Arc<Mutex<HashMap<String, Cached>>>,
}

impl IamCredentials {
    /// A lookup over `store`, opening secrets with `sealer`.
    pub fn new(store: Store, sealer: Arc<dyn Sealer>) -> Self {
        Self {
            store,
            sealer,
            generation: Arc::default(),
            cache: Arc::default(),
        }
    }

    /// Forgets every cached credential. Call after any committed IAM change.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut c) = self.cache.lock() {
            c.clear();
        }
    }

    fn cached(&self, akid: &str) -> Option<(SecretKey, Principal)> {
        let generation = self.generation.load(Ordering::SeqCst);
        let cache = self.cache.lock().ok()?;
        cache
            .get(akid)
            .filter(|c| c.generation == generation)
            .map(|c| (c.secret.clone(), c.principal.clone()))
    }

    fn remember(&self, akid: &str, generation: u64, secret: &SecretKey, principal: &Principal) {
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= MAX_CACHED {
                cache.clear();
            }
            cache.insert(
                akid.to_owned(),
                Cached {
                    generation,
                    secret: secret.clone(),
                    principal: principal.clone(),
                },
            );
        }
    }
}

impl CredentialLookup for IamCredentials {
    type Identity = Principal;

    fn lookup(
        &self,
        akid: &str,
        token: Option<&str>,
        now: Timestamp,
    ) -> Result<(SecretKey, Principal), LookupError> {
        if token.is_none() {
            if let Some(hit) = self.cached(akid) {
                return Ok(hit);
            }
        }
        // Read the generation before the store: an invalidation that happens while we load
        // makes this entry stale at once.
        let generation = self.generation.load(Ordering::SeqCst);
        let (secret, principal) = self.load(akid, token, now)?;
        if token.is_none() {
            self.remember(akid, generation, &secret, &principal);
        }
        Ok((secret, principal))
    }
}

impl IamCredentials {
    fn load(
        &self,
        akid: &str,
        token: Option<&str>,
        now: Timestamp,
    ) -> Result<(SecretKey, Principal), LookupError> {
        if akid.is_empty() || akid.len() > 128 {
            return Err(LookupError::UnknownAccessKey);
        }
        if akid.starts_with("ASIA") {
            return self.load_session(akid, token, now);
        }
        // A session token with long-term credentials is not valid.
        if token.is_some() {
            return Err(LookupError::InvalidToken);
        }
        let found = self.store.read(|tx| {
            let Some(key) = tables::KEYS.get(tx, &keys::key(akid))? else {
                return Ok(None);
            };
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
                kind: PrincipalKind::IamUser {
                    user_name: u.name.clone(),
                },
                account,
            },
            // A key whose user is gone is unusable (DeleteUser refuses while keys exist,
            // so this is only reachable through corruption): refuse.
            (Some(_), None) => return Err(LookupError::UnknownAccessKey),
        };
        let _ = now;
        Ok((self.unseal(akid, &key.sealed_secret)?, principal))
    }
}

impl IamCredentials {
    /// Temporary credentials: the session token must be the one issued with the key (compared
    /// by SHA-256 in constant time) and the session must not have expired.
    fn load_session(
        &self,
        akid: &str,
        token: Option<&str>,
        now: Timestamp,
    ) -> Result<(SecretKey, Principal), LookupError> {
        let token = token.ok_or(LookupError::InvalidToken)?;
        let session = match self
            .store
            .read(|tx| tables::SESSIONS.get(tx, &keys::key(akid)))
        {
            Ok(Some(s)) => s,
            Ok(None) => return Err(LookupError::UnknownAccessKey),
            Err(e) => {
                tracing::error!(error = %e, "session lookup failed");
                return Err(LookupError::Unavailable);
            }
        };
        let presented = crate::api::token_hash(token);
        let same = presented.len() == session.token_sha256.len()
            && presented
                .bytes()
                .zip(session.token_sha256.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        if !same {
            return Err(LookupError::InvalidToken);
        }
        if now >= session.expiration {
            return Err(LookupError::ExpiredToken);
        }
        // A session belongs to the role it was issued for, by unique id: if that role was
        // deleted (and perhaps recreated under the same name), the session is void.
        let role_key = keys::entity(
            &session.account,
            crate::model::EntityKind::Role,
            &session.role_name,
        );
        match self.store.read(|tx| tables::ROLES.get(tx, &role_key)) {
            Ok(Some(r)) if r.role_id == session.role_id => {}
            Ok(_) => return Err(LookupError::InvalidToken),
            Err(_) => return Err(LookupError::Unavailable),
        }
        let account = AccountId::parse(&session.account).map_err(|_| LookupError::Unavailable)?;
        let role_arn = format!(
            "arn:aws:iam::{}:role{}{}",
            session.account, session.role_path, session.role_name
        );
        let principal = Principal {
            arn: format!(
                "arn:aws:sts::{}:assumed-role/{}/{}",
                session.account, session.role_name, session.session_name
            ),
            principal_id: format!("{}:{}", session.role_id, session.session_name),
            access_key_id: Some(akid.to_owned()),
            kind: PrincipalKind::AssumedRole {
                role_name: session.role_name.clone(),
                role_arn,
                role_id: session.role_id.clone(),
                session_name: session.session_name.clone(),
                session: SessionContext {
                    creation_date: session.created,
                    mfa_authenticated: false,
                },
            },
            account,
        };
        Ok((self.unseal(akid, &session.sealed_secret)?, principal))
    }

    fn unseal(&self, akid: &str, sealed_b64: &str) -> Result<SecretKey, LookupError> {
        let sealed = base64::engine::general_purpose::STANDARD
            .decode(sealed_b64)
            .map_err(|_| LookupError::Unavailable)?;
        let secret = self.sealer.open(&sealed, akid.as_bytes()).map_err(|e| {
            tracing::error!(error = %e, access_key_id = akid, "cannot unseal a secret");
            LookupError::Unavailable
        })?;
        let secret = String::from_utf8(secret.to_vec()).map_err(|_| LookupError::Unavailable)?;
        Ok(SecretKey::new(secret))
    }
}
