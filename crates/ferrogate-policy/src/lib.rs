//! ferrogate-policy: the IAM policy language and its evaluator, as pure functions.
//!
//! No I/O, no storage, no HTTP. Callers (the `ferrogate-iam` crate for every request, the KMS
//! crate for key policies and grants, Organizations for SCPs) parse documents once with
//! [`Policy::parse`], keep the original JSON themselves, build a [`RequestContext`] per request and
//! call [`evaluate`]. The result is a [`Decision`] that says allow, explicit deny or implicit deny,
//! names the deciding statement or policy type, and renders AWS's `AccessDenied` message.
//!
//! ```
//! use ferrogate_policy::{evaluate, EvaluationInput, NamedPolicy, Policy, PolicyKind, PrincipalInfo, RequestContext};
//!
//! let policy = Policy::parse(r#"{
//!     "Version": "2012-10-17",
//!     "Statement": [{
//!         "Effect": "Allow",
//!         "Action": ["ecs:CreateCluster", "ecs:UpdateCluster"],
//!         "Resource": "*",
//!         "Condition": {"StringEquals": {"ecs:fargate-ephemeral-storage-kms-key": "arn:aws:kms:us-east-1:111122223333:key/k"}}
//!     }]
//! }"#, PolicyKind::Identity).unwrap();
//! let user = PrincipalInfo::iam_user("arn:aws:iam::111122223333:user/ops", "AIDAEXAMPLE");
//! let ctx = RequestContext::new(user, "ecs:CreateCluster")
//!     .with_resource("arn:aws:ecs:us-east-1:111122223333:cluster/prod")
//!     .with("ecs:fargate-ephemeral-storage-kms-key", "arn:aws:kms:us-east-1:111122223333:key/other");
//! let identity = [NamedPolicy::new("arn:aws:iam::111122223333:policy/RequireKey", &policy)];
//! let decision = evaluate(&EvaluationInput::new(&ctx).with_identity(&identity));
//! assert!(!decision.is_allowed());
//! assert_eq!(
//!     decision.access_denied_message(&ctx).unwrap(),
//!     "User: arn:aws:iam::111122223333:user/ops is not authorized to perform: ecs:CreateCluster on resource: \
//!      arn:aws:ecs:us-east-1:111122223333:cluster/prod because no identity-based policy allows the ecs:CreateCluster action"
//! );
//! ```
//!
//! # Security
//! The engine never fails open. Parsing refuses anything ambiguous (duplicate JSON members,
//! unknown elements or operators, unreadable condition values). During evaluation, whatever cannot
//! be decided (an unresolvable policy variable, a request value that is not of the operator's type,
//! a multivalued key without `ForAllValues`/`ForAnyValue`) makes an `Allow` statement not apply and
//! a `Deny` statement apply. See `docs/policy.md` for every such choice.

#![deny(missing_docs)]

mod arn;
mod base64;
mod condition;
mod context;
mod date;
mod decision;
mod error;
mod evaluate;
mod ip;
mod json;
mod message;
mod model;
mod numeric;
mod operator;
mod parse;
mod principal;
mod variables;
mod wildcard;

pub use context::RequestContext;
pub use decision::{Decision, DecisionEffect, MatchedStatement, PolicyType, Reason};
pub use error::PolicyError;
pub use evaluate::{evaluate, EvaluationInput, NamedPolicy, ResourcePolicy, ResourcePolicyKind};
pub use model::{Effect, Policy, PolicyKind, Statement, Version};
pub use operator::Operator;
pub use principal::{PrincipalInfo, PrincipalKind};

/// Building blocks exposed for property tests and for callers that match patterns themselves
/// (KMS grant constraints, for example). Not needed for ordinary evaluation.
pub mod matching {
    pub use crate::arn::{split as split_arn, ArnPattern};
    pub use crate::date::{format_iso8601, Timestamp};
    pub use crate::ip::Cidr;
    pub use crate::numeric::Decimal;
    pub use crate::wildcard::{Pattern, PatternBuilder};
}
