//! The foundation end to end: the real server on a loopback port, driven by the `aws` CLI
//! and boto3 (issue 2's list of tests).

mod common;

use common::{
    fails_with, json, lookup_events, put_user_policy, trail_records, user_with_key, Server,
};
use serde_json::Value;

fn base64_decode(s: &str) -> Vec<u8> {
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import base64,sys; sys.stdout.buffer.write(base64.b64decode(sys.argv[1]))",
            s,
        ])
        .output()
        .expect("python3");
    out.stdout
}

fn raw(s: &Server, key: &str, secret: &str, args: &[&str]) -> Value {
    let out = s.python_as(key, secret, "raw.py", args);
    json(&out)
}

#[test]
fn root_and_users_with_the_cli() {
    let s = Server::start();
    let me = json(&s.aws(&["sts", "get-caller-identity"]));
    assert_eq!(me["Account"], "000000000000");
    assert_eq!(me["Arn"], "arn:aws:iam::000000000000:root");
    assert_eq!(me["UserId"], "000000000000");

    let (key, secret) = user_with_key(&s, "alice");
    assert!(key.starts_with("AKIA") && key.len() == 20, "{key}");
    assert_eq!(secret.len(), 40);

    // The user may ask who it is, and nothing else yet (fail closed until the policy engine).
    let who = json(&s.aws_as(&key, &secret, &["sts", "get-caller-identity"]));
    assert_eq!(who["Arn"], "arn:aws:iam::000000000000:user/alice");
    assert!(who["UserId"].as_str().unwrap().starts_with("AIDA"));
    let err = fails_with(
        &s.aws_as(&key, &secret, &["iam", "list-users"]),
        "AccessDenied",
    );
    assert!(err.contains(
        "User: arn:aws:iam::000000000000:user/alice is not authorized to perform: iam:ListUsers on resource: arn:aws:iam::000000000000:user/ because no identity-based policy allows the iam:ListUsers action"
    ), "{err}");
    fails_with(
        &s.aws_as(
            &key,
            &secret,
            &["iam", "create-user", "--user-name", "mallory"],
        ),
        "AccessDenied",
    );
    fails_with(
        &s.aws_as(&key, &secret, &["cloudtrail", "lookup-events"]),
        "AccessDeniedException",
    );
    // Denied calls changed nothing.
    fails_with(
        &s.aws(&["iam", "get-user", "--user-name", "mallory"]),
        "NoSuchEntity",
    );

    // Inactive keys are refused like unknown ones; reactivated keys work again.
    json(&s.aws(&[
        "iam",
        "update-access-key",
        "--user-name",
        "alice",
        "--access-key-id",
        &key,
        "--status",
        "Inactive",
    ]));
    fails_with(
        &s.aws_as(&key, &secret, &["sts", "get-caller-identity"]),
        "InvalidClientTokenId",
    );
    json(&s.aws(&[
        "iam",
        "update-access-key",
        "--user-name",
        "alice",
        "--access-key-id",
        &key,
        "--status",
        "Active",
    ]));
    json(&s.aws_as(&key, &secret, &["sts", "get-caller-identity"]));

    let keys = json(&s.aws(&["iam", "list-access-keys", "--user-name", "alice"]));
    assert_eq!(keys["AccessKeyMetadata"][0]["AccessKeyId"], key.as_str());
    assert!(keys["AccessKeyMetadata"][0]
        .get("SecretAccessKey")
        .is_none());
}

