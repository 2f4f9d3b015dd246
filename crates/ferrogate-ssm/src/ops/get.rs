//! Reads: GetParameter, GetParameters, GetParametersByPath, GetParameterHistory,
//! DescribeParameters. `WithDecryption` on a `SecureString` under a customer managed key asks
//! KMS (`kms:Decrypt`) as the caller in the prepare step.

use ferrogate_api::{
    Authorization, Authorized, BoxFuture, Check, Done, Env, Exec, Operation, Reply, RequestTags,
    Resource, Scope,
};
use ferrogate_secrets::envelope::{self, Sensitive};
use ferrogate_store::{Direction, ReadTx};
use serde::{Deserialize, Serialize};

use super::{
    action, check_on, existing, find, open_keys, parse_token, secs, token, value_of, Opened, Ssm,
    PARAMETER_TYPE,
};
use crate::model::{arn, keys, parse_name, tables, ParamVersion, Parameter, Selector};
use crate::SsmError;

/// A parameter as GetParameter(s) and GetParametersByPath answer it. `Debug` leaves the
/// value out.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ParameterOut {
    name: String,
    r#type: String,
    #[serde(serialize_with = "envelope::serialize_text")]
    value: Sensitive,
    version: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    selector: Option<String>,
    last_modified_date: f64,
    #[serde(rename = "ARN")]
    arn: String,
    data_type: String,
}

impl std::fmt::Debug for ParameterOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParameterOut")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl ParameterOut {
    /// The value as answered (decrypted when asked).
    pub fn value(&self) -> &[u8] {
        self.value.expose()
    }
}

fn out(
    sealer: &dyn ferrogate_store::seal::Sealer,
    p: &Parameter,
    v: &ParamVersion,
    selector: Option<&Selector>,
    decrypt: bool,
    opened: &Opened,
) -> Result<ParameterOut, SsmError> {
    Ok(ParameterOut {
        name: p.name.clone(),
        r#type: v.kind.clone(),
        value: value_of(sealer, p, v, decrypt, opened)?,
        version: v.version,
        selector: selector.map(|s| format!(":{}", s.text())),
        last_modified_date: secs(v.modified),
        arn: p.arn(),
        data_type: v.data_type.clone(),
    })
}

/// Whether a version needs KMS for this request.
fn needs_kms(v: &ParamVersion, decrypt: bool) -> bool {
    decrypt && v.kind == "SecureString"
}

/// `GetParameter`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all(deserialize = "PascalCase", serialize = "camelCase"))]
pub struct GetParameterInput {
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    with_decryption: Option<bool>,
    #[serde(skip)]
    opened: Opened,
}

impl GetParameterInput {
    /// The parameter `name` (name or ARN, optionally `:version` or `:label`), decrypted when
    /// `with_decryption`.
    ///
    /// # Errors
    /// `ValidationException` for a name AWS would refuse.
    pub fn new(name: &str, with_decryption: bool) -> Result<Self, SsmError> {
        Self {
            name: name.to_owned(),
            with_decryption: Some(with_decryption),
            opened: Opened::default(),
        }
        .validated()
    }

    pub(crate) fn validated(self) -> Result<Self, SsmError> {
        check_len(&self.name)?;
        Ok(self)
    }
}

fn check_len(name: &str) -> Result<(), SsmError> {
    if name.is_empty() || name.len() > 2048 {
        return Err(SsmError::invalid(
            "1 validation error detected: Value at 'name' failed to satisfy constraint: Member must have length between 1 and 2048",
        ));
    }
    Ok(())
}

/// `GetParameter`'s answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetParameterOutput {
    parameter: ParameterOut,
}

impl GetParameterOutput {
    /// The parameter.
    pub fn parameter(&self) -> &ParameterOut {
        &self.parameter
    }
}

/// Reads on a snapshot of its own what a prepare step must open: `(parameter, version)` of
/// each `(name, selector)` that exists.
fn snapshot(
    ssm: &Ssm,
    account: &str,
    region: &str,
    names: &[(String, Option<Selector>)],
) -> Result<Vec<(Parameter, i64)>, SsmError> {
    ssm.exec.store().read(|tx| {
        let mut found = Vec::new();
        for (name, sel) in names {
            if let Some(p) = find(tx, account, region, name)? {
                if let Ok(v) = p.select(sel.as_ref()) {
                    let n = v.version;
                    found.push((p, n));
                }
            }
        }
        Ok(found)
    })
}

