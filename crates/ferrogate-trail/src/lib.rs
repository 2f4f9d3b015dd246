//! The CloudTrail-compatible audit log.
//!
//! - [`record`]: the event record with AWS's schema (`eventVersion` 1.08), built from the
//!   principal, the request and its outcome.
//! - [`log`]: how records are stored: appended inside the same store transaction as the
//!   state change they describe (so a committed change always has its record), indexed by
//!   the eight `LookupEvents` attributes.
//! - [`lookup`]: `LookupEvents`, newest first, with AWS's validation and errors.
//! - [`Recorder`]: the handle for events services initiate on their own (KMS rotating a
//!   key), which go through the same log.
//! - [`api`]: `LookupEvents` as an operation, and [`api::TrailLog`], the audit log the
//!   request path records every call in.
#![deny(missing_docs)]

pub mod api;
pub mod error;
pub mod log;
pub mod lookup;
pub mod record;

pub use error::TrailError;
pub use log::{PreparedEvent, Recorder};
pub use record::{EventRecord, LookupResource, UserIdentity};
