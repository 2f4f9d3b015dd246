//! The policies of the feature Ferrogate reproduces (shared/spec/aws-behaviour.md §4.2 and §5):
//! the two ECS condition-key policies of the Amazon ECS Developer Guide ("Create a customer
//! managed key for Fargate ephemeral storage") and the key policy Fargate needs.

mod common;

use common::*;
use ferrogate_policy::{
    evaluate, Decision, EvaluationInput, NamedPolicy, PolicyKind, PolicyType, PrincipalInfo,
    RequestContext, ResourcePolicyKind,
};

const KEY_K: &str = "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const KEY_OTHER: &str =
    "arn:aws:kms:us-west-2:111122223333:key/ffffffff-12ab-34cd-56ef-1234567890ab";
const CLUSTER: &str = "arn:aws:ecs:us-west-2:111122223333:cluster/prod";
const ECS_KEY: &str = "ecs:fargate-ephemeral-storage-kms-key";

/// Seed policy (a): allow Create/UpdateCluster only with key K.
const REQUIRE_K: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [{
    "Effect": "Allow",
    "Action": ["ecs:CreateCluster", "ecs:UpdateCluster"],
    "Resource": "*",
    "Condition": {"StringEquals": {"ecs:fargate-ephemeral-storage-kms-key":
      "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}}
  }]
}"#;

/// Seed policy (b): deny Create/UpdateCluster when the key is absent.
const DENY_WITHOUT_KEY: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [{
    "Effect": "Deny",
    "Action": ["ecs:CreateCluster", "ecs:UpdateCluster"],
    "Resource": "*",
    "Condition": {"Null": {"ecs:fargate-ephemeral-storage-kms-key": "true"}}
  }]
}"#;

const ALLOW_ALL: &str =
    r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#;

/// ECS declares the key in one line on CreateCluster / UpdateCluster.
fn ecs_ctx(action: &str, key: Option<&str>) -> RequestContext {
    let ctx = RequestContext::new(alice(), action).with_resource(CLUSTER);
    match key {
        Some(k) => ctx.with(ECS_KEY, k),
        None => ctx,
    }
}

#[test]
fn allow_only_with_key_k() {
    let p = identity(REQUIRE_K);
    for action in ["ecs:CreateCluster", "ecs:UpdateCluster"] {
        let with_k = decide_identity(&ecs_ctx(action, Some(KEY_K)), std::slice::from_ref(&p));
        assert!(with_k.is_allowed(), "{action} with K");
        let other = decide_identity(&ecs_ctx(action, Some(KEY_OTHER)), std::slice::from_ref(&p));
        assert_eq!(
            outcome(&other),
            Expect::Implicit(PolicyType::IdentityBased),
            "{action} with another key"
        );
        let absent = decide_identity(&ecs_ctx(action, None), std::slice::from_ref(&p));
        assert_eq!(
            outcome(&absent),
            Expect::Implicit(PolicyType::IdentityBased),
            "{action} without a key"
        );
    }
    // The condition key is only for Create/UpdateCluster: other actions are not granted at all.
    let other_action = decide_identity(&ecs_ctx("ecs:DeleteCluster", Some(KEY_K)), &[p]);
    assert!(!other_action.is_allowed());
}

#[test]
fn allow_only_with_key_k_message() {
    let ctx = ecs_ctx("ecs:CreateCluster", Some(KEY_OTHER));
    let d = decide_identity(&ctx, &[identity(REQUIRE_K)]);
    assert_eq!(
        d.access_denied_message(&ctx).unwrap(),
        "User: arn:aws:iam::111122223333:user/alice is not authorized to perform: ecs:CreateCluster on resource: \
         arn:aws:ecs:us-west-2:111122223333:cluster/prod because no identity-based policy allows the \
         ecs:CreateCluster action"
    );
}

#[test]
fn deny_when_key_absent_identity_policy() {
    let policies = [identity(ALLOW_ALL), identity(DENY_WITHOUT_KEY)];
    for action in ["ecs:CreateCluster", "ecs:UpdateCluster"] {
        let absent = decide_identity(&ecs_ctx(action, None), &policies);
        assert_eq!(
            outcome(&absent),
            Expect::Explicit(PolicyType::IdentityBased),
            "{action}"
        );
        let present = decide_identity(&ecs_ctx(action, Some(KEY_OTHER)), &policies);
        assert!(present.is_allowed(), "{action} with any key");
    }
    // An empty key id is treated as absent by Null.
    let empty = decide_identity(&ecs_ctx("ecs:UpdateCluster", Some("")), &policies);
    assert_eq!(outcome(&empty), Expect::Explicit(PolicyType::IdentityBased));
}

