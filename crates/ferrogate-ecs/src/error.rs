//! ECS errors, mapped to AWS's codes in one place (shared/spec/aws-behaviour.md §1–§3).

use ferrogate_store::StoreError;
use ferrogate_wire::{AwsError, Protocol, WireError};

/// Errors of the ECS API. Variant names are AWS's exception names.
#[derive(Debug, thiserror::Error)]
pub enum EcsError {
    /// The request is not valid for the resource (ECS's general client error).
    #[error("{0}")]
    ClientException(String),
    /// A parameter is not valid.
    #[error("{0}")]
    InvalidParameterException(String),
    /// No such cluster: `Cluster not found.`
    #[error("Cluster not found.")]
    ClusterNotFoundException,
    /// The cluster still has active services.
    #[error("The Cluster cannot be deleted while Services are active.")]
    ClusterContainsServicesException,
    /// The cluster still has tasks that are not stopped.
    #[error("The Cluster cannot be deleted while Tasks are active.")]
    ClusterContainsTasksException,
    /// A Cloud Map namespace that does not exist (Ferrogate has none).
    #[error("{0}")]
    NamespaceNotFoundException(String),
    /// No such service: `Service not found.`
    #[error("Service not found.")]
    ServiceNotFoundException,
    /// The service is not ACTIVE: `Service was not ACTIVE.`
    #[error("Service was not ACTIVE.")]
    ServiceNotActiveException,
    /// A tagged resource that does not exist.
    #[error("{0}")]
    ResourceNotFoundException(String),
    /// A quota would be exceeded.
    #[error("{0}")]
    LimitExceededException(String),
    /// Not authorized.
    #[error("{0}")]
    AccessDeniedException(String),
    /// A feature Ferrogate does not provide (a task-definition member it cannot apply).
    #[error("{0}")]
    UnsupportedFeatureException(String),
    /// A protocol-level problem.
    #[error(transparent)]
    Wire(#[from] WireError),
    /// The CSPRNG failed (task ids, deployment ids): logged, answered as `ServerException`.
    #[error("the random number generator failed")]
    RandomnessUnavailable,
    /// Storage failure of ours: logged, answered as `ServerException`.
    #[error(transparent)]
    Internal(#[from] StoreError),
}

impl AwsError for EcsError {
    fn aws_code(&self, p: Protocol) -> &'static str {
        match self {
            EcsError::ClientException(_) => "ClientException",
            EcsError::InvalidParameterException(_) => "InvalidParameterException",
            EcsError::ClusterNotFoundException => "ClusterNotFoundException",
            EcsError::ClusterContainsServicesException => "ClusterContainsServicesException",
            EcsError::ClusterContainsTasksException => "ClusterContainsTasksException",
            EcsError::NamespaceNotFoundException(_) => "NamespaceNotFoundException",
            EcsError::ServiceNotFoundException => "ServiceNotFoundException",
            EcsError::ServiceNotActiveException => "ServiceNotActiveException",
            EcsError::ResourceNotFoundException(_) => "ResourceNotFoundException",
            EcsError::LimitExceededException(_) => "LimitExceededException",
            EcsError::AccessDeniedException(_) => "AccessDeniedException",
            EcsError::UnsupportedFeatureException(_) => "UnsupportedFeatureException",
            EcsError::Wire(w) => w.aws_code(p),
            EcsError::RandomnessUnavailable | EcsError::Internal(_) => "ServerException",
        }
    }

    fn status(&self, p: Protocol) -> u16 {
        match self {
            EcsError::ClientException(_)
            | EcsError::InvalidParameterException(_)
            | EcsError::ClusterNotFoundException
            | EcsError::ClusterContainsServicesException
            | EcsError::ClusterContainsTasksException
            | EcsError::NamespaceNotFoundException(_)
            | EcsError::ServiceNotFoundException
            | EcsError::ServiceNotActiveException
            | EcsError::ResourceNotFoundException(_)
            | EcsError::LimitExceededException(_)
            | EcsError::AccessDeniedException(_)
            | EcsError::UnsupportedFeatureException(_) => 400,
            EcsError::Wire(w) => w.status(p),
            EcsError::RandomnessUnavailable | EcsError::Internal(_) => 500,
        }
    }

    /// Exactly the failures answered with a 5xx.
    fn is_internal(&self) -> bool {
        self.status(Protocol::Json11) >= 500
    }
}

impl EcsError {
    /// `InvalidParameterException` with `message`.
    pub fn invalid(message: impl Into<String>) -> Self {
        EcsError::InvalidParameterException(message.into())
    }

    /// `ClientException` with `message`.
    pub fn client(message: impl Into<String>) -> Self {
        EcsError::ClientException(message.into())
    }
}
