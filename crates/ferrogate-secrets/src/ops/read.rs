//! Reads: GetSecretValue, DescribeSecret, ListSecrets, ListSecretVersionIds.

use std::collections::BTreeMap;

use ferrogate_api::{
    Authorization, Authorized, BoxFuture, Check, Done, Env, Exec, Operation, Reply, RequestTags,
    Resource, Scope,
};
use ferrogate_store::Direction;
use serde::{Deserialize, Serialize};

use super::values::read_value;
use super::{
    action, check_on, check_secret_id, existing, live, secs, wire_tags, Secrets, Tag, SECRET_TYPE,
};
use crate::envelope::{self, Sensitive};
use crate::model::{check_stage, check_version_id, keys, tables, Secret, Version, AWSCURRENT};
use crate::SecretsError;

/// `GetSecretValue`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all(deserialize = "PascalCase", serialize = "camelCase"))]
pub struct GetSecretValueInput {
    secret_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    version_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    version_stage: Option<String>,
    /// The version and its data key, opened by KMS in the prepare step.
    #[serde(skip)]
    opened: Option<(String, Sensitive)>,
}

impl GetSecretValueInput {
    /// The value of the secret `secret_id` (name or ARN), version `version_id` or the one
    /// labelled `version_stage` (default `AWSCURRENT`).
    ///
    /// # Errors
    /// `InvalidParameterException` for ids AWS would refuse.
    pub fn new(
        secret_id: &str,
        version_id: Option<&str>,
        version_stage: Option<&str>,
    ) -> Result<Self, SecretsError> {
        Self {
            secret_id: secret_id.to_owned(),
            version_id: version_id.map(str::to_owned),
            version_stage: version_stage.map(str::to_owned),
            opened: None,
        }
        .validated()
    }

    pub(crate) fn validated(self) -> Result<Self, SecretsError> {
        check_secret_id(&self.secret_id)?;
        if let Some(v) = &self.version_id {
            check_version_id("versionId", v)?;
        }
        if let Some(s) = &self.version_stage {
            check_stage(s)?;
        }
        Ok(self)
    }

    /// The version asked for, as AWS picks it.
    fn version<'s>(&self, s: &'s Secret) -> Result<&'s Version, SecretsError> {
        let stage = self.version_stage.as_deref();
        let v = match (&self.version_id, stage) {
            (Some(id), _) => s.version(id).ok_or_else(|| {
                SecretsError::ResourceNotFoundException(format!(
                    "Secrets Manager can't find the specified secret value for VersionId: {id}"
                ))
            })?,
            (None, stage) => {
                let stage = stage.unwrap_or(AWSCURRENT);
                s.staged(stage).ok_or_else(|| {
                    SecretsError::ResourceNotFoundException(format!(
                        "Secrets Manager can't find the specified secret value for staging label: {stage}"
                    ))
                })?
            }
        };
        if let Some(stage) = stage {
            if !v.stages.iter().any(|x| x == stage) {
                return Err(SecretsError::InvalidRequestException(
                    "You provided a VersionStage that is not associated to the provided VersionId."
                        .into(),
                ));
            }
        }
        Ok(v)
    }
}

/// `GetSecretValue`'s answer. `Debug` does not show the value.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetSecretValueOutput {
    #[serde(rename = "ARN")]
    arn: String,
    name: String,
    version_id: String,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "binary_opt")]
    secret_binary: Option<Sensitive>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "text_opt")]
    secret_string: Option<Sensitive>,
    version_stages: Vec<String>,
    created_date: f64,
}

fn binary_opt<S: serde::Serializer>(v: &Option<Sensitive>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => envelope::serialize_binary(v, s),
        None => s.serialize_none(),
    }
}

fn text_opt<S: serde::Serializer>(v: &Option<Sensitive>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => envelope::serialize_text(v, s),
        None => s.serialize_none(),
    }
}

