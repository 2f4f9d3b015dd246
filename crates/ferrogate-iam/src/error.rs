//! IAM and STS errors, mapped to AWS's codes and statuses in one exhaustive place.

use ferrogate_store::StoreError;
use ferrogate_wire::{AwsError, Protocol, WireError};

/// Errors of the IAM and STS APIs. Variant names are AWS's error codes.
#[derive(Debug, thiserror::Error)]
pub enum IamError {
    /// The named entity does not exist.
    #[error("{0}")]
    NoSuchEntity(String),
    /// An entity with that name exists.
    #[error("{0}")]
    EntityAlreadyExists(String),
    /// The entity still has dependents.
    #[error("{0}")]
    DeleteConflict(String),
    /// A quota would be exceeded.
    #[error("{0}")]
    LimitExceeded(String),
    /// A parameter violates its constraints (`1 validation error detected: …`).
    #[error("{0}")]
    ValidationError(String),
    /// A policy document is invalid.
    #[error("{0}")]
    MalformedPolicyDocument(String),
    /// A parameter is syntactically valid but unusable (a bad ARN, a bad marker).
    #[error("{0}")]
    InvalidInput(String),
    /// Not authorized; the message names principal, action, resource and reason.
    #[error("{0}")]
    AccessDenied(String),
    /// A protocol-level problem (unknown action, missing parameter).
    #[error(transparent)]
    Wire(#[from] WireError),
    /// The CSPRNG failed (new ids, secrets, session tokens): logged, answered as
    /// `ServiceFailure`.
    #[error("the random number generator failed")]
    RandomnessUnavailable,
    /// Storage failed: logged, answered as `ServiceFailure`.
    #[error(transparent)]
    Internal(#[from] StoreError),
}

impl AwsError for IamError {
    fn aws_code(&self, p: Protocol) -> &'static str {
        match self {
            IamError::NoSuchEntity(_) => "NoSuchEntity",
            IamError::EntityAlreadyExists(_) => "EntityAlreadyExists",
            IamError::DeleteConflict(_) => "DeleteConflict",
            IamError::LimitExceeded(_) => "LimitExceeded",
            IamError::ValidationError(_) => "ValidationError",
            IamError::MalformedPolicyDocument(_) => "MalformedPolicyDocument",
            IamError::InvalidInput(_) => "InvalidInput",
            IamError::AccessDenied(_) => "AccessDenied",
            IamError::Wire(w) => w.aws_code(p),
            IamError::RandomnessUnavailable | IamError::Internal(_) => "ServiceFailure",
        }
    }

    fn status(&self, p: Protocol) -> u16 {
        match self {
            IamError::NoSuchEntity(_) => 404,
            IamError::EntityAlreadyExists(_)
            | IamError::DeleteConflict(_)
            | IamError::LimitExceeded(_) => 409,
            IamError::ValidationError(_)
            | IamError::MalformedPolicyDocument(_)
            | IamError::InvalidInput(_) => 400,
            IamError::AccessDenied(_) => 403,
            IamError::Wire(w) => w.status(p),
            IamError::RandomnessUnavailable | IamError::Internal(_) => 500,
        }
    }

    fn is_internal(&self) -> bool {
        matches!(
            self,
            IamError::RandomnessUnavailable | IamError::Internal(_)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
