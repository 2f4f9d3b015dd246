//! Secrets and their versions as stored, their keys in the store, their ARNs, AWS's rules
//! for names and staging labels, and how a `SecretId` names a secret.
//!
//! A secret's record holds everything but its values: names, tags, its policy, and each
//! version's id, labels and key. Each value is a record of its own
//! ([`tables::VALUES`]), keyed by the secret's ARN suffix and the version id, encrypted
//! ([`crate::envelope`]): listing and describing never read a value.

use ferrogate_store::{Key, Record, Table};
use serde::{Deserialize, Serialize};

use crate::envelope::Wrapped;
use crate::SecretsError;

/// The label of the current version.
pub const AWSCURRENT: &str = "AWSCURRENT";
/// The label AWS moves to the version that was current.
pub const AWSPREVIOUS: &str = "AWSPREVIOUS";
/// The label of a version being rotated in.
pub const AWSPENDING: &str = "AWSPENDING";

/// The most versions a secret keeps ("Secrets Manager quotas": 100 versions per secret;
/// past it the oldest versions without a staging label are removed).
pub const MAX_VERSIONS: usize = 100;
/// The most staging labels on one version (`SecretVersionStagesType`, max 20).
pub const MAX_STAGES: usize = 20;
/// The most tags on a secret.
pub const MAX_TAGS: usize = 50;

/// A secret.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Secret {
    /// The owning account.
    pub account: String,
    /// The region.
    pub region: String,
    /// The name.
    pub name: String,
    /// The six random characters that end its ARN.
    pub suffix: String,
    /// `Description`.
    pub description: Option<String>,
    /// `KmsKeyId` as the client gave it; `None`: the default key `aws/secretsmanager`.
    pub kms_key_id: Option<String>,
    /// Milliseconds since the epoch.
    pub created: i64,
    /// When it last changed (value, description, key, tags, policy).
    pub last_changed: i64,
    /// When it was scheduled for deletion (`DeletedDate`).
    pub deleted: Option<i64>,
    /// When it will be deleted for good.
    pub deletion_date: Option<i64>,
    /// Tags, in the order they were first set.
    pub tags: Vec<(String, String)>,
    /// The resource policy.
    pub policy: Option<String>,
    /// Versions, oldest first.
    pub versions: Vec<Version>,
}

impl Record for Secret {}

/// One version of a secret (its value lives in [`tables::VALUES`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Version {
    /// `VersionId` (the client's `ClientRequestToken`, or a UUID).
    pub id: String,
    /// Its staging labels; none: deprecated.
    pub stages: Vec<String>,
    /// Milliseconds since the epoch.
    pub created: i64,
    /// The KMS key ARN its data key is wrapped under; `None`: the default key.
    pub kms_key_arn: Option<String>,
}

/// A version's value, encrypted (see [`crate::envelope`]).
#[derive(Clone, Serialize, Deserialize)]
pub struct StoredValue {
    /// How its data key is kept.
    pub key: Wrapped,
    /// `SecretString` (false) or `SecretBinary` (true).
    pub binary: bool,
    /// Nonce and AES-256-GCM ciphertext with its tag, base64.
    pub sealed: String,
}

impl std::fmt::Debug for StoredValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredValue").finish_non_exhaustive()
    }
}

impl Record for StoredValue {}

impl Secret {
    /// `arn:aws:secretsmanager:<region>:<account>:secret:<name>-<suffix>`.
    pub fn arn(&self) -> String {
        format!(
            "{}-{}",
            partial_arn(&self.region, &self.account, &self.name),
            self.suffix
        )
    }

    /// The version `id`.
    pub fn version(&self, id: &str) -> Option<&Version> {
        self.versions.iter().find(|v| v.id == id)
    }

    /// The version that carries `stage`.
    pub fn staged(&self, stage: &str) -> Option<&Version> {
        self.versions
            .iter()
            .find(|v| v.stages.iter().any(|s| s == stage))
    }

    /// True once scheduled for deletion.
    pub fn is_deleted(&self) -> bool {
        self.deleted.is_some()
    }

    /// Attaches `stages` to `id` (which must exist) as PutSecretValue and
    /// UpdateSecretVersionStage do: each label leaves the version it was on, and when
    /// `AWSCURRENT` moves, the version that had it becomes `AWSPREVIOUS`.
    pub fn attach(&mut self, id: &str, stages: &[String]) {
        for stage in stages {
            let old = self
                .staged(stage)
                .map(|v| v.id.clone())
                .filter(|old| old != id);
            if let Some(old) = &old {
                self.detach(old, stage);
                if stage == AWSCURRENT {
                    self.move_previous(old);
                }
            }
            if let Some(v) = self.versions.iter_mut().find(|v| v.id == id) {
                if !v.stages.contains(stage) {
                    v.stages.push(stage.clone());
                }
            }
        }
    }

