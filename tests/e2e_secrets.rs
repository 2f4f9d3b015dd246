//! Secrets Manager end to end: the `aws` CLI and boto3 against the real server. Secrets and
//! their versions (stages moved as AWS moves them), lookups by name, full and partial ARN,
//! scheduled deletion and restore, customer managed keys used with the caller's own KMS
//! permissions (`kms:ViaService`), resource policies obeyed by the policy engine, CloudTrail
//! records without the value, and a scan of the data directory for values in clear.

mod common;

use common::{
    allowed_user, assert_not_in_clear, create_key, fails_with, json, lookup_events, record_of,
    trail_records, Server,
};
use serde_json::Value;

fn create(s: &Server, name: &str, value: &str, extra: &[&str]) -> Value {
    let mut args = vec![
        "secretsmanager",
        "create-secret",
        "--name",
        name,
        "--secret-string",
        value,
    ];
    args.extend_from_slice(extra);
    json(&s.aws(&args))
}

fn get(s: &Server, id: &str, extra: &[&str]) -> Value {
    let mut args = vec!["secretsmanager", "get-secret-value", "--secret-id", id];
    args.extend_from_slice(extra);
    json(&s.aws(&args))
}

fn stages(describe: &Value, version: &str) -> Vec<String> {
    let mut v: Vec<String> = describe["VersionIdsToStages"][version]
        .as_array()
        .map(|a| a.iter().map(|x| x.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn cli_lifecycle_versions_and_lookups() {
    let s = Server::start();
    let made = create(
        &s,
        "prod/db-password",
        "first-value",
        &["--description", "db"],
    );
    let arn = made["ARN"].as_str().unwrap().to_owned();
    let prefix = "arn:aws:secretsmanager:us-east-1:000000000000:secret:prod/db-password-";
    let suffix = arn.strip_prefix(prefix).expect("ARN shape");
    assert_eq!(suffix.len(), 6, "{arn}");
    assert!(suffix.bytes().all(|b| b.is_ascii_alphanumeric()), "{arn}");
    let v1 = made["VersionId"].as_str().unwrap().to_owned();

    // By name, full ARN and partial ARN.
    let partial = &arn[..arn.len() - 7];
    for id in ["prod/db-password", arn.as_str(), partial] {
        let g = get(&s, id, &[]);
        assert_eq!(g["SecretString"], "first-value", "{id}");
        assert_eq!(g["ARN"], arn.as_str());
        assert_eq!(g["VersionStages"], serde_json::json!(["AWSCURRENT"]));
    }
    let wrong_suffix = format!("{prefix}zzzzzz");
    fails_with(
        &s.aws(&[
            "secretsmanager",
            "get-secret-value",
            "--secret-id",
            &wrong_suffix,
        ]),
        "ResourceNotFoundException",
    );
    let e = fails_with(
        &s.aws(&[
            "secretsmanager",
            "create-secret",
            "--name",
            "prod/db-password",
            "--secret-string",
            "x",
        ]),
        "ResourceExistsException",
    );
    assert!(e.contains("already exists"), "{e}");

    // A new value: AWSCURRENT moves, the old version becomes AWSPREVIOUS.
    let put = json(&s.aws(&[
        "secretsmanager",
        "put-secret-value",
        "--secret-id",
        "prod/db-password",
        "--secret-string",
        "second-value",
    ]));
    let v2 = put["VersionId"].as_str().unwrap().to_owned();
    assert_eq!(put["VersionStages"], serde_json::json!(["AWSCURRENT"]));
    let d = json(&s.aws(&["secretsmanager", "describe-secret", "--secret-id", &arn]));
    assert_eq!(stages(&d, &v1), ["AWSPREVIOUS"]);
    assert_eq!(stages(&d, &v2), ["AWSCURRENT"]);
    assert_eq!(d["Description"], "db");
    assert!(
        d.get("KmsKeyId").is_none(),
        "the default key is not shown: {d}"
    );
    assert_eq!(
        get(&s, "prod/db-password", &[])["SecretString"],
        "second-value"
    );
    let prev = get(&s, "prod/db-password", &["--version-stage", "AWSPREVIOUS"]);
    assert_eq!(prev["SecretString"], "first-value");
    assert_eq!(
        get(&s, "prod/db-password", &["--version-id", &v1])["SecretString"],
        "first-value"
    );
    let e = fails_with(
        &s.aws(&[
            "secretsmanager",
            "get-secret-value",
            "--secret-id",
            "prod/db-password",
            "--version-stage",
            "AWSPENDING",
        ]),
        "ResourceNotFoundException",
    );
    assert!(e.contains("staging label: AWSPENDING"), "{e}");

    // A third value: the first version is deprecated (listed only with --include-deprecated).
    json(&s.aws(&[
        "secretsmanager",
        "update-secret",
        "--secret-id",
        "prod/db-password",
        "--secret-string",
        "third-value",
    ]));
    let listed = json(&s.aws(&[
        "secretsmanager",
        "list-secret-version-ids",
        "--secret-id",
        "prod/db-password",
    ]));
    assert_eq!(listed["Versions"].as_array().unwrap().len(), 2);
    let all = json(&s.aws(&[
        "secretsmanager",
        "list-secret-version-ids",
        "--secret-id",
        "prod/db-password",
        "--include-deprecated",
    ]));
    assert_eq!(all["Versions"].as_array().unwrap().len(), 3);

    // Back to the second value by moving AWSCURRENT.
    let d = json(&s.aws(&[
        "secretsmanager",
        "describe-secret",
        "--secret-id",
        "prod/db-password",
    ]));
    let current = d["VersionIdsToStages"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(_, st)| st.as_array().unwrap().iter().any(|x| x == "AWSCURRENT"))
        .map(|(k, _)| k.clone())
        .unwrap();
    let e = fails_with(
        &s.aws(&[
            "secretsmanager",
            "update-secret-version-stage",
            "--secret-id",
            "prod/db-password",
            "--version-stage",
            "AWSCURRENT",
            "--move-to-version-id",
            &v2,
        ]),
        "InvalidParameterException",
    );
    assert!(e.contains("RemoveFromVersionId"), "{e}");
    json(&s.aws(&[
        "secretsmanager",
        "update-secret-version-stage",
        "--secret-id",
        "prod/db-password",
        "--version-stage",
        "AWSCURRENT",
        "--move-to-version-id",
        &v2,
        "--remove-from-version-id",
        &current,
    ]));
    assert_eq!(
        get(&s, "prod/db-password", &[])["SecretString"],
        "second-value"
    );
    assert_eq!(
        get(&s, "prod/db-password", &["--version-stage", "AWSPREVIOUS"])["SecretString"],
        "third-value"
    );

    // Binary values.
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("v.bin");
    std::fs::write(&bin, [0u8, 159, 146, 150, 255]).unwrap();
    json(&s.aws(&[
        "secretsmanager",
        "create-secret",
        "--name",
        "bin",
        "--secret-binary",
        &format!("fileb://{}", bin.display()),
    ]));
    let g = get(&s, "bin", &[]);
    assert_eq!(g["SecretBinary"], "AJ+Slv8=");
    assert!(g.get("SecretString").is_none());

    // Tags and listing.
    json(&s.aws(&[
        "secretsmanager",
        "tag-resource",
        "--secret-id",
        "bin",
        "--tags",
        "Key=team,Value=blue",
        "Key=env,Value=prod",
    ]));
    json(&s.aws(&[
        "secretsmanager",
        "untag-resource",
        "--secret-id",
        "bin",
        "--tag-keys",
        "env",
    ]));
    let d = json(&s.aws(&["secretsmanager", "describe-secret", "--secret-id", "bin"]));
    assert_eq!(
        d["Tags"],
        serde_json::json!([{"Key": "team", "Value": "blue"}])
    );
    let l = json(&s.aws(&[
        "secretsmanager",
        "list-secrets",
        "--filters",
        "Key=tag-value,Values=blue",
    ]));
    let names: Vec<&str> = l["SecretList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["Name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["bin"]);

    // Scheduled deletion: refused reads, restore, forced deletion.
    let e = fails_with(
        &s.aws(&[
            "secretsmanager",
            "delete-secret",
            "--secret-id",
            "bin",
            "--recovery-window-in-days",
            "6",
        ]),
        "InvalidParameterException",
    );
    assert!(e.contains("between 7 and 30"), "{e}");
    let del = json(&s.aws(&[
        "secretsmanager",
        "delete-secret",
        "--secret-id",
        "bin",
        "--recovery-window-in-days",
        "7",
    ]));
    assert!(
        del["DeletionDate"].is_number() || del["DeletionDate"].is_string(),
        "{del}"
    );
    let e = fails_with(
        &s.aws(&["secretsmanager", "get-secret-value", "--secret-id", "bin"]),
        "InvalidRequestException",
    );
    assert!(e.contains("because it was marked for deletion"), "{e}");
    let l = json(&s.aws(&["secretsmanager", "list-secrets"]));
    assert_eq!(l["SecretList"].as_array().unwrap().len(), 1);
    let l = json(&s.aws(&[
        "secretsmanager",
        "list-secrets",
        "--include-planned-deletion",
    ]));
    assert_eq!(l["SecretList"].as_array().unwrap().len(), 2);
    let e = fails_with(
        &s.aws(&[
            "secretsmanager",
            "create-secret",
            "--name",
            "bin",
            "--secret-string",
            "x",
        ]),
        "InvalidRequestException",
    );
    assert!(e.contains("scheduled for deletion"), "{e}");
    json(&s.aws(&["secretsmanager", "restore-secret", "--secret-id", "bin"]));
    assert_eq!(get(&s, "bin", &[])["SecretBinary"], "AJ+Slv8=");
    json(&s.aws(&[
        "secretsmanager",
        "delete-secret",
        "--secret-id",
        "bin",
        "--force-delete-without-recovery",
    ]));
    let e = fails_with(
        &s.aws(&["secretsmanager", "get-secret-value", "--secret-id", "bin"]),
        "ResourceNotFoundException",
    );
    assert!(
        e.contains("Secrets Manager can't find the specified secret."),
        "{e}"
    );
    // The name is free again.
    create(&s, "bin", "again", &[]);
}

#[test]
fn customer_managed_key_needs_the_callers_kms_permission() {
    let s = Server::start();
    let (key_id, key_arn) = create_key(&s, &[]);
    let made = create(&s, "cmk-secret", "cmk-value", &["--kms-key-id", &key_id]);
    let arn = made["ARN"].as_str().unwrap().to_owned();
    let d = json(&s.aws(&[
        "secretsmanager",
        "describe-secret",
        "--secret-id",
        "cmk-secret",
    ]));
    assert_eq!(d["KmsKeyId"], key_id.as_str());

    // KMS was called by Secrets Manager with the caller's credentials and AWS's context.
    let gen = trail_records(&s, "GenerateDataKey");
    let r = gen
        .iter()
        .find(|r| r["requestParameters"]["encryptionContext"]["SecretARN"] == arn.as_str())
        .expect("a GenerateDataKey for the secret");
    assert_eq!(
        r["userIdentity"]["invokedBy"], "secretsmanager.amazonaws.com",
        "{r}"
    );
    assert!(r["requestParameters"]["encryptionContext"]["SecretVersionId"].is_string());

    // Allowed GetSecretValue, denied kms:Decrypt: refused.
    let (k, sk) = allowed_user(
        &s,
        "reader",
        r#"{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"*"},
           {"Effect":"Deny","Action":"kms:Decrypt","Resource":"*"}"#,
    );
    let out = s.aws_as(
        &k,
        &sk,
        &["secretsmanager", "get-secret-value", "--secret-id", &arn],
    );
    let e = fails_with(&out, "AccessDeniedException");
    assert!(e.contains("Access to KMS is not allowed"), "{e}");
    assert!(!e.contains("cmk-value"));

    // Allowed kms:Decrypt only through Secrets Manager: the value comes back.
    let (k2, sk2) = allowed_user(
        &s,
        "via",
        &format!(
            r#"{{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"*"}},
               {{"Effect":"Allow","Action":"kms:Decrypt","Resource":"{key_arn}",
                 "Condition":{{"StringEquals":{{"kms:ViaService":"secretsmanager.us-east-1.amazonaws.com"}}}}}}"#
        ),
    );
    let g = json(&s.aws_as(
        &k2,
        &sk2,
        &[
            "secretsmanager",
            "get-secret-value",
            "--secret-id",
            "cmk-secret",
        ],
    ));
    assert_eq!(g["SecretString"], "cmk-value");
    // …and the same permission does not let the user call KMS directly.
    let blob = trail_records(&s, "Decrypt");
    assert!(blob.iter().any(|r| r["userIdentity"]["userName"] == "via"
        && r["userIdentity"]["invokedBy"] == "secretsmanager.amazonaws.com"));

    // A disabled key stops reads with DecryptionFailure.
    json(&s.aws(&["kms", "disable-key", "--key-id", &key_id]));
    fails_with(
        &s.aws(&[
            "secretsmanager",
            "get-secret-value",
            "--secret-id",
            "cmk-secret",
        ]),
        "DecryptionFailure",
    );
    fails_with(
        &s.aws(&[
            "secretsmanager",
            "put-secret-value",
            "--secret-id",
            "cmk-secret",
            "--secret-string",
            "v2",
        ]),
        "EncryptionFailure",
    );
}

#[test]
fn resource_policy_is_obeyed() {
    let s = Server::start();
    create(&s, "shared", "policy-value", &[]);
    let (k, sk) = allowed_user(
        &s,
        "app",
        r#"{"Effect":"Allow","Action":"secretsmanager:*","Resource":"*"}"#,
    );
    let g = json(&s.aws_as(
        &k,
        &sk,
        &[
            "secretsmanager",
            "get-secret-value",
            "--secret-id",
            "shared",
        ],
    ));
    assert_eq!(g["SecretString"], "policy-value");
    let deny = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::000000000000:user/app"},"Action":"secretsmanager:GetSecretValue","Resource":"*"}]}"#;
    json(&s.aws(&[
        "secretsmanager",
        "put-resource-policy",
        "--secret-id",
        "shared",
        "--resource-policy",
        deny,
    ]));
    let p = json(&s.aws(&[
        "secretsmanager",
        "get-resource-policy",
        "--secret-id",
        "shared",
    ]));
    assert_eq!(p["ResourcePolicy"], deny);
    let out = s.aws_as(
        &k,
        &sk,
        &[
            "secretsmanager",
            "get-secret-value",
            "--secret-id",
            "shared",
        ],
    );
    let e = fails_with(&out, "AccessDeniedException");
    assert!(
        e.contains("explicit deny in a resource-based policy"),
        "{e}"
    );
    // Root is not named by the policy.
    assert_eq!(get(&s, "shared", &[])["SecretString"], "policy-value");
    fails_with(
        &s.aws(&[
            "secretsmanager",
            "put-resource-policy",
            "--secret-id",
            "shared",
            "--resource-policy",
            "{not json",
        ]),
        "MalformedPolicyDocumentException",
    );
    let public = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"secretsmanager:GetSecretValue","Resource":"*"}]}"#;
    fails_with(
        &s.aws(&[
            "secretsmanager",
            "put-resource-policy",
            "--secret-id",
            "shared",
            "--resource-policy",
            public,
            "--block-public-policy",
        ]),
        "PublicPolicyException",
    );
    json(&s.aws(&[
        "secretsmanager",
        "delete-resource-policy",
        "--secret-id",
        "shared",
    ]));
    let g = json(&s.aws_as(
        &k,
        &sk,
        &[
            "secretsmanager",
            "get-secret-value",
            "--secret-id",
            "shared",
        ],
    ));
    assert_eq!(g["SecretString"], "policy-value");
    // IAM's own conditions: a user allowed only secrets tagged team=blue.
    let (k3, sk3) = allowed_user(
        &s,
        "blue",
        r#"{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"*",
            "Condition":{"StringEquals":{"secretsmanager:ResourceTag/team":"blue"}}}"#,
    );
    fails_with(
        &s.aws_as(
            &k3,
            &sk3,
            &[
                "secretsmanager",
                "get-secret-value",
                "--secret-id",
                "shared",
            ],
        ),
        "AccessDeniedException",
    );
    json(&s.aws(&[
        "secretsmanager",
        "tag-resource",
        "--secret-id",
        "shared",
        "--tags",
        "Key=team,Value=blue",
    ]));
    let g = json(&s.aws_as(
        &k3,
        &sk3,
        &[
            "secretsmanager",
            "get-secret-value",
            "--secret-id",
            "shared",
        ],
    ));
    assert_eq!(g["SecretString"], "policy-value");
}

