//! CloudWatch Logs end to end: the `aws` CLI and boto3 against the real server. Groups and
//! streams, PutLogEvents' limits and rejections, GetLogEvents' tokens, FilterLogEvents'
//! patterns, KMS-encrypted groups (the key policy must allow the service principal; a
//! disabled key stops ingestion and reads), IAM on stream and group ARNs, CloudTrail, and a
//! scan of the data directory for log lines in clear.

mod common;

use common::{create_key, fails_with, json, put_user_policy, trail_records, user_with_key, Server};
use serde_json::Value;

fn now_ms() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    i64::try_from(d.as_millis()).unwrap()
}

fn events(list: &[(i64, &str)]) -> String {
    let v: Vec<Value> = list
        .iter()
        .map(|(t, m)| serde_json::json!({"timestamp": t, "message": m}))
        .collect();
    Value::Array(v).to_string()
}

/// PutLogEvents through the CLI, the events in a file (`file://`; a large batch does not
/// fit in an argument list), outside the data directory.
fn put(s: &Server, group: &str, stream: &str, list: &[(i64, &str)]) -> std::process::Output {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), events(list)).unwrap();
    s.aws(&[
        "logs",
        "put-log-events",
        "--log-group-name",
        group,
        "--log-stream-name",
        stream,
        "--log-events",
        &format!("file://{}", file.path().display()),
    ])
}

fn group_and_stream(s: &Server, group: &str, stream: &str, extra: &[&str]) {
    let mut args = vec!["logs", "create-log-group", "--log-group-name", group];
    args.extend_from_slice(extra);
    json(&s.aws(&args));
    json(&s.aws(&[
        "logs",
        "create-log-stream",
        "--log-group-name",
        group,
        "--log-stream-name",
        stream,
    ]));
}

fn messages(v: &Value) -> Vec<String> {
    v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap().to_owned())
        .collect()
}

/// GetLogEvents refused with AWS's KMS refusal.
fn refused_read(s: &Server, group: &str, stream: &str) {
    let out = s.aws(&[
        "logs",
        "get-log-events",
        "--log-group-name",
        group,
        "--log-stream-name",
        stream,
    ]);
    let e = fails_with(&out, "AccessDeniedException");
    assert!(e.contains("is not allowed to be used with Arn"), "{e}");
}

fn get(s: &Server, group: &str, stream: &str, extra: &[&str]) -> Value {
    let mut args = vec![
        "logs",
        "get-log-events",
        "--log-group-name",
        group,
        "--log-stream-name",
        stream,
    ];
    args.extend_from_slice(extra);
    json(&s.aws(&args))
}

