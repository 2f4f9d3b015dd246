//! Ciphertext blobs: versioned, self-describing AES-256-GCM under a per-message derived key.
//!
//! Layout (DO NOT CHANGE version 1; a new layout takes a new version byte):
//!
//! ```text
//! offset        size  field
//! 0             1     format version = 0x01
//! 1             2     n = length of the key ARN, u16 big-endian, 1..=MAX_KEY_ARN_LEN
//! 3             n     key ARN, UTF-8
//! 3+n           32    material id (raw SHA-256 bytes; hex form is AWS's KeyMaterialId)
//! 35+n          32    nonce, random per message
//! 67+n          m     AES-256-GCM ciphertext (m = plaintext length)
//! 67+n+m        16    GCM tag
//! ```
//!
//! Key and IV: `HKDF-SHA256(salt = nonce, ikm = key material, info = "ferrogate/kms/blob/v1")`
//! expanded to 44 bytes: the first 32 are the AES-256-GCM key, the last 12 the GCM IV. Each
//! message thus gets its own key; this is how AWS KMS itself uses its HSM backing keys (a
//! derived key per encryption from a random nonce), and it lifts the 2^32-messages-per-key
//! bound that NIST SP 800-38D sets for random 96-bit IVs under a single key.
//!
//! AAD: every header byte before the nonce (version, ARN length, ARN, material id) followed by
//! [`EncryptionContext::canonical_bytes`]. The nonce is bound through the key derivation.

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN as GCM_IV_LEN};
use aws_lc_rs::{hkdf, rand};
use zeroize::{Zeroize, Zeroizing};

use crate::{CryptoError, EncryptionContext, KeyMaterial, MaterialId, MATERIAL_ID_LEN};

/// Format version byte of blobs written by [`encrypt`]. DO NOT CHANGE.
pub const FORMAT_VERSION: u8 = 0x01;
/// Length of the per-message nonce field. DO NOT CHANGE.
pub const NONCE_LEN: usize = 32;
/// Length of the GCM tag. DO NOT CHANGE.
pub const TAG_LEN: usize = 16;
/// HKDF `info` for the per-message key and IV. DO NOT CHANGE.
const KDF_INFO: &[u8] = b"ferrogate/kms/blob/v1";
/// Key ARNs longer than this are refused by [`encrypt`] and [`parse_blob`]. Real KMS key ARNs
/// are under 120 bytes; this bound keeps every blob within AWS's 6144-byte `CiphertextBlob`.
pub const MAX_KEY_ARN_LEN: usize = 256;
/// Smallest plaintext AWS `Encrypt` accepts (enforced by the caller).
pub const MIN_PLAINTEXT_LEN: usize = 1;
/// Largest plaintext AWS `Encrypt` accepts; [`encrypt`] refuses more.
pub const MAX_PLAINTEXT_LEN: usize = 4096;
/// Largest `CiphertextBlob` AWS accepts (botocore `CiphertextType` max); [`parse_blob`]
/// refuses more. Every blob [`encrypt`] writes is at most
/// `67 + MAX_KEY_ARN_LEN + MAX_PLAINTEXT_LEN + 16` = 4435 bytes.
pub const MAX_CIPHERTEXT_BLOB_LEN: usize = 6144;

/// Fixed part of the header before the ARN: version + ARN length.
const PREFIX_LEN: usize = 1 + 2;

/// What a ciphertext blob says about itself, readable without any secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobHeader {
    /// ARN of the KMS key that encrypted the blob (Decrypt without `KeyId` uses it).
    pub key_arn: String,
    /// Which of the key's materials encrypted it (rotation keeps old materials).
    pub material_id: MaterialId,
}

/// A parsed blob borrowing its parts from the input.
struct Parts<'a> {
    key_arn: &'a str,
    material_id: MaterialId,
    /// Every byte before the nonce: the first part of the AAD.
    header: &'a [u8],
    nonce: &'a [u8; NONCE_LEN],
    /// Ciphertext followed by the tag.
    sealed: &'a [u8],
}

fn malformed(reason: &'static str) -> CryptoError {
    CryptoError::MalformedCiphertext { reason }
}

