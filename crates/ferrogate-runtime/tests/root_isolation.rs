//! Container root is not host root (root only): each test reproduces an attack a hostile
//! task made on the sandbox before user namespaces, and shows it no longer works.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::MetadataExt;

use ferrogate_runtime::agent::{EventKind, RuntimeCommand, StopCode};
use ferrogate_runtime::idrange::{IdPool, RANGE_SIZE};

/// Runs `script` as the container's root in busybox and returns its log.
async fn run_root_script(id: &str, script: &str) -> String {
    common::run_script(id, script, None).await.0
}

/// The container's root is uid 0 of the task's own user namespace, mapped onto an
/// unprivileged range of host ids; its files keep their in-image owners inside; it still
/// has its capabilities inside (chown works on its own files), and the init's
/// `oom_score_adj` and `/proc/1` are out of its reach.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn container_root_is_an_unprivileged_host_user() {
    if !common::require_root("container_root_is_an_unprivileged_host_user") {
        return;
    }
    let log = run_root_script(
        "t-userns",
        "id -u; cat /proc/self/uid_map; cat /proc/self/gid_map; \
         stat -c 'bin=%u:%g' /bin/busybox; \
         touch /tmp/mine && chown 1000:1000 /tmp/mine && stat -c 'chown=%u:%g' /tmp/mine; \
         echo 1000 > /proc/1/oom_score_adj 2>/dev/null && echo oom-written || echo oom-refused; \
         ls /proc/1/root/ >/dev/null 2>&1 && echo init-root-readable || echo init-root-refused; \
         cat /proc/1/environ >/dev/null 2>&1 && echo init-environ-readable || echo init-environ-refused",
    )
    .await;
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.first(), Some(&"0"), "{log}");
    for map in [lines[1], lines[2]] {
        let f: Vec<u64> = map.split_whitespace().map(|x| x.parse().unwrap()).collect();
        assert_eq!(f[0], 0, "{log}");
        assert!(f[1] >= 1 << 20, "host base {} is privileged: {log}", f[1]);
        assert_eq!(f[2], u64::from(RANGE_SIZE), "{log}");
    }
    assert!(log.contains("bin=0:0"), "in-image owners kept: {log}");
    assert!(log.contains("chown=1000:1000"), "{log}");
    assert!(log.contains("oom-refused"), "{log}");
    assert!(log.contains("init-root-refused"), "{log}");
    assert!(log.contains("init-environ-refused"), "{log}");
}

/// stdin is a pipe, not the host's /dev/null: container root cannot chmod or chown the
/// descriptor it was given (before user namespaces, `fchmod(0, 0)` broke every non-root
/// service on the host).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_host_file_is_handed_to_a_container() {
    if !common::require_root("no_host_file_is_handed_to_a_container") {
        return;
    }
    let before = std::fs::metadata("/dev/null").unwrap();
    // chmod to the mode it already has: harmless on the host even where it succeeds.
    let log = run_root_script(
        "t-stdio",
        "for fd in 0 1 2; do stat -L -c \"fd$fd=%F\" /proc/self/fd/$fd; done; \
         chmod 666 /proc/self/fd/0 2>/dev/null && echo chmod0-ok || echo chmod0-refused; \
         chown 0:0 /proc/self/fd/0 2>/dev/null && echo chown0-ok || echo chown0-refused; \
         chmod 640 /proc/self/fd/1 2>/dev/null && echo chmod1-ok || echo chmod1-refused; \
         ls /proc/self/fd",
    )
    .await;
    for fd in 0..3 {
        assert!(log.contains(&format!("fd{fd}=fifo")), "{log}");
    }
    for refused in ["chmod0-refused", "chown0-refused", "chmod1-refused"] {
        assert!(log.contains(refused), "{log}");
    }
    let fds: Vec<&str> = log
        .lines()
        .skip_while(|l| !l.starts_with("chmod1"))
        .skip(1)
        .collect();
    // 0, 1, 2 and the descriptor ls itself opened on the directory.
    assert!(
        fds.len() <= 4,
        "descriptors beyond stdio reached the container: {fds:?}"
    );
    let after = std::fs::metadata("/dev/null").unwrap();
    assert_eq!(before.mode(), after.mode());
    assert_eq!((before.uid(), before.gid()), (after.uid(), after.gid()));
}

