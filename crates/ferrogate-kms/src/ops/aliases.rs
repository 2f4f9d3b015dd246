//! Aliases: CreateAlias, UpdateAlias, DeleteAlias, ListAliases. An alias names one key of
//! its account and region; `aws/` aliases are reserved for AWS managed keys.

use ferrogate_store::{Direction, TxRef};
use serde::Deserialize;
use serde_json::{json, Value};

use super::keys::{check_limit, page, secs};
use super::{usable, Done, Input, Kms};
use crate::model::{keys, tables, Alias};
use crate::resolve::{Aliases, KeyRef};
use crate::state::Use;
use crate::KmsError;
use ferrogate_iam::op::Ctx;

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

impl<const CREATE: bool> Input for AliasInput<CREATE> {
    fn key_param(&self) -> Option<(&str, Aliases)> {
        Some((&self.target_key_id, Aliases::Refuse))
    }

    fn request_parameters(&self) -> Value {
        json!({ "aliasName": self.alias_name, "targetKeyId": self.target_key_id })
    }

    fn run(
        &self,
        _kms: &Kms,
        mut tx: TxRef<'_>,
        ctx: Ctx<'_>,
        key: Option<&KeyRef>,
    ) -> Result<Done, KmsError> {
        let r = key.ok_or_else(|| KmsError::invalid_key_id(&self.target_key_id))?;
        let (account, region) = (ctx.principal.account.as_str(), ctx.region);
        if r.account != account || r.region != region {
            return Err(KmsError::ValidationException(
                "An alias can only name a key of its own account and region.".into(),
            ));
        }
        usable(tx.read(), r, ctx.now, Use::Manage)?;
        let k = keys::alias(account, region, &self.alias_name);
        let existing = tables::ALIASES.get(tx.read(), &k)?;
        let alias = match (CREATE, existing) {
            (true, Some(_)) => {
                return Err(KmsError::AlreadyExistsException(format!(
                    "An alias with the name arn:aws:kms:{region}:{account}:{} already exists",
                    self.alias_name
                )))
            }
            (true, None) => Alias {
                name: self.alias_name.clone(),
                target_key_id: r.key_id.clone(),
                creation_date: ctx.now,
                last_updated: ctx.now,
            },
            (false, None) => {
                return Err(KmsError::NotFoundException(format!(
                    "Alias arn:aws:kms:{region}:{account}:{} is not found.",
                    self.alias_name
                )))
            }
            (false, Some(mut a)) => {
                a.target_key_id.clone_from(&r.key_id);
                a.last_updated = ctx.now;
                a
            }
        };
        tables::ALIASES.put(tx.write()?, &k, &alias)?;
        Ok(Done::body(json!({})))
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

impl Input for DeleteAliasInput {
    fn key_param(&self) -> Option<(&str, Aliases)> {
        // Authorized against the key the alias names (its key policy).
        Some((&self.alias_name, Aliases::Accept))
    }

    fn request_parameters(&self) -> Value {
        json!({ "aliasName": self.alias_name })
    }

    fn run(
        &self,
        _kms: &Kms,
        mut tx: TxRef<'_>,
        ctx: Ctx<'_>,
        _key: Option<&KeyRef>,
    ) -> Result<Done, KmsError> {
        let (account, region) = (ctx.principal.account.as_str(), ctx.region);
        let k = keys::alias(account, region, &self.alias_name);
        if !tables::ALIASES.delete(tx.write()?, &k)? {
            return Err(KmsError::NotFoundException(format!(
                "Alias arn:aws:kms:{region}:{account}:{} is not found.",
                self.alias_name
            )));
        }
        Ok(Done::body(json!({})))
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

impl Input for ListAliasesInput {
    fn request_parameters(&self) -> Value {
        self.key_id
            .as_ref()
            .map_or(Value::Null, |k| json!({ "keyId": k }))
    }

    fn run(
        &self,
        _kms: &Kms,
        tx: TxRef<'_>,
        ctx: Ctx<'_>,
        _key: Option<&KeyRef>,
    ) -> Result<Done, KmsError> {
        let limit = check_limit(self.limit)?;
        let (account, region) = (ctx.principal.account.as_str(), ctx.region);
        let only = match &self.key_id {
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
        let (page, next) = page(all, self.marker.as_deref(), limit, |a| a.name.clone())?;
        let list: Vec<Value> = page
            .iter()
            .map(|a| {
                json!({ "AliasName": a.name, "AliasArn": format!("arn:aws:kms:{region}:{account}:{}", a.name),
                        "TargetKeyId": a.target_key_id, "CreationDate": secs(a.creation_date), "LastUpdatedDate": secs(a.last_updated) })
            })
            .collect();
        let mut body = json!({ "Aliases": list, "Truncated": next.is_some() });
        if let Some(n) = next {
            body["NextMarker"] = json!(n);
        }
        Ok(Done::body(body))
    }
}
