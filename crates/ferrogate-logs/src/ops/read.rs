//! GetLogEvents (one stream) and FilterLogEvents (a group, interleaved across streams).
//!
//! Both read on a snapshot, opening only the chunks their time range and position need
//! ([`crate::scan`]), under the data key each chunk names: a KMS-wrapped key only while KMS
//! allows its use (checked on the same snapshot), so a disabled key stops reads as well as
//! ingestion. Events older than the group's retention are never returned.

use std::collections::HashMap;
use std::sync::Arc;

use aws_lc_rs::aead::LessSafeKey;
use ferrogate_api::{
    Authorization, Authorized, BoxFuture, Done, Env, Exec, Operation, Reply, Scope,
};
use ferrogate_store::ReadTx;
use serde::{Deserialize, Serialize};

use super::events::{data_key, refresh_kms_keys};
use super::{existing_group, existing_stream, on, recorded_as_serialized, Logs, NamesGroup};
use crate::chunk;
use crate::model::{check_group_name, check_limit, check_stream_name, tables, LogGroup};
use crate::pattern::Pattern;
use crate::scan::{self, ChunkRef, Event, Pos, Query};
use crate::LogsError;

/// The most message bytes in one answer ("up to 1 MB", API Reference).
const MAX_ANSWER_BYTES: usize = 1_048_576;
/// The default and largest `limit`.
const MAX_LIMIT: i64 = 10_000;

/// What both reads share: the group the request names, read on the request's snapshot, and
/// its chunks opened under their data keys, each key looked up (and its KMS key checked)
/// once per request.
struct Reader<'a> {
    logs: &'a Logs,
    tx: &'a dyn ReadTx,
    group: LogGroup,
    now: ferrogate_types::Timestamp,
    sealer: &'a dyn ferrogate_store::seal::Sealer,
    keys: HashMap<u32, Arc<LessSafeKey>>,
}

impl<'a> Reader<'a> {
    fn new<O: NamesGroup>(
        op: &O,
        logs: &'a Logs,
        tx: &'a dyn ReadTx,
        ctx: &ferrogate_api::Ctx<'a>,
    ) -> Result<Self, LogsError> {
        let account = ctx.principal.account.as_str();
        let name = op.group_name(account, ctx.region)?;
        Ok(Self {
            logs,
            tx,
            group: existing_group(tx, account, ctx.region, &name)?,
            now: ctx.now,
            sealer: ctx.sealer,
            keys: HashMap::new(),
        })
    }

    /// A query of `[start, end)` (never before the group's retention) from `bound`.
    fn query<'p>(
        &self,
        (start, end): (Option<i64>, Option<i64>),
        limit: Option<i64>,
        (forward, bound): (bool, Pos),
        pattern: &'p Pattern,
    ) -> Result<Query<'p>, LogsError> {
        let from = start.unwrap_or(i64::MIN);
        let from = self
            .group
            .expired_before(self.now.millis())
            .map_or(from, |cut| from.max(cut));
        Ok(Query {
            from,
            to: end.unwrap_or(i64::MAX),
            forward,
            bound,
            limit: check_limit("limit", limit, 1, MAX_LIMIT)?.unwrap_or(10_000),
            max_bytes: MAX_ANSWER_BYTES,
            pattern,
        })
    }

    fn read(
        &mut self,
        chunks: Vec<ChunkRef>,
        q: &Query<'_>,
    ) -> Result<(Vec<Event>, bool), LogsError> {
        scan::read(chunks, q, |c| self.open(c))
    }

    fn open(&mut self, c: &ChunkRef) -> Result<zeroize::Zeroizing<Vec<u8>>, LogsError> {
        let id = c.header.key_id;
        let key = match self.keys.get(&id) {
            Some(k) => k.clone(),
            None => {
                let k = data_key(self.logs, self.tx, &self.group, id, self.now, self.sealer)?;
                self.keys.insert(id, k.clone());
                k
            }
        };
        let body = self
            .tx
            .get(tables::CHUNKS, &c.key)?
            .ok_or(LogsError::Crypto("a chunk's body is missing"))?;
        chunk::open(&key, &c.key, &c.header, &body)
    }
}

/// The prepare step of both reads: the group's KMS-wrapped data keys, unwrapped through
/// KMS when not cached (a key KMS refuses is left out, and the read refuses what needs it).
fn prepare_group<'a, O: NamesGroup + Send + Sync>(
    op: &'a Authorized<O>,
    env: Env<'a, Logs>,
) -> BoxFuture<'a, Result<(), LogsError>> {
    Box::pin(async move {
        let region = env.region().to_owned();
        let account = op.principal().account.as_str();
        let Ok(name) = op.group_name(account, &region) else {
            return Ok(());
        };
        if let Some(g) = env.service.find_group(account, &region, &name)? {
            refresh_kms_keys(env.service, &g, None).await;
        }
        Ok(())
    })
}

fn check_times(start: Option<i64>, end: Option<i64>) -> Result<(), LogsError> {
    for (member, v) in [("startTime", start), ("endTime", end)] {
        if let Some(v) = v.filter(|v| *v < 0) {
            return Err(LogsError::constraint(
                &v.to_string(),
                member,
                "Member must have value greater than or equal to 0",
            ));
        }
    }
    Ok(())
}

