//! Shared fixtures for the integration tests.
#![allow(dead_code)] // Each test binary uses a different subset.

use ferrogate_policy::{
    evaluate, Decision, DecisionEffect, EvaluationInput, NamedPolicy, Policy, PolicyKind,
    PolicyType, PrincipalInfo,
};

/// The account most tests run in.
pub const ACCT: &str = "111122223333";
/// Another account, for cross-account cases.
pub const OTHER: &str = "444455556666";
/// A third account that is named nowhere.
pub const THIRD: &str = "777788889999";

/// IAM user `alice` in [`ACCT`], tagged `team=blue`.
pub fn alice() -> PrincipalInfo {
    PrincipalInfo::iam_user(
        "arn:aws:iam::111122223333:user/alice",
        "AIDAALICEEXAMPLE0001",
    )
    .with_tag("team", "blue")
}

/// IAM user `bob` in [`OTHER`].
pub fn bob_other() -> PrincipalInfo {
    PrincipalInfo::iam_user("arn:aws:iam::444455556666:user/bob", "AIDABOBEXAMPLE000001")
}

/// Root of [`ACCT`].
pub fn root() -> PrincipalInfo {
    PrincipalInfo::root(ACCT)
}

/// Root of [`OTHER`].
pub fn root_other() -> PrincipalInfo {
    PrincipalInfo::root(OTHER)
}

/// Session `s1` of role `ops/Deployer` in [`ACCT`].
pub fn deployer() -> PrincipalInfo {
    PrincipalInfo::assumed_role(
        "arn:aws:iam::111122223333:role/ops/Deployer",
        "s1",
        "AROADEPLOYEREXAMPLE1",
    )
}

/// The Fargate service principal.
pub fn fargate() -> PrincipalInfo {
    PrincipalInfo::service("fargate.amazonaws.com")
}

/// Parses or panics with the error's detail.
pub fn parse(json: &str, kind: PolicyKind) -> Policy {
    Policy::parse(json, kind).unwrap_or_else(|e| panic!("{e} ({})\n{json}", e.detail()))
}

/// Parses an identity policy.
pub fn identity(json: &str) -> Policy {
    parse(json, PolicyKind::Identity)
}

/// Expected outcome of a decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// Allowed.
    Allow,
    /// Explicitly denied by this policy type.
    Explicit(PolicyType),
    /// Implicitly denied because this policy type did not allow.
    Implicit(PolicyType),
}

/// The observed outcome in [`Expect`] terms.
pub fn outcome(d: &Decision) -> Expect {
    match d.effect {
        DecisionEffect::Allow => Expect::Allow,
        DecisionEffect::ExplicitDeny => {
            Expect::Explicit(d.denying_policy_type().expect("deny type"))
        }
        DecisionEffect::ImplicitDeny => {
            Expect::Implicit(d.denying_policy_type().expect("deny type"))
        }
    }
}

/// Evaluates with identity policies only.
pub fn decide_identity(ctx: &ferrogate_policy::RequestContext, policies: &[Policy]) -> Decision {
    let named: Vec<_> = policies
        .iter()
        .enumerate()
        .map(|(i, p)| NamedPolicy::new(NAMES[i % NAMES.len()], p))
        .collect();
    evaluate(&EvaluationInput::new(ctx).with_identity(&named))
}

/// Names given to policies in order.
pub const NAMES: [&str; 6] = ["p0", "p1", "p2", "p3", "p4", "p5"];
