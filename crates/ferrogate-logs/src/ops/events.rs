//! PutLogEvents: one accepted batch becomes one encrypted chunk of its stream.
//!
//! AWS's limits (API Reference, PutLogEvents): at most 10,000 events and 1,048,576 bytes,
//! counted as each message's UTF-8 bytes plus 26; an event of at most 256 KiB with that
//! overhead; events in chronological order, spanning at most 24 hours. Events more than 2
//! hours ahead, older than 14 days, or older than the group's retention are not stored and
//! are reported in `rejectedLogEventsInfo`. `sequenceToken` is accepted and ignored, as
//! AWS does since January 2023 ("PutLogEvents actions are now always accepted").

use ferrogate_api::{
    Authorization, Authorized, BoxFuture, Done, Env, Exec, Operation, Recorded, Reply, Scope, Sent,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{existing_group, existing_stream, on, Logs};
use crate::chunk;
use crate::keyring::{self, kms_usable};
use crate::model::{check_group_name, check_stream_name, keys, tables, LogGroup, Wrapped};
use crate::LogsError;

/// AWS's per-event overhead in the batch size.
pub const EVENT_OVERHEAD: usize = 26;
/// The largest batch, overhead included.
pub const MAX_BATCH_BYTES: usize = 1_048_576;
/// The largest event, overhead included.
pub const MAX_EVENT_BYTES: usize = 262_144;
/// The most events in a batch.
pub const MAX_EVENTS: usize = 10_000;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// One event as a client sends it.
#[derive(Debug, Clone, Deserialize)]
pub struct InputLogEvent {
    timestamp: i64,
    message: String,
}

/// `PutLogEvents`. `Debug` shows no message.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PutLogEventsInput {
    log_group_name: String,
    log_stream_name: String,
    log_events: Vec<InputLogEvent>,
    #[serde(default)]
    sequence_token: Option<String>,
    #[serde(default)]
    entity: Option<Value>,
}

impl std::fmt::Debug for PutLogEventsInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PutLogEventsInput")
            .field("log_group_name", &self.log_group_name)
            .field("log_stream_name", &self.log_stream_name)
            .field("events", &self.log_events.len())
            .finish_non_exhaustive()
    }
}

/// Which events of a batch were not stored, by AWS's index ranges.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RejectedLogEventsInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    too_new_log_event_start_index: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    too_old_log_event_end_index: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expired_log_event_end_index: Option<usize>,
}

/// PutLogEvents' answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PutLogEventsOutput {
    next_sequence_token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    rejected_log_events_info: Option<RejectedLogEventsInfo>,
}

impl PutLogEventsOutput {
    /// Which events were not stored, if any.
    pub fn rejected(&self) -> Option<RejectedLogEventsInfo> {
        self.rejected_log_events_info
    }
}

/// The sequence token shown for a group at `seq` (56 digits, as AWS's look). Never
/// checked: see the module's documentation.
pub(crate) fn sequence_token(seq: i64) -> String {
    format!("{seq:056}")
}

impl PutLogEventsInput {
    /// A batch of `(timestamp in ms, message)` for `stream` of `group`, as the task's
    /// awslogs driver sends it (called through `ferrogate_api::Client` as the task's
    /// execution role).
    ///
    /// # Errors
    /// `InvalidParameterException` for a batch AWS would refuse.
    pub fn new(group: &str, stream: &str, events: Vec<(i64, String)>) -> Result<Self, LogsError> {
        Self {
            log_group_name: group.to_owned(),
            log_stream_name: stream.to_owned(),
            log_events: events
                .into_iter()
                .map(|(timestamp, message)| InputLogEvent { timestamp, message })
                .collect(),
            sequence_token: None,
            entity: None,
        }
        .validated()
    }