/// `GetLogEvents`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GetLogEventsInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    log_group_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    log_group_identifier: Option<String>,
    log_stream_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    start_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    end_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    limit: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    start_from_head: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    unmask: Option<bool>,
}

recorded_as_serialized!(GetLogEventsInput, FilterLogEventsInput);

/// One event as GetLogEvents shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputLogEvent {
    timestamp: i64,
    message: String,
    ingestion_time: i64,
}

/// GetLogEvents' answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GetLogEventsOutput {
    events: Vec<OutputLogEvent>,
    next_forward_token: String,
    next_backward_token: String,
}

impl GetLogEventsOutput {
    /// The messages, oldest first.
    pub fn messages(&self) -> impl Iterator<Item = &str> {
        self.events.iter().map(|e| e.message.as_str())
    }
}

/// A GetLogEvents token: `f/<position>` (read forwards from after it) or `b/<position>`
/// (backwards from before it), AWS's `f/…` and `b/…` forms.
fn parse_token(t: &str) -> Result<(bool, Pos), LogsError> {
    let bad = || LogsError::invalid("The specified nextToken is invalid.");
    let (forward, rest) = match t.split_at_checked(2) {
        Some(("f/", r)) => (true, r),
        Some(("b/", r)) => (false, r),
        _ => return Err(bad()),
    };
    let digits = rest.strip_suffix("/s").unwrap_or(rest);
    Ok((forward, Pos::parse(digits).ok_or_else(bad)?))
}

fn token(forward: bool, p: Pos) -> String {
    format!("{}/{}/s", if forward { "f" } else { "b" }, p.digits())
}

impl GetLogEventsInput {
    pub(crate) fn validated(self) -> Result<Self, LogsError> {
        if let Some(n) = &self.log_group_name {
            check_group_name("logGroupName", n)?;
        }
        check_stream_name("logStreamName", &self.log_stream_name)?;
        check_limit("limit", self.limit, 1, MAX_LIMIT)?;
        check_times(self.start_time, self.end_time)?;
        if let Some(t) = &self.next_token {
            parse_token(t)?;
        }
        Ok(self)
    }
}

impl Operation for GetLogEventsInput {
    type Output = GetLogEventsOutput;

    fn authorize(&self, s: &Scope<'_, Logs>) -> Result<Authorization, LogsError> {
        let name = self.group_name(s.account(), s.region)?;
        on::<Self>(s, &name, &self.log_stream_name)
    }

    fn prepare<'a>(
        op: &'a mut Authorized<Self>,
        env: Env<'a, Logs>,
    ) -> BoxFuture<'a, Result<(), LogsError>> {
        prepare_group(op, env)
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Logs>) -> Done<Self> {
        let Exec { tx, ctx, service } = x;
        let tx = tx.read();
        let mut r = Reader::new(&**op, service, tx, &ctx)?;
        let stream = existing_stream(tx, &r.group, &op.log_stream_name)?;
        let (forward, bound, given) = match &op.next_token {
            Some(t) => {
                let (f, p) = parse_token(t)?;
                (f, p, Some(t.clone()))
            }
            None if op.start_from_head == Some(true) => (true, Pos::START, None),
            None => (false, Pos::END, None),
        };
        let pattern = Pattern::All;
        let times = (op.start_time, op.end_time);
        let q = r.query(times, op.limit, (forward, bound), &pattern)?;
        let chunks = scan::chunks(tx, &r.group.id, Some(&stream.name), |_| true)?;
        let (events, _) = r.read(chunks, &q)?;
        // At either end of the stream the token given comes back ("If you have reached the
        // end of the stream, it returns the same token you passed in", API Reference); an
        // empty first read points both ways at the stream's start.
        let (fwd, back) = match (events.first(), events.last()) {
            (Some(first), Some(last)) => (token(true, last.pos), token(false, first.pos)),
            _ => match given {
                Some(t) if forward => (t, token(false, bound)),
                Some(t) => (token(true, bound), t),
                None => (token(true, Pos::START), token(false, Pos::START)),
            },
        };
        Ok(Reply::new(GetLogEventsOutput {
            events: events
                .into_iter()
                .map(|e| OutputLogEvent {
                    timestamp: e.pos.ts,
                    message: e.message,
                    ingestion_time: e.ingestion,
                })
                .collect(),
            next_forward_token: fwd,
            next_backward_token: back,
        }))
    }
}

/// `FilterLogEvents`. `interleaved` is accepted and has no effect: events always come
/// interleaved across streams, in time order, as AWS now answers.
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FilterLogEventsInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    log_group_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    log_group_identifier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    log_stream_names: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    log_stream_name_prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    start_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    end_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    filter_pattern: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    limit: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    interleaved: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    unmask: Option<bool>,
}

/// One event as FilterLogEvents shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FilteredLogEvent {
    log_stream_name: String,
    timestamp: i64,
    message: String,
    ingestion_time: i64,
    event_id: String,
}

