//! The operations that write a value: CreateSecret, PutSecretValue, UpdateSecret.
//!
//! Each new version gets a data key of its own. For a customer managed key it comes from
//! KMS `GenerateDataKey`, called in the prepare step as the caller; for the default key it
//! is made and sealed in the execute step. A `ClientRequestToken` that names an existing
//! version makes the request idempotent: the same value again changes nothing, another
//! value is refused (`ResourceExistsException`), as AWS documents.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ferrogate_api::{
    Authorization, Authorized, BoxFuture, Check, Done, Env, Exec, Operation, Reply, RequestTags,
    Resource, Scope,
};
use ferrogate_store::TxRef;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::{
    action, check_on, check_secret_id, check_tags, find, live, tag_pairs, Secrets, Tag,
    DEFAULT_KEY_ALIAS, SECRET_TYPE,
};
use crate::envelope::{self, DataKey, Sensitive, Wrapped};
use crate::model::{
    check_name, check_stage, check_version_id, keys, partial_arn, tables, Secret, StoredValue,
    Version, AWSCURRENT, MAX_STAGES,
};
use crate::SecretsError;

/// The most bytes of a value ("Secrets Manager quotas": 65,536 bytes).
pub const MAX_VALUE_BYTES: usize = 65_536;

/// A value a request writes, validated.
#[derive(Debug)]
pub(crate) struct Incoming {
    value: Sensitive,
    binary: bool,
}

/// `SecretString` or `SecretBinary` (base64 on the wire), at most one, within AWS's limits.
fn incoming(
    string: Option<&Sensitive>,
    binary: Option<&Sensitive>,
) -> Result<Option<Incoming>, SecretsError> {
    let (value, is_binary) = match (string, binary) {
        (Some(_), Some(_)) => {
            return Err(SecretsError::invalid(
                "You can't specify both a binary secret value and a string secret value in the same secret.",
            ))
        }
        (None, None) => return Ok(None),
        (Some(s), None) => (s.clone(), false),
        (None, Some(b)) => {
            let raw = B64
                .decode(b.expose())
                .map_err(|_| SecretsError::constraint("secretBinary", "Member must be base64"))?;
            (Sensitive(Zeroizing::new(raw)), true)
        }
    };
    let member = if is_binary {
        "secretBinary"
    } else {
        "secretString"
    };
    if value.expose().is_empty() || value.expose().len() > MAX_VALUE_BYTES {
        return Err(SecretsError::constraint(
            member,
            "Member must have length between 1 and 65536",
        ));
    }
    Ok(Some(Incoming {
        value,
        binary: is_binary,
    }))
}

/// True when `key` names the default key (absent, or `alias/aws/secretsmanager`).
fn is_default_key(key: Option<&str>) -> bool {
    key.is_none_or(|k| {
        k.is_empty() || k == DEFAULT_KEY_ALIAS || k.ends_with(":alias/aws/secretsmanager")
    })
}

fn check_key_id(key: Option<&str>) -> Result<(), SecretsError> {
    if key.is_some_and(|k| k.len() > 2048) {
        return Err(SecretsError::constraint(
            "kmsKeyId",
            "Member must have length less than or equal to 2048",
        ));
    }
    Ok(())
}

fn check_description(d: Option<&str>) -> Result<(), SecretsError> {
    if d.is_some_and(|d| d.len() > 2048) {
        return Err(SecretsError::constraint(
            "description",
            "Member must have length less than or equal to 2048",
        ));
    }
    Ok(())
}

/// A new version id: a UUID (version 4), as the SDKs make `ClientRequestToken`.
pub(crate) fn new_version_id() -> Result<String, SecretsError> {
    let mut b = [0u8; 16];
    aws_lc_rs::rand::fill(&mut b).map_err(|_| SecretsError::Crypto("the CSPRNG failed"))?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

/// Six random characters, the end of a secret's ARN.
fn new_suffix() -> Result<String, SecretsError> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut b = [0u8; 6];
    aws_lc_rs::rand::fill(&mut b).map_err(|_| SecretsError::Crypto("the CSPRNG failed"))?;
    Ok(b.iter()
        .map(|x| char::from(ALPHABET[usize::from(*x) % ALPHABET.len()]))
        .collect())
}