#[test]
fn cli_groups_streams_events_and_aws_errors() {
    let s = Server::start();
    group_and_stream(&s, "/ecs/app", "web/app/1", &[]);
    let t = now_ms();
    let lines: Vec<(i64, String)> = (0..5)
        .map(|i| (t + i, format!("line {i} INFO ok")))
        .collect();
    let batch: Vec<(i64, &str)> = lines.iter().map(|(t, l)| (*t, l.as_str())).collect();
    let r = json(&put(&s, "/ecs/app", "web/app/1", &batch));
    assert!(r["nextSequenceToken"].is_string(), "{r}");
    assert!(r.get("rejectedLogEventsInfo").is_none(), "{r}");
    json(&put(
        &s,
        "/ecs/app",
        "web/app/1",
        &[(t + 10, "ERROR disk full"), (t + 11, "WARN slow")],
    ));

    // From the head, in order; the default reads the latest events.
    let head = get(&s, "/ecs/app", "web/app/1", &["--start-from-head"]);
    assert_eq!(messages(&head).len(), 7);
    assert_eq!(messages(&head)[0], "line 0 INFO ok");
    assert_eq!(messages(&head)[6], "WARN slow");
    let e = &head["events"][0];
    assert_eq!(e["timestamp"], t);
    assert!(e["ingestionTime"].as_i64().unwrap() >= t - 60_000, "{e}");
    let last2 = get(&s, "/ecs/app", "web/app/1", &["--limit", "2"]);
    assert_eq!(messages(&last2), ["ERROR disk full", "WARN slow"]);
    // Forward from the end: nothing more, and the same token comes back.
    let fwd = last2["nextForwardToken"].as_str().unwrap().to_owned();
    assert!(fwd.starts_with("f/"), "{fwd}");
    let end = get(&s, "/ecs/app", "web/app/1", &["--next-token", &fwd]);
    assert!(messages(&end).is_empty());
    assert_eq!(end["nextForwardToken"], fwd.as_str());
    // Backward from the page: the two events before it.
    let back = last2["nextBackwardToken"].as_str().unwrap();
    let before = get(
        &s,
        "/ecs/app",
        "web/app/1",
        &["--next-token", back, "--limit", "2"],
    );
    assert_eq!(messages(&before), ["line 3 INFO ok", "line 4 INFO ok"]);
    // Time range: [start, end).
    let range = get(
        &s,
        "/ecs/app",
        "web/app/1",
        &[
            "--start-time",
            &(t + 1).to_string(),
            "--end-time",
            &(t + 3).to_string(),
            "--start-from-head",
        ],
    );
    assert_eq!(messages(&range), ["line 1 INFO ok", "line 2 INFO ok"]);

    let f = json(&s.aws(&[
        "logs",
        "filter-log-events",
        "--log-group-name",
        "/ecs/app",
        "--filter-pattern",
        "?ERROR ?WARN",
    ]));
    assert_eq!(messages(&f), ["ERROR disk full", "WARN slow"]);
    assert_eq!(f["events"][0]["logStreamName"], "web/app/1");
    assert!(f["events"][0]["eventId"].is_string());

    let streams = json(&s.aws(&[
        "logs",
        "describe-log-streams",
        "--log-group-name",
        "/ecs/app",
    ]));
    let st = &streams["logStreams"][0];
    assert_eq!(st["logStreamName"], "web/app/1");
    assert_eq!(st["firstEventTimestamp"], t);
    assert_eq!(st["lastEventTimestamp"], t + 11);
    assert_eq!(
        st["arn"],
        "arn:aws:logs:us-east-1:000000000000:log-group:/ecs/app:log-stream:web/app/1"
    );
    let groups = json(&s.aws(&[
        "logs",
        "describe-log-groups",
        "--log-group-name-prefix",
        "/ecs",
    ]));
    let g = &groups["logGroups"][0];
    assert_eq!(g["logGroupName"], "/ecs/app");
    assert_eq!(
        g["arn"],
        "arn:aws:logs:us-east-1:000000000000:log-group:/ecs/app:*"
    );
    assert!(g["storedBytes"].as_i64().unwrap() > 0, "{g}");
    assert!(g.get("kmsKeyId").is_none(), "{g}");

    // Rejected events: too old (15 days) and too new (3 h ahead) are reported, not stored.
    let r = json(&put(
        &s,
        "/ecs/app",
        "web/app/1",
        &[(t - 15 * 86_400_000, "ancient")],
    ));
    assert_eq!(
        r["rejectedLogEventsInfo"]["tooOldLogEventEndIndex"], 1,
        "{r}"
    );
    let r = json(&put(
        &s,
        "/ecs/app",
        "web/app/1",
        &[(t, "fine"), (t + 3 * 3_600_000, "future")],
    ));
    assert_eq!(
        r["rejectedLogEventsInfo"]["tooNewLogEventStartIndex"], 1,
        "{r}"
    );
    let all = json(&s.aws(&["logs", "filter-log-events", "--log-group-name", "/ecs/app"]));
    let all = messages(&all);
    assert!(
        all.contains(&"fine".to_owned()) && !all.iter().any(|m| m == "ancient" || m == "future")
    );

    // AWS's errors, and nothing changed by them.
    let e = fails_with(
        &s.aws(&["logs", "create-log-group", "--log-group-name", "/ecs/app"]),
        "ResourceAlreadyExistsException",
    );
    assert!(e.contains("The specified log group already exists"), "{e}");
    let e = fails_with(
        &s.aws(&["logs", "create-log-group", "--log-group-name", "bad name"]),
        "InvalidParameterException",
    );
    assert!(
        e.contains("Member must satisfy regular expression pattern"),
        "{e}"
    );
    let e = fails_with(
        &put(&s, "/ecs/none", "x", &[(t, "x")]),
        "ResourceNotFoundException",
    );
    assert!(e.contains("The specified log group does not exist."), "{e}");
    let e = fails_with(
        &put(&s, "/ecs/app", "none", &[(t, "x")]),
        "ResourceNotFoundException",
    );
    assert!(
        e.contains("The specified log stream does not exist."),
        "{e}"
    );
    let e = fails_with(
        &put(&s, "/ecs/app", "web/app/1", &[(t + 1, "b"), (t, "a")]),
        "InvalidParameterException",
    );
    assert!(e.contains("chronological order"), "{e}");
    let e = fails_with(
        &s.aws(&[
            "logs",
            "put-retention-policy",
            "--log-group-name",
            "/ecs/app",
            "--retention-in-days",
            "2",
        ]),
        "InvalidParameterException",
    );
    assert!(
        e.contains("Member must satisfy enum value set: [1, 3, 5, 7, 14"),
        "{e}"
    );
    let e = fails_with(
        &s.aws(&[
            "logs",
            "filter-log-events",
            "--log-group-name",
            "/ecs/app",
            "--filter-pattern",
            "{ $.a > \"x\" }",
        ]),
        "InvalidParameterException",
    );
    assert!(e.contains("Invalid filter pattern"), "{e}");
    let after = json(&s.aws(&["logs", "filter-log-events", "--log-group-name", "/ecs/app"]));
    assert_eq!(
        messages(&after).len(),
        all.len(),
        "a refused request changed the stream"
    );

    // Retention shows, and DeleteLogGroup removes everything.
    json(&s.aws(&[
        "logs",
        "put-retention-policy",
        "--log-group-name",
        "/ecs/app",
        "--retention-in-days",
        "7",
    ]));
    let g = json(&s.aws(&["logs", "describe-log-groups"]));
    assert_eq!(g["logGroups"][0]["retentionInDays"], 7);
    json(&s.aws(&["logs", "delete-log-group", "--log-group-name", "/ecs/app"]));
    fails_with(
        &s.aws(&[
            "logs",
            "get-log-events",
            "--log-group-name",
            "/ecs/app",
            "--log-stream-name",
            "web/app/1",
        ]),
        "ResourceNotFoundException",
    );
    // A group made again under the name is empty.
    group_and_stream(&s, "/ecs/app", "web/app/1", &[]);
    let again = get(&s, "/ecs/app", "web/app/1", &["--start-from-head"]);
    assert!(messages(&again).is_empty(), "{again}");
}

