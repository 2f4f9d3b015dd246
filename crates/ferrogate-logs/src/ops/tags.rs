//! TagResource, UntagResource, ListTagsForResource on log groups (by ARN, with or without
//! the trailing `:*`).

use std::collections::BTreeMap;

use ferrogate_api::{
    Authorization, Authorized, Check, Done, Empty, Exec, Operation, Reply, RequestTags, Resource,
    Scope,
};
use ferrogate_store::ReadTx;
use serde::{Deserialize, Serialize};

use super::{action, group, recorded_as_serialized, Logs, GROUP_TYPE};
use crate::model::{keys, tables, LogGroup};
use crate::LogsError;

/// At most 50 tags per resource.
const MAX_TAGS: usize = 50;

/// `tags`: 1–50 tags, keys of 1–128 and values of up to 256 letters, digits, spaces or
/// `_.:/=+-@`, no `aws:` keys.
pub(crate) fn check_tags(tags: &BTreeMap<String, String>) -> Result<(), LogsError> {
    if tags.is_empty() || tags.len() > MAX_TAGS {
        return Err(LogsError::constraint(
            &format!("{tags:?}"),
            "tags",
            "Member must have length between 1 and 50",
        ));
    }
    let ok = |c: char| c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c);
    for (k, v) in tags {
        if k.is_empty() || k.chars().count() > 128 || !k.chars().all(ok) {
            return Err(LogsError::invalid(format!("Invalid tag key: {k}")));
        }
        if k.starts_with("aws:") {
            return Err(LogsError::invalid(
                "Tag keys starting with 'aws:' are reserved for system use.",
            ));
        }
        if v.chars().count() > 256 || !v.chars().all(ok) {
            return Err(LogsError::invalid(format!(
                "Invalid tag value for key: {k}"
            )));
        }
    }
    Ok(())
}

/// The group a log-group ARN of the caller's account and region names.
fn find(tx: &dyn ReadTx, account: &str, region: &str, arn: &str) -> Result<LogGroup, LogsError> {
    let prefix = format!("arn:aws:logs:{region}:{account}:log-group:");
    let not_found = || {
        LogsError::ResourceNotFoundException(format!(
            "The specified resource {arn} does not exist."
        ))
    };
    let name = arn.strip_prefix(&prefix).ok_or_else(|| {
        if arn.starts_with("arn:aws:logs:") {
            not_found()
        } else {
            LogsError::invalid(format!("Invalid resourceArn: {arn}"))
        }
    })?;
    let name = name.strip_suffix(":*").unwrap_or(name);
    group(tx, account, region, name)?.ok_or_else(not_found)
}

fn resource_of(s: &Scope<'_, Logs>, arn: &str) -> Result<Resource, LogsError> {
    let g = find(s.tx, s.account(), s.region, arn)?;
    Ok(Resource::Existing {
        arn: g.arn(),
        tags: g.tags.into_iter().collect(),
    })
}

fn check_arn(arn: &str) -> Result<(), LogsError> {
    if arn.is_empty() || arn.len() > 1011 {
        return Err(LogsError::constraint(
            arn,
            "resourceArn",
            "Member must have length between 1 and 1011",
        ));
    }
    Ok(())
}

/// `TagResource`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TagResourceInput {
    resource_arn: String,
    tags: BTreeMap<String, String>,
}

impl TagResourceInput {
    pub(crate) fn validated(self) -> Result<Self, LogsError> {
        check_arn(&self.resource_arn)?;
        check_tags(&self.tags)?;
        Ok(self)
    }
}

recorded_as_serialized!(
    TagResourceInput,
    UntagResourceInput,
    ListTagsForResourceInput
);

impl Operation for TagResourceInput {
    type Output = Empty;