#[test]
fn signature_refusals() {
    let s = Server::start();
    let (root_key, root_secret) = (s.access_key_id.clone(), s.secret_access_key.clone());
    // Wrong secret.
    let e = fails_with(
        &s.aws_as(
            &root_key,
            "0000000000000000000000000000000000000000",
            &["sts", "get-caller-identity"],
        ),
        "SignatureDoesNotMatch",
    );
    assert!(
        e.contains(
            "The request signature we calculated does not match the signature you provided."
        ),
        "{e}"
    );
    let r = raw(
        &s,
        &root_key,
        "wrong",
        &[
            "cloudtrail",
            "json",
            "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents",
            "{}",
        ],
    );
    assert_eq!(r["status"], 400);
    assert!(
        r["body"]
            .as_str()
            .unwrap()
            .contains("\"__type\":\"InvalidSignatureException\""),
        "{r}"
    );
    // Unknown access key, per protocol.
    fails_with(
        &s.aws_as(
            "AKIAUNKNOWNKEY000000",
            &root_secret,
            &["sts", "get-caller-identity"],
        ),
        "InvalidClientTokenId",
    );
    fails_with(
        &s.aws_as(
            "AKIAUNKNOWNKEY000000",
            &root_secret,
            &["cloudtrail", "lookup-events"],
        ),
        "UnrecognizedClientException",
    );
    // Skewed clock, both ways, per protocol.
    for skew in ["-20", "20"] {
        let r = raw(
            &s,
            &root_key,
            &root_secret,
            &[
                "sts",
                "query",
                "Action=GetCallerIdentity&Version=2011-06-15",
                "--skew-minutes",
                skew,
            ],
        );
        assert_eq!(r["status"], 403, "{r}");
        let body = r["body"].as_str().unwrap();
        assert!(
            body.contains("<Code>SignatureDoesNotMatch</Code>"),
            "{body}"
        );
        assert!(
            body.contains("Signature expired") || body.contains("Signature not yet current"),
            "{body}"
        );
        let r = raw(
            &s,
            &root_key,
            &root_secret,
            &[
                "cloudtrail",
                "json",
                "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents",
                "{}",
                "--skew-minutes",
                skew,
            ],
        );
        assert!(
            r["body"]
                .as_str()
                .unwrap()
                .contains("InvalidSignatureException"),
            "{r}"
        );
    }
    // Within the window is fine.
    let r = raw(
        &s,
        &root_key,
        &root_secret,
        &[
            "sts",
            "query",
            "Action=GetCallerIdentity&Version=2011-06-15",
            "--skew-minutes",
            "10",
        ],
    );
    assert_eq!(r["status"], 200, "{r}");
    // Unsigned.
    let r = raw(
        &s,
        &root_key,
        &root_secret,
        &[
            "sts",
            "query",
            "Action=GetCallerIdentity&Version=2011-06-15",
            "--unsigned",
        ],
    );
    assert_eq!(r["status"], 403);
    assert!(
        r["body"]
            .as_str()
            .unwrap()
            .contains("<Code>MissingAuthenticationToken</Code>"),
        "{r}"
    );
    let r = raw(
        &s,
        &root_key,
        &root_secret,
        &["kms", "json", "TrentService.ListKeys", "{}", "--unsigned"],
    );
    assert!(
        r["body"]
            .as_str()
            .unwrap()
            .contains("MissingAuthenticationTokenException"),
        "{r}"
    );
    // Signed for another service than the one addressed.
    let r = raw(
        &s,
        &root_key,
        &root_secret,
        &[
            "kms",
            "json",
            "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents",
            "{}",
        ],
    );
    assert!(
        r["body"]
            .as_str()
            .unwrap()
            .contains("Credential should be scoped to correct service: 'cloudtrail'"),
        "{r}"
    );
    // Every response carries a request id.
    assert!(
        r["headers"]["x-amzn-requestid"]
            .as_str()
            .is_some_and(|v| v.len() == 36),
        "{r}"
    );
}