    /// Removes `stage` from the version `id`.
    pub fn detach(&mut self, id: &str, stage: &str) {
        if let Some(v) = self.versions.iter_mut().find(|v| v.id == id) {
            v.stages.retain(|s| s != stage);
        }
    }

    fn move_previous(&mut self, to: &str) {
        let holder = self.staged(AWSPREVIOUS).map(|v| v.id.clone());
        if let Some(h) = holder {
            self.detach(&h, AWSPREVIOUS);
        }
        if let Some(v) = self.versions.iter_mut().find(|v| v.id == to) {
            v.stages.push(AWSPREVIOUS.into());
        }
    }

    /// Drops the oldest versions without a label while there are more than
    /// [`MAX_VERSIONS`]; the ids dropped (their values must go too).
    pub fn trim_versions(&mut self) -> Vec<String> {
        let mut dropped = Vec::new();
        while self.versions.len() > MAX_VERSIONS {
            let Some(i) = self.versions.iter().position(|v| v.stages.is_empty()) else {
                break;
            };
            dropped.push(self.versions.remove(i).id);
        }
        dropped
    }
}

/// `arn:aws:secretsmanager:<region>:<account>:secret:<name>` (an ARN without its suffix:
/// the "partial ARN" AWS accepts as a `SecretId`).
pub fn partial_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:secretsmanager:{region}:{account}:secret:{name}")
}

/// The tables.
pub mod tables {
    use super::{Secret, StoredValue, Table};

    /// Secrets by (account, region, name).
    pub const SECRETS: Table<Secret> = Table::new("secretsmanager.secrets");
    /// Encrypted values by (account, region, name, suffix, version id).
    pub const VALUES: Table<StoredValue> = Table::new("secretsmanager.values");
}

/// Keys.
pub mod keys {
    use super::Key;

    /// A secret.
    pub fn secret(account: &str, region: &str, name: &str) -> Vec<u8> {
        Key::new().str(account).str(region).str(name).into_bytes()
    }

    /// Every secret of an account in a region.
    pub fn secrets(account: &str, region: &str) -> Vec<u8> {
        Key::new().str(account).str(region).into_bytes()
    }

    /// A value of the secret `name` (whose ARN ends in `suffix`).
    pub fn value(account: &str, region: &str, name: &str, suffix: &str, version: &str) -> Vec<u8> {
        Key::new()
            .str(account)
            .str(region)
            .str(name)
            .str(suffix)
            .str(version)
            .into_bytes()
    }

    /// Every value of one secret.
    pub fn values(account: &str, region: &str, name: &str, suffix: &str) -> Vec<u8> {
        Key::new()
            .str(account)
            .str(region)
            .str(name)
            .str(suffix)
            .into_bytes()
    }
}

/// A secret name: 1–512 characters, ASCII letters, digits and `/_+=.@-` (API Reference,
/// CreateSecret `Name`).
pub fn check_name(name: &str) -> Result<(), SecretsError> {
    let ok = !name.is_empty()
        && name.len() <= 512
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/_+=.@-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(SecretsError::invalid(
            "Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!",
        ))
    }
}

/// A staging label: 1–256 characters.
pub fn check_stage(stage: &str) -> Result<(), SecretsError> {
    if stage.is_empty() || stage.len() > 256 {
        return Err(SecretsError::constraint(
            "versionStage",
            "Member must have length between 1 and 256",
        ));
    }
    Ok(())
}

/// A version id or `ClientRequestToken`: 32–64 characters.
pub fn check_version_id(member: &str, id: &str) -> Result<(), SecretsError> {
    if !(32..=64).contains(&id.len()) {
        return Err(SecretsError::constraint(
            member,
            "Member must have length between 32 and 64",
        ));
    }
    Ok(())
}

/// The secret a `SecretId` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// Its account (a full or partial ARN may name another account's secret).
    pub account: String,
    /// Its name.
    pub name: String,
    /// The suffix a full ARN names (it must match); `None` for a name or a partial ARN.
    pub suffix: Option<String>,
    /// When the id is a full ARN whose last seven characters may also be part of a name
    /// (`arn:…:secret:db-prod-abcdef` names either `db-prod` with suffix `abcdef` or, as a
    /// partial ARN, `db-prod-abcdef`): the name to try if the first does not exist.
    pub alternative: Option<String>,
}

/// How `id` names a secret for a caller in `account` and `region`: by name, by full ARN
/// (name and suffix), or by partial ARN (name only), as AWS documents for `SecretId`.
/// `None`: an ARN of another region or service, which names no secret here.
pub fn locate(id: &str, account: &str, region: &str) -> Option<Located> {
    let Some(rest) = id.strip_prefix("arn:") else {
        return Some(Located {
            account: account.to_owned(),
            name: id.to_owned(),
            suffix: None,
            alternative: None,
        });
    };
    let mut parts = rest.splitn(5, ':');
    let (partition, service, r, acct, resource) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    if partition != "aws" || service != "secretsmanager" || r != region {
        return None;
    }
    let full = resource.strip_prefix("secret:")?;
    let split = full.rsplit_once('-').filter(|(n, s)| {
        !n.is_empty() && s.len() == 6 && s.bytes().all(|b| b.is_ascii_alphanumeric())
    });
    Some(match split {
        Some((name, suffix)) => Located {
            account: acct.to_owned(),
            name: name.to_owned(),
            suffix: Some(suffix.to_owned()),
            alternative: Some(full.to_owned()),
        },
        None => Located {
            account: acct.to_owned(),
            name: full.to_owned(),
            suffix: None,
            alternative: None,
        },
    })
}

