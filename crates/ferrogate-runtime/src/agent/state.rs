//! The task lifecycle as the agent sees it, named after ECS `lastStatus`
//! (PROVISIONING → PENDING → RUNNING → STOPPING → DEPROVISIONING → STOPPED),
//! with youki-style `can_*` predicates and one transition function.

use serde::{Deserialize, Serialize};

/// Where a task is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskState {
    /// Resolving images, creating cgroups and the encrypted volume.
    Provisioning,
    /// Volume ready; containers starting.
    Pending,
    /// Every container started.
    Running,
    /// Containers being signalled (SIGTERM, then SIGKILL after stopTimeout).
    Stopping,
    /// Key removal, unmount, loop detach, image deletion, cgroup removal.
    Deprovisioning,
    /// Nothing of the task is left but its logs.
    Stopped,
}

/// What happens to a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TaskEvent {
    /// The encrypted volume is mounted and sealed.
    VolumeReady,
    /// Every container exec'd.
    AllContainersStarted,
    /// Provisioning or a container start failed.
    StartFailed,
    /// StopTask (or agent shutdown).
    StopRequested,
    /// An essential container exited (or all containers did).
    EssentialExited,
    /// No process of the task is left.
    ProcessesGone,
    /// Teardown finished.
    TornDown,
}

/// A transition the lifecycle does not allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("task cannot go from {from:?} on {event:?}")]
pub struct InvalidTransition {
    /// State.
    pub from: TaskState,
    /// Event.
    pub event: TaskEvent,
}

impl TaskState {
    /// Containers may be started.
    pub fn can_start_containers(self) -> bool {
        matches!(self, TaskState::Pending)
    }
    /// A stop request changes something.
    pub fn can_stop(self) -> bool {
        matches!(
            self,
            TaskState::Provisioning | TaskState::Pending | TaskState::Running
        )
    }
    /// Signals may be delivered to containers.
    pub fn can_signal(self) -> bool {
        matches!(
            self,
            TaskState::Pending | TaskState::Running | TaskState::Stopping
        )
    }
    /// Resources may be torn down.
    pub fn can_deprovision(self) -> bool {
        matches!(self, TaskState::Deprovisioning)
    }
    /// Final.
    pub fn is_terminal(self) -> bool {
        matches!(self, TaskState::Stopped)
    }

    /// The one transition function.
    pub fn transition(self, event: TaskEvent) -> Result<TaskState, InvalidTransition> {
        use TaskEvent as E;
        use TaskState as S;
        let next = match (self, event) {
            (S::Provisioning, E::VolumeReady) => S::Pending,
            (S::Provisioning, E::StartFailed) => S::Deprovisioning,
            (S::Provisioning, E::StopRequested) => S::Stopping,
            (S::Pending, E::AllContainersStarted) => S::Running,
            (S::Pending | S::Running, E::StartFailed | E::StopRequested | E::EssentialExited) => {
                S::Stopping
            }
            (S::Stopping, E::StopRequested | E::EssentialExited | E::StartFailed) => S::Stopping,
            (S::Stopping, E::ProcessesGone) => S::Deprovisioning,
            (S::Deprovisioning, E::StopRequested) => S::Deprovisioning,
            (S::Deprovisioning, E::TornDown) => S::Stopped,
            (from, event) => return Err(InvalidTransition { from, event }),
        };
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TaskEvent as E;
    use TaskState as S;

    const STATES: [S; 6] = [
        S::Provisioning,
        S::Pending,
        S::Running,
        S::Stopping,
        S::Deprovisioning,
        S::Stopped,
    ];
    const EVENTS: [E; 7] = [
        E::VolumeReady,
        E::AllContainersStarted,
        E::StartFailed,
        E::StopRequested,
        E::EssentialExited,
        E::ProcessesGone,
        E::TornDown,
    ];

    /// Every (state, event) pair, spelled out.
    #[test]
    fn exhaustive_transition_table() {
        let x = None;
        let table: [(S, [Option<S>; 7]); 6] = [
            (
                S::Provisioning,
                [
                    Some(S::Pending),
                    x,
                    Some(S::Deprovisioning),
                    Some(S::Stopping),
                    x,
                    x,
                    x,
                ],
            ),
            (
                S::Pending,
                [
                    x,
                    Some(S::Running),
                    Some(S::Stopping),
                    Some(S::Stopping),
                    Some(S::Stopping),
                    x,
                    x,
                ],
            ),
            (
                S::Running,
                [
                    x,
                    x,
                    Some(S::Stopping),
                    Some(S::Stopping),
                    Some(S::Stopping),
                    x,
                    x,
                ],
            ),
            (
                S::Stopping,
                [
                    x,
                    x,
                    Some(S::Stopping),
                    Some(S::Stopping),
                    Some(S::Stopping),
                    Some(S::Deprovisioning),
                    x,
                ],
            ),
            (
                S::Deprovisioning,
                [x, x, x, Some(S::Deprovisioning), x, x, Some(S::Stopped)],
            ),
            (S::Stopped, [x, x, x, x, x, x, x]),
        ];
        for (state, row) in table {
            for (event, expected) in EVENTS.iter().zip(row) {
                assert_eq!(
                    state.transition(*event).ok(),
                    expected,
                    "{state:?} on {event:?}"
                );
            }
        }
    }

    #[test]
    fn predicate_tables() {
        let rows = [
            // state, start, stop, signal, deprovision, terminal
            (S::Provisioning, false, true, false, false, false),
            (S::Pending, true, true, true, false, false),
            (S::Running, false, true, true, false, false),
            (S::Stopping, false, false, true, false, false),
            (S::Deprovisioning, false, false, false, true, false),
            (S::Stopped, false, false, false, false, true),
        ];
        for (s, start, stop, signal, deprov, term) in rows {
            assert_eq!(s.can_start_containers(), start, "{s:?}");
            assert_eq!(s.can_stop(), stop, "{s:?}");
            assert_eq!(s.can_signal(), signal, "{s:?}");
            assert_eq!(s.can_deprovision(), deprov, "{s:?}");
            assert_eq!(s.is_terminal(), term, "{s:?}");
        }
        assert_eq!(STATES.len(), 6);
    }

    #[test]
    fn every_state_reaches_stopped() {
        for s in STATES {
            let mut cur = s;
            for e in [E::StopRequested, E::ProcessesGone, E::TornDown] {
                if let Ok(n) = cur.transition(e) {
                    cur = n;
                }
            }
            if cur == S::Provisioning || cur == S::Pending {
                unreachable!();
            }
            assert!(
                cur == S::Stopped || s == S::Stopped,
                "{s:?} ended in {cur:?}"
            );
        }
    }

    #[test]
    fn serializes_as_ecs_spells_it() {
        assert_eq!(
            serde_json::to_string(&S::Deprovisioning).unwrap(),
            "\"DEPROVISIONING\""
        );
    }
}
