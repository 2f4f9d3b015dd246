//! Real tasks: namespaces, overlay on an encrypted volume, cgroups (root only).
//! Tests about volumes (scans, teardown, recovery) run on both backends.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::stopped;

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

async fn echo_hi_exit_3(backend: common::Backend) {
    if !common::require_root("echo_hi_exit_3") {
        return;
    }
    let (dir, mut agent) = common::agent_with_busybox_on(backend).await;
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
crate::per_backend_async!(echo_hi_exit_3);

use std::io::{BufRead, BufReader};
use std::time::Duration;

use ferrogate_runtime::agent::{ContainerSpec, MountPoint, RuntimeCommand};
use ferrogate_runtime::volume::inspect::scan_allocated;
use ferrogate_runtime::volume::{MountedVolume, PlaintextControlVolume, VolumeSpec};
use ferrogate_runtime::{ContainerName, DataKey, DataLayout, TaskId, VolumeId, VolumeName};

async fn wait_for_log(path: &std::path::Path, needle: &str, secs: u64) -> String {
    for _ in 0..secs * 20 {
        if let Ok(s) = std::fs::read_to_string(path) {
            if s.contains(needle) {
                return s;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "{needle:?} never appeared in {}: {:?}",
        path.display(),
        std::fs::read_to_string(path)
    );
}

/// The marker test: contents, file names and directory names written by the
/// task (in /tmp, the writable layer, and a task volume) never appear in clear
/// in the backing image, while the task runs or after it stopped (scanned
/// through an fd held open past deletion, so every block the filesystem ever
/// wrote is covered). A plaintext control volume written the same way proves
/// the scan works. On XTS the filesystem's own metadata (`lost+found`) is not
/// in clear either; on fscrypt it is, as documented.
async fn marker_never_in_clear_on_the_volume(backend: common::Backend) {
    if !common::require_root("marker_never_in_clear_on_the_volume") {
        return;
    }
    let (dir, mut agent) = common::agent_with_busybox_on(backend).await;
    let marker = format!(
        "FGMARK{}x{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let script = format!(
        "M={marker}; for i in $(seq 1 200); do echo $M; done > /tmp/$M-tmp; echo $M > /$M-root; echo $M > /scratch/$M-vol; mkdir /tmp/$M-dir /scratch/$M-voldir; touch /scratch/$M-voldir/$M-nested; sync; echo ready; exec sleep 1000"
    );
    // Names on their own: none of these strings is in any file's contents.
    let names: Vec<String> = ["-tmp", "-root", "-vol", "-dir", "-voldir", "-nested"]
        .iter()
        .map(|s| format!("{marker}{s}"))
        .collect();
    let mut spec = common::task("t-marker", &["sh", "-c", &script]);
    spec.volumes = vec![VolumeName::new("scratch").unwrap()];
    spec.containers[0].mount_points = vec![MountPoint {
        source_volume: VolumeName::new("scratch").unwrap(),
        container_path: "/scratch".into(),
        read_only: false,
    }];
    spec.containers[0].stop_timeout = Some(Duration::from_secs(2));
    agent
        .commands
        .send(RuntimeCommand::StartTask(Box::new(spec)))
        .await
        .unwrap();
    wait_for_log(&dir.path().join("logs/t-marker/main.log"), "ready", 30).await;
    let img_path = dir.path().join("volumes/vol-t-marker.img");
    let held = std::fs::File::open(&img_path).unwrap();
    let fd_path = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&held));
    // Push dirty pages to the backing file before scanning.
    std::process::Command::new("sync").status().unwrap();
    let running = scan_allocated(std::path::Path::new(&fd_path), marker.as_bytes()).unwrap();
    assert!(running.scanned_bytes > 0);
    assert_eq!(
        running.hits, 0,
        "marker in clear while running: {running:?}"
    );
    for n in &names {
        let r = scan_allocated(std::path::Path::new(&fd_path), n.as_bytes()).unwrap();
        assert_eq!(r.hits, 0, "name {n} in clear while running: {r:?}");
    }
    let meta = scan_allocated(std::path::Path::new(&fd_path), b"lost+found").unwrap();
    match backend {
        common::Backend::Xts => assert_eq!(meta.hits, 0, "XTS hides metadata: {meta:?}"),
        common::Backend::Fscrypt => assert!(meta.hits > 0, "fscrypt leaves it: {meta:?}"),
    }

    agent
        .commands
        .send(RuntimeCommand::StopTask {
            task_id: TaskId::new("t-marker").unwrap(),
            reason: "test".into(),
        })
        .await
        .unwrap();
    let events = common::until(&mut agent, 60, |e| {
        matches!(e.kind, EventKind::TaskStopped { .. })
    })
    .await;
    let (code, _, teardown) = stopped(&events);
    assert_eq!(code, StopCode::UserInitiated);
    assert!(
        teardown.errors.is_empty() && teardown.key_removed && !teardown.files_busy,
        "{teardown:?}"
    );
    assert!(!img_path.exists());
    let after = scan_allocated(std::path::Path::new(&fd_path), marker.as_bytes()).unwrap();
    assert_eq!(after.hits, 0, "marker in clear after stop: {after:?}");
    drop(held);
    common::assert_clean(dir.path());

    // Positive control: same filesystem setup, no encryption.
    let layout = DataLayout::new(dir.path());
    let ctl = MountedVolume::provision(
        Box::new(PlaintextControlVolume::new(
            ferrogate_runtime::host::find_mkfs_ext4(),
        )),
        &layout,
        VolumeSpec {
            volume_id: VolumeId::new("vol-control").unwrap(),
            size_gib: 20,
            data_key: DataKey::generate().unwrap(),
        },
    )
    .unwrap();
    std::fs::write(
        ctl.data_dir().join(format!("{marker}-tmp")),
        format!("{marker}\n").repeat(200),
    )
    .unwrap();
    std::fs::create_dir(ctl.data_dir().join(format!("{marker}-dir"))).unwrap();
    std::process::Command::new("sync").status().unwrap();
    let c = scan_allocated(ctl.image_path().unwrap(), marker.as_bytes()).unwrap();
    assert!(
        c.hits >= 200,
        "the scan must find the marker on the control volume: {c:?}"
    );
    for n in [&names[0], &names[3]] {
        let c = scan_allocated(ctl.image_path().unwrap(), n.as_bytes()).unwrap();
        assert!(
            c.hits >= 1,
            "the scan must find the name {n} on the control volume: {c:?}"
        );
    }
    ctl.destroy().unwrap();
}
crate::per_backend_async!(marker_never_in_clear_on_the_volume);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_limit_kills_with_oom_event() {
    if !common::require_root("memory_limit_kills_with_oom_event") {
        return;
    }
    let (dir, mut agent) = common::agent_with_busybox().await;
    let mut spec = common::task("t-oom", &["awk", "BEGIN { s = \"x\"; while (1) s = s s }"]);
    spec.memory_mib = Some(64);
    let events = common::run_to_stop(&mut agent, spec, 60).await;
    let exit = exit_of(&events);
    assert!(exit.oom_killed, "{events:#?}");
    assert_eq!(exit.exit_code, 137);
    assert_eq!(
        exit.reason.as_deref(),
        Some("OutOfMemoryError: Container killed due to memory usage")
    );
    let (code, _, teardown) = stopped(&events);
    assert_eq!(code, StopCode::EssentialContainerExited);
    assert!(teardown.errors.is_empty(), "{teardown:?}");
    common::assert_clean(dir.path());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_sees_only_itself() {
    if !common::require_root("task_sees_only_itself") {
        return;
    }
    let (dir, mut agent) = common::agent_with_busybox().await;
    let secret = dir.path().join("host-secret.txt");
    std::fs::write(&secret, "HOST-ONLY-CONTENT").unwrap();
    let script = format!(
        "cat /proc/1/environ 2>&1; echo pids=$(ls /proc | grep -c '^[0-9]'); ps; echo host=$(hostname); cat {} 2>&1; ls /; id; cat /proc/self/status | grep -E '^(CapEff|NoNewPrivs|Seccomp):'; mount -t tmpfs x /mnt 2>&1; echo done",
        secret.display()
    );
    let mut spec = common::task("t-iso", &["sh", "-c", &script]);
    spec.containers[0].user = Some("app".into());
    let events = common::run_to_stop(&mut agent, spec, 60).await;
    assert_eq!(exit_of(&events).exit_code, 0, "{events:#?}");
    let log = std::fs::read_to_string(dir.path().join("logs/t-iso/main.log")).unwrap();
    let pids: usize = log
        .lines()
        .find_map(|l| l.strip_prefix("pids="))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // The init, sh, and the ls/grep of this very pipeline.
    assert!(pids <= 5, "saw {pids} processes:\n{log}");
    assert!(
        !log.contains("process_api") && !log.contains("cargo") && !log.contains("root_task"),
        "{log}"
    );
    assert!(
        !log.contains("HOST-ONLY-CONTENT") && log.contains("No such file"),
        "{log}"
    );
    assert!(log.contains("host=ip-t-iso"), "{log}");
    assert!(log.contains("uid=1000(app) gid=1000(app)"), "{log}");
    assert!(
        log.contains("CapEff:\t0000000000000000"),
        "non-root user keeps no capabilities:\n{log}"
    );
    assert!(
        log.contains("NoNewPrivs:\t1") && log.contains("Seccomp:\t2"),
        "{log}"
    );
    assert!(log.contains("done"));
    // PID 1 (the init) shows no host path and hides its environment.
    assert!(
        log.contains("ferrogate-init __ferrogate-sandbox-init")
            && !log.contains(env!("CARGO_BIN_EXE_ferrogate-sandbox-init")),
        "{log}"
    );
    assert!(log.contains("/proc/1/environ': Permission denied"), "{log}");
    assert!(!log.lines().any(|l| l.starts_with("x on /mnt")), "{log}");
    common::assert_clean(dir.path());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_sends_sigterm_then_sigkill_after_stop_timeout() {
    if !common::require_root("stop_sends_sigterm_then_sigkill_after_stop_timeout") {
        return;
    }
    let (dir, mut agent) = common::agent_with_busybox().await;
    let mut spec = common::task(
        "t-stop",
        &[
            "sh",
            "-c",
            "trap '' TERM; echo ready; while true; do sleep 1; done",
        ],
    );
    spec.containers[0].stop_timeout = Some(Duration::from_secs(1));
    let mut polite = ContainerSpec::new(ContainerName::new("polite").unwrap(), "busybox");
    polite.command = Some(vec!["sleep".into(), "1000".into()]);
    polite.essential = false;
    spec.containers.push(polite);
    agent
        .commands
        .send(RuntimeCommand::StartTask(Box::new(spec)))
        .await
        .unwrap();
    wait_for_log(&dir.path().join("logs/t-stop/main.log"), "ready", 30).await;
    let t0 = std::time::Instant::now();
    agent
        .commands
        .send(RuntimeCommand::StopTask {
            task_id: TaskId::new("t-stop").unwrap(),
            reason: "Scaling down".into(),
        })
        .await
        .unwrap();
    let events = common::until(&mut agent, 60, |e| {
        matches!(e.kind, EventKind::TaskStopped { .. })
    })
    .await;
    let elapsed = t0.elapsed();
    let exits: Vec<(String, i32)> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::ContainerExited { container, exit } => {
                Some((container.to_string(), exit.exit_code))
            }
            _ => None,
        })
        .collect();
    assert!(
        exits.contains(&("polite".into(), 143)),
        "SIGTERM ends sleep: {exits:?}"
    );
    assert!(
        exits.contains(&("main".into(), 137)),
        "SIGKILL after stopTimeout: {exits:?}"
    );
    assert!(elapsed >= Duration::from_millis(900), "{elapsed:?}");
    let (code, reason, teardown) = stopped(&events);
    assert_eq!(
        (code, reason.as_str()),
        (StopCode::UserInitiated, "Scaling down")
    );
    assert!(teardown.errors.is_empty(), "{teardown:?}");
    common::assert_clean(dir.path());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oci_layout_image_runs_and_missing_image_fails_to_start() {
    if !common::require_root("oci_layout_image_runs_and_missing_image_fails_to_start") {
        return;
    }
    let (dir, mut agent) = common::agent_with_busybox().await;
    let oci = dir.path().join("oci.tar");
    common::fixture::oci_archive(&oci, "public.ecr.aws/docker/library/busybox:oci");
    ferrogate_runtime::image::load(dir.path(), &oci, &[]).unwrap();
    let mut spec = common::task("t-oci", &["sh", "-c", "echo from-oci"]);
    spec.containers[0].image = "public.ecr.aws/docker/library/busybox:oci".into();
    let events = common::run_to_stop(&mut agent, spec, 60).await;
    assert_eq!(exit_of(&events).exit_code, 0);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("logs/t-oci/main.log")).unwrap(),
        "from-oci\n"
    );

    let mut spec = common::task("t-missing", &["true"]);
    spec.containers[0].image = "nothere:1".into();
    let events = common::run_to_stop(&mut agent, spec, 60).await;
    let (code, reason, _) = stopped(&events);
    assert_eq!(code, StopCode::TaskFailedToStart);
    assert!(reason.starts_with("CannotPullContainerError:"), "{reason}");

    let events = common::run_to_stop(&mut agent, common::task("t-noexec", &["/nope"]), 60).await;
    let (code, reason, teardown) = stopped(&events);
    assert_eq!(code, StopCode::TaskFailedToStart);
    assert!(reason.starts_with("CannotStartContainerError:"), "{reason}");
    assert!(teardown.errors.is_empty(), "{teardown:?}");
    common::assert_clean(dir.path());
}

