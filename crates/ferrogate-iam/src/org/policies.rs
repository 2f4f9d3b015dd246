//! Service control policies: CreatePolicy, DescribePolicy, DeletePolicy, ListPolicies,
//! ListPoliciesForTarget, AttachPolicy, DetachPolicy, EnablePolicyType.

use ferrogate_api::{
    Authorization, Authorized, Check, Done, Empty as EmptyOutput, Exec, Operation, Reply,
    RequestTags, Resource, Scope,
};
use ferrogate_policy::{Policy, PolicyKind};
use ferrogate_store::{Direction, ReadTx};
use serde::Deserialize;

use super::common::{
    attach_full_access, caller_org, load_policy, managed_org, policy_resource, random_lower,
    recorded, scp_key, target_resource, Organizations,
};
use super::model::FULL_AWS_ACCESS_ID;
use super::model::{keys, tables, Attachment, OrgPolicy, Organization};
use super::output::{PoliciesAnswer, PolicyAnswer, PolicyOut, PolicySummary, RootAnswer, RootOut};
use super::OrgError;

/// `CreatePolicy` (type `SERVICE_CONTROL_POLICY`).
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreatePolicyInput {
    content: String,
    description: String,
    name: String,
    #[serde(rename = "Type")]
    policy_type: String,
}

impl CreatePolicyInput {
    pub(crate) fn validated(self) -> Result<Self, OrgError> {
        if self.policy_type != "SERVICE_CONTROL_POLICY" {
            return Err(OrgError::InvalidInputException(format!(
                "Ferrogate supports only SERVICE_CONTROL_POLICY, not {}.",
                self.policy_type
            )));
        }
        if self.name.is_empty() || self.name.len() > 128 || self.description.len() > 512 {
            return Err(OrgError::InvalidInputException(
                "You provided a value that does not match the required pattern.".into(),
            ));
        }
        if self.content.chars().filter(|c| !c.is_whitespace()).count() > 5120 {
            return Err(OrgError::ConstraintViolationException(
                "You attempted to create a policy larger than the maximum size (5120 characters)."
                    .into(),
            ));
        }
        Policy::parse(&self.content, PolicyKind::ServiceControl)
            .map_err(|e| OrgError::MalformedPolicyDocumentException(e.to_string()))?;
        Ok(self)
    }
}

impl Operation for CreatePolicyInput {
    type Output = PolicyAnswer;

    fn authorize(&self, _: &Scope<'_, Organizations>) -> Result<Authorization, OrgError> {
        Ok(Authorization::of(scp_key(
            Check::new(
                "organizations:CreatePolicy",
                Resource::Any,
                RequestTags::None,
            ),
            &self.policy_type,
        )))
    }

    fn execute(this: &Authorized<Self>, x: Exec<'_, Organizations>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let org = managed_org(tx.read(), ctx.principal)?;
        let existing = tables::POLICIES.scan(
            tx.read(),
            &keys::policies(&org.id),
            None,
            Direction::Forward,
            10_000,
        )?;
        if existing.iter().any(|(_, p)| p.name == this.name) || this.name == "FullAWSAccess" {
            return Err(OrgError::DuplicatePolicyException);
        }
        let p = OrgPolicy {
            id: format!("p-{}", random_lower(8)?),
            name: this.name.clone(),
            description: this.description.clone(),
            content: this.content.clone(),
        };
        tables::POLICIES.put(tx.write()?, &keys::policy(&org.id, &p.id), &p)?;
        let arn = org.policy_arn(&p.id);
        Ok(recorded(PolicyAnswer {
            policy: Some(PolicyOut {
                policy_summary: PolicySummary::customer(&org, &p),
                content: p.content,
            }),
        })
        .resource("AWS::Organizations::Policy", arn))
    }
}

/// `DescribePolicy` (`DELETE = false`) and `DeletePolicy`.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyIdInput<const DELETE: bool> {
    policy_id: String,
}

impl<const DELETE: bool> PolicyIdInput<DELETE> {
    pub(crate) fn validated(self) -> Result<Self, OrgError> {
        Ok(self)
    }
}