/// What the prepare step learnt from KMS for a value write.
#[derive(Debug, Default)]
pub(crate) struct Keys {
    /// The new version's data key from KMS (`None`: the default key, made in execute).
    new: Option<DataKey>,
    /// The data key of the version the `ClientRequestToken` names, when it exists and KMS
    /// wraps it (to compare a retried request's value).
    existing: Option<Sensitive>,
}

/// Asks KMS for what writing `value` as version `version_id` of `secret_arn` needs: the
/// existing version's data key (a retry) or a new data key under `key_id` (a CMK).
async fn prepare_keys(
    env: &Env<'_, Secrets>,
    secret: Option<&Secret>,
    secret_arn: &str,
    version_id: &str,
    key_id: Option<&str>,
) -> Result<Keys, SecretsError> {
    let client = env.on_behalf();
    let kms = &env.service.kms;
    if let Some((s, v)) = secret.and_then(|s| s.version(version_id).map(|v| (s, v))) {
        return Ok(Keys {
            new: None,
            existing: s.value_key(env, v).await?,
        });
    }
    if is_default_key(key_id) {
        return Ok(Keys::default());
    }
    let key_id = key_id.unwrap_or_default();
    let context = envelope::context(secret_arn, version_id);
    let new = envelope::kms_key(&client, kms, key_id, context).await?;
    Ok(Keys {
        new: Some(new),
        existing: None,
    })
}

impl Secret {
    /// The data key of version `v` when KMS wraps it (decrypted by KMS as the caller);
    /// `None` for the default key (opened in the execute step).
    pub(crate) async fn value_key(
        &self,
        env: &Env<'_, Secrets>,
        v: &Version,
    ) -> Result<Option<Sensitive>, SecretsError> {
        let Some(key_arn) = &v.kms_key_arn else {
            return Ok(None);
        };
        let stored = env
            .service
            .exec
            .store()
            .read(|tx| value_record(tx, self, &v.id))?;
        let Wrapped::Kms { blob, .. } = &stored.key else {
            return Err(SecretsError::Crypto(
                "a version's key does not match its value",
            ));
        };
        let client = env.on_behalf();
        let context = envelope::context(&self.arn(), &v.id);
        let k = envelope::kms_open(&client, &env.service.kms, key_arn, blob, context).await?;
        Ok(Some(k))
    }
}

/// The stored value of version `id` of `s`.
pub(crate) fn value_record(
    tx: &dyn ferrogate_store::ReadTx,
    s: &Secret,
    id: &str,
) -> Result<StoredValue, SecretsError> {
    tables::VALUES
        .get(
            tx,
            &keys::value(&s.account, &s.region, &s.name, &s.suffix, id),
        )?
        .ok_or(SecretsError::Crypto("a version has no stored value"))
}

/// The value of version `id` of `s`, decrypted with `kms_key` (the data key KMS opened in
/// the prepare step) or, for the default key, the root key.
pub(crate) fn read_value(
    tx: &dyn ferrogate_store::ReadTx,
    sealer: &dyn ferrogate_store::seal::Sealer,
    s: &Secret,
    id: &str,
    kms_key: Option<&Sensitive>,
) -> Result<(Sensitive, bool), SecretsError> {
    let stored = value_record(tx, s, id)?;
    let arn = s.arn();
    let key = match (&stored.key, kms_key) {
        (Wrapped::Service(sealed), _) => envelope::open_service_key(sealer, &arn, id, sealed)?,
        (Wrapped::Kms { .. }, Some(k)) => k.clone(),
        (Wrapped::Kms { .. }, None) => {
            return Err(SecretsError::InvalidRequestException(
                "The secret changed while the request was processed. Retry the request.".into(),
            ))
        }
    };
    let value = envelope::open_value(&key, &arn, id, stored.binary, &stored.sealed)?;
    Ok((value, stored.binary))
}

