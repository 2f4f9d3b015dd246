//! Grants: the second allow path to a key (after the key policy), each naming a grantee,
//! operations, and optionally encryption-context constraints and a retiring principal.
//! Rules from the KMS Developer Guide, "Grants in AWS KMS" and "Grant constraints":
//! constraints apply only to cryptographic operations that take an encryption context;
//! `EncryptionContextSubset`: the request's context contains every pair;
//! `EncryptionContextEquals`: exactly the pairs; keys compare without regard to case,
//! values exactly.

use base64::Engine as _;
use ferrogate_types::{Principal, PrincipalKind};
use serde::{Deserialize, Serialize};

use crate::model::{Constraints, Grant};
use crate::KmsError;

/// Operations a grant may permit.
pub const GRANT_OPERATIONS: &[&str] = &[
    "Decrypt",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "ReEncryptFrom",
    "ReEncryptTo",
    "Sign",
    "Verify",
    "GetPublicKey",
    "CreateGrant",
    "RetireGrant",
    "DescribeKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateMac",
    "VerifyMac",
    "DeriveSharedSecret",
];

/// Operations to which a grant's encryption-context constraints apply: the cryptographic
/// operations that take an encryption context. A constrained grant may also include
/// `DescribeKey` and `RetireGrant`, "but the constraint doesn't apply to these operations"
/// (KMS API Reference, CreateGrant `Constraints`); `CreateGrant` under a constrained grant is
/// checked by [`within`] instead.
const CONTEXT_OPERATIONS: &[&str] = &[
    "Decrypt",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "ReEncryptFrom",
    "ReEncryptTo",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
];

/// True when a grant's encryption-context constraints apply to `operation`.
pub fn constraints_apply(operation: &str) -> bool {
    CONTEXT_OPERATIONS.contains(&operation)
}

/// True when `grantee` (as written in a grant) names `caller`. A role ARN names the role's
/// sessions; a service principal may be written with or without the region
/// (`fargate.amazonaws.com`, `fargate.us-east-1.amazonaws.com`).
pub fn names(grantee: &str, caller: &Principal, region: &str) -> bool {
    match &caller.kind {
        PrincipalKind::Service { service } => {
            grantee == service || regional(service, region).as_deref() == Some(grantee)
        }
        PrincipalKind::AssumedRole { role_arn, .. } => grantee == caller.arn || grantee == role_arn,
        PrincipalKind::IamUser { .. } | PrincipalKind::Root => grantee == caller.arn,
    }
}

/// `fargate.amazonaws.com` → `fargate.<region>.amazonaws.com`.
fn regional(service: &str, region: &str) -> Option<String> {
    service
        .strip_suffix(".amazonaws.com")
        .map(|name| format!("{name}.{region}.amazonaws.com"))
}

/// True when `context` satisfies `c` (see the module documentation).
pub fn satisfies(c: &Constraints, context: &[(String, String)]) -> bool {
    let has = |k: &str, v: &str| {
        context
            .iter()
            .any(|(ck, cv)| ck.eq_ignore_ascii_case(k) && cv == v)
    };
    if let Some(subset) = &c.subset {
        if !subset.iter().all(|(k, v)| has(k, v)) {
            return false;
        }
    }
    if let Some(equals) = &c.equals {
        let same_size = equals.len() == context.len();
        if !same_size || !equals.iter().all(|(k, v)| has(k, v)) {
            return false;
        }
    }
    true
}

/// The first of a key's `grants` that allows `caller` to perform `operation` with `context`.
pub fn find<'g>(
    grants: &'g [Grant],
    caller: &Principal,
    caller_region: &str,
    operation: &str,
    context: &[(String, String)],
) -> Option<&'g Grant> {
    let constrained = constraints_apply(operation);
    grants.iter().find(|g| {
        g.operations.iter().any(|o| o == operation)
            && names(&g.grantee, caller, caller_region)
            && (!constrained || satisfies(&g.constraints, context))
    })
}

/// True when `child` is no wider than `parent`: a grant that includes `CreateGrant` lets
/// its grantee create only grants with a subset of its operations and at least its
/// constraints.
pub fn within(parent: &Grant, child_ops: &[String], child: &Constraints) -> bool {
    let ops_ok = child_ops.iter().all(|o| parent.operations.contains(o));
    let subset_ok = match &parent.constraints.subset {
        None => true,
        Some(p) => {
            let in_child = |k: &str, v: &str| {
                let find = |set: &Option<Vec<(String, String)>>| {
                    set.as_ref().is_some_and(|s| {
                        s.iter()
                            .any(|(ck, cv)| ck.eq_ignore_ascii_case(k) && cv == v)
                    })
                };
                find(&child.subset) || find(&child.equals)
            };
            p.iter().all(|(k, v)| in_child(k, v))
        }
    };
    let equals_ok = match &parent.constraints.equals {
        None => true,
        Some(p) => child.equals.as_ref().is_some_and(|c| {
            c.len() == p.len()
                && p.iter().all(|(k, v)| {
                    c.iter()
                        .any(|(ck, cv)| ck.eq_ignore_ascii_case(k) && cv == v)
                })
        }),
    };
    ops_ok && subset_ok && equals_ok
}

