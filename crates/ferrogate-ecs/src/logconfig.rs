//! A container's `logConfiguration`, checked at RegisterTaskDefinition as ECS checks it for
//! Fargate, and what the launcher's awslogs driver runs with.
//!
//! Fargate supports the `awslogs`, `splunk` and `awsfirelens` drivers (ECS Developer Guide,
//! "LogConfiguration"); any other is refused at registration. Ferrogate delivers `awslogs`
//! only: `splunk` and `awsfirelens` definitions register (as on ECS) but their tasks are
//! refused at run time (`crate::support`). The options are Docker's awslogs driver's
//! (moby `daemon/logger/awslogs/cloudwatchlogs.go`, `ValidateLogOpt`) plus the generic
//! `mode` and `max-buffer-size`; `awslogs-stream-prefix` is required on Fargate, and so is
//! the task definition's `executionRoleArn`, which the driver calls CloudWatch Logs as.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::EcsError;

/// Docker's default `max-buffer-size` (`1m`).
pub const DEFAULT_MAX_BUFFER: u64 = 1 << 20;

/// What a full buffer does (`mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LogMode {
    /// The container waits while the buffer is full.
    Blocking,
    /// Lines that do not fit are dropped.
    NonBlocking,
}

/// An `awslogs` configuration, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AwsLogs {
    /// `awslogs-group`.
    pub group: String,
    /// `awslogs-region`.
    pub region: String,
    /// `awslogs-stream-prefix`: the stream is `<prefix>/<container>/<task id>`.
    pub stream_prefix: String,
    /// `awslogs-create-group`.
    pub create_group: bool,
    /// `mode`.
    pub mode: LogMode,
    /// `max-buffer-size` in bytes.
    pub max_buffer_bytes: u64,
    /// The regular expression that starts a new event (`awslogs-multiline-pattern`, or
    /// `awslogs-datetime-format` translated as Docker translates it).
    pub multiline: Option<String>,
}

/// The options Ferrogate applies. Others (`awslogs-endpoint`, `awslogs-credentials-endpoint`,
/// `awslogs-format`, `tag`, …) are refused: a task would not log as its owner asked.
const OPTIONS: &[&str] = &[
    "awslogs-group",
    "awslogs-region",
    "awslogs-stream-prefix",
    "awslogs-create-group",
    "awslogs-datetime-format",
    "awslogs-multiline-pattern",
    "mode",
    "max-buffer-size",
];

fn client(m: impl Into<String>) -> EcsError {
    EcsError::client(m)
}

/// The log drivers ECS accepts on Fargate (ECS API Reference, LogConfiguration).
const FARGATE_DRIVERS: &[&str] = &["awslogs", "splunk", "awsfirelens"];

/// Checks `cfg` (a container's `logConfiguration`) for a Fargate task definition with or
/// without an execution role; `Some` for an `awslogs` configuration.
///
/// # Errors
/// `ClientException` naming what is wrong.
pub fn check(cfg: &Value, execution_role: bool) -> Result<Option<AwsLogs>, EcsError> {
    if cfg.is_null() {
        return Ok(None);
    }
    let driver = cfg["logDriver"].as_str().unwrap_or_default();
    if driver.is_empty() {
        return Err(client("Log driver should not be null or empty."));
    }
    if !FARGATE_DRIVERS.contains(&driver) {
        return Err(client(format!(
            "Log driver {driver} is not supported on Fargate. Supported log drivers: awslogs, splunk, awsfirelens."
        )));
    }
    if driver != "awslogs" {
        return Ok(None);
    }
    if !execution_role {
        return Err(client(
            "Fargate requires task definition to have execution role ARN to support log driver awslogs.",
        ));
    }
    let empty = serde_json::Map::new();
    let opts = match &cfg["options"] {
        Value::Null => &empty,
        Value::Object(o) => o,
        _ => return Err(client("logConfiguration.options must be a map of strings.")),
    };
    for (k, v) in opts {
        if !OPTIONS.contains(&k.as_str()) {
            return Err(client(format!(
                "Log driver awslogs option '{k}' is not supported by Ferrogate."
            )));
        }
        if !v.is_string() {
            return Err(client(format!(
                "Log driver awslogs option '{k}' must be a string."
            )));
        }
    }
    let opt = |k: &str| {
        opts.get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let required = |k: &str| {
        opt(k).ok_or_else(|| {
            client(format!(
                "Log driver awslogs option '{k}' should not be null or empty."
            ))
        })
    };
    let group = required("awslogs-group")?;
    let region = required("awslogs-region")?;
    let stream_prefix = required("awslogs-stream-prefix")?;
    if !region
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(client(format!(
            "Log driver awslogs option 'awslogs-region' has an invalid value: {region}"
        )));
    }
    let create_group = match opt("awslogs-create-group") {
        None => false,
        Some(v) => parse_bool(v).ok_or_else(|| {
            client(format!(
                "must specify valid value for log opt 'awslogs-create-group': {v}"
            ))
        })?,
    };
    let mode = match opt("mode") {
        None | Some("non-blocking") => LogMode::NonBlocking,
        Some("blocking") => LogMode::Blocking,
        Some(m) => return Err(client(format!("logger: logging mode not supported: {m}"))),
    };
    let max_buffer_bytes = match opt("max-buffer-size") {
        None => DEFAULT_MAX_BUFFER,
        Some(_) if mode == LogMode::Blocking => {
            return Err(client(
                "logger: max-buffer-size option is only supported with 'mode=non-blocking'",
            ))
        }
        Some(v) => ram_in_bytes(v).filter(|&n| n > 0).ok_or_else(|| {
            client(format!(
                "logger: could not parse value of option max-buffer-size: {v}"
            ))
        })?,
    };
    let multiline = multiline(
        opt("awslogs-datetime-format"),
        opt("awslogs-multiline-pattern"),
    )?;
    Ok(Some(AwsLogs {
        group: group.to_owned(),
        region: region.to_owned(),
        stream_prefix: stream_prefix.to_owned(),
        create_group,
        mode,
        max_buffer_bytes,
        multiline,
    }))
}

