//! Clusters: CreateCluster, UpdateCluster, UpdateClusterSettings, DescribeClusters,
//! ListClusters, DeleteCluster.
//!
//! A cluster's Fargate key is checked as ECS checks it: after `ecs:CreateCluster` or
//! `ecs:UpdateCluster` is authorized, ECS calls `kms:DescribeKey` on the caller's behalf (a
//! forward access session: the caller's permissions, recorded with `invokedBy:
//! ecs.amazonaws.com`), and refuses a key that is not a symmetric, enabled, single-Region
//! key. The key is stored as the ARN DescribeKey returned.

use ferrogate_api::{
    Authorization, Authorized, BoxFuture, Done, Env, Exec, Operation, Reply, Resource, Scope,
};
use ferrogate_store::{Direction, ReadTx, TxRef};
use serde::Deserialize;
use serde_json::Value;

use super::common::{active, creating, existing, load, max_results, on, on_each, token, Ecs};
use crate::cluster::{self as c, ConfigurationIn, SettingIn, TagIn, FARGATE_KEY_CONDITION};
use crate::model::{
    cluster_arn, keys, tables, Cluster, ClusterConfiguration, ClusterStatus, ManagedStorage,
};
use crate::task;
use crate::views::{
    ClusterAnswer, ClusterView, ClustersAnswer, Failure, Include, Listing, ListingItems,
};
use crate::EcsError;

const RESOURCE: &str = "AWS::ECS::Cluster";

/// The answer of a write operation: the cluster with everything but statistics.
fn written(tx: &TxRef<'_>, cl: &Cluster) -> Result<Reply<ClusterAnswer>, EcsError> {
    let counts = counts(tx.read(), cl)?;
    let out = ClusterAnswer {
        cluster: ClusterView::of(cl, Include::ALL, counts),
    };
    let elements = serde_json::to_value(&out).unwrap_or(Value::Null);
    Ok(Reply::new(out)
        .elements(elements)
        .resource(RESOURCE, cl.arn()))
}

fn save(tx: &mut TxRef<'_>, cl: &Cluster) -> Result<(), EcsError> {
    tables::CLUSTERS.put(
        tx.write()?,
        &keys::named(&cl.account, &cl.region, &cl.name),
        cl,
    )?;
    Ok(())
}

/// ECS's check of a cluster's Fargate key: `kms:DescribeKey` on the caller's behalf; the
/// key ARN when the key is usable.
async fn check_key(env: &Env<'_, Ecs>, key: &str) -> Result<String, EcsError> {
    let describe =
        ferrogate_kms::ops::DescribeKeyInput::new(key).map_err(|e| c::key_error(key, e))?;
    let described = env
        .on_behalf()
        .call(&env.service.kms, describe)
        .await
        .map_err(|e| c::key_error(key, e))?;
    c::check_key_facts(&described.key_metadata)?;
    Ok(described.key_metadata.arn)
}

/// The prepare step of CreateCluster and UpdateCluster: the key, checked.
fn prepare_key<'a>(
    key: Option<String>,
    env: Env<'a, Ecs>,
    into: &'a mut Option<String>,
) -> BoxFuture<'a, Result<(), EcsError>> {
    Box::pin(async move {
        if let Some(k) = key {
            *into = Some(check_key(&env, &k).await?);
        }
        Ok(())
    })
}

/// Applies a checked `configuration` to `into`. `executeCommandConfiguration` replaces the
/// stored one. `managedStorageConfiguration` merges by field: a key given replaces that key
/// and a key not mentioned stays, so an update of the EBS key never drops the Fargate key;
/// an empty `managedStorageConfiguration` (`{}`) removes both keys. The Fargate key is
/// the one DescribeKey returned, stored as its ARN.
fn apply_configuration(
    conf: &ConfigurationIn,
    checked_key: Option<&String>,
    into: &mut ClusterConfiguration,
) -> Result<(), EcsError> {
    if conf.execute_command_configuration.is_some() {
        into.execute_command = conf.execute_command_value();
    }
    if let Some(m) = &conf.managed_storage_configuration {
        let fargate = match m.fargate_ephemeral_storage_kms_key_id.as_deref() {
            None => None,
            // Checked by the prepare step (a request that sets a key never runs without it).
            Some(k) => Some(checked_key.cloned().ok_or_else(|| {
                EcsError::invalid(format!("The KMS key '{k}' could not be checked."))
            })?),
        };
        let empty = m.fargate_ephemeral_storage_kms_key_id.is_none() && m.kms_key_id.is_none();
        let old = into.managed_storage.take().unwrap_or_default();
        let merged = if empty {
            ManagedStorage::default()
        } else {
            ManagedStorage {
                fargate_key_arn: fargate.or(old.fargate_key_arn),
                ebs_kms_key_id: m.kms_key_id.clone().or(old.ebs_kms_key_id),
            }
        };
        into.managed_storage = (merged != ManagedStorage::default()).then_some(merged);
    }
    Ok(())
}

