//! Grants: CreateGrant, ListGrants, ListRetirableGrants, RetireGrant, RevokeGrant.

use std::collections::BTreeMap;

use ferrogate_api::{
    Authorization, Authorized, Check, Done, Empty, Exec, Operation, Recorded, Reply, RequestTags,
    Resource, Scope, Sent,
};
use ferrogate_store::{Direction, ReadTx, TxRef};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::keys::{check_limit, page};
use super::output::{secs, Page, PageItems};
use super::{
    caller_keys, dry_run, key_check, managed_key, on_managed_key, usable, KeyUse, Kms, KEY,
};
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

/// `GrantConstraints` in answers.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConstraintsOut {
    #[serde(skip_serializing_if = "Option::is_none")]
    encryption_context_subset: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    encryption_context_equals: Option<BTreeMap<String, String>>,
}

/// `GrantListEntry`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GrantListEntry {
    key_id: String,
    grant_id: String,
    creation_date: f64,
    grantee_principal: String,
    issuing_account: String,
    operations: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retiring_principal: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    constraints: Option<ConstraintsOut>,
}

impl GrantListEntry {
    fn of(g: &Grant, key_arn: &str) -> Self {
        let map =
            |p: &Option<Vec<(String, String)>>| p.as_ref().map(|p| p.iter().cloned().collect());
        let c = &g.constraints;
        Self {
            key_id: key_arn.to_owned(),
            grant_id: g.grant_id.clone(),
            creation_date: secs(g.creation_date),
            grantee_principal: g.grantee.clone(),
            issuing_account: format!("arn:aws:iam::{}:root", g.issuing_account),
            operations: g.operations.clone(),
            name: g.name.clone(),
            retiring_principal: g.retiring.clone(),
            constraints: (c.subset.is_some() || c.equals.is_some()).then(|| ConstraintsOut {
                encryption_context_subset: map(&c.subset),
                encryption_context_equals: map(&c.equals),
            }),
        }
    }
}

/// `CreateGrant`'s answer.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateGrantOutput {
    grant_token: String,
    grant_id: String,
}

impl CreateGrantOutput {
    /// The new grant's id.
    pub fn grant_id(&self) -> &str {
        &self.grant_id
    }
}

/// The key a grant operation names (key id or key ARN).
fn grant_key(s: &Scope<'_, Kms>, name: &str) -> Result<KeyRef, KmsError> {
    resolve::resolve(s.tx, s.account(), s.region, name, Aliases::Refuse)
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
    /// A grant on `key_id` for `grantee` of `operations`, retirable by `retiring`, constrained
    /// to contexts that include `subset`.
    ///
    /// # Errors
    /// `ValidationException` for a grant KMS would refuse.
    pub fn new(
        key_id: &str,
        grantee: &str,
        operations: &[&str],
        retiring: Option<&str>,
        subset: BTreeMap<String, String>,
    ) -> Result<Self, KmsError> {
        Self {
            key_id: key_id.to_owned(),
            grantee_principal: grantee.to_owned(),
            retiring_principal: retiring.map(str::to_owned),
            operations: operations.iter().map(|o| (*o).to_owned()).collect(),
            constraints: Some(ConstraintsIn {
                encryption_context_subset: Some(subset),
                encryption_context_equals: None,
            }),
            grant_tokens: Vec::new(),
            name: None,
            dry_run: None,
        }
        .validated()
    }

    /// The same request with `DryRun`.
    #[must_use]
    pub fn dry_run(mut self) -> Self {
        self.dry_run = Some(true);
        self
    }

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

    fn model_constraints(&self) -> Constraints {
        self.constraints
            .as_ref()
            .map(ConstraintsIn::to_model)
            .unwrap_or_default()
    }
}

impl CreateGrantInput {
    /// For CreateGrant, `kms:EncryptionContext:*` are the grant's constraints (KMS Developer
    /// Guide, "kms:EncryptionContext:context-key").
    fn context(&self) -> Vec<(String, String)> {
        let c = self.model_constraints();
        c.subset.into_iter().chain(c.equals).flatten().collect()
    }
}

impl Operation for CreateGrantInput {
    type Output = CreateGrantOutput;

