//! Clusters, task definitions, tasks and services as the API shows them (ECS API Reference,
//! data types `Cluster`, `TaskDefinition`, `Task`, `Container`, `Service`, `Deployment`),
//! and the typed answers of the operations.

use ferrogate_types::Timestamp;
use serde::Serialize;
use serde_json::Value;

use crate::model::{cluster_arn, Cluster, Tag, TaskDefinition};
use crate::service::Service;
use crate::task::Task;

fn secs(t: Timestamp) -> f64 {
    t.epoch_seconds_f64()
}

/// `{name, value}` (`KeyValuePair`, `Attribute`, `ClusterSetting`, `ClusterStatistics`).
#[derive(Debug, Clone, Serialize)]
pub struct NameValue {
    name: String,
    value: String,
}

impl NameValue {
    fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// Which optional parts of a cluster an answer shows.
#[derive(Debug, Clone, Copy, Default)]
pub struct Include {
    /// `configuration`.
    pub configurations: bool,
    /// `settings`.
    pub settings: bool,
    /// `statistics`.
    pub statistics: bool,
    /// `tags`.
    pub tags: bool,
    /// `attachments`.
    pub attachments: bool,
    /// `statistics: []` (the write operations' answers).
    pub empty_statistics: bool,
}

impl Include {
    /// What CreateCluster, UpdateCluster and DeleteCluster answer with (AWS's examples:
    /// `configuration`, `settings`, `tags`, and an empty `statistics`).
    pub const ALL: Include = Include {
        configurations: true,
        settings: true,
        statistics: false,
        tags: true,
        attachments: false,
        empty_statistics: true,
    };
}

/// `managedStorageConfiguration`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ManagedStorageView {
    #[serde(skip_serializing_if = "Option::is_none")]
    kms_key_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fargate_ephemeral_storage_kms_key_id: Option<String>,
}

/// `ClusterConfiguration`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigurationView {
    #[serde(skip_serializing_if = "Option::is_none")]
    execute_command_configuration: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    managed_storage_configuration: Option<ManagedStorageView>,
}

/// `Cluster`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterView {
    cluster_arn: String,
    cluster_name: String,
    status: &'static str,
    registered_container_instances_count: u32,
    running_tasks_count: usize,
    pending_tasks_count: usize,
    active_services_count: usize,
    capacity_providers: Vec<String>,
    default_capacity_provider_strategy: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    configuration: Option<ConfigurationView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    settings: Option<Vec<NameValue>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    statistics: Option<Vec<NameValue>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tags: Option<Vec<Tag>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    attachments: Option<Vec<Value>>,
}

impl ClusterView {
    /// `cl` with the parts `inc` asks for and its (running, pending, services) counts.
    pub fn of(
        cl: &Cluster,
        inc: Include,
        (running, pending, services): (usize, usize, usize),
    ) -> Self {
        let conf = &cl.configuration;
        let configuration = inc
            .configurations
            .then(|| ConfigurationView {
                execute_command_configuration: conf.execute_command.clone(),
                managed_storage_configuration: conf.managed_storage.as_ref().map(|m| {
                    ManagedStorageView {
                        kms_key_id: m.ebs_kms_key_id.clone(),
                        fargate_ephemeral_storage_kms_key_id: m.fargate_key_arn.clone(),
                    }
                }),
            })
            .filter(|c| {
                c.execute_command_configuration.is_some()
                    || c.managed_storage_configuration.is_some()
            });
        let statistics = if inc.statistics {
            Some(vec![
                NameValue::new("runningFargateTasksCount", running.to_string()),
                NameValue::new("pendingFargateTasksCount", pending.to_string()),
            ])
        } else {
            inc.empty_statistics.then(Vec::new)
        };
        Self {
            cluster_arn: cl.arn(),
            cluster_name: cl.name.clone(),
            status: cl.status.as_str(),
            registered_container_instances_count: 0,
            running_tasks_count: running,
            pending_tasks_count: pending,
            active_services_count: services,
            capacity_providers: cl.capacity_providers.clone(),
            default_capacity_provider_strategy: cl.default_strategy.clone(),
            configuration,
            settings: inc.settings.then(|| {
                cl.settings
                    .iter()
                    .map(|(n, v)| NameValue::new(n, v))
                    .collect()
            }),
            statistics,
            tags: inc.tags.then(|| cl.tags.clone()),
            attachments: inc.attachments.then(Vec::new),
        }
    }
}

