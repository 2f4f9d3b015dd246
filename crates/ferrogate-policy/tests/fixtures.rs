//! Example policies from the IAM User Guide and AWS Organizations User Guide, parsed as written
//! and evaluated against the outcome the page describes (the s3s-policy approach). The page is
//! named above each fixture.

mod common;

use common::*;
use ferrogate_policy::{
    evaluate, EvaluationInput, NamedPolicy, Policy, PolicyKind, PolicyType, PrincipalInfo,
    RequestContext, ResourcePolicyKind,
};

/// Policy evaluation logic: Carlos's identity policy.
const CARLOS_IDENTITY: &str = r#"{
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "AllowS3ListRead", "Effect": "Allow",
         "Action": ["s3:GetBucketLocation", "s3:GetAccountPublicAccessBlock", "s3:ListAccessPoints", "s3:ListAllMyBuckets"],
         "Resource": "arn:aws:s3:::*"},
        {"Sid": "AllowS3Self", "Effect": "Allow", "Action": "s3:*",
         "Resource": ["arn:aws:s3:::carlossalazar/*", "arn:aws:s3:::carlossalazar"]},
        {"Sid": "DenyS3Logs", "Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::*log*"}
    ]
}"#;

/// Policy evaluation logic: the bucket policy on `carlossalazar`.
const CARLOS_BUCKET: &str = r#"{
    "Version": "2012-10-17",
    "Statement": [{
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::123456789012:user/carlossalazar"},
        "Action": "s3:*",
        "Resource": ["arn:aws:s3:::carlossalazar/*", "arn:aws:s3:::carlossalazar"]
    }]
}"#;

/// Policy evaluation logic: explicit and implicit denies.
const GET_LIST_DENY_REPORTS: &str = r#"{
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "AllowGetList", "Effect": "Allow", "Action": ["iam:Get*", "iam:List*"], "Resource": "*"},
        {"Sid": "DenyReports", "Effect": "Deny", "Action": "iam:*Report", "Resource": "*"}
    ]
}"#;

/// Policy variables: a home directory per user.
const HOME_DIRECTORY: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {"Action": ["s3:ListBucket"], "Effect": "Allow", "Resource": ["arn:aws:s3:::mybucket"],
     "Condition": {"StringLike": {"s3:prefix": ["${aws:username}/*"]}}},
    {"Action": ["s3:GetObject", "s3:PutObject"], "Effect": "Allow",
     "Resource": ["arn:aws:s3:::mybucket/${aws:username}/*"]}
  ]
}"#;

/// Policy variables: queues named after the user.
const USER_QUEUES: &str = r#"{
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "ListForConsole", "Effect": "Allow", "Action": "sqs:ListQueues", "Resource": "*"},
        {"Sid": "AllQueueActions", "Effect": "Allow", "Action": "sqs:*", "Resource": "arn:aws:sqs:us-east-2:*:${aws:username}-queue"}
    ]
}"#;

/// Condition operators: IfExists.
const RUN_INSTANCE_IF_EXISTS: &str = r#"{
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "RunInstance", "Effect": "Allow", "Action": "ec2:RunInstances", "Resource": "*",
         "Condition": {"StringLikeIfExists": {"ec2:InstanceType": ["t1.*", "t2.*", "m3.*"]}}},
        {"Sid": "DescribeActions", "Effect": "Allow",
         "Action": ["ec2:DescribeImages", "ec2:DescribeInstances", "ec2:DescribeVpcs", "ec2:DescribeKeyPairs",
                    "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups"],
         "Resource": "*"}]
}"#;

/// Condition operators: Null.
const NO_TEMPORARY_CREDENTIALS: &str = r#"{
  "Version": "2012-10-17",
  "Statement":{"Action":"ec2:*", "Effect":"Allow", "Resource":"*", "Condition":{"Null":{"aws:TokenIssueTime":"true"}}}
}"#;

/// Condition operators: IP address (account-id placeholder filled in).
const SOURCE_IP: &str = r#"{
  "Version": "2012-10-17",
  "Statement": {"Effect": "Allow", "Action": "iam:*AccessKey*", "Resource": "arn:aws:iam::111122223333:user/*",
    "Condition": {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}}
}"#;

