//! Authorization as each operation defines it (issue 11), end to end with the `aws` CLI:
//! every resource an alias operation touches, tagging on creation, the stored resource's
//! tags, the keys AWS sets on every request (`aws:ViaAWSService`, `aws:CalledVia*`) and the
//! KMS keys whose value is a default (`kms:EncryptionAlgorithm`) or a spelling
//! (`kms:RequestAlias`), IAM user and role tags as `aws:PrincipalTag/*`, and the error shape
//! of malformed requests.

mod common;

use common::{
    allow, allowed_user, create_key, fails_with, json, storage_conf, trail_records, user_with_key,
    Server,
};

const ACCOUNT: &str = "000000000000";

/// A key with the default key policy (the account decides through IAM), as its ARN.
fn key(s: &Server, extra: &[&str]) -> String {
    create_key(s, extra).1
}

fn alias_arn(name: &str) -> String {
    format!("arn:aws:kms:us-east-1:{ACCOUNT}:{name}")
}

#[test]
fn alias_operations_need_the_alias_and_every_key_they_touch() {
    let s = Server::start();
    let (k, sk) = user_with_key(&s, "aliaser");
    let (a, b) = (key(&s, &[]), key(&s, &[]));
    // Permission on the keys alone, as the old implementation accepted.
    allow(
        &s,
        "aliaser",
        &format!(
            r#"{{"Effect":"Allow","Action":["kms:CreateAlias","kms:UpdateAlias","kms:DeleteAlias"],"Resource":["{a}","{b}"]}}"#
        ),
    );
    let as_user = |args: &[&str]| s.aws_as(&k, &sk, args);
    let e = fails_with(
        &as_user(&[
            "kms",
            "create-alias",
            "--alias-name",
            "alias/app",
            "--target-key-id",
            &a,
        ]),
        "AccessDeniedException",
    );
    assert!(e.contains(&alias_arn("alias/app")), "{e}");

    // The alias too: now it may be created.
    allow(
        &s,
        "aliaser",
        &format!(
            r#"{{"Effect":"Allow","Action":["kms:CreateAlias","kms:UpdateAlias","kms:DeleteAlias"],"Resource":["{a}","{b}","{}"]}}"#,
            alias_arn("alias/app")
        ),
    );
    json(&as_user(&[
        "kms",
        "create-alias",
        "--alias-name",
        "alias/app",
        "--target-key-id",
        &a,
    ]));

    // UpdateAlias needs the key the alias names now as well as the new one.
    allow(
        &s,
        "aliaser",
        &format!(
            r#"{{"Effect":"Allow","Action":["kms:UpdateAlias","kms:DeleteAlias"],"Resource":["{b}","{}"]}}"#,
            alias_arn("alias/app")
        ),
    );
    let e = fails_with(
        &as_user(&[
            "kms",
            "update-alias",
            "--alias-name",
            "alias/app",
            "--target-key-id",
            &b,
        ]),
        "AccessDeniedException",
    );
    assert!(e.contains(&a), "the old key is named: {e}");
    // DeleteAlias needs the alias's key.
    let e = fails_with(
        &as_user(&["kms", "delete-alias", "--alias-name", "alias/app"]),
        "AccessDeniedException",
    );
    assert!(e.contains(&a), "{e}");

    allow(
        &s,
        "aliaser",
        &format!(
            r#"{{"Effect":"Allow","Action":["kms:UpdateAlias","kms:DeleteAlias"],"Resource":["{a}","{b}","{}"]}}"#,
            alias_arn("alias/app")
        ),
    );
    json(&as_user(&[
        "kms",
        "update-alias",
        "--alias-name",
        "alias/app",
        "--target-key-id",
        &b,
    ]));
    json(&as_user(&[
        "kms",
        "delete-alias",
        "--alias-name",
        "alias/app",
    ]));
    let aliases = json(&s.aws(&["kms", "list-aliases"]));
    assert_eq!(aliases["Aliases"], serde_json::json!([]), "{aliases}");
}

