//! Keys: CreateKey, DescribeKey, ListKeys, UpdateKeyDescription, EnableKey, DisableKey,
//! ScheduleKeyDeletion, CancelKeyDeletion, key policies, tags, and the rotation switches
//! that take only a key id.

use ferrogate_store::{Direction, TxRef};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{usable, Done, Input, Kms};
use crate::model::{keys, tables, KeyState, KmsKey, Origin, Tag};
use crate::resolve::{Aliases, KeyRef};
use crate::state::Use;
use crate::{material, policy, KmsError};
use ferrogate_iam::op::Ctx;

/// Epoch seconds, as the JSON protocols write timestamps.
pub(crate) fn secs(t: ferrogate_types::Timestamp) -> f64 {
    t.epoch_seconds_f64()
}

/// `KeyMetadata` at `now`.
pub(crate) fn metadata(k: &KmsKey, now: ferrogate_types::Timestamp) -> Value {
    let st = crate::state::effective(k, now).unwrap_or(KeyState::PendingDeletion);
    let mut m = json!({
        "AWSAccountId": k.account, "KeyId": k.key_id, "Arn": k.arn(), "CreationDate": secs(k.creation_date),
        "Enabled": st == KeyState::Enabled, "Description": k.description, "KeyUsage": k.key_usage,
        "KeyState": st.as_str(), "Origin": k.origin.as_str(), "KeyManager": "CUSTOMER",
        "CustomerMasterKeySpec": k.key_spec, "KeySpec": k.key_spec, "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"],
        "MultiRegion": false,
    });
    if let Some(d) = k.deletion_date {
        m["DeletionDate"] = json!(secs(d));
        m["PendingDeletionWindowInDays"] = json!(k.pending_window_days);
    }
    if k.origin == Origin::External {
        m["ExpirationModel"] = json!(k
            .expiration_model
            .clone()
            .unwrap_or_else(|| "KEY_MATERIAL_EXPIRES".into()));
        if let Some(v) = k.valid_to {
            m["ValidTo"] = json!(secs(v));
        }
    }
    if let Some(cur) = k.current() {
        if st != KeyState::PendingImport {
            m["CurrentKeyMaterialId"] = json!(cur.id);
        }
    }
    m
}

/// The same object with CloudTrail's camelCase member names (`aWSAccountId` included, as
/// CloudTrail writes it).
pub(crate) fn camel(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let mut c = k.chars();
                    let name = c
                        .next()
                        .map(|f| f.to_lowercase().chain(c).collect())
                        .unwrap_or_default();
                    (name, camel(v))
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(camel).collect()),
        other => other.clone(),
    }
}