/// kill -9 of the agent mid-task; a new agent on the same data directory
/// destroys everything and reports the task as stopped.
async fn agent_kill_9_then_restart_leaves_nothing(backend: common::Backend) {
    if !common::require_root("agent_kill_9_then_restart_leaves_nothing") {
        return;
    }
    let dir = common::data_dir();
    let archive = dir.path().join("busybox.tar");
    common::fixture::docker_save_archive(&archive);
    ferrogate_runtime::image::load(dir.path(), &archive, &[]).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ferrogate-runtime-test-agent"))
        .args([dir.path().to_str().unwrap(), "t-crash", "busybox"])
        .env(
            "FERROGATE_TEST_VOLUME_BACKEND",
            backend.choice().to_string(),
        )
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "RUNNING");
    let img = dir.path().join("volumes/vol-t-crash.img");
    assert!(img.exists());
    assert_eq!(common::loops_backed_under(dir.path()).len(), 1);
    assert!(dir.path().join("runtime/tasks/t-crash.json").exists());
    let xts_mount = dir.path().join("xts/vol-t-crash");
    assert_eq!(xts_mount.exists(), backend == common::Backend::Xts);
    // SIGKILL: no destructor, no teardown.
    child.kill().unwrap();
    child.wait().unwrap();
    if backend == common::Backend::Xts {
        // The server (threads of the dead agent) and its key are gone: what
        // is left answers ENOTCONN, and the image is ciphertext nobody can
        // decrypt any more.
        let e = std::fs::metadata(xts_mount.join("disk")).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOTCONN), "{e}");
    }

    let mut agent = ferrogate_runtime::agent::start_agent(common::config_on(dir.path(), backend))
        .await
        .unwrap();
    let ev = tokio::time::timeout(Duration::from_secs(10), agent.events.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ev.task_id.as_str(), "t-crash");
    match ev.kind {
        EventKind::TaskStopped {
            stop_code,
            teardown,
            ..
        } => {
            assert_eq!(stop_code, StopCode::TaskLost);
            assert!(
                teardown.key_removed
                    && teardown.unmounted
                    && teardown.loop_detached
                    && teardown.image_deleted
                    && teardown.cgroup_removed,
                "{teardown:?}"
            );
            assert!(teardown.errors.is_empty(), "{teardown:?}");
        }
        k => panic!("{k:?}"),
    }
    let r = &agent.recovery;
    assert_eq!(r.lost_tasks, ["t-crash"]);
    assert!(r.errors.is_empty(), "{r:?}");
    assert!(
        r.images_deleted
            .iter()
            .any(|p| p.ends_with("vol-t-crash.img")),
        "{r:?}"
    );
    assert_eq!(r.cgroups_removed, ["t-crash"]);
    if backend == common::Backend::Xts {
        assert!(r.unmounted.contains(&xts_mount), "{r:?}");
        assert!(!xts_mount.exists());
    }
    common::assert_clean(dir.path());
    // The data directory is usable again.
    let events = common::run_to_stop(&mut agent, common::task("t-after", &["true"]), 60).await;
    assert_eq!(exit_of(&events).exit_code, 0);
    common::assert_clean(dir.path());
}
crate::per_backend_async!(agent_kill_9_then_restart_leaves_nothing);

