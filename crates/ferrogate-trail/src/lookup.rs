//! `LookupEvents`
//! (<https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_LookupEvents.html>).

use base64::Engine as _;
use ferrogate_store::{Direction, Key, ReadTx};
use ferrogate_types::Timestamp;
use serde::{Deserialize, Serialize};

use crate::log::{event_key_of_index, partition, StoredEvent, ATTRIBUTES, EVENTS, INDEX};
use crate::record::LookupResource;
use crate::TrailError;

/// Events older than this are not returned, as in CloudTrail's event history.
pub const RETENTION_MS: i64 = 90 * 24 * 3600 * 1000;

/// One `LookupAttributes` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LookupAttribute {
    /// One of [`ATTRIBUTES`].
    pub attribute_key: String,
    /// 1–2000 characters.
    pub attribute_value: String,
}

/// `LookupEventsRequest`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LookupEventsInput {
    /// At most one attribute.
    #[serde(default)]
    pub lookup_attributes: Option<Vec<LookupAttribute>>,
    /// Epoch seconds.
    #[serde(default)]
    pub start_time: Option<f64>,
    /// Epoch seconds.
    #[serde(default)]
    pub end_time: Option<f64>,
    /// Only `insight` is defined.
    #[serde(default)]
    pub event_category: Option<String>,
    /// 1–50, default 50.
    #[serde(default)]
    pub max_results: Option<i64>,
    /// From a previous page of the same query.
    #[serde(default)]
    pub next_token: Option<String>,
}

/// `Resource` in the output.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct ResourceOut {
    /// `AWS::IAM::User`…
    pub resource_type: String,
    /// The name or ARN.
    pub resource_name: String,
}

/// `Event` in the output.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct EventOut {
    /// `eventID`.
    pub event_id: String,
    /// `eventName`.
    pub event_name: String,
    /// `"true"` or `"false"` (a string, as AWS returns it).
    pub read_only: String,
    /// The signing access key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
    /// Epoch seconds.
    pub event_time: f64,
    /// `eventSource`.
    pub event_source: String,
    /// Who.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Touched resources.
    pub resources: Vec<ResourceOut>,
    /// The whole record as a JSON string.
    pub cloud_trail_event: String,
}

/// `LookupEventsResponse`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LookupEventsOutput {
    /// Newest first.
    pub events: Vec<EventOut>,
    /// Present when more events match.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct Token {
    /// Hex of the last key returned.
    k: String,
    /// Fingerprint of the query the token belongs to.
    q: String,
}

struct Query {
    attribute: Option<(String, String)>,
    start_ms: i64,
    end_ms: i64,
    limit: usize,
    fingerprint: String,
}

fn validate(input: &LookupEventsInput, now: Timestamp) -> Result<Query, TrailError> {
    if let Some(c) = &input.event_category {
        if c != "insight" {
            return Err(TrailError::InvalidEventCategoryException(format!(
                "Value '{c}' at 'eventCategory' failed to satisfy constraint: Member must satisfy enum value set: [insight]"
            )));
        }
    }
    let attrs = input.lookup_attributes.as_deref().unwrap_or_default();
    if attrs.len() > 1 {
        return Err(TrailError::InvalidLookupAttributesException(
            "You cannot specify more than one lookup attribute.".into(),
        ));
    }
    let attribute = match attrs.first() {
        None => None,
        Some(a) => {
            if !ATTRIBUTES.contains(&a.attribute_key.as_str()) {
                return Err(TrailError::InvalidLookupAttributesException(format!(
                    "Lookup attribute key '{}' is not valid. Valid keys are: {}.",
                    a.attribute_key,
                    ATTRIBUTES.join(", ")
                )));
            }
            let len = a.attribute_value.chars().count();
            if !(1..=2000).contains(&len) {
                return Err(TrailError::InvalidLookupAttributesException(
                    "Lookup attribute value must be between 1 and 2000 characters.".into(),
                ));
            }
            Some((a.attribute_key.clone(), a.attribute_value.clone()))
        }
    };
    let max = input.max_results.unwrap_or(50);
    if !(1..=50).contains(&max) {
        return Err(TrailError::InvalidMaxResultsException(format!(
            "Value '{max}' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 50"
        )));
    }
    // Event times have one-second precision in CloudTrail, and clients send whole epoch
    // seconds: compare at that precision, both bounds inclusive.
    let time = |t: Option<f64>, name: &str| -> Result<Option<i64>, TrailError> {
        t.map(|s| {
            Timestamp::from_epoch_seconds_f64(s.floor())
                .map(Timestamp::millis)
                .ok_or_else(|| {
                    TrailError::InvalidTimeRangeException(format!("{name} is not a valid time."))
                })
        })
        .transpose()
    };
    let earliest = now.millis() - RETENTION_MS;
    let start_ms = time(input.start_time, "StartTime")?
        .unwrap_or(earliest)
        .max(earliest);
    let end_ms = time(input.end_time, "EndTime")?.map_or(i64::MAX / 2, |e| e + 999);
    if let (Some(s), Some(e)) = (input.start_time, input.end_time) {
        if s.floor() > e.floor() {
            return Err(TrailError::InvalidTimeRangeException(
                "Start time must be before end time.".into(),
            ));
        }
    }
    let fingerprint = format!(
        "{:?}|{:?}|{:?}|{}",
        attribute,
        input.start_time.map(f64::to_bits),
        input.end_time.map(f64::to_bits),
        input.event_category.as_deref().unwrap_or("")
    );
    Ok(Query {
        attribute,
        start_ms,
        end_ms,
        limit: usize::try_from(max).unwrap_or(50),
        fingerprint,
    })
}

