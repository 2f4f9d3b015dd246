//! Aliases: CreateAlias, UpdateAlias, DeleteAlias, ListAliases. An alias names one key of
//! its account and region; `aws/` aliases are reserved for AWS managed keys.
//!
//! Managing an alias affects the alias and its keys, so each operation is authorized on
//! the alias (IAM policies only: aliases have no resource policy) and on every key it
//! touches (key policy): CreateAlias on the alias and the target key, UpdateAlias on the
//! alias, the key it names now and the new key, DeleteAlias on the alias and its key (KMS
//! Developer Guide, "Controlling access to aliases").

use ferrogate_api::{
    Authorization, Authorized, Check, Done, Empty, Exec, Operation, Recorded, Reply, RequestTags,
    Resource, Scope, Sent,
};
use ferrogate_store::{Direction, ReadTx};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::keys::{check_limit, page};
use super::output::{secs, Page, PageItems};
use super::{caller_keys, key_check, usable, KeyUse, Kms, KEY};
use crate::model::{keys, tables, Alias};
use crate::resolve::{Aliases, KeyRef};
use crate::state::Use;
use crate::KmsError;

fn alias_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:kms:{region}:{account}:{name}")
}

/// `action` on the alias `name` of the caller's account and region.
fn on_alias(s: &Scope<'_, Kms>, action: &str, name: &str, exists: bool) -> Check {
    let arn = alias_arn(s.region, s.account(), name);
    let resource = if exists {
        // Aliases carry no tags.
        Resource::Existing {
            arn,
            tags: Vec::new(),
        }
    } else {
        Resource::New(arn)
    };
    Check::new(action, resource, RequestTags::None).keys(caller_keys(s))
}

/// `action` on the key `r` (its key policy decides, with IAM where it delegates).
fn on_key(s: &Scope<'_, Kms>, action: &str, r: &KeyRef) -> Result<Check, KmsError> {
    let use_ = KeyUse {
        action,
        grant_operation: None,
        context: &[],
    };
    key_check(s, r, &use_, RequestTags::None)
}

/// The stored alias `name` of the caller's account and region.
fn load_alias(
    tx: &dyn ReadTx,
    account: &str,
    region: &str,
    name: &str,
) -> Result<Option<Alias>, KmsError> {
    Ok(tables::ALIASES.get(tx, &keys::alias(account, region, name))?)
}

fn alias_not_found(region: &str, account: &str, name: &str) -> KmsError {
    KmsError::NotFoundException(format!(
        "Alias {} is not found.",
        alias_arn(region, account, name)
    ))
}

fn check_alias_name(name: &str) -> Result<(), KmsError> {
    let Some(rest) = name.strip_prefix("alias/") else {
        return Err(KmsError::ValidationException(format!(
            "1 validation error detected: Value '{name}' at 'aliasName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^alias/[a-zA-Z0-9/_-]+$"
        )));
    };
    let valid = !rest.is_empty()
        && name.len() <= 256
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/_-".contains(&b));
    if !valid {
        return Err(KmsError::ValidationException(format!(
            "1 validation error detected: Value '{name}' at 'aliasName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^alias/[a-zA-Z0-9/_-]+$"
        )));
    }
    if rest.starts_with("aws/") {
        return Err(KmsError::InvalidAliasNameException(format!(
            "Alias must not begin with 'alias/aws/': {name}"
        )));
    }
    Ok(())
}

/// `CreateAlias` (`CREATE = true`) and `UpdateAlias`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AliasInput<const CREATE: bool> {
    alias_name: String,
    target_key_id: String,
}

impl<const CREATE: bool> AliasInput<CREATE> {
    pub(crate) fn validated(self) -> Result<Self, KmsError> {
        check_alias_name(&self.alias_name)?;
        Ok(self)
    }
}

