//! The encryption context: non-secret key-value pairs bound to a ciphertext as AAD.

use std::collections::BTreeMap;

use crate::CryptoError;

/// Largest encryption context [`EncryptionContext::validate`] accepts: the sum of the UTF-8
/// lengths of every key and value, in bytes.
///
/// AWS's API model puts no bound on the map; 8192 is the figure the project brief gives for
/// AWS (not confirmed from an AWS page; see the crate's README notes). Checked only by
/// `validate`, never by encrypt/decrypt, so a change here never strands a ciphertext.
pub const MAX_ENCRYPTION_CONTEXT_BYTES: usize = 8192;

/// An encryption context: a map from string to string, compared exactly (case-sensitive) and
/// independent of the order pairs were given in.
///
/// Not secret (AWS logs it in CloudTrail), so it has `Debug` and `PartialEq`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EncryptionContext {
    pairs: BTreeMap<String, String>,
}

impl EncryptionContext {
    /// An empty context.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces a pair; returns the value it replaced.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) -> Option<String> {
        self.pairs.insert(key.into(), value.into())
    }

    /// The value for `key` (exact, case-sensitive match).
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs.get(key).map(String::as_str)
    }

    /// Number of pairs.
    #[must_use]
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// No pairs (the same as giving no `EncryptionContext` at all).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// The pairs, sorted by key bytes.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The underlying map.
    #[must_use]
    pub fn as_map(&self) -> &BTreeMap<String, String> {
        &self.pairs
    }

    /// Sum of the UTF-8 byte lengths of every key and value.
    #[must_use]
    pub fn size_bytes(&self) -> usize {
        self.pairs.iter().map(|(k, v)| k.len() + v.len()).sum()
    }

    /// Checks the limits Ferrogate enforces at the API edge:
    /// - every key is non-empty (an empty key can never be named in a
    ///   `kms:EncryptionContext:<key>` policy condition; AWS's behaviour is unconfirmed);
    /// - values may be empty;
    /// - [`Self::size_bytes`] is at most [`MAX_ENCRYPTION_CONTEXT_BYTES`].
    ///
    /// Encrypt and decrypt do not call this: they bind any context they are given.
    ///
    /// # Errors
    /// [`CryptoError::InvalidEncryptionContext`] naming the failed check.
    pub fn validate(&self) -> Result<(), CryptoError> {
        if self.pairs.keys().any(String::is_empty) {
            return Err(CryptoError::InvalidEncryptionContext {
                reason: "encryption context keys must not be empty",
            });
        }
        if self.size_bytes() > MAX_ENCRYPTION_CONTEXT_BYTES {
            return Err(CryptoError::InvalidEncryptionContext {
                reason: "encryption context is larger than 8192 bytes",
            });
        }
        Ok(())
    }

    /// The canonical serialization bound into ciphertexts as AAD.
    ///
    /// DO NOT CHANGE (it is part of every stored ciphertext's authentication):
    /// `u32 BE pair count`, then for each pair in ascending order of key bytes
    /// `u32 BE key length || key UTF-8 || u32 BE value length || value UTF-8`.
    /// The empty context is `00 00 00 00`. Length prefixes make it unambiguous; sorting makes
    /// it independent of input order (keys are unique in a map).
    ///
    /// # Errors
    /// [`CryptoError::InvalidEncryptionContext`] if a count or length does not fit in a `u32`.
    pub fn canonical_bytes(&self) -> Result<Vec<u8>, CryptoError> {
        let too_large = || CryptoError::InvalidEncryptionContext {
            reason: "encryption context does not fit the canonical encoding",
        };
        let len32 = |n: usize| u32::try_from(n).map_err(|_| too_large());
        let total = self
            .pairs
            .iter()
            .try_fold(4usize, |acc, (k, v)| {
                acc.checked_add(8)?
                    .checked_add(k.len())?
                    .checked_add(v.len())
            })
            .ok_or_else(too_large)?;
        let mut out = Vec::with_capacity(total);
        out.extend_from_slice(&len32(self.pairs.len())?.to_be_bytes());
        for (k, v) in &self.pairs {
            out.extend_from_slice(&len32(k.len())?.to_be_bytes());
            out.extend_from_slice(k.as_bytes());
            out.extend_from_slice(&len32(v.len())?.to_be_bytes());
            out.extend_from_slice(v.as_bytes());
        }
        Ok(out)
    }
}