impl<const DELETE: bool> Operation for PolicyIdInput<DELETE>
where
    Self: ferrogate_api::Registered<Service = Organizations> + ferrogate_api::Recorded,
{
    type Output = PolicyAnswer;

    fn authorize(&self, s: &Scope<'_, Organizations>) -> Result<Authorization, OrgError> {
        let org = caller_org(s)?;
        let action = if DELETE {
            "organizations:DeletePolicy"
        } else {
            "organizations:DescribePolicy"
        };
        Ok(Authorization::of(Check::new(
            action,
            policy_resource(org.as_ref(), &self.policy_id),
            RequestTags::None,
        )))
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Organizations>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let id = &op.policy_id;
        let org = managed_org(tx.read(), ctx.principal)?;
        let policy = load_policy(tx.read(), &org, id)?;
        if !DELETE {
            return Ok(Reply::new(PolicyAnswer {
                policy: Some(policy),
            }));
        }
        if id == FULL_AWS_ACCESS_ID {
            return Err(OrgError::AccessDeniedException(
                "You can't delete an AWS managed policy.".into(),
            ));
        }
        let attached = tables::ATTACHMENTS
            .scan(
                tx.read(),
                &keys::policies(&org.id),
                None,
                Direction::Forward,
                100_000,
            )?
            .into_iter()
            .any(|(_, a)| &a.policy_id == id);
        if attached {
            return Err(OrgError::PolicyInUseException);
        }
        tables::POLICIES.delete(tx.write()?, &keys::policy(&org.id, id))?;
        Ok(Reply::new(PolicyAnswer { policy: None })
            .resource("AWS::Organizations::Policy", policy.policy_summary.arn))
    }
}

/// `ListPolicies`.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListPoliciesInput {
    filter: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_results: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

impl ListPoliciesInput {
    pub(crate) fn validated(self) -> Result<Self, OrgError> {
        Ok(self)
    }
}

impl Operation for ListPoliciesInput {
    type Output = PoliciesAnswer;

    fn authorize(&self, _: &Scope<'_, Organizations>) -> Result<Authorization, OrgError> {
        Ok(Authorization::of(scp_key(
            Check::new(
                "organizations:ListPolicies",
                Resource::Any,
                RequestTags::None,
            ),
            &self.filter,
        )))
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Organizations>) -> Done<Self> {
        let Exec { tx, ctx, .. } = x;
        // Management account only, as in AWS (delegated administrators are not modelled).
        let org = managed_org(tx.read(), ctx.principal)?;
        if op.filter != "SERVICE_CONTROL_POLICY" {
            return Ok(Reply::new(PoliciesAnswer {
                policies: Vec::new(),
            }));
        }
        let mut policies = vec![PolicySummary::full_access()];
        for (_, p) in tables::POLICIES.scan(
            tx.read(),
            &keys::policies(&org.id),
            None,
            Direction::Forward,
            10_000,
        )? {
            policies.push(PolicySummary::customer(&org, &p));
        }
        Ok(Reply::new(PoliciesAnswer { policies }))
    }
}

/// `ListPoliciesForTarget`.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListPoliciesForTargetInput {
    target_id: String,
    filter: String,
}

impl ListPoliciesForTargetInput {
    pub(crate) fn validated(self) -> Result<Self, OrgError> {
        Ok(self)
    }
}

impl Operation for ListPoliciesForTargetInput {
    type Output = PoliciesAnswer;

    fn authorize(&self, s: &Scope<'_, Organizations>) -> Result<Authorization, OrgError> {
        let org = caller_org(s)?;
        Ok(Authorization::of(scp_key(
            Check::new(
                "organizations:ListPoliciesForTarget",
                target_resource(org.as_ref(), &self.target_id),
                RequestTags::None,
            ),
            &self.filter,
        )))
    }

    fn execute(this: &Authorized<Self>, x: Exec<'_, Organizations>) -> Done<Self> {
        let Exec { tx, ctx, .. } = x;
        let org = managed_org(tx.read(), ctx.principal)?;
        check_target(tx.read(), &org, &this.target_id)?;
        let mut policies = Vec::new();
        for (_, a) in tables::ATTACHMENTS.scan(
            tx.read(),
            &keys::target(&org.id, &this.target_id),
            None,
            Direction::Forward,
            1000,
        )? {
            if let Ok(p) = load_policy(tx.read(), &org, &a.policy_id) {
                policies.push(p.policy_summary);
            }
        }
        Ok(Reply::new(PoliciesAnswer { policies }))
    }
}

pub(super) fn check_target(
    tx: &dyn ReadTx,
    org: &Organization,
    target: &str,
) -> Result<(), OrgError> {
    if target == org.root_id {
        return Ok(());
    }
    match tables::MEMBERS.get(tx, &keys::member(target))? {
        Some(m) if m.org_id == org.id => Ok(()),
        _ => Err(OrgError::TargetNotFoundException),
    }
}

/// `AttachPolicy` (`ATTACH = true`) and `DetachPolicy`.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttachPolicyInput<const ATTACH: bool> {
    policy_id: String,
    target_id: String,
}

impl<const ATTACH: bool> AttachPolicyInput<ATTACH> {
    pub(crate) fn validated(self) -> Result<Self, OrgError> {
        Ok(self)
    }
}