/// FilterLogEvents' answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FilterLogEventsOutput {
    events: Vec<FilteredLogEvent>,
    /// Deprecated by AWS ("IMPORTANT: As of May 15, 2020, this parameter is no longer
    /// supported"): always empty.
    searched_log_streams: Vec<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

impl FilterLogEventsInput {
    pub(crate) fn validated(self) -> Result<Self, LogsError> {
        if let Some(n) = &self.log_group_name {
            check_group_name("logGroupName", n)?;
        }
        if let Some(names) = &self.log_stream_names {
            if names.is_empty() || names.len() > 100 {
                return Err(LogsError::constraint(
                    &format!("{names:?}"),
                    "logStreamNames",
                    "Member must have length between 1 and 100",
                ));
            }
            for n in names {
                check_stream_name("logStreamNames", n)?;
            }
            if self.log_stream_name_prefix.is_some() {
                return Err(LogsError::invalid(
                    "logStreamNames and logStreamNamePrefix are mutually exclusive parameters.",
                ));
            }
        }
        if let Some(p) = &self.log_stream_name_prefix {
            check_stream_name("logStreamNamePrefix", p)?;
        }
        if let Some(p) = &self.filter_pattern {
            if p.chars().count() > 1024 {
                return Err(LogsError::constraint(
                    p,
                    "filterPattern",
                    "Member must have length less than or equal to 1024",
                ));
            }
            Pattern::parse(p)?;
        }
        check_limit("limit", self.limit, 1, MAX_LIMIT)?;
        check_times(self.start_time, self.end_time)?;
        if let Some(t) = &self.next_token {
            Pos::parse(t)
                .ok_or_else(|| LogsError::invalid("The specified nextToken is invalid."))?;
        }
        Ok(self)
    }

    fn wanted(&self, stream: &str) -> bool {
        match (&self.log_stream_names, &self.log_stream_name_prefix) {
            (Some(names), _) => names.iter().any(|n| n == stream),
            (None, Some(p)) => stream.starts_with(p.as_str()),
            (None, None) => true,
        }
    }
}

impl Operation for FilterLogEventsInput {
    type Output = FilterLogEventsOutput;

    fn authorize(&self, s: &Scope<'_, Logs>) -> Result<Authorization, LogsError> {
        let name = self.group_name(s.account(), s.region)?;
        on::<Self>(s, &name, "")
    }

    fn prepare<'a>(
        op: &'a mut Authorized<Self>,
        env: Env<'a, Logs>,
    ) -> BoxFuture<'a, Result<(), LogsError>> {
        prepare_group(op, env)
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Logs>) -> Done<Self> {
        let Exec { tx, ctx, service } = x;
        let tx = tx.read();
        let mut r = Reader::new(&**op, service, tx, &ctx)?;
        let pattern = Pattern::parse(op.filter_pattern.as_deref().unwrap_or(""))?;
        let bound = match &op.next_token {
            Some(t) => Pos::parse(t)
                .ok_or_else(|| LogsError::invalid("The specified nextToken is invalid."))?,
            None => Pos::START,
        };
        let times = (op.start_time, op.end_time);
        let q = r.query(times, op.limit, (true, bound), &pattern)?;
        let single = op
            .log_stream_names
            .as_ref()
            .filter(|n| n.len() == 1)
            .map(|n| n[0].as_str());
        let chunks = scan::chunks(tx, &r.group.id, single, |s| op.wanted(s))?;
        let (events, more) = r.read(chunks, &q)?;
        let next_token = more
            .then(|| events.last().map(|e: &Event| e.pos.digits()))
            .flatten();
        Ok(Reply::new(FilterLogEventsOutput {
            events: events
                .into_iter()
                .map(|e| FilteredLogEvent {
                    log_stream_name: e.stream.to_string(),
                    timestamp: e.pos.ts,
                    event_id: e.pos.digits(),
                    message: e.message,
                    ingestion_time: e.ingestion,
                })
                .collect(),
            searched_log_streams: Vec::new(),
            next_token,
        }))
    }
}

impl NamesGroup for GetLogEventsInput {
    fn names(&self) -> (Option<&str>, Option<&str>) {
        (
            self.log_group_name.as_deref(),
            self.log_group_identifier.as_deref(),
        )
    }
}

impl NamesGroup for FilterLogEventsInput {
    fn names(&self) -> (Option<&str>, Option<&str>) {
        (
            self.log_group_name.as_deref(),
            self.log_group_identifier.as_deref(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip() {
        let p = Pos {
            ts: 1_700_000_000_000,
            seq: 7,
            idx: 3,
        };
        for f in [true, false] {
            assert_eq!(parse_token(&token(f, p)).unwrap(), (f, p));
        }
        let t = token(true, p);
        assert!(
            t.starts_with("f/") && t.ends_with("/s") && t.len() == 2 + 50 + 2,
            "{t}"
        );
        for bad in ["", "x/1", "f/123", "b/", "f/abc/s"] {
            assert!(parse_token(bad).is_err(), "{bad}");
        }
    }
}
