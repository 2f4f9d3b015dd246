//! Task definitions: what RegisterTaskDefinition takes, AWS's Fargate validation (network
//! mode, task-level `cpu`/`memory` from the valid table, `ephemeralStorage` 21–200 GiB),
//! the normalisation ECS applies (`"1 vCPU"` → `"1024"`, `"2 GB"` → `"2048"`, container
//! defaults), and the API's JSON. Messages follow shared/spec/aws-behaviour.md §2.

use ferrogate_store::{Direction, ReadTx};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::cluster::{is_name, TagIn};
use crate::model::{keys, tables, TaskDefinition};
use crate::EcsError;

/// `RegisterTaskDefinition`'s members.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisterInput {
    /// `family`.
    pub family: String,
    /// `containerDefinitions`.
    pub container_definitions: Vec<Value>,
    /// `taskRoleArn`.
    #[serde(default)]
    pub task_role_arn: Option<String>,
    /// `executionRoleArn`.
    #[serde(default)]
    pub execution_role_arn: Option<String>,
    /// `networkMode`.
    #[serde(default)]
    pub network_mode: Option<String>,
    /// `volumes`.
    #[serde(default)]
    pub volumes: Vec<Value>,
    /// `placementConstraints`.
    #[serde(default)]
    pub placement_constraints: Vec<Value>,
    /// `requiresCompatibilities`.
    #[serde(default)]
    pub requires_compatibilities: Option<Vec<String>>,
    /// `cpu`.
    #[serde(default)]
    pub cpu: Option<String>,
    /// `memory`.
    #[serde(default)]
    pub memory: Option<String>,
    /// `tags`.
    #[serde(default)]
    pub tags: Vec<TagIn>,
    /// `pidMode`.
    #[serde(default)]
    pub pid_mode: Option<String>,
    /// `ipcMode`.
    #[serde(default)]
    pub ipc_mode: Option<String>,
    /// `proxyConfiguration`.
    #[serde(default)]
    pub proxy_configuration: Option<Value>,
    /// `inferenceAccelerators`.
    #[serde(default)]
    pub inference_accelerators: Option<Vec<Value>>,
    /// `ephemeralStorage`.
    #[serde(default)]
    pub ephemeral_storage: Option<EphemeralStorageIn>,
    /// `runtimePlatform`.
    #[serde(default)]
    pub runtime_platform: Option<RuntimePlatformIn>,
    /// `enableFaultInjection`.
    #[serde(default)]
    pub enable_fault_injection: Option<bool>,
}

/// `ephemeralStorage`.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EphemeralStorageIn {
    /// `sizeInGiB`.
    pub size_in_gi_b: i64,
}

/// `runtimePlatform`.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuntimePlatformIn {
    /// `X86_64` or `ARM64`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_architecture: Option<String>,
    /// `LINUX`, `WINDOWS_SERVER_…`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operating_system_family: Option<String>,
}

/// The members of a container definition that Ferrogate checks and runs with; the others
/// are kept as given.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerDef {
    /// `name`.
    #[serde(default)]
    pub name: Option<String>,
    /// `image`.
    #[serde(default)]
    pub image: Option<String>,
    /// `essential` (default true).
    #[serde(default)]
    pub essential: Option<bool>,
    /// `command`.
    #[serde(default)]
    pub command: Option<Vec<String>>,
    /// `entryPoint`.
    #[serde(default)]
    pub entry_point: Option<Vec<String>>,
    /// `environment`.
    #[serde(default)]
    pub environment: Option<Vec<KeyValue>>,
    /// `workingDirectory`.
    #[serde(default)]
    pub working_directory: Option<String>,
    /// `user`.
    #[serde(default)]
    pub user: Option<String>,
    /// `stopTimeout` in seconds.
    #[serde(default)]
    pub stop_timeout: Option<i64>,
    /// `cpu` units.
    #[serde(default)]
    pub cpu: Option<i64>,
    /// `memory` MiB (hard limit).
    #[serde(default)]
    pub memory: Option<i64>,
    /// `memoryReservation` MiB.
    #[serde(default)]
    pub memory_reservation: Option<i64>,
    /// `mountPoints`.
    #[serde(default)]
    pub mount_points: Option<Vec<crate::mounts::MountPointIn>>,
    /// `volumesFrom`.
    #[serde(default)]
    pub volumes_from: Option<Vec<crate::mounts::VolumeFromIn>>,
    /// `readonlyRootFilesystem`.
    #[serde(default)]
    pub readonly_root_filesystem: Option<bool>,
    /// `healthCheck`.
    #[serde(default)]
    pub health_check: Option<crate::health::HealthCheckIn>,
    /// `logConfiguration` (checked by [`crate::logconfig::check`]).
    #[serde(default)]
    pub log_configuration: Option<Value>,
}

