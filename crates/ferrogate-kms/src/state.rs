//! Key states gate every operation in one place (firecracker's phase controllers), with
//! AWS's errors and messages. The table follows "Key states of AWS KMS keys" in the KMS
//! Developer Guide; `tests` holds one row for every (state, operation) pair.

use ferrogate_types::Timestamp;

use crate::model::{KeyState, KmsKey, Origin};
use crate::KmsError;

/// The state of `key` at `now`, applying what time does on its own: a scheduled deletion
/// that has come due deletes the key (`None`); imported material past its `ValidTo`
/// leaves the key `PendingImport`.
pub fn effective(key: &KmsKey, now: Timestamp) -> Option<KeyState> {
    if key.state == KeyState::PendingDeletion && key.deletion_date.is_some_and(|d| now >= d) {
        return None;
    }
    let expired = key.origin == Origin::External
        && key.expiration_model.as_deref() == Some("KEY_MATERIAL_EXPIRES")
        && key.valid_to.is_some_and(|v| now >= v);
    if expired && matches!(key.state, KeyState::Enabled | KeyState::Disabled) {
        return Some(KeyState::PendingImport);
    }
    Some(key.state)
}

/// How an operation relates to key state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// Encrypt, Decrypt, ReEncrypt, GenerateDataKey*: need material and `Enabled`.
    Crypto,
    /// CreateGrant, EnableKeyRotation, DisableKeyRotation, RotateKeyOnDemand: refused when
    /// disabled, pending deletion or pending import.
    RefusedWhenDisabled,
    /// EnableKey, DisableKey: refused when pending deletion or pending import.
    Toggle,
    /// ScheduleKeyDeletion: refused when already pending deletion.
    Schedule,
    /// CancelKeyDeletion: only when pending deletion.
    Cancel,
    /// GetParametersForImport, ImportKeyMaterial: `EXTERNAL` keys not pending deletion.
    Import,
    /// DeleteImportedKeyMaterial: only when there is material.
    DeleteImported,
    /// Management that works in every state but pending deletion (aliases, tags,
    /// descriptions, key policy changes, rotation status).
    Manage,
    /// Reads that work in every state (DescribeKey, GetKeyPolicy, ListGrants, RetireGrant,
    /// RevokeGrant, ListKeyPolicies, ListResourceTags, DeleteAlias).
    Always,
}