    /// The key policy decides, and a grant that includes `CreateGrant` may allow a new grant
    /// no wider than itself; with the grant's operations, grantee and retiring principal as
    /// condition keys.
    fn authorize(&self, s: &Scope<'_, Kms>) -> Result<Authorization, KmsError> {
        let r = grant_key(s, &self.key_id)?;
        let context = self.context();
        let use_ = KeyUse {
            action: "kms:CreateGrant",
            grant_operation: None,
            context: &context,
        };
        let child = self.model_constraints();
        let prefix = keys::key(&r.account, &r.region, &r.key_id);
        let parent = tables::GRANTS
            .scan(s.tx, &prefix, None, Direction::Forward, MAX_GRANTS_PER_KEY)?
            .into_iter()
            .map(|(_, g)| g)
            .find(|g| {
                g.operations.iter().any(|o| o == "CreateGrant")
                    && grant::names(&g.grantee, s.principal, s.region)
                    && grant::within(g, &self.operations, &child)
            })
            .map(|g| g.grant_id);
        let mut check = key_check(s, &r, &use_, RequestTags::None)?
            .grant(parent)
            .key("kms:GrantOperations", self.operations.clone())
            .key("kms:GranteePrincipal", vec![self.grantee_principal.clone()])
            .key("kms:GrantIsForAWSResource", vec!["false".into()]);
        if let Some(rp) = &self.retiring_principal {
            check = check.key("kms:RetiringPrincipal", vec![rp.clone()]);
        }
        Ok(Authorization::of(check))
    }

    fn execute(this: &Authorized<Self>, x: Exec<'_, Kms>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let (r, k) = &managed_key(&tx, &ctx, &this.key_id, Use::RefusedWhenDisabled)?;
        dry_run(this.dry_run)?;
        let constraints = this.model_constraints();
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
            this.name.is_some()
                && g.name == this.name
                && g.grantee == this.grantee_principal
                && g.retiring == this.retiring_principal
                && g.operations == this.operations
                && g.constraints == constraints
        }) {
            return Ok(Reply::new(CreateGrantOutput {
                grant_token: grant::token(&k.arn(), &g.grant_id),
                grant_id: g.grant_id.clone(),
            })
            .resource(KEY, k.arn()));
        }
        if existing.len() >= MAX_GRANTS_PER_KEY {
            return Err(KmsError::LimitExceededException(format!(
                "The key {} has reached the limit of {MAX_GRANTS_PER_KEY} grants.",
                k.arn()
            )));
        }
        let mut id = [0u8; 32];
        aws_lc_rs::rand::fill(&mut id).map_err(|_| KmsError::RandomnessUnavailable)?;
        let g = Grant {
            grant_id: id.iter().map(|b| format!("{b:02x}")).collect(),
            key_id: r.key_id.clone(),
            name: this.name.clone(),
            grantee: this.grantee_principal.clone(),
            retiring: this.retiring_principal.clone(),
            operations: this.operations.clone(),
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
        Ok(Reply::new(CreateGrantOutput {
            grant_token: grant::token(&k.arn(), &g.grant_id),
            grant_id: g.grant_id.clone(),
        })
        .elements(json!({ "grantId": g.grant_id, "keyId": k.arn() }))
        .resource(KEY, k.arn()))
    }
}

