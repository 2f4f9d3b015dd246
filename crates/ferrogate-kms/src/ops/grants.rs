//! Grants: CreateGrant, ListGrants, ListRetirableGrants, RetireGrant, RevokeGrant.

use std::collections::BTreeMap;

use ferrogate_iam::op::{Access, Ctx};
use ferrogate_store::{Direction, ReadTx, TxRef};
use ferrogate_types::{Principal, Timestamp};
use serde::Deserialize;
use serde_json::{json, Value};

use super::keys::{check_limit, page, secs};
use super::{dry_run, key_access, usable, Done, Input, Kms};
use crate::grant::{self, GRANT_OPERATIONS};
use crate::model::{keys, tables, Constraints, Grant, GrantRef};
use crate::resolve::{self, Aliases, KeyRef};
use crate::state::Use;
use crate::KmsError;

/// Grants per key (KMS quota).
pub const MAX_GRANTS_PER_KEY: usize = 50_000;

fn principal_pattern_ok(p: &str) -> bool {
    !p.is_empty()
        && p.len() <= 256
        && p.chars()
            .all(|c| c.is_alphanumeric() || "_+=,.@:/-".contains(c))
}

/// Request form of `Constraints`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConstraintsIn {
    #[serde(default)]
    encryption_context_subset: Option<BTreeMap<String, String>>,
    #[serde(default)]
    encryption_context_equals: Option<BTreeMap<String, String>>,
}

impl ConstraintsIn {
    fn to_model(&self) -> Constraints {
        let pairs = |m: &Option<BTreeMap<String, String>>| {
            m.as_ref()
                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        };
        Constraints {
            subset: pairs(&self.encryption_context_subset),
            equals: pairs(&self.encryption_context_equals),
        }
    }
}

fn constraints_json(c: &Constraints) -> Value {
    let map = |p: &Vec<(String, String)>| {
        p.iter()
            .map(|(k, v)| (k.clone(), Value::from(v.clone())))
            .collect::<serde_json::Map<_, _>>()
    };
    let mut v = json!({});
    if let Some(s) = &c.subset {
        v["EncryptionContextSubset"] = Value::Object(map(s));
    }
    if let Some(e) = &c.equals {
        v["EncryptionContextEquals"] = Value::Object(map(e));
    }
    v
}

fn grant_json(g: &Grant, key_arn: &str) -> Value {
    let mut v = json!({
        "KeyId": key_arn, "GrantId": g.grant_id, "CreationDate": secs(g.creation_date), "GranteePrincipal": g.grantee,
        "IssuingAccount": format!("arn:aws:iam::{}:root", g.issuing_account), "Operations": g.operations,
    });
    if let Some(n) = &g.name {
        v["Name"] = json!(n);
    }
    if let Some(r) = &g.retiring {
        v["RetiringPrincipal"] = json!(r);
    }
    if g.constraints.subset.is_some() || g.constraints.equals.is_some() {
        v["Constraints"] = constraints_json(&g.constraints);
    }
    v
}

/// `CreateGrant`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateGrantInput {
    key_id: String,
    grantee_principal: String,
    #[serde(default)]
    retiring_principal: Option<String>,
    operations: Vec<String>,
    #[serde(default)]
    constraints: Option<ConstraintsIn>,
    #[serde(default)]
    grant_tokens: Vec<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    dry_run: Option<bool>,
}

