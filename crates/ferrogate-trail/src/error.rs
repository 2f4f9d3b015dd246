//! CloudTrail's errors, mapped to AWS's codes in one place.

use ferrogate_store::StoreError;
use ferrogate_wire::{AwsError, Protocol, WireError};

/// Errors of the CloudTrail API.
#[derive(Debug, thiserror::Error)]
pub enum TrailError {
    /// More than one lookup attribute, or an unknown key or bad value.
    #[error("{0}")]
    InvalidLookupAttributesException(String),
    /// StartTime after EndTime, or otherwise unusable.
    #[error("{0}")]
    InvalidTimeRangeException(String),
    /// MaxResults outside 1–50.
    #[error("{0}")]
    InvalidMaxResultsException(String),
    /// A NextToken that was not issued for this query.
    #[error("{0}")]
    InvalidNextTokenException(String),
    /// An EventCategory other than `insight`.
    #[error("{0}")]
    InvalidEventCategoryException(String),
    /// Not authorized.
    #[error("{0}")]
    AccessDeniedException(String),
    /// A protocol-level problem (a body that does not decode).
    #[error(transparent)]
    Wire(#[from] WireError),
    /// Storage failed.
    #[error(transparent)]
    Internal(#[from] StoreError),
}

impl AwsError for TrailError {
    fn aws_code(&self, p: Protocol) -> &'static str {
        match self {
            TrailError::InvalidLookupAttributesException(_) => "InvalidLookupAttributesException",
            TrailError::InvalidTimeRangeException(_) => "InvalidTimeRangeException",
            TrailError::InvalidMaxResultsException(_) => "InvalidMaxResultsException",
            TrailError::InvalidNextTokenException(_) => "InvalidNextTokenException",
            TrailError::InvalidEventCategoryException(_) => "InvalidEventCategoryException",
            TrailError::AccessDeniedException(_) => "AccessDeniedException",
            TrailError::Wire(w) => w.aws_code(p),
            TrailError::Internal(_) => "InternalFailure",
        }
    }

    fn status(&self, p: Protocol) -> u16 {
        match self {
            TrailError::InvalidLookupAttributesException(_)
            | TrailError::InvalidTimeRangeException(_)
            | TrailError::InvalidMaxResultsException(_)
            | TrailError::InvalidNextTokenException(_)
            | TrailError::InvalidEventCategoryException(_)
            | TrailError::AccessDeniedException(_) => 400,
            TrailError::Wire(w) => w.status(p),
            TrailError::Internal(_) => 500,
        }
    }

    fn is_internal(&self) -> bool {
        matches!(self, TrailError::Internal(_))
    }
}
