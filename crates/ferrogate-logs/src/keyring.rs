//! The groups' data keys: made, wrapped (by KMS under the group's customer managed key, or
//! under the server's root key for the service-owned key), and cached unwrapped in memory.
//!
//! # Why a cached key cannot outlive its KMS key
//! Every request that encrypts or decrypts under a KMS-wrapped key first checks, on the
//! request's own snapshot (or in the writer's transaction, for PutLogEvents), that the KMS
//! key is still usable for cryptography ([`kms_usable`], KMS's own state gate): a
//! `DisableKey`, a scheduled deletion or deleted imported material stops the very next
//! request, whatever the cache holds. A change to the key policy is seen when the cached
//! key is next unwrapped through KMS, at most [`KMS_TTL`] later ("It can take up to 5
//! minutes for this operation to take effect", API Reference, AssociateKmsKey).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lc_rs::aead::{LessSafeKey, UnboundKey, AES_256_GCM};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ferrogate_kms::resolve::{self, Aliases};
use ferrogate_kms::{state, KmsError};
use ferrogate_store::seal::Sealer;
use ferrogate_store::ReadTx;
use ferrogate_types::Timestamp;
use zeroize::Zeroizing;

use crate::LogsError;

/// How long a key unwrapped by KMS is used before KMS is asked again.
pub const KMS_TTL: Duration = Duration::from_secs(300);

/// The most keys cached; past it the cache starts over (keys are unwrapped again on use).
const MAX_CACHED: usize = 4096;

/// The data key length (AES-256).
pub const DATA_KEY_LEN: usize = 32;

struct Entry {
    key: Arc<LessSafeKey>,
    unwrapped: Instant,
    by_kms: bool,
}

/// Unwrapped data keys by (group id, key number).
#[derive(Default)]
pub struct Keyring {
    cache: Mutex<HashMap<(String, u32), Entry>>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring").finish_non_exhaustive()
    }
}

impl Keyring {
    /// A cached key; a KMS-unwrapped key only while it is fresh.
    pub fn fresh(&self, group: &str, key: u32) -> Option<Arc<LessSafeKey>> {
        let cache = self.cache.lock().ok()?;
        let e = cache.get(&(group.to_owned(), key))?;
        (!e.by_kms || e.unwrapped.elapsed() < KMS_TTL).then(|| e.key.clone())
    }

    /// A cached key, fresh or not: for the execution step right after a prepare step that
    /// refreshed it (or removed it when KMS refused).
    pub fn cached(&self, group: &str, key: u32) -> Option<Arc<LessSafeKey>> {
        let cache = self.cache.lock().ok()?;
        cache.get(&(group.to_owned(), key)).map(|e| e.key.clone())
    }

    /// Caches `bytes` as the key `(group, key)`.
    pub fn insert(
        &self,
        group: &str,
        key: u32,
        bytes: &[u8],
        by_kms: bool,
    ) -> Result<Arc<LessSafeKey>, LogsError> {
        let k = Arc::new(aes_key(bytes)?);
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= MAX_CACHED {
                cache.clear();
            }
            cache.insert(
                (group.to_owned(), key),
                Entry {
                    key: k.clone(),
                    unwrapped: Instant::now(),
                    by_kms,
                },
            );
        }
        Ok(k)
    }

    /// Forgets one key (KMS refused to unwrap it).
    pub fn remove(&self, group: &str, key: u32) {
        if let Ok(mut cache) = self.cache.lock() {
            cache.remove(&(group.to_owned(), key));
        }
    }

    /// Forgets every key of a group (deleted).
    pub fn forget_group(&self, group: &str) {
        if let Ok(mut cache) = self.cache.lock() {
            cache.retain(|(g, _), _| g != group);
        }
    }
}

/// An AES-256-GCM key.
pub fn aes_key(bytes: &[u8]) -> Result<LessSafeKey, LogsError> {
    if bytes.len() != DATA_KEY_LEN {
        return Err(LogsError::Crypto("a data key of the wrong length"));
    }
    UnboundKey::new(&AES_256_GCM, bytes)
        .map(LessSafeKey::new)
        .map_err(|_| LogsError::Crypto("a data key was refused"))
}

