//! `AccessDenied` messages in AWS's wording.
//!
//! IAM User Guide, *Troubleshoot access denied error messages*: "Most access denied error messages
//! appear in the format User user is not authorized to perform action on resource because
//! context"; an explicit deny reads "with an explicit deny in a *type* policy", an implicit one
//! "because no *type* policy allows the *action* action". The phrases per policy type are the
//! ones AWS prints today, e.g.
//! `User: arn:aws:iam::123456789012:user/JohnDoe is not authorized to perform:
//! codecommit:ListRepositories because no identity-based policy allows the
//! codecommit:ListRepositories action`.

use crate::context::RequestContext;
use crate::decision::{Decision, DecisionEffect, PolicyType};

/// The article and noun of an explicit-deny phrase ("with an explicit deny in …").
fn explicit_phrase(t: PolicyType) -> &'static str {
    match t {
        PolicyType::ServiceControlPolicy => "a service control policy",
        PolicyType::ResourceControlPolicy => "a resource control policy",
        PolicyType::ResourceBased => "a resource-based policy",
        PolicyType::RoleTrust => "the role trust policy",
        PolicyType::IdentityBased => "an identity-based policy",
        PolicyType::PermissionsBoundary => "a permissions boundary",
        PolicyType::SessionPolicy => "a session policy",
    }
}

/// The noun of an implicit-deny phrase ("because no … allows the … action").
fn implicit_noun(t: PolicyType) -> &'static str {
    match t {
        PolicyType::ServiceControlPolicy => "service control policy",
        PolicyType::ResourceControlPolicy => "resource control policy",
        PolicyType::ResourceBased => "resource-based policy",
        PolicyType::RoleTrust => "role trust policy",
        PolicyType::IdentityBased => "identity-based policy",
        PolicyType::PermissionsBoundary => "permissions boundary",
        PolicyType::SessionPolicy => "session policy",
    }
}

impl Decision {
    /// The `AccessDenied` message for a denial, `None` for an allow. The action is printed as the
    /// caller spelled it; the resource clause is left out when the request named no resource.
    pub fn access_denied_message(&self, ctx: &RequestContext) -> Option<String> {
        let t = self.denying_policy_type()?;
        let action = ctx.action();
        let mut msg = format!(
            "User: {} is not authorized to perform: {action}",
            ctx.principal().arn
        );
        if let Some(r) = &self.resource {
            msg.push_str(" on resource: ");
            msg.push_str(r);
        }
        match self.effect {
            DecisionEffect::ExplicitDeny => {
                msg.push_str(" with an explicit deny in ");
                msg.push_str(explicit_phrase(t));
            }
            DecisionEffect::ImplicitDeny => {
                msg.push_str(&format!(
                    " because no {} allows the {action} action",
                    implicit_noun(t)
                ));
            }
            DecisionEffect::Allow => return None,
        }
        Some(msg)
    }
}
