//! KMS errors, mapped to AWS's codes in one place. Messages follow AWS's texts
//! (shared/spec/aws-behaviour.md §4).

use ferrogate_kms_crypto::CryptoError;
use ferrogate_store::StoreError;

ferrogate_api::service_error! {
    /// Errors of the KMS API. Variant names are AWS's exception names.
    #[derive(Debug, thiserror::Error)]
    pub enum KmsError {
        /// No such key, alias or grant.
        #[error("{0}")]
        NotFoundException(String) => 400,
        /// The key is disabled: `<arn> is disabled.`
        #[error("{0} is disabled.")]
        DisabledException(String) => 400,
        /// The key's state forbids the operation: `<arn> is pending deletion.` and friends.
        #[error("{0}")]
        KMSInvalidStateException(String) => 400,
        /// A ciphertext that does not decrypt (tampered, wrong context, foreign).
        #[error("{0}")]
        InvalidCiphertextException(String) => 400,
        /// `KeyId` does not name the key the ciphertext was made with.
        #[error("{0}")]
        IncorrectKeyException(String) => 400,
        /// Re-imported material differs from the key's.
        #[error("{0}")]
        IncorrectKeyMaterialException(String) => 400,
        /// The import token has expired.
        #[error("{0}")]
        ExpiredImportTokenException(String) => 400,
        /// The import token is not one issued for this key.
        #[error("{0}")]
        InvalidImportTokenException(String) => 400,
        /// A parameter is invalid.
        #[error("{0}")]
        ValidationException(String) => 400,
        /// An ARN is malformed.
        #[error("{0}")]
        InvalidArnException(String) => 400,
        /// An alias name is invalid.
        #[error("{0}")]
        InvalidAliasNameException(String) => 400,
        /// An alias already exists.
        #[error("{0}")]
        AlreadyExistsException(String) => 400,
        /// A quota would be exceeded.
        #[error("{0}")]
        LimitExceededException(String) => 400,
        /// A grant token that does not parse or does not belong.
        #[error("{0}")]
        InvalidGrantTokenException(String) => 400,
        /// A grant id that does not exist for the key.
        #[error("{0}")]
        InvalidGrantIdException(String) => 400,
        /// A `Marker` that was not issued for this listing.
        #[error("{0}")]
        InvalidMarkerException(String) => 400,
        /// The key cannot be used for this operation (wrong usage).
        #[error("{0}")]
        InvalidKeyUsageException(String) => 400,
        /// Not supported for this key or by Ferrogate.
        #[error("{0}")]
        UnsupportedOperationException(String) => 400,
        /// A key policy that is not valid.
        #[error("{0}")]
        MalformedPolicyDocumentException(String) => 400,
        /// Tags that are not valid.
        #[error("{0}")]
        TagException(String) => 400,
        /// A conflicting operation is in progress (on-demand rotation).
        #[error("{0}")]
        ConflictException(String) => 400,
        /// `DryRun` was set and the request would have succeeded.
        #[error("The request would have succeeded, but the DryRun option is set.")]
        DryRunOperationException => 400,
        /// Not authorized.
        #[error("{0}")]
        AccessDeniedException(String) => 400,
    }
    internal "KMSInternalException" {
        /// The CSPRNG failed (key ids, material, data keys, random bytes): logged, answered as
        /// `KMSInternalException`.
        #[error("the random number generator failed")]
        RandomnessUnavailable,
    }
    delegate {
        /// What the cryptographic core refused or failed at, mapped by its own exhaustive
        /// `aws_code` (a ciphertext that does not decrypt is the client's; a failed seal is ours,
        /// logged and answered as `KMSInternalException`). No variant carries secret bytes.
        #[error("{}", crypto_message(.0))]
        Crypto(#[from] CryptoError) => |c| (c.aws_code(), c.status()),
    }
}

/// AWS answers `InvalidCiphertextException` without a message; other refusals of the
/// cryptographic core are described (they name lengths and algorithms, never data).
fn crypto_message(e: &CryptoError) -> String {
    match e.aws_code() {
        "InvalidCiphertextException" => String::new(),
        _ => e.to_string(),
    }
}

impl KmsError {
    /// A stored record of ours that cannot be used (sealed material that is not base64, a
    /// stored wrapping algorithm that no longer parses).
    pub(crate) fn corrupt(what: &str) -> Self {
        KmsError::Internal(StoreError::Corrupt {
            tree: "kms",
            reason: what.to_owned(),
        })
    }

    /// `Key '<arn>' does not exist`.
    pub fn no_such_key(arn: &str) -> Self {
        KmsError::NotFoundException(format!("Key '{arn}' does not exist"))
    }

    /// `Invalid keyId <id>`.
    pub fn invalid_key_id(id: &str) -> Self {
        KmsError::NotFoundException(format!("Invalid keyId {id}"))
    }
}
