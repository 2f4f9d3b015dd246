//! Key policies: the default one, validation, and a cache of parsed policies.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ferrogate_policy::{Policy, PolicyKind};

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

    #[test]
    fn the_default_policy_parses() {
        assert!(parse(&default_policy("111122223333")).is_ok());
        assert!(parse("{").is_err());
    }
}