impl From<BTreeMap<String, String>> for EncryptionContext {
    fn from(pairs: BTreeMap<String, String>) -> Self {
        Self { pairs }
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for EncryptionContext {
    /// Later pairs replace earlier ones with the same key, as in a JSON object.
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Self {
            pairs: iter
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// DO NOT CHANGE: the canonical encoding is part of every stored ciphertext.
    #[test]
    fn canonical_golden() {
        let ctx: EncryptionContext = [("b", "2"), ("a", "xy"), ("", "")].into_iter().collect();
        assert_eq!(
            ctx.canonical_bytes().unwrap(),
            [
                &[0, 0, 0, 3][..],
                &[0, 0, 0, 0],
                &[0, 0, 0, 0],
                &[0, 0, 0, 1, b'a'],
                &[0, 0, 0, 2, b'x', b'y'],
                &[0, 0, 0, 1, b'b'],
                &[0, 0, 0, 1, b'2'],
            ]
            .concat()
        );
        assert_eq!(
            EncryptionContext::new().canonical_bytes().unwrap(),
            [0, 0, 0, 0]
        );
    }

    #[test]
    fn canonical_is_order_independent_and_sorted_by_bytes() {
        let a: EncryptionContext = [("Z", "1"), ("a", "2"), ("é", "3")].into_iter().collect();
        let b: EncryptionContext = [("é", "3"), ("a", "2"), ("Z", "1")].into_iter().collect();
        assert_eq!(a.canonical_bytes().unwrap(), b.canonical_bytes().unwrap());
        let keys: Vec<&str> = a.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["Z", "a", "é"]); // byte order: 0x5a < 0x61 < 0xc3
    }

    #[test]
    fn canonical_is_unambiguous() {
        // Moving bytes between key and value, or between pairs, changes the encoding.
        let a: EncryptionContext = [("ab", "c")].into_iter().collect();
        let b: EncryptionContext = [("a", "bc")].into_iter().collect();
        let c: EncryptionContext = [("a", ""), ("b", "c")].into_iter().collect();
        let ea = a.canonical_bytes().unwrap();
        let eb = b.canonical_bytes().unwrap();
        let ec = c.canonical_bytes().unwrap();
        assert_ne!(ea, eb);
        assert_ne!(ea, ec);
        assert_ne!(eb, ec);
    }

    #[test]
    fn validate_limits() {
        let ok: EncryptionContext = [("k", "")].into_iter().collect();
        assert!(ok.validate().is_ok(), "empty values are allowed");
        let empty_key: EncryptionContext = [("", "v")].into_iter().collect();
        assert!(matches!(
            empty_key.validate(),
            Err(CryptoError::InvalidEncryptionContext { .. })
        ));
        let at_limit: EncryptionContext = [("k", "v".repeat(8191))].into_iter().collect();
        assert_eq!(at_limit.size_bytes(), 8192);
        assert!(at_limit.validate().is_ok());
        let over: EncryptionContext = [("k", "v".repeat(8192))].into_iter().collect();
        assert!(matches!(
            over.validate(),
            Err(CryptoError::InvalidEncryptionContext { .. })
        ));
        // Multi-byte characters count in bytes, not characters.
        let utf8: EncryptionContext = [("k", "é".repeat(4096))].into_iter().collect();
        assert_eq!(utf8.size_bytes(), 8193);
        assert!(utf8.validate().is_err());
        assert!(EncryptionContext::new().validate().is_ok());
    }

    #[test]
    fn later_pairs_replace_earlier() {
        let ctx: EncryptionContext = [("k", "1"), ("k", "2")].into_iter().collect();
        assert_eq!(ctx.len(), 1);
        assert_eq!(ctx.get("k"), Some("2"));
        assert_eq!(ctx.get("K"), None, "keys are case-sensitive");
    }
}
