//! Cryptographic operations: Encrypt, Decrypt, ReEncrypt, GenerateDataKey,
//! GenerateDataKeyWithoutPlaintext, GenerateRandom. None of them changes state, so they
//! run on a read snapshot; none of their audit records holds a plaintext or a ciphertext.
//!
//! Each is authorized with `kms:EncryptionAlgorithm` (`SYMMETRIC_DEFAULT`, also when the
//! request leaves the algorithm out: KMS condition keys "work even when the parameter
//! doesn't appear in the request"), the encryption context keys, and `kms:RequestAlias`
//! when the key is named by an alias.

use std::collections::BTreeMap;

use base64::Engine as _;
use ferrogate_api::{
    Authorization, Authorized, Check, Ctx, Done, Exec, Operation, Recorded, Reply, RequestTags,
    Resource, Scope, Sent,
};
use ferrogate_store::{ReadTx, TxRef};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::output::{Blob, Plaintext};
use super::{
    caller_keys, dry_run, key_check, on_named_key, request_alias, usable, KeyUse, Kms, KEY,
};
use crate::resolve::{self, Aliases, KeyRef};
use crate::state::Use;
use crate::{material, KmsError};

/// The only algorithm of symmetric keys.
const SYMMETRIC_DEFAULT: &str = "SYMMETRIC_DEFAULT";

/// `kms:EncryptionAlgorithm` on a check.
fn with_algorithm(check: Check) -> Check {
    check.key(
        "kms:EncryptionAlgorithm",
        vec![SYMMETRIC_DEFAULT.to_owned()],
    )
}

/// The check of a cryptographic operation on the key `name` names.
fn on_crypto_key(
    s: &Scope<'_, Kms>,
    name: &str,
    action: &str,
    grant_operation: &str,
    context: &[(String, String)],
) -> Result<Check, KmsError> {
    let use_ = KeyUse {
        action,
        grant_operation: Some(grant_operation),
        context,
    };
    Ok(with_algorithm(on_named_key(
        s,
        name,
        Aliases::Accept,
        &use_,
    )?))
}

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

/// `Encrypt`'s answer.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EncryptOutput {
    ciphertext_blob: Blob,
    key_id: String,
    encryption_algorithm: &'static str,
}

impl Operation for EncryptInput {
    type Output = EncryptOutput;

    fn authorize(&self, s: &Scope<'_, Kms>) -> Result<Authorization, KmsError> {
        Ok(Authorization::of(on_crypto_key(
            s,
            &self.key_id,
            "kms:Encrypt",
            "Encrypt",
            &pairs(&self.encryption_context),
        )?))
    }

    fn execute(i: &Authorized<Self>, x: Exec<'_, Kms>) -> Done<Self> {
        let Exec { service, tx, ctx } = x;
        let r = named(service, &tx, &ctx, &i.key_id)?;
        let k = service.usable(tx.read(), &r, ctx.now, Use::Crypto)?;
        dry_run(i.dry_run)?;
        let plaintext = zeroize::Zeroizing::new(blob("plaintext", &i.plaintext.0, MAX_PLAINTEXT)?);
        let (ciphertext, _) =
            material::encrypt(ctx.sealer, &k, &plaintext, &pairs(&i.encryption_context))?;
        Ok(Reply::new(EncryptOutput {
            ciphertext_blob: Blob(ciphertext),
            key_id: k.arn(),
            encryption_algorithm: SYMMETRIC_DEFAULT,
        })
        .resource(KEY, k.arn()))
    }
}

impl Recorded for EncryptInput {
    fn request_parameters(&self, _: Sent<'_>) -> Value {
        json!({ "keyId": self.key_id, "encryptionContext": context_param(&self.encryption_context), "encryptionAlgorithm": SYMMETRIC_DEFAULT })
    }
}

