//! The KMS operations (awsJson1_1, `TrentService`).
//!
//! Every operation that names a key is authorized on the key as stored: its ARN, its tags
//! (`aws:ResourceTag/*`), its key policy (mandatory, as in AWS), any grant that applies, and
//! KMS's condition keys ([`key_check`]). Operations on aliases are authorized on the alias
//! *and* on every key they affect (KMS Developer Guide, "Controlling access to aliases").
//! The handler then reloads the key in its transaction, gates the operation on the key's
//! state ([`crate::state`]) and runs.

mod aliases;
mod crypto;
mod grants;
mod import;
mod keyid;
mod keys;
pub mod output;
mod rotation;

pub use aliases::{AliasInput, DeleteAliasInput, ListAliasesInput};
pub use crypto::{
    DataKeyInput, DataKeyOutput, DecryptInput, DecryptOutput, EncryptInput, GenerateRandomInput,
    ReEncryptInput,
};
pub use grants::{
    CreateGrantInput, CreateGrantOutput, ListGrantsInput, ListRetirableGrantsInput,
    RetireGrantInput, RevokeGrantInput,
};
pub use import::{
    DeleteImportedKeyMaterialInput, GetParametersForImportInput, ImportKeyMaterialInput,
};
pub use keyid::{DescribeKeyInput, KeyIdInput};
pub use keys::{
    CreateKeyInput, GetKeyPolicyInput, ListKeysInput, PutKeyPolicyInput, ScheduleKeyDeletionInput,
    TagResourceInput, UntagResourceInput, UpdateKeyDescriptionInput,
};
pub(crate) use rotation::rotate;
pub use rotation::{EnableKeyRotationInput, ListKeyRotationsInput};

use std::sync::Arc;

use ferrogate_api::{Check, Ctx, RequestTags, Resource, ResourcePolicy, Scope};
use ferrogate_policy::ResourcePolicyKind;
use ferrogate_store::{ReadTx, TxRef};
use ferrogate_types::Timestamp;

use crate::cache::Cache;
use crate::model::KmsKey;
use crate::policy::PolicyCache;
use crate::resolve::{self, Aliases, KeyRef};
use crate::{state, KmsError};

/// State shared by all KMS operations: the cache of parsed key policies and the cache of
/// keys, aliases and grants.
#[derive(Default)]
pub struct Kms {
    pub(crate) policies: PolicyCache,
    pub(crate) cache: Cache,
}

impl std::fmt::Debug for Kms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kms").finish_non_exhaustive()
    }
}

impl Kms {
    /// A service with empty caches.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }
}

ferrogate_api::service! {
    Kms { error: KmsError, id: Kms, tag_prefixes: [], changes_authorization: false, record_resources: true, denied: KmsError::AccessDeniedException }
}

ferrogate_api::operations! {
    service: Kms,
    protocol: json,
    parameters: own,
    ops: {
        CreateKey(keys::CreateKeyInput) write,
        DescribeKey(keyid::DescribeKeyInput) read,
        ListKeys(keys::ListKeysInput) read,
        UpdateKeyDescription(keys::UpdateKeyDescriptionInput) write,
        EnableKey(keyid::KeyIdInput<{ keyid::ENABLE }>) write,
        DisableKey(keyid::KeyIdInput<{ keyid::DISABLE }>) write,
        ScheduleKeyDeletion(keys::ScheduleKeyDeletionInput) write,
        CancelKeyDeletion(keyid::KeyIdInput<{ keyid::CANCEL }>) write,
        GetKeyPolicy(keys::GetKeyPolicyInput) read,
        PutKeyPolicy(keys::PutKeyPolicyInput) write,
        ListKeyPolicies(keyid::KeyIdInput<{ keyid::LIST_POLICIES }>) read,
        TagResource(keys::TagResourceInput) write,
        UntagResource(keys::UntagResourceInput) write,
        ListResourceTags(keyid::KeyIdInput<{ keyid::LIST_TAGS }>) read,
        CreateAlias(aliases::AliasInput<true>) write,
        UpdateAlias(aliases::AliasInput<false>) write,
        DeleteAlias(aliases::DeleteAliasInput) write,
        ListAliases(aliases::ListAliasesInput) read,
        Encrypt(crypto::EncryptInput) read,
        Decrypt(crypto::DecryptInput) read,
        ReEncrypt(crypto::ReEncryptInput) read,
        GenerateDataKey(crypto::DataKeyInput<true>) read,
        GenerateDataKeyWithoutPlaintext(crypto::DataKeyInput<false>) read,
        GenerateRandom(crypto::GenerateRandomInput) read,
        EnableKeyRotation(rotation::EnableKeyRotationInput) write,
        DisableKeyRotation(keyid::KeyIdInput<{ keyid::DISABLE_ROTATION }>) write,
        GetKeyRotationStatus(keyid::KeyIdInput<{ keyid::ROTATION_STATUS }>) read,
        RotateKeyOnDemand(keyid::KeyIdInput<{ keyid::ROTATE }>) write,
        ListKeyRotations(rotation::ListKeyRotationsInput) read,
        GetParametersForImport(import::GetParametersForImportInput) write,
        ImportKeyMaterial(import::ImportKeyMaterialInput) write,
        DeleteImportedKeyMaterial(import::DeleteImportedKeyMaterialInput) write,
        CreateGrant(grants::CreateGrantInput) write,
        ListGrants(grants::ListGrantsInput) read,
        ListRetirableGrants(grants::ListRetirableGrantsInput) read,
        RetireGrant(grants::RetireGrantInput) write,
        RevokeGrant(grants::RevokeGrantInput) write,
    }
}