fn decide_with_scp(
    ctx: &RequestContext,
    principal_policies: &[NamedPolicy<'_>],
    scp_docs: &[&str],
) -> Decision {
    let scps: Vec<_> = scp_docs
        .iter()
        .map(|d| parse(d, PolicyKind::ServiceControl))
        .collect();
    let level: Vec<_> = scps.iter().map(|p| NamedPolicy::new("scp", p)).collect();
    let levels = [level];
    evaluate(
        &EvaluationInput::new(ctx)
            .with_identity(principal_policies)
            .with_scps(&levels),
    )
}

#[test]
fn deny_when_key_absent_as_scp() {
    let allow = identity(ALLOW_ALL);
    let ids = [NamedPolicy::new("admin", &allow)];
    let scp = [ALLOW_ALL, DENY_WITHOUT_KEY];

    let ctx = ecs_ctx("ecs:CreateCluster", None);
    let d = decide_with_scp(&ctx, &ids, &scp);
    assert_eq!(
        outcome(&d),
        Expect::Explicit(PolicyType::ServiceControlPolicy)
    );
    assert_eq!(
        d.access_denied_message(&ctx).unwrap(),
        "User: arn:aws:iam::111122223333:user/alice is not authorized to perform: ecs:CreateCluster on resource: \
         arn:aws:ecs:us-west-2:111122223333:cluster/prod with an explicit deny in a service control policy"
    );
    assert!(decide_with_scp(&ecs_ctx("ecs:CreateCluster", Some(KEY_K)), &ids, &scp).is_allowed());

    // The member account's root user is bound by the SCP too.
    let root_ctx = RequestContext::new(root(), "ecs:UpdateCluster").with_resource(CLUSTER);
    assert_eq!(
        outcome(&decide_with_scp(&root_ctx, &[], &scp)),
        Expect::Explicit(PolicyType::ServiceControlPolicy)
    );
    // The management account (no SCP chain) is not.
    assert!(evaluate(&EvaluationInput::new(&root_ctx)).is_allowed());
}

/// The key policy of spec §4.2 (DOC-CREATE), for account 111122223333, cluster `prod` and the
/// operator role `ClusterOperator`.
const FARGATE_KEY_POLICY: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "Allow generate data key access for Fargate tasks.", "Effect": "Allow",
     "Principal": {"Service": "fargate.amazonaws.com"},
     "Action": ["kms:GenerateDataKeyWithoutPlaintext"],
     "Condition": {"StringEquals": {
        "kms:EncryptionContext:aws:ecs:clusterAccount": ["111122223333"],
        "kms:EncryptionContext:aws:ecs:clusterName": ["prod"]}},
     "Resource": "*"},
    {"Sid": "Allow grant creation permission for Fargate tasks.", "Effect": "Allow",
     "Principal": {"Service": "fargate.amazonaws.com"},
     "Action": ["kms:CreateGrant"],
     "Condition": {"StringEquals": {
        "kms:EncryptionContext:aws:ecs:clusterAccount": ["111122223333"],
        "kms:EncryptionContext:aws:ecs:clusterName": ["prod"]},
       "ForAllValues:StringEquals": {"kms:GrantOperations": ["Decrypt"]}},
     "Resource": "*"},
    {"Sid": "Allow describe key permission for cluster operator - CreateCluster and UpdateCluster.",
     "Effect": "Allow",
     "Principal": {"AWS": "arn:aws:iam::111122223333:role/ClusterOperator"},
     "Action": ["kms:DescribeKey"], "Resource": "*"}
  ]
}"#;

fn operator_session() -> PrincipalInfo {
    PrincipalInfo::assumed_role(
        "arn:aws:iam::111122223333:role/ClusterOperator",
        "ops",
        "AROAOPERATOREXAMPLE1",
    )
}

/// KMS declares its keys: the encryption context (or the grant's constraint map) and, for
/// CreateGrant, the grant operations.
fn kms_ctx(
    who: PrincipalInfo,
    action: &str,
    cluster: &str,
    ops: Option<&[&str]>,
) -> RequestContext {
    let ec = [
        ("aws:ecs:clusterAccount", ACCT),
        ("aws:ecs:clusterName", cluster),
        ("aws:ebs:id", "vol-0123"),
    ];
    let ctx = RequestContext::new(who, action)
        .with_resource(KEY_K)
        .with_map("kms:EncryptionContext:", "kms:EncryptionContextKeys", ec)
        .with("kms:CallerAccount", ACCT);
    match ops {
        Some(ops) => ctx.with_values("kms:GrantOperations", ops.iter().copied()),
        None => ctx,
    }
}

