//! What [`evaluate`](crate::evaluate) decides, and why.

/// The policy types of the IAM evaluation logic, as AWS names them in `AccessDenied` messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PolicyType {
    /// AWS Organizations service control policy.
    ServiceControlPolicy,
    /// AWS Organizations resource control policy.
    ResourceControlPolicy,
    /// A resource-based policy (a KMS key policy is one).
    ResourceBased,
    /// An IAM role trust policy (the resource-based policy of a role, for `sts:AssumeRole*`).
    RoleTrust,
    /// An identity-based policy of the user (and its groups) or role.
    IdentityBased,
    /// The permissions boundary of the user or role.
    PermissionsBoundary,
    /// A session policy passed when the session was created.
    SessionPolicy,
}

/// The outcome, in IAM's three terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DecisionEffect {
    /// Allowed.
    Allow,
    /// Denied by a `Deny` statement.
    ExplicitDeny,
    /// Denied because a required policy type did not allow.
    ImplicitDeny,
}

/// A statement that decided, located by the name the caller gave its policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MatchedStatement {
    /// The type of the policy holding the statement.
    pub policy_type: PolicyType,
    /// The caller's name for the policy (its ARN, `inline/<name>`, ...).
    pub policy: String,
    /// The statement's position in the policy, from 0.
    pub index: usize,
    /// The statement's `Sid`, if any.
    pub sid: Option<String>,
}

/// Why the decision was made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    /// This `Allow` statement allowed (for an allow) or this `Deny` statement denied.
    Statement(MatchedStatement),
    /// The account root user's own identity permissions allowed (it has no identity policies).
    AccountRoot,
    /// A KMS grant, identified by the caller, allowed.
    Grant(String),
    /// Implicit deny: no policy of this type allowed.
    NoAllow(PolicyType),
}

/// The result of one authorization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Allow, explicit deny or implicit deny.
    pub effect: DecisionEffect,
    /// The statement or policy type behind it.
    pub reason: Reason,
    /// The resource the decision is about: the first resource that was denied, or the last one
    /// allowed; `None` when the request named no resource.
    pub resource: Option<String>,
}

impl Decision {
    /// True only for [`DecisionEffect::Allow`].
    pub fn is_allowed(&self) -> bool {
        self.effect == DecisionEffect::Allow
    }

    /// The policy type that denied (explicitly or by not allowing), for denials.
    pub fn denying_policy_type(&self) -> Option<PolicyType> {
        match (&self.effect, &self.reason) {
            (DecisionEffect::Allow, _) => None,
            (_, Reason::Statement(s)) => Some(s.policy_type),
            (_, Reason::NoAllow(t)) => Some(*t),
            _ => None,
        }
    }
}
