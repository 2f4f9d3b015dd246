//! What the reconciler's planner reads and writes: a service task as it sees it ([`Seen`]),
//! and the steps of a plan ([`Action`]), with the events' wording.

use ferrogate_types::Timestamp;

use super::record::UNHEALTHY_REASON;
use crate::task::Task;

/// `x` as an `i64` count.
pub(super) fn n(x: usize) -> i64 {
    i64::try_from(x).unwrap_or(i64::MAX)
}

/// A service task as the planner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// Its id.
    pub id: String,
    /// The deployment that started it.
    pub deployment: String,
    /// `createdAt`.
    pub created_at: Timestamp,
    /// Where it is.
    pub phase: Phase,
}

/// Where a task is, as far as the scheduler cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Desired RUNNING, not yet RUNNING.
    Starting,
    /// Desired RUNNING and RUNNING.
    Running(Health),
    /// Told to stop, not STOPPED yet: it still occupies the host.
    Stopping,
    /// STOPPED at `at`; `failed` when it counts against its deployment (it failed to start,
    /// an essential container exited, or it failed its health checks).
    Stopped {
        /// Counts against its deployment.
        failed: bool,
        /// `stoppedAt`.
        at: Option<Timestamp>,
    },
}

/// A running task's health.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// No essential container has a health check: RUNNING is healthy.
    NoChecks,
    /// The checks have not said yet.
    Unknown,
    /// HEALTHY.
    Healthy,
    /// UNHEALTHY.
    Unhealthy,
}

impl Seen {
    /// Still wanted: desired RUNNING and not STOPPED.
    pub fn active(&self) -> bool {
        matches!(self.phase, Phase::Starting | Phase::Running(_))
    }

    /// RUNNING (and wanted).
    pub fn running(&self) -> bool {
        matches!(self.phase, Phase::Running(_))
    }

    /// RUNNING, and HEALTHY by its health checks when an essential container has one.
    pub fn healthy(&self) -> bool {
        matches!(
            self.phase,
            Phase::Running(Health::NoChecks | Health::Healthy)
        )
    }

    /// STOPPED, counting against its deployment.
    pub fn failed(&self) -> bool {
        matches!(self.phase, Phase::Stopped { failed: true, .. })
    }

    /// RUNNING and UNHEALTHY by its checks.
    pub fn unhealthy(&self) -> bool {
        self.phase == Phase::Running(Health::Unhealthy)
    }

    /// `stoppedAt` of a STOPPED task.
    pub fn stopped_at(&self) -> Option<Timestamp> {
        match self.phase {
            Phase::Stopped { at, .. } => at,
            _ => None,
        }
    }

    /// Started by deployment `d`.
    pub fn started_by(&self, d: &str) -> bool {
        self.deployment == d
    }

    /// How the planner sees a stored task.
    pub fn of(t: &Task) -> Seen {
        let phase = if t.is_stopped() {
            Phase::Stopped {
                failed: matches!(
                    t.stop_code.as_deref(),
                    Some("TaskFailedToStart" | "EssentialContainerExited")
                ) || t.stopped_reason.as_deref() == Some(UNHEALTHY_REASON),
                at: t.stopped_at,
            }
        } else if t.desired != "RUNNING" {
            Phase::Stopping
        } else if t.last != "RUNNING" {
            Phase::Starting
        } else if !t.has_health_checks() {
            Phase::Running(Health::NoChecks)
        } else {
            Phase::Running(match t.health() {
                "HEALTHY" => Health::Healthy,
                "UNHEALTHY" => Health::Unhealthy,
                _ => Health::Unknown,
            })
        };
        Seen {
            id: t.id.clone(),
            deployment: t.started_by.clone().unwrap_or_default(),
            created_at: t.created_at,
            phase,
        }
    }
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Start this many tasks of the PRIMARY deployment.
    Start {
        /// How many.
        count: usize,
    },
    /// Stop a task (desired STOPPED, `ServiceSchedulerInitiated`).
    Stop {
        /// Its id.
        task: String,
        /// Why.
        why: StopReason,
    },
    /// Record a service event.
    Note(Note),
}

/// Why the scheduler stops a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
    /// Scale-in or the end of an old deployment.
    Scaling {
        /// The PRIMARY deployment's id.
        deployment: String,
    },
    /// Its health checks failed.
    Unhealthy,
}

impl StopReason {
    /// The task's `stoppedReason`.
    pub fn stopped_reason(&self) -> String {
        match self {
            StopReason::Scaling { deployment } => {
                format!("Scaling activity initiated by (deployment {deployment})")
            }
            StopReason::Unhealthy => UNHEALTHY_REASON.to_owned(),
        }
    }
}

/// A service event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// The circuit breaker failed a deployment.
    BreakerTripped {
        /// The deployment.
        deployment: String,
    },
    /// The service rolls back.
    RollingBack {
        /// The completed deployment it returns to.
        to: String,
    },
    /// A deployment cannot launch its tasks.
    CannotLaunch {
        /// The deployment.
        deployment: String,
        /// Why.
        why: String,
    },
    /// The tasks of the [`Action::Start`] before it started.
    Started,
    /// A task failed its health checks.
    FailedHealthChecks {
        /// The task.
        task: String,
    },
    /// Tasks were stopped.
    Stopped {
        /// Their ids.
        tasks: Vec<String>,
    },
    /// A deployment completed.
    Completed {
        /// The deployment.
        deployment: String,
    },
    /// The service reached a steady state.
    Steady,
}

impl Note {
    /// The event's message (AWS's wording) for service `name`; `started` are the ids of the
    /// tasks an [`Action::Start`] made.
    pub fn message(&self, name: &str, started: &[String]) -> String {
        let list = |ids: &[String]| {
            ids.iter()
                .map(|id| format!("(task {id})"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        match self {
            Note::BreakerTripped { deployment } => format!(
                "(service {name}) (deployment {deployment}) deployment failed: tasks failed to start."
            ),
            Note::RollingBack { to } => {
                format!("(service {name}) rolling back to deployment {to}.")
            }
            Note::CannotLaunch { deployment, why } => {
                format!("(service {name}) (deployment {deployment}) deployment failed: {why}")
            }
            Note::Started => format!(
                "(service {name}) has started {} tasks: {}.",
                started.len(),
                list(started)
            ),
            Note::FailedHealthChecks { task } => {
                format!("(service {name}) (task {task}) failed container health checks.")
            }
            Note::Stopped { tasks } => format!(
                "(service {name}) has stopped {} running tasks: {}.",
                tasks.len(),
                list(tasks)
            ),
            Note::Completed { deployment } => {
                format!("(service {name}) (deployment {deployment}) deployment completed.")
            }
            Note::Steady => format!("(service {name}) has reached a steady state."),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NEW: &str = "ecs-svc/2000000000000000000";

    #[test]
    fn events_read_as_aws_writes_them() {
        let started = vec!["a1".to_owned(), "b2".to_owned()];
        for (n, m) in [
            (
                Note::Started,
                "(service web) has started 2 tasks: (task a1) (task b2).",
            ),
            (
                Note::Stopped {
                    tasks: vec!["c3".into()],
                },
                "(service web) has stopped 1 running tasks: (task c3).",
            ),
            (Note::Steady, "(service web) has reached a steady state."),
            (
                Note::Completed {
                    deployment: NEW.into(),
                },
                "(service web) (deployment ecs-svc/2000000000000000000) deployment completed.",
            ),
        ] {
            assert_eq!(n.message("web", &started), m);
        }
        assert_eq!(
            StopReason::Unhealthy.stopped_reason(),
            "Task failed container health checks"
        );
    }
}
