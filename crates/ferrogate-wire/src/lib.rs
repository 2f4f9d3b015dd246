//! The AWS wire protocols, and nothing about what services mean.
//!
//! - [`sigv4`]: SigV4 verification with pure canonicalization tested against AWS's
//!   published vectors.
//! - [`protocol`]: which service, protocol and operation a request addresses.
//! - [`json`]: awsJson1_1 decoding, encoding and the `{"__type","message"}` error shape.
//! - [`query`]: awsQuery form parameters and XML documents, `<ErrorResponse>`.
//! - [`ec2`]: EC2's query dialect: `Name.N` lists, `<requestId>` answers, `<Response><Errors>`.
//! - [`error`]: the [`AwsError`] trait every crate's error implements, and [`ApiError`],
//!   the one wire form of an error.
#![deny(missing_docs)]

pub mod ec2;
pub mod error;
pub mod json;
pub mod protocol;
pub mod query;
pub mod sigv4;

pub use error::{ApiError, AuthError, AwsError, WireError};
pub use protocol::{Protocol, ServiceId};

/// The largest request body accepted, in bytes. The largest input is CloudWatch Logs'
/// PutLogEvents: 1,048,576 bytes of messages and overhead, which JSON escaping can grow
/// (a `"` or `\\` takes two bytes, a control character six); 4 MiB leaves room for that
/// and for the members around the messages. Anything bigger is refused before it is
/// buffered further.
pub const MAX_BODY_BYTES: usize = 4 << 20;
