//! The Organizations operations (awsJson1_1, `AWSOrganizationsV20161128`).

use ferrogate_policy::{Policy, PolicyKind};
use ferrogate_store::{Direction, ReadTx, TxRef, WriteTx};
use ferrogate_types::{Principal, Timestamp};
use ferrogate_wire::json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::model::{
    keys, tables, Attachment, CreateAccountRequest, Member, OrgPolicy, Organization,
};
use super::model::{FULL_AWS_ACCESS_ARN, FULL_AWS_ACCESS_DOC, FULL_AWS_ACCESS_ID};
use super::OrgError;
use crate::authz::Action;
use crate::model::{self as iam, EntityKind};
use crate::op::{Ctx, OpReply, Operation};

fn secs(t: Timestamp) -> f64 {
    t.epoch_seconds_f64()
}

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

fn organization_json(org: &Organization) -> Value {
    json!({
        "Id": org.id, "Arn": org.arn(), "FeatureSet": org.feature_set,
        "MasterAccountArn": org.account_arn(&org.management_account_id),
        "MasterAccountId": org.management_account_id, "MasterAccountEmail": org.management_email,
        "AvailablePolicyTypes": [{ "Type": "SERVICE_CONTROL_POLICY", "Status": if org.scp_enabled { "ENABLED" } else { "DISABLED" } }],
    })
}

fn account_json(org: &Organization, m: &Member) -> Value {
    json!({
        "Id": m.account_id, "Arn": org.account_arn(&m.account_id), "Email": m.email, "Name": m.name,
        "Status": "ACTIVE", "State": "ACTIVE", "JoinedMethod": m.joined_method, "JoinedTimestamp": secs(m.joined),
    })
}

/// The AWS managed FullAWSAccess policy's summary and document.
fn full_access() -> (Value, String) {
    (
        json!({ "Id": FULL_AWS_ACCESS_ID, "Arn": FULL_AWS_ACCESS_ARN, "Name": "FullAWSAccess",
                "Description": "Allows access to every operation", "Type": "SERVICE_CONTROL_POLICY", "AwsManaged": true }),
        FULL_AWS_ACCESS_DOC.to_owned(),
    )
}

fn customer_summary(org: &Organization, p: &OrgPolicy) -> Value {
    json!({ "Id": p.id, "Arn": org.policy_arn(&p.id), "Name": p.name, "Description": p.description,
            "Type": "SERVICE_CONTROL_POLICY", "AwsManaged": false })
}

