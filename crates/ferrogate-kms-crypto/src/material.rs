//! Key material (the secret of a symmetric KMS key) and its public identifier.

use std::fmt;

use aws_lc_rs::{constant_time, digest, rand};
use zeroize::Zeroize;

use crate::CryptoError;

/// Length of a symmetric KMS key's material: AES-256.
pub const KEY_MATERIAL_LEN: usize = 32;

/// Length of a [`MaterialId`] in bytes (its hex form, AWS's `KeyMaterialId`, is twice as long).
pub const MATERIAL_ID_LEN: usize = 32;

/// Domain-separation label of [`KeyMaterial::material_id`].
///
/// DO NOT CHANGE: material ids are stored, returned to clients as `KeyMaterialId` and written
/// into every ciphertext blob; a re-import is recognised by recomputing the id.
const MATERIAL_ID_LABEL: &[u8] = b"ferrogate/kms/key-material-id/v1\0";

/// The 32-byte secret of a symmetric (`SYMMETRIC_DEFAULT`, AES-256-GCM) KMS key.
///
/// Lives on the heap (moves do not leave copies on the stack), is zeroed on drop, prints as
/// `<redacted>`, and has no `PartialEq`: compare with [`KeyMaterial::ct_eq`].
pub struct KeyMaterial {
    bytes: Box<[u8; KEY_MATERIAL_LEN]>,
}

impl KeyMaterial {
    /// Fresh material from the system CSPRNG (aws-lc).
    ///
    /// # Errors
    /// [`CryptoError::Rng`] if the random number generator fails.
    pub fn generate() -> Result<Self, CryptoError> {
        let mut bytes = Box::new([0u8; KEY_MATERIAL_LEN]);
        rand::fill(&mut bytes[..]).map_err(|_| CryptoError::Rng)?;
        Ok(Self { bytes })
    }

    /// Material from raw bytes: unsealed from storage, or unwrapped from an import.
    ///
    /// The caller keeps ownership of `bytes` and should zeroize its own copy.
    ///
    /// # Errors
    /// [`CryptoError::InvalidKeyMaterial`] unless `bytes` is exactly [`KEY_MATERIAL_LEN`] long.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        if bytes.len() != KEY_MATERIAL_LEN {
            return Err(CryptoError::InvalidKeyMaterial {
                reason: "symmetric key material must be exactly 32 bytes",
            });
        }
        let mut boxed = Box::new([0u8; KEY_MATERIAL_LEN]);
        boxed.copy_from_slice(bytes);
        Ok(Self { bytes: boxed })
    }

    /// The raw secret, for sealing under the root key. Never log, print or store it unsealed.
    #[must_use]
    pub fn expose(&self) -> &[u8; KEY_MATERIAL_LEN] {
        &self.bytes
    }

    /// Constant-time equality (the check that a re-import brings back the same material).
    #[must_use]
    pub fn ct_eq(&self, other: &KeyMaterial) -> bool {
        constant_time::verify_slices_are_equal(&self.bytes[..], &other.bytes[..]).is_ok()
    }

    /// The public identifier of this material within the KMS key `key_id`.
    ///
    /// `SHA-256(label || u32 BE len(key_id) || key_id || material)`, where `label` is the fixed
    /// string `"ferrogate/kms/key-material-id/v1\0"`. AWS documents that it "assigns a unique
    /// identifier to the key material based on the KMS key ID and the imported key material",
    /// and compares a re-import's computed id with the `KeyMaterialId` given: so the same
    /// material re-imported into the same key gets the same id, while the same material in two
    /// keys gets unrelated ids. Pass the bare key id (the UUID, not an ARN or alias) so the id
    /// survives renames and aliases.
    ///
    /// SHA-256 of 256 bits of secret plus public data reveals nothing usable about the material.
    #[must_use]
    pub fn material_id(&self, key_id: &str) -> MaterialId {
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(MATERIAL_ID_LABEL);
        // A key id longer than 4 GiB cannot exist; saturating keeps this total without panics
        // and still unambiguous for every real id.
        let len = u32::try_from(key_id.len()).unwrap_or(u32::MAX);
        ctx.update(&len.to_be_bytes());
        ctx.update(key_id.as_bytes());
        ctx.update(&self.bytes[..]);
        let digest = ctx.finish();
        let mut id = [0u8; MATERIAL_ID_LEN];
        id.copy_from_slice(digest.as_ref());
        MaterialId(id)
    }
}

impl Clone for KeyMaterial {
    fn clone(&self) -> Self {
        Self {
            bytes: self.bytes.clone(),
        }
    }
}

impl Drop for KeyMaterial {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

impl fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyMaterial(<redacted>)")
    }
}

/// Public identifier of one key material of a KMS key: AWS's `KeyMaterialId` (64 lowercase hex
/// characters) and, raw, the material field of every ciphertext blob.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MaterialId([u8; MATERIAL_ID_LEN]);

impl MaterialId {
    /// From the 32 raw bytes (as stored in a blob).
    #[must_use]
    pub const fn from_bytes(bytes: [u8; MATERIAL_ID_LEN]) -> Self {
        Self(bytes)
    }

