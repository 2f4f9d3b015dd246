//! The awslogs driver end to end (issue 13, criteria 3, 5): ECS tasks whose containers log
//! to CloudWatch Logs as the task's execution role, driven with the `aws` CLI.
//!
//! - a task's lines (a marker, numbered lines, a 300 KiB line) reach GetLogEvents in order
//!   and FilterLogEvents finds the marker; the long line is split as Docker splits it; the
//!   calls are recorded in CloudTrail as the assumed role, and the assumption as
//!   `ecs-tasks.amazonaws.com`'s; the marker is nowhere in clear under the data directory;
//! - a trust policy without `ecs-tasks.amazonaws.com`, a missing `logs:CreateLogStream`
//!   permission or a missing group fail the task with the reason Fargate gives;
//! - non-blocking mode drops (and counts) lines rather than blocking the container;
//! - RegisterTaskDefinition refuses what ECS refuses for Fargate (no root needed).
//!
//! The task tests need root (loop devices, fscrypt, namespaces): skipped with a message
//! otherwise, and a failure when `CI=true`.

mod common;

use std::process::Output;
use std::time::{Duration, Instant};

use common::{
    fails_with, json, load_busybox, policy_doc, register_fargate_def, require_root, task_net,
    trail_records, Server,
};
use serde_json::{json, Value};

const REGION: &str = "us-east-1";

/// A role ECS tasks may assume (the trust policy AWS documents for the task execution role,
/// with its confused-deputy conditions), allowed `actions` on log streams.
fn execution_role(s: &Server, name: &str, service: &str, actions: &[&str]) -> String {
    let trust = policy_doc(&format!(
        r#"{{"Effect":"Allow","Principal":{{"Service":"{service}"}},"Action":"sts:AssumeRole",
            "Condition":{{"StringEquals":{{"aws:SourceAccount":"{acct}"}},
                          "ArnLike":{{"aws:SourceArn":"arn:aws:ecs:{REGION}:{acct}:*"}}}}}}"#,
        acct = s.account
    ));
    let role = json(&s.aws(&[
        "iam",
        "create-role",
        "--role-name",
        name,
        "--assume-role-policy-document",
        &trust,
    ]));
    if !actions.is_empty() {
        let allow = policy_doc(&format!(
            r#"{{"Effect":"Allow","Action":{},"Resource":"*"}}"#,
            json!(actions)
        ));
        let out = s.aws(&[
            "iam",
            "put-role-policy",
            "--role-name",
            name,
            "--policy-name",
            "logs",
            "--policy-document",
            &allow,
        ]);
        assert!(out.status.success(), "{out:?}");
    }
    role["Role"]["Arn"].as_str().unwrap().to_owned()
}

/// The busybox image and the default cluster.
fn setup(s: &Server) {
    load_busybox(s);
    let out = s.aws(&["ecs", "create-cluster"]);
    assert!(out.status.success(), "{out:?}");
}

fn create_group(s: &Server, group: &str) {
    let out = s.aws(&["logs", "create-log-group", "--log-group-name", group]);
    assert!(out.status.success(), "{out:?}");
}

/// Registers `family`: one busybox container `app` running `script`, logging with `options`.
fn register(s: &Server, family: &str, script: &str, role: Option<&str>, options: Value) -> Output {
    let containers = json!([{
        "name": "app", "image": "busybox", "command": ["sh", "-c", script],
        "logConfiguration": {"logDriver": "awslogs", "options": options},
    }])
    .to_string();
    let mut extra = Vec::new();
    if let Some(r) = role {
        extra.extend(["--execution-role-arn", r]);
    }
    register_fargate_def(s, family, &containers, &extra)
}

fn options(group: &str, extra: &[(&str, &str)]) -> Value {
    let mut o =
        json!({"awslogs-group": group, "awslogs-region": REGION, "awslogs-stream-prefix": "ecs"});
    for (k, v) in extra {
        o[*k] = json!(v);
    }
    o
}

