//! `AccessDenied` wording, pinned per policy type (IAM User Guide, *Troubleshoot access denied
//! error messages*), and the reasons behind decisions.

mod common;

use common::*;
use ferrogate_policy::{
    evaluate, DecisionEffect, EvaluationInput, MatchedStatement, NamedPolicy, Policy, PolicyKind,
    PolicyType, Reason, RequestContext, ResourcePolicyKind,
};

const ALLOW_ALL: &str =
    r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#;
const ALLOW_S3: &str =
    r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#;
const DENY_ALL: &str = r#"{"Version":"2012-10-17","Statement":{"Sid":"NoWay","Effect":"Deny","Action":"*","Resource":"*"}}"#;
const PREFIX: &str = "User: arn:aws:iam::111122223333:user/alice is not authorized to perform: codedeploy:ListDeployments on resource: arn:aws:codedeploy:us-east-1:111122223333:deploymentgroup:*";

fn ctx() -> RequestContext {
    RequestContext::new(alice(), "codedeploy:ListDeployments")
        .with_resource("arn:aws:codedeploy:us-east-1:111122223333:deploymentgroup:*")
}

fn id(json: &str) -> Policy {
    identity(json)
}

fn scp(json: &str) -> Policy {
    parse(json, PolicyKind::ServiceControl)
}

/// Evaluates with the given parts; `None` leaves a part absent.
fn message(
    identity: &[&Policy],
    scps: Option<&[&Policy]>,
    boundary: Option<&Policy>,
    session: Option<&[&Policy]>,
    rp: Option<(&Policy, ResourcePolicyKind)>,
) -> String {
    let c = ctx();
    let ids: Vec<_> = identity.iter().map(|p| NamedPolicy::new("id", p)).collect();
    let levels: Option<Vec<Vec<_>>> =
        scps.map(|s| vec![s.iter().map(|p| NamedPolicy::new("scp", p)).collect()]);
    let sess: Option<Vec<_>> =
        session.map(|s| s.iter().map(|p| NamedPolicy::new("session", p)).collect());
    let mut input = EvaluationInput::new(&c).with_identity(&ids);
    if let Some(l) = &levels {
        input = input.with_scps(l);
    }
    if let Some(b) = boundary {
        input = input.with_boundary(NamedPolicy::new("boundary", b));
    }
    if let Some(s) = &sess {
        input = input.with_session_policies(s);
    }
    if let Some((p, k)) = rp {
        input = input.with_resource_policy(NamedPolicy::new("rp", p), k);
    }
    evaluate(&input)
        .access_denied_message(&c)
        .expect("a denial")
}

#[test]
fn identity_based() {
    assert_eq!(
        message(&[], None, None, None, None),
        format!("{PREFIX} because no identity-based policy allows the codedeploy:ListDeployments action")
    );
    assert_eq!(
        message(&[&id(ALLOW_ALL), &id(DENY_ALL)], None, None, None, None),
        format!("{PREFIX} with an explicit deny in an identity-based policy")
    );
}

#[test]
fn service_control_policy() {
    let allow = id(ALLOW_ALL);
    assert_eq!(
        message(&[&allow], Some(&[&scp(ALLOW_S3)]), None, None, None),
        format!("{PREFIX} because no service control policy allows the codedeploy:ListDeployments action")
    );
    assert_eq!(
        message(
            &[&allow],
            Some(&[&scp(ALLOW_ALL), &scp(DENY_ALL)]),
            None,
            None,
            None
        ),
        format!("{PREFIX} with an explicit deny in a service control policy")
    );
}

#[test]
fn permissions_boundary() {
    let allow = id(ALLOW_ALL);
    assert_eq!(
        message(&[&allow], None, Some(&id(ALLOW_S3)), None, None),
        format!(
            "{PREFIX} because no permissions boundary allows the codedeploy:ListDeployments action"
        )
    );
    assert_eq!(
        message(&[&allow], None, Some(&id(DENY_ALL)), None, None),
        format!("{PREFIX} with an explicit deny in a permissions boundary")
    );
}

#[test]
fn session_policy() {
    let allow = id(ALLOW_ALL);
    assert_eq!(
        message(&[&allow], None, None, Some(&[&id(ALLOW_S3)]), None),
        format!("{PREFIX} because no session policy allows the codedeploy:ListDeployments action")
    );
    assert_eq!(
        message(&[&allow], None, None, Some(&[&id(DENY_ALL)]), None),
        format!("{PREFIX} with an explicit deny in a session policy")
    );
}

