//! Log groups: CreateLogGroup, DeleteLogGroup, DescribeLogGroups, PutRetentionPolicy,
//! DeleteRetentionPolicy, AssociateKmsKey, DisassociateKmsKey.
//!
//! A group with a KMS key gets its data key from KMS: `GenerateDataKeyWithoutPlaintext`
//! then `Decrypt`, both with the encryption context `{"aws:logs:arn": <group ARN>}`, made
//! as the service principal `logs.<region>.amazonaws.com` in the prepare step. The key
//! policy must allow that principal (as AWS documents); any refusal is AWS's
//! `AccessDeniedException` naming the group, and nothing is created.

use std::collections::BTreeMap;

use ferrogate_api::{
    Authorization, Authorized, BoxFuture, Check, Done, Empty, Env, Exec, Operation, Reply,
    RequestTags, Resource, Scope,
};
use ferrogate_kms::ops::{DataKeyInput, DecryptInput};
use ferrogate_store::{Direction, TxRef};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::tags::check_tags;
use super::{
    action, existing_group, group, name_token, on, parse_name_token, recorded_as_serialized, Logs,
    GROUP_TYPE,
};
use crate::keyring::{self, DATA_KEY_LEN};
use crate::model::{
    check_group_name, check_limit, check_retention, group_arn, keys, stream_arn, tables, GroupKey,
    LogGroup, Wrapped,
};
use crate::LogsError;

/// A data key KMS made for a group, ready to store (prepare step → execute step).
pub(crate) struct KmsKey {
    key_arn: String,
    blob: String,
    plain: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for KmsKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KmsKey")
            .field("key_arn", &self.key_arn)
            .finish_non_exhaustive()
    }
}

/// `kmsKeyId`: CloudWatch Logs takes a key ARN ("The Amazon Resource Name (ARN) of the KMS
/// key to use when encrypting log data", API Reference, CreateLogGroup).
fn check_key_arn(k: &str) -> Result<(), LogsError> {
    let ok = k.len() <= 256
        && k.strip_prefix("arn:aws:kms:").is_some_and(|rest| {
            let parts: Vec<&str> = rest.splitn(3, ':').collect();
            matches!(parts.as_slice(), [region, account, res]
                if !region.is_empty()
                    && account.len() == 12
                    && account.bytes().all(|b| b.is_ascii_digit())
                    && res.strip_prefix("key/").is_some_and(ferrogate_kms::resolve::is_key_id))
        });
    if ok {
        Ok(())
    } else {
        Err(LogsError::invalid(format!(
            "Specified KMS key '{k}' is not a valid KMS key ARN."
        )))
    }
}

/// Has KMS make a data key under `key_arn` for the group `arn`, as CloudWatch Logs.
async fn kms_data_key(
    logs: &Logs,
    account: &str,
    region: &str,
    arn: &str,
    key_arn: &str,
) -> Result<KmsKey, LogsError> {
    let client = logs.as_logs(account, region)?;
    let refused = |e: ferrogate_kms::KmsError| {
        tracing::debug!(group = arn, error = %e, "KMS refused the log group's key");
        LogsError::key_refused(arn)
    };
    let len = i64::try_from(DATA_KEY_LEN).unwrap_or(32);
    let gen = DataKeyInput::<false>::new(key_arn, len, keyring::context(arn)).map_err(refused)?;
    let made = client.call(&logs.kms, gen).await.map_err(refused)?;
    let blob = made.ciphertext().base64();
    let decrypt = DecryptInput::new(&blob, key_arn, keyring::context(arn)).map_err(refused)?;
    let plain = client.call(&logs.kms, decrypt).await.map_err(refused)?;
    Ok(KmsKey {
        key_arn: key_arn.to_owned(),
        blob,
        plain: Zeroizing::new(plain.plaintext().to_vec()),
    })
}

