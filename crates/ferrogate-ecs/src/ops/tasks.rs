//! Tasks: RunTask, StopTask, DescribeTasks, ListTasks. RunTask and StopTask only record what
//! is wanted and queue it for the launcher (`ferrogate-server`), which drives the KMS calls
//! and the host runtime and reports back through [`crate::task::Task::apply`].

use ferrogate_api::{
    Authorization, Authorized, Check, Done, Exec, Operation, Reply, Resource, Scope,
};
use ferrogate_store::ReadTx;
use serde::Deserialize;
use serde_json::{json, Value};

use super::common::{
    action, active, cluster_key, existing, max_results, on, on_each, request_tags, token, Ecs,
};
use crate::cluster::{self as c, TagIn};
use crate::launch::{fargate_key, new_task, runnable_task_definition, save_new, task_containers};
use crate::model::Cluster;
use crate::task::{self, tables, ClientToken, ContainerOverride, Task};
use crate::views::{Failure, Listing, ListingItems, TaskAnswer, TaskView, TasksAnswer};
use crate::{taskdef, EcsError};

const RESOURCE: &str = "AWS::ECS::Task";

/// The answer of a write, recorded as its `responseElements`.
fn recorded<T: serde::Serialize>(out: T) -> Reply<T> {
    let elements = serde_json::to_value(&out).unwrap_or(Value::Null);
    Reply::new(out).elements(elements)
}

/// `overrides`.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OverridesIn {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    container_overrides: Vec<ContainerOverride>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cpu: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    memory: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ephemeral_storage: Option<taskdef::EphemeralStorageIn>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    task_role_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    execution_role_arn: Option<String>,
    /// Not supported: refused when given.
    #[serde(default, skip_serializing)]
    inference_accelerator_overrides: Option<Vec<Value>>,
}

/// `networkConfiguration`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkConfigurationIn {
    #[serde(default)]
    pub(crate) awsvpc_configuration: Option<AwsVpcIn>,
}

/// `awsvpcConfiguration`.
pub type AwsVpcIn = crate::network::AwsVpc;

/// `capacityProviderStrategy[]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StrategyIn {
    pub(crate) capacity_provider: String,
}

/// The awsvpc network configuration a task or service needs, checked in itself (see
/// [`placed`] for the check against the account's VPCs).
pub(crate) fn network(n: Option<&NetworkConfigurationIn>) -> Result<Value, EcsError> {
    match n.and_then(|n| n.awsvpc_configuration.as_ref()) {
        None => Err(EcsError::invalid(
            "Network Configuration must be provided when networkMode 'awsvpc' is specified.",
        )),
        Some(a) => Ok(serde_json::to_value(a.clone().validated()?).unwrap_or(Value::Null)),
    }
}

/// [`network`], then its subnets and security groups checked against the caller's VPCs
/// (in the write transaction: the account's default VPC is made if it never was).
pub(crate) fn placed(
    n: Option<&NetworkConfigurationIn>,
    tx: &mut ferrogate_store::TxRef<'_>,
    ctx: &ferrogate_api::Ctx<'_>,
) -> Result<Value, EcsError> {
    let v = network(n)?;
    crate::network::check(
        tx.write()?,
        ctx.principal.account.as_str(),
        ctx.region,
        ctx.now,
        &v,
    )?;
    Ok(v)
}

/// `platformVersion`: Ferrogate provides 1.4.0 (`LATEST`).
pub(crate) fn check_platform(p: Option<&str>) -> Result<(), EcsError> {
    match p {
        None | Some("LATEST" | "1.4.0") => Ok(()),
        Some(p) => Err(EcsError::invalid(format!(
            "The specified platform version {p} does not exist or is not supported: Ferrogate provides 1.4.0 (LATEST)."
        ))),
    }
}

/// `RunTask`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunTaskInput {
    task_definition: String,
    #[serde(default)]
    cluster: Option<String>,
    #[serde(default)]
    count: Option<i64>,
    #[serde(default)]
    launch_type: Option<String>,
    #[serde(default)]
    capacity_provider_strategy: Option<Vec<StrategyIn>>,
    #[serde(default)]
    network_configuration: Option<NetworkConfigurationIn>,
    #[serde(default)]
    overrides: Option<OverridesIn>,
    #[serde(default)]
    platform_version: Option<String>,
    #[serde(default)]
    group: Option<String>,
    #[serde(default)]
    started_by: Option<String>,
    #[serde(default)]
    tags: Vec<TagIn>,
    #[serde(default)]
    client_token: Option<String>,
    #[serde(default)]
    enable_execute_command: Option<bool>,
}

