//! Writes: PutParameter, DeleteParameter, DeleteParameters, LabelParameterVersion.

use ferrogate_api::{
    Authorization, Authorized, BoxFuture, Check, Done, Empty, Env, Exec, Operation, Reply,
    RequestTags, Resource, Scope,
};
use ferrogate_secrets::envelope::{self, DataKey, Sensitive};
use ferrogate_store::TxRef;
use serde::{Deserialize, Serialize};

use super::{action, check_on, context, existing, find, Ssm, Tag, DEFAULT_KEY, PARAMETER_TYPE};
use crate::model::{
    arn, check_name, keys, label_ok, parse_name, tables, ParamVersion, Parameter, Stored,
    MAX_LABELS, MAX_VERSIONS,
};
use crate::SsmError;

/// `PutParameter`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all(deserialize = "PascalCase", serialize = "camelCase"))]
pub struct PutParameterInput {
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing)]
    value: Sensitive,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    r#type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    overwrite: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    allowed_pattern: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tags: Option<Vec<Tag>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    policies: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    data_type: Option<String>,
    /// A data key KMS made in the prepare step (a `SecureString` under a customer managed
    /// key) and the version it was made for.
    #[serde(skip)]
    data_key: Option<(i64, DataKey)>,
}

fn is_default_key(k: Option<&str>) -> bool {
    k.is_none_or(|k| k == DEFAULT_KEY || k.ends_with(":alias/aws/ssm"))
}

impl PutParameterInput {
    pub(crate) fn validated(self) -> Result<Self, SsmError> {
        check_name(&self.name)?;
        let len = self.value.expose().len();
        if len == 0 {
            return Err(SsmError::invalid(
                "1 validation error detected: Value '' at 'value' failed to satisfy constraint: Member must have length greater than or equal to 1.",
            ));
        }
        let max = match self.tier.as_deref() {
            None | Some("Standard") => 4096,
            Some("Advanced" | "Intelligent-Tiering") => 8192,
            Some(other) => {
                return Err(SsmError::invalid(format!(
                    "1 validation error detected: Value '{other}' at 'tier' failed to satisfy constraint: Member must satisfy enum value set: [Standard, Advanced, Intelligent-Tiering]"
                )))
            }
        };
        if len > max {
            return Err(SsmError::invalid(format!(
                "Standard tier parameters support a maximum parameter value of 4096 characters. To create a larger parameter value, upgrade the parameter to use the advanced-parameter tier. (limit for this tier: {max})"
            )));
        }
        if let Some(t) = &self.r#type {
            if !matches!(t.as_str(), "String" | "StringList" | "SecureString") {
                return Err(SsmError::invalid(format!(
                    "1 validation error detected: Value '{t}' at 'type' failed to satisfy constraint: Member must satisfy enum value set: [SecureString, StringList, String]"
                )));
            }
        }
        if self.description.as_ref().is_some_and(|d| d.len() > 1024) {
            return Err(SsmError::invalid(
                "1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 1024",
            ));
        }
        if self.overwrite == Some(true) && self.tags.as_ref().is_some_and(|t| !t.is_empty()) {
            return Err(SsmError::invalid(
                "Invalid request: tags and overwrite can't be used together. To create a parameter with tags, please remove overwrite flag. To update tags for an existing parameter, please use AddTagsToResource or RemoveTagsFromResource.",
            ));
        }
        if let Some(d) = &self.data_type {
            if !matches!(d.as_str(), "text" | "aws:ec2:image") {
                return Err(SsmError::invalid(format!(
                    "The following data type is not supported: {d} (Data type names are all lowercase.)"
                )));
            }
        }
        if self.policies.is_some() {
            return Err(SsmError::invalid(
                "Parameter policies are not supported by Ferrogate.",
            ));
        }
        if let Some(p) = &self.allowed_pattern {
            let re = regex_lite::Regex::new(p).map_err(|_| {
                SsmError::InvalidAllowedPatternException(
                    "The allowed pattern is not a valid regular expression.".into(),
                )
            })?;
            let text = std::str::from_utf8(self.value.expose()).unwrap_or_default();
            if !re.is_match(text) {
                return Err(SsmError::ParameterPatternMismatchException(format!(
                    "Parameter value, cannot be validated against allowedPattern: {p}"
                )));
            }
        }
        Ok(self)
    }

    /// The type, key and tier the new version takes: the request's, else the latest
    /// version's (an overwrite may leave them out).
    fn kind(&self, old: Option<&ParamVersion>) -> Result<String, SsmError> {
        match (&self.r#type, old) {
            (Some(t), _) => Ok(t.clone()),
            (None, Some(v)) => Ok(v.kind.clone()),
            (None, None) => Err(SsmError::invalid(
                "A parameter type is required when you create a parameter.",
            )),
        }
    }
}

