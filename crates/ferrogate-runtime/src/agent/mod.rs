//! The agent: one supervisor per host owning every sandbox, driven by
//! [`RuntimeCommand`]s over a channel and reporting [`RuntimeEvent`]s
//! (firecracker's `VmmAction` pattern: the API side never holds a sandbox
//! handle).
//!
//! ```no_run
//! # async fn demo() -> Result<(), ferrogate_runtime::agent::RuntimeError> {
//! use ferrogate_runtime::agent::*;
//! let cfg = RuntimeConfig::new("/var/lib/ferrogate", std::env::current_exe().unwrap());
//! let agent = start_agent(cfg).await?;
//! // agent.commands.send(RuntimeCommand::StartTask(Box::new(spec))).await
//! // while let Some(ev) = agent.events.recv().await { ... }
//! # Ok(()) }
//! ```

pub mod capacity;
pub(crate) mod record;
pub mod sink;
pub mod state;
mod task;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

pub use sink::{
    log_channel, BufferMode, Discard, LogLine, LogReceiver, LogSender, OutputSinks, MAX_LINE_PIECE,
};
pub use state::{InvalidTransition, TaskEvent, TaskState};

use crate::cgroup::{CgroupError, Cgroups};
use crate::host::HostError;
use crate::ids::{ContainerName, TaskId, VolumeId, VolumeName};
use crate::layout::DataLayout;
use crate::recovery::{recover, RecoveryReport};
use crate::volume::{BackendChoice, VolumeBackend, VolumeError, VolumeKind, VolumeSpec};

/// ECS default `stopTimeout`.
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// ECS maximum `stopTimeout`.
pub const MAX_STOP_TIMEOUT: Duration = Duration::from_secs(120);

/// Agent configuration. The volume backend setting has no plaintext choice:
/// the agent always encrypts.
#[derive(Clone, Debug)]
pub struct RuntimeConfig {
    /// Data directory (see [`DataLayout`]). Created if missing, then
    /// canonicalised by `start_agent` (symlinks and relative paths resolved;
    /// the cgroup instance is derived from the canonical path).
    pub data_dir: PathBuf,
    /// Executable started as each task's sandbox init (the `ferrogate`
    /// binary itself, which calls `sandbox_init_main_if_requested()`).
    pub init_exe: PathBuf,
    /// e2fsprogs' `mkfs.ext4`.
    pub mkfs_ext4: PathBuf,
    /// How task volumes are encrypted: by default ([`BackendChoice::Auto`]) the whole volume
    /// with AES-256-XTS (FUSE) where the host has FUSE, else fscrypt; or one of them by name.
    pub volume_backend: BackendChoice,
    /// `stopTimeout` when a container has none.
    pub default_stop_timeout: Duration,
    /// `pids.max` per task.
    pub pids_max: u32,
    /// Capacity of the event channel.
    pub event_buffer: usize,
    /// The pool of host id ranges for task user namespaces.
    pub id_pool: crate::idrange::IdPool,
    /// Where each container's output goes (its log driver); [`Discard`] by default:
    /// output is read and dropped, nothing of it is kept.
    pub outputs: Arc<dyn OutputSinks>,
    /// What tasks may reserve in all (admission control).
    pub capacity: capacity::CapacityConfig,
    /// nftables' `nft`, needed by tasks with a network (see [`crate::net`]).
    pub nft: PathBuf,
}

impl RuntimeConfig {
    /// Defaults for a data directory and init executable.
    pub fn new(data_dir: impl Into<PathBuf>, init_exe: impl Into<PathBuf>) -> Self {
        RuntimeConfig {
            data_dir: data_dir.into(),
            init_exe: init_exe.into(),
            mkfs_ext4: crate::host::find_mkfs_ext4(),
            volume_backend: BackendChoice::Auto,
            default_stop_timeout: DEFAULT_STOP_TIMEOUT,
            pids_max: crate::cgroup::DEFAULT_PIDS_MAX,
            event_buffer: 1024,
            id_pool: crate::idrange::IdPool::default(),
            outputs: Arc::new(Discard),
            capacity: capacity::CapacityConfig::default(),
            nft: crate::net::find_nft(),
        }
    }
}

