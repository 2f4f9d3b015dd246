//! Cryptographic operations: Encrypt, Decrypt, ReEncrypt, GenerateDataKey,
//! GenerateDataKeyWithoutPlaintext, GenerateRandom. None of them changes state, so they
//! run on a read snapshot; none of their audit records holds a plaintext or a ciphertext.

use std::collections::BTreeMap;

use base64::Engine as _;
use ferrogate_iam::op::{Access, Ctx};
use ferrogate_store::{ReadTx, TxRef};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{dry_run, usable, Done, Input, Kms};
use crate::resolve::{self, Aliases, KeyRef};
use crate::state::Use;
use crate::{material, KmsError};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Encrypt accepts at most 4 KiB of plaintext.
pub const MAX_PLAINTEXT: usize = 4096;
/// A ciphertext blob is at most 6 KiB.
pub const MAX_CIPHERTEXT: usize = 6144;

fn blob(field: &str, b64: &str, max: usize) -> Result<Vec<u8>, KmsError> {
    let bytes = B64
        .decode(b64)
        .map_err(|_| KmsError::ValidationException(format!("1 validation error detected: Value at '{field}' failed to satisfy constraint: Member must be base64 encoded")))?;
    if bytes.is_empty() || bytes.len() > max {
        return Err(KmsError::ValidationException(format!(
            "1 validation error detected: Value at '{field}' failed to satisfy constraint: Member must have length between 1 and {max}"
        )));
    }
    Ok(bytes)
}

fn pairs(ctx: &Option<BTreeMap<String, String>>) -> Vec<(String, String)> {
    ctx.as_ref()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

fn check_algorithm(a: Option<&str>) -> Result<(), KmsError> {
    match a {
        None | Some("SYMMETRIC_DEFAULT") => Ok(()),
        Some(other) => Err(KmsError::InvalidKeyUsageException(format!(
            "The encryption algorithm {other} is not supported by a SYMMETRIC_DEFAULT key."
        ))),
    }
}

fn context_param(ctx: &Option<BTreeMap<String, String>>) -> Value {
    ctx.as_ref().map_or(Value::Null, |m| json!(m))
}

/// A base64 plaintext from a request: zeroized when dropped, never printed.
#[derive(Clone)]
pub struct SecretB64(zeroize::Zeroizing<String>);

impl<'de> Deserialize<'de> for SecretB64 {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(|s| SecretB64(zeroize::Zeroizing::new(s)))
    }
}

impl std::fmt::Debug for SecretB64 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretB64(<redacted>)")
    }
}

/// `Encrypt`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EncryptInput {
    key_id: String,
    plaintext: SecretB64,
    #[serde(default)]
    encryption_context: Option<BTreeMap<String, String>>,
    #[serde(default)]
    grant_tokens: Vec<String>,
    #[serde(default)]
    encryption_algorithm: Option<String>,
    #[serde(default)]
    dry_run: Option<bool>,
}

impl EncryptInput {
    pub(crate) fn validated(self) -> Result<Self, KmsError> {
        drop(zeroize::Zeroizing::new(blob(
            "plaintext",
            &self.plaintext.0,
            MAX_PLAINTEXT,
        )?));
        check_algorithm(self.encryption_algorithm.as_deref())?;
        material::check_context(&pairs(&self.encryption_context))?;
        crate::grant::check_tokens(&self.grant_tokens)?;
        Ok(self)
    }
}

impl Input for EncryptInput {
    fn key_param(&self) -> Option<(&str, Aliases)> {
        Some((&self.key_id, Aliases::Accept))
    }
    fn grant_operation(&self) -> Option<&'static str> {
        Some("Encrypt")
    }
    fn context(&self) -> Vec<(String, String)> {
        pairs(&self.encryption_context)
    }
    fn request_parameters(&self) -> Value {
        json!({ "keyId": self.key_id, "encryptionContext": context_param(&self.encryption_context), "encryptionAlgorithm": "SYMMETRIC_DEFAULT" })
    }
    fn run(
        &self,
        _kms: &Kms,
        tx: TxRef<'_>,
        ctx: Ctx<'_>,
        key: Option<&KeyRef>,
    ) -> Result<Done, KmsError> {
        let r = key.ok_or_else(|| KmsError::invalid_key_id(&self.key_id))?;
        let k = usable(tx.read(), r, ctx.now, Use::Crypto)?;
        dry_run(self.dry_run)?;
        let plaintext =
            zeroize::Zeroizing::new(blob("plaintext", &self.plaintext.0, MAX_PLAINTEXT)?);
        let (ciphertext, _) = material::encrypt(ctx.sealer, &k, &plaintext, &self.context())?;
        Ok(Done::body(
            json!({ "CiphertextBlob": B64.encode(ciphertext), "KeyId": k.arn(), "EncryptionAlgorithm": "SYMMETRIC_DEFAULT" }),
        ))
    }
}