/// A new data key numbered `id` for the group `g`: the one KMS made, or a service-owned
/// one sealed under the root key. Cached unwrapped.
fn new_key(
    logs: &Logs,
    g: &LogGroup,
    id: u32,
    kms: Option<&KmsKey>,
    sealer: &dyn ferrogate_store::seal::Sealer,
) -> Result<GroupKey, LogsError> {
    let wrapped = match kms {
        Some(k) => {
            logs.keys.insert(&g.id, id, &k.plain, true)?;
            Wrapped::Kms {
                key_arn: k.key_arn.clone(),
                blob: k.blob.clone(),
            }
        }
        None => {
            let dk = keyring::random_key()?;
            let sealed = keyring::seal_service(sealer, &g.arn(), &g.id, id, &dk)?;
            logs.keys.insert(&g.id, id, &dk, false)?;
            Wrapped::Service(sealed)
        }
    };
    Ok(GroupKey { id, wrapped })
}

fn random_id() -> Result<String, LogsError> {
    let mut b = [0u8; 16];
    aws_lc_rs::rand::fill(&mut b).map_err(|_| LogsError::Crypto("the CSPRNG failed"))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

fn save(tx: &mut TxRef<'_>, g: &LogGroup) -> Result<(), LogsError> {
    tables::GROUPS.put(tx.write()?, &keys::group(&g.account, &g.region, &g.name), g)?;
    Ok(())
}

/// `CreateLogGroup`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateLogGroupInput {
    log_group_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kms_key_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tags: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    log_group_class: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    deletion_protection_enabled: Option<bool>,
    #[serde(skip)]
    key: Option<KmsKey>,
}

impl CreateLogGroupInput {
    /// A group named `name` under the service-owned key, or under `kms_key_arn`.
    ///
    /// # Errors
    /// `InvalidParameterException` for a name or key ARN AWS would refuse.
    pub fn new(name: &str, kms_key_arn: Option<&str>) -> Result<Self, LogsError> {
        Self {
            log_group_name: name.to_owned(),
            kms_key_id: kms_key_arn.map(str::to_owned),
            tags: None,
            log_group_class: None,
            deletion_protection_enabled: None,
            key: None,
        }
        .validated()
    }

    pub(crate) fn validated(self) -> Result<Self, LogsError> {
        check_group_name("logGroupName", &self.log_group_name)?;
        if let Some(k) = &self.kms_key_id {
            check_key_arn(k)?;
        }
        if let Some(t) = &self.tags {
            check_tags(t)?;
        }
        if let Some(c) = &self.log_group_class {
            if !matches!(c.as_str(), "STANDARD" | "INFREQUENT_ACCESS") {
                // DELIVERY groups are made by AWS services for log delivery only.
                return Err(LogsError::constraint(
                    c,
                    "logGroupClass",
                    "Member must satisfy enum value set: [STANDARD, INFREQUENT_ACCESS]",
                ));
            }
        }
        if self.deletion_protection_enabled == Some(true) {
            // Refused rather than stored and not enforced.
            return Err(LogsError::invalid(
                "deletionProtectionEnabled is not supported by Ferrogate.",
            ));
        }
        Ok(self)
    }
}

recorded_as_serialized!(
    CreateLogGroupInput,
    DeleteLogGroupInput,
    DescribeLogGroupsInput,
    PutRetentionPolicyInput,
    DeleteRetentionPolicyInput,
    AssociateKmsKeyInput,
    DisassociateKmsKeyInput,
);

impl Operation for CreateLogGroupInput {
    type Output = Empty;

    fn authorize(&self, s: &Scope<'_, Logs>) -> Result<Authorization, LogsError> {
        let name = &self.log_group_name;
        let tags: Vec<(String, String)> =
            self.tags.clone().unwrap_or_default().into_iter().collect();
        let create = Check::new(
            action::<Self>(),
            Resource::New(stream_arn(s.region, s.account(), name, "")),
            RequestTags::Set(tags.clone()),
        );
        if tags.is_empty() {
            return Ok(Authorization::of(create));
        }
        let tag = Check::new(
            "logs:TagResource",
            Resource::New(group_arn(s.region, s.account(), name)),
            RequestTags::Set(tags),
        );
        Ok(Authorization::all(create, [tag]))
    }

