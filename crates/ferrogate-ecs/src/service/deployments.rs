//! Rules 1 and 2 of the plan ([`super::plan`]): each deployment's counts, and the circuit
//! breaker with its rollback to the last completed deployment.

use ferrogate_types::Timestamp;

use super::record::{failure_threshold, Completed, Deployment, Service};
use super::steps::{n, Action, Note, Phase, Seen};

/// The task definitions a plan for `svc` may launch: the PRIMARY's, and the one a rollback
/// would return to.
pub fn definitions_needed(svc: &Service) -> Vec<String> {
    let mut out: Vec<String> = svc
        .deployments
        .first()
        .map(|d| d.task_definition.clone())
        .into_iter()
        .chain(rollback_target(svc, "").map(|c| c.task_definition))
        .collect();
    out.dedup();
    out
}

/// The deployment a rollback from `failed` returns to: the last completed one, or, for a
/// service steady since before those were remembered, the newest COMPLETED deployment still
/// listed.
fn rollback_target(svc: &Service, failed: &str) -> Option<Completed> {
    svc.last_completed
        .clone()
        .or_else(|| {
            svc.deployments
                .iter()
                .skip(1)
                .find(|d| d.rollout_state == "COMPLETED")
                .map(completed)
        })
        .filter(|c| c.id != failed)
}

pub(super) fn completed(d: &Deployment) -> Completed {
    Completed {
        id: d.id.clone(),
        task_definition: d.task_definition.clone(),
        network: d.network.clone(),
        fargate_key: d.fargate_key.clone(),
    }
}

/// Rule 1: each deployment's counts.
pub(super) fn count(svc: &mut Service, all: &[Seen], now: Timestamp) {
    for d in &mut svc.deployments {
        let mine = || all.iter().filter(|t| t.started_by(&d.id));
        let running = n(mine().filter(|t| t.running()).count());
        let pending = n(mine().filter(|t| t.phase == Phase::Starting).count());
        let failed = n(mine().filter(|t| t.failed()).count()).max(d.failed);
        if (running, pending, failed) != (d.running, d.pending, d.failed) {
            (d.running, d.pending, d.failed) = (running, pending, failed);
            d.updated_at = now;
        }
    }
}

/// Rule 2: the circuit breaker, and its rollback.
pub(super) fn circuit_breaker(
    svc: &mut Service,
    desired: i64,
    now: Timestamp,
    fresh: String,
    actions: &mut Vec<Action>,
) {
    let conf = svc.deployment_configuration.clone();
    let may_roll_back = svc.status == "ACTIVE";
    let Some(p) = svc.deployments.first_mut() else {
        return;
    };
    if !conf.circuit_breaker
        || p.rollout_state != "IN_PROGRESS"
        || p.failed < failure_threshold(desired)
    {
        return;
    }
    p.rollout_state = "FAILED".into();
    p.rollout_reason = format!(
        "ECS deployment circuit breaker: tasks failed to start. {} tasks failed (threshold {}).",
        p.failed,
        failure_threshold(desired)
    );
    p.updated_at = now;
    let failed = p.id.clone();
    let roll_back = conf.rollback && !p.rollback && may_roll_back;
    actions.push(Action::Note(Note::BreakerTripped {
        deployment: failed.clone(),
    }));
    let Some(to) = roll_back.then(|| rollback_target(svc, &failed)).flatten() else {
        return;
    };
    // A new PRIMARY deployment of the last completed one's task definition, network and
    // key; the service's task definition and network return to them. Rolling back is not
    // itself rolled back: a failed rollback stays FAILED.
    svc.task_definition.clone_from(&to.task_definition);
    svc.network.clone_from(&to.network);
    svc.deploy(fresh, to.fargate_key.clone(), now);
    if let Some(p) = svc.deployments.first_mut() {
        p.rollback = true;
        // AWS's wording as seen in describe-services output [I].
        p.rollout_reason = format!(
            "ECS deployment circuit breaker: rolling back to deploymentId {}.",
            to.id
        );
    }
    actions.push(Action::Note(Note::RollingBack { to: to.id }));
}