    pub(crate) fn validated(self) -> Result<Self, LogsError> {
        check_group_name("logGroupName", &self.log_group_name)?;
        check_stream_name("logStreamName", &self.log_stream_name)?;
        let n = self.log_events.len();
        if n == 0 || n > MAX_EVENTS {
            return Err(LogsError::constraint(
                &format!("[{n} events]"),
                "logEvents",
                "Member must have length between 1 and 10000",
            ));
        }
        if self.sequence_token.as_deref() == Some("") {
            return Err(LogsError::constraint(
                "",
                "sequenceToken",
                "Member must have length greater than or equal to 1",
            ));
        }
        if self.entity.is_some() {
            return Err(LogsError::invalid("entity is not supported by Ferrogate."));
        }
        let mut size = 0usize;
        let mut prev = i64::MIN;
        for (i, e) in self.log_events.iter().enumerate() {
            if e.message.is_empty() {
                return Err(LogsError::constraint(
                    "",
                    &format!("logEvents.{}.member.message", i + 1),
                    "Member must have length greater than or equal to 1",
                ));
            }
            if e.timestamp < 0 {
                return Err(LogsError::constraint(
                    &e.timestamp.to_string(),
                    &format!("logEvents.{}.member.timestamp", i + 1),
                    "Member must have value greater than or equal to 0",
                ));
            }
            let bytes = e.message.len() + EVENT_OVERHEAD;
            if bytes > MAX_EVENT_BYTES {
                return Err(LogsError::invalid(format!(
                    "Log event too large: {bytes} bytes exceeds limit of {MAX_EVENT_BYTES}"
                )));
            }
            if e.timestamp < prev {
                return Err(LogsError::invalid(
                    "Log events in a single PutLogEvents request must be in chronological order.",
                ));
            }
            prev = e.timestamp;
            size += bytes;
        }
        if size > MAX_BATCH_BYTES {
            return Err(LogsError::invalid(format!(
                "Upload too large: {size} bytes exceeds limit of {MAX_BATCH_BYTES}"
            )));
        }
        let (first, last) = (
            self.log_events[0].timestamp,
            self.log_events[n - 1].timestamp,
        );
        if last - first > DAY_MS {
            return Err(LogsError::invalid(
                "The batch of log events in a single PutLogEvents request cannot span more than 24 hours.",
            ));
        }
        Ok(self)
    }

    /// The events that are stored (`start..end`) and what is rejected, at `now`.
    fn accepted(&self, g: &LogGroup, now: i64) -> (usize, usize, RejectedLogEventsInfo) {
        let ts: Vec<i64> = self.log_events.iter().map(|e| e.timestamp).collect();
        let mut info = RejectedLogEventsInfo::default();
        // Chronological order: the rejected events are a prefix (too old or expired) and a
        // suffix (too new).
        let too_old = ts.iter().take_while(|&&t| t < now - 14 * DAY_MS).count();
        let expired = match g.expired_before(now) {
            Some(cut) => ts.iter().take_while(|&&t| t < cut).count(),
            None => 0,
        };
        let end = ts
            .iter()
            .position(|&t| t > now + 2 * HOUR_MS)
            .unwrap_or(ts.len());
        if too_old > 0 {
            info.too_old_log_event_end_index = Some(too_old);
        }
        if expired > 0 {
            info.expired_log_event_end_index = Some(expired);
        }
        if end < ts.len() {
            info.too_new_log_event_start_index = Some(end);
        }
        let start = too_old.max(expired).min(end);
        (start, end, info)
    }
}

impl Recorded for PutLogEventsInput {
    /// Never the events: a log line in the audit log would be a log line in clear on disk.
    fn request_parameters(&self, _: Sent<'_>) -> Value {
        json!({
            "logGroupName": self.log_group_name,
            "logStreamName": self.log_stream_name,
        })
    }
}

/// Unwraps (through KMS, as CloudWatch Logs) every KMS-wrapped data key of the group `g`
/// that is not cached or no longer fresh; a key KMS refuses is dropped from the cache, so
/// that the execution step refuses what needs it.
pub(crate) async fn refresh_kms_keys(logs: &Logs, g: &LogGroup, only: Option<u32>) {
    let client = match logs.as_logs(&g.account, &g.region) {
        Ok(c) => c,
        Err(_) => return,
    };
    for k in &g.keys {
        let Wrapped::Kms { key_arn, blob } = &k.wrapped else {
            continue;
        };
        if only.is_some_and(|o| o != k.id) || logs.keys.fresh(&g.id, k.id).is_some() {
            continue;
        }
        let arn = g.arn();
        let decrypt = ferrogate_kms::ops::DecryptInput::new(blob, key_arn, keyring::context(&arn));
        let plain = match decrypt {
            Ok(d) => client.call(&logs.kms, d).await,
            Err(e) => Err(e),
        };
        match plain {
            Ok(p) => {
                if logs.keys.insert(&g.id, k.id, p.plaintext(), true).is_err() {
                    logs.keys.remove(&g.id, k.id);
                }
            }
            Err(e) => {
                tracing::debug!(group = %arn, error = %e, "KMS refused a log group's data key");
                logs.keys.remove(&g.id, k.id);
            }
        }
    }
}

