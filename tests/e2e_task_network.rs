//! Task networking end to end (issue 12), with the `aws` CLI on the real runtime: every
//! task gets an elastic network interface in its subnet (an address of the subnet's block,
//! a MAC, a private DNS name), shown by DescribeTasks and by EC2's
//! DescribeNetworkInterfaces while it lives; security groups decide who reaches it, and
//! rule changes reach running tasks; addresses are reused after stop; nothing of a task's
//! network is left on the host after stops, after many start/stop cycles, or after a crash
//! of the server and its restart. RunTask refuses subnets and groups EC2 does not know.
//!
//! Needs root (namespaces, veths, nftables): skipped with a message otherwise, and a
//! failure when `CI=true`. Each test's tasks live in a VPC of their own (`task_vpc`), so
//! tests running at the same time never share an address on the host.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{
    fails_with, json, load_busybox, register_fargate_def, require_root, task_vpc, Server,
};
use serde_json::Value;

/// busybox httpd serving "hello from <name>" on port 8080.
const HTTPD: &str =
    "mkdir -p /www && echo \"hello from $NAME\" > /www/index.html && exec httpd -f -p 8080 -h /www";

/// A server with the default cluster and the busybox image (root tests).
fn server() -> Server {
    let s = Server::start();
    json(&s.aws(&["ecs", "create-cluster"]));
    load_busybox(&s);
    s
}

fn register(s: &Server, family: &str, command: &str) {
    let containers = serde_json::json!([{
        "name": "app", "image": "busybox", "command": ["sh", "-c", command],
        "portMappings": [{"containerPort": 8080}],
        "environment": [{"name": "NAME", "value": family}],
    }])
    .to_string();
    json(&register_fargate_def(s, family, &containers, &[]));
}

fn net(subnets: &[&str], groups: &[&str]) -> String {
    let mut n = format!("awsvpcConfiguration={{subnets=[{}]", subnets.join(","));
    if !groups.is_empty() {
        n.push_str(&format!(",securityGroups=[{}]", groups.join(",")));
    }
    n.push('}');
    n
}

