//! The IAM policy engine end to end with the `aws` CLI (issue 3): identity policies,
//! groups, explicit deny, roles and AssumeRole, and service control policies.

mod common;

use common::{
    allow, allowed_user, attach_scp, create_organization, enable_scps, fails_with, json,
    lookup_events, member_account, member_admin, put_user_policy, record_of, trail_records,
    user_with_key, Server,
};

use common::policy_doc as doc;

#[test]
fn a_user_allowed_only_get_user_can_do_that_and_nothing_else() {
    let s = Server::start();
    let (k, sk) = user_with_key(&s, "reader");
    json(&s.aws(&["iam", "create-user", "--user-name", "other"]));
    let p = doc(
        r#"{"Effect":"Allow","Action":"iam:GetUser","Resource":"arn:aws:iam::000000000000:user/reader"}"#,
    );
    put_user_policy(&s, "reader", "self", &p);
    assert_eq!(
        json(&s.aws_as(&k, &sk, &["iam", "get-user", "--user-name", "reader"]))["User"]["UserName"],
        "reader"
    );
    assert_eq!(
        json(&s.aws_as(&k, &sk, &["iam", "get-user"]))["User"]["UserName"],
        "reader"
    );
    let e = fails_with(
        &s.aws_as(&k, &sk, &["iam", "get-user", "--user-name", "other"]),
        "AccessDenied",
    );
    assert!(e.contains("User: arn:aws:iam::000000000000:user/reader is not authorized to perform: iam:GetUser on resource: arn:aws:iam::000000000000:user/other because no identity-based policy allows the iam:GetUser action"), "{e}");
    fails_with(&s.aws_as(&k, &sk, &["iam", "list-users"]), "AccessDenied");
    fails_with(
        &s.aws_as(&k, &sk, &["iam", "create-user", "--user-name", "x"]),
        "AccessDenied",
    );
    // Taking the policy away takes the permission away at once.
    json(&s.aws(&[
        "iam",
        "delete-user-policy",
        "--user-name",
        "reader",
        "--policy-name",
        "self",
    ]));
    fails_with(
        &s.aws_as(&k, &sk, &["iam", "get-user", "--user-name", "reader"]),
        "AccessDenied",
    );
}