impl GetSecretValueOutput {
    /// The value: the bytes of `SecretString` or of `SecretBinary`.
    pub fn value(&self) -> &[u8] {
        self.secret_string
            .as_ref()
            .or(self.secret_binary.as_ref())
            .map_or(&[], Sensitive::expose)
    }

    /// True for a `SecretBinary`.
    pub fn is_binary(&self) -> bool {
        self.secret_binary.is_some()
    }

    /// The version returned.
    pub fn version_id(&self) -> &str {
        &self.version_id
    }
}

impl Operation for GetSecretValueInput {
    type Output = GetSecretValueOutput;

    fn authorize(&self, s: &Scope<'_, Secrets>) -> Result<Authorization, SecretsError> {
        let mut check = check_on(s, action::<Self>(), &self.secret_id, RequestTags::None)?;
        if let Some(v) = &self.version_id {
            check = check.key("secretsmanager:VersionId", vec![v.clone()]);
        }
        let stage = self.version_stage.as_deref().unwrap_or(AWSCURRENT);
        check = check.key("secretsmanager:VersionStage", vec![stage.to_owned()]);
        Ok(Authorization::of(check))
    }

    fn prepare<'a>(
        op: &'a mut Authorized<Self>,
        env: Env<'a, Secrets>,
    ) -> BoxFuture<'a, Result<(), SecretsError>> {
        Box::pin(async move {
            let account = op.principal().account.to_string();
            let region = env.region().to_owned();
            let s = env
                .service
                .exec
                .store()
                .read(|tx| live(tx, &account, &region, &op.secret_id))?;
            let v = op.version(&s)?;
            if let Some(key) = s.value_key(&env, v).await? {
                let id = v.id.clone();
                op.op_mut().opened = Some((id, key));
            }
            Ok(())
        })
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Secrets>) -> Done<Self> {
        let Exec { tx, ctx, .. } = x;
        let account = ctx.principal.account.as_str();
        let s = live(tx.read(), account, ctx.region, &op.secret_id)?;
        let v = op.version(&s)?;
        let key = op
            .opened
            .as_ref()
            .filter(|(id, _)| *id == v.id)
            .map(|(_, k)| k);
        let (value, binary) = read_value(tx.read(), ctx.sealer, &s, &v.id, key)?;
        let (secret_binary, secret_string) = if binary {
            (Some(value), None)
        } else {
            (None, Some(value))
        };
        let arn = s.arn();
        Ok(Reply::new(GetSecretValueOutput {
            arn: arn.clone(),
            name: s.name.clone(),
            version_id: v.id.clone(),
            secret_binary,
            secret_string,
            version_stages: v.stages.clone(),
            created_date: secs(v.created),
        })
        .resource(SECRET_TYPE, arn))
    }
}

/// `DescribeSecret`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all(deserialize = "PascalCase", serialize = "camelCase"))]
pub struct DescribeSecretInput {
    secret_id: String,
}

impl DescribeSecretInput {
    pub(crate) fn validated(self) -> Result<Self, SecretsError> {
        check_secret_id(&self.secret_id)?;
        Ok(self)
    }
}

/// A secret as DescribeSecret and ListSecrets show it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SecretEntry {
    #[serde(rename = "ARN")]
    arn: String,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kms_key_id: Option<String>,
    last_changed_date: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    deleted_date: Option<f64>,
    tags: Vec<Tag>,
    #[serde(skip_serializing_if = "Option::is_none")]
    version_ids_to_stages: Option<BTreeMap<String, Vec<String>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret_versions_to_stages: Option<BTreeMap<String, Vec<String>>>,
    created_date: f64,
}