impl RunTaskInput {
    pub(crate) fn validated(self) -> Result<Self, EcsError> {
        if !(1..=10).contains(&self.count.unwrap_or(1)) {
            return Err(EcsError::invalid("count must be between 1 and 10."));
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
            if self.launch_type.is_some() {
                return Err(EcsError::invalid(
                    "Specifying both a launchType and capacityProviderStrategy is not supported.",
                ));
            }
            if let Some(bad) = s
                .iter()
                .find(|s| !matches!(s.capacity_provider.as_str(), "FARGATE" | "FARGATE_SPOT"))
            {
                return Err(EcsError::invalid(format!(
                    "The specified capacity provider '{}' does not exist. Ferrogate's capacity providers are FARGATE and FARGATE_SPOT.",
                    bad.capacity_provider
                )));
            }
        }
        check_platform(self.platform_version.as_deref())?;
        if let Some(t) = &self.client_token {
            if t.is_empty() || t.len() > 64 || !t.bytes().all(|b| (33..=126).contains(&b)) {
                return Err(EcsError::invalid(
                    "clientToken must be 1 to 64 ASCII characters from 33 to 126.",
                ));
            }
        }
        if self.started_by.as_ref().is_some_and(|s| s.len() > 128) {
            return Err(EcsError::invalid(
                "startedBy can have up to 128 characters.",
            ));
        }
        if self
            .group
            .as_ref()
            .is_some_and(|g| g.is_empty() || g.len() > 255)
        {
            return Err(EcsError::invalid("group must have 1 to 255 characters."));
        }
        if self.enable_execute_command == Some(true) {
            return Err(EcsError::invalid(
                "enableExecuteCommand is not supported by Ferrogate.",
            ));
        }
        if let Some(e) = self
            .overrides
            .as_ref()
            .and_then(|o| o.ephemeral_storage.as_ref())
        {
            if !(21..=200).contains(&e.size_in_gi_b) {
                return Err(EcsError::invalid(
                    "The ephemeral storage size must be between 21 and 200 GiB.",
                ));
            }
        }
        c::check_tags(&self.tags)?;
        Ok(self)
    }

    fn cluster_ref(&self) -> &str {
        self.cluster.as_deref().unwrap_or("default")
    }
}

impl Operation for RunTaskInput {
    type Output = TasksAnswer;

    /// On the task definition, with `ecs:cluster`; with tags, `ecs:TagResource` too (with
    /// `ecs:CreateAction`: the tasks do not exist yet).
    fn authorize(&self, s: &Scope<'_, Ecs>) -> Result<Authorization, EcsError> {
        let cl = active(s.tx, s.account(), s.region, self.cluster_ref())?;
        let td = crate::taskdef::find(s.tx, s.account(), s.region, &self.task_definition)?
            .ok_or_else(|| EcsError::client("TaskDefinition not found."))?;
        let keys = cluster_key(cl.arn());
        let run = Check::new(
            action::<Self>(),
            existing(td.arn(), &td.tags),
            request_tags(&self.tags),
        )
        .keys(keys.clone());
        let mut auth = Authorization::of(run);
        if !self.tags.is_empty() {
            auth = auth.and(
                Check::new("ecs:TagResource", Resource::Any, request_tags(&self.tags))
                    .keys(keys)
                    .key("ecs:CreateAction", vec!["RunTask".to_owned()]),
            );
        }
        Ok(auth)
    }

    fn after_commit(&self, ecs: &Ecs) {
        ecs.wake();
    }

