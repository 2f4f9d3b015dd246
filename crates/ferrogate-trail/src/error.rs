//! CloudTrail's errors, mapped to AWS's codes in one place.

ferrogate_api::service_error! {
    /// Errors of the CloudTrail API.
    #[derive(Debug, thiserror::Error)]
    pub enum TrailError {
        /// More than one lookup attribute, or an unknown key or bad value.
        #[error("{0}")]
        InvalidLookupAttributesException(String) => 400,
        /// StartTime after EndTime, or otherwise unusable.
        #[error("{0}")]
        InvalidTimeRangeException(String) => 400,
        /// MaxResults outside 1–50.
        #[error("{0}")]
        InvalidMaxResultsException(String) => 400,
        /// A NextToken that was not issued for this query.
        #[error("{0}")]
        InvalidNextTokenException(String) => 400,
        /// An EventCategory other than `insight`.
        #[error("{0}")]
        InvalidEventCategoryException(String) => 400,
        /// Not authorized.
        #[error("{0}")]
        AccessDeniedException(String) => 400,
    }
    internal "InternalFailure" {}
}
