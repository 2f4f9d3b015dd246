//! Real tasks: namespaces, overlay on an fscrypt volume, cgroups (root only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use ferrogate_runtime::agent::{EventKind, StopCode, TaskState};

fn exit_of(
    events: &[ferrogate_runtime::agent::RuntimeEvent],
) -> ferrogate_runtime::agent::ContainerExit {
    events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::ContainerExited { exit, .. } => Some(exit.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no ContainerExited in {events:#?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_hi_exit_3() {
    if !common::require_root("echo_hi_exit_3") {
        return;
    }
    let (dir, mut agent) = common::agent_with_busybox().await;
    let events = common::run_to_stop(
        &mut agent,
        common::task("t-echo", &["sh", "-c", "echo hi; exit 3"]),
        60,
    )
    .await;
    let states: Vec<TaskState> = events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::StateChanged(s) => Some(s),
            _ => None,
        })
        .collect();
    assert_eq!(
        states,
        [
            TaskState::Provisioning,
            TaskState::Pending,
            TaskState::Running,
            TaskState::Stopping,
            TaskState::Deprovisioning,
            TaskState::Stopped
        ],
        "{events:#?}"
    );
    assert!(events
        .iter()
        .any(|e| matches!(e.kind, EventKind::VolumeReady { size_gib: 20, .. })));
    let exit = exit_of(&events);
    assert_eq!(exit.exit_code, 3);
    assert!(!exit.oom_killed);
    match &events.last().unwrap().kind {
        EventKind::TaskStopped {
            stop_code,
            teardown,
            ..
        } => {
            assert_eq!(*stop_code, StopCode::EssentialContainerExited);
            assert!(teardown.errors.is_empty(), "{teardown:?}");
            assert!(
                teardown.key_removed
                    && !teardown.files_busy
                    && teardown.unmounted
                    && teardown.loop_detached
                    && teardown.image_deleted
                    && teardown.cgroup_removed,
                "{teardown:?}"
            );
        }
        k => panic!("{k:?}"),
    }
    let log = std::fs::read_to_string(dir.path().join("logs/t-echo/main.log")).unwrap();
    assert_eq!(log, "hi\n");
    common::assert_clean(dir.path());
}
