//! ECS end to end with the `aws` CLI (issue 6, first part): clusters with a customer
//! managed key for Fargate ephemeral storage, the `ecs:fargate-ephemeral-storage-kms-key`
//! condition key in identity policies and SCPs, task definitions with Fargate validation,
//! tags, audit and restart.

mod common;

use common::{
    allowed_user, attach_scp, create_key, create_organization, enable_scps, fails_with, json,
    member_account, member_admin, put_user_policy, storage_conf, trail_records, user_with_key,
    Server,
};
use serde_json::Value;

use common::policy_doc as doc;

fn cluster_key(c: &Value) -> Option<&str> {
    c["configuration"]["managedStorageConfiguration"]["fargateEphemeralStorageKmsKeyId"].as_str()
}

#[test]
fn clusters_take_a_customer_managed_key_as_aws_does() {
    let s = Server::start();
    let (key_id, key_arn) = create_key(&s, &[]);
    let (_, key2_arn) = create_key(&s, &[]);

    // The announcement's command: the key given by id comes back as its ARN.
    let created = json(&s.aws(&[
        "ecs",
        "create-cluster",
        "--cluster-name",
        "secure",
        "--configuration",
        &storage_conf(&key_id),
        "--tags",
        "key=team,value=payments",
    ]));
    let cl = &created["cluster"];
    assert_eq!(
        cl["clusterArn"],
        "arn:aws:ecs:us-east-1:000000000000:cluster/secure"
    );
    assert_eq!(cl["status"], "ACTIVE");
    assert_eq!(cluster_key(cl), Some(key_arn.as_str()));
    assert_eq!(cl["tags"][0]["value"], "payments");

    // `configuration` shows with include=CONFIGURATIONS; a missing cluster is a failure.
    let d = json(&s.aws(&[
        "ecs",
        "describe-clusters",
        "--clusters",
        "secure",
        "missing",
        "--include",
        "CONFIGURATIONS",
    ]));
    assert_eq!(cluster_key(&d["clusters"][0]), Some(key_arn.as_str()));
    assert_eq!(d["failures"][0]["reason"], "MISSING");
    assert_eq!(
        d["failures"][0]["arn"],
        "arn:aws:ecs:us-east-1:000000000000:cluster/missing"
    );
    let plain = json(&s.aws(&["ecs", "describe-clusters", "--clusters", "secure"]));
    assert!(plain["clusters"][0].get("configuration").is_none());
    assert!(plain["clusters"][0].get("tags").is_none());

    // Keys ECS does not take: an alias, a key that does not exist, a disabled key; none of
    // them changes the cluster.
    let e = fails_with(
        &s.aws(&[
            "ecs",
            "update-cluster",
            "--cluster",
            "secure",
            "--configuration",
            &storage_conf("alias/aws/ebs"),
        ]),
        "InvalidParameterException",
    );
    assert!(e.contains("Aliases are not supported"), "{e}");
    let e = fails_with(
        &s.aws(&[
            "ecs",
            "update-cluster",
            "--cluster",
            "secure",
            "--configuration",
            &storage_conf("00000000-0000-0000-0000-000000000000"),
        ]),
        "InvalidParameterException",
    );
    assert!(e.contains("NotFoundException"), "{e}");
    json(&s.aws(&["kms", "disable-key", "--key-id", &key2_arn]));
    let e = fails_with(
        &s.aws(&[
            "ecs",
            "update-cluster",
            "--cluster",
            "secure",
            "--configuration",
            &storage_conf(&key2_arn),
        ]),
        "InvalidParameterException",
    );
    assert!(e.contains("must be enabled; its state is Disabled"), "{e}");
    let d = json(&s.aws(&[
        "ecs",
        "describe-clusters",
        "--clusters",
        "secure",
        "--include",
        "CONFIGURATIONS",
    ]));
    assert_eq!(cluster_key(&d["clusters"][0]), Some(key_arn.as_str()));

    // Moving to a second key, by ARN.
    json(&s.aws(&["kms", "enable-key", "--key-id", &key2_arn]));
    let u = json(&s.aws(&[
        "ecs",
        "update-cluster",
        "--cluster",
        "arn:aws:ecs:us-east-1:000000000000:cluster/secure",
        "--configuration",
        &storage_conf(&key2_arn),
    ]));
    assert_eq!(cluster_key(&u["cluster"]), Some(key2_arn.as_str()));

    // Creating it again is idempotent when nothing differs and refused when something does.
    let again = json(&s.aws(&[
        "ecs",
        "create-cluster",
        "--cluster-name",
        "secure",
        "--configuration",
        &storage_conf(&key2_arn),
        "--tags",
        "key=team,value=payments",
    ]));
    assert_eq!(cluster_key(&again["cluster"]), Some(key2_arn.as_str()));
    fails_with(
        &s.aws(&[
            "ecs",
            "create-cluster",
            "--cluster-name",
            "secure",
            "--configuration",
            &storage_conf(&key_arn),
        ]),
        "InvalidParameterException",
    );

    // Clusters and their keys survive a restart.
    let s = s.restart();
    let d = json(&s.aws(&[
        "ecs",
        "describe-clusters",
        "--clusters",
        "secure",
        "--include",
        "CONFIGURATIONS",
        "TAGS",
    ]));
    assert_eq!(cluster_key(&d["clusters"][0]), Some(key2_arn.as_str()));
    assert_eq!(d["clusters"][0]["tags"][0]["key"], "team");

    // Listing pages through nextToken (the CLI follows it with --page-size 1).
    for n in ["a", "b", "c"] {
        json(&s.aws(&["ecs", "create-cluster", "--cluster-name", n]));
    }
    let l = json(&s.aws(&["ecs", "list-clusters", "--page-size", "1"]));
    assert_eq!(l["clusterArns"].as_array().unwrap().len(), 4);

    // Removing the key: a managedStorageConfiguration without it.
    let u = json(&s.aws(&[
        "ecs",
        "update-cluster",
        "--cluster",
        "secure",
        "--configuration",
        r#"{"managedStorageConfiguration":{}}"#,
    ]));
    assert_eq!(cluster_key(&u["cluster"]), None);

    // Deleted clusters are INACTIVE: describable, not listed, not updatable.
    let del = json(&s.aws(&["ecs", "delete-cluster", "--cluster", "secure"]));
    assert_eq!(del["cluster"]["status"], "INACTIVE");
    let l = json(&s.aws(&["ecs", "list-clusters"]));
    assert_eq!(l["clusterArns"].as_array().unwrap().len(), 3);
    let d = json(&s.aws(&["ecs", "describe-clusters", "--clusters", "secure"]));
    assert_eq!(d["clusters"][0]["status"], "INACTIVE");
    let e = fails_with(
        &s.aws(&["ecs", "delete-cluster", "--cluster", "secure"]),
        "ClusterNotFoundException",
    );
    assert!(e.contains("Cluster not found."), "{e}");

    // The audit trail has the calls, with the key as the caller sent it.
    let first = trail_records(&s, "CreateCluster")
        .into_iter()
        .rev() // newest first: the first call is the last event
        .find(|r| r["requestParameters"]["clusterName"] == "secure" && r.get("errorCode").is_none())
        .expect("the first CreateCluster is recorded");
    assert_eq!(first["eventSource"], "ecs.amazonaws.com");
    assert_eq!(
        first["requestParameters"]["configuration"]["managedStorageConfiguration"]
            ["fargateEphemeralStorageKmsKeyId"],
        key_id.as_str()
    );
    assert_eq!(
        cluster_key(&first["responseElements"]["cluster"]),
        Some(key_arn.as_str())
    );
}

