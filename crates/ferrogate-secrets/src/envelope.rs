//! How a secret value is kept: AES-256-GCM under a data key made for that one version.
//!
//! The data key is wrapped as Secrets Manager does (User Guide, "Secret encryption and
//! decryption in AWS Secrets Manager"): for a customer managed key, by KMS
//! (`GenerateDataKey`, later `Decrypt`) called with the caller's own credentials through
//! Secrets Manager, with the encryption context
//! `{"SecretARN": <secret ARN>, "SecretVersionId": <version id>}`; for the default key
//! `aws/secretsmanager`, under the server's root key, bound to the same two values. The
//! value's own ciphertext is bound to the secret ARN, the version and the value's kind, so
//! that no stored value can be moved to another secret or version.

use std::collections::BTreeMap;

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ferrogate_api::Client;
use ferrogate_kms::ops::{DataKeyInput, DataKeyOutput, DecryptInput};
use ferrogate_kms::Kms;
use ferrogate_store::seal::Sealer;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroizing;

use crate::SecretsError;

/// The data key length (AES-256).
pub const DATA_KEY_LEN: usize = 32;

/// A secret value or data key in memory: zeroed on drop, never printed.
#[derive(Clone)]
pub struct Sensitive(pub Zeroizing<Vec<u8>>);

impl Sensitive {
    /// The bytes.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Constant-time equality (a retried request's value against the stored one).
    pub fn same_as(&self, other: &Sensitive) -> bool {
        aws_lc_rs::constant_time::verify_slices_are_equal(&self.0, &other.0).is_ok()
    }
}

impl std::fmt::Debug for Sensitive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sensitive(<{} bytes redacted>)", self.0.len())
    }
}

impl<'de> Deserialize<'de> for Sensitive {
    /// A JSON string, kept as its UTF-8 bytes (`SecretString`; `SecretBinary` is decoded
    /// from base64 by its input's validation).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(Sensitive(Zeroizing::new(s.into_bytes())))
    }
}

/// Serializes a value as a JSON string: the text of a `SecretString`.
pub fn serialize_text<S: Serializer>(v: &Sensitive, s: S) -> Result<S::Ok, S::Error> {
    let text = std::str::from_utf8(&v.0).map_err(|_| serde::ser::Error::custom("not UTF-8"))?;
    s.serialize_str(text)
}

/// Serializes a value as base64: a `SecretBinary`.
pub fn serialize_binary<S: Serializer>(v: &Sensitive, s: S) -> Result<S::Ok, S::Error> {
    let encoded = Zeroizing::new(B64.encode(&*v.0));
    s.serialize_str(&encoded)
}

/// How a version's data key is kept: never in clear.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Wrapped {
    /// Sealed under the server's root key (the default key `aws/secretsmanager`), base64.
    Service(String),
    /// Encrypted by KMS under a customer managed key: the key ARN and the
    /// `CiphertextBlob`, base64.
    Kms {
        /// The key ARN.
        key_arn: String,
        /// The ciphertext blob.
        blob: String,
    },
}

/// A data key in clear, with how it is wrapped.
pub struct DataKey {
    /// The key.
    pub plain: Sensitive,
    /// How it is stored.
    pub wrapped: Wrapped,
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataKey")
            .field("wrapped", &self.wrapped)
            .finish_non_exhaustive()
    }
}

/// The encryption context Secrets Manager uses with KMS.
pub fn context(secret_arn: &str, version_id: &str) -> BTreeMap<String, String> {
    [
        ("SecretARN".to_owned(), secret_arn.to_owned()),
        ("SecretVersionId".to_owned(), version_id.to_owned()),
    ]
    .into()
}

/// DO NOT CHANGE: stored values are bound to these labels.
fn service_aad(secret_arn: &str, version_id: &str) -> Vec<u8> {
    format!("ferrogate-secretsmanager-data-key-v1\n{secret_arn}\n{version_id}").into_bytes()
}

/// DO NOT CHANGE: stored values are bound to these labels.
fn value_aad(secret_arn: &str, version_id: &str, binary: bool) -> Vec<u8> {
    let kind = if binary { "binary" } else { "string" };
    format!("ferrogate-secretsmanager-value-v1\n{secret_arn}\n{version_id}\n{kind}").into_bytes()
}

