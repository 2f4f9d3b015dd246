//! Stored records of Organizations.

use ferrogate_store::{Key, Record, Table};
use ferrogate_types::Timestamp;
use serde::{Deserialize, Serialize};

/// The id of the AWS managed SCP attached everywhere when SCPs are enabled.
pub const FULL_AWS_ACCESS_ID: &str = "p-FullAWSAccess";
/// Its ARN.
pub const FULL_AWS_ACCESS_ARN: &str =
    "arn:aws:organizations::aws:policy/service_control_policy/p-FullAWSAccess";
/// Its document.
pub const FULL_AWS_ACCESS_DOC: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;

/// An organization.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Organization {
    /// `o-…`.
    pub id: String,
    /// The management account.
    pub management_account_id: String,
    /// Its email.
    pub management_email: String,
    /// `ALL` or `CONSOLIDATED_BILLING`.
    pub feature_set: String,
    /// `r-…`.
    pub root_id: String,
    /// Whether `SERVICE_CONTROL_POLICY` is enabled on the root.
    pub scp_enabled: bool,
    /// Creation time.
    pub created: Timestamp,
}
impl Record for Organization {}

impl Organization {
    /// `arn:aws:organizations::<mgmt>:organization/<id>`.
    pub fn arn(&self) -> String {
        format!(
            "arn:aws:organizations::{}:organization/{}",
            self.management_account_id, self.id
        )
    }
    /// The root's ARN.
    pub fn root_arn(&self) -> String {
        format!(
            "arn:aws:organizations::{}:root/{}/{}",
            self.management_account_id, self.id, self.root_id
        )
    }
    /// A member account's ARN.
    pub fn account_arn(&self, account: &str) -> String {
        format!(
            "arn:aws:organizations::{}:account/{}/{account}",
            self.management_account_id, self.id
        )
    }
    /// A customer policy's ARN.
    pub fn policy_arn(&self, policy_id: &str) -> String {
        format!(
            "arn:aws:organizations::{}:policy/{}/service_control_policy/{policy_id}",
            self.management_account_id, self.id
        )
    }
}

/// An account's membership.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Member {
    /// The account.
    pub account_id: String,
    /// The organization.
    pub org_id: String,
    /// The account's name.
    pub name: String,
    /// The account's email.
    pub email: String,
    /// `CREATED` or `INVITED`.
    pub joined_method: String,
    /// When it joined.
    pub joined: Timestamp,
}
impl Record for Member {}

/// A customer SCP.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OrgPolicy {
    /// `p-…`.
    pub id: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// The document, verbatim.
    pub content: String,
}
impl Record for OrgPolicy {}

/// A policy attached to a target.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Attachment {
    /// The policy.
    pub policy_id: String,
    /// Its ARN.
    pub policy_arn: String,
}
impl Record for Attachment {}

/// The status of a `CreateAccount` request (accounts are created synchronously).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CreateAccountRequest {
    /// `car-…`.
    pub id: String,
    /// The organization.
    pub org_id: String,
    /// Requested name.
    pub account_name: String,
    /// The new account.
    pub account_id: String,
    /// When.
    pub requested: Timestamp,
}
impl Record for CreateAccountRequest {}

/// Tables.
pub mod tables {
    use super::*;
    /// Organizations by id.
    pub const ORGS: Table<Organization> = Table::new("org.orgs");
    /// Memberships by account.
    pub const MEMBERS: Table<Member> = Table::new("org.members");
    /// Customer SCPs by (org, id).
    pub const POLICIES: Table<OrgPolicy> = Table::new("org.policies");
    /// Attachments by (org, target, policy).
    pub const ATTACHMENTS: Table<Attachment> = Table::new("org.attachments");
    /// CreateAccount requests by id.
    pub const CREATE_REQUESTS: Table<CreateAccountRequest> = Table::new("org.create_requests");
}

/// Keys.
pub mod keys {
    use super::*;
    /// An organization.
    pub fn org(id: &str) -> Vec<u8> {
        Key::new().str(id).into_bytes()
    }
    /// A membership.
    pub fn member(account: &str) -> Vec<u8> {
        Key::new().str(account).into_bytes()
    }
    /// A policy.
    pub fn policy(org: &str, id: &str) -> Vec<u8> {
        Key::new().str(org).str(id).into_bytes()
    }
    /// All policies of an org.
    pub fn policies(org: &str) -> Vec<u8> {
        Key::new().str(org).into_bytes()
    }
    /// All attachments of a target.
    pub fn target(org: &str, target: &str) -> Vec<u8> {
        Key::new().str(org).str(target).into_bytes()
    }
    /// One attachment.
    pub fn attachment(org: &str, target: &str, policy: &str) -> Vec<u8> {
        Key::new().str(org).str(target).str(policy).into_bytes()
    }
    /// A create-account request.
    pub fn request(id: &str) -> Vec<u8> {
        Key::new().str(id).into_bytes()
    }
}