/// `ecs:fargate-ephemeral-storage-kms-key` when the request sets the key.
fn key_condition(conf: Option<&ConfigurationIn>) -> Vec<(String, Vec<String>)> {
    conf.and_then(ConfigurationIn::fargate_key)
        .map(|k| (FARGATE_KEY_CONDITION.to_owned(), vec![k.to_owned()]))
        .into_iter()
        .collect()
}

/// `capacityProviders` and `defaultCapacityProviderStrategy`: Ferrogate's only capacity
/// providers are `FARGATE` and `FARGATE_SPOT` (which runs like `FARGATE`).
fn check_capacity(providers: &[String], strategy: &[StrategyItem]) -> Result<(), EcsError> {
    for p in providers {
        if !matches!(p.as_str(), "FARGATE" | "FARGATE_SPOT") {
            return Err(EcsError::invalid(format!(
                "The specified capacity provider '{p}' does not exist. Ferrogate's capacity providers are FARGATE and FARGATE_SPOT."
            )));
        }
    }
    for s in strategy {
        if !providers.contains(&s.capacity_provider) {
            return Err(EcsError::invalid(format!(
                "The specified capacity provider strategy cannot contain a capacity provider that is not associated with the cluster: {}.",
                s.capacity_provider
            )));
        }
        if s.weight.is_some_and(|w| !(0..=1000).contains(&w)) {
            return Err(EcsError::invalid(
                "The weight of a capacity provider must be between 0 and 1000.",
            ));
        }
        if s.base.is_some_and(|b| !(0..=100_000).contains(&b)) {
            return Err(EcsError::invalid(
                "The base of a capacity provider must be between 0 and 100000.",
            ));
        }
    }
    Ok(())
}

/// `defaultCapacityProviderStrategy[]`.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StrategyItem {
    capacity_provider: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    weight: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    base: Option<i64>,
}

fn refuse_service_connect(v: Option<&Value>) -> Result<(), EcsError> {
    match v {
        None | Some(Value::Null) => Ok(()),
        Some(_) => Err(EcsError::NamespaceNotFoundException(
            "Namespace not found. Ferrogate has no AWS Cloud Map namespaces, so serviceConnectDefaults cannot be set.".into(),
        )),
    }
}

/// `CreateCluster`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateClusterInput {
    #[serde(default)]
    cluster_name: Option<String>,
    #[serde(default)]
    tags: Vec<TagIn>,
    #[serde(default)]
    settings: Vec<SettingIn>,
    #[serde(default)]
    configuration: Option<ConfigurationIn>,
    #[serde(default)]
    capacity_providers: Vec<String>,
    #[serde(default)]
    default_capacity_provider_strategy: Vec<StrategyItem>,
    #[serde(default)]
    service_connect_defaults: Option<Value>,
    /// The key ARN DescribeKey returned (set by the prepare step).
    #[serde(skip)]
    checked_key: Option<String>,
}

impl CreateClusterInput {
    /// The Fargate key the request sets, if any.
    pub(crate) fn key(&self) -> Option<&str> {
        self.configuration
            .as_ref()
            .and_then(ConfigurationIn::fargate_key)
    }

    pub(crate) fn validated(self) -> Result<Self, EcsError> {
        c::check_name(self.name())?;
        c::check_tags(&self.tags)?;
        c::check_settings(&self.settings)?;
        if let Some(conf) = &self.configuration {
            conf.check()?;
        }
        check_capacity(
            &self.capacity_providers,
            &self.default_capacity_provider_strategy,
        )?;
        refuse_service_connect(self.service_connect_defaults.as_ref())?;
        Ok(self)
    }

    fn name(&self) -> &str {
        self.cluster_name.as_deref().unwrap_or("default")
    }
}

impl Operation for CreateClusterInput {
    type Output = ClusterAnswer;

    fn authorize(&self, s: &Scope<'_, Ecs>) -> Result<Authorization, EcsError> {
        let arn = cluster_arn(s.region, s.account(), self.name());
        let mut keys = key_condition(self.configuration.as_ref());
        if !self.capacity_providers.is_empty() {
            keys.push((
                "ecs:capacity-provider".into(),
                self.capacity_providers.clone(),
            ));
        }
        Ok(creating::<Self>(Resource::New(arn), &self.tags, keys))
    }

