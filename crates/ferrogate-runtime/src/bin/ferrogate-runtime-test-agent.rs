//! Runs one agent in its own process and starts one long-running task, so a
//! test can `kill -9` the agent mid-task and check what a restart cleans up.
//!
//! Usage: `ferrogate-runtime-test-agent DATA_DIR TASK_ID IMAGE`
//! Prints `RUNNING` once the task runs, then waits forever. It is also its
//! own sandbox init, like the `ferrogate` binary. `FERROGATE_TEST_VOLUME_BACKEND`
//! (`xts`, `fscrypt`) picks the volume backend. With `FERROGATE_TEST_NETWORK` set to
//! `{"groups": [SecurityGroupRules…], "network": TaskNetwork}` (JSON), it sends the
//! groups first and starts the task with that network.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;

use ferrogate_runtime::agent::{
    start_agent, ContainerSpec, EventKind, RuntimeCommand, RuntimeConfig, TaskSpec, TaskState,
};
use ferrogate_runtime::volume::VolumeSpec;
use ferrogate_runtime::{ContainerName, DataKey, TaskId, VolumeId};

fn main() {
    ferrogate_runtime::sandbox_init_main_if_requested();
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        eprintln!("usage: {} DATA_DIR TASK_ID IMAGE", args[0]);
        std::process::exit(2);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        // As the `ferrogate` binary should: re-run itself via /proc/self/exe.
        let exe = std::path::PathBuf::from("/proc/self/exe");
        let mut agent = start_agent({
            let mut c = RuntimeConfig::new(&args[1], exe);
            // Sparse volumes: a fixed disk allowance, whatever the machine's free disk.
            c.capacity.disk_gib = Some(1 << 20);
            if let Ok(b) = std::env::var("FERROGATE_TEST_VOLUME_BACKEND") {
                c.volume_backend = b.parse().unwrap();
            }
            c
        })
        .await
        .unwrap();
        let mut c = ContainerSpec::new(ContainerName::new("main").unwrap(), args[3].clone());
        c.command = Some(vec![
            "sh".into(),
            "-c".into(),
            "echo started; exec sleep 1000".into(),
        ]);
        #[derive(serde::Deserialize)]
        struct Net {
            groups: Vec<ferrogate_runtime::net::SecurityGroupRules>,
            network: ferrogate_runtime::net::TaskNetwork,
        }
        let net: Option<Net> = std::env::var("FERROGATE_TEST_NETWORK")
            .ok()
            .map(|j| serde_json::from_str(&j).unwrap());
        let network = match net {
            Some(n) => {
                let (tx, rx) = tokio::sync::oneshot::channel();
                agent
                    .commands
                    .send(RuntimeCommand::SetSecurityGroups {
                        groups: n.groups,
                        done: Some(tx),
                    })
                    .await
                    .unwrap();
                rx.await.unwrap().unwrap();
                Some(n.network)
            }
            None => None,
        };
        let spec = TaskSpec {
            task_id: TaskId::new(args[2].clone()).unwrap(),
            volume: VolumeSpec {
                volume_id: VolumeId::new(format!("vol-{}", args[2])).unwrap(),
                size_gib: 20,
                data_key: DataKey::generate().unwrap(),
            },
            cpu_units: Some(256),
            memory_mib: Some(128),
            containers: vec![c],
            volumes: Vec::new(),
            hostname: None,
            network,
        };
        agent
            .commands
            .send(RuntimeCommand::StartTask(Box::new(spec)))
            .await
            .unwrap();
        while let Some(ev) = agent.events.recv().await {
            match ev.kind {
                EventKind::StateChanged(TaskState::Running) => {
                    println!("RUNNING");
                    std::io::stdout().flush().unwrap();
                }
                EventKind::TaskStopped { reason, .. } => {
                    println!("STOPPED {reason}");
                    std::io::stdout().flush().unwrap();
                }
                _ => {}
            }
        }
        std::future::pending::<()>().await;
    });
}