/// The unwrapped data key `id` of `g`, for a request at `now`: a KMS key is usable only
/// while KMS's state gate allows it (checked on `tx`, every time); a service-owned key is
/// opened with the root key when not cached.
pub(crate) fn data_key(
    logs: &Logs,
    tx: &dyn ferrogate_store::ReadTx,
    g: &LogGroup,
    id: u32,
    now: ferrogate_types::Timestamp,
    sealer: &dyn ferrogate_store::seal::Sealer,
) -> Result<std::sync::Arc<aws_lc_rs::aead::LessSafeKey>, LogsError> {
    let k = g.keys.iter().find(|k| k.id == id).ok_or(LogsError::Crypto(
        "a chunk names a data key its group lacks",
    ))?;
    match &k.wrapped {
        Wrapped::Kms { key_arn, .. } => {
            kms_usable(tx, key_arn, now).map_err(|e| {
                tracing::debug!(group = %g.arn(), error = %e, "the log group's KMS key is not usable");
                LogsError::key_refused(&g.arn())
            })?;
            logs.keys
                .cached(&g.id, id)
                .ok_or_else(|| LogsError::key_refused(&g.arn()))
        }
        Wrapped::Service(sealed) => match logs.keys.cached(&g.id, id) {
            Some(k) => Ok(k),
            None => {
                let dk = keyring::open_service(sealer, &g.arn(), &g.id, id, sealed)?;
                logs.keys.insert(&g.id, id, &dk, false)
            }
        },
    }
}

impl Operation for PutLogEventsInput {
    type Output = PutLogEventsOutput;

    fn authorize(&self, s: &Scope<'_, Logs>) -> Result<Authorization, LogsError> {
        on::<Self>(s, &self.log_group_name, &self.log_stream_name)
    }

