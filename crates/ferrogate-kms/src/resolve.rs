//! Naming a key: a key id, a key ARN, an alias name (`alias/…`) or an alias ARN, as KMS
//! accepts them. Alias names name keys of the caller's own account and region; ARNs may
//! name another account's key (which its key policy must then allow).

use ferrogate_store::ReadTx;

use crate::cache::Cache;
use crate::model::{key_arn, keys, tables, KmsKey};
use crate::KmsError;

/// Where a key name points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRef {
    /// The owning account.
    pub account: String,
    /// The region.
    pub region: String,
    /// The key id.
    pub key_id: String,
}

impl KeyRef {
    /// The key's ARN.
    pub fn arn(&self) -> String {
        key_arn(&self.region, &self.account, &self.key_id)
    }
}

/// True for a UUID in the canonical 8-4-4-4-12 lowercase or uppercase hex form.
pub fn is_key_id(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Whether alias names and alias ARNs are accepted (the cryptographic operations and
/// DescribeKey accept them; management operations want a key id or ARN).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aliases {
    /// Accept `alias/…` and alias ARNs.
    Accept,
    /// Key id or key ARN only.
    Refuse,
}

/// Resolves `name` for a caller in `(account, region)`, without loading the key.
pub fn resolve(
    tx: &dyn ReadTx,
    account: &str,
    region: &str,
    name: &str,
    aliases: Aliases,
) -> Result<KeyRef, KmsError> {
    resolve_in(None, tx, account, region, name, aliases)
}

/// [`resolve`], reading aliases through `cache` when given.
pub fn resolve_in(
    cache: Option<&Cache>,
    tx: &dyn ReadTx,
    account: &str,
    region: &str,
    name: &str,
    aliases: Aliases,
) -> Result<KeyRef, KmsError> {
    if name.is_empty() || name.len() > 2048 {
        return Err(KmsError::ValidationException(
            "1 validation error detected: Value at 'keyId' failed to satisfy constraint: Member must have length between 1 and 2048".into(),
        ));
    }
    if let Some(rest) = name.strip_prefix("arn:") {
        let parts: Vec<&str> = rest.splitn(5, ':').collect();
        let [partition, service, arn_region, arn_account, resource] = parts.as_slice() else {
            return Err(KmsError::InvalidArnException(format!("Invalid arn {name}")));
        };
        if *partition != "aws"
            || *service != "kms"
            || arn_account.len() != 12
            || arn_region.is_empty()
        {
            return Err(KmsError::InvalidArnException(format!("Invalid arn {name}")));
        }
        if let Some(id) = resource.strip_prefix("key/") {
            if !is_key_id(id) {
                return Err(KmsError::invalid_key_id(name));
            }
            return Ok(KeyRef {
                account: (*arn_account).into(),
                region: (*arn_region).into(),
                key_id: id.to_lowercase(),
            });
        }
        if resource.starts_with("alias/") && aliases == Aliases::Accept {
            return alias_target(cache, tx, arn_account, arn_region, resource, name);
        }
        return Err(KmsError::invalid_key_id(name));
    }
    if name.starts_with("alias/") {
        if aliases == Aliases::Refuse {
            return Err(KmsError::invalid_key_id(name));
        }
        return alias_target(
            cache,
            tx,
            account,
            region,
            name,
            &format!("arn:aws:kms:{region}:{account}:{name}"),
        );
    }
    if is_key_id(name) {
        return Ok(KeyRef {
            account: account.into(),
            region: region.into(),
            key_id: name.to_lowercase(),
        });
    }
    Err(KmsError::invalid_key_id(name))
}

fn alias_target(
    cache: Option<&Cache>,
    tx: &dyn ReadTx,
    account: &str,
    region: &str,
    alias: &str,
    shown: &str,
) -> Result<KeyRef, KmsError> {
    let target = match cache {
        Some(c) => c.alias(tx, account, region, alias)?.map(|t| t.to_string()),
        None => tables::ALIASES
            .get(tx, &keys::alias(account, region, alias))?
            .map(|a| a.target_key_id),
    };
    let key_id = target
        .ok_or_else(|| KmsError::NotFoundException(format!("Alias {shown} is not found.")))?;
    Ok(KeyRef {
        account: account.into(),
        region: region.into(),
        key_id,
    })
}

/// Loads the key `r` names (stored state; see `state::effective`).
pub fn load(tx: &dyn ReadTx, r: &KeyRef) -> Result<KmsKey, KmsError> {
    tables::KEYS
        .get(tx, &keys::key(&r.account, &r.region, &r.key_id))?
        .ok_or_else(|| KmsError::no_such_key(&r.arn()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ids() {
        assert!(is_key_id("1234abcd-12ab-34cd-56ef-1234567890ab"));
        assert!(is_key_id("1234ABCD-12AB-34CD-56EF-1234567890AB"));
        for bad in [
            "",
            "1234abcd",
            "1234abcd-12ab-34cd-56ef-1234567890ag",
            "1234abcd-12ab-34cd-56ef_1234567890ab",
        ] {
            assert!(!is_key_id(bad), "{bad}");
        }
    }
}