#[test]
fn a_deny_on_alias_names_stops_creating_such_an_alias() {
    let s = Server::start();
    let (k, sk) = user_with_key(&s, "dev");
    let key = key(&s, &[]);
    allow(
        &s,
        "dev",
        r#"{"Effect":"Allow","Action":"kms:*","Resource":"*"},
           {"Effect":"Deny","Action":["kms:CreateAlias","kms:UpdateAlias","kms:DeleteAlias"],"Resource":"arn:aws:kms:*:*:alias/Restricted*"}"#,
    );
    let e = fails_with(
        &s.aws_as(
            &k,
            &sk,
            &[
                "kms",
                "create-alias",
                "--alias-name",
                "alias/RestrictedKey",
                "--target-key-id",
                &key,
            ],
        ),
        "AccessDeniedException",
    );
    assert!(e.contains("explicit deny"), "{e}");
    json(&s.aws_as(
        &k,
        &sk,
        &[
            "kms",
            "create-alias",
            "--alias-name",
            "alias/OpenKey",
            "--target-key-id",
            &key,
        ],
    ));
}

#[test]
fn create_key_with_tags_needs_tag_resource() {
    let s = Server::start();
    let (k, sk) = allowed_user(
        &s,
        "creator",
        r#"{"Effect":"Allow","Action":"kms:CreateKey","Resource":"*"}"#,
    );
    json(&s.aws_as(&k, &sk, &["kms", "create-key"]));
    let e = fails_with(
        &s.aws_as(
            &k,
            &sk,
            &["kms", "create-key", "--tags", "TagKey=team,TagValue=blue"],
        ),
        "AccessDeniedException",
    );
    assert!(e.contains("kms:TagResource"), "{e}");
    // Tagging allowed only with the tags a policy names (aws:RequestTag works on both).
    allow(
        &s,
        "creator",
        r#"{"Effect":"Allow","Action":["kms:CreateKey","kms:TagResource"],"Resource":"*",
            "Condition":{"StringEquals":{"aws:RequestTag/team":"blue"}}}"#,
    );
    json(&s.aws_as(
        &k,
        &sk,
        &["kms", "create-key", "--tags", "TagKey=team,TagValue=blue"],
    ));
    fails_with(
        &s.aws_as(
            &k,
            &sk,
            &["kms", "create-key", "--tags", "TagKey=team,TagValue=red"],
        ),
        "AccessDeniedException",
    );
}

#[test]
fn key_tags_are_resource_tags() {
    let s = Server::start();
    let (k, sk) = user_with_key(&s, "blue");
    let blue = key(&s, &["--tags", "TagKey=team,TagValue=blue"]);
    let red = key(&s, &["--tags", "TagKey=team,TagValue=red"]);
    allow(
        &s,
        "blue",
        r#"{"Effect":"Allow","Action":"kms:DescribeKey","Resource":"*",
            "Condition":{"StringEquals":{"aws:ResourceTag/team":"blue"}}}"#,
    );
    json(&s.aws_as(&k, &sk, &["kms", "describe-key", "--key-id", &blue]));
    fails_with(
        &s.aws_as(&k, &sk, &["kms", "describe-key", "--key-id", &red]),
        "AccessDeniedException",
    );
}