impl SecretEntry {
    /// DescribeSecret names the map `VersionIdsToStages`, ListSecrets
    /// `SecretVersionsToStages`; deprecated versions (no label) are left out of both.
    fn of(s: &Secret, listed: bool) -> Self {
        let stages: BTreeMap<String, Vec<String>> = s
            .versions
            .iter()
            .filter(|v| !v.stages.is_empty())
            .map(|v| (v.id.clone(), v.stages.clone()))
            .collect();
        let stages = (!stages.is_empty()).then_some(stages);
        let (by_id, by_version) = if listed {
            (None, stages)
        } else {
            (stages, None)
        };
        Self {
            arn: s.arn(),
            name: s.name.clone(),
            description: s.description.clone(),
            kms_key_id: s.kms_key_id.clone(),
            last_changed_date: secs(s.last_changed),
            deleted_date: s.deleted.map(secs),
            tags: wire_tags(&s.tags),
            version_ids_to_stages: by_id,
            secret_versions_to_stages: by_version,
            created_date: secs(s.created),
        }
    }
}

impl Operation for DescribeSecretInput {
    type Output = SecretEntry;

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
        Ok(Reply::new(SecretEntry::of(&s, false)).resource(SECRET_TYPE, s.arn()))
    }
}

/// One `Filters` entry of ListSecrets.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Filter {
    /// `Key`.
    #[serde(rename = "Key")]
    key: String,
    /// `Values`.
    #[serde(rename = "Values", default)]
    values: Vec<String>,
}

impl Filter {
    fn check(&self) -> Result<(), SecretsError> {
        const KEYS: [&str; 7] = [
            "description",
            "name",
            "tag-key",
            "tag-value",
            "primary-region",
            "owning-service",
            "all",
        ];
        if !KEYS.contains(&self.key.as_str()) {
            return Err(SecretsError::constraint(
                "filters.member.key",
                "Member must satisfy enum value set: [all, name, tag-key, description, tag-value, primary-region, owning-service]",
            ));
        }
        if self.values.is_empty() || self.values.len() > 10 {
            return Err(SecretsError::constraint(
                "filters.member.values",
                "Member must have length between 1 and 10",
            ));
        }
        let ok = |v: &str| {
            v.len() <= 512
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b" :_@/+=.-!".contains(&b))
        };
        if !self.values.iter().all(|v| ok(v)) {
            return Err(SecretsError::invalid("Invalid filter values"));
        }
        Ok(())
    }

    /// True when `s` passes: any value matches (each as the key's doc says), or, for a
    /// value starting with `!`, does not.
    fn matches(&self, s: &Secret) -> bool {
        self.values.iter().any(|v| match v.strip_prefix('!') {
            Some(v) => !self.matches_value(s, v),
            None => self.matches_value(s, v),
        })
    }

    fn matches_value(&self, s: &Secret, v: &str) -> bool {
        let prefix_ci = |hay: &str, p: &str| {
            hay.len() >= p.len() && hay.as_bytes()[..p.len()].eq_ignore_ascii_case(p.as_bytes())
        };
        match self.key.as_str() {
            "description" => s.description.as_deref().is_some_and(|d| prefix_ci(d, v)),
            "name" => s.name.starts_with(v),
            "tag-key" => s.tags.iter().any(|(k, _)| k.starts_with(v)),
            "tag-value" => s.tags.iter().any(|(_, x)| x.starts_with(v)),
            "primary-region" => s.region.starts_with(v),
            "owning-service" => false,
            // "Breaks the filter value string into words and then searches all attributes
            // for matches. Not case-sensitive."
            _ => v.split_whitespace().all(|word| {
                let mut attrs = vec![s.name.as_str()];
                attrs.extend(s.description.as_deref());
                attrs.extend(s.tags.iter().flat_map(|(k, x)| [k.as_str(), x.as_str()]));
                attrs.iter().any(|a| {
                    a.split(|c: char| !c.is_ascii_alphanumeric())
                        .any(|w| prefix_ci(w, word))
                        || prefix_ci(a, word)
                })
            }),
        }
    }
}

/// `ListSecrets`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all(deserialize = "PascalCase", serialize = "camelCase"))]
pub struct ListSecretsInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    include_planned_deletion: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_results: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    filters: Option<Vec<Filter>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sort_order: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sort_by: Option<String>,
}