impl CreateGrantInput {
    pub(crate) fn validated(self) -> Result<Self, KmsError> {
        let v = |m: String| Err(KmsError::ValidationException(m));
        if !principal_pattern_ok(&self.grantee_principal) {
            return v(format!("1 validation error detected: Value '{}' at 'granteePrincipal' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[\\w+=,.@:/-]+$", self.grantee_principal));
        }
        if let Some(r) = &self.retiring_principal {
            if !principal_pattern_ok(r) {
                return v(format!("1 validation error detected: Value '{r}' at 'retiringPrincipal' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[\\w+=,.@:/-]+$"));
            }
        }
        if self.operations.is_empty() {
            return v("1 validation error detected: Value '[]' at 'operations' failed to satisfy constraint: Member must have length greater than or equal to 1".into());
        }
        if let Some(bad) = self
            .operations
            .iter()
            .find(|o| !GRANT_OPERATIONS.contains(&o.as_str()))
        {
            return v(format!("1 validation error detected: Value '[{bad}]' at 'operations' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [{}]]", GRANT_OPERATIONS.join(", ")));
        }
        if let Some(n) = &self.name {
            if n.is_empty()
                || n.len() > 256
                || !n
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b":/_-".contains(&b))
            {
                return v(format!("1 validation error detected: Value '{n}' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$"));
            }
        }
        if let Some(c) = &self.constraints {
            for m in [&c.encryption_context_subset, &c.encryption_context_equals]
                .into_iter()
                .flatten()
            {
                if m.len() > 8 || m.values().any(|x| x.chars().count() > 384) {
                    return v("Grant constraints can have at most 8 encryption context pairs, with values of at most 384 characters.".into());
                }
            }
        }
        grant::check_tokens(&self.grant_tokens)?;
        Ok(self)
    }

    /// The key policy decides, and a grant that includes `CreateGrant` may allow a new grant
    /// no wider than itself.
    fn create_access(
        &self,
        kms: &Kms,
        tx: &dyn ReadTx,
        p: &Principal,
        region: &str,
        now: Timestamp,
    ) -> Result<Access, KmsError> {
        let r = resolve::resolve(
            tx,
            p.account.as_str(),
            region,
            &self.key_id,
            Aliases::Refuse,
        )?;
        let mut access = key_access(kms, tx, p, region, now, &r, None, &self.context())?;
        let child = self.model_constraints();
        let prefix = keys::key(&r.account, &r.region, &r.key_id);
        access.grant = tables::GRANTS
            .scan(tx, &prefix, None, Direction::Forward, MAX_GRANTS_PER_KEY)?
            .into_iter()
            .map(|(_, g)| g)
            .find(|g| {
                g.operations.iter().any(|o| o == "CreateGrant")
                    && grant::names(&g.grantee, p, region)
                    && grant::within(g, &self.operations, &child)
            })
            .map(|g| g.grant_id);
        Ok(access)
    }

    fn model_constraints(&self) -> Constraints {
        self.constraints
            .as_ref()
            .map(ConstraintsIn::to_model)
            .unwrap_or_default()
    }
}

impl Input for CreateGrantInput {
    fn key_param(&self) -> Option<(&str, Aliases)> {
        Some((&self.key_id, Aliases::Refuse))
    }

    fn context(&self) -> Vec<(String, String)> {
        // For CreateGrant, kms:EncryptionContext:* are the grant's constraints (KMS
        // Developer Guide, "kms:EncryptionContext:context-key").
        let c = self.model_constraints();
        c.subset.into_iter().chain(c.equals).flatten().collect()
    }

    fn condition_keys(&self) -> Vec<(String, Vec<String>)> {
        let mut k = vec![
            ("kms:GrantOperations".into(), self.operations.clone()),
            (
                "kms:GranteePrincipal".into(),
                vec![self.grantee_principal.clone()],
            ),
            ("kms:GrantIsForAWSResource".into(), vec!["false".into()]),
        ];
        if let Some(r) = &self.retiring_principal {
            k.push(("kms:RetiringPrincipal".into(), vec![r.clone()]));
        }
        k
    }

    fn custom_access(
        &self,
        kms: &Kms,
        tx: &dyn ReadTx,
        p: &Principal,
        region: &str,
        now: Timestamp,
    ) -> Option<Result<Access, KmsError>> {
        Some(self.create_access(kms, tx, p, region, now))
    }

    fn request_parameters(&self) -> Value {
        let mut v = json!({ "keyId": self.key_id, "granteePrincipal": self.grantee_principal, "operations": self.operations });
        if let Some(r) = &self.retiring_principal {
            v["retiringPrincipal"] = json!(r);
        }
        if let Some(c) = &self.constraints {
            let mut cv = json!({});
            if let Some(s) = &c.encryption_context_subset {
                cv["encryptionContextSubset"] = json!(s);
            }
            if let Some(e) = &c.encryption_context_equals {
                cv["encryptionContextEquals"] = json!(e);
            }
            v["constraints"] = cv;
        }
        if let Some(n) = &self.name {
            v["name"] = json!(n);
        }
        if self.dry_run == Some(true) {
            v["dryRun"] = json!(true);
        }
        v
    }