/// `PutParameter`'s answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutParameterOutput {
    version: i64,
    tier: String,
}

impl Operation for PutParameterInput {
    type Output = PutParameterOutput;

    fn authorize(&self, s: &Scope<'_, Ssm>) -> Result<Authorization, SsmError> {
        let tags: Vec<(String, String)> = self
            .tags
            .iter()
            .flatten()
            .map(|t| (t.key.clone(), t.value.clone()))
            .collect();
        let put = check_on(
            s,
            action::<Self>(),
            &self.name,
            RequestTags::Set(tags.clone()),
        )?;
        if tags.is_empty() {
            return Ok(Authorization::of(put));
        }
        let tag = Check::new(
            "ssm:AddTagsToResource",
            Resource::New(arn(s.region, s.account(), &self.name)),
            RequestTags::Set(tags),
        );
        Ok(Authorization::all(put, [tag]))
    }

    fn prepare<'a>(
        op: &'a mut Authorized<Self>,
        env: Env<'a, Ssm>,
    ) -> BoxFuture<'a, Result<(), SsmError>> {
        Box::pin(async move {
            let account = op.principal().account.to_string();
            let region = env.region().to_owned();
            let old = env
                .service
                .exec
                .store()
                .read(|tx| find(tx, &account, &region, &op.name))?;
            let latest = old.as_ref().and_then(Parameter::latest);
            if op.kind(latest)? != "SecureString" {
                return Ok(());
            }
            let key = op
                .key_id
                .clone()
                .or_else(|| latest.and_then(|v| v.key_id.clone()));
            if is_default_key(key.as_deref()) {
                return Ok(());
            }
            let version = latest.map_or(1, |v| v.version + 1);
            let parameter_arn = arn(&region, &account, &op.name);
            let k = envelope::kms_key(
                &env.on_behalf(),
                &env.service.kms,
                key.as_deref().unwrap_or_default(),
                context(&parameter_arn),
            )
            .await?;
            op.op_mut().data_key = Some((version, k));
            Ok(())
        })
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Ssm>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let account = ctx.principal.account.as_str();
        let mut p = match find(tx.read(), account, ctx.region, &op.name)? {
            Some(_) if op.overwrite != Some(true) => {
                return Err(SsmError::ParameterAlreadyExists(
                    "The parameter already exists. To overwrite this value, set the overwrite option in the request to true.".into(),
                ))
            }
            Some(p) => p,
            None => Parameter {
                account: account.to_owned(),
                region: ctx.region.to_owned(),
                name: op.name.clone(),
                tags: op
                    .tags
                    .iter()
                    .flatten()
                    .map(|t| (t.key.clone(), t.value.clone()))
                    .collect(),
                versions: Vec::new(),
            },
        };
        let latest = p.latest().cloned();
        let kind = op.kind(latest.as_ref())?;
        let version = latest.as_ref().map_or(1, |v| v.version + 1);
        let tier = op
            .tier
            .clone()
            .or_else(|| latest.as_ref().map(|v| v.tier.clone()))
            .unwrap_or_else(|| "Standard".into());
        let secure = kind == "SecureString";
        let key_id = secure.then(|| {
            op.key_id
                .clone()
                .or_else(|| latest.as_ref().and_then(|v| v.key_id.clone()))
                .unwrap_or_else(|| DEFAULT_KEY.into())
        });
        let value = if secure {
            seal(op, &p, version, key_id.as_deref(), ctx.sealer)?
        } else {
            let text = std::str::from_utf8(op.value.expose())
                .map_err(|_| SsmError::invalid("The value is not valid UTF-8."))?;
            Stored::Clear(text.to_owned())
        };
        if p.versions.len() >= MAX_VERSIONS {
            if p.versions.first().is_some_and(|v| !v.labels.is_empty()) {
                return Err(SsmError::ParameterMaxVersionLimitExceeded(format!(
                    "You attempted to create a new version of {} by calling the PutParameter API with the overwrite flag. Version {}, the oldest version, can't be deleted because it has a label associated with it. Move the label to another version of the parameter, and try again.",
                    p.name, p.versions[0].version
                )));
            }
            p.versions.remove(0);
        }
        p.versions.push(ParamVersion {
            version,
            kind,
            value,
            description: op
                .description
                .clone()
                .or_else(|| latest.as_ref().and_then(|v| v.description.clone())),
            allowed_pattern: op
                .allowed_pattern
                .clone()
                .or_else(|| latest.as_ref().and_then(|v| v.allowed_pattern.clone())),
            key_id,
            tier: tier.clone(),
            data_type: op
                .data_type
                .clone()
                .or_else(|| latest.as_ref().map(|v| v.data_type.clone()))
                .unwrap_or_else(|| "text".into()),
            labels: Vec::new(),
            modified: ctx.now.millis(),
            user: ctx.principal.arn.clone(),
        });
        save(&mut tx, &p)?;
        Ok(Reply::new(PutParameterOutput {
            version,
            tier: tier.clone(),
        })
        .elements(serde_json::json!({ "version": version, "tier": tier }))
        .resource(PARAMETER_TYPE, p.arn()))
    }
}