/// A new data key from the CSPRNG.
pub fn random_key() -> Result<Zeroizing<Vec<u8>>, LogsError> {
    let mut k = Zeroizing::new(vec![0u8; DATA_KEY_LEN]);
    aws_lc_rs::rand::fill(&mut k).map_err(|_| LogsError::Crypto("the CSPRNG failed"))?;
    Ok(k)
}

/// What a service-owned data key is sealed to: the group (ARN and id) and the key number.
fn service_aad(group_arn: &str, group_id: &str, key: u32) -> Vec<u8> {
    format!("ferrogate-logs-data-key-v1\n{group_arn}\n{group_id}\n{key}").into_bytes()
}

/// Seals a service-owned data key under the root key (base64).
pub fn seal_service(
    sealer: &dyn Sealer,
    group_arn: &str,
    group_id: &str,
    key: u32,
    bytes: &[u8],
) -> Result<String, LogsError> {
    let sealed = sealer.seal(bytes, &service_aad(group_arn, group_id, key))?;
    Ok(B64.encode(sealed))
}

/// Opens a service-owned data key.
pub fn open_service(
    sealer: &dyn Sealer,
    group_arn: &str,
    group_id: &str,
    key: u32,
    sealed: &str,
) -> Result<Zeroizing<Vec<u8>>, LogsError> {
    let sealed = B64
        .decode(sealed)
        .map_err(|_| LogsError::Crypto("a sealed data key is not base64"))?;
    Ok(sealer.open(&sealed, &service_aad(group_arn, group_id, key))?)
}

/// KMS's verdict on using `key_arn` for cryptography now: its state gate, on `tx`.
pub fn kms_usable(tx: &dyn ReadTx, key_arn: &str, now: Timestamp) -> Result<(), KmsError> {
    let r = resolve::resolve(tx, "", "", key_arn, Aliases::Refuse)?;
    let key = resolve::load(tx, &r)?;
    let st = state::effective(&key, now).ok_or_else(|| KmsError::no_such_key(&key.arn()))?;
    state::check(&key, st, state::Use::Crypto)
}

/// The encryption context of a group's data keys: `{"aws:logs:arn": <group ARN>}`
/// (CloudWatch Logs User Guide, "Encrypt log data in CloudWatch Logs using AWS KMS").
pub fn context(group_arn: &str) -> std::collections::BTreeMap<String, String> {
    [("aws:logs:arn".to_owned(), group_arn.to_owned())].into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caches_and_forgets() {
        let ring = Keyring::default();
        assert!(ring.fresh("g", 0).is_none());
        ring.insert("g", 0, &[1; 32], true).unwrap();
        ring.insert("g", 1, &[2; 32], false).unwrap();
        ring.insert("h", 0, &[3; 32], false).unwrap();
        assert!(ring.fresh("g", 0).is_some() && ring.cached("g", 1).is_some());
        ring.remove("g", 0);
        assert!(ring.cached("g", 0).is_none());
        ring.forget_group("g");
        assert!(ring.cached("g", 1).is_none());
        assert!(ring.cached("h", 0).is_some());
        assert!(ring.insert("g", 2, &[1; 31], false).is_err());
    }

    #[test]
    fn service_keys_are_bound_to_their_group() {
        let dir = tempfile::tempdir().unwrap();
        let root =
            ferrogate_store::seal::FileRootKey::load_or_create(&dir.path().join("k")).unwrap();
        let dk = random_key().unwrap();
        let sealed = seal_service(&root, "arn:g", "id1", 0, &dk).unwrap();
        assert_eq!(open_service(&root, "arn:g", "id1", 0, &sealed).unwrap(), dk);
        assert!(open_service(&root, "arn:g", "id2", 0, &sealed).is_err());
        assert!(open_service(&root, "arn:g", "id1", 1, &sealed).is_err());
        assert!(open_service(&root, "arn:h", "id1", 0, &sealed).is_err());
    }
}
