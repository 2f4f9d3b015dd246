//! Task networking benchmark (part of `runtime-bench`; runs in a network namespace of its
//! own, entered by `main` before any thread, so nothing touches the host's network).
//!
//! - network setup and teardown alone (`NetManager::reserve` + `attach`, `release`:
//!   nftables elements, veth pair, addresses, routes) for a process in a fresh network
//!   namespace, p50/p99, one at a time and 200 at once;
//! - StartTask → RUNNING with and without a network;
//! - 200 networked tasks started at once, all answering ping, then stopped with nothing
//!   left;
//! - host → task TCP throughput against a bare veth pair measured the same way (a Rust
//!   sender on the host side, a Rust receiver on a thread inside the receiving network
//!   namespace: busybox `nc` tops out near 0.25 GB/s and would measure itself).

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrogate_runtime::agent::{Agent, EventKind, RuntimeCommand, TaskSpec, TaskState};
use ferrogate_runtime::ids::{InterfaceId, SecurityGroupId, SubnetId, VpcId};
use ferrogate_runtime::net::{
    IcmpMatch, Ipv4Net, MacAddr, NetManager, Peer, PortRange, Protocol, Rule, SecurityGroupRules,
    TaskNetwork,
};
use ferrogate_runtime::TaskId;

use super::{ms, pct};

const PORT: u16 = 5001;

/// The one group every benchmark task uses: ICMP and the throughput port from anywhere.
fn groups() -> Vec<SecurityGroupRules> {
    let any = Peer::Cidr(Ipv4Net::ANY);
    vec![SecurityGroupRules {
        id: SecurityGroupId::new("sg-bench").unwrap(),
        vpc_id: VpcId::new("vpc-bench").unwrap(),
        ingress: vec![
            Rule {
                protocol: Protocol::Icmp(IcmpMatch::Any),
                peer: any.clone(),
            },
            Rule {
                protocol: Protocol::Tcp(PortRange::single(PORT)),
                peer: any.clone(),
            },
        ],
        egress: vec![Rule {
            protocol: Protocol::All,
            peer: any,
        }],
    }]
}

/// Task `i`'s network: 10.0.0.0/16, subnets of 250 addresses.
pub fn network(i: usize) -> TaskNetwork {
    let (sub, host) = (
        u8::try_from(i / 250).unwrap(),
        u8::try_from(i % 250 + 4).unwrap(),
    );
    let subnet = Ipv4Net::new(Ipv4Addr::new(10, 0, sub, 0), 24).unwrap();
    TaskNetwork {
        interface_id: InterfaceId::new(format!("eni-bench-{i}")).unwrap(),
        vpc_id: VpcId::new("vpc-bench").unwrap(),
        vpc_cidrs: vec!["10.0.0.0/16".parse().unwrap()],
        subnet_id: SubnetId::new(format!("subnet-bench-{sub}")).unwrap(),
        subnet_cidr: subnet,
        gateway: subnet.nth(1).unwrap(),
        address: Ipv4Addr::new(10, 0, sub, host),
        mac: MacAddr::new([0x0a, 0xbe, 0, 0, sub, host]).unwrap(),
        security_groups: vec![SecurityGroupId::new("sg-bench").unwrap()],
        egress: false,
        hostname: format!("ip-10-0-{sub}-{host}.ec2.internal"),
        dns_servers: vec![],
        dns_search: vec!["ec2.internal".into()],
    }
}

/// A process alone in a new network namespace (what a sandbox init is to the network).
fn netns_process() -> Child {
    Command::new("unshare")
        .args(["--net", "sleep", "600"])
        .stdin(Stdio::null())
        .spawn()
        .expect("util-linux unshare")
}