fn check_max_results(m: Option<i64>) -> Result<usize, SecretsError> {
    match m {
        None => Ok(100),
        Some(n) if (1..=100).contains(&n) => Ok(usize::try_from(n).unwrap_or(100)),
        Some(_) => Err(SecretsError::constraint(
            "maxResults",
            "Member must have value between 1 and 100",
        )),
    }
}

/// A paging token: the offset into the sorted list, hex.
fn token(offset: usize) -> String {
    format!("{offset:08x}")
}

fn parse_token(t: Option<&str>) -> Result<usize, SecretsError> {
    match t {
        None => Ok(0),
        Some(t) => usize::from_str_radix(t, 16).map_err(|_| {
            SecretsError::InvalidNextTokenException("The NextToken value is invalid.".into())
        }),
    }
}

impl ListSecretsInput {
    pub(crate) fn validated(self) -> Result<Self, SecretsError> {
        check_max_results(self.max_results)?;
        parse_token(self.next_token.as_deref())?;
        let filters = self.filters.as_deref().unwrap_or_default();
        if filters.len() > 10 {
            return Err(SecretsError::constraint(
                "filters",
                "Member must have length less than or equal to 10",
            ));
        }
        filters.iter().try_for_each(Filter::check)?;
        if let Some(o) = &self.sort_order {
            if !matches!(o.as_str(), "asc" | "desc") {
                return Err(SecretsError::constraint(
                    "sortOrder",
                    "Member must satisfy enum value set: [asc, desc]",
                ));
            }
        }
        if let Some(b) = &self.sort_by {
            if !matches!(
                b.as_str(),
                "created-date" | "last-accessed-date" | "last-changed-date" | "name"
            ) {
                return Err(SecretsError::constraint(
                    "sortBy",
                    "Member must satisfy enum value set: [created-date, last-accessed-date, last-changed-date, name]",
                ));
            }
        }
        Ok(self)
    }

    fn sort(&self, list: &mut [Secret]) {
        match self.sort_by.as_deref() {
            Some("name") => list.sort_by(|a, b| a.name.cmp(&b.name)),
            Some("last-changed-date") => {
                list.sort_by(|a, b| (a.last_changed, &a.name).cmp(&(b.last_changed, &b.name)));
            }
            _ => list.sort_by(|a, b| (a.created, &a.name).cmp(&(b.created, &b.name))),
        }
        if self.sort_order.as_deref() == Some("desc") {
            list.reverse();
        }
    }
}

/// `ListSecrets`' answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListSecretsOutput {
    secret_list: Vec<SecretEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

impl Operation for ListSecretsInput {
    type Output = ListSecretsOutput;

    fn authorize(&self, _: &Scope<'_, Secrets>) -> Result<Authorization, SecretsError> {
        Ok(Authorization::of(Check::new(
            action::<Self>(),
            Resource::Any,
            RequestTags::None,
        )))
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Secrets>) -> Done<Self> {
        let Exec { tx, ctx, .. } = x;
        let prefix = keys::secrets(ctx.principal.account.as_str(), ctx.region);
        let deleted_too = op.include_planned_deletion == Some(true);
        let filters = op.filters.as_deref().unwrap_or_default();
        let mut list: Vec<Secret> = Vec::new();
        let mut after: Option<Vec<u8>> = None;
        loop {
            let batch = tables::SECRETS.scan(
                tx.read(),
                &prefix,
                after.as_deref(),
                Direction::Forward,
                512,
            )?;
            let Some((last, _)) = batch.last() else { break };
            after = Some(last.clone());
            list.extend(batch.into_iter().map(|(_, s)| s).filter(|s| {
                (deleted_too || !s.is_deleted()) && filters.iter().all(|f| f.matches(s))
            }));
        }
        op.sort(&mut list);
        let start = parse_token(op.next_token.as_deref())?.min(list.len());
        let max = check_max_results(op.max_results)?;
        let end = (start + max).min(list.len());
        let page = list[start..end]
            .iter()
            .map(|s| SecretEntry::of(s, true))
            .collect();
        Ok(Reply::new(ListSecretsOutput {
            secret_list: page,
            next_token: (end < list.len()).then(|| token(end)),
        }))
    }
}

