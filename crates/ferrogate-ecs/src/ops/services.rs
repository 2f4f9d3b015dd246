//! Services: CreateService, UpdateService, DescribeServices, ListServices, DeleteService.
//! The reconciler that runs their tasks is [`crate::service::reconcile`].

use ferrogate_api::{Authorization, Authorized, Done, Exec, Operation, Reply, Resource, Scope};
use ferrogate_store::{Direction, ReadTx, TxRef};
use serde::Deserialize;
use serde_json::Value;

use super::common::{
    active, cluster_key, creating, existing, max_results, on, on_each, token, Ecs,
};
use super::tasks::{check_platform, network, placed, NetworkConfigurationIn, StrategyIn};
use crate::cluster::{self as c, TagIn};
use crate::ids::deployment_id;
use crate::launch::{fargate_key, runnable_task_definition};
use crate::model::Cluster;
use crate::service::{service_key, DeploymentConfiguration, Service, SERVICES};
use crate::views::{Failure, Listing, ListingItems, ServiceAnswer, ServiceView, ServicesAnswer};
use crate::EcsError;

/// A service write's answer, recorded as its `responseElements`.
fn answer(svc: &Service) -> Reply<ServiceAnswer> {
    let out = ServiceAnswer {
        service: ServiceView::of(svc, false),
    };
    let elements = serde_json::to_value(&out).unwrap_or(Value::Null);
    Reply::new(out)
        .elements(elements)
        .resource(RESOURCE, svc.arn())
}

const RESOURCE: &str = "AWS::ECS::Service";

/// `deploymentConfiguration`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentConfigurationIn {
    #[serde(default)]
    maximum_percent: Option<i64>,
    #[serde(default)]
    minimum_healthy_percent: Option<i64>,
    #[serde(default)]
    deployment_circuit_breaker: Option<CircuitBreakerIn>,
    #[serde(default)]
    strategy: Option<String>,
}

/// `deploymentCircuitBreaker`.
#[derive(Debug, Clone, Deserialize)]
pub struct CircuitBreakerIn {
    enable: bool,
    rollback: bool,
}

impl DeploymentConfigurationIn {
    fn check(&self) -> Result<(), EcsError> {
        if let Some(m) = self.minimum_healthy_percent {
            if !(0..=100).contains(&m) {
                return Err(EcsError::invalid(
                    "minimumHealthyPercent must be between 0 and 100.",
                ));
            }
        }
        if let Some(m) = self.maximum_percent {
            if !(100..=2000).contains(&m) {
                return Err(EcsError::invalid(
                    "maximumPercent must be between 100 and 2000.",
                ));
            }
        }
        if let Some(s) = self.strategy.as_deref() {
            if s != "ROLLING" {
                return Err(EcsError::invalid(format!(
                    "Deployment strategy {s} is not supported by Ferrogate; use ROLLING."
                )));
            }
        }
        Ok(())
    }

    fn apply(&self, to: &mut DeploymentConfiguration) {
        if let Some(m) = self.maximum_percent {
            to.maximum_percent = m;
        }
        if let Some(m) = self.minimum_healthy_percent {
            to.minimum_healthy_percent = m;
        }
        if let Some(cb) = &self.deployment_circuit_breaker {
            to.circuit_breaker = cb.enable;
            to.rollback = cb.rollback;
        }
    }
}

/// `deploymentController`.
#[derive(Debug, Clone, Deserialize)]
pub struct ControllerIn {
    #[serde(rename = "type")]
    kind: String,
}

/// The service a name or ARN names in cluster `cl` (any status).
fn find(tx: &dyn ReadTx, cl: &Cluster, reference: &str) -> Result<Option<Service>, EcsError> {
    let name = match reference.strip_prefix("arn:") {
        Some(_) => {
            let prefix = format!("arn:aws:ecs:{}:{}:service/", cl.region, cl.account);
            let Some(rest) = reference.strip_prefix(&prefix) else {
                return Ok(None);
            };
            match rest.split_once('/') {
                Some((cluster, name)) if cluster == cl.name => name,
                Some(_) => return Ok(None),
                None => rest,
            }
        }
        None => reference,
    };
    if !c::is_name(name) {
        return Ok(None);
    }
    Ok(SERVICES.get(tx, &service_key(&cl.account, &cl.region, &cl.name, name))?)
}

fn service_arn(cl: &Cluster, name: &str) -> String {
    format!(
        "arn:aws:ecs:{}:{}:service/{}/{}",
        cl.region, cl.account, cl.name, name
    )
}