    fn prepare<'a>(
        op: &'a mut Authorized<Self>,
        env: Env<'a, Logs>,
    ) -> BoxFuture<'a, Result<(), LogsError>> {
        Box::pin(async move {
            let Some(key_arn) = op.kms_key_id.clone() else {
                return Ok(());
            };
            let p = op.principal().clone();
            let (account, region) = (p.account.as_str(), env.region().to_owned());
            let name = op.log_group_name.clone();
            let exists = env.service.find_group(account, &region, &name)?.is_some();
            if !exists {
                let arn = group_arn(&region, account, &name);
                let k = kms_data_key(env.service, account, &region, &arn, &key_arn).await?;
                op.op_mut().key = Some(k);
            }
            Ok(())
        })
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Logs>) -> Done<Self> {
        let Exec {
            mut tx,
            ctx,
            service,
        } = x;
        let account = ctx.principal.account.as_str();
        if group(tx.read(), account, ctx.region, &op.log_group_name)?.is_some() {
            return Err(LogsError::ResourceAlreadyExistsException(
                "The specified log group already exists".into(),
            ));
        }
        if op.kms_key_id.is_some() && op.key.is_none() {
            return Err(LogsError::OperationAbortedException(
                "Multiple concurrent requests to update the same resource were in conflict.".into(),
            ));
        }
        let mut g = LogGroup {
            account: account.to_owned(),
            region: ctx.region.to_owned(),
            name: op.log_group_name.clone(),
            id: random_id()?,
            creation_time: ctx.now.millis(),
            retention_in_days: None,
            kms_key_arn: op.kms_key_id.clone(),
            keys: Vec::new(),
            tags: op.tags.clone().unwrap_or_default(),
            stored_bytes: 0,
            next_seq: 1,
            log_group_class: op
                .log_group_class
                .clone()
                .unwrap_or_else(|| "STANDARD".into()),
        };
        let k = new_key(service, &g, 0, op.key.as_ref(), ctx.sealer)?;
        g.keys.push(k);
        save(&mut tx, &g)?;
        Ok(Reply::new(Empty {}).resource(GROUP_TYPE, g.arn()))
    }
}

/// `DeleteLogGroup`: the group, its streams, and every chunk of its events (whose data
/// keys go with the group record: nothing left could be decrypted).
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteLogGroupInput {
    log_group_name: String,
}

impl DeleteLogGroupInput {
    pub(crate) fn validated(self) -> Result<Self, LogsError> {
        check_group_name("logGroupName", &self.log_group_name)?;
        Ok(self)
    }
}

impl Operation for DeleteLogGroupInput {
    type Output = Empty;

    fn authorize(&self, s: &Scope<'_, Logs>) -> Result<Authorization, LogsError> {
        on::<Self>(s, &self.log_group_name, "")
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Logs>) -> Done<Self> {
        let Exec {
            mut tx,
            ctx,
            service,
        } = x;
        let account = ctx.principal.account.as_str();
        let g = existing_group(tx.read(), account, ctx.region, &op.log_group_name)?;
        let w = tx.write()?;
        crate::retention::delete_chunks(w, &g.id, None)?;
        let prefix = keys::in_group(&g.id);
        loop {
            let batch = tables::STREAMS.scan(&*w, &prefix, None, Direction::Forward, 512)?;
            if batch.is_empty() {
                break;
            }
            for (k, _) in batch {
                tables::STREAMS.delete(w, &k)?;
            }
        }
        tables::GROUPS.delete(w, &keys::group(account, ctx.region, &g.name))?;
        service.keys.forget_group(&g.id);
        Ok(Reply::new(Empty {}).resource(GROUP_TYPE, g.arn()))
    }
}

