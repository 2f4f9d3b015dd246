//! What time does to keys, applied by the server's maintenance task: automatic rotation when
//! due, destruction of keys whose deletion date has passed, and expiry of imported material.
//! (The effect on requests is immediate regardless: `state::effective` already treats a
//! due deletion as deleted and expired material as pending import; this makes it durable
//! and frees the material.)

use ferrogate_api::Ctx;
use ferrogate_store::{Direction, WriteTx};
use ferrogate_types::Timestamp;

use crate::model::{keys, tables, KeyState, KmsKey, Origin};
use crate::KmsError;

/// One thing maintenance did, for the audit log (`AwsServiceEvent` records).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceEvent {
    /// `RotateKey`, `DeleteKey`, `DeleteExpiredKeyMaterial`.
    pub name: &'static str,
    /// The key's ARN.
    pub key_arn: String,
    /// The key's account.
    pub account: String,
    /// The key's region.
    pub region: String,
}

/// Applies every due transition in `tx`.
pub fn maintain(tx: &mut dyn WriteTx, ctx: &Ctx<'_>) -> Result<Vec<ServiceEvent>, KmsError> {
    let now = ctx.now;
    let all: Vec<KmsKey> = tables::KEYS
        .scan(&*tx, &[], None, Direction::Forward, usize::MAX)?
        .into_iter()
        .map(|(_, k)| k)
        .collect();
    let mut events = Vec::new();
    for mut k in all {
        let event = |name| ServiceEvent {
            name,
            key_arn: k.arn(),
            account: k.account.clone(),
            region: k.region.clone(),
        };
        if k.state == KeyState::PendingDeletion && k.deletion_date.is_some_and(|d| now >= d) {
            events.push(event("DeleteKey"));
            destroy(tx, &k)?;
            continue;
        }
        let expired = k.origin == Origin::External
            && k.expiration_model.as_deref() == Some("KEY_MATERIAL_EXPIRES")
            && k.valid_to.is_some_and(|v| now >= v)
            && !k.materials.is_empty();
        if expired {
            events.push(event("DeleteExpiredKeyMaterial"));
            k.materials.clear();
            k.valid_to = None;
            if k.state != KeyState::PendingDeletion {
                k.state = KeyState::PendingImport;
            }
            tables::KEYS.put(tx, &keys::key(&k.account, &k.region, &k.key_id), &k)?;
            continue;
        }
        let due = k.rotation_enabled
            && k.state == KeyState::Enabled
            && k.next_rotation.is_some_and(|n| now >= n);
        if due {
            events.push(event("RotateKey"));
            crate::ops::rotate(&mut k, ctx, "AUTOMATIC")?;
            tables::KEYS.put(tx, &keys::key(&k.account, &k.region, &k.key_id), &k)?;
        }
    }
    Ok(events)
}

/// Deletes a key with its material, aliases, grants and import parameters.
fn destroy(tx: &mut dyn WriteTx, k: &KmsKey) -> Result<(), KmsError> {
    tables::KEYS.delete(tx, &keys::key(&k.account, &k.region, &k.key_id))?;
    tables::IMPORTS.delete(tx, &keys::key(&k.account, &k.region, &k.key_id))?;
    let partition = keys::partition(&k.account, &k.region);
    for (key, a) in tables::ALIASES.scan(&*tx, &partition, None, Direction::Forward, usize::MAX)? {
        if a.target_key_id == k.key_id {
            tables::ALIASES.delete(tx, &key)?;
        }
    }
    let grants = keys::key(&k.account, &k.region, &k.key_id);
    for (key, g) in tables::GRANTS.scan(&*tx, &grants, None, Direction::Forward, usize::MAX)? {
        tables::GRANTS.delete(tx, &key)?;
        if let Some(rp) = &g.retiring {
            tables::RETIRABLE.delete(
                tx,
                &keys::retirable(rp, &k.account, &k.region, &k.key_id, &g.grant_id),
            )?;
        }
    }
    Ok(())
}

/// The earliest time anything in the store becomes due, so the server can sleep until then.
pub fn next_due(k: &KmsKey) -> Option<Timestamp> {
    [
        k.deletion_date,
        k.valid_to,
        k.next_rotation.filter(|_| k.rotation_enabled),
    ]
    .into_iter()
    .flatten()
    .min()
}
