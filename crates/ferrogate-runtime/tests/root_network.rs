//! Task networking, with real namespaces and real packets (root; each test in a network
//! namespace of its own that plays the host, see `common::net`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::net::*;
use ferrogate_runtime::agent::EventKind;

/// A busybox web server on port 80 that first prints its network files.
fn web_task(id: &str, network: ferrogate_runtime::net::TaskNetwork) -> ferrogate_runtime::agent::TaskSpec {
    let mut t = common::task(
        id,
        &[
            "sh",
            "-c",
            "mkdir -p /www && echo hello-from-$(hostname) > /www/index.html && \
             cat /etc/hosts /etc/resolv.conf /sys/class/net/eth0/address && \
             echo hostname=$(hostname) && exec busybox httpd -f -p 80 -h /www",
        ],
    );
    t.network = Some(network);
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
        let closed = task_net("eni-closed", "vpc-a", "10.0.0.0/16", "10.0.1.5", &["sg-closed"]);
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
        assert_eq!(body.as_deref(), Some("hello-from-ip-10-0-1-4.ec2.internal\n"));
        // Its files say who it is.
        let l = log(dir.path(), "web");
        assert!(l.contains("10.0.1.4\tip-10-0-1-4.ec2.internal ip-10-0-1-4"), "{l}");
        assert!(l.contains("nameserver 192.0.2.53\nsearch ec2.internal\n"), "{l}");
        assert!(l.contains(&web.mac.to_string()), "{l}");
        assert!(l.contains("hostname=ip-10-0-1-4.ec2.internal"), "{l}");
        // The closed group allows the host nothing, though the server listens.
        let closed_reached = tokio::task::spawn_blocking(|| tcp_reaches(ip("10.0.1.5"), 80))
            .await
            .unwrap();
        assert!(!closed_reached, "a group with no ingress rule let the host in");
        assert!(log(dir.path(), "closed").contains("hostname="));
        for t in ["web", "closed"] {
            match stop(&mut agent, t).await.kind {
                EventKind::TaskStopped { teardown, .. } => {
                    assert!(teardown.network_released, "{teardown:?}");
                    assert!(teardown.errors.is_empty(), "{teardown:?}");
                }
                k => panic!("{k:?}"),
            }
        }
        assert!(links().iter().all(|l| !l.starts_with("fg")), "{:?}", links());
        assert!(addresses().is_empty(), "{:?}", addresses());
    });
}

/// A client that tries `addr:port` over and over, printing `N ok` or `N no` per try.
fn client_task(id: &str, network: ferrogate_runtime::net::TaskNetwork, target: &str) -> ferrogate_runtime::agent::TaskSpec {
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
    if !common::require_root("security_groups_govern_traffic_between_tasks_and_changes_apply_to_running_tasks") {
        return;
    }
    in_netns(|| async {
        let (dir, mut agent) = agent().await;
        let from_a = rule(tcp(80), ferrogate_runtime::net::Peer::Group(sg("sg-a")));
        let from_c = rule(tcp(80), ferrogate_runtime::net::Peer::Group(sg("sg-c")));
        set_groups(
            &agent,
            vec![group("sg-a", "vpc-a", vec![from_a.clone()]), group("sg-c", "vpc-a", vec![])],
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
        assert!(settles(d, "c", " ok").await, "c after allow: {}", log(d, "c"));
        assert!(settles(d, "a", " ok").await);

        // Revoke: refused again.
        set_groups(
            &agent,
            vec![group("sg-a", "vpc-a", vec![from_a]), group("sg-c", "vpc-a", vec![])],
        )
        .await;
        assert!(settles(d, "c", " no").await, "c after revoke: {}", log(d, "c"));
        assert!(settles(d, "a", " ok").await, "a after revoke: {}", log(d, "a"));
        for t in ["a", "b", "c"] {
            stop(&mut agent, t).await;
        }
    });
}