/// Condition operators: Boolean.
const DENY_INSECURE_TRANSPORT: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [{"Sid": "BooleanExample", "Action": "s3:*", "Effect": "Deny",
      "Resource": ["arn:aws:s3:::DOC-EXAMPLE-BUCKET", "arn:aws:s3:::DOC-EXAMPLE-BUCKET/*"],
      "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]
}"#;

/// Condition operators: ARN (an SQS queue policy for SNS), with REGION/QUEUE-ID filled in.
const SQS_FROM_SNS_TOPIC: &str = r#"{
  "Version": "2012-10-17",
  "Statement": {"Effect": "Allow", "Principal": {"AWS": "123456789012"}, "Action": "SQS:SendMessage",
    "Resource": "arn:aws:sqs:us-east-1:123456789012:queue1",
    "Condition": {"ArnEquals": {"aws:SourceArn": "arn:aws:sns:us-east-1:123456789012:topic1"}}}
}"#;

/// Principal element: instead of NotPrincipal with Deny.
const PRINCIPAL_ARN_INSTEAD_OF_NOT_PRINCIPAL: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [{"Sid": "UsePrincipalArnInsteadOfNotPrincipalWithDeny", "Effect": "Deny", "Action": "s3:*",
      "Principal": "*", "Resource": ["arn:aws:s3:::BUCKETNAME/*", "arn:aws:s3:::BUCKETNAME"],
      "Condition": {"ArnNotEquals": {"aws:PrincipalArn": "arn:aws:iam::444455556666:user/user-name"}}}]
}"#;

/// Example: deny access based on the requested Region.
const DENY_OUTSIDE_EU: &str = r#"{
    "Version": "2012-10-17",
    "Statement": [{"Sid": "DenyAllOutsideEU", "Effect": "Deny",
        "NotAction": ["cloudfront:*", "iam:*", "route53:*", "support:*"], "Resource": "*",
        "Condition": {"StringNotEquals": {"aws:RequestedRegion": ["eu-central-1", "eu-west-1"]}}}]
}"#;

/// Example: MFA-authenticated users manage their own credentials (two statements of it).
const MFA_SELF_MANAGE: &str = r#"{
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "AllowManageOwnPasswords", "Effect": "Allow", "Action": ["iam:ChangePassword", "iam:GetUser"],
         "Resource": "arn:aws:iam::*:user/${aws:username}"},
        {"Sid": "DenyAllExceptListedIfNoMFA", "Effect": "Deny",
         "NotAction": ["iam:CreateVirtualMFADevice", "iam:EnableMFADevice", "iam:GetUser", "iam:ListMFADevices",
                       "iam:ListVirtualMFADevices", "iam:ResyncMFADevice", "sts:GetSessionToken"],
         "Resource": "*", "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}}
    ]
}"#;

/// Permissions boundaries: Shirley's boundary and identity policy.
const SHIRLEY_BOUNDARY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*","cloudwatch:*","ec2:*"],"Resource":"*"}]}"#;
const SHIRLEY_IDENTITY: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:CreateUser","Resource":"*"}}"#;

/// ABAC tutorial shape: resource tag must equal the principal's tag.
const ABAC_SAME_TEAM: &str = r#"{
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*",
        "Condition": {"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}}}]
}"#;

/// KMS default key policy statement "Enable IAM User Permissions".
const KMS_DEFAULT_KEY_POLICY: &str = r#"{
  "Version": "2012-10-17",
  "Id": "key-default-1",
  "Statement": [{"Sid": "Enable IAM User Permissions", "Effect": "Allow",
      "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"}]
}"#;

/// Organizations: an SCP that prevents member accounts from leaving.
const SCP_DENY_LEAVE: &str = r#"{
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Deny", "Action": "organizations:LeaveOrganization", "Resource": "*"}]
}"#;

/// IAM roles: an EC2 trust policy.
const EC2_TRUST: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}}"#;

fn ctx(who: PrincipalInfo, action: &str, resource: &str) -> RequestContext {
    let c = RequestContext::new(who, action);
    if resource.is_empty() {
        c
    } else {
        c.with_resource(resource)
    }
}

fn carlos() -> PrincipalInfo {
    PrincipalInfo::iam_user(
        "arn:aws:iam::123456789012:user/carlossalazar",
        "AIDACARLOSEXAMPLE001",
    )
}

