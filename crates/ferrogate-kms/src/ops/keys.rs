//! Keys: CreateKey, ListKeys, UpdateKeyDescription, ScheduleKeyDeletion, key policies and
//! tags. (Operations that take only a key id are in `keyid`.)

use ferrogate_api::{
    Authorization, Authorized, Check, Done, Empty, Exec, Operation, Recorded, Reply, RequestTags,
    Resource, Scope, Sent,
};
use ferrogate_store::{Direction, TxRef};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::output::{
    elements, secs, KeyListEntry, KeyMetadata, KeyMetadataAnswer, Page, PageItems,
};
use super::{key_check, managed_key, on_managed_key, resolve_named, KeyUse, Kms, KEY};
use crate::model::{keys, tables, KeyState, KmsKey, Origin, Tag};
use crate::resolve::Aliases;
use crate::state::Use;
use crate::{material, policy, KmsError};

pub(crate) fn save(tx: &mut TxRef<'_>, k: &KmsKey) -> Result<(), KmsError> {
    tables::KEYS.put(tx.write()?, &keys::key(&k.account, &k.region, &k.key_id), k)?;
    Ok(())
}

/// `Tags` in requests.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagIn {
    tag_key: String,
    tag_value: String,
}

pub(crate) fn check_tags(tags: &[TagIn]) -> Result<Vec<Tag>, KmsError> {
    if tags.len() > 50 {
        return Err(KmsError::TagException(
            "A key can have at most 50 tags.".into(),
        ));
    }
    let mut out = Vec::with_capacity(tags.len());
    for t in tags {
        if t.tag_key.is_empty()
            || t.tag_key.chars().count() > 128
            || t.tag_value.chars().count() > 256
        {
            return Err(KmsError::TagException(format!(
                "Tag key or value is not valid: {}",
                t.tag_key
            )));
        }
        if t.tag_key.starts_with("aws:") {
            return Err(KmsError::TagException(
                "Tag keys beginning with aws: are reserved.".into(),
            ));
        }
        out.push(Tag {
            key: t.tag_key.clone(),
            value: t.tag_value.clone(),
        });
    }
    Ok(out)
}

fn request_tags(tags: &[TagIn]) -> RequestTags {
    RequestTags::Set(
        tags.iter()
            .map(|t| (t.tag_key.clone(), t.tag_value.clone()))
            .collect(),
    )
}

fn new_key_id() -> Result<String, KmsError> {
    let mut b = [0u8; 16];
    aws_lc_rs::rand::fill(&mut b).map_err(|_| KmsError::RandomnessUnavailable)?;
    Ok(ferrogate_types::RequestId::from_random(b).to_string())
}

/// `CreateKey`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateKeyInput {
    #[serde(default)]
    policy: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    key_usage: Option<String>,
    #[serde(default)]
    customer_master_key_spec: Option<String>,
    #[serde(default)]
    key_spec: Option<String>,
    #[serde(default)]
    origin: Option<String>,
    #[serde(default)]
    custom_key_store_id: Option<String>,
    #[serde(default)]
    bypass_policy_lockout_safety_check: Option<bool>,
    #[serde(default)]
    tags: Vec<TagIn>,
    #[serde(default)]
    multi_region: Option<bool>,
}

impl CreateKeyInput {
    pub(crate) fn validated(self) -> Result<Self, KmsError> {
        let unsupported = |what: String| Err(KmsError::UnsupportedOperationException(what));
        if let Some(u) = self
            .key_usage
            .as_deref()
            .filter(|u| *u != "ENCRYPT_DECRYPT")
        {
            return unsupported(format!("KeyUsage {u} is not supported: Ferrogate's keys are symmetric ENCRYPT_DECRYPT keys."));
        }
        let spec = self
            .key_spec
            .as_deref()
            .or(self.customer_master_key_spec.as_deref());
        if let Some(s) = spec.filter(|s| *s != "SYMMETRIC_DEFAULT") {
            return unsupported(format!(
                "KeySpec {s} is not supported: Ferrogate's keys are SYMMETRIC_DEFAULT."
            ));
        }
        if let Some(o) = self
            .origin
            .as_deref()
            .filter(|o| !matches!(*o, "AWS_KMS" | "EXTERNAL"))
        {
            return unsupported(format!("Origin {o} is not supported."));
        }
        if self.multi_region == Some(true) {
            return unsupported("Multi-Region keys are not supported.".into());
        }
        if self.custom_key_store_id.is_some() {
            return unsupported("Custom key stores are not supported.".into());
        }
        if self
            .description
            .as_ref()
            .is_some_and(|d| d.chars().count() > 8192)
        {
            return Err(KmsError::ValidationException(
                "1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 8192".into(),
            ));
        }
        if let Some(p) = &self.policy {
            policy::parse(p)?;
        }
        check_tags(&self.tags)?;
        Ok(self)
    }
}