fn random(len: usize) -> Result<Zeroizing<Vec<u8>>, SecretsError> {
    let mut k = Zeroizing::new(vec![0u8; len]);
    aws_lc_rs::rand::fill(&mut k).map_err(|_| SecretsError::Crypto("the CSPRNG failed"))?;
    Ok(k)
}

/// A new data key for the default key, sealed under the root key.
pub fn service_key(
    sealer: &dyn Sealer,
    secret_arn: &str,
    version_id: &str,
) -> Result<DataKey, SecretsError> {
    let plain = random(DATA_KEY_LEN)?;
    let sealed = sealer.seal(&plain, &service_aad(secret_arn, version_id))?;
    Ok(DataKey {
        plain: Sensitive(plain),
        wrapped: Wrapped::Service(B64.encode(sealed)),
    })
}

/// Opens a data key of the default key.
pub fn open_service_key(
    sealer: &dyn Sealer,
    secret_arn: &str,
    version_id: &str,
    sealed: &str,
) -> Result<Sensitive, SecretsError> {
    let sealed = B64
        .decode(sealed)
        .map_err(|_| SecretsError::Crypto("a sealed data key is not base64"))?;
    Ok(Sensitive(
        sealer.open(&sealed, &service_aad(secret_arn, version_id))?,
    ))
}

/// Has KMS make a data key under `key_id` bound to `context` ([`context`] for a secret's
/// version), as the caller (`client` is the caller's forward access session).
pub async fn kms_key(
    client: &Client,
    kms: &std::sync::Arc<Kms>,
    key_id: &str,
    context: BTreeMap<String, String>,
) -> Result<DataKey, SecretsError> {
    let refused = |e: ferrogate_kms::KmsError| {
        tracing::debug!(error = %e, "KMS refused to make a data key");
        SecretsError::kms_encrypt(&e)
    };
    let len = i64::try_from(DATA_KEY_LEN).unwrap_or(32);
    let gen = DataKeyInput::<true>::new(key_id, len, context).map_err(refused)?;
    let made = client.call(kms, gen).await.map_err(refused)?;
    let (plain, key_arn) = read_data_key(&made)?;
    Ok(DataKey {
        plain,
        wrapped: Wrapped::Kms {
            key_arn,
            blob: made.ciphertext().base64(),
        },
    })
}

#[derive(Deserialize)]
struct DataKeyWire {
    #[serde(rename = "Plaintext")]
    plaintext: Option<String>,
    #[serde(rename = "KeyId")]
    key_id: String,
}

/// The plaintext and key ARN of KMS's `GenerateDataKey` answer. KMS's typed output
/// exposes only its ciphertext; its wire form (`Serialize`) carries the rest, read here
/// through memory that is zeroed. (A `DataKeyOutput::plaintext()` accessor in
/// `ferrogate-kms` would make this a field read.)
fn read_data_key(out: &DataKeyOutput) -> Result<(Sensitive, String), SecretsError> {
    let bad = || SecretsError::Crypto("KMS's data key answer did not decode");
    let mut wire = Zeroizing::new(Vec::new());
    serde_json::to_writer(&mut *wire, out).map_err(|_| bad())?;
    let parsed: DataKeyWire = serde_json::from_slice(&wire).map_err(|_| bad())?;
    let b64 = Zeroizing::new(parsed.plaintext.ok_or_else(bad)?);
    let plain = Zeroizing::new(B64.decode(b64.as_bytes()).map_err(|_| bad())?);
    if plain.len() != DATA_KEY_LEN {
        return Err(bad());
    }
    Ok((Sensitive(plain), parsed.key_id))
}

/// Has KMS decrypt a data key made with `context`, as the caller.
pub async fn kms_open(
    client: &Client,
    kms: &std::sync::Arc<Kms>,
    key_arn: &str,
    blob: &str,
    context: BTreeMap<String, String>,
) -> Result<Sensitive, SecretsError> {
    let refused = |e: ferrogate_kms::KmsError| {
        tracing::debug!(error = %e, "KMS refused to decrypt a data key");
        SecretsError::kms_decrypt(&e)
    };
    let decrypt = DecryptInput::new(blob, key_arn, context).map_err(refused)?;
    let out = client.call(kms, decrypt).await.map_err(refused)?;
    Ok(Sensitive(Zeroizing::new(out.plaintext().to_vec())))
}

