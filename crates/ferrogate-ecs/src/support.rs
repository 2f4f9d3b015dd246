//! What a task definition may use to run here. RegisterTaskDefinition stores every member as
//! given (as ECS does); but a task that would run without something its definition asks for
//! (a dependency order, a capability drop, a secret, a ulimit, an EFS volume) would be a different
//! task from the one its owner wrote, so RunTask, CreateService and UpdateService refuse such
//! a definition with `UnsupportedFeatureException` naming the member, rather than run it
//! quietly without it. Members that change nothing about what a task may do here (port
//! mappings: the port is served on the task's own address, as on Fargate; labels) run as
//! they are, and `logConfiguration` with the awslogs driver is delivered to CloudWatch Logs
//! (other drivers and `secretOptions` are refused here);
//! docs/compatibility.md lists both.

use serde_json::Value;

/// Whether a member asks for anything: `null`, `false`, `""`, `[]`, `{}` and objects whose
/// members ask for nothing (`{"enabled": false}`, `{"capabilities": {"drop": []}}`) do not.
fn in_effect(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(_) => true,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => o.values().any(in_effect),
    }
}

/// Task-definition members that are refused when in effect. (The stored definition holds
/// only members RegisterTaskDefinition knows; these are the ones Ferrogate does not apply.)
const TASK_MEMBERS: &[&str] = &[
    "proxyConfiguration",
    "inferenceAccelerators",
    "pidMode",
    "ipcMode",
    "placementConstraints",
];

/// Container-definition members a task may use: the applied ones and those that change
/// nothing about what a task may do here. Every other member (stored as given) is refused
/// when in effect, including members AWS adds later: an allowlist fails closed.
const CONTAINER_ALLOWED: &[&str] = &[
    // Applied.
    "name",
    "image",
    "essential",
    "command",
    "entryPoint",
    "environment",
    "workingDirectory",
    "user",
    "stopTimeout",
    "memory",
    "memoryReservation",
    "cpu",
    "mountPoints",
    "volumesFrom",
    "readonlyRootFilesystem",
    "healthCheck",
    // awslogs only (other drivers are refused below); checked at registration.
    "logConfiguration",
    // Accepted, no effect here (docs/compatibility.md says why each is harmless);
    // portMappings are checked at registration (`crate::ports`).
    "portMappings",
    "dockerLabels",
    "repositoryCredentials",
    "startTimeout",
    "interactive",
    "pseudoTerminal",
    "versionConsistency",
];

/// Volume members allowed: a task volume is a bind volume on the task's encrypted storage,
/// so only `name` and an empty `host` (no `sourcePath`) qualify; Docker, EFS, FSx, S3 Files
/// and EBS volumes, host paths and any member AWS adds later are refused when in effect.
const VOLUME_ALLOWED: &[&str] = &["name"];

/// The CPU architecture of this host, as `runtimePlatform.cpuArchitecture` names it.
const HOST_ARCH: &str = if cfg!(target_arch = "aarch64") {
    "ARM64"
} else {
    "X86_64"
};