/// A task volume bind (ECS `mountPoints`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountPoint {
    /// Task volume name.
    pub source_volume: VolumeName,
    /// Absolute path in the container.
    pub container_path: String,
    /// Read-only.
    pub read_only: bool,
}

/// One container of a task (the runtime-relevant part of an ECS container
/// definition).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerSpec {
    /// `name`.
    pub name: ContainerName,
    /// `image` reference, resolved in the local image store.
    pub image: String,
    /// `entryPoint`.
    pub entry_point: Option<Vec<String>>,
    /// `command`.
    pub command: Option<Vec<String>>,
    /// `environment`.
    pub environment: Vec<(String, String)>,
    /// `workingDirectory`.
    pub working_directory: Option<String>,
    /// `user`.
    pub user: Option<String>,
    /// `essential` (default true).
    pub essential: bool,
    /// `stopTimeout` (default 30 s, at most 120 s).
    pub stop_timeout: Option<Duration>,
    /// Container-level hard `memory` limit in MiB.
    pub memory_mib: Option<u32>,
    /// `mountPoints`.
    pub mount_points: Vec<MountPoint>,
    /// `readonlyRootFilesystem`.
    pub readonly_root_filesystem: bool,
    /// `healthCheck`: a command run inside the container now and then.
    pub health_check: Option<HealthCheck>,
}

/// A container health check (ECS `healthCheck`, Docker's semantics): `argv` runs inside the
/// container every `interval`; a run that exits 0 makes the container HEALTHY, `retries`
/// consecutive failures (non-zero exit, not startable, or longer than `timeout`) make it
/// UNHEALTHY; failures within `start_period` of the start do not count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthCheck {
    /// The command (`CMD-SHELL x` is `["/bin/sh", "-c", x]`).
    pub argv: Vec<String>,
    /// Between the end of one run and the start of the next (at least 1 s).
    pub interval: Duration,
    /// Longest run (at least 1 s).
    pub timeout: Duration,
    /// Consecutive failures that make the container UNHEALTHY (at least 1).
    pub retries: u32,
    /// Grace after the container starts.
    pub start_period: Duration,
}

/// A container's health, as its checks say.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum HealthStatus {
    /// The last check passed.
    Healthy,
    /// `retries` checks in a row failed.
    Unhealthy,
}

impl ContainerSpec {
    /// An essential container with defaults.
    pub fn new(name: ContainerName, image: impl Into<String>) -> Self {
        ContainerSpec {
            name,
            image: image.into(),
            entry_point: None,
            command: None,
            environment: Vec::new(),
            working_directory: None,
            user: None,
            essential: true,
            stop_timeout: None,
            memory_mib: None,
            mount_points: Vec::new(),
            readonly_root_filesystem: false,
            health_check: None,
        }
    }
}

/// Task `cpu` when a task names none: Fargate's smallest size, 0.25 vCPU.
pub const DEFAULT_TASK_CPU_UNITS: u32 = 256;
/// Task `memory` when a task names none: Fargate's smallest size, 512 MiB.
pub const DEFAULT_TASK_MEMORY_MIB: u32 = 512;

/// A task to start.
#[derive(Debug)]
pub struct TaskSpec {
    /// Task id.
    pub task_id: TaskId,
    /// Its ephemeral volume, with the plaintext data key.
    pub volume: VolumeSpec,
    /// Task `cpu` units (1024 = 1 vCPU); [`DEFAULT_TASK_CPU_UNITS`] when absent.
    pub cpu_units: Option<u32>,
    /// Task `memory` in MiB; [`DEFAULT_TASK_MEMORY_MIB`] when absent.
    pub memory_mib: Option<u32>,
    /// Containers, in start order.
    pub containers: Vec<ContainerSpec>,
    /// Task-level volume names (bind volumes on the encrypted volume).
    pub volumes: Vec<VolumeName>,
    /// Hostname (default: the network's private DNS name, else derived from the task
    /// id).
    pub hostname: Option<String>,
    /// The task's network interface (Fargate's `awsvpc`); `None`: loopback only.
    pub network: Option<crate::net::TaskNetwork>,
}