fn aes(key: &Sensitive) -> Result<LessSafeKey, SecretsError> {
    UnboundKey::new(&AES_256_GCM, key.expose())
        .map(LessSafeKey::new)
        .map_err(|_| SecretsError::Crypto("a data key was refused"))
}

/// Encrypts a value under `key` (base64 of nonce ‖ ciphertext ‖ tag).
pub fn seal_value(
    key: &Sensitive,
    secret_arn: &str,
    version_id: &str,
    binary: bool,
    value: &Sensitive,
) -> Result<String, SecretsError> {
    let k = aes(key)?;
    let nonce_bytes = random(NONCE_LEN)?;
    let nonce = Nonce::try_assume_unique_for_key(&nonce_bytes)
        .map_err(|_| SecretsError::Crypto("a nonce was refused"))?;
    let mut buf = value.expose().to_vec();
    k.seal_in_place_append_tag(
        nonce,
        Aad::from(value_aad(secret_arn, version_id, binary)),
        &mut buf,
    )
    .map_err(|_| SecretsError::Crypto("encryption failed"))?;
    let mut out = nonce_bytes.to_vec();
    out.extend_from_slice(&buf);
    Ok(B64.encode(out))
}

/// Decrypts a value sealed by [`seal_value`].
pub fn open_value(
    key: &Sensitive,
    secret_arn: &str,
    version_id: &str,
    binary: bool,
    sealed: &str,
) -> Result<Sensitive, SecretsError> {
    let k = aes(key)?;
    let raw = B64
        .decode(sealed)
        .map_err(|_| SecretsError::Crypto("a stored value is not base64"))?;
    if raw.len() < NONCE_LEN {
        return Err(SecretsError::Crypto("a stored value is too short"));
    }
    let (nonce, ct) = raw.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce)
        .map_err(|_| SecretsError::Crypto("a stored nonce was refused"))?;
    let mut buf = Zeroizing::new(ct.to_vec());
    let plain_len = k
        .open_in_place(
            nonce,
            Aad::from(value_aad(secret_arn, version_id, binary)),
            &mut buf,
        )
        .map_err(|_| SecretsError::Crypto("a stored value did not decrypt"))?
        .len();
    buf.truncate(plain_len);
    Ok(Sensitive(buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> (tempfile::TempDir, ferrogate_store::seal::FileRootKey) {
        let dir = tempfile::tempdir().unwrap();
        let root =
            ferrogate_store::seal::FileRootKey::load_or_create(&dir.path().join("k")).unwrap();
        (dir, root)
    }

    #[test]
    fn values_are_bound_to_secret_version_and_kind() {
        let (_d, root) = root();
        let dk = service_key(&root, "arn:s-1", "v1").unwrap();
        let value = Sensitive(Zeroizing::new(b"hunter2".to_vec()));
        let sealed = seal_value(&dk.plain, "arn:s-1", "v1", false, &value).unwrap();
        assert!(!sealed.contains("hunter2"));
        let back = open_value(&dk.plain, "arn:s-1", "v1", false, &sealed).unwrap();
        assert!(back.same_as(&value));
        assert!(open_value(&dk.plain, "arn:s-2", "v1", false, &sealed).is_err());
        assert!(open_value(&dk.plain, "arn:s-1", "v2", false, &sealed).is_err());
        assert!(open_value(&dk.plain, "arn:s-1", "v1", true, &sealed).is_err());
        let Wrapped::Service(w) = &dk.wrapped else {
            panic!("not a service key")
        };
        let reopened = open_service_key(&root, "arn:s-1", "v1", w).unwrap();
        assert!(reopened.same_as(&dk.plain));
        assert!(open_service_key(&root, "arn:s-1", "v2", w).is_err());
    }

    #[test]
    fn nothing_prints_a_value() {
        let v = Sensitive(Zeroizing::new(b"hunter2".to_vec()));
        assert!(!format!("{v:?}").contains("hunter2"));
        let (_d, root) = root();
        let dk = service_key(&root, "a", "b").unwrap();
        assert!(!format!("{dk:?}").contains(&format!("{:?}", dk.plain.expose())));
    }

    #[test]
    fn context_is_awss() {
        let c = context("arn:x", "v");
        assert_eq!(c["SecretARN"], "arn:x");
        assert_eq!(c["SecretVersionId"], "v");
        assert_eq!(c.len(), 2);
    }
}