    fn prepare<'a>(
        op: &'a mut Authorized<Self>,
        env: Env<'a, Ecs>,
    ) -> BoxFuture<'a, Result<(), EcsError>> {
        let key = op.op().key().map(str::to_owned);
        prepare_key(key, env, &mut op.op_mut().checked_key)
    }

    fn execute(this: &Authorized<Self>, x: Exec<'_, Ecs>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let account = ctx.principal.account.as_str();
        let mut configuration = ClusterConfiguration::default();
        if let Some(conf) = &this.configuration {
            apply_configuration(conf, this.checked_key.as_ref(), &mut configuration)?;
        }
        let cl = Cluster {
            account: account.to_owned(),
            region: ctx.region.to_owned(),
            name: this.name().to_owned(),
            status: ClusterStatus::Active,
            configuration,
            settings: c::check_settings(&this.settings)?,
            capacity_providers: this.capacity_providers.clone(),
            default_strategy: this
                .default_capacity_provider_strategy
                .iter()
                .filter_map(|s| serde_json::to_value(s).ok())
                .collect(),
            tags: c::check_tags(&this.tags)?,
            created: ctx.now,
        };
        if let Some(existing) = load(tx.read(), account, ctx.region, &cl.name)? {
            if existing.status == ClusterStatus::Active {
                // Creating a cluster that exists is idempotent when the request asks for
                // what the cluster already is; a request for something else (another key,
                // other settings) is refused rather than silently ignored.
                let same = existing.configuration == cl.configuration
                    && existing.settings == cl.settings
                    && existing.tags == cl.tags
                    && existing.capacity_providers == cl.capacity_providers
                    && existing.default_strategy == cl.default_strategy;
                if !same {
                    return Err(EcsError::invalid(format!(
                        "Cluster {} already exists with a different configuration, settings, tags or capacity providers. Use UpdateCluster to change it.",
                        cl.name
                    )));
                }
                return written(&tx, &existing);
            }
        }
        save(&mut tx, &cl)?;
        written(&tx, &cl)
    }
}

/// `UpdateCluster`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateClusterInput {
    cluster: String,
    #[serde(default)]
    settings: Option<Vec<SettingIn>>,
    #[serde(default)]
    configuration: Option<ConfigurationIn>,
    #[serde(default)]
    service_connect_defaults: Option<Value>,
    /// The key ARN DescribeKey returned (set by the prepare step).
    #[serde(skip)]
    checked_key: Option<String>,
}

impl UpdateClusterInput {
    /// The Fargate key the request sets, if any.
    pub(crate) fn key(&self) -> Option<&str> {
        self.configuration
            .as_ref()
            .and_then(ConfigurationIn::fargate_key)
    }

    pub(crate) fn validated(self) -> Result<Self, EcsError> {
        if let Some(s) = &self.settings {
            c::check_settings(s)?;
        }
        if let Some(conf) = &self.configuration {
            conf.check()?;
        }
        refuse_service_connect(self.service_connect_defaults.as_ref())?;
        Ok(self)
    }
}

/// The ACTIVE cluster a request names, as a resource.
fn cluster_resource(s: &Scope<'_, Ecs>, reference: &str) -> Result<Resource, EcsError> {
    let cl = active(s.tx, s.account(), s.region, reference)?;
    Ok(existing(cl.arn(), &cl.tags))
}

fn merge_settings(cl: &mut Cluster, settings: &[SettingIn]) -> Result<(), EcsError> {
    for (n, v) in c::check_settings(settings)? {
        cl.settings.retain(|(m, _)| *m != n);
        cl.settings.push((n, v));
    }
    Ok(())
}

impl Operation for UpdateClusterInput {
    type Output = ClusterAnswer;

    fn authorize(&self, s: &Scope<'_, Ecs>) -> Result<Authorization, EcsError> {
        Ok(on::<Self>(
            cluster_resource(s, &self.cluster)?,
            key_condition(self.configuration.as_ref()),
        ))
    }