/// Writes `new` as version `id` of `s` with `stages`, or recognizes a retry of the same
/// request. True when a version was added.
pub(crate) fn write_version(
    tx: &mut TxRef<'_>,
    ctx: &ferrogate_api::Ctx<'_>,
    s: &mut Secret,
    id: &str,
    new: &Incoming,
    keys: &Keys,
    stages: &[String],
) -> Result<bool, SecretsError> {
    let arn = s.arn();
    if s.version(id).is_some() {
        let (old, binary) = read_value(tx.read(), ctx.sealer, s, id, keys.existing.as_ref())?;
        if binary == new.binary && old.same_as(&new.value) {
            return Ok(false);
        }
        return Err(SecretsError::ResourceExistsException(format!(
            "You can't use ClientRequestToken {id} because that value is already in use for a version of secret {arn}."
        )));
    }
    let data_key = match &keys.new {
        Some(k) => DataKey {
            plain: k.plain.clone(),
            wrapped: k.wrapped.clone(),
        },
        None if is_default_key(s.kms_key_id.as_deref()) => {
            envelope::service_key(ctx.sealer, &arn, id)?
        }
        None => {
            return Err(SecretsError::InvalidRequestException(
                "The secret changed while the request was processed. Retry the request.".into(),
            ))
        }
    };
    let sealed = envelope::seal_value(&data_key.plain, &arn, id, new.binary, &new.value)?;
    let kms_key_arn = match &data_key.wrapped {
        Wrapped::Kms { key_arn, .. } => Some(key_arn.clone()),
        Wrapped::Service(_) => None,
    };
    let record = StoredValue {
        key: data_key.wrapped,
        binary: new.binary,
        sealed,
    };
    let w = tx.write()?;
    tables::VALUES.put(
        w,
        &keys::value(&s.account, &s.region, &s.name, &s.suffix, id),
        &record,
    )?;
    s.versions.push(Version {
        id: id.to_owned(),
        stages: Vec::new(),
        created: ctx.now.millis(),
        kms_key_arn,
    });
    s.attach(id, stages);
    for dropped in s.trim_versions() {
        tables::VALUES.delete(
            w,
            &keys::value(&s.account, &s.region, &s.name, &s.suffix, &dropped),
        )?;
    }
    s.last_changed = ctx.now.millis();
    Ok(true)
}

pub(crate) fn save(tx: &mut TxRef<'_>, s: &Secret) -> Result<(), SecretsError> {
    tables::SECRETS.put(
        tx.write()?,
        &keys::secret(&s.account, &s.region, &s.name),
        s,
    )?;
    Ok(())
}

/// The answer of a value write.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct VersionOutput {
    #[serde(rename = "ARN")]
    arn: String,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    version_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    version_stages: Option<Vec<String>>,
}

impl VersionOutput {
    fn reply(self) -> Reply<Self> {
        let elements = serde_json::json!({
            "arn": self.arn, "name": self.name, "versionId": self.version_id,
        });
        let arn = self.arn.clone();
        Reply::new(self)
            .elements(elements)
            .resource(SECRET_TYPE, arn)
    }
}

/// `CreateSecret`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all(deserialize = "PascalCase", serialize = "camelCase"))]
pub struct CreateSecretInput {
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client_request_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kms_key_id: Option<String>,
    #[serde(default, skip_serializing)]
    secret_binary: Option<Sensitive>,
    #[serde(default, skip_serializing)]
    secret_string: Option<Sensitive>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tags: Option<Vec<Tag>>,
    #[serde(default, skip_serializing)]
    add_replica_regions: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    force_overwrite_replica_secret: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    r#type: Option<String>,
    /// The suffix of the new ARN (chosen at decode: the request is authorized on it).
    #[serde(skip)]
    suffix: String,
    #[serde(skip)]
    version_id: String,
    #[serde(skip)]
    value: Option<Incoming>,
    #[serde(skip)]
    keys: Keys,
}

impl CreateSecretInput {
    pub(crate) fn validated(mut self) -> Result<Self, SecretsError> {
        check_name(&self.name)?;
        check_description(self.description.as_deref())?;
        check_key_id(self.kms_key_id.as_deref())?;
        if let Some(t) = &self.client_request_token {
            check_version_id("clientRequestToken", t)?;
        }
        if let Some(t) = &self.tags {
            check_tags(t)?;
        }
        if self.add_replica_regions.is_some() {
            return Err(SecretsError::invalid(
                "Replication to other regions is not supported by Ferrogate.",
            ));
        }
        self.value = incoming(self.secret_string.as_ref(), self.secret_binary.as_ref())?;
        self.suffix = new_suffix()?;
        self.version_id = match &self.client_request_token {
            Some(t) => t.clone(),
            None => new_version_id()?,
        };
        Ok(self)
    }

    fn arn(&self, region: &str, account: &str) -> String {
        format!(
            "{}-{}",
            partial_arn(region, account, &self.name),
            self.suffix
        )
    }
}

