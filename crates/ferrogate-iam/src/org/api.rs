//! The Organizations operations (awsJson1_1, `AWSOrganizationsV20161128`).

use ferrogate_api::{
    Authorization, Authorized, Check, Done, Empty as EmptyOutput, Exec, Operation, Reply,
    RequestTags, Resource, Scope, Service,
};
use ferrogate_policy::{Policy, PolicyKind};
use ferrogate_store::{Direction, ReadTx, WriteTx};
use ferrogate_types::{Principal, Timestamp};
use ferrogate_wire::ServiceId;
use serde::Deserialize;
use serde_json::Value;

use super::model::{
    keys, tables, Attachment, CreateAccountRequest, Member, OrgPolicy, Organization,
};
use super::model::{FULL_AWS_ACCESS_ARN, FULL_AWS_ACCESS_DOC, FULL_AWS_ACCESS_ID};
use super::output::{
    AccountAnswer, AccountOut, CreateAccountStatusAnswer, ListAnswer, OrganizationAnswer,
    OrganizationOut, PoliciesAnswer, PolicyAnswer, PolicyOut, PolicySummary, RootAnswer, RootOut,
};
use super::OrgError;
use crate::model::{self as iam, EntityKind};

fn random_lower(n: usize) -> String {
    const ALNUM: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut b = vec![0u8; n];
    let _ = aws_lc_rs::rand::fill(&mut b);
    b.iter()
        .map(|x| ALNUM[usize::from(*x) % 36] as char)
        .collect()
}

/// The organization the caller belongs to.
fn org_of(tx: &dyn ReadTx, account: &str) -> Result<Organization, OrgError> {
    let m = tables::MEMBERS
        .get(tx, &keys::member(account))?
        .ok_or(OrgError::AWSOrganizationsNotInUseException)?;
    tables::ORGS
        .get(tx, &keys::org(&m.org_id))?
        .ok_or(OrgError::AWSOrganizationsNotInUseException)
}

/// The organization the caller manages.
fn managed_org(tx: &dyn ReadTx, caller: &Principal) -> Result<Organization, OrgError> {
    let org = org_of(tx, caller.account.as_str())?;
    if org.management_account_id != caller.account.as_str() {
        return Err(OrgError::AccessDeniedException(
            "You don't have permissions to access this resource. This operation can be called only from the organization's management account.".into(),
        ));
    }
    Ok(org)
}

