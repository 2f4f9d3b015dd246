//! Task networking, with real namespaces and real packets (root; each test in a network
//! namespace of its own that plays the host, see `common::net`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::net::*;
use ferrogate_runtime::agent::EventKind;

/// A busybox web server on port 80 that first prints its network files.
fn web_task(
    id: &str,
    network: ferrogate_runtime::net::TaskNetwork,
) -> ferrogate_runtime::agent::TaskSpec {
    let mut t = common::task(
        id,
        &[
            "sh",
            "-c",
            "mkdir -p /www && echo hello-from-$(hostname)-$TAG > /www/index.html && \
             cat /etc/hosts /etc/resolv.conf /sys/class/net/eth0/address && \
             echo hostname=$(hostname) && exec busybox httpd -f -p 80 -h /www",
        ],
    );
    t.network = Some(network);
    t.containers[0].environment.push(("TAG".into(), id.into()));
    t
}

fn log(dir: &std::path::Path, task: &str) -> String {
    std::fs::read_to_string(dir.join("logs").join(task).join("main.log")).unwrap_or_default()
}

#[test]
fn a_task_answers_the_host_on_its_address_as_its_groups_allow() {
    if !common::require_root("a_task_answers_the_host_on_its_address_as_its_groups_allow") {
        return;
    }
    in_netns(|| async {
        let (dir, mut agent) = agent().await;
        set_groups(
            &agent,
            vec![
                group("sg-web", "vpc-a", vec![rule(tcp(80), anywhere())]),
                group("sg-closed", "vpc-a", vec![]),
            ],
        )
        .await;
        let web = task_net("eni-web", "vpc-a", "10.0.0.0/16", "10.0.1.4", &["sg-web"]);
        let closed = task_net(
            "eni-closed",
            "vpc-a",
            "10.0.0.0/16",
            "10.0.1.5",
            &["sg-closed"],
        );
        start_running(&mut agent, web_task("web", web.clone())).await;
        start_running(&mut agent, web_task("closed", closed.clone())).await;
        let body = tokio::task::spawn_blocking(|| {
            let mut b = None;
            for _ in 0..50 {
                b = http_get(ip("10.0.1.4"), 80, "/");
                if b.is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            b
        })
        .await
        .unwrap();
        assert_eq!(
            body.as_deref(),
            Some("hello-from-ip-10-0-1-4.ec2.internal-web\n")
        );
        // Its files say who it is.
        let l = log(dir.path(), "web");
        assert!(
            l.contains("10.0.1.4\tip-10-0-1-4.ec2.internal ip-10-0-1-4"),
            "{l}"
        );
        assert!(
            l.contains("nameserver 192.0.2.53\nsearch ec2.internal\n"),
            "{l}"
        );
        assert!(l.contains(&web.mac.to_string()), "{l}");
        assert!(l.contains("hostname=ip-10-0-1-4.ec2.internal"), "{l}");
        // The closed group allows the host nothing, though the server listens (as seen
        // from inside its namespace).
        let pid = init_pid(dir.path(), "closed");
        let listening = eventually(10, || {
            in_task_netns(pid, &["busybox", "nc", "-w", "1", "127.0.0.1", "80"])
        });
        assert!(listening.await);
        let closed_reached = tokio::task::spawn_blocking(|| tcp_reaches(ip("10.0.1.5"), 80))
            .await
            .unwrap();
        assert!(
            !closed_reached,
            "a group with no ingress rule let the host in"
        );
        for t in ["web", "closed"] {
            match stop(&mut agent, t).await.kind {
                EventKind::TaskStopped { teardown, .. } => {
                    assert!(teardown.network_released, "{teardown:?}");
                    assert!(teardown.errors.is_empty(), "{teardown:?}");
                }
                k => panic!("{k:?}"),
            }
        }
        assert!(
            links().iter().all(|l| !l.starts_with("fg")),
            "{:?}",
            links()
        );
        assert!(addresses().is_empty(), "{:?}", addresses());
    });
}

/// A client that tries `addr:port` over and over, printing `N ok` or `N no` per try.
fn client_task(
    id: &str,
    network: ferrogate_runtime::net::TaskNetwork,
    target: &str,
) -> ferrogate_runtime::agent::TaskSpec {
    let script = format!(
        "i=0; while :; do i=$((i+1)); \
         if busybox nc -w 1 {target} </dev/null >/dev/null 2>&1; then echo \"$i ok\"; else echo \"$i no\"; fi; \
         busybox usleep 200000; done"
    );
    let mut t = common::task(id, &["sh", "-c", &script]);
    t.network = Some(network);
    t
}

/// Waits until `task`'s client log shows `want` ("ok" or "no") for three tries in a row
/// that started after this call (the try in flight when it was called is skipped).
async fn settles(dir: &std::path::Path, task: &str, want: &str) -> bool {
    let start = log(dir, task).lines().count() + 1;
    let dir = dir.to_owned();
    let task = task.to_owned();
    let want = want.to_owned();
    eventually(30, move || {
        let l = log(&dir, &task);
        let lines: Vec<&str> = l.lines().skip(start).collect();
        // Any try after the skipped one must show the new state.
        if lines.iter().any(|x| !x.ends_with(&want)) {
            return false;
        }
        lines.len() >= 3
    })
    .await
}

#[test]
fn security_groups_govern_traffic_between_tasks_and_changes_apply_to_running_tasks() {
    if !common::require_root(
        "security_groups_govern_traffic_between_tasks_and_changes_apply_to_running_tasks",
    ) {
        return;
    }
    in_netns(|| async {
        let (dir, mut agent) = agent().await;
        let from_a = rule(tcp(80), ferrogate_runtime::net::Peer::Group(sg("sg-a")));
        let from_c = rule(tcp(80), ferrogate_runtime::net::Peer::Group(sg("sg-c")));
        set_groups(
            &agent,
            vec![
                group("sg-a", "vpc-a", vec![from_a.clone()]),
                group("sg-c", "vpc-a", vec![]),
            ],
        )
        .await;
        let server = task_net("eni-b", "vpc-a", "10.0.0.0/16", "10.0.1.5", &["sg-a"]);
        start_running(&mut agent, web_task("b", server)).await;
        // A in the same group, C in another subnet and group of the VPC.
        let a = task_net("eni-a", "vpc-a", "10.0.0.0/16", "10.0.1.4", &["sg-a"]);
        let c = task_net("eni-c", "vpc-a", "10.0.0.0/16", "10.0.2.4", &["sg-c"]);
        start_running(&mut agent, client_task("a", a, "10.0.1.5 80")).await;
        start_running(&mut agent, client_task("c", c, "10.0.1.5 80")).await;
        let d = dir.path();
        assert!(settles(d, "a", " ok").await, "a: {}", log(d, "a"));
        assert!(settles(d, "c", " no").await, "c: {}", log(d, "c"));

        // Allow sg-c: in force within a second, for the running tasks.
        let t0 = std::time::Instant::now();
        set_groups(
            &agent,
            vec![
                group("sg-a", "vpc-a", vec![from_a.clone(), from_c]),
                group("sg-c", "vpc-a", vec![]),
            ],
        )
        .await;
        let took = t0.elapsed();
        assert!(took < Duration::from_secs(1), "applying took {took:?}");
        assert!(
            settles(d, "c", " ok").await,
            "c after allow: {}",
            log(d, "c")
        );
        assert!(settles(d, "a", " ok").await);

        // Revoke: refused again.
        set_groups(
            &agent,
            vec![
                group("sg-a", "vpc-a", vec![from_a]),
                group("sg-c", "vpc-a", vec![]),
            ],
        )
        .await;
        assert!(
            settles(d, "c", " no").await,
            "c after revoke: {}",
            log(d, "c")
        );
        assert!(
            settles(d, "a", " ok").await,
            "a after revoke: {}",
            log(d, "a")
        );
        for t in ["a", "b", "c"] {
            stop(&mut agent, t).await;
        }
    });
}

/// A task that only sleeps.
fn idle_task(
    id: &str,
    network: ferrogate_runtime::net::TaskNetwork,
) -> ferrogate_runtime::agent::TaskSpec {
    let mut t = common::task(id, &["sleep", "1000"]);
    t.network = Some(network);
    t
}

fn stopped_reason(ev: &ferrogate_runtime::agent::RuntimeEvent) -> String {
    match &ev.kind {
        EventKind::TaskStopped { reason, .. } => reason.clone(),
        k => panic!("{k:?}"),
    }
}

/// Starts `spec`, expecting it to be refused; returns the reason.
async fn refused(
    agent: &mut ferrogate_runtime::agent::Agent,
    spec: ferrogate_runtime::agent::TaskSpec,
) -> String {
    let evs = common::run_to_stop(agent, spec, 60).await;
    let last = evs.last().unwrap();
    assert!(
        !evs.iter().any(|e| matches!(
            e.kind,
            EventKind::StateChanged(ferrogate_runtime::agent::TaskState::Pending)
        )),
        "{evs:#?}"
    );
    stopped_reason(last)
}

#[test]
fn an_address_is_reused_once_its_task_is_gone_and_never_shared() {
    if !common::require_root("an_address_is_reused_once_its_task_is_gone_and_never_shared") {
        return;
    }
    in_netns(|| async {
        let (_dir, mut agent) = agent().await;
        set_groups(
            &agent,
            vec![group("sg-web", "vpc-a", vec![rule(tcp(80), anywhere())])],
        )
        .await;
        let first = task_net("eni-first", "vpc-a", "10.0.0.0/16", "10.0.1.4", &["sg-web"]);
        start_running(&mut agent, web_task("first", first.clone())).await;
        let get = || {
            tokio::task::spawn_blocking(|| {
                for _ in 0..50 {
                    if let Some(b) = http_get(ip("10.0.1.4"), 80, "/") {
                        return Some(b);
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                None
            })
        };
        assert!(get().await.unwrap().unwrap().ends_with("-first\n"));
        // While it lives, nobody else gets the address (nor the interface).
        let mut second = task_net(
            "eni-second",
            "vpc-a",
            "10.0.0.0/16",
            "10.0.1.4",
            &["sg-web"],
        );
        second.mac = "0a:99:00:00:00:04".parse().unwrap();
        let why = refused(&mut agent, web_task("second", second.clone())).await;
        assert!(
            why.contains("address 10.0.1.4 is in use by task first"),
            "{why}"
        );
        let mut same_eni = task_net("eni-first", "vpc-a", "10.0.0.0/16", "10.0.1.9", &["sg-web"]);
        same_eni.mac = "0a:99:00:00:00:09".parse().unwrap();
        let why = refused(&mut agent, web_task("again", same_eni)).await;
        assert!(
            why.contains("network interface eni-first is in use by task first"),
            "{why}"
        );
        stop(&mut agent, "first").await;
        // Gone: the address serves the new task, with its own MAC.
        start_running(&mut agent, web_task("second", second.clone())).await;
        assert!(get().await.unwrap().unwrap().ends_with("-second\n"));
        let neigh = std::process::Command::new("ip")
            .args(["neigh", "show", "10.0.1.4"])
            .output()
            .unwrap();
        let neigh = String::from_utf8_lossy(&neigh.stdout).into_owned();
        assert!(neigh.contains("0a:99:00:00:00:04"), "{neigh}");
        assert!(!neigh.contains(&first.mac.to_string()), "{neigh}");
        stop(&mut agent, "second").await;
    });
}

#[test]
fn a_task_cannot_send_as_another_address_or_mac() {
    if !common::require_root("a_task_cannot_send_as_another_address_or_mac") {
        return;
    }
    in_netns(|| async {
        let (dir, mut agent) = agent().await;
        let ping = rule(icmp(), anywhere());
        set_groups(&agent, vec![group("sg-ping", "vpc-a", vec![ping])]).await;
        for (t, a) in [("a", "10.0.1.4"), ("b", "10.0.1.5"), ("c", "10.0.1.6")] {
            let n = task_net(&format!("eni-{t}"), "vpc-a", "10.0.0.0/16", a, &["sg-ping"]);
            start_running(&mut agent, idle_task(t, n)).await;
        }
        let (a, c) = (init_pid(dir.path(), "a"), init_pid(dir.path(), "c"));
        let echo = |args: &[&str]| {
            let before = echo_requests_received(c);
            let mut cmd = vec!["busybox", "ping", "-c", "2", "-W", "1"];
            cmd.extend_from_slice(args);
            cmd.push("10.0.1.6");
            let _ = in_task_netns(a, &cmd);
            echo_requests_received(c) - before
        };
        // Its own address and MAC: C hears it.
        assert_eq!(echo(&[]), 2);
        // B's address (host root adds it inside A's namespace, as a compromised task
        // with CAP_NET_ADMIN could): dropped on the way, C hears nothing.
        assert!(in_task_netns(
            a,
            &[
                "ip",
                "addr",
                "add",
                "10.0.1.5/24",
                "dev",
                "eth0",
                "noprefixroute"
            ]
        ));
        assert_eq!(echo(&["-I", "10.0.1.5"]), 0);
        // An unused address of the subnet: the same.
        assert!(in_task_netns(
            a,
            &[
                "ip",
                "addr",
                "add",
                "10.0.1.99/24",
                "dev",
                "eth0",
                "noprefixroute"
            ]
        ));
        assert_eq!(echo(&["-I", "10.0.1.99"]), 0);
        // Reverse-path filtering on the host end drops these too; without it, the rules
        // alone still do.
        let a_if = ferrogate_runtime::net::host_interface_name(
            &ferrogate_runtime::cgroup::instance_for(dir.path()),
            &ferrogate_runtime::ids::InterfaceId::new("eni-a").unwrap(),
        );
        for k in ["all", a_if.as_str()] {
            std::fs::write(format!("/proc/sys/net/ipv4/conf/{k}/rp_filter"), "0").unwrap();
        }
        assert_eq!(echo(&["-I", "10.0.1.5"]), 0);
        assert_eq!(echo(&["-I", "10.0.1.99"]), 0);
        assert_eq!(echo(&[]), 2);
        // Another MAC with its own address: dropped too. (A MAC change flushes A's
        // neighbours, and asking for the gateway with the new MAC is refused by the ARP
        // rules; a static entry takes that layer away, leaving the IPv4 rules alone.)
        // (sysfs shows the host's namespace, not the test's: ask `ip`.)
        let out = std::process::Command::new("ip")
            .args(["-o", "link", "show", &a_if])
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&out.stdout).into_owned();
        let host_mac = out
            .split("link/ether ")
            .nth(1)
            .and_then(|r| r.split(' ').next())
            .unwrap()
            .to_owned();
        assert!(in_task_netns(
            a,
            &["ip", "link", "set", "eth0", "address", "0a:66:66:66:66:66"]
        ));
        assert!(in_task_netns(
            a,
            &[
                "ip",
                "neigh",
                "replace",
                "10.0.1.1",
                "lladdr",
                host_mac.trim(),
                "dev",
                "eth0",
                "nud",
                "permanent"
            ]
        ));
        assert_eq!(echo(&[]), 0);
        // ARP claiming B's address from A is dropped: asked for its gateway by
        // "10.0.1.5", the host would otherwise learn 10.0.1.5 on A's interface.
        let _ = in_task_netns(
            a,
            &[
                "busybox", "arping", "-c", "2", "-I", "eth0", "-s", "10.0.1.5", "10.0.1.1",
            ],
        );
        let neigh = std::process::Command::new("ip")
            .args(["neigh", "show", "dev", &a_if])
            .output()
            .unwrap();
        let neigh = String::from_utf8_lossy(&neigh.stdout).into_owned();
        assert!(!neigh.contains("10.0.1.5"), "{neigh}");
        // Back to its own MAC: heard again (the checks above were not a broken link).
        let mac = task_net("eni-a", "vpc-a", "10.0.0.0/16", "10.0.1.4", &[])
            .mac
            .to_string();
        assert!(in_task_netns(
            a,
            &["ip", "link", "set", "eth0", "address", &mac]
        ));
        assert!(in_task_netns(
            a,
            &["ip", "addr", "del", "10.0.1.5/24", "dev", "eth0"]
        ));
        assert!(in_task_netns(
            a,
            &["ip", "addr", "del", "10.0.1.99/24", "dev", "eth0"]
        ));
        assert_eq!(echo(&[]), 2);
        for t in ["a", "b", "c"] {
            stop(&mut agent, t).await;
        }
    });
}

#[test]
fn traffic_leaves_the_vpc_only_with_egress_and_never_reaches_another_vpc() {
    if !common::require_root(
        "traffic_leaves_the_vpc_only_with_egress_and_never_reaches_another_vpc",
    ) {
        return;
    }
    in_netns(|| async {
        let (dir, mut agent) = agent().await;
        let mut outside = Outside::new();
        outside.serve(8080);
        outside.serve(53);
        let all = rule(ferrogate_runtime::net::Protocol::All, anywhere());
        set_groups(
            &agent,
            vec![
                group("sg-a", "vpc-a", vec![all.clone()]),
                group("sg-b", "vpc-b", vec![all]),
            ],
        )
        .await;
        let world = format!("{OUTSIDE_PEER} 8080");
        let resolver = format!("{OUTSIDE_PEER} 53");
        let with_dns = |mut n: ferrogate_runtime::net::TaskNetwork, egress| {
            n.egress = egress;
            n.dns_servers = vec![ip(OUTSIDE_PEER)];
            n
        };
        let public = with_dns(
            task_net("eni-pub", "vpc-a", "10.0.0.0/16", "10.0.1.4", &["sg-a"]),
            true,
        );
        let private = with_dns(
            task_net("eni-priv", "vpc-a", "10.0.0.0/16", "10.0.1.5", &["sg-a"]),
            false,
        );
        start_running(&mut agent, client_task("pub", public, &world)).await;
        start_running(&mut agent, client_task("priv", private.clone(), &world)).await;
        start_running(
            &mut agent,
            client_task(
                "priv-dns",
                {
                    let mut n = private.clone();
                    n.interface_id =
                        ferrogate_runtime::ids::InterfaceId::new("eni-priv-dns").unwrap();
                    n.address = ip("10.0.1.6");
                    n.mac = "0a:0f:0a:00:01:06".parse().unwrap();
                    n
                },
                &resolver,
            ),
        )
        .await;
        let d = dir.path();
        // Out with egress, masqueraded: the outside has no route back to 10.0.0.0/16,
        // so an answer proves the source was rewritten to the host's.
        assert!(settles(d, "pub", " ok").await, "pub: {}", log(d, "pub"));
        assert!(settles(d, "priv", " no").await, "priv: {}", log(d, "priv"));
        // DNS to the task's resolver passes without egress, as on EC2.
        assert!(
            settles(d, "priv-dns", " ok").await,
            "priv-dns: {}",
            log(d, "priv-dns")
        );
        assert_eq!(
            std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward")
                .unwrap()
                .trim(),
            "1"
        );

        // Another VPC on the same host, every rule open and egress on both sides: still
        // unreachable, from either side.
        let mut other = task_net("eni-other", "vpc-b", "10.1.0.0/16", "10.1.1.4", &["sg-b"]);
        other.egress = true;
        start_running(&mut agent, web_task("other", other)).await;
        let web_a = task_net("eni-web-a", "vpc-a", "10.0.0.0/16", "10.0.1.8", &["sg-a"]);
        start_running(&mut agent, web_task("web-a", web_a)).await;
        start_running(
            &mut agent,
            client_task(
                "to-other",
                {
                    let mut n = task_net(
                        "eni-to-other",
                        "vpc-a",
                        "10.0.0.0/16",
                        "10.0.1.7",
                        &["sg-a"],
                    );
                    n.egress = true;
                    n
                },
                "10.1.1.4 80",
            ),
        )
        .await;
        start_running(
            &mut agent,
            client_task(
                "from-other",
                {
                    let mut n = task_net(
                        "eni-from-other",
                        "vpc-b",
                        "10.1.0.0/16",
                        "10.1.1.5",
                        &["sg-b"],
                    );
                    n.egress = true;
                    n
                },
                "10.0.1.8 80",
            ),
        )
        .await;
        // The control: the host reaches both servers.
        for server in ["10.1.1.4", "10.0.1.8"] {
            let host_reaches = tokio::task::spawn_blocking(move || {
                (0..50).any(|_| {
                    let ok = http_get(ip(server), 80, "/").is_some();
                    if !ok {
                        std::thread::sleep(Duration::from_millis(100));
                    }
                    ok
                })
            });
            assert!(host_reaches.await.unwrap(), "{server}");
        }
        assert!(
            settles(d, "to-other", " no").await,
            "{}",
            log(d, "to-other")
        );
        assert!(
            settles(d, "from-other", " no").await,
            "{}",
            log(d, "from-other")
        );
        for t in [
            "pub",
            "priv",
            "priv-dns",
            "other",
            "web-a",
            "to-other",
            "from-other",
        ] {
            stop(&mut agent, t).await;
        }
    });
}

/// Conntrack entries of this namespace that involve `addr`.
fn conntrack_lines(addr: &str) -> Vec<String> {
    let t = std::fs::read_to_string("/proc/thread-self/net/nf_conntrack").unwrap_or_default();
    t.lines()
        .filter(|l| l.contains(&format!("={addr} ")))
        .map(str::to_owned)
        .collect()
}

/// Asserts nothing of any task's network is left in this namespace but the agent's
/// (empty) tables, if `tables` is true, and none at all otherwise.
fn assert_no_network_left(tables: bool) {
    let fg: Vec<String> = links()
        .into_iter()
        .filter(|l| l.starts_with("fg"))
        .collect();
    assert!(fg.is_empty(), "interfaces left: {fg:?}");
    assert!(addresses().is_empty(), "addresses left: {:?}", addresses());
    let r: Vec<String> = routes()
        .into_iter()
        .filter(|r| r.starts_with("10."))
        .collect();
    assert!(r.is_empty(), "routes left: {r:?}");
    let rs = ruleset();
    assert_eq!(rs.contains("table inet ferrogate_"), tables, "{rs}");
    assert_eq!(rs.contains("table arp ferrogate_"), tables, "{rs}");
    assert!(!rs.contains("elements"), "set elements left:\n{rs}");
}

#[test]
fn fifty_start_stop_cycles_leave_nothing_behind() {
    if !common::require_root("fifty_start_stop_cycles_leave_nothing_behind") {
        return;
    }
    in_netns(|| async {
        let (_dir, mut agent) = agent().await;
        set_groups(
            &agent,
            vec![group("sg-web", "vpc-a", vec![rule(tcp(80), anywhere())])],
        )
        .await;
        let addrs = ["10.0.1.4", "10.0.1.5", "10.0.1.6", "10.0.2.4", "10.0.2.5"];
        for round in 0..10 {
            let mut ids = Vec::new();
            for (i, a) in addrs.iter().enumerate() {
                let id = format!("r{round}-t{i}");
                // A new interface each time; the addresses come back every round.
                let n = task_net(&format!("eni-{id}"), "vpc-a", "10.0.0.0/16", a, &["sg-web"]);
                agent
                    .commands
                    .send(ferrogate_runtime::agent::RuntimeCommand::StartTask(
                        Box::new(web_task(&id, n)),
                    ))
                    .await
                    .unwrap();
                ids.push(id);
            }
            let mut running = 0;
            common::until(&mut agent, 120, |e| {
                match &e.kind {
                    EventKind::StateChanged(ferrogate_runtime::agent::TaskState::Running) => {
                        running += 1
                    }
                    EventKind::TaskStopped { reason, .. } => panic!("{}: {reason}", e.task_id),
                    _ => {}
                }
                running == addrs.len()
            })
            .await;
            // Every one answers (and leaves conntrack entries behind it).
            let served = tokio::task::spawn_blocking(move || {
                addrs.iter().all(|a| {
                    (0..50).any(|_| {
                        let ok = http_get(ip(a), 80, "/").is_some();
                        if !ok {
                            std::thread::sleep(Duration::from_millis(100));
                        }
                        ok
                    })
                })
            });
            assert!(served.await.unwrap(), "round {round}");
            for id in &ids {
                agent
                    .commands
                    .send(ferrogate_runtime::agent::RuntimeCommand::StopTask {
                        task_id: ferrogate_runtime::TaskId::new(id.as_str()).unwrap(),
                        reason: "cycle".into(),
                    })
                    .await
                    .unwrap();
            }
            let mut stopped = 0;
            common::until(&mut agent, 120, |e| {
                if let EventKind::TaskStopped { teardown, .. } = &e.kind {
                    assert!(
                        teardown.network_released && teardown.errors.is_empty(),
                        "{teardown:?}"
                    );
                    stopped += 1;
                }
                stopped == addrs.len()
            })
            .await;
            assert_no_network_left(true);
            for a in addrs {
                assert!(
                    conntrack_lines(a).is_empty(),
                    "{a}: {:?}",
                    conntrack_lines(a)
                );
            }
        }
        agent
            .commands
            .send(ferrogate_runtime::agent::RuntimeCommand::Shutdown)
            .await
            .unwrap();
        agent.join.await.unwrap();
        assert_no_network_left(false);
    });
}

#[test]
fn kill_9_of_the_agent_then_restart_leaves_no_network_behind() {
    if !common::require_root("kill_9_of_the_agent_then_restart_leaves_no_network_behind") {
        return;
    }
    use std::io::BufRead;
    in_netns(|| async {
        let dir = common::data_dir();
        let archive = dir.path().join("busybox.tar");
        common::fixture::docker_save_archive(&archive);
        ferrogate_runtime::image::load(dir.path(), &archive, &[]).unwrap();
        let groups = vec![group("sg-ping", "vpc-a", vec![rule(icmp(), anywhere())])];
        let n = task_net(
            "eni-crash",
            "vpc-a",
            "10.0.0.0/16",
            "10.0.1.4",
            &["sg-ping"],
        );
        let env = serde_json::json!({"groups": groups, "network": n}).to_string();
        let mut child =
            std::process::Command::new(env!("CARGO_BIN_EXE_ferrogate-runtime-test-agent"))
                .args([dir.path().to_str().unwrap(), "t-crash", "busybox"])
                .env("FERROGATE_TEST_NETWORK", env)
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap();
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "RUNNING");
        let inst = ferrogate_runtime::cgroup::instance_for(dir.path());
        let host_if = ferrogate_runtime::net::host_interface_name(&inst, &n.interface_id);
        assert!(links().contains(&host_if), "{:?}", links());
        assert!(ruleset().contains("10.0.1.4"));
        child.kill().unwrap();
        child.wait().unwrap();
        // What a crash can leave: an interface of this instance (its alias says so), and
        // next to it one with the same name prefix that is someone else's.
        let prefix = ferrogate_runtime::net::interface_prefix(&inst);
        let orphan = format!("{prefix}orphan1");
        let foreign = format!("{prefix}foreig1");
        ip_cmd(&[
            "link", "add", &orphan, "type", "veth", "peer", "name", "tpeer0",
        ]);
        ip_cmd(&[
            "link",
            "set",
            &orphan,
            "alias",
            &format!("ferrogate {inst} eni-orphan"),
        ]);
        ip_cmd(&[
            "link", "add", &foreign, "type", "veth", "peer", "name", "tpeer1",
        ]);
        ip_cmd(&[
            "link",
            "set",
            &foreign,
            "alias",
            "ferrogate 0123456789ab eni-x",
        ]);

        let mut agent = ferrogate_runtime::agent::start_agent(config(dir.path()))
            .await
            .unwrap();
        let r = agent.recovery.clone();
        assert_eq!(r.lost_tasks, ["t-crash"]);
        assert!(r.network.errors.is_empty(), "{r:?}");
        assert!(r.network.interfaces_removed.contains(&orphan), "{r:?}");
        assert!(!r.network.interfaces_removed.contains(&foreign), "{r:?}");
        let table = ferrogate_runtime::net::table_name(&inst);
        let mut tables = r.network.tables_removed.clone();
        tables.sort();
        assert_eq!(tables, [format!("arp {table}"), format!("inet {table}")]);
        let ev = common::until(&mut agent, 10, |_| true).await.pop().unwrap();
        match ev.kind {
            EventKind::TaskStopped { teardown, .. } => {
                assert!(
                    teardown.network_released && teardown.errors.is_empty(),
                    "{teardown:?}"
                )
            }
            k => panic!("{k:?}"),
        }
        let left: Vec<String> = links()
            .into_iter()
            .filter(|l| l.starts_with("fg"))
            .collect();
        assert_eq!(left, std::slice::from_ref(&foreign));
        ip_cmd(&["link", "del", &foreign]);
        assert_no_network_left(false);
        // The address and interface are free again.
        set_groups(&agent, groups).await;
        start_running(&mut agent, idle_task("t-after", n)).await;
        let reached = tokio::task::spawn_blocking(|| {
            std::process::Command::new("busybox")
                .args(["ping", "-c", "1", "-W", "2", "10.0.1.4"])
                .stdout(std::process::Stdio::null())
                .status()
                .unwrap()
                .success()
        });
        assert!(reached.await.unwrap());
        stop(&mut agent, "t-after").await;
        agent
            .commands
            .send(ferrogate_runtime::agent::RuntimeCommand::Shutdown)
            .await
            .unwrap();
        agent.join.await.unwrap();
        assert_no_network_left(false);
    });
}

#[test]
fn bad_input_and_conflicts_are_refused_before_anything_exists() {
    if !common::require_root("bad_input_and_conflicts_are_refused_before_anything_exists") {
        return;
    }
    in_netns(|| async {
        let (dir, mut agent) = agent().await;
        let groups = vec![
            group("sg-a", "vpc-a", vec![rule(icmp(), anywhere())]),
            group("sg-x", "vpc-x", vec![]),
        ];
        set_groups(&agent, groups.clone()).await;
        start_running(
            &mut agent,
            idle_task(
                "a",
                task_net("eni-a", "vpc-a", "10.0.0.0/16", "10.0.1.4", &["sg-a"]),
            ),
        )
        .await;
        let before = links();
        let mut cases: Vec<(ferrogate_runtime::net::TaskNetwork, &str)> = Vec::new();
        // A VPC whose block overlaps one already on the host.
        cases.push((
            task_net("eni-x", "vpc-x", "10.0.0.0/16", "10.0.1.5", &["sg-x"]),
            "overlaps vpc-a (10.0.0.0/16)",
        ));
        // Bad input.
        let mut outside = task_net("eni-o", "vpc-a", "10.0.0.0/16", "10.0.1.6", &["sg-a"]);
        outside.address = ip("10.0.2.6");
        cases.push((outside, "address 10.0.2.6 is not in subnet"));
        let mut gw = task_net("eni-g", "vpc-a", "10.0.0.0/16", "10.0.1.7", &["sg-a"]);
        gw.gateway = ip("10.0.9.1");
        cases.push((gw, "gateway 10.0.9.1 is not in subnet"));
        cases.push((
            task_net("eni-u", "vpc-a", "10.0.0.0/16", "10.0.1.8", &["sg-unknown"]),
            "security group sg-unknown is unknown",
        ));
        cases.push((
            task_net("eni-v", "vpc-a", "10.0.0.0/16", "10.0.1.9", &["sg-x"]),
            "belongs to vpc-x",
        ));
        let mut other_def = task_net("eni-s", "vpc-a", "10.0.0.0/16", "10.0.1.10", &["sg-a"]);
        other_def.gateway = ip("10.0.1.254");
        cases.push((other_def, "conflicts with subnet-0-1"));
        for (i, (n, want)) in cases.into_iter().enumerate() {
            let id = format!("bad{i}");
            let why = refused(&mut agent, idle_task(&id, n)).await;
            assert!(why.starts_with("ResourceInitializationError: "), "{why}");
            assert!(why.contains(want), "{id}: {why} (wanted {want})");
            assert!(!dir
                .path()
                .join("runtime/tasks")
                .join(format!("{id}.json"))
                .exists());
            assert!(!dir
                .path()
                .join("volumes")
                .join(format!("vol-{id}.img"))
                .exists());
        }
        assert_eq!(links(), before);
        // A group set with an invalid rule is refused whole; the rules in force stay.
        let mut bad = groups.clone();
        bad[0].ingress.push(rule(
            ferrogate_runtime::net::Protocol::Number(6),
            anywhere(),
        ));
        let (tx, rx) = tokio::sync::oneshot::channel();
        agent
            .commands
            .send(
                ferrogate_runtime::agent::RuntimeCommand::SetSecurityGroups {
                    groups: bad,
                    done: Some(tx),
                },
            )
            .await
            .unwrap();
        let e = rx.await.unwrap().unwrap_err();
        assert!(e.is_invalid_input(), "{e}");
        assert!(ruleset().contains("chain in_sg-a"));
        let pinged = tokio::task::spawn_blocking(|| {
            std::process::Command::new("busybox")
                .args(["ping", "-c", "1", "-W", "2", "10.0.1.4"])
                .stdout(std::process::Stdio::null())
                .status()
                .unwrap()
                .success()
        });
        assert!(pinged.await.unwrap());
        stop(&mut agent, "a").await;
    });
}

#[test]
fn nft_accepts_every_kind_of_rule() {
    if !common::require_root("nft_accepts_every_kind_of_rule") {
        return;
    }
    use ferrogate_runtime::net::{ruleset, IcmpMatch, Peer, PortRange, Protocol};
    in_netns(|| async {
        let peers = [
            anywhere(),
            Peer::Cidr(net("10.0.0.0/16")),
            Peer::Group(sg("sg-b")),
            Peer::Group(sg("sg-nowhere")),
        ];
        let protocols = [
            Protocol::All,
            Protocol::Tcp(PortRange::single(80)),
            Protocol::Tcp(PortRange::new(1024, 65535).unwrap()),
            Protocol::Tcp(PortRange::ALL),
            Protocol::Udp(PortRange::new(53, 53).unwrap()),
            Protocol::Icmp(IcmpMatch::Any),
            Protocol::Icmp(IcmpMatch::Type(8)),
            Protocol::Icmp(IcmpMatch::TypeCode(3, 4)),
            Protocol::Number(47),
        ];
        let rules: Vec<_> = peers
            .iter()
            .flat_map(|p| protocols.iter().map(|pr| rule(*pr, p.clone())))
            .collect();
        let mut a = group("sg-a", "vpc-a", rules.clone());
        a.egress = rules;
        let b = group("sg-b", "vpc-a", vec![]);
        let gs: std::collections::BTreeMap<_, _> =
            [a, b].into_iter().map(|g| (g.id.clone(), g)).collect();
        let names = ruleset::Names::for_instance("0123456789ab");
        let tasks = [ruleset::TaskRules {
            host_if: "fg012345abcdefg".into(),
            address: ip("10.0.1.4"),
            mac: "0a:00:00:00:00:04".parse().unwrap(),
            vpc_cidrs: vec![net("10.0.0.0/16")],
            groups: vec![sg("sg-a"), sg("sg-b")],
            egress: true,
            resolvers: vec![ip("192.0.2.53")],
        }];
        let text = ruleset::full(
            &names,
            &ruleset::skeleton(&names, &gs),
            &ruleset::elements(&gs, &tasks),
        );
        let mut c = std::process::Command::new("nft")
            .args(["-f", "-"])
            .stdin(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        c.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}\n{text}",
            String::from_utf8_lossy(&out.stderr)
        );
        let listed = ruleset();
        assert!(listed.contains("icmp type echo-request"), "{listed}");
        assert!(listed.contains("tcp dport 1024-65535"), "{listed}");
    });
}