    fn run(
        &self,
        _kms: &Kms,
        mut tx: TxRef<'_>,
        ctx: Ctx<'_>,
        key: Option<&KeyRef>,
    ) -> Result<Done, KmsError> {
        let r = key.ok_or_else(|| KmsError::invalid_key_id(&self.key_id))?;
        let k = usable(tx.read(), r, ctx.now, Use::RefusedWhenDisabled)?;
        dry_run(self.dry_run)?;
        let constraints = self.model_constraints();
        let prefix = keys::key(&r.account, &r.region, &r.key_id);
        let existing = tables::GRANTS.scan(
            tx.read(),
            &prefix,
            None,
            Direction::Forward,
            MAX_GRANTS_PER_KEY + 1,
        )?;
        // A named grant with the same parameters is the same grant (CreateGrant is
        // idempotent by Name).
        if let Some((_, g)) = existing.iter().find(|(_, g)| {
            self.name.is_some()
                && g.name == self.name
                && g.grantee == self.grantee_principal
                && g.retiring == self.retiring_principal
                && g.operations == self.operations
                && g.constraints == constraints
        }) {
            return Ok(Done::body(
                json!({ "GrantToken": grant::token(&k.arn(), &g.grant_id), "GrantId": g.grant_id }),
            ));
        }
        if existing.len() >= MAX_GRANTS_PER_KEY {
            return Err(KmsError::LimitExceededException(format!(
                "The key {} has reached the limit of {MAX_GRANTS_PER_KEY} grants.",
                k.arn()
            )));
        }
        let mut id = [0u8; 32];
        let _ = aws_lc_rs::rand::fill(&mut id);
        let g = Grant {
            grant_id: id.iter().map(|b| format!("{b:02x}")).collect(),
            key_id: r.key_id.clone(),
            name: self.name.clone(),
            grantee: self.grantee_principal.clone(),
            retiring: self.retiring_principal.clone(),
            operations: self.operations.clone(),
            constraints,
            issuing_account: ctx.principal.account.to_string(),
            creation_date: ctx.now,
        };
        let w = tx.write()?;
        tables::GRANTS.put(
            w,
            &keys::grant(&r.account, &r.region, &r.key_id, &g.grant_id),
            &g,
        )?;
        if let Some(rp) = &g.retiring {
            let index = GrantRef {
                account: r.account.clone(),
                region: r.region.clone(),
                key_id: r.key_id.clone(),
                grant_id: g.grant_id.clone(),
            };
            tables::RETIRABLE.put(
                w,
                &keys::retirable(rp, &r.account, &r.region, &r.key_id, &g.grant_id),
                &index,
            )?;
        }
        let body =
            json!({ "GrantToken": grant::token(&k.arn(), &g.grant_id), "GrantId": g.grant_id });
        Ok(Done {
            elements: json!({ "grantId": g.grant_id, "keyId": k.arn() }),
            body,
        })
    }
}

/// `ListGrants`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListGrantsInput {
    key_id: String,
    #[serde(default)]
    limit: Option<i64>,
    #[serde(default)]
    marker: Option<String>,
    #[serde(default)]
    grant_id: Option<String>,
    #[serde(default)]
    grantee_principal: Option<String>,
}

impl ListGrantsInput {
    pub(crate) fn validated(self) -> Result<Self, KmsError> {
        check_limit(self.limit)?;
        Ok(self)
    }
}

impl Input for ListGrantsInput {
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
        let k = usable(tx.read(), r, ctx.now, Use::Always)?;
        let limit = check_limit(self.limit)?;
        let all: Vec<Grant> = tables::GRANTS
            .scan(
                tx.read(),
                &keys::key(&r.account, &r.region, &r.key_id),
                None,
                Direction::Forward,
                MAX_GRANTS_PER_KEY,
            )?
            .into_iter()
            .map(|(_, g)| g)
            .filter(|g| self.grant_id.as_ref().is_none_or(|id| &g.grant_id == id))
            .filter(|g| {
                self.grantee_principal
                    .as_ref()
                    .is_none_or(|p| &g.grantee == p)
            })
            .collect();
        if let (Some(id), true) = (&self.grant_id, all.is_empty()) {
            return Err(KmsError::InvalidGrantIdException(format!(
                "Grant ID {id} is not valid."
            )));
        }
        let (page, next) = page(all, self.marker.as_deref(), limit, |g| g.grant_id.clone())?;
        let arn = k.arn();
        let mut body = json!({ "Grants": page.iter().map(|g| grant_json(g, &arn)).collect::<Vec<_>>(), "Truncated": next.is_some() });
        if let Some(n) = next {
            body["NextMarker"] = json!(n);
        }
        Ok(Done::body(body))
    }
}

