//! KMS errors, mapped to AWS's codes in one place. Messages follow AWS's texts
//! (shared/spec/aws-behaviour.md §4).

use ferrogate_kms_crypto::CryptoError;
use ferrogate_store::StoreError;
use ferrogate_wire::{AwsError, Protocol, WireError};

/// Errors of the KMS API. Variant names are AWS's exception names.
#[derive(Debug, thiserror::Error)]
pub enum KmsError {
    /// No such key, alias or grant.
    #[error("{0}")]
    NotFoundException(String),
    /// The key is disabled: `<arn> is disabled.`
    #[error("{0} is disabled.")]
    DisabledException(String),
    /// The key's state forbids the operation: `<arn> is pending deletion.` and friends.
    #[error("{0}")]
    KMSInvalidStateException(String),
    /// A ciphertext that does not decrypt (tampered, wrong context, foreign).
    #[error("{0}")]
    InvalidCiphertextException(String),
    /// `KeyId` does not name the key the ciphertext was made with.
    #[error("{0}")]
    IncorrectKeyException(String),
    /// Re-imported material differs from the key's.
    #[error("{0}")]
    IncorrectKeyMaterialException(String),
    /// The import token has expired.
    #[error("{0}")]
    ExpiredImportTokenException(String),
    /// The import token is not one issued for this key.
    #[error("{0}")]
    InvalidImportTokenException(String),
    /// A parameter is invalid.
    #[error("{0}")]
    ValidationException(String),
    /// An ARN is malformed.
    #[error("{0}")]
    InvalidArnException(String),
    /// An alias name is invalid.
    #[error("{0}")]
    InvalidAliasNameException(String),
    /// An alias already exists.
    #[error("{0}")]
    AlreadyExistsException(String),
    /// A quota would be exceeded.
    #[error("{0}")]
    LimitExceededException(String),
    /// A grant token that does not parse or does not belong.
    #[error("{0}")]
    InvalidGrantTokenException(String),
    /// A grant id that does not exist for the key.
    #[error("{0}")]
    InvalidGrantIdException(String),
    /// A `Marker` that was not issued for this listing.
    #[error("{0}")]
    InvalidMarkerException(String),
    /// The key cannot be used for this operation (wrong usage).
    #[error("{0}")]
    InvalidKeyUsageException(String),
    /// Not supported for this key or by Ferrogate.
    #[error("{0}")]
    UnsupportedOperationException(String),
    /// A key policy that is not valid.
    #[error("{0}")]
    MalformedPolicyDocumentException(String),
    /// Tags that are not valid.
    #[error("{0}")]
    TagException(String),
    /// A conflicting operation is in progress (on-demand rotation).
    #[error("{0}")]
    ConflictException(String),
    /// `DryRun` was set and the request would have succeeded.
    #[error("The request would have succeeded, but the DryRun option is set.")]
    DryRunOperationException,
    /// Not authorized.
    #[error("{0}")]
    AccessDeniedException(String),
    /// A protocol-level problem.
    #[error(transparent)]
    Wire(#[from] WireError),
    /// What the cryptographic core refused or failed at, mapped by its own exhaustive
    /// `aws_code` (a ciphertext that does not decrypt is the client's; a failed seal is ours,
    /// logged and answered as `KMSInternalException`). No variant carries secret bytes.
    #[error("{}", crypto_message(.0))]
    Crypto(#[from] CryptoError),
    /// The CSPRNG failed (key ids, material, data keys, random bytes): logged, answered as
    /// `KMSInternalException`.
    #[error("the random number generator failed")]
    RandomnessUnavailable,
    /// Storage failure of ours: logged, answered as `KMSInternalException`.
    #[error(transparent)]
    Internal(#[from] StoreError),
}

/// AWS answers `InvalidCiphertextException` without a message; other refusals of the
/// cryptographic core are described (they name lengths and algorithms, never data).
fn crypto_message(e: &CryptoError) -> String {
    match e.aws_code() {
        "InvalidCiphertextException" => String::new(),
        _ => e.to_string(),
    }
}

impl AwsError for KmsError {
    fn aws_code(&self, p: Protocol) -> &'static str {
        match self {
            KmsError::NotFoundException(_) => "NotFoundException",
            KmsError::DisabledException(_) => "DisabledException",
            KmsError::KMSInvalidStateException(_) => "KMSInvalidStateException",
            KmsError::InvalidCiphertextException(_) => "InvalidCiphertextException",
            KmsError::IncorrectKeyException(_) => "IncorrectKeyException",
            KmsError::IncorrectKeyMaterialException(_) => "IncorrectKeyMaterialException",
            KmsError::ExpiredImportTokenException(_) => "ExpiredImportTokenException",
            KmsError::InvalidImportTokenException(_) => "InvalidImportTokenException",
            KmsError::ValidationException(_) => "ValidationException",
            KmsError::InvalidArnException(_) => "InvalidArnException",
            KmsError::InvalidAliasNameException(_) => "InvalidAliasNameException",
            KmsError::AlreadyExistsException(_) => "AlreadyExistsException",
            KmsError::LimitExceededException(_) => "LimitExceededException",
            KmsError::InvalidGrantTokenException(_) => "InvalidGrantTokenException",
            KmsError::InvalidGrantIdException(_) => "InvalidGrantIdException",
            KmsError::InvalidMarkerException(_) => "InvalidMarkerException",
            KmsError::InvalidKeyUsageException(_) => "InvalidKeyUsageException",
            KmsError::UnsupportedOperationException(_) => "UnsupportedOperationException",
            KmsError::MalformedPolicyDocumentException(_) => "MalformedPolicyDocumentException",
            KmsError::TagException(_) => "TagException",
            KmsError::ConflictException(_) => "ConflictException",
            KmsError::DryRunOperationException => "DryRunOperationException",
            KmsError::AccessDeniedException(_) => "AccessDeniedException",
            KmsError::Wire(w) => w.aws_code(p),
            KmsError::Crypto(c) => c.aws_code(),
            KmsError::RandomnessUnavailable | KmsError::Internal(_) => "KMSInternalException",
        }
    }

    fn status(&self, p: Protocol) -> u16 {
        match self {
            KmsError::NotFoundException(_)
            | KmsError::DisabledException(_)
            | KmsError::KMSInvalidStateException(_)
            | KmsError::InvalidCiphertextException(_)
            | KmsError::IncorrectKeyException(_)
            | KmsError::IncorrectKeyMaterialException(_)
            | KmsError::ExpiredImportTokenException(_)
            | KmsError::InvalidImportTokenException(_)
            | KmsError::ValidationException(_)
            | KmsError::InvalidArnException(_)
            | KmsError::InvalidAliasNameException(_)
            | KmsError::AlreadyExistsException(_)
            | KmsError::LimitExceededException(_)
            | KmsError::InvalidGrantTokenException(_)
            | KmsError::InvalidGrantIdException(_)
            | KmsError::InvalidMarkerException(_)
            | KmsError::InvalidKeyUsageException(_)
            | KmsError::UnsupportedOperationException(_)
            | KmsError::MalformedPolicyDocumentException(_)
            | KmsError::TagException(_)
            | KmsError::ConflictException(_)
            | KmsError::DryRunOperationException
            | KmsError::AccessDeniedException(_) => 400,
            KmsError::Wire(w) => w.status(p),
            KmsError::Crypto(c) => c.status(),
            KmsError::RandomnessUnavailable | KmsError::Internal(_) => 500,
        }
    }

    /// Exactly the failures answered with a 5xx (the exhaustive mapping above decides).
    fn is_internal(&self) -> bool {
        self.status(Protocol::Json11) >= 500
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
