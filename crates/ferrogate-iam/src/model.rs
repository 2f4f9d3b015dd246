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

impl Tag {
    /// `(key, value)` pairs, as condition keys take them.
    pub fn pairs(tags: &[Tag]) -> Vec<(String, String)> {
        tags.iter()
            .map(|t| (t.key.clone(), t.value.clone()))
            .collect()
    }
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

/// An IAM role.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Role {
    /// Name as created.
    pub name: String,
    /// `AROA…`.
    pub role_id: String,
    /// Path.
    pub path: String,
    /// The trust policy, verbatim.
    pub trust_policy: String,
    /// Description.
    pub description: Option<String>,
    /// Longest session in seconds (3600–43200).
    pub max_session_duration: u32,
    /// Creation time.
    pub create_date: Timestamp,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<Tag>,
}
impl Record for Role {}

impl Role {
    /// `arn:aws:iam::<acct>:role<path><name>`.
    pub fn arn(&self, account: &str) -> String {
        format!("arn:aws:iam::{account}:role{}{}", self.path, self.name)
    }
}

/// An IAM group.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Group {
    /// Name as created.
    pub name: String,
    /// `AGPA…`.
    pub group_id: String,
    /// Path.
    pub path: String,
    /// Creation time.
    pub create_date: Timestamp,
}
impl Record for Group {}

impl Group {
    /// `arn:aws:iam::<acct>:group<path><name>`.
    pub fn arn(&self, account: &str) -> String {
        format!("arn:aws:iam::{account}:group{}{}", self.path, self.name)
    }
}

/// A user's membership of a group (stored under both, for listing either way).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Membership {
    /// The user's name.
    pub user_name: String,
    /// The group's name.
    pub group_name: String,
}
impl Record for Membership {}

/// Temporary credentials issued by `sts:AssumeRole`. The secret is sealed (AAD = the
/// access key id); only a SHA-256 of the session token is kept.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Session {
    /// `ASIA…`.
    pub access_key_id: String,
    /// The role's account.
    pub account: String,
    /// The role's name.
    pub role_name: String,
    /// The role's path.
    pub role_path: String,
    /// The role's id.
    pub role_id: String,
    /// `RoleSessionName`.
    pub session_name: String,
    /// The sealed secret, base64.
    pub sealed_secret: String,
    /// Hex SHA-256 of the session token.
    pub token_sha256: String,
    /// Issue time.
    pub created: Timestamp,
    /// Expiry.
    pub expiration: Timestamp,
    /// Session policy (verbatim), if one was passed.
    #[serde(default)]
    pub policy: Option<String>,
}
impl Record for Session {}

/// What kind of identity an inline policy or attachment belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EntityKind {
    /// A user.
    User,
    /// A group.
    Group,
    /// A role.
    Role,
}

