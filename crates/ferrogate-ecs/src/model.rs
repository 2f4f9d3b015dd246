//! What the ECS service stores: clusters and task definitions, partitioned by account and
//! region like every other resource.

use ferrogate_store::{Key as StoreKey, Record, Table};
use ferrogate_types::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A tag (`{key, value}` in ECS's JSON).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Tag {
    /// Key, 1–128 characters.
    pub key: String,
    /// Value, 0–256 characters.
    #[serde(default)]
    pub value: String,
}

/// `managedStorageConfiguration`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ManagedStorage {
    /// The Fargate ephemeral storage key, always as a key ARN (checked when set).
    pub fargate_key_arn: Option<String>,
    /// The key for EBS task volumes, stored as given (Ferrogate attaches no EBS volumes).
    pub ebs_kms_key_id: Option<String>,
}

/// A cluster's `configuration`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ClusterConfiguration {
    /// `executeCommandConfiguration`, as given (validated).
    pub execute_command: Option<Value>,
    /// `managedStorageConfiguration`.
    pub managed_storage: Option<ManagedStorage>,
}

/// `ACTIVE` or `INACTIVE` (deleted, still describable).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum ClusterStatus {
    /// In use.
    Active,
    /// Deleted.
    Inactive,
}

impl ClusterStatus {
    /// The API's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ClusterStatus::Active => "ACTIVE",
            ClusterStatus::Inactive => "INACTIVE",
        }
    }
}

/// A cluster.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Cluster {
    /// Owning account.
    pub account: String,
    /// Region.
    pub region: String,
    /// Name.
    pub name: String,
    /// Status.
    pub status: ClusterStatus,
    /// `configuration`.
    pub configuration: ClusterConfiguration,
    /// `settings` (`[{name, value}]`).
    pub settings: Vec<(String, String)>,
    /// `capacityProviders`.
    pub capacity_providers: Vec<String>,
    /// `defaultCapacityProviderStrategy`, as given (validated).
    pub default_strategy: Vec<Value>,
    /// Tags.
    pub tags: Vec<Tag>,
    /// When it was created.
    pub created: Timestamp,
}
impl Record for Cluster {}

impl Cluster {
    /// `arn:aws:ecs:<region>:<account>:cluster/<name>`.
    pub fn arn(&self) -> String {
        cluster_arn(&self.region, &self.account, &self.name)
    }
}

/// A cluster's ARN.
pub fn cluster_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:ecs:{region}:{account}:cluster/{name}")
}

/// A task definition's ARN.
pub fn task_definition_arn(region: &str, account: &str, family: &str, revision: i64) -> String {
    format!("arn:aws:ecs:{region}:{account}:task-definition/{family}:{revision}")
}

/// One revision of a task definition family.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TaskDefinition {
    /// Owning account.
    pub account: String,
    /// Region.
    pub region: String,
    /// Family.
    pub family: String,
    /// Revision (1, 2, …).
    pub revision: i64,
    /// `ACTIVE` or `INACTIVE`.
    pub active: bool,
    /// The definition's members as registered and normalised (`containerDefinitions`,
    /// `cpu`, `memory`, `networkMode`, …), in the API's JSON.
    pub body: Value,
    /// `registeredAt`.
    pub registered_at: Timestamp,
    /// `registeredBy` (the caller's ARN).
    pub registered_by: String,
    /// `deregisteredAt`.
    pub deregistered_at: Option<Timestamp>,
    /// Tags.
    pub tags: Vec<Tag>,
}
impl Record for TaskDefinition {}

impl TaskDefinition {
    /// Its ARN.
    pub fn arn(&self) -> String {
        task_definition_arn(&self.region, &self.account, &self.family, self.revision)
    }
}

/// A family: the latest revision number ever registered (revisions are never reused).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Family {
    /// The highest revision registered.
    pub latest: i64,
}
impl Record for Family {}

/// Tables.
pub mod tables {
    use super::*;
    /// Clusters by (account, region, name).
    pub const CLUSTERS: Table<Cluster> = Table::new("ecs.clusters");
    /// Task definitions by (account, region, family, revision).
    pub const TASK_DEFINITIONS: Table<TaskDefinition> = Table::new("ecs.taskdefs");
    /// Families by (account, region, family).
    pub const FAMILIES: Table<Family> = Table::new("ecs.families");
}

/// Keys.
pub mod keys {
    use super::*;
    /// Everything of a partition.
    pub fn partition(account: &str, region: &str) -> Vec<u8> {
        StoreKey::new().str(account).str(region).into_bytes()
    }
    /// A cluster, or a family.
    pub fn named(account: &str, region: &str, name: &str) -> Vec<u8> {
        StoreKey::new()
            .str(account)
            .str(region)
            .str(name)
            .into_bytes()
    }
    /// A task definition revision.
    pub fn revision(account: &str, region: &str, family: &str, revision: i64) -> Vec<u8> {
        StoreKey::new()
            .str(account)
            .str(region)
            .str(family)
            .i64(revision)
            .into_bytes()
    }
}