#[test]
fn boto3_operations_paging_and_patterns() {
    let s = Server::start();
    let out = s.python("logs_ops.py", &[]);
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("ok"),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The key policy AWS documents for a log group's key: the account's administration, and
/// the CloudWatch Logs service principal of the region, bound to the group's ARN.
fn logs_key(s: &Server, group: &str) -> String {
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[
        {{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::000000000000:root"}},"Action":"kms:*","Resource":"*"}},
        {{"Effect":"Allow","Principal":{{"Service":"logs.us-east-1.amazonaws.com"}},
          "Action":["kms:Encrypt*","kms:Decrypt*","kms:ReEncrypt*","kms:GenerateDataKey*","kms:Describe*"],
          "Resource":"*",
          "Condition":{{"ArnEquals":{{"kms:EncryptionContext:aws:logs:arn":"arn:aws:logs:us-east-1:000000000000:log-group:{group}"}}}}}}]}}"#
    );
    let k = json(&s.aws(&["kms", "create-key", "--policy", &policy]));
    k["KeyMetadata"]["Arn"].as_str().unwrap().to_owned()
}

#[test]
fn kms_groups_need_the_key_policy_and_a_disabled_key_stops_ingestion() {
    let s = Server::start();
    let t = now_ms();
    // The default key policy does not name the service principal: AWS's refusal, no group.
    let (_, plain_key) = create_key(&s, &[]);
    let e = fails_with(
        &s.aws(&[
            "logs",
            "create-log-group",
            "--log-group-name",
            "sealed",
            "--kms-key-id",
            &plain_key,
        ]),
        "AccessDeniedException",
    );
    assert!(
        e.contains("The specified KMS key does not exist or is not allowed to be used with Arn 'arn:aws:logs:us-east-1:000000000000:log-group:sealed'"),
        "{e}"
    );
    let g = json(&s.aws(&["logs", "describe-log-groups"]));
    assert!(g["logGroups"].as_array().unwrap().is_empty(), "{g}");
    // A key whose policy binds the service principal to another group is refused too.
    let other = logs_key(&s, "other");
    fails_with(
        &s.aws(&[
            "logs",
            "create-log-group",
            "--log-group-name",
            "sealed",
            "--kms-key-id",
            &other,
        ]),
        "AccessDeniedException",
    );

    let key = logs_key(&s, "sealed");
    group_and_stream(&s, "sealed", "s", &["--kms-key-id", &key]);
    let g = json(&s.aws(&[
        "logs",
        "describe-log-groups",
        "--log-group-name-prefix",
        "sealed",
    ]));
    assert_eq!(g["logGroups"][0]["kmsKeyId"], key.as_str());
    json(&put(&s, "sealed", "s", &[(t, "under the customer key")]));
    assert_eq!(
        messages(&get(&s, "sealed", "s", &[])),
        ["under the customer key"]
    );

    // KMS saw CloudWatch Logs' own calls, with the group's encryption context.
    let gen = trail_records(&s, "GenerateDataKeyWithoutPlaintext");
    let rec = gen
        .iter()
        .find(|r| {
            r["userIdentity"]["type"] == "AWSService"
                && r["userIdentity"]["invokedBy"] == "logs.us-east-1.amazonaws.com"
        })
        .unwrap_or_else(|| panic!("no record of CloudWatch Logs' GenerateDataKey: {gen:?}"));
    assert_eq!(
        rec["requestParameters"]["encryptionContext"]["aws:logs:arn"],
        "arn:aws:logs:us-east-1:000000000000:log-group:sealed",
        "{rec}"
    );

    // Disabled: ingestion and reads stop at the next request, with AWS's error.
    json(&s.aws(&["kms", "disable-key", "--key-id", &key]));
    let e = fails_with(
        &put(&s, "sealed", "s", &[(t + 1, "must not be stored")]),
        "AccessDeniedException",
    );
    assert!(e.contains("is not allowed to be used with Arn"), "{e}");
    refused_read(&s, "sealed", "s");
    fails_with(
        &s.aws(&["logs", "filter-log-events", "--log-group-name", "sealed"]),
        "AccessDeniedException",
    );
    json(&s.aws(&["kms", "enable-key", "--key-id", &key]));
    assert_eq!(
        messages(&get(&s, "sealed", "s", &[])),
        ["under the customer key"]
    );

    // Disassociated: new events go under the service-owned key; old ones still need the
    // customer key.
    json(&s.aws(&["logs", "disassociate-kms-key", "--log-group-name", "sealed"]));
    json(&put(&s, "sealed", "s", &[(t + 2, "under the service key")]));
    let g = json(&s.aws(&["logs", "describe-log-groups"]));
    assert!(g["logGroups"][0].get("kmsKeyId").is_none(), "{g}");
    json(&s.aws(&["kms", "disable-key", "--key-id", &key]));
    refused_read(&s, "sealed", "s");
    json(&s.aws(&["kms", "enable-key", "--key-id", &key]));
    assert_eq!(
        messages(&get(&s, "sealed", "s", &["--start-from-head"])),
        ["under the customer key", "under the service key"]
    );
    // AssociateKmsKey checks the key as CreateLogGroup does.
    let e = fails_with(
        &s.aws(&[
            "logs",
            "associate-kms-key",
            "--log-group-name",
            "sealed",
            "--kms-key-id",
            &plain_key,
        ]),
        "AccessDeniedException",
    );
    assert!(e.contains("log-group:sealed"), "{e}");
    json(&s.aws(&[
        "logs",
        "associate-kms-key",
        "--log-group-name",
        "sealed",
        "--kms-key-id",
        &key,
    ]));
}

