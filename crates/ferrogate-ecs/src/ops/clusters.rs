//! Clusters: CreateCluster, UpdateCluster, UpdateClusterSettings, DescribeClusters,
//! ListClusters, DeleteCluster.

use ferrogate_iam::op::{Access, Ctx};
use ferrogate_store::{Direction, ReadTx, TxRef};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{max_results, on_resource, on_resources, token, Done, Ecs, Input, Scope};
use crate::cluster::{self as c, ConfigurationIn, SettingIn, TagIn, FARGATE_KEY_CONDITION};
use crate::model::{
    cluster_arn, keys, tables, Cluster, ClusterConfiguration, ClusterStatus, ManagedStorage,
};
use crate::EcsError;

const RESOURCE: &str = "AWS::ECS::Cluster";

/// Which optional parts of a cluster DescribeClusters shows.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Include {
    configurations: bool,
    settings: bool,
    statistics: bool,
    tags: bool,
    attachments: bool,
    /// `statistics: []` (the write operations' answers).
    empty_statistics: bool,
}

impl Include {
    /// What CreateCluster, UpdateCluster and DeleteCluster answer with (AWS's examples:
    /// `configuration`, `settings`, `tags`, and an empty `statistics`).
    const ALL: Include = Include {
        configurations: true,
        settings: true,
        statistics: false,
        tags: true,
        attachments: false,
        empty_statistics: true,
    };
}

/// A cluster in the API's JSON.
pub(crate) fn cluster_json(
    cl: &Cluster,
    inc: Include,
    (running, pending, services): (usize, usize, usize),
) -> Value {
    let mut v = json!({
        "clusterArn": cl.arn(),
        "clusterName": cl.name,
        "status": cl.status.as_str(),
        "registeredContainerInstancesCount": 0,
        "runningTasksCount": running,
        "pendingTasksCount": pending,
        "activeServicesCount": services,
        "capacityProviders": cl.capacity_providers,
        "defaultCapacityProviderStrategy": cl.default_strategy,
    });
    if inc.configurations {
        let mut conf = serde_json::Map::new();
        if let Some(e) = &cl.configuration.execute_command {
            conf.insert("executeCommandConfiguration".into(), e.clone());
        }
        if let Some(m) = &cl.configuration.managed_storage {
            let mut ms = serde_json::Map::new();
            if let Some(k) = &m.ebs_kms_key_id {
                ms.insert("kmsKeyId".into(), json!(k));
            }
            if let Some(k) = &m.fargate_key_arn {
                ms.insert("fargateEphemeralStorageKmsKeyId".into(), json!(k));
            }
            conf.insert("managedStorageConfiguration".into(), Value::Object(ms));
        }
        if !conf.is_empty() {
            v["configuration"] = Value::Object(conf);
        }
    }
    if inc.settings {
        v["settings"] = cl
            .settings
            .iter()
            .map(|(n, val)| json!({"name": n, "value": val}))
            .collect();
    }
    if inc.empty_statistics {
        v["statistics"] = json!([]);
    }
    if inc.statistics {
        v["statistics"] = json!([
            {"name": "runningFargateTasksCount", "value": running.to_string()},
            {"name": "pendingFargateTasksCount", "value": pending.to_string()},
        ]);
    }
    if inc.tags {
        v["tags"] = json!(cl.tags);
    }
    if inc.attachments {
        v["attachments"] = json!([]);
    }
    v
}

fn load(
    tx: &dyn ReadTx,
    account: &str,
    region: &str,
    name: &str,
) -> Result<Option<Cluster>, EcsError> {
    Ok(tables::CLUSTERS.get(tx, &keys::named(account, region, name))?)
}

/// The ACTIVE cluster `reference` names in the caller's partition.
pub(crate) fn active(
    tx: &dyn ReadTx,
    account: &str,
    region: &str,
    reference: &str,
) -> Result<Cluster, EcsError> {
    let name = c::resolve(reference, account, region).ok_or(EcsError::ClusterNotFoundException)?;
    match load(tx, account, region, &name)? {
        Some(cl) if cl.status == ClusterStatus::Active => Ok(cl),
        _ => Err(EcsError::ClusterNotFoundException),
    }
}

/// The answer of a write operation: the cluster with everything but statistics.
fn written(tx: &TxRef<'_>, cl: &Cluster) -> Result<Done, EcsError> {
    let counts = super::tasks::counts(tx.read(), cl)?;
    Ok(
        Done::new(json!({"cluster": cluster_json(cl, Include::ALL, counts)}))
            .on(RESOURCE, cl.arn()),
    )
}

