//! Runtime benchmark (root only). Prints Markdown for docs/benchmarks.md.
//!
//! ```text
//! CARGO_TARGET_DIR=/work/target-runtime cargo build --release -p ferrogate-runtime --bin runtime-bench
//! sudo /work/target-runtime/release/runtime-bench [--runs 20] [--tp-mib 1024] [--iops-secs 10] [--data-dir DIR]
//!     [--net-only | --no-net] [--concurrent 200] [--net-tp-mib 2048] [--net-tp-runs 5]
//! ```
//!
//! Measures, with a local busybox image, for each encrypting volume backend
//! (XTS, fscrypt):
//! - StartTask → TaskRunning and StopTask → TaskStopped (everything
//!   destroyed and verified) for 20 and 200 GiB volumes, p50/p99;
//! - host memory of the per-task process (the sandbox init), RSS and PSS;
//! - sequential `dd` of `--tp-mib` MiB inside a task;
//!
//! then task networking on the default backend (see `runtime-bench/net.rs`): setup alone,
//! start with and without a network, many networked tasks at once, host → task throughput
//! against a bare veth (`--no-net` skips it, `--net-only` runs only it);
//!
//! and then, for the unencrypted loop device, fscrypt and XTS in the same run
//! (`runtime-bench/volumes.rs`): provisioning time, sequential write (fsync'd)
//! and read (after dropping caches), 4 KiB random IOPS, and the XTS backend's
//! memory per volume.
//!
//! The binary is its own sandbox init, as the `ferrogate` binary is. It runs in a network
//! namespace of its own: the interfaces, routes and nftables tables it makes never touch
//! the host's network.
#![allow(clippy::unwrap_used, clippy::expect_used)]

// The root tests' busybox image: one copy serves the tests and the benchmark.
#[path = "../../tests/common/fixture.rs"]
mod fixture;
#[path = "runtime-bench/net.rs"]
mod net;
#[path = "runtime-bench/volumes.rs"]
mod volumes;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ferrogate_runtime::agent::{
    start_agent, Agent, ContainerSpec, EventKind, RuntimeCommand, RuntimeConfig, TaskSpec,
    TaskState,
};
use ferrogate_runtime::volume::{BackendChoice, VolumeSpec};
use ferrogate_runtime::{ContainerName, DataKey, TaskId, VolumeId};

struct Args {
    runs: usize,
    tp_mib: usize,
    iops_secs: u64,
    data_dir: Option<PathBuf>,
    net_only: bool,
    no_net: bool,
    concurrent: usize,
    net_tp_mib: usize,
    net_tp_runs: usize,
}

fn parse_args() -> Args {
    let mut a = Args {
        runs: 20,
        tp_mib: 1024,
        iops_secs: 10,
        data_dir: None,
        net_only: false,
        no_net: false,
        concurrent: 200,
        net_tp_mib: 2048,
        net_tp_runs: 5,
    };
    let v: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < v.len() {
        match v[i].as_str() {
            "--runs" => a.runs = v[i + 1].parse().unwrap(),
            "--tp-mib" => a.tp_mib = v[i + 1].parse().unwrap(),
            "--iops-secs" => a.iops_secs = v[i + 1].parse().unwrap(),
            "--data-dir" => a.data_dir = Some(PathBuf::from(&v[i + 1])),
            "--concurrent" => a.concurrent = v[i + 1].parse().unwrap(),
            "--net-tp-mib" => a.net_tp_mib = v[i + 1].parse().unwrap(),
            "--net-tp-runs" => a.net_tp_runs = v[i + 1].parse().unwrap(),
            "--net-only" => {
                a.net_only = true;
                i += 1;
                continue;
            }
            "--no-net" => {
                a.no_net = true;
                i += 1;
                continue;
            }
            other => panic!("unknown argument {other}"),
        }
        i += 2;
    }
    a
}

fn main() {
    ferrogate_runtime::sandbox_init_main_if_requested();
    if !ferrogate_runtime::host::is_root() {
        eprintln!("runtime-bench needs root");
        std::process::exit(2);
    }
    let args = parse_args();
    // Before any thread: every thread and process of the benchmark inherits it.
    ferrogate_runtime::net::enter_new_network_namespace().unwrap();
    let base = args
        .data_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("/var/tmp"));
    std::fs::create_dir_all(&base).unwrap();
    let dir = tempfile::Builder::new()
        .prefix("fg-bench-")
        .tempdir_in(&base)
        .unwrap();
    let archive = dir.path().join("busybox.tar");
    fixture::docker_save_archive(&archive);
    ferrogate_runtime::image::load(dir.path(), &archive, &[]).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!("## Runtime benchmark\n");
    println!(
        "host: {} CPUs, kernel {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        kernel()
    );
    println!(
        "runs per size: {}; image: busybox (1 layer); command: `sleep 1000`\n",
        args.runs
    );
    if args.net_only {
        rt.block_on(network_run(dir.path(), &args));
        return;
    }
    if std::env::var_os("FG_BENCH_ONLY").is_none() {
        for backend in [BackendChoice::Xts, BackendChoice::Fscrypt] {
            rt.block_on(tasks(dir.path(), backend, &args));
        }
        if !args.no_net {
            rt.block_on(network_run(dir.path(), &args));
        }
    }
    volumes::run(dir.path(), args.tp_mib, args.runs, args.iops_secs);
}