fn decide_key(ctx: &RequestContext, identity: &[NamedPolicy<'_>]) -> Decision {
    let kp = parse(FARGATE_KEY_POLICY, PolicyKind::Resource);
    let input = EvaluationInput::new(ctx)
        .with_identity(identity)
        .with_resource_policy(
            NamedPolicy::new("key-policy", &kp),
            ResourcePolicyKind::KeyPolicy,
        );
    evaluate(&input)
}

#[test]
fn fargate_key_policy_data_keys() {
    let ok = kms_ctx(
        fargate(),
        "kms:GenerateDataKeyWithoutPlaintext",
        "prod",
        None,
    );
    assert!(decide_key(&ok, &[]).is_allowed());
    let wrong_cluster = kms_ctx(
        fargate(),
        "kms:GenerateDataKeyWithoutPlaintext",
        "staging",
        None,
    );
    assert_eq!(
        outcome(&decide_key(&wrong_cluster, &[])),
        Expect::Implicit(PolicyType::ResourceBased)
    );
    let no_context =
        RequestContext::new(fargate(), "kms:GenerateDataKeyWithoutPlaintext").with_resource(KEY_K);
    assert_eq!(
        outcome(&decide_key(&no_context, &[])),
        Expect::Implicit(PolicyType::ResourceBased)
    );
    // Another service principal is not named.
    let ec2 = kms_ctx(
        PrincipalInfo::service("ec2.amazonaws.com"),
        "kms:GenerateDataKeyWithoutPlaintext",
        "prod",
        None,
    );
    assert!(!decide_key(&ec2, &[]).is_allowed());
    // Fargate may not Decrypt under the key policy (it does so through its grant).
    let decrypt = kms_ctx(fargate(), "kms:Decrypt", "prod", None);
    assert!(!decide_key(&decrypt, &[]).is_allowed());
}

#[test]
fn fargate_key_policy_grants() {
    let decrypt_only = kms_ctx(fargate(), "kms:CreateGrant", "prod", Some(&["Decrypt"]));
    let d = decide_key(&decrypt_only, &[]);
    assert!(d.is_allowed());
    let ferrogate_policy::Reason::Statement(s) = &d.reason else {
        panic!("{d:?}")
    };
    assert_eq!(
        s.sid.as_deref(),
        Some("Allow grant creation permission for Fargate tasks.")
    );
    assert_eq!((s.policy.as_str(), s.index), ("key-policy", 1));

    let wider = kms_ctx(
        fargate(),
        "kms:CreateGrant",
        "prod",
        Some(&["Decrypt", "Encrypt"]),
    );
    assert!(
        !decide_key(&wider, &[]).is_allowed(),
        "ForAllValues refuses Encrypt"
    );
    let other_cluster = kms_ctx(fargate(), "kms:CreateGrant", "other", Some(&["Decrypt"]));
    assert!(!decide_key(&other_cluster, &[]).is_allowed());
    // ForAllValues is true when the key is absent: the encryption-context conditions still hold
    // the grant to the cluster.
    let no_ops = kms_ctx(fargate(), "kms:CreateGrant", "prod", None);
    assert!(decide_key(&no_ops, &[]).is_allowed());
}

#[test]
fn fargate_key_policy_cluster_operator() {
    let describe = kms_ctx(operator_session(), "kms:DescribeKey", "prod", None);
    assert!(
        decide_key(&describe, &[]).is_allowed(),
        "named role's session may DescribeKey"
    );
    let decrypt = kms_ctx(operator_session(), "kms:Decrypt", "prod", None);
    let d = decide_key(&decrypt, &[]);
    assert_eq!(
        d.access_denied_message(&decrypt).unwrap(),
        "User: arn:aws:sts::111122223333:assumed-role/ClusterOperator/ops is not authorized to perform: kms:Decrypt \
         on resource: arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab because no \
         resource-based policy allows the kms:Decrypt action"
    );
    // IAM policies cannot open a key whose policy does not delegate to the account.
    let admin = identity(ALLOW_ALL);
    let user_describe = kms_ctx(alice(), "kms:DescribeKey", "prod", None);
    assert!(!decide_key(&user_describe, &[NamedPolicy::new("admin", &admin)]).is_allowed());
}