/// The resource type CloudTrail records keys under.
pub(crate) const KEY: &str = "AWS::KMS::Key";

/// Loads the key `r` for a handler and gates `what` on its state at `now`.
pub(crate) fn usable(
    tx: &dyn ReadTx,
    r: &KeyRef,
    now: Timestamp,
    what: state::Use,
) -> Result<KmsKey, KmsError> {
    let key = resolve::load(tx, r)?;
    gate(&key, now, what)?;
    Ok(key)
}

fn gate(key: &KmsKey, now: Timestamp, what: state::Use) -> Result<(), KmsError> {
    let st = state::effective(key, now).ok_or_else(|| KmsError::no_such_key(&key.arn()))?;
    state::check(key, st, what)
}

impl Kms {
    /// The key `r` names, through the cache.
    pub(crate) fn key(&self, tx: &dyn ReadTx, r: &KeyRef) -> Result<Arc<KmsKey>, KmsError> {
        self.cache
            .key(tx, &r.account, &r.region, &r.key_id)?
            .ok_or_else(|| KmsError::no_such_key(&r.arn()))
    }

    /// [`usable`] through the cache (for handlers that only read).
    pub(crate) fn usable(
        &self,
        tx: &dyn ReadTx,
        r: &KeyRef,
        now: Timestamp,
        what: state::Use,
    ) -> Result<Arc<KmsKey>, KmsError> {
        let key = self.key(tx, r)?;
        gate(&key, now, what)?;
        Ok(key)
    }

    /// [`resolve::resolve`] through the cache.
    pub(crate) fn resolve(
        &self,
        tx: &dyn ReadTx,
        account: &str,
        region: &str,
        name: &str,
        aliases: Aliases,
    ) -> Result<KeyRef, KmsError> {
        resolve::resolve_in(Some(&self.cache), tx, account, region, name, aliases)
    }
}

/// `action` on the key `name` names (key id or ARN: management operations take no alias).
pub(crate) fn on_managed_key(
    s: &Scope<'_, Kms>,
    action: &str,
    name: &str,
) -> Result<Check, KmsError> {
    on_named_key(
        s,
        name,
        Aliases::Refuse,
        &KeyUse {
            action,
            grant_operation: None,
            context: &[],
        },
    )
}

/// The key a management operation names (no alias), loaded and gated on `what`.
pub(crate) fn managed_key(
    tx: &TxRef<'_>,
    ctx: &Ctx<'_>,
    name: &str,
    what: state::Use,
) -> Result<(KeyRef, KmsKey), KmsError> {
    let r = resolve::resolve(
        tx.read(),
        ctx.principal.account.as_str(),
        ctx.region,
        name,
        Aliases::Refuse,
    )?;
    let k = usable(tx.read(), &r, ctx.now, what)?;
    Ok((r, k))
}

/// Refuses a `DryRun` once everything else has passed.
pub(crate) fn dry_run(flag: Option<bool>) -> Result<(), KmsError> {
    if flag == Some(true) {
        Err(KmsError::DryRunOperationException)
    } else {
        Ok(())
    }
}

/// The KMS condition keys for an encryption context: `kms:EncryptionContext:<k>` and
/// `kms:EncryptionContextKeys`.
pub(crate) fn context_keys(pairs: &[(String, String)]) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = pairs
        .iter()
        .map(|(k, v)| (format!("kms:EncryptionContext:{k}"), vec![v.clone()]))
        .collect();
    if !pairs.is_empty() {
        out.push((
            "kms:EncryptionContextKeys".into(),
            pairs.iter().map(|(k, _)| k.clone()).collect(),
        ));
    }
    out
}