/// Waits until `pid` is in a network namespace other than ours (unshare has run).
fn wait_netns(pid: u32) {
    let own = std::fs::read_link("/proc/thread-self/ns/net").unwrap();
    for _ in 0..1000 {
        if std::fs::read_link(format!("/proc/{pid}/ns/net")).is_ok_and(|n| n != own) {
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    panic!("process {pid} never entered a new network namespace");
}

/// Setup and teardown through `NetManager` alone.
pub fn setup_alone(runs: usize) {
    let m = NetManager::new("b0b0b0b0b0b0", ferrogate_runtime::net::find_nft());
    let g = m.set_groups(groups()).unwrap();
    m.sync(g).unwrap();
    let mut up = Vec::new();
    let mut down = Vec::new();
    for i in 0..runs {
        let mut p = netns_process();
        wait_netns(p.id());
        let t0 = Instant::now();
        let task = TaskId::new(format!("s{i}")).unwrap();
        let lease = m.reserve(&task, &network(i)).unwrap();
        m.attach(&lease, i32::try_from(p.id()).unwrap()).unwrap();
        up.push(t0.elapsed());
        let t1 = Instant::now();
        m.release(&lease).unwrap();
        down.push(t1.elapsed());
        let _ = p.kill();
        let _ = p.wait();
    }
    // 200 at once, from 200 threads: the rules of tasks starting together go into the
    // kernel in few nft runs.
    let m = Arc::new(m);
    let procs: Vec<Child> = (0..200).map(|_| netns_process()).collect();
    for p in &procs {
        wait_netns(p.id());
    }
    let t0 = Instant::now();
    let handles: Vec<_> = procs
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let m = m.clone();
            let pid = i32::try_from(p.id()).unwrap();
            std::thread::spawn(move || {
                let t = Instant::now();
                let lease = m
                    .reserve(&TaskId::new(format!("c{i}")).unwrap(), &network(i))
                    .unwrap();
                m.attach(&lease, pid).unwrap();
                (lease, t.elapsed())
            })
        })
        .collect();
    let mut conc: Vec<Duration> = Vec::new();
    let mut leases = Vec::new();
    for h in handles {
        let (l, d) = h.join().unwrap();
        conc.push(d);
        leases.push(l);
    }
    let all_up = t0.elapsed();
    let t1 = Instant::now();
    for l in &leases {
        m.release(l).unwrap();
    }
    let all_down = t1.elapsed();
    for mut p in procs {
        let _ = p.kill();
        let _ = p.wait();
    }
    m.shutdown();
    println!("### Task networking\n");
    println!("Network setup alone (`NetManager`: nftables elements by `nft -f`, veth pair, addresses and routes by rtnetlink), for a process in a fresh network namespace:\n");
    println!("| | setup p50 | p99 | teardown p50 | p99 |\n|---|---|---|---|---|");
    println!(
        "| one at a time ({runs} runs) | {} | {} | {} | {} |",
        ms(pct(&mut up, 50)),
        ms(pct(&mut up, 99)),
        ms(pct(&mut down, 50)),
        ms(pct(&mut down, 99))
    );
    println!(
        "| 200 at once (200 threads) | {} | {} | — | — |\n",
        ms(pct(&mut conc, 50)),
        ms(pct(&mut conc, 99)),
    );
    println!(
        "200 at once: all attached after {}, all released (one after another) after {}.\n",
        ms(all_up),
        ms(all_down)
    );
}

fn with_network(mut spec: TaskSpec, i: usize) -> TaskSpec {
    spec.network = Some(network(i));
    spec.cpu_units = Some(2048);
    spec
}

