//! Amazon Resource Names.

use serde::{Deserialize, Serialize};

/// A string that is not an ARN.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid ARN '{0}'")]
pub struct ArnError(pub String);

/// `arn:partition:service:region:account-id:resource`, split once.
///
/// The resource part may itself contain `:` and `/` (`key/…`, `task/cluster/id`,
/// `assumed-role/role/session`); only the first five colons separate fields.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Arn {
    text: String,
    // Byte offsets of the five field separators in `text`.
    seps: [usize; 5],
}

impl Arn {
    /// Parses an ARN. The partition, service and resource must be non-empty; region and
    /// account may be empty (IAM ARNs have no region, S3 bucket ARNs no account).
    pub fn parse(s: &str) -> Result<Self, ArnError> {
        let err = || ArnError(s.to_owned());
        if !s.starts_with("arn:") || s.len() > 2048 {
            return Err(err());
        }
        let mut seps = [0usize; 5];
        let mut found = 0;
        for (i, b) in s.bytes().enumerate() {
            if b == b':' && found < 5 {
                seps[found] = i;
                found += 1;
            }
        }
        if found < 5 {
            return Err(err());
        }
        let arn = Self {
            text: s.to_owned(),
            seps,
        };
        if arn.partition().is_empty() || arn.service().is_empty() || arn.resource().is_empty() {
            return Err(err());
        }
        Ok(arn)
    }

    /// Builds an ARN in the `aws` partition.
    pub fn build(service: &str, region: &str, account: &str, resource: &str) -> Self {
        let text = format!("arn:aws:{service}:{region}:{account}:{resource}");
        let s1 = 3;
        let s2 = s1 + 1 + 3;
        let s3 = s2 + 1 + service.len();
        let s4 = s3 + 1 + region.len();
        let s5 = s4 + 1 + account.len();
        Self {
            text,
            seps: [s1, s2, s3, s4, s5],
        }
    }

    fn field(&self, i: usize) -> &str {
        let start = self.seps[i] + 1;
        let end = if i + 1 < 5 {
            self.seps[i + 1]
        } else {
            self.text.len()
        };
        &self.text[start..end]
    }

    /// `aws`.
    pub fn partition(&self) -> &str {
        self.field(0)
    }
    /// `kms`, `ecs`, `iam`…
    pub fn service(&self) -> &str {
        self.field(1)
    }
    /// The region, empty for global services.
    pub fn region(&self) -> &str {
        self.field(2)
    }
    /// The account id, possibly empty.
    pub fn account(&self) -> &str {
        self.field(3)
    }
    /// Everything after the fifth colon.
    pub fn resource(&self) -> &str {
        self.field(4)
    }
    /// The whole ARN.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

crate::text_type!(Arn, text, ArnError);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_fields() {
        let a = Arn::parse("arn:aws:ecs:us-east-1:123456789012:task/default/abc").unwrap();
        assert_eq!(
            (
                a.partition(),
                a.service(),
                a.region(),
                a.account(),
                a.resource()
            ),
            (
                "aws",
                "ecs",
                "us-east-1",
                "123456789012",
                "task/default/abc"
            )
        );
        let a = Arn::parse("arn:aws:iam::123456789012:user/path/bob").unwrap();
        assert_eq!((a.region(), a.resource()), ("", "user/path/bob"));
        let a = Arn::parse("arn:aws:logs:us-east-1:1:log-group:x:*").unwrap();
        assert_eq!(a.resource(), "log-group:x:*");
    }

    #[test]
    fn build_matches_parse() {
        let b = Arn::build("kms", "eu-west-1", "123456789012", "key/1234");
        let p = Arn::parse("arn:aws:kms:eu-west-1:123456789012:key/1234").unwrap();
        assert_eq!(b, p);
        assert_eq!(b.resource(), "key/1234");
        let g = Arn::build("iam", "", "123456789012", "root");
        assert_eq!(g.as_str(), "arn:aws:iam::123456789012:root");
        assert_eq!(g.region(), "");
        assert_eq!(g.account(), "123456789012");
    }

    #[test]
    fn rejects_non_arns() {
        for bad in [
            "",
            "arn",
            "arn:aws:iam",
            "arn:aws:iam::1",
            "arn::iam:::x",
            "arn:aws:::1:x",
            "arn:aws:iam::1:",
            "urn:aws:iam::1:x",
        ] {
            assert!(Arn::parse(bad).is_err(), "{bad}");
        }
    }
}
