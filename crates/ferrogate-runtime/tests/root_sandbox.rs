//! Sandbox hardening against hostile images and containers (root only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use ferrogate_runtime::agent::{start_agent, ContainerSpec, EventKind, MountPoint, StopCode};
use ferrogate_runtime::{ContainerName, VolumeName};

use common::{exit_code, stopped_clean as stopped};

/// Host directories the image's symlinks point at: each 0700 and empty.
struct Bait {
    _dir: tempfile::TempDir,
    dirs: Vec<(&'static str, PathBuf)>,
}

impl Bait {
    fn new() -> Self {
        let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
        std::fs::create_dir_all(base).unwrap();
        let dir = tempfile::Builder::new()
            .prefix("fg-bait-")
            .tempdir_in(base)
            .unwrap();
        let mut dirs = Vec::new();
        for n in ["tmp", "etc", "proc", "data"] {
            let p = dir.path().join(format!("host-{n}"));
            std::fs::create_dir(&p).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o700)).unwrap();
            dirs.push((n, p));
        }
        Bait { _dir: dir, dirs }
    }

    fn assert_untouched(&self, when: &str) {
        for (n, p) in &self.dirs {
            let mode = std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
            assert_eq!(mode, 0o700, "{when}: host dir for {n} changed mode");
            let entries: Vec<_> = std::fs::read_dir(p).unwrap().flatten().collect();
            assert!(
                entries.is_empty(),
                "{when}: host dir for {n} gained {entries:?}"
            );
        }
    }
}

/// An image whose `tmp`, `etc`, `proc` and `data` are absolute symlinks to
/// host directories must not make the agent touch those directories (it
/// used to chmod host dirs 1777, write /etc/hosts through the link, create
/// mount points on the host). Links resolve inside the container root: with
/// the targets present in the image the task runs and sees them; with the
/// targets missing it fails to start cleanly. Either way the host dirs keep
/// mode 0700 and stay empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_symlinks_cannot_touch_the_host() {
    if !common::require_root("image_symlinks_cannot_touch_the_host") {
        return;
    }
    let bait = Bait::new();
    let dir = common::data_dir();
    let links = |b: &mut tar::Builder<Vec<u8>>| {
        for (n, p) in &bait.dirs {
            common::fixture::add_symlink(b, n, p.to_str().unwrap());
        }
    };
    // The link targets exist only on the host.
    let dangling = dir.path().join("dangling.tar");
    common::fixture::docker_save_archive_custom(&dangling, "links-dangling:latest", |b| {
        common::fixture::add_busybox(b);
        links(b);
    });
    // The same links, with directories at the targets' paths in the image.
    let inside = dir.path().join("inside.tar");
    common::fixture::docker_save_archive_custom(&inside, "links-inside:latest", |b| {
        common::fixture::add_busybox(b);
        let mut made = std::collections::BTreeSet::new();
        for (_, p) in &bait.dirs {
            let mut acc = String::new();
            for c in p.strip_prefix("/").unwrap().iter() {
                acc.push_str(c.to_str().unwrap());
                acc.push('/');
                if made.insert(acc.clone()) {
                    common::fixture::add_dir(b, &acc, 0o755);
                }
            }
        }
        links(b);
    });
    for a in [&dangling, &inside] {
        ferrogate_runtime::image::load(dir.path(), a, &[]).unwrap();
    }
    let mut agent = start_agent(common::config(dir.path())).await.unwrap();

    let spec_for = |id: &str, image: &str, script: &str| {
        let mut spec = common::task(id, &["sh", "-c", script]);
        let mut c = ContainerSpec::new(ContainerName::new("main").unwrap(), image);
        c.command = spec.containers[0].command.clone();
        c.mount_points = vec![MountPoint {
            source_volume: VolumeName::new("shared").unwrap(),
            container_path: "/data/x".into(),
            read_only: false,
        }];
        spec.containers = vec![c];
        spec.volumes = vec![VolumeName::new("shared").unwrap()];
        spec
    };

    let events = common::run_to_stop(
        &mut agent,
        spec_for("t-dangling", "links-dangling", "echo ran"),
        60,
    )
    .await;
    let (code, reason) = stopped(&events);
    match code {
        StopCode::TaskFailedToStart => {
            assert!(reason.starts_with("CannotStartContainerError:"), "{reason}");
        }
        StopCode::EssentialContainerExited => assert_eq!(exit_code(&events), Some(0)),
        c => panic!("{c:?}: {reason}"),
    }
    bait.assert_untouched("dangling links");

    let script = "stat -c 'tmp=%a' /tmp/; cat /etc/hostname; ls /proc/self/ >/dev/null && echo proc-ok; echo v > /data/x/f && echo bind-ok";
    let events =
        common::run_to_stop(&mut agent, spec_for("t-inside", "links-inside", script), 60).await;
    let (code, reason) = stopped(&events);
    assert_eq!(code, StopCode::EssentialContainerExited, "{reason}");
    assert_eq!(exit_code(&events), Some(0), "{events:#?}");
    let log = std::fs::read_to_string(dir.path().join("logs/t-inside/main.log")).unwrap();
    assert!(
        log.contains("tmp=1777")
            && log.contains("ip-t-inside")
            && log.contains("proc-ok")
            && log.contains("bind-ok"),
        "{log}"
    );
    bait.assert_untouched("links resolved inside the container");
    common::assert_clean(dir.path());
}

