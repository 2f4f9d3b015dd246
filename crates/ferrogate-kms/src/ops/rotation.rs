//! Rotation: EnableKeyRotation (period 90–2560 days, default 365), ListKeyRotations, and
//! `rotate`, used by RotateKeyOnDemand and the automatic rotation of `crate::maintenance`.
//! A rotation adds material and keeps the old versions: ciphertexts name the material they
//! were made with, so they still decrypt.

use ferrogate_iam::op::Ctx;
use ferrogate_store::TxRef;
use serde::Deserialize;
use serde_json::{json, Value};

use super::keys::{check_limit, page, secs};
use super::{usable, Done, Input, Kms};
use crate::model::{keys, tables, KmsKey, Origin, Rotation};
use crate::resolve::{Aliases, KeyRef};
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

impl Input for EnableKeyRotationInput {
    fn key_param(&self) -> Option<(&str, Aliases)> {
        Some((&self.key_id, Aliases::Refuse))
    }

    fn condition_keys(&self) -> Vec<(String, Vec<String>)> {
        vec![(
            "kms:RotationPeriodInDays".into(),
            vec![self.rotation_period_in_days.unwrap_or(365).to_string()],
        )]
    }

    fn request_parameters(&self) -> Value {
        json!({ "keyId": self.key_id, "rotationPeriodInDays": self.rotation_period_in_days.unwrap_or(365) })
    }

    fn run(
        &self,
        _kms: &Kms,
        mut tx: TxRef<'_>,
        ctx: Ctx<'_>,
        key: Option<&KeyRef>,
    ) -> Result<Done, KmsError> {
        let r = key.ok_or_else(|| KmsError::invalid_key_id(&self.key_id))?;
        let mut k = usable(tx.read(), r, ctx.now, Use::RefusedWhenDisabled)?;
        if k.origin == Origin::External {
            return Err(KmsError::UnsupportedOperationException(format!(
                "{} origin is EXTERNAL which is not valid for this operation.",
                k.arn()
            )));
        }
        let days = u32::try_from(self.rotation_period_in_days.unwrap_or(365)).unwrap_or(365);
        k.rotation_enabled = true;
        k.rotation_period_days = days;
        k.next_rotation = Some(ctx.now.plus_millis(i64::from(days) * DAY_MS));
        tables::KEYS.put(
            tx.write()?,
            &keys::key(&k.account, &k.region, &k.key_id),
            &k,
        )?;
        Ok(Done::body(json!({})))
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

impl Input for ListKeyRotationsInput {
    fn key_param(&self) -> Option<(&str, Aliases)> {
        Some((&self.key_id, Aliases::Refuse))
    }

    fn request_parameters(&self) -> Value {
        json!({ "keyId": self.key_id })
    }

    fn run(
        &self,
        _kms: &Kms,
        tx: TxRef<'_>,
        ctx: Ctx<'_>,
        key: Option<&KeyRef>,
    ) -> Result<Done, KmsError> {
        let r = key.ok_or_else(|| KmsError::invalid_key_id(&self.key_id))?;
        let k = usable(tx.read(), r, ctx.now, Use::Manage)?;
        if k.origin == Origin::External {
            return Err(KmsError::UnsupportedOperationException(format!(
                "{} origin is EXTERNAL which is not valid for this operation.",
                k.arn()
            )));
        }
        let limit = check_limit(self.limit)?;
        let (page, next) = page(k.rotations.clone(), self.marker.as_deref(), limit, |r| {
            r.material_id.clone()
        })?;
        let list: Vec<Value> = page
            .iter()
            .map(|r| json!({ "KeyId": k.arn(), "RotationDate": secs(r.date), "RotationType": r.kind, "KeyMaterialId": r.material_id }))
            .collect();
        let mut body = json!({ "Rotations": list, "Truncated": next.is_some() });
        if let Some(n) = next {
            body["NextMarker"] = json!(n);
        }
        Ok(Done::body(body))
    }
}
