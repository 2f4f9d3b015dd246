//! The volume data key.
//!
//! # Invariants
//! - The 64 bytes live in one heap allocation, so moving a [`DataKey`] moves a
//!   pointer and leaves no stray copies of the key on the stack.
//! - They are zeroized when the key is dropped (and [`DataKey`] is consumed by
//!   the volume backend right after the kernel has its copy).
//! - `Debug` prints `DataKey(<redacted>)`; there is no `Display`, `Clone`,
//!   `PartialEq`, `Serialize` or `Deserialize`, so a key cannot be logged,
//!   compared in variable time, duplicated or written to disk by accident.

use zeroize::Zeroize;

/// Length of a data key: fscrypt v2 master key for AES-256-XTS.
pub const DATA_KEY_LEN: usize = 64;

/// The plaintext of the KMS data key for one task's ephemeral volume.
pub struct DataKey(Box<[u8; DATA_KEY_LEN]>);

/// A data key of the wrong length was supplied.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("a volume data key must be {DATA_KEY_LEN} bytes, got {0}")]
pub struct BadKeyLength(pub usize);

impl DataKey {
    /// Copies `bytes` into a new key. The caller remains responsible for
    /// zeroizing its own buffer.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, BadKeyLength> {
        if bytes.len() != DATA_KEY_LEN {
            return Err(BadKeyLength(bytes.len()));
        }
        let mut b = Box::new([0u8; DATA_KEY_LEN]);
        b.copy_from_slice(bytes);
        Ok(DataKey(b))
    }

    /// Takes a buffer, zeroizing it after copying.
    pub fn from_vec(mut bytes: Vec<u8>) -> Result<Self, BadKeyLength> {
        let r = Self::from_slice(&bytes);
        bytes.zeroize();
        r
    }

    /// A fresh random key from the system CSPRNG (tests, benchmarks, and the
    /// future service-owned-key path).
    pub fn generate() -> Result<Self, aws_lc_rs::error::Unspecified> {
        let mut b = Box::new([0u8; DATA_KEY_LEN]);
        aws_lc_rs::rand::fill(&mut b[..])?;
        Ok(DataKey(b))
    }

    /// The raw bytes; only the volume backend calls this, to hand them to
    /// the kernel.
    pub(crate) fn expose(&self) -> &[u8; DATA_KEY_LEN] {
        &self.0
    }
}

impl Drop for DataKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let k = DataKey::from_slice(&[0xAB; 64]).unwrap();
        let s = format!("{k:?}");
        assert_eq!(s, "DataKey(<redacted>)");
        assert!(!s.to_lowercase().contains("ab"));
    }

    #[test]
    fn wrong_length_is_refused() {
        assert_eq!(DataKey::from_slice(&[0; 32]).unwrap_err(), BadKeyLength(32));
        assert!(DataKey::from_vec(vec![1; 65]).is_err());
    }

    #[test]
    fn generated_keys_differ() {
        let a = DataKey::generate().unwrap();
        let b = DataKey::generate().unwrap();
        assert_ne!(a.expose(), b.expose());
    }
}