fn ns_line(log: &str, kind: &str) -> String {
    log.lines()
        .find(|l| l.starts_with(&format!("{kind}:[")))
        .unwrap_or_else(|| panic!("no {kind} in {log}"))
        .to_owned()
}

/// Containers of one task share net, ipc, uts and pid namespaces and have
/// their own mount namespace; two tasks share nothing. Stopping one task
/// while another runs tears it down completely (no other namespace pins its
/// volume).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespaces_shared_within_a_task_and_separate_between_tasks() {
    if !common::require_root("namespaces_shared_within_a_task_and_separate_between_tasks") {
        return;
    }
    let (dir, mut agent) = common::agent_with_busybox().await;
    let script = "for n in net ipc uts pid mnt; do readlink /proc/self/ns/$n; done; ls /proc/1/root/ 2>&1 | head -1; echo ready; exec sleep 1000";
    let mut a = common::task("t-a", &["sh", "-c", script]);
    let mut side = ContainerSpec::new(ContainerName::new("side").unwrap(), "busybox");
    side.command = Some(vec!["sh".into(), "-c".into(), script.into()]);
    side.essential = false;
    a.containers.push(side);
    a.containers[0].stop_timeout = Some(Duration::from_secs(1));
    let b = common::task("t-b", &["sh", "-c", script]);
    agent
        .commands
        .send(RuntimeCommand::StartTask(Box::new(a)))
        .await
        .unwrap();
    agent
        .commands
        .send(RuntimeCommand::StartTask(Box::new(b)))
        .await
        .unwrap();
    let la = wait_for_log(&dir.path().join("logs/t-a/main.log"), "ready", 30).await;
    let ls = wait_for_log(&dir.path().join("logs/t-a/side.log"), "ready", 30).await;
    let lb = wait_for_log(&dir.path().join("logs/t-b/main.log"), "ready", 30).await;
    for kind in ["net", "ipc", "uts", "pid"] {
        assert_eq!(
            ns_line(&la, kind),
            ns_line(&ls, kind),
            "{kind} shared within a task"
        );
        assert_ne!(
            ns_line(&la, kind),
            ns_line(&lb, kind),
            "{kind} separate between tasks"
        );
    }
    assert_ne!(
        ns_line(&la, "mnt"),
        ns_line(&ls, "mnt"),
        "each container has its own mount namespace"
    );
    assert_eq!(common::loops_backed_under(dir.path()).len(), 2);

    agent
        .commands
        .send(RuntimeCommand::StopTask {
            task_id: TaskId::new("t-a").unwrap(),
            reason: "a".into(),
        })
        .await
        .unwrap();
    let events = common::until(&mut agent, 60, |e| {
        e.task_id.as_str() == "t-a" && matches!(e.kind, EventKind::TaskStopped { .. })
    })
    .await;
    let (_, _, teardown) = stopped(&events);
    assert!(
        teardown.errors.is_empty() && teardown.loop_detached && teardown.image_deleted,
        "{teardown:?}"
    );
    let left = common::loops_backed_under(dir.path());
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(left[0].contains("vol-t-b"), "{left:?}");

    agent
        .commands
        .send(RuntimeCommand::StopTask {
            task_id: TaskId::new("t-b").unwrap(),
            reason: "b".into(),
        })
        .await
        .unwrap();
    common::until(&mut agent, 60, |e| {
        e.task_id.as_str() == "t-b" && matches!(e.kind, EventKind::TaskStopped { .. })
    })
    .await;
    common::assert_clean(dir.path());
}