/// `TaskDefinition`: the definition as registered (normalised), with its registration facts.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskDefinitionView {
    #[serde(flatten)]
    definition: Value,
    task_definition_arn: String,
    revision: i64,
    status: &'static str,
    registered_at: f64,
    registered_by: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    deregistered_at: Option<f64>,
}

impl TaskDefinitionView {
    /// `td` as the API shows it.
    pub fn of(td: &TaskDefinition) -> Self {
        Self {
            definition: td.body.clone(),
            task_definition_arn: td.arn(),
            revision: td.revision,
            status: if td.active { "ACTIVE" } else { "INACTIVE" },
            registered_at: secs(td.registered_at),
            registered_by: td.registered_by.clone(),
            deregistered_at: td.deregistered_at.map(secs),
        }
    }
}

/// `Failure`.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    arn: String,
    reason: &'static str,
}

impl Failure {
    /// A resource that is not there.
    pub fn missing(arn: String) -> Self {
        Self {
            arn,
            reason: "MISSING",
        }
    }
}

/// `Container` of a task.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerView {
    container_arn: String,
    task_arn: String,
    name: String,
    image: String,
    last_status: String,
    network_interfaces: Vec<NetworkInterfaceView>,
    network_bindings: [(); 0],
    health_status: String,
    cpu: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    memory: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exit_code: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    runtime_id: Option<String>,
}

/// `NetworkInterface` of a container: the task's interface.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkInterfaceView {
    attachment_id: String,
    private_ipv4_address: String,
}

/// `Attachment` (the task's elastic network interface).
#[derive(Debug, Clone, Serialize)]
pub struct AttachmentView {
    id: String,
    #[serde(rename = "type")]
    kind: &'static str,
    status: &'static str,
    details: Vec<NameValue>,
}

/// `ephemeralStorage` / `fargateEphemeralStorage`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StorageView {
    #[serde(rename = "sizeInGiB")]
    size_in_gib: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    kms_key_id: Option<String>,
}

/// `Task`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskView {
    attachments: Vec<AttachmentView>,
    attributes: Vec<NameValue>,
    availability_zone: String,
    cluster_arn: String,
    containers: Vec<ContainerView>,
    cpu: String,
    memory: String,
    created_at: f64,
    desired_status: String,
    last_status: String,
    enable_execute_command: bool,
    group: String,
    health_status: &'static str,
    launch_type: &'static str,
    platform_version: &'static str,
    platform_family: &'static str,
    overrides: Value,
    task_arn: String,
    task_definition_arn: String,
    version: i64,
    ephemeral_storage: StorageView,
    fargate_ephemeral_storage: StorageView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pull_started_at: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pull_stopped_at: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    started_at: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    connectivity_at: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    connectivity: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stopping_at: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    execution_stopped_at: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stopped_at: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stopped_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    started_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tags: Option<Vec<Tag>>,
}

