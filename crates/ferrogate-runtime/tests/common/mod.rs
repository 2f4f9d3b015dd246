//! Shared helpers for the root integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod fixture;
pub mod net;

/// True if the test may run. Not root: prints why and returns false, unless
/// `CI=true`, where a skip would hide a broken pipeline, so it panics.
pub fn require_root(test: &str) -> bool {
    if ferrogate_runtime::host::is_root() {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{test}: needs root (loop devices, mounts, fscrypt, namespaces); CI=true, so this fails instead of skipping");
    }
    eprintln!("SKIPPED {test}: needs root (run as root, as CI does)");
    false
}

/// A data directory on the host disk (tmpfs cannot hold trusted xattrs for
/// image layers reliably, and /tmp may be tmpfs). Removed on drop.
pub fn data_dir() -> tempfile::TempDir {
    let base = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(base).unwrap();
    tempfile::Builder::new()
        .prefix("fg-")
        .tempdir_in(base)
        .unwrap()
}

/// Loop devices whose backing file is under `dir` (from sysfs).
pub fn loops_backed_under(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir("/sys/block") {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.starts_with("loop") {
                continue;
            }
            if let Ok(b) = std::fs::read_to_string(e.path().join("loop/backing_file")) {
                if b.trim().starts_with(&*dir.to_string_lossy()) {
                    out.push(format!("{name}: {}", b.trim()));
                }
            }
        }
    }
    out
}

/// Mount points (from our mountinfo) under `dir`.
pub fn mounts_under(dir: &std::path::Path) -> Vec<String> {
    let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    mi.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| m.starts_with(&*dir.to_string_lossy()))
        .map(str::to_owned)
        .collect()
}

use std::time::Duration;

use ferrogate_runtime::volume::{
    BackendChoice, FscryptVolume, VolumeBackend, VolumeKind, XtsVolume,
};

/// The two encrypting volume backends; every volume test runs against both
/// (see [`per_backend!`] and [`per_backend_async!`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// Full-volume AES-256-XTS through the agent's FUSE server.
    Xts,
    /// fscrypt v2 on `data/`.
    Fscrypt,
}

impl Backend {
    /// The agent setting that selects it.
    pub fn choice(self) -> BackendChoice {
        match self {
            Backend::Xts => BackendChoice::Xts,
            Backend::Fscrypt => BackendChoice::Fscrypt,
        }
    }
    /// What the agent reports once it runs it.
    pub fn kind(self) -> VolumeKind {
        match self {
            Backend::Xts => VolumeKind::Xts,
            Backend::Fscrypt => VolumeKind::Fscrypt,
        }
    }
    /// A standalone backend (for `MountedVolume`).
    pub fn volume(self) -> Box<dyn VolumeBackend> {
        let mkfs = ferrogate_runtime::host::find_mkfs_ext4();
        match self {
            Backend::Xts => Box::new(XtsVolume::new(mkfs)),
            Backend::Fscrypt => Box::new(FscryptVolume::new(mkfs)),
        }
    }
}

/// `per_backend!(name)`: tests `name::xts` and `name::fscrypt`, each calling
/// `fn name(backend: common::Backend)`.
#[macro_export]
macro_rules! per_backend {
    ($name:ident) => {
        mod $name {
            #[test]
            fn xts() {
                super::$name($crate::common::Backend::Xts)
            }
            #[test]
            fn fscrypt() {
                super::$name($crate::common::Backend::Fscrypt)
            }
        }
    };
}

/// `per_backend_async!(name)`: the same for `async fn name(backend)` on a
/// two-thread tokio runtime.
#[macro_export]
macro_rules! per_backend_async {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn xts() {
                super::$name($crate::common::Backend::Xts).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn fscrypt() {
                super::$name($crate::common::Backend::Fscrypt).await
            }
        }
    };
}

use ferrogate_runtime::agent::{
    start_agent, Agent, ContainerSpec, EventKind, RuntimeCommand, RuntimeConfig, RuntimeEvent,
    StopCode, TaskSpec, TeardownReport,
};
use ferrogate_runtime::volume::VolumeSpec;
use ferrogate_runtime::{ContainerName, DataKey, TaskId, VolumeId};