/// `Decrypt`: the key is the one the ciphertext names; `KeyId`, when given, must be it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DecryptInput {
    ciphertext_blob: String,
    #[serde(default)]
    encryption_context: Option<BTreeMap<String, String>>,
    #[serde(default)]
    grant_tokens: Vec<String>,
    #[serde(default)]
    key_id: Option<String>,
    #[serde(default)]
    encryption_algorithm: Option<String>,
    #[serde(default)]
    recipient: Option<Value>,
    #[serde(default)]
    dry_run: Option<bool>,
}

impl DecryptInput {
    pub(crate) fn validated(self) -> Result<Self, KmsError> {
        blob("ciphertextBlob", &self.ciphertext_blob, MAX_CIPHERTEXT)?;
        check_algorithm(self.encryption_algorithm.as_deref())?;
        crate::grant::check_tokens(&self.grant_tokens)?;
        if self.recipient.is_some() {
            return Err(KmsError::UnsupportedOperationException(
                "Recipient (Nitro Enclaves attestation) is not supported.".into(),
            ));
        }
        Ok(self)
    }
}

/// The key a ciphertext names, checked against an optional `KeyId`.
fn source_key(
    tx: &dyn ReadTx,
    account: &str,
    region: &str,
    ciphertext: &[u8],
    key_id: Option<&str>,
) -> Result<KeyRef, KmsError> {
    let arn = material::blob_key_arn(ciphertext)?;
    let from_blob = resolve::resolve(tx, account, region, &arn, Aliases::Refuse)
        .map_err(|_| KmsError::InvalidCiphertextException(String::new()))?;
    if let Some(k) = key_id {
        let named = resolve::resolve(tx, account, region, k, Aliases::Accept)?;
        if named != from_blob {
            return Err(KmsError::IncorrectKeyException(
                "The key ID in the request does not identify a CMK that can perform this operation.".into(),
            ));
        }
    }
    Ok(from_blob)
}

impl Input for DecryptInput {
    fn key_ref(
        &self,
        tx: &dyn ReadTx,
        account: &str,
        region: &str,
    ) -> Result<Option<KeyRef>, KmsError> {
        let c = blob("ciphertextBlob", &self.ciphertext_blob, MAX_CIPHERTEXT)?;
        source_key(tx, account, region, &c, self.key_id.as_deref()).map(Some)
    }
    fn grant_operation(&self) -> Option<&'static str> {
        Some("Decrypt")
    }
    fn context(&self) -> Vec<(String, String)> {
        pairs(&self.encryption_context)
    }
    fn request_parameters(&self) -> Value {
        let mut v = json!({ "encryptionContext": context_param(&self.encryption_context), "encryptionAlgorithm": "SYMMETRIC_DEFAULT" });
        if let Some(k) = &self.key_id {
            v["keyId"] = json!(k);
        }
        v
    }
    fn run(
        &self,
        _kms: &Kms,
        tx: TxRef<'_>,
        ctx: Ctx<'_>,
        key: Option<&KeyRef>,
    ) -> Result<Done, KmsError> {
        let r = key.ok_or_else(|| KmsError::InvalidCiphertextException(String::new()))?;
        let k = usable(tx.read(), r, ctx.now, Use::Crypto)?;
        dry_run(self.dry_run)?;
        let c = blob("ciphertextBlob", &self.ciphertext_blob, MAX_CIPHERTEXT)?;
        let (plaintext, material_id) = material::decrypt(ctx.sealer, &k, &c, &self.context())?;
        Ok(Done::body(
            json!({ "KeyId": k.arn(), "Plaintext": B64.encode(&*plaintext), "EncryptionAlgorithm": "SYMMETRIC_DEFAULT", "KeyMaterialId": material_id }),
        ))
    }
}

/// `ReEncrypt`: authorized as `kms:ReEncryptFrom` on the source key and `kms:ReEncryptTo` on
/// the destination key.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReEncryptInput {
    ciphertext_blob: String,
    #[serde(default)]
    source_encryption_context: Option<BTreeMap<String, String>>,
    #[serde(default)]
    source_key_id: Option<String>,
    destination_key_id: String,
    #[serde(default)]
    destination_encryption_context: Option<BTreeMap<String, String>>,
    #[serde(default)]
    source_encryption_algorithm: Option<String>,
    #[serde(default)]
    destination_encryption_algorithm: Option<String>,
    #[serde(default)]
    grant_tokens: Vec<String>,
    #[serde(default)]
    dry_run: Option<bool>,
}