/// `ListRetirableGrants`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListRetirableGrantsInput {
    retiring_principal: String,
    #[serde(default)]
    limit: Option<i64>,
    #[serde(default)]
    marker: Option<String>,
}

impl ListRetirableGrantsInput {
    pub(crate) fn validated(self) -> Result<Self, KmsError> {
        check_limit(self.limit)?;
        Ok(self)
    }
}

impl Input for ListRetirableGrantsInput {
    fn request_parameters(&self) -> Value {
        json!({ "retiringPrincipal": self.retiring_principal })
    }

    fn run(
        &self,
        _kms: &Kms,
        tx: TxRef<'_>,
        ctx: Ctx<'_>,
        _key: Option<&KeyRef>,
    ) -> Result<Done, KmsError> {
        let limit = check_limit(self.limit)?;
        let account = ctx.principal.account.as_str();
        let mut all = Vec::new();
        for (_, gr) in tables::RETIRABLE.scan(
            tx.read(),
            &keys::retirable_by(&self.retiring_principal),
            None,
            Direction::Forward,
            100_000,
        )? {
            // Only grants on keys of the caller's own account are listed.
            if gr.account != account {
                continue;
            }
            if let Some(g) = tables::GRANTS.get(
                tx.read(),
                &keys::grant(&gr.account, &gr.region, &gr.key_id, &gr.grant_id),
            )? {
                all.push((
                    crate::model::key_arn(&gr.region, &gr.account, &gr.key_id),
                    g,
                ));
            }
        }
        let (page, next) = page(all, self.marker.as_deref(), limit, |(_, g)| {
            g.grant_id.clone()
        })?;
        let mut body = json!({ "Grants": page.iter().map(|(arn, g)| grant_json(g, arn)).collect::<Vec<_>>(), "Truncated": next.is_some() });
        if let Some(n) = next {
            body["NextMarker"] = json!(n);
        }
        Ok(Done::body(body))
    }
}

fn delete_grant(tx: &mut TxRef<'_>, r: &KeyRef, g: &Grant) -> Result<(), KmsError> {
    let w = tx.write()?;
    tables::GRANTS.delete(
        w,
        &keys::grant(&r.account, &r.region, &r.key_id, &g.grant_id),
    )?;
    if let Some(rp) = &g.retiring {
        tables::RETIRABLE.delete(
            w,
            &keys::retirable(rp, &r.account, &r.region, &r.key_id, &g.grant_id),
        )?;
    }
    Ok(())
}

fn load_grant(tx: &dyn ReadTx, r: &KeyRef, id: &str) -> Result<Grant, KmsError> {
    tables::GRANTS
        .get(tx, &keys::grant(&r.account, &r.region, &r.key_id, id))?
        .ok_or_else(|| KmsError::NotFoundException(format!("Grant ID {id} not found.")))
}

/// `RetireGrant`: by token, or by key and grant id.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RetireGrantInput {
    #[serde(default)]
    grant_token: Option<String>,
    #[serde(default)]
    key_id: Option<String>,
    #[serde(default)]
    grant_id: Option<String>,
    #[serde(default)]
    dry_run: Option<bool>,
}

impl RetireGrantInput {
    pub(crate) fn validated(self) -> Result<Self, KmsError> {
        match (&self.grant_token, &self.key_id, &self.grant_id) {
            (Some(t), _, _) => {
                grant::parse_token(t)?;
                Ok(self)
            }
            (None, Some(_), Some(_)) => Ok(self),
            _ => Err(KmsError::ValidationException(
                "Either GrantToken, or both KeyId and GrantId, must be specified.".into(),
            )),
        }
    }

