//! ECS tasks end to end (issue 6): the announcement's scenario with the `aws` CLI on the
//! real host runtime. A cluster with a customer managed key; a task with 50 GiB of
//! ephemeral storage reaches RUNNING and shows the key; a marker it writes is not in clear
//! in the volume's backing file; the cluster moves to a second key while the running task
//! keeps the first; a disabled key stops new tasks with TaskFailedToStart while running ones
//! keep running; CloudTrail shows the Fargate principal's CreateGrant with the encryption
//! context; StopTask retires the grant and destroys the volume.
//!
//! Needs root (loop devices, fscrypt, namespaces): skipped with a message otherwise, and a
//! failure when `CI=true`.

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{
    fails_with, fargate_key, json, load_busybox, register_fargate_def, require_root, task_net,
    trail_records, Server,
};
use serde_json::Value;

fn run_task(s: &Server, cluster: &str, family: &str, extra: &[&str]) -> String {
    let net = task_net(s);
    let mut args = vec![
        "ecs",
        "run-task",
        "--cluster",
        cluster,
        "--task-definition",
        family,
        "--launch-type",
        "FARGATE",
        "--network-configuration",
        &net,
    ];
    args.extend_from_slice(extra);
    let r = json(&s.aws(&args));
    assert_eq!(r["failures"], serde_json::json!([]));
    assert_eq!(r["tasks"][0]["lastStatus"], "PROVISIONING");
    r["tasks"][0]["taskArn"].as_str().unwrap().to_owned()
}

fn describe(s: &Server, cluster: &str, task: &str) -> Value {
    let d = json(&s.aws(&[
        "ecs",
        "describe-tasks",
        "--cluster",
        cluster,
        "--tasks",
        task,
    ]));
    d["tasks"][0].clone()
}