impl ReEncryptInput {
    pub(crate) fn validated(self) -> Result<Self, KmsError> {
        blob("ciphertextBlob", &self.ciphertext_blob, MAX_CIPHERTEXT)?;
        check_algorithm(self.source_encryption_algorithm.as_deref())?;
        check_algorithm(self.destination_encryption_algorithm.as_deref())?;
        material::check_context(&pairs(&self.destination_encryption_context))?;
        crate::grant::check_tokens(&self.grant_tokens)?;
        Ok(self)
    }

    /// The destination key, authorized separately (see [`super::Input::more_access`]).
    pub(crate) fn destination(
        &self,
        tx: &dyn ReadTx,
        account: &str,
        region: &str,
    ) -> Result<KeyRef, KmsError> {
        resolve::resolve(
            tx,
            account,
            region,
            &self.destination_key_id,
            Aliases::Accept,
        )
    }
}

impl Input for ReEncryptInput {
    fn key_ref(
        &self,
        tx: &dyn ReadTx,
        account: &str,
        region: &str,
    ) -> Result<Option<KeyRef>, KmsError> {
        let c = blob("ciphertextBlob", &self.ciphertext_blob, MAX_CIPHERTEXT)?;
        source_key(tx, account, region, &c, self.source_key_id.as_deref()).map(Some)
    }
    fn action_name(&self) -> Option<&'static str> {
        Some("kms:ReEncryptFrom")
    }
    fn grant_operation(&self) -> Option<&'static str> {
        Some("ReEncryptFrom")
    }
    fn context(&self) -> Vec<(String, String)> {
        pairs(&self.source_encryption_context)
    }
    fn more_access(
        &self,
        kms: &Kms,
        tx: &dyn ReadTx,
        principal: &ferrogate_types::Principal,
        region: &str,
        now: ferrogate_types::Timestamp,
    ) -> Result<Vec<Access>, KmsError> {
        let dest = self.destination(tx, principal.account.as_str(), region)?;
        let ctx = pairs(&self.destination_encryption_context);
        let mut access = super::key_access(
            kms,
            tx,
            principal,
            region,
            now,
            &dest,
            Some("ReEncryptTo"),
            &ctx,
        )?;
        access.action = Some("kms:ReEncryptTo".into());
        Ok(vec![access])
    }
    fn request_parameters(&self) -> Value {
        json!({
            "destinationKeyId": self.destination_key_id,
            "sourceEncryptionContext": context_param(&self.source_encryption_context),
            "destinationEncryptionContext": context_param(&self.destination_encryption_context),
            "sourceEncryptionAlgorithm": "SYMMETRIC_DEFAULT", "destinationEncryptionAlgorithm": "SYMMETRIC_DEFAULT",
        })
    }
    fn run(
        &self,
        _kms: &Kms,
        tx: TxRef<'_>,
        ctx: Ctx<'_>,
        key: Option<&KeyRef>,
    ) -> Result<Done, KmsError> {
        let src = key.ok_or_else(|| KmsError::InvalidCiphertextException(String::new()))?;
        let source = usable(tx.read(), src, ctx.now, Use::Crypto)?;
        let dest_ref = self.destination(tx.read(), ctx.principal.account.as_str(), ctx.region)?;
        let dest = usable(tx.read(), &dest_ref, ctx.now, Use::Crypto)?;
        dry_run(self.dry_run)?;
        let c = blob("ciphertextBlob", &self.ciphertext_blob, MAX_CIPHERTEXT)?;
        let (plaintext, source_material) =
            material::decrypt(ctx.sealer, &source, &c, &self.context())?;
        let (out, dest_material) = material::encrypt(
            ctx.sealer,
            &dest,
            &plaintext,
            &pairs(&self.destination_encryption_context),
        )?;
        Ok(Done::body(json!({
            "CiphertextBlob": B64.encode(out), "SourceKeyId": source.arn(), "KeyId": dest.arn(),
            "SourceEncryptionAlgorithm": "SYMMETRIC_DEFAULT", "DestinationEncryptionAlgorithm": "SYMMETRIC_DEFAULT",
            "SourceKeyMaterialId": source_material, "DestinationKeyMaterialId": dest_material,
        })))
    }
}

/// `GenerateDataKey` (`PLAINTEXT = true`) and `GenerateDataKeyWithoutPlaintext`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DataKeyInput<const PLAINTEXT: bool> {
    key_id: String,
    #[serde(default)]
    encryption_context: Option<BTreeMap<String, String>>,
    #[serde(default)]
    number_of_bytes: Option<i64>,
    #[serde(default)]
    key_spec: Option<String>,
    #[serde(default)]
    grant_tokens: Vec<String>,
    #[serde(default)]
    recipient: Option<Value>,
    #[serde(default)]
    dry_run: Option<bool>,
}