/// One log group as DescribeLogGroups shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogGroupView {
    log_group_name: String,
    creation_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    retention_in_days: Option<i32>,
    metric_filter_count: i32,
    arn: String,
    stored_bytes: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    kms_key_id: Option<String>,
    log_group_class: String,
    log_group_arn: String,
    deletion_protection_enabled: bool,
}

impl LogGroupView {
    fn of(g: &LogGroup) -> Self {
        let arn = g.arn();
        Self {
            log_group_name: g.name.clone(),
            creation_time: g.creation_time,
            retention_in_days: g.retention_in_days,
            metric_filter_count: 0,
            arn: format!("{arn}:*"),
            stored_bytes: g.stored_bytes,
            kms_key_id: g.kms_key_arn.clone(),
            log_group_class: g.log_group_class.clone(),
            log_group_arn: arn,
            deletion_protection_enabled: false,
        }
    }
}

/// `DescribeLogGroups`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeLogGroupsInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    log_group_name_prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    log_group_name_pattern: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    limit: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    log_group_class: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    log_group_identifiers: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    include_linked_accounts: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    account_identifiers: Option<Vec<String>>,
}

/// DescribeLogGroups' answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeLogGroupsOutput {
    log_groups: Vec<LogGroupView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

impl DescribeLogGroupsInput {
    pub(crate) fn validated(self) -> Result<Self, LogsError> {
        if let Some(p) = &self.log_group_name_prefix {
            check_group_name("logGroupNamePrefix", p)?;
        }
        if self.log_group_name_prefix.is_some() && self.log_group_name_pattern.is_some() {
            return Err(LogsError::invalid(
                "LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.",
            ));
        }
        if let Some(p) = &self.log_group_name_pattern {
            if p.len() > 512
                || !p
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || b"._-/#".contains(&c))
            {
                return Err(LogsError::constraint(
                    p,
                    "logGroupNamePattern",
                    "Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]*",
                ));
            }
        }
        check_limit("limit", self.limit, 1, 50)?;
        if self.include_linked_accounts == Some(true)
            || self
                .account_identifiers
                .as_ref()
                .is_some_and(|a| !a.is_empty())
        {
            return Err(LogsError::invalid(
                "Cross-account observability is not supported by Ferrogate.",
            ));
        }
        if let Some(t) = &self.next_token {
            parse_name_token(t)?;
        }
        Ok(self)
    }

    fn wanted(&self, g: &LogGroup) -> bool {
        let prefix = self
            .log_group_name_prefix
            .as_deref()
            .is_none_or(|p| g.name.starts_with(p));
        // "logGroupNamePattern … case-insensitive substring search" (API Reference).
        let pattern = self.log_group_name_pattern.as_deref().is_none_or(|p| {
            g.name
                .to_ascii_lowercase()
                .contains(&p.to_ascii_lowercase())
        });
        let class = self
            .log_group_class
            .as_deref()
            .is_none_or(|c| g.log_group_class == c);
        let ids = self.log_group_identifiers.as_ref().is_none_or(|ids| {
            let arn = g.arn();
            ids.iter()
                .any(|i| *i == g.name || *i == arn || *i == format!("{arn}:*"))
        });
        prefix && pattern && class && ids
    }
}

impl Operation for DescribeLogGroupsInput {
    type Output = DescribeLogGroupsOutput;