    fn authorize(&self, s: &Scope<'_, Logs>) -> Result<Authorization, LogsError> {
        Ok(Authorization::of(Check::new(
            action::<Self>(),
            resource_of(s, &self.resource_arn)?,
            RequestTags::Set(self.tags.clone().into_iter().collect()),
        )))
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Logs>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let account = ctx.principal.account.as_str();
        let mut g = find(tx.read(), account, ctx.region, &op.resource_arn)?;
        g.tags.extend(op.tags.clone());
        if g.tags.len() > MAX_TAGS {
            return Err(LogsError::TooManyTagsException(format!(
                "A resource can have no more than {MAX_TAGS} tags."
            )));
        }
        tables::GROUPS.put(tx.write()?, &keys::group(account, ctx.region, &g.name), &g)?;
        Ok(Reply::new(Empty {}).resource(GROUP_TYPE, g.arn()))
    }
}

/// `UntagResource`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UntagResourceInput {
    resource_arn: String,
    tag_keys: Vec<String>,
}

impl UntagResourceInput {
    pub(crate) fn validated(self) -> Result<Self, LogsError> {
        check_arn(&self.resource_arn)?;
        if self.tag_keys.len() > MAX_TAGS {
            return Err(LogsError::constraint(
                &format!("{:?}", self.tag_keys),
                "tagKeys",
                "Member must have length less than or equal to 50",
            ));
        }
        Ok(self)
    }
}

impl Operation for UntagResourceInput {
    type Output = Empty;

    fn authorize(&self, s: &Scope<'_, Logs>) -> Result<Authorization, LogsError> {
        Ok(Authorization::of(Check::new(
            action::<Self>(),
            resource_of(s, &self.resource_arn)?,
            RequestTags::Remove(self.tag_keys.clone()),
        )))
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Logs>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let account = ctx.principal.account.as_str();
        let mut g = find(tx.read(), account, ctx.region, &op.resource_arn)?;
        g.tags.retain(|k, _| !op.tag_keys.contains(k));
        tables::GROUPS.put(tx.write()?, &keys::group(account, ctx.region, &g.name), &g)?;
        Ok(Reply::new(Empty {}).resource(GROUP_TYPE, g.arn()))
    }
}

/// `ListTagsForResource`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListTagsForResourceInput {
    resource_arn: String,
}

impl ListTagsForResourceInput {
    pub(crate) fn validated(self) -> Result<Self, LogsError> {
        check_arn(&self.resource_arn)?;
        Ok(self)
    }
}

/// ListTagsForResource's answer.
#[derive(Debug, Serialize)]
pub struct TagsOutput {
    tags: BTreeMap<String, String>,
}

impl Operation for ListTagsForResourceInput {
    type Output = TagsOutput;

    fn authorize(&self, s: &Scope<'_, Logs>) -> Result<Authorization, LogsError> {
        Ok(Authorization::of(Check::new(
            action::<Self>(),
            resource_of(s, &self.resource_arn)?,
            RequestTags::None,
        )))
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Logs>) -> Done<Self> {
        let Exec { tx, ctx, .. } = x;
        let g = find(
            tx.read(),
            ctx.principal.account.as_str(),
            ctx.region,
            &op.resource_arn,
        )?;
        Ok(Reply::new(TagsOutput { tags: g.tags }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_rules() {
        let t = |k: &str, v: &str| BTreeMap::from([(k.to_owned(), v.to_owned())]);
        assert!(check_tags(&t("team", "a b/c=d")).is_ok());
        assert!(check_tags(&t("", "x")).is_err());
        assert!(check_tags(&t("aws:x", "x")).is_err());
        assert!(check_tags(&t("k", "bad\u{0}")).is_err());
        assert!(check_tags(&t(&"k".repeat(129), "x")).is_err());
        assert!(check_tags(&BTreeMap::new()).is_err());
        let many: BTreeMap<String, String> =
            (0..51).map(|i| (format!("k{i}"), String::new())).collect();
        assert!(check_tags(&many).is_err());
    }
}