/// The first member of a stored definition (`body`) that Ferrogate cannot apply, as a
/// message for `UnsupportedFeatureException`; `None` when the definition can run.
pub fn unsupported(body: &Value) -> Option<String> {
    let refuse = |what: String| {
        Some(format!(
            "{what} is not supported by Ferrogate: a task of this task definition would run without it, so none is started. Register a revision without it."
        ))
    };
    for m in TASK_MEMBERS {
        if body.get(*m).is_some_and(in_effect) {
            return refuse((*m).to_owned());
        }
    }
    if let Some(os) = body["runtimePlatform"]["operatingSystemFamily"].as_str() {
        if os != "LINUX" {
            return refuse(format!("runtimePlatform.operatingSystemFamily {os}"));
        }
    }
    if let Some(arch) = body["runtimePlatform"]["cpuArchitecture"].as_str() {
        if arch != HOST_ARCH {
            return refuse(format!(
                "runtimePlatform.cpuArchitecture {arch} (this host is {HOST_ARCH})"
            ));
        }
    }
    for v in body["volumes"].as_array().into_iter().flatten() {
        let name = v["name"].as_str().unwrap_or_default();
        for (m, value) in v.as_object().into_iter().flatten() {
            if !VOLUME_ALLOWED.contains(&m.as_str()) && in_effect(value) {
                return refuse(format!("volumes[{name}].{m}"));
            }
        }
    }
    for c in body["containerDefinitions"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let name = c["name"].as_str().unwrap_or_default();
        for (m, value) in c.as_object().into_iter().flatten() {
            if !CONTAINER_ALLOWED.contains(&m.as_str()) && in_effect(value) {
                return refuse(format!("containerDefinitions[{name}].{m}"));
            }
        }
        let log = &c["logConfiguration"];
        if let Some(d) = log["logDriver"].as_str().filter(|d| *d != "awslogs") {
            return refuse(format!(
                "containerDefinitions[{name}].logConfiguration.logDriver {d}"
            ));
        }
        if log.get("secretOptions").is_some_and(in_effect) {
            return refuse(format!(
                "containerDefinitions[{name}].logConfiguration.secretOptions"
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(container: Value) -> Value {
        let mut c = json!({"name": "app", "image": "busybox", "essential": true,
            "portMappings": [{"containerPort": 80}], "environment": [], "mountPoints": [],
            "volumesFrom": [], "systemControls": [], "cpu": 0,
            "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "g"}}});
        if let (Value::Object(base), Value::Object(extra)) = (&mut c, container) {
            base.extend(extra);
        }
        json!({"family": "web", "containerDefinitions": [c], "volumes": [{"name": "data"}],
               "runtimePlatform": {"cpuArchitecture": HOST_ARCH, "operatingSystemFamily": "LINUX"}})
    }

    #[test]
    fn an_ordinary_definition_runs() {
        assert_eq!(unsupported(&body(json!({}))), None);
        for harmless in [
            json!({"privileged": false}),
            json!({"restartPolicy": {"enabled": false}}),
            json!({"linuxParameters": {"capabilities": {"add": [], "drop": []}}}),
            json!({"healthCheck": {"command": ["CMD", "true"]}}),
            json!({"readonlyRootFilesystem": true, "user": "1000"}),
        ] {
            assert_eq!(unsupported(&body(harmless.clone())), None, "{harmless}");
        }
    }

    #[test]
    fn members_not_applied_are_refused_by_name() {
        for (extra, name) in [
            (
                json!({"linuxParameters": {"capabilities": {"drop": ["ALL"]}}}),
                "containerDefinitions[app].linuxParameters",
            ),
            (
                json!({"secrets": [{"name": "A", "valueFrom": "arn"}]}),
                "containerDefinitions[app].secrets",
            ),
            (
                json!({"privileged": true}),
                "containerDefinitions[app].privileged",
            ),
            (
                json!({"ulimits": [{"name": "nofile", "softLimit": 1, "hardLimit": 1}]}),
                "containerDefinitions[app].ulimits",
            ),
            (
                json!({"dependsOn": [{"containerName": "b", "condition": "START"}]}),
                "containerDefinitions[app].dependsOn",
            ),
            (
                json!({"restartPolicy": {"enabled": true}}),
                "containerDefinitions[app].restartPolicy",
            ),
            (
                json!({"restartPolicy": {"enabled": false, "ignoredExitCodes": [1]}}),
                "containerDefinitions[app].restartPolicy",
            ),
            (
                json!({"someMemberAwsAddsLater": {"mode": "strict"}}),
                "containerDefinitions[app].someMemberAwsAddsLater",
            ),
            (
                json!({"hostname": "web"}),
                "containerDefinitions[app].hostname",
            ),
            (
                json!({"logConfiguration": {"logDriver": "splunk", "options": {}}}),
                "containerDefinitions[app].logConfiguration.logDriver splunk",
            ),
            (
                json!({"logConfiguration": {"logDriver": "awsfirelens"}}),
                "containerDefinitions[app].logConfiguration.logDriver awsfirelens",
            ),
            (
                json!({"logConfiguration": {"logDriver": "awslogs", "secretOptions": [{"name": "a", "valueFrom": "b"}]}}),
                "containerDefinitions[app].logConfiguration.secretOptions",
            ),
        ] {
            let m = unsupported(&body(extra)).expect(name);
            assert!(m.starts_with(name), "{m}");
        }
    }

    #[test]
    fn volumes_other_than_task_storage_and_foreign_platforms_are_refused() {
        let mut b = body(json!({}));
        b["volumes"] = json!([{"name": "fs", "efsVolumeConfiguration": {"fileSystemId": "fs-1"}}]);
        assert!(unsupported(&b)
            .unwrap()
            .starts_with("volumes[fs].efsVolumeConfiguration"));
        b["volumes"] = json!([{"name": "h", "host": {"sourcePath": "/etc"}}]);
        assert!(unsupported(&b).unwrap().starts_with("volumes[h].host"));
        b["volumes"] = json!([{"name": "h", "host": {}}]);
        assert_eq!(unsupported(&b), None);
        b["volumes"] = json!([{"name": "s", "s3filesVolumeConfiguration": {"fileSystemArn": "a"}}]);
        assert!(unsupported(&b)
            .unwrap()
            .starts_with("volumes[s].s3filesVolumeConfiguration"));
        b["volumes"] = json!([{"name": "n"}]);
        b["placementConstraints"] = json!([{"type": "memberOf", "expression": "x"}]);
        assert!(unsupported(&b).unwrap().starts_with("placementConstraints"));
        b["runtimePlatform"]["operatingSystemFamily"] = json!("WINDOWS_SERVER_2022_CORE");
        assert!(unsupported(&b).is_some());
        let mut b = body(json!({}));
        b["runtimePlatform"]["cpuArchitecture"] = json!(if HOST_ARCH == "ARM64" {
            "X86_64"
        } else {
            "ARM64"
        });
        assert!(unsupported(&b).unwrap().contains("cpuArchitecture"));
        let mut b = body(json!({}));
        b["pidMode"] = json!("task");
        assert!(unsupported(&b).unwrap().starts_with("pidMode"));
    }
}
