//! Keys, aliases and grants as last read, checked against the store's change generation on
//! every use (`ferrogate_store::generation`), so that a cryptographic request usually reads
//! nothing from SQLite and yet never acts on a key state, key policy, alias or grant older
//! than the last change acknowledged before it began.
//!
//! An entry holds the generation of the snapshot it was read from and is used only by a
//! request whose own snapshot has the same generation. Every committed write to a KMS tree
//! (or any other cached tree) moves the generation on before its caller is answered, which
//! retires every entry at once. Snapshots that may not cache (the writer's transaction, which
//! sees uncommitted writes) always read the store.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use ferrogate_store::{Direction, ReadTx};

use crate::model::{keys, tables, Grant, KmsKey};
use crate::KmsError;

/// More entries than this in one map are dropped wholesale (they refill on demand).
const MAX_ENTRIES: usize = 10_000;

/// Grants read per key (KMS's quota is 50,000 grants per key).
const MAX_GRANTS: usize = 50_000;

/// Values by key, each with the generation it was read at.
struct Map<K, V> {
    entries: Mutex<HashMap<K, (u64, V)>>,
}

impl<K, V> Default for Map<K, V> {
    fn default() -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Hash + Eq, V: Clone> Map<K, V> {
    /// The value of `k` as `tx` would read it with `load`.
    fn get(
        &self,
        tx: &dyn ReadTx,
        k: K,
        load: impl FnOnce() -> Result<V, KmsError>,
    ) -> Result<V, KmsError> {
        let Some(generation) = tx.generation() else {
            return load();
        };
        if let Ok(m) = self.entries.lock() {
            if let Some((g, v)) = m.get(&k) {
                if *g == generation {
                    return Ok(v.clone());
                }
            }
        }
        let v = load()?;
        if let Ok(mut m) = self.entries.lock() {
            if m.len() >= MAX_ENTRIES {
                m.clear();
            }
            // An entry another request read at a later generation is kept.
            let newer = m.get(&k).is_some_and(|(g, _)| *g > generation);
            if !newer {
                m.insert(k, (generation, v.clone()));
            }
        }
        Ok(v)
    }
}

/// The KMS cache (one per service instance).
#[derive(Default)]
pub struct Cache {
    keys: Map<Vec<u8>, Option<Arc<KmsKey>>>,
    aliases: Map<Vec<u8>, Option<Arc<str>>>,
    grants: Map<Vec<u8>, Arc<Vec<Grant>>>,
}

impl Cache {
    /// The key stored at `(account, region, key_id)`.
    pub fn key(
        &self,
        tx: &dyn ReadTx,
        account: &str,
        region: &str,
        key_id: &str,
    ) -> Result<Option<Arc<KmsKey>>, KmsError> {
        let k = keys::key(account, region, key_id);
        self.keys.get(tx, k.clone(), || {
            Ok(tables::KEYS.get(tx, &k)?.map(Arc::new))
        })
    }

    /// The key id an alias points at.
    pub fn alias(
        &self,
        tx: &dyn ReadTx,
        account: &str,
        region: &str,
        alias: &str,
    ) -> Result<Option<Arc<str>>, KmsError> {
        let k = keys::alias(account, region, alias);
        self.aliases.get(tx, k.clone(), || {
            Ok(tables::ALIASES
                .get(tx, &k)?
                .map(|a| Arc::from(a.target_key_id.as_str())))
        })
    }

    /// Every grant on a key, in grant id order.
    pub fn grants(
        &self,
        tx: &dyn ReadTx,
        account: &str,
        region: &str,
        key_id: &str,
    ) -> Result<Arc<Vec<Grant>>, KmsError> {
        let prefix = keys::key(account, region, key_id);
        self.grants.get(tx, prefix.clone(), || {
            let all = tables::GRANTS.scan(tx, &prefix, None, Direction::Forward, MAX_GRANTS)?;
            Ok(Arc::new(all.into_iter().map(|(_, g)| g).collect()))
        })
    }
}