    fn authorize(&self, s: &Scope<'_, Logs>) -> Result<Authorization, LogsError> {
        Ok(Authorization::of(Check::new(
            action::<Self>(),
            Resource::Named(stream_arn(s.region, s.account(), "", "")),
            RequestTags::None,
        )))
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Logs>) -> Done<Self> {
        let Exec { tx, ctx, .. } = x;
        let account = ctx.principal.account.as_str();
        let limit = check_limit("limit", op.limit, 1, 50)?.unwrap_or(50);
        let prefix = keys::groups(account, ctx.region);
        let mut after = match &op.next_token {
            Some(t) => Some(keys::group(account, ctx.region, &parse_name_token(t)?)),
            None => None,
        };
        let mut out = Vec::new();
        let mut more = false;
        'scan: loop {
            let batch = tables::GROUPS.scan(
                tx.read(),
                &prefix,
                after.as_deref(),
                Direction::Forward,
                256,
            )?;
            let Some((last, _)) = batch.last() else { break };
            after = Some(last.clone());
            for (_, g) in batch {
                if !op.wanted(&g) {
                    continue;
                }
                if out.len() == limit {
                    more = true;
                    break 'scan;
                }
                out.push(g);
            }
        }
        let next_token = more
            .then(|| out.last().map(|g| name_token(&g.name)))
            .flatten();
        Ok(Reply::new(DescribeLogGroupsOutput {
            log_groups: out.iter().map(LogGroupView::of).collect(),
            next_token,
        }))
    }
}

/// Loads the group a group-level write names, applies `f` and stores it.
fn update(
    x: Exec<'_, Logs>,
    name: &str,
    f: impl FnOnce(&mut LogGroup, &Logs, &dyn ferrogate_store::seal::Sealer) -> Result<(), LogsError>,
) -> Done<EmptyOp> {
    let Exec {
        mut tx,
        ctx,
        service,
    } = x;
    let mut g = existing_group(tx.read(), ctx.principal.account.as_str(), ctx.region, name)?;
    f(&mut g, service, ctx.sealer)?;
    save(&mut tx, &g)?;
    Ok(Reply::new(Empty {}).resource(GROUP_TYPE, g.arn()))
}

/// Any operation answering `{}` (for [`update`]'s signature).
type EmptyOp = PutRetentionPolicyInput;

/// `PutRetentionPolicy`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PutRetentionPolicyInput {
    log_group_name: String,
    retention_in_days: i32,
}

impl PutRetentionPolicyInput {
    pub(crate) fn validated(self) -> Result<Self, LogsError> {
        check_group_name("logGroupName", &self.log_group_name)?;
        check_retention(self.retention_in_days)?;
        Ok(self)
    }
}

impl Operation for PutRetentionPolicyInput {
    type Output = Empty;

    fn authorize(&self, s: &Scope<'_, Logs>) -> Result<Authorization, LogsError> {
        on::<Self>(s, &self.log_group_name, "")
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Logs>) -> Done<Self> {
        let days = op.retention_in_days;
        update(x, &op.log_group_name, |g, _, _| {
            g.retention_in_days = Some(days);
            Ok(())
        })
    }
}

/// `DeleteRetentionPolicy`: events are kept forever again.
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteRetentionPolicyInput {
    log_group_name: String,
}

impl DeleteRetentionPolicyInput {
    pub(crate) fn validated(self) -> Result<Self, LogsError> {
        check_group_name("logGroupName", &self.log_group_name)?;
        Ok(self)
    }
}

impl Operation for DeleteRetentionPolicyInput {
    type Output = Empty;

    fn authorize(&self, s: &Scope<'_, Logs>) -> Result<Authorization, LogsError> {
        on::<Self>(s, &self.log_group_name, "")
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Logs>) -> Done<Self> {
        update(x, &op.log_group_name, |g, _, _| {
            g.retention_in_days = None;
            Ok(())
        })
    }
}

/// `resourceIdentifier` (a query-result resource) is CloudWatch Logs Insights', which
/// Ferrogate does not have: refused, never ignored.
fn log_group_only(name: Option<&String>, resource: Option<&String>) -> Result<String, LogsError> {
    if resource.is_some() {
        return Err(LogsError::invalid(
            "resourceIdentifier (CloudWatch Logs Insights query results) is not supported by Ferrogate; specify logGroupName.",
        ));
    }
    let name = name.ok_or_else(|| {
        LogsError::invalid("Either logGroupName or resourceIdentifier must be specified.")
    })?;
    check_group_name("logGroupName", name)?;
    Ok(name.clone())
}