fn load_policy(tx: &dyn ReadTx, org: &Organization, id: &str) -> Result<PolicyOut, OrgError> {
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
fn attach_full_access(
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

impl Service for Organizations {
    type Error = OrgError;
    const ID: ServiceId = ServiceId::Organizations;
    const TAG_PREFIXES: &'static [&'static str] = &[];
    const CHANGES_AUTHORIZATION: bool = true;
    const RECORD_RESOURCES: bool = false;
    fn access_denied(message: String) -> OrgError {
        OrgError::AccessDeniedException(message)
    }
}

ferrogate_api::operations! {
    service: Organizations,
    protocol: json,
    parameters: serialized,
    ops: {
        CreateOrganization(CreateOrganizationInput) write,
        DescribeOrganization(Empty) read,
        ListRoots(ListInput<false>) read,
        CreateAccount(CreateAccountInput) write,
        DescribeCreateAccountStatus(DescribeCreateAccountStatusInput) read,
        DescribeAccount(AccountIdInput) read,
        ListAccounts(ListInput<true>) read,
        CreatePolicy(CreatePolicyInput) write,
        DescribePolicy(PolicyIdInput<false>) read,
        DeletePolicy(PolicyIdInput<true>) write,
        ListPolicies(ListPoliciesInput) read,
        ListPoliciesForTarget(ListPoliciesForTargetInput) read,
        AttachPolicy(AttachPolicyInput<true>) write,
        DetachPolicy(AttachPolicyInput<false>) write,
        EnablePolicyType(EnablePolicyTypeInput) write,
    }
}

/// The organization the caller belongs to, if any, for authorization.
fn caller_org(s: &Scope<'_, Organizations>) -> Result<Option<Organization>, OrgError> {
    match org_of(s.tx, s.account()) {
        Ok(o) => Ok(Some(o)),
        Err(OrgError::Internal(e)) => Err(OrgError::Internal(e)),
        Err(_) => Ok(None),
    }
}

/// `action` with no resource type (the reference names none for it).
fn on_organization(action: &str) -> Authorization {
    Authorization::of(Check::new(action, Resource::Any, RequestTags::None))
}

/// The resource a target id names: the root or a member account.
fn target_resource(org: Option<&Organization>, target: &str) -> Resource {
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
fn policy_resource(org: Option<&Organization>, id: &str) -> Resource {
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
fn scp_key(check: Check, policy_type: &str) -> Check {
    check.key("organizations:PolicyType", vec![policy_type.to_owned()])
}

/// A write's answer, recorded as its `responseElements`.
fn recorded<T: serde::Serialize>(out: T) -> Reply<T> {
    let elements = serde_json::to_value(&out).unwrap_or(Value::Null);
    Reply::new(out).elements(elements)
}

/// No parameters.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct Empty {}

impl Empty {
    pub(crate) fn validated(self) -> Result<Self, OrgError> {
        Ok(self)
    }
}

impl Operation for Empty {
    type Output = OrganizationAnswer;

    fn authorize(&self, _: &Scope<'_, Organizations>) -> Result<Authorization, OrgError> {
        Ok(on_organization("organizations:DescribeOrganization"))
    }

    fn execute(_: &Authorized<Self>, x: Exec<'_, Organizations>) -> Done<Self> {
        let Exec { tx, ctx, .. } = x;
        let org = org_of(tx.read(), ctx.principal.account.as_str())?;
        Ok(Reply::new(OrganizationAnswer {
            organization: OrganizationOut::of(&org),
        }))
    }
}

/// `ListRoots` (`ACCOUNTS = false`) and `ListAccounts`: `NextToken`/`MaxResults` are
/// accepted and checked; these lists are short and returned whole.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListInput<const ACCOUNTS: bool> {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_results: Option<i64>,
}

impl<const ACCOUNTS: bool> ListInput<ACCOUNTS> {
    pub(crate) fn validated(self) -> Result<Self, OrgError> {
        if let Some(m) = self.max_results {
            if !(1..=20).contains(&m) {
                return Err(OrgError::InvalidInputException(
                    "You specified an invalid value for MaxResults.".into(),
                ));
            }
        }
        if self.next_token.is_some() {
            return Err(OrgError::InvalidInputException(
                "You specified an invalid value for nextToken.".into(),
            ));
        }
        Ok(self)
    }
}

impl<const ACCOUNTS: bool> Operation for ListInput<ACCOUNTS>
where
    Self: ferrogate_api::Registered<Service = Organizations> + ferrogate_api::Recorded,
{
    type Output = ListAnswer;

    fn authorize(&self, _: &Scope<'_, Organizations>) -> Result<Authorization, OrgError> {
        Ok(on_organization(if ACCOUNTS {
            "organizations:ListAccounts"
        } else {
            "organizations:ListRoots"
        }))
    }

    fn execute(_: &Authorized<Self>, x: Exec<'_, Organizations>) -> Done<Self> {
        let Exec { tx, ctx, .. } = x;
        // Both are management-account operations in AWS.
        let org = managed_org(tx.read(), ctx.principal)?;
        let out = if ACCOUNTS {
            ListAnswer {
                roots: None,
                accounts: Some(accounts(tx.read(), &org)?),
            }
        } else {
            ListAnswer {
                roots: Some(vec![RootOut::of(&org)]),
                accounts: None,
            }
        };
        Ok(Reply::new(out))
    }
}

fn accounts(tx: &dyn ReadTx, org: &Organization) -> Result<Vec<AccountOut>, OrgError> {
    let mut out = Vec::new();
    for (_, m) in tables::MEMBERS.scan(tx, &[], None, Direction::Forward, 100_000)? {
        if m.org_id == org.id {
            out.push(AccountOut::of(org, &m));
        }
    }
    Ok(out)
}

/// `CreateOrganization`.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateOrganizationInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    feature_set: Option<String>,
}

impl CreateOrganizationInput {
    pub(crate) fn validated(self) -> Result<Self, OrgError> {
        match self.feature_set.as_deref() {
            None | Some("ALL" | "CONSOLIDATED_BILLING") => Ok(self),
            Some(other) => Err(OrgError::InvalidInputException(format!(
                "Invalid FeatureSet: {other}"
            ))),
        }
    }
}

impl Operation for CreateOrganizationInput {
    type Output = OrganizationAnswer;

    fn authorize(&self, _: &Scope<'_, Organizations>) -> Result<Authorization, OrgError> {
        Ok(on_organization("organizations:CreateOrganization"))
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Organizations>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let account = ctx.principal.account.as_str();
        let feature_set = op.feature_set.clone().unwrap_or_else(|| "ALL".into());
        if tables::MEMBERS
            .get(tx.read(), &keys::member(account))?
            .is_some()
        {
            return Err(OrgError::AlreadyInOrganizationException);
        }
        let org = Organization {
            id: format!("o-{}", random_lower(10)),
            management_account_id: account.to_owned(),
            management_email: format!("management@{account}.example.com"),
            feature_set,
            root_id: format!("r-{}", random_lower(4)),
            scp_enabled: false,
            created: ctx.now,
        };
        let member = Member {
            account_id: account.to_owned(),
            org_id: org.id.clone(),
            name: "management".into(),
            email: org.management_email.clone(),
            joined_method: "CREATED".into(),
            joined: ctx.now,
        };
        let w = tx.write()?;
        tables::ORGS.put(w, &keys::org(&org.id), &org)?;
        tables::MEMBERS.put(w, &keys::member(account), &member)?;
        Ok(recorded(OrganizationAnswer {
            organization: OrganizationOut::of(&org),
        })
        .resource("AWS::Organizations::Organization", org.id))
    }
}

/// `CreateAccount`.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateAccountInput {
    email: String,
    account_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    role_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    iam_user_access_to_billing: Option<String>,
}