impl Operation for CreateKeyInput {
    type Output = KeyMetadataAnswer;

    /// `kms:CreateKey` (no resource type: there is no key yet) with the key's properties as
    /// condition keys; with `Tags`, `kms:TagResource` too, as AWS requires ("To tag a KMS key
    /// when you create it, you need kms:TagResource permission in an IAM policy").
    fn authorize(&self, s: &Scope<'_, Kms>) -> Result<Authorization, KmsError> {
        let create = Check::new("kms:CreateKey", Resource::Any, request_tags(&self.tags))
            .keys(super::caller_keys(s))
            .key(
                "kms:KeyOrigin",
                vec![self.origin.clone().unwrap_or_else(|| "AWS_KMS".into())],
            )
            .key("kms:KeySpec", vec!["SYMMETRIC_DEFAULT".into()])
            .key("kms:KeyUsage", vec!["ENCRYPT_DECRYPT".into()])
            .key(
                "kms:BypassPolicyLockoutSafetyCheck",
                vec![self
                    .bypass_policy_lockout_safety_check
                    .unwrap_or(false)
                    .to_string()],
            );
        let mut auth = Authorization::of(create);
        if !self.tags.is_empty() {
            auth = auth.and(
                Check::new("kms:TagResource", Resource::Any, request_tags(&self.tags))
                    .keys(super::caller_keys(s)),
            );
        }
        Ok(auth)
    }

    fn execute(i: &Authorized<Self>, x: Exec<'_, Kms>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let account = ctx.principal.account.to_string();
        let external = i.origin.as_deref() == Some("EXTERNAL");
        let mut k = KmsKey {
            key_id: new_key_id()?,
            account: account.clone(),
            region: ctx.region.to_owned(),
            description: i.description.clone().unwrap_or_default(),
            key_usage: "ENCRYPT_DECRYPT".into(),
            key_spec: "SYMMETRIC_DEFAULT".into(),
            origin: if external {
                Origin::External
            } else {
                Origin::AwsKms
            },
            state: if external {
                KeyState::PendingImport
            } else {
                KeyState::Enabled
            },
            creation_date: ctx.now,
            deletion_date: None,
            pending_window_days: None,
            policy: i
                .policy
                .clone()
                .unwrap_or_else(|| policy::default_policy(&account)),
            rotation_enabled: false,
            rotation_period_days: 365,
            next_rotation: None,
            materials: Vec::new(),
            rotations: Vec::new(),
            valid_to: None,
            expiration_model: None,
            imported_material_id: None,
            tags: check_tags(&i.tags)?,
        };
        if i.bypass_policy_lockout_safety_check != Some(true) {
            policy::lockout_check(&k.policy, ctx.principal, &k.arn(), &k.account)?;
        }
        if !external {
            k.materials
                .push(material::generate(ctx.sealer, &k.arn(), ctx.now)?);
        }
        save(&mut tx, &k)?;
        let out = KeyMetadataAnswer {
            key_metadata: KeyMetadata::of(&k, ctx.now),
        };
        let arn = k.arn();
        Ok(Reply::new(out.clone())
            .elements(elements(&out))
            .resource(KEY, arn))
    }
}

impl Recorded for CreateKeyInput {
    fn request_parameters(&self, _: Sent<'_>) -> Value {
        let mut v = json!({ "keyUsage": "ENCRYPT_DECRYPT", "keySpec": "SYMMETRIC_DEFAULT",
                            "origin": self.origin.clone().unwrap_or_else(|| "AWS_KMS".into()) });
        if let Some(d) = &self.description {
            v["description"] = json!(d);
        }
        if let Some(p) = &self.policy {
            v["policy"] = json!(p);
        }
        v
    }
}

/// `ListKeys`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListKeysInput {
    #[serde(default)]
    limit: Option<i64>,
    #[serde(default)]
    marker: Option<String>,
}