fn save(tx: &mut TxRef<'_>, cl: &Cluster) -> Result<(), EcsError> {
    tables::CLUSTERS.put(
        tx.write()?,
        &keys::named(&cl.account, &cl.region, &cl.name),
        cl,
    )?;
    Ok(())
}

/// The access of a request that may set a Fargate key: `kms:DescribeKey` on it, as the
/// caller, joins the authorization.
fn with_key_check(
    s: &Scope<'_>,
    mut access: Access,
    conf: Option<&ConfigurationIn>,
) -> Result<Access, EcsError> {
    if let Some(k) = conf.and_then(ConfigurationIn::fargate_key) {
        let via = format!("ecs.{}.amazonaws.com", s.region);
        let d = ferrogate_kms::external::describe_access(
            &s.ecs.kms,
            s.tx,
            s.principal,
            s.region,
            s.now,
            k,
            &via,
        )
        .map_err(|e| c::key_error(k, e))?;
        access.also.push(d);
    }
    Ok(access)
}

/// Applies a checked `configuration` to `into`. `executeCommandConfiguration` replaces the
/// stored one. `managedStorageConfiguration` merges by field: a key given replaces that key
/// and a key not mentioned stays, so an update of the EBS key never drops the Fargate key;
/// an empty `managedStorageConfiguration` (`{}`) removes both keys. The Fargate key is
/// re-read from KMS in this transaction and stored as its ARN.
fn apply_configuration(
    tx: &dyn ReadTx,
    ctx: &Ctx<'_>,
    conf: &ConfigurationIn,
    into: &mut ClusterConfiguration,
) -> Result<(), EcsError> {
    if conf.execute_command_configuration.is_some() {
        into.execute_command = conf.execute_command_value();
    }
    if let Some(m) = &conf.managed_storage_configuration {
        let fargate = match m.fargate_ephemeral_storage_kms_key_id.as_deref() {
            None => None,
            Some(k) => {
                let r = ferrogate_kms::external::resolve_key(tx, ctx.principal, ctx.region, k)
                    .map_err(|e| c::key_error(k, e))?;
                let facts = ferrogate_kms::external::facts(tx, &r, ctx.now)
                    .map_err(|e| c::key_error(k, e))?;
                c::check_key_facts(&facts)?;
                Some(facts.arn)
            }
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

fn condition_keys_of(conf: Option<&ConfigurationIn>, tags: &[TagIn]) -> Vec<(String, Vec<String>)> {
    let mut keys = c::request_tag_keys(tags);
    if let Some(k) = conf.and_then(ConfigurationIn::fargate_key) {
        keys.push((FARGATE_KEY_CONDITION.to_owned(), vec![k.to_owned()]));
    }
    keys
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

impl Input for CreateClusterInput {
    fn access(&self, s: &Scope<'_>) -> Result<Access, EcsError> {
        let arn = cluster_arn(s.region, s.account(), self.name());
        with_key_check(s, on_resource(arn, Vec::new()), self.configuration.as_ref())
    }

    fn condition_keys(&self) -> Vec<(String, Vec<String>)> {
        let mut keys = condition_keys_of(self.configuration.as_ref(), &self.tags);
        if !self.capacity_providers.is_empty() {
            keys.push((
                "ecs:capacity-provider".into(),
                self.capacity_providers.clone(),
            ));
        }
        keys
    }

    fn run(&self, _ecs: &Ecs, mut tx: TxRef<'_>, ctx: Ctx<'_>) -> Result<Done, EcsError> {
        let account = ctx.principal.account.as_str();
        let mut configuration = ClusterConfiguration::default();
        if let Some(conf) = &self.configuration {
            apply_configuration(tx.read(), &ctx, conf, &mut configuration)?;
        }
        let cl = Cluster {
            account: account.to_owned(),
            region: ctx.region.to_owned(),
            name: self.name().to_owned(),
            status: ClusterStatus::Active,
            configuration,
            settings: c::check_settings(&self.settings)?,
            capacity_providers: self.capacity_providers.clone(),
            default_strategy: self
                .default_capacity_provider_strategy
                .iter()
                .filter_map(|s| serde_json::to_value(s).ok())
                .collect(),
            tags: c::check_tags(&self.tags)?,
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
                let counts = super::tasks::counts(tx.read(), &existing)?;
                return Ok(Done::new(
                    json!({"cluster": cluster_json(&existing, Include::ALL, counts)}),
                )
                .on(RESOURCE, existing.arn()));
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

fn existing_access(s: &Scope<'_>, reference: &str) -> Result<Access, EcsError> {
    let cl = active(s.tx, s.account(), s.region, reference)?;
    Ok(on_resource(cl.arn(), c::resource_tag_keys(&cl.tags)))
}

fn merge_settings(cl: &mut Cluster, settings: &[SettingIn]) -> Result<(), EcsError> {
    for (n, v) in c::check_settings(settings)? {
        cl.settings.retain(|(m, _)| *m != n);
        cl.settings.push((n, v));
    }
    Ok(())
}

impl Input for UpdateClusterInput {
    fn access(&self, s: &Scope<'_>) -> Result<Access, EcsError> {
        let access = existing_access(s, &self.cluster)?;
        with_key_check(s, access, self.configuration.as_ref())
    }

    fn condition_keys(&self) -> Vec<(String, Vec<String>)> {
        condition_keys_of(self.configuration.as_ref(), &[])
    }

    fn run(&self, _ecs: &Ecs, mut tx: TxRef<'_>, ctx: Ctx<'_>) -> Result<Done, EcsError> {
        let mut cl = active(
            tx.read(),
            ctx.principal.account.as_str(),
            ctx.region,
            &self.cluster,
        )?;
        if let Some(s) = &self.settings {
            merge_settings(&mut cl, s)?;
        }
        if let Some(conf) = &self.configuration {
            let mut configuration = cl.configuration.clone();
            apply_configuration(tx.read(), &ctx, conf, &mut configuration)?;
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

impl Input for UpdateClusterSettingsInput {
    fn access(&self, s: &Scope<'_>) -> Result<Access, EcsError> {
        existing_access(s, &self.cluster)
    }

    fn run(&self, _ecs: &Ecs, mut tx: TxRef<'_>, ctx: Ctx<'_>) -> Result<Done, EcsError> {
        let mut cl = active(
            tx.read(),
            ctx.principal.account.as_str(),
            ctx.region,
            &self.cluster,
        )?;
        merge_settings(&mut cl, &self.settings)?;
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

impl Input for DeleteClusterInput {
    fn access(&self, s: &Scope<'_>) -> Result<Access, EcsError> {
        existing_access(s, &self.cluster)
    }

    fn run(&self, _ecs: &Ecs, mut tx: TxRef<'_>, ctx: Ctx<'_>) -> Result<Done, EcsError> {
        let mut cl = active(
            tx.read(),
            ctx.principal.account.as_str(),
            ctx.region,
            &self.cluster,
        )?;
        if crate::service::cluster_services(tx.read(), &cl.account, &cl.region, &cl.name)?
            .iter()
            .any(|s| s.status != "INACTIVE")
        {
            return Err(EcsError::ClusterContainsServicesException);
        }
        if super::tasks::cluster_tasks(tx.read(), &cl)?
            .iter()
            .any(|t| !t.is_stopped())
        {
            return Err(EcsError::ClusterContainsTasksException);
        }
        // The cluster's stopped tasks and client tokens go with it: a cluster created later
        // under the same name starts empty.
        super::tasks::forget_cluster(&mut tx, &cl)?;
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

impl Input for DescribeClustersInput {
    fn access(&self, s: &Scope<'_>) -> Result<Access, EcsError> {
        // Every cluster named is authorized (the first as the request's resource, the
        // others as further authorizations of the same action).
        let arns = self
            .references()
            .iter()
            .map(|r| shown_arn(r, s.account(), s.region))
            .collect();
        Ok(on_resources(arns, Vec::new()))
    }

    fn run(&self, _ecs: &Ecs, tx: TxRef<'_>, ctx: Ctx<'_>) -> Result<Done, EcsError> {
        let account = ctx.principal.account.as_str();
        let inc = self.include()?;
        let (mut clusters, mut failures) = (Vec::new(), Vec::new());
        for r in self.references() {
            let found = match c::resolve(&r, account, ctx.region) {
                Some(name) => load(tx.read(), account, ctx.region, &name)?,
                None => None,
            };
            match found {
                Some(cl) => {
                    let counts = super::tasks::counts(tx.read(), &cl)?;
                    clusters.push(cluster_json(&cl, inc, counts));
                }
                None => failures
                    .push(json!({"arn": shown_arn(&r, account, ctx.region), "reason": "MISSING"})),
            }
        }
        Ok(Done::new(
            json!({"clusters": clusters, "failures": failures}),
        ))
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

impl Input for ListClustersInput {
    fn run(&self, _ecs: &Ecs, tx: TxRef<'_>, ctx: Ctx<'_>) -> Result<Done, EcsError> {
        let account = ctx.principal.account.as_str();
        let limit = max_results(self.max_results, 100)?;
        let after = match &self.next_token {
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
        let mut body = json!({"clusterArns": arns});
        if more {
            if let Some(n) = last_name {
                body["nextToken"] = json!(token::make("clusters", &n));
            }
        }
        Ok(Done::new(body))
    }
}
