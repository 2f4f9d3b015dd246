//! One task, from provisioning to teardown. Runs as a tokio task owned by
//! the supervisor; blocking steps (mkfs, ioctls, cgroup files) go to the
//! blocking pool.

use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;
use tokio::time::{sleep_until, timeout, Instant};

mod health;
mod network;
mod output;
mod provision;
mod teardown;

use health::Health;
use provision::{default_hostname, Provision};

use super::record;
use super::state::{TaskEvent, TaskState};
use super::{ContainerExit, ContainerSpec, Ctx, EventKind, StopCode, TaskSpec, MAX_STOP_TIMEOUT};
use crate::cgroup::{Limits, TaskCgroup};
use crate::ids::{ContainerName, TaskId};
use crate::sandbox::init::{exit_code, INIT_VOLUME};
use crate::sandbox::protocol::{encode, FromInit, ToInit};
use crate::sys::process::{wait_pidfd, WaitStatus};
use crate::volume::{Seal, VolumeDevice, VolumeRequest};

/// Commands from the supervisor to one task.
pub(crate) enum TaskCmd {
    Stop { code: StopCode, reason: String },
}

const INIT_REPLY_TIMEOUT: Duration = Duration::from_secs(30);
const TEARDOWN_STEP_TIMEOUT: Duration = Duration::from_secs(10);

struct InitConn {
    pid: i32,
    pidfd: AsyncFd<OwnedFd>,
    writer: tokio::net::unix::OwnedWriteHalf,
    msgs: mpsc::Receiver<FromInit>,
    exited: Option<WaitStatus>,
}

impl InitConn {
    async fn send(&mut self, m: &ToInit) -> Result<(), String> {
        let b = encode(m).map_err(|e| e.to_string())?;
        self.writer
            .write_all(&b)
            .await
            .map_err(|e| format!("sandbox init control channel: {e}"))
    }
    /// The task volume's root as seen from the host: through the init's
    /// root, where it is mounted at [`INIT_VOLUME`].
    fn volume_root(&self) -> PathBuf {
        PathBuf::from(format!("/proc/{}/root", self.pid)).join(INIT_VOLUME.trim_start_matches('/'))
    }
    async fn wait_exit(&mut self, limit: Duration) -> Option<WaitStatus> {
        if self.exited.is_some() {
            return self.exited;
        }
        if let Ok(Ok(mut g)) = timeout(limit, self.pidfd.readable()).await {
            g.clear_ready();
        }
        if let Ok(Some(s)) = wait_pidfd(self.pidfd.get_ref().as_fd(), true) {
            self.exited = Some(s);
        }
        self.exited
    }
    fn alive(&self) -> bool {
        self.exited.is_none()
    }
}

struct Container {
    spec: ContainerSpec,
    leaf: String,
    started: bool,
    exited: bool,
    deadline: Option<Instant>,
    killed: bool,
    health: Option<Health>,
}

struct TaskRun {
    ctx: Arc<Ctx>,
    id: TaskId,
    state: TaskState,
    containers: Vec<Container>,
    cgroup: Option<TaskCgroup>,
    device: Option<VolumeDevice>,
    init: Option<InitConn>,
    seal: Option<Seal>,
    mount: PathBuf,
    stop: Option<(StopCode, String)>,
    record_written: bool,
    size_gib: u32,
    /// From the stop on, events are queued here instead of waiting for a
    /// slow (or absent) consumer: teardown, and with it the removal of the
    /// volume key, must never wait for event delivery.
    deferring: bool,
    deferred: Vec<super::RuntimeEvent>,
    /// The id of the next health check run.
    next_exec: u64,
    /// The task's range of host ids, held until the task is gone.
    ids: Option<crate::idrange::IdLease>,
    /// The readers of the containers' output pipes.
    output: Option<output::Output>,
    /// The task's place in the network, from reservation to release.
    net: Option<crate::net::NetLease>,
    /// Creating the task's interface, in the background.
    net_attach: Option<tokio::task::JoinHandle<Result<(), crate::net::NetworkError>>>,
}

