//! Building tasks from task definitions: the checks a definition must pass before tasks of
//! it start (RunTask, CreateService, UpdateService, and the service reconciler at every
//! launch) and the one constructor of a new task record.
//!
//! Below both the API (`ops`) and the service reconciler (`service`), which share it.

use ferrogate_store::{ReadTx, TxRef};
use ferrogate_types::Timestamp;
use serde_json::Value;

use crate::model::{Cluster, Tag, TaskDefinition};
use crate::task::{self, tables, Task};
use crate::{ids, mounts, support, taskdef, EcsError};

/// The ACTIVE Fargate-compatible task definition `reference` names.
pub(crate) fn runnable_task_definition(
    tx: &dyn ReadTx,
    account: &str,
    region: &str,
    reference: &str,
) -> Result<TaskDefinition, EcsError> {
    let td = taskdef::find(tx, account, region, reference)?
        .ok_or_else(|| EcsError::client("TaskDefinition not found."))?;
    if !td.active {
        return Err(EcsError::client(format!(
            "TaskDefinition is inactive: {} cannot run new tasks.",
            td.arn()
        )));
    }
    let fargate = td.body["compatibilities"]
        .as_array()
        .is_some_and(|a| a.iter().any(|c| c == "FARGATE"));
    if !fargate {
        return Err(EcsError::client(
            "Task definition does not support launch_type FARGATE.",
        ));
    }
    launchable(&td)?;
    Ok(td)
}

/// Whether tasks of `td` can run as written: no member Ferrogate cannot apply, and its
/// containers, mounts and health checks check out (they were checked at registration;
/// checked again for definitions stored before a check existed). Used by RunTask,
/// CreateService and UpdateService, and by the service reconciler at every launch.
pub(crate) fn launchable(td: &TaskDefinition) -> Result<(), EcsError> {
    if let Some(m) = support::unsupported(&td.body) {
        return Err(EcsError::UnsupportedFeatureException(m));
    }
    task_containers(td, &[]).map(drop)
}

/// A task's containers (the definition's, with `overrides` applied and mounts resolved) and
/// its task volumes.
pub(crate) fn task_containers(
    td: &TaskDefinition,
    overrides: &[task::ContainerOverride],
) -> Result<(Vec<task::TaskContainer>, Vec<String>), EcsError> {
    let defs = taskdef::containers(td)?;
    let volumes = mounts::volume_names(td.body["volumes"].as_array().map_or(&[], |v| v))?;
    let mounts = mounts::resolve(&defs, &volumes)?;
    let containers = defs
        .iter()
        .zip(mounts)
        .map(|(d, m)| {
            let ov = overrides
                .iter()
                .find(|o| o.name.as_deref() == d.name.as_deref());
            task::container_from(d, ov, m)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((containers, volumes))
}

/// A task of a service's deployment: the task definition as registered (no overrides), the
/// deployment's key, `startedBy` = the deployment id, `group` = `service:<name>`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn service_task(
    td: &TaskDefinition,
    cl: &Cluster,
    key: Option<String>,
    deployment_id: &str,
    service: &str,
    network: &Value,
    tags: &[Tag],
    now: Timestamp,
) -> Result<Task, EcsError> {
    let body = &td.body;
    let (containers, volumes) = task_containers(td, &[])?;
    Ok(Task {
        cpu: body["cpu"].as_str().unwrap_or_default().to_owned(),
        memory: body["memory"].as_str().unwrap_or_default().to_owned(),
        ephemeral_gib: body["ephemeralStorage"]["sizeInGiB"]
            .as_i64()
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or(20),
        started_by: Some(deployment_id.to_owned()),
        group: format!("service:{service}"),
        ..new_task(cl, td, containers, volumes, key, network, tags, now)?
    })
}

/// A new task of `td` in `cl`, as RunTask and the service scheduler record it: a fresh id
/// and volume id, PROVISIONING with desired RUNNING, nothing launched yet. Both callers set
/// `cpu`, `memory`, `ephemeralGib`, `startedBy` and `group` themselves (struct update), and
/// RunTask its `overrides`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn new_task(
    cl: &Cluster,
    td: &TaskDefinition,
    containers: Vec<task::TaskContainer>,
    volumes: Vec<String>,
    key: Option<String>,
    network: &Value,
    tags: &[Tag],
    now: Timestamp,
) -> Result<Task, EcsError> {
    Ok(Task {
        account: cl.account.clone(),
        region: cl.region.clone(),
        cluster: cl.name.clone(),
        id: ids::random_hex(16)?,
        task_definition_arn: td.arn(),
        cpu: String::new(),
        memory: String::new(),
        containers,
        volumes,
        ephemeral_gib: 20,
        kms_key_arn: key,
        volume_id: format!("vol-{}", &ids::random_hex(9)?[..17]),
        desired: "RUNNING".into(),
        last: "PROVISIONING".into(),
        version: 1,
        created_at: now,
        pull_started_at: None,
        pull_stopped_at: None,
        started_at: None,
        stopping_at: None,
        execution_stopped_at: None,
        stopped_at: None,
        stop_code: None,
        stopped_reason: None,
        started_by: None,
        group: String::new(),
        overrides: serde_json::json!({}),
        network: network.clone(),
        tags: tags.to_vec(),
        launched: false,
        grant_id: None,
        grant_retired: false,
        eni: None,
        execution_role_arn: td.body["executionRoleArn"].as_str().map(str::to_owned),
    })
}

/// The key a task launched now in `cl` is encrypted under.
pub(crate) fn fargate_key(cl: &Cluster) -> Option<String> {
    cl.configuration
        .managed_storage
        .as_ref()
        .and_then(|m| m.fargate_key_arn.clone())
}

pub(crate) fn save_new(tx: &mut TxRef<'_>, t: &Task) -> Result<(), EcsError> {
    let w = tx.write()?;
    tables::TASKS.put(w, &t.task_ref().key(), t)?;
    tables::LIVE.put(w, &task::id_key(&t.id), &t.task_ref())?;
    tables::WORK.put(w, &task::id_key(&t.id), &t.task_ref())?;
    Ok(())
}
