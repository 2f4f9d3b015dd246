//! The typed outputs of the KMS operations (KMS API Reference, "Response Syntax"), and the
//! secret-carrying members' types.
//!
//! # Invariants
//! - A [`Plaintext`] is wiped when dropped, is serialized through a zeroizing buffer, and
//!   never prints.

use base64::Engine as _;
use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::model::{KeyState, KmsKey, Origin};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Epoch seconds, as the JSON protocols write timestamps.
pub(crate) fn secs(t: ferrogate_types::Timestamp) -> f64 {
    t.epoch_seconds_f64()
}

/// A blob (a ciphertext, a public key), base64 on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob(pub Vec<u8>);

impl Blob {
    /// The blob in base64, as the wire carries it.
    pub fn base64(&self) -> String {
        B64.encode(&self.0)
    }
}

impl Serialize for Blob {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.base64())
    }
}

/// A plaintext (a data key, decrypted data, random bytes).
pub struct Plaintext(pub zeroize::Zeroizing<Vec<u8>>);

impl Plaintext {
    /// The bytes.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Plaintext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Plaintext(<{} bytes redacted>)", self.0.len())
    }
}

impl Serialize for Plaintext {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let encoded = zeroize::Zeroizing::new(B64.encode(&*self.0));
        s.serialize_str(&encoded)
    }
}

/// `KeyMetadata`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyMetadata {
    /// `AWSAccountId`.
    #[serde(rename = "AWSAccountId")]
    pub aws_account_id: String,
    /// The key id.
    pub key_id: String,
    /// The key ARN.
    pub arn: String,
    creation_date: f64,
    /// Whether the key is `Enabled`.
    pub enabled: bool,
    description: String,
    /// `ENCRYPT_DECRYPT`.
    pub key_usage: String,
    /// The state now.
    pub key_state: KeyState,
    origin: Origin,
    key_manager: &'static str,
    customer_master_key_spec: String,
    /// `SYMMETRIC_DEFAULT`.
    pub key_spec: String,
    encryption_algorithms: [&'static str; 1],
    /// Whether the key is multi-Region (never, in Ferrogate).
    pub multi_region: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    deletion_date: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pending_deletion_window_in_days: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expiration_model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    valid_to: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    current_key_material_id: Option<String>,
}

impl KeyMetadata {
    /// The key as it is at `now`.
    pub fn of(k: &KmsKey, now: ferrogate_types::Timestamp) -> Self {
        let st = crate::state::effective(k, now).unwrap_or(KeyState::PendingDeletion);
        let external = k.origin == Origin::External;
        Self {
            aws_account_id: k.account.clone(),
            key_id: k.key_id.clone(),
            arn: k.arn(),
            creation_date: secs(k.creation_date),
            enabled: st == KeyState::Enabled,
            description: k.description.clone(),
            key_usage: k.key_usage.clone(),
            key_state: st,
            origin: k.origin,
            key_manager: "CUSTOMER",
            customer_master_key_spec: k.key_spec.clone(),
            key_spec: k.key_spec.clone(),
            encryption_algorithms: ["SYMMETRIC_DEFAULT"],
            multi_region: false,
            deletion_date: k.deletion_date.map(secs),
            pending_deletion_window_in_days: k.deletion_date.and(k.pending_window_days),
            expiration_model: external.then(|| {
                k.expiration_model
                    .clone()
                    .unwrap_or_else(|| "KEY_MATERIAL_EXPIRES".into())
            }),
            valid_to: k.valid_to.filter(|_| external).map(secs),
            current_key_material_id: k
                .current()
                .filter(|_| st != KeyState::PendingImport)
                .map(|m| m.id.clone()),
        }
    }
}

/// `{"KeyMetadata": …}` (CreateKey, DescribeKey).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyMetadataAnswer {
    /// The key.
    pub key_metadata: KeyMetadata,
}

/// `{"KeyId": <arn>}` (CancelKeyDeletion, RotateKeyOnDemand).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyIdAnswer {
    /// The key ARN.
    pub key_id: String,
}

/// A page of a listing: the items under their member name, `Truncated`, `NextMarker`.
#[derive(Debug, Clone, Serialize)]
pub struct Page<T> {
    #[serde(flatten)]
    items: PageItems<T>,
    #[serde(rename = "Truncated")]
    truncated: bool,
    #[serde(rename = "NextMarker", skip_serializing_if = "Option::is_none")]
    next_marker: Option<String>,
}

/// The list member of a [`Page`], named as each listing names it.
#[derive(Debug, Clone, Serialize)]
pub enum PageItems<T> {
    /// `ListKeys`.
    Keys(Vec<T>),
    /// `ListAliases`.
    Aliases(Vec<T>),
    /// `ListGrants`, `ListRetirableGrants`.
    Grants(Vec<T>),
    /// `ListKeyRotations`.
    Rotations(Vec<T>),
    /// `ListResourceTags`.
    Tags(Vec<T>),
    /// `ListKeyPolicies`.
    PolicyNames(Vec<T>),
}

impl<T> Page<T> {
    /// A page and the marker of the next one.
    pub fn new(items: PageItems<T>, next: Option<String>) -> Self {
        Self {
            items,
            truncated: next.is_some(),
            next_marker: next,
        }
    }
}

/// `KeyListEntry`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyListEntry {
    /// The key id.
    pub key_id: String,
    /// The key ARN.
    pub key_arn: String,
}

/// `Tag`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagOut {
    /// The key.
    pub tag_key: String,
    /// The value.
    pub tag_value: String,
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

/// CloudTrail's `responseElements` of an answer: its members in camelCase.
pub(crate) fn elements<T: Serialize>(out: &T) -> Value {
    camel(&serde_json::to_value(out).unwrap_or(Value::Null))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plaintexts_serialize_as_base64_and_never_print() {
        let p = Plaintext(zeroize::Zeroizing::new(b"secret".to_vec()));
        assert_eq!(serde_json::to_string(&p).unwrap(), "\"c2VjcmV0\"");
        assert!(!format!("{p:?}").contains("secret"));
        assert!(!format!("{p:?}").contains("c2VjcmV0"));
    }

    #[test]
    fn pages_name_their_members() {
        let p = Page::new(PageItems::Keys(vec![1, 2]), Some("m".into()));
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            serde_json::json!({"Keys": [1, 2], "Truncated": true, "NextMarker": "m"})
        );
        let p: Page<u8> = Page::new(PageItems::Grants(vec![]), None);
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            serde_json::json!({"Grants": [], "Truncated": false})
        );
    }
}
