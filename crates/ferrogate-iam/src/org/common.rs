//! What the Organizations operations share: the service, the organization a caller belongs
//! to or manages, and the resources its requests name.

use ferrogate_api::{Authorization, Check, Reply, RequestTags, Resource, Scope};
use ferrogate_store::{ReadTx, WriteTx};
use ferrogate_types::Principal;
use serde_json::Value;

use super::model::{keys, tables, Attachment, Organization};
use super::model::{FULL_AWS_ACCESS_ARN, FULL_AWS_ACCESS_DOC, FULL_AWS_ACCESS_ID};
use super::output::{PolicyOut, PolicySummary};
use super::OrgError;

/// `n` random lowercase letters and digits.
pub(super) fn random_lower(n: usize) -> Result<String, OrgError> {
    const ALNUM: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut b = vec![0u8; n];
    aws_lc_rs::rand::fill(&mut b).map_err(|_| OrgError::RandomnessUnavailable)?;
    Ok(b.iter()
        .map(|x| ALNUM[usize::from(*x) % 36] as char)
        .collect())
}

/// The organization the caller belongs to.
pub(super) fn org_of(tx: &dyn ReadTx, account: &str) -> Result<Organization, OrgError> {
    let m = tables::MEMBERS
        .get(tx, &keys::member(account))?
        .ok_or(OrgError::AWSOrganizationsNotInUseException)?;
    tables::ORGS
        .get(tx, &keys::org(&m.org_id))?
        .ok_or(OrgError::AWSOrganizationsNotInUseException)
}

/// The organization the caller manages.
pub(super) fn managed_org(tx: &dyn ReadTx, caller: &Principal) -> Result<Organization, OrgError> {
    let org = org_of(tx, caller.account.as_str())?;
    if org.management_account_id != caller.account.as_str() {
        return Err(OrgError::AccessDeniedException(
            "You don't have permissions to access this resource. This operation can be called only from the organization's management account.".into(),
        ));
    }
    Ok(org)
}

pub(super) fn load_policy(
    tx: &dyn ReadTx,
    org: &Organization,
    id: &str,
) -> Result<PolicyOut, OrgError> {
    if id == FULL_AWS_ACCESS_ID {
        return Ok(PolicyOut {
            policy_summary: PolicySummary::full_access(),
            content: FULL_AWS_ACCESS_DOC.to_owned(),
        });
    }
    let p = tables::POLICIES
        .get(tx, &keys::policy(&org.id, id))?
        .ok_or(OrgError::PolicyNotFoundException)?;
    Ok(PolicyOut {
        policy_summary: PolicySummary::customer(org, &p),
        content: p.content,
    })
}

/// Attaches FullAWSAccess to `target` (every root and account has it once SCPs are enabled).
pub(super) fn attach_full_access(
    tx: &mut dyn WriteTx,
    org: &Organization,
    target: &str,
) -> Result<(), OrgError> {
    let a = Attachment {
        policy_id: FULL_AWS_ACCESS_ID.into(),
        policy_arn: FULL_AWS_ACCESS_ARN.into(),
    };
    tables::ATTACHMENTS.put(
        tx,
        &keys::attachment(&org.id, target, FULL_AWS_ACCESS_ID),
        &a,
    )?;
    Ok(())
}

/// AWS Organizations (awsJson1_1, `AWSOrganizationsV20161128`).
#[derive(Debug, Default)]
pub struct Organizations;

ferrogate_api::service! {
    Organizations { error: OrgError, id: Organizations, tag_prefixes: [], changes_authorization: true, record_resources: false, denied: OrgError::AccessDeniedException }
}

/// The organization the caller belongs to, if any, for authorization.
pub(super) fn caller_org(s: &Scope<'_, Organizations>) -> Result<Option<Organization>, OrgError> {
    match org_of(s.tx, s.account()) {
        Ok(o) => Ok(Some(o)),
        Err(OrgError::Internal(e)) => Err(OrgError::Internal(e)),
        Err(_) => Ok(None),
    }
}

/// `action` with no resource type (the reference names none for it).
pub(super) fn on_organization(action: &str) -> Authorization {
    Authorization::of(Check::new(action, Resource::Any, RequestTags::None))
}

/// The resource a target id names: the root or a member account.
pub(super) fn target_resource(org: Option<&Organization>, target: &str) -> Resource {
    match org {
        Some(o) if target == o.root_id => Resource::Existing {
            arn: o.root_arn(),
            tags: Vec::new(),
        },
        Some(o) => Resource::Named(o.account_arn(target)),
        None => Resource::Any,
    }
}

/// The resource a policy id names.
pub(super) fn policy_resource(org: Option<&Organization>, id: &str) -> Resource {
    match org {
        _ if id == FULL_AWS_ACCESS_ID => Resource::Existing {
            arn: FULL_AWS_ACCESS_ARN.into(),
            tags: Vec::new(),
        },
        Some(o) => Resource::Named(o.policy_arn(id)),
        None => Resource::Any,
    }
}

/// `organizations:PolicyType` of a request about service control policies.
pub(super) fn scp_key(check: Check, policy_type: &str) -> Check {
    check.key("organizations:PolicyType", vec![policy_type.to_owned()])
}

/// A write's answer, recorded as its `responseElements`.
pub(super) fn recorded<T: serde::Serialize>(out: T) -> Reply<T> {
    let elements = serde_json::to_value(&out).unwrap_or(Value::Null);
    Reply::new(out).elements(elements)
}