#[test]
fn cloudtrail_records_calls_without_values() {
    let s = Server::start();
    let made = create(
        &s,
        "audited",
        "TRAIL-MARKER-create-5f1e",
        &["--tags", "Key=a,Value=b"],
    );
    json(&s.aws(&[
        "secretsmanager",
        "put-secret-value",
        "--secret-id",
        "audited",
        "--secret-string",
        "TRAIL-MARKER-put-77ab",
    ]));
    get(&s, "audited", &[]);
    let arn = made["ARN"].as_str().unwrap();
    for name in ["CreateSecret", "PutSecretValue", "GetSecretValue"] {
        let recs = trail_records(&s, name);
        assert_eq!(recs.len(), 1, "{name}");
        let r = &recs[0];
        assert_eq!(r["eventSource"], "secretsmanager.amazonaws.com");
        let text = r.to_string();
        assert!(
            !text.contains("TRAIL-MARKER"),
            "{name} recorded a value: {text}"
        );
    }
    let create_rec = &trail_records(&s, "CreateSecret")[0];
    assert_eq!(create_rec["requestParameters"]["name"], "audited");
    assert_eq!(create_rec["responseElements"]["arn"], arn);
    let get_rec = &trail_records(&s, "GetSecretValue")[0];
    assert_eq!(get_rec["requestParameters"]["secretId"], "audited");
    assert!(get_rec["responseElements"].is_null(), "{get_rec}");
    let by_resource = lookup_events(&s, "ResourceName", arn);
    assert!(by_resource.len() >= 3, "{}", by_resource.len());
    assert!(by_resource
        .iter()
        .all(|e| record_of(e)["eventSource"] == "secretsmanager.amazonaws.com"));
}

