//! Tasks as ECS shows them: the stored record, its JSON, and how what the host runtime
//! reports changes it. The runtime itself is driven by the server (which owns the agent);
//! this module knows nothing of it beyond [`Update`].

use ferrogate_store::{Direction, Key as StoreKey, ReadTx, Record, Table, TxRef};
use ferrogate_types::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::{Cluster, Tag};
use crate::taskdef::KeyValue;

/// One container of a task: what to run (the task definition's container after overrides)
/// and how it is doing.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TaskContainer {
    /// `name`.
    pub name: String,
    /// `image`.
    pub image: String,
    /// `essential`.
    pub essential: bool,
    /// `entryPoint`.
    pub entry_point: Option<Vec<String>>,
    /// `command` (after overrides).
    pub command: Option<Vec<String>>,
    /// `environment` (after overrides).
    pub environment: Vec<(String, String)>,
    /// `workingDirectory`.
    pub working_directory: Option<String>,
    /// `user`.
    pub user: Option<String>,
    /// `stopTimeout` seconds.
    pub stop_timeout: Option<u32>,
    /// Hard `memory` limit, MiB.
    pub memory: Option<u32>,
    /// `cpu` units.
    pub cpu: u32,
    /// `lastStatus`: PENDING, RUNNING, STOPPED.
    pub last_status: String,
    /// `exitCode`.
    pub exit_code: Option<i32>,
    /// `reason`.
    pub reason: Option<String>,
    /// `runtimeId` (pid in the task).
    pub runtime_id: Option<String>,
    /// Task volumes bound into the container (`mountPoints`, then `volumesFrom`).
    #[serde(default)]
    pub mounts: Vec<crate::mounts::Mount>,
    /// `readonlyRootFilesystem`.
    #[serde(default)]
    pub readonly_root_filesystem: bool,
    /// `healthCheck`, as run.
    #[serde(default)]
    pub health_check: Option<crate::health::HealthCheck>,
    /// `healthStatus` as the checks last said (`HEALTHY`, `UNHEALTHY`), if they did.
    #[serde(default)]
    pub health_status: Option<String>,
    /// Its `awslogs` log configuration: where its output goes (none: nowhere).
    #[serde(default)]
    pub log: Option<crate::logconfig::AwsLogs>,
}

/// A task.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Task {
    /// Owning account.
    pub account: String,
    /// Region.
    pub region: String,
    /// Cluster name.
    pub cluster: String,
    /// The 32-hex task id.
    pub id: String,
    /// `taskDefinitionArn`.
    pub task_definition_arn: String,
    /// Task `cpu` units.
    pub cpu: String,
    /// Task `memory` MiB.
    pub memory: String,
    /// Containers.
    pub containers: Vec<TaskContainer>,
    /// Task-level bind volumes, kept on the task's encrypted storage.
    #[serde(default)]
    pub volumes: Vec<String>,
    /// `ephemeralStorage.sizeInGiB` (20 when neither the definition nor the overrides set it).
    pub ephemeral_gib: u32,
    /// The customer managed key the task's storage is encrypted under (the cluster's key when
    /// the task was launched), or `None` for the service-owned key.
    pub kms_key_arn: Option<String>,
    /// The ephemeral volume's id (`vol-…`, the `aws:ebs:id` encryption context value).
    pub volume_id: String,
    /// `desiredStatus`.
    pub desired: String,
    /// `lastStatus`.
    pub last: String,
    /// `version`.
    pub version: i64,
    /// `createdAt`.
    pub created_at: Timestamp,
    /// `pullStartedAt`.
    pub pull_started_at: Option<Timestamp>,
    /// `pullStoppedAt`.
    pub pull_stopped_at: Option<Timestamp>,
    /// `startedAt`.
    pub started_at: Option<Timestamp>,
    /// `stoppingAt`.
    pub stopping_at: Option<Timestamp>,
    /// `executionStoppedAt`.
    pub execution_stopped_at: Option<Timestamp>,
    /// `stoppedAt`.
    pub stopped_at: Option<Timestamp>,
    /// `stopCode`.
    pub stop_code: Option<String>,
    /// `stoppedReason`.
    pub stopped_reason: Option<String>,
    /// `startedBy`.
    pub started_by: Option<String>,
    /// `group`.
    pub group: String,
    /// `overrides` as given.
    pub overrides: Value,
    /// `networkConfiguration.awsvpcConfiguration` as given.
    pub network: Value,
    /// Tags.
    pub tags: Vec<Tag>,
    /// Handed to the host runtime (its encrypted volume exists or is being made).
    pub launched: bool,
    /// The grant that lets Fargate decrypt it, retired at teardown.
    pub grant_id: Option<String>,
    /// Whether the grant was retired.
    pub grant_retired: bool,
    /// Its elastic network interface, once made at launch (kept, marked deleted, after
    /// the task stopped: DescribeTasks still shows its address).
    #[serde(default)]
    pub eni: Option<crate::network::TaskEni>,
    /// `executionRoleArn` of its task definition: the role the launcher assumes for the
    /// awslogs driver.
    #[serde(default)]
    pub execution_role_arn: Option<String>,
}
impl Record for Task {}