/// The key a request names (aliases accepted), resolved in the handler's transaction.
fn named(kms: &Kms, tx: &TxRef<'_>, ctx: &Ctx<'_>, name: &str) -> Result<KeyRef, KmsError> {
    kms.resolve(
        tx.read(),
        ctx.principal.account.as_str(),
        ctx.region,
        name,
        Aliases::Accept,
    )
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
    /// Decrypts `ciphertext_blob` (base64) under `key_id` with `context`.
    ///
    /// # Errors
    /// `ValidationException` for a blob KMS would refuse.
    pub fn new(
        ciphertext_blob: &str,
        key_id: &str,
        context: BTreeMap<String, String>,
    ) -> Result<Self, KmsError> {
        Self {
            ciphertext_blob: ciphertext_blob.to_owned(),
            encryption_context: Some(context),
            grant_tokens: Vec::new(),
            key_id: Some(key_id.to_owned()),
            encryption_algorithm: None,
            recipient: None,
            dry_run: None,
        }
        .validated()
    }

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
    kms: &Kms,
    tx: &dyn ReadTx,
    account: &str,
    region: &str,
    ciphertext: &[u8],
    key_id: Option<&str>,
) -> Result<KeyRef, KmsError> {
    let arn = material::blob_key_arn(ciphertext)?;
    let from_blob = kms
        .resolve(tx, account, region, &arn, Aliases::Refuse)
        .map_err(|_| KmsError::InvalidCiphertextException(String::new()))?;
    if let Some(k) = key_id {
        let named = kms.resolve(tx, account, region, k, Aliases::Accept)?;
        if named != from_blob {
            return Err(KmsError::IncorrectKeyException(
                "The key ID in the request does not identify a CMK that can perform this operation.".into(),
            ));
        }
    }
    Ok(from_blob)
}

impl DecryptInput {
    fn key(
        &self,
        kms: &Kms,
        tx: &dyn ReadTx,
        account: &str,
        region: &str,
    ) -> Result<KeyRef, KmsError> {
        let c = blob("ciphertextBlob", &self.ciphertext_blob, MAX_CIPHERTEXT)?;
        source_key(kms, tx, account, region, &c, self.key_id.as_deref())
    }
}

/// `Decrypt`'s answer. `Debug` does not show the plaintext.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DecryptOutput {
    key_id: String,
    plaintext: Plaintext,
    encryption_algorithm: &'static str,
    key_material_id: String,
}

impl DecryptOutput {
    /// The plaintext.
    pub fn plaintext(&self) -> &[u8] {
        self.plaintext.expose()
    }
}

impl Operation for DecryptInput {
    type Output = DecryptOutput;

    /// On the key the ciphertext names (checked against `KeyId`, which may be an alias).
    fn authorize(&self, s: &Scope<'_, Kms>) -> Result<Authorization, KmsError> {
        let r = self.key(s.service, s.tx, s.account(), s.region)?;
        let context = pairs(&self.encryption_context);
        let use_ = KeyUse {
            action: "kms:Decrypt",
            grant_operation: Some("Decrypt"),
            context: &context,
        };
        let mut check = with_algorithm(key_check(s, &r, &use_, RequestTags::None)?);
        if let Some((k, v)) = self.key_id.as_deref().and_then(request_alias) {
            check = check.key(k, v);
        }
        Ok(Authorization::of(check))
    }

    fn execute(i: &Authorized<Self>, x: Exec<'_, Kms>) -> Done<Self> {
        let Exec { service, tx, ctx } = x;
        let r = i.key(
            service,
            tx.read(),
            ctx.principal.account.as_str(),
            ctx.region,
        )?;
        let k = service.usable(tx.read(), &r, ctx.now, Use::Crypto)?;
        dry_run(i.dry_run)?;
        let c = blob("ciphertextBlob", &i.ciphertext_blob, MAX_CIPHERTEXT)?;
        let (plaintext, material_id) =
            material::decrypt(ctx.sealer, &k, &c, &pairs(&i.encryption_context))?;
        Ok(Reply::new(DecryptOutput {
            key_id: k.arn(),
            plaintext: Plaintext(plaintext),
            encryption_algorithm: SYMMETRIC_DEFAULT,
            key_material_id: material_id,
        })
        .resource(KEY, k.arn()))
    }
}