/// Opens, as the caller, the keys of the versions `found` names that need KMS.
async fn open_found(
    env: &Env<'_, Ssm>,
    found: &[(Parameter, i64)],
    decrypt: bool,
) -> Result<Opened, SsmError> {
    let wanted: Vec<(&Parameter, &ParamVersion)> = found
        .iter()
        .filter_map(|(p, n)| p.versions.iter().find(|v| v.version == *n).map(|v| (p, v)))
        .filter(|(_, v)| needs_kms(v, decrypt))
        .collect();
    open_keys(env, &wanted).await
}

impl Operation for GetParameterInput {
    type Output = GetParameterOutput;

    fn authorize(&self, s: &Scope<'_, Ssm>) -> Result<Authorization, SsmError> {
        let (name, _) = parse_name(&self.name, s.account(), s.region)?;
        Ok(Authorization::of(check_on(
            s,
            action::<Self>(),
            &name,
            RequestTags::None,
        )?))
    }

    fn prepare<'a>(
        op: &'a mut Authorized<Self>,
        env: Env<'a, Ssm>,
    ) -> BoxFuture<'a, Result<(), SsmError>> {
        Box::pin(async move {
            let account = op.principal().account.to_string();
            let region = env.region().to_owned();
            let parsed = parse_name(&op.name, &account, &region)?;
            let found = snapshot(env.service, &account, &region, &[parsed])?;
            let opened = open_found(&env, &found, op.with_decryption == Some(true)).await?;
            op.op_mut().opened = opened;
            Ok(())
        })
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Ssm>) -> Done<Self> {
        let Exec { tx, ctx, .. } = x;
        let account = ctx.principal.account.as_str();
        let (name, sel) = parse_name(&op.name, account, ctx.region)?;
        let p = existing(tx.read(), account, ctx.region, &name)?;
        let v = p.select(sel.as_ref())?;
        let decrypt = op.with_decryption == Some(true);
        let parameter = out(ctx.sealer, &p, v, sel.as_ref(), decrypt, &op.opened)?;
        Ok(Reply::new(GetParameterOutput { parameter }).resource(PARAMETER_TYPE, p.arn()))
    }
}

/// `GetParameters`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all(deserialize = "PascalCase", serialize = "camelCase"))]
pub struct GetParametersInput {
    names: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    with_decryption: Option<bool>,
    #[serde(skip)]
    opened: Opened,
}

impl GetParametersInput {
    /// The parameters `names` (each a name or ARN, optionally with a selector).
    ///
    /// # Errors
    /// `ValidationException` for more than 10 names or a name AWS would refuse.
    pub fn new(names: &[&str], with_decryption: bool) -> Result<Self, SsmError> {
        Self {
            names: names.iter().map(|n| (*n).to_owned()).collect(),
            with_decryption: Some(with_decryption),
            opened: Opened::default(),
        }
        .validated()
    }

    pub(crate) fn validated(self) -> Result<Self, SsmError> {
        if self.names.is_empty() || self.names.len() > 10 {
            return Err(SsmError::invalid(
                "1 validation error detected: Value at 'names' failed to satisfy constraint: Member must have length between 1 and 10",
            ));
        }
        self.names.iter().try_for_each(|n| check_len(n))?;
        Ok(self)
    }
}

/// `GetParameters`' answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetParametersOutput {
    parameters: Vec<ParameterOut>,
    invalid_parameters: Vec<String>,
}

impl GetParametersOutput {
    /// The parameters found.
    pub fn parameters(&self) -> &[ParameterOut] {
        &self.parameters
    }

    /// The names not found.
    pub fn invalid(&self) -> &[String] {
        &self.invalid_parameters
    }
}

impl Operation for GetParametersInput {
    type Output = GetParametersOutput;

    /// `ssm:GetParameters` on every parameter named.
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