impl TaskView {
    /// `t` as the API shows it (with its tags when `with_tags`).
    pub fn of(t: &Task, with_tags: bool) -> Self {
        let arn = t.arn();
        let containers = t
            .containers
            .iter()
            .map(|c| ContainerView {
                container_arn: format!(
                    "arn:aws:ecs:{}:{}:container/{}/{}/{}",
                    t.region, t.account, t.cluster, t.id, c.name
                ),
                task_arn: arn.clone(),
                name: c.name.clone(),
                image: c.image.clone(),
                last_status: c.last_status.clone(),
                network_interfaces: t
                    .eni
                    .iter()
                    .map(|e| NetworkInterfaceView {
                        attachment_id: crate::network::attachment_id(&t.id),
                        private_ipv4_address: e.address.to_string(),
                    })
                    .collect(),
                network_bindings: [],
                health_status: c.health().to_owned(),
                cpu: c.cpu.to_string(),
                memory: c.memory.map(|m| m.to_string()),
                exit_code: c.exit_code,
                reason: c.reason.clone(),
                runtime_id: c.runtime_id.clone(),
            })
            .collect();
        let started = t.started_at.map(secs);
        Self {
            attachments: vec![attachment(t)],
            attributes: vec![NameValue::new("ecs.cpu-architecture", "x86_64")],
            availability_zone: t
                .eni
                .as_ref()
                .map_or_else(|| format!("{}a", t.region), |e| e.az.clone()),
            cluster_arn: cluster_arn(&t.region, &t.account, &t.cluster),
            containers,
            cpu: t.cpu.clone(),
            memory: t.memory.clone(),
            created_at: secs(t.created_at),
            desired_status: t.desired.clone(),
            last_status: t.last.clone(),
            enable_execute_command: false,
            group: t.group.clone(),
            health_status: t.health(),
            launch_type: "FARGATE",
            platform_version: "1.4.0",
            platform_family: "Linux",
            overrides: overrides(&t.overrides),
            task_arn: arn,
            task_definition_arn: t.task_definition_arn.clone(),
            version: t.version,
            ephemeral_storage: StorageView {
                size_in_gib: t.ephemeral_gib,
                kms_key_id: None,
            },
            fargate_ephemeral_storage: StorageView {
                size_in_gib: t.ephemeral_gib,
                kms_key_id: t.kms_key_arn.clone(),
            },
            pull_started_at: t.pull_started_at.map(secs),
            pull_stopped_at: t.pull_stopped_at.map(secs),
            started_at: started,
            connectivity_at: started,
            connectivity: started.map(|_| {
                if t.is_stopped() {
                    "DISCONNECTED"
                } else {
                    "CONNECTED"
                }
            }),
            stopping_at: t.stopping_at.map(secs),
            execution_stopped_at: t.execution_stopped_at.map(secs),
            stopped_at: t.stopped_at.map(secs),
            stop_code: t.stop_code.clone(),
            stopped_reason: t.stopped_reason.clone(),
            started_by: t.started_by.clone(),
            tags: with_tags.then(|| t.tags.clone()),
        }
    }
}

/// The task's network interface, as the attachment AWS reports for awsvpc tasks: its
/// subnet from the start (PRECREATED), the rest once the interface exists.
fn attachment(t: &Task) -> AttachmentView {
    let status = crate::network::AttachmentStatus::of(&t.last, t.eni.is_some());
    let mut details = Vec::new();
    match &t.eni {
        Some(e) => {
            details.push(NameValue::new("subnetId", e.subnet_id.clone()));
            details.push(NameValue::new("networkInterfaceId", e.interface_id.clone()));
            details.push(NameValue::new("macAddress", e.mac.clone()));
            details.push(NameValue::new(
                "privateDnsName",
                e.private_dns_name(&t.region),
            ));
            details.push(NameValue::new("privateIPv4Address", e.address.to_string()));
        }
        None => {
            if let Some(subnet) = t.network["subnets"].get(0).and_then(Value::as_str) {
                details.push(NameValue::new("subnetId", subnet));
            }
        }
    }
    AttachmentView {
        id: crate::network::attachment_id(&t.id),
        kind: "ElasticNetworkInterface",
        status: status.as_str(),
        details,
    }
}

/// `overrides` as given, with the two lists AWS always shows.
fn overrides(given: &Value) -> Value {
    let mut o = match given {
        Value::Object(m) => m.clone(),
        _ => serde_json::Map::new(),
    };
    for list in ["containerOverrides", "inferenceAcceleratorOverrides"] {
        o.entry(list).or_insert_with(|| Value::Array(Vec::new()));
    }
    Value::Object(o)
}

/// `DeploymentCircuitBreaker`.
#[derive(Debug, Clone, Serialize)]
pub struct CircuitBreakerView {
    enable: bool,
    rollback: bool,
}

/// `DeploymentConfiguration`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentConfigurationView {
    deployment_circuit_breaker: CircuitBreakerView,
    maximum_percent: i64,
    minimum_healthy_percent: i64,
}

/// `NetworkConfiguration`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkView {
    awsvpc_configuration: Value,
}