impl ListKeysInput {
    pub(crate) fn validated(self) -> Result<Self, KmsError> {
        check_limit(self.limit)?;
        Ok(self)
    }
}

pub(crate) fn check_limit(limit: Option<i64>) -> Result<usize, KmsError> {
    let l = limit.unwrap_or(100);
    if !(1..=1000).contains(&l) {
        return Err(KmsError::ValidationException(format!(
            "1 validation error detected: Value '{l}' at 'limit' failed to satisfy constraint: Member must have value between 1 and 1000"
        )));
    }
    Ok(usize::try_from(l).unwrap_or(100))
}

/// A page of `items` after `marker` (an item's own id), with `NextMarker`/`Truncated`.
pub(crate) fn page<T>(
    items: Vec<T>,
    marker: Option<&str>,
    limit: usize,
    id: impl Fn(&T) -> String,
) -> Result<(Vec<T>, Option<String>), KmsError> {
    let start = match marker {
        None => 0,
        Some(m) => items
            .iter()
            .position(|i| id(i) == m)
            .map(|p| p + 1)
            .ok_or_else(|| KmsError::InvalidMarkerException("Invalid marker".into()))?,
    };
    let total = items.len();
    let page: Vec<T> = items.into_iter().skip(start).take(limit).collect();
    let next = (start + page.len() < total)
        .then(|| page.last().map(&id))
        .flatten();
    Ok((page, next))
}

impl Operation for ListKeysInput {
    type Output = Page<KeyListEntry>;

    fn authorize(&self, s: &Scope<'_, Kms>) -> Result<Authorization, KmsError> {
        Ok(Authorization::of(
            Check::new("kms:ListKeys", Resource::Any, RequestTags::None)
                .keys(super::caller_keys(s)),
        ))
    }

    fn execute(i: &Authorized<Self>, x: Exec<'_, Kms>) -> Done<Self> {
        let Exec { tx, ctx, .. } = x;
        let limit = check_limit(i.limit)?;
        let prefix = keys::partition(ctx.principal.account.as_str(), ctx.region);
        let all: Vec<KmsKey> = tables::KEYS
            .scan(tx.read(), &prefix, None, Direction::Forward, 100_000)?
            .into_iter()
            .map(|(_, k)| k)
            .filter(|k| crate::state::effective(k, ctx.now).is_some())
            .collect();
        let (page, next) = page(all, i.marker.as_deref(), limit, |k| k.key_id.clone())?;
        let keys = page
            .iter()
            .map(|k| KeyListEntry {
                key_id: k.key_id.clone(),
                key_arn: k.arn(),
            })
            .collect();
        Ok(Reply::new(Page::new(PageItems::Keys(keys), next)))
    }
}

impl Recorded for ListKeysInput {
    fn request_parameters(&self, _: Sent<'_>) -> Value {
        Value::Null
    }
}

/// `UpdateKeyDescription`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateKeyDescriptionInput {
    key_id: String,
    description: String,
}

impl UpdateKeyDescriptionInput {
    pub(crate) fn validated(self) -> Result<Self, KmsError> {
        if self.description.chars().count() > 8192 {
            return Err(KmsError::ValidationException(
                "1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 8192".into(),
            ));
        }
        Ok(self)
    }
}

impl Operation for UpdateKeyDescriptionInput {
    type Output = Empty;

    fn authorize(&self, s: &Scope<'_, Kms>) -> Result<Authorization, KmsError> {
        Ok(Authorization::of(on_managed_key(
            s,
            "kms:UpdateKeyDescription",
            &self.key_id,
        )?))
    }

    fn execute(i: &Authorized<Self>, x: Exec<'_, Kms>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let (_, mut k) = managed_key(&tx, &ctx, &i.key_id, Use::Manage)?;
        k.description.clone_from(&i.description);
        save(&mut tx, &k)?;
        Ok(Reply::new(Empty {}).resource(KEY, k.arn()))
    }
}

impl Recorded for UpdateKeyDescriptionInput {
    fn request_parameters(&self, _: Sent<'_>) -> Value {
        json!({ "keyId": self.key_id, "description": self.description })
    }
}

/// `ScheduleKeyDeletion`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScheduleKeyDeletionInput {
    key_id: String,
    #[serde(default)]
    pending_window_in_days: Option<i64>,
}

