//! Parameters as stored, their keys, ARNs, AWS's rules for names and labels, and selectors.

use ferrogate_secrets::envelope::Wrapped;
use ferrogate_store::{Key, Record, Table};
use serde::{Deserialize, Serialize};

use crate::SsmError;

/// The most versions a parameter keeps ("Systems Manager service quotas": 100).
pub const MAX_VERSIONS: usize = 100;
/// The most labels on one version.
pub const MAX_LABELS: usize = 10;
/// The most levels of hierarchy.
pub const MAX_LEVELS: usize = 15;

/// A parameter: its versions, oldest first, and its tags.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Parameter {
    /// The owning account.
    pub account: String,
    /// The region.
    pub region: String,
    /// The name as created (`/a/b` or `a`).
    pub name: String,
    /// Tags.
    pub tags: Vec<(String, String)>,
    /// Versions, oldest first.
    pub versions: Vec<ParamVersion>,
}

impl Record for Parameter {}

/// One version of a parameter.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ParamVersion {
    /// 1, 2, …
    pub version: i64,
    /// `String`, `StringList` or `SecureString`.
    pub kind: String,
    /// The value.
    pub value: Stored,
    /// `Description`.
    pub description: Option<String>,
    /// `AllowedPattern`.
    pub allowed_pattern: Option<String>,
    /// `KeyId` of a `SecureString` (as given, or `alias/aws/ssm`).
    pub key_id: Option<String>,
    /// `Standard` or `Advanced`.
    pub tier: String,
    /// `text` or `aws:ec2:image`.
    pub data_type: String,
    /// Labels.
    pub labels: Vec<String>,
    /// Milliseconds since the epoch.
    pub modified: i64,
    /// The ARN of who wrote it.
    pub user: String,
}

/// A value as stored.
#[derive(Clone, Serialize, Deserialize)]
pub enum Stored {
    /// `String` and `StringList` values, in clear (configuration, not secrets).
    Clear(String),
    /// A `SecureString`: its data key and the sealed value (see
    /// [`ferrogate_secrets::envelope`]).
    Sealed {
        /// How its data key is kept.
        key: Wrapped,
        /// Nonce ‖ ciphertext ‖ tag, base64.
        sealed: String,
    },
}

impl std::fmt::Debug for Stored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stored::Clear(_) => f.write_str("Clear(..)"),
            Stored::Sealed { .. } => f.write_str("Sealed(..)"),
        }
    }
}

impl Parameter {
    /// `arn:aws:ssm:<region>:<account>:parameter/<name without its leading slash>`.
    pub fn arn(&self) -> String {
        arn(&self.region, &self.account, &self.name)
    }

    /// The newest version.
    pub fn latest(&self) -> Option<&ParamVersion> {
        self.versions.last()
    }

    /// The version a selector picks (`None`: the latest).
    pub fn select(&self, selector: Option<&Selector>) -> Result<&ParamVersion, SsmError> {
        let found = match selector {
            None => self.latest(),
            Some(Selector::Version(n)) => self.versions.iter().find(|v| v.version == *n),
            Some(Selector::Label(l)) => self.versions.iter().find(|v| v.labels.contains(l)),
        };
        found.ok_or_else(|| {
            let sel = selector.map(Selector::text).unwrap_or_default();
            SsmError::ParameterVersionNotFound(format!(
                "Systems Manager could not find version {sel} of {}. Verify the version and try again.",
                self.name
            ))
        })
    }
}

/// The ARN of the parameter `name`.
pub fn arn(region: &str, account: &str, name: &str) -> String {
    format!(
        "arn:aws:ssm:{region}:{account}:parameter/{}",
        name.strip_prefix('/').unwrap_or(name)
    )
}

/// A selector after the name: `:<version>` or `:<label>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// A version number.
    Version(i64),
    /// A label.
    Label(String),
}

impl Selector {
    /// As written after the colon.
    pub fn text(&self) -> String {
        match self {
            Selector::Version(n) => n.to_string(),
            Selector::Label(l) => l.clone(),
        }
    }
}

/// A name as requests give it: a name or an ARN of this account and region, with an
/// optional selector. `(name, selector)`.
pub fn parse_name(
    given: &str,
    account: &str,
    region: &str,
) -> Result<(String, Option<Selector>), SsmError> {
    let prefix = format!("arn:aws:ssm:{region}:{account}:parameter");
    let plain = match given.strip_prefix(&prefix) {
        // `…:parameter/a/b` names `/a/b`; `…:parameter/a` names `a`.
        Some(rest) => {
            let rest = rest.strip_prefix('/').unwrap_or(rest);
            if rest.contains('/') {
                format!("/{rest}")
            } else {
                rest.to_owned()
            }
        }
        None if given.starts_with("arn:") => {
            return Err(SsmError::invalid(format!(
                "The parameter ARN {given} is not of this account and region."
            )))
        }
        None => given.to_owned(),
    };
    Ok(match plain.rsplit_once(':') {
        Some((name, sel)) => {
            let selector = match sel.parse::<i64>() {
                Ok(n) => Selector::Version(n),
                Err(_) => Selector::Label(sel.to_owned()),
            };
            (name.to_owned(), Some(selector))
        }
        None => (plain, None),
    })
}