impl Recorded for DecryptInput {
    fn request_parameters(&self, _: Sent<'_>) -> Value {
        let mut v = json!({ "encryptionContext": context_param(&self.encryption_context), "encryptionAlgorithm": SYMMETRIC_DEFAULT });
        if let Some(k) = &self.key_id {
            v["keyId"] = json!(k);
        }
        v
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

    /// The destination key.
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

/// `ReEncrypt`'s answer.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReEncryptOutput {
    ciphertext_blob: Blob,
    source_key_id: String,
    key_id: String,
    source_encryption_algorithm: &'static str,
    destination_encryption_algorithm: &'static str,
    source_key_material_id: String,
    destination_key_material_id: String,
}

impl Operation for ReEncryptInput {
    type Output = ReEncryptOutput;

    /// `kms:ReEncryptFrom` on the source key and `kms:ReEncryptTo` on the destination key.
    fn authorize(&self, s: &Scope<'_, Kms>) -> Result<Authorization, KmsError> {
        let c = blob("ciphertextBlob", &self.ciphertext_blob, MAX_CIPHERTEXT)?;
        let source = source_key(
            s.service,
            s.tx,
            s.account(),
            s.region,
            &c,
            self.source_key_id.as_deref(),
        )?;
        let source_context = pairs(&self.source_encryption_context);
        let from = KeyUse {
            action: "kms:ReEncryptFrom",
            grant_operation: Some("ReEncryptFrom"),
            context: &source_context,
        };
        let mut from = with_algorithm(key_check(s, &source, &from, RequestTags::None)?);
        if let Some((k, v)) = self.source_key_id.as_deref().and_then(request_alias) {
            from = from.key(k, v);
        }
        let to = on_crypto_key(
            s,
            &self.destination_key_id,
            "kms:ReEncryptTo",
            "ReEncryptTo",
            &pairs(&self.destination_encryption_context),
        )?;
        Ok(Authorization::of(from).and(to))
    }