type Failure = (StopCode, String);

fn fail(reason: impl Into<String>) -> Failure {
    (StopCode::TaskFailedToStart, reason.into())
}

pub(crate) async fn run_task(ctx: Arc<Ctx>, spec: TaskSpec, mut rx: mpsc::Receiver<TaskCmd>) {
    let TaskSpec {
        task_id,
        volume,
        cpu_units,
        memory_mib,
        containers,
        volumes,
        hostname,
        network,
    } = spec;
    let mount = ctx.layout.task_mount(&task_id);
    let mut t = TaskRun {
        ctx: ctx.clone(),
        id: task_id.clone(),
        state: TaskState::Provisioning,
        containers: containers
            .into_iter()
            .map(|spec| Container {
                leaf: format!("c-{}", spec.name),
                spec,
                started: false,
                exited: false,
                deadline: None,
                killed: false,
                health: None,
            })
            .collect(),
        cgroup: None,
        device: None,
        init: None,
        seal: None,
        mount,
        stop: None,
        record_written: false,
        size_gib: volume.size_gib,
        deferring: false,
        deferred: Vec::new(),
        next_exec: 0,
        ids: None,
        output: None,
        net: None,
        net_attach: None,
    };
    t.ctx
        .emit(&t.id, EventKind::StateChanged(TaskState::Provisioning))
        .await;
    let req = VolumeRequest {
        volume_id: volume.volume_id.clone(),
        size_gib: volume.size_gib,
    };
    let limits = Limits {
        cpu_units: Some(cpu_units.unwrap_or(super::DEFAULT_TASK_CPU_UNITS)),
        memory_mib: Some(memory_mib.unwrap_or(super::DEFAULT_TASK_MEMORY_MIB)),
        pids_max: Some(ctx.config.pids_max),
    };
    let hostname = hostname
        .or_else(|| network.as_ref().map(|n| n.hostname.clone()))
        .unwrap_or_else(|| default_hostname(&task_id));
    let vol_names: Vec<String> = volumes.iter().map(|v| v.to_string()).collect();
    let p = Provision {
        req,
        key: volume.data_key,
        limits,
        hostname,
        volumes: vol_names,
        network,
    };
    match t.provision(p, &mut rx).await {
        Ok(()) => t.run(&mut rx).await,
        Err(f) => {
            t.stop.get_or_insert(f);
        }
    }
    t.shutdown(&mut rx).await;
}

impl TaskRun {
    /// Emits an event: waits for room in the channel, except while
    /// deferring (from the stop on), where it is sent only if there
    /// is room and nothing is queued before it, and queued otherwise.
    async fn emit(&mut self, kind: EventKind) {
        if !self.deferring {
            self.ctx.emit(&self.id, kind).await;
            return;
        }
        let ev = super::RuntimeEvent {
            task_id: self.id.clone(),
            at: std::time::SystemTime::now(),
            kind,
        };
        if !self.deferred.is_empty() {
            self.deferred.push(ev);
        } else if let Err(ev) = self.ctx.try_emit(ev) {
            self.deferred.push(ev);
        }
    }

    /// Delivers the queued events, in order, and stops deferring.
    async fn flush_events(&mut self) {
        self.deferring = false;
        for ev in std::mem::take(&mut self.deferred) {
            let _ = self.ctx.events.send(ev).await;
        }
    }

    async fn set_state(&mut self, ev: TaskEvent) {
        match self.state.transition(ev) {
            Ok(next) if next != self.state => {
                self.state = next;
                self.emit(EventKind::StateChanged(next)).await;
            }
            Ok(_) => {}
            Err(e) => {
                tracing::error!(task = %self.id, error = %e, "ignored invalid task transition")
            }
        }
    }

