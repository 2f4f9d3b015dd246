//! What another service may learn about a key its caller handed it, and only under the
//! caller's own `kms:DescribeKey` permission (ECS checking a cluster's
//! `fargateEphemeralStorageKmsKeyId`, as AWS does: "ECS uses `kms:DescribeKey` … with the
//! caller's permissions").
//!
//! The calling service asks for [`describe_access`] before authorization and puts it in
//! its [`Access::also`], so the same engine that decides a DescribeKey request decides
//! this one (key policy mandatory, IAM only where the key policy delegates); it reads
//! [`facts`] in its own transaction afterwards.

use ferrogate_iam::op::Access;
use ferrogate_store::ReadTx;
use ferrogate_types::{Principal, Timestamp};

use crate::model::KeyState;
use crate::ops::{key_access, Kms};
use crate::resolve::{self, Aliases, KeyRef};
use crate::{state, KmsError};

/// A key as DescribeKey shows it, reduced to what a caller service checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFacts {
    /// The key ARN.
    pub arn: String,
    /// `KeySpec` (`SYMMETRIC_DEFAULT`).
    pub key_spec: String,
    /// `KeyUsage` (`ENCRYPT_DECRYPT`).
    pub key_usage: String,
    /// The key's state now.
    pub state: KeyState,
    /// Whether it is a multi-Region key (never, in Ferrogate).
    pub multi_region: bool,
}

/// Resolves `name` (a key id or key ARN; alias names are refused with `NotFoundException`,
/// as management operations refuse them) for a caller in `(principal.account, region)`.
pub fn resolve_key(
    tx: &dyn ReadTx,
    principal: &Principal,
    region: &str,
    name: &str,
) -> Result<KeyRef, KmsError> {
    resolve::resolve(
        tx,
        principal.account.as_str(),
        region,
        name,
        Aliases::Refuse,
    )
}

/// The authorization of `kms:DescribeKey` on the key `name` names, for the caller, made
/// through `via_service` (`kms:ViaService`, e.g. `ecs.us-east-1.amazonaws.com`): to be
/// checked like any request's ([`Access::also`]), with only KMS's own condition keys.
pub fn describe_access(
    kms: &Kms,
    tx: &dyn ReadTx,
    principal: &Principal,
    region: &str,
    now: Timestamp,
    name: &str,
    via_service: &str,
) -> Result<Access, KmsError> {
    let r = resolve_key(tx, principal, region, name)?;
    let mut access = key_access(kms, tx, principal, region, now, &r, None, &[])?;
    access.action = Some("kms:DescribeKey".to_owned());
    access
        .keys
        .push(("kms:ViaService".to_owned(), vec![via_service.to_owned()]));
    access.isolated = true;
    Ok(access)
}

/// The key `r` names as it is at `now` (`NotFoundException` once deleted).
pub fn facts(tx: &dyn ReadTx, r: &KeyRef, now: Timestamp) -> Result<KeyFacts, KmsError> {
    let key = resolve::load(tx, r)?;
    let st = state::effective(&key, now).ok_or_else(|| KmsError::no_such_key(&key.arn()))?;
    Ok(KeyFacts {
        arn: key.arn(),
        key_spec: key.key_spec.clone(),
        key_usage: key.key_usage.clone(),
        state: st,
        multi_region: false,
    })
}