fn save(tx: &mut TxRef<'_>, k: &KmsKey) -> Result<(), KmsError> {
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

fn new_key_id() -> String {
    let mut b = [0u8; 16];
    let _ = aws_lc_rs::rand::fill(&mut b);
    ferrogate_types::RequestId::from_random(b).to_string()
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

impl Input for CreateKeyInput {
    fn condition_keys(&self) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = self
            .tags
            .iter()
            .map(|t| {
                (
                    format!("aws:RequestTag/{}", t.tag_key),
                    vec![t.tag_value.clone()],
                )
            })
            .collect();
        if !self.tags.is_empty() {
            out.push((
                "aws:TagKeys".into(),
                self.tags.iter().map(|t| t.tag_key.clone()).collect(),
            ));
        }
        out.push((
            "kms:KeyOrigin".into(),
            vec![self.origin.clone().unwrap_or_else(|| "AWS_KMS".into())],
        ));
        out.push(("kms:KeySpec".into(), vec!["SYMMETRIC_DEFAULT".into()]));
        out.push(("kms:KeyUsage".into(), vec!["ENCRYPT_DECRYPT".into()]));
        out.push((
            "kms:BypassPolicyLockoutSafetyCheck".into(),
            vec![self
                .bypass_policy_lockout_safety_check
                .unwrap_or(false)
                .to_string()],
        ));
        out
    }

    fn created_key(&self, body: &Value) -> Option<String> {
        body["KeyMetadata"]["Arn"].as_str().map(str::to_owned)
    }

    fn request_parameters(&self) -> Value {
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

    fn run(
        &self,
        _kms: &Kms,
        mut tx: TxRef<'_>,
        ctx: Ctx<'_>,
        _key: Option<&KeyRef>,
    ) -> Result<Done, KmsError> {
        let account = ctx.principal.account.to_string();
        let external = self.origin.as_deref() == Some("EXTERNAL");
        let mut k = KmsKey {
            key_id: new_key_id(),
            account: account.clone(),
            region: ctx.region.to_owned(),
            description: self.description.clone().unwrap_or_default(),
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
            policy: self
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
            tags: check_tags(&self.tags)?,
        };
        if self.bypass_policy_lockout_safety_check != Some(true) {
            policy::lockout_check(&k.policy, ctx.principal, &k.arn(), &k.account)?;
        }
        if !external {
            k.materials
                .push(material::generate(ctx.sealer, &k.arn(), ctx.now)?);
        }
        save(&mut tx, &k)?;
        let m = metadata(&k, ctx.now);
        Ok(Done {
            elements: json!({ "keyMetadata": camel(&m) }),
            body: json!({ "KeyMetadata": m }),
        })
    }
}

/// Operations that take only `KeyId`.
pub const DESCRIBE: u8 = 0;
/// `EnableKey`.
pub const ENABLE: u8 = 1;
/// `DisableKey`.
pub const DISABLE: u8 = 2;
/// `CancelKeyDeletion`.
pub const CANCEL: u8 = 3;
/// `ListKeyPolicies`.
pub const LIST_POLICIES: u8 = 4;
/// `ListResourceTags`.
pub const LIST_TAGS: u8 = 5;
/// `DisableKeyRotation`.
pub const DISABLE_ROTATION: u8 = 6;
/// `GetKeyRotationStatus`.
pub const ROTATION_STATUS: u8 = 7;
/// `RotateKeyOnDemand`.
pub const ROTATE: u8 = 8;

/// An operation whose input is `KeyId` (plus paging or grant tokens it may ignore).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyIdInput<const OP: u8> {
    key_id: String,
    #[serde(default)]
    grant_tokens: Vec<String>,
}

impl<const OP: u8> KeyIdInput<OP> {
    pub(crate) fn validated(self) -> Result<Self, KmsError> {
        crate::grant::check_tokens(&self.grant_tokens)?;
        Ok(self)
    }
}

impl<const OP: u8> Input for KeyIdInput<OP> {
    fn key_param(&self) -> Option<(&str, Aliases)> {
        let aliases = if OP == DESCRIBE {
            Aliases::Accept
        } else {
            Aliases::Refuse
        };
        Some((&self.key_id, aliases))
    }

    fn grant_operation(&self) -> Option<&'static str> {
        (OP == DESCRIBE).then_some("DescribeKey")
    }

    fn request_parameters(&self) -> Value {
        json!({ "keyId": self.key_id })
    }

    fn run(
        &self,
        _kms: &Kms,
        mut tx: TxRef<'_>,
        ctx: Ctx<'_>,
        key: Option<&KeyRef>,
    ) -> Result<Done, KmsError> {
        let r = key.ok_or_else(|| KmsError::invalid_key_id(&self.key_id))?;
        let now = ctx.now;
        let (what, done): (Use, Step) = match OP {
            DESCRIBE => (Use::Always, |k, c| {
                Ok(Done::body(json!({ "KeyMetadata": metadata(k, c.now) })))
            }),
            ENABLE => (Use::Toggle, |k, _| {
                k.state = KeyState::Enabled;
                Ok(Done::body(json!({})))
            }),
            DISABLE => (Use::Toggle, |k, _| {
                k.state = KeyState::Disabled;
                Ok(Done::body(json!({})))
            }),
            CANCEL => (Use::Cancel, |k, _| {
                // CancelKeyDeletion leaves the key disabled (KMS API reference).
                k.state = if k.origin == Origin::External && k.materials.is_empty() {
                    KeyState::PendingImport
                } else {
                    KeyState::Disabled
                };
                k.deletion_date = None;
                k.pending_window_days = None;
                Ok(Done::body(json!({ "KeyId": k.arn() })))
            }),
            LIST_POLICIES => (Use::Always, |_, _| {
                Ok(Done::body(
                    json!({ "PolicyNames": ["default"], "Truncated": false }),
                ))
            }),
            LIST_TAGS => (Use::Always, |k, _| {
                let tags: Vec<Value> = k
                    .tags
                    .iter()
                    .map(|t| json!({ "TagKey": t.key, "TagValue": t.value }))
                    .collect();
                Ok(Done::body(json!({ "Tags": tags, "Truncated": false })))
            }),
            DISABLE_ROTATION => (Use::RefusedWhenDisabled, |k, _| {
                unsupported_rotation(k)?;
                k.rotation_enabled = false;
                k.next_rotation = None;
                Ok(Done::body(json!({})))
            }),
            ROTATION_STATUS => (Use::Manage, |k, _| {
                unsupported_rotation(k)?;
                let mut v = json!({ "KeyRotationEnabled": k.rotation_enabled, "KeyId": k.arn() });
                if k.rotation_enabled {
                    v["RotationPeriodInDays"] = json!(k.rotation_period_days);
                    if let Some(n) = k.next_rotation {
                        v["NextRotationDate"] = json!(secs(n));
                    }
                }
                Ok(Done::body(v))
            }),
            _ => (Use::RefusedWhenDisabled, |k, c| {
                unsupported_rotation(k)?;
                super::rotation::rotate(k, c, "ON_DEMAND")?;
                Ok(Done::body(json!({ "KeyId": k.arn() })))
            }),
        };
        let mut k = usable(tx.read(), r, now, what)?;
        let before = k.clone();
        let out = done(&mut k, &ctx)?;
        if k != before {
            save(&mut tx, &k)?;
        }
        Ok(out)
    }
}