fn save(tx: &mut TxRef<'_>, s: &Service) -> Result<(), EcsError> {
    SERVICES.put(
        tx.write()?,
        &service_key(&s.account, &s.region, &s.cluster, &s.name),
        s,
    )?;
    Ok(())
}

/// `CreateService`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateServiceInput {
    service_name: String,
    #[serde(default)]
    cluster: Option<String>,
    #[serde(default)]
    task_definition: Option<String>,
    #[serde(default)]
    desired_count: Option<i64>,
    #[serde(default)]
    launch_type: Option<String>,
    #[serde(default)]
    capacity_provider_strategy: Option<Vec<StrategyIn>>,
    #[serde(default)]
    platform_version: Option<String>,
    #[serde(default)]
    network_configuration: Option<NetworkConfigurationIn>,
    #[serde(default)]
    deployment_configuration: Option<DeploymentConfigurationIn>,
    #[serde(default)]
    deployment_controller: Option<ControllerIn>,
    #[serde(default)]
    scheduling_strategy: Option<String>,
    #[serde(default)]
    tags: Vec<TagIn>,
    #[serde(default)]
    propagate_tags: Option<String>,
    #[serde(default)]
    enable_execute_command: Option<bool>,
    #[serde(default)]
    load_balancers: Vec<Value>,
    #[serde(default)]
    service_registries: Vec<Value>,
}

impl CreateServiceInput {
    pub(crate) fn validated(self) -> Result<Self, EcsError> {
        if !c::is_name(&self.service_name) {
            return Err(EcsError::invalid(
                "Service name can have up to 255 characters; valid characters are letters (uppercase and lowercase), numbers, hyphens and underscores.",
            ));
        }
        if self.task_definition.is_none() {
            return Err(EcsError::invalid(
                "TaskDefinition must be specified for the ECS deployment controller.",
            ));
        }
        match self.desired_count {
            None => {
                return Err(EcsError::invalid(
                    "desiredCount must be specified for the REPLICA scheduling strategy.",
                ))
            }
            Some(n) if !(0..=1000).contains(&n) => {
                return Err(EcsError::invalid(
                    "desiredCount must be between 0 and 1000.",
                ))
            }
            _ => {}
        }
        match self.launch_type.as_deref() {
            None | Some("FARGATE") => {}
            Some(other) => {
                return Err(EcsError::invalid(format!(
                    "Ferrogate runs tasks on Fargate only: launchType {other} is not supported; use FARGATE."
                )))
            }
        }
        if let Some(s) = &self.capacity_provider_strategy {
            if let Some(bad) = s
                .iter()
                .find(|s| !matches!(s.capacity_provider.as_str(), "FARGATE" | "FARGATE_SPOT"))
            {
                return Err(EcsError::invalid(format!(
                    "The specified capacity provider '{}' does not exist.",
                    bad.capacity_provider
                )));
            }
        }
        check_platform(self.platform_version.as_deref())?;
        network(self.network_configuration.as_ref())?;
        if let Some(d) = &self.deployment_configuration {
            d.check()?;
        }
        if self
            .deployment_controller
            .as_ref()
            .is_some_and(|d| d.kind != "ECS")
        {
            return Err(EcsError::invalid(
                "Ferrogate supports the ECS deployment controller only.",
            ));
        }
        match self.scheduling_strategy.as_deref() {
            None | Some("REPLICA") => {}
            Some(_) => {
                return Err(EcsError::invalid(
                    "Fargate services support the REPLICA scheduling strategy only.",
                ))
            }
        }
        if let Some(p) = self.propagate_tags.as_deref() {
            if !matches!(p, "TASK_DEFINITION" | "SERVICE" | "NONE") {
                return Err(EcsError::invalid(
                    "propagateTags must be TASK_DEFINITION, SERVICE or NONE.",
                ));
            }
        }
        if self.enable_execute_command == Some(true) {
            return Err(EcsError::invalid(
                "enableExecuteCommand is not supported by Ferrogate.",
            ));
        }
        if !self.load_balancers.is_empty() || !self.service_registries.is_empty() {
            return Err(EcsError::invalid(
                "Ferrogate has no load balancers or service registries: loadBalancers and serviceRegistries must be empty.",
            ));
        }
        c::check_tags(&self.tags)?;
        Ok(self)
    }

    fn cluster_ref(&self) -> &str {
        self.cluster.as_deref().unwrap_or("default")
    }
}

impl Operation for CreateServiceInput {
    type Output = ServiceAnswer;