/// Where a task is, from any index.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TaskRef {
    /// Account.
    pub account: String,
    /// Region.
    pub region: String,
    /// Cluster name.
    pub cluster: String,
    /// Task id.
    pub id: String,
}
impl Record for TaskRef {}

impl TaskRef {
    /// The task's key.
    pub fn key(&self) -> Vec<u8> {
        task_key(&self.account, &self.region, &self.cluster, &self.id)
    }
}

/// What a `clientToken` started.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ClientToken {
    /// The request, canonically (a token reused for another request is refused).
    pub request: String,
    /// The tasks it started.
    pub task_ids: Vec<String>,
    /// When.
    pub at: Timestamp,
}
impl Record for ClientToken {}

/// Tables.
pub mod tables {
    use super::*;
    /// Tasks by (account, region, cluster, id).
    pub const TASKS: Table<Task> = Table::new("ecs.tasks");
    /// Tasks that are not STOPPED, by id (recovery, runtime events).
    pub const LIVE: Table<TaskRef> = Table::new("ecs.live");
    /// Tasks the launcher must act on (launch, stop), by id.
    pub const WORK: Table<TaskRef> = Table::new("ecs.work");
    /// `clientToken`s by (account, region, cluster, token).
    pub const CLIENT_TOKENS: Table<ClientToken> = Table::new("ecs.tokens");
}

/// A task's key.
pub fn task_key(account: &str, region: &str, cluster: &str, id: &str) -> Vec<u8> {
    StoreKey::new()
        .str(account)
        .str(region)
        .str(cluster)
        .str(id)
        .into_bytes()
}

/// Every task of a cluster.
pub fn cluster_prefix(account: &str, region: &str, cluster: &str) -> Vec<u8> {
    StoreKey::new()
        .str(account)
        .str(region)
        .str(cluster)
        .into_bytes()
}

/// An id-keyed index entry.
pub fn id_key(id: &str) -> Vec<u8> {
    StoreKey::new().str(id).into_bytes()
}

impl Task {
    /// `arn:aws:ecs:<region>:<account>:task/<cluster>/<id>`.
    pub fn arn(&self) -> String {
        format!(
            "arn:aws:ecs:{}:{}:task/{}/{}",
            self.region, self.account, self.cluster, self.id
        )
    }

    /// Its index entry.
    pub fn task_ref(&self) -> TaskRef {
        TaskRef {
            account: self.account.clone(),
            region: self.region.clone(),
            cluster: self.cluster.clone(),
            id: self.id.clone(),
        }
    }

    /// The encryption context of its data key and grant.
    pub fn encryption_context(&self) -> Vec<(String, String)> {
        vec![
            ("aws:ecs:clusterAccount".into(), self.account.clone()),
            ("aws:ecs:clusterName".into(), self.cluster.clone()),
            ("aws:ebs:id".into(), self.volume_id.clone()),
        ]
    }