impl<const CREATE: bool> AliasInput<CREATE> {
    /// The key a `TargetKeyId` names (key id or key ARN).
    fn target(&self, tx: &dyn ReadTx, account: &str, region: &str) -> Result<KeyRef, KmsError> {
        crate::resolve::resolve(tx, account, region, &self.target_key_id, Aliases::Refuse)
    }
}

impl<const CREATE: bool> Operation for AliasInput<CREATE>
where
    Self: ferrogate_api::Registered<Service = Kms>,
{
    type Output = Empty;

    fn authorize(&self, s: &Scope<'_, Kms>) -> Result<Authorization, KmsError> {
        let action = if CREATE {
            "kms:CreateAlias"
        } else {
            "kms:UpdateAlias"
        };
        let new_key = self.target(s.tx, s.account(), s.region)?;
        if CREATE {
            return Ok(
                Authorization::of(on_alias(s, action, &self.alias_name, false))
                    .and(on_key(s, action, &new_key)?),
            );
        }
        let current = load_alias(s.tx, s.account(), s.region, &self.alias_name)?
            .ok_or_else(|| alias_not_found(s.region, s.account(), &self.alias_name))?;
        let old_key = KeyRef {
            account: s.account().to_owned(),
            region: s.region.to_owned(),
            key_id: current.target_key_id,
        };
        let mut auth = Authorization::of(on_alias(s, action, &self.alias_name, true))
            .and(on_key(s, action, &new_key)?);
        // The key the alias names now: a key already deleted has no policy left to ask.
        match on_key(s, action, &old_key) {
            Ok(c) => auth = auth.and(c),
            Err(KmsError::NotFoundException(_)) => {}
            Err(e) => return Err(e),
        }
        Ok(auth)
    }

    fn execute(i: &Authorized<Self>, x: Exec<'_, Kms>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let (account, region) = (ctx.principal.account.as_str(), ctx.region);
        let r = i.target(tx.read(), account, region)?;
        if r.account != account || r.region != region {
            return Err(KmsError::ValidationException(
                "An alias can only name a key of its own account and region.".into(),
            ));
        }
        usable(tx.read(), &r, ctx.now, Use::Manage)?;
        let k = keys::alias(account, region, &i.alias_name);
        let existing = tables::ALIASES.get(tx.read(), &k)?;
        let alias = match (CREATE, existing) {
            (true, Some(_)) => {
                return Err(KmsError::AlreadyExistsException(format!(
                    "An alias with the name {} already exists",
                    alias_arn(region, account, &i.alias_name)
                )))
            }
            (true, None) => Alias {
                name: i.alias_name.clone(),
                target_key_id: r.key_id.clone(),
                creation_date: ctx.now,
                last_updated: ctx.now,
            },
            (false, None) => return Err(alias_not_found(region, account, &i.alias_name)),
            (false, Some(mut a)) => {
                a.target_key_id.clone_from(&r.key_id);
                a.last_updated = ctx.now;
                a
            }
        };
        tables::ALIASES.put(tx.write()?, &k, &alias)?;
        Ok(Reply::new(Empty {}).resource(KEY, r.arn()))
    }
}

impl<const CREATE: bool> Recorded for AliasInput<CREATE>
where
    Self: ferrogate_api::Registered<Service = Kms>,
{
    fn request_parameters(&self, _: Sent<'_>) -> Value {
        json!({ "aliasName": self.alias_name, "targetKeyId": self.target_key_id })
    }
}

/// `DeleteAlias`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteAliasInput {
    alias_name: String,
}

impl DeleteAliasInput {
    pub(crate) fn validated(self) -> Result<Self, KmsError> {
        check_alias_name(&self.alias_name)?;
        Ok(self)
    }
}

impl Operation for DeleteAliasInput {
    type Output = Empty;