/// A secret for tests: `name` in 111122223333/us-east-1, suffix `AbC123`, the given versions
/// and labels.
#[cfg(test)]
pub(crate) fn fixture(name: &str, versions: &[(&str, &[&str])]) -> Secret {
    Secret {
        account: "111122223333".into(),
        region: "us-east-1".into(),
        name: name.into(),
        suffix: "AbC123".into(),
        description: None,
        kms_key_id: None,
        created: 0,
        last_changed: 0,
        deleted: None,
        deletion_date: None,
        tags: Vec::new(),
        policy: None,
        versions: versions
            .iter()
            .map(|(id, st)| Version {
                id: (*id).into(),
                stages: st.iter().map(|s| (*s).to_owned()).collect(),
                created: 0,
                kms_key_arn: None,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(versions: &[(&str, &[&str])]) -> Secret {
        fixture("db", versions)
    }

    fn stages(s: &Secret, id: &str) -> Vec<String> {
        let mut v = s.version(id).unwrap().stages.clone();
        v.sort();
        v
    }

    #[test]
    fn current_moves_and_leaves_previous_behind() {
        let mut s = secret(&[("v1", &[AWSPREVIOUS]), ("v2", &[AWSCURRENT]), ("v3", &[])]);
        s.attach("v3", &[AWSCURRENT.into()]);
        assert_eq!(stages(&s, "v3"), [AWSCURRENT]);
        assert_eq!(stages(&s, "v2"), [AWSPREVIOUS]);
        assert!(stages(&s, "v1").is_empty());
        // A label that is not AWSCURRENT moves alone.
        s.attach("v1", &[AWSPENDING.into(), "custom".into()]);
        s.attach("v2", &["custom".into()]);
        assert_eq!(stages(&s, "v1"), [AWSPENDING]);
        assert_eq!(stages(&s, "v2"), [AWSPREVIOUS, "custom"]);
        // Attaching AWSCURRENT to the version that has it changes nothing.
        s.attach("v3", &[AWSCURRENT.into()]);
        assert_eq!(stages(&s, "v3"), [AWSCURRENT]);
        assert_eq!(stages(&s, "v2"), [AWSPREVIOUS, "custom"]);
    }

    #[test]
    fn trimming_drops_the_oldest_unlabelled_versions() {
        let ids: Vec<String> = (0..=MAX_VERSIONS + 1).map(|i| format!("v{i}")).collect();
        let mut s = secret(&[]);
        for (i, id) in ids.iter().enumerate() {
            s.versions.push(Version {
                id: id.clone(),
                stages: if i == 0 {
                    vec!["keep".into()]
                } else {
                    Vec::new()
                },
                created: 0,
                kms_key_arn: None,
            });
        }
        assert_eq!(s.trim_versions(), ["v1", "v2"]);
        assert_eq!(s.versions.len(), MAX_VERSIONS);
        assert_eq!(s.versions[0].id, "v0");
    }

    #[test]
    fn secret_ids() {
        let (a, r) = ("111122223333", "us-east-1");
        let name = locate("prod/db", a, r).unwrap();
        assert_eq!((name.name.as_str(), name.suffix), ("prod/db", None));
        let full = locate(
            "arn:aws:secretsmanager:us-east-1:444455556666:secret:prod/db-AbC123",
            a,
            r,
        )
        .unwrap();
        assert_eq!(full.account, "444455556666");
        assert_eq!(full.name, "prod/db");
        assert_eq!(full.suffix.as_deref(), Some("AbC123"));
        assert_eq!(full.alternative.as_deref(), Some("prod/db-AbC123"));
        let partial = locate(
            "arn:aws:secretsmanager:us-east-1:111122223333:secret:prod/db",
            a,
            r,
        )
        .unwrap();
        assert_eq!((partial.name.as_str(), partial.suffix), ("prod/db", None));
        assert!(locate(
            "arn:aws:secretsmanager:eu-west-1:111122223333:secret:x",
            a,
            r
        )
        .is_none());
        assert!(locate("arn:aws:kms:us-east-1:111122223333:key/x", a, r).is_none());
    }

    #[test]
    fn names() {
        for ok in ["a", "prod/db_1+x=y.z@w-v", &"n".repeat(512)] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a b", "ü", &"n".repeat(513), "a:b"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