/// Runs `family` in the default cluster and waits until it stopped; the task.
fn run_to_stop(s: &Server, family: &str) -> Value {
    let net = task_net(s);
    let r = json(&s.aws(&[
        "ecs",
        "run-task",
        "--task-definition",
        family,
        "--launch-type",
        "FARGATE",
        "--network-configuration",
        &net,
    ]));
    let arn = r["tasks"][0]["taskArn"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let t = json(&s.aws(&["ecs", "describe-tasks", "--tasks", &arn]))["tasks"][0].clone();
        if t["lastStatus"] == "STOPPED" {
            return t;
        }
        assert!(Instant::now() < deadline, "the task did not stop: {t}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn task_id(t: &Value) -> String {
    t["taskArn"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned()
}

/// Every event of a stream, oldest first (GetLogEvents from the head, following tokens
/// until the same token comes back).
fn all_events(s: &Server, group: &str, stream: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut args = vec![
            "logs",
            "get-log-events",
            "--log-group-name",
            group,
            "--log-stream-name",
            stream,
            "--start-from-head",
        ];
        if let Some(t) = &token {
            args.extend(["--next-token", t.as_str()]);
        }
        let r = json(&s.aws(&args));
        out.extend(r["events"].as_array().unwrap().iter().cloned());
        let next = r["nextForwardToken"].as_str().map(str::to_owned);
        if next == token || next.is_none() {
            return out;
        }
        token = next;
    }
}

fn message(e: &Value) -> &str {
    e["message"].as_str().unwrap()
}

/// Every file under `dir` (recursively) that holds `needle`.
fn files_holding(dir: &std::path::Path, needle: &[u8]) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                stack.push(p);
            } else if ft.is_file() {
                if let Ok(b) = std::fs::read(&p) {
                    if b.windows(needle.len()).any(|w| w == needle) {
                        found.push(p);
                    }
                }
            }
        }
    }
    found
}