/// The seed's two policies (shared/spec/aws-behaviour.md §5): allow cluster changes only
/// with the approved key, deny them when no key is given. As identity policies of a user,
/// and as an SCP on a member account.
#[test]
fn the_kms_key_condition_gates_clusters_in_identity_policies_and_scps() {
    let s = Server::start();
    let (_, approved) = create_key(&s, &[]);
    let (_, other) = create_key(&s, &[]);
    let (k, sk) = user_with_key(&s, "operator");
    let allow = doc(&format!(
        r#"{{"Effect":"Allow","Action":["ecs:CreateCluster","ecs:UpdateCluster"],"Resource":"*",
             "Condition":{{"StringEquals":{{"ecs:fargate-ephemeral-storage-kms-key":"{approved}"}}}}}},
           {{"Effect":"Deny","Action":["ecs:CreateCluster","ecs:UpdateCluster"],"Resource":"*",
             "Condition":{{"Null":{{"ecs:fargate-ephemeral-storage-kms-key":"true"}}}}}}"#
    ));
    put_user_policy(&s, "operator", "clusters", &allow);

    // Allowed ecs:CreateCluster with the key, but not kms:DescribeKey on it: ECS checks the
    // key as the caller, so the request is refused, naming the KMS action.
    let e = fails_with(
        &s.aws_as(
            &k,
            &sk,
            &[
                "ecs",
                "create-cluster",
                "--cluster-name",
                "c1",
                "--configuration",
                &storage_conf(&approved),
            ],
        ),
        "AccessDeniedException",
    );
    assert!(e.contains("kms:DescribeKey"), "{e}");
    put_user_policy(
        &s,
        "operator",
        "describe-keys",
        &doc(r#"{"Effect":"Allow","Action":"kms:DescribeKey","Resource":"*"}"#),
    );

    let c = json(&s.aws_as(
        &k,
        &sk,
        &[
            "ecs",
            "create-cluster",
            "--cluster-name",
            "c1",
            "--configuration",
            &storage_conf(&approved),
        ],
    ));
    assert_eq!(cluster_key(&c["cluster"]), Some(approved.as_str()));
    let e = fails_with(
        &s.aws_as(
            &k,
            &sk,
            &[
                "ecs",
                "create-cluster",
                "--cluster-name",
                "c2",
                "--configuration",
                &storage_conf(&other),
            ],
        ),
        "AccessDeniedException",
    );
    assert!(
        e.contains("is not authorized to perform: ecs:CreateCluster on resource: arn:aws:ecs:us-east-1:000000000000:cluster/c2 because no identity-based policy allows the ecs:CreateCluster action"),
        "{e}"
    );
    let e = fails_with(
        &s.aws_as(&k, &sk, &["ecs", "create-cluster", "--cluster-name", "c3"]),
        "AccessDeniedException",
    );
    assert!(
        e.contains("with an explicit deny in an identity-based policy"),
        "{e}"
    );
    // Removing the key from the cluster carries no key: denied.
    let e = fails_with(
        &s.aws_as(
            &k,
            &sk,
            &[
                "ecs",
                "update-cluster",
                "--cluster",
                "c1",
                "--configuration",
                r#"{"managedStorageConfiguration":{}}"#,
            ],
        ),
        "AccessDeniedException",
    );
    assert!(e.contains("explicit deny"), "{e}");
    let d = json(&s.aws(&[
        "ecs",
        "describe-clusters",
        "--clusters",
        "c1",
        "c2",
        "c3",
        "--include",
        "CONFIGURATIONS",
    ]));
    assert_eq!(d["clusters"].as_array().unwrap().len(), 1);
    assert_eq!(cluster_key(&d["clusters"][0]), Some(approved.as_str()));

    // The same rule as an SCP binds a member account's administrators.
    create_organization(&s);
    enable_scps(&s);
    let member = member_account(&s, "m@example.com", "member");
    let scp = doc(
        r#"{"Effect":"Deny","Action":["ecs:CreateCluster","ecs:UpdateCluster"],"Resource":"*","Condition":{"Null":{"ecs:fargate-ephemeral-storage-kms-key":"true"}}}"#,
    );
    attach_scp(&s, "require-cmk", &scp, &member);
    let session = member_admin(&s, &member);
    let e = fails_with(
        &s.aws_session(
            &session,
            &["ecs", "create-cluster", "--cluster-name", "open"],
        ),
        "AccessDeniedException",
    );
    assert!(
        e.contains("with an explicit deny in a service control policy"),
        "{e}"
    );
    // The member's own key (the default key policy delegates to the member account).
    let mk = json(&s.aws_session(&session, &["kms", "create-key"]));
    let mk = mk["KeyMetadata"]["Arn"].as_str().unwrap().to_owned();
    let c = json(&s.aws_session(
        &session,
        &[
            "ecs",
            "create-cluster",
            "--cluster-name",
            "sealed",
            "--configuration",
            &storage_conf(&mk),
        ],
    ));
    assert_eq!(
        c["cluster"]["clusterArn"],
        format!("arn:aws:ecs:us-east-1:{member}:cluster/sealed").as_str()
    );
    // The management account is not bound by SCPs.
    json(&s.aws(&["ecs", "create-cluster", "--cluster-name", "mgmt-open"]));
}