/// A container's output goes through a pipe to the agent: whatever the container does to
/// its stdout (chmod, fallocate, truncate) reaches no file of the host, and every line
/// reaches the log driver, in order, before the task is reported stopped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn container_output_is_a_pipe() {
    if !common::require_root("container_output_is_a_pipe") {
        return;
    }
    let dir = common::data_dir();
    let archive = dir.path().join("busybox.tar");
    common::fixture::docker_save_archive(&archive);
    ferrogate_runtime::image::load(dir.path(), &archive, &[]).unwrap();
    let cfg = common::config(dir.path());
    let mut agent = ferrogate_runtime::agent::start_agent(cfg).await.unwrap();
    let script = "echo start; \
         chmod 4777 /proc/self/fd/1 2>/dev/null && echo chmod-ok; \
         fallocate -l 1G /proc/self/fd/1 2>/dev/null && echo fallocate-ok; \
         truncate -s 0 /proc/self/fd/1 2>/dev/null && echo truncate-ok; \
         i=0; while [ $i -lt 4000 ]; do echo 'line of output'; i=$((i+1)); done; \
         echo done >&2";
    let events =
        common::run_to_stop(&mut agent, common::task("t-out", &["sh", "-c", script]), 60).await;
    let (code, reason) = common::stopped_clean(&events);
    assert_eq!(code, StopCode::EssentialContainerExited, "{reason}");
    let log = std::fs::read_to_string(dir.path().join("logs/t-out/main.log")).unwrap();
    assert!(log.starts_with("start\n"), "{}", &log[..log.len().min(200)]);
    for ok in ["chmod-ok", "fallocate-ok", "truncate-ok"] {
        assert!(!log.contains(ok), "{ok}");
    }
    assert_eq!(log.matches("line of output\n").count(), 4000);
    assert!(
        log.ends_with("done\n"),
        "every line reached the driver before the stop"
    );
    common::assert_clean(dir.path());
}

/// Its own cgroup namespace (no host hierarchy path), no block devices in /sys (their
/// `backing_file` names the host data directory and other tasks' volumes), and no
/// device uevents.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_paths_and_other_tasks_stay_hidden() {
    if !common::require_root("host_paths_and_other_tasks_stay_hidden") {
        return;
    }
    let log = run_root_script(
        "t-hidden",
        "cat /proc/self/cgroup; echo block=$(ls -A /sys/block | wc -l); \
         cat /sys/devices/virtual/block/loop*/loop/backing_file 2>/dev/null; \
         grep -rh backing /sys/class/block 2>/dev/null; echo end",
    )
    .await;
    for line in log.lines().take_while(|l| !l.starts_with("block=")) {
        let path = line.rsplit(':').next().unwrap_or_default();
        assert_eq!(path, "/", "cgroup path visible: {log}");
        assert!(!line.contains("ferrogate"), "{log}");
    }
    assert!(log.contains("block=0\n"), "{log}");
    assert!(!log.contains(".img"), "a volume image path leaked: {log}");
    assert!(!log.contains("/tmp/"), "a host path leaked: {log}");
}

/// Ranges never overlap: two tasks at once get two ranges, and a task of a pool with no
/// free range fails to start with a reason that says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_task_gets_its_own_range() {
    if !common::require_root("each_task_gets_its_own_range") {
        return;
    }
    let dir = common::data_dir();
    let archive = dir.path().join("busybox.tar");
    common::fixture::docker_save_archive(&archive);
    ferrogate_runtime::image::load(dir.path(), &archive, &[]).unwrap();
    let locks = tempfile::tempdir().unwrap();
    let mut cfg = common::config(dir.path());
    cfg.id_pool = IdPool {
        first_id: 1 << 30,
        slots: 2,
        lock_dir: locks.path().to_owned(),
    };
    let mut agent = ferrogate_runtime::agent::start_agent(cfg).await.unwrap();
    for id in ["t-r1", "t-r2", "t-r3"] {
        agent
            .commands
            .send(RuntimeCommand::StartTask(Box::new(common::task(
                id,
                &["sh", "-c", "cat /proc/self/uid_map; sleep 5"],
            ))))
            .await
            .unwrap();
    }
    let mut stopped_ids = Vec::new();
    let events = common::until(&mut agent, 60, |e| {
        if matches!(e.kind, EventKind::TaskStopped { .. }) {
            stopped_ids.push(e.task_id.clone());
        }
        stopped_ids.len() == 3
    })
    .await;
    let reasons: Vec<String> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::TaskStopped {
                stop_code: StopCode::TaskFailedToStart,
                reason,
                ..
            } => Some(reason.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(reasons.len(), 1, "{events:#?}");
    assert!(reasons[0].contains("id range"), "{reasons:?}");
    let mut bases = Vec::new();
    for id in ["t-r1", "t-r2", "t-r3"] {
        if let Ok(log) = std::fs::read_to_string(dir.path().join(format!("logs/{id}/main.log"))) {
            if let Some(b) = log.split_whitespace().nth(1) {
                bases.push(b.parse::<u32>().unwrap());
            }
        }
    }
    bases.sort_unstable();
    assert_eq!(bases, [1 << 30, (1 << 30) + RANGE_SIZE], "{bases:?}");
    common::assert_clean(dir.path());
}