#[test]
fn the_runtime_writes_hosts_and_resolv_conf_over_links_in_the_image() {
    if !common::require_root("the_runtime_writes_hosts_and_resolv_conf_over_links_in_the_image") {
        return;
    }
    in_netns(|| async {
        let (dir, mut agent) = agent().await;
        // systemd-based images link resolv.conf to the resolved stub's file, which a
        // container does not have.
        let archive = dir.path().join("linked.tar");
        common::fixture::docker_save_archive_custom(&archive, "linked:latest", |b| {
            common::fixture::add_busybox(b);
            common::fixture::add_dir(b, "etc/", 0o755);
            common::fixture::add_symlink(
                b,
                "etc/resolv.conf",
                "../run/systemd/resolve/stub-resolv.conf",
            );
            common::fixture::add_symlink(b, "etc/hosts", "/nowhere/hosts");
        });
        ferrogate_runtime::image::load(dir.path(), &archive, &[]).unwrap();
        set_groups(&agent, vec![group("sg-a", "vpc-a", vec![])]).await;
        let mut t = idle_task(
            "linked",
            task_net("eni-l", "vpc-a", "10.0.0.0/16", "10.0.1.4", &["sg-a"]),
        );
        t.containers[0].image = "linked".into();
        t.containers[0].command = Some(vec![
            "sh".into(),
            "-c".into(),
            "cat /etc/resolv.conf /etc/hosts; test -L /etc/resolv.conf && echo LINK; exec sleep 1000".into(),
        ]);
        start_running(&mut agent, t).await;
        let d = dir.path().to_owned();
        assert!(eventually(10, || log(&d, "linked").contains("ip-10-0-1-4")).await);
        let l = log(dir.path(), "linked");
        assert!(l.contains("nameserver 192.0.2.53\n"), "{l}");
        assert!(l.contains("10.0.1.4\tip-10-0-1-4.ec2.internal"), "{l}");
        assert!(!l.contains("LINK"), "{l}");
        stop(&mut agent, "linked").await;
    });
}
