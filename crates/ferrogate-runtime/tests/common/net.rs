//! Helpers for the task networking root tests.
//!
//! Every test runs on a thread that first enters a network namespace of its own (the
//! test's "host"): the agent's interfaces, routes and nftables tables are made there, so
//! tests running side by side cannot see each other's, and nothing is left on the real
//! host whatever happens.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::net::Ipv4Addr;
use std::process::Command;
use std::time::Duration;

use ferrogate_runtime::agent::{Agent, EventKind, RuntimeCommand, RuntimeEvent, TaskSpec};
use ferrogate_runtime::ids::{InterfaceId, SecurityGroupId, SubnetId, VpcId};
use ferrogate_runtime::net::{
    IcmpMatch, Ipv4Net, Peer, PortRange, Protocol, Rule, SecurityGroupRules, TaskNetwork,
};

/// Runs `f` on a new thread in a new network namespace, on a runtime built there (its
/// worker and blocking threads inherit the namespace).
pub fn in_netns<F, Fut>(f: F) -> Fut::Output
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future,
    Fut::Output: Send + 'static,
{
    let h = std::thread::spawn(move || {
        ferrogate_runtime::net::enter_new_network_namespace().unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(f())
    });
    match h.join() {
        Ok(v) => v,
        Err(p) => std::panic::resume_unwind(p),
    }
}

pub fn sg(id: &str) -> SecurityGroupId {
    SecurityGroupId::new(id).unwrap()
}

pub fn vpc(id: &str) -> VpcId {
    VpcId::new(id).unwrap()
}

pub fn net(s: &str) -> Ipv4Net {
    s.parse().unwrap()
}

pub fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

/// Allows `protocol` from (ingress) or to (egress) `peer`.
pub fn rule(protocol: Protocol, peer: Peer) -> Rule {
    Rule { protocol, peer }
}

pub fn tcp(port: u16) -> Protocol {
    Protocol::Tcp(PortRange::single(port))
}

pub fn icmp() -> Protocol {
    Protocol::Icmp(IcmpMatch::Any)
}

pub fn anywhere() -> Peer {
    Peer::Cidr(Ipv4Net::ANY)
}

/// A group of `vpc` allowing all egress and the given ingress.
pub fn group(id: &str, vpc_id: &str, ingress: Vec<Rule>) -> SecurityGroupRules {
    SecurityGroupRules {
        id: sg(id),
        vpc_id: vpc(vpc_id),
        ingress,
        egress: vec![rule(Protocol::All, anywhere())],
    }
}

/// A network in `vpc_id` (10.0.0.0/16 unless `vpc_cidr`), subnet 10.0.1.0/24 of it,
/// address `addr`, MAC derived from the address, groups `groups`.
pub fn task_net(
    eni: &str,
    vpc_id: &str,
    vpc_cidr: &str,
    addr: &str,
    groups: &[&str],
) -> TaskNetwork {
    let a = ip(addr);
    let o = a.octets();
    let vpc_cidr = net(vpc_cidr);
    let subnet = Ipv4Net::new(Ipv4Addr::new(o[0], o[1], o[2], 0), 24).unwrap();
    let mut mac = [0x0a, 0x0f, o[0], o[1], o[2], o[3]];
    mac[1] ^= u8::from(vpc_id.len() % 2 == 0);
    TaskNetwork {
        interface_id: InterfaceId::new(eni).unwrap(),
        vpc_id: vpc(vpc_id),
        vpc_cidrs: vec![vpc_cidr],
        subnet_id: SubnetId::new(format!("subnet-{}-{}", o[1], o[2])).unwrap(),
        subnet_cidr: subnet,
        gateway: subnet.nth(1).unwrap(),
        address: a,
        mac: ferrogate_runtime::net::MacAddr::new(mac).unwrap(),
        security_groups: groups.iter().map(|g| sg(g)).collect(),
        egress: false,
        hostname: format!("ip-{}-{}-{}-{}.ec2.internal", o[0], o[1], o[2], o[3]),
        dns_servers: vec![ip("192.0.2.53")],
        dns_search: vec!["ec2.internal".into()],
    }
}