/// StartTask → RUNNING and StopTask → STOPPED with a network, as `cycle` measures them
/// without one.
pub async fn task_cycles(agent: &mut Agent, runs: usize) {
    super::set_groups(agent, groups()).await;
    let mut plain = Vec::new();
    let mut net = Vec::new();
    let mut down = Vec::new();
    // Alternated, so both see the same machine.
    for i in 0..runs {
        let (u, _, _) = super::cycle_spec(agent, super::spec(&format!("p{i}"), 20)).await;
        plain.push(u);
        let (u, d, _) =
            super::cycle_spec(agent, with_network(super::spec(&format!("n{i}"), 20), i)).await;
        net.push(u);
        down.push(d);
    }
    println!("| task | start → RUNNING p50 | p99 | StopTask → STOPPED p50 |\n|---|---|---|---|");
    println!(
        "| loopback only | {} | {} | — |",
        ms(pct(&mut plain, 50)),
        ms(pct(&mut plain, 99))
    );
    println!(
        "| with a network | {} | {} | {} |\n",
        ms(pct(&mut net, 50)),
        ms(pct(&mut net, 99)),
        ms(pct(&mut down, 50))
    );
}

/// 200 networked tasks started at once; each must answer ping from the host.
pub async fn concurrent_tasks(agent: &mut Agent, n: usize) {
    let t0 = Instant::now();
    for i in 0..n {
        let mut s = with_network(super::spec(&format!("c{i}"), 20), i);
        s.cpu_units = Some(256);
        agent
            .commands
            .send(RuntimeCommand::StartTask(Box::new(s)))
            .await
            .unwrap();
    }
    let mut running = 0;
    while running < n {
        match agent.events.recv().await.unwrap().kind {
            EventKind::StateChanged(TaskState::Running) => running += 1,
            EventKind::TaskStopped { reason, .. } => panic!("task stopped early: {reason}"),
            _ => {}
        }
    }
    let all_running = t0.elapsed();
    let answered = tokio::task::spawn_blocking(move || {
        (0..n)
            .filter(|i| {
                let a = network(*i).address.to_string();
                Command::new("busybox")
                    .args(["ping", "-c", "1", "-W", "2", &a])
                    .stdout(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            })
            .count()
    })
    .await
    .unwrap();
    assert_eq!(answered, n, "tasks not answering ping");
    let t1 = Instant::now();
    for i in 0..n {
        agent
            .commands
            .send(RuntimeCommand::StopTask {
                task_id: TaskId::new(format!("c{i}")).unwrap(),
                reason: "bench".into(),
            })
            .await
            .unwrap();
    }
    let mut stopped = 0;
    while stopped < n {
        if let EventKind::TaskStopped { teardown, .. } = agent.events.recv().await.unwrap().kind {
            assert!(
                teardown.network_released && teardown.errors.is_empty(),
                "{teardown:?}"
            );
            stopped += 1;
        }
    }
    let all_stopped = t1.elapsed();
    let left = Command::new("ip").args(["-o", "link"]).output().unwrap();
    let left = String::from_utf8_lossy(&left.stdout)
        .lines()
        .filter(|l| l.contains(": fg"))
        .count();
    assert_eq!(left, 0, "interfaces left after the concurrent run");
    println!(
        "{n} networked tasks started at once: all RUNNING after {}, all {n} answer ping from the host, all stopped (interfaces, rules, conntrack entries gone) {} after the stops were sent.\n",
        ms(all_running),
        ms(all_stopped)
    );
}

/// Receives one connection on a thread inside the network namespace at `ns`; returns
/// its port's listener thread.
fn receiver(ns: PathBuf) -> std::thread::JoinHandle<u64> {
    let (tx, rx) = std::sync::mpsc::channel();
    let h = std::thread::spawn(move || {
        ferrogate_runtime::net::enter_network_namespace(&ns).unwrap();
        let l = TcpListener::bind(("0.0.0.0", PORT)).unwrap();
        tx.send(()).unwrap();
        let (mut s, _) = l.accept().unwrap();
        let mut buf = vec![0u8; 256 << 10];
        let mut total = 0u64;
        loop {
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => total += n as u64,
                Err(e) => panic!("receive: {e}"),
            }
        }
        total
    });
    rx.recv().unwrap();
    h
}