    fn check_stop(&mut self, rx: &mut mpsc::Receiver<TaskCmd>) -> Result<(), Failure> {
        if let Ok(TaskCmd::Stop { code, reason }) = rx.try_recv() {
            return Err((code, reason));
        }
        Ok(())
    }

    /// RUNNING until a stop request or an essential exit.
    async fn run(&mut self, rx: &mut mpsc::Receiver<TaskCmd>) {
        loop {
            let checks_due = self
                .containers
                .iter()
                .filter(|c| !c.exited)
                .filter_map(|c| c.health.as_ref().map(Health::due))
                .min();
            let Some(init) = self.init.as_mut() else {
                return;
            };
            let far = Instant::now() + Duration::from_secs(3600);
            tokio::select! {
                () = sleep_until(checks_due.unwrap_or(far)), if checks_due.is_some() => {
                    self.run_checks().await;
                }
                m = init.msgs.recv() => match m {
                    Some(FromInit::ContainerExited { container, status }) => {
                        if let Some(f) = self.on_exit(&container, status).await {
                            self.stop.get_or_insert(f);
                            return;
                        }
                    }
                    Some(FromInit::ExecExited { id, status }) => {
                        self.check_done(id, Some(status == WaitStatus::Exited(0))).await;
                    }
                    Some(FromInit::ExecFailed { id, container_gone, .. }) => {
                        // A container whose process is gone (its exit report is on its way)
                        // gets no verdict on its health.
                        self.check_done(id, (!container_gone).then_some(false)).await;
                    }
                    Some(_) => {}
                    None => {
                        self.stop.get_or_insert((StopCode::EssentialContainerExited, "Sandbox init exited unexpectedly".into()));
                        return;
                    }
                },
                cmd = rx.recv() => {
                    if let Some(TaskCmd::Stop { code, reason }) = cmd {
                        self.stop.get_or_insert((code, reason));
                    } else {
                        self.stop.get_or_insert((StopCode::AgentShutdown, "Host agent shutting down".into()));
                    }
                    return;
                }
            }
        }
    }

    /// Starts the health checks that are due and fails those that ran out of time.
    async fn run_checks(&mut self) {
        let now = Instant::now();
        let mut to_send = Vec::new();
        let mut changed = Vec::new();
        for c in &mut self.containers {
            let Some(h) = c.health.as_mut().filter(|_| !c.exited) else {
                continue;
            };
            match h.probe {
                Some((id, _, deadline)) if deadline <= now => {
                    to_send.push(ToInit::KillExec { id });
                    if let Some(st) = h.finish(false, now) {
                        changed.push((c.spec.name.clone(), st));
                    }
                }
                None if h.next <= now => {
                    self.next_exec += 1;
                    let id = self.next_exec;
                    h.probe = Some((id, now, now + h.check.timeout));
                    to_send.push(ToInit::Exec {
                        id,
                        container: c.spec.name.to_string(),
                        argv: h.check.argv.clone(),
                    });
                }
                _ => {}
            }
        }
        if let Some(init) = self.init.as_mut() {
            for m in &to_send {
                let _ = init.send(m).await;
            }
        }
        for (container, status) in changed {
            self.emit(EventKind::ContainerHealth { container, status })
                .await;
        }
    }

    /// Records the end of health check run `id` (`ok`: it passed; `None`: it could not run
    /// because the container's process is ending, which says nothing of its health).
    async fn check_done(&mut self, id: u64, ok: Option<bool>) {
        let now = Instant::now();
        let mut changed = None;
        for c in &mut self.containers {
            if c.exited {
                continue;
            }
            if let Some(h) = c.health.as_mut() {
                if h.probe.is_some_and(|(p, _, _)| p == id) {
                    match ok {
                        Some(ok) => {
                            changed = h.finish(ok, now).map(|st| (c.spec.name.clone(), st));
                        }
                        None => {
                            h.probe = None;
                            h.next = now + h.check.interval;
                        }
                    }
                }
            }
        }
        if let Some((container, status)) = changed {
            self.emit(EventKind::ContainerHealth { container, status })
                .await;
        }
    }