/// Sends the groups and waits until they are in force.
pub async fn set_groups(agent: &Agent, groups: Vec<SecurityGroupRules>) {
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

/// Starts `spec` and waits for it to be RUNNING (panics on TaskStopped first).
pub async fn start_running(agent: &mut Agent, spec: TaskSpec) -> Vec<RuntimeEvent> {
    let id = spec.task_id.clone();
    agent
        .commands
        .send(RuntimeCommand::StartTask(Box::new(spec)))
        .await
        .unwrap();
    let evs = super::until(agent, 60, |e| {
        e.task_id == id
            && matches!(
                e.kind,
                EventKind::StateChanged(ferrogate_runtime::agent::TaskState::Running)
                    | EventKind::TaskStopped { .. }
            )
    })
    .await;
    if let Some(EventKind::TaskStopped { reason, .. }) = evs.last().map(|e| &e.kind) {
        panic!("task {id} stopped instead of running: {reason}\n{evs:#?}");
    }
    evs
}

/// Stops a task and returns its TaskStopped event.
pub async fn stop(agent: &mut Agent, task: &str) -> RuntimeEvent {
    let id = ferrogate_runtime::TaskId::new(task).unwrap();
    agent
        .commands
        .send(RuntimeCommand::StopTask {
            task_id: id.clone(),
            reason: "test".into(),
        })
        .await
        .unwrap();
    super::until(agent, 60, |e| {
        e.task_id == id && matches!(e.kind, EventKind::TaskStopped { .. })
    })
    .await
    .pop()
    .unwrap()
}

/// Link names of this namespace.
pub fn links() -> Vec<String> {
    let out = Command::new("ip")
        .args(["-o", "link", "show"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|n| n.split('@').next().unwrap_or(n).to_owned())
        .collect()
}

/// IPv4 routes of this namespace's main table, one line each.
pub fn routes() -> Vec<String> {
    let out = Command::new("ip")
        .args(["-4", "route", "show"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// IPv4 addresses of this namespace, other than loopback ones.
pub fn addresses() -> Vec<String> {
    let out = Command::new("ip")
        .args(["-4", "-o", "addr", "show"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.contains(" lo "))
        .map(str::to_owned)
        .collect()
}

/// `nft list ruleset` of this namespace.
pub fn ruleset() -> String {
    let out = Command::new("nft")
        .args(["list", "ruleset"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// True if a TCP connection to `addr:port` from this namespace succeeds within 1 s.
pub fn tcp_reaches(addr: Ipv4Addr, port: u16) -> bool {
    std::net::TcpStream::connect_timeout(&(addr, port).into(), Duration::from_secs(1)).is_ok()
}

/// HTTP GET of `path` on `addr:port` from this namespace: the body, or `None`.
pub fn http_get(addr: Ipv4Addr, port: u16, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut s =
        std::net::TcpStream::connect_timeout(&(addr, port).into(), Duration::from_secs(1)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").ok()?;
    let mut b = String::new();
    s.read_to_string(&mut b).ok()?;
    b.split_once("\r\n\r\n").map(|(_, body)| body.to_owned())
}

/// Polls `f` every 100 ms for up to `secs`; true once it returns true.
pub async fn eventually(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if f() {
            return true;
        }
        if tokio::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// An agent with the busybox image whose admission limits do not get in the way of
/// tests that run several tasks (volumes are sparse; tasks here use little).
pub async fn agent() -> (tempfile::TempDir, Agent) {
    let dir = super::data_dir();
    let archive = dir.path().join("busybox.tar");
    super::fixture::docker_save_archive(&archive);
    ferrogate_runtime::image::load(dir.path(), &archive, &[]).unwrap();
    let a = ferrogate_runtime::agent::start_agent(config(dir.path()))
        .await
        .unwrap();
    (dir, a)
}

/// The test agents' configuration: the common one (its file sink keeps what containers
/// print, for the tests to read) with room for many tasks.
pub fn config(dir: &std::path::Path) -> ferrogate_runtime::agent::RuntimeConfig {
    let mut c = super::config(dir);
    c.capacity.cpu_units = Some(1 << 20);
    c.capacity.memory_mib = Some(1 << 20);
    c
}

/// The host pid of `task`'s sandbox init (the only process of its `init` cgroup).
pub fn init_pid(dir: &std::path::Path, task: &str) -> i32 {
    let inst = ferrogate_runtime::cgroup::instance_for(dir);
    let cg = ferrogate_runtime::cgroup::Cgroups::detect(&inst).unwrap();
    let pids = cg.existing_task(task).leaf_pids("init");
    *pids
        .first()
        .unwrap_or_else(|| panic!("no init process for {task}"))
}

/// Runs `args` in the network namespace of process `pid` (as host root, which a task's
/// own root is not: it holds no capability over its namespace). True if it succeeded.
pub fn in_task_netns(pid: i32, args: &[&str]) -> bool {
    Command::new("nsenter")
        .arg(format!("--net=/proc/{pid}/ns/net"))
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap()
        .success()
}

/// ICMP echo requests received so far in the network namespace of process `pid`.
pub fn echo_requests_received(pid: i32) -> u64 {
    let snmp = std::fs::read_to_string(format!("/proc/{pid}/net/snmp")).unwrap();
    let mut lines = snmp.lines().filter(|l| l.starts_with("Icmp:"));
    let (names, values) = (lines.next().unwrap(), lines.next().unwrap());
    let i = names
        .split_whitespace()
        .position(|n| n == "InEchos")
        .unwrap();
    values.split_whitespace().nth(i).unwrap().parse().unwrap()
}

/// Runs `ip` with `args` in this namespace; panics on failure.
pub fn ip_cmd(args: &[&str]) {
    let out = Command::new("ip").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A named network namespace outside the test's "host", joined to it by a veth pair
/// (`up0`, 198.51.100.1/24 on the host side, 198.51.100.2/24 inside, no route back to
/// the tasks' networks): the world beyond the host's uplink. Deleted on drop.
pub struct Outside {
    pub name: String,
    servers: Vec<std::process::Child>,
}

pub const OUTSIDE_HOST: &str = "198.51.100.1";
pub const OUTSIDE_PEER: &str = "198.51.100.2";

impl Outside {
    pub fn new() -> Self {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("fgtest-out-{}-{n}", std::process::id());
        ip_cmd(&["netns", "add", &name]);
        let o = Outside {
            name,
            servers: Vec::new(),
        };
        ip_cmd(&[
            "link", "add", "up0", "type", "veth", "peer", "name", "eth0", "netns", &o.name,
        ]);
        ip_cmd(&["addr", "add", &format!("{OUTSIDE_HOST}/24"), "dev", "up0"]);
        ip_cmd(&["link", "set", "up0", "up"]);
        ip_cmd(&[
            "-n",
            &o.name,
            "addr",
            "add",
            &format!("{OUTSIDE_PEER}/24"),
            "dev",
            "eth0",
        ]);
        ip_cmd(&["-n", &o.name, "link", "set", "eth0", "up"]);
        ip_cmd(&["-n", &o.name, "link", "set", "lo", "up"]);
        o
    }

    /// A TCP server on `port` answering every connection with a line.
    pub fn serve(&mut self, port: u16) {
        let c = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.name,
                "busybox",
                "nc",
                "-ll",
                "-p",
                &port.to_string(),
                "-e",
                "busybox",
                "echo",
                "outside",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        self.servers.push(c);
    }
}

impl Drop for Outside {
    fn drop(&mut self) {
        for c in &mut self.servers {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}
