//! The organization and its accounts: CreateOrganization, DescribeOrganization, ListRoots,
//! CreateAccount, DescribeCreateAccountStatus, DescribeAccount, ListAccounts.

use ferrogate_api::{
    Authorization, Authorized, Check, Done, Exec, Operation, Reply, RequestTags, Scope,
};
use ferrogate_store::{Direction, ReadTx, WriteTx};
use ferrogate_types::Timestamp;
use serde::Deserialize;

use super::common::{
    attach_full_access, caller_org, managed_org, on_organization, org_of, random_lower, recorded,
    target_resource, Organizations,
};
use super::model::{keys, tables, CreateAccountRequest, Member, Organization};
use super::output::{
    AccountAnswer, AccountOut, CreateAccountStatusAnswer, ListAnswer, OrganizationAnswer,
    OrganizationOut, RootOut,
};
use super::OrgError;
use crate::model::{self as iam, EntityKind};

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

pub(super) fn accounts(tx: &dyn ReadTx, org: &Organization) -> Result<Vec<AccountOut>, OrgError> {
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
            id: format!("o-{}", random_lower(10)?),
            management_account_id: account.to_owned(),
            management_email: format!("management@{account}.example.com"),
            feature_set,
            root_id: format!("r-{}", random_lower(4)?),
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
            id: format!("car-{}", random_lower(32)?),
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

/// A fresh 12-digit account id, not yet used.
pub(super) fn new_account_id(tx: &dyn ReadTx) -> Result<String, OrgError> {
    for _ in 0..100 {
        let mut b = [0u8; 12];
        aws_lc_rs::rand::fill(&mut b).map_err(|_| OrgError::RandomnessUnavailable)?;
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
pub(super) fn create_access_role(
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
        role_id: crate::ids::unique_id("AROA").ok_or(OrgError::RandomnessUnavailable)?,
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