    /// On the new service, with `ecs:cluster` and `ecs:task-definition`.
    fn authorize(&self, s: &Scope<'_, Ecs>) -> Result<Authorization, EcsError> {
        let cl = active(s.tx, s.account(), s.region, self.cluster_ref())?;
        let td = self.task_definition.as_deref().unwrap_or_default();
        let mut keys = cluster_key(cl.arn());
        if let Some(td) = crate::taskdef::find(s.tx, s.account(), s.region, td)? {
            keys.push(("ecs:task-definition".to_owned(), vec![td.arn()]));
        }
        Ok(creating::<Self>(
            Resource::New(service_arn(&cl, &self.service_name)),
            &self.tags,
            keys,
        ))
    }

    fn after_commit(&self, ecs: &Ecs) {
        ecs.wake();
    }

    fn execute(this: &Authorized<Self>, x: Exec<'_, Ecs>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let (account, region) = (ctx.principal.account.as_str(), ctx.region);
        let cl = active(tx.read(), account, region, this.cluster_ref())?;
        if let Some(existing) = find(tx.read(), &cl, &this.service_name)? {
            if existing.status != "INACTIVE" {
                return Err(EcsError::invalid("Creation of service was not idempotent."));
            }
        }
        let td = runnable_task_definition(
            tx.read(),
            account,
            region,
            this.task_definition.as_deref().unwrap_or_default(),
        )?;
        let mut conf = DeploymentConfiguration::default();
        if let Some(d) = &this.deployment_configuration {
            d.apply(&mut conf);
        }
        let mut svc = Service {
            account: account.to_owned(),
            region: region.to_owned(),
            cluster: cl.name.clone(),
            name: this.service_name.clone(),
            status: "ACTIVE".into(),
            desired: this.desired_count.unwrap_or(0),
            running: 0,
            pending: 0,
            task_definition: td.arn(),
            network: placed(this.network_configuration.as_ref(), &mut tx, &ctx)?,
            deployment_configuration: conf,
            deployments: Vec::new(),
            events: Vec::new(),
            created_at: ctx.now,
            created_by: ctx.principal.arn.clone(),
            tags: c::check_tags(&this.tags)?,
            propagate_tags: this.propagate_tags.clone().unwrap_or_else(|| "NONE".into()),
            platform_version: this
                .platform_version
                .clone()
                .unwrap_or_else(|| "LATEST".into()),
            steady: false,
            last_completed: None,
        };
        svc.deploy(deployment_id()?, fargate_key(&cl), ctx.now);
        save(&mut tx, &svc)?;
        Ok(answer(&svc))
    }
}

/// `UpdateService`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateServiceInput {
    service: String,
    #[serde(default)]
    cluster: Option<String>,
    #[serde(default)]
    desired_count: Option<i64>,
    #[serde(default)]
    task_definition: Option<String>,
    #[serde(default)]
    force_new_deployment: Option<bool>,
    #[serde(default)]
    deployment_configuration: Option<DeploymentConfigurationIn>,
    #[serde(default)]
    network_configuration: Option<NetworkConfigurationIn>,
    #[serde(default)]
    platform_version: Option<String>,
    #[serde(default)]
    enable_execute_command: Option<bool>,
}

impl UpdateServiceInput {
    pub(crate) fn validated(self) -> Result<Self, EcsError> {
        if self.desired_count.is_some_and(|n| !(0..=1000).contains(&n)) {
            return Err(EcsError::invalid(
                "desiredCount must be between 0 and 1000.",
            ));
        }
        if let Some(d) = &self.deployment_configuration {
            d.check()?;
        }
        if self.network_configuration.is_some() {
            network(self.network_configuration.as_ref())?;
        }
        check_platform(self.platform_version.as_deref())?;
        if self.enable_execute_command == Some(true) {
            return Err(EcsError::invalid(
                "enableExecuteCommand is not supported by Ferrogate.",
            ));
        }
        Ok(self)
    }

    fn cluster_ref(&self) -> &str {
        self.cluster.as_deref().unwrap_or("default")
    }
}

/// `O`'s action on the existing service, with `ecs:cluster`.
fn on_service<O: ferrogate_api::Registered>(
    s: &Scope<'_, Ecs>,
    cluster: &str,
    service: &str,
) -> Result<Authorization, EcsError> {
    let cl = active(s.tx, s.account(), s.region, cluster)?;
    let svc = find(s.tx, &cl, service)?.ok_or(EcsError::ServiceNotFoundException)?;
    Ok(on::<O>(
        existing(svc.arn(), &svc.tags),
        cluster_key(cl.arn()),
    ))
}

