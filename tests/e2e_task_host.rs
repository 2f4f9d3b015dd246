//! What a task may take from its host, and what it leaves behind (issue 19), with the `aws`
//! CLI on the real runtime: admission control refuses a task the host cannot hold, naming
//! the resource; and nothing under the data directory lets anyone with full KMS rights
//! recover a task's volume key, while it runs or after it stopped.
//!
//! Needs root: skipped with a message otherwise, and a failure when `CI=true`.

mod common;

use std::time::{Duration, Instant};

use common::{
    fargate_key, json, load_busybox, register_fargate_def, require_root, task_net, trail_records,
    Server,
};
use serde_json::Value;

fn register_sleeper(s: &Server, family: &str) {
    let sleeper = r#"[{"name":"app","image":"busybox","command":["sleep","1000"]}]"#;
    json(&register_fargate_def(s, family, sleeper, &[]));
}

fn run(s: &Server, cluster: &str, family: &str) -> String {
    let r = json(&s.aws(&[
        "ecs",
        "run-task",
        "--cluster",
        cluster,
        "--task-definition",
        family,
        "--launch-type",
        "FARGATE",
        "--network-configuration",
        &task_net(s),
    ]));
    r["tasks"][0]["taskArn"].as_str().unwrap().to_owned()
}

fn describe(s: &Server, cluster: &str, task: &str) -> Value {
    json(&s.aws(&[
        "ecs",
        "describe-tasks",
        "--cluster",
        cluster,
        "--tasks",
        task,
    ]))["tasks"][0]
        .clone()
}

/// Polls until the task is RUNNING or STOPPED.
fn settle(s: &Server, cluster: &str, task: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let t = describe(s, cluster, task);
        if t["lastStatus"] == "RUNNING" || t["lastStatus"] == "STOPPED" || Instant::now() > deadline
        {
            return t;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn stop(s: &Server, cluster: &str, task: &str) {
    json(&s.aws(&["ecs", "stop-task", "--cluster", cluster, "--task", task]));
    json(&s.aws(&[
        "ecs",
        "wait",
        "tasks-stopped",
        "--cluster",
        cluster,
        "--tasks",
        task,
    ]));
}

/// A host that gives tasks 512 CPU units runs two 256-unit tasks; the third fails to
/// start with a reason naming the resource in ECS's words, and runs once one of the others
/// stopped (its reservation is released with it).
#[test]
fn a_task_the_host_cannot_hold_fails_to_start_naming_the_resource() {
    if !require_root("a_task_the_host_cannot_hold_fails_to_start_naming_the_resource") {
        return;
    }
    let s = Server::start_with(&["--allocatable-cpu", "512", "--allocatable-memory", "4096"]);
    load_busybox(&s);
    json(&s.aws(&["ecs", "create-cluster", "--cluster-name", "small"]));
    register_sleeper(&s, "sleeper");
    let a = run(&s, "small", "sleeper");
    let b = run(&s, "small", "sleeper");
    for t in [&a, &b] {
        assert_eq!(settle(&s, "small", t)["lastStatus"], "RUNNING");
    }
    let c = run(&s, "small", "sleeper");
    let d = settle(&s, "small", &c);
    assert_eq!(d["lastStatus"], "STOPPED", "{d}");
    assert_eq!(d["stopCode"], "TaskFailedToStart", "{d}");
    let reason = d["stoppedReason"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with(
            "ResourceInitializationError: RESOURCE:CPU (the task needs 256 CPU units; 0 of the 512"
        ),
        "{reason}"
    );
    stop(&s, "small", &a);
    let e = run(&s, "small", "sleeper");
    assert_eq!(settle(&s, "small", &e)["lastStatus"], "RUNNING");
    for t in [&b, &e] {
        stop(&s, "small", t);
    }
}

/// The volume key of a task is the plaintext of a KMS data key made with
/// GenerateDataKeyWithoutPlaintext. Its ciphertext is never stored: with a copy of the data
/// directory (database, WAL, logs, task records) and every KMS right, nothing decrypts
/// under the task's encryption context, while the task runs or after it stopped.
#[test]
fn no_copy_of_a_task_data_key_can_be_decrypted_from_the_data_directory() {
    if !require_root("no_copy_of_a_task_data_key_can_be_decrypted_from_the_data_directory") {
        return;
    }
    let s = Server::start();
    load_busybox(&s);
    let key = fargate_key(&s, "shred");
    let key_id = key.rsplit('/').next().unwrap().to_owned();
    json(&s.aws(&[
        "ecs",
        "create-cluster",
        "--cluster-name",
        "shred",
        "--configuration",
        &format!(
            r#"{{"managedStorageConfiguration":{{"fargateEphemeralStorageKmsKeyId":"{key_id}"}}}}"#
        ),
    ]));
    register_sleeper(&s, "sleeper");
    let t = run(&s, "shred", "sleeper");
    assert_eq!(settle(&s, "shred", &t)["lastStatus"], "RUNNING");
    // The encryption context of the task's data key, as CloudTrail recorded it.
    let events = trail_records(&s, "GenerateDataKeyWithoutPlaintext");
    let real = events
        .iter()
        .find(|e| e["errorCode"].is_null())
        .unwrap_or_else(|| panic!("no GenerateDataKeyWithoutPlaintext: {events:#?}"));
    assert!(real["responseElements"].is_null(), "{real}");
    let context = real["requestParameters"]["encryptionContext"].to_string();
    assert!(context.contains("aws:ebs:id"), "{context}");
    let scan = |when: &str| {
        let out = json(&s.python("shred_scan.py", &[s.data_dir().to_str().unwrap(), &context]));
        eprintln!("{when}: {out}");
        assert!(out["files"].as_u64().unwrap_or(0) > 0, "{out}");
        assert_eq!(out["decrypted"], 0, "{when}: a data key decrypts: {out}");
    };
    scan("running");
    stop(&s, "shred", &t);
    // Past a checkpoint of the WAL into the database (every 200 ms).
    std::thread::sleep(Duration::from_millis(500));
    scan("stopped");
}
