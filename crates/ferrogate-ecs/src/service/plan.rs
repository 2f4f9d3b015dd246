//! The reconciler's planning step: one service and its tasks in, what to do out.
//!
//! Pure: no store, no clock, no randomness. The caller ([`super::apply`]) supplies the time,
//! whether the cluster exists, whether each task definition a launch may need can run, and a
//! fresh deployment id (used only when the circuit breaker rolls back). Every rule of the
//! reconciler is here, so each situation is a row of the unit-test table below.
//!
//! The rules, in order:
//! 1. Each deployment's counts: RUNNING and pending tasks still desired RUNNING, and tasks
//!    that failed (failed to start, an essential container exited, or stopped for failing
//!    their health checks; a count never decreases: stopped tasks are forgotten after an
//!    hour, failures are not).
//! 2. The circuit breaker: a PRIMARY deployment IN_PROGRESS with at least
//!    [`failure_threshold`] failures is FAILED; with `rollback` (not for a rollback, not for
//!    a draining service) the service returns to its last completed deployment.
//! 3. Launches: the PRIMARY's missing tasks (UNHEALTHY ones do not count: they are replaced
//!    first), within `maximumPercent` of the tasks not yet STOPPED, unless the deployment
//!    FAILED or is backing off after failures (the n-th failure waits n seconds, at most five
//!    minutes; one second while the deployment has a healthy task). A task definition that
//!    cannot run as written fails the deployment instead.
//! 4. Stops: UNHEALTHY tasks once enough healthy tasks run without them (or one when there
//!    is no room to start a replacement first); old deployments' tasks that are not healthy,
//!    and their healthy ones while more than `minimumHealthyPercent` remain healthy; the
//!    PRIMARY's surplus beyond `desiredCount`, newest first.
//! 5. Old deployments without live tasks are dropped; a draining service without tasks is
//!    INACTIVE; a PRIMARY alone, at its count, all healthy, with nothing started or stopped
//!    is COMPLETED (remembered for rollbacks), and the service reaches a steady state.

use std::collections::BTreeMap;

use ferrogate_types::Timestamp;

pub use super::deployments::definitions_needed;
use super::deployments::{circuit_breaker, completed, count};
use super::record::Service;
use super::steps::n;
pub use super::steps::{Action, Health, Note, Phase, Seen, StopReason};

/// What the planner is given.
#[derive(Debug, Clone)]
pub struct Situation<'a> {
    /// The service as stored.
    pub service: Service,
    /// The service's tasks: its group, started by one of its deployments.
    pub tasks: &'a [Seen],
    /// Now.
    pub now: Timestamp,
    /// Whether the service's cluster exists (a task is made from it).
    pub cluster: bool,
    /// Whether tasks of each task definition in [`definitions_needed`] can run: `Err` says
    /// why not. A definition missing from the map is not found.
    pub definitions: &'a BTreeMap<String, Result<(), String>>,
    /// The id of a deployment the circuit breaker's rollback makes, if it makes one.
    pub fresh_deployment: String,
}

/// What to do.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The service as it is to be stored (without the events of this pass: those are
    /// [`Action::Note`]s).
    pub service: Service,
    /// In order.
    pub actions: Vec<Action>,
}

impl Plan {
    /// Whether the plan starts or stops tasks (the launcher then has work).
    pub fn queues_work(&self) -> bool {
        self.actions
            .iter()
            .any(|a| matches!(a, Action::Start { .. } | Action::Stop { .. }))
    }
}

