//! SSM Parameter Store end to end: the `aws` CLI and boto3 against the real server.
//! Parameters of the three types, versions, labels and selectors, hierarchies, SecureString
//! under the default key and under a customer managed key (`WithDecryption` needs the
//! caller's `kms:Decrypt`), CloudTrail records without SecureString values, and a scan of
//! the data directory for SecureString values in clear.

mod common;

use common::{
    allowed_user, assert_not_in_clear, create_key, fails_with, json, trail_records, Server,
};

fn put(s: &Server, name: &str, value: &str, kind: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "ssm",
        "put-parameter",
        "--name",
        name,
        "--value",
        value,
        "--type",
        kind,
    ];
    args.extend_from_slice(extra);
    json(&s.aws(&args))
}

fn get(s: &Server, name: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["ssm", "get-parameter", "--name", name];
    args.extend_from_slice(extra);
    json(&s.aws(&args))["Parameter"].clone()
}

#[test]
fn cli_parameters_versions_labels_and_paths() {
    let s = Server::start();
    let v = put(
        &s,
        "/app/db/host",
        "db.internal",
        "String",
        &["--description", "host"],
    );
    assert_eq!(v["Version"], 1);
    assert_eq!(v["Tier"], "Standard");
    let p = get(&s, "/app/db/host", &[]);
    assert_eq!(p["Value"], "db.internal");
    assert_eq!(p["Type"], "String");
    assert_eq!(
        p["ARN"],
        "arn:aws:ssm:us-east-1:000000000000:parameter/app/db/host"
    );
    assert_eq!(p["DataType"], "text");
    let e = fails_with(
        &s.aws(&[
            "ssm",
            "put-parameter",
            "--name",
            "/app/db/host",
            "--value",
            "x",
            "--type",
            "String",
        ]),
        "ParameterAlreadyExists",
    );
    assert!(e.contains("set the overwrite option"), "{e}");
    let v = put(
        &s,
        "/app/db/host",
        "db2.internal",
        "String",
        &["--overwrite"],
    );
    assert_eq!(v["Version"], 2);
    assert_eq!(get(&s, "/app/db/host", &[])["Value"], "db2.internal");
    assert_eq!(get(&s, "/app/db/host:1", &[])["Value"], "db.internal");
    assert_eq!(get(&s, "/app/db/host:1", &[])["Selector"], ":1");
    json(&s.aws(&[
        "ssm",
        "label-parameter-version",
        "--name",
        "/app/db/host",
        "--parameter-version",
        "1",
        "--labels",
        "stable",
        "1bad",
    ]))
    .get("InvalidLabels")
    .map(|l| assert_eq!(l, &serde_json::json!(["1bad"])))
    .unwrap();
    assert_eq!(get(&s, "/app/db/host:stable", &[])["Value"], "db.internal");
    fails_with(
        &s.aws(&["ssm", "get-parameter", "--name", "/app/db/host:9"]),
        "ParameterVersionNotFound",
    );
    fails_with(
        &s.aws(&["ssm", "get-parameter", "--name", "/app/nope"]),
        "ParameterNotFound",
    );
    let arn_read = get(
        &s,
        "arn:aws:ssm:us-east-1:000000000000:parameter/app/db/host",
        &[],
    );
    assert_eq!(arn_read["Value"], "db2.internal");

    let h = json(&s.aws(&["ssm", "get-parameter-history", "--name", "/app/db/host"]));
    let versions: Vec<i64> = h["Parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["Version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions, [1, 2]);
    assert_eq!(h["Parameters"][0]["Labels"], serde_json::json!(["stable"]));

    put(&s, "/app/db/port", "5432", "String", &[]);
    put(&s, "/app/api/urls", "a,b", "StringList", &[]);
    put(&s, "/app/top", "t", "String", &[]);
    put(&s, "flat", "f", "String", &[]);
    let names = |v: &serde_json::Value| {
        let mut n: Vec<String> = v["Parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["Name"].as_str().unwrap().to_owned())
            .collect();
        n.sort();
        n
    };
    let one = json(&s.aws(&["ssm", "get-parameters-by-path", "--path", "/app"]));
    assert_eq!(names(&one), ["/app/top"]);
    let all = json(&s.aws(&[
        "ssm",
        "get-parameters-by-path",
        "--path",
        "/app",
        "--recursive",
    ]));
    assert_eq!(
        names(&all),
        ["/app/api/urls", "/app/db/host", "/app/db/port", "/app/top"]
    );
    let lists = json(&s.aws(&[
        "ssm",
        "get-parameters-by-path",
        "--path",
        "/app",
        "--recursive",
        "--parameter-filters",
        "Key=Type,Values=StringList",
    ]));
    assert_eq!(names(&lists), ["/app/api/urls"]);
    let got = json(&s.aws(&[
        "ssm",
        "get-parameters",
        "--names",
        "/app/db/port",
        "/nope",
        "flat",
    ]));
    assert_eq!(names(&got), ["/app/db/port", "flat"]);
    assert_eq!(got["InvalidParameters"], serde_json::json!(["/nope"]));
    let d = json(&s.aws(&[
        "ssm",
        "describe-parameters",
        "--parameter-filters",
        "Key=Name,Option=BeginsWith,Values=/app/db",
    ]));
    assert_eq!(names(&d), ["/app/db/host", "/app/db/port"]);

    let del = json(&s.aws(&["ssm", "delete-parameters", "--names", "/app/top", "/nope"]));
    assert_eq!(del["DeletedParameters"], serde_json::json!(["/app/top"]));
    assert_eq!(del["InvalidParameters"], serde_json::json!(["/nope"]));
    json(&s.aws(&["ssm", "delete-parameter", "--name", "flat"]));
    fails_with(
        &s.aws(&["ssm", "delete-parameter", "--name", "flat"]),
        "ParameterNotFound",
    );

    fails_with(
        &s.aws(&[
            "ssm",
            "put-parameter",
            "--name",
            "/aws/x",
            "--value",
            "v",
            "--type",
            "String",
        ]),
        "ValidationException",
    );
    fails_with(
        &s.aws(&[
            "ssm",
            "put-parameter",
            "--name",
            "/p",
            "--value",
            "abc",
            "--type",
            "String",
            "--allowed-pattern",
            "^[0-9]+$",
        ]),
        "ParameterPatternMismatchException",
    );
    let big = "x".repeat(4097);
    fails_with(
        &s.aws(&[
            "ssm",
            "put-parameter",
            "--name",
            "/big",
            "--value",
            &big,
            "--type",
            "String",
        ]),
        "ValidationException",
    );
    let v = put(&s, "/big", &big, "String", &["--tier", "Advanced"]);
    assert_eq!(v["Tier"], "Advanced");
}

#[test]
fn secure_strings_need_kms_decrypt_and_stay_encrypted() {
    let s = Server::start();
    let (key_id, key_arn) = create_key(&s, &[]);
    let markers = ["SSM-MARKER-default-6c1d", "SSM-MARKER-cmk-93fa"];
    put(&s, "/sec/default", markers[0], "SecureString", &[]);
    put(
        &s,
        "/sec/cmk",
        markers[1],
        "SecureString",
        &["--key-id", &key_id],
    );
    let enc = get(&s, "/sec/default", &[]);
    assert_ne!(
        enc["Value"], markers[0],
        "without decryption the value is the ciphertext"
    );
    assert_eq!(
        get(&s, "/sec/default", &["--with-decryption"])["Value"],
        markers[0]
    );
    assert_eq!(
        get(&s, "/sec/cmk", &["--with-decryption"])["Value"],
        markers[1]
    );
    let d = json(&s.aws(&["ssm", "describe-parameters"]));
    let keys: Vec<&str> = d["Parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["KeyId"].as_str().unwrap())
        .collect();
    assert!(
        keys.contains(&"alias/aws/ssm") && keys.contains(&key_id.as_str()),
        "{keys:?}"
    );

    // KMS saw Parameter Store's context, from the caller.
    let gen = trail_records(&s, "GenerateDataKey");
    let r = gen
        .iter()
        .find(|r| {
            r["requestParameters"]["encryptionContext"]["PARAMETER_ARN"]
                == "arn:aws:ssm:us-east-1:000000000000:parameter/sec/cmk"
        })
        .expect("a GenerateDataKey with PARAMETER_ARN");
    assert_eq!(r["userIdentity"]["invokedBy"], "ssm.amazonaws.com");

    // ssm:GetParameter without kms:Decrypt: the ciphertext, but no decryption.
    let (k, sk) = allowed_user(
        &s,
        "reader",
        r#"{"Effect":"Allow","Action":["ssm:GetParameter","ssm:GetParameters"],"Resource":"*"}"#,
    );
    let out = s.aws_as(&k, &sk, &["ssm", "get-parameter", "--name", "/sec/cmk"]);
    assert_ne!(json(&out)["Parameter"]["Value"], markers[1]);
    let out = s.aws_as(
        &k,
        &sk,
        &[
            "ssm",
            "get-parameter",
            "--name",
            "/sec/cmk",
            "--with-decryption",
        ],
    );
    fails_with(&out, "AccessDeniedException");
    let (k2, sk2) = allowed_user(
        &s,
        "decrypter",
        &format!(
            r#"{{"Effect":"Allow","Action":"ssm:GetParameters","Resource":"*"}},
               {{"Effect":"Allow","Action":"kms:Decrypt","Resource":"{key_arn}",
                 "Condition":{{"StringEquals":{{"kms:ViaService":"ssm.us-east-1.amazonaws.com"}}}}}}"#
        ),
    );
    let got = json(&s.aws_as(
        &k2,
        &sk2,
        &[
            "ssm",
            "get-parameters",
            "--names",
            "/sec/cmk",
            "--with-decryption",
        ],
    ));
    assert_eq!(got["Parameters"][0]["Value"], markers[1]);

    // Nothing recorded or stored in clear.
    for name in ["PutParameter", "GetParameter", "GetParameters"] {
        for r in trail_records(&s, name) {
            let text = r.to_string();
            assert!(
                !text.contains("SSM-MARKER"),
                "{name} recorded a value: {text}"
            );
        }
    }
    let out = s.python("ssm_ops.py", &[]);
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("ok"),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut s = s;
    s.stop();
    let needles: Vec<(&str, &[u8])> = markers.iter().map(|m| (*m, m.as_bytes())).collect();
    assert!(assert_not_in_clear(&s.data_dir(), &needles) >= 2);
    assert!(!s.output().contains("SSM-MARKER"));
}