fn register(s: &Server, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "ecs",
        "register-task-definition",
        "--family",
        "web",
        "--container-definitions",
        r#"[{"name":"app","image":"busybox","command":["sh","-c","echo hi"]}]"#,
    ];
    args.extend_from_slice(extra);
    s.aws(&args)
}

#[test]
fn task_definitions_follow_fargate_rules_and_keep_revisions() {
    let s = Server::start();
    let fargate = [
        "--requires-compatibilities",
        "FARGATE",
        "--network-mode",
        "awsvpc",
    ];
    let with = |more: &[&'static str]| -> Vec<&'static str> {
        let mut v = fargate.to_vec();
        v.extend_from_slice(more);
        v
    };
    for (args, message) in [
        (
            vec![
                "--requires-compatibilities",
                "FARGATE",
                "--network-mode",
                "bridge",
                "--cpu",
                "256",
                "--memory",
                "512",
            ],
            "Fargate only supports network mode 'awsvpc'.",
        ),
        (
            with(&["--memory", "512"]),
            "Fargate requires that 'cpu' be defined at the task level.",
        ),
        (
            with(&["--cpu", "256"]),
            "Fargate requires that 'memory' be defined at the task level.",
        ),
        (
            with(&["--cpu", "256", "--memory", "4096"]),
            "No Fargate configuration exists for given values.",
        ),
    ] {
        let e = fails_with(&register(&s, &args), "ClientException");
        assert!(e.contains(message), "{e}");
    }
    fails_with(
        &register(
            &s,
            &with(&[
                "--cpu",
                "256",
                "--memory",
                "512",
                "--ephemeral-storage",
                "sizeInGiB=20",
            ]),
        ),
        "ClientException",
    );
    let families = json(&s.aws(&["ecs", "list-task-definition-families"]));
    assert_eq!(families["families"], serde_json::json!([]));

    let r1 = json(&register(
        &s,
        &with(&[
            "--cpu",
            "1 vCPU",
            "--memory",
            "2 GB",
            "--ephemeral-storage",
            "sizeInGiB=50",
        ]),
    ));
    let td = &r1["taskDefinition"];
    assert_eq!(
        td["taskDefinitionArn"],
        "arn:aws:ecs:us-east-1:000000000000:task-definition/web:1"
    );
    assert_eq!(td["cpu"], "1024");
    assert_eq!(td["memory"], "2048");
    assert_eq!(td["ephemeralStorage"]["sizeInGiB"], 50);
    assert_eq!(td["status"], "ACTIVE");
    assert_eq!(td["compatibilities"], serde_json::json!(["EC2", "FARGATE"]));
    assert_eq!(td["registeredBy"], "arn:aws:iam::000000000000:root");
    assert_eq!(td["containerDefinitions"][0]["essential"], true);
    json(&register(
        &s,
        &with(&["--cpu", "256", "--memory", "512", "--tags", "key=v,value=2"]),
    ));

    let d = json(&s.aws(&[
        "ecs",
        "describe-task-definition",
        "--task-definition",
        "web",
        "--include",
        "TAGS",
    ]));
    assert_eq!(d["taskDefinition"]["revision"], 2);
    assert_eq!(d["tags"][0]["value"], "2");
    json(&s.aws(&[
        "ecs",
        "deregister-task-definition",
        "--task-definition",
        "web:2",
    ]));
    let d = json(&s.aws(&[
        "ecs",
        "describe-task-definition",
        "--task-definition",
        "web",
    ]));
    assert_eq!(d["taskDefinition"]["revision"], 1);
    let d = json(&s.aws(&[
        "ecs",
        "describe-task-definition",
        "--task-definition",
        "arn:aws:ecs:us-east-1:000000000000:task-definition/web:2",
    ]));
    assert_eq!(d["taskDefinition"]["status"], "INACTIVE");
    let e = fails_with(
        &s.aws(&[
            "ecs",
            "describe-task-definition",
            "--task-definition",
            "nope",
        ]),
        "ClientException",
    );
    assert!(e.contains("Unable to describe task definition."), "{e}");
    fails_with(
        &s.aws(&[
            "ecs",
            "deregister-task-definition",
            "--task-definition",
            "web",
        ]),
        "ClientException",
    );

    // Revisions are never reused, and the listings page.
    json(&register(&s, &with(&["--cpu", "256", "--memory", "512"])));
    let l = json(&s.aws(&["ecs", "list-task-definitions", "--page-size", "1"]));
    assert_eq!(
        l["taskDefinitionArns"],
        serde_json::json!([
            "arn:aws:ecs:us-east-1:000000000000:task-definition/web:1",
            "arn:aws:ecs:us-east-1:000000000000:task-definition/web:3"
        ])
    );
    let l = json(&s.aws(&[
        "ecs",
        "list-task-definitions",
        "--sort",
        "DESC",
        "--status",
        "INACTIVE",
    ]));
    assert_eq!(
        l["taskDefinitionArns"],
        serde_json::json!(["arn:aws:ecs:us-east-1:000000000000:task-definition/web:2"])
    );
    let f = json(&s.aws(&[
        "ecs",
        "list-task-definition-families",
        "--family-prefix",
        "we",
    ]));
    assert_eq!(f["families"], serde_json::json!(["web"]));

    let s = s.restart();
    let d = json(&s.aws(&[
        "ecs",
        "describe-task-definition",
        "--task-definition",
        "web",
    ]));
    assert_eq!(d["taskDefinition"]["revision"], 3);
}

/// Tag operations and cluster updates are authorized on the resource's own ARN with its
/// tags (`aws:` and `ecs:ResourceTag`), and a cluster's keys merge by field.
#[test]
fn resources_are_authorized_as_stored_and_keys_merge_by_field() {
    let s = Server::start();
    let (k, sk) = user_with_key(&s, "dev");
    let policy = doc(
        r#"{"Effect":"Allow","Action":["ecs:*","kms:DescribeKey"],"Resource":"*"},
           {"Effect":"Deny","Action":"ecs:TagResource","Resource":"arn:aws:ecs:us-east-1:000000000000:task-definition/web:1"},
           {"Effect":"Deny","Action":["ecs:UpdateCluster","ecs:UpdateClusterSettings"],"Resource":"*","Condition":{"StringEquals":{"ecs:ResourceTag/env":"prod"}}}"#,
    );
    put_user_policy(&s, "dev", "p", &policy);
    json(&s.aws(&[
        "ecs",
        "register-task-definition",
        "--family",
        "web",
        "--container-definitions",
        r#"[{"name":"a","image":"busybox","memory":128}]"#,
    ]));
    let td1 = "arn:aws:ecs:us-east-1:000000000000:task-definition/web:1";
    fails_with(
        &s.aws_as(
            &k,
            &sk,
            &[
                "ecs",
                "tag-resource",
                "--resource-arn",
                td1,
                "--tags",
                "key=a,value=b",
            ],
        ),
        "AccessDeniedException",
    );
    // Another spelling of the same revision is not another resource.
    fails_with(
        &s.aws_as(
            &k,
            &sk,
            &[
                "ecs",
                "tag-resource",
                "--resource-arn",
                &format!("{}01", &td1[..td1.len() - 1]),
                "--tags",
                "key=a,value=b",
            ],
        ),
        "ResourceNotFoundException",
    );
    let tags = json(&s.aws(&["ecs", "list-tags-for-resource", "--resource-arn", td1]));
    assert_eq!(tags["tags"], serde_json::json!([]));

    json(&s.aws(&[
        "ecs",
        "create-cluster",
        "--cluster-name",
        "prod",
        "--tags",
        "key=env,value=prod",
    ]));
    json(&s.aws(&["ecs", "create-cluster", "--cluster-name", "dev"]));
    fails_with(
        &s.aws_as(
            &k,
            &sk,
            &[
                "ecs",
                "update-cluster-settings",
                "--cluster",
                "prod",
                "--settings",
                "name=containerInsights,value=enabled",
            ],
        ),
        "AccessDeniedException",
    );
    let e = fails_with(
        &s.aws_as(
            &k,
            &sk,
            &[
                "ecs",
                "update-cluster",
                "--cluster",
                "prod",
                "--settings",
                "name=containerInsights,value=enabled",
            ],
        ),
        "AccessDeniedException",
    );
    assert!(e.contains("explicit deny"), "{e}");
    json(&s.aws_as(
        &k,
        &sk,
        &[
            "ecs",
            "update-cluster",
            "--cluster",
            "dev",
            "--settings",
            "name=containerInsights,value=enabled",
        ],
    ));
    // Tag round trip on a cluster.
    let dev = "arn:aws:ecs:us-east-1:000000000000:cluster/dev";
    json(&s.aws_as(
        &k,
        &sk,
        &[
            "ecs",
            "tag-resource",
            "--resource-arn",
            dev,
            "--tags",
            "key=team,value=a",
            "key=cost,value=1",
        ],
    ));
    json(&s.aws_as(
        &k,
        &sk,
        &[
            "ecs",
            "untag-resource",
            "--resource-arn",
            dev,
            "--tag-keys",
            "cost",
        ],
    ));
    let tags = json(&s.aws(&["ecs", "list-tags-for-resource", "--resource-arn", dev]));
    assert_eq!(
        tags["tags"],
        serde_json::json!([{"key": "team", "value": "a"}])
    );

    // Keys merge by field: an EBS key update keeps the Fargate key; `{}` removes both.
    let (_, key) = create_key(&s, &[]);
    json(&s.aws(&[
        "ecs",
        "update-cluster",
        "--cluster",
        "dev",
        "--configuration",
        &storage_conf(&key),
    ]));
    let u = json(&s.aws(&[
        "ecs",
        "update-cluster",
        "--cluster",
        "dev",
        "--configuration",
        r#"{"managedStorageConfiguration":{"kmsKeyId":"ebs-key"}}"#,
    ]));
    assert_eq!(cluster_key(&u["cluster"]), Some(key.as_str()));
    assert_eq!(
        u["cluster"]["configuration"]["managedStorageConfiguration"]["kmsKeyId"],
        "ebs-key"
    );
    let u = json(&s.aws(&[
        "ecs",
        "update-cluster",
        "--cluster",
        "dev",
        "--configuration",
        r#"{"executeCommandConfiguration":{"logging":"DEFAULT"}}"#,
    ]));
    assert_eq!(cluster_key(&u["cluster"]), Some(key.as_str()));
    let u = json(&s.aws(&[
        "ecs",
        "update-cluster",
        "--cluster",
        "dev",
        "--configuration",
        r#"{"managedStorageConfiguration":{}}"#,
    ]));
    assert!(
        u["cluster"]["configuration"]
            .get("managedStorageConfiguration")
            .is_none(),
        "{u}"
    );
}

/// ECS describes the key as the caller: the key policy decides (IAM counts only where it
/// delegates), and the check is a DescribeKey record with `invokedBy: ecs.amazonaws.com`.
#[test]
fn the_key_check_is_a_recorded_describe_key_as_the_caller() {
    let s = Server::start();
    let (k, sk) = allowed_user(
        &s,
        "ops",
        r#"{"Effect":"Allow","Action":["ecs:*","kms:*"],"Resource":"*"}"#,
    );
    // A key whose policy names only root: IAM policies do not count for it.
    let closed = json(&s.aws(&[
        "kms", "create-key", "--bypass-policy-lockout-safety-check", "--policy",
        &doc(r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalType":"Account"}}}"#),
    ]));
    let closed = closed["KeyMetadata"]["Arn"].as_str().unwrap().to_owned();
    let e = fails_with(
        &s.aws_as(
            &k,
            &sk,
            &[
                "ecs",
                "create-cluster",
                "--cluster-name",
                "c",
                "--configuration",
                &storage_conf(&closed),
            ],
        ),
        "AccessDeniedException",
    );
    assert!(e.contains("kms:DescribeKey"), "{e}");
    let (_, open) = create_key(&s, &[]);
    json(&s.aws_as(
        &k,
        &sk,
        &[
            "ecs",
            "create-cluster",
            "--cluster-name",
            "c",
            "--configuration",
            &storage_conf(&open),
        ],
    ));

    let records = trail_records(&s, "DescribeKey");
    assert_eq!(records.len(), 2, "{records:?}");
    for r in &records {
        assert_eq!(r["userIdentity"]["type"], "IAMUser");
        assert_eq!(r["userIdentity"]["userName"], "ops");
        assert_eq!(r["userIdentity"]["invokedBy"], "ecs.amazonaws.com");
        assert_eq!(r["sourceIPAddress"], "ecs.amazonaws.com");
        assert_eq!(r["eventSource"], "kms.amazonaws.com");
    }
    // Newest first: the allowed call, then the denied one.
    assert!(records[0].get("errorCode").is_none(), "{}", records[0]);
    assert_eq!(records[1]["errorCode"], "AccessDeniedException");
}

/// `familyPrefix` is the full family name; a page token survives the deregistration of the
/// item it was made from.
#[test]
fn task_definition_listings_match_families_and_survive_deregistration() {
    let s = Server::start();
    for f in ["web", "web", "web", "web-canary"] {
        json(&s.aws(&[
            "ecs",
            "register-task-definition",
            "--family",
            f,
            "--container-definitions",
            r#"[{"name":"a","image":"busybox","memory":128}]"#,
        ]));
    }
    let l = json(&s.aws(&["ecs", "list-task-definitions", "--family-prefix", "web"]));
    assert_eq!(l["taskDefinitionArns"].as_array().unwrap().len(), 3, "{l}");
    let first = json(&s.aws(&[
        "ecs",
        "list-task-definitions",
        "--family-prefix",
        "web",
        "--page-size",
        "1",
        "--max-items",
        "1",
    ]));
    let token = first["NextToken"].as_str().unwrap().to_owned();
    json(&s.aws(&[
        "ecs",
        "deregister-task-definition",
        "--task-definition",
        "web:1",
    ]));
    let rest = json(&s.aws(&[
        "ecs",
        "list-task-definitions",
        "--family-prefix",
        "web",
        "--page-size",
        "1",
        "--starting-token",
        &token,
    ]));
    assert_eq!(
        rest["taskDefinitionArns"],
        serde_json::json!([
            "arn:aws:ecs:us-east-1:000000000000:task-definition/web:2",
            "arn:aws:ecs:us-east-1:000000000000:task-definition/web:3"
        ])
    );
    // Families: both ACTIVE and INACTIVE by default.
    json(&s.aws(&[
        "ecs",
        "deregister-task-definition",
        "--task-definition",
        "web-canary:1",
    ]));
    let f = json(&s.aws(&["ecs", "list-task-definition-families"]));
    assert_eq!(f["families"], serde_json::json!(["web", "web-canary"]));
    let f = json(&s.aws(&["ecs", "list-task-definition-families", "--status", "ACTIVE"]));
    assert_eq!(f["families"], serde_json::json!(["web"]));
}
