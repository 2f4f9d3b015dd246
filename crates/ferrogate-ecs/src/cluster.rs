//! Cluster names and references, and the checks of what CreateCluster and UpdateCluster
//! take: tags, settings and `configuration`, including the customer managed key for
//! Fargate ephemeral storage.

use ferrogate_kms::KmsError;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::{ManagedStorage, Tag};
use crate::EcsError;

/// True for a valid cluster name, task definition family or container name: 1–255
/// letters, digits, hyphens and underscores.
pub fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Refuses an invalid cluster name.
pub fn check_name(name: &str) -> Result<(), EcsError> {
    if is_name(name) {
        Ok(())
    } else {
        Err(EcsError::invalid(
            "Cluster name can have up to 255 characters; valid characters are letters (uppercase and lowercase), numbers, hyphens and underscores.",
        ))
    }
}

/// The name of the cluster `reference` (a name or a cluster ARN) addresses in the caller's
/// `(account, region)`; `None` when it addresses nothing there (another account's or
/// region's ARN, or no valid name): such a cluster is not found.
pub fn resolve(reference: &str, account: &str, region: &str) -> Option<String> {
    let name = match reference.strip_prefix("arn:") {
        Some(_) => {
            let prefix = format!("arn:aws:ecs:{region}:{account}:cluster/");
            reference.strip_prefix(&prefix)?
        }
        None => reference,
    };
    is_name(name).then(|| name.to_owned())
}

/// `tags` as ECS takes them.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct TagIn {
    /// Key.
    #[serde(default)]
    pub key: Option<String>,
    /// Value.
    #[serde(default)]
    pub value: Option<String>,
}

/// Checks tags: at most 50, keys 1–128 and values 0–256 characters, no `aws:` prefix, no
/// key twice.
pub fn check_tags(tags: &[TagIn]) -> Result<Vec<Tag>, EcsError> {
    if tags.len() > 50 {
        return Err(EcsError::invalid(
            "The number of tags exceeds the limit of 50 tags per resource.",
        ));
    }
    let mut out: Vec<Tag> = Vec::with_capacity(tags.len());
    for t in tags {
        let key = t.key.clone().unwrap_or_default();
        let value = t.value.clone().unwrap_or_default();
        if key.is_empty() || key.chars().count() > 128 {
            return Err(EcsError::invalid(
                "Tag keys must be between 1 and 128 characters in length.",
            ));
        }
        if value.chars().count() > 256 {
            return Err(EcsError::invalid(
                "Tag values must be between 0 and 256 characters in length.",
            ));
        }
        if key.to_ascii_lowercase().starts_with("aws:") {
            return Err(EcsError::invalid(
                "Tag keys beginning with 'aws:' are reserved.",
            ));
        }
        if out.iter().any(|o| o.key == key) {
            return Err(EcsError::invalid(format!("Duplicate tag key: {key}.")));
        }
        out.push(Tag { key, value });
    }
    Ok(out)
}

/// `settings[]` member.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct SettingIn {
    /// Only `containerInsights`.
    #[serde(default)]
    pub name: Option<String>,
    /// `enabled`, `disabled` or `enhanced`.
    #[serde(default)]
    pub value: Option<String>,
}

/// Checks `settings`.
pub fn check_settings(settings: &[SettingIn]) -> Result<Vec<(String, String)>, EcsError> {
    let mut out: Vec<(String, String)> = Vec::new();
    for s in settings {
        let name = s.name.clone().unwrap_or_default();
        let value = s.value.clone().unwrap_or_default();
        if name != "containerInsights" {
            return Err(EcsError::invalid(format!(
                "Invalid setting name '{name}': the only cluster setting is containerInsights."
            )));
        }
        if !matches!(value.as_str(), "enabled" | "disabled" | "enhanced") {
            return Err(EcsError::invalid(format!(
                "Invalid value '{value}' for containerInsights: must be enabled, disabled or enhanced."
            )));
        }
        out.retain(|(n, _)| *n != name);
        out.push((name, value));
    }
    Ok(out)
}

/// `configuration`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigurationIn {
    /// `executeCommandConfiguration`.
    #[serde(default)]
    pub execute_command_configuration: Option<ExecuteCommandIn>,
    /// `managedStorageConfiguration`.
    #[serde(default)]
    pub managed_storage_configuration: Option<ManagedStorageIn>,
}