    fn prepare<'a>(
        op: &'a mut Authorized<Self>,
        env: Env<'a, Ssm>,
    ) -> BoxFuture<'a, Result<(), SsmError>> {
        Box::pin(async move {
            let account = op.principal().account.to_string();
            let region = env.region().to_owned();
            let parsed: Vec<(String, Option<Selector>)> = op
                .names
                .iter()
                .map(|n| parse_name(n, &account, &region))
                .collect::<Result<_, _>>()?;
            let found = snapshot(env.service, &account, &region, &parsed)?;
            let opened = open_found(&env, &found, op.with_decryption == Some(true)).await?;
            op.op_mut().opened = opened;
            Ok(())
        })
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Ssm>) -> Done<Self> {
        let Exec { tx, ctx, .. } = x;
        let account = ctx.principal.account.as_str();
        let decrypt = op.with_decryption == Some(true);
        let (mut parameters, mut invalid) = (Vec::new(), Vec::new());
        let mut seen = std::collections::HashSet::new();
        for given in &op.names {
            if !seen.insert(given.clone()) {
                continue;
            }
            let (name, sel) = parse_name(given, account, ctx.region)?;
            let found = find(tx.read(), account, ctx.region, &name)?;
            match found.as_ref().map(|p| (p, p.select(sel.as_ref()))) {
                Some((p, Ok(v))) => {
                    parameters.push(out(ctx.sealer, p, v, sel.as_ref(), decrypt, &op.opened)?)
                }
                _ => invalid.push(given.clone()),
            }
        }
        Ok(Reply::new(GetParametersOutput {
            parameters,
            invalid_parameters: invalid,
        }))
    }
}

/// `ParameterFilters` entries (GetParametersByPath and DescribeParameters): `Type`,
/// `KeyId`, `Name` and `Label` with `Equals` (and `BeginsWith` for `Name`), `tag:<key>`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct StringFilter {
    /// `Key`.
    #[serde(rename = "Key")]
    key: String,
    /// `Option`.
    #[serde(rename = "Option", default, skip_serializing_if = "Option::is_none")]
    option: Option<String>,
    /// `Values`.
    #[serde(rename = "Values", default)]
    values: Vec<String>,
}

impl StringFilter {
    fn check(&self, allow_path: bool) -> Result<(), SsmError> {
        let ok_key = matches!(
            self.key.as_str(),
            "Type" | "KeyId" | "Name" | "Label" | "Tier" | "DataType"
        ) || (allow_path && self.key == "Path")
            || self.key.starts_with("tag:");
        if !ok_key {
            return Err(SsmError::InvalidFilterKey(format!(
                "The following filter key is not valid: {}. Valid filter keys include: [Path, Name, Type, KeyId, Tier, Label, DataType, tag:<key>].",
                self.key
            )));
        }
        let option = self.option.as_deref().unwrap_or("Equals");
        let ok_option = match self.key.as_str() {
            "Name" => matches!(option, "Equals" | "BeginsWith" | "Contains"),
            "Path" => matches!(option, "Recursive" | "OneLevel"),
            k if k.starts_with("tag:") => matches!(option, "Equals" | "BeginsWith"),
            _ => option == "Equals",
        };
        if !ok_option {
            return Err(SsmError::InvalidFilterOption(format!(
                "The following filter option is not valid: {option}."
            )));
        }
        Ok(())
    }

    fn matches(&self, p: &Parameter, v: &ParamVersion) -> bool {
        let option = self.option.as_deref().unwrap_or("Equals");
        let test = |x: &str| {
            self.values.is_empty()
                || self.values.iter().any(|want| match option {
                    "BeginsWith" => x.starts_with(want.as_str()),
                    "Contains" => x.contains(want.as_str()),
                    _ => x == want,
                })
        };
        match self.key.as_str() {
            "Type" => test(&v.kind),
            "KeyId" => v.key_id.as_deref().is_some_and(test),
            "Name" => test(&p.name) || test(p.name.trim_start_matches('/')),
            "Label" => v.labels.iter().any(|l| test(l)),
            "Tier" => test(&v.tier),
            "DataType" => test(&v.data_type),
            "Path" => {
                let recursive = option == "Recursive";
                self.values
                    .iter()
                    .any(|path| under(&p.name, path, recursive))
            }
            k => {
                let tag = k.trim_start_matches("tag:");
                p.tags.iter().any(|(tk, tv)| tk == tag && test(tv))
            }
        }
    }
}