#[test]
fn a_group_policy_grants_and_an_explicit_deny_beats_an_allow() {
    let s = Server::start();
    let (k, sk) = user_with_key(&s, "member");
    json(&s.aws(&["iam", "create-group", "--group-name", "listers"]));
    let created = json(&s.aws(&[
        "iam",
        "create-policy",
        "--policy-name",
        "list-users",
        "--policy-document",
        &doc(r#"{"Effect":"Allow","Action":["iam:ListUsers","iam:List*"],"Resource":"*"}"#),
    ]));
    let arn = created["Policy"]["Arn"].as_str().unwrap().to_owned();
    json(&s.aws(&[
        "iam",
        "attach-group-policy",
        "--group-name",
        "listers",
        "--policy-arn",
        &arn,
    ]));
    fails_with(&s.aws_as(&k, &sk, &["iam", "list-users"]), "AccessDenied");
    json(&s.aws(&[
        "iam",
        "add-user-to-group",
        "--group-name",
        "listers",
        "--user-name",
        "member",
    ]));
    let users = json(&s.aws_as(&k, &sk, &["iam", "list-users"]));
    assert_eq!(users["Users"][0]["UserName"], "member");
    assert_eq!(
        json(&s.aws(&["iam", "get-group", "--group-name", "listers"]))["Users"][0]["UserName"],
        "member"
    );

    // Administrator everything, but an explicit deny on one action wins.
    json(&s.aws(&[
        "iam",
        "attach-user-policy",
        "--user-name",
        "member",
        "--policy-arn",
        "arn:aws:iam::aws:policy/AdministratorAccess",
    ]));
    json(&s.aws_as(
        &k,
        &sk,
        &["iam", "create-user", "--user-name", "allowed-before-deny"],
    ));
    json(&s.aws(&[
        "iam",
        "put-group-policy",
        "--group-name",
        "listers",
        "--policy-name",
        "no-create",
        "--policy-document",
        &doc(r#"{"Effect":"Deny","Action":"iam:CreateUser","Resource":"*"}"#),
    ]));
    let e = fails_with(
        &s.aws_as(&k, &sk, &["iam", "create-user", "--user-name", "denied"]),
        "AccessDenied",
    );
    assert!(
        e.contains("with an explicit deny in an identity-based policy"),
        "{e}"
    );
    json(&s.aws_as(&k, &sk, &["iam", "get-user", "--user-name", "member"]));

    // Leaving the group removes both the grant and the deny.
    json(&s.aws(&[
        "iam",
        "remove-user-from-group",
        "--group-name",
        "listers",
        "--user-name",
        "member",
    ]));
    json(&s.aws_as(
        &k,
        &sk,
        &["iam", "create-user", "--user-name", "allowed-again"],
    ));
}

#[test]
fn assume_role_follows_the_trust_policy_and_sessions_are_audited_as_the_role() {
    let s = Server::start();
    let (ka, ska) = user_with_key(&s, "alice");
    let (kb, skb) = user_with_key(&s, "bob");
    let trust = doc(
        r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:user/alice"},"Action":"sts:AssumeRole"}"#,
    );
    let role = json(&s.aws(&[
        "iam",
        "create-role",
        "--role-name",
        "ops",
        "--assume-role-policy-document",
        &trust,
    ]));
    let role_arn = role["Role"]["Arn"].as_str().unwrap().to_owned();
    assert!(role["Role"]["RoleId"].as_str().unwrap().starts_with("AROA"));
    json(&s.aws(&[
        "iam",
        "put-role-policy",
        "--role-name",
        "ops",
        "--policy-name",
        "list",
        "--policy-document",
        &doc(r#"{"Effect":"Allow","Action":"iam:ListUsers","Resource":"*"}"#),
    ]));

    let e = s
        .assume_role(&kb, &skb, &role_arn, "bob-session")
        .unwrap_err();
    assert!(
        e.contains("(AccessDenied)") && e.contains("sts:AssumeRole"),
        "{e}"
    );
    // A trust policy naming a principal that does not exist is refused, as IAM does.
    let bad = doc(
        r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:user/ghost"},"Action":"sts:AssumeRole"}"#,
    );
    let e = fails_with(
        &s.aws(&[
            "iam",
            "create-role",
            "--role-name",
            "bad",
            "--assume-role-policy-document",
            &bad,
        ]),
        "MalformedPolicyDocument",
    );
    assert!(e.contains("Invalid principal in policy"), "{e}");

    let session = s.assume_role(&ka, &ska, &role_arn, "alice-ops").unwrap();
    assert!(session.key.starts_with("ASIA"), "{}", session.key);
    let who = json(&s.aws_session(&session, &["sts", "get-caller-identity"]));
    assert_eq!(
        who["Arn"],
        "arn:aws:sts::000000000000:assumed-role/ops/alice-ops"
    );
    json(&s.aws_session(&session, &["iam", "list-users"]));
    let e = fails_with(
        &s.aws_session(&session, &["iam", "create-user", "--user-name", "nope"]),
        "AccessDenied",
    );
    assert!(e.contains("User: arn:aws:sts::000000000000:assumed-role/ops/alice-ops is not authorized to perform: iam:CreateUser"), "{e}");
    // A wrong session token is refused.
    let mut forged = common::Session {
        key: session.key.clone(),
        secret: session.secret.clone(),
        token: "AAAA".into(),
    };
    fails_with(
        &s.aws_session(&forged, &["sts", "get-caller-identity"]),
        "InvalidClientTokenId",
    );
    forged.token = String::new();
    fails_with(
        &s.aws_as(&forged.key, &forged.secret, &["sts", "get-caller-identity"]),
        "InvalidClientTokenId",
    );

    // The session's calls are attributed to the role in CloudTrail.
    let events = lookup_events(&s, "Username", "alice-ops");
    let list = events
        .iter()
        .find(|e| e["EventName"] == "ListUsers")
        .expect("ListUsers by the session");
    let rec = record_of(list);
    assert_eq!(rec["userIdentity"]["type"], "AssumedRole");
    assert_eq!(
        rec["userIdentity"]["arn"],
        "arn:aws:sts::000000000000:assumed-role/ops/alice-ops"
    );
    assert_eq!(
        rec["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"],
        role_arn.as_str()
    );
    assert_eq!(rec["userIdentity"]["accessKeyId"], session.key.as_str());
    let rec = &trail_records(&s, "AssumeRole")[0];
    assert!(
        !rec.to_string().contains(&session.secret) && !rec.to_string().contains(&session.token),
        "a secret reached the trail"
    );
}

#[test]
fn service_control_policies_bind_member_accounts_but_not_the_management_account() {
    let s = Server::start();
    let org = create_organization(&s);
    assert_eq!(org["Organization"]["MasterAccountId"], "000000000000");
    let root_id = enable_scps(&s);
    let member = member_account(&s, "member@example.com", "member");
    let accounts = json(&s.aws(&["organizations", "list-accounts"]));
    assert_eq!(accounts["Accounts"].as_array().unwrap().len(), 2);

    let scp = doc(r#"{"Effect":"Deny","Action":"iam:CreateUser","Resource":"*"}"#);
    let pid = attach_scp(&s, "no-users", &scp, &root_id);

    // The management account is exempt.
    json(&s.aws(&["iam", "create-user", "--user-name", "mgmt-user"]));
    // The member account, administered through OrganizationAccountAccessRole, is not.
    let session = member_admin(&s, &member);
    json(&s.aws_session(&session, &["iam", "list-users"]));
    let e = fails_with(
        &s.aws_session(&session, &["iam", "create-user", "--user-name", "blocked"]),
        "AccessDenied",
    );
    assert!(
        e.contains("with an explicit deny in a service control policy"),
        "{e}"
    );
    // Detaching the SCP lifts the block.
    json(&s.aws(&[
        "organizations",
        "detach-policy",
        "--policy-id",
        &pid,
        "--target-id",
        &root_id,
    ]));
    json(&s.aws_session(
        &session,
        &["iam", "create-user", "--user-name", "allowed-now"],
    ));
    // Listing the organization's roots and policies is for the management account.
    for op in [
        vec!["organizations", "list-roots"],
        vec![
            "organizations",
            "list-policies",
            "--filter",
            "SERVICE_CONTROL_POLICY",
        ],
    ] {
        fails_with(&s.aws_session(&session, &op), "AccessDeniedException");
    }
    // An SCP that allows only S3 in place of FullAWSAccess: nothing in IAM is allowed.
    let s3_only = attach_scp(
        &s,
        "s3-only",
        &doc(r#"{"Effect":"Allow","Action":"s3:*","Resource":"*"}"#),
        &member,
    );
    json(&s.aws(&[
        "organizations",
        "detach-policy",
        "--policy-id",
        "p-FullAWSAccess",
        "--target-id",
        &member,
    ]));
    let e = fails_with(
        &s.aws_session(&session, &["iam", "list-users"]),
        "AccessDenied",
    );
    assert!(
        e.contains("because no service control policy allows the iam:ListUsers action"),
        "{e}"
    );
    // The last SCP of a target cannot be detached.
    fails_with(
        &s.aws(&[
            "organizations",
            "detach-policy",
            "--policy-id",
            &s3_only,
            "--target-id",
            &member,
        ]),
        "ConstraintViolationException",
    );
}

/// Authorization uses the stored entity's ARN (with its path) and its tags, not a name-only
/// ARN rebuilt from the request.
#[test]
fn iam_actions_are_authorized_on_the_stored_arn_with_its_path_and_tags() {
    let s = Server::start();
    let (k, sk) = user_with_key(&s, "admin");
    json(&s.aws(&[
        "iam",
        "create-user",
        "--user-name",
        "bob",
        "--path",
        "/team/",
    ]));
    json(&s.aws(&[
        "iam",
        "create-user",
        "--user-name",
        "carol",
        "--path",
        "/other/",
        "--tags",
        "Key=env,Value=dev",
    ]));
    allow(
        &s,
        "admin",
        r#"{"Effect":"Allow","Action":["iam:CreateAccessKey","iam:GetUser"],"Resource":"arn:aws:iam::000000000000:user/team/*"},
           {"Effect":"Allow","Action":"iam:ListAccessKeys","Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/env":"dev"}}}"#,
    );
    // The path is part of the ARN the policy matches.
    json(&s.aws_as(&k, &sk, &["iam", "get-user", "--user-name", "bob"]));
    let e = fails_with(
        &s.aws_as(&k, &sk, &["iam", "get-user", "--user-name", "carol"]),
        "AccessDenied",
    );
    assert!(
        e.contains("on resource: arn:aws:iam::000000000000:user/other/carol"),
        "{e}"
    );
    json(&s.aws_as(&k, &sk, &["iam", "create-access-key", "--user-name", "bob"]));
    fails_with(
        &s.aws_as(
            &k,
            &sk,
            &["iam", "create-access-key", "--user-name", "carol"],
        ),
        "AccessDenied",
    );
    // The stored tags are the resource's tags.
    json(&s.aws_as(
        &k,
        &sk,
        &["iam", "list-access-keys", "--user-name", "carol"],
    ));
    fails_with(
        &s.aws_as(&k, &sk, &["iam", "list-access-keys", "--user-name", "bob"]),
        "AccessDenied",
    );
}

/// `iam:PolicyARN` limits which managed policies a delegated admin may attach.
#[test]
fn iam_policy_arn_condition_limits_attachments() {
    let s = Server::start();
    let (k, sk) = user_with_key(&s, "delegate");
    json(&s.aws(&["iam", "create-user", "--user-name", "target"]));
    let ro = json(&s.aws(&[
        "iam",
        "create-policy",
        "--policy-name",
        "ReadOnlyish",
        "--policy-document",
        &doc(r#"{"Effect":"Allow","Action":"iam:GetUser","Resource":"*"}"#),
    ]));
    let ro_arn = ro["Policy"]["Arn"].as_str().unwrap().to_owned();
    allow(
        &s,
        "delegate",
        &format!(
            r#"{{"Effect":"Allow","Action":"iam:AttachUserPolicy","Resource":"*","Condition":{{"ArnEquals":{{"iam:PolicyARN":"{ro_arn}"}}}}}}"#
        ),
    );
    json(&s.aws_as(
        &k,
        &sk,
        &[
            "iam",
            "attach-user-policy",
            "--user-name",
            "target",
            "--policy-arn",
            &ro_arn,
        ],
    ));
    fails_with(
        &s.aws_as(
            &k,
            &sk,
            &[
                "iam",
                "attach-user-policy",
                "--user-name",
                "target",
                "--policy-arn",
                "arn:aws:iam::aws:policy/AdministratorAccess",
            ],
        ),
        "AccessDenied",
    );
}

/// Names are ASCII and unique regardless of case; a second `Alice` is refused.
#[test]
fn names_are_ascii_and_case_insensitively_unique() {
    let s = Server::start();
    json(&s.aws(&["iam", "create-user", "--user-name", "Alice"]));
    fails_with(
        &s.aws(&["iam", "create-user", "--user-name", "alice"]),
        "EntityAlreadyExists",
    );
    // The Kelvin sign lowercases to `k` in Unicode: refused, not confused with `k`.
    json(&s.aws(&["iam", "create-user", "--user-name", "kay"]));
    fails_with(
        &s.aws(&["iam", "create-user", "--user-name", "\u{212A}ay"]),
        "ValidationError",
    );
    let users = json(&s.aws(&["iam", "list-users"]));
    assert_eq!(users["Users"].as_array().unwrap().len(), 2);
}

/// AssumeRole: the exact role ARN, unsupported session options refused (not ignored), and
/// a session ends with its role even if a role of the same name comes back.
#[test]
fn assume_role_is_strict_and_sessions_die_with_their_role() {
    let s = Server::start();
    let (k, sk) = allowed_user(
        &s,
        "caller",
        r#"{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}"#,
    );
    let trust = doc(
        r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:user/caller"},"Action":"sts:AssumeRole"}"#,
    );
    let create = |s: &Server| {
        json(&s.aws(&[
            "iam",
            "create-role",
            "--role-name",
            "worker",
            "--assume-role-policy-document",
            &trust,
        ]));
        json(&s.aws(&[
            "iam",
            "put-role-policy",
            "--role-name",
            "worker",
            "--policy-name",
            "p",
            "--policy-document",
            &doc(r#"{"Effect":"Allow","Action":"iam:ListUsers","Resource":"*"}"#),
        ]));
    };
    create(&s);
    let arn = "arn:aws:iam::000000000000:role/worker";
    // A wrong-case ARN names no role.
    assert!(s
        .assume_role(&k, &sk, "arn:aws:iam::000000000000:role/WORKER", "s1")
        .is_err());
    // A session policy narrows the session: with a deny-all one, nothing is allowed.
    let narrowed = json(&s.aws_as(
        &k,
        &sk,
        &[
            "sts",
            "assume-role",
            "--role-arn",
            arn,
            "--role-session-name",
            "s0",
            "--policy",
            &doc(r#"{"Effect":"Deny","Action":"*","Resource":"*"}"#),
        ],
    ));
    let c = &narrowed["Credentials"];
    let narrowed = common::Session {
        key: c["AccessKeyId"].as_str().unwrap().to_owned(),
        secret: c["SecretAccessKey"].as_str().unwrap().to_owned(),
        token: c["SessionToken"].as_str().unwrap().to_owned(),
    };
    fails_with(
        &s.aws_session(&narrowed, &["iam", "list-users"]),
        "AccessDenied",
    );
    // Managed session policies are not supported: refused, not silently ignored (which
    // would leave the session broader than the caller asked for).
    let out = s.aws_as(
        &k,
        &sk,
        &[
            "sts",
            "assume-role",
            "--role-arn",
            arn,
            "--role-session-name",
            "s1",
            "--policy-arns",
            "arn=arn:aws:iam::aws:policy/AdministratorAccess",
        ],
    );
    assert!(!out.status.success(), "PolicyArns was ignored");
    let session = s.assume_role(&k, &sk, arn, "s1").unwrap();
    json(&s.aws_session(&session, &["iam", "list-users"]));
    // The role goes, and a new role of the same name does not revive the session.
    json(&s.aws(&[
        "iam",
        "delete-role-policy",
        "--role-name",
        "worker",
        "--policy-name",
        "p",
    ]));
    json(&s.aws(&["iam", "delete-role", "--role-name", "worker"]));
    create(&s);
    let out = s.aws_session(&session, &["iam", "list-users"]);
    assert!(!out.status.success(), "a session outlived its role");
    // A fresh session of the new role works.
    let fresh = s.assume_role(&k, &sk, arn, "s2").unwrap();
    json(&s.aws_session(&fresh, &["iam", "list-users"]));
}
