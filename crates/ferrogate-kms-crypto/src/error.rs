//! The crate's one error type.
//!
//! No variant carries secret bytes, plaintext, ciphertext or key material: only static reasons,
//! algorithm names and lengths. Messages are for logs; the KMS service maps each variant to the
//! AWS exception with [`CryptoError::aws_code`] and writes AWS's own message text itself.

/// Everything that can go wrong in the cryptographic core.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// Authenticated decryption failed: the blob was tampered with, the encryption context differs
    /// from the one used to encrypt, or the key material is not the one that encrypted it.
    #[error("invalid ciphertext")]
    InvalidCiphertext,

    /// The ciphertext blob is not in a format this crate produces (bad version, truncated,
    /// lengths out of bounds).
    #[error("malformed ciphertext blob: {reason}")]
    MalformedCiphertext {
        /// Which check failed.
        reason: &'static str,
    },

    /// The import wrapping algorithm is known to AWS but not supported here
    /// (`RSAES_PKCS1_V1_5`, unsupported by AWS since 2023-10-10; `SM2PKE`), or is not a
    /// wrapping algorithm at all.
    #[error("unsupported wrapping algorithm: {algorithm}")]
    UnsupportedWrappingAlgorithm {
        /// The algorithm name as given (names are public parameters, never secrets).
        algorithm: String,
    },

    /// The import wrapping key spec is not supported here (`SM2`, or unknown).
    #[error("unsupported wrapping key spec: {spec}")]
    UnsupportedWrappingKeySpec {
        /// The spec name as given.
        spec: String,
    },

    /// Encrypted key material could not be unwrapped with the wrapping key: wrong wrapping key,
    /// wrong algorithm, truncated or garbled input. Deliberately says nothing more, so the
    /// caller cannot become a padding oracle.
    #[error("encrypted key material could not be unwrapped")]
    UnwrapFailed,

    /// Key material has the wrong shape (a symmetric key's material must be exactly 32 bytes).
    #[error("invalid key material: {reason}")]
    InvalidKeyMaterial {
        /// Which check failed.
        reason: &'static str,
    },

    /// A stored wrapping private key could not be loaded (not PKCS#8 RSA, or an unsupported size).
    #[error("invalid wrapping key: {reason}")]
    InvalidWrappingKey {
        /// Which check failed.
        reason: &'static str,
    },

    /// The encryption context cannot be used (see [`crate::EncryptionContext::validate`]).
    #[error("invalid encryption context: {reason}")]
    InvalidEncryptionContext {
        /// Which check failed.
        reason: &'static str,
    },

    /// A key ARN cannot be written into a ciphertext blob (empty, or longer than
    /// [`crate::MAX_KEY_ARN_LEN`] bytes).
    #[error("invalid key ARN for a ciphertext blob: {reason}")]
    InvalidKeyArn {
        /// Which check failed.
        reason: &'static str,
    },

    /// A length parameter is outside its allowed range.
    #[error("{field} must be between {min} and {max}, got {actual}")]
    OutOfRange {
        /// The parameter, named as in the AWS API (`NumberOfBytes`, `Plaintext`).
        field: &'static str,
        /// Smallest allowed value.
        min: usize,
        /// Largest allowed value.
        max: usize,
        /// The value given.
        actual: usize,
    },

    /// The system random number generator failed.
    #[error("random number generator failure")]
    Rng,

    /// aws-lc reported a failure in an operation that cannot fail on valid input
    /// (key generation, sealing, DER encoding).
    #[error("internal cryptographic failure in {operation}")]
    Internal {
        /// The operation that failed.
        operation: &'static str,
    },
}

impl CryptoError {
    /// The AWS KMS exception this error becomes at the API edge (without the `ns#` prefix).
    ///
    /// A suggestion for the KMS service crate, which owns the final mapping: an error here can
    /// mean different things in different operations (an `InvalidKeyMaterial` from
    /// `KeyMaterial::from_bytes` while loading stored material is internal, not the client's).
    #[must_use]
    pub fn aws_code(&self) -> &'static str {
        match self {
            Self::InvalidCiphertext | Self::MalformedCiphertext { .. } | Self::UnwrapFailed => {
                "InvalidCiphertextException"
            }
            Self::InvalidKeyMaterial { .. } => "IncorrectKeyMaterialException",
            Self::UnsupportedWrappingAlgorithm { .. }
            | Self::UnsupportedWrappingKeySpec { .. }
            | Self::InvalidEncryptionContext { .. }
            | Self::OutOfRange { .. } => "ValidationException",
            Self::InvalidKeyArn { .. }
            | Self::InvalidWrappingKey { .. }
            | Self::Rng
            | Self::Internal { .. } => "KMSInternalException",
        }
    }

    /// The HTTP status of [`Self::aws_code`]: 500 for internal failures, 400 otherwise.
    #[must_use]
    pub fn status(&self) -> u16 {
        match self {
            Self::InvalidCiphertext
            | Self::MalformedCiphertext { .. }
            | Self::UnwrapFailed
            | Self::InvalidKeyMaterial { .. }
            | Self::UnsupportedWrappingAlgorithm { .. }
            | Self::UnsupportedWrappingKeySpec { .. }
            | Self::InvalidEncryptionContext { .. }
            | Self::OutOfRange { .. } => 400,
            Self::InvalidKeyArn { .. }
            | Self::InvalidWrappingKey { .. }
            | Self::Rng
            | Self::Internal { .. } => 500,
        }
    }
}