    fn execute(i: &Authorized<Self>, x: Exec<'_, Kms>) -> Done<Self> {
        let Exec { service, tx, ctx } = x;
        let (account, region) = (ctx.principal.account.as_str(), ctx.region);
        let c = blob("ciphertextBlob", &i.ciphertext_blob, MAX_CIPHERTEXT)?;
        let src = source_key(
            service,
            tx.read(),
            account,
            region,
            &c,
            i.source_key_id.as_deref(),
        )?;
        let source = service.usable(tx.read(), &src, ctx.now, Use::Crypto)?;
        let dest_ref = i.destination(tx.read(), account, region)?;
        let dest = usable(tx.read(), &dest_ref, ctx.now, Use::Crypto)?;
        dry_run(i.dry_run)?;
        let (plaintext, source_material) = material::decrypt(
            ctx.sealer,
            &source,
            &c,
            &pairs(&i.source_encryption_context),
        )?;
        let (out, dest_material) = material::encrypt(
            ctx.sealer,
            &dest,
            &plaintext,
            &pairs(&i.destination_encryption_context),
        )?;
        Ok(Reply::new(ReEncryptOutput {
            ciphertext_blob: Blob(out),
            source_key_id: source.arn(),
            key_id: dest.arn(),
            source_encryption_algorithm: SYMMETRIC_DEFAULT,
            destination_encryption_algorithm: SYMMETRIC_DEFAULT,
            source_key_material_id: source_material,
            destination_key_material_id: dest_material,
        })
        .resource(KEY, source.arn()))
    }
}

impl Recorded for ReEncryptInput {
    fn request_parameters(&self, _: Sent<'_>) -> Value {
        json!({
            "destinationKeyId": self.destination_key_id,
            "sourceEncryptionContext": context_param(&self.source_encryption_context),
            "destinationEncryptionContext": context_param(&self.destination_encryption_context),
            "sourceEncryptionAlgorithm": SYMMETRIC_DEFAULT, "destinationEncryptionAlgorithm": SYMMETRIC_DEFAULT,
        })
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
    /// A data key of `number_of_bytes` under `key_id`, bound to `context`.
    ///
    /// # Errors
    /// `ValidationException` for a length or context KMS would refuse.
    pub fn new(
        key_id: &str,
        number_of_bytes: i64,
        context: BTreeMap<String, String>,
    ) -> Result<Self, KmsError> {
        Self {
            key_id: key_id.to_owned(),
            encryption_context: Some(context),
            number_of_bytes: Some(number_of_bytes),
            key_spec: None,
            grant_tokens: Vec::new(),
            recipient: None,
            dry_run: None,
        }
        .validated()
    }

    /// The same request with `DryRun` (a check that it would be allowed).
    #[must_use]
    pub fn dry_run(mut self) -> Self {
        self.dry_run = Some(true);
        self
    }

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

/// `GenerateDataKey`'s and `GenerateDataKeyWithoutPlaintext`'s answer. `Debug` does not
/// show the plaintext.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DataKeyOutput {
    ciphertext_blob: Blob,
    key_id: String,
    key_material_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    plaintext: Option<Plaintext>,
}

impl DataKeyOutput {
    /// The encrypted data key.
    pub fn ciphertext(&self) -> &Blob {
        &self.ciphertext_blob
    }
}

impl<const PLAINTEXT: bool> Operation for DataKeyInput<PLAINTEXT>
where
    Self: ferrogate_api::Registered<Service = Kms>,
{
    type Output = DataKeyOutput;

    fn authorize(&self, s: &Scope<'_, Kms>) -> Result<Authorization, KmsError> {
        let (action, grant) = if PLAINTEXT {
            ("kms:GenerateDataKey", "GenerateDataKey")
        } else {
            (
                "kms:GenerateDataKeyWithoutPlaintext",
                "GenerateDataKeyWithoutPlaintext",
            )
        };
        Ok(Authorization::of(on_crypto_key(
            s,
            &self.key_id,
            action,
            grant,
            &pairs(&self.encryption_context),
        )?))
    }

    fn execute(i: &Authorized<Self>, x: Exec<'_, Kms>) -> Done<Self> {
        let Exec { service, tx, ctx } = x;
        let r = named(service, &tx, &ctx, &i.key_id)?;
        let k = service.usable(tx.read(), &r, ctx.now, Use::Crypto)?;
        dry_run(i.dry_run)?;
        let data_key = material::random(i.length()?)?;
        let (ciphertext, material_id) =
            material::encrypt(ctx.sealer, &k, &data_key, &pairs(&i.encryption_context))?;
        Ok(Reply::new(DataKeyOutput {
            ciphertext_blob: Blob(ciphertext),
            key_id: k.arn(),
            key_material_id: material_id,
            plaintext: PLAINTEXT.then(|| Plaintext(data_key)),
        })
        .resource(KEY, k.arn()))
    }
}

impl<const PLAINTEXT: bool> Recorded for DataKeyInput<PLAINTEXT>
where
    Self: ferrogate_api::Registered<Service = Kms>,
{
    fn request_parameters(&self, _: Sent<'_>) -> Value {
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

/// `GenerateRandom`'s answer. `Debug` does not show the bytes.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RandomOutput {
    plaintext: Plaintext,
}

impl Operation for GenerateRandomInput {
    type Output = RandomOutput;

    /// `kms:GenerateRandom` has no resource type.
    fn authorize(&self, s: &Scope<'_, Kms>) -> Result<Authorization, KmsError> {
        Ok(Authorization::of(
            Check::new("kms:GenerateRandom", Resource::Any, RequestTags::None).keys(caller_keys(s)),
        ))
    }

    fn execute(op: &Authorized<Self>, _: Exec<'_, Kms>) -> Done<Self> {
        let n = usize::try_from(op.number_of_bytes.unwrap_or(32)).unwrap_or(32);
        Ok(Reply::new(RandomOutput {
            plaintext: Plaintext(material::random(n)?),
        }))
    }
}

impl Recorded for GenerateRandomInput {
    fn request_parameters(&self, _: Sent<'_>) -> Value {
        json!({ "numberOfBytes": self.number_of_bytes })
    }
}