/// Without root the agent refuses to start and names what is missing; it
/// never falls back to anything unencrypted.
#[test]
fn agent_refuses_to_start_without_root() {
    if !common::require_root("agent_refuses_to_start_without_root") {
        return;
    }
    let out = std::process::Command::new("setpriv")
        .args([
            "--reuid",
            "65534",
            "--regid",
            "65534",
            "--clear-groups",
            env!("CARGO_BIN_EXE_ferrogate-runtime-test-agent"),
            "/nonexistent-fg",
            "t-x",
            "busybox",
        ])
        .output()
        .expect("setpriv (util-linux)");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("requirement: Root"), "{err}");
    assert!(!std::path::Path::new("/nonexistent-fg").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_task_specs_fail_to_start_cleanly() {
    if !common::require_root("invalid_task_specs_fail_to_start_cleanly") {
        return;
    }
    let (dir, mut agent) = common::agent_with_busybox().await;
    let mut dup = common::task("t-dup", &["true"]);
    dup.containers.push(dup.containers[0].clone());
    let mut none = common::task("t-none", &["true"]);
    none.containers.clear();
    let mut unknown_vol = common::task("t-vol", &["true"]);
    unknown_vol.containers[0].mount_points.push(MountPoint {
        source_volume: VolumeName::new("nope").unwrap(),
        container_path: "/x".into(),
        read_only: false,
    });
    for spec in [dup, none, unknown_vol] {
        let events = common::run_to_stop(&mut agent, spec, 30).await;
        let (code, reason, teardown) = stopped(&events);
        assert_eq!(code, StopCode::TaskFailedToStart);
        assert!(reason.starts_with("CannotStartContainerError:"), "{reason}");
        assert!(teardown.errors.is_empty(), "{teardown:?}");
    }
    common::assert_clean(dir.path());
}

/// A stop sent right after the start (normally caught while the task is
/// still provisioning) wins, and whatever was already created is destroyed. A second agent on the same data
/// directory is refused.
async fn stop_during_provisioning_and_single_agent_per_data_dir(backend: common::Backend) {
    if !common::require_root("stop_during_provisioning_and_single_agent_per_data_dir") {
        return;
    }
    let (dir, mut agent) = common::agent_with_busybox_on(backend).await;
    let second =
        ferrogate_runtime::agent::start_agent(common::config_on(dir.path(), backend)).await;
    assert!(matches!(
        second,
        Err(ferrogate_runtime::agent::RuntimeError::AlreadyRunning(_))
    ));
    let spec = common::task("t-early", &["sleep", "1000"]);
    agent
        .commands
        .send(RuntimeCommand::StartTask(Box::new(spec)))
        .await
        .unwrap();
    agent
        .commands
        .send(RuntimeCommand::StopTask {
            task_id: TaskId::new("t-early").unwrap(),
            reason: "changed my mind".into(),
        })
        .await
        .unwrap();
    let events = common::until(&mut agent, 60, |e| {
        matches!(e.kind, EventKind::TaskStopped { .. })
    })
    .await;
    let (code, reason, teardown) = stopped(&events);
    assert_eq!(
        (code, reason.as_str()),
        (StopCode::UserInitiated, "changed my mind")
    );
    assert!(teardown.errors.is_empty(), "{teardown:?}");
    // Unknown task: rejected, not a crash.
    agent
        .commands
        .send(RuntimeCommand::StopTask {
            task_id: TaskId::new("t-ghost").unwrap(),
            reason: "x".into(),
        })
        .await
        .unwrap();
    common::until(&mut agent, 10, |e| {
        matches!(e.kind, EventKind::CommandRejected { .. })
    })
    .await;
    agent.commands.send(RuntimeCommand::Shutdown).await.unwrap();
    agent.join.await.unwrap();
    common::assert_clean(dir.path());
}
crate::per_backend_async!(stop_during_provisioning_and_single_agent_per_data_dir);

/// Task volumes are shared between containers (read-write or read-only as
/// mounted), a read-only root refuses writes, and a container-level memory
/// limit applies to that container alone.
async fn volumes_readonly_root_and_container_memory(backend: common::Backend) {
    if !common::require_root("volumes_readonly_root_and_container_memory") {
        return;
    }
    let (dir, mut agent) = common::agent_with_busybox_on(backend).await;
    let mut spec = common::task(
        "t-vols",
        &["sh", "-c", "echo shared-data > /shared/f; touch /rootfile 2>&1; while [ ! -e /shared/helper.pid ]; do sleep 0.1; done; while kill -0 $(cat /shared/helper.pid) 2>/dev/null; do sleep 0.1; done; echo writer-done"],
    );
    spec.volumes = vec![VolumeName::new("shared").unwrap()];
    let mp = |ro| MountPoint {
        source_volume: VolumeName::new("shared").unwrap(),
        container_path: "/shared".into(),
        read_only: ro,
    };
    spec.containers[0].mount_points = vec![mp(false)];
    spec.containers[0].readonly_root_filesystem = true;
    let mut reader = ContainerSpec::new(ContainerName::new("reader").unwrap(), "busybox");
    reader.command = Some(vec![
        "sh".into(),
        "-c".into(),
        "while [ ! -e /shared/f ]; do sleep 0.1; done; cat /shared/f; echo x > /shared/g 2>&1; echo reader-done".into(),
    ]);
    reader.essential = false;
    reader.mount_points = vec![mp(true)];
    let mut helper = ContainerSpec::new(ContainerName::new("helper").unwrap(), "busybox");
    helper.command = Some(vec!["sh".into(), "-c".into(), "while [ ! -e /shared/f ]; do sleep 0.1; done; echo $$ > /shared/h.tmp; mv /shared/h.tmp /shared/helper.pid; exec awk 'BEGIN { s = \"x\"; while (1) s = s s }'".into()]);
    helper.essential = false;
    helper.memory_mib = Some(32);
    helper.mount_points = vec![mp(false)];
    spec.containers.push(reader);
    spec.containers.push(helper);
    let events = common::run_to_stop(&mut agent, spec, 60).await;
    let exits: Vec<(String, i32, bool)> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::ContainerExited { container, exit } => {
                Some((container.to_string(), exit.exit_code, exit.oom_killed))
            }
            _ => None,
        })
        .collect();
    assert!(exits.contains(&("helper".into(), 137, true)), "{exits:?}");
    assert!(exits.contains(&("main".into(), 0, false)), "{exits:?}");
    let main = std::fs::read_to_string(dir.path().join("logs/t-vols/main.log")).unwrap();
    assert!(
        main.contains("Read-only file system") && main.contains("writer-done"),
        "{main}"
    );
    let reader = std::fs::read_to_string(dir.path().join("logs/t-vols/reader.log")).unwrap();
    assert!(
        reader.contains("shared-data")
            && reader.contains("Read-only file system")
            && reader.contains("reader-done"),
        "{reader}"
    );
    let (code, _, teardown) = stopped(&events);
    assert_eq!(code, StopCode::EssentialContainerExited);
    assert!(teardown.errors.is_empty(), "{teardown:?}");
    common::assert_clean(dir.path());
}
crate::per_backend_async!(volumes_readonly_root_and_container_memory);