/// `Deployment`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentView {
    id: String,
    status: String,
    task_definition: String,
    desired_count: i64,
    pending_count: i64,
    running_count: i64,
    failed_tasks: i64,
    created_at: f64,
    updated_at: f64,
    launch_type: &'static str,
    platform_version: &'static str,
    platform_family: &'static str,
    network_configuration: NetworkView,
    rollout_state: String,
    rollout_state_reason: String,
    fargate_ephemeral_storage: FargateKeyView,
}

/// A deployment's `fargateEphemeralStorage` (the key it was made with).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FargateKeyView {
    #[serde(skip_serializing_if = "Option::is_none")]
    kms_key_id: Option<String>,
}

/// `ServiceEvent`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceEventView {
    id: String,
    created_at: f64,
    message: String,
}

/// `DeploymentController`.
#[derive(Debug, Clone, Serialize)]
pub struct ControllerView {
    #[serde(rename = "type")]
    kind: &'static str,
}

/// `Service`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceView {
    service_arn: String,
    service_name: String,
    cluster_arn: String,
    load_balancers: [(); 0],
    service_registries: [(); 0],
    status: String,
    desired_count: i64,
    running_count: i64,
    pending_count: i64,
    launch_type: &'static str,
    platform_version: String,
    platform_family: &'static str,
    task_definition: String,
    deployment_configuration: DeploymentConfigurationView,
    deployments: Vec<DeploymentView>,
    events: Vec<ServiceEventView>,
    created_at: f64,
    created_by: String,
    placement_constraints: [(); 0],
    placement_strategy: [(); 0],
    network_configuration: NetworkView,
    scheduling_strategy: &'static str,
    deployment_controller: ControllerView,
    #[serde(rename = "enableECSManagedTags")]
    enable_ecs_managed_tags: bool,
    propagate_tags: String,
    enable_execute_command: bool,
    availability_zone_rebalancing: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    tags: Option<Vec<Tag>>,
}

impl ServiceView {
    /// `s` as the API shows it (with its tags when `with_tags`).
    pub fn of(s: &Service, with_tags: bool) -> Self {
        let c = &s.deployment_configuration;
        let deployments = s
            .deployments
            .iter()
            .map(|d| DeploymentView {
                id: d.id.clone(),
                status: d.status.clone(),
                task_definition: d.task_definition.clone(),
                desired_count: if d.status == "PRIMARY" { s.desired } else { 0 },
                pending_count: d.pending,
                running_count: d.running,
                failed_tasks: d.failed,
                created_at: secs(d.created_at),
                updated_at: secs(d.updated_at),
                launch_type: "FARGATE",
                platform_version: "1.4.0",
                platform_family: "Linux",
                network_configuration: NetworkView {
                    awsvpc_configuration: d.network.clone(),
                },
                rollout_state: d.rollout_state.clone(),
                rollout_state_reason: d.rollout_reason.clone(),
                fargate_ephemeral_storage: FargateKeyView {
                    kms_key_id: d.fargate_key.clone(),
                },
            })
            .collect();
        Self {
            service_arn: s.arn(),
            service_name: s.name.clone(),
            cluster_arn: cluster_arn(&s.region, &s.account, &s.cluster),
            load_balancers: [],
            service_registries: [],
            status: s.status.clone(),
            desired_count: s.desired,
            running_count: s.running,
            pending_count: s.pending,
            launch_type: "FARGATE",
            platform_version: s.platform_version.clone(),
            platform_family: "Linux",
            task_definition: s.task_definition.clone(),
            deployment_configuration: DeploymentConfigurationView {
                deployment_circuit_breaker: CircuitBreakerView {
                    enable: c.circuit_breaker,
                    rollback: c.rollback,
                },
                maximum_percent: c.maximum_percent,
                minimum_healthy_percent: c.minimum_healthy_percent,
            },
            deployments,
            events: s
                .events
                .iter()
                .map(|e| ServiceEventView {
                    id: e.id.clone(),
                    created_at: secs(e.at),
                    message: e.message.clone(),
                })
                .collect(),
            created_at: secs(s.created_at),
            created_by: s.created_by.clone(),
            placement_constraints: [],
            placement_strategy: [],
            network_configuration: NetworkView {
                awsvpc_configuration: s.network.clone(),
            },
            scheduling_strategy: "REPLICA",
            deployment_controller: ControllerView { kind: "ECS" },
            enable_ecs_managed_tags: false,
            propagate_tags: s.propagate_tags.clone(),
            enable_execute_command: false,
            availability_zone_rebalancing: "DISABLED",
            tags: with_tags.then(|| s.tags.clone()),
        }
    }
}

