//! The volume's AES-256-XTS key, derived from the task's data key.
//!
//! ```text
//! xts_key = HKDF-SHA-512(IKM  = the 64-byte data key,
//!                        salt = (none: 64 zero bytes, RFC 5869 §2.2),
//!                        info = "ferrogate/volume/aes-256-xts/v1",
//!                        L    = 64)
//! key 1 (data) = xts_key[0..32], key 2 (tweak) = xts_key[32..64]
//! ```
//!
//! Why derive at all: the data key is also what the fscrypt backend hands the
//! kernel as its master key. A fixed, versioned `info` string gives the XTS
//! key its own domain, so no two backends (or a future `v2` of this one) ever
//! use the same bytes as a key. The data key is uniformly random (KMS
//! `GenerateDataKey` or aws-lc's CSPRNG), so no salt is needed.

use aws_lc_rs::hkdf;
use zeroize::Zeroize;

use crate::secret::DataKey;
use crate::sys::xts::XTS_KEY_LEN;

/// DO NOT CHANGE: the HKDF `info` of the volume XTS key. Changing it changes
/// every derived key (volumes do not outlive their agent, so nothing on disk
/// would break, but the derivation documented in docs/security-model.md and
/// pinned by `derivation_is_pinned` would). A new derivation gets a new
/// version suffix instead.
pub const XTS_KDF_INFO: &[u8] = b"ferrogate/volume/aes-256-xts/v1";

/// The 64-byte AES-256-XTS key of one volume.
///
/// # Invariants
/// One heap allocation, zeroized on drop; `Debug` prints `XtsKey(<redacted>)`;
/// no `Clone`, `PartialEq`, `Display` or serde.
pub struct XtsKey(Box<[u8; XTS_KEY_LEN]>);

/// HKDF failed (aws-lc reported an error; not expected for these lengths).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("deriving the volume's XTS key with HKDF-SHA-512 failed")]
pub struct KdfError;

struct Len;

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        XTS_KEY_LEN
    }
}

impl XtsKey {
    /// Derives the XTS key of a volume from its data key (see the module docs).
    pub fn derive(data_key: &DataKey) -> Result<XtsKey, KdfError> {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA512, &[]).extract(data_key.expose());
        let mut out = Box::new([0u8; XTS_KEY_LEN]);
        let okm = prk.expand(&[XTS_KDF_INFO], Len).map_err(|_| KdfError)?;
        if okm.fill(&mut out[..]).is_err() {
            out.zeroize();
            return Err(KdfError);
        }
        Ok(XtsKey(out))
    }

    /// The key bytes, for expanding into cipher contexts.
    pub(crate) fn expose(&self) -> &[u8; XTS_KEY_LEN] {
        &self.0
    }
}

impl Drop for XtsKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl std::fmt::Debug for XtsKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("XtsKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// DO NOT CHANGE. Computed independently with Python's `hmac`/`hashlib`
    /// (RFC 5869 by hand) and `cryptography`'s HKDF:
    /// `HKDF(SHA512(), 64, None, b"ferrogate/volume/aes-256-xts/v1").derive(bytes(range(64)))`.
    const VECTOR: &str = concat!(
        "6133408a93c08246ae0c666cb0a4c943503c69bffaa4f1591fab08d8ccf59141",
        "f914d477b8d7d5eb7e5a9563906535c7efca3eda50f4be5d3d3bc09ccee51b6b"
    );

    #[test]
    fn derivation_is_pinned() {
        let ikm: Vec<u8> = (0u8..64).collect();
        let k = XtsKey::derive(&DataKey::from_slice(&ikm).unwrap()).unwrap();
        let hex: String = k.expose().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, VECTOR);
        assert_eq!(XTS_KDF_INFO, b"ferrogate/volume/aes-256-xts/v1");
    }

    #[test]
    fn the_xts_key_is_not_the_data_key_and_halves_differ() {
        let dk = DataKey::generate().unwrap();
        let k = XtsKey::derive(&dk).unwrap();
        assert_ne!(k.expose(), dk.expose());
        assert_ne!(k.expose()[..32], k.expose()[32..]);
        let s = format!("{k:?}");
        assert_eq!(s, "XtsKey(<redacted>)");
    }
}
