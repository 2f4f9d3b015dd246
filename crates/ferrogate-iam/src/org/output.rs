//! The typed outputs of the Organizations operations (Organizations API Reference, data
//! types `Organization`, `Account`, `Root`, `Policy`, `PolicySummary`,
//! `CreateAccountStatus`).

use ferrogate_types::Timestamp;
use serde::Serialize;

use super::model::{
    CreateAccountRequest, Member, OrgPolicy, Organization, FULL_AWS_ACCESS_ARN, FULL_AWS_ACCESS_ID,
};

/// `PolicyTypeSummary`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyTypeSummary {
    #[serde(rename = "Type")]
    kind: &'static str,
    status: &'static str,
}

fn scp_types(enabled: bool) -> Vec<PolicyTypeSummary> {
    if enabled {
        vec![PolicyTypeSummary {
            kind: "SERVICE_CONTROL_POLICY",
            status: "ENABLED",
        }]
    } else {
        Vec::new()
    }
}

/// `Organization`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct OrganizationOut {
    id: String,
    arn: String,
    feature_set: String,
    master_account_arn: String,
    master_account_id: String,
    master_account_email: String,
    available_policy_types: Vec<PolicyTypeSummary>,
}

impl OrganizationOut {
    /// The organization as the API shows it.
    pub fn of(org: &Organization) -> Self {
        Self {
            id: org.id.clone(),
            arn: org.arn(),
            feature_set: org.feature_set.clone(),
            master_account_arn: org.account_arn(&org.management_account_id),
            master_account_id: org.management_account_id.clone(),
            master_account_email: org.management_email.clone(),
            available_policy_types: vec![PolicyTypeSummary {
                kind: "SERVICE_CONTROL_POLICY",
                status: if org.scp_enabled {
                    "ENABLED"
                } else {
                    "DISABLED"
                },
            }],
        }
    }
}

/// `{"Organization": …}`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct OrganizationAnswer {
    /// The organization.
    pub organization: OrganizationOut,
}

/// `Account`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccountOut {
    id: String,
    arn: String,
    email: String,
    name: String,
    status: &'static str,
    state: &'static str,
    joined_method: String,
    joined_timestamp: f64,
}

impl AccountOut {
    /// A member account as the API shows it.
    pub fn of(org: &Organization, m: &Member) -> Self {
        Self {
            id: m.account_id.clone(),
            arn: org.account_arn(&m.account_id),
            email: m.email.clone(),
            name: m.name.clone(),
            status: "ACTIVE",
            state: "ACTIVE",
            joined_method: m.joined_method.clone(),
            joined_timestamp: m.joined.epoch_seconds_f64(),
        }
    }
}

/// `Root`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RootOut {
    id: String,
    arn: String,
    name: &'static str,
    policy_types: Vec<PolicyTypeSummary>,
}

impl RootOut {
    /// The organization's root.
    pub fn of(org: &Organization) -> Self {
        Self {
            id: org.root_id.clone(),
            arn: org.root_arn(),
            name: "Root",
            policy_types: scp_types(org.scp_enabled),
        }
    }
}

/// `ListRoots` and `ListAccounts`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListAnswer {
    /// `ListRoots`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roots: Option<Vec<RootOut>>,
    /// `ListAccounts`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accounts: Option<Vec<AccountOut>>,
}

/// `{"Account": …}`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccountAnswer {
    /// The account.
    pub account: AccountOut,
}

/// `{"Root": …}`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RootAnswer {
    /// The root.
    pub root: RootOut,
}

/// `CreateAccountStatus` (accounts are created at once: `SUCCEEDED`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateAccountStatusOut {
    id: String,
    account_name: String,
    state: &'static str,
    account_id: String,
    requested_timestamp: f64,
    completed_timestamp: f64,
}

/// `{"CreateAccountStatus": …}`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateAccountStatusAnswer {
    create_account_status: CreateAccountStatusOut,
}

impl CreateAccountStatusAnswer {
    /// The status of a request.
    pub fn of(r: &CreateAccountRequest) -> Self {
        let at = |t: Timestamp| t.epoch_seconds_f64();
        Self {
            create_account_status: CreateAccountStatusOut {
                id: r.id.clone(),
                account_name: r.account_name.clone(),
                state: "SUCCEEDED",
                account_id: r.account_id.clone(),
                requested_timestamp: at(r.requested),
                completed_timestamp: at(r.requested),
            },
        }
    }
}

/// `PolicySummary`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicySummary {
    id: String,
    /// The policy's ARN.
    pub arn: String,
    name: String,
    description: String,
    #[serde(rename = "Type")]
    kind: &'static str,
    aws_managed: bool,
}

impl PolicySummary {
    /// The AWS managed `FullAWSAccess` policy.
    pub fn full_access() -> Self {
        Self {
            id: FULL_AWS_ACCESS_ID.into(),
            arn: FULL_AWS_ACCESS_ARN.into(),
            name: "FullAWSAccess".into(),
            description: "Allows access to every operation".into(),
            kind: "SERVICE_CONTROL_POLICY",
            aws_managed: true,
        }
    }

    /// A customer managed policy of `org`.
    pub fn customer(org: &Organization, p: &OrgPolicy) -> Self {
        Self {
            id: p.id.clone(),
            arn: org.policy_arn(&p.id),
            name: p.name.clone(),
            description: p.description.clone(),
            kind: "SERVICE_CONTROL_POLICY",
            aws_managed: false,
        }
    }
}

/// `Policy`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyOut {
    /// The summary.
    pub policy_summary: PolicySummary,
    /// The document.
    pub content: String,
}

/// `{"Policy": …}`, or `{}` for `DeletePolicy`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyAnswer {
    /// The policy (absent for `DeletePolicy`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicyOut>,
}

/// `{"Policies": […]}`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PoliciesAnswer {
    /// The summaries.
    pub policies: Vec<PolicySummary>,
}