/// Health checks run inside the container: they see its root filesystem (a file its main
/// process made in the container's /tmp) and its environment; failures in a row make it
/// UNHEALTHY, a pass HEALTHY again; a check that outlives its timeout fails and is killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_checks_run_inside_the_container() {
    if !common::require_root("health_checks_run_inside_the_container") {
        return;
    }
    use ferrogate_runtime::agent::{HealthCheck, HealthStatus};
    let (dir, mut agent) = common::agent_with_busybox().await;
    let mut spec = common::task(
        "t-health",
        &[
            "sh",
            "-c",
            "sleep 4; touch /tmp/ready; sleep 4; touch /tmp/broken; sleep 5; echo main-done",
        ],
    );
    spec.containers[0].environment = vec![("MARK".into(), "yes".into())];
    let check = |cmd: &str, timeout_s: u64| HealthCheck {
        argv: vec!["/bin/sh".into(), "-c".into(), cmd.into()],
        interval: Duration::from_secs(1),
        timeout: Duration::from_secs(timeout_s),
        retries: 2,
        start_period: Duration::ZERO,
    };
    spec.containers[0].health_check = Some(check(
        r#"echo checking; test -f /tmp/ready && ! test -f /tmp/broken && [ "$MARK" = yes ]"#,
        2,
    ));
    let mut slow = ContainerSpec::new(ContainerName::new("slow").unwrap(), "busybox");
    slow.command = Some(vec!["sleep".into(), "60".into()]);
    slow.essential = false;
    slow.health_check = Some(check("sleep 30", 1));
    spec.containers.push(slow);
    let events = common::run_to_stop(&mut agent, spec, 60).await;
    let health = |name: &str| -> Vec<HealthStatus> {
        events
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::ContainerHealth { container, status } if container.as_str() == name => {
                    Some(*status)
                }
                _ => None,
            })
            .collect()
    };
    assert_eq!(
        health("main"),
        [
            HealthStatus::Unhealthy,
            HealthStatus::Healthy,
            HealthStatus::Unhealthy
        ],
        "{events:#?}"
    );
    assert_eq!(health("slow"), [HealthStatus::Unhealthy], "{events:#?}");
    let (code, _, teardown) = stopped(&events);
    assert_eq!(code, StopCode::EssentialContainerExited);
    assert!(teardown.errors.is_empty(), "{teardown:?}");
    common::assert_clean(dir.path());
}