/// Plans one reconciliation of a service.
pub fn plan(s: Situation<'_>) -> Plan {
    let Situation {
        service: mut svc,
        tasks: all,
        now,
        cluster,
        definitions,
        fresh_deployment,
    } = s;
    let mut actions = Vec::new();
    let desired = if svc.status == "DRAINING" {
        0
    } else {
        svc.desired
    };
    count(&mut svc, all, now);
    circuit_breaker(&mut svc, desired, now, fresh_deployment, &mut actions);
    let Some(primary) = svc.deployments.first().cloned() else {
        return Plan {
            service: svc,
            actions,
        };
    };
    let conf = svc.deployment_configuration.clone();
    let max_total = (desired * conf.maximum_percent) / 100;
    let min_healthy = (desired * conf.minimum_healthy_percent + 99) / 100;
    let mut wanted: Vec<&Seen> = all.iter().filter(|t| t.active()).collect();
    wanted.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
    let is_primary = |t: &Seen| t.started_by(&primary.id);
    let total_active = n(wanted.len());
    // Tasks told to stop still occupy the host until they are STOPPED: they count against
    // maximumPercent.
    let live = n(all
        .iter()
        .filter(|t| !matches!(t.phase, Phase::Stopped { .. }))
        .count());
    let primary_active = n(wanted.iter().filter(|t| is_primary(t)).count());

    // Rule 3: launches.
    let last_failure = all
        .iter()
        .filter(|t| is_primary(t) && t.failed())
        .filter_map(Seen::stopped_at)
        .max();
    let has_healthy = wanted.iter().any(|t| is_primary(t) && t.healthy());
    let wait_secs = if has_healthy {
        1
    } else {
        primary.failed.min(300)
    };
    let backing_off = last_failure.is_some_and(|at| now.millis() - at.millis() < wait_secs * 1000);
    let unhealthy_primary = n(wanted
        .iter()
        .filter(|t| is_primary(t) && t.unhealthy())
        .count());
    let mut no_room = false;
    let mut starting = 0;
    if primary.rollout_state != "FAILED"
        && primary_active - unhealthy_primary < desired
        && !backing_off
    {
        let room = (max_total.max(desired.min(1)) - live).max(0);
        let missing = (desired - (primary_active - unhealthy_primary)).min(room);
        no_room = room == 0;
        if missing > 0 {
            match definitions.get(&primary.task_definition) {
                Some(Ok(())) if cluster => starting = usize::try_from(missing).unwrap_or(0),
                Some(Ok(())) => {}
                other => {
                    let why = match other {
                        Some(Err(why)) => why.clone(),
                        _ => "TaskDefinition not found.".to_owned(),
                    };
                    if let Some(p) = svc.deployments.first_mut() {
                        p.rollout_state = "FAILED".into();
                        p.rollout_reason = format!("ECS deployment {} failed: {why}", p.id);
                        p.updated_at = now;
                    }
                    actions.push(Action::Note(Note::CannotLaunch {
                        deployment: primary.id.clone(),
                        why,
                    }));
                }
            }
        }
    }
    if starting > 0 {
        actions.push(Action::Start { count: starting });
        actions.push(Action::Note(Note::Started));
        svc.steady = false;
    }

    // Rule 4: stops.
    let healthy_now = n(wanted.iter().filter(|t| t.healthy()).count());
    let mut sick: Vec<&Seen> = Vec::new();
    for t in wanted.iter().filter(|t| t.unhealthy()) {
        if healthy_now < desired && !(no_room && sick.is_empty()) {
            continue;
        }
        sick.push(t);
    }
    let wanted: Vec<&Seen> = wanted
        .into_iter()
        .filter(|t| !sick.iter().any(|u| u.id == t.id))
        .collect();
    let primary_active = primary_active - n(sick.iter().filter(|t| is_primary(t)).count());
    let mut stopping: Vec<&Seen> = Vec::new();
    let mut healthy_count = n(wanted.iter().filter(|t| t.healthy()).count());
    for t in wanted.iter().filter(|t| !is_primary(t)) {
        if !t.healthy() {
            stopping.push(t);
        } else if healthy_count > min_healthy {
            healthy_count -= 1;
            stopping.push(t);
        }
    }
    // Scale-in: the primary's surplus beyond desiredCount, not counting UNHEALTHY tasks kept
    // until their replacements are up (those replacements are not surplus).
    let kept_sick = n(wanted
        .iter()
        .filter(|t| is_primary(t) && t.unhealthy())
        .count());
    let surplus = usize::try_from(primary_active - kept_sick - desired).unwrap_or(0);
    stopping.extend(
        wanted
            .iter()
            .filter(|t| is_primary(t) && !t.unhealthy())
            .rev()
            .take(surplus),
    );
    for t in &sick {
        actions.push(Action::Stop {
            task: t.id.clone(),
            why: StopReason::Unhealthy,
        });
    }
    for t in &stopping {
        actions.push(Action::Stop {
            task: t.id.clone(),
            why: StopReason::Scaling {
                deployment: primary.id.clone(),
            },
        });
    }
    for t in &sick {
        actions.push(Action::Note(Note::FailedHealthChecks {
            task: t.id.clone(),
        }));
    }
    let stopped: Vec<&Seen> = stopping.into_iter().chain(sick).collect();
    if !stopped.is_empty() {
        actions.push(Action::Note(Note::Stopped {
            tasks: stopped.iter().map(|t| t.id.clone()).collect(),
        }));
        svc.steady = false;
    }

    // Rule 5: what is left.
    let stays = |t: &Seen| t.active() && !stopped.iter().any(|s| s.id == t.id);
    let mut first = true;
    svc.deployments.retain(|d| {
        std::mem::take(&mut first) || all.iter().any(|t| t.started_by(&d.id) && stays(t))
    });
    svc.running = svc.deployments.iter().map(|d| d.running).sum();
    svc.pending = svc.deployments.iter().map(|d| d.pending).sum();
    if svc.status == "DRAINING" && total_active == 0 {
        svc.status = "INACTIVE".into();
        svc.running = 0;
        svc.pending = 0;
    }
    let single = svc.deployments.len() == 1;
    // Steady only when the primary's tasks are healthy (by their checks, when they have any).
    let primary_healthy = n(all
        .iter()
        .filter(|t| is_primary(t) && stays(t) && t.healthy())
        .count());
    let (status, steady) = (svc.status.clone(), svc.steady);
    let mut done = None;
    if let Some(p) = svc.deployments.first_mut() {
        if single
            && p.running == desired
            && primary_healthy == desired
            && p.pending == 0
            && starting == 0
            && stopped.is_empty()
        {
            if p.rollout_state == "IN_PROGRESS" {
                p.rollout_state = "COMPLETED".into();
                p.rollout_reason = format!("ECS deployment {} completed.", p.id);
                p.updated_at = now;
                done = Some(completed(p));
            }
            if !steady && status == "ACTIVE" {
                svc.steady = true;
            }
        }
    }
    if let Some(c) = done {
        actions.push(Action::Note(Note::Completed {
            deployment: c.id.clone(),
        }));
        svc.last_completed = Some(c);
    }
    if svc.steady && !steady {
        actions.push(Action::Note(Note::Steady));
    }
    Plan {
        service: svc,
        actions,
    }
}