impl Operation for UpdateServiceInput {
    type Output = ServiceAnswer;

    fn authorize(&self, s: &Scope<'_, Ecs>) -> Result<Authorization, EcsError> {
        on_service::<Self>(s, self.cluster_ref(), &self.service)
    }

    fn after_commit(&self, ecs: &Ecs) {
        ecs.wake();
    }

    fn execute(this: &Authorized<Self>, x: Exec<'_, Ecs>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let (account, region) = (ctx.principal.account.as_str(), ctx.region);
        let cl = active(tx.read(), account, region, this.cluster_ref())?;
        let mut svc =
            find(tx.read(), &cl, &this.service)?.ok_or(EcsError::ServiceNotFoundException)?;
        if svc.status != "ACTIVE" {
            return Err(EcsError::ServiceNotActiveException);
        }
        let mut redeploy = this.force_new_deployment == Some(true);
        if let Some(n) = this.desired_count {
            if n != svc.desired {
                svc.desired = n;
                svc.steady = false;
            }
        }
        if let Some(d) = &this.deployment_configuration {
            d.apply(&mut svc.deployment_configuration);
        }
        if let Some(td) = &this.task_definition {
            let td = runnable_task_definition(tx.read(), account, region, td)?;
            if td.arn() != svc.task_definition {
                svc.task_definition = td.arn();
                redeploy = true;
            }
        }
        if this.network_configuration.is_some() {
            let n = placed(this.network_configuration.as_ref(), &mut tx, &ctx)?;
            if n != svc.network {
                svc.network = n;
                redeploy = true;
            }
        }
        if let Some(p) = &this.platform_version {
            if *p != svc.platform_version {
                svc.platform_version.clone_from(p);
                redeploy = true;
            }
        }
        if redeploy && this.task_definition.is_none() {
            // A forced redeployment of the current definition (which may have been
            // deregistered since: a service keeps running it) must still be launchable.
            let td = crate::taskdef::find(tx.read(), account, region, &svc.task_definition)?
                .ok_or_else(|| EcsError::client("TaskDefinition not found."))?;
            crate::launch::launchable(&td)?;
        }
        if redeploy {
            // The new deployment takes the cluster's key as it is now.
            svc.deploy(deployment_id()?, fargate_key(&cl), ctx.now);
        }
        save(&mut tx, &svc)?;
        Ok(answer(&svc))
    }
}

/// `DeleteService`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteServiceInput {
    service: String,
    #[serde(default)]
    cluster: Option<String>,
    #[serde(default)]
    force: Option<bool>,
}

impl DeleteServiceInput {
    pub(crate) fn validated(self) -> Result<Self, EcsError> {
        Ok(self)
    }

    fn cluster_ref(&self) -> &str {
        self.cluster.as_deref().unwrap_or("default")
    }
}

impl Operation for DeleteServiceInput {
    type Output = ServiceAnswer;

    fn authorize(&self, s: &Scope<'_, Ecs>) -> Result<Authorization, EcsError> {
        on_service::<Self>(s, self.cluster_ref(), &self.service)
    }

    fn after_commit(&self, ecs: &Ecs) {
        ecs.wake();
    }

    fn execute(this: &Authorized<Self>, x: Exec<'_, Ecs>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let cl = active(
            tx.read(),
            ctx.principal.account.as_str(),
            ctx.region,
            this.cluster_ref(),
        )?;
        let mut svc =
            find(tx.read(), &cl, &this.service)?.ok_or(EcsError::ServiceNotFoundException)?;
        if svc.status != "ACTIVE" {
            return Err(EcsError::ServiceNotActiveException);
        }
        if svc.desired > 0 && this.force != Some(true) {
            return Err(EcsError::invalid(
                "The service cannot be stopped while it is scaled above 0.",
            ));
        }
        svc.status = "DRAINING".into();
        svc.desired = 0;
        save(&mut tx, &svc)?;
        Ok(answer(&svc))
    }
}

/// `DescribeServices`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeServicesInput {
    services: Vec<String>,
    #[serde(default)]
    cluster: Option<String>,
    #[serde(default)]
    include: Vec<String>,
}

impl DescribeServicesInput {
    pub(crate) fn validated(self) -> Result<Self, EcsError> {
        if self.services.is_empty() || self.services.len() > 10 {
            return Err(EcsError::invalid(
                "services must have between 1 and 10 items.",
            ));
        }
        if let Some(bad) = self.include.iter().find(|i| *i != "TAGS") {
            return Err(EcsError::invalid(format!(
                "Invalid include value '{bad}': must be TAGS."
            )));
        }
        Ok(self)
    }

