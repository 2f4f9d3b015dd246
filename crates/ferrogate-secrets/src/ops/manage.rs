//! Lifecycle and metadata: DeleteSecret, RestoreSecret, UpdateSecretVersionStage,
//! TagResource, UntagResource, GetResourcePolicy, PutResourcePolicy, DeleteResourcePolicy.

use ferrogate_api::{
    Authorization, Authorized, Done, Empty, Exec, Operation, Reply, RequestTags, Scope,
};
use ferrogate_store::{Direction, TxRef, WriteTx};
use serde::{Deserialize, Serialize};

use super::values::save;
use super::{
    action, check_on, check_secret_id, check_tags, existing, find, live, secs, tag_pairs, ArnName,
    Secrets, Tag, SECRET_TYPE,
};
use crate::model::{
    check_stage, check_version_id, keys, partial_arn, tables, Secret, AWSCURRENT, MAX_STAGES,
    MAX_TAGS,
};
use crate::SecretsError;

/// Removes the secret and every value of it.
pub(crate) fn purge(tx: &mut dyn WriteTx, s: &Secret) -> Result<(), SecretsError> {
    let prefix = keys::values(&s.account, &s.region, &s.name, &s.suffix);
    loop {
        let batch = tables::VALUES.scan(&*tx, &prefix, None, Direction::Forward, 256)?;
        if batch.is_empty() {
            break;
        }
        for (k, _) in batch {
            tables::VALUES.delete(tx, &k)?;
        }
    }
    tables::SECRETS.delete(tx, &keys::secret(&s.account, &s.region, &s.name))?;
    Ok(())
}

/// `DeleteSecret`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all(deserialize = "PascalCase", serialize = "camelCase"))]
pub struct DeleteSecretInput {
    secret_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    recovery_window_in_days: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    force_delete_without_recovery: Option<bool>,
}

impl DeleteSecretInput {
    pub(crate) fn validated(self) -> Result<Self, SecretsError> {
        check_secret_id(&self.secret_id)?;
        let force = self.force_delete_without_recovery == Some(true);
        if force && self.recovery_window_in_days.is_some() {
            return Err(SecretsError::invalid(
                "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.",
            ));
        }
        if self
            .recovery_window_in_days
            .is_some_and(|d| !(7..=30).contains(&d))
        {
            return Err(SecretsError::invalid(
                "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).",
            ));
        }
        Ok(self)
    }
}

/// `DeleteSecret`'s answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteSecretOutput {
    #[serde(rename = "ARN")]
    arn: String,
    name: String,
    deletion_date: f64,
}

impl Operation for DeleteSecretInput {
    type Output = DeleteSecretOutput;

    fn authorize(&self, s: &Scope<'_, Secrets>) -> Result<Authorization, SecretsError> {
        let mut check = check_on(s, action::<Self>(), &self.secret_id, RequestTags::None)?;
        if let Some(d) = self.recovery_window_in_days {
            check = check.key("secretsmanager:RecoveryWindowInDays", vec![d.to_string()]);
        }
        if let Some(f) = self.force_delete_without_recovery {
            check = check.key(
                "secretsmanager:ForceDeleteWithoutRecovery",
                vec![f.to_string()],
            );
        }
        Ok(Authorization::of(check))
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Secrets>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let account = ctx.principal.account.as_str();
        let force = op.force_delete_without_recovery == Some(true);
        let now = ctx.now.millis();
        let Some(mut s) = find(tx.read(), account, ctx.region, &op.secret_id)? else {
            // "If you forcibly delete an already deleted or nonexistent secret, the
            // operation does not return ResourceNotFoundException." (API Reference)
            if force {
                let arn = match op.secret_id.strip_prefix("arn:") {
                    Some(_) => op.secret_id.clone(),
                    None => partial_arn(ctx.region, account, &op.secret_id),
                };
                return Ok(Reply::new(DeleteSecretOutput {
                    arn,
                    name: op.secret_id.clone(),
                    deletion_date: secs(now),
                }));
            }
            return Err(SecretsError::not_found());
        };
        let arn = s.arn();
        let elements = |d: i64| serde_json::json!({"arn": arn, "name": s.name, "deletionDate": ferrogate_types::Timestamp::from_millis(d).iso8601()});
        if force {
            purge(tx.write()?, &s)?;
            let out = DeleteSecretOutput {
                arn: arn.clone(),
                name: s.name.clone(),
                deletion_date: secs(now),
            };
            return Ok(Reply::new(out)
                .elements(elements(now))
                .resource(SECRET_TYPE, arn.clone()));
        }
        if s.is_deleted() {
            return Err(SecretsError::InvalidRequestException(
                "You can't perform this operation on the secret because it was already scheduled for deletion.".into(),
            ));
        }
        let days = op.recovery_window_in_days.unwrap_or(30);
        let when = now + days * 86_400_000;
        let e = elements(when);
        s.deleted = Some(now);
        s.deletion_date = Some(when);
        save(&mut tx, &s)?;
        Ok(Reply::new(DeleteSecretOutput {
            arn: arn.clone(),
            name: s.name.clone(),
            deletion_date: secs(when),
        })
        .elements(e)
        .resource(SECRET_TYPE, arn))
    }
}