#[cfg(test)]
mod tests {
    //! Situations and what the planner does about them, as a table. Actions, deployments
    //! and the service's state are written short: `start 2`, `stop o1`, `new FAILED`.
    use super::*;
    use crate::service::record::{Deployment, DeploymentConfiguration};
    use serde_json::json;

    const NEW: &str = "ecs-svc/2000000000000000000";
    const OLD: &str = "ecs-svc/1000000000000000000";
    const FRESH: &str = "ecs-svc/3000000000000000000";
    const TD_NEW: &str = "arn:aws:ecs:us-east-1:111122223333:task-definition/web:2";
    const TD_OLD: &str = "arn:aws:ecs:us-east-1:111122223333:task-definition/web:1";
    const NOW: i64 = 1_000_000;

    fn at(ms: i64) -> Timestamp {
        Timestamp::from_millis(ms)
    }

    fn short(id: &str) -> &str {
        match id {
            NEW => "new",
            OLD => "old",
            FRESH => "fresh",
            other => other,
        }
    }

    fn deployment(id: &str, td: &str, state: &str) -> Deployment {
        Deployment {
            id: id.into(),
            status: if id == NEW { "PRIMARY" } else { "ACTIVE" }.into(),
            task_definition: td.into(),
            network: json!({"subnets": ["subnet-1"]}),
            fargate_key: None,
            running: 0,
            pending: 0,
            failed: 0,
            rollout_state: state.into(),
            rollout_reason: String::new(),
            created_at: at(0),
            updated_at: at(0),
            rollback: false,
        }
    }

    /// Service `web` with `desired` tasks: only the deployment `new` (`rolling`: and `old`,
    /// COMPLETED), no circuit breaker, 200% / 100%; `tweak` changes it.
    fn service(desired: i64, rolling: bool, tweak: impl FnOnce(&mut Service)) -> Service {
        let mut deployments = vec![deployment(NEW, TD_NEW, "IN_PROGRESS")];
        if rolling {
            deployments.push(deployment(OLD, TD_OLD, "COMPLETED"));
        }
        let mut svc = Service {
            account: "111122223333".into(),
            region: "us-east-1".into(),
            cluster: "c".into(),
            name: "web".into(),
            status: "ACTIVE".into(),
            desired,
            running: 0,
            pending: 0,
            task_definition: TD_NEW.into(),
            network: json!({"subnets": ["subnet-1"]}),
            deployment_configuration: DeploymentConfiguration::default(),
            deployments,
            events: Vec::new(),
            created_at: at(0),
            created_by: "test".into(),
            tags: Vec::new(),
            propagate_tags: "NONE".into(),
            platform_version: "LATEST".into(),
            steady: false,
            last_completed: None,
        };
        tweak(&mut svc);
        svc
    }