impl<const ATTACH: bool> Operation for AttachPolicyInput<ATTACH>
where
    Self: ferrogate_api::Registered<Service = Organizations> + ferrogate_api::Recorded,
{
    type Output = EmptyOutput;

    /// On the policy and on the target (the reference lists both resource types).
    fn authorize(&self, s: &Scope<'_, Organizations>) -> Result<Authorization, OrgError> {
        let org = caller_org(s)?;
        let action = if ATTACH {
            "organizations:AttachPolicy"
        } else {
            "organizations:DetachPolicy"
        };
        let on = |r: Resource| {
            scp_key(
                Check::new(action, r, RequestTags::None),
                "SERVICE_CONTROL_POLICY",
            )
        };
        Ok(
            Authorization::of(on(policy_resource(org.as_ref(), &self.policy_id)))
                .and(on(target_resource(org.as_ref(), &self.target_id))),
        )
    }

    fn execute(this: &Authorized<Self>, x: Exec<'_, Organizations>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let org = managed_org(tx.read(), ctx.principal)?;
        let policy_arn = load_policy(tx.read(), &org, &this.policy_id)?
            .policy_summary
            .arn;
        check_target(tx.read(), &org, &this.target_id)?;
        if !org.scp_enabled {
            return Err(OrgError::PolicyTypeNotEnabledException);
        }
        let key = keys::attachment(&org.id, &this.target_id, &this.policy_id);
        let attached = tables::ATTACHMENTS.get(tx.read(), &key)?.is_some();
        match (ATTACH, attached) {
            (true, true) => return Err(OrgError::DuplicatePolicyAttachmentException),
            (false, false) => return Err(OrgError::PolicyNotAttachedException),
            (true, false) => {
                let a = Attachment {
                    policy_id: this.policy_id.clone(),
                    policy_arn: policy_arn.clone(),
                };
                tables::ATTACHMENTS.put(tx.write()?, &key, &a)?;
            }
            (false, true) => {
                // With SCPs enabled every root and account keeps at least one SCP (AWS:
                // MIN_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED); detaching the last would also
                // read, in our evaluation, as "no SCP allows anything".
                let remaining = tables::ATTACHMENTS
                    .scan(
                        tx.read(),
                        &keys::target(&org.id, &this.target_id),
                        None,
                        Direction::Forward,
                        2,
                    )?
                    .len();
                if remaining <= 1 {
                    return Err(OrgError::ConstraintViolationException(
                        "You attempted to detach a policy from an entity that would cause the entity to have fewer than the minimum number of policies of a certain type required.".into(),
                    ));
                }
                tables::ATTACHMENTS.delete(tx.write()?, &key)?;
            }
        }
        Ok(Reply::new(EmptyOutput {}).resource("AWS::Organizations::Policy", policy_arn))
    }
}

/// `EnablePolicyType`.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EnablePolicyTypeInput {
    root_id: String,
    policy_type: String,
}

impl EnablePolicyTypeInput {
    pub(crate) fn validated(self) -> Result<Self, OrgError> {
        if self.policy_type != "SERVICE_CONTROL_POLICY" {
            return Err(OrgError::InvalidInputException(format!(
                "Ferrogate supports only SERVICE_CONTROL_POLICY, not {}.",
                self.policy_type
            )));
        }
        Ok(self)
    }
}

impl Operation for EnablePolicyTypeInput {
    type Output = RootAnswer;

    fn authorize(&self, s: &Scope<'_, Organizations>) -> Result<Authorization, OrgError> {
        let org = caller_org(s)?;
        Ok(Authorization::of(scp_key(
            Check::new(
                "organizations:EnablePolicyType",
                target_resource(org.as_ref(), &self.root_id),
                RequestTags::None,
            ),
            &self.policy_type,
        )))
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Organizations>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let mut org = managed_org(tx.read(), ctx.principal)?;
        if op.root_id != org.root_id {
            return Err(OrgError::RootNotFoundException);
        }
        if org.scp_enabled {
            return Err(OrgError::PolicyTypeAlreadyEnabledException);
        }
        org.scp_enabled = true;
        let members: Vec<String> = tables::MEMBERS
            .scan(tx.read(), &[], None, Direction::Forward, 100_000)?
            .into_iter()
            .filter(|(_, m)| m.org_id == org.id)
            .map(|(_, m)| m.account_id)
            .collect();
        let w = tx.write()?;
        tables::ORGS.put(w, &keys::org(&org.id), &org)?;
        attach_full_access(w, &org, &org.root_id)?;
        for a in members {
            attach_full_access(w, &org, &a)?;
        }
        Ok(recorded(RootAnswer {
            root: RootOut::of(&org),
        }))
    }
}