/// An input that names only its secret.
macro_rules! secret_id_input {
    ($($(#[$m:meta])* $name:ident),* $(,)?) => {$(
        $(#[$m])*
        #[derive(Debug, Deserialize, Serialize)]
        #[serde(rename_all(deserialize = "PascalCase", serialize = "camelCase"))]
        pub struct $name {
            secret_id: String,
        }

        impl $name {
            pub(crate) fn validated(self) -> Result<Self, SecretsError> {
                check_secret_id(&self.secret_id)?;
                Ok(self)
            }
        }
    )*};
}

secret_id_input!(
    /// `RestoreSecret`.
    RestoreSecretInput,
    /// `GetResourcePolicy`.
    GetResourcePolicyInput,
    /// `DeleteResourcePolicy`.
    DeleteResourcePolicyInput,
);

/// Runs `change` on the secret `id` names (deleted or not, as `live_only` says) and saves
/// it; answers `{ARN, Name}`.
fn change(
    tx: &mut TxRef<'_>,
    ctx: &ferrogate_api::Ctx<'_>,
    id: &str,
    live_only: bool,
    change: impl FnOnce(&mut Secret) -> Result<(), SecretsError>,
) -> Result<Reply<ArnName>, SecretsError> {
    let account = ctx.principal.account.as_str();
    let mut s = if live_only {
        live(tx.read(), account, ctx.region, id)?
    } else {
        existing(tx.read(), account, ctx.region, id)?
    };
    change(&mut s)?;
    save(tx, &s)?;
    let out = ArnName::of(&s);
    let elements = out.elements();
    Ok(Reply::new(out)
        .elements(elements)
        .resource(SECRET_TYPE, s.arn()))
}

impl Operation for RestoreSecretInput {
    type Output = ArnName;

    fn authorize(&self, s: &Scope<'_, Secrets>) -> Result<Authorization, SecretsError> {
        super::on::<Self>(s, &self.secret_id)
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Secrets>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let now = ctx.now.millis();
        change(&mut tx, &ctx, &op.secret_id, false, |s| {
            s.deleted = None;
            s.deletion_date = None;
            s.last_changed = now;
            Ok(())
        })
    }
}

/// `UpdateSecretVersionStage`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all(deserialize = "PascalCase", serialize = "camelCase"))]
pub struct UpdateSecretVersionStageInput {
    secret_id: String,
    version_stage: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    remove_from_version_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    move_to_version_id: Option<String>,
}

impl UpdateSecretVersionStageInput {
    pub(crate) fn validated(self) -> Result<Self, SecretsError> {
        check_secret_id(&self.secret_id)?;
        check_stage(&self.version_stage)?;
        if let Some(v) = &self.remove_from_version_id {
            check_version_id("removeFromVersionId", v)?;
        }
        if let Some(v) = &self.move_to_version_id {
            check_version_id("moveToVersionId", v)?;
        }
        Ok(self)
    }

    /// Moves the label as AWS documents: it must be removed from the version that has it
    /// (named in `RemoveFromVersionId`), `AWSCURRENT` cannot be removed without a new home,
    /// and moving `AWSCURRENT` leaves `AWSPREVIOUS` on the version that had it.
    fn apply(&self, s: &mut Secret) -> Result<(), SecretsError> {
        let stage = &self.version_stage;
        let holder = s.staged(stage).map(|v| v.id.clone());
        let exists = |s: &Secret, id: &str| {
            s.version(id).map(|_| ()).ok_or_else(|| {
                SecretsError::invalid(format!(
                    "The version {id} doesn't exist for the secret {}.",
                    s.arn()
                ))
            })
        };
        if let Some(from) = &self.remove_from_version_id {
            exists(s, from)?;
            if holder.as_deref() != Some(from) {
                return Err(SecretsError::invalid(format!(
                    "The staging label {stage} isn't attached to the version {from}."
                )));
            }
        }
        if let Some(h) = &holder {
            let moving_away = self.move_to_version_id.as_deref() != Some(h.as_str());
            if moving_away && self.remove_from_version_id.as_deref() != Some(h.as_str()) {
                return Err(SecretsError::invalid(format!(
                    "The parameter RemoveFromVersionId can't be empty. Staging label {stage} is currently attached to version {h}, so you must explicitly reference that version in RemoveFromVersionId."
                )));
            }
        }
        match &self.move_to_version_id {
            Some(to) => {
                exists(s, to)?;
                let full = s.version(to).is_some_and(|v| {
                    v.stages.len() >= MAX_STAGES && !v.stages.contains(stage)
                });
                if full {
                    return Err(SecretsError::LimitExceededException(format!(
                        "A version can have at most {MAX_STAGES} staging labels."
                    )));
                }
                s.attach(to, std::slice::from_ref(stage));
            }
            None if stage == AWSCURRENT => {
                return Err(SecretsError::invalid(
                    "You can't remove the staging label AWSCURRENT from a version without moving it to another version.",
                ))
            }
            None => {
                if let Some(from) = &self.remove_from_version_id {
                    s.detach(from, stage);
                }
            }
        }
        Ok(())
    }
}

impl Operation for UpdateSecretVersionStageInput {
    type Output = ArnName;

    fn authorize(&self, s: &Scope<'_, Secrets>) -> Result<Authorization, SecretsError> {
        let check = check_on(s, action::<Self>(), &self.secret_id, RequestTags::None)?.key(
            "secretsmanager:VersionStage",
            vec![self.version_stage.clone()],
        );
        Ok(Authorization::of(check))
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Secrets>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let now = ctx.now.millis();
        change(&mut tx, &ctx, &op.secret_id, true, |s| {
            op.apply(s)?;
            s.last_changed = now;
            Ok(())
        })
    }
}

/// `TagResource`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all(deserialize = "PascalCase", serialize = "camelCase"))]
pub struct TagResourceInput {
    secret_id: String,
    tags: Vec<Tag>,
}

impl TagResourceInput {
    pub(crate) fn validated(self) -> Result<Self, SecretsError> {
        check_secret_id(&self.secret_id)?;
        check_tags(&self.tags)?;
        Ok(self)
    }
}

impl Operation for TagResourceInput {
    type Output = Empty;

    fn authorize(&self, s: &Scope<'_, Secrets>) -> Result<Authorization, SecretsError> {
        let tags = RequestTags::Set(tag_pairs(&self.tags));
        Ok(Authorization::of(check_on(
            s,
            action::<Self>(),
            &self.secret_id,
            tags,
        )?))
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Secrets>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let now = ctx.now.millis();
        let r = change(&mut tx, &ctx, &op.secret_id, false, |s| {
            for (k, v) in tag_pairs(&op.tags) {
                match s.tags.iter_mut().find(|(x, _)| *x == k) {
                    Some(t) => t.1 = v,
                    None => s.tags.push((k, v)),
                }
            }
            if s.tags.len() > MAX_TAGS {
                return Err(SecretsError::LimitExceededException(
                    "The number of tags exceeds the maximum of 50.".into(),
                ));
            }
            s.last_changed = now;
            Ok(())
        })?;
        Ok(Reply::new(Empty {}).resource(SECRET_TYPE, r.output.arn()))
    }
}

/// `UntagResource`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all(deserialize = "PascalCase", serialize = "camelCase"))]
pub struct UntagResourceInput {
    secret_id: String,
    tag_keys: Vec<String>,
}

impl UntagResourceInput {
    pub(crate) fn validated(self) -> Result<Self, SecretsError> {
        check_secret_id(&self.secret_id)?;
        Ok(self)
    }
}

impl Operation for UntagResourceInput {
    type Output = Empty;

    fn authorize(&self, s: &Scope<'_, Secrets>) -> Result<Authorization, SecretsError> {
        let tags = RequestTags::Remove(self.tag_keys.clone());
        Ok(Authorization::of(check_on(
            s,
            action::<Self>(),
            &self.secret_id,
            tags,
        )?))
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Secrets>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let now = ctx.now.millis();
        let r = change(&mut tx, &ctx, &op.secret_id, false, |s| {
            s.tags.retain(|(k, _)| !op.tag_keys.contains(k));
            s.last_changed = now;
            Ok(())
        })?;
        Ok(Reply::new(Empty {}).resource(SECRET_TYPE, r.output.arn()))
    }
}

/// `GetResourcePolicy`'s answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyOutput {
    #[serde(rename = "ARN")]
    arn: String,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource_policy: Option<String>,
}

impl Operation for GetResourcePolicyInput {
    type Output = PolicyOutput;

    fn authorize(&self, s: &Scope<'_, Secrets>) -> Result<Authorization, SecretsError> {
        super::on::<Self>(s, &self.secret_id)
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Secrets>) -> Done<Self> {
        let Exec { tx, ctx, .. } = x;
        let s = existing(
            tx.read(),
            ctx.principal.account.as_str(),
            ctx.region,
            &op.secret_id,
        )?;
        Ok(Reply::new(PolicyOutput {
            arn: s.arn(),
            name: s.name.clone(),
            resource_policy: s.policy.clone(),
        })
        .resource(SECRET_TYPE, s.arn()))
    }
}

/// `PutResourcePolicy`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all(deserialize = "PascalCase", serialize = "camelCase"))]
pub struct PutResourcePolicyInput {
    secret_id: String,
    resource_policy: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    block_public_policy: Option<bool>,
}

/// The largest resource policy (`NonEmptyResourcePolicyType`, max 20,480).
const MAX_POLICY: usize = 20_480;

/// True when a policy allows anyone (`"Principal": "*"` or `{"AWS": "*"}`) without a
/// condition: what `BlockPublicPolicy` refuses.
fn is_public(doc: &str) -> bool {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(doc) else {
        return false;
    };
    let statements = match &v["Statement"] {
        serde_json::Value::Array(a) => a.clone(),
        other => vec![other.clone()],
    };
    let star = |p: &serde_json::Value| match p {
        serde_json::Value::String(s) => s == "*",
        serde_json::Value::Array(a) => a.iter().any(|x| x == "*"),
        _ => false,
    };
    statements.iter().any(|s| {
        s["Effect"] == "Allow"
            && s.get("Condition").is_none()
            && (star(&s["Principal"]) || star(&s["Principal"]["AWS"]))
    })
}

impl PutResourcePolicyInput {
    pub(crate) fn validated(self) -> Result<Self, SecretsError> {
        check_secret_id(&self.secret_id)?;
        if self.resource_policy.is_empty() || self.resource_policy.len() > MAX_POLICY {
            return Err(SecretsError::constraint(
                "resourcePolicy",
                "Member must have length between 1 and 20480",
            ));
        }
        super::parse_policy(&self.resource_policy)?;
        if self.block_public_policy == Some(true) && is_public(&self.resource_policy) {
            return Err(SecretsError::PublicPolicyException(
                "This resource policy will grant public access to the secret.".into(),
            ));
        }
        Ok(self)
    }
}

impl Operation for PutResourcePolicyInput {
    type Output = ArnName;

    fn authorize(&self, s: &Scope<'_, Secrets>) -> Result<Authorization, SecretsError> {
        let mut check = check_on(s, action::<Self>(), &self.secret_id, RequestTags::None)?;
        if let Some(b) = self.block_public_policy {
            check = check.key("secretsmanager:BlockPublicPolicy", vec![b.to_string()]);
        }
        Ok(Authorization::of(check))
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Secrets>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        change(&mut tx, &ctx, &op.secret_id, true, |s| {
            s.policy = Some(op.resource_policy.clone());
            Ok(())
        })
    }
}

impl Operation for DeleteResourcePolicyInput {
    type Output = ArnName;

    fn authorize(&self, s: &Scope<'_, Secrets>) -> Result<Authorization, SecretsError> {
        super::on::<Self>(s, &self.secret_id)
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Secrets>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        change(&mut tx, &ctx, &op.secret_id, false, |s| {
            s.policy = None;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::AWSPREVIOUS;

    fn secret(versions: &[(&str, &[&str])]) -> Secret {
        crate::model::fixture("db", versions)
    }

    fn stage(stage: &str, from: Option<&str>, to: Option<&str>) -> UpdateSecretVersionStageInput {
        UpdateSecretVersionStageInput {
            secret_id: "db".into(),
            version_stage: stage.into(),
            remove_from_version_id: from.map(str::to_owned),
            move_to_version_id: to.map(str::to_owned),
        }
    }

    const V1: &str = "11111111111111111111111111111111";
    const V2: &str = "22222222222222222222222222222222";

    #[test]
    fn moving_current_needs_its_holder_and_leaves_previous() {
        let mut s = secret(&[(V1, &[AWSCURRENT]), (V2, &[])]);
        let e = stage(AWSCURRENT, None, Some(V2)).apply(&mut s).unwrap_err();
        assert!(
            e.to_string().contains("RemoveFromVersionId can't be empty"),
            "{e}"
        );
        stage(AWSCURRENT, Some(V1), Some(V2)).apply(&mut s).unwrap();
        assert_eq!(s.version(V2).unwrap().stages, [AWSCURRENT]);
        assert_eq!(s.version(V1).unwrap().stages, [AWSPREVIOUS]);
        assert!(stage(AWSCURRENT, Some(V2), None).apply(&mut s).is_err());
        // A custom label: added, then removed.
        stage("blue", None, Some(V1)).apply(&mut s).unwrap();
        assert!(s.version(V1).unwrap().stages.contains(&"blue".to_owned()));
        assert!(stage("blue", Some(V2), None).apply(&mut s).is_err());
        stage("blue", Some(V1), None).apply(&mut s).unwrap();
        assert!(!s.version(V1).unwrap().stages.contains(&"blue".to_owned()));
        assert!(stage("x", None, Some("33333333333333333333333333333333"))
            .apply(&mut s)
            .is_err());
    }

    #[test]
    fn public_policies() {
        assert!(is_public(
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"secretsmanager:*","Resource":"*"}]}"#
        ));
        assert!(is_public(
            r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":["*"]},"Action":"secretsmanager:*","Resource":"*"}}"#
        ));
        assert!(!is_public(
            r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"secretsmanager:*","Resource":"*"}]}"#
        ));
        assert!(!is_public(
            r#"{"Statement":[{"Effect":"Deny","Principal":"*","Action":"secretsmanager:*","Resource":"*"}]}"#
        ));
    }
}
