//! IAM's stored records and their tables. Names of users and policies are unique per
//! account without regard to case, as in IAM ("names are not distinguished by case"), so
//! keys hold the lowercased name and records keep the name as created.

use ferrogate_store::{Key, Record, Table};
use ferrogate_types::Timestamp;
use serde::{Deserialize, Serialize};

/// An account.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Account {
    /// The 12-digit id.
    pub id: String,
    /// When it was created.
    pub created: Timestamp,
}
impl Record for Account {}

/// An IAM user.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct User {
    /// Name as created.
    pub name: String,
    /// `AIDA…`.
    pub user_id: String,
    /// `/` or `/a/b/`.
    pub path: String,
    /// Creation time.
    pub create_date: Timestamp,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<Tag>,
}
impl Record for User {}

impl User {
    /// `arn:aws:iam::<acct>:user<path><name>`.
    pub fn arn(&self, account: &str) -> String {
        format!("arn:aws:iam::{account}:user{}{}", self.path, self.name)
    }
}

/// A tag.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Tag {
    /// Key.
    pub key: String,
    /// Value.
    pub value: String,
}

/// `Active` or `Inactive`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum KeyStatus {
    /// Usable.
    Active,
    /// Refused at authentication.
    Inactive,
}

impl KeyStatus {
    /// As AWS spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Active => "Active",
            KeyStatus::Inactive => "Inactive",
        }
    }
}

/// An access key. The secret is sealed under the root key (AAD = the access key id).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AccessKey {
    /// `AKIA…`.
    pub access_key_id: String,
    /// The owning account.
    pub account: String,
    /// The owning user's name; `None` for the account's root user.
    pub user_name: Option<String>,
    /// Active or inactive.
    pub status: KeyStatus,
    /// Creation time.
    pub create_date: Timestamp,
    /// The sealed secret, base64.
    pub sealed_secret: String,
}
impl Record for AccessKey {}

/// An inline policy of a user.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InlinePolicy {
    /// Name as given.
    pub name: String,
    /// The document, verbatim.
    pub document: String,
}
impl Record for InlinePolicy {}

/// One version of a managed policy.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PolicyVersion {
    /// `v1`…
    pub version_id: String,
    /// The document, verbatim.
    pub document: String,
    /// Creation time.
    pub create_date: Timestamp,
}

/// A customer managed policy.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ManagedPolicy {
    /// Name as created.
    pub name: String,
    /// `ANPA…`.
    pub policy_id: String,
    /// Path.
    pub path: String,
    /// The owning account, or `aws` for AWS managed policies.
    pub account: String,
    /// Description.
    pub description: Option<String>,
    /// The default version's id.
    pub default_version_id: String,
    /// All versions.
    pub versions: Vec<PolicyVersion>,
    /// Number of users, groups and roles it is attached to.
    pub attachment_count: u32,
    /// Creation time.
    pub create_date: Timestamp,
    /// Last change.
    pub update_date: Timestamp,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<Tag>,
}
impl Record for ManagedPolicy {}

impl ManagedPolicy {
    /// `arn:aws:iam::<acct>:policy<path><name>`.
    pub fn arn(&self) -> String {
        format!("arn:aws:iam::{}:policy{}{}", self.account, self.path, self.name)
    }

    /// The default version's document.
    pub fn default_document(&self) -> Option<&str> {
        self.versions.iter().find(|v| v.version_id == self.default_version_id).map(|v| v.document.as_str())
    }
}

/// A managed policy attached to a user.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Attachment {
    /// The policy name.
    pub policy_name: String,
    /// The policy ARN.
    pub policy_arn: String,
}
impl Record for Attachment {}

/// Tables.
pub mod tables {
    use super::*;

    /// Accounts by id.
    pub const ACCOUNTS: Table<Account> = Table::new("iam.accounts");
    /// Users by (account, lowercased name).
    pub const USERS: Table<User> = Table::new("iam.users");
    /// Access keys by id.
    pub const KEYS: Table<AccessKey> = Table::new("iam.keys");
    /// (account, lowercased user or `""` for root, key id) → the key id (index).
    pub const USER_KEYS: Table<KeyRef> = Table::new("iam.user_keys");
    /// Inline user policies by (account, lowercased user, lowercased policy name).
    pub const USER_POLICIES: Table<InlinePolicy> = Table::new("iam.user_policies");
    /// Managed policies by (account, lowercased name).
    pub const POLICIES: Table<ManagedPolicy> = Table::new("iam.policies");
    /// User attachments by (account, lowercased user, policy ARN).
    pub const USER_ATTACHED: Table<Attachment> = Table::new("iam.user_attached");
}

/// An index entry naming an access key.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct KeyRef {
    /// The key id.
    pub access_key_id: String,
}
impl Record for KeyRef {}

/// Key helpers.
pub mod keys {
    use super::*;

    /// An account.
    pub fn account(id: &str) -> Vec<u8> {
        Key::new().str(id).into_bytes()
    }
    /// A user.
    pub fn user(account: &str, name: &str) -> Vec<u8> {
        Key::new().str(account).str(&name.to_lowercase()).into_bytes()
    }
    /// All users of an account.
    pub fn users(account: &str) -> Vec<u8> {
        Key::new().str(account).into_bytes()
    }
    /// An access key.
    pub fn key(id: &str) -> Vec<u8> {
        Key::new().str(id).into_bytes()
    }
    /// All keys of a user (`None`: root).
    pub fn user_keys(account: &str, user: Option<&str>) -> Vec<u8> {
        Key::new().str(account).str(&user.unwrap_or("").to_lowercase()).into_bytes()
    }
    /// One key of a user.
    pub fn user_key(account: &str, user: Option<&str>, id: &str) -> Vec<u8> {
        Key::new().str(account).str(&user.unwrap_or("").to_lowercase()).str(id).into_bytes()
    }
    /// One inline policy.
    pub fn user_policy(account: &str, user: &str, policy: &str) -> Vec<u8> {
        Key::new().str(account).str(&user.to_lowercase()).str(&policy.to_lowercase()).into_bytes()
    }
    /// All inline policies of a user (also: all attachments of a user).
    pub fn user_children(account: &str, user: &str) -> Vec<u8> {
        Key::new().str(account).str(&user.to_lowercase()).into_bytes()
    }
    /// A managed policy.
    pub fn policy(account: &str, name: &str) -> Vec<u8> {
        Key::new().str(account).str(&name.to_lowercase()).into_bytes()
    }
    /// All managed policies of an account.
    pub fn policies(account: &str) -> Vec<u8> {
        Key::new().str(account).into_bytes()
    }
    /// One attachment.
    pub fn attachment(account: &str, user: &str, arn: &str) -> Vec<u8> {
        Key::new().str(account).str(&user.to_lowercase()).str(arn).into_bytes()
    }
}