    fn authorize(&self, s: &Scope<'_, Kms>) -> Result<Authorization, KmsError> {
        let alias = load_alias(s.tx, s.account(), s.region, &self.alias_name)?
            .ok_or_else(|| alias_not_found(s.region, s.account(), &self.alias_name))?;
        let key = KeyRef {
            account: s.account().to_owned(),
            region: s.region.to_owned(),
            key_id: alias.target_key_id,
        };
        let mut auth = Authorization::of(on_alias(s, "kms:DeleteAlias", &self.alias_name, true));
        match on_key(s, "kms:DeleteAlias", &key) {
            Ok(c) => auth = auth.and(c),
            // An alias left pointing at a deleted key can still be deleted.
            Err(KmsError::NotFoundException(_)) => {}
            Err(e) => return Err(e),
        }
        Ok(auth)
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Kms>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let name = &op.alias_name;
        let (account, region) = (ctx.principal.account.as_str(), ctx.region);
        let alias = load_alias(tx.read(), account, region, name)?
            .ok_or_else(|| alias_not_found(region, account, name))?;
        tables::ALIASES.delete(tx.write()?, &keys::alias(account, region, name))?;
        let key = crate::model::key_arn(region, account, &alias.target_key_id);
        Ok(Reply::new(Empty {}).resource(KEY, key))
    }
}

impl Recorded for DeleteAliasInput {
    fn request_parameters(&self, _: Sent<'_>) -> Value {
        json!({ "aliasName": self.alias_name })
    }
}

/// `ListAliases`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListAliasesInput {
    #[serde(default)]
    key_id: Option<String>,
    #[serde(default)]
    limit: Option<i64>,
    #[serde(default)]
    marker: Option<String>,
}

impl ListAliasesInput {
    pub(crate) fn validated(self) -> Result<Self, KmsError> {
        check_limit(self.limit)?;
        Ok(self)
    }
}

/// `AliasListEntry`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AliasListEntry {
    alias_name: String,
    alias_arn: String,
    target_key_id: String,
    creation_date: f64,
    last_updated_date: f64,
}

impl Operation for ListAliasesInput {
    type Output = Page<AliasListEntry>;

    /// `kms:ListAliases` has no resource type: the listing is the account's.
    fn authorize(&self, s: &Scope<'_, Kms>) -> Result<Authorization, KmsError> {
        Ok(Authorization::of(
            Check::new("kms:ListAliases", Resource::Any, RequestTags::None).keys(caller_keys(s)),
        ))
    }

    fn execute(i: &Authorized<Self>, x: Exec<'_, Kms>) -> Done<Self> {
        let Exec { tx, ctx, .. } = x;
        let limit = check_limit(i.limit)?;
        let (account, region) = (ctx.principal.account.as_str(), ctx.region);
        let only = match &i.key_id {
            Some(k) => Some(
                crate::resolve::resolve(tx.read(), account, region, k, Aliases::Refuse)?.key_id,
            ),
            None => None,
        };
        let all: Vec<Alias> = tables::ALIASES
            .scan(
                tx.read(),
                &keys::partition(account, region),
                None,
                Direction::Forward,
                100_000,
            )?
            .into_iter()
            .map(|(_, a)| a)
            .filter(|a| only.as_ref().is_none_or(|k| &a.target_key_id == k))
            .collect();
        let (page, next) = page(all, i.marker.as_deref(), limit, |a| a.name.clone())?;
        let list = page
            .into_iter()
            .map(|a| AliasListEntry {
                alias_arn: alias_arn(region, account, &a.name),
                alias_name: a.name,
                target_key_id: a.target_key_id,
                creation_date: secs(a.creation_date),
                last_updated_date: secs(a.last_updated),
            })
            .collect();
        Ok(Reply::new(Page::new(PageItems::Aliases(list), next)))
    }
}

impl Recorded for ListAliasesInput {
    fn request_parameters(&self, _: Sent<'_>) -> Value {
        self.key_id
            .as_ref()
            .map_or(Value::Null, |k| json!({ "keyId": k }))
    }
}
