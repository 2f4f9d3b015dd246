//! `portMappings` as Fargate takes them (RegisterTaskDefinition): in `awsvpc` mode a
//! mapping's `hostPort` is absent or equal to its `containerPort` (ECS then stores it equal),
//! its `protocol` is `tcp` (the default) or `udp`, and no port is mapped twice in a task
//! (the containers of a task share one network namespace, so two could not both listen).
//!
//! On Ferrogate a mapping publishes nothing on the host: the task's own address serves the
//! port, as on Fargate, where security groups decide who reaches it.

use serde_json::{json, Value};

use crate::EcsError;

/// `(containerPort, protocol)` mapped so far in a task definition.
pub(crate) type Mapped = Vec<(u16, String)>;

/// The container's `portMappings` checked and normalized (`hostPort` and `protocol`
/// filled in as ECS stores them), or `None` when it has none.
pub(crate) fn normalize(
    container: &str,
    given: Option<&Value>,
    network_mode: Option<&str>,
    mapped: &mut Mapped,
) -> Result<Option<Value>, EcsError> {
    let list = match given {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(a)) => a,
        Some(_) => return Err(invalid_setting("portMappings", container)),
    };
    let awsvpc = network_mode == Some("awsvpc");
    let mut out = Vec::with_capacity(list.len());
    for m in list {
        let Value::Object(obj) = m else {
            return Err(invalid_setting("portMappings", container));
        };
        let mut o = obj.clone();
        if obj.contains_key("containerPortRange") && !obj.contains_key("containerPort") {
            out.push(Value::Object(o));
            continue;
        }
        // ECS's wording (ClientException) for a missing or out-of-range containerPort.
        let port = obj
            .get("containerPort")
            .and_then(Value::as_i64)
            .and_then(|p| u16::try_from(p).ok())
            .filter(|p| *p > 0)
            .ok_or_else(|| invalid_setting("containerPort", container))?;
        let protocol = match obj.get("protocol") {
            None | Some(Value::Null) => "tcp".to_owned(),
            Some(Value::String(p)) if p == "tcp" || p == "udp" => p.clone(),
            // The protocol enum is tcp | udp; the wording follows ECS's other settings.
            Some(_) => return Err(invalid_setting("protocol", container)),
        };
        match obj.get("hostPort") {
            None | Some(Value::Null) => {}
            Some(h) if awsvpc && h.as_i64() == Some(0) => {}
            Some(h) if awsvpc && h.as_i64() != Some(i64::from(port)) => {
                return Err(EcsError::client(
                    "When networkMode=awsvpc, the host ports and container ports in port mappings must match.",
                ))
            }
            Some(h) if h.as_i64().and_then(|v| u16::try_from(v).ok()).is_none() => {
                return Err(invalid_setting("hostPort", container))
            }
            Some(_) => {}
        }
        if mapped.iter().any(|(p, pr)| *p == port && *pr == protocol) {
            // Not ECS's documented wording (none found): the rule is the kernel's, one
            // listener per port and protocol in the task's namespace.
            return Err(EcsError::client(format!(
                "Container port {port}/{protocol} is mapped more than once in the task definition (container '{container}'): the containers of a task share one network, so each port can be mapped only once."
            )));
        }
        mapped.push((port, protocol.clone()));
        if awsvpc {
            o.insert("hostPort".into(), json!(port));
        }
        o.insert("protocol".into(), json!(protocol));
        out.push(Value::Object(o));
    }
    Ok(Some(Value::Array(out)))
}

/// ECS's `Invalid '<setting>' setting for container '<name>'.`
fn invalid_setting(setting: &str, container: &str) -> EcsError {
    EcsError::client(format!(
        "Invalid '{setting}' setting for container '{container}'."
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(v: Value) -> Result<Option<Value>, String> {
        normalize("web", Some(&v), Some("awsvpc"), &mut Vec::new()).map_err(|e| e.to_string())
    }

    #[test]
    fn fargate_port_mappings() {
        assert_eq!(
            run(json!([{"containerPort": 80}])).unwrap(),
            Some(json!([{"containerPort": 80, "hostPort": 80, "protocol": "tcp"}]))
        );
        assert!(run(json!([{"containerPort": 53, "hostPort": 53, "protocol": "udp"}])).is_ok());
        assert!(run(json!([{"containerPort": 80, "hostPort": 0}])).is_ok());
        assert_eq!(
            run(json!([{"containerPort": 80, "hostPort": 8080}])).unwrap_err(),
            "When networkMode=awsvpc, the host ports and container ports in port mappings must match."
        );
        assert_eq!(
            run(json!([{"hostPort": 80}])).unwrap_err(),
            "Invalid 'containerPort' setting for container 'web'."
        );
        assert_eq!(
            run(json!([{"containerPort": 70000}])).unwrap_err(),
            "Invalid 'containerPort' setting for container 'web'."
        );
        assert_eq!(
            run(json!([{"containerPort": 80, "protocol": "sctp"}])).unwrap_err(),
            "Invalid 'protocol' setting for container 'web'."
        );
        assert!(run(json!([{"containerPort": 80}, {"containerPort": 80}]))
            .unwrap_err()
            .contains("mapped more than once"));
        assert!(
            run(json!([{"containerPort": 53}, {"containerPort": 53, "protocol": "udp"}])).is_ok()
        );
    }

    #[test]
    fn duplicates_across_containers_are_refused() {
        let mut mapped = Vec::new();
        let one = json!([{"containerPort": 8080}]);
        assert!(normalize("a", Some(&one), Some("awsvpc"), &mut mapped).is_ok());
        assert!(normalize("b", Some(&one), Some("awsvpc"), &mut mapped).is_err());
    }
}
