//! Key material at rest and in use: generation, sealing under the root key, and the
//! cryptography of `ferrogate-kms-crypto`.
//!
//! # Invariants
//! - Material is sealed with AAD `key ARN || 0x00 || material id`, so a sealed version
//!   cannot be moved to another key or swapped for another version.
//! - Unsealed material lives only in `KeyMaterial` (zeroizing) for the duration of one
//!   operation.

use base64::Engine as _;
use ferrogate_kms_crypto as crypto;
use ferrogate_store::seal::Sealer;
use ferrogate_types::Timestamp;
use zeroize::Zeroizing;

use crate::model::{KmsKey, Material};
use crate::KmsError;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn aad(key_arn: &str, material_id: &str) -> Vec<u8> {
    let mut a = Vec::with_capacity(key_arn.len() + 1 + material_id.len());
    a.extend_from_slice(key_arn.as_bytes());
    a.push(0);
    a.extend_from_slice(material_id.as_bytes());
    a
}

/// The key id (UUID) at the end of a key ARN.
fn key_id_of(key_arn: &str) -> &str {
    key_arn.rsplit('/').next().unwrap_or(key_arn)
}

/// Seals `m` as a new version of `key_arn`'s material.
pub fn seal(
    sealer: &dyn Sealer,
    key_arn: &str,
    m: &crypto::KeyMaterial,
    now: Timestamp,
) -> Result<Material, KmsError> {
    let id = m.material_id(key_id_of(key_arn)).to_hex();
    let sealed = sealer.seal(m.expose().as_slice(), &aad(key_arn, &id))?;
    Ok(Material {
        id,
        sealed: B64.encode(sealed),
        created: now,
    })
}

/// Generates and seals new material.
pub fn generate(sealer: &dyn Sealer, key_arn: &str, now: Timestamp) -> Result<Material, KmsError> {
    let m = crypto::KeyMaterial::generate()?;
    seal(sealer, key_arn, &m, now)
}

/// Unseals one version.
pub fn open(
    sealer: &dyn Sealer,
    key_arn: &str,
    m: &Material,
) -> Result<crypto::KeyMaterial, KmsError> {
    let sealed = B64
        .decode(&m.sealed)
        .map_err(|_| KmsError::corrupt("sealed material is not base64"))?;
    let bytes = sealer.open(&sealed, &aad(key_arn, &m.id)).map_err(|e| {
        tracing::error!(key = key_arn, error = %e, "key material does not unseal");
        KmsError::Internal(e)
    })?;
    // Stored material of the wrong length is our corruption, not the client's
    // IncorrectKeyMaterialException.
    crypto::KeyMaterial::from_bytes(&bytes)
        .map_err(|_| KmsError::corrupt("sealed material has the wrong length"))
}

/// Checks an encryption context against KMS's limits.
pub fn check_context(pairs: &[(String, String)]) -> Result<(), KmsError> {
    context(pairs).map(|_| ())
}

fn context(pairs: &[(String, String)]) -> Result<crypto::EncryptionContext, KmsError> {
    let ctx: crypto::EncryptionContext = pairs.iter().cloned().collect();
    ctx.validate()
        .map_err(|e| KmsError::ValidationException(e.to_string()))?;
    Ok(ctx)
}

/// Encrypts under the key's current material; returns the blob and the material id.
pub fn encrypt(
    sealer: &dyn Sealer,
    key: &KmsKey,
    plaintext: &[u8],
    ctx: &[(String, String)],
) -> Result<(Vec<u8>, String), KmsError> {
    let arn = key.arn();
    let current = key
        .current()
        .ok_or_else(|| KmsError::KMSInvalidStateException(format!("{arn} is pending import.")))?;
    let m = open(sealer, &arn, current)?;
    let id = crypto::MaterialId::from_hex(&current.id)
        .ok_or_else(|| KmsError::corrupt("stored material id is not hex"))?;
    let blob = crypto::encrypt(&m, &arn, &id, plaintext, &context(ctx)?)?;
    Ok((blob, current.id.clone()))
}

/// Decrypts a blob made under any version of the key's material.
pub fn decrypt(
    sealer: &dyn Sealer,
    key: &KmsKey,
    blob: &[u8],
    ctx: &[(String, String)],
) -> Result<(Zeroizing<Vec<u8>>, String), KmsError> {
    let arn = key.arn();
    let header = crypto::parse_blob(blob)?;
    let version = key
        .materials
        .iter()
        .find(|m| m.id == header.material_id.to_hex())
        .ok_or_else(|| KmsError::InvalidCiphertextException(String::new()))?;
    let m = open(sealer, &arn, version)?;
    let plaintext = crypto::decrypt(&m, blob, &context(ctx)?)?;
    Ok((plaintext, version.id.clone()))
}

/// The key ARN a ciphertext names.
pub fn blob_key_arn(blob: &[u8]) -> Result<String, KmsError> {
    Ok(crypto::parse_blob(blob)?.key_arn)
}

/// `n` random bytes from the CSPRNG.
pub fn random(n: usize) -> Result<Zeroizing<Vec<u8>>, KmsError> {
    crypto::generate_random(n).map_err(|e| match e {
        crypto::CryptoError::Rng => KmsError::RandomnessUnavailable,
        other => KmsError::Crypto(other),
    })
}