    /// The task's `healthStatus` (see [`crate::health::task_status`]).
    pub fn health(&self) -> &'static str {
        // A container's own status is UNKNOWN once it is not running, so a stopped task's is
        // too, as its containers say.
        crate::health::task_status(
            self.containers
                .iter()
                .map(|c| (c.essential, c.health_check.is_some(), Some(c.health()))),
        )
    }

    /// Whether an essential container has health checks (the task's health is then what
    /// they say, not just RUNNING).
    pub fn has_health_checks(&self) -> bool {
        self.containers
            .iter()
            .any(|c| c.essential && c.health_check.is_some())
    }

    /// True once STOPPED.
    pub fn is_stopped(&self) -> bool {
        self.last == "STOPPED"
    }

    /// Applies what the runtime reported at `at`. Returns true when the task changed.
    pub fn apply(&mut self, update: &Update, at: Timestamp) -> bool {
        if self.is_stopped() {
            return false;
        }
        match update {
            Update::Status(s) => {
                if self.last == *s {
                    return false;
                }
                match s.as_str() {
                    "PENDING" => {
                        self.pull_started_at.get_or_insert(at);
                    }
                    "RUNNING" => {
                        self.pull_stopped_at.get_or_insert(at);
                        self.started_at.get_or_insert(at);
                    }
                    "STOPPING" => {
                        self.stopping_at.get_or_insert(at);
                        self.desired = "STOPPED".into();
                    }
                    "DEPROVISIONING" => {
                        self.execution_stopped_at.get_or_insert(at);
                    }
                    _ => {}
                }
                self.last.clone_from(s);
            }
            Update::ContainerStarted { name, pid } => {
                let Some(c) = self.containers.iter_mut().find(|c| c.name == *name) else {
                    return false;
                };
                c.last_status = "RUNNING".into();
                c.runtime_id = Some(format!("{}-{}", self.id, pid));
            }
            Update::ContainerStopped {
                name,
                exit_code,
                reason,
            } => {
                let Some(c) = self.containers.iter_mut().find(|c| c.name == *name) else {
                    return false;
                };
                c.last_status = "STOPPED".into();
                c.exit_code = *exit_code;
                c.reason.clone_from(reason);
            }
            Update::Health { name, status } => {
                let Some(c) = self.containers.iter_mut().find(|c| c.name == *name) else {
                    return false;
                };
                if c.last_status == "STOPPED" || c.health_status.as_ref() == Some(status) {
                    return false;
                }
                c.health_status = Some(status.clone());
            }
            Update::Stopped { stop_code, reason } => {
                self.last = "STOPPED".into();
                self.desired = "STOPPED".into();
                self.stopping_at.get_or_insert(at);
                self.execution_stopped_at.get_or_insert(at);
                self.stopped_at = Some(at);
                // A StopTask's code and reason stand; otherwise the runtime's.
                if self.stop_code.is_none() {
                    self.stop_code = Some(stop_code.clone());
                }
                if self.stopped_reason.is_none() {
                    self.stopped_reason = Some(reason.clone());
                }
                for c in &mut self.containers {
                    c.last_status = "STOPPED".into();
                }
            }
        }
        self.version += 1;
        true
    }
}

/// How long a stopped task stays describable: ECS keeps stopped tasks for at least an hour.
pub const STOPPED_RETENTION_MILLIS: i64 = 3_600_000;

/// Forgets tasks stopped more than [`STOPPED_RETENTION_MILLIS`] ago (keeping any whose grant
/// could not be retired, so that it is not forgotten); returns how many.
pub fn prune_stopped(
    tx: &mut dyn ferrogate_store::WriteTx,
    now: Timestamp,
) -> Result<usize, ferrogate_store::StoreError> {
    let mut cursor: Option<Vec<u8>> = None;
    let mut pruned = 0;
    loop {
        let rows = tables::TASKS.scan(
            tx,
            &[],
            cursor.as_deref(),
            ferrogate_store::Direction::Forward,
            1024,
        )?;
        let done = rows.len() < 1024;
        for (k, t) in rows {
            let expired = t.is_stopped()
                && t.stopped_at
                    .is_some_and(|s| now.millis() - s.millis() > STOPPED_RETENTION_MILLIS)
                && (t.grant_id.is_none() || t.grant_retired);
            if expired {
                tables::TASKS.delete(tx, &k)?;
                pruned += 1;
            }
            cursor = Some(k);
        }
        if done {
            return Ok(pruned);
        }
    }
}