#[test]
fn iam_authorizes_on_stream_and_group_arns_and_cloudtrail_records_no_message() {
    let s = Server::start();
    let t = now_ms();
    group_and_stream(&s, "/ecs/svc", "allowed", &[]);
    json(&s.aws(&[
        "logs",
        "create-log-stream",
        "--log-group-name",
        "/ecs/svc",
        "--log-stream-name",
        "other",
    ]));
    let (ak, sk) = user_with_key(&s, "writer");
    put_user_policy(
        &s,
        "writer",
        "put-one-stream",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["logs:PutLogEvents","logs:GetLogEvents"],"Resource":"arn:aws:logs:us-east-1:000000000000:log-group:/ecs/svc:log-stream:allowed"}]}"#,
    );
    let as_writer = |args: &[&str]| s.aws_as(&ak, &sk, args);
    json(&as_writer(&[
        "logs",
        "put-log-events",
        "--log-group-name",
        "/ecs/svc",
        "--log-stream-name",
        "allowed",
        "--log-events",
        &events(&[(t, "writer-line-7f3a")]),
    ]));
    let e = fails_with(
        &as_writer(&[
            "logs",
            "put-log-events",
            "--log-group-name",
            "/ecs/svc",
            "--log-stream-name",
            "other",
            "--log-events",
            &events(&[(t, "x")]),
        ]),
        "AccessDeniedException",
    );
    assert!(e.contains("logs:PutLogEvents on resource: arn:aws:logs:us-east-1:000000000000:log-group:/ecs/svc:log-stream:other"), "{e}");
    let e = fails_with(
        &as_writer(&["logs", "filter-log-events", "--log-group-name", "/ecs/svc"]),
        "AccessDeniedException",
    );
    assert!(
        e.contains(
            "on resource: arn:aws:logs:us-east-1:000000000000:log-group:/ecs/svc:log-stream:"
        ),
        "{e}"
    );
    let e = fails_with(
        &as_writer(&["logs", "describe-log-groups"]),
        "AccessDeniedException",
    );
    assert!(
        e.contains("arn:aws:logs:us-east-1:000000000000:log-group::log-stream:"),
        "{e}"
    );

    let recs = trail_records(&s, "PutLogEvents");
    assert!(recs.len() >= 2, "{recs:?}");
    for r in &recs {
        assert_eq!(r["eventSource"], "logs.amazonaws.com");
        let text = r.to_string();
        assert!(
            !text.contains("writer-line-7f3a"),
            "a message reached CloudTrail: {text}"
        );
    }
    let denied = recs
        .iter()
        .find(|r| r["errorCode"] == "AccessDeniedException")
        .unwrap();
    assert_eq!(denied["requestParameters"]["logStreamName"], "other");
    let created = trail_records(&s, "CreateLogGroup");
    assert_eq!(created[0]["requestParameters"]["logGroupName"], "/ecs/svc");

    // Creating a tagged group also needs logs:TagResource.
    put_user_policy(
        &s,
        "writer",
        "create-groups",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"logs:CreateLogGroup","Resource":"*"}]}"#,
    );
    let create = |name: &str, tags: &[&str]| {
        let mut args = vec!["logs", "create-log-group", "--log-group-name", name];
        args.extend_from_slice(tags);
        as_writer(&args)
    };
    let e = fails_with(
        &create("tagged", &["--tags", "team=a"]),
        "AccessDeniedException",
    );
    assert!(e.contains("logs:TagResource"), "{e}");
    json(&create("untagged", &[]));
}