/// Runs `script` in busybox (as root unless `user` is set) to a clean exit and returns its log.
async fn run_script(id: &str, script: &str, user: Option<&str>) -> String {
    let (log, events) = common::run_script(id, script, user).await;
    assert_eq!(exit_code(&events), Some(0), "{log}");
    log
}

/// A crashing task must not write a core file (it would land wherever the
/// host's core_pattern says, possibly outside the encrypted volume), and it
/// cannot raise the limit again (no CAP_SYS_RESOURCE).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn core_dumps_are_disabled() {
    if !common::require_root("core_dumps_are_disabled") {
        return;
    }
    let log = run_script(
        "t-core",
        "grep 'Max core file size' /proc/self/limits; ulimit -c unlimited 2>&1 && echo raised || echo refused",
        None,
    )
    .await;
    let core = log
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap_or_else(|| panic!("{log}"));
    let f: Vec<&str> = core.split_whitespace().collect();
    assert_eq!(&f[4..6], ["0", "0"], "{log}");
    assert!(log.contains("refused") && !log.contains("raised"), "{log}");
}

/// Inheritable capabilities are empty, for root and non-root users alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inheritable_capabilities_are_empty() {
    if !common::require_root("inheritable_capabilities_are_empty") {
        return;
    }
    for (id, user) in [("t-capinh-root", None), ("t-capinh-app", Some("app"))] {
        let log = run_script(id, "grep -E '^Cap(Inh|Bnd|Eff):' /proc/self/status", user).await;
        assert!(log.contains("CapInh:\t0000000000000000"), "{user:?}: {log}");
        assert!(!log.contains("CapBnd:\t0000000000000000"), "{log}");
    }
}

/// Recovery tears down only mounts Ferrogate makes (`run/<task>/vol`,
/// `run/standalone-*`, or anything mounted from a loop device backed by
/// `volumes/*.img`); an operator's mount elsewhere under the data
/// directory (here a tmpfs on `logs/`) survives an agent start untouched,
/// never lazily detached.
async fn recovery_leaves_foreign_mounts_alone(backend: common::Backend) {
    if !common::require_root("recovery_leaves_foreign_mounts_alone") {
        return;
    }
    let dir = common::data_dir();
    ferrogate_runtime::DataLayout::new(dir.path())
        .ensure()
        .unwrap();
    let logs = dir.path().join("logs");
    let ours = dir.path().join("run/t-old/vol");
    std::fs::create_dir_all(&ours).unwrap();
    for (what, p) in [("foreign", &logs), ("ours", &ours)] {
        let st = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1m", what])
            .arg(p)
            .status()
            .unwrap();
        assert!(st.success());
    }
    std::fs::write(logs.join("keep"), "x").unwrap();
    let agent = start_agent(common::config_on(dir.path(), backend))
        .await
        .unwrap();
    let mounts = common::mounts_under(dir.path());
    let logs_s = logs.to_string_lossy().into_owned();
    let still = mounts.contains(&logs_s);
    let file = std::fs::read_to_string(logs.join("keep")).ok();
    // Clean up before asserting.
    let _ = std::process::Command::new("umount").arg(&logs).status();
    let _ = std::process::Command::new("umount").arg(&ours).status();
    assert!(still, "foreign tmpfs on logs/ was unmounted: {mounts:?}");
    assert_eq!(file.as_deref(), Some("x"));
    assert!(
        agent.recovery.unmounted.contains(&ours),
        "{:?}",
        agent.recovery
    );
    assert!(
        !agent.recovery.unmounted.contains(&logs),
        "{:?}",
        agent.recovery
    );
    assert!(agent.recovery.errors.is_empty(), "{:?}", agent.recovery);
}
crate::per_backend_async!(recovery_leaves_foreign_mounts_alone);