/// What ECS sends.
#[derive(Debug)]
pub enum RuntimeCommand {
    /// Start a task.
    StartTask(Box<TaskSpec>),
    /// Stop a task (SIGTERM, then SIGKILL after each container's stopTimeout).
    StopTask {
        /// Which.
        task_id: TaskId,
        /// `reason` of the StopTask call.
        reason: String,
    },
    /// Replace the security groups with this complete set (every group a task of this
    /// host uses, with all its rules). Stored before the next command is read, so a
    /// `StartTask` sent after it sees the new groups; applied to running tasks in one
    /// nftables transaction. `done`, if given, receives the outcome once the kernel
    /// holds the new rules.
    SetSecurityGroups {
        /// Every group.
        groups: Vec<crate::net::SecurityGroupRules>,
        /// Told when the rules are in force (or why they are not).
        done: Option<tokio::sync::oneshot::Sender<Result<(), crate::net::NetworkError>>>,
    },
    /// Stop every task, then end the agent.
    Shutdown,
}

/// Why a task stopped (ECS `stopCode`, plus agent-specific codes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum StopCode {
    /// Provisioning or a container start failed.
    TaskFailedToStart,
    /// An essential container exited.
    EssentialContainerExited,
    /// StopTask.
    UserInitiated,
    /// The agent shut down.
    AgentShutdown,
    /// The agent restarted and found the task gone (crash recovery).
    TaskLost,
}

/// How a container ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ContainerExit {
    /// Exit code as ECS reports it (128+signal when killed).
    pub exit_code: i32,
    /// The signal, if it was killed by one.
    pub signal: Option<i32>,
    /// The kernel OOM killer acted in the container's cgroup.
    pub oom_killed: bool,
    /// ECS-style reason, e.g. `OutOfMemoryError: Container killed due to memory usage`.
    pub reason: Option<String>,
}

/// What teardown achieved. Every field is checked, not assumed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TeardownReport {
    /// The volume key is gone: `FS_IOC_REMOVE_ENCRYPTION_KEY` succeeded (or
    /// the filesystem, and with it the key, was already gone), or the XTS
    /// server's key schedules were freed.
    pub key_removed: bool,
    /// The kernel reported files still in use at key removal.
    pub files_busy: bool,
    /// The volume filesystem was unmounted.
    pub unmounted: bool,
    /// The loop device is detached.
    pub loop_detached: bool,
    /// The image file is deleted.
    pub image_deleted: bool,
    /// The cgroups are removed.
    pub cgroup_removed: bool,
    /// The task's network interface, address, route and rules are gone (true for a task
    /// without a network).
    pub network_released: bool,
    /// Anything that went wrong.
    pub errors: Vec<String>,
}

impl TeardownReport {
    /// Where teardown starts: every step counted as done until it is found not to be (a step
    /// that was never needed is done); no error, no busy files.
    pub(crate) fn nothing_left() -> Self {
        TeardownReport {
            key_removed: true,
            unmounted: true,
            loop_detached: true,
            image_deleted: true,
            cgroup_removed: true,
            network_released: true,
            ..TeardownReport::default()
        }
    }
}

/// One thing that happened to a task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum EventKind {
    /// The task entered a state.
    StateChanged(TaskState),
    /// The encrypted volume is mounted, keyed and sealed.
    VolumeReady {
        /// Volume id.
        volume_id: VolumeId,
        /// Size.
        size_gib: u32,
    },
    /// A container is running.
    ContainerStarted {
        /// Name.
        container: ContainerName,
        /// Pid in the task's PID namespace.
        pid: i32,
    },
    /// A container could not start.
    ContainerFailedToStart {
        /// Name.
        container: ContainerName,
        /// Why (`CannotStartContainerError: ...`).
        reason: String,
    },
    /// A container's main process ended.
    ContainerExited {
        /// Name.
        container: ContainerName,
        /// How.
        exit: ContainerExit,
    },
    /// A container's health changed.
    ContainerHealth {
        /// Name.
        container: ContainerName,
        /// Now.
        status: HealthStatus,
    },
    /// The task is gone. Always the last event of a task.
    TaskStopped {
        /// Why.
        stop_code: StopCode,
        /// Human-readable reason (ECS `stoppedReason`).
        reason: String,
        /// What teardown did.
        teardown: TeardownReport,
    },
    /// A command was refused (e.g. StartTask for a task id already running).
    CommandRejected {
        /// Why.
        reason: String,
    },
}

/// An event about a task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RuntimeEvent {
    /// Which task.
    pub task_id: TaskId,
    /// When.
    pub at: SystemTime,
    /// What.
    pub kind: EventKind,
}