impl ScheduleKeyDeletionInput {
    pub(crate) fn validated(self) -> Result<Self, KmsError> {
        let days = self.pending_window_in_days.unwrap_or(30);
        if !(7..=30).contains(&days) {
            return Err(KmsError::ValidationException(format!(
                "1 validation error detected: Value '{days}' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value between 7 and 30"
            )));
        }
        Ok(self)
    }
}

/// `ScheduleKeyDeletion`'s answer.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScheduleKeyDeletionOutput {
    key_id: String,
    deletion_date: f64,
    key_state: KeyState,
    pending_window_in_days: i64,
}

impl Operation for ScheduleKeyDeletionInput {
    type Output = ScheduleKeyDeletionOutput;

    fn authorize(&self, s: &Scope<'_, Kms>) -> Result<Authorization, KmsError> {
        Ok(Authorization::of(
            on_managed_key(s, "kms:ScheduleKeyDeletion", &self.key_id)?.key(
                "kms:ScheduleKeyDeletionPendingWindowInDays",
                vec![self.pending_window_in_days.unwrap_or(30).to_string()],
            ),
        ))
    }

    fn execute(i: &Authorized<Self>, x: Exec<'_, Kms>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let (_, mut k) = managed_key(&tx, &ctx, &i.key_id, Use::Schedule)?;
        let days = i.pending_window_in_days.unwrap_or(30);
        let date = ctx.now.plus_millis(days * 86_400_000);
        k.state = KeyState::PendingDeletion;
        k.deletion_date = Some(date);
        k.pending_window_days = u32::try_from(days).ok();
        save(&mut tx, &k)?;
        let out = ScheduleKeyDeletionOutput {
            key_id: k.arn(),
            deletion_date: secs(date),
            key_state: KeyState::PendingDeletion,
            pending_window_in_days: days,
        };
        Ok(Reply::new(out.clone())
            .elements(elements(&out))
            .resource(KEY, k.arn()))
    }
}

impl Recorded for ScheduleKeyDeletionInput {
    fn request_parameters(&self, _: Sent<'_>) -> Value {
        json!({ "keyId": self.key_id, "pendingWindowInDays": self.pending_window_in_days.unwrap_or(30) })
    }
}

/// `GetKeyPolicy`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetKeyPolicyInput {
    key_id: String,
    #[serde(default)]
    policy_name: Option<String>,
}

fn check_policy_name(name: Option<&str>) -> Result<(), KmsError> {
    match name {
        None | Some("default") => Ok(()),
        Some(other) => Err(KmsError::NotFoundException(format!(
            "No such policy exists: {other}"
        ))),
    }
}

impl GetKeyPolicyInput {
    pub(crate) fn validated(self) -> Result<Self, KmsError> {
        check_policy_name(self.policy_name.as_deref())?;
        Ok(self)
    }
}

/// `GetKeyPolicy`'s answer.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyPolicyOutput {
    policy: String,
    policy_name: &'static str,
}

impl Operation for GetKeyPolicyInput {
    type Output = KeyPolicyOutput;

    fn authorize(&self, s: &Scope<'_, Kms>) -> Result<Authorization, KmsError> {
        Ok(Authorization::of(on_managed_key(
            s,
            "kms:GetKeyPolicy",
            &self.key_id,
        )?))
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Kms>) -> Done<Self> {
        let Exec { tx, ctx, .. } = x;
        let (_, k) = managed_key(&tx, &ctx, &op.key_id, Use::Always)?;
        let arn = k.arn();
        Ok(Reply::new(KeyPolicyOutput {
            policy: k.policy,
            policy_name: "default",
        })
        .resource(KEY, arn))
    }
}

impl Recorded for GetKeyPolicyInput {
    fn request_parameters(&self, _: Sent<'_>) -> Value {
        json!({ "keyId": self.key_id, "policyName": "default" })
    }
}

/// `PutKeyPolicy`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutKeyPolicyInput {
    key_id: String,
    #[serde(default)]
    policy_name: Option<String>,
    policy: String,
    #[serde(default)]
    bypass_policy_lockout_safety_check: Option<bool>,
}

impl PutKeyPolicyInput {
    pub(crate) fn validated(self) -> Result<Self, KmsError> {
        check_policy_name(self.policy_name.as_deref())?;
        policy::parse(&self.policy)?;
        Ok(self)
    }
}