    /// The 32 raw bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; MATERIAL_ID_LEN] {
        &self.0
    }

    /// The `KeyMaterialId` string: 64 lowercase hex characters (botocore `BackingKeyIdType`:
    /// length 64, pattern `^[a-f0-9]+$`).
    #[must_use]
    pub fn to_hex(&self) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut s = String::with_capacity(MATERIAL_ID_LEN * 2);
        for b in self.0 {
            s.push(char::from(HEX[usize::from(b >> 4)]));
            s.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
        s
    }

    /// Parses a `KeyMaterialId` string: exactly 64 lowercase hex characters, as AWS's model
    /// requires. `None` for anything else.
    #[must_use]
    pub fn from_hex(s: &str) -> Option<Self> {
        let s = s.as_bytes();
        if s.len() != MATERIAL_ID_LEN * 2 {
            return None;
        }
        let nibble = |c: u8| match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        };
        let mut out = [0u8; MATERIAL_ID_LEN];
        for (o, pair) in out.iter_mut().zip(s.chunks_exact(2)) {
            *o = (nibble(pair[0])? << 4) | nibble(pair[1])?;
        }
        Some(Self(out))
    }
}

impl fmt::Debug for MaterialId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MaterialId({})", self.to_hex())
    }
}

impl fmt::Display for MaterialId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_bytes_requires_exactly_32_bytes() {
        for len in [0, 1, 16, 31, 33, 64] {
            assert!(matches!(
                KeyMaterial::from_bytes(&vec![7u8; len]),
                Err(CryptoError::InvalidKeyMaterial { .. })
            ));
        }
        let m = KeyMaterial::from_bytes(&[7u8; 32]).unwrap();
        assert_eq!(m.expose(), &[7u8; 32]);
    }

    #[test]
    fn debug_is_redacted() {
        let m = KeyMaterial::from_bytes(&[0xab; 32]).unwrap();
        let s = format!("{m:?} {m:#?}");
        assert!(s.contains("<redacted>"));
        assert!(!s.to_lowercase().contains("ab, ") && !s.contains("171"));
    }

    #[test]
    fn ct_eq_compares_contents() {
        let a = KeyMaterial::from_bytes(&[1u8; 32]).unwrap();
        let b = KeyMaterial::from_bytes(&[1u8; 32]).unwrap();
        let mut other = [1u8; 32];
        other[31] = 2;
        let c = KeyMaterial::from_bytes(&other).unwrap();
        assert!(a.ct_eq(&b));
        assert!(!a.ct_eq(&c));
        assert!(a.ct_eq(&a.clone()));
    }

    #[test]
    fn generate_gives_distinct_material() {
        let a = KeyMaterial::generate().unwrap();
        let b = KeyMaterial::generate().unwrap();
        assert!(!a.ct_eq(&b));
    }

    /// DO NOT CHANGE: the derivation of `KeyMaterialId` is frozen (stored ids, blob headers).
    #[test]
    fn material_id_golden() {
        let m = KeyMaterial::from_bytes(&[0x42; 32]).unwrap();
        let key_id = "1234abcd-12ab-34cd-56ef-1234567890ab";
        let id = m.material_id(key_id);
        // Independently: SHA-256 over the documented concatenation.
        let mut input = Vec::new();
        input.extend_from_slice(b"ferrogate/kms/key-material-id/v1\0");
        input.extend_from_slice(&36u32.to_be_bytes());
        input.extend_from_slice(key_id.as_bytes());
        input.extend_from_slice(&[0x42; 32]);
        let expected = digest::digest(&digest::SHA256, &input);
        assert_eq!(id.as_bytes(), expected.as_ref());
        assert_eq!(
            id.to_hex(),
            "f9bf26fe53de04b63848326e36cf2bc46f76851f11320768aedf42fe845b7f9f"
        );
    }

    #[test]
    fn material_id_depends_on_key_and_material_only() {
        let m = KeyMaterial::from_bytes(&[9u8; 32]).unwrap();
        let again = KeyMaterial::from_bytes(&[9u8; 32]).unwrap();
        let other = KeyMaterial::from_bytes(&[8u8; 32]).unwrap();
        assert_eq!(m.material_id("k1"), again.material_id("k1"));
        assert_ne!(m.material_id("k1"), m.material_id("k2"));
        assert_ne!(m.material_id("k1"), other.material_id("k1"));
        // The key-id length prefix makes (key id, material) boundaries unambiguous.
        assert_ne!(m.material_id(""), m.material_id("\0"));
    }

    #[test]
    fn material_id_hex_round_trip() {
        let id = KeyMaterial::generate().unwrap().material_id("k");
        let hex = id.to_hex();
        assert_eq!(hex.len(), 64);
        assert!(hex
            .bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)));
        assert_eq!(MaterialId::from_hex(&hex), Some(id));
        assert_eq!(MaterialId::from_hex(&hex.to_uppercase()), None);
        assert_eq!(MaterialId::from_hex(&hex[..63]), None);
        assert_eq!(MaterialId::from_hex(&format!("{}g", &hex[..63])), None);
        assert_eq!(format!("{id}"), hex);
    }
}