/// Refuses `what` on `key` in `state`, with AWS's error.
pub fn check(key: &KmsKey, state: KeyState, what: Use) -> Result<(), KmsError> {
    let arn = key.arn();
    let pending_deletion =
        || KmsError::KMSInvalidStateException(format!("{arn} is pending deletion."));
    let pending_import = || KmsError::KMSInvalidStateException(format!("{arn} is pending import."));
    match (what, state) {
        (Use::Always, _) => Ok(()),
        (Use::Cancel, KeyState::PendingDeletion) => Ok(()),
        // "When the specified KMS key is in the PendingDeletion state, this operation does
        // not change the KMS key's state" (KMS API Reference, DeleteImportedKeyMaterial).
        (Use::DeleteImported, KeyState::PendingDeletion)
            if key.origin == Origin::External && !key.materials.is_empty() =>
        {
            Ok(())
        }
        (_, KeyState::PendingDeletion) => Err(pending_deletion()),
        (Use::Cancel, _) => Err(KmsError::KMSInvalidStateException(format!(
            "{arn} is not pending deletion."
        ))),
        (Use::Crypto | Use::RefusedWhenDisabled, KeyState::Disabled) => {
            Err(KmsError::DisabledException(arn))
        }
        (Use::Crypto | Use::RefusedWhenDisabled | Use::Toggle, KeyState::PendingImport) => {
            Err(pending_import())
        }
        (Use::Import, _) if key.origin != Origin::External => {
            Err(KmsError::UnsupportedOperationException(format!(
                "{arn} origin is AWS_KMS which is not valid for this operation."
            )))
        }
        (Use::DeleteImported, _) if key.origin != Origin::External => {
            Err(KmsError::UnsupportedOperationException(format!(
                "{arn} origin is AWS_KMS which is not valid for this operation."
            )))
        }
        (Use::DeleteImported, KeyState::PendingImport) => Err(pending_import()),
        (Use::Schedule | Use::Manage | Use::Import | Use::DeleteImported | Use::Toggle, _) => {
            Ok(())
        }
        (Use::Crypto | Use::RefusedWhenDisabled, KeyState::Enabled) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(origin: Origin) -> KmsKey {
        KmsKey {
            key_id: "1234abcd-12ab-34cd-56ef-1234567890ab".into(),
            account: "111122223333".into(),
            region: "us-east-1".into(),
            description: String::new(),
            key_usage: "ENCRYPT_DECRYPT".into(),
            key_spec: "SYMMETRIC_DEFAULT".into(),
            origin,
            state: KeyState::Enabled,
            creation_date: Timestamp::from_secs(0),
            deletion_date: None,
            pending_window_days: None,
            policy: String::new(),
            rotation_enabled: false,
            rotation_period_days: 365,
            next_rotation: None,
            materials: Vec::new(),
            rotations: Vec::new(),
            valid_to: None,
            expiration_model: None,
            imported_material_id: None,
            tags: Vec::new(),
        }
    }

    const ARN: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    /// Every (use, state) pair for a KMS-origin key: `None` = allowed, else the error text.
    #[test]
    fn gate_table_for_kms_keys() {
        use KeyState::*;
        let ok = None;
        let disabled = Some(format!("{ARN} is disabled."));
        let deleting = Some(format!("{ARN} is pending deletion."));
        let importing = Some(format!("{ARN} is pending import."));
        let not_pending = Some(format!("{ARN} is not pending deletion."));
        let not_external = Some(format!(
            "{ARN} origin is AWS_KMS which is not valid for this operation."
        ));
        #[rustfmt::skip]
        let table: Vec<(Use, [Option<String>; 4])> = vec![
            //                          Enabled          Disabled           PendingDeletion    PendingImport
            (Use::Crypto,              [ok.clone(),      disabled.clone(),  deleting.clone(),  importing.clone()]),
            (Use::RefusedWhenDisabled, [ok.clone(),      disabled.clone(),  deleting.clone(),  importing.clone()]),
            (Use::Toggle,              [ok.clone(),      ok.clone(),        deleting.clone(),  importing.clone()]),
            (Use::Schedule,            [ok.clone(),      ok.clone(),        deleting.clone(),  ok.clone()]),
            (Use::Cancel,              [not_pending.clone(), not_pending.clone(), ok.clone(), not_pending.clone()]),
            (Use::Import,              [not_external.clone(), not_external.clone(), deleting.clone(), not_external.clone()]),
            (Use::DeleteImported,      [not_external.clone(), not_external.clone(), deleting.clone(), not_external.clone()]),
            (Use::Manage,              [ok.clone(),      ok.clone(),        deleting.clone(),  ok.clone()]),
            (Use::Always,              [ok.clone(),      ok.clone(),        ok.clone(),        ok.clone()]),
        ];
        let k = key(Origin::AwsKms);
        for (what, row) in table {
            for (state, want) in [Enabled, Disabled, PendingDeletion, PendingImport]
                .into_iter()
                .zip(row)
            {
                let got = check(&k, state, what).err().map(|e| e.to_string());
                assert_eq!(got, want, "{what:?} in {state:?}");
            }
        }
    }

    #[test]
    fn imported_keys_can_import_and_delete_material() {
        let k = key(Origin::External);
        assert!(check(&k, KeyState::PendingImport, Use::Import).is_ok());
        assert!(check(&k, KeyState::Enabled, Use::Import).is_ok());
        assert!(check(&k, KeyState::Enabled, Use::DeleteImported).is_ok());
        assert!(check(&k, KeyState::PendingImport, Use::DeleteImported).is_err());
        assert!(check(&k, KeyState::PendingImport, Use::Crypto).is_err());
        // Pending deletion: material that is there may be deleted; nothing else imports.
        assert!(check(&k, KeyState::PendingDeletion, Use::DeleteImported).is_err());
        assert!(check(&k, KeyState::PendingDeletion, Use::Import).is_err());
        let mut with_material = k.clone();
        with_material.materials.push(crate::model::Material {
            id: "00".into(),
            sealed: String::new(),
            created: Timestamp::from_secs(0),
        });
        assert!(check(
            &with_material,
            KeyState::PendingDeletion,
            Use::DeleteImported
        )
        .is_ok());
    }

    #[test]
    fn time_deletes_and_expires() {
        let mut k = key(Origin::AwsKms);
        k.state = KeyState::PendingDeletion;
        k.deletion_date = Some(Timestamp::from_secs(100));
        assert_eq!(
            effective(&k, Timestamp::from_secs(99)),
            Some(KeyState::PendingDeletion)
        );
        assert_eq!(effective(&k, Timestamp::from_secs(100)), None);
        let mut k = key(Origin::External);
        k.expiration_model = Some("KEY_MATERIAL_EXPIRES".into());
        k.valid_to = Some(Timestamp::from_secs(50));
        assert_eq!(
            effective(&k, Timestamp::from_secs(49)),
            Some(KeyState::Enabled)
        );
        assert_eq!(
            effective(&k, Timestamp::from_secs(50)),
            Some(KeyState::PendingImport)
        );
        k.state = KeyState::Disabled;
        assert_eq!(
            effective(&k, Timestamp::from_secs(51)),
            Some(KeyState::PendingImport)
        );
    }
}