impl Operation for CreateSecretInput {
    type Output = VersionOutput;

    fn authorize(&self, s: &Scope<'_, Secrets>) -> Result<Authorization, SecretsError> {
        let tags = tag_pairs(self.tags.as_deref().unwrap_or_default());
        let mut keys = vec![("secretsmanager:Name".to_owned(), vec![self.name.clone()])];
        if let Some(k) = &self.kms_key_id {
            keys.push(("secretsmanager:KmsKeyId".into(), vec![k.clone()]));
        }
        if let Some(d) = &self.description {
            keys.push(("secretsmanager:Description".into(), vec![d.clone()]));
        }
        let arn = self.arn(s.region, s.account());
        let create = Check::new(
            action::<Self>(),
            Resource::New(arn.clone()),
            RequestTags::Set(tags.clone()),
        )
        .keys(keys);
        if tags.is_empty() {
            return Ok(Authorization::of(create));
        }
        // "To add tags in CreateSecret you also need secretsmanager:TagResource."
        let tag = Check::new(
            "secretsmanager:TagResource",
            Resource::New(arn),
            RequestTags::Set(tags),
        );
        Ok(Authorization::all(create, [tag]))
    }

    fn prepare<'a>(
        op: &'a mut Authorized<Self>,
        env: Env<'a, Secrets>,
    ) -> BoxFuture<'a, Result<(), SecretsError>> {
        Box::pin(async move {
            if op.value.is_none() {
                return Ok(());
            }
            let account = op.principal().account.to_string();
            let region = env.region().to_owned();
            let existing = env.service.snapshot(&account, &region, &op.name)?;
            // An existing secret is refused in execute unless this is a retry; no data key
            // is made for a request that cannot succeed.
            if existing
                .as_ref()
                .is_some_and(|s| s.version(&op.version_id).is_none())
            {
                return Ok(());
            }
            let arn = existing
                .as_ref()
                .map_or_else(|| op.arn(&region, &account), Secret::arn);
            let keys = prepare_keys(
                &env,
                existing.as_ref(),
                &arn,
                &op.version_id,
                op.kms_key_id.as_deref(),
            )
            .await?;
            op.op_mut().keys = keys;
            Ok(())
        })
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Secrets>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let account = ctx.principal.account.as_str();
        if let Some(mut s) = find(tx.read(), account, ctx.region, &op.name)? {
            if s.is_deleted() {
                return Err(SecretsError::InvalidRequestException(
                    "You can't create this secret because a secret with this name is already scheduled for deletion.".into(),
                ));
            }
            // A retry: the version the token names, with the same value.
            let retry = op.client_request_token.is_some() && s.version(&op.version_id).is_some();
            if let (true, Some(v)) = (retry, &op.value) {
                write_version(&mut tx, &ctx, &mut s, &op.version_id, v, &op.keys, &[])?;
                return Ok(VersionOutput {
                    arn: s.arn(),
                    name: s.name.clone(),
                    version_id: Some(op.version_id.clone()),
                    version_stages: None,
                }
                .reply());
            }
            return Err(SecretsError::ResourceExistsException(format!(
                "The operation failed because the secret {} already exists.",
                op.name
            )));
        }
        let now = ctx.now.millis();
        let mut s = Secret {
            account: account.to_owned(),
            region: ctx.region.to_owned(),
            name: op.name.clone(),
            suffix: op.suffix.clone(),
            description: op.description.clone(),
            kms_key_id: op.kms_key_id.clone().filter(|k| !is_default_key(Some(k))),
            created: now,
            last_changed: now,
            deleted: None,
            deletion_date: None,
            tags: tag_pairs(op.tags.as_deref().unwrap_or_default()),
            policy: None,
            versions: Vec::new(),
        };
        let version = match &op.value {
            Some(v) => {
                let current = [AWSCURRENT.to_owned()];
                write_version(&mut tx, &ctx, &mut s, &op.version_id, v, &op.keys, &current)?;
                Some(op.version_id.clone())
            }
            None => None,
        };
        save(&mut tx, &s)?;
        Ok(VersionOutput {
            arn: s.arn(),
            name: s.name.clone(),
            version_id: version,
            version_stages: None,
        }
        .reply())
    }
}