#[derive(Serialize, Deserialize)]
struct TokenBody {
    k: String,
    g: String,
}

/// A grant token: names the key and grant. Not a secret: holding one grants nothing
/// (grants here take effect at once, so tokens only need to be accepted).
pub fn token(key_arn: &str, grant_id: &str) -> String {
    let body = serde_json::to_vec(&TokenBody {
        k: key_arn.into(),
        g: grant_id.into(),
    })
    .unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(body)
}

/// The (key ARN, grant id) a token names.
pub fn parse_token(t: &str) -> Result<(String, String), KmsError> {
    let bad = || KmsError::InvalidGrantTokenException("Invalid grant token.".into());
    if t.is_empty() || t.len() > 8192 {
        return Err(bad());
    }
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(t)
        .map_err(|_| bad())?;
    let body: TokenBody = serde_json::from_slice(&raw).map_err(|_| bad())?;
    Ok((body.k, body.g))
}

/// Checks the `GrantTokens` of a request (at most 10, each well formed).
pub fn check_tokens(tokens: &[String]) -> Result<(), KmsError> {
    if tokens.len() > 10 {
        return Err(KmsError::ValidationException(
            "1 validation error detected: Value at 'grantTokens' failed to satisfy constraint: Member must have length less than or equal to 10".into(),
        ));
    }
    tokens.iter().try_for_each(|t| parse_token(t).map(|_| ()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrogate_types::AccountId;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect()
    }

    #[test]
    fn subset_and_equals() {
        let subset = Constraints {
            subset: Some(pairs(&[("Dept", "IT")])),
            equals: None,
        };
        assert!(satisfies(&subset, &pairs(&[("dept", "IT"), ("x", "y")])));
        assert!(
            !satisfies(&subset, &pairs(&[("dept", "it")])),
            "values are case sensitive"
        );
        assert!(!satisfies(&subset, &pairs(&[])));
        let equals = Constraints {
            subset: None,
            equals: Some(pairs(&[("Dept", "IT")])),
        };
        assert!(satisfies(&equals, &pairs(&[("DEPT", "IT")])));
        assert!(!satisfies(&equals, &pairs(&[("Dept", "IT"), ("x", "y")])));
        assert!(satisfies(&Constraints::default(), &pairs(&[])));
    }

    #[test]
    fn constraints_do_not_apply_to_describe_key_or_retire_grant() {
        assert!(constraints_apply("Decrypt"));
        assert!(constraints_apply("GenerateDataKeyWithoutPlaintext"));
        assert!(constraints_apply("ReEncryptTo"));
        assert!(!constraints_apply("DescribeKey"));
        assert!(!constraints_apply("RetireGrant"));
    }

    #[test]
    fn grantees() {
        let a = AccountId::parse("111122223333").unwrap();
        let svc = Principal::service(a.clone(), "fargate.amazonaws.com");
        assert!(names("fargate.us-west-2.amazonaws.com", &svc, "us-west-2"));
        assert!(names("fargate.amazonaws.com", &svc, "us-west-2"));
        assert!(!names("fargate.us-east-1.amazonaws.com", &svc, "us-west-2"));
        let root = Principal::root(a, None);
        assert!(names("arn:aws:iam::111122223333:root", &root, "us-east-1"));
        assert!(!names("fargate.amazonaws.com", &root, "us-east-1"));
    }

    #[test]
    fn sub_grants_are_no_wider() {
        let parent = Grant {
            grant_id: "g".into(),
            key_id: "k".into(),
            name: None,
            grantee: "x".into(),
            retiring: None,
            operations: vec!["Decrypt".into(), "CreateGrant".into()],
            constraints: Constraints {
                subset: Some(pairs(&[("a", "1")])),
                equals: None,
            },
            issuing_account: "111122223333".into(),
            creation_date: ferrogate_types::Timestamp::from_secs(0),
        };
        let tighter = Constraints {
            subset: Some(pairs(&[("A", "1"), ("b", "2")])),
            equals: None,
        };
        assert!(within(&parent, &["Decrypt".into()], &tighter));
        assert!(!within(&parent, &["Encrypt".into()], &tighter));
        assert!(!within(
            &parent,
            &["Decrypt".into()],
            &Constraints::default()
        ));
    }

    #[test]
    fn tokens_round_trip_and_refuse_garbage() {
        let t = token("arn:aws:kms:us-east-1:111122223333:key/k", "abc");
        assert_eq!(parse_token(&t).unwrap().1, "abc");
        assert!(parse_token("!!").is_err());
        assert!(check_tokens(&vec!["x".into(); 11]).is_err());
    }
}
