//! Account ids, regions and request ids.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A value that is not a valid id of its kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// An account id is exactly 12 decimal digits.
    #[error("invalid account id '{0}': an account id is 12 digits")]
    AccountId(String),
    /// A region name is lowercase letters, digits and dashes, such as `us-east-1`.
    #[error("invalid region '{0}'")]
    Region(String),
}

/// A 12-digit AWS account id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AccountId(String);

impl AccountId {
    /// Parses a 12-digit account id.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(s.to_owned()))
        } else {
            Err(IdError::AccountId(s.to_owned()))
        }
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The ARN of the account's root user, `arn:aws:iam::<id>:root`.
    pub fn root_arn(&self) -> String {
        format!("arn:aws:iam::{}:root", self.0)
    }
}

crate::text_type!(AccountId, 0, IdError);

/// An AWS region name such as `us-east-1`.
///
/// Ferrogate accepts any well-formed name (the deployment decides which regions it serves);
/// resources are partitioned by (account, region) exactly as in AWS.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Region(String);

impl Region {
    /// Parses a region name: 1–32 characters of `[a-z0-9-]`, starting with a letter.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let ok = !s.is_empty()
            && s.len() <= 32
            && s.as_bytes()[0].is_ascii_lowercase()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(IdError::Region(s.to_owned()))
        }
    }

    /// The region IAM and other global services record their events in.
    pub fn global() -> Self {
        Self("us-east-1".to_owned())
    }

    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

crate::text_type!(Region, 0, IdError);

/// The id of one API request, returned in `x-amzn-RequestId` and recorded as the
/// CloudTrail `requestID`. Formatted as a lowercase UUID, as AWS does.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestId(String);

impl RequestId {
    /// Formats 16 random bytes as a version-4 UUID. The caller supplies the randomness so
    /// that this crate stays free of I/O.
    pub fn from_random(mut bytes: [u8; 16]) -> Self {
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        Self(format_uuid(&bytes))
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// 16 bytes in the UUID text form (`8-4-4-4-12` lowercase hex digits).
pub fn format_uuid(b: &[u8; 16]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(36);
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push(HEX[usize::from(byte >> 4)] as char);
        s.push(HEX[usize::from(byte & 0xf)] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_ids() {
        assert!(AccountId::parse("000000000000").is_ok());
        assert!(AccountId::parse("123456789012").is_ok());
        for bad in [
            "",
            "12345678901",
            "1234567890123",
            "12345678901a",
            " 23456789012",
        ] {
            assert!(AccountId::parse(bad).is_err(), "{bad:?}");
        }
        let a = AccountId::parse("123456789012").unwrap();
        assert_eq!(a.root_arn(), "arn:aws:iam::123456789012:root");
        let j = serde_json::to_string(&a).unwrap_or_default();
        assert_eq!(j, "\"123456789012\"");
    }

    #[test]
    fn regions() {
        for ok in ["us-east-1", "eu-west-2", "ap-southeast-3", "local"] {
            assert!(Region::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "US-EAST-1", "us_east_1", "1us", "us east"] {
            assert!(Region::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn request_id_is_a_v4_uuid() {
        let id = RequestId::from_random([0xff; 16]);
        assert_eq!(id.as_str(), "ffffffff-ffff-4fff-bfff-ffffffffffff");
        let id = RequestId::from_random([0; 16]);
        assert_eq!(id.as_str(), "00000000-0000-4000-8000-000000000000");
    }
}
