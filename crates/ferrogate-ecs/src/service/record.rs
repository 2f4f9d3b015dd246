//! The stored service record: deployments, events, counts.

use ferrogate_store::{Direction, Key as StoreKey, Record, Table};
use ferrogate_types::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::Tag;
use crate::task;
use crate::EcsError;

/// `deploymentConfiguration` as stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DeploymentConfiguration {
    /// `maximumPercent` (default 200).
    pub maximum_percent: i64,
    /// `minimumHealthyPercent` (default 100).
    pub minimum_healthy_percent: i64,
    /// `deploymentCircuitBreaker.enable`.
    pub circuit_breaker: bool,
    /// `deploymentCircuitBreaker.rollback`.
    pub rollback: bool,
}

impl Default for DeploymentConfiguration {
    fn default() -> Self {
        Self {
            maximum_percent: 200,
            minimum_healthy_percent: 100,
            circuit_breaker: false,
            rollback: false,
        }
    }
}

/// One deployment of a service.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Deployment {
    /// `ecs-svc/<19 digits>`.
    pub id: String,
    /// `PRIMARY` or `ACTIVE`.
    pub status: String,
    /// Task definition ARN.
    pub task_definition: String,
    /// `networkConfiguration.awsvpcConfiguration`.
    pub network: Value,
    /// The cluster's Fargate key when the deployment was made.
    pub fargate_key: Option<String>,
    /// Counts, as of the last reconciliation.
    pub running: i64,
    /// Pending tasks.
    pub pending: i64,
    /// Tasks of this deployment that failed (failed to start, or exited).
    pub failed: i64,
    /// `IN_PROGRESS`, `COMPLETED`, `FAILED`.
    pub rollout_state: String,
    /// `rolloutStateReason`.
    pub rollout_reason: String,
    /// `createdAt`.
    pub created_at: Timestamp,
    /// `updatedAt`.
    pub updated_at: Timestamp,
    /// Made by the circuit breaker's rollback (it does not roll back again).
    #[serde(default)]
    pub rollback: bool,
}

/// What a rollback returns to: the last deployment that completed, as it was made (task
/// definition, network, and the cluster's key then: a service revision on AWS carries its
/// `fargateEphemeralStorage` too).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Completed {
    /// Its id.
    pub id: String,
    /// Task definition ARN.
    pub task_definition: String,
    /// `networkConfiguration.awsvpcConfiguration`.
    pub network: Value,
    /// Its Fargate key.
    pub fargate_key: Option<String>,
}

/// A service event.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ServiceEvent {
    /// Id.
    pub id: String,
    /// When.
    pub at: Timestamp,
    /// Message.
    pub message: String,
}

/// A service.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Service {
    /// Account.
    pub account: String,
    /// Region.
    pub region: String,
    /// Cluster name.
    pub cluster: String,
    /// Name.
    pub name: String,
    /// `ACTIVE`, `DRAINING`, `INACTIVE`.
    pub status: String,
    /// `desiredCount`.
    pub desired: i64,
    /// `runningCount` (last reconciliation).
    pub running: i64,
    /// `pendingCount`.
    pub pending: i64,
    /// The current task definition ARN.
    pub task_definition: String,
    /// `networkConfiguration.awsvpcConfiguration`.
    pub network: Value,
    /// `deploymentConfiguration`.
    pub deployment_configuration: DeploymentConfiguration,
    /// Deployments, PRIMARY first.
    pub deployments: Vec<Deployment>,
    /// Events, newest first (at most 100).
    pub events: Vec<ServiceEvent>,
    /// `createdAt`.
    pub created_at: Timestamp,
    /// `createdBy`.
    pub created_by: String,
    /// Tags.
    pub tags: Vec<Tag>,
    /// `propagateTags`.
    pub propagate_tags: String,
    /// `platformVersion` as given (`LATEST` by default).
    pub platform_version: String,
    /// Whether a steady-state event was recorded since the last change.
    pub steady: bool,
    /// The last deployment that completed (what the circuit breaker's rollback returns to).
    #[serde(default)]
    pub last_completed: Option<Completed>,
}
impl Record for Service {}

/// Services by (account, region, cluster, name).
pub const SERVICES: Table<Service> = Table::new("ecs.services");

/// A service's key.
pub fn service_key(account: &str, region: &str, cluster: &str, name: &str) -> Vec<u8> {
    task::task_key(account, region, cluster, name)
}

/// The first `DeploymentConfiguration` failure threshold of the circuit breaker:
/// clamp(ceil(0.5 × desired), 3, 200).
pub fn failure_threshold(desired: i64) -> i64 {
    ((desired + 1) / 2).clamp(3, 200)
}

impl Service {
    /// `arn:aws:ecs:<region>:<account>:service/<cluster>/<name>`.
    pub fn arn(&self) -> String {
        format!(
            "arn:aws:ecs:{}:{}:service/{}/{}",
            self.region, self.account, self.cluster, self.name
        )
    }

    /// Records an event (newest first, at most 100 kept).
    pub fn event(&mut self, at: Timestamp, message: String) -> Result<(), EcsError> {
        let id = crate::ids::event_id()?;
        self.events.insert(0, ServiceEvent { id, at, message });
        self.events.truncate(100);
        Ok(())
    }

    /// A new PRIMARY deployment (the others become ACTIVE).
    pub fn deploy(&mut self, id: String, fargate_key: Option<String>, now: Timestamp) {
        for d in &mut self.deployments {
            d.status = "ACTIVE".into();
        }
        let reason = format!("ECS deployment {id} in progress.");
        self.deployments.insert(
            0,
            Deployment {
                id,
                status: "PRIMARY".into(),
                task_definition: self.task_definition.clone(),
                network: self.network.clone(),
                fargate_key,
                running: 0,
                pending: 0,
                failed: 0,
                rollout_state: "IN_PROGRESS".into(),
                rollout_reason: reason,
                created_at: now,
                updated_at: now,
                rollback: false,
            },
        );
        self.steady = false;
    }
}

/// The `stoppedReason` of a service task stopped because its health checks failed (AWS's).
pub const UNHEALTHY_REASON: &str = "Task failed container health checks";

/// Every service of a cluster.
pub fn cluster_services(
    tx: &dyn ferrogate_store::ReadTx,
    account: &str,
    region: &str,
    cluster: &str,
) -> Result<Vec<Service>, EcsError> {
    let prefix = StoreKey::new()
        .str(account)
        .str(region)
        .str(cluster)
        .into_bytes();
    Ok(SERVICES
        .scan(tx, &prefix, None, Direction::Forward, 100_000)?
        .into_iter()
        .map(|(_, s)| s)
        .collect())
}