#[test]
fn no_value_in_clear_anywhere_in_the_data_dir() {
    let s = Server::start();
    let (key_id, _) = create_key(&s, &[]);
    let markers = [
        "CLEAR-MARKER-default-3b9d1c",
        "CLEAR-MARKER-cmk-8e2f4a",
        "{\"password\":\"CLEAR-MARKER-json-71c0\"}",
        "CLEAR-MARKER-update-0d5e",
    ];
    create(&s, "plain", markers[0], &[]);
    create(&s, "cmk", markers[1], &["--kms-key-id", &key_id]);
    json(&s.aws(&[
        "secretsmanager",
        "put-secret-value",
        "--secret-id",
        "plain",
        "--secret-string",
        markers[2],
    ]));
    json(&s.aws(&[
        "secretsmanager",
        "update-secret",
        "--secret-id",
        "cmk",
        "--secret-string",
        markers[3],
    ]));
    for id in ["plain", "cmk"] {
        get(&s, id, &[]);
        get(&s, id, &["--version-stage", "AWSPREVIOUS"]);
    }
    let mut s = s;
    s.stop();
    let needles: Vec<(&str, &[u8])> = markers.iter().map(|m| (*m, m.as_bytes())).collect();
    let n = assert_not_in_clear(&s.data_dir(), &needles);
    assert!(n >= 2, "only {n} files");
    let printed = s.output();
    for m in markers {
        assert!(!printed.contains(m), "the server printed a value");
    }
}

#[test]
fn boto3_operations() {
    let s = Server::start();
    let out = s.python("secrets_ops.py", &[]);
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("ok"),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