/// `executeCommandConfiguration`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecuteCommandIn {
    /// `kmsKeyId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    /// `NONE`, `DEFAULT` or `OVERRIDE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logging: Option<String>,
    /// `logConfiguration`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_configuration: Option<LogConfigurationIn>,
}

/// `executeCommandConfiguration.logConfiguration`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogConfigurationIn {
    /// `cloudWatchLogGroupName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_watch_log_group_name: Option<String>,
    /// `cloudWatchEncryptionEnabled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_watch_encryption_enabled: Option<bool>,
    /// `s3BucketName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_bucket_name: Option<String>,
    /// `s3EncryptionEnabled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_encryption_enabled: Option<bool>,
    /// `s3KeyPrefix`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_key_prefix: Option<String>,
}

/// `managedStorageConfiguration`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ManagedStorageIn {
    /// The key for EBS task volumes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    /// The key for Fargate ephemeral storage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fargate_ephemeral_storage_kms_key_id: Option<String>,
}

/// The IAM condition key that carries the requested Fargate ephemeral storage key.
pub const FARGATE_KEY_CONDITION: &str = "ecs:fargate-ephemeral-storage-kms-key";

impl ConfigurationIn {
    /// The Fargate ephemeral storage key the request names, as sent.
    pub fn fargate_key(&self) -> Option<&str> {
        self.managed_storage_configuration
            .as_ref()?
            .fargate_ephemeral_storage_kms_key_id
            .as_deref()
    }

    /// Checks everything but the key itself (which needs KMS): the execute-command
    /// configuration's members, and that the key is named by key id or key ARN.
    pub fn check(&self) -> Result<(), EcsError> {
        if let Some(e) = &self.execute_command_configuration {
            match e.logging.as_deref() {
                None | Some("NONE" | "DEFAULT") => {}
                Some("OVERRIDE") => {
                    if e.log_configuration.is_none() {
                        return Err(EcsError::invalid(
                            "logConfiguration must be specified when logging is OVERRIDE.",
                        ));
                    }
                }
                Some(other) => {
                    return Err(EcsError::invalid(format!(
                        "Invalid logging value '{other}': must be NONE, DEFAULT or OVERRIDE."
                    )))
                }
            }
        }
        if let Some(k) = self.fargate_key() {
            check_key_name(k)?;
        }
        Ok(())
    }

    /// The stored form of the execute-command configuration.
    pub fn execute_command_value(&self) -> Option<Value> {
        self.execute_command_configuration
            .as_ref()
            .and_then(|e| serde_json::to_value(e).ok())
    }
}

/// A key for Fargate ephemeral storage must be named by key id or key ARN: ECS does not
/// take aliases here ("aliases not supported").
pub fn check_key_name(k: &str) -> Result<(), EcsError> {
    if k.is_empty() {
        return Err(EcsError::invalid(
            "fargateEphemeralStorageKmsKeyId must not be empty; to remove the key, give a managedStorageConfiguration without it.",
        ));
    }
    if k.starts_with("alias/") || (k.starts_with("arn:") && k.contains(":alias/")) {
        return Err(EcsError::invalid(format!(
            "Aliases are not supported for fargateEphemeralStorageKmsKeyId: specify a key ID or key ARN, not '{k}'."
        )));
    }
    Ok(())
}

/// The refusal of a key that KMS could not describe for the caller.
pub fn key_error(key: &str, e: KmsError) -> EcsError {
    match e {
        KmsError::Internal(s) => EcsError::Internal(s),
        KmsError::AccessDeniedException(m) => EcsError::AccessDeniedException(m),
        other => EcsError::invalid(format!(
            "The KMS key '{key}' for fargateEphemeralStorageKmsKeyId cannot be used: {}: {other}",
            ferrogate_wire::AwsError::aws_code(&other, ferrogate_wire::Protocol::Json11)
        )),
    }
}

/// Checks what KMS's DescribeKey says of the key: symmetric encryption, enabled,
/// single-Region.
pub fn check_key_facts(f: &ferrogate_kms::ops::output::KeyMetadata) -> Result<(), EcsError> {
    if f.key_spec != "SYMMETRIC_DEFAULT" || f.key_usage != "ENCRYPT_DECRYPT" {
        return Err(EcsError::invalid(format!(
            "The KMS key '{}' must be a symmetric encryption key (KeySpec SYMMETRIC_DEFAULT, KeyUsage ENCRYPT_DECRYPT); it is {} for {}.",
            f.arn, f.key_spec, f.key_usage
        )));
    }
    if f.key_state != ferrogate_kms::model::KeyState::Enabled {
        return Err(EcsError::invalid(format!(
            "The KMS key '{}' must be enabled; its state is {}.",
            f.arn,
            f.key_state.as_str()
        )));
    }
    if f.multi_region {
        return Err(EcsError::invalid(format!(
            "The KMS key '{}' is a multi-Region key; multi-Region keys are not supported.",
            f.arn
        )));
    }
    Ok(())
}