    fn same(_: &mut Service) {}

    fn breaker(rollback: bool) -> impl Fn(&mut Service) {
        move |s: &mut Service| {
            s.deployment_configuration.circuit_breaker = true;
            s.deployment_configuration.rollback = rollback;
        }
    }

    fn bounds(max: i64, min: i64) -> impl Fn(&mut Service) {
        move |s: &mut Service| {
            s.deployment_configuration.maximum_percent = max;
            s.deployment_configuration.minimum_healthy_percent = min;
        }
    }

    const UP: Phase = Phase::Running(Health::NoChecks);
    const UNCHECKED: Phase = Phase::Running(Health::Unknown);
    const HEALTHY: Phase = Phase::Running(Health::Healthy);
    const SICK: Phase = Phase::Running(Health::Unhealthy);

    /// A task that failed `ago` milliseconds before now.
    fn failed(ago: i64) -> Phase {
        Phase::Stopped {
            failed: true,
            at: Some(at(NOW - ago)),
        }
    }

    /// Tasks `(id, deployment, phase)`, created in this order.
    fn tasks(list: &[(&str, &str, Phase)]) -> Vec<Seen> {
        list.iter()
            .zip(1..)
            .map(|((id, d, phase), created)| Seen {
                id: (*id).into(),
                deployment: (*d).into(),
                created_at: at(created),
                phase: *phase,
            })
            .collect()
    }

    fn show(a: &Action) -> String {
        match a {
            Action::Start { count } => format!("start {count}"),
            Action::Stop {
                task,
                why: StopReason::Scaling { deployment },
            } => format!("stop {task} for {}", short(deployment)),
            Action::Stop {
                task,
                why: StopReason::Unhealthy,
            } => format!("stop {task} unhealthy"),
            Action::Note(Note::BreakerTripped { deployment }) => {
                format!("breaker failed {}", short(deployment))
            }
            Action::Note(Note::RollingBack { to }) => format!("roll back to {}", short(to)),
            Action::Note(Note::CannotLaunch { deployment, why }) => {
                format!("{} cannot launch: {why}", short(deployment))
            }
            Action::Note(Note::Started) => "started".into(),
            Action::Note(Note::FailedHealthChecks { task }) => format!("{task} failed checks"),
            Action::Note(Note::Stopped { tasks }) => format!("stopped {}", tasks.join(" ")),
            Action::Note(Note::Completed { deployment }) => {
                format!("{} completed", short(deployment))
            }
            Action::Note(Note::Steady) => "steady".into(),
        }
    }

    struct Row {
        says: &'static str,
        service: Service,
        tasks: Vec<Seen>,
        cluster: bool,
        /// Whether the task definitions can run.
        verdict: Result<(), String>,
        /// `;`-separated.
        actions: &'static str,
        /// Every deployment left, PRIMARY first, with its rollout state.
        deployments: &'static str,
        /// The service's status, and ` steady` when it is.
        status: &'static str,
    }

    fn row(says: &'static str, service: Service, tasks: Vec<Seen>) -> Row {
        Row {
            says,
            service,
            tasks,
            cluster: true,
            verdict: Ok(()),
            actions: "",
            deployments: "",
            status: "ACTIVE",
        }
    }

    impl Row {
        fn expect(self, actions: &'static str, deployments: &'static str) -> Self {
            Row {
                actions,
                deployments,
                ..self
            }
        }

        fn status(self, status: &'static str) -> Self {
            Row { status, ..self }
        }
    }

