//! The Secrets Manager operations (awsJson1_1, target prefix `secretsmanager`).
//!
//! Every operation on a secret is authorized as `secretsmanager:<Operation>` on the secret
//! as stored (its ARN with the suffix, its tags as `secretsmanager:ResourceTag/*` and
//! `aws:ResourceTag/*`, its resource policy), with `secretsmanager:SecretId` as the request
//! spelled it; a secret that does not exist is authorized on the ARN the request names (the
//! operation then answers that it cannot find it). KMS is called in the prepare step with
//! the caller's credentials, `kms:ViaService` = `secretsmanager.<region>.amazonaws.com`
//! ([`ferrogate_api::Env::on_behalf`]), as Secrets Manager calls it.

mod manage;
mod read;
mod values;

pub(crate) use manage::purge;

pub use manage::{
    DeleteResourcePolicyInput, DeleteSecretInput, GetResourcePolicyInput, PutResourcePolicyInput,
    RestoreSecretInput, TagResourceInput, UntagResourceInput, UpdateSecretVersionStageInput,
};
pub use read::{
    DescribeSecretInput, GetSecretValueInput, GetSecretValueOutput, ListSecretVersionIdsInput,
    ListSecretsInput,
};
pub use values::{CreateSecretInput, PutSecretValueInput, UpdateSecretInput};

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ferrogate_api::{
    Authorization, Check, Executor, Registered, RequestTags, Resource, ResourcePolicy, Scope,
};
use ferrogate_policy::{Policy, PolicyKind, ResourcePolicyKind};
use ferrogate_store::ReadTx;
use serde::{Deserialize, Serialize};

use crate::model::{keys, locate, partial_arn, tables, Located, Secret};
use crate::SecretsError;

/// The CloudTrail resource type of secrets.
pub(crate) const SECRET_TYPE: &str = "AWS::SecretsManager::Secret";

/// The alias of the default key.
pub const DEFAULT_KEY_ALIAS: &str = "alias/aws/secretsmanager";

/// State shared by all Secrets Manager operations: KMS, the executor (for reads outside an
/// operation's transaction), and parsed resource policies.
pub struct Secrets {
    pub(crate) kms: Arc<ferrogate_kms::Kms>,
    pub(crate) exec: Executor,
    policies: Mutex<HashMap<String, (String, Arc<Policy>)>>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets").finish_non_exhaustive()
    }
}

impl Secrets {
    /// The service, calling `kms` through `exec`.
    pub fn new(kms: Arc<ferrogate_kms::Kms>, exec: Executor) -> Arc<Self> {
        Arc::new(Self {
            kms,
            exec,
            policies: Mutex::new(HashMap::new()),
        })
    }

    /// The secret `id` names, read on a snapshot of its own (for a prepare step).
    pub(crate) fn snapshot(
        &self,
        account: &str,
        region: &str,
        id: &str,
    ) -> Result<Option<Secret>, SecretsError> {
        self.exec.store().read(|tx| find(tx, account, region, id))
    }

    /// The parsed policy `doc` of the secret `arn`, re-parsed only when the text changes.
    fn policy(&self, arn: &str, doc: &str) -> Result<Arc<Policy>, SecretsError> {
        if let Ok(m) = self.policies.lock() {
            if let Some((text, p)) = m.get(arn) {
                if text == doc {
                    return Ok(p.clone());
                }
            }
        }
        let parsed = Arc::new(parse_policy(doc).map_err(|e| {
            tracing::error!(secret = arn, error = %e, "a stored resource policy does not parse; refusing");
            SecretsError::Crypto("a stored resource policy does not parse")
        })?);
        if let Ok(mut m) = self.policies.lock() {
            if m.len() > 10_000 {
                m.clear();
            }
            m.insert(arn.to_owned(), (doc.to_owned(), parsed.clone()));
        }
        Ok(parsed)
    }
}