/// `PutSecretValue`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all(deserialize = "PascalCase", serialize = "camelCase"))]
pub struct PutSecretValueInput {
    secret_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client_request_token: Option<String>,
    #[serde(default, skip_serializing)]
    secret_binary: Option<Sensitive>,
    #[serde(default, skip_serializing)]
    secret_string: Option<Sensitive>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    version_stages: Option<Vec<String>>,
    #[serde(skip)]
    version_id: String,
    #[serde(skip)]
    value: Option<Incoming>,
    #[serde(skip)]
    keys: Keys,
}

impl PutSecretValueInput {
    pub(crate) fn validated(mut self) -> Result<Self, SecretsError> {
        check_secret_id(&self.secret_id)?;
        if let Some(t) = &self.client_request_token {
            check_version_id("clientRequestToken", t)?;
        }
        if let Some(stages) = &self.version_stages {
            if stages.is_empty() || stages.len() > MAX_STAGES {
                return Err(SecretsError::constraint(
                    "versionStages",
                    "Member must have length between 1 and 20",
                ));
            }
            stages.iter().try_for_each(|s| check_stage(s))?;
        }
        self.value = incoming(self.secret_string.as_ref(), self.secret_binary.as_ref())?;
        if self.value.is_none() {
            return Err(SecretsError::invalid(
                "You must provide either SecretString or SecretBinary.",
            ));
        }
        self.version_id = match &self.client_request_token {
            Some(t) => t.clone(),
            None => new_version_id()?,
        };
        Ok(self)
    }
}

impl Operation for PutSecretValueInput {
    type Output = VersionOutput;

    fn authorize(&self, s: &Scope<'_, Secrets>) -> Result<Authorization, SecretsError> {
        super::on::<Self>(s, &self.secret_id)
    }

    fn prepare<'a>(
        op: &'a mut Authorized<Self>,
        env: Env<'a, Secrets>,
    ) -> BoxFuture<'a, Result<(), SecretsError>> {
        Box::pin(async move {
            let account = op.principal().account.to_string();
            let region = env.region().to_owned();
            let s = env
                .service
                .exec
                .store()
                .read(|tx| live(tx, &account, &region, &op.secret_id))?;
            let key = s.kms_key_id.clone();
            let keys =
                prepare_keys(&env, Some(&s), &s.arn(), &op.version_id, key.as_deref()).await?;
            op.op_mut().keys = keys;
            Ok(())
        })
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Secrets>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let account = ctx.principal.account.as_str();
        let mut s = live(tx.read(), account, ctx.region, &op.secret_id)?;
        let stages = op
            .version_stages
            .clone()
            .unwrap_or_else(|| vec![AWSCURRENT.to_owned()]);
        let Some(v) = &op.value else {
            return Err(SecretsError::invalid(
                "You must provide either SecretString or SecretBinary.",
            ));
        };
        if write_version(&mut tx, &ctx, &mut s, &op.version_id, v, &op.keys, &stages)? {
            save(&mut tx, &s)?;
        }
        let staged = s
            .version(&op.version_id)
            .map(|v| v.stages.clone())
            .unwrap_or_default();
        Ok(VersionOutput {
            arn: s.arn(),
            name: s.name.clone(),
            version_id: Some(op.version_id.clone()),
            version_stages: Some(staged),
        }
        .reply())
    }
}

/// `UpdateSecret`: description, key, and (as a new `AWSCURRENT` version) value. A new key
/// applies to versions written from then on.
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all(deserialize = "PascalCase", serialize = "camelCase"))]
pub struct UpdateSecretInput {
    secret_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client_request_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kms_key_id: Option<String>,
    #[serde(default, skip_serializing)]
    secret_binary: Option<Sensitive>,
    #[serde(default, skip_serializing)]
    secret_string: Option<Sensitive>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    r#type: Option<String>,
    #[serde(skip)]
    version_id: String,
    #[serde(skip)]
    value: Option<Incoming>,
    #[serde(skip)]
    keys: Keys,
}

impl UpdateSecretInput {
    pub(crate) fn validated(mut self) -> Result<Self, SecretsError> {
        check_secret_id(&self.secret_id)?;
        check_description(self.description.as_deref())?;
        check_key_id(self.kms_key_id.as_deref())?;
        if let Some(t) = &self.client_request_token {
            check_version_id("clientRequestToken", t)?;
        }
        self.value = incoming(self.secret_string.as_ref(), self.secret_binary.as_ref())?;
        self.version_id = match &self.client_request_token {
            Some(t) => t.clone(),
            None => new_version_id()?,
        };
        Ok(self)
    }
}