/// An agent on `backend` for the benchmark.
async fn bench_agent(dir: &Path, backend: BackendChoice) -> Agent {
    let exe = std::env::current_exe().unwrap();
    let mut config = RuntimeConfig::new(dir, exe);
    config.volume_backend = backend;
    // 200 GiB volumes are sparse: measure their provisioning whatever the free disk.
    config.capacity.disk_gib = Some(1 << 20);
    // Hundreds of tasks running `sleep` at once: admission would count their
    // reservations, not what they use.
    config.capacity.cpu_units = Some(1 << 30);
    config.capacity.memory_mib = Some(1 << 30);
    config.capacity.pids = Some(1 << 30);
    start_agent(config).await.unwrap()
}

/// Task lifecycle, per-task memory and in-task `dd` on one backend.
async fn tasks(dir: &Path, backend: BackendChoice, args: &Args) {
    let mut agent = bench_agent(dir, backend).await;
    println!(
        "### Tasks on the {backend} backend ({:?})\n",
        agent.volume_backend
    );
    // Warm-up (page cache for the image layer and binaries).
    cycle(&mut agent, "warm", 20).await;
    println!("| volume | start → RUNNING p50 | p99 | StopTask → STOPPED (destroyed) p50 | p99 | provision → volume ready p50 |");
    println!("|---|---|---|---|---|---|");
    for size in [20u32, 200] {
        let mut up = Vec::new();
        let mut down = Vec::new();
        let mut vol = Vec::new();
        for i in 0..args.runs {
            let (u, d, v) = cycle(&mut agent, &format!("b{size}-{i}"), size).await;
            up.push(u);
            down.push(d);
            vol.push(v);
        }
        println!(
            "| {size} GiB | {} | {} | {} | {} | {} |",
            ms(pct(&mut up, 50)),
            ms(pct(&mut up, 99)),
            ms(pct(&mut down, 50)),
            ms(pct(&mut down, 99)),
            ms(pct(&mut vol, 50))
        );
    }
    println!();
    memory(&mut agent, dir).await;
    let (w, r) = volumes::in_task(&mut agent, dir, args.tp_mib, |id| spec(id, 20)).await;
    println!(
        "Inside a task (busybox `dd bs=1M count={}`, `conv=fsync`; read after `drop_caches`): write {w:.0} MB/s, read {r:.0} MB/s\n",
        args.tp_mib
    );
    agent.commands.send(RuntimeCommand::Shutdown).await.unwrap();
    let _ = agent.join.await;
}

/// Task networking, on an agent with the default volume backend.
async fn network_run(dir: &Path, args: &Args) {
    let mut agent = bench_agent(dir, BackendChoice::default()).await;
    println!(
        "Task networking; the tasks' volumes are on the {:?} backend.\n",
        agent.volume_backend
    );
    cycle(&mut agent, "warm-net", 20).await;
    network(&mut agent, args, dir).await;
    agent.commands.send(RuntimeCommand::Shutdown).await.unwrap();
    let _ = agent.join.await;
}

async fn network(agent: &mut Agent, args: &Args, dir: &Path) {
    let runs = args.runs;
    tokio::task::spawn_blocking(move || net::setup_alone(runs))
        .await
        .unwrap();
    net::task_cycles(agent, args.runs).await;
    net::concurrent_tasks(agent, args.concurrent).await;
    net::throughput(agent, dir, args.net_tp_mib, args.net_tp_runs).await;
}

async fn set_groups(agent: &Agent, groups: Vec<ferrogate_runtime::net::SecurityGroupRules>) {
    let (tx, rx) = tokio::sync::oneshot::channel();
    agent
        .commands
        .send(RuntimeCommand::SetSecurityGroups {
            groups,
            done: Some(tx),
        })
        .await
        .unwrap();
    rx.await.unwrap().unwrap();
}

async fn start_running(agent: &mut Agent, spec: TaskSpec) {
    agent
        .commands
        .send(RuntimeCommand::StartTask(Box::new(spec)))
        .await
        .unwrap();
    loop {
        match agent.events.recv().await.unwrap().kind {
            EventKind::StateChanged(TaskState::Running) => return,
            EventKind::TaskStopped { reason, .. } => panic!("task stopped early: {reason}"),
            _ => {}
        }
    }
}