/// RunTask; the tasks' ARNs.
fn run(s: &Server, family: &str, net: &str, count: u32, env: &[(&str, &str)]) -> Vec<String> {
    let count = count.to_string();
    let overrides = serde_json::json!({"containerOverrides": [{
        "name": "app",
        "environment": env.iter().map(|(k, v)| serde_json::json!({"name": k, "value": v})).collect::<Vec<_>>(),
    }]})
    .to_string();
    let r = json(&s.aws(&[
        "ecs",
        "run-task",
        "--task-definition",
        family,
        "--launch-type",
        "FARGATE",
        "--count",
        &count,
        "--network-configuration",
        net,
        "--overrides",
        &overrides,
    ]));
    assert_eq!(r["failures"], serde_json::json!([]), "{r}");
    r["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["taskArn"].as_str().unwrap().to_owned())
        .collect()
}

fn describe(s: &Server, task: &str) -> Value {
    json(&s.aws(&["ecs", "describe-tasks", "--tasks", task]))["tasks"][0].clone()
}

/// Polls until the task's lastStatus is `status` or STOPPED.
fn wait_for(s: &Server, task: &str, status: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let t = describe(s, task);
        if t["lastStatus"] == status || t["lastStatus"] == "STOPPED" || Instant::now() > deadline {
            return t;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn running(s: &Server, task: &str) -> Value {
    let t = wait_for(s, task, "RUNNING");
    assert_eq!(t["lastStatus"], "RUNNING", "{t}");
    t
}

fn stop(s: &Server, task: &str) -> Value {
    json(&s.aws(&["ecs", "stop-task", "--task", task]));
    let t = wait_for(s, task, "STOPPED");
    assert_eq!(t["lastStatus"], "STOPPED", "{t}");
    t
}

fn detail(t: &Value, name: &str) -> String {
    t["attachments"][0]["details"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == name)
        .and_then(|d| d["value"].as_str())
        .unwrap_or_default()
        .to_owned()
}

/// GET / from the host; the body, or why not (connection refused, dropped: timeout).
fn http_get(ip: &str) -> Result<String, String> {
    let addr: SocketAddr = format!("{ip}:8080").parse().unwrap();
    let mut c =
        TcpStream::connect_timeout(&addr, Duration::from_millis(500)).map_err(|e| e.to_string())?;
    c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    c.write_all(b"GET / HTTP/1.0\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut body = String::new();
    c.read_to_string(&mut body).map_err(|e| e.to_string())?;
    Ok(body)
}

/// Polls `http_get` until `ok(result)`, for at most 10 s; the last result.
fn http_until(ip: &str, ok: impl Fn(&Result<String, String>) -> bool) -> Result<String, String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = http_get(ip);
        if ok(&r) || Instant::now() > deadline {
            return r;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn create_group(s: &Server, vpc: &str, name: &str) -> String {
    json(&s.aws(&[
        "ec2",
        "create-security-group",
        "--group-name",
        name,
        "--description",
        name,
        "--vpc-id",
        vpc,
    ]))["GroupId"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn ingress(s: &Server, verb: &str, group: &str, source: &str) {
    let mut args = vec![
        "ec2",
        verb,
        "--group-id",
        group,
        "--protocol",
        "tcp",
        "--port",
        "8080",
    ];
    if source.starts_with("sg-") {
        args.extend(["--source-group", source]);
    } else {
        args.extend(["--cidr", source]);
    }
    assert!(s.aws(&args).status.success());
}

fn interfaces(s: &Server) -> Vec<Value> {
    json(&s.aws(&["ec2", "describe-network-interfaces"]))["NetworkInterfaces"]
        .as_array()
        .unwrap()
        .clone()
}

/// What the host holds of this server's task networking: its interfaces (`ip -o link`
/// lines naming its agent instance), routes into `prefix` (`10.n.0`), and the addresses
/// its nftables tables name.
fn host_leftovers(s: &Server, prefix: &str) -> Vec<String> {
    let data = std::fs::canonicalize(s.data_dir()).unwrap();
    let instance = ferrogate_runtime::cgroup::instance_for(&data);
    let name_prefix = ferrogate_runtime::net::interface_prefix(&instance);
    let sh = |cmd: &str| {
        let o = Command::new("sh").arg("-c").arg(cmd).output().unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let mut left = Vec::new();
    for l in sh("ip -o link show").lines() {
        if l.contains(&name_prefix) || l.contains(&format!("ferrogate {instance}")) {
            left.push(format!("link: {l}"));
        }
    }
    for l in sh("ip -4 route show").lines() {
        if l.starts_with(&format!("{prefix}.")) {
            left.push(format!("route: {l}"));
        }
    }
    let table = ferrogate_runtime::net::table_name(&instance);
    let rules = sh(&format!("nft list table inet {table} 2>/dev/null"));
    if rules.contains(&format!("{prefix}.")) {
        left.push(format!("nft: {rules}"));
    }
    left
}

#[test]
fn an_httpd_task_is_reached_from_the_host_only_as_its_group_allows() {
    if !require_root("an_httpd_task_is_reached_from_the_host_only_as_its_group_allows") {
        return;
    }
    let s = server();
    let (vpc, subnet, prefix) = task_vpc(&s, 24);
    let web = create_group(&s, &vpc, "web");
    register(&s, "web", HTTPD);
    let task = run(&s, "web", &net(&[&subnet], &[&web]), 1, &[]).remove(0);
    let t = running(&s, &task);

    // DescribeTasks: the attachment and the container's interface.
    let ip = detail(&t, "privateIPv4Address");
    assert_eq!(
        ip,
        format!("{prefix}.4"),
        "the first address after the four EC2 reserves"
    );
    let a = &t["attachments"][0];
    assert_eq!(a["type"], "ElasticNetworkInterface");
    assert_eq!(a["status"], "ATTACHED");
    assert_eq!(detail(&t, "subnetId"), subnet);
    assert_eq!(
        detail(&t, "privateDnsName"),
        format!("ip-{}.ec2.internal", ip.replace('.', "-"))
    );
    let mac = detail(&t, "macAddress");
    assert!(mac.starts_with("0a:") && mac.len() == 17, "{mac}");
    let eni = detail(&t, "networkInterfaceId");
    assert!(eni.starts_with("eni-"), "{eni}");
    let ni = &t["containers"][0]["networkInterfaces"][0];
    assert_eq!(ni["attachmentId"], a["id"]);
    assert_eq!(ni["privateIpv4Address"], ip.as_str());

    // EC2 shows the interface while the task lives.
    let shown = interfaces(&s);
    let n = shown
        .iter()
        .find(|n| n["NetworkInterfaceId"] == eni.as_str())
        .unwrap_or_else(|| panic!("{eni} in {shown:?}"));
    assert_eq!(n["PrivateIpAddress"], ip.as_str());
    assert_eq!(n["MacAddress"], mac.as_str());
    assert_eq!(n["Status"], "in-use");
    assert_eq!(n["InterfaceType"], "interface");
    assert_eq!(n["Groups"][0]["GroupId"], web.as_str());
    assert_eq!(
        n["Description"],
        format!(
            "arn:aws:ecs:us-east-1:{}:attachment/{}",
            s.account,
            a["id"].as_str().unwrap()
        )
    );

    // A new group allows no inbound traffic: the host is refused.
    let refused = |r: &Result<String, String>| r.is_err();
    let served =
        |r: &Result<String, String>| r.as_ref().is_ok_and(|b| b.contains("hello from web"));
    assert!(http_until(&ip, refused).is_err());
    ingress(&s, "authorize-security-group-ingress", &web, "0.0.0.0/0");
    let got = http_until(&ip, served);
    assert!(served(&got), "after the rule is authorized: {got:?}");
    ingress(&s, "revoke-security-group-ingress", &web, "0.0.0.0/0");
    let got = http_until(&ip, refused);
    assert!(got.is_err(), "after the rule is revoked: {got:?}");

    // Stop: the interface goes, in EC2 and on the host.
    let t = stop(&s, &task);
    assert_eq!(t["attachments"][0]["status"], "DETACHED");
    assert_eq!(detail(&t, "privateIPv4Address"), ip);
    assert!(interfaces(&s)
        .iter()
        .all(|n| n["NetworkInterfaceId"] != eni.as_str()));
    assert_eq!(host_leftovers(&s, &prefix), Vec::<String>::new());
}

#[test]
fn tasks_reach_each_other_only_as_their_groups_allow() {
    if !require_root("tasks_reach_each_other_only_as_their_groups_allow") {
        return;
    }
    let s = server();
    let (vpc, subnet, _) = task_vpc(&s, 24);
    let a = create_group(&s, &vpc, "a");
    let b = create_group(&s, &vpc, "b");
    ingress(&s, "authorize-security-group-ingress", &a, &a);
    register(&s, "server", HTTPD);
    // A client: exits 0 when it got the page from $TARGET, 7 when it could not (busybox
    // `nc`: the static busybox's `wget` crashes in its resolver).
    register(
        &s,
        "client",
        "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 $TARGET 8080 > /tmp/page; grep -q 'hello from server' /tmp/page && exit 0 || exit 7",
    );
    let server = run(&s, "server", &net(&[&subnet], &[&a]), 1, &[]).remove(0);
    let ip = detail(&running(&s, &server), "privateIPv4Address");
    let client = |group: &str| {
        let t = run(
            &s,
            "client",
            &net(&[&subnet], &[group]),
            1,
            &[("TARGET", &ip)],
        )
        .remove(0);
        let t = wait_for(&s, &t, "STOPPED");
        assert_eq!(t["lastStatus"], "STOPPED", "{t}");
        eprintln!("client in {group}: exit {}", t["containers"][0]["exitCode"]);
        t["containers"][0]["exitCode"].as_i64()
    };
    assert_eq!(client(&a), Some(0), "a member of the same group is allowed");
    assert_eq!(client(&b), Some(7), "a task of another group is refused");
    ingress(&s, "authorize-security-group-ingress", &a, &b);
    assert_eq!(client(&b), Some(0), "allowed once a rule names its group");
    ingress(&s, "revoke-security-group-ingress", &a, &b);
    assert_eq!(client(&b), Some(7), "refused again after the revoke");
    // A group in use cannot be deleted (EC2's DependencyViolation).
    fails_with(
        &s.aws(&["ec2", "delete-security-group", "--group-id", &a]),
        "DependencyViolation",
    );
    stop(&s, &server);
}

#[test]
fn addresses_are_reused_and_nothing_is_left_after_many_cycles() {
    if !require_root("addresses_are_reused_and_nothing_is_left_after_many_cycles") {
        return;
    }
    let s = server();
    // A /28: eleven addresses, .4 to .14.
    let (_, subnet, prefix) = task_vpc(&s, 28);
    register(&s, "sleeper", "exec sleep 1000");
    let network = net(&[&subnet], &[]);
    let mut seen = std::collections::BTreeSet::new();
    // 10 rounds of 5 tasks: 50 starts and stops.
    for _ in 0..10 {
        let tasks = run(&s, "sleeper", &network, 5, &[]);
        let mut ips = Vec::new();
        for t in &tasks {
            ips.push(detail(&running(&s, t), "privateIPv4Address"));
        }
        ips.sort();
        let mut unique = ips.clone();
        unique.dedup();
        assert_eq!(
            unique.len(),
            5,
            "no two live tasks share an address: {ips:?}"
        );
        for t in &tasks {
            stop(&s, t);
        }
        seen.extend(ips);
    }
    // Freed addresses are taken again: the 50 tasks used the five lowest.
    let want: std::collections::BTreeSet<String> =
        (4..=8).map(|i| format!("{prefix}.{i}")).collect();
    assert_eq!(seen, want);
    assert!(interfaces(&s).is_empty());
    assert_eq!(host_leftovers(&s, &prefix), Vec::<String>::new());
}

#[test]
fn a_crash_leaves_nothing_behind_after_the_restart() {
    if !require_root("a_crash_leaves_nothing_behind_after_the_restart") {
        return;
    }
    let mut s = server();
    let (_, subnet, prefix) = task_vpc(&s, 24);
    register(&s, "sleeper", "exec sleep 1000");
    let network = net(&[&subnet], &[]);
    let tasks = run(&s, "sleeper", &network, 2, &[]);
    for t in &tasks {
        running(&s, t);
    }
    assert!(
        !host_leftovers(&s, &prefix).is_empty(),
        "the tasks' interfaces are up"
    );
    s.kill9();
    let s = s.restart();
    for t in &tasks {
        let t = wait_for(&s, t, "STOPPED");
        assert_eq!(t["lastStatus"], "STOPPED", "{t}");
        assert_eq!(t["attachments"][0]["status"], "DETACHED");
    }
    assert!(interfaces(&s).is_empty(), "{:?}", interfaces(&s));
    assert_eq!(host_leftovers(&s, &prefix), Vec::<String>::new());
    // The addresses were freed: the next task gets the first again.
    let t = run(&s, "sleeper", &network, 1, &[]).remove(0);
    assert_eq!(
        detail(&running(&s, &t), "privateIPv4Address"),
        format!("{prefix}.4")
    );
    stop(&s, &t);
}

#[test]
fn run_task_refuses_what_ec2_does_not_know() {
    let s = Server::start();
    json(&s.aws(&["ecs", "create-cluster"]));
    register(&s, "web", HTTPD);
    let (vpc, subnet, _) = task_vpc(&s, 24);
    let (_, other_subnet, _) = task_vpc(&s, 24);
    let other_vpc_group = json(&s.aws(&[
        "ec2",
        "describe-security-groups",
        "--filters",
        "Name=group-name,Values=default",
    ]))["SecurityGroups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["VpcId"] != vpc.as_str())
        .unwrap()["GroupId"]
        .as_str()
        .unwrap()
        .to_owned();
    let refused = |net: &str| {
        fails_with(
            &s.aws(&[
                "ecs",
                "run-task",
                "--task-definition",
                "web",
                "--launch-type",
                "FARGATE",
                "--network-configuration",
                net,
            ]),
            "InvalidParameterException",
        )
    };
    let e = refused("awsvpcConfiguration={subnets=[subnet-0123456789abcdef0]}");
    assert!(
        e.contains("Error retrieving subnet information for [subnet-0123456789abcdef0]: The subnet ID 'subnet-0123456789abcdef0' does not exist (ErrorCode: InvalidSubnetID.NotFound)"),
        "{e}"
    );
    let e = refused(&net(&[&subnet], &["sg-0123456789abcdef0"]));
    assert!(
        e.contains("The security group 'sg-0123456789abcdef0' does not exist"),
        "{e}"
    );
    let e = refused(&net(&[&subnet, &other_subnet], &[]));
    assert!(e.contains("belong to different VPCs"), "{e}");
    let e = refused(&net(&[&subnet], &[&other_vpc_group]));
    assert!(e.contains("belong to different networks"), "{e}");
    let e = refused(&format!(
        "awsvpcConfiguration={{subnets=[{subnet}],assignPublicIp=MAYBE}}"
    ));
    assert!(e.contains("ENABLED or DISABLED"), "{e}");
    // Nothing was started.
    let l = json(&s.aws(&["ecs", "list-tasks"]));
    assert_eq!(l["taskArns"], serde_json::json!([]));
    assert!(interfaces(&s).is_empty());

    // CreateService checks the same.
    let e = fails_with(
        &s.aws(&[
            "ecs",
            "create-service",
            "--service-name",
            "svc",
            "--task-definition",
            "web",
            "--desired-count",
            "1",
            "--launch-type",
            "FARGATE",
            "--network-configuration",
            &net(&[&subnet], &["sg-0123456789abcdef0"]),
        ]),
        "InvalidParameterException",
    );
    assert!(e.contains("InvalidGroup.NotFound"), "{e}");

    // Port mappings as Fargate takes them.
    let bad = |mappings: &str| {
        let containers =
            format!(r#"[{{"name":"app","image":"busybox","portMappings":{mappings}}}]"#);
        fails_with(
            &register_fargate_def(&s, "ports", &containers, &[]),
            "ClientException",
        )
    };
    assert!(bad(r#"[{"containerPort":80,"hostPort":8080}]"#).contains(
        "When networkMode=awsvpc, the host ports and container ports in port mappings must match."
    ));
    assert!(bad(r#"[{"containerPort":80},{"containerPort":80}]"#).contains("more than once"));
    assert!(bad(r#"[{"containerPort":80,"protocol":"sctp"}]"#)
        .contains("Invalid 'protocol' setting for container 'app'."));
    let td = json(&s.aws(&[
        "ecs",
        "describe-task-definition",
        "--task-definition",
        "web",
    ]));
    assert_eq!(
        td["taskDefinition"]["containerDefinitions"][0]["portMappings"],
        serde_json::json!([{"containerPort": 8080, "hostPort": 8080, "protocol": "tcp"}])
    );
}