ferrogate_api::service! {
    Secrets { error: SecretsError, id: SecretsManager, tag_prefixes: ["secretsmanager"], changes_authorization: false, record_resources: false, denied: SecretsError::AccessDeniedException }
}

// CloudTrail's `requestParameters`: each input serialized in camelCase, as CloudTrail records
// Secrets Manager's requests; every input skips `SecretString` and `SecretBinary`.
ferrogate_api::operations! {
    service: Secrets,
    protocol: json,
    parameters: serialized,
    ops: {
        CreateSecret(values::CreateSecretInput) write,
        PutSecretValue(values::PutSecretValueInput) write,
        UpdateSecret(values::UpdateSecretInput) write,
        GetSecretValue(read::GetSecretValueInput) read,
        DescribeSecret(read::DescribeSecretInput) read,
        ListSecrets(read::ListSecretsInput) read,
        ListSecretVersionIds(read::ListSecretVersionIdsInput) read,
        DeleteSecret(manage::DeleteSecretInput) write,
        RestoreSecret(manage::RestoreSecretInput) write,
        UpdateSecretVersionStage(manage::UpdateSecretVersionStageInput) write,
        TagResource(manage::TagResourceInput) write,
        UntagResource(manage::UntagResourceInput) write,
        GetResourcePolicy(manage::GetResourcePolicyInput) read,
        PutResourcePolicy(manage::PutResourcePolicyInput) write,
        DeleteResourcePolicy(manage::DeleteResourcePolicyInput) write,
    }
}

/// `secretsmanager:<Operation>` of `O`.
pub(crate) fn action<O: Registered>() -> String {
    format!("secretsmanager:{}", O::NAME)
}

/// Parses a resource policy.
pub(crate) fn parse_policy(doc: &str) -> Result<Policy, SecretsError> {
    Policy::parse(doc, PolicyKind::Resource).map_err(|e| {
        SecretsError::MalformedPolicyDocumentException(
            format!("{} {}", e, e.detail()).trim().to_owned(),
        )
    })
}

/// The secret `id` names for a caller in `account` and `region`, deleted or not.
pub(crate) fn find(
    tx: &dyn ReadTx,
    account: &str,
    region: &str,
    id: &str,
) -> Result<Option<Secret>, SecretsError> {
    let Some(Located {
        account,
        name,
        suffix,
        alternative,
    }) = locate(id, account, region)
    else {
        return Ok(None);
    };
    let first = tables::SECRETS.get(tx, &keys::secret(&account, region, &name))?;
    if let Some(s) = first.filter(|s| suffix.as_deref().is_none_or(|x| x == s.suffix)) {
        return Ok(Some(s));
    }
    match alternative {
        Some(alt) => Ok(tables::SECRETS.get(tx, &keys::secret(&account, region, &alt))?),
        None => Ok(None),
    }
}

/// The secret `id` names, which must exist.
pub(crate) fn existing(
    tx: &dyn ReadTx,
    account: &str,
    region: &str,
    id: &str,
) -> Result<Secret, SecretsError> {
    find(tx, account, region, id)?.ok_or_else(SecretsError::not_found)
}

/// The secret `id` names, which must exist and not be scheduled for deletion.
pub(crate) fn live(
    tx: &dyn ReadTx,
    account: &str,
    region: &str,
    id: &str,
) -> Result<Secret, SecretsError> {
    let s = existing(tx, account, region, id)?;
    if s.is_deleted() {
        return Err(SecretsError::marked_deleted());
    }
    Ok(s)
}