fn fingerprint_hash(s: &str) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, s.as_bytes());
    d.as_ref()[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn decode_token(token: &str, q: &Query, prefix: &[u8]) -> Result<Vec<u8>, TrailError> {
    let bad = || TrailError::InvalidNextTokenException("Invalid NextToken.".into());
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| bad())?;
    let t: Token = serde_json::from_slice(&raw).map_err(|_| bad())?;
    if t.q != fingerprint_hash(&q.fingerprint) {
        return Err(bad());
    }
    let key: Vec<u8> = (0..t.k.len())
        .step_by(2)
        .map(|i| {
            t.k.get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect::<Option<_>>()
        .ok_or_else(bad)?;
    // The cursor must lie inside the caller's own partition.
    if !key.starts_with(prefix) {
        return Err(bad());
    }
    Ok(key)
}

fn encode_token(last: &[u8], q: &Query) -> String {
    let t = Token {
        k: last.iter().map(|b| format!("{b:02x}")).collect(),
        q: fingerprint_hash(&q.fingerprint),
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(&t).unwrap_or_default())
}

/// Runs `LookupEvents` for the caller's `(account, region)`.
pub fn lookup_events(
    tx: &dyn ReadTx,
    account: &str,
    region: &str,
    input: &LookupEventsInput,
    now: Timestamp,
) -> Result<LookupEventsOutput, TrailError> {
    let q = validate(input, now)?;
    if input.event_category.is_some() {
        // Insights events are not produced by Ferrogate.
        return Ok(LookupEventsOutput {
            events: Vec::new(),
            next_token: None,
        });
    }
    if let Some(("EventId", id)) = q.attribute.as_ref().map(|(a, v)| (a.as_str(), v.as_str())) {
        return lookup_by_id(tx, account, region, id, &q);
    }
    let prefix = match &q.attribute {
        Some((a, v)) => partition(account, region).str(a).str(v).into_bytes(),
        None => partition(account, region).into_bytes(),
    };
    let lower = Key::new().raw(&prefix).i64(q.start_ms).into_bytes();
    let mut upper = Key::new()
        .raw(&prefix)
        .i64(q.end_ms.saturating_add(1))
        .into_bytes();
    if let Some(t) = &input.next_token {
        let cursor = decode_token(t, &q, &prefix)?;
        if cursor < upper {
            upper = cursor;
        }
    }
    let tree = if q.attribute.is_some() {
        INDEX
    } else {
        EVENTS.tree()
    };
    let rows = tx.range(tree, &lower, Some(&upper), Direction::Reverse, q.limit + 1)?;
    let more = rows.len() > q.limit;
    let mut events = Vec::with_capacity(q.limit);
    let mut last_key = None;
    for (k, v) in rows.into_iter().take(q.limit) {
        let stored = if q.attribute.is_some() {
            match event_key_of_index(account, region, &k) {
                Some(ek) => EVENTS.get(tx, &ek)?,
                None => None,
            }
        } else {
            decode(&v)?
        };
        if let Some(s) = stored {
            events.push(to_output(s)?);
        }
        last_key = Some(k);
    }
    let next_token = match (more, last_key) {
        (true, Some(k)) => Some(encode_token(&k, &q)),
        _ => None,
    };
    Ok(LookupEventsOutput { events, next_token })
}

/// `EventId`: at most one event, found by the time its id carries.
fn lookup_by_id(
    tx: &dyn ReadTx,
    account: &str,
    region: &str,
    id: &str,
    q: &Query,
) -> Result<LookupEventsOutput, TrailError> {
    let found = match crate::record::event_id_time(id) {
        Some(t) if t >= q.start_ms && t <= q.end_ms => {
            EVENTS.get(tx, &crate::log::event_key(account, region, t, id))?
        }
        _ => None,
    };
    let events = found
        .into_iter()
        .map(to_output)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(LookupEventsOutput {
        events,
        next_token: None,
    })
}

fn decode(bytes: &[u8]) -> Result<Option<StoredEvent>, TrailError> {
    // Rows of the events tree are read raw by the range scan; decode them like the table.
    let (&version, json) = bytes.split_first().ok_or_else(|| corrupt("empty record"))?;
    if version != <StoredEvent as ferrogate_store::Record>::VERSION {
        return Err(corrupt("unknown version"));
    }
    serde_json::from_slice(json)
        .map(Some)
        .map_err(|e| corrupt(&e.to_string()))
}

fn corrupt(reason: &str) -> TrailError {
    TrailError::Internal(ferrogate_store::StoreError::Corrupt {
        tree: "trail.events",
        reason: reason.to_owned(),
    })
}

/// The fields of a record that `LookupEvents` reports beside it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RecordFields {
    #[serde(rename = "eventID")]
    event_id: String,
    event_name: String,
    event_source: String,
    event_time: String,
    read_only: bool,
    user_identity: IdentityFields,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IdentityFields {
    #[serde(default)]
    access_key_id: Option<String>,
}

fn to_output(s: StoredEvent) -> Result<EventOut, TrailError> {
    let f: RecordFields = serde_json::from_str(&s.record).map_err(|e| corrupt(&e.to_string()))?;
    let time = Timestamp::parse_iso8601(&f.event_time).map_err(|e| corrupt(&e.to_string()))?;
    Ok(EventOut {
        event_id: f.event_id,
        event_name: f.event_name,
        read_only: if f.read_only { "true" } else { "false" }.to_owned(),
        access_key_id: f.user_identity.access_key_id,
        event_time: time.epoch_seconds_f64(),
        event_source: f.event_source,
        username: s.username,
        resources: s
            .resources
            .into_iter()
            .map(
                |LookupResource {
                     resource_type,
                     resource_name,
                 }| ResourceOut {
                    resource_type,
                    resource_name,
                },
            )
            .collect(),
        cloud_trail_event: s.record,
    })
}