/// Seals a `SecureString` value as version `version` of `p`: under the data key KMS made in
/// the prepare step, or, for the default key, a service key made here.
fn seal(
    op: &PutParameterInput,
    p: &Parameter,
    version: i64,
    key_id: Option<&str>,
    sealer: &dyn ferrogate_store::seal::Sealer,
) -> Result<Stored, SsmError> {
    let parameter_arn = p.arn();
    let v = version.to_string();
    let made;
    let key = match (&op.data_key, is_default_key(key_id)) {
        (Some((n, k)), false) if *n == version => k,
        (_, true) => {
            made = envelope::service_key(sealer, &parameter_arn, &v)?;
            &made
        }
        _ => {
            return Err(SsmError::invalid(
                "The parameter changed while the request was processed. Retry the request.",
            ))
        }
    };
    let sealed = envelope::seal_value(&key.plain, &parameter_arn, &v, false, &op.value)?;
    Ok(Stored::Sealed {
        key: key.wrapped.clone(),
        sealed,
    })
}

fn save(tx: &mut TxRef<'_>, p: &Parameter) -> Result<(), SsmError> {
    tables::PARAMETERS.put(
        tx.write()?,
        &keys::parameter(&p.account, &p.region, &p.name),
        p,
    )?;
    Ok(())
}

/// `DeleteParameter`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all(deserialize = "PascalCase", serialize = "camelCase"))]
pub struct DeleteParameterInput {
    name: String,
}

impl DeleteParameterInput {
    pub(crate) fn validated(self) -> Result<Self, SsmError> {
        if self.name.is_empty() || self.name.len() > 2048 {
            return Err(SsmError::invalid("The parameter name is not valid."));
        }
        Ok(self)
    }
}

impl Operation for DeleteParameterInput {
    type Output = Empty;

    fn authorize(&self, s: &Scope<'_, Ssm>) -> Result<Authorization, SsmError> {
        let (name, _) = parse_name(&self.name, s.account(), s.region)?;
        Ok(Authorization::of(check_on(
            s,
            action::<Self>(),
            &name,
            RequestTags::None,
        )?))
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Ssm>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let account = ctx.principal.account.as_str();
        let (name, _) = parse_name(&op.name, account, ctx.region)?;
        let p = existing(tx.read(), account, ctx.region, &name)?;
        tables::PARAMETERS.delete(tx.write()?, &keys::parameter(account, ctx.region, &name))?;
        Ok(Reply::new(Empty {}).resource(PARAMETER_TYPE, p.arn()))
    }
}

/// `DeleteParameters`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all(deserialize = "PascalCase", serialize = "camelCase"))]
pub struct DeleteParametersInput {
    names: Vec<String>,
}

impl DeleteParametersInput {
    pub(crate) fn validated(self) -> Result<Self, SsmError> {
        if self.names.is_empty() || self.names.len() > 10 {
            return Err(SsmError::invalid(
                "1 validation error detected: Value at 'names' failed to satisfy constraint: Member must have length between 1 and 10",
            ));
        }
        Ok(self)
    }
}

/// `DeleteParameters`' answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteParametersOutput {
    deleted_parameters: Vec<String>,
    invalid_parameters: Vec<String>,
}

impl Operation for DeleteParametersInput {
    type Output = DeleteParametersOutput;