    fn prepare<'a>(
        op: &'a mut Authorized<Self>,
        env: Env<'a, Logs>,
    ) -> BoxFuture<'a, Result<(), LogsError>> {
        Box::pin(async move {
            let account = op.principal().account.as_str().to_owned();
            let region = env.region().to_owned();
            let found = env
                .service
                .find_group(&account, &region, &op.log_group_name)?;
            if let Some(g) = found {
                let current = g.current_key().map(|k| k.id);
                refresh_kms_keys(env.service, &g, current).await;
            }
            Ok(())
        })
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Logs>) -> Done<Self> {
        let Exec {
            mut tx,
            ctx,
            service,
        } = x;
        let account = ctx.principal.account.as_str();
        let mut g = existing_group(tx.read(), account, ctx.region, &op.log_group_name)?;
        let mut stream = existing_stream(tx.read(), &g, &op.log_stream_name)?;
        let now = ctx.now.millis();
        let (start, end, info) = op.accepted(&g, now);
        let rejected = (info != RejectedLogEventsInfo::default()).then_some(info);
        if start < end {
            let key_id = g
                .current_key()
                .ok_or(LogsError::Crypto("a log group without a data key"))?
                .id;
            let dk = data_key(service, tx.read(), &g, key_id, ctx.now, ctx.sealer)?;
            let seq = g.next_seq;
            let store_key = keys::chunk(&g.id, &stream.name, seq);
            let events: Vec<(i64, &str)> = op.log_events[start..end]
                .iter()
                .map(|e| (e.timestamp, e.message.as_str()))
                .collect();
            let (header, body) = chunk::seal(&dk, key_id, &store_key, &events, now)?;
            let w = tx.write()?;
            w.put(tables::CHUNKS, &store_key, &body)?;
            w.put(tables::HEADERS, &store_key, &header.encode())?;
            g.next_seq += 1;
            g.stored_bytes += i64::from(header.stored);
            stream.first_event_timestamp = Some(
                stream
                    .first_event_timestamp
                    .map_or(header.min_ts, |f| f.min(header.min_ts)),
            );
            stream.last_event_timestamp = Some(
                stream
                    .last_event_timestamp
                    .map_or(header.max_ts, |l| l.max(header.max_ts)),
            );
            stream.last_ingestion_time = Some(now);
            tables::STREAMS.put(w, &keys::stream(&g.id, &stream.name), &stream)?;
            tables::GROUPS.put(w, &keys::group(account, ctx.region, &g.name), &g)?;
        }
        Ok(Reply::new(PutLogEventsOutput {
            next_sequence_token: sequence_token(g.next_seq),
            rejected_log_events_info: rejected,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(events: &[(i64, &str)]) -> Result<PutLogEventsInput, LogsError> {
        PutLogEventsInput::new(
            "g",
            "s",
            events.iter().map(|(t, m)| (*t, (*m).to_owned())).collect(),
        )
    }

    fn group_with(retention: Option<i32>) -> LogGroup {
        LogGroup {
            account: "111122223333".into(),
            region: "us-east-1".into(),
            name: "g".into(),
            id: "0".repeat(32),
            creation_time: 0,
            retention_in_days: retention,
            kms_key_arn: None,
            keys: Vec::new(),
            tags: Default::default(),
            stored_bytes: 0,
            next_seq: 1,
            log_group_class: "STANDARD".into(),
        }
    }

    #[test]
    fn limits_are_awss() {
        let e = batch(&[]).unwrap_err().to_string();
        assert!(e.contains("'logEvents'"), "{e}");
        let e = batch(&[(2, "a"), (1, "b")]).unwrap_err().to_string();
        assert_eq!(
            e,
            "Log events in a single PutLogEvents request must be in chronological order."
        );
        let e = batch(&[(0, "a"), (DAY_MS + 1, "b")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot span more than 24 hours"), "{e}");
        assert!(batch(&[(0, "a"), (DAY_MS, "b")]).is_ok());
        let big = "x".repeat(MAX_EVENT_BYTES - EVENT_OVERHEAD + 1);
        let e = batch(&[(0, &big)]).unwrap_err().to_string();
        assert_eq!(
            e,
            "Log event too large: 262145 bytes exceeds limit of 262144"
        );
        let ok = "x".repeat(MAX_EVENT_BYTES - EVENT_OVERHEAD);
        assert!(batch(&[(0, &ok)]).is_ok());
        // Five events of 256 KiB with their overhead: 1,310,720 bytes.
        let e = batch(&[(0, &ok), (0, &ok), (0, &ok), (0, &ok), (0, &ok)])
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "Upload too large: 1310720 bytes exceeds limit of 1048576"
        );
        assert!(batch(&[(0, "")]).is_err());
        assert!(batch(&[(-1, "a")]).is_err());
        let many: Vec<(i64, &str)> = (0..=10_000).map(|i| (i, "a")).collect();
        assert!(batch(&many).is_err());
        assert!(batch(&many[..MAX_EVENTS]).is_ok());
    }

    #[test]
    fn rejected_ranges() {
        let now = 100 * DAY_MS;
        let b = batch(&[
            (now - 15 * DAY_MS, "too old"),
            (now - 10 * DAY_MS, "expired with 7 days"),
            (now, "ok"),
            (now + 2 * HOUR_MS, "just in time"),
            (now + 2 * HOUR_MS + 1, "too new"),
        ]);
        // That batch spans more than 24 hours: check the ranges on the parts that fit.
        assert!(b.is_err());
        let b = batch(&[
            (now - 20 * HOUR_MS, "a"),
            (now, "b"),
            (now + 3 * HOUR_MS, "c"),
        ])
        .unwrap();
        let (s, e, info) = b.accepted(&group_with(None), now);
        assert_eq!((s, e), (0, 2));
        assert_eq!(info.too_new_log_event_start_index, Some(2));
        let (s, e, info) = b.accepted(&group_with(Some(1)), now + 10 * HOUR_MS);
        // With a one-day retention at now+10h, the event at now-20h is 30 h old.
        assert_eq!((s, e), (1, 3));
        assert_eq!(info.expired_log_event_end_index, Some(1));
        assert_eq!(info.too_old_log_event_end_index, None);
        let old = batch(&[(0, "a"), (1, "b")]).unwrap();
        let (s, e, info) = old.accepted(&group_with(None), now);
        assert_eq!((s, e), (2, 2));
        assert_eq!(info.too_old_log_event_end_index, Some(2));
    }

    #[test]
    fn debug_shows_no_message() {
        let b = batch(&[(0, "secret-line")]).unwrap();
        assert!(!format!("{b:?}").contains("secret-line"));
    }
}