    /// The container named `name`.
    fn container_mut(&mut self, name: &str) -> Option<&mut Container> {
        self.containers
            .iter_mut()
            .find(|c| c.spec.name.as_str() == name)
    }

    /// Records an exit; returns a stop cause if the task must stop.
    async fn on_exit(&mut self, name: &str, status: WaitStatus) -> Option<Failure> {
        let cg = self.cgroup.clone();
        let c = self.container_mut(name)?;
        c.exited = true;
        // A check still running in the container goes with it.
        let probe = c.health.as_mut().and_then(|h| h.probe.take());
        let leaf = c.leaf.clone();
        let essential = c.spec.essential;
        let cname: ContainerName = c.spec.name.clone();
        let (oom, _) = blocking(move || {
            let Some(cg) = cg else { return (false, 0) };
            let oom = cg.oom_kills(&leaf) > 0;
            // Docker semantics: when the main process ends, the rest of the
            // container goes with it.
            let mut n = 0;
            for p in cg.leaf_pids(&leaf) {
                if crate::sys::process::kill(p, libc::SIGKILL).is_ok() {
                    n += 1;
                }
            }
            (oom, n)
        })
        .await
        .unwrap_or((false, 0));
        if let (Some((id, _, _)), Some(init)) = (probe, self.init.as_mut()) {
            let _ = init.send(&ToInit::KillExec { id }).await;
        }
        let exit = ContainerExit {
            exit_code: exit_code(status),
            signal: match status {
                WaitStatus::Signaled(s) => Some(s),
                WaitStatus::Exited(_) => None,
            },
            oom_killed: oom,
            reason: oom
                .then(|| "OutOfMemoryError: Container killed due to memory usage".to_owned()),
        };
        self.emit(EventKind::ContainerExited {
            container: cname,
            exit,
        })
        .await;
        let all_done = self.containers.iter().all(|c| c.exited || !c.started);
        if essential || all_done {
            return Some((
                StopCode::EssentialContainerExited,
                "Essential container in task exited".into(),
            ));
        }
        None
    }

    /// STOPPING: SIGTERM, SIGKILL after each container's stopTimeout, then
    /// kill anything left.
    async fn stop_containers(&mut self) {
        let now = Instant::now();
        let default = self.ctx.config.default_stop_timeout;
        let mut to_signal = Vec::new();
        for c in &mut self.containers {
            if c.started && !c.exited {
                c.deadline =
                    Some(now + c.spec.stop_timeout.unwrap_or(default).min(MAX_STOP_TIMEOUT));
                to_signal.push(c.spec.name.to_string());
            }
        }
        if let Some(init) = self.init.as_mut() {
            for name in to_signal {
                let _ = init
                    .send(&ToInit::Signal {
                        container: name,
                        signal: libc::SIGTERM,
                    })
                    .await;
            }
        }
        loop {
            let pending: Vec<Instant> = self
                .containers
                .iter()
                .filter(|c| c.started && !c.exited && !c.killed)
                .filter_map(|c| c.deadline)
                .collect();
            if !self.containers.iter().any(|c| c.started && !c.exited) {
                break;
            }
            let Some(init) = self.init.as_mut() else {
                break;
            };
            let next = pending
                .iter()
                .min()
                .copied()
                .unwrap_or_else(|| Instant::now() + TEARDOWN_STEP_TIMEOUT);
            tokio::select! {
                m = init.msgs.recv() => match m {
                    Some(FromInit::ContainerExited { container, status }) => { let _ = self.on_exit(&container, status).await; }
                    Some(_) => {}
                    None => break,
                },
                _ = sleep_until(next) => {
                    let now = Instant::now();
                    let mut kill = Vec::new();
                    for c in &mut self.containers {
                        if c.started && !c.exited && c.deadline.is_some_and(|d| d <= now) {
                            if c.killed {
                                // Already SIGKILLed and still not reported.
                                c.exited = true;
                            } else {
                                c.killed = true;
                                c.deadline = Some(now + TEARDOWN_STEP_TIMEOUT);
                                kill.push(c.spec.name.to_string());
                            }
                        }
                    }
                    if let Some(init) = self.init.as_mut() {
                        for name in kill {
                            let _ = init.send(&ToInit::Signal { container: name, signal: libc::SIGKILL }).await;
                        }
                    }
                }
            }
        }
        // Whatever else runs in the task (orphans, helpers) goes now.
        if let Some(init) = self.init.as_mut() {
            if init.alive() && init.send(&ToInit::KillAll).await.is_ok() {
                let deadline = Instant::now() + TEARDOWN_STEP_TIMEOUT;
                while let Some(init) = self.init.as_mut() {
                    match timeout_at(deadline, init.msgs.recv()).await {
                        Some(Some(FromInit::Quiesced)) | Some(None) | None => break,
                        Some(Some(FromInit::ContainerExited { container, status })) => {
                            let _ = self.on_exit(&container, status).await;
                        }
                        Some(Some(_)) => {}
                    }
                }
            }
        }
    }

