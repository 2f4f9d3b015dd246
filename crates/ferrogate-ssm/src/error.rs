//! Parameter Store errors, mapped to AWS's codes in one place.

use ferrogate_secrets::SecretsError;

ferrogate_api::service_error! {
    /// Errors of the Parameter Store API. Variant names are AWS's exception names.
    ///
    /// # Invariants
    /// No variant carries a `SecureString` value, a data key or a ciphertext.
    #[derive(Debug, thiserror::Error)]
    #[non_exhaustive]
    pub enum SsmError {
        /// A parameter is malformed.
        #[error("{0}")]
        ValidationException(String) => 400,
        /// No such parameter.
        #[error("{0}")]
        ParameterNotFound(String) => 400,
        /// No such version or label of the parameter.
        #[error("{0}")]
        ParameterVersionNotFound(String) => 400,
        /// The parameter exists and `Overwrite` was not set.
        #[error("{0}")]
        ParameterAlreadyExists(String) => 400,
        /// The parameter has 100 versions and the oldest is labelled.
        #[error("{0}")]
        ParameterMaxVersionLimitExceeded(String) => 400,
        /// A version would carry more than 10 labels.
        #[error("{0}")]
        ParameterVersionLabelLimitExceeded(String) => 400,
        /// The value does not match `AllowedPattern`.
        #[error("{0}")]
        ParameterPatternMismatchException(String) => 400,
        /// `AllowedPattern` is not a valid regular expression.
        #[error("{0}")]
        InvalidAllowedPatternException(String) => 400,
        /// More than 15 levels of hierarchy.
        #[error("{0}")]
        HierarchyLevelLimitExceededException(String) => 400,
        /// The KMS key cannot be used.
        #[error("{0}")]
        InvalidKeyId(String) => 400,
        /// A filter key is not valid.
        #[error("{0}")]
        InvalidFilterKey(String) => 400,
        /// A filter option is not valid.
        #[error("{0}")]
        InvalidFilterOption(String) => 400,
        /// A filter value is not valid.
        #[error("{0}")]
        InvalidFilterValue(String) => 400,
        /// The `NextToken` is not one this service gave.
        #[error("{0}")]
        InvalidNextToken(String) => 400,
        /// The parameter type is not supported.
        #[error("{0}")]
        UnsupportedParameterType(String) => 400,
        /// Not authorized, by IAM or by KMS.
        #[error("{0}")]
        AccessDeniedException(String) => 400,
    }
    internal "InternalServerError" {}
    delegate {
        /// A stored value did not decrypt or decode, or the CSPRNG failed.
        #[error("parameter data could not be processed: {0}")]
        Crypto(&'static str) => |c| ("InternalServerError", 500),
    }
}

impl SsmError {
    /// `ValidationException` with `message`.
    pub fn invalid(message: impl Into<String>) -> Self {
        SsmError::ValidationException(message.into())
    }

    /// AWS's answer for a parameter it cannot find (an empty message, as AWS sends it).
    pub fn not_found() -> Self {
        SsmError::ParameterNotFound(String::new())
    }
}

impl From<SecretsError> for SsmError {
    /// The envelope's errors (shared with Secrets Manager) in Parameter Store's terms.
    fn from(e: SecretsError) -> Self {
        match e {
            SecretsError::AccessDeniedException(m) => SsmError::AccessDeniedException(m),
            SecretsError::EncryptionFailure(_) | SecretsError::DecryptionFailure(_) => {
                SsmError::InvalidKeyId(
                    "The KMS key of the parameter is not valid or cannot be used now.".into(),
                )
            }
            SecretsError::Internal(s) => SsmError::Internal(s),
            SecretsError::Crypto(c) => SsmError::Crypto(c),
            _ => SsmError::Crypto("the envelope failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrogate_wire::{AwsError, Protocol};

    #[test]
    fn codes_and_statuses() {
        let p = Protocol::Json11;
        assert_eq!(SsmError::not_found().aws_code(p), "ParameterNotFound");
        assert_eq!(SsmError::not_found().status(p), 400);
        assert_eq!(SsmError::Crypto("x").aws_code(p), "InternalServerError");
        assert_eq!(SsmError::Crypto("x").status(p), 500);
        let denied: SsmError =
            SecretsError::AccessDeniedException("Access to KMS is not allowed".into()).into();
        assert_eq!(denied.aws_code(p), "AccessDeniedException");
        let failed: SsmError = SecretsError::DecryptionFailure("x".into()).into();
        assert_eq!(failed.aws_code(p), "InvalidKeyId");
    }
}
