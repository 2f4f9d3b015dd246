//! The evaluation logic, one documented rule per row.
//!
//! Citations are to the IAM User Guide: *Policy evaluation logic* (EL), *Cross-account policy
//! evaluation logic* (XA), *Policy elements: Action / NotAction / Resource / NotResource /
//! Principal / NotPrincipal* (ACT, NACT, RES, NRES, PR, NPR), *Policy variables* (PV),
//! *Permissions boundaries* (PB), *Session policies* (SP); AWS Organizations, *SCP evaluation*
//! (SCP); AWS KMS Developer Guide, *Key policies* (KMS).

mod common;

use common::*;
use ferrogate_policy::{
    evaluate, EvaluationInput, NamedPolicy, Policy, PolicyKind, PolicyType, PrincipalInfo,
    RequestContext, ResourcePolicyKind,
};
use PolicyType::*;

const CLUSTER: &str = "arn:aws:ecs:us-east-1:111122223333:cluster/prod";
const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const OTHER_KEY: &str =
    "arn:aws:kms:us-east-1:444455556666:key/0000aaaa-12ab-34cd-56ef-1234567890ab";
const ROLE_ARN: &str = "arn:aws:iam::111122223333:role/ops/Deployer";

const ALLOW_ALL: &str =
    r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#;
const ALLOW_ECS: &str =
    r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ecs:*","Resource":"*"}}"#;
const ALLOW_S3: &str =
    r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#;
const DENY_ECS_CREATE: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"ecs:CreateCluster","Resource":"*"}}"#;
const ALLOW_KMS: &str =
    r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*"}}"#;
const ALLOW_ASSUME: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}}"#;

/// A resource policy naming one principal. `{p}` is replaced by the Principal value.
const RP_ALLOW_ECS: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{p},"Action":"ecs:*","Resource":"*"}}"#;
const RP_DENY_ECS: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Principal":{p},"Action":"ecs:*","Resource":"*"}}"#;
const KP_ALLOW_KMS: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{p},"Action":"kms:*","Resource":"*"}}"#;
const KP_DENY_KMS: &str = r#"{"Version":"2012-10-17","Statement":[
    {"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:*","Resource":"*"},
    {"Effect":"Deny","Principal":{p},"Action":"kms:Decrypt","Resource":"*"}]}"#;
const TRUST: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{p},"Action":"sts:AssumeRole"}}"#;

#[derive(Clone, Copy)]
struct Case {
    why: &'static str,
    who: fn() -> PrincipalInfo,
    action: &'static str,
    resource: Option<&'static str>,
    identity: &'static [&'static str],
    scps: Option<&'static [&'static [&'static str]]>,
    rcps: Option<&'static [&'static [&'static str]]>,
    boundary: Option<&'static str>,
    session: Option<&'static [&'static str]>,
    /// (template, Principal value, kind)
    rp: Option<(&'static str, &'static str, ResourcePolicyKind)>,
    grant: Option<&'static str>,
    keys: &'static [(&'static str, &'static str)],
    expect: Expect,
}

const BASE: Case = Case {
    why: "",
    who: alice,
    action: "ecs:CreateCluster",
    resource: Some(CLUSTER),
    identity: &[],
    scps: None,
    rcps: None,
    boundary: None,
    session: None,
    rp: None,
    grant: None,
    keys: &[],
    expect: Expect::Allow,
};

use ResourcePolicyKind::{KeyPolicy, RoleTrust as Trust, Standard};
const fn x(t: PolicyType) -> Expect {
    Expect::Explicit(t)
}
const fn i(t: PolicyType) -> Expect {
    Expect::Implicit(t)
}