/// The task's mount namespace holds only what the task needs: the init
/// (PID 1) sits in a minimal root (a tmpfs with the volume and a procfs),
/// so neither its mount table nor a container's reveals the host's layout or
/// the data directory's path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mount_tables_do_not_reveal_the_host() {
    if !common::require_root("mount_tables_do_not_reveal_the_host") {
        return;
    }
    let (dir, mut agent) = common::agent_with_busybox().await;
    let mut spec = common::task(
        "t-mi",
        &[
            "sh",
            "-c",
            "echo init:; cat /proc/1/mountinfo; echo self:; cat /proc/self/mountinfo; ls /proc/1/root/ 2>&1",
        ],
    );
    spec.volumes = vec![VolumeName::new("shared").unwrap()];
    spec.containers[0].mount_points = vec![MountPoint {
        source_volume: VolumeName::new("shared").unwrap(),
        container_path: "/shared".into(),
        read_only: true,
    }];
    let events = common::run_to_stop(&mut agent, spec, 60).await;
    let (code, reason) = stopped(&events);
    assert_eq!(code, StopCode::EssentialContainerExited, "{reason}");
    let log = std::fs::read_to_string(dir.path().join("logs/t-mi/main.log")).unwrap();
    let init: Vec<&str> = log.split("self:").next().unwrap().lines().skip(1).collect();
    assert!(!init.is_empty() && init.len() <= 4, "{log}");
    let data_dir = dir.path().to_string_lossy().into_owned();
    let target = env!("CARGO_TARGET_TMPDIR");
    for l in log.lines() {
        assert!(
            !l.contains(&data_dir) && !l.contains(target),
            "host path in: {l}\n{log}"
        );
        let point = l.split(' ').nth(4).unwrap_or("");
        for host in ["/etc", "/usr", "/home", "/boot", "/var", "/run"] {
            assert!(
                !point.starts_with(host),
                "host mount {point} in: {l}\n{log}"
            );
        }
    }
    common::assert_clean(dir.path());
}

/// An image's /etc/passwd that is a FIFO (reading would block forever) or a
/// link to /dev/zero (reading would never end) fails the container cleanly
/// and quickly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_passwd_files_fail_the_container() {
    if !common::require_root("hostile_passwd_files_fail_the_container") {
        return;
    }
    let dir = common::data_dir();
    let fifo = dir.path().join("fifo.tar");
    common::fixture::docker_save_archive_custom(&fifo, "passwd-fifo:latest", |b| {
        common::fixture::add_busybox(b);
        common::fixture::add_dir(b, "etc/", 0o755);
        common::fixture::add_fifo(b, "etc/passwd");
    });
    let zero = dir.path().join("zero.tar");
    common::fixture::docker_save_archive_custom(&zero, "passwd-zero:latest", |b| {
        common::fixture::add_busybox(b);
        common::fixture::add_dir(b, "etc/", 0o755);
        common::fixture::add_symlink(b, "etc/passwd", "/dev/zero");
    });
    for a in [&fifo, &zero] {
        ferrogate_runtime::image::load(dir.path(), a, &[]).unwrap();
    }
    let mut agent = start_agent(common::config(dir.path())).await.unwrap();
    for (id, image) in [("t-fifo", "passwd-fifo"), ("t-zero", "passwd-zero")] {
        let mut spec = common::task(id, &["true"]);
        spec.containers[0].image = image.into();
        let events = common::run_to_stop(&mut agent, spec, 20).await;
        let (code, reason) = stopped(&events);
        assert_eq!(code, StopCode::TaskFailedToStart, "{image}: {reason}");
        assert!(
            reason.starts_with("CannotStartContainerError:") && reason.contains("/etc/passwd"),
            "{image}: {reason}"
        );
    }
    common::assert_clean(dir.path());
}

/// Kernel directories Docker masks are empty, read-only tmpfs mounts in the
/// container (those that exist on this kernel).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kernel_directories_are_masked() {
    if !common::require_root("kernel_directories_are_masked") {
        return;
    }
    let dirs = [
        "/proc/acpi",
        "/proc/scsi",
        "/proc/asound",
        "/sys/firmware",
        "/sys/devices/virtual/powercap",
        "/sys/block",
        "/sys/class/block",
        "/sys/dev/block",
        "/sys/devices/virtual/block",
    ];
    let present: Vec<&str> = dirs
        .iter()
        .copied()
        .filter(|d| Path::new(d).is_dir())
        .collect();
    assert!(!present.is_empty(), "none of {dirs:?} on this host");
    let script: String = present
        .iter()
        .map(|d| {
            format!(
                "echo \"{d}=$(ls -A {d} | wc -l)\"; touch {d}/x 2>/dev/null && echo {d}-writable; "
            )
        })
        .chain(std::iter::once("cat /proc/self/mountinfo".to_owned()))
        .collect();
    let log = run_script("t-mask", &script, None).await;
    for d in present {
        assert!(log.contains(&format!("{d}=0\n")), "{d} not empty:\n{log}");
        assert!(!log.contains(&format!("{d}-writable")), "{log}");
        assert!(
            log.lines()
                .any(|l| l.split(' ').nth(4) == Some(d) && l.contains(" - tmpfs ")),
            "{d} not a tmpfs:\n{log}"
        );
    }
}