impl CreateAccountInput {
    pub(crate) fn validated(self) -> Result<Self, OrgError> {
        let valid_email =
            self.email.len() >= 6 && self.email.len() <= 64 && self.email.contains('@');
        if !valid_email || self.account_name.is_empty() || self.account_name.len() > 50 {
            return Err(OrgError::InvalidInputException(
                "You provided a value that does not match the required pattern.".into(),
            ));
        }
        Ok(self)
    }
}

impl Operation for CreateAccountInput {
    type Output = CreateAccountStatusAnswer;

    fn authorize(&self, _: &Scope<'_, Organizations>) -> Result<Authorization, OrgError> {
        Ok(on_organization("organizations:CreateAccount"))
    }

    fn execute(this: &Authorized<Self>, x: Exec<'_, Organizations>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let org = managed_org(tx.read(), ctx.principal)?;
        let role = this
            .role_name
            .clone()
            .unwrap_or_else(|| "OrganizationAccountAccessRole".into());
        let account_id = new_account_id(tx.read())?;
        let w = tx.write()?;
        crate::bootstrap::create_account_record(w, &account_id, ctx.now)?;
        create_access_role(w, &org.management_account_id, &account_id, &role, ctx.now)?;
        let member = Member {
            account_id: account_id.clone(),
            org_id: org.id.clone(),
            name: this.account_name.clone(),
            email: this.email.clone(),
            joined_method: "CREATED".into(),
            joined: ctx.now,
        };
        tables::MEMBERS.put(w, &keys::member(&account_id), &member)?;
        if org.scp_enabled {
            attach_full_access(w, &org, &account_id)?;
        }
        let request = CreateAccountRequest {
            id: format!("car-{}", random_lower(32)),
            org_id: org.id.clone(),
            account_name: this.account_name.clone(),
            account_id: account_id.clone(),
            requested: ctx.now,
        };
        tables::CREATE_REQUESTS.put(w, &keys::request(&request.id), &request)?;
        Ok(recorded(CreateAccountStatusAnswer::of(&request))
            .resource("AWS::Organizations::Account", account_id))
    }
}
fn new_account_id(tx: &dyn ReadTx) -> Result<String, OrgError> {
    for _ in 0..100 {
        let mut b = [0u8; 12];
        let _ = aws_lc_rs::rand::fill(&mut b);
        let id: String = b.iter().map(|x| char::from(b'0' + x % 10)).collect();
        if id.starts_with('0') {
            continue;
        }
        if tables::MEMBERS.get(tx, &keys::member(&id))?.is_none()
            && iam::tables::ACCOUNTS
                .get(tx, &iam::keys::account(&id))?
                .is_none()
        {
            return Ok(id);
        }
    }
    Err(OrgError::ConstraintViolationException(
        "Could not allocate an account id.".into(),
    ))
}

