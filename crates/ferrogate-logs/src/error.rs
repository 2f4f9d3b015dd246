//! CloudWatch Logs errors, mapped to AWS's codes in one place.
//!
//! AWS answers model validation failures of this service as `InvalidParameterException`
//! with the generic "1 validation error detected: …" text; the helpers below build those
//! messages so that every operation words them alike.

ferrogate_api::service_error! {
    /// Errors of the CloudWatch Logs API. Variant names are AWS's exception names.
    ///
    /// # Invariants
    /// No variant carries a log event's message, a data key or a ciphertext.
    #[derive(Debug, thiserror::Error)]
    #[non_exhaustive]
    pub enum LogsError {
        /// A parameter is not valid.
        #[error("{0}")]
        InvalidParameterException(String) => 400,
        /// The log group or stream does not exist.
        #[error("{0}")]
        ResourceNotFoundException(String) => 400,
        /// The log group or stream already exists.
        #[error("{0}")]
        ResourceAlreadyExistsException(String) => 400,
        /// A quota would be exceeded.
        #[error("{0}")]
        LimitExceededException(String) => 400,
        /// Concurrent requests to update the same resource conflicted.
        #[error("{0}")]
        OperationAbortedException(String) => 400,
        /// A resource would carry more than 50 tags.
        #[error("{0}")]
        TooManyTagsException(String) => 400,
        /// Not authorized, by IAM or (for a log group's KMS key) by the key's policy or state.
        #[error("{0}")]
        AccessDeniedException(String) => 400,
    }
    // "ServiceUnavailableException … HTTP Status Code: 500" (API Reference, Errors): storage
    // failures (`Internal`) and the one below, logged with the request id, never shown.
    internal "ServiceUnavailableException" {}
    delegate {
        /// A stored chunk did not decrypt or decode, or the CSPRNG failed.
        #[error("log data could not be processed: {0}")]
        Crypto(&'static str) => |c| ("ServiceUnavailableException", 500),
    }
}

impl LogsError {
    /// `InvalidParameterException` with `message`.
    pub fn invalid(message: impl Into<String>) -> Self {
        LogsError::InvalidParameterException(message.into())
    }

    /// AWS's model-validation wording for one member.
    pub fn constraint(value: &str, member: &str, constraint: &str) -> Self {
        LogsError::InvalidParameterException(format!(
            "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: {constraint}"
        ))
    }

    /// `The specified log group does not exist.`
    pub fn no_group() -> Self {
        LogsError::ResourceNotFoundException("The specified log group does not exist.".into())
    }

    /// `The specified log stream does not exist.`
    pub fn no_stream() -> Self {
        LogsError::ResourceNotFoundException("The specified log stream does not exist.".into())
    }

    /// The refusal AWS gives when a log group's KMS key cannot be used with the group:
    /// missing, disabled, pending deletion, or its key policy not allowing the CloudWatch
    /// Logs service principal (`AccessDeniedException` at CreateLogGroup and
    /// AssociateKmsKey, as AWS answers them). AWS does not document what ingestion and
    /// reads answer once the key becomes unusable; Ferrogate answers the same refusal
    /// (fail closed: nothing is written or read).
    pub fn key_refused(group_arn: &str) -> Self {
        LogsError::AccessDeniedException(format!(
            "The specified KMS key does not exist or is not allowed to be used with Arn '{group_arn}'"
        ))
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
            (LogsError::invalid("x"), "InvalidParameterException", 400),
            (LogsError::no_group(), "ResourceNotFoundException", 400),
            (
                LogsError::ResourceAlreadyExistsException("x".into()),
                "ResourceAlreadyExistsException",
                400,
            ),
            (
                LogsError::key_refused("arn:aws:logs:us-east-1:111122223333:log-group:g"),
                "AccessDeniedException",
                400,
            ),
            (LogsError::Crypto("tag"), "ServiceUnavailableException", 500),
            (
                LogsError::Internal(StoreError::Seal),
                "ServiceUnavailableException",
                500,
            ),
        ];
        for (e, code, status) in cases {
            assert_eq!(e.aws_code(p), code);
            assert_eq!(e.status(p), status);
            assert_eq!(e.is_internal(), status >= 500);
        }
    }

    #[test]
    fn messages_are_awss() {
        assert_eq!(
            LogsError::constraint("a b", "logGroupName", "Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+").to_string(),
            "1 validation error detected: Value 'a b' at 'logGroupName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+"
        );
        assert_eq!(
            LogsError::key_refused("arn:aws:logs:us-east-1:111122223333:log-group:g").to_string(),
            "The specified KMS key does not exist or is not allowed to be used with Arn 'arn:aws:logs:us-east-1:111122223333:log-group:g'"
        );
    }
}
