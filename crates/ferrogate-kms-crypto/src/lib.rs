//! The pure cryptographic core of Ferrogate's KMS: no storage, no clock, no I/O.
//!
//! - [`KeyMaterial`]: the 32-byte secret of a symmetric KMS key, and its public [`MaterialId`]
//!   (AWS's `KeyMaterialId`).
//! - [`EncryptionContext`]: the non-secret pairs bound as AAD, with a canonical encoding.
//! - [`encrypt`] / [`decrypt`] / [`parse_blob`]: versioned, self-describing ciphertext blobs
//!   (AES-256-GCM under a per-message HKDF-derived key).
//! - [`generate_data_key`] / [`generate_random`]: `GenerateDataKey*` and `GenerateRandom`.
//! - [`WrappingKeyPair`], [`WrappingAlgorithm`], [`wrap_key_material`]: key import as AWS
//!   documents it (RSA-OAEP and RSA + AES key wrap with padding).
//!
//! Secrets are zeroed on drop, print as `<redacted>`, compare in constant time, and never enter
//! an error message. Randomness comes from aws-lc's CSPRNG.

#![deny(missing_docs)]

mod blob;
mod context;
mod error;
mod import;
mod material;
mod random;

pub use blob::{
    decrypt, encrypt, parse_blob, BlobHeader, FORMAT_VERSION, MAX_CIPHERTEXT_BLOB_LEN,
    MAX_KEY_ARN_LEN, MAX_PLAINTEXT_LEN, MIN_PLAINTEXT_LEN, NONCE_LEN, TAG_LEN,
};
pub use context::{EncryptionContext, MAX_ENCRYPTION_CONTEXT_BYTES};
pub use error::CryptoError;
pub use import::{
    wrap_key_material, WrappingAlgorithm, WrappingKeyPair, WrappingKeySpec,
    RSA_AES_EPHEMERAL_KEY_LEN,
};
pub use material::{KeyMaterial, MaterialId, KEY_MATERIAL_LEN, MATERIAL_ID_LEN};
pub use random::{
    generate_data_key, generate_random, DataKeyLength, DataKeySpec, MAX_NUMBER_OF_BYTES,
    MIN_NUMBER_OF_BYTES,
};
pub use zeroize::Zeroizing;