/// A data directory given through a symlink is canonicalised, so recovery
/// still finds what a previous agent left mounted there.
async fn data_dir_through_a_symlink_is_recovered(backend: common::Backend) {
    if !common::require_root("data_dir_through_a_symlink_is_recovered") {
        return;
    }
    let dir = common::data_dir();
    ferrogate_runtime::DataLayout::new(dir.path())
        .ensure()
        .unwrap();
    let link_parent = tempfile::Builder::new()
        .prefix("fg-link-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    let link = link_parent.path().join("data");
    std::os::unix::fs::symlink(dir.path(), &link).unwrap();
    let left = dir.path().join("run/t-old/vol");
    std::fs::create_dir_all(&left).unwrap();
    let st = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "leftover"])
        .arg(&left)
        .status()
        .unwrap();
    assert!(st.success());
    let agent = start_agent(common::config_on(&link, backend)).await;
    let still = common::mounts_under(dir.path());
    if !still.is_empty() {
        let _ = std::process::Command::new("umount").arg(&left).status();
    }
    let agent = agent.unwrap();
    assert!(still.is_empty(), "left mounted: {still:?}");
    assert_eq!(agent.recovery.unmounted, [left], "{:?}", agent.recovery);
}
crate::per_backend_async!(data_dir_through_a_symlink_is_recovered);

/// A consumer that stops reading events must not keep a stopped task's key
/// in the kernel: with the event channel full, StopTask still tears the
/// task down (key removed, volume gone); the events arrive, in order, once
/// the consumer reads again.
async fn teardown_does_not_wait_for_event_delivery(backend: common::Backend) {
    if !common::require_root("teardown_does_not_wait_for_event_delivery") {
        return;
    }
    use ferrogate_runtime::agent::{RuntimeCommand, TaskState};
    use ferrogate_runtime::TaskId;
    let dir = common::data_dir();
    let archive = dir.path().join("busybox.tar");
    common::fixture::docker_save_archive(&archive);
    ferrogate_runtime::image::load(dir.path(), &archive, &[]).unwrap();
    let mut cfg = common::config_on(dir.path(), backend);
    cfg.event_buffer = 16;
    let mut agent = start_agent(cfg).await.unwrap();
    let mut spec = common::task("t-full", &["sleep", "1000"]);
    spec.containers[0].stop_timeout = Some(std::time::Duration::from_secs(1));
    agent
        .commands
        .send(RuntimeCommand::StartTask(Box::new(spec)))
        .await
        .unwrap();
    common::until(&mut agent, 60, |e| {
        matches!(e.kind, EventKind::StateChanged(TaskState::Running))
    })
    .await;
    // Fill the channel: each unknown StopTask is answered with an event.
    for i in 0..16 {
        agent
            .commands
            .send(RuntimeCommand::StopTask {
                task_id: TaskId::new(format!("t-ghost-{i}")).unwrap(),
                reason: "x".into(),
            })
            .await
            .unwrap();
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while agent.events.len() < 16 {
        assert!(std::time::Instant::now() < deadline, "channel never filled");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    agent
        .commands
        .send(RuntimeCommand::StopTask {
            task_id: TaskId::new("t-full").unwrap(),
            reason: "stop".into(),
        })
        .await
        .unwrap();
    let image = dir.path().join("volumes/vol-t-full.img");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while image.exists() || !common::loops_backed_under(dir.path()).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "teardown waited for the event consumer"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let events = common::until(&mut agent, 30, |e| {
        matches!(e.kind, EventKind::TaskStopped { .. })
    })
    .await;
    let rejected = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::CommandRejected { .. }))
        .count();
    assert_eq!(rejected, 16);
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
            TaskState::Stopping,
            TaskState::Deprovisioning,
            TaskState::Stopped
        ],
        "{events:#?}"
    );
    let exited = events
        .iter()
        .position(|e| matches!(e.kind, EventKind::ContainerExited { .. }))
        .expect("ContainerExited");
    let deprov = events
        .iter()
        .position(|e| matches!(e.kind, EventKind::StateChanged(TaskState::Deprovisioning)))
        .unwrap();
    assert!(exited < deprov, "{events:#?}");
    match &events.last().unwrap().kind {
        EventKind::TaskStopped { teardown, .. } => {
            assert!(
                teardown.key_removed && teardown.errors.is_empty(),
                "{teardown:?}"
            )
        }
        k => panic!("{k:?}"),
    }
    common::assert_clean(dir.path());
}
crate::per_backend_async!(teardown_does_not_wait_for_event_delivery);