/// True when `name` is below `path` (one level, or any depth when `recursive`).
fn under(name: &str, path: &str, recursive: bool) -> bool {
    let prefix = if path.ends_with('/') {
        path.to_owned()
    } else {
        format!("{path}/")
    };
    match name.strip_prefix(&prefix) {
        Some(rest) => !rest.is_empty() && (recursive || !rest.contains('/')),
        None => false,
    }
}

/// Every parameter of the caller's account and region whose name starts with `prefix`.
fn scan(
    tx: &dyn ReadTx,
    account: &str,
    region: &str,
    prefix: &str,
) -> Result<Vec<Parameter>, SsmError> {
    let mut key = keys::all(account, region);
    key.extend_from_slice(prefix.as_bytes());
    let mut all = Vec::new();
    let mut after: Option<Vec<u8>> = None;
    loop {
        let batch = tables::PARAMETERS.scan(tx, &key, after.as_deref(), Direction::Forward, 512)?;
        let Some((last, _)) = batch.last() else { break };
        after = Some(last.clone());
        all.extend(batch.into_iter().map(|(_, p)| p));
    }
    Ok(all)
}

/// `GetParametersByPath`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all(deserialize = "PascalCase", serialize = "camelCase"))]
pub struct GetParametersByPathInput {
    path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    recursive: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    parameter_filters: Option<Vec<StringFilter>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    with_decryption: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_results: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
    #[serde(skip)]
    opened: Opened,
}

fn max_results(m: Option<i64>, max: i64, default: usize) -> Result<usize, SsmError> {
    match m {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(usize::try_from(n).unwrap_or(default)),
        Some(_) => Err(SsmError::invalid(format!(
            "1 validation error detected: Value at 'maxResults' failed to satisfy constraint: Member must have value between 1 and {max}"
        ))),
    }
}

impl GetParametersByPathInput {
    pub(crate) fn validated(self) -> Result<Self, SsmError> {
        check_len(&self.path)?;
        if !self.path.starts_with('/') {
            return Err(SsmError::invalid(
                "The parameter doesn't meet the parameter name requirements. The parameter name must begin with a forward slash \"/\".",
            ));
        }
        max_results(self.max_results, 10, 10)?;
        parse_token(self.next_token.as_deref())?;
        for f in self.parameter_filters.iter().flatten() {
            f.check(false)?;
        }
        Ok(self)
    }

    /// The parameters below the path that pass the filters, in name order.
    fn listed(
        &self,
        tx: &dyn ReadTx,
        account: &str,
        region: &str,
    ) -> Result<Vec<Parameter>, SsmError> {
        let prefix = if self.path.ends_with('/') {
            self.path.clone()
        } else {
            format!("{}/", self.path)
        };
        let recursive = self.recursive == Some(true);
        let filters = self.parameter_filters.as_deref().unwrap_or_default();
        Ok(scan(tx, account, region, &prefix)?
            .into_iter()
            .filter(|p| under(&p.name, &self.path, recursive))
            .filter(|p| {
                p.latest()
                    .is_some_and(|v| filters.iter().all(|f| f.matches(p, v)))
            })
            .collect())
    }

    fn page(&self, list: Vec<Parameter>) -> Result<(Vec<Parameter>, Option<String>), SsmError> {
        let start = parse_token(self.next_token.as_deref())?.min(list.len());
        let end = (start + max_results(self.max_results, 10, 10)?).min(list.len());
        let next = (end < list.len()).then(|| token(end));
        Ok((
            list.into_iter().skip(start).take(end - start).collect(),
            next,
        ))
    }
}

/// `GetParametersByPath`' answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ByPathOutput {
    parameters: Vec<ParameterOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

impl Operation for GetParametersByPathInput {
    type Output = ByPathOutput;

    fn authorize(&self, s: &Scope<'_, Ssm>) -> Result<Authorization, SsmError> {
        Ok(Authorization::of(Check::new(
            action::<Self>(),
            Resource::Named(arn(s.region, s.account(), &self.path)),
            RequestTags::None,
        )))
    }