#[test]
fn encryption_algorithm_and_request_alias_are_condition_keys() {
    let s = Server::start();
    let (k, sk) = user_with_key(&s, "app");
    let key = key(&s, &[]);
    json(&s.aws(&[
        "kms",
        "create-alias",
        "--alias-name",
        "alias/finance",
        "--target-key-id",
        &key,
    ]));
    // kms:EncryptionAlgorithm is SYMMETRIC_DEFAULT when the request leaves it out.
    allow(
        &s,
        "app",
        r#"{"Effect":"Allow","Action":"kms:Encrypt","Resource":"*",
            "Condition":{"StringEquals":{"kms:EncryptionAlgorithm":"SYMMETRIC_DEFAULT"}}}"#,
    );
    json(&s.aws_as(
        &k,
        &sk,
        &["kms", "encrypt", "--key-id", &key, "--plaintext", "aGk="],
    ));
    // kms:RequestAlias is the alias the request names the key by.
    allow(
        &s,
        "app",
        r#"{"Effect":"Allow","Action":"kms:Encrypt","Resource":"*",
            "Condition":{"StringEquals":{"kms:RequestAlias":"alias/finance"}}}"#,
    );
    json(&s.aws_as(
        &k,
        &sk,
        &[
            "kms",
            "encrypt",
            "--key-id",
            "alias/finance",
            "--plaintext",
            "aGk=",
        ],
    ));
    fails_with(
        &s.aws_as(
            &k,
            &sk,
            &["kms", "encrypt", "--key-id", &key, "--plaintext", "aGk="],
        ),
        "AccessDeniedException",
    );
}

#[test]
fn via_aws_service_and_called_via_follow_forward_access_sessions() {
    let s = Server::start();
    let (k, sk) = user_with_key(&s, "ops");
    let key = key(&s, &[]);
    // DescribeKey only when ECS asks on the user's behalf.
    allow(
        &s,
        "ops",
        r#"{"Effect":"Allow","Action":"ecs:*","Resource":"*"},
           {"Effect":"Allow","Action":"kms:DescribeKey","Resource":"*",
            "Condition":{"Bool":{"aws:ViaAWSService":"true"},
                         "StringEquals":{"aws:CalledViaFirst":"ecs.amazonaws.com","aws:CalledViaLast":"ecs.amazonaws.com"},
                         "ForAnyValue:StringEquals":{"aws:CalledVia":"ecs.amazonaws.com"}}}"#,
    );
    fails_with(
        &s.aws_as(&k, &sk, &["kms", "describe-key", "--key-id", &key]),
        "AccessDeniedException",
    );
    json(&s.aws_as(
        &k,
        &sk,
        &[
            "ecs",
            "create-cluster",
            "--cluster-name",
            "c",
            "--configuration",
            &storage_conf(&key),
        ],
    ));
    // And the reverse: direct calls carry aws:ViaAWSService false (the key is always set).
    allow(
        &s,
        "ops",
        r#"{"Effect":"Allow","Action":"ecs:*","Resource":"*"},
           {"Effect":"Allow","Action":"kms:DescribeKey","Resource":"*",
            "Condition":{"Bool":{"aws:ViaAWSService":"false"}}}"#,
    );
    json(&s.aws_as(&k, &sk, &["kms", "describe-key", "--key-id", &key]));
    let e = fails_with(
        &s.aws_as(
            &k,
            &sk,
            &[
                "ecs",
                "create-cluster",
                "--cluster-name",
                "d",
                "--configuration",
                &storage_conf(&key),
            ],
        ),
        "AccessDeniedException",
    );
    assert!(e.contains("kms:DescribeKey"), "{e}");
}