impl<const PLAINTEXT: bool> DataKeyInput<PLAINTEXT> {
    pub(crate) fn validated(self) -> Result<Self, KmsError> {
        self.length()?;
        material::check_context(&pairs(&self.encryption_context))?;
        crate::grant::check_tokens(&self.grant_tokens)?;
        if self.recipient.is_some() {
            return Err(KmsError::UnsupportedOperationException(
                "Recipient (Nitro Enclaves attestation) is not supported.".into(),
            ));
        }
        Ok(self)
    }

    fn length(&self) -> Result<usize, KmsError> {
        match (self.number_of_bytes, self.key_spec.as_deref()) {
            (Some(_), Some(_)) | (None, None) => {
                Err(KmsError::ValidationException("Please specify either number of bytes or key spec.".into()))
            }
            (Some(n), None) if (1..=1024).contains(&n) => Ok(usize::try_from(n).unwrap_or(32)),
            (Some(n), None) => Err(KmsError::ValidationException(format!(
                "1 validation error detected: Value '{n}' at 'numberOfBytes' failed to satisfy constraint: Member must have value between 1 and 1024"
            ))),
            (None, Some("AES_256")) => Ok(32),
            (None, Some("AES_128")) => Ok(16),
            (None, Some(other)) => Err(KmsError::ValidationException(format!(
                "1 validation error detected: Value '{other}' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [AES_256, AES_128]"
            ))),
        }
    }
}

impl<const PLAINTEXT: bool> Input for DataKeyInput<PLAINTEXT> {
    fn key_param(&self) -> Option<(&str, Aliases)> {
        Some((&self.key_id, Aliases::Accept))
    }
    fn grant_operation(&self) -> Option<&'static str> {
        Some(if PLAINTEXT {
            "GenerateDataKey"
        } else {
            "GenerateDataKeyWithoutPlaintext"
        })
    }
    fn context(&self) -> Vec<(String, String)> {
        pairs(&self.encryption_context)
    }
    fn request_parameters(&self) -> Value {
        let mut v = json!({ "keyId": self.key_id, "encryptionContext": context_param(&self.encryption_context) });
        if let Some(n) = self.number_of_bytes {
            v["numberOfBytes"] = json!(n);
        }
        if let Some(s) = &self.key_spec {
            v["keySpec"] = json!(s);
        }
        if self.dry_run == Some(true) {
            v["dryRun"] = json!(true);
        }
        v
    }
    fn run(
        &self,
        _kms: &Kms,
        tx: TxRef<'_>,
        ctx: Ctx<'_>,
        key: Option<&KeyRef>,
    ) -> Result<Done, KmsError> {
        let r = key.ok_or_else(|| KmsError::invalid_key_id(&self.key_id))?;
        let k = usable(tx.read(), r, ctx.now, Use::Crypto)?;
        dry_run(self.dry_run)?;
        let data_key = material::random(self.length()?)?;
        let (ciphertext, material_id) =
            material::encrypt(ctx.sealer, &k, &data_key, &self.context())?;
        let mut body = json!({ "CiphertextBlob": B64.encode(ciphertext), "KeyId": k.arn(), "KeyMaterialId": material_id });
        if PLAINTEXT {
            body["Plaintext"] = json!(B64.encode(&*data_key));
        }
        Ok(Done::body(body))
    }
}

/// `GenerateRandom`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GenerateRandomInput {
    #[serde(default)]
    number_of_bytes: Option<i64>,
    #[serde(default)]
    custom_key_store_id: Option<String>,
    #[serde(default)]
    recipient: Option<Value>,
}

impl GenerateRandomInput {
    pub(crate) fn validated(self) -> Result<Self, KmsError> {
        let n = self.number_of_bytes.unwrap_or(0);
        if !(1..=1024).contains(&n) {
            return Err(KmsError::ValidationException(format!(
                "1 validation error detected: Value '{n}' at 'numberOfBytes' failed to satisfy constraint: Member must have value between 1 and 1024"
            )));
        }
        if self.custom_key_store_id.is_some() || self.recipient.is_some() {
            return Err(KmsError::UnsupportedOperationException(
                "Custom key stores and Recipient are not supported.".into(),
            ));
        }
        Ok(self)
    }
}

impl Input for GenerateRandomInput {
    fn request_parameters(&self) -> Value {
        json!({ "numberOfBytes": self.number_of_bytes })
    }
    fn run(
        &self,
        _kms: &Kms,
        _tx: TxRef<'_>,
        _ctx: Ctx<'_>,
        _key: Option<&KeyRef>,
    ) -> Result<Done, KmsError> {
        let n = usize::try_from(self.number_of_bytes.unwrap_or(32)).unwrap_or(32);
        let bytes = material::random(n)?;
        Ok(Done::body(json!({ "Plaintext": B64.encode(&*bytes) })))
    }
}
