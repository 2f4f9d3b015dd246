//! Sealing secrets stored in the database under a root key that is not in the database.
//!
//! The root key is 32 random bytes in `root.key` (mode 0600) in the data directory by
//! default; [`Sealer`] is the seam where an HSM (PKCS#11) can hold it instead. A stolen
//! database file alone reveals no secret access key and no KMS key material.
//!
//! # Invariants
//! - Sealed format, version 1 (DO NOT CHANGE: existing databases depend on it):
//!   `0x01 || nonce (12 bytes) || AES-256-GCM(ciphertext || tag (16 bytes))`, with the
//!   caller's associated data (the record's identity) bound as AAD, so a sealed value
//!   cannot be moved to another record.
//! - The root key file is created with `O_EXCL` and mode 0600 and refused if its
//!   permissions allow anyone but the owner to read it.

use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use aws_lc_rs::aead::{Aad, Nonce, RandomizedNonceKey, AES_256_GCM, NONCE_LEN};
use zeroize::Zeroizing;

use crate::StoreError;

const FORMAT_V1: u8 = 1;
const KEY_LEN: usize = 32;

/// Seals and opens secrets.
pub trait Sealer: Send + Sync {
    /// Encrypts `plaintext`, binding `aad`.
    fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, StoreError>;
    /// Decrypts what [`Sealer::seal`] produced with the same `aad`.
    fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Zeroizing<Vec<u8>>, StoreError>;
}

/// The root key held in a file.
pub struct FileRootKey {
    key: RandomizedNonceKey,
}

impl std::fmt::Debug for FileRootKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FileRootKey(<redacted>)")
    }
}

/// Why the root key file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum RootKeyError {
    /// Reading or creating the file failed.
    #[error("root key file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// The file is readable or writable by others.
    #[error("root key file {path} has mode {mode:o}; it must be accessible by its owner only (chmod 600)")]
    Permissions {
        /// The file.
        path: String,
        /// Its mode bits.
        mode: u32,
    },
    /// The file does not hold a key.
    #[error("root key file {path} is not a {KEY_LEN}-byte key")]
    Malformed {
        /// The file.
        path: String,
    },
}

impl FileRootKey {
    /// Loads the key at `path`, creating it (0600, random) if the file does not exist.
    pub fn load_or_create(path: &Path) -> Result<Self, RootKeyError> {
        let shown = path.display().to_string();
        let io = |source| RootKeyError::Io {
            path: shown.clone(),
            source,
        };
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            Ok(mut f) => {
                let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
                aws_lc_rs::rand::fill(bytes.as_mut())
                    .map_err(|_| io(std::io::Error::other("no randomness")))?;
                f.write_all(bytes.as_ref())
                    .and_then(|()| f.sync_all())
                    .map_err(io)?;
                // The new file's directory entry must be durable before anything is sealed
                // under the key: a database that outlives its key after a power cut holds
                // secrets nobody can open.
                if let Some(parent) = path.parent() {
                    fs::File::open(parent)
                        .and_then(|d| d.sync_all())
                        .map_err(io)?;
                }
                Self::from_bytes(bytes.as_ref()).ok_or(RootKeyError::Malformed { path: shown })
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Self::load(path),
            Err(e) => Err(io(e)),
        }
    }

    fn load(path: &Path) -> Result<Self, RootKeyError> {
        let shown = path.display().to_string();
        let io = |source| RootKeyError::Io {
            path: shown.clone(),
            source,
        };
        let mode = fs::metadata(path).map_err(io)?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(RootKeyError::Permissions { path: shown, mode });
        }
        let mut bytes = Zeroizing::new(Vec::with_capacity(KEY_LEN + 1));
        fs::File::open(path)
            .and_then(|mut f| f.read_to_end(&mut bytes))
            .map_err(io)?;
        Self::from_bytes(&bytes).ok_or(RootKeyError::Malformed { path: shown })
    }

    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != KEY_LEN {
            return None;
        }
        RandomizedNonceKey::new(&AES_256_GCM, bytes)
            .ok()
            .map(|key| Self { key })
    }
}

impl Sealer for FileRootKey {
    fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, StoreError> {
        let mut buf = plaintext.to_vec();
        let nonce = self
            .key
            .seal_in_place_append_tag(Aad::from(aad), &mut buf)
            .map_err(|_| StoreError::Seal)?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + buf.len());
        out.push(FORMAT_V1);
        out.extend_from_slice(nonce.as_ref());
        out.extend_from_slice(&buf);
        zeroize::Zeroize::zeroize(&mut buf);
        Ok(out)
    }

    fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        let (&version, rest) = sealed.split_first().ok_or(StoreError::Seal)?;
        if version != FORMAT_V1 || rest.len() < NONCE_LEN + 16 {
            return Err(StoreError::Seal);
        }
        let (nonce, ct) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| StoreError::Seal)?;
        let mut buf = Zeroizing::new(ct.to_vec());
        let len = self
            .key
            .open_in_place(nonce, Aad::from(aad), &mut buf)
            .map_err(|_| StoreError::Seal)?
            .len();
        buf.truncate(len);
        Ok(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_opens_and_binds_aad() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("root.key");
        let k = FileRootKey::load_or_create(&path).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let sealed = k.seal(b"secret", b"AKIA1").unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"secret"));
        assert_eq!(k.open(&sealed, b"AKIA1").unwrap().as_slice(), b"secret");
        assert!(k.open(&sealed, b"AKIA2").is_err(), "AAD must bind");
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(k.open(&tampered, b"AKIA1").is_err());
        assert!(k.open(&[], b"").is_err());
        // Reloading gives the same key.
        let again = FileRootKey::load_or_create(&path).unwrap();
        assert_eq!(again.open(&sealed, b"AKIA1").unwrap().as_slice(), b"secret");
        assert!(!format!("{again:?}").contains(|c: char| c.is_ascii_digit()));
    }

    #[test]
    fn refuses_open_permissions_and_bad_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("root.key");
        FileRootKey::load_or_create(&path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            FileRootKey::load_or_create(&path),
            Err(RootKeyError::Permissions { .. })
        ));
        let short = dir.path().join("short.key");
        fs::write(&short, b"abc").unwrap();
        fs::set_permissions(&short, fs::Permissions::from_mode(0o600)).unwrap();
        assert!(matches!(
            FileRootKey::load_or_create(&short),
            Err(RootKeyError::Malformed { .. })
        ));
    }
}