#[test]
fn user_and_role_tags_are_managed_and_become_principal_tags() {
    let s = Server::start();
    let (k, sk) = user_with_key(&s, "alice");
    json(&s.aws(&["iam", "create-user", "--user-name", "target"]));
    allow(
        &s,
        "alice",
        r#"{"Effect":"Allow","Action":"iam:GetUser","Resource":"*",
            "Condition":{"StringEquals":{"aws:PrincipalTag/team":"blue"}}}"#,
    );
    let get = || s.aws_as(&k, &sk, &["iam", "get-user", "--user-name", "target"]);
    fails_with(&get(), "AccessDenied");
    json(&s.aws(&[
        "iam",
        "tag-user",
        "--user-name",
        "alice",
        "--tags",
        "Key=team,Value=blue",
        "Key=cost,Value=1",
    ]));
    let tags = json(&s.aws(&["iam", "list-user-tags", "--user-name", "alice"]));
    let mut keys: Vec<&str> = tags["Tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["Key"].as_str().unwrap())
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["cost", "team"]);
    json(&get());
    // Keys are case-insensitive: TEAM replaces team.
    json(&s.aws(&[
        "iam",
        "tag-user",
        "--user-name",
        "alice",
        "--tags",
        "Key=TEAM,Value=red",
    ]));
    fails_with(&get(), "AccessDenied");
    json(&s.aws(&[
        "iam",
        "untag-user",
        "--user-name",
        "alice",
        "--tag-keys",
        "team",
        "cost",
    ]));
    let tags = json(&s.aws(&["iam", "list-user-tags", "--user-name", "alice"]));
    assert_eq!(tags["Tags"], serde_json::json!([]), "{tags}");
    fails_with(
        &s.aws(&["iam", "list-user-tags", "--user-name", "nobody"]),
        "NoSuchEntity",
    );

    // Roles: tags, and tagging authorized on the stored role with the request's tags.
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"sts:AssumeRole"}]}"#;
    json(&s.aws(&[
        "iam",
        "create-role",
        "--role-name",
        "worker",
        "--assume-role-policy-document",
        trust,
    ]));
    allow(
        &s,
        "alice",
        r#"{"Effect":"Allow","Action":["iam:TagRole","iam:ListRoleTags","iam:UntagRole"],"Resource":"arn:aws:iam::000000000000:role/worker",
            "Condition":{"ForAllValues:StringEquals":{"aws:TagKeys":["env"]}}}"#,
    );
    json(&s.aws_as(
        &k,
        &sk,
        &[
            "iam",
            "tag-role",
            "--role-name",
            "worker",
            "--tags",
            "Key=env,Value=prod",
        ],
    ));
    fails_with(
        &s.aws_as(
            &k,
            &sk,
            &[
                "iam",
                "tag-role",
                "--role-name",
                "worker",
                "--tags",
                "Key=owner,Value=me",
            ],
        ),
        "AccessDenied",
    );
    let tags = json(&s.aws_as(&k, &sk, &["iam", "list-role-tags", "--role-name", "worker"]));
    assert_eq!(
        tags["Tags"],
        serde_json::json!([{"Key": "env", "Value": "prod"}]),
        "{tags}"
    );
    json(&s.aws_as(
        &k,
        &sk,
        &[
            "iam",
            "untag-role",
            "--role-name",
            "worker",
            "--tag-keys",
            "env",
        ],
    ));
    let role = json(&s.aws(&["iam", "get-role", "--role-name", "worker"]));
    assert!(role["Role"].get("Tags").is_none(), "{role}");

    // The tag operations are recorded.
    let records = trail_records(&s, "TagUser");
    assert_eq!(records.len(), 2, "{records:?}");
    assert_eq!(records[0]["requestParameters"]["userName"], "alice");
}

#[test]
fn creating_a_tagged_user_needs_tag_user() {
    let s = Server::start();
    let (k, sk) = allowed_user(
        &s,
        "admin",
        r#"{"Effect":"Allow","Action":"iam:CreateUser","Resource":"*"}"#,
    );
    json(&s.aws_as(&k, &sk, &["iam", "create-user", "--user-name", "plain"]));
    let e = fails_with(
        &s.aws_as(
            &k,
            &sk,
            &[
                "iam",
                "create-user",
                "--user-name",
                "tagged",
                "--tags",
                "Key=a,Value=b",
            ],
        ),
        "AccessDenied",
    );
    assert!(e.contains("iam:TagUser"), "{e}");
}

#[test]
fn malformed_requests_are_answered_in_their_protocols_shape() {
    let s = Server::start();
    let out = s.python("malformed.py", &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.trim_end().ends_with("ok"),
        "malformed.py failed ({}):\nstdout: {stdout}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}
