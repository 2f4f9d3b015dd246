//! Secrets Manager errors, mapped to AWS's codes in one place, and the messages AWS words
//! them with.

ferrogate_api::service_error! {
    /// Errors of the Secrets Manager API. Variant names are AWS's exception names; every
    /// client error is answered with status 400, as Secrets Manager does.
    ///
    /// # Invariants
    /// No variant carries a secret value, a data key or a ciphertext.
    #[derive(Debug, thiserror::Error)]
    #[non_exhaustive]
    pub enum SecretsError {
        /// A parameter value is not valid for the current state of the resource, or a
        /// parameter is malformed.
        #[error("{0}")]
        InvalidParameterException(String) => 400,
        /// The request is not valid for the secret's state (deleted, …).
        #[error("{0}")]
        InvalidRequestException(String) => 400,
        /// No such secret (or version).
        #[error("{0}")]
        ResourceNotFoundException(String) => 400,
        /// A secret of that name (or a version with that id) already exists.
        #[error("{0}")]
        ResourceExistsException(String) => 400,
        /// A quota would be exceeded.
        #[error("{0}")]
        LimitExceededException(String) => 400,
        /// The resource policy does not parse or is not valid for a secret.
        #[error("{0}")]
        MalformedPolicyDocumentException(String) => 400,
        /// `BlockPublicPolicy` refused a policy that grants public access.
        #[error("{0}")]
        PublicPolicyException(String) => 400,
        /// The `NextToken` is not one this service gave.
        #[error("{0}")]
        InvalidNextTokenException(String) => 400,
        /// KMS could not encrypt the value under the secret's key.
        #[error("{0}")]
        EncryptionFailure(String) => 400,
        /// KMS could not decrypt the value's data key.
        #[error("{0}")]
        DecryptionFailure(String) => 400,
        /// Not authorized, by IAM, the secret's resource policy, or KMS.
        #[error("{0}")]
        AccessDeniedException(String) => 400,
    }
    // "InternalServiceError … An error occurred on the server side." (API Reference,
    // Common errors): storage failures and the ones below, logged, never shown.
    internal "InternalServiceError" {}
    delegate {
        /// A stored value did not decrypt or decode, or the CSPRNG failed.
        #[error("secret data could not be processed: {0}")]
        Crypto(&'static str) => |c| ("InternalServiceError", 500),
    }
}

/// "Secrets Manager can't find the specified secret."
pub const NOT_FOUND: &str = "Secrets Manager can't find the specified secret.";

impl SecretsError {
    /// `InvalidParameterException` with `message`.
    pub fn invalid(message: impl Into<String>) -> Self {
        SecretsError::InvalidParameterException(message.into())
    }

    /// AWS's answer for a secret it cannot find.
    pub fn not_found() -> Self {
        SecretsError::ResourceNotFoundException(NOT_FOUND.into())
    }

    /// The refusal of most operations on a secret scheduled for deletion.
    pub fn marked_deleted() -> Self {
        SecretsError::InvalidRequestException(
            "You can't perform this operation on the secret because it was marked for deletion."
                .into(),
        )
    }

    /// AWS's model-validation wording for one member. `value` is left out for members that
    /// hold a secret value.
    pub fn constraint(member: &str, constraint: &str) -> Self {
        SecretsError::InvalidParameterException(format!(
            "1 validation error detected: Value at '{member}' failed to satisfy constraint: {constraint}"
        ))
    }

    /// What KMS's refusal to make a data key becomes.
    pub fn kms_encrypt(e: &ferrogate_kms::KmsError) -> Self {
        use ferrogate_wire::AwsError as _;
        match e.aws_code(ferrogate_wire::Protocol::Json11) {
            "AccessDeniedException" => {
                SecretsError::AccessDeniedException("Access to KMS is not allowed".into())
            }
            _ => SecretsError::EncryptionFailure(
                "Secrets Manager can't encrypt the protected secret text using the provided KMS key. Check that the KMS key is available, enabled, and not in an invalid state.".into(),
            ),
        }
    }

    /// What KMS's refusal to decrypt a data key becomes.
    pub fn kms_decrypt(e: &ferrogate_kms::KmsError) -> Self {
        use ferrogate_wire::AwsError as _;
        match e.aws_code(ferrogate_wire::Protocol::Json11) {
            "AccessDeniedException" => {
                SecretsError::AccessDeniedException("Access to KMS is not allowed".into())
            }
            _ => SecretsError::DecryptionFailure(
                "Secrets Manager can't decrypt the protected secret text using the provided KMS key.".into(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrogate_store::StoreError;
    use ferrogate_wire::{AwsError, Protocol};

    #[test]
    fn codes_and_statuses() {
        let p = Protocol::Json11;
        let cases = [
            (SecretsError::not_found(), "ResourceNotFoundException", 400),
            (
                SecretsError::marked_deleted(),
                "InvalidRequestException",
                400,
            ),
            (SecretsError::invalid("x"), "InvalidParameterException", 400),
            (SecretsError::Crypto("tag"), "InternalServiceError", 500),
            (
                SecretsError::Internal(StoreError::Seal),
                "InternalServiceError",
                500,
            ),
        ];
        for (e, code, status) in cases {
            assert_eq!((e.aws_code(p), e.status(p)), (code, status), "{e:?}");
            assert_eq!(e.is_internal(), status >= 500);
        }
        assert_eq!(
            SecretsError::not_found().to_string(),
            "Secrets Manager can't find the specified secret."
        );
    }

    #[test]
    fn kms_refusals() {
        let denied = ferrogate_kms::KmsError::AccessDeniedException("no".into());
        let e = SecretsError::kms_decrypt(&denied);
        assert_eq!(e.to_string(), "Access to KMS is not allowed");
        let disabled = ferrogate_kms::KmsError::DisabledException("d".into());
        assert!(matches!(
            SecretsError::kms_decrypt(&disabled),
            SecretsError::DecryptionFailure(_)
        ));
        assert!(matches!(
            SecretsError::kms_encrypt(&disabled),
            SecretsError::EncryptionFailure(_)
        ));
    }
}