/// A parameter name: letters, digits and `.-_`, `/` separating at most 15 levels, a
/// hierarchy starting with `/`, no `aws`/`ssm` prefix, at most 1,011 characters with its ARN
/// prefix (Systems Manager User Guide, "Requirements and constraints for parameter names").
pub fn check_name(name: &str) -> Result<(), SsmError> {
    let chars_ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-/".contains(&b));
    if !chars_ok || name.len() > 1011 {
        return Err(SsmError::invalid(format!(
            "Parameter name: can't be prefixed with \"aws\" or \"ssm\" (case-insensitive). If formed as a path, it can consist of sub-paths divided by slash symbol; each sub-path can be formed as a mix of letters, numbers and the following 3 symbols .-_ ({name})"
        )));
    }
    if name.contains('/') && !name.starts_with('/') {
        return Err(SsmError::invalid(
            "Parameter name must be a fully qualified name.",
        ));
    }
    if name.matches('/').count() > MAX_LEVELS {
        return Err(SsmError::HierarchyLevelLimitExceededException(
            "A hierarchy can have a maximum of 15 levels.".into(),
        ));
    }
    let first = name.trim_start_matches('/').to_ascii_lowercase();
    if first.starts_with("aws") || first.starts_with("ssm") {
        return Err(SsmError::invalid(
            "Parameter name: can't be prefixed with \"aws\" or \"ssm\" (case-insensitive).",
        ));
    }
    Ok(())
}

/// A label: 1–100 letters, digits and `.-_`, not starting with a digit, `aws` or `ssm`.
pub fn label_ok(l: &str) -> bool {
    let lower = l.to_ascii_lowercase();
    !l.is_empty()
        && l.len() <= 100
        && l.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        && !l.starts_with(|c: char| c.is_ascii_digit())
        && !lower.starts_with("aws")
        && !lower.starts_with("ssm")
}

/// The tables.
pub mod tables {
    use super::{Parameter, Table};

    /// Parameters by (account, region) then the raw name.
    pub const PARAMETERS: Table<Parameter> = Table::new("ssm.parameters");
}

/// Keys.
pub mod keys {
    use super::Key;

    /// Every parameter of an account in a region.
    pub fn all(account: &str, region: &str) -> Vec<u8> {
        Key::new().str(account).str(region).into_bytes()
    }

    /// The parameter `name` (its raw bytes last, so that a path is a prefix of the keys of
    /// the parameters below it; names hold no NUL).
    pub fn parameter(account: &str, region: &str, name: &str) -> Vec<u8> {
        Key::new()
            .str(account)
            .str(region)
            .raw(name.as_bytes())
            .into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_selectors() {
        let (a, r) = ("111122223333", "us-east-1");
        assert_eq!(parse_name("/a/b", a, r).unwrap(), ("/a/b".into(), None));
        assert_eq!(
            parse_name("/a/b:3", a, r).unwrap(),
            ("/a/b".into(), Some(Selector::Version(3)))
        );
        assert_eq!(
            parse_name("x:prod", a, r).unwrap(),
            ("x".into(), Some(Selector::Label("prod".into())))
        );
        assert_eq!(
            parse_name("arn:aws:ssm:us-east-1:111122223333:parameter/a/b", a, r).unwrap(),
            ("/a/b".into(), None)
        );
        assert_eq!(
            parse_name("arn:aws:ssm:us-east-1:111122223333:parameter/x", a, r).unwrap(),
            ("x".into(), None)
        );
        assert!(parse_name("arn:aws:ssm:eu-west-1:111122223333:parameter/x", a, r).is_err());
        assert_eq!(
            arn(r, a, "/a/b"),
            "arn:aws:ssm:us-east-1:111122223333:parameter/a/b"
        );
        assert_eq!(
            arn(r, a, "x"),
            "arn:aws:ssm:us-east-1:111122223333:parameter/x"
        );
    }

    #[test]
    fn name_rules() {
        for ok in ["x", "/a/b_c.d-e", "/prod/db/password"] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a/b", "/a b", "/aws/x", "ssm-x", "/a:b"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert!(check_name(&"/a".repeat(16)).is_err());
        assert!(label_ok("prod") && !label_ok("1x") && !label_ok("awsx") && !label_ok("a/b"));
    }
}
