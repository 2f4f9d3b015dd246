//! Rotation: EnableKeyRotation (period 90–2560 days, default 365), ListKeyRotations, and
//! `rotate`, used by RotateKeyOnDemand and the automatic rotation of `crate::maintenance`.
//! A rotation adds material and keeps the old versions: ciphertexts name the material they
//! were made with, so they still decrypt.

use ferrogate_api::{
    Authorization, Authorized, Ctx, Done, Empty, Exec, Operation, Recorded, Reply, Scope, Sent,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::keys::{check_limit, page, save};
use super::output::{secs, Page, PageItems};
use super::{managed_key, on_managed_key, Kms, KEY};
use crate::model::{KmsKey, Origin, Rotation};
use crate::state::Use;
use crate::{material, KmsError};

/// On-demand rotations allowed per key (KMS quota).
pub const MAX_ON_DEMAND: usize = 25;
const DAY_MS: i64 = 86_400_000;

/// Adds new material to `k` and records the rotation.
pub fn rotate(k: &mut KmsKey, ctx: &Ctx<'_>, kind: &str) -> Result<(), KmsError> {
    if kind == "ON_DEMAND"
        && k.rotations.iter().filter(|r| r.kind == "ON_DEMAND").count() >= MAX_ON_DEMAND
    {
        return Err(KmsError::LimitExceededException(format!(
            "The key {} has reached the limit of {MAX_ON_DEMAND} on-demand rotations.",
            k.arn()
        )));
    }
    let m = material::generate(ctx.sealer, &k.arn(), ctx.now)?;
    k.rotations.push(Rotation {
        material_id: m.id.clone(),
        date: ctx.now,
        kind: kind.to_owned(),
    });
    k.materials.push(m);
    if kind == "AUTOMATIC" {
        k.next_rotation = Some(
            ctx.now
                .plus_millis(i64::from(k.rotation_period_days) * DAY_MS),
        );
    }
    Ok(())
}

/// `EnableKeyRotation`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EnableKeyRotationInput {
    key_id: String,
    #[serde(default)]
    rotation_period_in_days: Option<i64>,
}

impl EnableKeyRotationInput {
    pub(crate) fn validated(self) -> Result<Self, KmsError> {
        let d = self.rotation_period_in_days.unwrap_or(365);
        if !(90..=2560).contains(&d) {
            return Err(KmsError::ValidationException(format!(
                "1 validation error detected: Value '{d}' at 'rotationPeriodInDays' failed to satisfy constraint: Member must have value between 90 and 2560"
            )));
        }
        Ok(self)
    }
}

impl Operation for EnableKeyRotationInput {
    type Output = Empty;

    fn authorize(&self, s: &Scope<'_, Kms>) -> Result<Authorization, KmsError> {
        Ok(Authorization::of(
            on_managed_key(s, "kms:EnableKeyRotation", &self.key_id)?.key(
                "kms:RotationPeriodInDays",
                vec![self.rotation_period_in_days.unwrap_or(365).to_string()],
            ),
        ))
    }

    fn execute(i: &Authorized<Self>, x: Exec<'_, Kms>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let (_, mut k) = managed_key(&tx, &ctx, &i.key_id, Use::RefusedWhenDisabled)?;
        if k.origin == Origin::External {
            return Err(KmsError::UnsupportedOperationException(format!(
                "{} origin is EXTERNAL which is not valid for this operation.",
                k.arn()
            )));
        }
        let days = u32::try_from(i.rotation_period_in_days.unwrap_or(365)).unwrap_or(365);
        k.rotation_enabled = true;
        k.rotation_period_days = days;
        k.next_rotation = Some(ctx.now.plus_millis(i64::from(days) * DAY_MS));
        save(&mut tx, &k)?;
        Ok(Reply::new(Empty {}).resource(KEY, k.arn()))
    }
}

impl Recorded for EnableKeyRotationInput {
    fn request_parameters(&self, _: Sent<'_>) -> Value {
        json!({ "keyId": self.key_id, "rotationPeriodInDays": self.rotation_period_in_days.unwrap_or(365) })
    }
}

/// `ListKeyRotations`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListKeyRotationsInput {
    key_id: String,
    #[serde(default)]
    limit: Option<i64>,
    #[serde(default)]
    marker: Option<String>,
}

impl ListKeyRotationsInput {
    pub(crate) fn validated(self) -> Result<Self, KmsError> {
        check_limit(self.limit)?;
        Ok(self)
    }
}

/// `RotationsListEntry`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RotationEntry {
    key_id: String,
    rotation_date: f64,
    rotation_type: String,
    key_material_id: String,
}

impl Operation for ListKeyRotationsInput {
    type Output = Page<RotationEntry>;

    fn authorize(&self, s: &Scope<'_, Kms>) -> Result<Authorization, KmsError> {
        Ok(Authorization::of(on_managed_key(
            s,
            "kms:ListKeyRotations",
            &self.key_id,
        )?))
    }

    fn execute(i: &Authorized<Self>, x: Exec<'_, Kms>) -> Done<Self> {
        let Exec { tx, ctx, .. } = x;
        let (_, k) = managed_key(&tx, &ctx, &i.key_id, Use::Manage)?;
        if k.origin == Origin::External {
            return Err(KmsError::UnsupportedOperationException(format!(
                "{} origin is EXTERNAL which is not valid for this operation.",
                k.arn()
            )));
        }
        let limit = check_limit(i.limit)?;
        let (page, next) = page(k.rotations.clone(), i.marker.as_deref(), limit, |r| {
            r.material_id.clone()
        })?;
        let list = page
            .into_iter()
            .map(|r| RotationEntry {
                key_id: k.arn(),
                rotation_date: secs(r.date),
                rotation_type: r.kind,
                key_material_id: r.material_id,
            })
            .collect();
        Ok(Reply::new(Page::new(PageItems::Rotations(list), next)).resource(KEY, k.arn()))
    }
}

impl Recorded for ListKeyRotationsInput {
    fn request_parameters(&self, _: Sent<'_>) -> Value {
        json!({ "keyId": self.key_id })
    }
}
