//! IAM and STS errors, mapped to AWS's codes and statuses in one exhaustive place.

ferrogate_api::service_error! {
    /// Errors of the IAM and STS APIs. Variant names are AWS's error codes.
    #[derive(Debug, thiserror::Error)]
    pub enum IamError {
        /// The named entity does not exist.
        #[error("{0}")]
        NoSuchEntity(String) => 404,
        /// An entity with that name exists.
        #[error("{0}")]
        EntityAlreadyExists(String) => 409,
        /// The entity still has dependents.
        #[error("{0}")]
        DeleteConflict(String) => 409,
        /// A quota would be exceeded.
        #[error("{0}")]
        LimitExceeded(String) => 409,
        /// A parameter violates its constraints (`1 validation error detected: …`).
        #[error("{0}")]
        ValidationError(String) => 400,
        /// A policy document is invalid.
        #[error("{0}")]
        MalformedPolicyDocument(String) => 400,
        /// A parameter is syntactically valid but unusable (a bad ARN, a bad marker).
        #[error("{0}")]
        InvalidInput(String) => 400,
        /// Not authorized; the message names principal, action, resource and reason.
        #[error("{0}")]
        AccessDenied(String) => 403,
    }
    internal "ServiceFailure" {
        /// The CSPRNG failed (new ids, secrets, session tokens): logged, answered as
        /// `ServiceFailure`.
        #[error("the random number generator failed")]
        RandomnessUnavailable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrogate_store::StoreError;
    use ferrogate_wire::{AwsError, Protocol};

    #[test]
    fn codes_and_statuses() {
        let q = Protocol::Query;
        let cases: Vec<(IamError, &str, u16)> = vec![
            (IamError::NoSuchEntity(String::new()), "NoSuchEntity", 404),
            (
                IamError::EntityAlreadyExists(String::new()),
                "EntityAlreadyExists",
                409,
            ),
            (
                IamError::DeleteConflict(String::new()),
                "DeleteConflict",
                409,
            ),
            (IamError::LimitExceeded(String::new()), "LimitExceeded", 409),
            (
                IamError::ValidationError(String::new()),
                "ValidationError",
                400,
            ),
            (
                IamError::MalformedPolicyDocument(String::new()),
                "MalformedPolicyDocument",
                400,
            ),
            (IamError::InvalidInput(String::new()), "InvalidInput", 400),
            (IamError::AccessDenied(String::new()), "AccessDenied", 403),
            (IamError::Internal(StoreError::Seal), "ServiceFailure", 500),
            (IamError::RandomnessUnavailable, "ServiceFailure", 500),
        ];
        for (e, code, status) in cases {
            assert_eq!((e.aws_code(q), e.status(q)), (code, status));
        }
    }
}