/// Go's `strconv.ParseBool`, which Docker uses for `awslogs-create-group`.
fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Docker's `units.RAMInBytes`: a number, an optional space, an optional binary unit
/// (`k`, `m`, `g`, `t`, `p`, any case) with optional `i` and `b` (`64k`, `1m`, `2MiB`,
/// `100 KB`).
fn ram_in_bytes(v: &str) -> Option<u64> {
    let digits = v
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(v.len());
    let (num, unit) = v.split_at(digits);
    let num: f64 = num.parse().ok()?;
    let unit = unit.strip_prefix(' ').unwrap_or(unit).to_ascii_lowercase();
    let unit = unit.strip_suffix('b').unwrap_or(&unit);
    let unit = unit.strip_suffix('i').unwrap_or(unit);
    let exp = match unit {
        "" => 0,
        "k" => 1,
        "m" => 2,
        "g" => 3,
        "t" => 4,
        "p" => 5,
        _ => return None,
    };
    let bytes = num * 1024f64.powi(exp);
    // Finite, non-negative (no sign in the digits) and below u64::MAX: the cast keeps it.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let whole = bytes as u64;
    (bytes.is_finite() && bytes < 9.0e18).then_some(whole)
}

/// Docker's strftime → regular expression table for `awslogs-datetime-format`.
const STRFTIME: &[(&str, &str)] = &[
    ("%a", "(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"),
    (
        "%A",
        "(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)",
    ),
    ("%w", "[0-6]"),
    ("%d", "(?:0[1-9]|[1,2][0-9]|3[0,1])"),
    ("%b", "(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"),
    (
        "%B",
        "(?:January|February|March|April|May|June|July|August|September|October|November|December)",
    ),
    ("%m", "(?:0[1-9]|1[0-2])"),
    ("%Y", "\\d{4}"),
    ("%y", "\\d{2}"),
    ("%H", "(?:[0,1][0-9]|2[0-4])"),
    ("%I", "(?:0[0-9]|1[0-2])"),
    ("%p", "[A,P]M"),
    ("%M", "[0-5][0-9]"),
    ("%S", "[0-5][0-9]"),
    ("%f", "\\d{6}"),
    ("%z", "[+-]\\d{4}"),
    ("%Z", "[A-Z]{1,4}T"),
    ("%j", "(?:0[0-9][1-9]|[1,2][0-9][0-9]|3[0-5][0-9]|36[0-6])"),
    ("%L", "\\.\\d{3}"),
];

/// Docker's translation: each `%x` of the table becomes its expression, other characters
/// stay (so regular-expression characters in the format act as such, as in Docker); an
/// unknown `%x` becomes nothing.
fn datetime_regex(format: &str) -> String {
    let mut out = String::new();
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let Some(n) = chars.next() else {
            out.push('%');
            break;
        };
        let key = format!("%{n}");
        if let Some((_, re)) = STRFTIME.iter().find(|(k, _)| *k == key) {
            out.push_str(re);
        }
    }
    out
}