#[rustfmt::skip]
const CASES: &[Case] = &[
    // --- Basics: implicit deny, explicit deny wins (EL) ---
    Case { why: "EL: by default all requests are implicitly denied", expect: i(IdentityBased), ..BASE },
    Case { why: "EL: an identity-based Allow allows", identity: &[ALLOW_ALL], ..BASE },
    Case { why: "EL: an explicit deny overrides an allow in the same policy", identity: &[r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"ecs:*","Resource":"*"}]}"#], expect: x(IdentityBased), ..BASE },
    Case { why: "EL: an explicit deny in any policy overrides allows in others", identity: &[ALLOW_ALL, DENY_ECS_CREATE], expect: x(IdentityBased), ..BASE },
    Case { why: "EL: a Deny of another action does not apply", identity: &[ALLOW_ALL, DENY_ECS_CREATE], action: "ecs:DeleteCluster", ..BASE },
    Case { why: "EL: group policies are identity policies, any one Allow suffices", identity: &[ALLOW_S3, ALLOW_ECS], ..BASE },
    Case { why: "EL: a statement that does not match leaves the next one to allow", identity: &[r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"},{"Effect":"Allow","Action":"ecs:CreateCluster","Resource":"*"}]}"#], ..BASE },
    // --- Action matching (ACT, NACT) ---
    Case { why: "ACT: action names are case-insensitive", identity: &[r#"{"Statement":{"Effect":"Allow","Action":"ECS:createcluster","Resource":"*"}}"#], ..BASE },
    Case { why: "ACT: * matches the rest of the operation name", identity: &[r#"{"Statement":{"Effect":"Allow","Action":"ecs:Create*","Resource":"*"}}"#], ..BASE },
    Case { why: "ACT: a prefix wildcard does not match other operations", identity: &[r#"{"Statement":{"Effect":"Allow","Action":"ecs:Create*","Resource":"*"}}"#], action: "ecs:DeleteCluster", expect: i(IdentityBased), ..BASE },
    Case { why: "ACT: ? matches one character", identity: &[r#"{"Statement":{"Effect":"Allow","Action":"ecs:?reateCluster","Resource":"*"}}"#], ..BASE },
    Case { why: "ACT: the service prefix must match", identity: &[r#"{"Statement":{"Effect":"Allow","Action":"ec2:CreateCluster","Resource":"*"}}"#], expect: i(IdentityBased), ..BASE },
    Case { why: "NACT: Allow with NotAction allows every other action", identity: &[r#"{"Statement":{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}}"#], ..BASE },
    Case { why: "NACT: Allow with NotAction does not allow the listed actions", identity: &[r#"{"Statement":{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}}"#], action: "iam:GetUser", resource: None, expect: i(IdentityBased), ..BASE },
    Case { why: "NACT: Deny with NotAction denies every action not listed", identity: &[ALLOW_ALL, r#"{"Statement":{"Effect":"Deny","NotAction":["iam:*","sts:*"],"Resource":"*"}}"#], expect: x(IdentityBased), ..BASE },
    Case { why: "NACT: Deny with NotAction leaves the listed actions to other statements", identity: &[ALLOW_ALL, r#"{"Statement":{"Effect":"Deny","NotAction":["iam:*","sts:*"],"Resource":"*"}}"#], action: "iam:GetUser", resource: None, ..BASE },
    // --- Resource matching (RES, NRES) ---
    Case { why: "RES: an exact ARN", identity: &[r#"{"Statement":{"Effect":"Allow","Action":"ecs:*","Resource":"arn:aws:ecs:us-east-1:111122223333:cluster/prod"}}"#], ..BASE },
    Case { why: "RES: a wildcard in the resource part", identity: &[r#"{"Statement":{"Effect":"Allow","Action":"ecs:*","Resource":"arn:aws:ecs:us-east-1:111122223333:cluster/*"}}"#], ..BASE },
    Case { why: "RES: a wildcard region segment", identity: &[r#"{"Statement":{"Effect":"Allow","Action":"ecs:*","Resource":"arn:aws:ecs:*:111122223333:cluster/*"}}"#], ..BASE },
    Case { why: "RES: a segment wildcard does not cross into the account segment", identity: &[r#"{"Statement":{"Effect":"Allow","Action":"ecs:*","Resource":"arn:aws:ecs:*:444455556666:cluster/*"}}"#], expect: i(IdentityBased), ..BASE },
    Case { why: "RES: AWS managed resources (account `aws`) are every account's to use under its identity policies", identity: &[r#"{"Statement":{"Effect":"Allow","Action":"iam:GetPolicy","Resource":"arn:aws:iam::aws:policy/*"}}"#], action: "iam:GetPolicy", resource: Some("arn:aws:iam::aws:policy/AdministratorAccess"), ..BASE },
    Case { why: "RES: an AWS managed resource still needs an identity policy that allows", action: "iam:GetPolicy", resource: Some("arn:aws:iam::aws:policy/AdministratorAccess"), expect: i(IdentityBased), ..BASE },
    Case { why: "RES: resource ARNs are case-sensitive", identity: &[r#"{"Statement":{"Effect":"Allow","Action":"ecs:*","Resource":"arn:aws:ecs:us-east-1:111122223333:cluster/Prod"}}"#], expect: i(IdentityBased), ..BASE },
    Case { why: "RES: the resource part may contain colons", identity: &[r#"{"Statement":{"Effect":"Allow","Action":"logs:*","Resource":"arn:aws:logs:us-east-1:111122223333:log-group:/ecs/*"}}"#], action: "logs:PutLogEvents", resource: Some("arn:aws:logs:us-east-1:111122223333:log-group:/ecs/app:log-stream:x"), ..BASE },
    Case { why: "RES: \"*\" covers actions without a resource", identity: &[ALLOW_ALL], action: "ecs:ListClusters", resource: None, ..BASE },
    Case { why: "RES: an ARN pattern does not cover an action without a resource", identity: &[r#"{"Statement":{"Effect":"Allow","Action":"ecs:*","Resource":"arn:aws:ecs:*:*:*"}}"#], action: "ecs:ListClusters", resource: None, expect: i(IdentityBased), ..BASE },
    Case { why: "NRES: Allow with NotResource allows other resources", identity: &[r#"{"Statement":{"Effect":"Allow","Action":"ecs:*","NotResource":"arn:aws:ecs:*:*:cluster/secret"}}"#], ..BASE },
    Case { why: "NRES: Allow with NotResource does not allow the listed resource", identity: &[r#"{"Statement":{"Effect":"Allow","Action":"ecs:*","NotResource":"arn:aws:ecs:*:*:cluster/prod"}}"#], expect: i(IdentityBased), ..BASE },
    Case { why: "NRES: Deny with NotResource denies everything else", identity: &[ALLOW_ALL, r#"{"Statement":{"Effect":"Deny","Action":"*","NotResource":"arn:aws:ecs:*:*:cluster/dev"}}"#], expect: x(IdentityBased), ..BASE },
    // --- Policy variables in Resource (PV) ---
    Case { why: "PV: ${aws:username} in the resource part", identity: &[r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::bucket/home/${aws:username}/*"}}"#], action: "s3:GetObject", resource: Some("arn:aws:s3:::bucket/home/alice/a.txt"), ..BASE },
    Case { why: "PV: another user's directory is not covered", identity: &[r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::bucket/home/${aws:username}/*"}}"#], action: "s3:GetObject", resource: Some("arn:aws:s3:::bucket/home/bob/a.txt"), expect: i(IdentityBased), ..BASE },
    Case { why: "PV: without Version 2012-10-17 variables are literal", identity: &[r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::bucket/home/${aws:username}/*"}}"#], action: "s3:GetObject", resource: Some("arn:aws:s3:::bucket/home/alice/a.txt"), expect: i(IdentityBased), ..BASE },
    Case { why: "PV: role sessions have no aws:username, so the Allow cannot apply", who: deployer, identity: &[r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::bucket/home/${aws:username}/*"}}"#], action: "s3:GetObject", resource: Some("arn:aws:s3:::bucket/home/s1/a.txt"), expect: i(IdentityBased), ..BASE },
    Case { why: "PV: an unresolvable variable in a Deny still denies (fail closed)", who: deployer, identity: &[ALLOW_ALL, r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"s3:*","NotResource":"arn:aws:s3:::bucket/home/${aws:username}/*"}}"#], action: "s3:GetObject", resource: Some("arn:aws:s3:::bucket/home/s1/a.txt"), expect: x(IdentityBased), ..BASE },
    Case { why: "PV: variables before the fifth colon are not substituted", identity: &[r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ecs:*","Resource":"arn:aws:ecs:${aws:RequestedRegion}:111122223333:cluster/*"}}"#], keys: &[("aws:RequestedRegion", "us-east-1")], expect: i(IdentityBased), ..BASE },
    Case { why: "PV: a principal tag in the resource part", identity: &[r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ecs:*","Resource":"arn:aws:ecs:*:*:cluster/${aws:PrincipalTag/team}-*"}}"#], resource: Some("arn:aws:ecs:us-east-1:111122223333:cluster/blue-prod"), ..BASE },
    // --- Service control policies (SCP; EL step 2) ---
    Case { why: "SCP: FullAWSAccess plus an identity Allow allows", identity: &[ALLOW_ALL], scps: Some(&[&[ALLOW_ALL]]), ..BASE },
    Case { why: "SCP: a Deny in an SCP wins over an identity Allow", identity: &[ALLOW_ALL], scps: Some(&[&[ALLOW_ALL, DENY_ECS_CREATE]]), expect: x(ServiceControlPolicy), ..BASE },
    Case { why: "SCP: an allow-list SCP without the action implicitly denies", identity: &[ALLOW_ALL], scps: Some(&[&[ALLOW_S3]]), expect: i(ServiceControlPolicy), ..BASE },
    Case { why: "SCP: SCPs limit the member account's root user (Deny)", who: root, scps: Some(&[&[ALLOW_ALL, DENY_ECS_CREATE]]), expect: x(ServiceControlPolicy), ..BASE },
    Case { why: "SCP: SCPs limit the member account's root user (allow-list)", who: root, scps: Some(&[&[ALLOW_S3]]), expect: i(ServiceControlPolicy), ..BASE },
    Case { why: "SCP: root of a member account is allowed what SCPs allow", who: root, scps: Some(&[&[ALLOW_ALL]]), ..BASE },
    Case { why: "SCP: the management account is not subject to SCPs (root)", who: root, ..BASE },
    Case { why: "SCP: every level of the organization must allow (OU level denies)", identity: &[ALLOW_ALL], scps: Some(&[&[ALLOW_ALL], &[ALLOW_S3]]), expect: i(ServiceControlPolicy), ..BASE },
    Case { why: "SCP: every level allows", identity: &[ALLOW_ALL], scps: Some(&[&[ALLOW_ALL], &[ALLOW_ECS], &[ALLOW_ALL]]), ..BASE },
    Case { why: "SCP: a level with no policy allows nothing", identity: &[ALLOW_ALL], scps: Some(&[&[ALLOW_ALL], &[]]), expect: i(ServiceControlPolicy), ..BASE },
    Case { why: "SCP: SCPs never grant; identity policies must still allow", scps: Some(&[&[ALLOW_ALL]]), expect: i(IdentityBased), ..BASE },
    Case { why: "SCP: conditions in an SCP Deny (key absent -> denied)", identity: &[ALLOW_ALL], scps: Some(&[&[ALLOW_ALL, r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"ecs:CreateCluster","Resource":"*","Condition":{"Null":{"ecs:fargate-ephemeral-storage-kms-key":"true"}}}}"#]]), expect: x(ServiceControlPolicy), ..BASE },
    Case { why: "SCP: conditions in an SCP Deny (key present -> allowed)", identity: &[ALLOW_ALL], scps: Some(&[&[ALLOW_ALL, r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"ecs:CreateCluster","Resource":"*","Condition":{"Null":{"ecs:fargate-ephemeral-storage-kms-key":"true"}}}}"#]]), keys: &[("ecs:fargate-ephemeral-storage-kms-key", KEY)], ..BASE },
    Case { why: "SCP: Allow statements with conditions (full language)", identity: &[ALLOW_ALL], scps: Some(&[&[r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:RequestedRegion":"eu-west-1"}}}}"#]]), keys: &[("aws:RequestedRegion", "us-east-1")], expect: i(ServiceControlPolicy), ..BASE },
    Case { why: "SCP: Deny with NotAction", identity: &[ALLOW_ALL], scps: Some(&[&[ALLOW_ALL, r#"{"Statement":{"Effect":"Deny","NotAction":"iam:*","Resource":"*"}}"#]]), expect: x(ServiceControlPolicy), ..BASE },
    Case { why: "SCP: an explicit deny is reported for the SCP before the identity policy", identity: &[ALLOW_ALL, DENY_ECS_CREATE], scps: Some(&[&[ALLOW_ALL, DENY_ECS_CREATE]]), expect: x(ServiceControlPolicy), ..BASE },
    Case { why: "SCP: SCPs do not apply to service principals", who: fargate, action: "kms:Decrypt", resource: Some(KEY), scps: Some(&[&[]]), rp: Some((KP_ALLOW_KMS, r#"{"Service":"fargate.amazonaws.com"}"#, KeyPolicy)), ..BASE },
    Case { why: "SCP: they apply to role sessions of member accounts", who: deployer, identity: &[ALLOW_ALL], scps: Some(&[&[ALLOW_S3]]), expect: i(ServiceControlPolicy), ..BASE },
    // --- Resource control policies ---
    Case { why: "RCP: a Deny in an RCP wins", identity: &[ALLOW_ALL], rcps: Some(&[&[ALLOW_ALL, DENY_ECS_CREATE]]), expect: x(ResourceControlPolicy), ..BASE },
    Case { why: "RCP: every level must allow", identity: &[ALLOW_ALL], rcps: Some(&[&[ALLOW_S3]]), expect: i(ResourceControlPolicy), ..BASE },
    // --- Resource-based policies within one account (EL step 3) ---
    Case { why: "EL: an Allow naming the IAM user directly suffices", rp: Some((RP_ALLOW_ECS, r#"{"AWS":"arn:aws:iam::111122223333:user/alice"}"#, Standard)), ..BASE },
    Case { why: "PR: naming the account delegates; identity policies must allow", rp: Some((RP_ALLOW_ECS, r#"{"AWS":"111122223333"}"#, Standard)), expect: i(IdentityBased), ..BASE },
    Case { why: "PR: the account root ARN delegates like the account id", rp: Some((RP_ALLOW_ECS, r#"{"AWS":"arn:aws:iam::111122223333:root"}"#, Standard)), expect: i(IdentityBased), ..BASE },
    Case { why: "PR: delegation plus an identity Allow allows", identity: &[ALLOW_ECS], rp: Some((RP_ALLOW_ECS, r#"{"AWS":"111122223333"}"#, Standard)), ..BASE },
    Case { why: "EL: naming the role allows its sessions without identity policies", who: deployer, rp: Some((RP_ALLOW_ECS, r#"{"AWS":"arn:aws:iam::111122223333:role/ops/Deployer"}"#, Standard)), ..BASE },
    Case { why: "EL: a grant to the role ARN is limited by the permissions boundary", who: deployer, boundary: Some(ALLOW_S3), rp: Some((RP_ALLOW_ECS, r#"{"AWS":"arn:aws:iam::111122223333:role/ops/Deployer"}"#, Standard)), expect: i(PermissionsBoundary), ..BASE },
    Case { why: "EL: a grant to the role ARN is limited by session policies", who: deployer, session: Some(&[ALLOW_S3]), rp: Some((RP_ALLOW_ECS, r#"{"AWS":"arn:aws:iam::111122223333:role/ops/Deployer"}"#, Standard)), expect: i(SessionPolicy), ..BASE },
    Case { why: "EL: a grant to the role-session ARN is not limited by boundary or session policy", who: deployer, boundary: Some(ALLOW_S3), session: Some(&[ALLOW_S3]), rp: Some((RP_ALLOW_ECS, r#"{"AWS":"arn:aws:sts::111122223333:assumed-role/Deployer/s1"}"#, Standard)), ..BASE },
    Case { why: "EL: a grant to the user ARN is not limited by the boundary", boundary: Some(ALLOW_S3), rp: Some((RP_ALLOW_ECS, r#"{"AWS":"arn:aws:iam::111122223333:user/alice"}"#, Standard)), ..BASE },
    Case { why: "PR: Principal * grants principals of the same account without identity policies", rp: Some((RP_ALLOW_ECS, r#""*""#, Standard)), ..BASE },
    Case { why: "PR: {\"AWS\":\"*\"} is the same as \"*\"", rp: Some((RP_ALLOW_ECS, r#"{"AWS":"*"}"#, Standard)), ..BASE },
    Case { why: "EL: a Deny in the resource policy wins over identity Allows", identity: &[ALLOW_ALL], rp: Some((RP_DENY_ECS, r#"{"AWS":"arn:aws:iam::111122223333:user/alice"}"#, Standard)), expect: x(ResourceBased), ..BASE },
    Case { why: "EL: a resource policy naming someone else leaves identity policies to decide", identity: &[ALLOW_ECS], rp: Some((RP_ALLOW_ECS, r#"{"AWS":"arn:aws:iam::111122223333:user/carol"}"#, Standard)), ..BASE },
    Case { why: "EL: a resource Deny naming someone else does not apply", identity: &[ALLOW_ECS], rp: Some((RP_DENY_ECS, r#"{"AWS":"arn:aws:iam::111122223333:user/carol"}"#, Standard)), ..BASE },
    Case { why: "NPR: Deny with NotPrincipal exempts a user listed with its account", identity: &[ALLOW_ECS], rp: Some((NOT_PRINCIPAL_DENY, r#"{"AWS":["arn:aws:iam::111122223333:user/alice","111122223333"]}"#, Standard)), ..BASE },
    Case { why: "NPR: Deny with NotPrincipal listing only the user still denies it (account layer)", identity: &[ALLOW_ECS], rp: Some((NOT_PRINCIPAL_DENY, r#"{"AWS":"arn:aws:iam::111122223333:user/alice"}"#, Standard)), expect: x(ResourceBased), ..BASE },
    Case { why: "NPR: Deny with NotPrincipal denies principals not listed", identity: &[ALLOW_ECS], rp: Some((NOT_PRINCIPAL_DENY, r#"{"AWS":["arn:aws:iam::111122223333:user/carol","111122223333"]}"#, Standard)), expect: x(ResourceBased), ..BASE },
    Case { why: "EL: a resource Allow whose condition fails does not allow", rp: Some((r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{p},"Action":"ecs:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"true"}}}}"#, r#"{"AWS":"arn:aws:iam::111122223333:user/alice"}"#, Standard)), keys: &[("aws:SecureTransport", "false")], expect: i(IdentityBased), ..BASE },
    // --- KMS key policies: mandatory (EL step 3 exception; KMS) ---
    Case { why: "KMS: key policy delegating to the account plus an IAM Allow allows", action: "kms:Decrypt", resource: Some(KEY), identity: &[ALLOW_KMS], rp: Some((KP_ALLOW_KMS, r#"{"AWS":"arn:aws:iam::111122223333:root"}"#, KeyPolicy)), ..BASE },
    Case { why: "KMS: delegation without an IAM Allow denies", action: "kms:Decrypt", resource: Some(KEY), rp: Some((KP_ALLOW_KMS, r#"{"AWS":"arn:aws:iam::111122223333:root"}"#, KeyPolicy)), expect: i(IdentityBased), ..BASE },
    Case { why: "KMS: IAM policies alone never give access to a key", action: "kms:Decrypt", resource: Some(KEY), identity: &[ALLOW_ALL], rp: Some((KP_ALLOW_KMS, r#"{"AWS":"arn:aws:iam::111122223333:user/carol"}"#, KeyPolicy)), expect: i(ResourceBased), ..BASE },
    Case { why: "KMS: a key policy naming the user allows without IAM policies", action: "kms:Decrypt", resource: Some(KEY), rp: Some((KP_ALLOW_KMS, r#"{"AWS":"arn:aws:iam::111122223333:user/alice"}"#, KeyPolicy)), ..BASE },
    Case { why: "KMS: the account root has no access the key policy does not give", who: root, action: "kms:Decrypt", resource: Some(KEY), rp: Some((KP_ALLOW_KMS, r#"{"AWS":"arn:aws:iam::111122223333:user/alice"}"#, KeyPolicy)), expect: i(ResourceBased), ..BASE },
    Case { why: "KMS: the account root is allowed when the key policy names the account", who: root, action: "kms:Decrypt", resource: Some(KEY), rp: Some((KP_ALLOW_KMS, r#"{"AWS":"111122223333"}"#, KeyPolicy)), ..BASE },
    Case { why: "KMS: a Deny in the key policy wins", action: "kms:Decrypt", resource: Some(KEY), identity: &[ALLOW_KMS], rp: Some((KP_DENY_KMS, r#"{"AWS":"arn:aws:iam::111122223333:user/alice"}"#, KeyPolicy)), expect: x(ResourceBased), ..BASE },
    Case { why: "KMS: no key policy at all is not an allow", action: "kms:Decrypt", resource: Some(KEY), identity: &[ALLOW_ALL], rp: Some((KP_ALLOW_KMS, r#"{"Service":"ec2.amazonaws.com"}"#, KeyPolicy)), expect: i(ResourceBased), ..BASE },
    Case { why: "KMS: a grant allows without key policy or IAM allows", action: "kms:Decrypt", resource: Some(KEY), grant: Some("g-1"), rp: Some((KP_ALLOW_KMS, r#"{"AWS":"arn:aws:iam::111122223333:user/carol"}"#, KeyPolicy)), ..BASE },
    Case { why: "KMS: a grant does not override an explicit deny", action: "kms:Decrypt", resource: Some(KEY), grant: Some("g-1"), rp: Some((KP_DENY_KMS, r#"{"AWS":"arn:aws:iam::111122223333:user/alice"}"#, KeyPolicy)), expect: x(ResourceBased), ..BASE },
    Case { why: "KMS: a grant does not override SCPs", action: "kms:Decrypt", resource: Some(KEY), grant: Some("g-1"), scps: Some(&[&[ALLOW_S3]]), expect: i(ServiceControlPolicy), ..BASE },
    // --- Cross-account (XA) ---
    Case { why: "XA: resource policy and identity policy both allow", who: bob_other, identity: &[ALLOW_ECS], rp: Some((RP_ALLOW_ECS, r#"{"AWS":"444455556666"}"#, Standard)), ..BASE },
    Case { why: "XA: the resource policy alone is not enough", who: bob_other, rp: Some((RP_ALLOW_ECS, r#"{"AWS":"444455556666"}"#, Standard)), expect: i(IdentityBased), ..BASE },
    Case { why: "XA: naming the user directly still needs its identity policy", who: bob_other, rp: Some((RP_ALLOW_ECS, r#"{"AWS":"arn:aws:iam::444455556666:user/bob"}"#, Standard)), expect: i(IdentityBased), ..BASE },
    Case { why: "XA: the identity policy alone is not enough", who: bob_other, identity: &[ALLOW_ALL], expect: i(ResourceBased), ..BASE },
    Case { why: "XA: a resource policy naming a third account does not allow", who: bob_other, identity: &[ALLOW_ALL], rp: Some((RP_ALLOW_ECS, r#"{"AWS":"777788889999"}"#, Standard)), expect: i(ResourceBased), ..BASE },
    Case { why: "XA: the caller's boundary applies on its side", who: bob_other, identity: &[ALLOW_ALL], boundary: Some(ALLOW_S3), rp: Some((RP_ALLOW_ECS, r#"{"AWS":"444455556666"}"#, Standard)), expect: i(PermissionsBoundary), ..BASE },
    Case { why: "XA: the caller's SCPs apply", who: bob_other, identity: &[ALLOW_ALL], scps: Some(&[&[ALLOW_S3]]), rp: Some((RP_ALLOW_ECS, r#"{"AWS":"444455556666"}"#, Standard)), expect: i(ServiceControlPolicy), ..BASE },
    Case { why: "XA: another account's root is allowed when the resource policy names its account", who: root_other, rp: Some((RP_ALLOW_ECS, r#"{"AWS":"arn:aws:iam::444455556666:root"}"#, Standard)), ..BASE },
    Case { why: "XA+KMS: an external key whose policy names our account, plus IAM allow", action: "kms:Decrypt", resource: Some(OTHER_KEY), identity: &[ALLOW_KMS], rp: Some((KP_ALLOW_KMS, r#"{"AWS":"111122223333"}"#, KeyPolicy)), ..BASE },
    Case { why: "XA+KMS: an external key without IAM allow", action: "kms:Decrypt", resource: Some(OTHER_KEY), rp: Some((KP_ALLOW_KMS, r#"{"AWS":"111122223333"}"#, KeyPolicy)), expect: i(IdentityBased), ..BASE },
    // --- Role trust policies (EL step 3 exception; PR) ---
    Case { why: "PR: a service named in a trust policy can assume the role", who: ec2, action: "sts:AssumeRole", resource: Some(ROLE_ARN), rp: Some((TRUST, r#"{"Service":"ec2.amazonaws.com"}"#, Trust)), ..BASE },
    Case { why: "PR: a trust policy naming the account needs the caller's sts:AssumeRole allow", action: "sts:AssumeRole", resource: Some(ROLE_ARN), identity: &[ALLOW_ASSUME], rp: Some((TRUST, r#"{"AWS":"111122223333"}"#, Trust)), ..BASE },
    Case { why: "PR: ... and without it the caller is denied", action: "sts:AssumeRole", resource: Some(ROLE_ARN), rp: Some((TRUST, r#"{"AWS":"111122223333"}"#, Trust)), expect: i(IdentityBased), ..BASE },
    Case { why: "EL: a trust policy that names no one matching denies, whatever IAM allows", action: "sts:AssumeRole", resource: Some(ROLE_ARN), identity: &[ALLOW_ALL], rp: Some((TRUST, r#"{"Service":"ec2.amazonaws.com"}"#, Trust)), expect: i(RoleTrust), ..BASE },
    Case { why: "EL: a trust policy naming the user allows in the same account", action: "sts:AssumeRole", resource: Some(ROLE_ARN), rp: Some((TRUST, r#"{"AWS":"arn:aws:iam::111122223333:user/alice"}"#, Trust)), ..BASE },
    Case { why: "PR: a Federated principal names the identity provider", who: web_identity, action: "sts:AssumeRoleWithWebIdentity", resource: Some(ROLE_ARN), rp: Some((r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{p},"Action":"sts:AssumeRoleWithWebIdentity"}}"#, r#"{"Federated":"accounts.google.com"}"#, Trust)), ..BASE },
    Case { why: "PR: trust conditions (sts:ExternalId) must hold", who: bob_other, action: "sts:AssumeRole", resource: Some(ROLE_ARN), identity: &[ALLOW_ASSUME], rp: Some((r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{p},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"xyz"}}}}"#, r#"{"AWS":"444455556666"}"#, Trust)), keys: &[("sts:ExternalId", "abc")], expect: i(RoleTrust), ..BASE },
    Case { why: "PR: trust conditions that hold allow a cross-account AssumeRole", who: bob_other, action: "sts:AssumeRole", resource: Some(ROLE_ARN), identity: &[ALLOW_ASSUME], rp: Some((r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{p},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"xyz"}}}}"#, r#"{"AWS":"444455556666"}"#, Trust)), keys: &[("sts:ExternalId", "xyz")], ..BASE },
    // --- Permissions boundaries (PB; EL step 5) ---
    Case { why: "PB: identity and boundary both allow", identity: &[ALLOW_ALL], boundary: Some(ALLOW_ECS), ..BASE },
    Case { why: "PB: the boundary does not allow", identity: &[ALLOW_ALL], boundary: Some(ALLOW_S3), expect: i(PermissionsBoundary), ..BASE },
    Case { why: "PB: a boundary never grants by itself", boundary: Some(ALLOW_ALL), expect: i(IdentityBased), ..BASE },
    Case { why: "PB: a Deny in the boundary is an explicit deny", identity: &[ALLOW_ALL], boundary: Some(DENY_ECS_CREATE), expect: x(PermissionsBoundary), ..BASE },
    // --- Session policies (SP; EL step 6) ---
    Case { why: "SP: identity and session policy both allow", who: deployer, identity: &[ALLOW_ALL], session: Some(&[ALLOW_ECS]), ..BASE },
    Case { why: "SP: the session policy does not allow", who: deployer, identity: &[ALLOW_ALL], session: Some(&[ALLOW_S3]), expect: i(SessionPolicy), ..BASE },
    Case { why: "SP: a session policy never grants by itself", who: deployer, session: Some(&[ALLOW_ALL]), expect: i(IdentityBased), ..BASE },
    Case { why: "SP: a Deny in a session policy is an explicit deny", who: deployer, identity: &[ALLOW_ALL], session: Some(&[ALLOW_ALL, DENY_ECS_CREATE]), expect: x(SessionPolicy), ..BASE },
    Case { why: "EL: a federated-user session without a session policy is denied", who: federated, identity: &[ALLOW_ALL], expect: i(SessionPolicy), ..BASE },
    Case { why: "EL: a role session without a session policy is decided by identity policies", who: deployer, identity: &[ALLOW_ALL], ..BASE },
    // --- Service and anonymous principals ---
    Case { why: "PR: a service with no resource policy has nothing that allows it", who: fargate, action: "kms:Decrypt", resource: Some(KEY), expect: i(ResourceBased), ..BASE },
    Case { why: "PR: a Service principal names only that service", who: fargate, action: "kms:Decrypt", resource: Some(KEY), rp: Some((KP_ALLOW_KMS, r#"{"Service":"ec2.amazonaws.com"}"#, KeyPolicy)), expect: i(ResourceBased), ..BASE },
    Case { why: "PR: an account principal does not name a service", who: fargate, action: "kms:Decrypt", resource: Some(KEY), rp: Some((KP_ALLOW_KMS, r#"{"AWS":"111122223333"}"#, KeyPolicy)), expect: i(ResourceBased), ..BASE },
    Case { why: "PR: Principal * with Allow grants anonymous access", who: PrincipalInfo::anonymous, action: "s3:GetObject", resource: Some("arn:aws:s3:::public/x"), rp: Some((r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{p},"Action":"s3:GetObject","Resource":"*"}}"#, r#""*""#, Standard)), ..BASE },
    Case { why: "EL: anonymous callers are denied without a resource policy", who: PrincipalInfo::anonymous, action: "s3:GetObject", resource: Some("arn:aws:s3:::public/x"), identity: &[ALLOW_ALL], expect: i(ResourceBased), ..BASE },
];

fn ec2() -> PrincipalInfo {
    PrincipalInfo::service("ec2.amazonaws.com")
}

fn web_identity() -> PrincipalInfo {
    PrincipalInfo::anonymous().with_federated_provider("accounts.google.com")
}

fn federated() -> PrincipalInfo {
    PrincipalInfo::federated_user(ACCT, "fed")
}

/// A Deny with `NotPrincipal`; `{p}` is the NotPrincipal value.
const NOT_PRINCIPAL_DENY: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","NotPrincipal":{p},"Action":"ecs:*","Resource":"*"}}"#;

fn named(ps: &[Policy]) -> Vec<NamedPolicy<'_>> {
    ps.iter().map(|p| NamedPolicy::new("p", p)).collect()
}

fn run(c: &Case) -> Expect {
    let parse_all =
        |docs: &[&str], kind| docs.iter().map(|d| parse(d, kind)).collect::<Vec<Policy>>();
    let ids = parse_all(c.identity, PolicyKind::Identity);
    let scps: Option<Vec<Vec<Policy>>> = c.scps.map(|levels| {
        levels
            .iter()
            .map(|l| parse_all(l, PolicyKind::ServiceControl))
            .collect()
    });
    let rcps: Option<Vec<Vec<Policy>>> = c.rcps.map(|levels| {
        levels
            .iter()
            .map(|l| parse_all(l, PolicyKind::ServiceControl))
            .collect()
    });
    let boundary = c.boundary.map(|b| parse(b, PolicyKind::Identity));
    let session = c.session.map(|s| parse_all(s, PolicyKind::Identity));
    let rp = c.rp.map(|(tpl, principal, kind)| {
        let pk = if kind == Trust {
            PolicyKind::RoleTrust
        } else {
            PolicyKind::Resource
        };
        (parse(&tpl.replace("{p}", principal), pk), kind)
    });

    let mut ctx = RequestContext::new((c.who)(), c.action);
    if let Some(r) = c.resource {
        ctx = ctx.with_resource(r);
    }
    for (k, v) in c.keys {
        ctx = ctx.with(k, *v);
    }
    let id_named = named(&ids);
    let scp_named: Option<Vec<Vec<NamedPolicy<'_>>>> = scps
        .as_ref()
        .map(|l| l.iter().map(|ps| named(ps)).collect());
    let rcp_named: Option<Vec<Vec<NamedPolicy<'_>>>> = rcps
        .as_ref()
        .map(|l| l.iter().map(|ps| named(ps)).collect());
    let session_named = session.as_ref().map(|s| named(s));

    let mut input = EvaluationInput::new(&ctx).with_identity(&id_named);
    if let Some(l) = &scp_named {
        input = input.with_scps(l);
    }
    if let Some(l) = &rcp_named {
        input = input.with_rcps(l);
    }
    if let Some(b) = &boundary {
        input = input.with_boundary(NamedPolicy::new("boundary", b));
    }
    if let Some(s) = &session_named {
        input = input.with_session_policies(s);
    }
    if let Some((p, kind)) = &rp {
        input = input.with_resource_policy(NamedPolicy::new("resource", p), *kind);
    }
    if let Some(g) = c.grant {
        input = input.with_grant(g);
    }
    outcome(&evaluate(&input))
}

#[test]
fn evaluation_table() {
    assert!(CASES.len() >= 100, "{} cases", CASES.len());
    let failures: Vec<String> = CASES
        .iter()
        .enumerate()
        .filter_map(|(n, c)| {
            let got = run(c);
            (got != c.expect).then(|| {
                format!(
                    "case {n}: {} -> expected {:?}, got {got:?}",
                    c.why, c.expect
                )
            })
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} failing cases:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
