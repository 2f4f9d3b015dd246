//! The authorizer over a real store: what the request path decides for roots of member and
//! management accounts, stored policies that no longer parse, service condition keys, and
//! cache invalidation.

use ferrogate_api::{Facts, Question};
use ferrogate_iam::authz::Authorizer;
use ferrogate_iam::model::{keys, tables, EntityKind, InlinePolicy, User};
use ferrogate_iam::org::model::{self as org, Attachment, Member, OrgPolicy, Organization};
use ferrogate_store::{Store, StoreError, WriteTx};
use ferrogate_types::{AccountId, Principal, PrincipalKind, Timestamp};

const MGMT: &str = "111111111111";
const MEMBER: &str = "222222222222";

fn facts() -> Facts {
    Facts {
        now: Timestamp::from_secs(1_800_000_000),
        source_ip: "127.0.0.1".parse().unwrap(),
        region: "us-east-1".into(),
        secure_transport: false,
    }
}

fn root(account: &str) -> Principal {
    Principal::root(AccountId::parse(account).unwrap(), None)
}

fn user(account: &str, name: &str) -> Principal {
    Principal {
        account: AccountId::parse(account).unwrap(),
        arn: format!("arn:aws:iam::{account}:user/{name}"),
        principal_id: "AIDAEXAMPLE".into(),
        access_key_id: None,
        kind: PrincipalKind::IamUser {
            user_name: name.into(),
        },
    }
}

async fn write(
    store: &Store,
    f: impl FnOnce(&mut dyn WriteTx) -> Result<(), StoreError> + Send + 'static,
) {
    store.write(f).await.unwrap();
}

fn decide(
    store: &Store,
    a: &Authorizer,
    p: &Principal,
    action: &str,
    keys: &[(String, Vec<String>)],
) -> Result<(), String> {
    let epoch = a.epoch();
    let facts = facts();
    let q = Question {
        principal: p,
        action,
        resource: None,
        keys,
        facts: &facts,
        policy: None,
        grant: None,
    };
    store
        .read(|tx| Ok::<_, StoreError>(a.decide(epoch, tx, &q).map_err(|d| d.message)))
        .unwrap()
}

async fn organization(store: &Store, scp: &str) {
    let scp = scp.to_owned();
    write(store, move |tx| {
        let o = Organization {
            id: "o-abcdefghij".into(),
            management_account_id: MGMT.into(),
            management_email: "m@example.com".into(),
            feature_set: "ALL".into(),
            root_id: "r-abcd".into(),
            scp_enabled: true,
            created: Timestamp::from_secs(0),
        };
        org::tables::ORGS.put(tx, &org::keys::org(&o.id), &o)?;
        for a in [MGMT, MEMBER] {
            let m = Member {
                account_id: a.into(),
                org_id: o.id.clone(),
                name: a.into(),
                email: "e@example.com".into(),
                joined_method: "CREATED".into(),
                joined: Timestamp::from_secs(0),
            };
            org::tables::MEMBERS.put(tx, &org::keys::member(a), &m)?;
        }
        let full = Attachment {
            policy_id: org::FULL_AWS_ACCESS_ID.into(),
            policy_arn: org::FULL_AWS_ACCESS_ARN.into(),
        };
        for target in ["r-abcd", MGMT, MEMBER] {
            org::tables::ATTACHMENTS.put(
                tx,
                &org::keys::attachment(&o.id, target, org::FULL_AWS_ACCESS_ID),
                &full,
            )?;
        }
        let p = OrgPolicy {
            id: "p-deny0001".into(),
            name: "deny".into(),
            description: String::new(),
            content: scp,
        };
        org::tables::POLICIES.put(tx, &org::keys::policy(&o.id, &p.id), &p)?;
        let a = Attachment {
            policy_id: p.id.clone(),
            policy_arn: o.policy_arn(&p.id),
        };
        org::tables::ATTACHMENTS.put(tx, &org::keys::attachment(&o.id, "r-abcd", &p.id), &a)?;
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn scps_bind_a_member_accounts_root_but_not_the_management_account() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db")).unwrap();
    organization(&store, r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"ecs:DeleteCluster","Resource":"*"}]}"#).await;
    let a = Authorizer::new();
    let e = decide(&store, &a, &root(MEMBER), "ecs:DeleteCluster", &[]).unwrap_err();
    assert!(
        e.contains("with an explicit deny in a service control policy"),
        "{e}"
    );
    decide(&store, &a, &root(MEMBER), "ecs:CreateCluster", &[]).unwrap();
    decide(&store, &a, &root(MGMT), "ecs:DeleteCluster", &[]).unwrap();

    // Without FullAWSAccess on the member account, its root may do nothing.
    write(&store, |tx| {
        org::tables::ATTACHMENTS
            .delete(
                tx,
                &org::keys::attachment("o-abcdefghij", MEMBER, org::FULL_AWS_ACCESS_ID),
            )
            .map(|_| ())
    })
    .await;
    a.invalidate();
    let e = decide(&store, &a, &root(MEMBER), "ecs:CreateCluster", &[]).unwrap_err();
    assert!(
        e.contains("because no service control policy allows the ecs:CreateCluster action"),
        "{e}"
    );
}