fn split(blob: &[u8]) -> Result<Parts<'_>, CryptoError> {
    if blob.len() > MAX_CIPHERTEXT_BLOB_LEN {
        return Err(malformed("blob is longer than 6144 bytes"));
    }
    let (&version, rest) = blob.split_first().ok_or(malformed("blob is empty"))?;
    if version != FORMAT_VERSION {
        return Err(malformed("unknown format version"));
    }
    let (len_bytes, rest) = rest
        .split_first_chunk::<2>()
        .ok_or(malformed("blob is truncated in the key ARN length"))?;
    let arn_len = usize::from(u16::from_be_bytes(*len_bytes));
    if arn_len == 0 || arn_len > MAX_KEY_ARN_LEN {
        return Err(malformed("key ARN length out of range"));
    }
    if rest.len() < arn_len {
        return Err(malformed("blob is truncated in the key ARN"));
    }
    let (arn_bytes, rest) = rest.split_at(arn_len);
    let key_arn = std::str::from_utf8(arn_bytes).map_err(|_| malformed("key ARN is not UTF-8"))?;
    let (material_id, rest) = rest
        .split_first_chunk::<MATERIAL_ID_LEN>()
        .ok_or(malformed("blob is truncated in the material id"))?;
    let (nonce, sealed) = rest
        .split_first_chunk::<NONCE_LEN>()
        .ok_or(malformed("blob is truncated in the nonce"))?;
    if sealed.len() < TAG_LEN {
        return Err(malformed("blob is truncated in the tag"));
    }
    let header_len = PREFIX_LEN + arn_len + MATERIAL_ID_LEN;
    Ok(Parts {
        key_arn,
        material_id: MaterialId::from_bytes(*material_id),
        header: &blob[..header_len],
        nonce,
        sealed,
    })
}

/// Reads the header of a blob: which key and which material encrypted it. Cheap, needs no
/// secret, and never panics, whatever the input.
///
/// # Errors
/// [`CryptoError::MalformedCiphertext`] if the blob is not a well-formed version-1 blob
/// (this does not authenticate anything: only [`decrypt`] does).
pub fn parse_blob(blob: &[u8]) -> Result<BlobHeader, CryptoError> {
    let parts = split(blob)?;
    Ok(BlobHeader {
        key_arn: parts.key_arn.to_owned(),
        material_id: parts.material_id,
    })
}

/// The AES-256-GCM key and IV for one message.
fn message_key(
    material: &KeyMaterial,
    nonce: &[u8; NONCE_LEN],
) -> Result<(LessSafeKey, Nonce), CryptoError> {
    struct Len;
    impl hkdf::KeyType for Len {
        fn len(&self) -> usize {
            32 + GCM_IV_LEN
        }
    }
    let internal = |operation| move |_| CryptoError::Internal { operation };
    let mut okm = Zeroizing::new([0u8; 32 + GCM_IV_LEN]);
    hkdf::Salt::new(hkdf::HKDF_SHA256, nonce)
        .extract(material.expose())
        .expand(&[KDF_INFO], Len)
        .map_err(internal("HKDF expand"))?
        .fill(&mut okm[..])
        .map_err(internal("HKDF fill"))?;
    let key = UnboundKey::new(&AES_256_GCM, &okm[..32]).map_err(internal("AES-GCM key"))?;
    let iv = Nonce::try_assume_unique_for_key(&okm[32..]).map_err(internal("GCM IV"))?;
    Ok((LessSafeKey::new(key), iv))
}

fn aad(header: &[u8], ctx: &EncryptionContext) -> Result<Vec<u8>, CryptoError> {
    let mut aad = header.to_vec();
    aad.extend_from_slice(&ctx.canonical_bytes()?);
    Ok(aad)
}