/// The stored managed storage configuration, given the checked key ARN.
pub fn managed_storage(m: &ManagedStorageIn, fargate_key_arn: Option<String>) -> ManagedStorage {
    ManagedStorage {
        fargate_key_arn,
        ebs_kms_key_id: m.kms_key_id.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(is_name("default"));
        assert!(is_name("a-b_C9"));
        assert!(is_name(&"x".repeat(255)));
        for bad in ["", "a b", "a/b", "é", "a:b"] {
            assert!(!is_name(bad), "{bad}");
        }
        assert!(!is_name(&"x".repeat(256)));
    }

    #[test]
    fn references() {
        let (a, r) = ("111122223333", "us-east-1");
        assert_eq!(resolve("prod", a, r).as_deref(), Some("prod"));
        assert_eq!(
            resolve("arn:aws:ecs:us-east-1:111122223333:cluster/prod", a, r).as_deref(),
            Some("prod")
        );
        assert_eq!(
            resolve("arn:aws:ecs:us-west-2:111122223333:cluster/prod", a, r),
            None
        );
        assert_eq!(
            resolve("arn:aws:ecs:us-east-1:444455556666:cluster/prod", a, r),
            None
        );
        assert_eq!(
            resolve("arn:aws:ecs:us-east-1:111122223333:cluster/", a, r),
            None
        );
        assert_eq!(resolve("a b", a, r), None);
    }

    #[test]
    fn tags() {
        let t = |k: &str, v: &str| TagIn {
            key: Some(k.into()),
            value: Some(v.into()),
        };
        assert_eq!(check_tags(&[t("team", "x")]).unwrap().len(), 1);
        assert!(check_tags(&[t("", "x")]).is_err());
        assert!(check_tags(&[t("aws:x", "x")]).is_err());
        assert!(check_tags(&[t("AWS:x", "x")]).is_err());
        assert!(check_tags(&[t("k", &"v".repeat(257))]).is_err());
        assert!(check_tags(&[t(&"k".repeat(129), "v")]).is_err());
        assert!(check_tags(&[t("k", "1"), t("k", "2")]).is_err());
        let many: Vec<TagIn> = (0..51).map(|i| t(&format!("k{i}"), "v")).collect();
        assert!(check_tags(&many).is_err());
    }

    #[test]
    fn settings() {
        let s = |n: &str, v: &str| SettingIn {
            name: Some(n.into()),
            value: Some(v.into()),
        };
        assert_eq!(
            check_settings(&[s("containerInsights", "enabled")]).unwrap(),
            vec![("containerInsights".to_owned(), "enabled".to_owned())]
        );
        assert!(check_settings(&[s("other", "enabled")]).is_err());
        assert!(check_settings(&[s("containerInsights", "on")]).is_err());
    }

    #[test]
    fn key_names() {
        check_key_name("1234abcd-12ab-34cd-56ef-1234567890ab").unwrap();
        check_key_name(
            "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        )
        .unwrap();
        for bad in ["", "alias/x", "arn:aws:kms:us-east-1:111122223333:alias/x"] {
            assert!(matches!(
                check_key_name(bad),
                Err(EcsError::InvalidParameterException(_))
            ));
        }
    }

    #[test]
    fn execute_command_override_needs_log_configuration() {
        let c: ConfigurationIn =
            serde_json::from_str(r#"{"executeCommandConfiguration":{"logging":"OVERRIDE"}}"#)
                .unwrap();
        assert!(c.check().is_err());
        let c: ConfigurationIn = serde_json::from_str(
            r#"{"executeCommandConfiguration":{"logging":"OVERRIDE","logConfiguration":{"s3BucketName":"b"}}}"#,
        )
        .unwrap();
        c.check().unwrap();
        let c: ConfigurationIn =
            serde_json::from_str(r#"{"executeCommandConfiguration":{"logging":"LOUD"}}"#).unwrap();
        assert!(c.check().is_err());
    }
}