#[tokio::test]
async fn the_seed_policy_requires_the_key_through_the_authorizer() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db")).unwrap();
    let k = "arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let doc = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":["ecs:CreateCluster","ecs:UpdateCluster"],"Resource":"*","Condition":{{"StringEquals":{{"ecs:fargate-ephemeral-storage-kms-key":"{k}"}}}}}}]}}"#
    );
    write(&store, move |tx| {
        let u = User {
            name: "ops".into(),
            user_id: "AIDAEXAMPLE".into(),
            path: "/".into(),
            create_date: Timestamp::from_secs(0),
            tags: vec![],
        };
        tables::USERS.put(tx, &keys::user(MGMT, "ops"), &u)?;
        tables::INLINE.put(
            tx,
            &keys::inline(MGMT, EntityKind::User, "ops", "k"),
            &InlinePolicy {
                name: "k".into(),
                document: doc,
            },
        )
    })
    .await;
    let a = Authorizer::new();
    let key = |v: &str| {
        vec![(
            "ecs:fargate-ephemeral-storage-kms-key".to_owned(),
            vec![v.to_owned()],
        )]
    };
    decide(&store, &a, &user(MGMT, "ops"), "ecs:CreateCluster", &key(k)).unwrap();
    assert!(decide(
        &store,
        &a,
        &user(MGMT, "ops"),
        "ecs:CreateCluster",
        &key("arn:aws:kms:us-east-1:111111111111:key/other")
    )
    .is_err());
    assert!(decide(&store, &a, &user(MGMT, "ops"), "ecs:CreateCluster", &[]).is_err());
}

#[tokio::test]
async fn a_stored_policy_that_does_not_parse_denies_everything_and_changes_need_invalidation() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db")).unwrap();
    write(&store, |tx| {
        let u = User { name: "u".into(), user_id: "AIDAEXAMPLE".into(), path: "/".into(), create_date: Timestamp::from_secs(0), tags: vec![] };
        tables::USERS.put(tx, &keys::user(MGMT, "u"), &u)?;
        let allow = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
        tables::INLINE.put(tx, &keys::inline(MGMT, EntityKind::User, "u", "all"), &InlinePolicy { name: "all".into(), document: allow.into() })
    })
    .await;
    let a = Authorizer::new();
    decide(&store, &a, &user(MGMT, "u"), "iam:ListUsers", &[]).unwrap();
    // Corrupt a second policy behind the API's back (as a damaged database would).
    write(&store, |tx| {
        tables::INLINE.put(
            tx,
            &keys::inline(MGMT, EntityKind::User, "u", "bad"),
            &InlinePolicy {
                name: "bad".into(),
                document: "{not json".into(),
            },
        )
    })
    .await;
    // Cached until invalidated (the server invalidates after every IAM write)...
    decide(&store, &a, &user(MGMT, "u"), "iam:ListUsers", &[]).unwrap();
    a.invalidate();
    // ...and then refused: the unreadable policy might have held a Deny.
    assert!(decide(&store, &a, &user(MGMT, "u"), "iam:ListUsers", &[]).is_err());
}
