//! Operations whose input is a key id: DescribeKey, EnableKey, DisableKey,
//! CancelKeyDeletion, ListKeyPolicies, ListResourceTags, DisableKeyRotation,
//! GetKeyRotationStatus, RotateKeyOnDemand.

use ferrogate_api::{
    Authorization, Authorized, Ctx, Done, Empty, Exec, Operation, Recorded, Reply, Scope, Sent,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::keys::save;
use super::output::{secs, KeyIdAnswer, KeyMetadata, KeyMetadataAnswer, Page, PageItems, TagOut};
use super::{on_named_key, usable, KeyUse, Kms, KEY};
use crate::model::{KeyState, KmsKey, Origin};
use crate::resolve::Aliases;
use crate::state::Use;
use crate::KmsError;

/// `DescribeKey`: alias names and ARNs are accepted; a grant for `DescribeKey` allows it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeKeyInput {
    key_id: String,
    #[serde(default)]
    grant_tokens: Vec<String>,
}

impl DescribeKeyInput {
    /// Describes the key `key_id` (a key id, key ARN, alias name or alias ARN).
    ///
    /// # Errors
    /// `ValidationException` for a name KMS would refuse.
    pub fn new(key_id: &str) -> Result<Self, KmsError> {
        Self {
            key_id: key_id.to_owned(),
            grant_tokens: Vec::new(),
        }
        .validated()
    }

    pub(crate) fn validated(self) -> Result<Self, KmsError> {
        crate::grant::check_tokens(&self.grant_tokens)?;
        Ok(self)
    }
}

impl Operation for DescribeKeyInput {
    type Output = KeyMetadataAnswer;

    fn authorize(&self, s: &Scope<'_, Kms>) -> Result<Authorization, KmsError> {
        let use_ = KeyUse {
            action: "kms:DescribeKey",
            grant_operation: Some("DescribeKey"),
            context: &[],
        };
        Ok(Authorization::of(on_named_key(
            s,
            &self.key_id,
            Aliases::Accept,
            &use_,
        )?))
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Kms>) -> Done<Self> {
        let Exec { tx, ctx, .. } = x;
        let r = crate::resolve::resolve(
            tx.read(),
            ctx.principal.account.as_str(),
            ctx.region,
            &op.key_id,
            Aliases::Accept,
        )?;
        let k = usable(tx.read(), &r, ctx.now, Use::Always)?;
        Ok(Reply::new(KeyMetadataAnswer {
            key_metadata: KeyMetadata::of(&k, ctx.now),
        })
        .resource(KEY, k.arn()))
    }
}

impl Recorded for DescribeKeyInput {
    fn request_parameters(&self, _: Sent<'_>) -> Value {
        json!({ "keyId": self.key_id })
    }
}

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

/// The answers of the key-id operations.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum KeyAnswer {
    /// `{}`.
    Empty(Empty),
    /// `{"KeyId": …}`.
    KeyId(KeyIdAnswer),
    /// `{"PolicyNames": ["default"], "Truncated": false}`.
    PolicyNames(Page<&'static str>),
    /// `{"Tags": […], "Truncated": false}`.
    Tags(Page<TagOut>),
    /// `GetKeyRotationStatus`.
    RotationStatus(RotationStatus),
}

/// `GetKeyRotationStatus`'s answer.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RotationStatus {
    key_rotation_enabled: bool,
    key_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    rotation_period_in_days: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_rotation_date: Option<f64>,
}

/// An operation whose input is `KeyId` (plus grant tokens it may ignore).
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

/// What a key-id operation does to the loaded key, and the state it needs.
type Step = fn(&mut KmsKey, &Ctx<'_>) -> Result<KeyAnswer, KmsError>;

fn step(op: u8) -> (Use, Step) {
    match op {
        ENABLE => (Use::Toggle, |k, _| {
            k.state = KeyState::Enabled;
            Ok(KeyAnswer::Empty(Empty {}))
        }),
        DISABLE => (Use::Toggle, |k, _| {
            k.state = KeyState::Disabled;
            Ok(KeyAnswer::Empty(Empty {}))
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
            Ok(KeyAnswer::KeyId(KeyIdAnswer { key_id: k.arn() }))
        }),
        LIST_POLICIES => (Use::Always, |_, _| {
            Ok(KeyAnswer::PolicyNames(Page::new(
                PageItems::PolicyNames(vec!["default"]),
                None,
            )))
        }),
        LIST_TAGS => (Use::Always, |k, _| {
            let tags = k
                .tags
                .iter()
                .map(|t| TagOut {
                    tag_key: t.key.clone(),
                    tag_value: t.value.clone(),
                })
                .collect();
            Ok(KeyAnswer::Tags(Page::new(PageItems::Tags(tags), None)))
        }),
        DISABLE_ROTATION => (Use::RefusedWhenDisabled, |k, _| {
            unsupported_rotation(k)?;
            k.rotation_enabled = false;
            k.next_rotation = None;
            Ok(KeyAnswer::Empty(Empty {}))
        }),
        ROTATION_STATUS => (Use::Manage, |k, _| {
            unsupported_rotation(k)?;
            Ok(KeyAnswer::RotationStatus(RotationStatus {
                key_rotation_enabled: k.rotation_enabled,
                key_id: k.arn(),
                rotation_period_in_days: k.rotation_enabled.then_some(k.rotation_period_days),
                next_rotation_date: k.next_rotation.filter(|_| k.rotation_enabled).map(secs),
            }))
        }),
        _ => (Use::RefusedWhenDisabled, |k, c| {
            unsupported_rotation(k)?;
            super::rotation::rotate(k, c, "ON_DEMAND")?;
            Ok(KeyAnswer::KeyId(KeyIdAnswer { key_id: k.arn() }))
        }),
    }
}

fn action(op: u8) -> &'static str {
    match op {
        ENABLE => "kms:EnableKey",
        DISABLE => "kms:DisableKey",
        CANCEL => "kms:CancelKeyDeletion",
        LIST_POLICIES => "kms:ListKeyPolicies",
        LIST_TAGS => "kms:ListResourceTags",
        DISABLE_ROTATION => "kms:DisableKeyRotation",
        ROTATION_STATUS => "kms:GetKeyRotationStatus",
        _ => "kms:RotateKeyOnDemand",
    }
}

impl<const OP: u8> Operation for KeyIdInput<OP>
where
    Self: ferrogate_api::Registered<Service = Kms>,
{
    type Output = KeyAnswer;

    fn authorize(&self, s: &Scope<'_, Kms>) -> Result<Authorization, KmsError> {
        let use_ = KeyUse {
            action: action(OP),
            grant_operation: None,
            context: &[],
        };
        Ok(Authorization::of(on_named_key(
            s,
            &self.key_id,
            Aliases::Refuse,
            &use_,
        )?))
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Kms>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let r = crate::resolve::resolve(
            tx.read(),
            ctx.principal.account.as_str(),
            ctx.region,
            &op.key_id,
            Aliases::Refuse,
        )?;
        let (what, run) = step(OP);
        let mut k = usable(tx.read(), &r, ctx.now, what)?;
        let before = k.clone();
        let out = run(&mut k, &ctx)?;
        if k != before {
            save(&mut tx, &k)?;
        }
        Ok(Reply::new(out).resource(KEY, k.arn()))
    }
}

impl<const OP: u8> Recorded for KeyIdInput<OP>
where
    Self: ferrogate_api::Registered<Service = Kms>,
{
    fn request_parameters(&self, _: Sent<'_>) -> Value {
        json!({ "keyId": self.key_id })
    }
}

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
