//! Key policies: the default one, validation, and a cache of parsed policies.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ferrogate_policy::{
    evaluate, EvaluationInput, NamedPolicy, Policy, PolicyKind, PrincipalInfo, RequestContext,
    ResourcePolicyKind,
};
use ferrogate_types::{Principal, PrincipalKind};

use crate::KmsError;

/// The largest key policy, in bytes (KMS quota).
pub const MAX_POLICY_BYTES: usize = 32_768;

/// The policy a key gets when `CreateKey` names none: the account may use IAM policies to
/// allow access ("Enable IAM User Permissions"), exactly as AWS writes it.
pub fn default_policy(account: &str) -> String {
    format!(
        r#"{{
  "Version" : "2012-10-17",
  "Id" : "key-default-1",
  "Statement" : [ {{
    "Sid" : "Enable IAM User Permissions",
    "Effect" : "Allow",
    "Principal" : {{
      "AWS" : "arn:aws:iam::{account}:root"
    }},
    "Action" : "kms:*",
    "Resource" : "*"
  }} ]
}}"#
    )
}

/// Parses a key policy, refusing it with KMS's `MalformedPolicyDocumentException`.
pub fn parse(doc: &str) -> Result<Policy, KmsError> {
    if doc.len() > MAX_POLICY_BYTES {
        return Err(KmsError::LimitExceededException(format!(
            "Policy exceeds the maximum size of {MAX_POLICY_BYTES} bytes."
        )));
    }
    Policy::parse(doc, PolicyKind::Resource).map_err(|e| {
        KmsError::MalformedPolicyDocumentException(
            format!("{} {}", e, e.detail()).trim().to_owned(),
        )
    })
}

/// The message of KMS's policy lockout safety check.
pub const LOCKOUT_MESSAGE: &str =
    "The new key policy will not allow you to update the key policy in the future.";

fn principal_info(p: &Principal) -> PrincipalInfo {
    match &p.kind {
        PrincipalKind::Root => PrincipalInfo::root(p.account.as_str()),
        PrincipalKind::IamUser { .. } => PrincipalInfo::iam_user(&p.arn, &p.principal_id),
        PrincipalKind::AssumedRole {
            role_arn,
            session_name,
            role_id,
            ..
        } => PrincipalInfo::assumed_role(role_arn, session_name, role_id),
        PrincipalKind::Service { service } => PrincipalInfo::service(service),
    }
}

/// KMS's policy lockout safety check (CreateKey and PutKeyPolicy without
/// `BypassPolicyLockoutSafetyCheck`): the new key policy must allow the caller a later
/// `kms:PutKeyPolicy` on the key, directly or by delegating to the caller's account (whose
/// identity policies are then assumed to allow it). Otherwise
/// `MalformedPolicyDocumentException`, as AWS: "The new key policy will not allow you to
/// update the key policy in the future."
pub fn lockout_check(
    doc: &str,
    caller: &Principal,
    key_arn: &str,
    key_account: &str,
) -> Result<(), KmsError> {
    let policy = parse(doc)?;
    let ctx = RequestContext::new(principal_info(caller), "kms:PutKeyPolicy")
        .with_resource(key_arn)
        .with("kms:CallerAccount", caller.account.as_str());
    let identity = Policy::parse(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:PutKeyPolicy","Resource":"*"}]}"#,
        PolicyKind::Identity,
    )
    .map_err(|e| KmsError::MalformedPolicyDocumentException(e.to_string()))?;
    let identities = [NamedPolicy::new("caller", &identity)];
    let input = EvaluationInput::new(&ctx)
        .with_identity(&identities)
        .with_resource_policy(
            NamedPolicy::new(key_arn, &policy),
            ResourcePolicyKind::KeyPolicy,
        )
        .with_resource_account(key_account);
    if evaluate(&input).is_allowed() {
        Ok(())
    } else {
        Err(KmsError::MalformedPolicyDocumentException(
            LOCKOUT_MESSAGE.into(),
        ))
    }
}

/// Parsed key policies, by key ARN, re-parsed only when the text changes.
#[derive(Default)]
pub struct PolicyCache {
    entries: Mutex<HashMap<String, (String, Arc<Policy>)>>,
}

impl PolicyCache {
    /// The parsed form of `doc`, the policy of `key_arn`.
    pub fn get(&self, key_arn: &str, doc: &str) -> Result<Arc<Policy>, KmsError> {
        if let Ok(m) = self.entries.lock() {
            if let Some((text, p)) = m.get(key_arn) {
                if text == doc {
                    return Ok(p.clone());
                }
            }
        }
        let parsed = Arc::new(parse(doc)?);
        if let Ok(mut m) = self.entries.lock() {
            if m.len() > 10_000 {
                m.clear();
            }
            m.insert(key_arn.to_owned(), (doc.to_owned(), parsed.clone()));
        }
        Ok(parsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    fn user(name: &str) -> Principal {
        let mut p = Principal::root(
            ferrogate_types::AccountId::parse("111122223333").unwrap(),
            None,
        );
        p.arn = format!("arn:aws:iam::111122223333:user/{name}");
        p.principal_id = "AIDAEXAMPLE".into();
        p.kind = PrincipalKind::IamUser {
            user_name: name.into(),
        };
        p
    }

    fn allowing(principal: &str, extra: &str) -> String {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{principal}"}},"Action":"kms:*","Resource":"*"}}{extra}]}}"#
        )
    }

    #[test]
    fn the_lockout_check_wants_the_caller_able_to_put_the_policy_again() {
        let root = Principal::root(
            ferrogate_types::AccountId::parse("111122223333").unwrap(),
            None,
        );
        let alice = user("alice");
        let acct = "111122223333";
        // The default policy delegates to the account: root and users pass.
        assert!(lockout_check(&default_policy(acct), &root, KEY, acct).is_ok());
        assert!(lockout_check(&default_policy(acct), &alice, KEY, acct).is_ok());
        // A policy naming only another user locks both out.
        let bob_only = allowing("arn:aws:iam::111122223333:user/bob", "");
        let e = lockout_check(&bob_only, &root, KEY, acct).unwrap_err();
        assert_eq!(e.to_string(), LOCKOUT_MESSAGE);
        assert!(lockout_check(&bob_only, &alice, KEY, acct).is_err());
        // Naming the caller itself passes.
        let alice_only = allowing("arn:aws:iam::111122223333:user/alice", "");
        assert!(lockout_check(&alice_only, &alice, KEY, acct).is_ok());
        // An explicit deny of PutKeyPolicy to the caller fails it.
        let deny = allowing(
            "arn:aws:iam::111122223333:root",
            r#",{"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"kms:PutKeyPolicy","Resource":"*"}"#,
        );
        assert!(lockout_check(&deny, &alice, KEY, acct).is_err());
        assert!(lockout_check(&deny, &root, KEY, acct).is_ok());
        // Another account's root is no delegation to this one.
        let other = allowing("arn:aws:iam::444455556666:root", "");
        assert!(lockout_check(&other, &root, KEY, acct).is_err());
    }

    #[test]
    fn the_default_policy_parses() {
        assert!(parse(&default_policy("111122223333")).is_ok());
        assert!(parse("{").is_err());
    }
}
