//! The reconciler's apply step: reads what [`super::plan`] needs from the store, plans, and
//! carries the plan out (tasks recorded and queued for the launcher, tasks told to stop,
//! events, the service record), all in the caller's write transaction.

use std::collections::BTreeMap;

use ferrogate_store::{Direction, TxRef, WriteTx};
use ferrogate_types::Timestamp;

use super::plan::{self, Action, Note, Seen, Situation, StopReason};
use super::record::{Deployment, Service, SERVICES};
use crate::model::{keys, tables as model_tables, Cluster, TaskDefinition};
use crate::task::{self, Task};
use crate::{ids, launch, taskdef, EcsError};

/// One reconciliation pass over every service; true when anything changed (tasks were
/// queued, so the launcher should look at its work).
pub fn reconcile(tx: &mut dyn WriteTx, now: Timestamp) -> Result<bool, EcsError> {
    let services = SERVICES.scan(tx, &[], None, Direction::Forward, 100_000)?;
    let mut changed = false;
    for (key, svc) in services {
        if svc.status == "INACTIVE" {
            continue;
        }
        let arn = svc.arn();
        // One service's trouble must not stop the others' reconciliation: only a storage
        // failure ends the pass.
        let (after, queued) = match reconcile_one(tx, &svc, now) {
            Ok(r) => r,
            Err(e @ EcsError::Internal(_)) => return Err(e),
            Err(e) => {
                tracing::error!(service = %arn, error = %e, "reconciling a service failed");
                continue;
            }
        };
        changed |= queued;
        if after != svc {
            SERVICES.put(tx, &key, &after)?;
        }
    }
    Ok(changed)
}

/// A service's tasks: its group, and one of its deployments (a RunTask that happens to use
/// the same group is not the service's to stop).
fn service_tasks(tx: &dyn WriteTx, svc: &Service) -> Result<Vec<Task>, EcsError> {
    let prefix = task::cluster_prefix(&svc.account, &svc.region, &svc.cluster);
    let group = format!("service:{}", svc.name);
    Ok(task::tables::TASKS
        .scan(tx, &prefix, None, Direction::Forward, 1_000_000)?
        .into_iter()
        .map(|(_, t)| t)
        .filter(|t| {
            t.group == group
                && svc
                    .deployments
                    .iter()
                    .any(|d| t.started_by.as_deref() == Some(d.id.as_str()))
        })
        .collect())
}

/// The task definitions a launch may need, loaded, with whether each can run as written
/// (checked again at every launch: a service made before a check existed, a forced
/// redeployment or a rollback must not start tasks its definition cannot run).
#[allow(clippy::type_complexity)]
fn definitions(
    tx: &dyn WriteTx,
    svc: &Service,
) -> Result<
    (
        BTreeMap<String, Result<(), String>>,
        BTreeMap<String, TaskDefinition>,
    ),
    EcsError,
> {
    let (mut checked, mut loaded) = (BTreeMap::new(), BTreeMap::new());
    for arn in plan::definitions_needed(svc) {
        let verdict = match taskdef::find(tx, &svc.account, &svc.region, &arn)? {
            None => Err("TaskDefinition not found.".to_owned()),
            Some(td) => match launch::launchable(&td) {
                Ok(()) => {
                    loaded.insert(arn.clone(), td);
                    Ok(())
                }
                Err(e @ EcsError::Internal(_)) => return Err(e),
                Err(e) => Err(e.to_string()),
            },
        };
        checked.insert(arn, verdict);
    }
    Ok((checked, loaded))
}

/// An action with what it acts on.
enum Step<'a> {
    Start {
        count: usize,
        cl: &'a Cluster,
        td: &'a TaskDefinition,
        d: Deployment,
    },
    Stop {
        task: &'a Task,
        why: StopReason,
    },
    Note(Note),
}