/// What a key-id-only operation does to the loaded key.
type Step = fn(&mut KmsKey, &Ctx<'_>) -> Result<Done, KmsError>;

/// Rotation needs KMS-generated material.
fn unsupported_rotation(k: &KmsKey) -> Result<(), KmsError> {
    if k.origin == Origin::External {
        return Err(KmsError::UnsupportedOperationException(format!(
            "{} origin is EXTERNAL which is not valid for this operation.",
            k.arn()
        )));
    }
    Ok(())
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

impl Input for ListKeysInput {
    fn request_parameters(&self) -> Value {
        Value::Null
    }

    fn run(
        &self,
        _kms: &Kms,
        tx: TxRef<'_>,
        ctx: Ctx<'_>,
        _key: Option<&KeyRef>,
    ) -> Result<Done, KmsError> {
        let limit = check_limit(self.limit)?;
        let prefix = keys::partition(ctx.principal.account.as_str(), ctx.region);
        let all: Vec<KmsKey> = tables::KEYS
            .scan(tx.read(), &prefix, None, Direction::Forward, 100_000)?
            .into_iter()
            .map(|(_, k)| k)
            .filter(|k| crate::state::effective(k, ctx.now).is_some())
            .collect();
        let (page, next) = page(all, self.marker.as_deref(), limit, |k| k.key_id.clone())?;
        let keys: Vec<Value> = page
            .iter()
            .map(|k| json!({ "KeyId": k.key_id, "KeyArn": k.arn() }))
            .collect();
        let mut body = json!({ "Keys": keys, "Truncated": next.is_some() });
        if let Some(n) = next {
            body["NextMarker"] = json!(n);
        }
        Ok(Done::body(body))
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

impl Input for UpdateKeyDescriptionInput {
    fn key_param(&self) -> Option<(&str, Aliases)> {
        Some((&self.key_id, Aliases::Refuse))
    }

    fn request_parameters(&self) -> Value {
        json!({ "keyId": self.key_id, "description": self.description })
    }

    fn run(
        &self,
        _kms: &Kms,
        mut tx: TxRef<'_>,
        ctx: Ctx<'_>,
        key: Option<&KeyRef>,
    ) -> Result<Done, KmsError> {
        let r = key.ok_or_else(|| KmsError::invalid_key_id(&self.key_id))?;
        let mut k = usable(tx.read(), r, ctx.now, Use::Manage)?;
        k.description.clone_from(&self.description);
        save(&mut tx, &k)?;
        Ok(Done::body(json!({})))
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

impl Input for ScheduleKeyDeletionInput {
    fn key_param(&self) -> Option<(&str, Aliases)> {
        Some((&self.key_id, Aliases::Refuse))
    }

    fn condition_keys(&self) -> Vec<(String, Vec<String>)> {
        vec![(
            "kms:ScheduleKeyDeletionPendingWindowInDays".into(),
            vec![self.pending_window_in_days.unwrap_or(30).to_string()],
        )]
    }

    fn request_parameters(&self) -> Value {
        json!({ "keyId": self.key_id, "pendingWindowInDays": self.pending_window_in_days.unwrap_or(30) })
    }

    fn run(
        &self,
        _kms: &Kms,
        mut tx: TxRef<'_>,
        ctx: Ctx<'_>,
        key: Option<&KeyRef>,
    ) -> Result<Done, KmsError> {
        let r = key.ok_or_else(|| KmsError::invalid_key_id(&self.key_id))?;
        let mut k = usable(tx.read(), r, ctx.now, Use::Schedule)?;
        let days = self.pending_window_in_days.unwrap_or(30);
        let date = ctx.now.plus_millis(days * 86_400_000);
        k.state = KeyState::PendingDeletion;
        k.deletion_date = Some(date);
        k.pending_window_days = u32::try_from(days).ok();
        save(&mut tx, &k)?;
        let body = json!({ "KeyId": k.arn(), "DeletionDate": secs(date), "KeyState": "PendingDeletion", "PendingWindowInDays": days });
        Ok(Done {
            elements: camel(&body),
            body,
        })
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

impl Input for GetKeyPolicyInput {
    fn key_param(&self) -> Option<(&str, Aliases)> {
        Some((&self.key_id, Aliases::Refuse))
    }

    fn request_parameters(&self) -> Value {
        json!({ "keyId": self.key_id, "policyName": "default" })
    }

    fn run(
        &self,
        _kms: &Kms,
        tx: TxRef<'_>,
        ctx: Ctx<'_>,
        key: Option<&KeyRef>,
    ) -> Result<Done, KmsError> {
        let r = key.ok_or_else(|| KmsError::invalid_key_id(&self.key_id))?;
        let k = usable(tx.read(), r, ctx.now, Use::Always)?;
        Ok(Done::body(
            json!({ "Policy": k.policy, "PolicyName": "default" }),
        ))
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

impl Input for PutKeyPolicyInput {
    fn key_param(&self) -> Option<(&str, Aliases)> {
        Some((&self.key_id, Aliases::Refuse))
    }

    fn condition_keys(&self) -> Vec<(String, Vec<String>)> {
        vec![(
            "kms:BypassPolicyLockoutSafetyCheck".into(),
            vec![self
                .bypass_policy_lockout_safety_check
                .unwrap_or(false)
                .to_string()],
        )]
    }

    fn request_parameters(&self) -> Value {
        json!({ "keyId": self.key_id, "policyName": "default", "policy": self.policy })
    }

    fn run(
        &self,
        _kms: &Kms,
        mut tx: TxRef<'_>,
        ctx: Ctx<'_>,
        key: Option<&KeyRef>,
    ) -> Result<Done, KmsError> {
        let r = key.ok_or_else(|| KmsError::invalid_key_id(&self.key_id))?;
        let mut k = usable(tx.read(), r, ctx.now, Use::Manage)?;
        if self.bypass_policy_lockout_safety_check != Some(true) {
            policy::lockout_check(&self.policy, ctx.principal, &k.arn(), &k.account)?;
        }
        k.policy.clone_from(&self.policy);
        save(&mut tx, &k)?;
        Ok(Done::body(json!({})))
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

impl Input for TagResourceInput {
    fn key_param(&self) -> Option<(&str, Aliases)> {
        Some((&self.key_id, Aliases::Refuse))
    }

    fn condition_keys(&self) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = self
            .tags
            .iter()
            .map(|t| {
                (
                    format!("aws:RequestTag/{}", t.tag_key),
                    vec![t.tag_value.clone()],
                )
            })
            .collect();
        out.push((
            "aws:TagKeys".into(),
            self.tags.iter().map(|t| t.tag_key.clone()).collect(),
        ));
        out
    }

    fn request_parameters(&self) -> Value {
        json!({ "keyId": self.key_id, "tags": self.tags.iter().map(|t| json!({"tagKey": t.tag_key, "tagValue": t.tag_value})).collect::<Vec<_>>() })
    }

    fn run(
        &self,
        _kms: &Kms,
        mut tx: TxRef<'_>,
        ctx: Ctx<'_>,
        key: Option<&KeyRef>,
    ) -> Result<Done, KmsError> {
        let r = key.ok_or_else(|| KmsError::invalid_key_id(&self.key_id))?;
        let mut k = usable(tx.read(), r, ctx.now, Use::Manage)?;
        for t in check_tags(&self.tags)? {
            k.tags.retain(|x| x.key != t.key);
            k.tags.push(t);
        }
        if k.tags.len() > 50 {
            return Err(KmsError::TagException(
                "A key can have at most 50 tags.".into(),
            ));
        }
        save(&mut tx, &k)?;
        Ok(Done::body(json!({})))
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

impl Input for UntagResourceInput {
    fn key_param(&self) -> Option<(&str, Aliases)> {
        Some((&self.key_id, Aliases::Refuse))
    }

    fn condition_keys(&self) -> Vec<(String, Vec<String>)> {
        vec![("aws:TagKeys".into(), self.tag_keys.clone())]
    }

    fn request_parameters(&self) -> Value {
        json!({ "keyId": self.key_id, "tagKeys": self.tag_keys })
    }

    fn run(
        &self,
        _kms: &Kms,
        mut tx: TxRef<'_>,
        ctx: Ctx<'_>,
        key: Option<&KeyRef>,
    ) -> Result<Done, KmsError> {
        let r = key.ok_or_else(|| KmsError::invalid_key_id(&self.key_id))?;
        let mut k = usable(tx.read(), r, ctx.now, Use::Manage)?;
        k.tags.retain(|t| !self.tag_keys.contains(&t.key));
        save(&mut tx, &k)?;
        Ok(Done::body(json!({})))
    }
}
