//! The operation contract every Ferrogate service implements, and the one request path
//! that runs it.
//!
//! A service is a crate with a [`Service`] type (its state and error enum) and one
//! [`operations!`] table. Each row names an input type implementing [`Operation`]: typed
//! input, typed output, and an [`Operation::authorize`] that states every action,
//! resource and condition key the request needs authorized. The server registers the
//! service in a [`Registry`] (one line) and routes requests to it; nothing in the server
//! knows any service's operations.
//!
//! - [`authz`]: [`Check`]s, [`Authorization`], and [`Authorized`], which only the
//!   authorizer makes and which [`Operation::execute`] requires.
//! - [`exec`]: the [`Executor`]: authorize → prepare → execute → record → answer, one path
//!   for every operation and every caller.
//! - [`client`]: typed [`Client`]s for calls one service makes to another, authorized and
//!   recorded like a client's.
//! - [`table`]: the [`operations!`] macro and the [`Registry`].
//! - [`encode`]: outputs and errors on the wire.
//! - [`audit`]: what the request path hands to the audit log.
//! - [`error`]: [`service_error!`], every service's error enum and its mapping.
//!
//! # Invariants
//! - No operation runs without an [`Authorized`] value, and no [`Authorized`] value exists
//!   without every [`Check`] of the operation's own [`Authorization`] having been allowed.
//! - Every outcome of an authenticated call is recorded before it is answered.
#![deny(missing_docs)]

pub mod audit;
pub mod authz;
pub mod client;
pub mod encode;
pub mod error;
pub mod exec;
pub mod op;
pub mod table;

pub use authz::{
    Authorization, Authorized, Check, Decide, Denied, Epoch, Facts, Question, RequestTags,
    Resource, ResourcePolicy,
};
pub use client::Client;
pub use encode::{Answer, Ec2Output, Ec2Return, Empty, NoResult, XmlOutput};
pub use exec::{new_request_id, Call, Caller, Executor, Host, Refusal};
pub use op::{
    BoxFuture, Ctx, Done, Env, ErrorOf, Exec, Operation, Recorded, Registered, Reply, Scope, Sent,
    Service, ServiceError,
};
pub use table::{Dispatch, Registry, Request, Route};

/// What the macros name, so a service crate needs no dependency of its own for them.
#[doc(hidden)]
pub mod __macro {
    pub use ferrogate_store::StoreError;
    pub use ferrogate_wire::ec2::Ec2Params;
    pub use ferrogate_wire::json;
    pub use ferrogate_wire::query::QueryParams;
    pub use ferrogate_wire::ServiceId;
    pub use ferrogate_wire::{AwsError, Protocol, WireError};
    pub use serde_json::{to_value, Value};
}