/// A container cannot lead the runtime out of its root through its working directory
/// (runc's "Leaky Vessels"): a working directory through a magic link (`/proc/self/fd/N`)
/// fails to start, and a health check whose working directory the container replaced with
/// a symlink to `/proc/1/root` (the sandbox init's root) never runs there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn working_directories_stay_inside_the_container() {
    if !common::require_root("working_directories_stay_inside_the_container") {
        return;
    }
    use ferrogate_runtime::agent::{HealthCheck, HealthStatus};
    let (dir, mut agent) = common::agent_with_busybox().await;
    let mut spec = common::task("t-leaky", &["sh", "-c", "sleep 30"]);
    spec.containers[0].working_directory = Some("/proc/self/fd/4".into());
    let events = common::run_to_stop(&mut agent, spec, 60).await;
    let failed = events.iter().any(|e| {
        matches!(&e.kind, EventKind::ContainerFailedToStart { reason, .. } if reason.contains("working directory"))
    });
    assert!(failed, "{events:#?}");
    common::assert_clean(dir.path());

    let mut spec = common::task(
        "t-escape",
        &[
            "sh",
            "-c",
            "sleep 3; cd /; rmdir /work && ln -s /proc/1/root /work && touch /tmp/linked; sleep 12",
        ],
    );
    spec.containers[0].working_directory = Some("/work".into());
    // Healthy only if the check runs in the init's root, which holds the volume at /vol.
    spec.containers[0].health_check = Some(HealthCheck {
        argv: vec!["/bin/sh".into(), "-c".into(), "test -d vol".into()],
        interval: Duration::from_secs(1),
        timeout: Duration::from_secs(2),
        retries: 1,
        start_period: Duration::ZERO,
    });
    let events = common::run_to_stop(&mut agent, spec, 60).await;
    let health: Vec<HealthStatus> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::ContainerHealth { status, .. } => Some(*status),
            _ => None,
        })
        .collect();
    assert_eq!(health, [HealthStatus::Unhealthy], "{events:#?}");
    let log = std::fs::read_to_string(dir.path().join("logs/t-escape/main.log")).unwrap();
    assert!(log.is_empty(), "{log}");
    common::assert_clean(dir.path());
}
