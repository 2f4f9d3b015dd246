//! ECS errors, mapped to AWS's codes in one place (shared/spec/aws-behaviour.md §1–§3).

ferrogate_api::service_error! {
    /// Errors of the ECS API. Variant names are AWS's exception names.
    #[derive(Debug, thiserror::Error)]
    pub enum EcsError {
        /// The request is not valid for the resource (ECS's general client error).
        #[error("{0}")]
        ClientException(String) => 400,
        /// A parameter is not valid.
        #[error("{0}")]
        InvalidParameterException(String) => 400,
        /// No such cluster: `Cluster not found.`
        #[error("Cluster not found.")]
        ClusterNotFoundException => 400,
        /// The cluster still has active services.
        #[error("The Cluster cannot be deleted while Services are active.")]
        ClusterContainsServicesException => 400,
        /// The cluster still has tasks that are not stopped.
        #[error("The Cluster cannot be deleted while Tasks are active.")]
        ClusterContainsTasksException => 400,
        /// A Cloud Map namespace that does not exist (Ferrogate has none).
        #[error("{0}")]
        NamespaceNotFoundException(String) => 400,
        /// No such service: `Service not found.`
        #[error("Service not found.")]
        ServiceNotFoundException => 400,
        /// The service is not ACTIVE: `Service was not ACTIVE.`
        #[error("Service was not ACTIVE.")]
        ServiceNotActiveException => 400,
        /// A tagged resource that does not exist.
        #[error("{0}")]
        ResourceNotFoundException(String) => 400,
        /// A quota would be exceeded.
        #[error("{0}")]
        LimitExceededException(String) => 400,
        /// Not authorized.
        #[error("{0}")]
        AccessDeniedException(String) => 400,
        /// A feature Ferrogate does not provide (a task-definition member it cannot apply).
        #[error("{0}")]
        UnsupportedFeatureException(String) => 400,
    }
    // Logged, answered as `ServerException`: storage failures (`Internal`) and these.
    internal "ServerException" {
        /// The CSPRNG failed (task ids, deployment ids).
        #[error("the random number generator failed")]
        RandomnessUnavailable,
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