/// Encrypts `plaintext` under `material` (the material `material_id` names) for the key
/// `key_arn`, binding `ctx`. A fresh random nonce per call.
///
/// # Errors
/// - [`CryptoError::OutOfRange`] if `plaintext` is longer than [`MAX_PLAINTEXT_LEN`]
///   (the caller enforces AWS's minimum of 1 byte and its own field names);
/// - [`CryptoError::InvalidKeyArn`] if `key_arn` is empty or longer than [`MAX_KEY_ARN_LEN`];
/// - [`CryptoError::Rng`] if the random number generator fails.
pub fn encrypt(
    material: &KeyMaterial,
    key_arn: &str,
    material_id: &MaterialId,
    plaintext: &[u8],
    ctx: &EncryptionContext,
) -> Result<Vec<u8>, CryptoError> {
    let mut nonce = [0u8; NONCE_LEN];
    rand::fill(&mut nonce).map_err(|_| CryptoError::Rng)?;
    encrypt_with_nonce(material, key_arn, material_id, plaintext, ctx, &nonce)
}

/// [`encrypt`] with a caller-chosen nonce: only for golden tests inside this crate.
pub(crate) fn encrypt_with_nonce(
    material: &KeyMaterial,
    key_arn: &str,
    material_id: &MaterialId,
    plaintext: &[u8],
    ctx: &EncryptionContext,
    nonce: &[u8; NONCE_LEN],
) -> Result<Vec<u8>, CryptoError> {
    if plaintext.len() > MAX_PLAINTEXT_LEN {
        return Err(CryptoError::OutOfRange {
            field: "Plaintext",
            min: 0,
            max: MAX_PLAINTEXT_LEN,
            actual: plaintext.len(),
        });
    }
    if key_arn.is_empty() {
        return Err(CryptoError::InvalidKeyArn { reason: "empty" });
    }
    let arn_len = u16::try_from(key_arn.len())
        .ok()
        .filter(|&n| usize::from(n) <= MAX_KEY_ARN_LEN)
        .ok_or(CryptoError::InvalidKeyArn {
            reason: "longer than 256 bytes",
        })?;

    let header_len = PREFIX_LEN + key_arn.len() + MATERIAL_ID_LEN;
    // Exact capacity: the plaintext copied in below is encrypted in place and never
    // reallocated, so no stray plaintext copy is left in freed memory.
    let mut out = Vec::with_capacity(header_len + NONCE_LEN + plaintext.len() + TAG_LEN);
    out.push(FORMAT_VERSION);
    out.extend_from_slice(&arn_len.to_be_bytes());
    out.extend_from_slice(key_arn.as_bytes());
    out.extend_from_slice(material_id.as_bytes());
    let aad = aad(&out, ctx)?;
    out.extend_from_slice(nonce);
    let body_start = out.len();
    out.extend_from_slice(plaintext);

    let sealed = message_key(material, nonce).and_then(|(key, iv)| {
        key.seal_in_place_separate_tag(iv, Aad::from(&aad[..]), &mut out[body_start..])
            .map_err(|_| CryptoError::Internal {
                operation: "AES-GCM seal",
            })
    });
    match sealed {
        Ok(tag) => {
            out.extend_from_slice(tag.as_ref());
            Ok(out)
        }
        Err(e) => {
            // The buffer may still hold plaintext.
            out.zeroize();
            Err(e)
        }
    }
}