/// What `action` acts on; an error when the plan names what is not there.
fn resolve<'a>(
    action: Action,
    svc: &Service,
    cluster: Option<&'a Cluster>,
    loaded: &'a BTreeMap<String, TaskDefinition>,
    tasks: &'a [Task],
) -> Result<Step<'a>, EcsError> {
    let unplannable = |what: &str| {
        EcsError::client(format!(
            "the reconciler planned to {what} that it was not given"
        ))
    };
    Ok(match action {
        Action::Start { count } => {
            let d = svc
                .deployments
                .first()
                .ok_or_else(|| unplannable("start tasks of a deployment"))?;
            Step::Start {
                count,
                cl: cluster.ok_or_else(|| unplannable("start tasks in a cluster"))?,
                td: loaded
                    .get(&d.task_definition)
                    .ok_or_else(|| unplannable("start tasks of a task definition"))?,
                d: d.clone(),
            }
        }
        Action::Stop { task, why } => Step::Stop {
            task: tasks
                .iter()
                .find(|t| t.id == task)
                .ok_or_else(|| unplannable("stop a task"))?,
            why,
        },
        Action::Note(n) => Step::Note(n),
    })
}

/// Reconciles one service: its record as it is to be stored, and whether tasks were queued.
fn reconcile_one(
    tx: &mut dyn WriteTx,
    svc: &Service,
    now: Timestamp,
) -> Result<(Service, bool), EcsError> {
    let tasks = service_tasks(tx, svc)?;
    let cluster =
        model_tables::CLUSTERS.get(tx, &keys::named(&svc.account, &svc.region, &svc.cluster))?;
    let (checked, loaded) = definitions(tx, svc)?;
    let seen: Vec<Seen> = tasks.iter().map(Seen::of).collect();
    let plan = plan::plan(Situation {
        service: svc.clone(),
        tasks: &seen,
        now,
        cluster: cluster.is_some(),
        definitions: &checked,
        fresh_deployment: ids::deployment_id()?,
    });
    let queued = plan.queues_work();
    let mut svc = plan.service;
    // Every step is resolved before anything is written: a plan that names what is not
    // there changes nothing.
    let steps = plan
        .actions
        .into_iter()
        .map(|a| resolve(a, &svc, cluster.as_ref(), &loaded, &tasks))
        .collect::<Result<Vec<_>, _>>()?;
    let mut started = Vec::new();
    for step in steps {
        match step {
            Step::Start { count, cl, td, d } => {
                for _ in 0..count {
                    let t = launch::service_task(
                        td,
                        cl,
                        d.fargate_key.clone(),
                        &d.id,
                        &svc.name,
                        &d.network,
                        &svc.tags,
                        now,
                    )?;
                    launch::save_new(&mut TxRef::Write(tx), &t)?;
                    started.push(t.id);
                }
            }
            Step::Stop { task, why } => {
                let mut t = task.clone();
                t.desired = "STOPPED".into();
                t.stop_code = Some("ServiceSchedulerInitiated".into());
                t.stopped_reason = Some(why.stopped_reason());
                t.version += 1;
                task::tables::TASKS.put(tx, &t.task_ref().key(), &t)?;
                task::tables::WORK.put(tx, &task::id_key(&t.id), &t.task_ref())?;
            }
            Step::Note(note) => {
                let message = note.message(&svc.name, &started);
                svc.event(now, message)?;
            }
        }
    }
    Ok((svc, queued))
}

#[cfg(test)]
mod tests {
    //! The reconciler on the real store: tasks are moved along by hand, as the launcher
    //! would from the runtime's reports.
    use super::*;
    use crate::ids::deployment_id;
    use crate::model::{keys, Cluster, ClusterConfiguration, ClusterStatus};
    use crate::service::record::{service_key, DeploymentConfiguration, Service, SERVICES};
    use crate::task::Update;
    use ferrogate_store::{Store, StoreError};
    use serde_json::{json, Value};

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