/// The role the management account uses to administer a member account, as AWS creates it:
/// trusted by the management account, with full administrator permissions.
fn create_access_role(
    tx: &mut dyn WriteTx,
    management: &str,
    account: &str,
    name: &str,
    now: Timestamp,
) -> Result<(), OrgError> {
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{management}:root"}},"Action":"sts:AssumeRole"}}]}}"#
    );
    let role = iam::Role {
        name: name.to_owned(),
        role_id: crate::ids::unique_id("AROA"),
        path: "/".into(),
        trust_policy: trust,
        description: None,
        max_session_duration: 3600,
        create_date: now,
        tags: Vec::new(),
    };
    iam::tables::ROLES.put(
        tx,
        &iam::keys::entity(account, EntityKind::Role, name),
        &role,
    )?;
    let admin = iam::InlinePolicy {
        name: "AdministratorAccess".into(),
        document: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#.into(),
    };
    iam::tables::INLINE.put(
        tx,
        &iam::keys::inline(account, EntityKind::Role, name, &admin.name),
        &admin,
    )?;
    Ok(())
}

/// `DescribeCreateAccountStatus`.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeCreateAccountStatusInput {
    create_account_request_id: String,
}

impl DescribeCreateAccountStatusInput {
    pub(crate) fn validated(self) -> Result<Self, OrgError> {
        Ok(self)
    }
}

impl Operation for DescribeCreateAccountStatusInput {
    type Output = CreateAccountStatusAnswer;

    fn authorize(&self, _: &Scope<'_, Organizations>) -> Result<Authorization, OrgError> {
        Ok(on_organization("organizations:DescribeCreateAccountStatus"))
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Organizations>) -> Done<Self> {
        let Exec { tx, ctx, .. } = x;
        let org = managed_org(tx.read(), ctx.principal)?;
        let r = tables::CREATE_REQUESTS
            .get(tx.read(), &keys::request(&op.create_account_request_id))?
            .filter(|r| r.org_id == org.id)
            .ok_or(OrgError::CreateAccountStatusNotFoundException)?;
        Ok(Reply::new(CreateAccountStatusAnswer::of(&r)))
    }
}

/// `DescribeAccount`.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccountIdInput {
    account_id: String,
}

impl AccountIdInput {
    pub(crate) fn validated(self) -> Result<Self, OrgError> {
        Ok(self)
    }
}

impl Operation for AccountIdInput {
    type Output = AccountAnswer;

    fn authorize(&self, s: &Scope<'_, Organizations>) -> Result<Authorization, OrgError> {
        let org = caller_org(s)?;
        Ok(Authorization::of(Check::new(
            "organizations:DescribeAccount",
            target_resource(org.as_ref(), &self.account_id),
            RequestTags::None,
        )))
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Organizations>) -> Done<Self> {
        let Exec { tx, ctx, .. } = x;
        let org = managed_org(tx.read(), ctx.principal)?;
        let m = tables::MEMBERS
            .get(tx.read(), &keys::member(&op.account_id))?
            .filter(|m| m.org_id == org.id)
            .ok_or(OrgError::AccountNotFoundException)?;
        Ok(Reply::new(AccountAnswer {
            account: AccountOut::of(&org, &m),
        }))
    }
}

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
            id: format!("p-{}", random_lower(8)),
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

fn check_target(tx: &dyn ReadTx, org: &Organization, target: &str) -> Result<(), OrgError> {
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
