//! CloudTrail's errors, mapped to AWS's codes in one place.

use ferrogate_store::StoreError;
use ferrogate_wire::{AwsError, Protocol};

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
    /// Storage failed.
    #[error(transparent)]
    Internal(#[from] StoreError),
}

impl AwsError for TrailError {
    fn aws_code(&self, _: Protocol) -> &'static str {
        match self {
            TrailError::InvalidLookupAttributesException(_) => "InvalidLookupAttributesException",
            TrailError::InvalidTimeRangeException(_) => "InvalidTimeRangeException",
            TrailError::InvalidMaxResultsException(_) => "InvalidMaxResultsException",
            TrailError::InvalidNextTokenException(_) => "InvalidNextTokenException",
            TrailError::InvalidEventCategoryException(_) => "InvalidEventCategoryException",
            TrailError::Internal(_) => "InternalFailure",
        }
    }

    fn status(&self, _: Protocol) -> u16 {
        match self {
            TrailError::Internal(_) => 500,
            _ => 400,
        }
    }

    fn is_internal(&self) -> bool {
        matches!(self, TrailError::Internal(_))
    }
}
