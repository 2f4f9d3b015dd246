//! Services: the stored record, its JSON, and the reconciler that keeps each service's
//! tasks at its desired count and rolls deployments within `minimumHealthyPercent` /
//! `maximumPercent` (shared/spec/aws-behaviour.md §3).
//!
//! The reconciler runs in the server's launcher (every second and after each change) as one
//! write transaction per pass: it records the tasks it starts (PROVISIONING, queued for the
//! launcher like RunTask's) and the tasks it stops (desired STOPPED,
//! `ServiceSchedulerInitiated`), and the deployments' counts, states and events.
//!
//! Each deployment carries the cluster's Fargate key as it was when the deployment was made
//! (`deployments[].fargateEphemeralStorage.kmsKeyId`): a key change on the cluster reaches a
//! service only through a new deployment (`forceNewDeployment`), as on AWS.
//!
//! With `deploymentCircuitBreaker.rollback`, a deployment the breaker fails is followed by a
//! new deployment of the last one that completed (its task definition, network and key).
//!
//! A task counts as healthy once RUNNING, or, when an essential container has a health
//! check, once its checks say HEALTHY; a service task whose checks say UNHEALTHY is stopped
//! (`Task failed container health checks`), counted as a failure, and replaced.

use ferrogate_store::{Direction, Key as StoreKey, Record, Table, TxRef, WriteTx};
use ferrogate_types::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::{tables as model_tables, Tag};
use crate::task::{self, Task};
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
    pub fn event(&mut self, at: Timestamp, message: String) {
        let hex = crate::ops::tasks::random_hex(16).unwrap_or_else(|_| "0".repeat(32));
        let id = format!(
            "{}-{}-{}-{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        );
        self.events.insert(0, ServiceEvent { id, at, message });
        self.events.truncate(100);
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

    /// The circuit breaker's rollback: a new PRIMARY deployment of the last completed one's
    /// task definition, network and key; the service's task definition and network return to
    /// them. Rolling back is not itself rolled back: a failed rollback stays FAILED.
    fn roll_back(&mut self, to: &Completed, now: Timestamp) -> Result<(), EcsError> {
        self.task_definition.clone_from(&to.task_definition);
        self.network.clone_from(&to.network);
        self.deploy(deployment_id()?, to.fargate_key.clone(), now);
        if let Some(p) = self.deployments.first_mut() {
            p.rollback = true;
            // AWS's wording as seen in describe-services output [I].
            p.rollout_reason = format!(
                "ECS deployment circuit breaker: rolling back to deploymentId {}.",
                to.id
            );
        }
        let msg = format!(
            "(service {}) rolling back to deployment {}.",
            self.name, to.id
        );
        self.event(now, msg);
        Ok(())
    }
}

/// A new deployment id: `ecs-svc/` and 19 digits.
pub fn deployment_id() -> Result<String, EcsError> {
    let hex = crate::ops::tasks::random_hex(8)?;
    let n = u64::from_str_radix(&hex, 16).unwrap_or(0) % 9_000_000_000_000_000_000
        + 1_000_000_000_000_000_000;
    Ok(format!("ecs-svc/{n}"))
}

/// One reconciliation pass over every service; true when anything changed (tasks were
/// queued, so the launcher should look at its work).
pub fn reconcile(tx: &mut dyn WriteTx, now: Timestamp) -> Result<bool, EcsError> {
    let services = SERVICES.scan(tx, &[], None, Direction::Forward, 100_000)?;
    let mut changed = false;
    for (key, mut svc) in services {
        if svc.status == "INACTIVE" {
            continue;
        }
        let before = svc.clone();
        // One service's trouble must not stop the others' reconciliation: only a storage
        // failure ends the pass.
        let queued = match reconcile_one(tx, &mut svc, now) {
            Ok(q) => q,
            Err(e @ EcsError::Internal(_)) => return Err(e),
            Err(e) => {
                tracing::error!(service = %svc.arn(), error = %e, "reconciling a service failed");
                continue;
            }
        };
        changed |= queued;
        if svc != before {
            SERVICES.put(tx, &key, &svc)?;
        }
    }
    Ok(changed)
}

/// The `stoppedReason` of a service task stopped because its health checks failed (AWS's).
pub const UNHEALTHY_REASON: &str = "Task failed container health checks";

/// A task that counts as healthy: RUNNING, and HEALTHY by its health checks when an
/// essential container has one.
fn healthy(t: &Task) -> bool {
    t.last == "RUNNING" && (!t.has_health_checks() || t.health() == "HEALTHY")
}

/// A stopped task that counts against its deployment: it failed to start, an essential
/// container exited, or the service stopped it for failing its health checks.
fn failed(t: &Task) -> bool {
    t.is_stopped()
        && (matches!(
            t.stop_code.as_deref(),
            Some("TaskFailedToStart" | "EssentialContainerExited")
        ) || t.stopped_reason.as_deref() == Some(UNHEALTHY_REASON))
}

fn stop(tx: &mut dyn WriteTx, t: &mut Task, deployment: &str) -> Result<(), EcsError> {
    stop_because(
        tx,
        t,
        format!("Scaling activity initiated by (deployment {deployment})"),
    )
}

fn stop_because(tx: &mut dyn WriteTx, t: &mut Task, reason: String) -> Result<(), EcsError> {
    t.desired = "STOPPED".into();
    t.stop_code = Some("ServiceSchedulerInitiated".into());
    t.stopped_reason = Some(reason);
    t.version += 1;
    task::tables::TASKS.put(tx, &t.task_ref().key(), t)?;
    task::tables::WORK.put(tx, &task::id_key(&t.id), &t.task_ref())?;
    Ok(())
}

fn n(x: usize) -> i64 {
    i64::try_from(x).unwrap_or(i64::MAX)
}

trait Pipe: Sized {
    fn pipe<R>(self, f: impl FnOnce(Self) -> R) -> R {
        f(self)
    }
}
impl<T> Pipe for T {}

fn short(t: &Task) -> String {
    format!("(task {})", t.id)
}

fn reconcile_one(
    tx: &mut dyn WriteTx,
    svc: &mut Service,
    now: Timestamp,
) -> Result<bool, EcsError> {
    let prefix = task::cluster_prefix(&svc.account, &svc.region, &svc.cluster);
    let group = format!("service:{}", svc.name);
    let all: Vec<Task> = task::tables::TASKS
        .scan(tx, &prefix, None, Direction::Forward, 1_000_000)?
        .into_iter()
        .map(|(_, t)| t)
        // A service's tasks: its group and one of its deployments (a RunTask that happens to
        // use the same group is not the service's to stop).
        .filter(|t| {
            t.group == group
                && svc
                    .deployments
                    .iter()
                    .any(|d| t.started_by.as_deref() == Some(d.id.as_str()))
        })
        .collect();
    let active = |t: &&Task| t.desired == "RUNNING" && !t.is_stopped();
    let mut queued = false;
    let desired = if svc.status == "DRAINING" {
        0
    } else {
        svc.desired
    };
    // Counts per deployment; failures (failed to start, or an essential container exited)
    // count against the deployment they belong to.
    for d in &mut svc.deployments {
        let mine = || {
            all.iter()
                .filter(|t| t.started_by.as_deref() == Some(d.id.as_str()))
        };
        let (running, pending) = (
            mine()
                .filter(active)
                .filter(|t| t.last == "RUNNING")
                .count()
                .pipe(n),
            mine()
                .filter(active)
                .filter(|t| t.last != "RUNNING")
                .count()
                .pipe(n),
        );
        let failed = mine().filter(|t| failed(t)).count().pipe(n);
        // Stopped tasks are forgotten after an hour; the deployment's count of failures is not.
        let failed = failed.max(d.failed);
        if (running, pending, failed) != (d.running, d.pending, d.failed) {
            d.running = running;
            d.pending = pending;
            d.failed = failed;
            d.updated_at = now;
        }
    }
    let name = svc.name.clone();
    // The circuit breaker: a PRIMARY deployment whose tasks keep failing stops launching,
    // and with `rollback` the service returns to its last completed deployment.
    let cb = svc.deployment_configuration.circuit_breaker;
    let mut roll_back_from = None;
    if let Some(p) = svc.deployments.first_mut() {
        if cb && p.rollout_state == "IN_PROGRESS" && p.failed >= failure_threshold(desired) {
            p.rollout_state = "FAILED".into();
            p.rollout_reason = format!(
                "ECS deployment circuit breaker: tasks failed to start. {} tasks failed (threshold {}).",
                p.failed,
                failure_threshold(desired)
            );
            p.updated_at = now;
            let msg = format!(
                "(service {name}) (deployment {}) deployment failed: tasks failed to start.",
                p.id
            );
            if svc.deployment_configuration.rollback && !p.rollback && svc.status == "ACTIVE" {
                roll_back_from = Some(p.id.clone());
            }
            svc.event(now, msg);
        }
    }
    if let Some(failed) = roll_back_from {
        // The last completed deployment; for a service steady since before those were
        // remembered, the newest COMPLETED deployment still listed.
        let to = svc
            .last_completed
            .clone()
            .or_else(|| {
                svc.deployments
                    .iter()
                    .skip(1)
                    .find(|d| d.rollout_state == "COMPLETED")
                    .map(|d| Completed {
                        id: d.id.clone(),
                        task_definition: d.task_definition.clone(),
                        network: d.network.clone(),
                        fargate_key: d.fargate_key.clone(),
                    })
            })
            .filter(|c| c.id != failed);
        if let Some(to) = to {
            svc.roll_back(&to, now)?;
        }
    }
    let Some(primary) = svc.deployments.first().cloned() else {
        return Ok(false);
    };
    let conf = svc.deployment_configuration.clone();
    let max_total = (desired * conf.maximum_percent) / 100;
    let min_healthy = (desired * conf.minimum_healthy_percent + 99) / 100;
    let mut active_tasks: Vec<Task> = all.iter().filter(active).cloned().collect();
    active_tasks.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
    let is_primary = |t: &Task| t.started_by.as_deref() == Some(primary.id.as_str());
    let total_active = active_tasks.len().pipe(n);
    // Tasks told to stop still occupy the host until they are STOPPED: they count against
    // maximumPercent.
    let live = all.iter().filter(|t| !t.is_stopped()).count().pipe(n);
    let primary_active = active_tasks
        .iter()
        .filter(|t| is_primary(t))
        .count()
        .pipe(n);

    // Start the primary's missing tasks, within maximumPercent.
    let mut started = Vec::new();
    // After failures, launches back off: the n-th failure of the deployment waits n seconds
    // (at most five minutes) after the last one, so a broken deployment without a circuit
    // breaker does not relaunch (and call KMS) every second.
    let last_failure = all
        .iter()
        .filter(|t| t.started_by.as_deref() == Some(primary.id.as_str()) && failed(t))
        .filter_map(|t| t.stopped_at)
        .max();
    // While the deployment has a healthy task, failures are not a broken deployment's but
    // single tasks' (health checks of a running service): one second, so that replacements
    // cannot starve however often tasks fail.
    let has_healthy = active_tasks.iter().any(|t| is_primary(t) && healthy(t));
    let wait_secs = if has_healthy {
        1
    } else {
        primary.failed.min(300)
    };
    let backing_off = last_failure.is_some_and(|at| now.millis() - at.millis() < wait_secs * 1000);
    // UNHEALTHY tasks are replaced first, within maximumPercent: they do not count as the
    // primary's tasks when deciding what to start, but occupy the host until stopped.
    let unhealthy_primary = active_tasks
        .iter()
        .filter(|t| is_primary(t) && t.health() == "UNHEALTHY")
        .count()
        .pipe(n);
    let mut no_room = false;
    if primary.rollout_state != "FAILED"
        && primary_active - unhealthy_primary < desired
        && !backing_off
    {
        let room = (max_total.max(desired.min(1)) - live).max(0);
        let n = (desired - (primary_active - unhealthy_primary)).min(room);
        no_room = room == 0;
        if n > 0 {
            let cl = model_tables::CLUSTERS.get(
                tx,
                &crate::model::keys::named(&svc.account, &svc.region, &svc.cluster),
            )?;
            let td = crate::ops::taskdefs::find(
                tx,
                &svc.account,
                &svc.region,
                &primary.task_definition,
            )?;
            // Checked again at every launch: a service made before a check existed, a forced
            // redeployment or a rollback must not start tasks its definition cannot run as
            // written. Such a deployment fails instead.
            let td = td
                .ok_or_else(|| EcsError::client("TaskDefinition not found."))
                .and_then(|td| crate::ops::tasks::launchable(&td).map(|()| td));
            let td = match td {
                Ok(td) => Some(td),
                Err(e @ EcsError::Internal(_)) => return Err(e),
                Err(e) => {
                    if let Some(p) = svc.deployments.first_mut() {
                        p.rollout_state = "FAILED".into();
                        p.rollout_reason = format!("ECS deployment {} failed: {e}", p.id);
                        p.updated_at = now;
                    }
                    svc.event(
                        now,
                        format!(
                            "(service {name}) (deployment {}) deployment failed: {e}",
                            primary.id
                        ),
                    );
                    None
                }
            };
            if let (Some(cl), Some(td)) = (cl, td) {
                for _ in 0..n {
                    let t = crate::ops::tasks::service_task(
                        &td,
                        &cl,
                        primary.fargate_key.clone(),
                        &primary.id,
                        &name,
                        &primary.network,
                        &svc.tags,
                        now,
                    )?;
                    crate::ops::tasks::save_new(&mut TxRef::Write(tx), &t)?;
                    started.push(t);
                }
            }
        }
    }
    // Stop what is not wanted: tasks whose health checks failed, once enough healthy tasks
    // run without them (their replacements are up), or one per pass when there is no room
    // to start a replacement first (AWS's order: replace first within maximumPercent, else
    // one at a time); old deployments' tasks that are not healthy at once, their healthy
    // tasks while enough healthy tasks remain; the primary's surplus (scale-in).
    let mut stopped = Vec::new();
    let mut unhealthy = Vec::new();
    let healthy_now = active_tasks.iter().filter(|t| healthy(t)).count().pipe(n);
    for t in active_tasks.iter().filter(|t| t.health() == "UNHEALTHY") {
        if healthy_now < desired && !(no_room && unhealthy.is_empty()) {
            continue;
        }
        let mut t = t.clone();
        stop_because(tx, &mut t, UNHEALTHY_REASON.to_owned())?;
        unhealthy.push(t);
    }
    let active_tasks: Vec<Task> = active_tasks
        .into_iter()
        .filter(|t| !unhealthy.iter().any(|u| u.id == t.id))
        .collect();
    let primary_active =
        primary_active - unhealthy.iter().filter(|t| is_primary(t)).count().pipe(n);
    let mut healthy_count = active_tasks.iter().filter(|t| healthy(t)).count().pipe(n);
    for t in active_tasks.iter().filter(|t| !is_primary(t)) {
        let mut t = t.clone();
        if !healthy(&t) {
            stop(tx, &mut t, &primary.id)?;
            stopped.push(t);
        } else if healthy_count > min_healthy {
            healthy_count -= 1;
            stop(tx, &mut t, &primary.id)?;
            stopped.push(t);
        }
    }
    // Scale-in: the primary's surplus beyond desiredCount, not counting UNHEALTHY tasks kept
    // until their replacements are up (those replacements are not surplus).
    let mut surplus = primary_active
        - active_tasks
            .iter()
            .filter(|t| is_primary(t) && t.health() == "UNHEALTHY")
            .count()
            .pipe(n)
        - desired;
    for t in active_tasks
        .iter()
        .filter(|t| is_primary(t) && t.health() != "UNHEALTHY")
        .rev()
    {
        if surplus <= 0 {
            break;
        }
        let mut t = t.clone();
        stop(tx, &mut t, &primary.id)?;
        stopped.push(t);
        surplus -= 1;
    }
    if !started.is_empty() {
        let list: Vec<String> = started.iter().map(short).collect();
        svc.event(
            now,
            format!(
                "(service {name}) has started {} tasks: {}.",
                started.len(),
                list.join(" ")
            ),
        );
        svc.steady = false;
        queued = true;
    }
    for t in &unhealthy {
        svc.event(
            now,
            format!(
                "(service {name}) (task {}) failed container health checks.",
                t.id
            ),
        );
    }
    stopped.extend(unhealthy);
    if !stopped.is_empty() {
        let list: Vec<String> = stopped.iter().map(short).collect();
        svc.event(
            now,
            format!(
                "(service {name}) has stopped {} running tasks: {}.",
                stopped.len(),
                list.join(" ")
            ),
        );
        svc.steady = false;
        queued = true;
    }
    // Old deployments without tasks are done; a PRIMARY at its count alone is COMPLETED.
    let now_active = |d: &Deployment| {
        all.iter().any(|t| {
            t.started_by.as_deref() == Some(d.id.as_str())
                && active(&t)
                && !stopped.iter().any(|s| s.id == t.id)
        })
    };
    let keep: Vec<bool> = svc
        .deployments
        .iter()
        .enumerate()
        .map(|(i, d)| i == 0 || now_active(d))
        .collect();
    let mut i = 0;
    svc.deployments.retain(|_| {
        let k = keep[i];
        i += 1;
        k
    });
    let running_total = svc.deployments.iter().map(|d| d.running).sum::<i64>();
    let pending_total = svc.deployments.iter().map(|d| d.pending).sum::<i64>();
    svc.running = running_total;
    svc.pending = pending_total;
    if svc.status == "DRAINING" && total_active == 0 {
        svc.status = "INACTIVE".into();
        svc.running = 0;
        svc.pending = 0;
    }
    let single = svc.deployments.len() == 1;
    // Steady only when the primary's tasks are healthy (by their checks, when they have any).
    let primary_healthy = all
        .iter()
        .filter(|t| is_primary(t) && active(t) && healthy(t))
        .filter(|t| !stopped.iter().any(|s| s.id == t.id))
        .count()
        .pipe(n);
    if let Some(p) = svc.deployments.first_mut() {
        if single
            && p.running == desired
            && primary_healthy == desired
            && p.pending == 0
            && started.is_empty()
            && stopped.is_empty()
        {
            if p.rollout_state == "IN_PROGRESS" {
                p.rollout_state = "COMPLETED".into();
                p.rollout_reason = format!("ECS deployment {} completed.", p.id);
                p.updated_at = now;
                let msg = format!(
                    "(service {name}) (deployment {}) deployment completed.",
                    p.id
                );
                svc.last_completed = Some(Completed {
                    id: p.id.clone(),
                    task_definition: p.task_definition.clone(),
                    network: p.network.clone(),
                    fargate_key: p.fargate_key.clone(),
                });
                svc.event(now, msg);
            }
            if !svc.steady && svc.status == "ACTIVE" {
                svc.steady = true;
                svc.event(now, format!("(service {name}) has reached a steady state."));
            }
        }
    }
    Ok(queued)
}

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

#[cfg(test)]
mod tests {
    //! The reconciler on the real store: tasks are moved along by hand, as the launcher
    //! would from the runtime's reports.
    use super::*;
    use crate::model::{keys, Cluster, ClusterConfiguration, ClusterStatus};
    use crate::task::Update;
    use ferrogate_store::{Store, StoreError};
    use serde_json::json;

    const ACCT: &str = "111122223333";
    const REGION: &str = "us-east-1";

    struct World {
        _dir: tempfile::TempDir,
        store: Store,
        rt: tokio::runtime::Runtime,
        now: i64,
    }

    impl World {
        fn new() -> Self {
            let dir = tempfile::tempdir().unwrap();
            let store = Store::open(&dir.path().join("db")).unwrap();
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let w = World {
                _dir: dir,
                store,
                rt,
                now: 1_000_000,
            };
            w.write(|tx| {
                let cl = Cluster {
                    account: ACCT.into(),
                    region: REGION.into(),
                    name: "c".into(),
                    status: ClusterStatus::Active,
                    configuration: ClusterConfiguration::default(),
                    settings: Vec::new(),
                    capacity_providers: Vec::new(),
                    default_strategy: Vec::new(),
                    tags: Vec::new(),
                    created: Timestamp::from_millis(0),
                };
                model_tables::CLUSTERS.put(tx, &keys::named(ACCT, REGION, "c"), &cl)?;
                Ok(())
            });
            w
        }

        fn write<T: Send + 'static>(
            &self,
            f: impl FnOnce(&mut dyn WriteTx) -> Result<T, StoreError> + Send + 'static,
        ) -> T {
            self.rt.block_on(self.store.write(f)).unwrap()
        }

        /// Registers `family:revision` with `extra` members on its one container.
        fn task_definition(&self, family: &str, revision: i64, extra: Value) -> String {
            let mut c = json!({"name": "app", "image": "busybox"});
            if let (Value::Object(c), Value::Object(extra)) = (&mut c, extra) {
                c.extend(extra);
            }
            let input: crate::taskdef::RegisterInput = serde_json::from_value(json!({
                "family": family, "requiresCompatibilities": ["FARGATE"], "networkMode": "awsvpc",
                "cpu": "256", "memory": "512", "containerDefinitions": [c],
            }))
            .unwrap();
            // Stored as given (as an older version might have stored it): the checks at
            // launch are what is tested.
            let mut body = crate::taskdef::normalize(&input).unwrap_or_else(|_| json!({}));
            if body == json!({}) {
                body = json!({"family": family, "containerDefinitions": [c]});
            }
            let td = crate::model::TaskDefinition {
                account: ACCT.into(),
                region: REGION.into(),
                family: family.into(),
                revision,
                active: true,
                body,
                registered_at: Timestamp::from_millis(0),
                registered_by: "test".into(),
                deregistered_at: None,
                tags: Vec::new(),
            };
            let arn = td.arn();
            self.write(move |tx| {
                model_tables::TASK_DEFINITIONS.put(
                    tx,
                    &keys::revision(ACCT, REGION, &td.family, td.revision),
                    &td,
                )
            });
            arn
        }

        fn service(&self, name: &str, td: &str, desired: i64, rollback: bool) {
            let mut svc = Service {
                account: ACCT.into(),
                region: REGION.into(),
                cluster: "c".into(),
                name: name.into(),
                status: "ACTIVE".into(),
                desired,
                running: 0,
                pending: 0,
                task_definition: td.into(),
                network: json!({"subnets": ["subnet-1"]}),
                deployment_configuration: DeploymentConfiguration {
                    circuit_breaker: true,
                    rollback,
                    ..DeploymentConfiguration::default()
                },
                deployments: Vec::new(),
                events: Vec::new(),
                created_at: Timestamp::from_millis(0),
                created_by: "test".into(),
                tags: Vec::new(),
                propagate_tags: "NONE".into(),
                platform_version: "LATEST".into(),
                steady: false,
                last_completed: None,
            };
            svc.deploy(deployment_id().unwrap(), None, Timestamp::from_millis(0));
            self.put(svc);
        }

        fn put(&self, svc: Service) {
            self.write(move |tx| {
                SERVICES.put(tx, &service_key(ACCT, REGION, "c", &svc.name), &svc)
            });
        }

        fn get(&self, name: &str) -> Service {
            self.store
                .read(|tx| SERVICES.get(tx, &service_key(ACCT, REGION, "c", name)))
                .unwrap()
                .unwrap()
        }

        /// One reconciler pass, a long while after the last (no backoff in the way).
        fn pass(&mut self) {
            self.now += 600_000;
            let now = Timestamp::from_millis(self.now);
            self.write(move |tx| {
                reconcile(tx, now).map_err(|e| match e {
                    EcsError::Internal(s) => s,
                    other => panic!("reconcile: {other}"),
                })
            });
        }

        /// Moves every live task of `service` (of its PRIMARY deployment when `fail`) along:
        /// to RUNNING, or stopped as failing to start.
        fn settle(&self, service: &str, fail: bool) {
            let group = format!("service:{service}");
            let primary = self.get(service).deployments[0].id.clone();
            let now = Timestamp::from_millis(self.now);
            self.write(move |tx| {
                let prefix = task::cluster_prefix(ACCT, REGION, "c");
                for (k, mut t) in
                    task::tables::TASKS.scan(tx, &prefix, None, Direction::Forward, 10_000)?
                {
                    if t.group != group
                        || t.is_stopped()
                        || (fail && t.started_by.as_deref() != Some(primary.as_str()))
                    {
                        continue;
                    }
                    let u = if fail {
                        Update::Stopped {
                            stop_code: "TaskFailedToStart".into(),
                            reason: "CannotPullContainerError: no such image".into(),
                        }
                    } else if t.desired == "STOPPED" {
                        Update::Stopped {
                            stop_code: "ServiceSchedulerInitiated".into(),
                            reason: "stopped".into(),
                        }
                    } else {
                        Update::Status("RUNNING".into())
                    };
                    t.apply(&u, now);
                    task::tables::TASKS.put(tx, &k, &t)?;
                }
                Ok(())
            });
        }
    }

    #[test]
    fn a_failed_deployment_rolls_back_once_to_the_last_completed_one() {
        let mut w = World::new();
        let td1 = w.task_definition("web", 1, json!({}));
        let td2 = w.task_definition("web", 2, json!({"image": "example.invalid/ghost"}));
        w.service("web", &td1, 1, true);
        w.pass();
        w.settle("web", false);
        w.pass();
        let svc = w.get("web");
        let good = svc.deployments[0].id.clone();
        assert_eq!(svc.deployments[0].rollout_state, "COMPLETED", "{svc:?}");
        assert_eq!(svc.last_completed.as_ref().unwrap().id, good);

        // A bad deployment; completed deployments were not remembered by older versions:
        // the one still listed is found all the same.
        let mut svc = w.get("web");
        svc.last_completed = None;
        svc.task_definition.clone_from(&td2);
        svc.deploy(
            deployment_id().unwrap(),
            None,
            Timestamp::from_millis(w.now),
        );
        let bad = svc.deployments[0].id.clone();
        w.put(svc);
        for _ in 0..3 {
            w.pass();
            w.settle("web", true);
        }
        w.pass();
        let svc = w.get("web");
        let d = &svc.deployments[0];
        assert!(d.rollback && d.id != good && d.id != bad, "{svc:?}");
        assert_eq!(d.task_definition, td1);
        assert_eq!(svc.task_definition, td1);
        assert_eq!(
            d.rollout_reason,
            format!("ECS deployment circuit breaker: rolling back to deploymentId {good}.")
        );
        // The failed deployment has no tasks left, so it is no longer listed; its events are.
        let said = |m: String| svc.events.iter().any(|e| e.message == m);
        assert!(said(format!(
            "(service web) (deployment {bad}) deployment failed: tasks failed to start."
        )));
        assert!(said(format!(
            "(service web) rolling back to deployment {good}."
        )));

        // The rollback fails too: it stays FAILED, with no rollback of the rollback.
        let rb = d.id.clone();
        for _ in 0..4 {
            w.pass();
            w.settle("web", true);
        }
        w.pass();
        let svc = w.get("web");
        assert_eq!(svc.deployments[0].id, rb, "{svc:?}");
        assert_eq!(svc.deployments[0].rollout_state, "FAILED");
    }

    /// Sets the health of every live task of `service` that is RUNNING and has none yet
    /// (or all of them when `all`).
    fn set_health(w: &World, service: &str, status: &str, all: bool) {
        let group = format!("service:{service}");
        let status = status.to_owned();
        let now = Timestamp::from_millis(w.now);
        w.write(move |tx| {
            let prefix = task::cluster_prefix(ACCT, REGION, "c");
            for (k, mut t) in
                task::tables::TASKS.scan(tx, &prefix, None, Direction::Forward, 10_000)?
            {
                if t.group != group || t.is_stopped() || t.last != "RUNNING" {
                    continue;
                }
                if !all && t.containers[0].health_status.is_some() {
                    continue;
                }
                t.containers[0].last_status = "RUNNING".into();
                t.apply(
                    &Update::Health {
                        name: "app".into(),
                        status: status.clone(),
                    },
                    now,
                );
                task::tables::TASKS.put(tx, &k, &t)?;
            }
            Ok(())
        });
    }

    fn live(w: &World, service: &str) -> Vec<Task> {
        let group = format!("service:{service}");
        w.store
            .read(|tx| {
                task::tables::TASKS.scan(
                    tx,
                    &task::cluster_prefix(ACCT, REGION, "c"),
                    None,
                    Direction::Forward,
                    10_000,
                )
            })
            .unwrap()
            .into_iter()
            .map(|(_, t)| t)
            .filter(|t| t.group == group && t.desired == "RUNNING")
            .collect()
    }

    #[test]
    fn health_checks_gate_completion_and_unhealthy_tasks_are_replaced_first() {
        let mut w = World::new();
        let td = w.task_definition(
            "web",
            1,
            json!({"healthCheck": {"command": ["CMD-SHELL", "true"], "interval": 5}}),
        );
        w.service("web", &td, 1, false);
        w.pass();
        w.settle("web", false);
        w.pass();
        // RUNNING but not yet HEALTHY: not complete.
        assert_eq!(w.get("web").deployments[0].rollout_state, "IN_PROGRESS");
        set_health(&w, "web", "HEALTHY", true);
        w.pass();
        assert_eq!(w.get("web").deployments[0].rollout_state, "COMPLETED");

        // The task turns UNHEALTHY: a replacement starts first, the unhealthy one runs on.
        set_health(&w, "web", "UNHEALTHY", true);
        let sick = live(&w, "web")[0].id.clone();
        w.pass();
        let l = live(&w, "web");
        assert_eq!(l.len(), 2, "{l:?}");
        assert!(l.iter().any(|t| t.id == sick));
        // The replacement is not surplus while it starts (no stop-start churn).
        w.settle("web", false);
        w.pass();
        w.pass();
        let l = live(&w, "web");
        assert_eq!(l.len(), 2, "{l:?}");
        assert!(l.iter().any(|t| t.id == sick));
        // The replacement is up and HEALTHY: now the unhealthy task is stopped.
        w.settle("web", false);
        set_health(&w, "web", "HEALTHY", false);
        w.pass();
        let l = live(&w, "web");
        assert_eq!(l.len(), 1, "{l:?}");
        assert_ne!(l[0].id, sick);
        let svc = w.get("web");
        assert!(svc
            .events
            .iter()
            .any(|e| e.message
                == format!("(service web) (task {sick}) failed container health checks.")));

        // No room for a replacement (maximumPercent 100): one unhealthy task is stopped first.
        let mut svc = w.get("web");
        svc.deployment_configuration.maximum_percent = 100;
        svc.deployment_configuration.minimum_healthy_percent = 0;
        w.put(svc);
        set_health(&w, "web", "UNHEALTHY", true);
        w.pass();
        assert!(live(&w, "web").is_empty());
    }

    #[test]
    fn a_draining_service_or_one_without_rollback_does_not_roll_back() {
        let mut w = World::new();
        let td1 = w.task_definition("web", 1, json!({}));
        let td2 = w.task_definition("web", 2, json!({"image": "example.invalid/ghost"}));
        w.service("plain", &td1, 1, false);
        w.service("draining", &td1, 1, true);
        w.pass();
        w.settle("plain", false);
        w.settle("draining", false);
        w.pass();
        for name in ["plain", "draining"] {
            let mut svc = w.get(name);
            svc.task_definition.clone_from(&td2);
            svc.deploy(
                deployment_id().unwrap(),
                None,
                Timestamp::from_millis(w.now),
            );
            if name == "draining" {
                svc.status = "DRAINING".into();
            }
            w.put(svc);
        }
        for _ in 0..4 {
            w.pass();
            w.settle("plain", true);
            w.settle("draining", true);
        }
        w.pass();
        for name in ["plain", "draining"] {
            let svc = w.get(name);
            assert!(
                svc.deployments.iter().all(|d| !d.rollback),
                "{name}: {svc:?}"
            );
        }
        assert_eq!(w.get("plain").deployments[0].rollout_state, "FAILED");
    }

    #[test]
    fn a_service_that_cannot_launch_fails_without_blocking_the_others() {
        let mut w = World::new();
        let good = w.task_definition("good", 1, json!({}));
        let secret = w.task_definition(
            "secret",
            1,
            json!({"secrets": [{"name": "A", "valueFrom": "arn:aws:ssm:::parameter/a"}]}),
        );
        let badmount = w.task_definition(
            "badmount",
            1,
            json!({"mountPoints": [{"sourceVolume": "nope", "containerPath": "/d"}]}),
        );
        w.service("a-secret", &secret, 1, false);
        w.service("b-badmount", &badmount, 1, false);
        w.service(
            "c-missing",
            "arn:aws:ecs:us-east-1:111122223333:task-definition/gone:1",
            1,
            false,
        );
        w.service("d-good", &good, 1, false);
        w.pass();
        w.pass();
        for (name, why) in [
            ("a-secret", "secrets is not supported"),
            ("b-badmount", "Unknown volume 'nope'."),
            ("c-missing", "TaskDefinition not found."),
        ] {
            let svc = w.get(name);
            assert_eq!(svc.deployments[0].rollout_state, "FAILED", "{svc:?}");
            assert!(svc.deployments[0].rollout_reason.contains(why), "{svc:?}");
            assert_eq!(svc.pending, 0);
        }
        assert_eq!(w.get("d-good").pending, 1);
    }
}