/// What the host runtime reports about a task, in ECS's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Update {
    /// `lastStatus` changed.
    Status(String),
    /// A container started.
    ContainerStarted {
        /// Container name.
        name: String,
        /// Its pid in the task.
        pid: i32,
    },
    /// A container stopped (or never started).
    ContainerStopped {
        /// Container name.
        name: String,
        /// Exit code, when it ran.
        exit_code: Option<i32>,
        /// Reason.
        reason: Option<String>,
    },
    /// The task is gone.
    Stopped {
        /// ECS `stopCode`.
        stop_code: String,
        /// `stoppedReason`.
        reason: String,
    },
    /// A container's health checks changed its health.
    Health {
        /// Container name.
        name: String,
        /// `HEALTHY` or `UNHEALTHY`.
        status: String,
    },
}

impl TaskContainer {
    /// The container's `healthStatus`.
    pub fn health(&self) -> &str {
        match (&self.health_check, self.health_status.as_deref()) {
            (Some(_), Some(s)) if self.last_status == "RUNNING" => s,
            _ => "UNKNOWN",
        }
    }
}

/// A container of a task definition with a task's overrides applied and its resolved
/// mounts ([`crate::mounts::resolve`]).
pub fn container_from(
    def: &crate::taskdef::ContainerDef,
    ov: Option<&ContainerOverride>,
    mounts: Vec<crate::mounts::Mount>,
) -> Result<TaskContainer, crate::EcsError> {
    let name = def.name.clone().unwrap_or_default();
    // Checked at registration; checked again so that a definition stored before cannot run
    // with a check that is not what it says.
    let health_check = match &def.health_check {
        Some(h) => h.check(&name)?.0,
        None => None,
    };
    let mut environment: Vec<(String, String)> = def
        .environment
        .iter()
        .flatten()
        .filter_map(|kv| Some((kv.name.clone()?, kv.value.clone().unwrap_or_default())))
        .collect();
    let mut command = def.command.clone();
    let mut memory = def.memory.and_then(|m| u32::try_from(m).ok());
    let mut cpu = def.cpu.and_then(|c| u32::try_from(c).ok()).unwrap_or(0);
    if let Some(o) = ov {
        if o.command.is_some() {
            command.clone_from(&o.command);
        }
        for kv in o.environment.iter().flatten() {
            if let Some(n) = &kv.name {
                environment.retain(|(k, _)| k != n);
                environment.push((n.clone(), kv.value.clone().unwrap_or_default()));
            }
        }
        if let Some(m) = o.memory.and_then(|m| u32::try_from(m).ok()) {
            memory = Some(m);
        }
        if let Some(c) = o.cpu.and_then(|c| u32::try_from(c).ok()) {
            cpu = c;
        }
    }
    Ok(TaskContainer {
        name,
        image: def.image.clone().unwrap_or_default(),
        essential: def.essential.unwrap_or(true),
        entry_point: def.entry_point.clone(),
        command,
        environment,
        working_directory: def.working_directory.clone(),
        user: def.user.clone(),
        stop_timeout: def.stop_timeout.and_then(|t| u32::try_from(t).ok()),
        memory,
        cpu,
        last_status: "PENDING".into(),
        exit_code: None,
        reason: None,
        runtime_id: None,
        mounts,
        readonly_root_filesystem: def.readonly_root_filesystem.unwrap_or(false),
        health_check,
        health_status: None,
        // Checked at registration (with the execution role); again here, for definitions
        // stored before the check existed (the launcher refuses one without a role).
        log: match &def.log_configuration {
            Some(cfg) => crate::logconfig::check(cfg, true)?,
            None => None,
        },
    })
}