    fn execute(this: &Authorized<Self>, x: Exec<'_, Ecs>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let (account, region) = (ctx.principal.account.as_str(), ctx.region);
        let cl = active(tx.read(), account, region, this.cluster_ref())?;
        let canonical = serde_json::to_string(&json!({
            "taskDefinition": this.task_definition, "cluster": cl.name, "count": this.count,
            "overrides": this.overrides, "startedBy": this.started_by, "group": this.group,
        }))
        .unwrap_or_default();
        if let Some(t) = &this.client_token {
            let key = task::task_key(account, region, &cl.name, t);
            if let Some(prev) = tables::CLIENT_TOKENS.get(tx.read(), &key)? {
                if prev.request != canonical {
                    return Err(EcsError::invalid(
                        "The clientToken was already used for a different request.",
                    ));
                }
                let tasks = prev
                    .task_ids
                    .iter()
                    .filter_map(|id| {
                        tables::TASKS
                            .get(tx.read(), &task::task_key(account, region, &cl.name, id))
                            .transpose()
                    })
                    .collect::<Result<Vec<Task>, _>>()?;
                return Ok(recorded(TasksAnswer {
                    tasks: tasks.iter().map(|t| TaskView::of(t, false)).collect(),
                    failures: Vec::new(),
                }));
            }
        }
        let td = runnable_task_definition(tx.read(), account, region, &this.task_definition)?;
        let body = &td.body;
        let network = placed(this.network_configuration.as_ref(), &mut tx, &ctx)?;
        let overrides = this.overrides.clone().unwrap_or_default();
        let defs = taskdef::containers(&td)?;
        let unsupported = |what: String| {
            EcsError::UnsupportedFeatureException(format!(
                "{what} is not supported by Ferrogate: the task would run without it, so none is started."
            ))
        };
        if overrides
            .inference_accelerator_overrides
            .as_ref()
            .is_some_and(|v| !v.is_empty())
        {
            return Err(unsupported(
                "overrides.inferenceAcceleratorOverrides".into(),
            ));
        }
        for o in &overrides.container_overrides {
            let name = o.name.as_deref().unwrap_or("");
            for (what, v) in [
                ("environmentFiles", &o.environment_files),
                ("resourceRequirements", &o.resource_requirements),
            ] {
                if v.as_ref().is_some_and(|v| !v.is_empty()) {
                    return Err(unsupported(format!(
                        "overrides.containerOverrides[{name}].{what}"
                    )));
                }
            }
            if !defs.iter().any(|d| d.name.as_deref() == Some(name)) {
                return Err(EcsError::invalid(format!(
                    "Override for container named {name} is not a container in the TaskDefinition."
                )));
            }
        }
        let cpu = match &overrides.cpu {
            Some(s) => taskdef::normalize_cpu(s)
                .ok_or_else(|| EcsError::invalid(format!("Invalid cpu override '{s}'.")))?
                .to_string(),
            None => body["cpu"].as_str().unwrap_or_default().to_owned(),
        };
        let memory = match &overrides.memory {
            Some(s) => taskdef::normalize_memory(s)
                .ok_or_else(|| EcsError::invalid(format!("Invalid memory override '{s}'.")))?
                .to_string(),
            None => body["memory"].as_str().unwrap_or_default().to_owned(),
        };
        let (cpu_n, mem_n) = (
            cpu.parse::<u32>().unwrap_or(0),
            memory.parse::<u32>().unwrap_or(0),
        );
        if !taskdef::fargate_size_valid(cpu_n, mem_n) {
            return Err(EcsError::client(
                "No Fargate configuration exists for given values.",
            ));
        }
        let ephemeral_gib = overrides
            .ephemeral_storage
            .as_ref()
            .map(|e| e.size_in_gi_b)
            .or_else(|| body["ephemeralStorage"]["sizeInGiB"].as_i64())
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or(20);
        let tags = c::check_tags(&this.tags)?;
        let key = fargate_key(&cl);
        let (containers, volumes) = task_containers(&td, &overrides.container_overrides)?;
        let mut tasks = Vec::new();
        for _ in 0..this.count.unwrap_or(1) {
            let t = Task {
                cpu: cpu.clone(),
                memory: memory.clone(),
                ephemeral_gib,
                started_by: this.started_by.clone(),
                group: this
                    .group
                    .clone()
                    .unwrap_or_else(|| format!("family:{}", td.family)),
                overrides: serde_json::to_value(&overrides).unwrap_or(Value::Null),
                ..new_task(
                    &cl,
                    &td,
                    containers.clone(),
                    volumes.clone(),
                    key.clone(),
                    &network,
                    &tags,
                    ctx.now,
                )?
            };
            save_new(&mut tx, &t)?;
            tasks.push(t);
        }
        if let Some(t) = &this.client_token {
            tables::CLIENT_TOKENS.put(
                tx.write()?,
                &task::task_key(account, region, &cl.name, t),
                &ClientToken {
                    request: canonical,
                    task_ids: tasks.iter().map(|t| t.id.clone()).collect(),
                    at: ctx.now,
                },
            )?;
        }
        let mut done = recorded(TasksAnswer {
            tasks: tasks.iter().map(|t| TaskView::of(t, false)).collect(),
            failures: Vec::new(),
        });
        for t in &tasks {
            done = done.resource(RESOURCE, t.arn());
        }
        Ok(done)
    }
}