    fn authorize(&self, s: &Scope<'_, Ssm>) -> Result<Authorization, SsmError> {
        let mut checks = Vec::new();
        for n in &self.names {
            let (name, _) = parse_name(n, s.account(), s.region)?;
            checks.push(check_on(s, action::<Self>(), &name, RequestTags::None)?);
        }
        let mut it = checks.into_iter();
        let first = it
            .next()
            .ok_or_else(|| SsmError::invalid("Names is empty."))?;
        Ok(Authorization::all(first, it))
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Ssm>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let account = ctx.principal.account.as_str();
        let (mut deleted, mut invalid) = (Vec::new(), Vec::new());
        let mut reply_resources = Vec::new();
        for n in &op.names {
            let (name, _) = parse_name(n, account, ctx.region)?;
            let key = keys::parameter(account, ctx.region, &name);
            match find(tx.read(), account, ctx.region, &name)? {
                Some(p) => {
                    tables::PARAMETERS.delete(tx.write()?, &key)?;
                    reply_resources.push(p.arn());
                    deleted.push(n.clone());
                }
                None => invalid.push(n.clone()),
            }
        }
        let mut reply = Reply::new(DeleteParametersOutput {
            deleted_parameters: deleted,
            invalid_parameters: invalid,
        });
        for r in reply_resources {
            reply = reply.resource(PARAMETER_TYPE, r);
        }
        Ok(reply)
    }
}

/// `LabelParameterVersion`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all(deserialize = "PascalCase", serialize = "camelCase"))]
pub struct LabelParameterVersionInput {
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    parameter_version: Option<i64>,
    labels: Vec<String>,
}

impl LabelParameterVersionInput {
    pub(crate) fn validated(self) -> Result<Self, SsmError> {
        if self.labels.is_empty() || self.labels.len() > MAX_LABELS {
            return Err(SsmError::invalid(
                "1 validation error detected: Value at 'labels' failed to satisfy constraint: Member must have length between 1 and 10",
            ));
        }
        Ok(self)
    }
}

/// `LabelParameterVersion`'s answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LabelOutput {
    invalid_labels: Vec<String>,
    parameter_version: i64,
}

impl Operation for LabelParameterVersionInput {
    type Output = LabelOutput;

    fn authorize(&self, s: &Scope<'_, Ssm>) -> Result<Authorization, SsmError> {
        let (name, _) = parse_name(&self.name, s.account(), s.region)?;
        Ok(Authorization::of(check_on(
            s,
            action::<Self>(),
            &name,
            RequestTags::None,
        )?))
    }

    /// A label moves to the version named (AWS: "a label can only be attached to one
    /// version of a parameter at a time"); labels AWS would refuse come back in
    /// `InvalidLabels` and are not attached.
    fn execute(op: &Authorized<Self>, x: Exec<'_, Ssm>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let account = ctx.principal.account.as_str();
        let (name, _) = parse_name(&op.name, account, ctx.region)?;
        let mut p = existing(tx.read(), account, ctx.region, &name)?;
        let target = match op.parameter_version {
            Some(n) => n,
            None => p.latest().map_or(0, |v| v.version),
        };
        if !p.versions.iter().any(|v| v.version == target) {
            return Err(SsmError::ParameterVersionNotFound(format!(
                "Systems Manager could not find version {target} of {name}. Verify the version and try again."
            )));
        }
        let (valid, invalid): (Vec<String>, Vec<String>) =
            op.labels.iter().cloned().partition(|l| label_ok(l));
        for v in &mut p.versions {
            if v.version != target {
                v.labels.retain(|l| !valid.contains(l));
            }
        }
        if let Some(v) = p.versions.iter_mut().find(|v| v.version == target) {
            for l in &valid {
                if !v.labels.contains(l) {
                    v.labels.push(l.clone());
                }
            }
            if v.labels.len() > MAX_LABELS {
                return Err(SsmError::ParameterVersionLabelLimitExceeded(
                    "An error occurred (ParameterVersionLabelLimitExceeded) when calling the LabelParameterVersion API operation: A parameter version can have maximum 10 labels.Move one or more labels to another version and try again.".into(),
                ));
            }
        }
        save(&mut tx, &p)?;
        Ok(Reply::new(LabelOutput {
            invalid_labels: invalid,
            parameter_version: target,
        })
        .resource(PARAMETER_TYPE, p.arn()))
    }
}