impl crate::mounts::Mounting for ContainerDef {
    fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
    fn mount_points(&self) -> &[crate::mounts::MountPointIn] {
        self.mount_points.as_deref().unwrap_or_default()
    }
    fn volumes_from(&self) -> &[crate::mounts::VolumeFromIn] {
        self.volumes_from.as_deref().unwrap_or_default()
    }
}

/// `{name, value}`.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq, Eq)]
pub struct KeyValue {
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Value.
    #[serde(default)]
    pub value: Option<String>,
}

/// Valid Fargate (Linux) task sizes: cpu units → allowed memory MiB.
pub fn fargate_size_valid(cpu: u32, memory: u32) -> bool {
    let step = |lo: u32, hi: u32, by: u32| memory >= lo && memory <= hi && (memory - lo) % by == 0;
    match cpu {
        256 => matches!(memory, 512 | 1024 | 2048),
        512 => step(1024, 4096, 1024),
        1024 => step(2048, 8192, 1024),
        2048 => step(4096, 16384, 1024),
        4096 => step(8192, 30720, 1024),
        8192 => step(16384, 61440, 4096),
        16384 => step(32768, 122880, 8192),
        _ => false,
    }
}

/// `cpu` as ECS normalises it: CPU units (`"256"`) or vCPUs (`"1 vCPU"`, `".25 vcpu"`).
pub fn normalize_cpu(s: &str) -> Option<u32> {
    parse_units(s, &["vcpu"], 1024)
}

/// `memory` as ECS normalises it: MiB (`"512"`) or GB (`"2 GB"`, `"0.5GB"`).
pub fn normalize_memory(s: &str) -> Option<u32> {
    parse_units(s, &["gb"], 1024)
}

fn parse_units(s: &str, suffixes: &[&str], factor: u32) -> Option<u32> {
    let t = s.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        return t.parse::<u32>().ok().filter(|v| *v > 0);
    }
    let lower = t.to_ascii_lowercase();
    let number = suffixes
        .iter()
        .find_map(|suf| lower.strip_suffix(suf))?
        .trim();
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    let v: f64 = number.parse().ok()?;
    let units = v * f64::from(factor);
    if !(units >= 1.0 && units <= f64::from(u32::MAX) && units.fract() == 0.0) {
        return None;
    }
    // In range and whole, checked above.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Some(units as u32)
}

fn client(m: impl Into<String>) -> EcsError {
    EcsError::client(m)
}