/// The task `reference` (an id or a task ARN) names in cluster `cl`.
fn find_task(tx: &dyn ReadTx, cl: &Cluster, reference: &str) -> Result<Option<Task>, EcsError> {
    let id = match reference.strip_prefix("arn:") {
        Some(_) => {
            let prefix = format!("arn:aws:ecs:{}:{}:task/", cl.region, cl.account);
            let Some(rest) = reference.strip_prefix(&prefix) else {
                return Ok(None);
            };
            match rest.split_once('/') {
                Some((cluster, id)) if cluster == cl.name => id,
                Some(_) => return Ok(None),
                None => rest,
            }
        }
        None => reference,
    };
    if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    Ok(tables::TASKS.get(tx, &task::task_key(&cl.account, &cl.region, &cl.name, id))?)
}

/// `StopTask`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StopTaskInput {
    task: String,
    #[serde(default)]
    cluster: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

impl StopTaskInput {
    pub(crate) fn validated(self) -> Result<Self, EcsError> {
        if self.reason.as_ref().is_some_and(|r| r.len() > 255) {
            return Err(EcsError::invalid("reason can have up to 255 characters."));
        }
        Ok(self)
    }

    fn cluster_ref(&self) -> &str {
        self.cluster.as_deref().unwrap_or("default")
    }
}

fn task_not_found() -> EcsError {
    EcsError::invalid("The referenced task was not found.")
}

impl Operation for StopTaskInput {
    type Output = TaskAnswer;

    fn authorize(&self, s: &Scope<'_, Ecs>) -> Result<Authorization, EcsError> {
        let cl = active(s.tx, s.account(), s.region, self.cluster_ref())?;
        let t = find_task(s.tx, &cl, &self.task)?.ok_or_else(task_not_found)?;
        Ok(on::<Self>(
            existing(t.arn(), &t.tags),
            cluster_key(cl.arn()),
        ))
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
        let mut t = find_task(tx.read(), &cl, &this.task)?.ok_or_else(task_not_found)?;
        if t.desired != "STOPPED" {
            t.desired = "STOPPED".into();
            t.stop_code = Some("UserInitiated".into());
            t.stopped_reason = Some(
                this.reason
                    .clone()
                    .unwrap_or_else(|| "Task stopped by user".into()),
            );
            t.version += 1;
            let w = tx.write()?;
            tables::TASKS.put(w, &t.task_ref().key(), &t)?;
            tables::WORK.put(w, &task::id_key(&t.id), &t.task_ref())?;
        }
        Ok(recorded(TaskAnswer {
            task: TaskView::of(&t, false),
        })
        .resource(RESOURCE, t.arn()))
    }
}

/// `DescribeTasks`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeTasksInput {
    tasks: Vec<String>,
    #[serde(default)]
    cluster: Option<String>,
    #[serde(default)]
    include: Vec<String>,
}