/// The crate's own sandbox init binary.
pub fn init_exe() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_BIN_EXE_ferrogate-sandbox-init"))
}

/// The agent configuration the tests use: the defaults, but a fixed disk allowance. Task
/// volumes are sparse and tests write little to them, while admission control would hold
/// back their full size from the free disk of the machine running the tests, which varies
/// (and shrinks with the build). Admission itself is tested with explicit limits.
pub fn config(dir: &std::path::Path) -> RuntimeConfig {
    let mut c = RuntimeConfig::new(dir, init_exe());
    c.capacity.disk_gib = Some(1 << 20);
    c.outputs = std::sync::Arc::new(FileSinks(dir.to_owned()));
    c
}

/// A log driver for the tests only: each container's lines are appended to
/// `<dir>/logs/<task>/<container>.log`, for the tests to read what a container printed.
/// (Ferrogate itself keeps no output in clear: its driver is awslogs.)
#[derive(Debug)]
pub struct FileSinks(pub std::path::PathBuf);

impl ferrogate_runtime::agent::OutputSinks for FileSinks {
    fn open(
        &self,
        task: &TaskId,
        container: &ContainerName,
    ) -> Option<ferrogate_runtime::agent::LogSender> {
        use std::io::Write;
        let dir = self.0.join("logs").join(task.as_str());
        std::fs::create_dir_all(&dir).ok()?;
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(dir.join(format!("{container}.log")))
            .ok()?;
        let (tx, mut rx) = ferrogate_runtime::agent::log_channel(
            ferrogate_runtime::agent::BufferMode::Blocking,
            1 << 20,
        );
        tokio::spawn(async move {
            while let Some(l) = rx.recv().await {
                let _ = file.write_all(&l.bytes);
                if !l.partial {
                    let _ = file.write_all(b"\n");
                }
            }
            rx.finished();
        });
        Some(tx)
    }
}

/// [`config`] with an explicit volume backend.
pub fn config_on(dir: &std::path::Path, backend: Backend) -> RuntimeConfig {
    let mut c = config(dir);
    c.volume_backend = backend.choice();
    c
}

/// Data dir with the busybox image loaded; returns (dir, agent).
pub async fn agent_with_busybox() -> (tempfile::TempDir, Agent) {
    let dir = busybox_dir();
    let agent = start_agent(config(dir.path())).await.unwrap();
    (dir, agent)
}

/// The same, on the given volume backend (checked).
pub async fn agent_with_busybox_on(backend: Backend) -> (tempfile::TempDir, Agent) {
    let dir = busybox_dir();
    let agent = start_agent(config_on(dir.path(), backend)).await.unwrap();
    assert_eq!(agent.volume_backend, backend.kind());
    (dir, agent)
}

/// A data directory with the busybox image loaded.
pub fn busybox_dir() -> tempfile::TempDir {
    let dir = data_dir();
    let archive = dir.path().join("busybox.tar");
    fixture::docker_save_archive(&archive);
    ferrogate_runtime::image::load(dir.path(), &archive, &[]).unwrap();
    dir
}

/// A one-container task running `argv` in busybox.
pub fn task(id: &str, argv: &[&str]) -> TaskSpec {
    let mut c = ContainerSpec::new(ContainerName::new("main").unwrap(), "busybox");
    c.command = Some(argv.iter().map(|s| s.to_string()).collect());
    TaskSpec {
        task_id: TaskId::new(id).unwrap(),
        volume: VolumeSpec {
            volume_id: VolumeId::new(format!("vol-{id}")).unwrap(),
            size_gib: 20,
            data_key: DataKey::generate().unwrap(),
        },
        cpu_units: Some(256),
        memory_mib: Some(512),
        containers: vec![c],
        volumes: Vec::new(),
        hostname: None,
        network: None,
    }
}