fn multiline(datetime: Option<&str>, pattern: Option<&str>) -> Result<Option<String>, EcsError> {
    let re = match (datetime, pattern) {
        (Some(_), Some(_)) => {
            return Err(client(
                "you cannot configure log opt 'awslogs-datetime-format' and 'awslogs-multiline-pattern' at the same time",
            ))
        }
        (Some(f), None) => datetime_regex(f),
        (None, Some(p)) => p.to_owned(),
        (None, None) => return Ok(None),
    };
    regex_lite::Regex::new(&re).map_err(|_| {
        client(format!(
            "awslogs could not parse multiline pattern key \"{re}\""
        ))
    })?;
    Ok(Some(re))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cfg(options: Value) -> Value {
        json!({"logDriver": "awslogs", "options": options})
    }

    fn base() -> serde_json::Map<String, Value> {
        json!({"awslogs-group": "g", "awslogs-region": "us-east-1", "awslogs-stream-prefix": "p"})
            .as_object()
            .cloned()
            .unwrap()
    }

    fn with(k: &str, v: &str) -> Value {
        let mut o = base();
        o.insert(k.into(), json!(v));
        cfg(Value::Object(o))
    }

    fn message(r: Result<Option<AwsLogs>, EcsError>) -> String {
        match r {
            Err(EcsError::ClientException(m)) => m,
            other => panic!("expected ClientException, got {other:?}"),
        }
    }

    #[test]
    fn a_complete_configuration_has_fargate_defaults() {
        let a = check(&cfg(Value::Object(base())), true).unwrap().unwrap();
        assert_eq!(
            (
                a.group.as_str(),
                a.region.as_str(),
                a.stream_prefix.as_str()
            ),
            ("g", "us-east-1", "p")
        );
        assert_eq!(
            (a.mode, a.max_buffer_bytes),
            (LogMode::NonBlocking, 1 << 20)
        );
        assert!(!a.create_group && a.multiline.is_none());
        assert_eq!(check(&Value::Null, false).unwrap(), None);
        assert_eq!(check(&json!({"logDriver": "splunk"}), false).unwrap(), None);
    }

    #[test]
    fn required_options_drivers_and_the_execution_role_are_checked() {
        for missing in ["awslogs-group", "awslogs-region", "awslogs-stream-prefix"] {
            let mut o = base();
            o.remove(missing);
            assert_eq!(
                message(check(&cfg(Value::Object(o)), true)),
                format!("Log driver awslogs option '{missing}' should not be null or empty.")
            );
        }
        assert_eq!(
            message(check(&cfg(Value::Object(base())), false)),
            "Fargate requires task definition to have execution role ARN to support log driver awslogs."
        );
        for d in ["json-file", "syslog", "fluentd"] {
            assert!(
                message(check(&json!({"logDriver": d}), true)).contains("not supported on Fargate")
            );
        }
        assert!(message(check(&with("awslogs-endpoint", "http://x"), true))
            .contains("awslogs-endpoint"));
    }

    #[test]
    fn option_values_are_checked_as_docker_checks_them() {
        let ok = |k: &str, v: &str| check(&with(k, v), true).unwrap().unwrap();
        assert!(ok("awslogs-create-group", "true").create_group);
        assert!(!ok("awslogs-create-group", "F").create_group);
        assert!(message(check(&with("awslogs-create-group", "yes"), true))
            .contains("awslogs-create-group"));
        assert_eq!(ok("mode", "blocking").mode, LogMode::Blocking);
        assert!(
            message(check(&with("mode", "sometimes"), true)).contains("not supported: sometimes")
        );
        assert_eq!(ok("max-buffer-size", "4m").max_buffer_bytes, 4 << 20);
        assert_eq!(ok("max-buffer-size", "64KiB").max_buffer_bytes, 64 << 10);
        assert_eq!(ok("max-buffer-size", "100").max_buffer_bytes, 100);
        assert!(message(check(&with("max-buffer-size", "lots"), true)).contains("max-buffer-size"));
        let mut o = base();
        o.insert("mode".into(), json!("blocking"));
        o.insert("max-buffer-size".into(), json!("1m"));
        assert!(message(check(&cfg(Value::Object(o)), true)).contains("mode=non-blocking"));
        assert_eq!(
            ok("awslogs-multiline-pattern", "^INFO")
                .multiline
                .as_deref(),
            Some("^INFO")
        );
        assert!(
            message(check(&with("awslogs-multiline-pattern", "(unclosed"), true))
                .contains("could not parse multiline pattern")
        );
        assert_eq!(
            ok("awslogs-datetime-format", "\\[%Y-%m-%d")
                .multiline
                .as_deref(),
            Some("\\[\\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[1,2][0-9]|3[0,1])")
        );
        let mut o = base();
        o.insert("awslogs-datetime-format".into(), json!("%Y"));
        o.insert("awslogs-multiline-pattern".into(), json!("x"));
        assert!(message(check(&cfg(Value::Object(o)), true)).contains("at the same time"));
    }
}