impl DescribeTasksInput {
    pub(crate) fn validated(self) -> Result<Self, EcsError> {
        if self.tasks.is_empty() {
            return Err(EcsError::invalid("Tasks cannot be empty."));
        }
        if self.tasks.len() > 100 {
            return Err(EcsError::invalid("tasks can have at most 100 items."));
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

impl Operation for DescribeTasksInput {
    type Output = TasksAnswer;

    /// Every task named, as stored (with its tags) when it exists, with `ecs:cluster`.
    fn authorize(&self, s: &Scope<'_, Ecs>) -> Result<Authorization, EcsError> {
        let cl = active(s.tx, s.account(), s.region, self.cluster_ref())?;
        let mut resources = Vec::new();
        for r in &self.tasks {
            resources.push(match find_task(s.tx, &cl, r)? {
                Some(t) => existing(t.arn(), &t.tags),
                None => Resource::Named(format!(
                    "arn:aws:ecs:{}:{}:task/{}/{}",
                    cl.region,
                    cl.account,
                    cl.name,
                    r.rsplit('/').next().unwrap_or(r)
                )),
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
        let with_tags = !this.include.is_empty();
        let (mut tasks, mut failures) = (Vec::new(), Vec::new());
        for r in &this.tasks {
            match find_task(tx.read(), &cl, r)? {
                Some(t) => tasks.push(TaskView::of(&t, with_tags)),
                None => {
                    let arn = if r.starts_with("arn:") {
                        r.clone()
                    } else {
                        format!(
                            "arn:aws:ecs:{}:{}:task/{}/{}",
                            cl.region, cl.account, cl.name, r
                        )
                    };
                    failures.push(Failure::missing(arn));
                }
            }
        }
        Ok(Reply::new(TasksAnswer { tasks, failures }))
    }
}

/// `ListTasks`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListTasksInput {
    #[serde(default)]
    cluster: Option<String>,
    #[serde(default)]
    family: Option<String>,
    #[serde(default)]
    started_by: Option<String>,
    #[serde(default)]
    service_name: Option<String>,
    #[serde(default)]
    desired_status: Option<String>,
    #[serde(default)]
    launch_type: Option<String>,
    #[serde(default)]
    container_instance: Option<String>,
    #[serde(default)]
    next_token: Option<String>,
    #[serde(default)]
    max_results: Option<i64>,
}

impl ListTasksInput {
    pub(crate) fn validated(self) -> Result<Self, EcsError> {
        max_results(self.max_results, 100)?;
        if let Some(s) = &self.desired_status {
            if !matches!(s.as_str(), "RUNNING" | "PENDING" | "STOPPED") {
                return Err(EcsError::invalid(format!(
                    "Invalid desiredStatus '{s}': must be RUNNING, PENDING or STOPPED."
                )));
            }
        }
        if let Some(t) = &self.next_token {
            token::parse(&self.listing(), t)?;
        }
        Ok(self)
    }

    fn cluster_ref(&self) -> &str {
        self.cluster.as_deref().unwrap_or("default")
    }

    fn listing(&self) -> String {
        format!(
            "tasks-{}-{}-{}-{}",
            self.cluster_ref().rsplit('/').next().unwrap_or(""),
            self.desired_status.as_deref().unwrap_or("RUNNING"),
            self.family.as_deref().unwrap_or(""),
            self.started_by.as_deref().unwrap_or("")
        )
    }
}

impl Operation for ListTasksInput {
    type Output = Listing;

    /// No resource type in the reference (the listing is the cluster's), with `ecs:cluster`.
    fn authorize(&self, s: &Scope<'_, Ecs>) -> Result<Authorization, EcsError> {
        let cl = active(s.tx, s.account(), s.region, self.cluster_ref())?;
        Ok(on::<Self>(Resource::Any, cluster_key(cl.arn())))
    }

    fn execute(this: &Authorized<Self>, x: Exec<'_, Ecs>) -> Done<Self> {
        let Exec { tx, ctx, .. } = x;
        let limit = max_results(this.max_results, 100)?;
        let cl = active(
            tx.read(),
            ctx.principal.account.as_str(),
            ctx.region,
            this.cluster_ref(),
        )?;
        let desired = this.desired_status.as_deref().unwrap_or("RUNNING");
        let mut ids = Vec::new();
        // Services and container instances do not exist yet: nothing matches them.
        // Container instances do not exist (Fargate): nothing matches one.
        let impossible = this.container_instance.is_some()
            || this.launch_type.as_deref().is_some_and(|l| l != "FARGATE");
        if !impossible {
            for t in task::cluster_tasks(tx.read(), &cl)? {
                let family_ok = this.family.as_deref().is_none_or(|f| {
                    t.task_definition_arn
                        .rsplit('/')
                        .next()
                        .and_then(|s| s.split(':').next())
                        == Some(f)
                });
                let service_ok = this.service_name.as_deref().is_none_or(|s| {
                    let name = s.rsplit('/').next().unwrap_or(s);
                    t.group == format!("service:{name}")
                });
                let desired_ok = service_ok
                    && if desired == "PENDING" {
                        false
                    } else {
                        t.desired == desired
                    };
                if family_ok
                    && desired_ok
                    && this
                        .started_by
                        .as_deref()
                        .is_none_or(|s| t.started_by.as_deref() == Some(s))
                {
                    ids.push(t.id);
                }
            }
        }
        let start = match &this.next_token {
            Some(tok) => {
                let after = token::parse(&this.listing(), tok)?;
                ids.iter().position(|i| *i > after).unwrap_or(ids.len())
            }
            None => 0,
        };
        let page: Vec<&String> = ids.iter().skip(start).take(limit).collect();
        let more = ids.len() > start + page.len();
        let arns: Vec<String> = page
            .iter()
            .map(|id| {
                format!(
                    "arn:aws:ecs:{}:{}:task/{}/{}",
                    cl.region, cl.account, cl.name, id
                )
            })
            .collect();
        let next = if more {
            page.last().map(|last| token::make(&this.listing(), last))
        } else {
            None
        };
        Ok(Reply::new(Listing::new(ListingItems::TaskArns(arns), next)))
    }
}