    fn prepare<'a>(
        op: &'a mut Authorized<Self>,
        env: Env<'a, Ecs>,
    ) -> BoxFuture<'a, Result<(), EcsError>> {
        let key = op.op().key().map(str::to_owned);
        prepare_key(key, env, &mut op.op_mut().checked_key)
    }

    fn execute(this: &Authorized<Self>, x: Exec<'_, Ecs>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let mut cl = active(
            tx.read(),
            ctx.principal.account.as_str(),
            ctx.region,
            &this.cluster,
        )?;
        if let Some(s) = &this.settings {
            merge_settings(&mut cl, s)?;
        }
        if let Some(conf) = &this.configuration {
            let mut configuration = cl.configuration.clone();
            apply_configuration(conf, this.checked_key.as_ref(), &mut configuration)?;
            cl.configuration = configuration;
        }
        save(&mut tx, &cl)?;
        written(&tx, &cl)
    }
}

/// `UpdateClusterSettings`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateClusterSettingsInput {
    cluster: String,
    settings: Vec<SettingIn>,
}

impl UpdateClusterSettingsInput {
    pub(crate) fn validated(self) -> Result<Self, EcsError> {
        c::check_settings(&self.settings)?;
        Ok(self)
    }
}

impl Operation for UpdateClusterSettingsInput {
    type Output = ClusterAnswer;

    fn authorize(&self, s: &Scope<'_, Ecs>) -> Result<Authorization, EcsError> {
        Ok(on::<Self>(cluster_resource(s, &self.cluster)?, Vec::new()))
    }

    fn execute(this: &Authorized<Self>, x: Exec<'_, Ecs>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let mut cl = active(
            tx.read(),
            ctx.principal.account.as_str(),
            ctx.region,
            &this.cluster,
        )?;
        merge_settings(&mut cl, &this.settings)?;
        save(&mut tx, &cl)?;
        written(&tx, &cl)
    }
}

/// `DeleteCluster`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteClusterInput {
    cluster: String,
}

impl DeleteClusterInput {
    pub(crate) fn validated(self) -> Result<Self, EcsError> {
        Ok(self)
    }
}

impl Operation for DeleteClusterInput {
    type Output = ClusterAnswer;

    fn authorize(&self, s: &Scope<'_, Ecs>) -> Result<Authorization, EcsError> {
        Ok(on::<Self>(cluster_resource(s, &self.cluster)?, Vec::new()))
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Ecs>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let mut cl = active(
            tx.read(),
            ctx.principal.account.as_str(),
            ctx.region,
            &op.cluster,
        )?;
        if crate::service::cluster_services(tx.read(), &cl.account, &cl.region, &cl.name)?
            .iter()
            .any(|s| s.status != "INACTIVE")
        {
            return Err(EcsError::ClusterContainsServicesException);
        }
        if task::cluster_tasks(tx.read(), &cl)?
            .iter()
            .any(|t| !t.is_stopped())
        {
            return Err(EcsError::ClusterContainsTasksException);
        }
        // The cluster's stopped tasks and client tokens go with it: a cluster created later
        // under the same name starts empty.
        task::forget_cluster(&mut tx, &cl)?;
        cl.status = ClusterStatus::Inactive;
        save(&mut tx, &cl)?;
        written(&tx, &cl)
    }
}

/// `DescribeClusters`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeClustersInput {
    #[serde(default)]
    clusters: Option<Vec<String>>,
    #[serde(default)]
    include: Vec<String>,
}

impl DescribeClustersInput {
    pub(crate) fn validated(self) -> Result<Self, EcsError> {
        if self.clusters.as_ref().is_some_and(|c| c.len() > 100) {
            return Err(EcsError::invalid("clusters can have at most 100 items."));
        }
        self.include()?;
        Ok(self)
    }

    fn references(&self) -> Vec<String> {
        match &self.clusters {
            Some(c) if !c.is_empty() => c.clone(),
            _ => vec!["default".to_owned()],
        }
    }

    fn include(&self) -> Result<Include, EcsError> {
        let mut inc = Include::default();
        for i in &self.include {
            match i.as_str() {
                "CONFIGURATIONS" => inc.configurations = true,
                "SETTINGS" => inc.settings = true,
                "STATISTICS" => inc.statistics = true,
                "TAGS" => inc.tags = true,
                "ATTACHMENTS" => inc.attachments = true,
                other => {
                    return Err(EcsError::invalid(format!(
                        "Invalid include value '{other}': must be ATTACHMENTS, CONFIGURATIONS, SETTINGS, STATISTICS or TAGS."
                    )))
                }
            }
        }
        Ok(inc)
    }
}

/// The ARN `reference` stands for in failures: itself when it is an ARN.
fn shown_arn(reference: &str, account: &str, region: &str) -> String {
    if reference.starts_with("arn:") {
        reference.to_owned()
    } else {
        cluster_arn(region, account, reference)
    }
}