/// Polls until the task's lastStatus is `status` (or it stopped), returning it.
fn wait_for(s: &Server, cluster: &str, task: &str, status: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let t = describe(s, cluster, task);
        if t["lastStatus"] == status || t["lastStatus"] == "STOPPED" || Instant::now() > deadline {
            return t;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn register(s: &Server, family: &str, command: &str, extra: &[&str]) {
    let containers =
        serde_json::json!([{"name": "app", "image": "busybox", "command": ["sh", "-c", command]}])
            .to_string();
    register_fargate(s, family, &containers, extra);
}

/// RegisterTaskDefinition of a 256/512 Fargate definition with these containers (JSON).
fn register_fargate(s: &Server, family: &str, containers: &str, extra: &[&str]) -> Value {
    json(&register_fargate_def(s, family, containers, extra))
}

fn volume_images(s: &Server) -> Vec<PathBuf> {
    match std::fs::read_dir(s.data_dir().join("volumes")) {
        Ok(d) => d
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "img"))
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// The server's default volume backend (`auto`: XTS on a host with FUSE, as this one).
#[test]
fn the_announcement_scenario_on_the_real_runtime() {
    if !require_root("the_announcement_scenario_on_the_real_runtime") {
        return;
    }
    announcement_scenario(None);
}

/// The same on fscrypt (`--volume-backend fscrypt`).
#[test]
fn the_announcement_scenario_on_fscrypt() {
    if !require_root("the_announcement_scenario_on_fscrypt") {
        return;
    }
    announcement_scenario(Some("fscrypt"));
}

/// True if a server started with `backend` (None: the default, or the suite's
/// `FERROGATE_E2E_VOLUME_BACKEND`) puts task volumes on XTS here.
fn expect_xts(backend: Option<&str>) -> bool {
    let suite = std::env::var("FERROGATE_E2E_VOLUME_BACKEND").ok();
    backend.or(suite.as_deref()) != Some("fscrypt")
}

/// A server on `backend` (None: the default).
fn server_on(backend: Option<&str>) -> Server {
    match backend {
        Some(b) => Server::start_with(&["--volume-backend", b]),
        None => Server::start(),
    }
}

fn announcement_scenario(backend: Option<&str>) {
    let mut s = server_on(backend);
    load_busybox(&s);
    let key1 = fargate_key(&s, "secure");
    let key2 = fargate_key(&s, "secure");
    let key1_id = key1.rsplit('/').next().unwrap().to_owned();

    // The announcement's commands.
    json(&s.aws(&[
        "ecs",
        "create-cluster",
        "--cluster-name",
        "secure",
        "--configuration",
        &format!(
            r#"{{"managedStorageConfiguration":{{"fargateEphemeralStorageKmsKeyId":"{key1_id}"}}}}"#
        ),
    ]));
    let d = json(&s.aws(&[
        "ecs",
        "describe-clusters",
        "--clusters",
        "secure",
        "--include",
        "CONFIGURATIONS",
    ]));
    assert_eq!(
        d["clusters"][0]["configuration"]["managedStorageConfiguration"]
            ["fargateEphemeralStorageKmsKeyId"],
        key1.as_str()
    );

    // A task with 50 GiB writes a marker (contents and a file name) and keeps running.
    let marker = format!("FERROGATE-MARKER-{}", std::process::id());
    register(
        &s,
        "writer",
        &format!(
            "mkdir -p /data && echo {marker}{marker} > /data/{marker}.txt && sync && sleep 1000"
        ),
        &["--ephemeral-storage", "sizeInGiB=50"],
    );
    let t1 = run_task(&s, "secure", "writer", &[]);
    json(&s.aws(&[
        "ecs",
        "wait",
        "tasks-running",
        "--cluster",
        "secure",
        "--tasks",
        &t1,
    ]));
    let d = describe(&s, "secure", &t1);
    assert_eq!(d["lastStatus"], "RUNNING");
    assert_eq!(d["ephemeralStorage"]["sizeInGiB"], 50);
    assert_eq!(d["fargateEphemeralStorage"]["sizeInGiB"], 50);
    assert_eq!(d["fargateEphemeralStorage"]["kmsKeyId"], key1.as_str());
    assert_eq!(d["containers"][0]["lastStatus"], "RUNNING");
    let c = json(&s.aws(&["ecs", "describe-clusters", "--clusters", "secure"]));
    assert_eq!(c["clusters"][0]["runningTasksCount"], 1);

    // The marker is on the volume but never in clear in its backing file. The scan reads
    // the volume (it has data). With fscrypt it finds what ext4 keeps in clear (the root
    // directory's `lost+found`); the XTS backend (`--volume-backend xts`, a FUSE server of
    // the agent) hides even that.
    std::thread::sleep(Duration::from_millis(500));
    let images = volume_images(&s);
    assert_eq!(images.len(), 1, "{images:?}");
    let scan = |needle: &[u8]| {
        ferrogate_runtime::volume::inspect::scan_allocated(&images[0], needle).unwrap()
    };
    let xts = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .any(|l| {
            l.contains(" - fuse.ferrogate-xts ") && l.contains(&*s.data_dir().to_string_lossy())
        });
    assert_eq!(xts, expect_xts(backend), "the volume backend in use");
    assert_eq!(
        scan(b"lost+found").hits > 0,
        !xts,
        "lost+found is in clear under fscrypt only (XTS backend: {xts})"
    );
    assert!(scan(b"lost+found").scanned_bytes > 0);
    assert_eq!(
        scan(marker.as_bytes()).hits,
        0,
        "the marker is in clear on the host"
    );

    // A second key for the cluster: the running task keeps the first, a new one gets the second.
    json(&s.aws(&[
        "ecs",
        "update-cluster",
        "--cluster",
        "secure",
        "--configuration",
        &format!(
            r#"{{"managedStorageConfiguration":{{"fargateEphemeralStorageKmsKeyId":"{key2}"}}}}"#
        ),
    ]));
    assert_eq!(
        describe(&s, "secure", &t1)["fargateEphemeralStorage"]["kmsKeyId"],
        key1.as_str()
    );
    register(&s, "sleeper", "sleep 1000", &[]);
    let t2 = run_task(&s, "secure", "sleeper", &[]);
    let d2 = wait_for(&s, "secure", &t2, "RUNNING");
    assert_eq!(d2["lastStatus"], "RUNNING", "{d2}");
    assert_eq!(d2["fargateEphemeralStorage"]["kmsKeyId"], key2.as_str());
    assert_eq!(d2["fargateEphemeralStorage"]["sizeInGiB"], 20);

    // The key is disabled: a new task fails to start, naming the KMS error; running tasks go on.
    json(&s.aws(&["kms", "disable-key", "--key-id", &key2]));
    let t3 = run_task(&s, "secure", "sleeper", &[]);
    json(&s.aws(&[
        "ecs",
        "wait",
        "tasks-stopped",
        "--cluster",
        "secure",
        "--tasks",
        &t3,
    ]));
    let d3 = describe(&s, "secure", &t3);
    assert_eq!(d3["stopCode"], "TaskFailedToStart");
    let reason = d3["stoppedReason"].as_str().unwrap();
    assert!(
        reason.starts_with("ResourceInitializationError: "),
        "{reason}"
    );
    assert!(reason.contains("DisabledException"), "{reason}");
    // The pre-flight stopped it: no data key was asked for, no grant made.
    assert!(reason.contains("(DryRun)"), "{reason}");
    assert!(d3.get("startedAt").is_none());
    assert_eq!(describe(&s, "secure", &t1)["lastStatus"], "RUNNING");
    assert_eq!(describe(&s, "secure", &t2)["lastStatus"], "RUNNING");

    // CloudTrail: the Fargate service principal created each grant, for Decrypt, with the
    // encryption context subset of the cluster and the volume.
    let all_grants = trail_records(&s, "CreateGrant");
    let (dry, grants): (Vec<Value>, Vec<Value>) = all_grants
        .into_iter()
        .partition(|g| g["requestParameters"]["dryRun"] == true);
    assert!(grants.len() >= 2, "{grants:?}");
    // Fargate's pre-flight before each launch: DryRun calls with the cluster's context.
    // (Both are made together, so a disabled key fails both.)
    let passed = dry
        .iter()
        .filter(|g| g["errorCode"] == "DryRunOperationException")
        .count();
    assert!(passed >= grants.len(), "{dry:?}");
    assert!(
        dry.iter().any(|g| g["errorCode"] == "DisabledException"),
        "{dry:?}"
    );
    for g in &dry {
        assert_eq!(g["userIdentity"]["invokedBy"], "fargate.amazonaws.com");
        if g["errorCode"] == "DisabledException" {
            continue;
        }
        assert_eq!(g["errorCode"], "DryRunOperationException", "{g}");
        assert_eq!(
            g["errorMessage"],
            "The request would have succeeded, but the DryRun option is set."
        );
        assert_eq!(
            g["requestParameters"]["constraints"]["encryptionContextSubset"],
            serde_json::json!({"aws:ecs:clusterAccount": "000000000000", "aws:ecs:clusterName": "secure"})
        );
    }
    let gen = trail_records(&s, "GenerateDataKeyWithoutPlaintext");
    assert!(
        gen.iter()
            .filter(|e| e["errorCode"] == "DisabledException")
            .all(|e| e["requestParameters"]["dryRun"] == true),
        "{gen:?}"
    );
    assert!(
        gen.iter().any(|e| e["requestParameters"]["dryRun"] == true
            && e["errorCode"] == "DryRunOperationException"
            && e["requestParameters"]["encryptionContext"]
                == serde_json::json!({"aws:ecs:clusterAccount": "000000000000", "aws:ecs:clusterName": "secure"})),
        "{gen:?}"
    );
    for g in &grants {
        assert!(g.get("errorCode").is_none(), "{g}");
        assert_eq!(g["userIdentity"]["type"], "AWSService");
        assert_eq!(g["userIdentity"]["invokedBy"], "fargate.amazonaws.com");
        let p = &g["requestParameters"];
        assert_eq!(p["granteePrincipal"], "fargate.us-east-1.amazonaws.com");
        assert_eq!(p["retiringPrincipal"], "ec2.us-east-1.amazonaws.com");
        assert_eq!(p["operations"], serde_json::json!(["Decrypt"]));
        let subset = &p["constraints"]["encryptionContextSubset"];
        assert_eq!(subset["aws:ecs:clusterAccount"], "000000000000");
        assert_eq!(subset["aws:ecs:clusterName"], "secure");
        assert!(subset["aws:ebs:id"].as_str().unwrap().starts_with("vol-"));
    }
    let gen = trail_records(&s, "GenerateDataKeyWithoutPlaintext");
    assert!(
        gen.iter().any(|e| e["errorCode"] == "DisabledException"),
        "{gen:?}"
    );
    let decrypts = trail_records(&s, "Decrypt");
    assert!(decrypts
        .iter()
        .all(|e| e["userIdentity"]["invokedBy"] == "fargate.amazonaws.com"));
    assert!(decrypts.len() >= 2);

    // A cluster with running tasks cannot be deleted.
    fails_with(
        &s.aws(&["ecs", "delete-cluster", "--cluster", "secure"]),
        "ClusterContainsTasksException",
    );

    // StopTask: the task stops, its grant is retired, its volume is gone.
    let stopped = json(&s.aws(&[
        "ecs",
        "stop-task",
        "--cluster",
        "secure",
        "--task",
        &t1,
        "--reason",
        "rotating keys",
    ]));
    assert_eq!(stopped["task"]["desiredStatus"], "STOPPED");
    json(&s.aws(&[
        "ecs",
        "wait",
        "tasks-stopped",
        "--cluster",
        "secure",
        "--tasks",
        &t1,
    ]));
    let d = describe(&s, "secure", &t1);
    assert_eq!(d["stopCode"], "UserInitiated");
    assert_eq!(d["stoppedReason"], "rotating keys");
    assert_eq!(d["containers"][0]["exitCode"], 143);
    let retired = trail_records(&s, "RetireGrant");
    assert!(
        retired
            .iter()
            .any(|e| e["userIdentity"]["invokedBy"] == "ec2.amazonaws.com"
                && e.get("errorCode").is_none()),
        "{retired:?}"
    );
    let running = json(&s.aws(&["ecs", "list-tasks", "--cluster", "secure"]));
    assert_eq!(running["taskArns"], serde_json::json!([t2.clone()]));
    let all_stopped = json(&s.aws(&[
        "ecs",
        "list-tasks",
        "--cluster",
        "secure",
        "--desired-status",
        "STOPPED",
    ]));
    assert_eq!(all_stopped["taskArns"].as_array().unwrap().len(), 2);

    // An essential container's exit code; an image that is not there.
    register(&s, "exiter", "echo hi; exit 3", &[]);
    let t4 = run_task(&s, "secure", "exiter", &[]);
    json(&s.aws(&["kms", "enable-key", "--key-id", &key2]));
    let t4b = run_task(&s, "secure", "exiter", &[]);
    let d4 = wait_for(&s, "secure", &t4b, "STOPPED");
    assert_eq!(d4["stopCode"], "EssentialContainerExited", "{d4}");
    assert_eq!(d4["containers"][0]["exitCode"], 3);
    let _ = t4;
    register_fargate(
        &s,
        "ghost",
        r#"[{"name":"app","image":"example.invalid/ghost:1"}]"#,
        &[],
    );
    let t5 = run_task(&s, "secure", "ghost", &[]);
    let d5 = wait_for(&s, "secure", &t5, "STOPPED");
    assert_eq!(d5["stopCode"], "TaskFailedToStart");
    assert!(
        d5["stoppedReason"]
            .as_str()
            .unwrap()
            .starts_with("CannotPullContainerError:"),
        "{d5}"
    );

    // A cluster without a customer managed key: the service-owned key, no kmsKeyId.
    json(&s.aws(&["ecs", "create-cluster", "--cluster-name", "plain"]));
    let t6 = run_task(&s, "plain", "sleeper", &[]);
    let d6 = wait_for(&s, "plain", &t6, "RUNNING");
    assert_eq!(d6["lastStatus"], "RUNNING", "{d6}");
    assert_eq!(
        d6["fargateEphemeralStorage"],
        serde_json::json!({"sizeInGiB": 20})
    );

    // A graceful stop of the server stops the tasks and records it; a restart keeps them.
    s.stop();
    let s = s.restart();
    let d2 = describe(&s, "secure", &t2);
    assert_eq!(d2["lastStatus"], "STOPPED");
    assert_eq!(d2["stopCode"], "TerminationNotice");
    assert!(volume_images(&s).is_empty(), "{:?}", volume_images(&s));
}

/// Task volumes live on the task's encrypted storage: one container writes to a volume it
/// mounts, another sees it through `volumesFrom` read-only, and a read-only root filesystem
/// is read-only. The reader's exit code says which check failed.
#[test]
fn volumes_mount_points_and_a_read_only_root_are_applied() {
    if !require_root("volumes_mount_points_and_a_read_only_root_are_applied") {
        return;
    }
    let s = Server::start();
    load_busybox(&s);
    json(&s.aws(&["ecs", "create-cluster"]));
    let containers = serde_json::json!([
        {"name": "writer", "image": "busybox", "essential": false,
         "mountPoints": [{"sourceVolume": "shared", "containerPath": "/shared"}],
         "command": ["sh", "-c", "echo hello > /shared/msg && sleep 30"]},
        {"name": "reader", "image": "busybox", "readonlyRootFilesystem": true,
         "volumesFrom": [{"sourceContainer": "writer", "readOnly": true}],
         "command": ["sh", "-c", concat!(
            "i=0; while [ ! -s /shared/msg ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; ",
            "grep -q hello /shared/msg || exit 3; ",
            "touch /shared/other 2>/dev/null && exit 4; ",
            "touch /root-file 2>/dev/null && exit 5; ",
            "exit 0")]},
    ])
    .to_string();
    register_fargate(
        &s,
        "vols",
        &containers,
        &["--volumes", r#"[{"name":"shared"}]"#],
    );
    let t = run_task(&s, "default", "vols", &[]);
    let d = wait_for(&s, "default", &t, "STOPPED");
    assert_eq!(d["lastStatus"], "STOPPED", "{d}");
    assert_eq!(d["stopCode"], "EssentialContainerExited", "{d}");
    let reader = d["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "reader")
        .unwrap();
    assert_eq!(reader["exitCode"], 0, "{d}");
}

/// After a crash of the server (and its host agent) the next start destroys the task's
/// sandbox and volume and records the task as stopped, with a reason.
#[test]
fn a_crash_leaves_nothing_running_and_tasks_are_reconciled() {
    if !require_root("a_crash_leaves_nothing_running_and_tasks_are_reconciled") {
        return;
    }
    crash_leaves_nothing(None);
}

/// The same on fscrypt.
#[test]
fn a_crash_leaves_nothing_running_on_fscrypt() {
    if !require_root("a_crash_leaves_nothing_running_on_fscrypt") {
        return;
    }
    crash_leaves_nothing(Some("fscrypt"));
}

fn crash_leaves_nothing(backend: Option<&str>) {
    let mut s = server_on(backend);
    load_busybox(&s);
    json(&s.aws(&["ecs", "create-cluster"]));
    register(&s, "sleeper", "sleep 1000", &[]);
    let t = run_task(&s, "default", "sleeper", &[]);
    let d = wait_for(&s, "default", &t, "RUNNING");
    assert_eq!(d["lastStatus"], "RUNNING", "{d}");
    s.kill9();
    let s = s.restart();
    let d = describe(&s, "default", &t);
    assert_eq!(d["lastStatus"], "STOPPED", "{d}");
    assert_eq!(d["stopCode"], "TerminationNotice");
    assert!(
        d["stoppedReason"].as_str().unwrap().contains("restarted"),
        "{d}"
    );
    assert!(volume_images(&s).is_empty());
    let run = json(&s.aws(&["ecs", "list-tasks"]));
    assert_eq!(run["taskArns"], serde_json::json!([]));
}

/// RunTask's checks, as AWS words them; nothing is created by a refused request.
#[test]
fn run_task_refuses_what_fargate_refuses() {
    let s = Server::start();
    json(&s.aws(&["ecs", "create-cluster"]));
    register(&s, "web", "true", &[]);
    let e = fails_with(
        &s.aws(&["ecs", "run-task", "--task-definition", "web"]),
        "InvalidParameterException",
    );
    assert!(
        e.contains(
            "Network Configuration must be provided when networkMode 'awsvpc' is specified."
        ),
        "{e}"
    );
    for (args, code) in [
        (vec!["--count", "11"], "InvalidParameterException"),
        (vec!["--launch-type", "EC2"], "InvalidParameterException"),
        (vec!["--cluster", "nope"], "ClusterNotFoundException"),
        (
            vec!["--overrides", r#"{"ephemeralStorage":{"sizeInGiB":201}}"#],
            "InvalidParameterException",
        ),
        (
            vec![
                "--overrides",
                r#"{"containerOverrides":[{"name":"other","command":["x"]}]}"#,
            ],
            "InvalidParameterException",
        ),
        (
            vec![
                "--overrides",
                r#"{"containerOverrides":[{"name":"app","environmentFiles":[{"value":"arn:aws:s3:::b/e.env","type":"s3"}]}]}"#,
            ],
            "UnsupportedFeatureException",
        ),
    ] {
        let net = task_net(&s);
        let mut a = vec![
            "ecs",
            "run-task",
            "--task-definition",
            "web",
            "--network-configuration",
            &net,
        ];
        a.extend_from_slice(&args);
        fails_with(&s.aws(&a), code);
    }
    let e = fails_with(
        &s.aws(&[
            "ecs",
            "run-task",
            "--task-definition",
            "nope",
            "--network-configuration",
            &task_net(&s),
        ]),
        "ClientException",
    );
    assert!(e.contains("TaskDefinition not found."), "{e}");
    json(&s.aws(&[
        "ecs",
        "register-task-definition",
        "--family",
        "ec2only",
        "--container-definitions",
        r#"[{"name":"a","image":"busybox","memory":128}]"#,
    ]));
    let e = fails_with(
        &s.aws(&[
            "ecs",
            "run-task",
            "--task-definition",
            "ec2only",
            "--network-configuration",
            &task_net(&s),
        ]),
        "ClientException",
    );
    assert!(
        e.contains("Task definition does not support launch_type FARGATE."),
        "{e}"
    );
    // A member Ferrogate stores but cannot apply is refused by name when a task would run
    // with it, by RunTask and CreateService alike; an unknown volume is refused at register.
    register_fargate(
        &s,
        "checked",
        r#"[{"name":"app","image":"busybox","secrets":[{"name":"DB_PASSWORD","valueFrom":"arn:aws:secretsmanager:us-east-1:000000000000:secret:db"}]}]"#,
        &[],
    );
    let e = fails_with(
        &s.aws(&[
            "ecs",
            "run-task",
            "--task-definition",
            "checked",
            "--network-configuration",
            &task_net(&s),
        ]),
        "UnsupportedFeatureException",
    );
    assert!(
        e.contains("containerDefinitions[app].secrets is not supported"),
        "{e}"
    );
    let e = fails_with(
        &s.aws(&[
            "ecs",
            "create-service",
            "--service-name",
            "checked",
            "--task-definition",
            "checked",
            "--desired-count",
            "1",
            "--launch-type",
            "FARGATE",
            "--network-configuration",
            &task_net(&s),
        ]),
        "UnsupportedFeatureException",
    );
    assert!(e.contains("secrets"), "{e}");
    let e = fails_with(
        &s.aws(&[
            "ecs",
            "register-task-definition",
            "--family",
            "vols",
            "--container-definitions",
            r#"[{"name":"app","image":"busybox","memory":128,"mountPoints":[{"sourceVolume":"nope","containerPath":"/d"}]}]"#,
        ]),
        "ClientException",
    );
    assert!(e.contains("Unknown volume 'nope'."), "{e}");
    let l = json(&s.aws(&["ecs", "list-tasks", "--desired-status", "STOPPED"]));
    assert_eq!(l["taskArns"], serde_json::json!([]));
    let l = json(&s.aws(&["ecs", "list-services"]));
    assert_eq!(l["serviceArns"], serde_json::json!([]));
    let d = json(&s.aws(&[
        "ecs",
        "describe-tasks",
        "--tasks",
        "0123456789abcdef0123456789abcdef",
    ]));
    assert_eq!(d["failures"][0]["reason"], "MISSING");
    // clientToken: the same request twice starts its tasks once.
    let a = json(&s.aws(&[
        "ecs",
        "run-task",
        "--task-definition",
        "web",
        "--network-configuration",
        &task_net(&s),
        "--client-token",
        "tok-1",
    ]));
    let b = json(&s.aws(&[
        "ecs",
        "run-task",
        "--task-definition",
        "web",
        "--network-configuration",
        &task_net(&s),
        "--client-token",
        "tok-1",
    ]));
    assert_eq!(a["tasks"][0]["taskArn"], b["tasks"][0]["taskArn"]);
    fails_with(
        &s.aws(&[
            "ecs",
            "run-task",
            "--task-definition",
            "web",
            "--network-configuration",
            &task_net(&s),
            "--client-token",
            "tok-1",
            "--count",
            "2",
        ]),
        "InvalidParameterException",
    );
}

fn service(s: &Server, cluster: &str, name: &str) -> Value {
    let d = json(&s.aws(&[
        "ecs",
        "describe-services",
        "--cluster",
        cluster,
        "--services",
        name,
    ]));
    d["services"][0].clone()
}

/// The service's tasks that are RUNNING and meant to run, with their keys.
///
/// ListTasks and DescribeTasks are two calls: a replacement can start, run, and have the
/// task it replaces stopped between them, so that the listed task is described stopping and
/// the running replacement was not listed. Such a sample is not a snapshot of one moment;
/// it is taken again (a listed task described with `desiredStatus` STOPPED changed in
/// between, since ListTasks lists only tasks meant to run).
fn running_keys(s: &Server, cluster: &str, name: &str) -> Vec<String> {
    let mut attempts = 0;
    loop {
        attempts += 1;
        let l = json(&s.aws(&[
            "ecs",
            "list-tasks",
            "--cluster",
            cluster,
            "--service-name",
            name,
        ]));
        let arns: Vec<&str> = l["taskArns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        if arns.is_empty() {
            return Vec::new();
        }
        let mut args = vec!["ecs", "describe-tasks", "--cluster", cluster, "--tasks"];
        args.extend(arns.iter());
        let d = json(&s.aws(&args));
        let tasks = d["tasks"].as_array().unwrap();
        if attempts < 5 && tasks.iter().any(|t| t["desiredStatus"] != "RUNNING") {
            continue;
        }
        return tasks
            .iter()
            .filter(|t| t["lastStatus"] == "RUNNING")
            .map(|t| {
                t["fargateEphemeralStorage"]["kmsKeyId"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned()
            })
            .collect();
    }
}

/// Polls until `done` holds for the service, checking `always` on every sample.
fn watch(
    s: &Server,
    cluster: &str,
    name: &str,
    done: impl Fn(&Value) -> bool,
    always: impl Fn(&Value, &[String]),
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let svc = service(s, cluster, name);
        let keys = running_keys(s, cluster, name);
        always(&svc, &keys);
        if done(&svc) {
            return svc;
        }
        assert!(Instant::now() < deadline, "service never got there: {svc}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits until the service's PRIMARY deployment is FAILED, with at least the breaker's
/// minimum of three failed tasks, and returns the service.
fn failed_by_circuit_breaker(s: &Server, cluster: &str, name: &str) -> Value {
    let svc = watch(
        s,
        cluster,
        name,
        |svc| svc["deployments"][0]["rolloutState"] == "FAILED",
        |_, _| {},
    );
    assert!(
        svc["deployments"][0]["failedTasks"].as_i64().unwrap() >= 3,
        "{svc}"
    );
    svc
}

fn stable(svc: &Value) -> bool {
    svc["deployments"].as_array().is_some_and(|d| d.len() == 1)
        && svc["runningCount"] == svc["desiredCount"]
}

/// Container health checks run inside the container: a task whose check passes becomes
/// HEALTHY; a service whose checks fail has its tasks stopped (`Task failed container health
/// checks`) and replaced, and the circuit breaker counts them.
#[test]
fn health_checks_mark_tasks_and_replace_unhealthy_service_tasks() {
    if !require_root("health_checks_mark_tasks_and_replace_unhealthy_service_tasks") {
        return;
    }
    let s = Server::start();
    load_busybox(&s);
    json(&s.aws(&["ecs", "create-cluster", "--cluster-name", "hc"]));
    let def = |family: &str, command: &str, check: &str| {
        let containers = serde_json::json!([{
            "name": "app", "image": "busybox", "command": ["sh", "-c", command],
            "healthCheck": {"command": ["CMD-SHELL", check], "interval": 5, "retries": 1},
        }])
        .to_string();
        register_fargate(&s, family, &containers, &[])
    };
    // The check sees the container's own file system: /tmp/ok is in its overlay.
    let registered = def("good", "touch /tmp/ok; sleep 1000", "test -f /tmp/ok");
    assert_eq!(
        registered["taskDefinition"]["containerDefinitions"][0]["healthCheck"],
        serde_json::json!({"command": ["CMD-SHELL", "test -f /tmp/ok"], "interval": 5, "timeout": 5, "retries": 1})
    );
    let t = run_task(&s, "hc", "good", &[]);
    let deadline = Instant::now() + Duration::from_secs(60);
    let d = loop {
        let d = describe(&s, "hc", &t);
        if d["healthStatus"] != "UNKNOWN" || Instant::now() > deadline {
            break d;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(d["healthStatus"], "HEALTHY", "{d}");
    assert_eq!(d["containers"][0]["healthStatus"], "HEALTHY", "{d}");
    assert_eq!(d["lastStatus"], "RUNNING", "{d}");

    def("bad", "sleep 1000", "test -f /tmp/never");
    json(&s.aws(&[
        "ecs",
        "create-service",
        "--cluster",
        "hc",
        "--service-name",
        "bad",
        "--task-definition",
        "bad",
        "--desired-count",
        "1",
        "--launch-type",
        "FARGATE",
        "--network-configuration",
        &task_net(&s),
        "--deployment-configuration",
        "deploymentCircuitBreaker={enable=true,rollback=false}",
    ]));
    let done = failed_by_circuit_breaker(&s, "hc", "bad");
    assert!(
        done["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["message"]
                .as_str()
                .unwrap()
                .ends_with("failed container health checks.")),
        "{done}"
    );
    let stopped = json(&s.aws(&[
        "ecs",
        "list-tasks",
        "--cluster",
        "hc",
        "--service-name",
        "bad",
        "--desired-status",
        "STOPPED",
    ]));
    let first = stopped["taskArns"][0].as_str().unwrap();
    let d = describe(&s, "hc", first);
    assert_eq!(d["stopCode"], "ServiceSchedulerInitiated", "{d}");
    assert_eq!(
        d["stoppedReason"], "Task failed container health checks",
        "{d}"
    );
    // The standalone task's health is its own: still HEALTHY and running.
    assert_eq!(describe(&s, "hc", &t)["healthStatus"], "HEALTHY");
}

/// The circuit breaker with rollback: a deployment whose tasks cannot start (an image that is
/// not there) fails, and the service returns to its last completed deployment's task
/// definition in a new deployment, which completes; the running task never goes away first.
#[test]
fn a_failed_deployment_rolls_back_to_the_last_completed_one() {
    if !require_root("a_failed_deployment_rolls_back_to_the_last_completed_one") {
        return;
    }
    let s = Server::start();
    load_busybox(&s);
    json(&s.aws(&["ecs", "create-cluster", "--cluster-name", "rb"]));
    register(&s, "api", "sleep 1000", &[]);
    let created = json(&s.aws(&[
        "ecs",
        "create-service",
        "--cluster",
        "rb",
        "--service-name",
        "api",
        "--task-definition",
        "api",
        "--desired-count",
        "1",
        "--launch-type",
        "FARGATE",
        "--network-configuration",
        &task_net(&s),
        "--deployment-configuration",
        "deploymentCircuitBreaker={enable=true,rollback=true},minimumHealthyPercent=100,maximumPercent=200",
    ]));
    let good = created["service"]["deployments"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let good_td = created["service"]["taskDefinition"]
        .as_str()
        .unwrap()
        .to_owned();
    watch(&s, "rb", "api", stable, |_, _| {});
    register_fargate(
        &s,
        "api",
        r#"[{"name":"app","image":"example.invalid/ghost:1"}]"#,
        &[],
    );
    let updated = json(&s.aws(&[
        "ecs",
        "update-service",
        "--cluster",
        "rb",
        "--service",
        "api",
        "--task-definition",
        "api:2",
    ]));
    let bad = updated["service"]["deployments"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let done = watch(
        &s,
        "rb",
        "api",
        |svc| {
            stable(svc)
                && svc["deployments"][0]["id"] != bad.as_str()
                && svc["deployments"][0]["rolloutState"] == "COMPLETED"
        },
        |svc, running| {
            // minimumHealthyPercent 100 of 1: the good task stays until its replacement runs.
            assert!(!running.is_empty(), "{svc}");
        },
    );
    let d = &done["deployments"][0];
    assert_eq!(done["taskDefinition"], good_td.as_str(), "{done}");
    assert_eq!(d["taskDefinition"], good_td.as_str(), "{done}");
    assert_ne!(d["id"], good.as_str());
    let messages: Vec<&str> = done["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert!(
        messages.contains(
            &format!("(service api) (deployment {bad}) deployment failed: tasks failed to start.")
                .as_str()
        ),
        "{messages:?}"
    );
    assert!(
        messages.contains(&format!("(service api) rolling back to deployment {good}.").as_str()),
        "{messages:?}"
    );
    // The failed deployment launched no more than the breaker allows before it tripped.
    let stopped = json(&s.aws(&[
        "ecs",
        "list-tasks",
        "--cluster",
        "rb",
        "--desired-status",
        "STOPPED",
    ]));
    assert!(
        stopped["taskArns"].as_array().unwrap().len() <= 5,
        "{stopped}"
    );
}

/// The announcement's redeployment: a 2-task service with minimumHealthyPercent 50 moves to
/// the cluster's new key with force-new-deployment, never dropping below one running task;
/// a killed task is replaced; with the key disabled a new deployment fails (circuit breaker)
/// while the running tasks keep running; deleting the service stops its tasks.
#[test]
fn a_service_redeploys_onto_a_new_key_within_its_bounds() {
    if !require_root("a_service_redeploys_onto_a_new_key_within_its_bounds") {
        return;
    }
    let mut s = Server::start();
    load_busybox(&s);
    let key1 = fargate_key(&s, "prod");
    let key2 = fargate_key(&s, "prod");
    json(&s.aws(&[
        "ecs",
        "create-cluster",
        "--cluster-name",
        "prod",
        "--configuration",
        &format!(
            r#"{{"managedStorageConfiguration":{{"fargateEphemeralStorageKmsKeyId":"{key1}"}}}}"#
        ),
    ]));
    register(&s, "web", "sleep 1000", &[]);
    let created = json(&s.aws(&[
        "ecs",
        "create-service",
        "--cluster",
        "prod",
        "--service-name",
        "web",
        "--task-definition",
        "web",
        "--desired-count",
        "2",
        "--launch-type",
        "FARGATE",
        "--network-configuration",
        &task_net(&s),
        "--deployment-configuration",
        "minimumHealthyPercent=50,maximumPercent=200",
    ]));
    assert_eq!(
        created["service"]["deployments"][0]["fargateEphemeralStorage"]["kmsKeyId"],
        key1.as_str()
    );
    watch(&s, "prod", "web", stable, |_, _| {});
    json(&s.aws(&[
        "ecs",
        "wait",
        "services-stable",
        "--cluster",
        "prod",
        "--services",
        "web",
    ]));
    assert_eq!(
        running_keys(&s, "prod", "web"),
        vec![key1.clone(), key1.clone()]
    );

    // A task killed behind the service's back is replaced.
    let l = json(&s.aws(&[
        "ecs",
        "list-tasks",
        "--cluster",
        "prod",
        "--service-name",
        "web",
    ]));
    let victim = l["taskArns"][0].as_str().unwrap().to_owned();
    json(&s.aws(&["ecs", "stop-task", "--cluster", "prod", "--task", &victim]));
    watch(
        &s,
        "prod",
        "web",
        |svc| {
            stable(svc)
                && svc["events"][0]["message"]
                    .as_str()
                    .unwrap_or("")
                    .contains("steady state")
                && svc["events"].as_array().unwrap().iter().any(|e| {
                    e["message"]
                        .as_str()
                        .unwrap_or("")
                        .contains("has started 1 tasks")
                })
        },
        |_, _| {},
    );

    // The cluster moves to the second key; the service's tasks keep the first until a new
    // deployment, which never leaves fewer than one task running.
    json(&s.aws(&[
        "ecs",
        "update-cluster",
        "--cluster",
        "prod",
        "--configuration",
        &format!(
            r#"{{"managedStorageConfiguration":{{"fargateEphemeralStorageKmsKeyId":"{key2}"}}}}"#
        ),
    ]));
    assert_eq!(
        running_keys(&s, "prod", "web"),
        vec![key1.clone(), key1.clone()]
    );
    let u = json(&s.aws(&[
        "ecs",
        "update-service",
        "--cluster",
        "prod",
        "--service",
        "web",
        "--force-new-deployment",
    ]));
    assert_eq!(u["service"]["deployments"].as_array().unwrap().len(), 2);
    assert_eq!(u["service"]["deployments"][0]["status"], "PRIMARY");
    assert_eq!(
        u["service"]["deployments"][0]["fargateEphemeralStorage"]["kmsKeyId"],
        key2.as_str()
    );
    let done = watch(
        &s,
        "prod",
        "web",
        |svc| stable(svc) && svc["deployments"][0]["rolloutState"] == "COMPLETED",
        |_, keys| {
            assert!(
                !keys.is_empty(),
                "no task was running during the deployment"
            )
        },
    );
    assert_eq!(
        done["deployments"][0]["fargateEphemeralStorage"]["kmsKeyId"],
        key2.as_str()
    );
    assert_eq!(
        running_keys(&s, "prod", "web"),
        vec![key2.clone(), key2.clone()]
    );

    // The key is disabled: a new deployment's tasks fail to start, the circuit breaker fails
    // it, and the running tasks (on the same key) keep running.
    json(&s.aws(&["kms", "disable-key", "--key-id", &key2]));
    json(&s.aws(&[
        "ecs", "update-service", "--cluster", "prod", "--service", "web", "--force-new-deployment",
        "--deployment-configuration", "minimumHealthyPercent=100,maximumPercent=200,deploymentCircuitBreaker={enable=true,rollback=false}",
    ]));
    failed_by_circuit_breaker(&s, "prod", "web");
    assert_eq!(
        running_keys(&s, "prod", "web"),
        vec![key2.clone(), key2.clone()]
    );
    let stopped = json(&s.aws(&[
        "ecs",
        "list-tasks",
        "--cluster",
        "prod",
        "--service-name",
        "web",
        "--desired-status",
        "STOPPED",
    ]));
    let mut args = vec!["ecs", "describe-tasks", "--cluster", "prod", "--tasks"];
    let arns: Vec<String> = stopped["taskArns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect();
    args.extend(arns.iter().map(String::as_str));
    let d = json(&s.aws(&args));
    assert!(d["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["stopCode"] == "TaskFailedToStart"
            && t["stoppedReason"]
                .as_str()
                .unwrap()
                .contains("DisabledException")));

    // Deleting the service: refused while scaled up, then drains and stops its tasks.
    fails_with(
        &s.aws(&[
            "ecs",
            "delete-service",
            "--cluster",
            "prod",
            "--service",
            "web",
        ]),
        "InvalidParameterException",
    );
    fails_with(
        &s.aws(&["ecs", "delete-cluster", "--cluster", "prod"]),
        "ClusterContainsServicesException",
    );
    let del = json(&s.aws(&[
        "ecs",
        "delete-service",
        "--cluster",
        "prod",
        "--service",
        "web",
        "--force",
    ]));
    assert_eq!(del["service"]["status"], "DRAINING");
    watch(
        &s,
        "prod",
        "web",
        |svc| svc["status"] == "INACTIVE",
        |_, _| {},
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while !running_keys(&s, "prod", "web").is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(running_keys(&s, "prod", "web").is_empty());
    let l = json(&s.aws(&["ecs", "list-services", "--cluster", "prod"]));
    assert_eq!(l["serviceArns"], serde_json::json!([]));
    s.stop();
}

/// A crash in the middle of a deployment: after the restart the service comes back to its
/// desired count on the new deployment's key, and the old deployment is gone.
#[test]
fn a_deployment_interrupted_by_a_crash_completes_after_restart() {
    if !require_root("a_deployment_interrupted_by_a_crash_completes_after_restart") {
        return;
    }
    let mut s = Server::start();
    load_busybox(&s);
    let key1 = fargate_key(&s, "default");
    let key2 = fargate_key(&s, "default");
    json(&s.aws(&[
        "ecs",
        "create-cluster",
        "--configuration",
        &format!(
            r#"{{"managedStorageConfiguration":{{"fargateEphemeralStorageKmsKeyId":"{key1}"}}}}"#
        ),
    ]));
    register(&s, "web", "sleep 1000", &[]);
    json(&s.aws(&[
        "ecs",
        "create-service",
        "--service-name",
        "web",
        "--task-definition",
        "web",
        "--desired-count",
        "2",
        "--network-configuration",
        &task_net(&s),
        "--deployment-configuration",
        "minimumHealthyPercent=50,maximumPercent=200",
    ]));
    watch(&s, "default", "web", stable, |_, _| {});
    json(&s.aws(&[
        "ecs",
        "update-cluster",
        "--cluster",
        "default",
        "--configuration",
        &format!(
            r#"{{"managedStorageConfiguration":{{"fargateEphemeralStorageKmsKeyId":"{key2}"}}}}"#
        ),
    ]));
    json(&s.aws(&[
        "ecs",
        "update-service",
        "--service",
        "web",
        "--force-new-deployment",
    ]));
    s.kill9();
    let mut s = s.restart();
    let svc = watch(
        &s,
        "default",
        "web",
        |svc| {
            stable(svc)
                && svc["deployments"][0]["fargateEphemeralStorage"]["kmsKeyId"] == key2.as_str()
        },
        |_, _| {},
    );
    assert_eq!(svc["deployments"].as_array().unwrap().len(), 1);
    assert_eq!(
        running_keys(&s, "default", "web"),
        vec![key2.clone(), key2.clone()]
    );
    json(&s.aws(&[
        "ecs",
        "update-service",
        "--service",
        "web",
        "--desired-count",
        "0",
    ]));
    watch(
        &s,
        "default",
        "web",
        |svc| svc["runningCount"] == 0 && svc["pendingCount"] == 0,
        |_, _| {},
    );
    s.stop();
}

/// Fargate's key flow is Fargate's own call as its service principal, not a call made on
/// anyone's behalf (issue 11): `aws:ViaAWSService` is present and false and there is no
/// `aws:CalledVia`. A key policy whose Fargate statements require exactly that lets tasks
/// start; one that requires `aws:ViaAWSService` true stops them before anything is made.
#[test]
fn fargate_calls_kms_as_itself_not_via_a_caller() {
    if !require_root("fargate_calls_kms_as_itself_not_via_a_caller") {
        return;
    }
    let s = Server::start();
    load_busybox(&s);
    let key = |via: &str| {
        let policy = fargate_key_policy("direct")
            .replace("\"StringEquals\"", &format!("\"Bool\":{{\"aws:ViaAWSService\":\"{via}\"}},\"Null\":{{\"aws:CalledVia\":\"true\"}},\"StringEquals\""));
        let k = json(&s.aws(&["kms", "create-key", "--policy", &policy]));
        k["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned()
    };
    let (direct, via) = (key("false"), key("true"));
    register(&s, "sleeper", "sleep 1000", &[]);
    for (cluster, key) in [("direct", &direct), ("via", &via)] {
        json(&s.aws(&[
            "ecs",
            "create-cluster",
            "--cluster-name",
            cluster,
            "--configuration",
            &format!(
                r#"{{"managedStorageConfiguration":{{"fargateEphemeralStorageKmsKeyId":"{key}"}}}}"#
            ),
        ]));
    }
    let t = run_task(&s, "direct", "sleeper", &[]);
    let running = wait_for(&s, "direct", &t, "RUNNING");
    assert_eq!(running["lastStatus"], "RUNNING", "{running}");
    json(&s.aws(&["ecs", "stop-task", "--cluster", "direct", "--task", &t]));

    let t = run_task(&s, "via", "sleeper", &[]);
    let stopped = wait_for(&s, "via", &t, "STOPPED");
    assert_eq!(stopped["lastStatus"], "STOPPED", "{stopped}");
    let reason = stopped["stoppedReason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("ResourceInitializationError") && reason.contains("AccessDenied"),
        "{stopped}"
    );
}

/// The key policy of [`fargate_key`] for `cluster`, as text.
fn fargate_key_policy(cluster: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[
        {{"Sid":"Enable IAM policies","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::000000000000:root"}},"Action":"kms:*","Resource":"*"}},
        {{"Sid":"Fargate data keys","Effect":"Allow","Principal":{{"Service":"fargate.amazonaws.com"}},
          "Action":["kms:GenerateDataKeyWithoutPlaintext"],
          "Condition":{{"StringEquals":{{"kms:EncryptionContext:aws:ecs:clusterName":["{cluster}","via"]}}}},
          "Resource":"*"}},
        {{"Sid":"Fargate grants","Effect":"Allow","Principal":{{"Service":"fargate.amazonaws.com"}},
          "Action":["kms:CreateGrant"],
          "Condition":{{"StringEquals":{{"kms:EncryptionContext:aws:ecs:clusterName":["{cluster}","via"]}},
                       "ForAllValues:StringEquals":{{"kms:GrantOperations":["Decrypt"]}}}},
          "Resource":"*"}}]}}"#
    )
}