    fn target(
        &self,
        tx: &dyn ReadTx,
        account: &str,
        region: &str,
    ) -> Result<(KeyRef, String), KmsError> {
        if let Some(t) = &self.grant_token {
            let (arn, id) = grant::parse_token(t)?;
            let r = resolve::resolve(tx, account, region, &arn, Aliases::Refuse)?;
            return Ok((r, id));
        }
        let k = self.key_id.as_deref().unwrap_or_default();
        let r = resolve::resolve(tx, account, region, k, Aliases::Refuse)?;
        Ok((r, self.grant_id.clone().unwrap_or_default()))
    }
}

impl Input for RetireGrantInput {
    fn key_ref(
        &self,
        tx: &dyn ReadTx,
        account: &str,
        region: &str,
    ) -> Result<Option<KeyRef>, KmsError> {
        self.target(tx, account, region).map(|(r, _)| Some(r))
    }

    fn custom_access(
        &self,
        kms: &Kms,
        tx: &dyn ReadTx,
        p: &Principal,
        region: &str,
        now: Timestamp,
    ) -> Option<Result<Access, KmsError>> {
        Some(retire_access(kms, self, tx, p, region, now))
    }

    fn request_parameters(&self) -> Value {
        // The grant token is not a secret here, but AWS records only the ids.
        let mut v = json!({});
        if let Some(k) = &self.key_id {
            v["keyId"] = json!(k);
        }
        if let Some(g) = &self.grant_id {
            v["grantId"] = json!(g);
        }
        v
    }

    fn run(
        &self,
        _kms: &Kms,
        mut tx: TxRef<'_>,
        ctx: Ctx<'_>,
        _key: Option<&KeyRef>,
    ) -> Result<Done, KmsError> {
        let (r, id) = self.target(tx.read(), ctx.principal.account.as_str(), ctx.region)?;
        usable(tx.read(), &r, ctx.now, Use::Always)?;
        let g = load_grant(tx.read(), &r, &id)?;
        dry_run(self.dry_run)?;
        delete_grant(&mut tx, &r, &g)?;
        Ok(Done {
            body: json!({}),
            elements: json!({ "keyId": r.arn() }),
        })
    }
}

/// Who may retire a grant without key-policy permission: its retiring principal, or its
/// grantee when the grant includes `RetireGrant` (KMS Developer Guide, "Retiring and
/// revoking grants"). Used by `KmsOp::access` for RetireGrant.
pub(crate) fn retire_access(
    kms: &Kms,
    input: &RetireGrantInput,
    tx: &dyn ReadTx,
    principal: &Principal,
    region: &str,
    now: Timestamp,
) -> Result<Access, KmsError> {
    let (r, id) = input.target(tx, principal.account.as_str(), region)?;
    let mut access = key_access(kms, tx, principal, region, now, &r, None, &[])?;
    let g = load_grant(tx, &r, &id)?;
    let retiring = g
        .retiring
        .as_deref()
        .is_some_and(|rp| grant::names(rp, principal, region));
    let grantee = g.operations.iter().any(|o| o == "RetireGrant")
        && grant::names(&g.grantee, principal, region);
    if retiring || grantee {
        access.grant = Some(g.grant_id);
    }
    Ok(access)
}

/// `RevokeGrant`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RevokeGrantInput {
    key_id: String,
    grant_id: String,
    #[serde(default)]
    dry_run: Option<bool>,
}

impl RevokeGrantInput {
    pub(crate) fn validated(self) -> Result<Self, KmsError> {
        Ok(self)
    }
}

impl Input for RevokeGrantInput {
    fn key_param(&self) -> Option<(&str, Aliases)> {
        Some((&self.key_id, Aliases::Refuse))
    }

    fn request_parameters(&self) -> Value {
        json!({ "keyId": self.key_id, "grantId": self.grant_id })
    }

    fn run(
        &self,
        _kms: &Kms,
        mut tx: TxRef<'_>,
        ctx: Ctx<'_>,
        key: Option<&KeyRef>,
    ) -> Result<Done, KmsError> {
        let r = key.ok_or_else(|| KmsError::invalid_key_id(&self.key_id))?;
        usable(tx.read(), r, ctx.now, Use::Always)?;
        let g = load_grant(tx.read(), r, &self.grant_id)?;
        dry_run(self.dry_run)?;
        delete_grant(&mut tx, r, &g)?;
        Ok(Done::body(json!({})))
    }
}