/// Authenticates and decrypts a blob with `material`, checking it was encrypted with exactly
/// the encryption context `ctx`.
///
/// The caller picks `material` by the blob's [`BlobHeader::material_id`] (and checks the key
/// named by [`BlobHeader::key_arn`] may be used); the header is authenticated here.
///
/// # Errors
/// - [`CryptoError::MalformedCiphertext`] if the blob is not well-formed;
/// - [`CryptoError::InvalidCiphertext`] if authentication fails: tampered blob, different
///   encryption context, or different material.
pub fn decrypt(
    material: &KeyMaterial,
    blob: &[u8],
    ctx: &EncryptionContext,
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let parts = split(blob)?;
    let aad = aad(parts.header, ctx)?;
    let (key, iv) = message_key(material, parts.nonce)?;
    let mut buf = Zeroizing::new(parts.sealed.to_vec());
    let plaintext_len = key
        .open_in_place(iv, Aad::from(&aad[..]), &mut buf[..])
        .map_err(|_| CryptoError::InvalidCiphertext)?
        .len();
    buf.truncate(plaintext_len);
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn golden_inputs() -> (KeyMaterial, String, MaterialId, EncryptionContext, [u8; 32]) {
        let material_bytes: Vec<u8> = (0u8..32).collect();
        let material = KeyMaterial::from_bytes(&material_bytes).unwrap();
        let key_id = "1234abcd-12ab-34cd-56ef-1234567890ab";
        let arn = format!("arn:aws:kms:us-east-1:111122223333:key/{key_id}");
        let material_id = material.material_id(key_id);
        let ctx: EncryptionContext = [
            ("aws:ecs:clusterAccount", "111122223333"),
            ("aws:ecs:clusterName", "prod"),
            ("aws:ebs:id", "vol-0123456789abcdef0"),
        ]
        .into_iter()
        .collect();
        let nonce: [u8; 32] = std::array::from_fn(|i| 0xa0 ^ u8::try_from(i).unwrap());
        (material, arn, material_id, ctx, nonce)
    }

    /// DO NOT CHANGE: version-1 blobs stored anywhere must keep decrypting. If this test fails,
    /// the format changed; bump FORMAT_VERSION and keep a version-1 reader instead.
    #[test]
    fn golden_blob_v1() {
        let (material, arn, material_id, ctx, nonce) = golden_inputs();
        let blob =
            encrypt_with_nonce(&material, &arn, &material_id, b"hello, kms", &ctx, &nonce).unwrap();
        assert_eq!(hex(&blob), GOLDEN_BLOB_V1_HEX);
        let header = parse_blob(&blob).unwrap();
        assert_eq!(header.key_arn, arn);
        assert_eq!(header.material_id, material_id);
        assert_eq!(&decrypt(&material, &blob, &ctx).unwrap()[..], b"hello, kms");
    }

    /// The layout, byte by byte, independent of the golden hex.
    #[test]
    fn layout_v1() {
        let (material, arn, material_id, ctx, nonce) = golden_inputs();
        let pt = b"hello, kms";
        let blob = encrypt_with_nonce(&material, &arn, &material_id, pt, &ctx, &nonce).unwrap();
        let n = arn.len();
        assert_eq!(blob[0], 0x01);
        assert_eq!(usize::from(u16::from_be_bytes([blob[1], blob[2]])), n);
        assert_eq!(&blob[3..3 + n], arn.as_bytes());
        assert_eq!(&blob[3 + n..35 + n], material_id.as_bytes());
        assert_eq!(&blob[35 + n..67 + n], &nonce);
        assert_eq!(blob.len(), 67 + n + pt.len() + TAG_LEN);

        // Recompute with the documented derivation and AAD, straight from aws-lc-rs.
        let (key, iv) = message_key(&material, &nonce).unwrap();
        let mut aad_expected = blob[..35 + n].to_vec();
        aad_expected.extend_from_slice(&ctx.canonical_bytes().unwrap());
        let mut body = pt.to_vec();
        let tag = key
            .seal_in_place_separate_tag(iv, Aad::from(&aad_expected[..]), &mut body)
            .unwrap();
        assert_eq!(&blob[67 + n..67 + n + pt.len()], &body[..]);
        assert_eq!(&blob[67 + n + pt.len()..], tag.as_ref());
    }

    #[test]
    fn golden_blob_needs_the_same_context() {
        let (material, _, _, mut ctx, _) = golden_inputs();
        let blob = unhex(GOLDEN_BLOB_V1_HEX);
        ctx.insert("aws:ecs:clusterName", "Prod");
        assert_eq!(
            decrypt(&material, &blob, &ctx),
            Err(CryptoError::InvalidCiphertext)
        );
    }

    /// Cross-checked with an independent implementation (Python, pyca/cryptography: HKDF-SHA256
    /// and AESGCM over the documented layout), not only produced by this code.
    const GOLDEN_BLOB_V1_HEX: &str = concat!(
        "01004b61726e3a6177733a6b6d733a75732d656173742d313a3131313132323232333333333a6b65792f",
        "31323334616263642d313261622d333463642d353665662d31323334353637383930616278759ef7de0f",
        "9d9d266ff9e641a37db6ddf0286cf860dbeef3a0b5f2261cbcaca0a1a2a3a4a5a6a7a8a9aaabacadaeaf",
        "b0b1b2b3b4b5b6b7b8b9babbbcbdbebff912ed3a79e6f4554f25e57b77219deaf8832937c07a1dd3ff58",
    );

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }
}