/// The checked, normalised definition: the members stored as the definition's body, and
/// whether it is Fargate-compatible.
pub fn normalize(input: &RegisterInput) -> Result<Value, EcsError> {
    if !is_name(&input.family) {
        return Err(client(
            "Family name can have up to 255 characters; valid characters are letters (uppercase and lowercase), numbers, hyphens and underscores.",
        ));
    }
    if input.container_definitions.is_empty() {
        return Err(client("Container list cannot be empty."));
    }
    if input.container_definitions.len() > 10 {
        return Err(client(
            "A task definition can have at most 10 container definitions.",
        ));
    }
    let network_mode = input.network_mode.as_deref();
    if let Some(m) = network_mode {
        if !matches!(m, "bridge" | "host" | "awsvpc" | "none") {
            return Err(client(format!(
                "Invalid networkMode '{m}': must be bridge, host, awsvpc or none."
            )));
        }
    }
    let requires = input.requires_compatibilities.clone().unwrap_or_default();
    for r in &requires {
        if !matches!(
            r.as_str(),
            "EC2" | "FARGATE" | "EXTERNAL" | "MANAGED_INSTANCES"
        ) {
            return Err(client(format!(
                "Invalid requiresCompatibilities value '{r}': must be EC2, FARGATE, EXTERNAL or MANAGED_INSTANCES."
            )));
        }
    }
    let cpu = match &input.cpu {
        None => None,
        Some(s) => Some(normalize_cpu(s).ok_or_else(|| {
            client(format!(
                "Invalid 'cpu' setting for task: '{s}' is neither CPU units nor vCPUs."
            ))
        })?),
    };
    let memory = match &input.memory {
        None => None,
        Some(s) => Some(normalize_memory(s).ok_or_else(|| {
            client(format!(
                "Invalid 'memory' setting for task: '{s}' is neither MiB nor GB."
            ))
        })?),
    };
    if let Some(e) = &input.ephemeral_storage {
        if !(21..=200).contains(&e.size_in_gi_b) {
            return Err(client(
                "The ephemeral storage size must be between 21 and 200 GiB.",
            ));
        }
    }
    let fargate_size = matches!((cpu, memory), (Some(c), Some(m)) if fargate_size_valid(c, m));
    if requires.iter().any(|r| r == "FARGATE") {
        if network_mode != Some("awsvpc") {
            return Err(client("Fargate only supports network mode 'awsvpc'."));
        }
        if cpu.is_none() {
            return Err(client(
                "Fargate requires that 'cpu' be defined at the task level.",
            ));
        }
        if memory.is_none() {
            return Err(client(
                "Fargate requires that 'memory' be defined at the task level.",
            ));
        }
        if !fargate_size {
            return Err(client("No Fargate configuration exists for given values."));
        }
        if input.ipc_mode.is_some() {
            return Err(client(
                "Tasks using the Fargate launch type do not support ipcMode.",
            ));
        }
        if input.pid_mode.as_deref() == Some("host") {
            return Err(client(
                "Tasks using the Fargate launch type do not support pidMode 'host'.",
            ));
        }
    }
    let containers = normalize_containers(&input.container_definitions, network_mode)?;
    if requires.iter().any(|r| r == "FARGATE") {
        for c in &containers {
            crate::logconfig::check(&c["logConfiguration"], input.execution_role_arn.is_some())?;
        }
    }
    let volume_names = crate::mounts::volume_names(&input.volumes)?;
    let defs = containers
        .iter()
        .map(|c| serde_json::from_value::<ContainerDef>(c.clone()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| client(format!("Invalid container definition: {e}")))?;
    crate::mounts::resolve(&defs, &volume_names)?;

    let mut body = Map::new();
    body.insert("family".into(), json!(input.family));
    body.insert("containerDefinitions".into(), Value::Array(containers));
    if let Some(r) = &input.task_role_arn {
        body.insert("taskRoleArn".into(), json!(r));
    }
    if let Some(r) = &input.execution_role_arn {
        body.insert("executionRoleArn".into(), json!(r));
    }
    body.insert(
        "networkMode".into(),
        json!(network_mode.unwrap_or("bridge")),
    );
    body.insert("volumes".into(), json!(input.volumes));
    body.insert(
        "placementConstraints".into(),
        json!(input.placement_constraints),
    );
    let mut compat = vec!["EC2"];
    if network_mode == Some("awsvpc") && fargate_size && input.ipc_mode.is_none() {
        compat.push("FARGATE");
    }
    if requires.iter().any(|r| r == "EXTERNAL") {
        compat.push("EXTERNAL");
    }
    body.insert("compatibilities".into(), json!(compat));
    if input.requires_compatibilities.is_some() {
        body.insert("requiresCompatibilities".into(), json!(requires));
    }
    let mut attrs = vec![json!({"name": "com.amazonaws.ecs.capability.docker-remote-api.1.18"})];
    if network_mode == Some("awsvpc") {
        attrs.push(json!({"name": "ecs.capability.task-eni"}));
    }
    body.insert("requiresAttributes".into(), Value::Array(attrs));
    if let Some(c) = cpu {
        body.insert("cpu".into(), json!(c.to_string()));
    }
    if let Some(m) = memory {
        body.insert("memory".into(), json!(m.to_string()));
    }
    if let Some(p) = &input.pid_mode {
        body.insert("pidMode".into(), json!(p));
    }
    if let Some(p) = &input.ipc_mode {
        body.insert("ipcMode".into(), json!(p));
    }
    if let Some(p) = &input.proxy_configuration {
        body.insert("proxyConfiguration".into(), p.clone());
    }
    if let Some(a) = &input.inference_accelerators {
        body.insert("inferenceAccelerators".into(), json!(a));
    }
    if let Some(e) = &input.ephemeral_storage {
        body.insert("ephemeralStorage".into(), json!(e));
    }
    if let Some(r) = &input.runtime_platform {
        body.insert("runtimePlatform".into(), json!(r));
    }
    body.insert(
        "enableFaultInjection".into(),
        json!(input.enable_fault_injection.unwrap_or(false)),
    );
    Ok(Value::Object(body))
}

fn normalize_containers(
    defs: &[Value],
    network_mode: Option<&str>,
) -> Result<Vec<Value>, EcsError> {
    let mut names: Vec<String> = Vec::new();
    let mut mapped = crate::ports::Mapped::new();
    let mut out = Vec::with_capacity(defs.len());
    let mut any_essential = false;
    for (i, d) in defs.iter().enumerate() {
        let Value::Object(obj) = d else {
            return Err(client(format!(
                "Container definition {i} must be an object."
            )));
        };
        let c: ContainerDef = serde_json::from_value(d.clone()).map_err(|e| {
            client(format!(
                "Container definition {i} has a member of the wrong type: {}",
                e.to_string()
                    .split(" at line")
                    .next()
                    .unwrap_or("invalid member")
            ))
        })?;
        let name = c.name.clone().unwrap_or_default();
        if !is_name(&name) {
            return Err(client(
                "Container name can have up to 255 characters; valid characters are letters (uppercase and lowercase), numbers, hyphens and underscores.",
            ));
        }
        // The host runtime names cgroups and files after containers; a leading '-' is
        // refused here, where AWS accepts it, rather than at every launch.
        if name.starts_with('-') {
            return Err(client(format!(
                "Container name '{name}' must start with a letter, number or underscore."
            )));
        }
        if names.contains(&name) {
            return Err(client(format!(
                "Container names must be unique within a task definition: {name}."
            )));
        }
        names.push(name.clone());
        match c.image.as_deref() {
            Some(img) if !img.is_empty() && img.len() <= 2048 => {}
            _ => {
                return Err(client(format!(
                    "Container.image should not be null or empty (container {name})."
                )))
            }
        }
        if let Some(t) = c.stop_timeout {
            if !(0..=120).contains(&t) {
                return Err(client(format!(
                    "stopTimeout of container {name} must be between 0 and 120 seconds."
                )));
            }
        }
        for (what, v) in [
            ("cpu", c.cpu),
            ("memory", c.memory),
            ("memoryReservation", c.memory_reservation),
        ] {
            if v.is_some_and(|v| v < 0 || (what != "cpu" && v < 6)) {
                return Err(client(format!(
                    "Invalid '{what}' setting for container '{name}'."
                )));
            }
        }
        if let Some(env) = &c.environment {
            if env
                .iter()
                .any(|kv| kv.name.as_deref().is_none_or(str::is_empty))
            {
                return Err(client(format!(
                    "Every environment variable of container {name} needs a name."
                )));
            }
        }
        if network_mode == Some("awsvpc") && obj.contains_key("hostname") {
            return Err(client(
                "hostname is not supported on container when networkMode=awsvpc.",
            ));
        }
        let essential = c.essential.unwrap_or(true);
        any_essential |= essential;
        let mut o = obj.clone();
        if let Some(pm) =
            crate::ports::normalize(&name, obj.get("portMappings"), network_mode, &mut mapped)?
        {
            o.insert("portMappings".into(), pm);
        }
        if let Some(h) = &c.health_check {
            o.insert("healthCheck".into(), h.check(&name)?.1);
        }
        o.insert("essential".into(), json!(essential));
        for (k, default) in [
            ("cpu", json!(0)),
            ("portMappings", json!([])),
            ("environment", json!([])),
            ("mountPoints", json!([])),
            ("volumesFrom", json!([])),
            ("systemControls", json!([])),
        ] {
            o.entry(k).or_insert(default);
        }
        out.push(Value::Object(o));
    }
    if !any_essential {
        return Err(client(
            "A task definition must have at least one essential container.",
        ));
    }
    Ok(out)
}

/// The containers of a stored definition, as the runtime needs them. A container that cannot
/// be read (a definition stored by an older version with a member of another type) is an
/// error, never skipped: a task must not run without one of its containers.
pub fn containers(td: &TaskDefinition) -> Result<Vec<ContainerDef>, EcsError> {
    td.body
        .get("containerDefinitions")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(i, c)| {
            serde_json::from_value(c.clone()).map_err(|_| {
                client(format!(
                    "Container definition {i} of {} cannot be run: register a new revision.",
                    td.arn()
                ))
            })
        })
        .collect()
}