#[test]
fn resource_based_and_trust() {
    let deny = parse(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Principal":"*","Action":"*","Resource":"*"}}"#,
        PolicyKind::Resource,
    );
    let other = parse(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"444455556666"},"Action":"*","Resource":"*"}}"#,
        PolicyKind::Resource,
    );
    let allow = id(ALLOW_ALL);
    assert_eq!(
        message(
            &[&allow],
            None,
            None,
            None,
            Some((&deny, ResourcePolicyKind::Standard))
        ),
        format!("{PREFIX} with an explicit deny in a resource-based policy")
    );
    assert_eq!(
        message(&[&allow], None, None, None, Some((&other, ResourcePolicyKind::KeyPolicy))),
        format!("{PREFIX} because no resource-based policy allows the codedeploy:ListDeployments action")
    );
    let trust_deny = parse(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Principal":"*","Action":"*"}}"#,
        PolicyKind::RoleTrust,
    );
    let trust_other = parse(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}}"#,
        PolicyKind::RoleTrust,
    );
    assert_eq!(
        message(
            &[&allow],
            None,
            None,
            None,
            Some((&trust_deny, ResourcePolicyKind::RoleTrust))
        ),
        format!("{PREFIX} with an explicit deny in the role trust policy")
    );
    assert_eq!(
        message(
            &[&allow],
            None,
            None,
            None,
            Some((&trust_other, ResourcePolicyKind::RoleTrust))
        ),
        format!(
            "{PREFIX} because no role trust policy allows the codedeploy:ListDeployments action"
        )
    );
}

#[test]
fn resource_control_policy() {
    let c = ctx();
    let allow = id(ALLOW_ALL);
    let (rcp_allow, rcp_deny) = (scp(ALLOW_ALL), scp(DENY_ALL));
    let ids = [NamedPolicy::new("id", &allow)];
    let levels = [vec![
        NamedPolicy::new("rcp", &rcp_allow),
        NamedPolicy::new("rcp-deny", &rcp_deny),
    ]];
    let d = evaluate(
        &EvaluationInput::new(&c)
            .with_identity(&ids)
            .with_rcps(&levels),
    );
    assert_eq!(
        d.access_denied_message(&c).unwrap(),
        format!("{PREFIX} with an explicit deny in a resource control policy")
    );
}

#[test]
fn no_resource_clause_without_resources() {
    let c = RequestContext::new(alice(), "codecommit:ListRepositories");
    let d = decide_identity(&c, &[]);
    assert_eq!(
        d.access_denied_message(&c).unwrap(),
        "User: arn:aws:iam::111122223333:user/alice is not authorized to perform: codecommit:ListRepositories \
         because no identity-based policy allows the codecommit:ListRepositories action"
    );
    assert_eq!(d.resource, None);
}

#[test]
fn session_arn_and_denied_resource_are_named() {
    let c = RequestContext::new(deployer(), "s3:GetObject")
        .with_resource("arn:aws:s3:::allowed/a")
        .with_resource("arn:aws:s3:::secret/b");
    let p = identity(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::allowed/*"}}"#,
    );
    let d = decide_identity(&c, &[p]);
    assert_eq!(d.resource.as_deref(), Some("arn:aws:s3:::secret/b"));
    assert_eq!(
        d.access_denied_message(&c).unwrap(),
        "User: arn:aws:sts::111122223333:assumed-role/Deployer/s1 is not authorized to perform: s3:GetObject on \
         resource: arn:aws:s3:::secret/b because no identity-based policy allows the s3:GetObject action"
    );
}

#[test]
fn allow_has_no_message() {
    let c = ctx();
    let d = decide_identity(&c, &[id(ALLOW_ALL)]);
    assert!(d.is_allowed());
    assert_eq!(d.access_denied_message(&c), None);
}

#[test]
fn reasons_name_the_deciding_statement() {
    let c = ctx();
    let d = decide_identity(&c, &[id(ALLOW_S3), id(ALLOW_ALL), id(DENY_ALL)]);
    assert_eq!(d.effect, DecisionEffect::ExplicitDeny);
    assert_eq!(
        d.reason,
        Reason::Statement(MatchedStatement {
            policy_type: PolicyType::IdentityBased,
            policy: "p2".into(),
            index: 0,
            sid: Some("NoWay".into()),
        })
    );
    let allowed = decide_identity(&c, &[id(ALLOW_S3), id(ALLOW_ALL)]);
    let Reason::Statement(s) = allowed.reason else {
        panic!()
    };
    assert_eq!((s.policy.as_str(), s.index, s.sid), ("p1", 0, None));

    let root_ctx = RequestContext::new(root(), "codedeploy:ListDeployments");
    assert_eq!(
        evaluate(&EvaluationInput::new(&root_ctx)).reason,
        Reason::AccountRoot
    );
    let granted = evaluate(&EvaluationInput::new(&c).with_grant("grant-1"));
    assert_eq!(granted.reason, Reason::Grant("grant-1".into()));
}