    fn cluster_ref(&self) -> &str {
        self.cluster.as_deref().unwrap_or("default")
    }
}

impl Operation for DescribeServicesInput {
    type Output = ServicesAnswer;

    /// Every service named, as stored (with its tags) when it exists, with `ecs:cluster`.
    fn authorize(&self, s: &Scope<'_, Ecs>) -> Result<Authorization, EcsError> {
        let cl = active(s.tx, s.account(), s.region, self.cluster_ref())?;
        let mut resources = Vec::new();
        for r in &self.services {
            resources.push(match find(s.tx, &cl, r)? {
                Some(svc) => existing(svc.arn(), &svc.tags),
                None => Resource::Named(service_arn(&cl, r.rsplit('/').next().unwrap_or(r))),
            });
        }
        Ok(on_each::<Self>(resources, &cluster_key(cl.arn())))
    }

    fn execute(this: &Authorized<Self>, x: Exec<'_, Ecs>) -> Done<Self> {
        let Exec { tx, ctx, .. } = x;
        let cl = active(
            tx.read(),
            ctx.principal.account.as_str(),
            ctx.region,
            this.cluster_ref(),
        )?;
        let (mut services, mut failures) = (Vec::new(), Vec::new());
        for r in &this.services {
            match find(tx.read(), &cl, r)? {
                Some(svc) => services.push(ServiceView::of(&svc, !this.include.is_empty())),
                None => {
                    let arn = if r.starts_with("arn:") {
                        r.clone()
                    } else {
                        service_arn(&cl, r)
                    };
                    failures.push(Failure::missing(arn));
                }
            }
        }
        Ok(Reply::new(ServicesAnswer { services, failures }))
    }
}

/// `ListServices`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListServicesInput {
    #[serde(default)]
    cluster: Option<String>,
    #[serde(default)]
    next_token: Option<String>,
    #[serde(default)]
    max_results: Option<i64>,
    #[serde(default)]
    launch_type: Option<String>,
    #[serde(default)]
    scheduling_strategy: Option<String>,
}

impl ListServicesInput {
    pub(crate) fn validated(self) -> Result<Self, EcsError> {
        max_results(self.max_results, 100)?;
        if let Some(t) = &self.next_token {
            token::parse("services", t)?;
        }
        Ok(self)
    }

    fn cluster_ref(&self) -> &str {
        self.cluster.as_deref().unwrap_or("default")
    }
}

impl Operation for ListServicesInput {
    type Output = Listing;

    /// No resource type in the reference, with `ecs:cluster`.
    fn authorize(&self, s: &Scope<'_, Ecs>) -> Result<Authorization, EcsError> {
        let cl = active(s.tx, s.account(), s.region, self.cluster_ref())?;
        Ok(on::<Self>(Resource::Any, cluster_key(cl.arn())))
    }

    fn execute(this: &Authorized<Self>, x: Exec<'_, Ecs>) -> Done<Self> {
        let Exec { tx, ctx, .. } = x;
        // botocore: "The maximum number of service results … default 10".
        let limit = match this.max_results {
            None => 10,
            Some(_) => max_results(this.max_results, 100)?,
        };
        let cl = active(
            tx.read(),
            ctx.principal.account.as_str(),
            ctx.region,
            this.cluster_ref(),
        )?;
        let after = match &this.next_token {
            Some(t) => Some(token::parse("services", t)?),
            None => None,
        };
        let none = this.launch_type.as_deref().is_some_and(|l| l != "FARGATE")
            || this
                .scheduling_strategy
                .as_deref()
                .is_some_and(|s| s != "REPLICA");
        let prefix = crate::task::cluster_prefix(&cl.account, &cl.region, &cl.name);
        let names: Vec<String> = if none {
            Vec::new()
        } else {
            SERVICES
                .scan(tx.read(), &prefix, None, Direction::Forward, 100_000)?
                .into_iter()
                .map(|(_, s)| s)
                .filter(|s| s.status == "ACTIVE")
                .map(|s| s.name)
                .filter(|n| after.as_deref().is_none_or(|a| n.as_str() > a))
                .collect()
        };
        let page: Vec<&String> = names.iter().take(limit).collect();
        let next = if names.len() > page.len() {
            page.last().map(|last| token::make("services", last))
        } else {
            None
        };
        let arns = page.iter().map(|n| service_arn(&cl, n)).collect();
        Ok(Reply::new(Listing::new(
            ListingItems::ServiceArns(arns),
            next,
        )))
    }
}