#[test]
fn every_fixture_parses() {
    for doc in [
        CARLOS_IDENTITY,
        GET_LIST_DENY_REPORTS,
        HOME_DIRECTORY,
        USER_QUEUES,
        RUN_INSTANCE_IF_EXISTS,
        NO_TEMPORARY_CREDENTIALS,
        SOURCE_IP,
        DENY_INSECURE_TRANSPORT,
        DENY_OUTSIDE_EU,
        MFA_SELF_MANAGE,
        SHIRLEY_BOUNDARY,
        SHIRLEY_IDENTITY,
        ABAC_SAME_TEAM,
    ] {
        identity(doc);
    }
    for doc in [
        CARLOS_BUCKET,
        SQS_FROM_SNS_TOPIC,
        PRINCIPAL_ARN_INSTEAD_OF_NOT_PRINCIPAL,
        KMS_DEFAULT_KEY_POLICY,
    ] {
        parse(doc, PolicyKind::Resource);
    }
    parse(SCP_DENY_LEAVE, PolicyKind::ServiceControl);
    parse(EC2_TRUST, PolicyKind::RoleTrust);
}

fn carlos_decides(object: &str) -> Expect {
    let (id, bucket) = (
        identity(CARLOS_IDENTITY),
        parse(CARLOS_BUCKET, PolicyKind::Resource),
    );
    let c = ctx(carlos(), "s3:PutObject", object);
    let ids = [NamedPolicy::new("carlos", &id)];
    let input = EvaluationInput::new(&c)
        .with_identity(&ids)
        .with_resource_account("123456789012")
        .with_resource_policy(
            NamedPolicy::new("bucket", &bucket),
            ResourcePolicyKind::Standard,
        );
    outcome(&evaluate(&input))
}

#[test]
fn carlos_saves_a_file() {
    // "It finds one, because the identity-based policy explicitly denies Carlos access to any S3
    // buckets used for logging."
    assert_eq!(
        carlos_decides("arn:aws:s3:::carlossalazar-logs/f.txt"),
        Expect::Explicit(PolicyType::IdentityBased)
    );
    // "Both the identity-based policy and the resource-based policy allow the request."
    assert_eq!(
        carlos_decides("arn:aws:s3:::carlossalazar/f.txt"),
        Expect::Allow
    );
}

#[test]
fn get_list_deny_reports() {
    let p = [identity(GET_LIST_DENY_REPORTS)];
    let run = |a| outcome(&decide_identity(&ctx(alice(), a, ""), &p));
    assert_eq!(run("iam:GetUser"), Expect::Allow);
    assert_eq!(
        run("iam:CreatePolicy"),
        Expect::Implicit(PolicyType::IdentityBased)
    );
    assert_eq!(
        run("iam:GetOrganizationsAccessReport"),
        Expect::Explicit(PolicyType::IdentityBased)
    );
    assert_eq!(
        run("iam:GenerateCredentialReport"),
        Expect::Explicit(PolicyType::IdentityBased)
    );
}

#[test]
fn home_directory_and_user_queues() {
    let p = [identity(HOME_DIRECTORY), identity(USER_QUEUES)];
    let run = |a, r: &str, prefix: Option<&str>| {
        let mut c = ctx(alice(), a, r);
        if let Some(pre) = prefix {
            c = c.with("s3:prefix", pre);
        }
        decide_identity(&c, &p).is_allowed()
    };
    assert!(run(
        "s3:GetObject",
        "arn:aws:s3:::mybucket/alice/notes.txt",
        None
    ));
    assert!(!run(
        "s3:GetObject",
        "arn:aws:s3:::mybucket/bob/notes.txt",
        None
    ));
    assert!(run(
        "s3:ListBucket",
        "arn:aws:s3:::mybucket",
        Some("alice/")
    ));
    assert!(!run("s3:ListBucket", "arn:aws:s3:::mybucket", Some("bob/")));
    assert!(run(
        "sqs:SendMessage",
        "arn:aws:sqs:us-east-2:111122223333:alice-queue",
        None
    ));
    assert!(!run(
        "sqs:SendMessage",
        "arn:aws:sqs:us-east-2:111122223333:bob-queue",
        None
    ));
    assert!(!run(
        "sqs:SendMessage",
        "arn:aws:sqs:us-west-2:111122223333:alice-queue",
        None
    ));
}

