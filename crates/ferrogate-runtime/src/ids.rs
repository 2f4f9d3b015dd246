//! Validated identifiers. They become file names, cgroup names and mount
//! paths, so they are restricted to a safe alphabet once, at the edge.

use serde::{Deserialize, Serialize};

/// Why an identifier was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid {kind} {value:?}: {reason}")]
pub struct InvalidId {
    /// Which kind of id.
    pub kind: &'static str,
    /// The value given.
    pub value: String,
    /// What is wrong.
    pub reason: &'static str,
}

fn check(kind: &'static str, value: &str, max: usize, extra: &[u8]) -> Result<(), InvalidId> {
    let err = |reason| InvalidId {
        kind,
        value: value.to_owned(),
        reason,
    };
    if value.is_empty() {
        return Err(err("empty"));
    }
    if value.len() > max {
        return Err(err("too long"));
    }
    if value.starts_with('.') || value.starts_with('-') {
        return Err(err("must start with a letter, digit or underscore"));
    }
    if !value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || extra.contains(&b))
    {
        return Err(err("allowed characters are letters, digits, '-' and '_'"));
    }
    Ok(())
}

macro_rules! id_type {
    ($(#[$m:meta])* $name:ident, $kind:literal, $max:expr) => {
        $(#[$m])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Validates and wraps.
            pub fn new(value: impl Into<String>) -> Result<Self, InvalidId> {
                let v = value.into();
                check($kind, &v, $max, &[])?;
                Ok(Self(v))
            }
            /// The string form.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl TryFrom<String> for $name {
            type Error = InvalidId;
            fn try_from(v: String) -> Result<Self, InvalidId> {
                Self::new(v)
            }
        }
        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// A task id (the last part of the task ARN, 32 hex digits in ECS).
    TaskId, "task id", 64
);
id_type!(
    /// A volume id; bound into the KMS encryption context as `aws:ebs:id`.
    VolumeId, "volume id", 64
);
id_type!(
    /// A container name (ECS: up to 255 letters, digits, hyphens, underscores).
    ContainerName, "container name", 255
);
id_type!(
    /// A task-level volume name (ECS `volumes[].name`).
    VolumeName, "volume name", 255
);

id_type!(
    /// An elastic network interface id (`eni-…`): names the task's host interface and
    /// appears in its records.
    InterfaceId, "network interface id", 64
);
id_type!(
    /// A VPC id (`vpc-…`).
    VpcId, "VPC id", 64
);
id_type!(
    /// A subnet id (`subnet-…`).
    SubnetId, "subnet id", 64
);
id_type!(
    /// A security group id (`sg-…`): also names nftables sets and chains, so the
    /// alphabet stays letters, digits, '-' and '_'.
    SecurityGroupId, "security group id", 64
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_refuse_path_characters() {
        for bad in ["", "../x", "a/b", ".hidden", "-x", "a b", "a\0b", "ä"] {
            assert!(TaskId::new(bad).is_err(), "{bad:?}");
        }
        assert!(TaskId::new("0123abcd-ef_9").is_ok());
        assert!(TaskId::new("x".repeat(65)).is_err());
        assert!(ContainerName::new("x".repeat(255)).is_ok());
    }

    #[test]
    fn serde_validates() {
        assert!(serde_json::from_str::<TaskId>("\"../etc\"").is_err());
        let t: TaskId = serde_json::from_str("\"abc\"").unwrap();
        assert_eq!(t.as_str(), "abc");
    }
}