    fn table() -> Vec<Row> {
        let three_failures = || {
            tasks(&[
                ("f1", NEW, failed(400_000)),
                ("f2", NEW, failed(300_000)),
                ("f3", NEW, failed(200_000)),
            ])
        };
        let old_up = || tasks(&[("o1", OLD, UP), ("o2", OLD, UP)]);
        vec![
            row(
                "a new service starts its tasks",
                service(2, false, same),
                vec![],
            )
            .expect("start 2; started", "new IN_PROGRESS"),
            row(
                "its tasks RUNNING, the deployment completes and the service is steady",
                service(2, false, same),
                tasks(&[("a", NEW, UP), ("b", NEW, UP)]),
            )
            .expect("new completed; steady", "new COMPLETED")
            .status("ACTIVE steady"),
            row(
                "RUNNING tasks whose checks have not said HEALTHY do not complete it",
                service(1, false, same),
                tasks(&[("a", NEW, UNCHECKED)]),
            )
            .expect("", "new IN_PROGRESS"),
            row(
                "pending tasks are not started twice",
                service(2, false, same),
                tasks(&[("a", NEW, Phase::Starting)]),
            )
            .expect("start 1; started", "new IN_PROGRESS"),
            row(
                "scale-in stops the newest surplus tasks",
                service(1, false, |s| s.steady = true),
                tasks(&[("a", NEW, UP), ("b", NEW, UP), ("c", NEW, UP)]),
            )
            .expect(
                "stop c for new; stop b for new; stopped c b",
                "new IN_PROGRESS",
            ),
            row(
                "a rolling update starts the new tasks within maximumPercent",
                service(2, true, same),
                old_up(),
            )
            .expect("start 2; started", "new IN_PROGRESS, old COMPLETED"),
            row(
                "no room above 100%: an old task stops first, within minimumHealthyPercent",
                service(2, true, bounds(100, 50)),
                old_up(),
            )
            .expect(
                "stop o1 for new; stopped o1",
                "new IN_PROGRESS, old COMPLETED",
            ),
            row(
                "the new tasks up, the old deployment's stop and it is dropped",
                service(2, true, same),
                [old_up(), tasks(&[("n1", NEW, UP), ("n2", NEW, UP)])].concat(),
            )
            .expect(
                "stop o1 for new; stop o2 for new; stopped o1 o2",
                "new IN_PROGRESS",
            ),
            row(
                "an old deployment's task that is not healthy stops at once",
                service(1, true, same),
                tasks(&[("o1", OLD, Phase::Starting)]),
            )
            .expect(
                "start 1; started; stop o1 for new; stopped o1",
                "new IN_PROGRESS",
            ),
            row(
                "a task told to stop still counts against maximumPercent",
                service(1, true, bounds(100, 0)),
                tasks(&[("o1", OLD, Phase::Stopping)]),
            )
            .expect("", "new IN_PROGRESS"),
            row(
                "the circuit breaker fails a deployment at its threshold",
                service(1, false, breaker(false)),
                three_failures(),
            )
            .expect("breaker failed new", "new FAILED"),
            row(
                "with rollback, the service returns to its last completed deployment",
                service(1, true, breaker(true)),
                three_failures(),
            )
            // Neither `new` nor `old` has tasks left: they are no longer listed.
            .expect(
                "breaker failed new; roll back to old; start 1; started",
                "fresh IN_PROGRESS",
            ),
            row(
                "a rollback that fails is not rolled back",
                service(1, true, |s| {
                    breaker(true)(s);
                    s.deployments[0].rollback = true;
                }),
                three_failures(),
            )
            .expect("breaker failed new", "new FAILED"),
            row(
                "a draining service does not roll back, and without tasks it is INACTIVE",
                service(1, true, |s| {
                    breaker(true)(s);
                    s.status = "DRAINING".into();
                }),
                three_failures(),
            )
            .expect("breaker failed new", "new FAILED")
            .status("INACTIVE"),
            row(
                "after n failures launches wait n seconds",
                service(1, false, same),
                tasks(&[
                    ("f1", NEW, failed(9_000)),
                    ("f2", NEW, failed(5_000)),
                    ("f3", NEW, failed(2_000)),
                ]),
            )
            .expect("", "new IN_PROGRESS"),
            row(
                "and launch again once they have passed",
                service(1, false, same),
                tasks(&[
                    ("f1", NEW, failed(9_000)),
                    ("f2", NEW, failed(5_000)),
                    ("f3", NEW, failed(4_000)),
                ]),
            )
            .expect("start 1; started", "new IN_PROGRESS"),
            row(
                "with a healthy task, a failure holds launches back for a second only",
                service(2, false, same),
                tasks(&[("a", NEW, UP), ("f1", NEW, failed(500))]),
            )
            .expect("", "new IN_PROGRESS"),
            row(
                "an UNHEALTHY task is replaced first while there is room",
                service(1, false, same),
                tasks(&[("u", NEW, SICK)]),
            )
            .expect("start 1; started", "new IN_PROGRESS"),
            row(
                "its replacement HEALTHY, the UNHEALTHY task stops",
                service(1, false, same),
                tasks(&[("u", NEW, SICK), ("h", NEW, HEALTHY)]),
            )
            .expect(
                "stop u unhealthy; u failed checks; stopped u",
                "new IN_PROGRESS",
            ),
            row(
                "no room for a replacement: one UNHEALTHY task stops first",
                service(1, false, bounds(100, 0)),
                tasks(&[("u", NEW, SICK)]),
            )
            .expect(
                "stop u unhealthy; u failed checks; stopped u",
                "new IN_PROGRESS",
            ),
            Row {
                verdict: Err("secrets is not supported".into()),
                ..row(
                    "a task definition that cannot run fails the deployment",
                    service(1, false, same),
                    vec![],
                )
            }
            .expect("new cannot launch: secrets is not supported", "new FAILED"),
            Row {
                cluster: false,
                ..row(
                    "without its cluster nothing starts",
                    service(1, false, same),
                    vec![],
                )
            }
            .expect("", "new IN_PROGRESS"),
        ]
    }