/// Errors starting the agent.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The host lacks something.
    #[error(transparent)]
    Host(#[from] HostError),
    /// Volume backend check failed.
    #[error(transparent)]
    Volume(#[from] VolumeError),
    /// cgroups unusable.
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    /// Another agent holds the data directory.
    #[error("another agent is already running on data directory {0}")]
    AlreadyRunning(PathBuf),
    /// The init executable is missing.
    #[error("sandbox init executable {0} does not exist")]
    InitExeMissing(PathBuf),
    /// Filesystem.
    #[error("{op} {path}: {source}")]
    Io {
        /// What.
        op: &'static str,
        /// Where.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// A blocking step panicked or was cancelled.
    #[error("internal error: {0}")]
    Internal(String),
}

/// A running agent.
pub struct Agent {
    /// Send commands here.
    pub commands: mpsc::Sender<RuntimeCommand>,
    /// Events arrive here (lost tasks from recovery first).
    pub events: mpsc::Receiver<RuntimeEvent>,
    /// What start-up recovery found and destroyed.
    pub recovery: RecoveryReport,
    /// The volume backend in use (what [`RuntimeConfig::volume_backend`] resolved to).
    pub volume_backend: VolumeKind,
    /// Ends after `Shutdown` (or when every command sender is dropped) once
    /// all tasks are stopped.
    pub join: JoinHandle<()>,
}

/// Shared by the supervisor and its task actors.
pub(crate) struct Ctx {
    pub config: RuntimeConfig,
    pub layout: DataLayout,
    pub cgroups: Cgroups,
    pub backend: Arc<dyn VolumeBackend>,
    pub events: mpsc::Sender<RuntimeEvent>,
    pub ids: crate::idrange::IdAllocator,
    pub net: crate::net::NetManager,
    _lock: std::fs::File,
}

impl Ctx {
    pub(crate) async fn emit(&self, task_id: &TaskId, kind: EventKind) {
        let ev = RuntimeEvent {
            task_id: task_id.clone(),
            at: SystemTime::now(),
            kind,
        };
        // A closed receiver means nobody listens any more; the task still
        // runs to completion and cleans up.
        let _ = self.events.send(ev).await;
    }

    /// Queues an event without waiting; gives it back if the channel is
    /// full. (A closed channel drops it, as `emit` does.)
    pub(crate) fn try_emit(&self, ev: RuntimeEvent) -> Result<(), RuntimeEvent> {
        match self.events.try_send(ev) {
            Err(mpsc::error::TrySendError::Full(ev)) => Err(ev),
            _ => Ok(()),
        }
    }
}

/// Checks the host, takes the data directory, destroys whatever a previous
/// agent left behind (reporting its tasks as stopped), and starts the
/// supervisor. Must be called inside a tokio runtime.
pub async fn start_agent(config: RuntimeConfig) -> Result<Agent, RuntimeError> {
    let backend = crate::volume::select_backend(config.volume_backend, &config.mkfs_ext4);
    tracing::info!(backend = ?backend.kind(), setting = %config.volume_backend, "volume backend");
    let cfg = config.clone();
    let b = backend.clone();
    let (ctx_parts, report) = tokio::task::spawn_blocking(move || prepare(&cfg, b.as_ref()))
        .await
        .map_err(|e| RuntimeError::Internal(e.to_string()))??;
    let (layout, cgroups, lock, net) = ctx_parts;
    let ids = crate::idrange::IdAllocator::new(config.id_pool.clone()).map_err(|source| {
        RuntimeError::Io {
            op: "preparing the id-range locks in",
            path: config.id_pool.lock_dir.clone(),
            source,
        }
    })?;
    let mut config = config;
    config.data_dir = layout.root().to_owned();
    let (ev_tx, ev_rx) = mpsc::channel(config.event_buffer.max(16));
    let (cmd_tx, cmd_rx) = mpsc::channel(64);
    let ctx = Arc::new(Ctx {
        config,
        layout,
        cgroups,
        backend,
        events: ev_tx,
        ids,
        net,
        _lock: lock,
    });
    for (task, volume) in &report.lost_volumes {
        if let Ok(id) = TaskId::new(task.clone()) {
            let teardown = lost_teardown(&ctx, &report, &id, volume);
            ctx.emit(
                &id,
                EventKind::TaskStopped {
                    stop_code: StopCode::TaskLost,
                    reason: "Task stopped: the host agent restarted and destroyed the task's sandbox and volume".into(),
                    teardown,
                },
            )
            .await;
        }
    }
    let volume_backend = ctx.backend.kind();
    let join = tokio::spawn(supervise(ctx, cmd_rx));
    Ok(Agent {
        commands: cmd_tx,
        events: ev_rx,
        recovery: report,
        volume_backend,
        join,
    })
}

/// What is left of a lost task after recovery, checked on the host.
fn lost_teardown(
    ctx: &Ctx,
    report: &RecoveryReport,
    task: &TaskId,
    volume: &str,
) -> TeardownReport {
    let image = VolumeId::new(volume.to_owned())
        .ok()
        .map(|v| ctx.layout.volume_image(&v));
    let image_deleted = image.as_ref().is_none_or(|p| !p.exists());
    let (loop_attached, block_mounted) = crate::recovery::volume_leftovers(&ctx.layout, volume);
    let loop_detached = !loop_attached;
    let cgroup_removed = ctx.cgroups.existing_task(task.as_str()).is_gone();
    let run = ctx.layout.task_run(task);
    let unmounted = cgroup_removed
        && !block_mounted
        && !crate::recovery::mounts_under(ctx.layout.root())
            .iter()
            .any(|m| m.starts_with(&run));
    TeardownReport {
        // No process of the task is left, so its mount namespace, the volume
        // mount and the filesystem's keyring are gone; an XTS key died with
        // the previous agent's process.
        key_removed: unmounted,
        files_busy: false,
        unmounted,
        loop_detached,
        image_deleted,
        cgroup_removed,
        // Recovery deleted every interface and table of this instance, or says why not.
        network_released: report.network.errors.is_empty(),
        errors: report
            .errors
            .iter()
            .chain(&report.network.errors)
            .cloned()
            .collect(),
    }
}

type Prepared = (
    (DataLayout, Cgroups, std::fs::File, crate::net::NetManager),
    RecoveryReport,
);

fn prepare(config: &RuntimeConfig, backend: &dyn VolumeBackend) -> Result<Prepared, RuntimeError> {
    crate::host::check_sandbox_host()?;
    backend.check_host()?;
    if !config.init_exe.is_file() {
        return Err(RuntimeError::InitExeMissing(config.init_exe.clone()));
    }
    DataLayout::new(&config.data_dir)
        .ensure()
        .map_err(|source| RuntimeError::Io {
            op: "creating",
            path: config.data_dir.clone(),
            source,
        })?;
    // Canonical from here on: mountinfo, sysfs loop backing files and
    // /proc paths are canonical, and recovery matches against them, so a
    // data directory given through a symlink or as a relative path would
    // otherwise find nothing to clean up. It also fixes the cgroup instance.
    let data_dir = std::fs::canonicalize(&config.data_dir).map_err(|source| RuntimeError::Io {
        op: "resolving",
        path: config.data_dir.clone(),
        source,
    })?;
    let layout = DataLayout::new(&data_dir);
    let lock_path = layout.runtime().join("agent.lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|source| RuntimeError::Io {
            op: "opening",
            path: lock_path.clone(),
            source,
        })?;
    let got =
        crate::sys::try_flock_exclusive(std::os::fd::AsFd::as_fd(&lock)).map_err(|source| {
            RuntimeError::Io {
                op: "locking",
                path: lock_path,
                source,
            }
        })?;
    if !got {
        return Err(RuntimeError::AlreadyRunning(data_dir));
    }
    let instance = crate::cgroup::instance_for(&data_dir);
    let cgroups = Cgroups::detect(&instance)?;
    cgroups.check_swap(&std::fs::read_to_string("/proc/swaps").unwrap_or_default())?;
    let mut report = recover(&layout, &cgroups);
    // After the tasks' processes are gone: their namespaces, and with them most of
    // their interfaces, are gone too.
    let net = crate::net::NetManager::new(&instance, config.nft.clone());
    report.network = net.recover();
    Ok(((layout, cgroups, lock, net), report))
}

/// Reserves what `spec` needs, or reports the task stopped with what does not fit.
async fn admit(ctx: &Ctx, ledger: &mut capacity::Ledger, spec: &TaskSpec) -> bool {
    let req = capacity::Request {
        cpu_units: u64::from(spec.cpu_units.unwrap_or(DEFAULT_TASK_CPU_UNITS)),
        memory_mib: u64::from(spec.memory_mib.unwrap_or(DEFAULT_TASK_MEMORY_MIB)),
        disk_gib: u64::from(spec.volume.size_gib),
        pids: u64::from(ctx.config.pids_max),
    };
    let image = ctx.layout.volume_image(&spec.volume.volume_id);
    let probe = capacity::HostDisk(ctx.layout.root());
    match ledger.admit(&spec.task_id, req, image, &probe) {
        Ok(()) => true,
        Err(short) => {
            tracing::info!(task = %spec.task_id, %short, "task refused: the host is full");
            ctx.emit(
                &spec.task_id,
                EventKind::TaskStopped {
                    stop_code: StopCode::TaskFailedToStart,
                    reason: format!("ResourceInitializationError: {short}"),
                    teardown: TeardownReport::nothing_left(),
                },
            )
            .await;
            false
        }
    }
}

async fn supervise(ctx: Arc<Ctx>, mut commands: mpsc::Receiver<RuntimeCommand>) {
    let mut ledger = capacity::Ledger::new(capacity::Capacity::resolve(&ctx.config.capacity));
    let mut tasks: HashMap<TaskId, mpsc::Sender<task::TaskCmd>> = HashMap::new();
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<TaskId>();
    let mut actors = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            cmd = commands.recv() => match cmd {
                Some(RuntimeCommand::StartTask(spec)) => {
                    let id = spec.task_id.clone();
                    if tasks.contains_key(&id) {
                        ctx.emit(&id, EventKind::CommandRejected { reason: format!("task {id} is already running") }).await;
                        continue;
                    }
                    if !admit(&ctx, &mut ledger, &spec).await {
                        continue;
                    }
                    let (tx, rx) = mpsc::channel(8);
                    tasks.insert(id.clone(), tx);
                    let c = ctx.clone();
                    let done = done_tx.clone();
                    actors.spawn(async move {
                        task::run_task(c, *spec, rx).await;
                        let _ = done.send(id);
                    });
                }
                Some(RuntimeCommand::StopTask { task_id, reason }) => match tasks.get(&task_id) {
                    Some(tx) => {
                        let _ = tx.send(task::TaskCmd::Stop { code: StopCode::UserInitiated, reason }).await;
                    }
                    None => ctx.emit(&task_id, EventKind::CommandRejected { reason: format!("task {task_id} is not running on this agent") }).await,
                },
                Some(RuntimeCommand::SetSecurityGroups { groups, done }) => set_groups(&ctx, groups, done),
                Some(RuntimeCommand::Shutdown) | None => break,
            },
            Some(id) = done_rx.recv() => {
                tasks.remove(&id);
                ledger.release(&id);
            }
        }
    }
    for tx in tasks.values() {
        let _ = tx
            .send(task::TaskCmd::Stop {
                code: StopCode::AgentShutdown,
                reason: "Host agent shutting down".into(),
            })
            .await;
    }
    while actors.join_next().await.is_some() {}
    ctx.cgroups.remove_instance_dirs();
    let c = ctx.clone();
    let _ = tokio::task::spawn_blocking(move || c.net.shutdown()).await;
}

/// Stores the groups now (the next command sees them) and applies them in the
/// background, telling `done`.
fn set_groups(
    ctx: &Arc<Ctx>,
    groups: Vec<crate::net::SecurityGroupRules>,
    done: Option<tokio::sync::oneshot::Sender<Result<(), crate::net::NetworkError>>>,
) {
    let stored = ctx.net.set_groups(groups);
    let c = ctx.clone();
    tokio::spawn(async move {
        let res = match stored {
            Ok(generation) => tokio::task::spawn_blocking(move || c.net.sync(generation))
                .await
                .unwrap_or(Err(crate::net::NetworkError::ShutDown)),
            Err(e) => Err(e),
        };
        if let Err(e) = &res {
            tracing::error!(error = %e, "applying security groups");
        }
        if let Some(d) = done {
            let _ = d.send(res);
        }
    });
}