#[test]
fn condition_operator_examples() {
    let ifx = [identity(RUN_INSTANCE_IF_EXISTS)];
    let run = |p: &[Policy], c: RequestContext| outcome(&decide_identity(&c, p));
    assert_eq!(
        run(
            &ifx,
            ctx(alice(), "ec2:RunInstances", "").with("ec2:InstanceType", "t2.micro")
        ),
        Expect::Allow
    );
    assert_ne!(
        run(
            &ifx,
            ctx(alice(), "ec2:RunInstances", "").with("ec2:InstanceType", "m5.large")
        ),
        Expect::Allow
    );
    assert_eq!(
        run(&ifx, ctx(alice(), "ec2:RunInstances", "")),
        Expect::Allow
    );

    let null = [identity(NO_TEMPORARY_CREDENTIALS)];
    assert_eq!(
        run(&null, ctx(alice(), "ec2:DescribeVpcs", "")),
        Expect::Allow
    );
    let temp =
        ctx(deployer(), "ec2:DescribeVpcs", "").with("aws:TokenIssueTime", "2024-01-01T00:00:00Z");
    assert_ne!(run(&null, temp), Expect::Allow);

    let ip = [identity(SOURCE_IP)];
    let key_ctx = |addr: &str| {
        ctx(
            alice(),
            "iam:CreateAccessKey",
            "arn:aws:iam::111122223333:user/alice",
        )
        .with("aws:SourceIp", addr)
    };
    assert_eq!(run(&ip, key_ctx("203.0.113.9")), Expect::Allow);
    assert_ne!(run(&ip, key_ctx("192.0.2.9")), Expect::Allow);

    let tls = [
        identity(r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#),
        identity(DENY_INSECURE_TRANSPORT),
    ];
    let get = |secure| {
        ctx(alice(), "s3:GetObject", "arn:aws:s3:::DOC-EXAMPLE-BUCKET/a")
            .with_secure_transport(secure)
    };
    assert_eq!(
        run(&tls, get(false)),
        Expect::Explicit(PolicyType::IdentityBased)
    );
    assert_eq!(run(&tls, get(true)), Expect::Allow);
}

#[test]
fn sqs_policy_for_sns_topic() {
    let queue = parse(SQS_FROM_SNS_TOPIC, PolicyKind::Resource);
    let user =
        PrincipalInfo::iam_user("arn:aws:iam::123456789012:user/app", "AIDAAPPEXAMPLE000001");
    let run = |source: Option<&str>| {
        let mut c = ctx(
            user.clone(),
            "sqs:SendMessage",
            "arn:aws:sqs:us-east-1:123456789012:queue1",
        );
        if let Some(s) = source {
            c = c.with("aws:SourceArn", s);
        }
        let allow = identity(r#"{"Statement":{"Effect":"Allow","Action":"sqs:*","Resource":"*"}}"#);
        let ids = [NamedPolicy::new("app", &allow)];
        evaluate(
            &EvaluationInput::new(&c)
                .with_identity(&ids)
                .with_resource_policy(
                    NamedPolicy::new("queue", &queue),
                    ResourcePolicyKind::Standard,
                ),
        )
        .is_allowed()
    };
    // Action names are case-insensitive ("SQS:SendMessage"); the account principal delegates.
    assert!(run(Some("arn:aws:sns:us-east-1:123456789012:topic1")));
    assert!(
        run(None),
        "the identity policy still allows direct calls within the account"
    );
}

#[test]
fn principal_arn_instead_of_not_principal() {
    let bucket = parse(PRINCIPAL_ARN_INSTEAD_OF_NOT_PRINCIPAL, PolicyKind::Resource);
    let allow = identity(r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#);
    let run = |who: PrincipalInfo| {
        let c = ctx(who, "s3:GetObject", "arn:aws:s3:::BUCKETNAME/x");
        let ids = [NamedPolicy::new("admin", &allow)];
        outcome(&evaluate(
            &EvaluationInput::new(&c)
                .with_identity(&ids)
                .with_resource_account("444455556666")
                .with_resource_policy(
                    NamedPolicy::new("bucket", &bucket),
                    ResourcePolicyKind::Standard,
                ),
        ))
    };
    let named = PrincipalInfo::iam_user(
        "arn:aws:iam::444455556666:user/user-name",
        "AIDANAMEDEXAMPLE0001",
    );
    let other = PrincipalInfo::iam_user(
        "arn:aws:iam::444455556666:user/other",
        "AIDAOTHEREXAMPLE0001",
    );
    assert_eq!(run(named), Expect::Allow);
    assert_eq!(run(other), Expect::Explicit(PolicyType::ResourceBased));
}

#[test]
fn requested_region_and_mfa() {
    let admin = identity(r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#);
    let eu = [admin.clone(), identity(DENY_OUTSIDE_EU)];
    let region = |action, r: &str| {
        outcome(&decide_identity(
            &ctx(alice(), action, "").with_region(r),
            &eu,
        ))
    };
    assert_eq!(region("ec2:RunInstances", "eu-west-1"), Expect::Allow);
    assert_eq!(
        region("ec2:RunInstances", "us-east-1"),
        Expect::Explicit(PolicyType::IdentityBased)
    );
    assert_eq!(region("iam:ListUsers", "us-east-1"), Expect::Allow);

    let mfa = [identity(MFA_SELF_MANAGE)];
    let user_arn = "arn:aws:iam::111122223333:user/alice";
    let call = |action, mfa_present: Option<&str>| {
        let mut c = ctx(alice(), action, user_arn);
        if let Some(v) = mfa_present {
            c = c.with("aws:MultiFactorAuthPresent", v);
        }
        outcome(&decide_identity(&c, &mfa))
    };
    assert_eq!(call("iam:GetUser", None), Expect::Allow);
    assert_eq!(
        call("iam:ChangePassword", None),
        Expect::Explicit(PolicyType::IdentityBased)
    );
    assert_eq!(
        call("iam:ChangePassword", Some("false")),
        Expect::Explicit(PolicyType::IdentityBased)
    );
    assert_eq!(call("iam:ChangePassword", Some("true")), Expect::Allow);
}

#[test]
fn shirley_boundary() {
    let (boundary, id) = (identity(SHIRLEY_BOUNDARY), identity(SHIRLEY_IDENTITY));
    let shirley = PrincipalInfo::iam_user(
        "arn:aws:iam::111122223333:user/ShirleyRodriguez",
        "AIDASHIRLEYEXAMPLE01",
    );
    let c = ctx(
        shirley,
        "iam:CreateUser",
        "arn:aws:iam::111122223333:user/new",
    );
    let ids = [NamedPolicy::new("shirley", &id)];
    let d = evaluate(
        &EvaluationInput::new(&c)
            .with_identity(&ids)
            .with_boundary(NamedPolicy::new("b", &boundary)),
    );
    // "Shirley can't perform operations in any other service, including IAM, even if she has a
    // permissions policy that allows it."
    assert_eq!(
        outcome(&d),
        Expect::Implicit(PolicyType::PermissionsBoundary)
    );
}

#[test]
fn abac_same_team() {
    let p = [identity(ABAC_SAME_TEAM)];
    let secret = |team: &str| {
        ctx(
            alice(),
            "secretsmanager:GetSecretValue",
            "arn:aws:secretsmanager:us-east-1:111122223333:secret:s",
        )
        .with_resource_tags([("team", team)])
    };
    assert!(decide_identity(&secret("blue"), &p).is_allowed());
    assert!(!decide_identity(&secret("red"), &p).is_allowed());
}

#[test]
fn default_key_policy_scp_and_trust() {
    let kp = parse(KMS_DEFAULT_KEY_POLICY, PolicyKind::Resource);
    let c = ctx(
        root(),
        "kms:ScheduleKeyDeletion",
        "arn:aws:kms:us-east-1:111122223333:key/k",
    );
    let d = evaluate(
        &EvaluationInput::new(&c)
            .with_resource_policy(NamedPolicy::new("kp", &kp), ResourcePolicyKind::KeyPolicy),
    );
    assert!(d.is_allowed());

    let scp = parse(SCP_DENY_LEAVE, PolicyKind::ServiceControl);
    let full = parse(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
        PolicyKind::ServiceControl,
    );
    let levels = [vec![
        NamedPolicy::new("FullAWSAccess", &full),
        NamedPolicy::new("DenyLeave", &scp),
    ]];
    let leave = ctx(root(), "organizations:LeaveOrganization", "");
    let d = evaluate(&EvaluationInput::new(&leave).with_scps(&levels));
    assert_eq!(
        outcome(&d),
        Expect::Explicit(PolicyType::ServiceControlPolicy)
    );

    let trust = parse(EC2_TRUST, PolicyKind::RoleTrust);
    let assume = ctx(
        PrincipalInfo::service("ec2.amazonaws.com"),
        "sts:AssumeRole",
        "arn:aws:iam::111122223333:role/r",
    );
    let d = evaluate(&EvaluationInput::new(&assume).with_resource_policy(
        NamedPolicy::new("trust", &trust),
        ResourcePolicyKind::RoleTrust,
    ));
    assert!(d.is_allowed());
}