    fn run(svc: &Service, tasks: &[Seen], cluster: bool, verdict: &Result<(), String>) -> Plan {
        let definitions = definitions_needed(svc)
            .into_iter()
            .map(|arn| (arn, verdict.clone()))
            .collect();
        plan(Situation {
            service: svc.clone(),
            tasks,
            now: at(NOW),
            cluster,
            definitions: &definitions,
            fresh_deployment: FRESH.into(),
        })
    }

    #[test]
    fn the_reconciler_plans_each_situation() {
        for r in table() {
            let p = run(&r.service, &r.tasks, r.cluster, &r.verdict);
            let actions: Vec<String> = p.actions.iter().map(show).collect();
            assert_eq!(actions.join("; "), r.actions, "{}", r.says);
            let deployments: Vec<String> = p
                .service
                .deployments
                .iter()
                .map(|d| format!("{} {}", short(&d.id), d.rollout_state))
                .collect();
            assert_eq!(deployments.join(", "), r.deployments, "{}", r.says);
            let steady = if p.service.steady { " steady" } else { "" };
            assert_eq!(
                format!("{}{steady}", p.service.status),
                r.status,
                "{}",
                r.says
            );
            assert_eq!(
                p.queues_work(),
                r.actions.contains("start") || r.actions.contains("stop "),
                "{}",
                r.says
            );
        }
    }

    #[test]
    fn counts_failures_and_rollback_details() {
        let svc = service(2, true, breaker(true));
        assert_eq!(definitions_needed(&svc), vec![TD_NEW, TD_OLD]);
        let seen = tasks(&[
            ("o1", OLD, UP),
            ("r1", NEW, UP),
            ("f1", NEW, failed(3_000)),
            ("f2", NEW, failed(2_000)),
            ("f3", NEW, failed(1_000)),
        ]);
        let p = run(&svc, &seen, true, &Ok(()));
        let s = &p.service;
        // The rollback: the old deployment's task definition, a reason naming it.
        assert_eq!(s.task_definition, TD_OLD);
        let d = &s.deployments[0];
        assert!(d.rollback && d.id == FRESH && d.task_definition == TD_OLD);
        assert_eq!(
            d.rollout_reason,
            format!("ECS deployment circuit breaker: rolling back to deploymentId {OLD}.")
        );
        // The failed deployment keeps its healthy task (needed for minimumHealthyPercent), so
        // it is still listed, with its counts.
        let failed = s.deployments.iter().find(|d| d.id == NEW).unwrap();
        assert_eq!((failed.running, failed.pending, failed.failed), (1, 0, 3));
        assert_eq!(failed.rollout_state, "FAILED");
        assert!(failed
            .rollout_reason
            .contains("3 tasks failed (threshold 3)"));
        assert_eq!((s.running, s.pending), (2, 0));
        assert_eq!(
            p.actions[2..],
            [Action::Start { count: 2 }, Action::Note(Note::Started)]
        );
    }
}