    fn prepare<'a>(
        op: &'a mut Authorized<Self>,
        env: Env<'a, Ssm>,
    ) -> BoxFuture<'a, Result<(), SsmError>> {
        Box::pin(async move {
            let account = op.principal().account.to_string();
            let region = env.region().to_owned();
            let (page, _) = env.service.exec.store().read(|tx| {
                let list = op.listed(tx, &account, &region)?;
                op.page(list)
            })?;
            let found: Vec<(Parameter, i64)> = page
                .into_iter()
                .filter_map(|p| p.latest().map(|v| v.version).map(|n| (p, n)))
                .collect();
            let opened = open_found(&env, &found, op.with_decryption == Some(true)).await?;
            op.op_mut().opened = opened;
            Ok(())
        })
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Ssm>) -> Done<Self> {
        let Exec { tx, ctx, .. } = x;
        let account = ctx.principal.account.as_str();
        let list = op.listed(tx.read(), account, ctx.region)?;
        let (page, next_token) = op.page(list)?;
        let decrypt = op.with_decryption == Some(true);
        let parameters = page
            .iter()
            .filter_map(|p| p.latest().map(|v| (p, v)))
            .map(|(p, v)| out(ctx.sealer, p, v, None, decrypt, &op.opened))
            .collect::<Result<_, _>>()?;
        Ok(Reply::new(ByPathOutput {
            parameters,
            next_token,
        }))
    }
}

/// `GetParameterHistory`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all(deserialize = "PascalCase", serialize = "camelCase"))]
pub struct GetParameterHistoryInput {
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    with_decryption: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_results: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
    #[serde(skip)]
    opened: Opened,
}

impl GetParameterHistoryInput {
    pub(crate) fn validated(self) -> Result<Self, SsmError> {
        check_len(&self.name)?;
        max_results(self.max_results, 50, 50)?;
        parse_token(self.next_token.as_deref())?;
        Ok(self)
    }

    fn window(&self, n: usize) -> Result<(usize, usize), SsmError> {
        let start = parse_token(self.next_token.as_deref())?.min(n);
        let end = (start + max_results(self.max_results, 50, 50)?).min(n);
        Ok((start, end))
    }
}

/// One version in GetParameterHistory. `Debug` leaves the value out.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct HistoryEntry {
    name: String,
    r#type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_id: Option<String>,
    last_modified_date: f64,
    last_modified_user: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(serialize_with = "envelope::serialize_text")]
    value: Sensitive,
    #[serde(skip_serializing_if = "Option::is_none")]
    allowed_pattern: Option<String>,
    version: i64,
    labels: Vec<String>,
    tier: String,
    policies: Vec<serde_json::Value>,
    data_type: String,
}

impl std::fmt::Debug for HistoryEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HistoryEntry")
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// `GetParameterHistory`'s answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct HistoryOutput {
    parameters: Vec<HistoryEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

impl Operation for GetParameterHistoryInput {
    type Output = HistoryOutput;

    fn authorize(&self, s: &Scope<'_, Ssm>) -> Result<Authorization, SsmError> {
        let (name, _) = parse_name(&self.name, s.account(), s.region)?;
        Ok(Authorization::of(check_on(
            s,
            action::<Self>(),
            &name,
            RequestTags::None,
        )?))
    }

    fn prepare<'a>(
        op: &'a mut Authorized<Self>,
        env: Env<'a, Ssm>,
    ) -> BoxFuture<'a, Result<(), SsmError>> {
        Box::pin(async move {
            let account = op.principal().account.to_string();
            let region = env.region().to_owned();
            let (name, _) = parse_name(&op.name, &account, &region)?;
            let Some(p) = env
                .service
                .exec
                .store()
                .read(|tx| find(tx, &account, &region, &name))?
            else {
                return Ok(());
            };
            let (start, end) = op.window(p.versions.len())?;
            let decrypt = op.with_decryption == Some(true);
            let wanted: Vec<(&Parameter, &ParamVersion)> = p.versions[start..end]
                .iter()
                .filter(|v| needs_kms(v, decrypt))
                .map(|v| (&p, v))
                .collect();
            let opened = open_keys(&env, &wanted).await?;
            op.op_mut().opened = opened;
            Ok(())
        })
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Ssm>) -> Done<Self> {
        let Exec { tx, ctx, .. } = x;
        let account = ctx.principal.account.as_str();
        let (name, _) = parse_name(&op.name, account, ctx.region)?;
        let p = existing(tx.read(), account, ctx.region, &name)?;
        let (start, end) = op.window(p.versions.len())?;
        let decrypt = op.with_decryption == Some(true);
        let parameters = p.versions[start..end]
            .iter()
            .map(|v| {
                Ok(HistoryEntry {
                    name: p.name.clone(),
                    r#type: v.kind.clone(),
                    key_id: v.key_id.clone(),
                    last_modified_date: secs(v.modified),
                    last_modified_user: v.user.clone(),
                    description: v.description.clone(),
                    value: value_of(ctx.sealer, &p, v, decrypt, &op.opened)?,
                    allowed_pattern: v.allowed_pattern.clone(),
                    version: v.version,
                    labels: v.labels.clone(),
                    tier: v.tier.clone(),
                    policies: Vec::new(),
                    data_type: v.data_type.clone(),
                })
            })
            .collect::<Result<_, SsmError>>()?;
        Ok(Reply::new(HistoryOutput {
            parameters,
            next_token: (end < p.versions.len()).then(|| token(end)),
        })
        .resource(PARAMETER_TYPE, p.arn()))
    }
}