/// `ListSecretVersionIds`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all(deserialize = "PascalCase", serialize = "camelCase"))]
pub struct ListSecretVersionIdsInput {
    secret_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_results: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    include_deprecated: Option<bool>,
}

impl ListSecretVersionIdsInput {
    pub(crate) fn validated(self) -> Result<Self, SecretsError> {
        check_secret_id(&self.secret_id)?;
        check_max_results(self.max_results)?;
        parse_token(self.next_token.as_deref())?;
        Ok(self)
    }
}

/// One version in ListSecretVersionIds.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct VersionEntry {
    version_id: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    version_stages: Vec<String>,
    created_date: f64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    kms_key_ids: Vec<String>,
}

/// `ListSecretVersionIds`' answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListVersionsOutput {
    versions: Vec<VersionEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
    #[serde(rename = "ARN")]
    arn: String,
    name: String,
}

impl Operation for ListSecretVersionIdsInput {
    type Output = ListVersionsOutput;

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
        let all = op.include_deprecated == Some(true);
        let listed: Vec<&Version> = s
            .versions
            .iter()
            .rev()
            .filter(|v| all || !v.stages.is_empty())
            .collect();
        let start = parse_token(op.next_token.as_deref())?.min(listed.len());
        let end = (start + check_max_results(op.max_results)?).min(listed.len());
        let versions = listed[start..end]
            .iter()
            .map(|v| VersionEntry {
                version_id: v.id.clone(),
                version_stages: v.stages.clone(),
                created_date: secs(v.created),
                kms_key_ids: v.kms_key_arn.iter().cloned().collect(),
            })
            .collect();
        Ok(Reply::new(ListVersionsOutput {
            versions,
            next_token: (end < listed.len()).then(|| token(end)),
            arn: s.arn(),
            name: s.name.clone(),
        })
        .resource(SECRET_TYPE, s.arn()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(name: &str, description: Option<&str>, tags: &[(&str, &str)]) -> Secret {
        let mut s = crate::model::fixture(name, &[]);
        s.description = description.map(str::to_owned);
        s.tags = tags
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        s
    }

    fn filter(key: &str, values: &[&str]) -> Filter {
        Filter {
            key: key.into(),
            values: values.iter().map(|v| (*v).to_owned()).collect(),
        }
    }

    #[test]
    fn filters_as_aws_documents_them() {
        let s = secret("prod/db", Some("Main Database"), &[("team", "Blue")]);
        assert!(filter("name", &["prod/"]).matches(&s));
        assert!(
            !filter("name", &["Prod/"]).matches(&s),
            "name is case-sensitive"
        );
        assert!(
            filter("description", &["main"]).matches(&s),
            "description is not"
        );
        assert!(filter("tag-key", &["te"]).matches(&s));
        assert!(!filter("tag-value", &["blue"]).matches(&s));
        assert!(filter("name", &["!dev"]).matches(&s));
        assert!(!filter("name", &["!prod"]).matches(&s));
        assert!(
            filter("name", &["dev", "prod"]).matches(&s),
            "values are ORed"
        );
        assert!(filter("all", &["database blue"]).matches(&s));
        assert!(!filter("all", &["database green"]).matches(&s));
        assert!(filter("nope", &["x"]).check().is_err());
        assert!(filter("name", &[]).check().is_err());
    }

    #[test]
    fn tokens_round_trip() {
        assert_eq!(parse_token(Some(&token(37))).unwrap(), 37);
        assert!(parse_token(Some("zz")).is_err());
        assert_eq!(parse_token(None).unwrap(), 0);
    }
}
