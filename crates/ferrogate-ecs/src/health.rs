//! Container health checks (`containerDefinitions[].healthCheck`): checked and given AWS's
//! defaults at RegisterTaskDefinition, run by the host runtime inside the container, and
//! summed up as ECS does: a container's `healthStatus` is `HEALTHY`, `UNHEALTHY` or
//! `UNKNOWN` (no check, or no result yet); a task's is `UNHEALTHY` when an essential
//! container is, `HEALTHY` when every essential container with a check is, else `UNKNOWN`.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::EcsError;

/// A container definition's `healthCheck` as given.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthCheckIn {
    /// `["CMD", argv…]`, `["CMD-SHELL", "command"]` or `["NONE"]`.
    #[serde(default)]
    pub command: Vec<String>,
    /// Seconds between checks, 5–300 (default 30).
    #[serde(default)]
    pub interval: Option<i64>,
    /// Seconds a check may take, 2–120 (default 5).
    #[serde(default)]
    pub timeout: Option<i64>,
    /// Failures in a row before UNHEALTHY, 1–10 (default 3).
    #[serde(default)]
    pub retries: Option<i64>,
    /// Seconds after the start during which failures do not count, 0–300 (default off).
    #[serde(default)]
    pub start_period: Option<i64>,
}

/// A health check as a task runs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthCheck {
    /// What to run inside the container.
    pub argv: Vec<String>,
    /// Seconds.
    pub interval: u32,
    /// Seconds.
    pub timeout: u32,
    /// Count.
    pub retries: u32,
    /// Seconds.
    pub start_period: u32,
}

fn bounded(
    container: &str,
    what: &str,
    v: Option<i64>,
    lo: i64,
    hi: i64,
    default: i64,
) -> Result<u32, EcsError> {
    let v = v.unwrap_or(default);
    if !(lo..=hi).contains(&v) {
        return Err(EcsError::client(format!(
            "Invalid 'healthCheck' setting for container '{container}': {what} must be between {lo} and {hi}."
        )));
    }
    u32::try_from(v).map_err(|_| EcsError::client(format!("Invalid 'healthCheck' {what}.")))
}

impl HealthCheckIn {
    /// Checks it (AWS's ranges) and returns what runs (`None` for `["NONE"]`) and the
    /// member as stored, with AWS's defaults filled in.
    pub fn check(&self, container: &str) -> Result<(Option<HealthCheck>, Value), EcsError> {
        let interval = bounded(container, "interval", self.interval, 5, 300, 30)?;
        let timeout = bounded(container, "timeout", self.timeout, 2, 120, 5)?;
        let retries = bounded(container, "retries", self.retries, 1, 10, 3)?;
        let start_period = bounded(container, "startPeriod", self.start_period, 0, 300, 0)?;
        let bad = || {
            EcsError::client(format!(
                "Invalid 'healthCheck' setting for container '{container}': command must be [\"CMD\", program, args…], [\"CMD-SHELL\", command] or [\"NONE\"]."
            ))
        };
        let argv = match self.command.split_first() {
            Some((kind, rest)) if kind == "CMD" && !rest.is_empty() && !rest[0].is_empty() => {
                Some(rest.to_vec())
            }
            Some((kind, rest)) if kind == "CMD-SHELL" && !rest.is_empty() => {
                Some(vec!["/bin/sh".to_owned(), "-c".to_owned(), rest.join(" ")])
            }
            Some((kind, rest)) if kind == "NONE" && rest.is_empty() => None,
            _ => return Err(bad()),
        };
        if self.command.iter().any(|a| a.contains('\0')) {
            return Err(bad());
        }
        let mut stored = json!({
            "command": self.command,
            "interval": interval,
            "timeout": timeout,
            "retries": retries,
        });
        if let Some(s) = self.start_period {
            stored["startPeriod"] = json!(s);
        }
        Ok((
            argv.map(|argv| HealthCheck {
                argv,
                interval,
                timeout,
                retries,
                start_period,
            }),
            stored,
        ))
    }
}

/// A task's `healthStatus` from its containers: `(essential, has a check, status)`.
pub fn task_status<'a>(
    containers: impl Iterator<Item = (bool, bool, Option<&'a str>)>,
) -> &'static str {
    let mut any_checked = false;
    let mut all_healthy = true;
    for (essential, checked, status) in containers {
        if !essential || !checked {
            continue;
        }
        any_checked = true;
        match status {
            Some("UNHEALTHY") => return "UNHEALTHY",
            Some("HEALTHY") => {}
            _ => all_healthy = false,
        }
    }
    if any_checked && all_healthy {
        "HEALTHY"
    } else {
        "UNKNOWN"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(v: Value) -> HealthCheckIn {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn defaults_ranges_and_command_forms() {
        let (run, stored) = input(json!({"command": ["CMD-SHELL", "curl -f localhost || exit 1"]}))
            .check("web")
            .unwrap();
        assert_eq!(
            stored,
            json!({"command": ["CMD-SHELL", "curl -f localhost || exit 1"], "interval": 30, "timeout": 5, "retries": 3})
        );
        let run = run.unwrap();
        assert_eq!(run.argv, ["/bin/sh", "-c", "curl -f localhost || exit 1"]);
        assert_eq!(
            (run.interval, run.timeout, run.retries, run.start_period),
            (30, 5, 3, 0)
        );
        let (run, _) = input(json!({"command": ["CMD", "/bin/check", "-q"], "interval": 5, "retries": 1, "startPeriod": 10}))
            .check("web")
            .unwrap();
        assert_eq!(run.unwrap().argv, ["/bin/check", "-q"]);
        assert!(input(json!({"command": ["NONE"]}))
            .check("web")
            .unwrap()
            .0
            .is_none());
        for bad in [
            json!({"command": []}),
            json!({"command": ["CMD"]}),
            json!({"command": ["CMD-SHELL"]}),
            json!({"command": ["RUN", "x"]}),
            json!({"command": ["NONE", "x"]}),
            json!({"command": ["CMD", "x"], "interval": 4}),
            json!({"command": ["CMD", "x"], "interval": 301}),
            json!({"command": ["CMD", "x"], "timeout": 1}),
            json!({"command": ["CMD", "x"], "retries": 0}),
            json!({"command": ["CMD", "x"], "retries": 11}),
            json!({"command": ["CMD", "x"], "startPeriod": 301}),
        ] {
            assert!(input(bad.clone()).check("web").is_err(), "{bad}");
        }
    }

    #[test]
    fn task_health_follows_essential_containers_with_checks() {
        let s = |v: &[(bool, bool, Option<&'static str>)]| task_status(v.iter().copied());
        assert_eq!(s(&[]), "UNKNOWN");
        assert_eq!(s(&[(true, false, None)]), "UNKNOWN");
        assert_eq!(s(&[(true, true, None)]), "UNKNOWN");
        assert_eq!(s(&[(true, true, Some("HEALTHY"))]), "HEALTHY");
        assert_eq!(
            s(&[(true, true, Some("HEALTHY")), (true, false, None)]),
            "HEALTHY"
        );
        assert_eq!(
            s(&[
                (true, true, Some("HEALTHY")),
                (true, true, Some("UNHEALTHY"))
            ]),
            "UNHEALTHY"
        );
        assert_eq!(
            s(&[
                (true, true, Some("HEALTHY")),
                (false, true, Some("UNHEALTHY"))
            ]),
            "HEALTHY"
        );
        assert_eq!(
            s(&[(true, true, Some("HEALTHY")), (true, true, None)]),
            "UNKNOWN"
        );
    }
}