    async fn shutdown(mut self, rx: &mut mpsc::Receiver<TaskCmd>) {
        // A stop request that raced with the end of provisioning still wins
        // over a generic reason.
        if self.stop.is_none() {
            if let Ok(TaskCmd::Stop { code, reason }) = rx.try_recv() {
                self.stop = Some((code, reason));
            }
        }
        let (code, reason) = self
            .stop
            .take()
            .unwrap_or((StopCode::AgentShutdown, "Task stopped".into()));
        self.deferring = true;
        if self.state != TaskState::Stopping {
            let ev = if code == StopCode::TaskFailedToStart {
                TaskEvent::StartFailed
            } else {
                TaskEvent::StopRequested
            };
            self.set_state(ev).await;
        }
        if self.state == TaskState::Stopping {
            self.stop_containers().await;
            self.set_state(TaskEvent::ProcessesGone).await;
        }
        let teardown = self.teardown().await;
        // Every line the containers wrote is in their logs before the task is reported
        // stopped; the id range is free once no process of the task is left.
        if let Some(out) = self.output.take() {
            out.finish(TEARDOWN_STEP_TIMEOUT).await;
        }
        self.ids = None;
        self.flush_events().await;
        self.set_state(TaskEvent::TornDown).await;
        if !teardown.errors.is_empty() {
            tracing::error!(task = %self.id, errors = ?teardown.errors, "teardown incomplete");
        }
        self.ctx
            .emit(
                &self.id,
                EventKind::TaskStopped {
                    stop_code: code,
                    reason,
                    teardown,
                },
            )
            .await;
    }
}

async fn timeout_at<F: std::future::Future>(deadline: Instant, f: F) -> Option<F::Output> {
    tokio::time::timeout_at(deadline, f).await.ok()
}

async fn recv(init: &mut InitConn, limit: Duration) -> Option<FromInit> {
    timeout(limit, init.msgs.recv()).await.ok().flatten()
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, String> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| format!("internal error: {e}"))
}

fn connect(s: crate::sandbox::spawn::SpawnedInit) -> std::io::Result<InitConn> {
    s.control.set_nonblocking(true)?;
    let stream = tokio::net::UnixStream::from_std(s.control)?;
    let (rd, writer) = stream.into_split();
    let (tx, msgs) = mpsc::channel(64);
    tokio::spawn(async move {
        let mut lines = BufReader::new(rd).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            match serde_json::from_str::<FromInit>(&line) {
                Ok(m) => {
                    if tx.send(m).await.is_err() {
                        break;
                    }
                }
                Err(e) => tracing::warn!(error = %e, "malformed message from sandbox init"),
            }
        }
    });
    Ok(InitConn {
        pid: s.pid,
        pidfd: crate::sys::process::async_pidfd(s.pidfd)?,
        writer,
        msgs,
        exited: None,
    })
}