impl EntityKind {
    /// `user`, `group`, `role`: the key component, the ARN resource type and the noun of
    /// IAM's messages.
    pub fn noun(self) -> &'static str {
        match self {
            EntityKind::User => "user",
            EntityKind::Group => "group",
            EntityKind::Role => "role",
        }
    }

    /// `User`, `Group`, `Role`: as in action names (`iam:PutUserPolicy`).
    pub fn title(self) -> &'static str {
        match self {
            EntityKind::User => "User",
            EntityKind::Group => "Group",
            EntityKind::Role => "Role",
        }
    }

    /// The request parameter naming the entity.
    pub fn param(self) -> &'static str {
        match self {
            EntityKind::User => "UserName",
            EntityKind::Group => "GroupName",
            EntityKind::Role => "RoleName",
        }
    }

    /// The CloudTrail resource type.
    pub fn resource_type(self) -> &'static str {
        match self {
            EntityKind::User => "AWS::IAM::User",
            EntityKind::Group => "AWS::IAM::Group",
            EntityKind::Role => "AWS::IAM::Role",
        }
    }

    /// IAM's quota on the aggregate size of the entity's inline policies (non-blank characters).
    pub fn inline_quota(self) -> usize {
        match self {
            EntityKind::User => 2048,
            EntityKind::Group => 5120,
            EntityKind::Role => 10240,
        }
    }
}

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
        format!(
            "arn:aws:iam::{}:policy{}{}",
            self.account, self.path, self.name
        )
    }

    /// The default version's document.
    pub fn default_document(&self) -> Option<&str> {
        self.versions
            .iter()
            .find(|v| v.version_id == self.default_version_id)
            .map(|v| v.document.as_str())
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
    /// Inline policies by (account, kind, lowercased entity, lowercased policy name).
    pub const INLINE: Table<InlinePolicy> = Table::new("iam.inline");
    /// Roles by (account, lowercased name).
    pub const ROLES: Table<Role> = Table::new("iam.roles");
    /// Groups by (account, lowercased name).
    pub const GROUPS: Table<Group> = Table::new("iam.groups");
    /// Memberships by (account, lowercased group, lowercased user).
    pub const GROUP_MEMBERS: Table<Membership> = Table::new("iam.group_members");
    /// Memberships by (account, lowercased user, lowercased group).
    pub const USER_GROUPS: Table<Membership> = Table::new("iam.user_groups");
    /// Temporary credentials by access key id.
    pub const SESSIONS: Table<Session> = Table::new("iam.sessions");
    /// Managed policies by (account, lowercased name).
    pub const POLICIES: Table<ManagedPolicy> = Table::new("iam.policies");
    /// Attachments by (account, kind, lowercased entity, policy ARN).
    pub const ATTACHED: Table<Attachment> = Table::new("iam.attached");
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
        Key::new()
            .str(account)
            .str(&name.to_ascii_lowercase())
            .into_bytes()
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
        Key::new()
            .str(account)
            .str(&user.unwrap_or("").to_ascii_lowercase())
            .into_bytes()
    }
    /// One key of a user.
    pub fn user_key(account: &str, user: Option<&str>, id: &str) -> Vec<u8> {
        Key::new()
            .str(account)
            .str(&user.unwrap_or("").to_ascii_lowercase())
            .str(id)
            .into_bytes()
    }
    /// An entity of a kind (users use [`user`]; this serves groups and roles).
    pub fn entity(account: &str, kind: EntityKind, name: &str) -> Vec<u8> {
        match kind {
            EntityKind::User => user(account, name),
            _ => Key::new()
                .str(account)
                .str(&name.to_ascii_lowercase())
                .into_bytes(),
        }
    }
    /// All entities of an account (groups, roles).
    pub fn entities(account: &str) -> Vec<u8> {
        Key::new().str(account).into_bytes()
    }
    /// One inline policy.
    pub fn inline(account: &str, kind: EntityKind, entity: &str, policy: &str) -> Vec<u8> {
        Key::new()
            .str(account)
            .str(kind.noun())
            .str(&entity.to_ascii_lowercase())
            .str(&policy.to_ascii_lowercase())
            .into_bytes()
    }
    /// All inline policies (or all attachments) of an entity.
    pub fn children(account: &str, kind: EntityKind, entity: &str) -> Vec<u8> {
        Key::new()
            .str(account)
            .str(kind.noun())
            .str(&entity.to_ascii_lowercase())
            .into_bytes()
    }
    /// One attachment.
    pub fn attachment(account: &str, kind: EntityKind, entity: &str, arn: &str) -> Vec<u8> {
        Key::new()
            .str(account)
            .str(kind.noun())
            .str(&entity.to_ascii_lowercase())
            .str(arn)
            .into_bytes()
    }
    /// One membership, keyed first by `a` then `b` (group then user, or user then group).
    pub fn membership(account: &str, a: &str, b: &str) -> Vec<u8> {
        Key::new()
            .str(account)
            .str(&a.to_ascii_lowercase())
            .str(&b.to_ascii_lowercase())
            .into_bytes()
    }
    /// All memberships under `a`.
    pub fn memberships(account: &str, a: &str) -> Vec<u8> {
        Key::new()
            .str(account)
            .str(&a.to_ascii_lowercase())
            .into_bytes()
    }
    /// A managed policy.
    pub fn policy(account: &str, name: &str) -> Vec<u8> {
        Key::new()
            .str(account)
            .str(&name.to_ascii_lowercase())
            .into_bytes()
    }
    /// All managed policies of an account.
    pub fn policies(account: &str) -> Vec<u8> {
        Key::new().str(account).into_bytes()
    }
}