/// Stops task `id`, whose teardown must leave no error.
pub(crate) async fn stop_task(agent: &mut Agent, id: &str) {
    agent
        .commands
        .send(RuntimeCommand::StopTask {
            task_id: TaskId::new(id).unwrap(),
            reason: "bench".into(),
        })
        .await
        .unwrap();
    loop {
        let ev = agent.events.recv().await.unwrap();
        if let EventKind::TaskStopped { teardown, .. } = ev.kind {
            if ev.task_id.as_str() == id {
                assert!(teardown.errors.is_empty(), "{teardown:?}");
                return;
            }
        }
    }
}

fn kernel() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap_or_default()
        .trim()
        .to_owned()
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn pct(v: &mut [Duration], p: usize) -> Duration {
    v.sort();
    let idx = ((v.len() * p).div_ceil(100))
        .saturating_sub(1)
        .min(v.len() - 1);
    v[idx]
}

fn spec(id: &str, size: u32) -> TaskSpec {
    let mut c = ContainerSpec::new(ContainerName::new("main").unwrap(), "busybox");
    c.command = Some(vec!["sleep".into(), "1000".into()]);
    TaskSpec {
        task_id: TaskId::new(id).unwrap(),
        volume: VolumeSpec {
            volume_id: VolumeId::new(format!("vol-{id}")).unwrap(),
            size_gib: size,
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

/// (start → running, stop → stopped, start → volume ready)
async fn cycle(agent: &mut Agent, id: &str, size: u32) -> (Duration, Duration, Duration) {
    cycle_spec(agent, spec(id, size)).await
}

/// [`cycle`] of any task.
async fn cycle_spec(agent: &mut Agent, spec: TaskSpec) -> (Duration, Duration, Duration) {
    let id = spec.task_id.clone();
    let t0 = Instant::now();
    agent
        .commands
        .send(RuntimeCommand::StartTask(Box::new(spec)))
        .await
        .unwrap();
    let mut vol = Duration::ZERO;
    loop {
        let ev = agent.events.recv().await.unwrap();
        match ev.kind {
            EventKind::VolumeReady { .. } => vol = t0.elapsed(),
            EventKind::StateChanged(TaskState::Running) => break,
            EventKind::TaskStopped { reason, .. } => panic!("task stopped early: {reason}"),
            _ => {}
        }
    }
    let up = t0.elapsed();
    let t1 = Instant::now();
    agent
        .commands
        .send(RuntimeCommand::StopTask {
            task_id: id,
            reason: "bench".into(),
        })
        .await
        .unwrap();
    loop {
        let ev = agent.events.recv().await.unwrap();
        if let EventKind::TaskStopped { teardown, .. } = ev.kind {
            assert!(teardown.errors.is_empty(), "{teardown:?}");
            break;
        }
    }
    (up, t1.elapsed(), vol)
}

/// The `key` line of `/proc/<pid>/<file>`, in KiB (0 if absent).
fn status_kib(pid: &str, file: &str, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/{file}"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix(key)
                .map(|v| v.trim().trim_end_matches(" kB").trim().parse().unwrap_or(0))
        })
        .unwrap_or(0)
}

async fn memory(agent: &mut Agent, data_dir: &Path) {
    let id = "mem";
    agent
        .commands
        .send(RuntimeCommand::StartTask(Box::new(spec(id, 20))))
        .await
        .unwrap();
    loop {
        if let EventKind::StateChanged(TaskState::Running) = agent.events.recv().await.unwrap().kind
        {
            break;
        }
    }
    let inst = ferrogate_runtime::cgroup::instance_for(data_dir);
    let procs = std::fs::read_to_string(format!(
        "/sys/fs/cgroup/pids/ferrogate/{inst}/{id}/init/cgroup.procs"
    ))
    .unwrap_or_default();
    let pid = procs.lines().next().unwrap_or("0").trim().to_owned();
    let rss = status_kib(&pid, "status", "VmRSS:");
    let pss = status_kib(&pid, "smaps_rollup", "Pss:");
    let anon = status_kib(&pid, "smaps_rollup", "Pss_Anon:");
    println!("### Per-task host overhead\n");
    println!("One process per task runs beside the workload: the sandbox init (here this benchmark binary re-executed, as `ferrogate` would be).\n");
    println!("| process | VmRSS | PSS | PSS anonymous |\n|---|---|---|---|");
    println!("| sandbox init (pid {pid}) | {rss} KiB | {pss} KiB | {anon} KiB |\n");
    stop_task(agent, id).await;
}