impl Operation for DescribeClustersInput {
    type Output = ClustersAnswer;

    /// Every cluster named is authorized, as stored (with its tags) when it exists.
    fn authorize(&self, s: &Scope<'_, Ecs>) -> Result<Authorization, EcsError> {
        let mut resources = Vec::new();
        for r in self.references() {
            let found = match c::resolve(&r, s.account(), s.region) {
                Some(name) => load(s.tx, s.account(), s.region, &name)?,
                None => None,
            };
            resources.push(match found {
                Some(cl) => existing(cl.arn(), &cl.tags),
                None => Resource::Named(shown_arn(&r, s.account(), s.region)),
            });
        }
        Ok(on_each::<Self>(resources, &[]))
    }

    fn execute(this: &Authorized<Self>, x: Exec<'_, Ecs>) -> Done<Self> {
        let Exec { tx, ctx, .. } = x;
        let account = ctx.principal.account.as_str();
        let inc = this.include()?;
        let (mut clusters, mut failures) = (Vec::new(), Vec::new());
        for r in this.references() {
            let found = match c::resolve(&r, account, ctx.region) {
                Some(name) => load(tx.read(), account, ctx.region, &name)?,
                None => None,
            };
            match found {
                Some(cl) => {
                    let counts = counts(tx.read(), &cl)?;
                    clusters.push(ClusterView::of(&cl, inc, counts));
                }
                None => failures.push(Failure::missing(shown_arn(&r, account, ctx.region))),
            }
        }
        Ok(Reply::new(ClustersAnswer { clusters, failures }))
    }
}

/// `ListClusters`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListClustersInput {
    #[serde(default)]
    next_token: Option<String>,
    #[serde(default)]
    max_results: Option<i64>,
}

impl ListClustersInput {
    pub(crate) fn validated(self) -> Result<Self, EcsError> {
        max_results(self.max_results, 100)?;
        if let Some(t) = &self.next_token {
            token::parse("clusters", t)?;
        }
        Ok(self)
    }
}

impl Operation for ListClustersInput {
    type Output = Listing;

    /// `ecs:ListClusters` has no resource type.
    fn authorize(&self, _: &Scope<'_, Ecs>) -> Result<Authorization, EcsError> {
        Ok(on::<Self>(Resource::Any, Vec::new()))
    }

    fn execute(this: &Authorized<Self>, x: Exec<'_, Ecs>) -> Done<Self> {
        let Exec { tx, ctx, .. } = x;
        let account = ctx.principal.account.as_str();
        let limit = max_results(this.max_results, 100)?;
        let after = match &this.next_token {
            Some(t) => Some(keys::named(
                account,
                ctx.region,
                &token::parse("clusters", t)?,
            )),
            None => None,
        };
        let prefix = keys::partition(account, ctx.region);
        let mut arns = Vec::new();
        let mut last_name = None;
        let mut cursor = after;
        let mut more = false;
        // Inactive clusters are skipped, so a page may need more than one scan.
        'scan: loop {
            let rows = tables::CLUSTERS.scan(
                tx.read(),
                &prefix,
                cursor.as_deref(),
                Direction::Forward,
                limit + 1,
            )?;
            let exhausted = rows.len() <= limit;
            for (k, cl) in rows {
                cursor = Some(k);
                if cl.status != ClusterStatus::Active {
                    continue;
                }
                if arns.len() == limit {
                    more = true;
                    break 'scan;
                }
                arns.push(cl.arn());
                last_name = Some(cl.name);
            }
            if exhausted {
                break;
            }
        }
        let next = if more {
            last_name.map(|n| token::make("clusters", &n))
        } else {
            None
        };
        Ok(Reply::new(Listing::new(
            ListingItems::ClusterArns(arns),
            next,
        )))
    }
}

/// (running tasks, pending tasks, active services) of a cluster.
pub(crate) fn counts(tx: &dyn ReadTx, cl: &Cluster) -> Result<(usize, usize, usize), EcsError> {
    let (mut running, mut pending) = (0, 0);
    for t in task::cluster_tasks(tx, cl)? {
        match t.last.as_str() {
            "RUNNING" => running += 1,
            "STOPPED" => {}
            _ => pending += 1,
        }
    }
    let services = crate::service::cluster_services(tx, &cl.account, &cl.region, &cl.name)?
        .iter()
        .filter(|s| s.status == "ACTIVE")
        .count();
    Ok((running, pending, services))
}