/// Every file under `root`, read whole.
fn files(root: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d).unwrap().map(Result::unwrap) {
            let p = entry.path();
            if p.is_dir() {
                dirs.push(p);
            } else {
                let bytes = std::fs::read(&p).unwrap();
                out.push((p, bytes));
            }
        }
    }
    out
}

#[test]
fn no_log_line_in_clear_anywhere_in_the_data_dir() {
    let s = Server::start();
    let t = now_ms();
    let key = logs_key(&s, "k-group");
    group_and_stream(&s, "k-group", "s", &["--kms-key-id", &key]);
    group_and_stream(&s, "plain-group", "s", &[]);
    // Markers in several shapes; reads (GetLogEvents, FilterLogEvents with a term that is
    // only part of a marker) must not leave them anywhere either.
    let markers = [
        "MARKER-KMS-6d1f0c9a2b",
        "MARKER-SERVICE-4e8a7b3c1d",
        "{\"secret\":\"MARKER-JSON-9a8b7c6d5e\"}",
    ];
    json(&put(
        &s,
        "k-group",
        "s",
        &[(t, markers[0]), (t + 1, markers[2])],
    ));
    json(&put(&s, "plain-group", "s", &[(t, markers[1])]));
    // Many events, so that chunks span several database pages.
    let bulk: Vec<String> = (0..2000)
        .map(|i| format!("bulk {i} MARKER-BULK-{i:05}-c0ffee"))
        .collect();
    let bulk_refs: Vec<(i64, &str)> = bulk.iter().map(|m| (t + 2, m.as_str())).collect();
    json(&put(&s, "plain-group", "s", &bulk_refs));
    assert_eq!(
        messages(&get(&s, "k-group", "s", &["--start-from-head"]))[0],
        markers[0]
    );
    let f = json(&s.aws(&[
        "logs",
        "filter-log-events",
        "--log-group-name",
        "plain-group",
        "--filter-pattern",
        "SERVICE",
    ]));
    assert_eq!(messages(&f), [markers[1]]);
    let f = json(&s.aws(&[
        "logs",
        "filter-log-events",
        "--log-group-name",
        "k-group",
        "--filter-pattern",
        "{ $.secret = \"MARKER-JSON*\" }",
    ]));
    assert_eq!(messages(&f).len(), 1);
    let mut s = s;
    s.stop();
    let mut needles: Vec<(String, Vec<u8>)> = markers
        .iter()
        .map(|m| ((*m).to_owned(), m.as_bytes().to_vec()))
        .collect();
    needles.push(("a bulk marker".into(), b"MARKER-BULK-01234-c0ffee".to_vec()));
    needles.push(("a bulk line".into(), b"bulk 1999 ".to_vec()));
    let all = files(&s.data_dir());
    assert!(all.len() >= 2, "only {} files", all.len());
    for (path, bytes) in &all {
        for (what, needle) in &needles {
            assert!(
                memchr_like(bytes, needle).is_none(),
                "{what} is in clear in {}",
                path.display()
            );
        }
    }
    let printed = s.output();
    for m in markers {
        assert!(!printed.contains(m), "the server printed a log line");
    }
}

fn memchr_like(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