/// `DescribeParameters`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all(deserialize = "PascalCase", serialize = "camelCase"))]
pub struct DescribeParametersInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    filters: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    parameter_filters: Option<Vec<StringFilter>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_results: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    shared: Option<bool>,
}

impl DescribeParametersInput {
    pub(crate) fn validated(self) -> Result<Self, SsmError> {
        max_results(self.max_results, 50, 50)?;
        parse_token(self.next_token.as_deref())?;
        if self.filters.is_some() {
            return Err(SsmError::invalid(
                "Filters (deprecated) is not supported by Ferrogate; use ParameterFilters.",
            ));
        }
        for f in self.parameter_filters.iter().flatten() {
            f.check(true)?;
        }
        Ok(self)
    }
}

/// One parameter in DescribeParameters.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetadataEntry {
    name: String,
    #[serde(rename = "ARN")]
    arn: String,
    r#type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_id: Option<String>,
    last_modified_date: f64,
    last_modified_user: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    allowed_pattern: Option<String>,
    version: i64,
    tier: String,
    policies: Vec<serde_json::Value>,
    data_type: String,
}

/// `DescribeParameters`' answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeOutput {
    parameters: Vec<MetadataEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

impl Operation for DescribeParametersInput {
    type Output = DescribeOutput;

    fn authorize(&self, _: &Scope<'_, Ssm>) -> Result<Authorization, SsmError> {
        Ok(Authorization::of(Check::new(
            action::<Self>(),
            Resource::Any,
            RequestTags::None,
        )))
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Ssm>) -> Done<Self> {
        let Exec { tx, ctx, .. } = x;
        let filters = op.parameter_filters.as_deref().unwrap_or_default();
        let list: Vec<MetadataEntry> =
            scan(tx.read(), ctx.principal.account.as_str(), ctx.region, "")?
                .into_iter()
                .filter_map(|p| {
                    let v = p.latest()?.clone();
                    filters
                        .iter()
                        .all(|f| f.matches(&p, &v))
                        .then(|| MetadataEntry {
                            name: p.name.clone(),
                            arn: p.arn(),
                            r#type: v.kind.clone(),
                            key_id: v.key_id.clone(),
                            last_modified_date: secs(v.modified),
                            last_modified_user: v.user.clone(),
                            description: v.description.clone(),
                            allowed_pattern: v.allowed_pattern.clone(),
                            version: v.version,
                            tier: v.tier.clone(),
                            policies: Vec::new(),
                            data_type: v.data_type.clone(),
                        })
                })
                .collect();
        let start = parse_token(op.next_token.as_deref())?.min(list.len());
        let end = (start + max_results(op.max_results, 50, 50)?).min(list.len());
        let next_token = (end < list.len()).then(|| token(end));
        Ok(Reply::new(DescribeOutput {
            parameters: list.into_iter().skip(start).take(end - start).collect(),
            next_token,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert!(under("/a/b", "/a", false));
        assert!(under("/a/b", "/a/", false));
        assert!(!under("/a/b/c", "/a", false));
        assert!(under("/a/b/c", "/a", true));
        assert!(!under("/ab", "/a", true));
        assert!(!under("/a", "/a", true));
        assert!(under("/x", "/", false) && !under("/x/y", "/", false) && under("/x/y", "/", true));
    }
}
