//! The task launcher: turns what RunTask and StopTask recorded into work for the host
//! runtime (shared/DESIGN.md §4), and what the runtime reports back into task state.
//!
//! Per task with a customer managed key, the data key comes from KMS through Fargate's key
//! flow (`crate::keyflow`): typed KMS calls as the service principal, each authorized and
//! recorded like a client's request.
//!
//! A failure of any step stops the task with `TaskFailedToStart` and a
//! `ResourceInitializationError: …` reason naming the KMS error. Tasks of clusters without a
//! customer managed key get a data key from the CSPRNG (the service-owned key: nothing of
//! it is stored anywhere). Running tasks are never touched by later key changes: the key is
//! used only at launch.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferrogate_ecs::task::{tables, Task, TaskRef, Update};
use ferrogate_runtime::agent::state::TaskState;
use ferrogate_runtime::agent::{
    start_agent, ContainerSpec, EventKind, HealthCheck, HealthStatus, MountPoint, RuntimeCommand,
    RuntimeConfig, RuntimeEvent, StopCode, TaskSpec,
};
use ferrogate_runtime::volume::VolumeSpec;
use ferrogate_runtime::{ContainerName, DataKey, TaskId, VolumeId, VolumeName};
use ferrogate_store::{Direction, StoreError};
use tokio::sync::mpsc;

use crate::keyflow::{key_flow, retire};
use crate::App;

/// The running launcher.
pub struct Launcher {
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    join: tokio::task::JoinHandle<()>,
}

impl Launcher {
    /// Stops every task (SIGTERM, then SIGKILL after its stop timeout), records them as
    /// stopped, and ends; waits at most `limit`.
    pub async fn shutdown(mut self, limit: Duration) {
        if let Some(s) = self.shutdown.take() {
            let _ = s.send(());
        }
        if tokio::time::timeout(limit, &mut self.join).await.is_err() {
            tracing::warn!("tasks did not all stop in time; the next start destroys what is left");
        }
    }
}

struct State {
    app: App,
    commands: Option<mpsc::Sender<RuntimeCommand>>,
    /// Why tasks cannot run here, when the runtime could not start.
    unavailable: Option<String>,
    launching: Mutex<HashSet<String>>,
    stop_sent: Mutex<HashSet<String>>,
    /// The security groups the runtime was last given.
    groups: crate::tasknet::GroupSync,
    /// The awslogs drivers of tasks being launched (the runtime's output sinks).
    drivers: Arc<crate::awslogs::Drivers>,
}