/// `AssociateKmsKey`: new events are encrypted under a new data key from this KMS key;
/// events already stored keep theirs.
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AssociateKmsKeyInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    log_group_name: Option<String>,
    kms_key_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    resource_identifier: Option<String>,
    #[serde(skip)]
    key: Option<KmsKey>,
}

impl AssociateKmsKeyInput {
    pub(crate) fn validated(self) -> Result<Self, LogsError> {
        log_group_only(
            self.log_group_name.as_ref(),
            self.resource_identifier.as_ref(),
        )?;
        check_key_arn(&self.kms_key_id)?;
        Ok(self)
    }

    fn name(&self) -> &str {
        self.log_group_name.as_deref().unwrap_or_default()
    }
}

impl Operation for AssociateKmsKeyInput {
    type Output = Empty;

    fn authorize(&self, s: &Scope<'_, Logs>) -> Result<Authorization, LogsError> {
        on::<Self>(s, self.name(), "")
    }

    fn prepare<'a>(
        op: &'a mut Authorized<Self>,
        env: Env<'a, Logs>,
    ) -> BoxFuture<'a, Result<(), LogsError>> {
        Box::pin(async move {
            let p = op.principal().clone();
            let (account, region) = (p.account.as_str(), env.region().to_owned());
            let name = op.name().to_owned();
            let found = env.service.find_group(account, &region, &name)?;
            if let Some(g) = found {
                let (arn, key_arn) = (g.arn(), op.kms_key_id.clone());
                let k = kms_data_key(env.service, account, &region, &arn, &key_arn).await?;
                op.op_mut().key = Some(k);
            }
            Ok(())
        })
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Logs>) -> Done<Self> {
        let key_arn = op.kms_key_id.clone();
        update(x, op.name(), |g, logs, sealer| {
            let k = op.key.as_ref().ok_or_else(|| {
                LogsError::OperationAbortedException(
                    "Multiple concurrent requests to update the same resource were in conflict."
                        .into(),
                )
            })?;
            let id = g.keys.last().map_or(0, |k| k.id + 1);
            let new = new_key(logs, g, id, Some(k), sealer)?;
            g.keys.push(new);
            g.kms_key_arn = Some(key_arn);
            Ok(())
        })
    }
}

/// `DisassociateKmsKey`: new events are encrypted under a new service-owned data key;
/// events stored under the KMS key still need it to be read (API Reference).
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DisassociateKmsKeyInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    log_group_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    resource_identifier: Option<String>,
}

impl DisassociateKmsKeyInput {
    pub(crate) fn validated(self) -> Result<Self, LogsError> {
        log_group_only(
            self.log_group_name.as_ref(),
            self.resource_identifier.as_ref(),
        )?;
        Ok(self)
    }

    fn name(&self) -> &str {
        self.log_group_name.as_deref().unwrap_or_default()
    }
}

impl Operation for DisassociateKmsKeyInput {
    type Output = Empty;

    fn authorize(&self, s: &Scope<'_, Logs>) -> Result<Authorization, LogsError> {
        on::<Self>(s, self.name(), "")
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Logs>) -> Done<Self> {
        update(x, op.name(), |g, logs, sealer| {
            if g.kms_key_arn.is_none() {
                return Ok(());
            }
            let id = g.keys.last().map_or(0, |k| k.id + 1);
            let new = new_key(logs, g, id, None, sealer)?;
            g.keys.push(new);
            g.kms_key_arn = None;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_arns() {
        check_key_arn(
            "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        )
        .unwrap();
        for bad in [
            "1234abcd-12ab-34cd-56ef-1234567890ab",
            "alias/x",
            "arn:aws:kms:us-east-1:111122223333:alias/x",
            "arn:aws:kms:us-east-1:1111:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws:kms::111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        ] {
            assert!(check_key_arn(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn create_validation() {
        assert!(CreateLogGroupInput::new("ok/name", None).is_ok());
        assert!(CreateLogGroupInput::new("bad name", None).is_err());
        assert!(CreateLogGroupInput::new("g", Some("alias/x")).is_err());
    }
}