impl Operation for UpdateSecretInput {
    type Output = VersionOutput;

    fn authorize(&self, s: &Scope<'_, Secrets>) -> Result<Authorization, SecretsError> {
        let mut check = check_on(s, action::<Self>(), &self.secret_id, RequestTags::None)?;
        if let Some(k) = &self.kms_key_id {
            check = check.key("secretsmanager:KmsKeyId", vec![k.clone()]);
        }
        if let Some(d) = &self.description {
            check = check.key("secretsmanager:Description", vec![d.clone()]);
        }
        Ok(Authorization::of(check))
    }

    fn prepare<'a>(
        op: &'a mut Authorized<Self>,
        env: Env<'a, Secrets>,
    ) -> BoxFuture<'a, Result<(), SecretsError>> {
        Box::pin(async move {
            let account = op.principal().account.to_string();
            let region = env.region().to_owned();
            let s = env
                .service
                .exec
                .store()
                .read(|tx| live(tx, &account, &region, &op.secret_id))?;
            if op.value.is_none() {
                return Ok(());
            }
            let key = op.kms_key_id.clone().or_else(|| s.kms_key_id.clone());
            let keys =
                prepare_keys(&env, Some(&s), &s.arn(), &op.version_id, key.as_deref()).await?;
            op.op_mut().keys = keys;
            Ok(())
        })
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Secrets>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let account = ctx.principal.account.as_str();
        let mut s = live(tx.read(), account, ctx.region, &op.secret_id)?;
        if let Some(d) = &op.description {
            s.description = Some(d.clone());
        }
        if let Some(k) = &op.kms_key_id {
            s.kms_key_id = Some(k.clone()).filter(|k| !is_default_key(Some(k)));
        }
        s.last_changed = ctx.now.millis();
        let version = match &op.value {
            Some(v) => {
                let current = [AWSCURRENT.to_owned()];
                write_version(&mut tx, &ctx, &mut s, &op.version_id, v, &op.keys, &current)?;
                Some(op.version_id.clone())
            }
            None => None,
        };
        save(&mut tx, &s)?;
        Ok(VersionOutput {
            arn: s.arn(),
            name: s.name.clone(),
            version_id: version,
            version_stages: None,
        }
        .reply())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sensitive(s: &str) -> Sensitive {
        Sensitive(Zeroizing::new(s.as_bytes().to_vec()))
    }

    #[test]
    fn values_within_awss_limits() {
        assert!(incoming(None, None).unwrap().is_none());
        let s = incoming(Some(&sensitive("x")), None).unwrap().unwrap();
        assert!(!s.binary);
        let b = incoming(None, Some(&sensitive("AAEC"))).unwrap().unwrap();
        assert!(b.binary);
        assert_eq!(b.value.expose(), [0, 1, 2]);
        assert!(incoming(Some(&sensitive("x")), Some(&sensitive("AA=="))).is_err());
        assert!(incoming(None, Some(&sensitive("!!"))).is_err());
        let max = "v".repeat(MAX_VALUE_BYTES);
        assert!(incoming(Some(&sensitive(&max)), None).is_ok());
        let over = format!("{max}v");
        let e = incoming(Some(&sensitive(&over)), None).unwrap_err();
        assert!(
            !e.to_string().contains(&over[..10]),
            "an error shows the value"
        );
    }

    #[test]
    fn ids_and_suffixes() {
        let v = new_version_id().unwrap();
        assert_eq!(v.len(), 36);
        assert_eq!(&v[14..15], "4");
        let s = new_suffix().unwrap();
        assert_eq!(s.len(), 6);
        assert!(s.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert!(is_default_key(None));
        assert!(is_default_key(Some("alias/aws/secretsmanager")));
        assert!(!is_default_key(Some("alias/mine")));
    }

    #[test]
    fn a_request_never_prints_its_value() {
        let body = br#"{"Name":"n","SecretString":"hunter2-marker"}"#;
        let op: CreateSecretInput = serde_json::from_slice(body).unwrap();
        let op = op.validated().unwrap();
        assert!(!format!("{op:?}").contains("hunter2"));
        let recorded = serde_json::to_string(&op).unwrap();
        assert!(!recorded.contains("hunter2"), "{recorded}");
        assert!(recorded.contains("\"name\":\"n\""), "{recorded}");
    }
}