/// What a `taskDefinition` parameter names: a family (its latest ACTIVE revision), a
/// `family:revision`, or a task definition ARN of the caller's partition.
pub(crate) fn parse_ref(
    reference: &str,
    account: &str,
    region: &str,
) -> Option<(String, Option<i64>)> {
    let rest = if reference.starts_with("arn:") {
        reference.strip_prefix(&format!("arn:aws:ecs:{region}:{account}:task-definition/"))?
    } else {
        reference
    };
    let (family, revision) = match rest.split_once(':') {
        Some((f, r)) => {
            // Digits without leading zeros: `web:01` is not another name for `web:1`.
            if r.is_empty() || !r.bytes().all(|b| b.is_ascii_digit()) || r.starts_with('0') {
                return None;
            }
            (f, Some(r.parse::<i64>().ok().filter(|r| *r > 0)?))
        }
        None => (rest, None),
    };
    is_name(family).then(|| (family.to_owned(), revision))
}

/// The task definition `reference` names, if any.
pub fn find(
    tx: &dyn ReadTx,
    account: &str,
    region: &str,
    reference: &str,
) -> Result<Option<TaskDefinition>, EcsError> {
    let Some((family, revision)) = parse_ref(reference, account, region) else {
        return Ok(None);
    };
    if let Some(r) = revision {
        return Ok(tables::TASK_DEFINITIONS.get(tx, &keys::revision(account, region, &family, r))?);
    }
    // The latest ACTIVE revision.
    let prefix = keys::named(account, region, &family);
    let mut cursor: Option<Vec<u8>> = None;
    loop {
        let rows = tables::TASK_DEFINITIONS.scan(
            tx,
            &prefix,
            cursor.as_deref(),
            Direction::Reverse,
            256,
        )?;
        let done = rows.len() < 256;
        for (k, td) in rows {
            if td.active {
                return Ok(Some(td));
            }
            cursor = Some(k);
        }
        if done {
            return Ok(None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(v: Value) -> RegisterInput {
        serde_json::from_value(v).unwrap()
    }

    fn fargate(cpu: &str, memory: &str) -> RegisterInput {
        input(json!({
            "family": "web", "requiresCompatibilities": ["FARGATE"], "networkMode": "awsvpc",
            "cpu": cpu, "memory": memory,
            "containerDefinitions": [{"name": "app", "image": "busybox"}]
        }))
    }

    fn message(r: Result<Value, EcsError>) -> String {
        match r {
            Err(EcsError::ClientException(m)) => m,
            other => panic!("expected ClientException, got {other:?}"),
        }
    }

    #[test]
    fn the_fargate_size_table() {
        let valid = [
            (256, 512),
            (256, 1024),
            (256, 2048),
            (512, 1024),
            (512, 4096),
            (1024, 2048),
            (1024, 8192),
            (2048, 4096),
            (2048, 16384),
            (4096, 8192),
            (4096, 30720),
            (8192, 16384),
            (8192, 61440),
            (8192, 20480),
            (16384, 32768),
            (16384, 122880),
            (16384, 40960),
        ];
        for (c, m) in valid {
            assert!(fargate_size_valid(c, m), "{c}/{m}");
        }
        let invalid = [
            (256, 256),
            (256, 1536),
            (256, 4096),
            (512, 512),
            (512, 5120),
            (1024, 1024),
            (1024, 2560),
            (2048, 17408),
            (4096, 31744),
            (8192, 17408),
            (16384, 36864),
            (128, 512),
            (3072, 8192),
        ];
        for (c, m) in invalid {
            assert!(!fargate_size_valid(c, m), "{c}/{m}");
        }
    }

    #[test]
    fn cpu_and_memory_strings_normalise() {
        assert_eq!(normalize_cpu("256"), Some(256));
        assert_eq!(normalize_cpu("1 vCPU"), Some(1024));
        assert_eq!(normalize_cpu(".25 vcpu"), Some(256));
        assert_eq!(normalize_cpu("0.5vCPU"), Some(512));
        assert_eq!(normalize_memory("2 GB"), Some(2048));
        assert_eq!(normalize_memory("0.5GB"), Some(512));
        assert_eq!(normalize_memory("512"), Some(512));
        for bad in [
            "",
            "0",
            "lots",
            "1 GB vcpu",
            "-1",
            "1e3 vcpu",
            "0.0001 vcpu",
        ] {
            assert_eq!(normalize_cpu(bad), None, "{bad}");
        }
        let v = normalize(&fargate("1 vCPU", "2 GB")).unwrap();
        assert_eq!(v["cpu"], "1024");
        assert_eq!(v["memory"], "2048");
        assert_eq!(v["compatibilities"], json!(["EC2", "FARGATE"]));
    }

    #[test]
    fn fargate_rules_with_aws_messages() {
        let mut i = fargate("256", "512");
        i.network_mode = Some("bridge".into());
        assert_eq!(
            message(normalize(&i)),
            "Fargate only supports network mode 'awsvpc'."
        );
        i.network_mode = None;
        assert_eq!(
            message(normalize(&i)),
            "Fargate only supports network mode 'awsvpc'."
        );
        let mut i = fargate("256", "512");
        i.cpu = None;
        assert_eq!(
            message(normalize(&i)),
            "Fargate requires that 'cpu' be defined at the task level."
        );
        let mut i = fargate("256", "512");
        i.memory = None;
        assert_eq!(
            message(normalize(&i)),
            "Fargate requires that 'memory' be defined at the task level."
        );
        assert_eq!(
            message(normalize(&fargate("256", "4096"))),
            "No Fargate configuration exists for given values."
        );
        let mut i = fargate("256", "512");
        i.ipc_mode = Some("host".into());
        assert!(message(normalize(&i)).contains("ipcMode"));
    }

    #[test]
    fn ephemeral_storage_bounds() {
        for (size, ok) in [(20, false), (21, true), (200, true), (201, false)] {
            let mut i = fargate("256", "512");
            i.ephemeral_storage = Some(EphemeralStorageIn { size_in_gi_b: size });
            assert_eq!(normalize(&i).is_ok(), ok, "{size}");
        }
    }

    #[test]
    fn containers_are_checked_and_get_defaults() {
        let v = normalize(&fargate("256", "512")).unwrap();
        let c = &v["containerDefinitions"][0];
        assert_eq!(c["essential"], true);
        assert_eq!(c["environment"], json!([]));
        assert_eq!(c["cpu"], 0);
        let bad = |containers: Value| {
            let mut i = fargate("256", "512");
            i.container_definitions = serde_json::from_value(containers).unwrap();
            normalize(&i)
        };
        assert!(bad(json!([])).is_err());
        assert!(bad(json!([{"name": "a"}])).is_err());
        assert!(bad(json!([{"image": "busybox"}])).is_err());
        assert!(bad(json!([{"name": "a b", "image": "busybox"}])).is_err());
        assert!(bad(json!([{"name": "a", "image": "x"}, {"name": "a", "image": "y"}])).is_err());
        assert!(bad(json!([{"name": "a", "image": "x", "essential": false}])).is_err());
        assert!(bad(json!([{"name": "a", "image": "x", "command": "sh"}])).is_err());
        assert!(bad(json!([{"name": "a", "image": "x", "stopTimeout": 121}])).is_err());
        assert!(bad(json!([{"name": "a", "image": "x", "hostname": "h"}])).is_err());
        assert!(
            bad(json!([{"name": "a", "image": "x", "environment": [{"value": "v"}]}])).is_err()
        );
        assert!(bad(json!(["a"])).is_err());
        assert!(bad(json!([{"name": "a", "image": "x", "command": ["sh", "-c", "true"]}])).is_ok());
    }

    #[test]
    fn non_fargate_definitions_register_without_fargate_compatibility() {
        let i = input(
            json!({"family": "f", "containerDefinitions": [{"name": "a", "image": "x", "memory": 128}]}),
        );
        let v = normalize(&i).unwrap();
        assert_eq!(v["networkMode"], "bridge");
        assert_eq!(v["compatibilities"], json!(["EC2"]));
        let bad =
            input(json!({"family": "f/g", "containerDefinitions": [{"name": "a", "image": "x"}]}));
        assert!(normalize(&bad).is_err());
    }
}