impl Recorded for CreateGrantInput {
    fn request_parameters(&self, _: Sent<'_>) -> Value {
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

impl Operation for ListGrantsInput {
    type Output = Page<GrantListEntry>;

    fn authorize(&self, s: &Scope<'_, Kms>) -> Result<Authorization, KmsError> {
        Ok(Authorization::of(on_managed_key(
            s,
            "kms:ListGrants",
            &self.key_id,
        )?))
    }

    fn execute(this: &Authorized<Self>, x: Exec<'_, Kms>) -> Done<Self> {
        let Exec { tx, ctx, .. } = x;
        let (r, k) = &managed_key(&tx, &ctx, &this.key_id, Use::Always)?;
        let limit = check_limit(this.limit)?;
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
            .filter(|g| this.grant_id.as_ref().is_none_or(|id| &g.grant_id == id))
            .filter(|g| {
                this.grantee_principal
                    .as_ref()
                    .is_none_or(|p| &g.grantee == p)
            })
            .collect();
        if let (Some(id), true) = (&this.grant_id, all.is_empty()) {
            return Err(KmsError::InvalidGrantIdException(format!(
                "Grant ID {id} is not valid."
            )));
        }
        let (page, next) = page(all, this.marker.as_deref(), limit, |g| g.grant_id.clone())?;
        let arn = k.arn();
        let grants = page.iter().map(|g| GrantListEntry::of(g, &arn)).collect();
        Ok(Reply::new(Page::new(PageItems::Grants(grants), next)).resource(KEY, arn))
    }
}

impl Recorded for ListGrantsInput {
    fn request_parameters(&self, _: Sent<'_>) -> Value {
        json!({ "keyId": self.key_id })
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

impl Operation for ListRetirableGrantsInput {
    type Output = Page<GrantListEntry>;

    /// `kms:ListRetirableGrants` has no resource type.
    fn authorize(&self, s: &Scope<'_, Kms>) -> Result<Authorization, KmsError> {
        Ok(Authorization::of(
            Check::new("kms:ListRetirableGrants", Resource::Any, RequestTags::None)
                .keys(caller_keys(s)),
        ))
    }

    fn execute(this: &Authorized<Self>, x: Exec<'_, Kms>) -> Done<Self> {
        let Exec { tx, ctx, .. } = x;
        let limit = check_limit(this.limit)?;
        let account = ctx.principal.account.as_str();
        let mut all = Vec::new();
        for (_, gr) in tables::RETIRABLE.scan(
            tx.read(),
            &keys::retirable_by(&this.retiring_principal),
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
        let (page, next) = page(all, this.marker.as_deref(), limit, |(_, g)| {
            g.grant_id.clone()
        })?;
        let grants = page
            .iter()
            .map(|(arn, g)| GrantListEntry::of(g, arn))
            .collect();
        Ok(Reply::new(Page::new(PageItems::Grants(grants), next)))
    }
}

impl Recorded for ListRetirableGrantsInput {
    fn request_parameters(&self, _: Sent<'_>) -> Value {
        json!({ "retiringPrincipal": self.retiring_principal })
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
    /// Retires the grant `grant_id` of `key_id`.
    ///
    /// # Errors
    /// `ValidationException` when either is missing.
    pub fn by_id(key_id: &str, grant_id: &str) -> Result<Self, KmsError> {
        Self {
            grant_token: None,
            key_id: Some(key_id.to_owned()),
            grant_id: Some(grant_id.to_owned()),
            dry_run: None,
        }
        .validated()
    }

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

impl Operation for RetireGrantInput {
    type Output = Empty;

    /// Who may retire a grant without key-policy permission: its retiring principal, or its
    /// grantee when the grant includes `RetireGrant` (KMS Developer Guide, "Retiring and
    /// revoking grants"): such a grant allows the request.
    fn authorize(&self, s: &Scope<'_, Kms>) -> Result<Authorization, KmsError> {
        let (r, id) = self.target(s.tx, s.account(), s.region)?;
        let use_ = KeyUse {
            action: "kms:RetireGrant",
            grant_operation: None,
            context: &[],
        };
        let g = load_grant(s.tx, &r, &id)?;
        let retiring = g
            .retiring
            .as_deref()
            .is_some_and(|rp| grant::names(rp, s.principal, s.region));
        let grantee = g.operations.iter().any(|o| o == "RetireGrant")
            && grant::names(&g.grantee, s.principal, s.region);
        let allowing = (retiring || grantee).then_some(g.grant_id);
        Ok(Authorization::of(
            key_check(s, &r, &use_, RequestTags::None)?.grant(allowing),
        ))
    }

    fn execute(this: &Authorized<Self>, x: Exec<'_, Kms>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let (r, id) = this.target(tx.read(), ctx.principal.account.as_str(), ctx.region)?;
        usable(tx.read(), &r, ctx.now, Use::Always)?;
        let g = load_grant(tx.read(), &r, &id)?;
        dry_run(this.dry_run)?;
        delete_grant(&mut tx, &r, &g)?;
        Ok(Reply::new(Empty {})
            .elements(json!({ "keyId": r.arn() }))
            .resource(KEY, r.arn()))
    }
}

impl Recorded for RetireGrantInput {
    fn request_parameters(&self, _: Sent<'_>) -> Value {
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

impl Operation for RevokeGrantInput {
    type Output = Empty;

    fn authorize(&self, s: &Scope<'_, Kms>) -> Result<Authorization, KmsError> {
        Ok(Authorization::of(on_managed_key(
            s,
            "kms:RevokeGrant",
            &self.key_id,
        )?))
    }

    fn execute(this: &Authorized<Self>, x: Exec<'_, Kms>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let (r, _) = &managed_key(&tx, &ctx, &this.key_id, Use::Always)?;
        let g = load_grant(tx.read(), r, &this.grant_id)?;
        dry_run(this.dry_run)?;
        delete_grant(&mut tx, r, &g)?;
        Ok(Reply::new(Empty {}).resource(KEY, r.arn()))
    }
}

impl Recorded for RevokeGrantInput {
    fn request_parameters(&self, _: Sent<'_>) -> Value {
        json!({ "keyId": self.key_id, "grantId": self.grant_id })
    }
}