#[test]
fn errors_are_aws_shaped_and_change_nothing() {
    let s = Server::start();
    let (k, sk) = (s.access_key_id.clone(), s.secret_access_key.clone());
    let ct = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101";
    // Unknown operation.
    let r = raw(
        &s,
        &k,
        &sk,
        &["cloudtrail", "json", &format!("{ct}.NoSuchOperation"), "{}"],
    );
    assert_eq!(r["status"], 400);
    assert!(
        r["body"]
            .as_str()
            .unwrap()
            .contains("\"__type\":\"UnknownOperationException\""),
        "{r}"
    );
    let r = raw(
        &s,
        &k,
        &sk,
        &["iam", "query", "Action=NoSuchAction&Version=2010-05-08"],
    );
    assert!(
        r["body"]
            .as_str()
            .unwrap()
            .contains("<Code>InvalidAction</Code>"),
        "{r}"
    );
    // Malformed body and wrong types.
    for body in ["{not json", "[1,2]", "{\"MaxResults\":\"ten\"}"] {
        let r = raw(
            &s,
            &k,
            &sk,
            &["cloudtrail", "json", &format!("{ct}.LookupEvents"), body],
        );
        assert_eq!(r["status"], 400, "{body}: {r}");
        assert!(
            r["body"]
                .as_str()
                .unwrap()
                .contains("\"__type\":\"SerializationException\""),
            "{body}: {r}"
        );
    }
    // Over the size cap.
    let r = raw(
        &s,
        &k,
        &sk,
        &[
            "cloudtrail",
            "json",
            &format!("{ct}.LookupEvents"),
            "{}",
            "--pad-bytes",
            "4300000",
        ],
    );
    assert_eq!(r["status"], 413, "{r}");
    assert!(
        r["body"]
            .as_str()
            .unwrap()
            .contains("RequestEntityTooLarge"),
        "{r}"
    );
    // Constraint violations name the member.
    let e = fails_with(
        &s.aws(&["iam", "create-user", "--user-name", "bad name"]),
        "ValidationError",
    );
    assert!(e.contains("Value 'bad name' at 'userName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+"), "{e}");
    let e = fails_with(
        &s.aws(&[
            "iam",
            "list-users",
            "--max-items",
            "5",
            "--page-size",
            "1001",
        ]),
        "ValidationError",
    );
    assert!(e.contains("maxItems"), "{e}");
    // Domain errors with AWS's messages.
    json(&s.aws(&["iam", "create-user", "--user-name", "bob"]));
    let e = fails_with(
        &s.aws(&["iam", "create-user", "--user-name", "BOB"]),
        "EntityAlreadyExists",
    );
    assert!(e.contains("User with name BOB already exists."), "{e}");
    let e = fails_with(
        &s.aws(&["iam", "get-user", "--user-name", "nobody"]),
        "NoSuchEntity",
    );
    assert!(
        e.contains("The user with name nobody cannot be found."),
        "{e}"
    );
    json(&s.aws(&["iam", "create-access-key", "--user-name", "bob"]));
    json(&s.aws(&["iam", "create-access-key", "--user-name", "bob"]));
    let e = fails_with(
        &s.aws(&["iam", "create-access-key", "--user-name", "bob"]),
        "LimitExceeded",
    );
    assert!(
        e.contains("Cannot exceed quota for AccessKeysPerUser: 2"),
        "{e}"
    );
    let e = fails_with(
        &s.aws(&["iam", "delete-user", "--user-name", "bob"]),
        "DeleteConflict",
    );
    assert!(e.contains("must delete access keys first"), "{e}");
    let e = fails_with(
        &s.aws(&[
            "iam",
            "put-user-policy",
            "--user-name",
            "bob",
            "--policy-name",
            "p",
            "--policy-document",
            "{not json",
        ]),
        "MalformedPolicyDocument",
    );
    assert!(e.contains("Syntax errors in policy."), "{e}");
    // The failed calls left bob as he was: two keys, no policies.
    assert_eq!(
        json(&s.aws(&["iam", "list-access-keys", "--user-name", "bob"]))["AccessKeyMetadata"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        json(&s.aws(&["iam", "list-user-policies", "--user-name", "bob"]))["PolicyNames"],
        serde_json::json!([])
    );
    // And every one of them is in the audit log with its error code.
    let codes: Vec<Value> = trail_records(&s, "CreateAccessKey")
        .iter()
        .map(|r| r["errorCode"].clone())
        .collect();
    assert_eq!(
        codes,
        vec![Value::from("LimitExceeded"), Value::Null, Value::Null]
    );
}

#[test]
fn policies_round_trip() {
    let s = Server::start();
    json(&s.aws(&["iam", "create-user", "--user-name", "carol"]));
    let doc = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:GetUser", "Resource": "*"}]}"#;
    put_user_policy(&s, "carol", "read-self", doc);
    let got = json(&s.aws(&[
        "iam",
        "get-user-policy",
        "--user-name",
        "carol",
        "--policy-name",
        "read-self",
    ]));
    // botocore URL-decodes and parses the document: it must come back as it went in.
    assert_eq!(
        got["PolicyDocument"],
        serde_json::from_str::<Value>(doc).unwrap()
    );
    assert_eq!(
        json(&s.aws(&["iam", "list-user-policies", "--user-name", "carol"]))["PolicyNames"],
        serde_json::json!(["read-self"])
    );

    let created = json(&s.aws(&[
        "iam",
        "create-policy",
        "--policy-name",
        "mp",
        "--path",
        "/team/",
        "--policy-document",
        doc,
        "--description",
        "d",
    ]));
    let arn = created["Policy"]["Arn"].as_str().unwrap().to_owned();
    assert_eq!(arn, "arn:aws:iam::000000000000:policy/team/mp");
    assert_eq!(created["Policy"]["DefaultVersionId"], "v1");
    let v = json(&s.aws(&[
        "iam",
        "get-policy-version",
        "--policy-arn",
        &arn,
        "--version-id",
        "v1",
    ]));
    assert_eq!(
        v["PolicyVersion"]["Document"],
        serde_json::from_str::<Value>(doc).unwrap()
    );
    json(&s.aws(&[
        "iam",
        "attach-user-policy",
        "--user-name",
        "carol",
        "--policy-arn",
        &arn,
    ]));
    json(&s.aws(&[
        "iam",
        "attach-user-policy",
        "--user-name",
        "carol",
        "--policy-arn",
        "arn:aws:iam::aws:policy/AdministratorAccess",
    ]));
    let att = json(&s.aws(&["iam", "list-attached-user-policies", "--user-name", "carol"]));
    assert_eq!(att["AttachedPolicies"].as_array().unwrap().len(), 2);
    assert_eq!(
        json(&s.aws(&["iam", "get-policy", "--policy-arn", &arn]))["Policy"]["AttachmentCount"],
        1
    );
    let local = json(&s.aws(&["iam", "list-policies", "--scope", "Local"]));
    assert_eq!(local["Policies"].as_array().unwrap().len(), 1);
    let attached = json(&s.aws(&["iam", "list-policies", "--only-attached"]));
    assert_eq!(attached["Policies"].as_array().unwrap().len(), 2);
    let e = fails_with(
        &s.aws(&["iam", "delete-policy", "--policy-arn", &arn]),
        "DeleteConflict",
    );
    assert!(
        e.contains("Cannot delete a policy attached to entities."),
        "{e}"
    );
    let e = fails_with(
        &s.aws(&["iam", "delete-user", "--user-name", "carol"]),
        "DeleteConflict",
    );
    assert!(e.contains("must delete policies first"), "{e}");
    json(&s.aws(&[
        "iam",
        "delete-user-policy",
        "--user-name",
        "carol",
        "--policy-name",
        "read-self",
    ]));
    fails_with(
        &s.aws(&["iam", "delete-user", "--user-name", "carol"]),
        "DeleteConflict",
    );
    json(&s.aws(&[
        "iam",
        "detach-user-policy",
        "--user-name",
        "carol",
        "--policy-arn",
        &arn,
    ]));
    json(&s.aws(&[
        "iam",
        "detach-user-policy",
        "--user-name",
        "carol",
        "--policy-arn",
        "arn:aws:iam::aws:policy/AdministratorAccess",
    ]));
    json(&s.aws(&["iam", "delete-policy", "--policy-arn", &arn]));
    json(&s.aws(&["iam", "delete-user", "--user-name", "carol"]));
    fails_with(
        &s.aws(&["iam", "get-policy", "--policy-arn", &arn]),
        "NoSuchEntity",
    );
}

#[test]
fn paginates_users_with_marker() {
    let s = Server::start();
    let out = s.python("users.py", &["23"]);
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn lookup_events_with_boto3() {
    let s = Server::start();
    let out = s.python("lookup.py", &[]);
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "ok",
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn state_and_events_survive_restart_and_kill9() {
    let s = Server::start();
    let (key, secret) = user_with_key(&s, "dave");
    let s = s.restart();
    assert_eq!(
        json(&s.aws(&["iam", "get-user", "--user-name", "dave"]))["User"]["UserName"],
        "dave"
    );
    json(&s.aws_as(&key, &secret, &["sts", "get-caller-identity"]));
    let events = lookup_events(&s, "ResourceName", "dave");
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["EventName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["GetUser", "CreateUser"]);
    // A crash right after an acknowledged write loses nothing.
    json(&s.aws(&["iam", "create-user", "--user-name", "erin"]));
    let mut s = s;
    s.kill9();
    let s = s.restart();
    assert_eq!(
        json(&s.aws(&["iam", "get-user", "--user-name", "erin"]))["User"]["UserName"],
        "erin"
    );
}

#[test]
fn secrets_are_never_stored_or_logged_in_clear() {
    // The most verbose log there is, and a plaintext that passes through KMS.
    let s = Server::start_logging("trace");
    let (_, secret) = user_with_key(&s, "frank");
    let key = json(&s.aws(&["kms", "create-key"]));
    let key_id = key["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned();
    let plaintext = "top-secret-plaintext-7f3a9c";
    let b64 = "dG9wLXNlY3JldC1wbGFpbnRleHQtN2YzYTlj"; // base64 of `plaintext`
                                                      // aws CLI v1 takes blobs from files (`fileb://`) and prints them in base64.
    let pt_file = s.dir.path().join("pt");
    std::fs::write(&pt_file, plaintext).unwrap();
    let enc = json(&s.aws(&[
        "kms",
        "encrypt",
        "--key-id",
        &key_id,
        "--plaintext",
        &format!("fileb://{}", pt_file.display()),
    ]));
    let blob = enc["CiphertextBlob"].as_str().unwrap();
    let ct_file = s.dir.path().join("ct");
    std::fs::write(&ct_file, base64_decode(blob)).unwrap();
    let dec = json(&s.aws(&[
        "kms",
        "decrypt",
        "--ciphertext-blob",
        &format!("fileb://{}", ct_file.display()),
    ]));
    assert_eq!(dec["Plaintext"], b64);
    let mut s = s;
    s.stop();
    let printed = s.output();
    assert!(printed.contains("listening on"), "{printed}");
    for needle in [
        secret.as_str(),
        s.secret_access_key.as_str(),
        plaintext,
        b64,
    ] {
        assert!(
            !printed.contains(needle),
            "the server printed a secret ({needle}):\n{printed}"
        );
    }
    let data = s.data_dir();
    for entry in std::fs::read_dir(&data).unwrap() {
        let p = entry.unwrap().path();
        if p.file_name().is_some_and(|n| n == "credentials") {
            continue; // the root user's own credentials file, 0600 by design
        }
        if p.is_dir() {
            continue;
        }
        let bytes = std::fs::read(&p).unwrap();
        for needle in [
            secret.as_bytes(),
            s.secret_access_key.as_bytes(),
            plaintext.as_bytes(),
            b64.as_bytes(),
        ] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "a secret is in clear in {}",
                p.display()
            );
        }
    }
}

#[test]
fn credentials_command_is_evaluable() {
    let s = Server::start();
    let script = format!(
        "eval \"$({} credentials --data-dir {})\" && AWS_MAX_ATTEMPTS=1 AWS_CONFIG_FILE=/dev/null aws sts get-caller-identity --output json",
        env!("CARGO_BIN_EXE_ferrogate"),
        s.data_dir().display()
    );
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(script)
        .output()
        .unwrap();
    assert_eq!(json(&out)["Arn"], "arn:aws:iam::000000000000:root");
}

/// A client that disconnects while its write is in flight must not leave a revoked key in
/// the credentials cache: the write stands, and so must the invalidation that follows it.
/// The client hangs up at different moments; whenever the deletion landed, the key must be
/// refused from then on.
#[test]
fn a_revocation_holds_when_its_client_hangs_up() {
    let s = Server::start();
    let mut landed = 0;
    for (round, after_ms) in [
        "0", "0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.8", "1", "2",
    ]
    .iter()
    .enumerate()
    {
        let name = format!("quitter{round}");
        let (key, secret) = user_with_key(&s, &name);
        // Warm the credentials cache with the key.
        json(&s.aws_as(&key, &secret, &["sts", "get-caller-identity"]));
        let body =
            format!("Action=DeleteAccessKey&Version=2010-05-08&UserName={name}&AccessKeyId={key}");
        raw(
            &s,
            &s.access_key_id,
            &s.secret_access_key,
            &[
                "iam",
                "query",
                &body,
                "--hangup",
                "--hangup-after-ms",
                after_ms,
            ],
        );
        std::thread::sleep(std::time::Duration::from_millis(300));
        let keys = json(&s.aws(&["iam", "list-access-keys", "--user-name", &name]));
        if keys["AccessKeyMetadata"] != serde_json::json!([]) {
            continue; // the server dropped the request before handling it
        }
        landed += 1;
        eprintln!("round {round}: hung up after {after_ms} ms; the deletion landed");
        let out = s.aws_as(&key, &secret, &["sts", "get-caller-identity"]);
        fails_with(&out, "InvalidClientTokenId");
    }
    assert!(landed > 0, "no hung-up deletion was ever handled");
}

/// A lost credentials file is written again from the database (same key, the secret
/// unsealed); a lost root key with its database still present stops the server instead of
/// minting a new key that could never open what the database holds.
#[test]
fn bootstrap_recovers_credentials_and_refuses_a_lost_root_key() {
    let s = Server::start();
    let (key, secret) = (s.access_key_id.clone(), s.secret_access_key.clone());
    let data = s.data_dir();
    let mut s = s;
    s.stop();
    std::fs::remove_file(data.join("credentials")).unwrap();
    let s = s.restart();
    assert_eq!(s.access_key_id, key);
    assert_eq!(s.secret_access_key, secret);
    json(&s.aws(&["sts", "get-caller-identity"]));
    let mut s = s;
    s.stop();

    std::fs::remove_file(data.join("root.key")).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ferrogate"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("root key") && err.contains("restore"), "{err}");
    assert!(
        !data.join("root.key").exists(),
        "a new root key was created"
    );
}

/// One local peer holding 5,000 idle connections does not stall anyone else: a signed
/// request from another address is answered promptly (before the per-peer cap and the
/// first-byte deadline, the flood took every connection slot and the request waited in the
/// kernel's accept queue until the flood's header deadline, 30 s). The bound asserted is
/// loose (10 s, on a shared CI machine); the test prints what it measured.
#[test]
fn a_connection_flood_from_one_peer_does_not_stall_the_api() {
    let srv = Server::start();
    let out = json(&srv.python("flood.py", &["5000", "127.0.0.2"]));
    eprintln!("flood: {out}");
    assert_eq!(out["held"], 5000, "{out}");
    assert_eq!(out["status"], 200, "{out}");
    let secs = out["seconds"].as_f64().unwrap_or(f64::MAX);
    assert!(
        secs < 10.0,
        "the signed request took {secs} s under the flood"
    );
}