#[test]
fn a_tasks_lines_reach_cloudwatch_logs_in_order_as_its_execution_role() {
    if !require_root("a_tasks_lines_reach_cloudwatch_logs_in_order_as_its_execution_role") {
        return;
    }
    let s = Server::start();
    setup(&s);
    let role = execution_role(
        &s,
        "exec-role",
        "ecs-tasks.amazonaws.com",
        &["logs:CreateLogStream", "logs:PutLogEvents"],
    );
    create_group(&s, "/ecs/app");
    // The marker is made by the container (`$((6*7))`), so that the task definition (and
    // its audit record) does not hold it: only the output does.
    let marker = "MARKER-AWSLOGS-42-5f1e2d3c4b";
    // A marker, 3000 numbered lines (stdout and stderr), a 300 KiB line, a last line.
    let script = String::from(
        "echo MARKER-AWSLOGS-$((6*7))-5f1e2d3c4b; i=0; while [ $i -lt 3000 ]; do echo line-$i; i=$((i+1)); done; \
         echo to-stderr >&2; head -c 307200 /dev/zero | tr '\\0' x; echo; echo the-end"
    );
    let out = register(
        &s,
        "logged",
        &script,
        Some(&role),
        options("/ecs/app", &[("mode", "blocking")]),
    );
    assert!(out.status.success(), "{out:?}");
    let t = run_to_stop(&s, "logged");
    assert_eq!(t["stopCode"], "EssentialContainerExited", "{t}");
    assert_eq!(t["containers"][0]["exitCode"], 0, "{t}");
    let id = task_id(&t);
    let stream = format!("ecs/app/{id}");
    let events = all_events(&s, "/ecs/app", &stream);
    let msgs: Vec<&str> = events.iter().map(message).collect();
    assert_eq!(msgs[0], marker);
    let numbered: Vec<&str> = msgs
        .iter()
        .copied()
        .filter(|m| m.starts_with("line-"))
        .collect();
    let want: Vec<String> = (0..3000).map(|i| format!("line-{i}")).collect();
    assert_eq!(numbered, want, "every line, in order");
    // Docker's split: 262,118-byte events (256 KiB less AWS's 26-byte overhead), then the
    // rest.
    let long: Vec<usize> = msgs
        .iter()
        .filter(|m| m.starts_with("xxx"))
        .map(|m| m.len())
        .collect();
    assert_eq!(long, vec![262_118, 307_200 - 262_118]);
    assert_eq!(msgs.last().copied(), Some("the-end"));
    assert!(msgs.contains(&"to-stderr"));
    let ts: Vec<i64> = events
        .iter()
        .map(|e| e["timestamp"].as_i64().unwrap())
        .collect();
    assert!(ts.windows(2).all(|w| w[0] <= w[1]), "timestamps in order");
    // FilterLogEvents (what `aws logs tail` calls) finds the marker by a term of it (the
    // pattern itself is recorded in CloudTrail, so it must not be the whole marker).
    let f = json(&s.aws(&[
        "logs",
        "filter-log-events",
        "--log-group-name",
        "/ecs/app",
        "--interleaved",
        "--filter-pattern",
        "AWSLOGS",
    ]));
    let found: Vec<&str> = f["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(message)
        .collect();
    assert_eq!(found, [marker]);
    assert_eq!(f["events"][0]["logStreamName"], stream.as_str());
    // CloudTrail: the role assumed by ECS's service principal, then the logs calls made as
    // the assumed role.
    let session_arn = format!("arn:aws:sts::{}:assumed-role/exec-role/{id}", s.account);
    let assumed = trail_records(&s, "AssumeRole");
    let a = assumed
        .iter()
        .find(|r| r["requestParameters"]["roleSessionName"] == id.as_str())
        .expect("an AssumeRole record for the task");
    assert_eq!(a["userIdentity"]["type"], "AWSService", "{a}");
    assert_eq!(
        a["userIdentity"]["invokedBy"], "ecs-tasks.amazonaws.com",
        "{a}"
    );
    assert_eq!(a["requestParameters"]["roleArn"], role.as_str());
    for name in ["CreateLogStream", "PutLogEvents"] {
        let recs = trail_records(&s, name);
        let r = recs
            .iter()
            .find(|r| r["userIdentity"]["arn"] == session_arn.as_str())
            .unwrap_or_else(|| panic!("no {name} as {session_arn}: {recs:?}"));
        assert_eq!(r["userIdentity"]["type"], "AssumedRole", "{r}");
        assert_eq!(
            r["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"],
            role.as_str(),
            "{r}"
        );
        assert!(r.get("errorCode").is_none_or(Value::is_null), "{r}");
    }
    // Nothing of the output in clear: no file under the data directory holds the marker
    // or a numbered line, and the server did not print them.
    let mut s = s;
    s.stop();
    for needle in [marker, "line-2999"] {
        let held = files_holding(&s.data_dir(), needle.as_bytes());
        assert!(held.is_empty(), "{needle} in clear in {held:?}");
    }
    assert!(
        !s.output().contains(marker),
        "the server printed a log line"
    );
}

#[test]
fn launch_failures_stop_the_task_with_fargates_reasons() {
    if !require_root("launch_failures_stop_the_task_with_fargates_reasons") {
        return;
    }
    let s = Server::start();
    setup(&s);
    create_group(&s, "/ecs/fail");
    let cases = [
        // A trust policy that names another service: ECS cannot assume the role.
        (
            execution_role(&s, "not-for-ecs", "lambda.amazonaws.com", &["logs:*"]),
            options("/ecs/fail", &[]),
            "ResourceInitializationError: ECS was unable to assume the role",
        ),
        // No logs:CreateLogStream.
        (
            execution_role(&s, "no-stream", "ecs-tasks.amazonaws.com", &["logs:PutLogEvents"]),
            options("/ecs/fail", &[]),
            "ResourceInitializationError: failed to validate logger args: create stream has been retried 1 times: failed to create Cloudwatch log stream: AccessDeniedException: User: arn:aws:sts::",
        ),
        // A group that does not exist.
        (
            execution_role(&s, "no-group", "ecs-tasks.amazonaws.com", &["logs:*"]),
            options("/ecs/missing", &[]),
            "failed to create Cloudwatch log stream: ResourceNotFoundException: The specified log group does not exist.",
        ),
        // awslogs-create-group without logs:CreateLogGroup.
        (
            execution_role(
                &s,
                "no-create",
                "ecs-tasks.amazonaws.com",
                &["logs:CreateLogStream", "logs:PutLogEvents"],
            ),
            options("/ecs/new", &[("awslogs-create-group", "true")]),
            "failed to create Cloudwatch log group: AccessDeniedException:",
        ),
    ];
    for (i, (role, opts, reason)) in cases.into_iter().enumerate() {
        let family = format!("fail{i}");
        let out = register(&s, &family, "echo never", Some(&role), opts);
        assert!(out.status.success(), "{out:?}");
        let t = run_to_stop(&s, &family);
        assert_eq!(t["stopCode"], "TaskFailedToStart", "{t}");
        let why = t["stoppedReason"].as_str().unwrap();
        assert!(why.starts_with(reason) || why.contains(reason), "{why}");
        assert!(t["startedAt"].is_null(), "the task never ran: {t}");
    }
    // With logs:CreateLogGroup the group is made, as the role.
    let role = execution_role(
        &s,
        "creator",
        "ecs-tasks.amazonaws.com",
        &[
            "logs:CreateLogGroup",
            "logs:CreateLogStream",
            "logs:PutLogEvents",
        ],
    );
    let out = register(
        &s,
        "creates",
        "echo made-it",
        Some(&role),
        options("/ecs/created", &[("awslogs-create-group", "true")]),
    );
    assert!(out.status.success(), "{out:?}");
    let t = run_to_stop(&s, "creates");
    assert_eq!(t["stopCode"], "EssentialContainerExited", "{t}");
    let events = all_events(&s, "/ecs/created", &format!("ecs/app/{}", task_id(&t)));
    assert_eq!(events.iter().map(message).collect::<Vec<_>>(), ["made-it"]);
    let made = trail_records(&s, "CreateLogGroup");
    assert!(
        made.iter().any(|r| r["userIdentity"]["arn"]
            .as_str()
            .is_some_and(|a| a.contains(":assumed-role/creator/"))),
        "{made:?}"
    );
}

#[test]
fn non_blocking_mode_drops_and_counts_lines_instead_of_blocking() {
    if !require_root("non_blocking_mode_drops_and_counts_lines_instead_of_blocking") {
        return;
    }
    let s = Server::start_logging("warn");
    setup(&s);
    let role = execution_role(
        &s,
        "exec-role",
        "ecs-tasks.amazonaws.com",
        &["logs:CreateLogStream", "logs:PutLogEvents"],
    );
    create_group(&s, "/ecs/fast");
    // A million lines as fast as busybox writes them, into a 4 KiB buffer.
    let out = register(
        &s,
        "fast",
        "seq 1 1000000; echo last-line",
        Some(&role),
        options(
            "/ecs/fast",
            &[("mode", "non-blocking"), ("max-buffer-size", "4k")],
        ),
    );
    assert!(out.status.success(), "{out:?}");
    let t = run_to_stop(&s, "fast");
    assert_eq!(t["stopCode"], "EssentialContainerExited", "{t}");
    assert_eq!(t["containers"][0]["exitCode"], 0, "{t}");
    let id = task_id(&t);
    // Without the terminal colours of the server's log.
    let printed: String = {
        let raw = s.output();
        let mut out = String::new();
        let mut chars = raw.chars();
        while let Some(c) = chars.next() {
            if c == '\u{1b}' {
                for d in chars.by_ref() {
                    if d.is_ascii_alphabetic() {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    };
    let note = printed
        .lines()
        .find(|l| l.contains("lines dropped") && l.contains(&id))
        .unwrap_or_else(|| panic!("no count of dropped lines in the server log: {printed}"));
    let dropped: u64 = note
        .split("dropped=")
        .nth(1)
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{note}"));
    let stored = all_events(&s, "/ecs/fast", &format!("ecs/app/{id}"));
    assert!(dropped > 0);
    assert_eq!(
        stored.len() as u64 + dropped,
        1_000_001,
        "stored + dropped = written"
    );
    // What was kept is in order.
    let nums: Vec<u64> = stored
        .iter()
        .filter_map(|e| message(e).parse().ok())
        .collect();
    assert!(nums.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn register_task_definition_checks_awslogs_as_ecs_does_for_fargate() {
    let s = Server::start();
    let out = s.aws(&["ecs", "create-cluster"]);
    assert!(out.status.success(), "{out:?}");
    let role = format!("arn:aws:iam::{}:role/exec", s.account);
    let refused = |opts: Value, role: Option<&str>| {
        fails_with(&register(&s, "bad", "true", role, opts), "ClientException")
    };
    assert!(refused(options("g", &[]), None).contains(
        "Fargate requires task definition to have execution role ARN to support log driver awslogs."
    ));
    let mut o = options("g", &[]);
    o.as_object_mut().unwrap().remove("awslogs-stream-prefix");
    assert!(refused(o, Some(&role)).contains(
        "Log driver awslogs option 'awslogs-stream-prefix' should not be null or empty."
    ));
    assert!(refused(options("g", &[("mode", "sometimes")]), Some(&role))
        .contains("logging mode not supported"));
    assert!(refused(
        options("g", &[("awslogs-create-group", "maybe")]),
        Some(&role)
    )
    .contains("awslogs-create-group"));
    assert!(refused(
        options("g", &[("awslogs-multiline-pattern", "(")]),
        Some(&role)
    )
    .contains("could not parse multiline pattern"));
    let containers = json!([{"name": "app", "image": "busybox",
        "logConfiguration": {"logDriver": "json-file"}}])
    .to_string();
    let out = register_fargate_def(&s, "bad", &containers, &[]);
    assert!(fails_with(&out, "ClientException").contains("not supported on Fargate"));
    // splunk registers (ECS accepts it on Fargate) but Ferrogate cannot run it.
    let containers = json!([{"name": "app", "image": "busybox",
        "logConfiguration": {"logDriver": "splunk", "options": {"splunk-url": "https://x"}}}])
    .to_string();
    let out = register_fargate_def(&s, "splunk", &containers, &[]);
    assert!(out.status.success(), "{out:?}");
    let net = task_net(&s);
    let out = s.aws(&[
        "ecs",
        "run-task",
        "--task-definition",
        "splunk",
        "--launch-type",
        "FARGATE",
        "--network-configuration",
        &net,
    ]);
    assert!(fails_with(&out, "UnsupportedFeatureException").contains("logDriver splunk"));
    // A complete one registers and shows its options as given.
    let out = register(
        &s,
        "good",
        "true",
        Some(&role),
        options("g", &[("mode", "non-blocking"), ("max-buffer-size", "25m")]),
    );
    let td = json(&out);
    assert_eq!(
        td["taskDefinition"]["containerDefinitions"][0]["logConfiguration"]["options"]
            ["max-buffer-size"],
        "25m"
    );
}
