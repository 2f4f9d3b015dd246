//! Secret access keys and signatures: types that carry the security rules.
//!
//! # Invariants
//! - A [`SecretKey`] zeroizes its memory on drop and never prints its value.
//! - A [`Signature`] has no `PartialEq`: the only comparison is [`Signature::matches`],
//!   which runs in constant time for equal-length inputs (after s3s `auth/signature.rs`).

use std::fmt;

use zeroize::Zeroizing;

/// A secret access key.
#[derive(Clone)]
pub struct SecretKey(Zeroizing<String>);

impl SecretKey {
    /// Wraps a secret.
    pub fn new(secret: String) -> Self {
        Self(Zeroizing::new(secret))
    }

    /// The secret itself. Call sites are few and audited: signing-key derivation, sealing
    /// for storage, and the one-time display to its owner.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

/// A signature presented by a client (32 bytes of HMAC-SHA256 in hex on the wire).
pub struct Signature([u8; 32]);

impl Signature {
    /// Parses 64 lowercase or uppercase hex digits.
    pub fn from_hex(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        if b.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, pair) in b.chunks_exact(2).enumerate() {
            let hi = (pair[0] as char).to_digit(16)?;
            let lo = (pair[1] as char).to_digit(16)?;
            out[i] = u8::try_from(hi * 16 + lo).ok()?;
        }
        Some(Self(out))
    }

    /// Compares with a computed signature in constant time.
    pub fn matches(&self, computed: &[u8; 32]) -> bool {
        let mut diff = 0u8;
        for (a, b) in self.0.iter().zip(computed.iter()) {
            diff |= a ^ b;
        }
        std::hint::black_box(diff) == 0
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Signature(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_prints() {
        let s = SecretKey::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into());
        assert!(!format!("{s:?}").contains("wJal"));
        assert_eq!(s.expose().len(), 40);
    }

    #[test]
    fn signature_compare() {
        let hex = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";
        let sig = Signature::from_hex(hex).unwrap();
        let mut raw = [0u8; 32];
        raw.copy_from_slice(
            &(0..32)
                .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
                .collect::<Vec<_>>(),
        );
        assert!(sig.matches(&raw));
        raw[31] ^= 1;
        assert!(!sig.matches(&raw));
        assert!(Signature::from_hex("zz").is_none());
        assert!(Signature::from_hex(&"g".repeat(64)).is_none());
        assert!(Signature::from_hex(&hex.to_uppercase()).is_some());
    }
}