impl Operation for PutKeyPolicyInput {
    type Output = Empty;

    fn authorize(&self, s: &Scope<'_, Kms>) -> Result<Authorization, KmsError> {
        Ok(Authorization::of(
            on_managed_key(s, "kms:PutKeyPolicy", &self.key_id)?.key(
                "kms:BypassPolicyLockoutSafetyCheck",
                vec![self
                    .bypass_policy_lockout_safety_check
                    .unwrap_or(false)
                    .to_string()],
            ),
        ))
    }

    fn execute(i: &Authorized<Self>, x: Exec<'_, Kms>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let (_, mut k) = managed_key(&tx, &ctx, &i.key_id, Use::Manage)?;
        if i.bypass_policy_lockout_safety_check != Some(true) {
            policy::lockout_check(&i.policy, ctx.principal, &k.arn(), &k.account)?;
        }
        k.policy.clone_from(&i.policy);
        save(&mut tx, &k)?;
        Ok(Reply::new(Empty {}).resource(KEY, k.arn()))
    }
}

impl Recorded for PutKeyPolicyInput {
    fn request_parameters(&self, _: Sent<'_>) -> Value {
        json!({ "keyId": self.key_id, "policyName": "default", "policy": self.policy })
    }
}

/// `TagResource`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagResourceInput {
    key_id: String,
    tags: Vec<TagIn>,
}

impl TagResourceInput {
    pub(crate) fn validated(self) -> Result<Self, KmsError> {
        check_tags(&self.tags)?;
        Ok(self)
    }
}

impl Operation for TagResourceInput {
    type Output = Empty;

    fn authorize(&self, s: &Scope<'_, Kms>) -> Result<Authorization, KmsError> {
        let r = resolve_named(s, &self.key_id, Aliases::Refuse)?;
        let use_ = KeyUse {
            action: "kms:TagResource",
            grant_operation: None,
            context: &[],
        };
        Ok(Authorization::of(key_check(
            s,
            &r,
            &use_,
            request_tags(&self.tags),
        )?))
    }

    fn execute(i: &Authorized<Self>, x: Exec<'_, Kms>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let (_, mut k) = managed_key(&tx, &ctx, &i.key_id, Use::Manage)?;
        for t in check_tags(&i.tags)? {
            k.tags.retain(|x| x.key != t.key);
            k.tags.push(t);
        }
        if k.tags.len() > 50 {
            return Err(KmsError::TagException(
                "A key can have at most 50 tags.".into(),
            ));
        }
        save(&mut tx, &k)?;
        Ok(Reply::new(Empty {}).resource(KEY, k.arn()))
    }
}

impl Recorded for TagResourceInput {
    fn request_parameters(&self, _: Sent<'_>) -> Value {
        json!({ "keyId": self.key_id, "tags": self.tags.iter().map(|t| json!({"tagKey": t.tag_key, "tagValue": t.tag_value})).collect::<Vec<_>>() })
    }
}

/// `UntagResource`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UntagResourceInput {
    key_id: String,
    tag_keys: Vec<String>,
}

impl UntagResourceInput {
    pub(crate) fn validated(self) -> Result<Self, KmsError> {
        Ok(self)
    }
}

impl Operation for UntagResourceInput {
    type Output = Empty;

    fn authorize(&self, s: &Scope<'_, Kms>) -> Result<Authorization, KmsError> {
        let r = resolve_named(s, &self.key_id, Aliases::Refuse)?;
        let use_ = KeyUse {
            action: "kms:UntagResource",
            grant_operation: None,
            context: &[],
        };
        Ok(Authorization::of(key_check(
            s,
            &r,
            &use_,
            RequestTags::Remove(self.tag_keys.clone()),
        )?))
    }

    fn execute(i: &Authorized<Self>, x: Exec<'_, Kms>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let (_, mut k) = managed_key(&tx, &ctx, &i.key_id, Use::Manage)?;
        k.tags.retain(|t| !i.tag_keys.contains(&t.key));
        save(&mut tx, &k)?;
        Ok(Reply::new(Empty {}).resource(KEY, k.arn()))
    }
}

impl Recorded for UntagResourceInput {
    fn request_parameters(&self, _: Sent<'_>) -> Value {
        json!({ "keyId": self.key_id, "tagKeys": self.tag_keys })
    }
}