/// The check of `action` on the secret `id` names: as stored, with its tags and policy, or
/// as named.
pub(crate) fn check_on(
    s: &Scope<'_, Secrets>,
    action: String,
    id: &str,
    request_tags: RequestTags,
) -> Result<Check, SecretsError> {
    let secret_id = ("secretsmanager:SecretId".to_owned(), vec![id.to_owned()]);
    let Some(secret) = find(s.tx, s.account(), s.region, id)? else {
        let arn = match id.strip_prefix("arn:") {
            Some(_) => id.to_owned(),
            None => partial_arn(s.region, s.account(), id),
        };
        return Ok(Check::new(action, Resource::Named(arn), request_tags).keys([secret_id]));
    };
    let arn = secret.arn();
    let mut check = Check::new(
        action,
        Resource::Existing {
            arn: arn.clone(),
            tags: secret.tags.clone(),
        },
        request_tags,
    )
    .keys([secret_id]);
    if let Some(doc) = &secret.policy {
        check = check.policy(ResourcePolicy {
            name: arn.clone(),
            policy: s.service.policy(&arn, doc)?,
            kind: ResourcePolicyKind::Standard,
            account: secret.account.clone(),
        });
    }
    Ok(check)
}

/// `O`'s own action on the secret `id` names: the one check most operations need.
pub(crate) fn on<O: Registered>(
    s: &Scope<'_, Secrets>,
    id: &str,
) -> Result<Authorization, SecretsError> {
    Ok(Authorization::of(check_on(
        s,
        action::<O>(),
        id,
        RequestTags::None,
    )?))
}

/// A `SecretId`: 1–2048 characters.
pub(crate) fn check_secret_id(id: &str) -> Result<(), SecretsError> {
    if id.is_empty() || id.len() > 2048 {
        return Err(SecretsError::constraint(
            "secretId",
            "Member must have length between 1 and 2048",
        ));
    }
    Ok(())
}

/// Epoch seconds, as the JSON protocols write timestamps.
pub(crate) fn secs(ms: i64) -> f64 {
    ferrogate_types::Timestamp::from_millis(ms).epoch_seconds_f64()
}

/// A tag on the wire.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Tag {
    /// `Key`.
    #[serde(rename = "Key")]
    pub key: String,
    /// `Value`.
    #[serde(rename = "Value", default)]
    pub value: String,
}

/// Tags as AWS limits them: keys 1–128, values 0–256 characters, at most 50, no `aws:`
/// prefix.
pub(crate) fn check_tags(tags: &[Tag]) -> Result<(), SecretsError> {
    for t in tags {
        if t.key.is_empty() || t.key.len() > 128 || t.value.len() > 256 {
            return Err(SecretsError::invalid(
                "The tag key or value is not valid: keys are 1-128 characters, values 0-256.",
            ));
        }
        if t.key.to_ascii_lowercase().starts_with("aws:") {
            return Err(SecretsError::invalid(
                "Invalid tag key. The 'aws:' prefix is reserved for AWS use.",
            ));
        }
    }
    if tags.len() > crate::model::MAX_TAGS {
        return Err(SecretsError::LimitExceededException(
            "The number of tags exceeds the maximum of 50.".into(),
        ));
    }
    Ok(())
}

/// Tags as `(key, value)` pairs.
pub(crate) fn tag_pairs(tags: &[Tag]) -> Vec<(String, String)> {
    tags.iter()
        .map(|t| (t.key.clone(), t.value.clone()))
        .collect()
}

/// Pairs as wire tags.
pub(crate) fn wire_tags(tags: &[(String, String)]) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag {
            key: k.clone(),
            value: v.clone(),
        })
        .collect()
}

/// `{ARN, Name}`, the answer of most management operations.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ArnName {
    #[serde(rename = "ARN")]
    arn: String,
    name: String,
}

impl ArnName {
    pub(crate) fn of(s: &Secret) -> Self {
        Self {
            arn: s.arn(),
            name: s.name.clone(),
        }
    }

    /// The ARN.
    pub(crate) fn arn(&self) -> &str {
        &self.arn
    }

    /// What CloudTrail records as `responseElements`.
    pub(crate) fn elements(&self) -> serde_json::Value {
        serde_json::json!({ "arn": self.arn, "name": self.name })
    }
}