/// Receives events until `pred` matches (or panics after `secs`).
pub async fn until(
    agent: &mut Agent,
    secs: u64,
    mut pred: impl FnMut(&RuntimeEvent) -> bool,
) -> Vec<RuntimeEvent> {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let ev = tokio::time::timeout_at(deadline, agent.events.recv())
            .await
            .unwrap_or_else(|_| panic!("timed out; events so far: {seen:#?}"))
            .expect("agent event channel closed");
        let done = pred(&ev);
        seen.push(ev);
        if done {
            return seen;
        }
    }
}

/// Starts a task and waits for its TaskStopped.
pub async fn run_to_stop(agent: &mut Agent, spec: TaskSpec, secs: u64) -> Vec<RuntimeEvent> {
    let id = spec.task_id.clone();
    agent
        .commands
        .send(RuntimeCommand::StartTask(Box::new(spec)))
        .await
        .unwrap();
    until(agent, secs, |e| {
        e.task_id == id && matches!(e.kind, EventKind::TaskStopped { .. })
    })
    .await
}

/// How the task stopped (its TaskStopped, the last event): code, reason, teardown report.
pub fn stopped(events: &[RuntimeEvent]) -> (StopCode, String, TeardownReport) {
    match &events.last().unwrap().kind {
        EventKind::TaskStopped {
            stop_code,
            reason,
            teardown,
        } => (*stop_code, reason.clone(), teardown.clone()),
        k => panic!("{k:?}"),
    }
}

/// [`stopped`], for a task whose teardown must have gone without an error.
pub fn stopped_clean(events: &[RuntimeEvent]) -> (StopCode, String) {
    let (code, reason, teardown) = stopped(events);
    assert!(teardown.errors.is_empty(), "{teardown:?}");
    (code, reason)
}

/// The exit code of the first container that exited.
pub fn exit_code(events: &[RuntimeEvent]) -> Option<i32> {
    events.iter().find_map(|e| match &e.kind {
        EventKind::ContainerExited { exit, .. } => Some(exit.exit_code),
        _ => None,
    })
}

/// Runs `script` in busybox (as the container's root unless `user` is set) until it ends,
/// which must be its container's exit, leaving nothing behind; its log and the task's events.
pub async fn run_script(id: &str, script: &str, user: Option<&str>) -> (String, Vec<RuntimeEvent>) {
    let (dir, mut agent) = agent_with_busybox().await;
    let mut spec = task(id, &["sh", "-c", script]);
    spec.containers[0].user = user.map(str::to_owned);
    let events = run_to_stop(&mut agent, spec, 60).await;
    let (code, reason) = stopped_clean(&events);
    assert_eq!(code, StopCode::EssentialContainerExited, "{reason}");
    let log = std::fs::read_to_string(dir.path().join(format!("logs/{id}/main.log"))).unwrap();
    assert_clean(dir.path());
    (log, events)
}

/// Asserts nothing of the task is left on the host.
pub fn assert_clean(dir: &std::path::Path) {
    assert!(
        loops_backed_under(dir).is_empty(),
        "loop devices left: {:?}",
        loops_backed_under(dir)
    );
    assert!(
        mounts_under(dir).is_empty(),
        "mounts left: {:?}",
        mounts_under(dir)
    );
    let vols: Vec<_> = std::fs::read_dir(dir.join("volumes"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(vols.is_empty(), "volume images left: {vols:?}");
    let xts: Vec<_> = std::fs::read_dir(dir.join("xts"))
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(xts.is_empty(), "XTS mount points left: {xts:?}");
    let inst = ferrogate_runtime::cgroup::instance_for(dir);
    for ctrl in ["cpu", "memory", "pids"] {
        let p = std::path::Path::new("/sys/fs/cgroup")
            .join(ctrl)
            .join("ferrogate")
            .join(&inst);
        let left: Vec<_> = std::fs::read_dir(&p)
            .map(|rd| {
                rd.flatten()
                    .filter(|e| e.path().is_dir())
                    .map(|e| e.path())
                    .collect()
            })
            .unwrap_or_default();
        assert!(left.is_empty(), "cgroups left: {left:?}");
    }
    let recs: Vec<_> = std::fs::read_dir(dir.join("runtime/tasks"))
        .unwrap()
        .flatten()
        .collect();
    assert!(recs.is_empty(), "task records left");
}
