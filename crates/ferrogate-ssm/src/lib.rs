//! An AWS Systems Manager Parameter Store-compatible service: parameters (`String`,
//! `StringList`, `SecureString`) in a hierarchy of `/`-separated names, their versions,
//! labels and tags, with AWS's shapes, limits, errors and IAM actions.
//!
//! - [`ops`]: the API (awsJson1_1, target prefix `AmazonSSM`) on the operation contract.
//! - [`model`]: parameters as stored, names, ARNs and selectors (`name:version`,
//!   `name:label`).
//!
//! # Security
//! A `SecureString` value is encrypted like a Secrets Manager value
//! ([`ferrogate_secrets::envelope`]): a data key per version, made by KMS under the
//! parameter's key with the caller's credentials and the encryption context
//! `{"PARAMETER_ARN": <ARN>}` (`kms:ViaService` = `ssm.<region>.amazonaws.com`), or, for the
//! default key `alias/aws/ssm`, sealed under the server's root key. `WithDecryption` asks
//! KMS (`kms:Decrypt`) as the caller; without it the answer carries the ciphertext, as AWS's
//! does. `String` and `StringList` values are configuration, stored and recorded in clear.
#![deny(missing_docs)]

mod error;
pub mod model;
pub mod ops;

pub use error::SsmError;
pub use ops::Ssm;
