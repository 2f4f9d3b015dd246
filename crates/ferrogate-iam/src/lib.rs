//! Identities: accounts, IAM users and access keys, policies, STS, SigV4 credential lookup,
//! and authorization.
//!
//! - [`credentials`]: the [`ferrogate_wire::sigv4::CredentialLookup`] over the store; access
//!   key secrets are sealed under the root key at rest.
//! - [`authz`]: the policy engine over the stored identities ([`ferrogate_api::Decide`]).
//! - [`api`]: the IAM and STS operations (awsQuery, XML).
//! - [`org`]: AWS Organizations and its service control policies.
//! - [`service_role`]: a role assumed by a service principal for a resource (ECS's task
//!   roles).
//! - [`bootstrap`]: the first start: the account and its root access key.
#![deny(missing_docs)]

pub mod api;
pub mod authz;
pub mod bootstrap;
pub mod credentials;
mod error;
pub mod ids;
pub mod model;
pub mod org;
pub mod service_role;
pub mod validate;

pub use error::IamError;