/// Starts the host runtime with `config` (its recovery destroys whatever a previous run left
/// on its data directory) and the launcher. When the runtime cannot start (not root, no
/// fscrypt…), the server still serves and every task fails to start with the reason.
pub async fn start(app: App, mut config: RuntimeConfig) -> Launcher {
    let drivers = Arc::new(crate::awslogs::Drivers::default());
    config.outputs = drivers.clone();
    let (agent, unavailable) = match start_agent(config).await {
        Ok(a) => (Some(a), None),
        Err(e) => {
            tracing::warn!(error = %e, "the host runtime is unavailable: tasks will fail to start");
            (None, Some(e.to_string()))
        }
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    let (commands, events) = match agent {
        Some(a) => {
            if !a.recovery.lost_volumes.is_empty() {
                tracing::info!(
                    tasks = a.recovery.lost_volumes.len(),
                    "the host runtime destroyed tasks of a previous run"
                );
            }
            (Some(a.commands), Some((a.events, a.join)))
        }
        None => (None, None),
    };
    let state = Arc::new(State {
        app,
        commands,
        unavailable,
        launching: Mutex::new(HashSet::new()),
        stop_sent: Mutex::new(HashSet::new()),
        groups: crate::tasknet::GroupSync::default(),
        drivers,
    });
    let join = tokio::spawn(run(state, events, rx));
    Launcher {
        shutdown: Some(tx),
        join,
    }
}

type Events = (mpsc::Receiver<RuntimeEvent>, tokio::task::JoinHandle<()>);

async fn run(
    state: Arc<State>,
    events: Option<Events>,
    mut shutdown: tokio::sync::oneshot::Receiver<()>,
) {
    if let Err(e) = reconcile(&state).await {
        tracing::error!(error = %e, "reconciling tasks after start failed");
    }
    let (mut events, agent_join) = match events {
        Some((e, j)) => (Some(e), Some(j)),
        None => (None, None),
    };
    let mut stopping = false;
    // Services are reconciled after an API change and at most once a second otherwise, not
    // on every runtime event: each pass is a transaction on the single writer.
    let mut kicked = true;
    let mut last_pass = tokio::time::Instant::now();
    let mut last_prune = tokio::time::Instant::now();
    loop {
        if !stopping && last_prune.elapsed() >= Duration::from_secs(60) {
            last_prune = tokio::time::Instant::now();
            let now = state.app.clock.now();
            match state
                .app
                .store
                .write(move |tx| ferrogate_ecs::task::prune_stopped(tx, now))
                .await
            {
                Ok(0) => {}
                Ok(n) => tracing::info!(tasks = n, "forgot tasks stopped more than an hour ago"),
                Err(e) => tracing::error!(error = %e, "pruning stopped tasks failed"),
            }
        }
        if !stopping && (kicked || last_pass.elapsed() >= Duration::from_secs(1)) {
            kicked = false;
            last_pass = tokio::time::Instant::now();
            if let Err(e) = reconcile_services(&state).await {
                tracing::error!(error = %e, "service reconciliation failed");
            }
        }
        if !stopping {
            if let Err(e) = drain_work(&state).await {
                tracing::error!(error = %e, "task launcher: reading queued work failed");
            }
            push_groups(&state).await;
        }
        tokio::select! {
            ev = async { match events.as_mut() { Some(e) => e.recv().await, None => std::future::pending().await } } => {
                match ev {
                    Some(ev) => handle_event(&state, ev).await,
                    None => break, // the runtime ended (after Shutdown)
                }
            }
            _ = state.app.ecs.work_queued(), if !stopping => { kicked = true; }
            _ = state.app.ec2.groups_changed(), if !stopping => {}
            _ = tokio::time::sleep(Duration::from_secs(1)), if !stopping => {}
            _ = &mut shutdown, if !stopping => {
                stopping = true;
                match &state.commands {
                    Some(c) => { let _ = c.send(RuntimeCommand::Shutdown).await; }
                    None => break,
                }
            }
        }
    }
    if let Some(j) = agent_join {
        let _ = j.await;
    }
}

/// Gives the runtime the security groups of every task with an interface, if they changed.
async fn push_groups(state: &State) {
    if let Some(c) = &state.commands {
        if let Err(e) = state.groups.push(&state.app, c).await {
            tracing::error!(error = %e, "pushing security groups to the host runtime failed");
        }
    }
}

/// Keeps every service at its desired count and rolls its deployments (one write
/// transaction per pass, only when some service is not INACTIVE).
async fn reconcile_services(state: &State) -> Result<(), String> {
    let any = state
        .app
        .store
        .read(|tx| {
            ferrogate_ecs::service::SERVICES.scan(tx, &[], None, Direction::Forward, 100_000)
        })
        .map_err(|e| e.to_string())?
        .iter()
        .any(|(_, s)| s.status != "INACTIVE");
    if !any {
        return Ok(());
    }
    let now = state.app.clock.now();
    state
        .app
        .store
        .write(move |tx| ferrogate_ecs::service::reconcile(tx, now))
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// After a restart no task of the previous run is alive (the runtime's recovery destroyed
/// them): every task that had been handed to it is recorded as stopped.
async fn reconcile(state: &State) -> Result<(), StoreError> {
    let live = state
        .app
        .store
        .read(|tx| tables::LIVE.scan(tx, &[], None, Direction::Forward, 1_000_000))?;
    for (_, r) in live {
        let t = load(state, &r)?;
        if let Some(t) = t {
            if t.launched && !t.is_stopped() {
                finish(
                    state,
                    &r,
                    Update::Stopped {
                        stop_code: "TerminationNotice".into(),
                        reason: "Task stopped: the Ferrogate host agent restarted; the task's sandbox and encrypted volume were destroyed".into(),
                    },
                )
                .await?;
            }
        }
    }
    Ok(())
}

fn load(state: &State, r: &TaskRef) -> Result<Option<Task>, StoreError> {
    let key = r.key();
    state.app.store.read(|tx| tables::TASKS.get(tx, &key))
}

/// Applies `update` to the task in one write; a `Stopped` also drops it from the live and
/// work indexes, and then retires its grant.
async fn update(state: &State, r: &TaskRef, update: Update) -> Result<Option<Task>, StoreError> {
    let r2 = r.clone();
    let now = state.app.clock.now();
    let stopped = matches!(update, Update::Stopped { .. });
    let t = state
        .app
        .store
        .write(move |tx| {
            let key = r2.key();
            let Some(mut t) = tables::TASKS.get(tx, &key)? else {
                return Ok::<_, StoreError>(None);
            };
            let changed = t.apply(&update, now);
            let net = if stopped {
                ferrogate_ecs::network::delete_interface(tx, &mut t)
            } else if matches!(&update, Update::Status(s) if s == "RUNNING") {
                ferrogate_ecs::network::interface_in_use(tx, &t)
            } else {
                Ok(())
            };
            net.map_err(|e| match e {
                ferrogate_ecs::EcsError::Internal(s) => s,
                other => StoreError::Unavailable(other.to_string()),
            })?;
            if changed || stopped {
                tables::TASKS.put(tx, &key, &t)?;
            }
            if stopped {
                let id = ferrogate_ecs::task::id_key(&t.id);
                tables::LIVE.delete(tx, &id)?;
                tables::WORK.delete(tx, &id)?;
            }
            Ok(Some(t))
        })
        .await?;
    Ok(t)
}

async fn finish(state: &State, r: &TaskRef, u: Update) -> Result<(), StoreError> {
    state.drivers.forget(&r.id);
    if let Some(t) = update(state, r, u).await? {
        retire_grant(state, &t).await;
    }
    Ok(())
}

async fn drain_work(state: &Arc<State>) -> Result<(), StoreError> {
    let work = state
        .app
        .store
        .read(|tx| tables::WORK.scan(tx, &[], None, Direction::Forward, 256))?;
    for (_, r) in work {
        let Some(t) = load(state, &r)? else {
            drop_work(state, &r.id).await?;
            continue;
        };
        if t.is_stopped() {
            drop_work(state, &t.id).await?;
            continue;
        }
        let launching = state
            .launching
            .lock()
            .map(|l| l.contains(&t.id))
            .unwrap_or(true);
        if launching {
            continue;
        }
        if t.desired == "STOPPED" && !t.launched {
            // Stopped before it was handed to the runtime: nothing runs.
            finish(
                state,
                &r,
                Update::Stopped {
                    stop_code: "UserInitiated".into(),
                    reason: "Task stopped by user".into(),
                },
            )
            .await?;
        } else if t.desired == "STOPPED" {
            let first = state
                .stop_sent
                .lock()
                .map(|mut s| s.insert(t.id.clone()))
                .unwrap_or(false);
            if first {
                if let (Some(c), Ok(id)) = (&state.commands, TaskId::new(t.id.clone())) {
                    let reason = t.stopped_reason.clone().unwrap_or_default();
                    // Never wait here: this loop is the only reader of the runtime's events,
                    // and a runtime waiting to deliver one would never take the command.
                    let cmd = RuntimeCommand::StopTask {
                        task_id: id,
                        reason,
                    };
                    if c.try_send(cmd).is_err() {
                        if let Ok(mut s) = state.stop_sent.lock() {
                            s.remove(&t.id);
                        }
                        continue; // the work stays queued for the next pass
                    }
                }
            }
            drop_work(state, &t.id).await?;
        } else if !t.launched {
            if let Ok(mut l) = state.launching.lock() {
                l.insert(t.id.clone());
            }
            let st = state.clone();
            tokio::spawn(async move {
                let id = t.id.clone();
                launch(&st, t).await;
                if let Ok(mut l) = st.launching.lock() {
                    l.remove(&id);
                }
            });
        } else {
            drop_work(state, &t.id).await?;
        }
    }
    Ok(())
}

async fn drop_work(state: &State, id: &str) -> Result<(), StoreError> {
    let key = ferrogate_ecs::task::id_key(id);
    state
        .app
        .store
        .write(move |tx| tables::WORK.delete(tx, &key).map(|_| ()))
        .await
}

async fn launch(state: &State, t: Task) {
    let r = t.task_ref();
    let failed = |reason: String| Update::Stopped {
        stop_code: "TaskFailedToStart".into(),
        reason,
    };
    let Some(commands) = &state.commands else {
        let why = state.unavailable.clone().unwrap_or_default();
        let u = failed(format!(
            "ResourceInitializationError: this host cannot run tasks: {why}"
        ));
        if let Err(e) = finish(state, &r, u).await {
            tracing::error!(error = %e, "recording a task that failed to start");
        }
        return;
    };
    // A grant left by an earlier attempt that never launched (a crash, a failed write) is
    // retired before a new one is made.
    if let (Some(key), Some(grant), false) = (&t.kms_key_arn, &t.grant_id, t.launched) {
        if !t.grant_retired {
            if !retire(&state.app, &t, key, grant).await {
                return; // retried on the next pass
            }
            if let Err(e) = record_grant(state, &t, None).await {
                tracing::error!(error = %e, task = %t.id, "recording a retired grant failed");
                return;
            }
        }
    }
    let Some(t) = with_interface(state, t).await else {
        return;
    };
    // The awslogs streams, made as the execution role before anything of the task exists.
    if let Err(reason) = state.drivers.prepare(&state.app, &t).await {
        if let Err(e) = finish(state, &r, failed(reason)).await {
            tracing::error!(error = %e, "recording a task that failed to start");
        }
        return;
    }
    let task = &t;
    let recorded_grant = |grant: String| async move {
        record_grant(state, task, Some(grant))
            .await
            .map_err(|e| e.to_string())
    };
    let keyed = match key_flow(&state.app, &t, recorded_grant).await {
        Ok(k) => k,
        Err(reason) => {
            if let Err(e) = finish(state, &r, failed(reason)).await {
                tracing::error!(error = %e, "recording a task that failed to start");
            }
            return;
        }
    };
    let spec = match spec(&t, keyed.data_key) {
        Ok(s) => s,
        Err(reason) => {
            // `finish` retires the grant recorded by the key flow.
            let _ = finish(state, &r, failed(reason)).await;
            return;
        }
    };
    // Record the launch (with what teardown needs) before the runtime starts anything; a
    // StopTask that came in meanwhile wins.
    let grant_id = keyed.grant_id.clone();
    let r2 = r.clone();
    let recorded = state
        .app
        .store
        .write(move |tx| {
            let key = r2.key();
            let Some(mut cur) = tables::TASKS.get(tx, &key)? else {
                return Ok::<_, StoreError>(None);
            };
            if cur.desired != "RUNNING" || cur.is_stopped() {
                return Ok(Some(false));
            }
            cur.launched = true;
            cur.grant_id = grant_id;
            tables::TASKS.put(tx, &key, &cur)?;
            tables::WORK.delete(tx, &ferrogate_ecs::task::id_key(&cur.id))?;
            Ok(Some(true))
        })
        .await;
    match recorded {
        Ok(Some(true)) => {
            if spec.network.is_some() {
                if let Err(e) = state.groups.push(&state.app, commands).await {
                    let reason = format!("ResourceInitializationError: {e}");
                    let _ = finish(state, &r, failed(reason)).await;
                    return;
                }
            }
            if commands
                .send(RuntimeCommand::StartTask(Box::new(spec)))
                .await
                .is_err()
            {
                let _ = finish(
                    state,
                    &r,
                    failed("ResourceInitializationError: the host runtime has stopped".into()),
                )
                .await;
            }
        }
        Ok(Some(false)) => {
            let _ = finish(
                state,
                &r,
                Update::Stopped {
                    stop_code: "UserInitiated".into(),
                    reason: "Task stopped by user".into(),
                },
            )
            .await;
        }
        Ok(None) => {}
        Err(e) => {
            tracing::error!(error = %e, task = %t.id, "recording a task launch failed");
        }
    }
}

fn spec(t: &Task, data_key: DataKey) -> Result<TaskSpec, String> {
    let bad = |e: &dyn std::fmt::Display| format!("ResourceInitializationError: {e}");
    let containers = t
        .containers
        .iter()
        .map(|c| {
            Ok(ContainerSpec {
                name: ContainerName::new(c.name.clone()).map_err(|e| bad(&e))?,
                image: c.image.clone(),
                entry_point: c.entry_point.clone(),
                command: c.command.clone(),
                environment: c.environment.clone(),
                working_directory: c.working_directory.clone(),
                user: c.user.clone(),
                essential: c.essential,
                stop_timeout: c.stop_timeout.map(|s| Duration::from_secs(u64::from(s))),
                memory_mib: c.memory,
                mount_points: c
                    .mounts
                    .iter()
                    .map(|m| {
                        Ok(MountPoint {
                            source_volume: VolumeName::new(m.volume.clone())
                                .map_err(|e| bad(&e))?,
                            container_path: m.path.clone(),
                            read_only: m.read_only,
                        })
                    })
                    .collect::<Result<Vec<_>, String>>()?,
                readonly_root_filesystem: c.readonly_root_filesystem,
                health_check: c.health_check.as_ref().map(|h| HealthCheck {
                    argv: h.argv.clone(),
                    interval: Duration::from_secs(u64::from(h.interval)),
                    timeout: Duration::from_secs(u64::from(h.timeout)),
                    retries: h.retries,
                    start_period: Duration::from_secs(u64::from(h.start_period)),
                }),
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(TaskSpec {
        task_id: TaskId::new(t.id.clone()).map_err(|e| bad(&e))?,
        volume: VolumeSpec {
            volume_id: VolumeId::new(t.volume_id.clone()).map_err(|e| bad(&e))?,
            size_gib: t.ephemeral_gib,
            data_key,
        },
        cpu_units: t.cpu.parse().ok(),
        memory_mib: t.memory.parse().ok(),
        containers,
        volumes: t
            .volumes
            .iter()
            .map(|v| VolumeName::new(v.clone()).map_err(|e| bad(&e)))
            .collect::<Result<Vec<_>, String>>()?,
        hostname: None,
        network: crate::tasknet::task_network(t)?,
    })
}

/// `t` with its network interface, made now (in its subnets, with its security groups)
/// unless an earlier attempt made it. `None` when the task is not to start: it was
/// stopped meanwhile, or it failed (no free address, subnets or groups gone), which is
/// recorded here.
async fn with_interface(state: &State, t: Task) -> Option<Task> {
    if t.eni.is_some() {
        return Some(t);
    }
    let r = t.task_ref();
    let now = state.app.clock.now();
    let r2 = r.clone();
    let made = state
        .app
        .store
        .write(move |tx| {
            let key = r2.key();
            let Some(mut cur) = tables::TASKS.get(tx, &key)? else {
                return Ok(None);
            };
            if cur.desired != "RUNNING" || cur.is_stopped() || cur.eni.is_some() {
                return Ok(Some(Ok(cur)));
            }
            match ferrogate_ecs::network::create_interface(tx, &cur, now) {
                Ok(eni) => {
                    cur.eni = Some(eni);
                    tables::TASKS.put(tx, &key, &cur)?;
                    Ok(Some(Ok(cur)))
                }
                Err(Ok(reason)) => Ok(Some(Err(reason))),
                Err(Err(e)) => Err(e),
            }
        })
        .await;
    match made {
        Ok(Some(Ok(t))) => Some(t),
        Ok(Some(Err(reason))) => {
            let u = Update::Stopped {
                stop_code: "TaskFailedToStart".into(),
                reason,
            };
            if let Err(e) = finish(state, &r, u).await {
                tracing::error!(error = %e, "recording a task that failed to start");
            }
            None
        }
        Ok(None) => None,
        Err(e) => {
            tracing::error!(error = %e, task = %r.id, "making a task's network interface failed");
            None
        }
    }
}

/// Records (or clears) the grant a launch attempt holds, before anything else can fail.
async fn record_grant(state: &State, t: &Task, grant: Option<String>) -> Result<(), StoreError> {
    let r = t.task_ref();
    state
        .app
        .store
        .write(move |tx| {
            let key = r.key();
            if let Some(mut cur) = tables::TASKS.get(tx, &key)? {
                cur.grant_id = grant;
                cur.grant_retired = false;
                tables::TASKS.put(tx, &key, &cur)?;
            }
            Ok(())
        })
        .await
}

async fn retire_grant(state: &State, t: &Task) {
    let (Some(key), Some(grant)) = (&t.kms_key_arn, &t.grant_id) else {
        return;
    };
    if t.grant_retired || !retire(&state.app, t, key, grant).await {
        return;
    }
    let r = t.task_ref();
    let _ = state
        .app
        .store
        .write(move |tx| {
            let key = r.key();
            if let Some(mut cur) = tables::TASKS.get(tx, &key)? {
                cur.grant_retired = true;
                tables::TASKS.put(tx, &key, &cur)?;
            }
            Ok::<_, StoreError>(())
        })
        .await;
}

fn stop_code(c: StopCode) -> &'static str {
    match c {
        StopCode::TaskFailedToStart => "TaskFailedToStart",
        StopCode::EssentialContainerExited => "EssentialContainerExited",
        StopCode::UserInitiated => "UserInitiated",
        StopCode::AgentShutdown | StopCode::TaskLost => "TerminationNotice",
    }
}

async fn handle_event(state: &State, ev: RuntimeEvent) {
    let id = ferrogate_ecs::task::id_key(ev.task_id.as_str());
    let r = match state.app.store.read(|tx| tables::LIVE.get(tx, &id)) {
        Ok(Some(r)) => r,
        Ok(None) => return, // not a task of ours any more (reconciled, or never recorded)
        Err(e) => {
            tracing::error!(error = %e, "reading a task for a runtime event");
            return;
        }
    };
    let u = match ev.kind {
        EventKind::StateChanged(s) => Update::Status(
            match s {
                TaskState::Provisioning => "PROVISIONING",
                TaskState::Pending => "PENDING",
                TaskState::Running => "RUNNING",
                TaskState::Stopping => "STOPPING",
                TaskState::Deprovisioning => "DEPROVISIONING",
                TaskState::Stopped => return, // TaskStopped follows with the details
            }
            .into(),
        ),
        EventKind::VolumeReady { .. } => return,
        EventKind::ContainerStarted { container, pid } => Update::ContainerStarted {
            name: container.to_string(),
            pid,
        },
        EventKind::ContainerFailedToStart { container, reason } => Update::ContainerStopped {
            name: container.to_string(),
            exit_code: None,
            reason: Some(reason),
        },
        EventKind::ContainerExited { container, exit } => Update::ContainerStopped {
            name: container.to_string(),
            exit_code: Some(exit.exit_code),
            reason: exit.reason,
        },
        EventKind::ContainerHealth { container, status } => Update::Health {
            name: container.to_string(),
            status: match status {
                HealthStatus::Healthy => "HEALTHY",
                HealthStatus::Unhealthy => "UNHEALTHY",
            }
            .into(),
        },
        EventKind::TaskStopped {
            stop_code: code,
            reason,
            teardown,
        } => {
            if !teardown.errors.is_empty() {
                tracing::error!(task = %r.id, errors = ?teardown.errors, "task teardown reported errors");
            }
            if let Ok(mut s) = state.stop_sent.lock() {
                s.remove(&r.id);
            }
            if let Err(e) = finish(
                state,
                &r,
                Update::Stopped {
                    stop_code: stop_code(code).into(),
                    reason,
                },
            )
            .await
            {
                tracing::error!(error = %e, "recording a stopped task");
            }
            return;
        }
        EventKind::CommandRejected { reason } => {
            tracing::warn!(task = %r.id, %reason, "the host runtime rejected a command");
            return;
        }
    };
    if let Err(e) = update(state, &r, u).await {
        tracing::error!(error = %e, "recording a task event");
    }
}