/// `overrides.containerOverrides[]`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ContainerOverride {
    /// `name`.
    #[serde(default)]
    pub name: Option<String>,
    /// `command`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// `environment`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<Vec<KeyValue>>,
    /// `cpu`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<i64>,
    /// `memory`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<i64>,
    /// `memoryReservation`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_reservation: Option<i64>,
    /// `environmentFiles` (not supported: refused when given).
    #[serde(default, skip_serializing)]
    pub environment_files: Option<Vec<Value>>,
    /// `resourceRequirements` (not supported: refused when given).
    #[serde(default, skip_serializing)]
    pub resource_requirements: Option<Vec<Value>>,
}

/// Every task of a cluster, in id order.
pub fn cluster_tasks(tx: &dyn ReadTx, cl: &Cluster) -> Result<Vec<Task>, crate::EcsError> {
    let prefix = cluster_prefix(&cl.account, &cl.region, &cl.name);
    let mut out = Vec::new();
    let mut cursor: Option<Vec<u8>> = None;
    loop {
        let rows = tables::TASKS.scan(tx, &prefix, cursor.as_deref(), Direction::Forward, 512)?;
        let done = rows.len() < 512;
        for (k, t) in rows {
            cursor = Some(k);
            out.push(t);
        }
        if done {
            return Ok(out);
        }
    }
}