fn load_policy(tx: &dyn ReadTx, org: &Organization, id: &str) -> Result<(Value, String), OrgError> {
    if id == FULL_AWS_ACCESS_ID {
        return Ok(full_access());
    }
    let p = tables::POLICIES
        .get(tx, &keys::policy(&org.id, id))?
        .ok_or(OrgError::PolicyNotFoundException)?;
    Ok((customer_summary(org, &p), p.content))
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

macro_rules! org_ops {
    ($( $name:ident ( $input:ty ) $ro:literal ),* $(,)?) => {
        /// The Organizations operations Ferrogate serves.
        #[derive(Debug, Clone)]
        pub enum OrgOp { $( #[doc = stringify!($name)] $name($input), )* }

        impl OrgOp {
            /// Decodes `op` from a JSON body.
            pub fn decode(op: &str, body: &[u8]) -> Result<Self, OrgError> {
                match op {
                    $( stringify!($name) => Ok(OrgOp::$name(json::decode(body)?)), )*
                    _ => Err(OrgError::Wire(ferrogate_wire::WireError::UnknownOperation {
                        message: format!("Operation {op} is not supported by this endpoint."),
                    })),
                }
            }
        }

        impl Operation for OrgOp {
            type Error = OrgError;

            fn name(&self) -> &'static str {
                match self { $( OrgOp::$name(_) => stringify!($name), )* }
            }

            fn read_only(&self) -> bool {
                match self { $( OrgOp::$name(_) => $ro, )* }
            }

            fn action(&self, _caller: &Principal) -> Action {
                Action::new(format!("organizations:{}", self.name()), "*")
            }

            fn request_parameters(&self) -> Value {
                match self { $( OrgOp::$name(i) => serde_json::to_value(i).unwrap_or(Value::Null), )* }
            }

            fn changes_authorization(&self) -> bool {
                !self.read_only()
            }

            fn execute(&self, tx: TxRef<'_>, ctx: Ctx<'_>) -> Result<OpReply, OrgError> {
                let (body, elements, resources) = match self { $( OrgOp::$name(i) => i.execute(tx, ctx)?, )* };
                Ok(OpReply { body: json::encode(&body), response_elements: elements, resources })
            }

            fn access_denied(message: String) -> OrgError {
                OrgError::AccessDeniedException(message)
            }
        }
    };
}

type Out = (Value, Value, Vec<(String, String)>);

org_ops! {
    CreateOrganization(CreateOrganizationInput) false,
    DescribeOrganization(Empty) true,
    ListRoots(ListInput<false>) true,
    CreateAccount(CreateAccountInput) false,
    DescribeCreateAccountStatus(DescribeCreateAccountStatusInput) true,
    DescribeAccount(AccountIdInput) true,
    ListAccounts(ListInput<true>) true,
    CreatePolicy(CreatePolicyInput) false,
    DescribePolicy(PolicyIdInput<false>) true,
    DeletePolicy(PolicyIdInput<true>) false,
    ListPolicies(ListPoliciesInput) true,
    ListPoliciesForTarget(ListPoliciesForTargetInput) true,
    AttachPolicy(AttachPolicyInput<true>) false,
    DetachPolicy(AttachPolicyInput<false>) false,
    EnablePolicyType(EnablePolicyTypeInput) false,
}

/// No parameters.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct Empty {}

impl Empty {
    fn execute(&self, tx: TxRef<'_>, ctx: Ctx<'_>) -> Result<Out, OrgError> {
        let org = org_of(tx.read(), ctx.principal.account.as_str())?;
        Ok((
            json!({ "Organization": organization_json(&org) }),
            Value::Null,
            Vec::new(),
        ))
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
    fn execute(&self, tx: TxRef<'_>, ctx: Ctx<'_>) -> Result<Out, OrgError> {
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
        // Both are management-account operations in AWS.
        let org = managed_org(tx.read(), ctx.principal)?;
        let body = if ACCOUNTS {
            json!({ "Accounts": accounts(tx.read(), &org)? })
        } else {
            json!({ "Roots": [root_json(&org)] })
        };
        Ok((body, Value::Null, Vec::new()))
    }
}

fn root_json(org: &Organization) -> Value {
    let types = if org.scp_enabled {
        json!([{ "Type": "SERVICE_CONTROL_POLICY", "Status": "ENABLED" }])
    } else {
        json!([])
    };
    json!({ "Id": org.root_id, "Arn": org.root_arn(), "Name": "Root", "PolicyTypes": types })
}

fn accounts(tx: &dyn ReadTx, org: &Organization) -> Result<Vec<Value>, OrgError> {
    let mut out = Vec::new();
    for (_, m) in tables::MEMBERS.scan(tx, &[], None, Direction::Forward, 100_000)? {
        if m.org_id == org.id {
            out.push(account_json(org, &m));
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
    fn execute(&self, mut tx: TxRef<'_>, ctx: Ctx<'_>) -> Result<Out, OrgError> {
        let account = ctx.principal.account.as_str();
        let feature_set = self.feature_set.clone().unwrap_or_else(|| "ALL".into());
        if feature_set != "ALL" && feature_set != "CONSOLIDATED_BILLING" {
            return Err(OrgError::InvalidInputException(format!(
                "Invalid FeatureSet: {feature_set}"
            )));
        }
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
        let out = json!({ "Organization": organization_json(&org) });
        Ok((
            out.clone(),
            out,
            vec![("AWS::Organizations::Organization".into(), org.id)],
        ))
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

fn status_json(r: &CreateAccountRequest) -> Value {
    json!({ "Id": r.id, "AccountName": r.account_name, "State": "SUCCEEDED", "AccountId": r.account_id,
            "RequestedTimestamp": secs(r.requested), "CompletedTimestamp": secs(r.requested) })
}

impl CreateAccountInput {
    fn execute(&self, mut tx: TxRef<'_>, ctx: Ctx<'_>) -> Result<Out, OrgError> {
        let org = managed_org(tx.read(), ctx.principal)?;
        let valid_email =
            self.email.len() >= 6 && self.email.len() <= 64 && self.email.contains('@');
        if !valid_email || self.account_name.is_empty() || self.account_name.len() > 50 {
            return Err(OrgError::InvalidInputException(
                "You provided a value that does not match the required pattern.".into(),
            ));
        }
        let role = self
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
            name: self.account_name.clone(),
            email: self.email.clone(),
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
            account_name: self.account_name.clone(),
            account_id: account_id.clone(),
            requested: ctx.now,
        };
        tables::CREATE_REQUESTS.put(w, &keys::request(&request.id), &request)?;
        let out = json!({ "CreateAccountStatus": status_json(&request) });
        Ok((
            out.clone(),
            out,
            vec![("AWS::Organizations::Account".into(), account_id)],
        ))
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
    fn execute(&self, tx: TxRef<'_>, ctx: Ctx<'_>) -> Result<Out, OrgError> {
        let org = managed_org(tx.read(), ctx.principal)?;
        let r = tables::CREATE_REQUESTS
            .get(tx.read(), &keys::request(&self.create_account_request_id))?
            .filter(|r| r.org_id == org.id)
            .ok_or(OrgError::CreateAccountStatusNotFoundException)?;
        Ok((
            json!({ "CreateAccountStatus": status_json(&r) }),
            Value::Null,
            Vec::new(),
        ))
    }
}

/// `DescribeAccount`.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccountIdInput {
    account_id: String,
}

impl AccountIdInput {
    fn execute(&self, tx: TxRef<'_>, ctx: Ctx<'_>) -> Result<Out, OrgError> {
        let org = managed_org(tx.read(), ctx.principal)?;
        let m = tables::MEMBERS
            .get(tx.read(), &keys::member(&self.account_id))?
            .filter(|m| m.org_id == org.id)
            .ok_or(OrgError::AccountNotFoundException)?;
        Ok((
            json!({ "Account": account_json(&org, &m) }),
            Value::Null,
            Vec::new(),
        ))
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
    fn execute(&self, mut tx: TxRef<'_>, ctx: Ctx<'_>) -> Result<Out, OrgError> {
        let org = managed_org(tx.read(), ctx.principal)?;
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
        let existing = tables::POLICIES.scan(
            tx.read(),
            &keys::policies(&org.id),
            None,
            Direction::Forward,
            10_000,
        )?;
        if existing.iter().any(|(_, p)| p.name == self.name) || self.name == "FullAWSAccess" {
            return Err(OrgError::DuplicatePolicyException);
        }
        let p = OrgPolicy {
            id: format!("p-{}", random_lower(8)),
            name: self.name.clone(),
            description: self.description.clone(),
            content: self.content.clone(),
        };
        tables::POLICIES.put(tx.write()?, &keys::policy(&org.id, &p.id), &p)?;
        let out = json!({ "Policy": { "PolicySummary": customer_summary(&org, &p), "Content": p.content } });
        Ok((
            out.clone(),
            out,
            vec![("AWS::Organizations::Policy".into(), org.policy_arn(&p.id))],
        ))
    }
}

/// `DescribePolicy` (`DELETE = false`) and `DeletePolicy`.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyIdInput<const DELETE: bool> {
    policy_id: String,
}

impl<const DELETE: bool> PolicyIdInput<DELETE> {
    fn execute(&self, mut tx: TxRef<'_>, ctx: Ctx<'_>) -> Result<Out, OrgError> {
        let org = managed_org(tx.read(), ctx.principal)?;
        let (summary, content) = load_policy(tx.read(), &org, &self.policy_id)?;
        if !DELETE {
            return Ok((
                json!({ "Policy": { "PolicySummary": summary, "Content": content } }),
                Value::Null,
                Vec::new(),
            ));
        }
        if self.policy_id == FULL_AWS_ACCESS_ID {
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
            .any(|(_, a)| a.policy_id == self.policy_id);
        if attached {
            return Err(OrgError::PolicyInUseException);
        }
        tables::POLICIES.delete(tx.write()?, &keys::policy(&org.id, &self.policy_id))?;
        let arn = summary["Arn"].as_str().unwrap_or_default().to_owned();
        Ok((
            json!({}),
            Value::Null,
            vec![("AWS::Organizations::Policy".into(), arn)],
        ))
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
    fn execute(&self, tx: TxRef<'_>, ctx: Ctx<'_>) -> Result<Out, OrgError> {
        // Management account only, as in AWS (delegated administrators are not modelled).
        let org = managed_org(tx.read(), ctx.principal)?;
        if self.filter != "SERVICE_CONTROL_POLICY" {
            return Ok((json!({ "Policies": [] }), Value::Null, Vec::new()));
        }
        let mut list = vec![full_access().0];
        for (_, p) in tables::POLICIES.scan(
            tx.read(),
            &keys::policies(&org.id),
            None,
            Direction::Forward,
            10_000,
        )? {
            list.push(customer_summary(&org, &p));
        }
        Ok((json!({ "Policies": list }), Value::Null, Vec::new()))
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
    fn execute(&self, tx: TxRef<'_>, ctx: Ctx<'_>) -> Result<Out, OrgError> {
        let org = managed_org(tx.read(), ctx.principal)?;
        check_target(tx.read(), &org, &self.target_id)?;
        let mut list = Vec::new();
        for (_, a) in tables::ATTACHMENTS.scan(
            tx.read(),
            &keys::target(&org.id, &self.target_id),
            None,
            Direction::Forward,
            1000,
        )? {
            if let Ok((s, _)) = load_policy(tx.read(), &org, &a.policy_id) {
                list.push(s);
            }
        }
        Ok((json!({ "Policies": list }), Value::Null, Vec::new()))
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
    fn execute(&self, mut tx: TxRef<'_>, ctx: Ctx<'_>) -> Result<Out, OrgError> {
        let org = managed_org(tx.read(), ctx.principal)?;
        let (summary, _) = load_policy(tx.read(), &org, &self.policy_id)?;
        check_target(tx.read(), &org, &self.target_id)?;
        if !org.scp_enabled {
            return Err(OrgError::PolicyTypeNotEnabledException);
        }
        let key = keys::attachment(&org.id, &self.target_id, &self.policy_id);
        let attached = tables::ATTACHMENTS.get(tx.read(), &key)?.is_some();
        let policy_arn = summary["Arn"].as_str().unwrap_or_default().to_owned();
        match (ATTACH, attached) {
            (true, true) => return Err(OrgError::DuplicatePolicyAttachmentException),
            (false, false) => return Err(OrgError::PolicyNotAttachedException),
            (true, false) => {
                let a = Attachment {
                    policy_id: self.policy_id.clone(),
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
                        &keys::target(&org.id, &self.target_id),
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
        Ok((
            json!({}),
            Value::Null,
            vec![("AWS::Organizations::Policy".into(), policy_arn)],
        ))
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
    fn execute(&self, mut tx: TxRef<'_>, ctx: Ctx<'_>) -> Result<Out, OrgError> {
        let mut org = managed_org(tx.read(), ctx.principal)?;
        if self.root_id != org.root_id {
            return Err(OrgError::RootNotFoundException);
        }
        if self.policy_type != "SERVICE_CONTROL_POLICY" {
            return Err(OrgError::InvalidInputException(format!(
                "Ferrogate supports only SERVICE_CONTROL_POLICY, not {}.",
                self.policy_type
            )));
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
        let out = json!({ "Root": root_json(&org) });
        Ok((out.clone(), out, Vec::new()))
    }
}