/// `{"cluster": …}`.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterAnswer {
    /// The cluster.
    pub cluster: ClusterView,
}

/// `{"clusters": […], "failures": […]}`.
#[derive(Debug, Clone, Serialize)]
pub struct ClustersAnswer {
    /// The clusters found.
    pub clusters: Vec<ClusterView>,
    /// The ones that were not.
    pub failures: Vec<Failure>,
}

/// `{"taskDefinition": …, "tags"?: […]}`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskDefinitionAnswer {
    /// The definition.
    pub task_definition: TaskDefinitionView,
    /// Its tags (RegisterTaskDefinition, and DescribeTaskDefinition with `include: TAGS`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<Tag>>,
}

/// `{"task": …}`.
#[derive(Debug, Clone, Serialize)]
pub struct TaskAnswer {
    /// The task.
    pub task: TaskView,
}

/// `{"tasks": […], "failures": […]}`.
#[derive(Debug, Clone, Serialize)]
pub struct TasksAnswer {
    /// The tasks.
    pub tasks: Vec<TaskView>,
    /// The ones that were not found.
    pub failures: Vec<Failure>,
}

/// `{"service": …}`.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceAnswer {
    /// The service.
    pub service: ServiceView,
}

/// `{"services": […], "failures": […]}`.
#[derive(Debug, Clone, Serialize)]
pub struct ServicesAnswer {
    /// The services.
    pub services: Vec<ServiceView>,
    /// The ones that were not found.
    pub failures: Vec<Failure>,
}

/// A page of ARNs or names under `member`, with `nextToken`.
#[derive(Debug, Clone, Serialize)]
pub struct Listing {
    #[serde(flatten)]
    items: ListingItems,
    #[serde(rename = "nextToken", skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

/// The list member of a [`Listing`], named as each listing names it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ListingItems {
    /// `ListClusters`.
    ClusterArns(Vec<String>),
    /// `ListServices`.
    ServiceArns(Vec<String>),
    /// `ListTasks`.
    TaskArns(Vec<String>),
    /// `ListTaskDefinitions`.
    TaskDefinitionArns(Vec<String>),
    /// `ListTaskDefinitionFamilies`.
    Families(Vec<String>),
}

impl Listing {
    /// A page and the token of the next one.
    pub fn new(items: ListingItems, next_token: Option<String>) -> Self {
        Self { items, next_token }
    }
}

/// `{"tags": […]}`.
#[derive(Debug, Clone, Serialize)]
pub struct TagsAnswer {
    /// The tags.
    pub tags: Vec<Tag>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::Update;
    use ferrogate_types::Timestamp;
    use serde_json::json;

    #[test]
    fn a_task_shows_its_exit_codes_storage_and_arn() {
        let mut t = crate::task::tests::task();
        let at = Timestamp::from_millis(5_000);
        t.apply(
            &Update::ContainerStopped {
                name: "app".into(),
                exit_code: Some(143),
                reason: None,
            },
            at,
        );
        let v = serde_json::to_value(TaskView::of(&t, false)).unwrap();
        assert_eq!(v["containers"][0]["exitCode"], 143);
        assert_eq!(
            v["fargateEphemeralStorage"]["kmsKeyId"],
            "arn:aws:kms:us-east-1:111122223333:key/k"
        );
        assert_eq!(v["ephemeralStorage"]["sizeInGiB"], 20);
        assert_eq!(
            v["taskArn"],
            "arn:aws:ecs:us-east-1:111122223333:task/prod/0123456789abcdef0123456789abcdef"
        );
    }

    #[test]
    fn without_a_customer_key_no_kms_key_id_is_shown() {
        let mut t = crate::task::tests::task();
        t.kms_key_arn = None;
        let v = serde_json::to_value(TaskView::of(&t, false)).unwrap();
        assert_eq!(v["fargateEphemeralStorage"], json!({"sizeInGiB": 20}));
    }
}