/// Deletes every (stopped) task and client token of a cluster being deleted.
pub fn forget_cluster(tx: &mut TxRef<'_>, cl: &Cluster) -> Result<(), crate::EcsError> {
    let prefix = cluster_prefix(&cl.account, &cl.region, &cl.name);
    loop {
        let rows = tables::TASKS.scan(tx.read(), &prefix, None, Direction::Forward, 512)?;
        let tokens =
            tables::CLIENT_TOKENS.scan(tx.read(), &prefix, None, Direction::Forward, 512)?;
        if rows.is_empty() && tokens.is_empty() {
            return Ok(());
        }
        let w = tx.write()?;
        for (k, _) in rows {
            tables::TASKS.delete(w, &k)?;
        }
        for (k, _) in tokens {
            tables::CLIENT_TOKENS.delete(w, &k)?;
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    /// A task of `web:1` in cluster `prod`, its container's command and environment overridden.
    pub(crate) fn task() -> Task {
        Task {
            account: "111122223333".into(),
            region: "us-east-1".into(),
            cluster: "prod".into(),
            id: "0123456789abcdef0123456789abcdef".into(),
            task_definition_arn: "arn:aws:ecs:us-east-1:111122223333:task-definition/web:1".into(),
            cpu: "256".into(),
            memory: "512".into(),
            containers: vec![container_from(
                &serde_json::from_value(json!({"name": "app", "image": "busybox", "command": ["a"], "environment": [{"name": "A", "value": "1"}]})).unwrap(),
                Some(&serde_json::from_value(json!({"name": "app", "command": ["b"], "environment": [{"name": "A", "value": "2"}, {"name": "B", "value": "3"}]})).unwrap()),
                Vec::new(),
            )
            .unwrap()],
            volumes: Vec::new(),
            ephemeral_gib: 20,
            kms_key_arn: Some("arn:aws:kms:us-east-1:111122223333:key/k".into()),
            volume_id: "vol-0123456789abcdef0".into(),
            desired: "RUNNING".into(),
            last: "PROVISIONING".into(),
            version: 1,
            created_at: Timestamp::from_millis(1_000),
            pull_started_at: None,
            pull_stopped_at: None,
            started_at: None,
            stopping_at: None,
            execution_stopped_at: None,
            stopped_at: None,
            stop_code: None,
            stopped_reason: None,
            started_by: None,
            group: "family:web".into(),
            overrides: json!({}),
            network: json!({"subnets": ["subnet-1"]}),
            tags: Vec::new(),
            launched: false,
            grant_id: None,
            grant_retired: false,
            eni: None,
            execution_role_arn: None,
        }
    }

    #[test]
    fn overrides_apply_to_containers() {
        let t = task();
        let c = &t.containers[0];
        assert_eq!(c.command, Some(vec!["b".to_owned()]));
        assert_eq!(
            c.environment,
            vec![
                ("A".to_owned(), "2".to_owned()),
                ("B".to_owned(), "3".to_owned())
            ]
        );
    }

    #[test]
    fn the_lifecycle_sets_times_versions_and_keeps_a_users_reason() {
        let mut t = task();
        let at = Timestamp::from_millis(5_000);
        assert!(t.apply(&Update::Status("PENDING".into()), at));
        assert!(t.apply(
            &Update::ContainerStarted {
                name: "app".into(),
                pid: 7
            },
            at
        ));
        assert!(t.apply(&Update::Status("RUNNING".into()), at));
        assert!(!t.apply(&Update::Status("RUNNING".into()), at));
        assert_eq!(t.version, 4);
        assert_eq!(t.started_at, Some(at));
        t.stop_code = Some("UserInitiated".into());
        t.stopped_reason = Some("Task stopped by user".into());
        assert!(t.apply(
            &Update::ContainerStopped {
                name: "app".into(),
                exit_code: Some(143),
                reason: None
            },
            at
        ));
        assert!(t.apply(
            &Update::Stopped {
                stop_code: "EssentialContainerExited".into(),
                reason: "Essential container in task exited".into()
            },
            at
        ));
        assert_eq!(t.stop_code.as_deref(), Some("UserInitiated"));
        assert_eq!(t.stopped_reason.as_deref(), Some("Task stopped by user"));
        assert!(t.is_stopped());
        assert!(
            !t.apply(&Update::Status("RUNNING".into()), at),
            "nothing changes a stopped task"
        );
    }

    #[test]
    fn stopped_tasks_are_forgotten_after_an_hour_unless_a_grant_is_outstanding() {
        let dir = tempfile::tempdir().unwrap();
        let store = ferrogate_store::Store::open(&dir.path().join("db")).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let stopped_at = Timestamp::from_millis(10_000_000);
        let mut tasks = Vec::new();
        for (i, (stopped, grant, retired)) in [
            (true, None, false),
            (true, Some("g"), false),
            (true, Some("g"), true),
            (false, None, false),
        ]
        .into_iter()
        .enumerate()
        {
            let mut t = task();
            t.id = format!("{i:032x}");
            if stopped {
                t.apply(
                    &Update::Stopped {
                        stop_code: "UserInitiated".into(),
                        reason: "r".into(),
                    },
                    stopped_at,
                );
            }
            t.grant_id = grant.map(str::to_owned);
            t.grant_retired = retired;
            tasks.push(t);
        }
        rt.block_on(store.write(move |tx| {
            for t in &tasks {
                tables::TASKS.put(tx, &t.task_ref().key(), t)?;
            }
            Ok::<_, ferrogate_store::StoreError>(())
        }))
        .unwrap();
        let at = move |ms: i64| Timestamp::from_millis(stopped_at.millis() + ms);
        let n = rt
            .block_on(store.write(move |tx| prune_stopped(tx, at(STOPPED_RETENTION_MILLIS - 1))))
            .unwrap();
        assert_eq!(n, 0, "an hour is kept");
        let n = rt
            .block_on(store.write(move |tx| prune_stopped(tx, at(STOPPED_RETENTION_MILLIS + 1))))
            .unwrap();
        assert_eq!(
            n, 2,
            "the stopped task without a grant and the one whose grant was retired"
        );
        let left = store
            .read(|tx| tables::TASKS.scan(tx, &[], None, ferrogate_store::Direction::Forward, 10))
            .unwrap();
        let ids: Vec<String> = left.into_iter().map(|(_, t)| t.id).collect();
        assert_eq!(ids, vec![format!("{:032x}", 1), format!("{:032x}", 3)]);
    }
}