/// `kms:CallerAccount`, and `kms:ViaService` for a call a service made with the caller's
/// credentials (`ecs.<region>.amazonaws.com`).
pub(crate) fn caller_keys(s: &Scope<'_, Kms>) -> Vec<(String, Vec<String>)> {
    let mut keys = vec![(
        "kms:CallerAccount".to_owned(),
        vec![s.principal.account.to_string()],
    )];
    if let Some(via) = s.called_via.last() {
        let name = via.strip_suffix(".amazonaws.com").unwrap_or(via);
        keys.push((
            "kms:ViaService".to_owned(),
            vec![format!("{name}.{}.amazonaws.com", s.region)],
        ));
    }
    keys
}

/// `kms:RequestAlias` when the request names the key by an alias (`alias/…` or an alias ARN):
/// the alias name (KMS Developer Guide, "kms:RequestAlias").
pub(crate) fn request_alias(name: &str) -> Option<(String, Vec<String>)> {
    let alias = if name.starts_with("alias/") {
        Some(name)
    } else {
        name.strip_prefix("arn:")
            .and_then(|_| name.find(":alias/"))
            .map(|i| &name[i + 1..])
    };
    alias.map(|a| ("kms:RequestAlias".to_owned(), vec![a.to_owned()]))
}

/// How one key takes part in a request's authorization.
pub(crate) struct KeyUse<'a> {
    /// The IAM action.
    pub action: &'a str,
    /// The grant operation that may allow it.
    pub grant_operation: Option<&'a str>,
    /// The encryption context grants and `kms:EncryptionContext:*` see.
    pub context: &'a [(String, String)],
}

/// The check of `use_` on the key `r`: the key's ARN and tags, its (mandatory) key policy, a
/// grant that allows the operation with `context`, and KMS's condition keys.
pub(crate) fn key_check(
    s: &Scope<'_, Kms>,
    r: &KeyRef,
    use_: &KeyUse<'_>,
    request_tags: RequestTags,
) -> Result<Check, KmsError> {
    let key = s.service.key(s.tx, r)?;
    if state::effective(&key, s.now).is_none() {
        return Err(KmsError::no_such_key(&key.arn()));
    }
    let arn = key.arn();
    let policy = s.service.policies.get(&arn, &key.policy).map_err(|e| {
        tracing::error!(key = %arn, error = %e, "a stored key policy does not parse; refusing");
        KmsError::corrupt("key policy")
    })?;
    let grant = match use_.grant_operation {
        Some(op) => {
            let grants = s
                .service
                .cache
                .grants(s.tx, &r.account, &r.region, &r.key_id)?;
            crate::grant::find(&grants, s.principal, s.region, op, use_.context)
                .map(|g| g.grant_id.clone())
        }
        None => None,
    };
    let tags = key
        .tags
        .iter()
        .map(|t| (t.key.clone(), t.value.clone()))
        .collect();
    Ok(Check::new(
        use_.action,
        Resource::Existing {
            arn: arn.clone(),
            tags,
        },
        request_tags,
    )
    .keys(caller_keys(s))
    .keys(context_keys(use_.context))
    .policy(ResourcePolicy {
        name: arn,
        policy,
        kind: ResourcePolicyKind::KeyPolicy,
        account: key.account.clone(),
    })
    .grant(grant))
}

/// Resolves `name` for the caller (`kms:RequestAlias` is added when it is an alias).
pub(crate) fn resolve_named(
    s: &Scope<'_, Kms>,
    name: &str,
    aliases: Aliases,
) -> Result<KeyRef, KmsError> {
    s.service
        .resolve(s.tx, s.account(), s.region, name, aliases)
}

/// The one check of an operation on the key the request names.
pub(crate) fn on_named_key(
    s: &Scope<'_, Kms>,
    name: &str,
    aliases: Aliases,
    use_: &KeyUse<'_>,
) -> Result<Check, KmsError> {
    let r = resolve_named(s, name, aliases)?;
    let check = key_check(s, &r, use_, RequestTags::None)?;
    Ok(match request_alias(name) {
        Some((k, v)) => check.key(k, v),
        None => check,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_alias_is_the_alias_name() {
        assert_eq!(
            request_alias("alias/finance"),
            Some(("kms:RequestAlias".into(), vec!["alias/finance".into()]))
        );
        assert_eq!(
            request_alias("arn:aws:kms:us-east-1:111122223333:alias/finance"),
            Some(("kms:RequestAlias".into(), vec!["alias/finance".into()]))
        );
        assert_eq!(
            request_alias(
                "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
            ),
            None
        );
        assert_eq!(request_alias("1234abcd-12ab-34cd-56ef-1234567890ab"), None);
    }
}
