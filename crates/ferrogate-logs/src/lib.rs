//! A CloudWatch Logs-compatible service: log groups, log streams and log events, with
//! AWS's shapes, limits, errors and IAM actions, every event encrypted at rest.
//!
//! - [`ops`]: the API (awsJson1_1, `Logs_20140328`) on the operation contract.
//! - [`model`]: groups and streams as stored, ARNs, names.
//! - [`chunk`]: one accepted batch of one stream, AES-256-GCM under the group's data key.
//! - [`keyring`]: data keys, wrapped by KMS (the group's `kmsKeyId`, encryption context
//!   `aws:logs:arn`) or under the root key (the service-owned key), cached unwrapped.
//! - [`scan`]: reading events in order across chunks and streams.
//! - [`pattern`]: filter patterns.
//! - [`retention`]: deleting chunks (retention, DeleteLogStream, DeleteLogGroup).
//!
//! # Who calls it
//! Clients, through the server's router; and, later, the `awslogs` driver of ECS tasks,
//! through `ferrogate_api::Client` as the task's execution role with the typed inputs
//! [`ops::CreateLogGroupInput::new`], [`ops::CreateLogStreamInput::new`] and
//! [`ops::PutLogEventsInput::new`]: authorized, executed and recorded like any request.
//!
//! # Security
//! A log event's message is stored only inside an encrypted chunk; it never appears in a
//! store record in clear, an audit record (`PutLogEvents` records the group and stream
//! names only), a log line, an error or a `Debug` print. What stays in clear is listed in
//! `docs/security-model.md`: names, tags, timestamps, counts and sizes.
#![deny(missing_docs)]

pub mod chunk;
mod error;
pub mod keyring;
pub mod model;
pub mod ops;
pub mod pattern;
pub mod retention;
pub mod scan;

pub use error::LogsError;
pub use ops::Logs;