/// Sends `mib` MiB to `addr` from this thread; GB/s, counted until the receiver has all.
fn send(addr: Ipv4Addr, mib: usize, rx: std::thread::JoinHandle<u64>) -> f64 {
    let mut s = TcpStream::connect((addr, PORT)).unwrap();
    let buf = vec![0x5au8; 256 << 10];
    let t0 = Instant::now();
    for _ in 0..mib * 4 {
        s.write_all(&buf).unwrap();
    }
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let got = rx.join().unwrap();
    let el = t0.elapsed();
    assert_eq!(got, (mib as u64) << 20);
    got as f64 / el.as_secs_f64() / 1e9
}

fn ip(args: &[&str]) {
    let ok = Command::new("ip").args(args).status().unwrap().success();
    assert!(ok, "ip {args:?}");
}

/// A bare veth pair between two fresh namespaces (no nftables table in either, so no
/// conntrack): the baseline.
fn bare_veth(mib: usize) -> f64 {
    std::thread::spawn(move || {
        ferrogate_runtime::net::enter_new_network_namespace().unwrap();
        let name = format!("fgbench-bare-{}", std::process::id());
        ip(&["netns", "add", &name]);
        ip(&[
            "link", "add", "bare0", "type", "veth", "peer", "name", "eth0", "netns", &name,
        ]);
        ip(&["addr", "add", "192.168.250.1/24", "dev", "bare0"]);
        ip(&["link", "set", "bare0", "up"]);
        ip(&[
            "-n",
            &name,
            "addr",
            "add",
            "192.168.250.2/24",
            "dev",
            "eth0",
        ]);
        ip(&["-n", &name, "link", "set", "eth0", "up"]);
        let rx = receiver(Path::new("/run/netns").join(&name));
        let gbps = send(Ipv4Addr::new(192, 168, 250, 2), mib, rx);
        ip(&["netns", "del", &name]);
        gbps
    })
    .join()
    .unwrap()
}

/// Host → task throughput (`reps` runs each, the best of each kind).
pub async fn throughput(agent: &mut Agent, data_dir: &Path, mib: usize, reps: usize) {
    let spec = with_network(super::spec("tp", 20), 0);
    super::start_running(agent, spec).await;
    let inst = ferrogate_runtime::cgroup::instance_for(data_dir);
    let procs = std::fs::read_to_string(format!(
        "/sys/fs/cgroup/pids/ferrogate/{inst}/tp/init/cgroup.procs"
    ))
    .unwrap();
    let pid = procs.lines().next().unwrap().trim().to_owned();
    let addr = network(0).address;
    let task_ns = PathBuf::from(format!("/proc/{pid}/ns/net"));
    let (bare, task) = tokio::task::spawn_blocking(move || {
        let mut bare = Vec::new();
        let mut task = Vec::new();
        for _ in 0..reps {
            bare.push(bare_veth(mib));
            task.push(send(addr, mib, receiver(task_ns.clone())));
        }
        (bare, task)
    })
    .await
    .unwrap();
    let best = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    let med = |v: &[f64]| {
        let mut s = v.to_vec();
        s.sort_by(f64::total_cmp);
        s[s.len() / 2]
    };
    println!("Host → task TCP, {mib} MiB per run, {reps} runs each, alternated; one Rust sender in the host namespace, one Rust receiver (256 KiB reads) in the receiving namespace:\n");
    println!("| path | median | best |\n|---|---|---|");
    println!(
        "| bare veth pair, no nftables | {:.2} GB/s | {:.2} GB/s |",
        med(&bare),
        best(&bare)
    );
    println!(
        "| task (veth, routes, nftables rules, conntrack) | {:.2} GB/s | {:.2} GB/s |",
        med(&task),
        best(&task)
    );
    println!(
        "\ntask / bare (medians): {:.0} %\n",
        100.0 * med(&task) / med(&bare)
    );
    super::stop_task(agent, "tp").await;
}
