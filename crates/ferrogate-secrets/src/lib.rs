//! An AWS Secrets Manager-compatible service: secrets, their versions and staging labels,
//! resource policies, tags and scheduled deletion, with AWS's shapes, limits, errors and IAM
//! actions.
//!
//! - [`ops`]: the API (awsJson1_1, target prefix `secretsmanager`) on the operation contract.
//! - [`model`]: secrets and versions as stored, ARNs, names, and how a `SecretId` finds a
//!   secret (name, full ARN, partial ARN).
//! - [`envelope`]: how a value is encrypted: AES-256-GCM under a data key of its own,
//!   wrapped by KMS under the secret's key (encryption context `SecretARN`,
//!   `SecretVersionId`) or, for the default `aws/secretsmanager` key, under the server's
//!   root key.
//! - [`maintenance`]: deleting secrets whose recovery window has ended.
//!
//! # Who calls it
//! Clients, through the server's router; and, later, the ECS task launcher resolving
//! `secrets` and `repositoryCredentials` as a task's execution role through
//! `ferrogate_api::Client` with [`ops::GetSecretValueInput::new`]: authorized, executed and
//! recorded like any request.
//!
//! # Security
//! A secret value exists in clear only in a request, its answer and memory that is zeroed
//! on drop ([`envelope::Sensitive`]). It is never stored in clear, never in an error, a log
//! line, a `Debug` print or an audit record (`requestParameters` leave `SecretString` and
//! `SecretBinary` out, as AWS does). KMS is called with the caller's own credentials
//! (`kms:ViaService` = `secretsmanager.<region>.amazonaws.com`): a caller allowed
//! `secretsmanager:GetSecretValue` but not `kms:Decrypt` on a customer managed key gets
//! nothing.
#![deny(missing_docs)]

pub mod envelope;
mod error;
pub mod maintenance;
pub mod model;
pub mod ops;

pub use error::SecretsError;
pub use ops::Secrets;
