//! Log streams: CreateLogStream, DeleteLogStream, DescribeLogStreams.

use ferrogate_api::{Authorization, Authorized, Done, Empty, Exec, Operation, Reply, Scope};
use ferrogate_store::Direction;
use serde::{Deserialize, Serialize};

use super::{
    existing_group, existing_stream, name_token, on, parse_name_token, recorded_as_serialized,
    Logs, NamesGroup,
};
use crate::model::{
    check_group_name, check_limit, check_stream_name, keys, stream_arn, tables, LogGroup, LogStream,
};
use crate::LogsError;

/// `CreateLogStream`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateLogStreamInput {
    log_group_name: String,
    log_stream_name: String,
}

impl CreateLogStreamInput {
    /// The stream `stream` in the group `group` (for the awslogs driver).
    ///
    /// # Errors
    /// `InvalidParameterException` for names AWS would refuse.
    pub fn new(group: &str, stream: &str) -> Result<Self, LogsError> {
        Self {
            log_group_name: group.to_owned(),
            log_stream_name: stream.to_owned(),
        }
        .validated()
    }

    pub(crate) fn validated(self) -> Result<Self, LogsError> {
        check_group_name("logGroupName", &self.log_group_name)?;
        check_stream_name("logStreamName", &self.log_stream_name)?;
        Ok(self)
    }
}

recorded_as_serialized!(
    CreateLogStreamInput,
    DeleteLogStreamInput,
    DescribeLogStreamsInput
);

impl Operation for CreateLogStreamInput {
    type Output = Empty;

    fn authorize(&self, s: &Scope<'_, Logs>) -> Result<Authorization, LogsError> {
        on::<Self>(s, &self.log_group_name, &self.log_stream_name)
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Logs>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let account = ctx.principal.account.as_str();
        let g = existing_group(tx.read(), account, ctx.region, &op.log_group_name)?;
        let key = keys::stream(&g.id, &op.log_stream_name);
        if tables::STREAMS.get(tx.read(), &key)?.is_some() {
            return Err(LogsError::ResourceAlreadyExistsException(
                "The specified log stream already exists".into(),
            ));
        }
        let stream = LogStream {
            name: op.log_stream_name.clone(),
            creation_time: ctx.now.millis(),
            first_event_timestamp: None,
            last_event_timestamp: None,
            last_ingestion_time: None,
        };
        tables::STREAMS.put(tx.write()?, &key, &stream)?;
        Ok(Reply::new(Empty {}))
    }
}

/// `DeleteLogStream`: the stream and its events.
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteLogStreamInput {
    log_group_name: String,
    log_stream_name: String,
}

impl DeleteLogStreamInput {
    pub(crate) fn validated(self) -> Result<Self, LogsError> {
        check_group_name("logGroupName", &self.log_group_name)?;
        check_stream_name("logStreamName", &self.log_stream_name)?;
        Ok(self)
    }
}

impl Operation for DeleteLogStreamInput {
    type Output = Empty;

    fn authorize(&self, s: &Scope<'_, Logs>) -> Result<Authorization, LogsError> {
        on::<Self>(s, &self.log_group_name, &self.log_stream_name)
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Logs>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let account = ctx.principal.account.as_str();
        let mut g = existing_group(tx.read(), account, ctx.region, &op.log_group_name)?;
        existing_stream(tx.read(), &g, &op.log_stream_name)?;
        let w = tx.write()?;
        let freed = crate::retention::delete_chunks(w, &g.id, Some(&op.log_stream_name))?;
        tables::STREAMS.delete(w, &keys::stream(&g.id, &op.log_stream_name))?;
        g.stored_bytes = (g.stored_bytes - freed).max(0);
        tables::GROUPS.put(w, &keys::group(account, ctx.region, &g.name), &g)?;
        Ok(Reply::new(Empty {}))
    }
}

/// `DescribeLogStreams`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeLogStreamsInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    log_group_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    log_group_identifier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    log_stream_name_prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    order_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    descending: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    limit: Option<i64>,
}

/// One stream as DescribeLogStreams shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogStreamView {
    log_stream_name: String,
    creation_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    first_event_timestamp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_event_timestamp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_ingestion_time: Option<i64>,
    upload_sequence_token: String,
    arn: String,
    /// "On June 17, 2019, this parameter was deprecated for log streams, and is always
    /// reported as zero" (API Reference, LogStream).
    stored_bytes: i64,
}

impl LogStreamView {
    fn of(g: &LogGroup, s: &LogStream) -> Self {
        Self {
            log_stream_name: s.name.clone(),
            creation_time: s.creation_time,
            first_event_timestamp: s.first_event_timestamp,
            last_event_timestamp: s.last_event_timestamp,
            last_ingestion_time: s.last_ingestion_time,
            upload_sequence_token: super::events::sequence_token(g.next_seq),
            arn: stream_arn(&g.region, &g.account, &g.name, &s.name),
            stored_bytes: 0,
        }
    }
}

/// DescribeLogStreams' answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeLogStreamsOutput {
    log_streams: Vec<LogStreamView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

impl DescribeLogStreamsInput {
    pub(crate) fn validated(self) -> Result<Self, LogsError> {
        if let Some(n) = &self.log_group_name {
            check_group_name("logGroupName", n)?;
        }
        if let Some(p) = &self.log_stream_name_prefix {
            check_stream_name("logStreamNamePrefix", p)?;
        }
        match self.order_by.as_deref() {
            None | Some("LogStreamName") => {}
            Some("LastEventTime") if self.log_stream_name_prefix.is_some() => {
                return Err(LogsError::invalid(
                    "Cannot order by LastEventTime with a logStreamNamePrefix.",
                ))
            }
            Some("LastEventTime") => {}
            Some(other) => {
                return Err(LogsError::constraint(
                    other,
                    "orderBy",
                    "Member must satisfy enum value set: [LogStreamName, LastEventTime]",
                ))
            }
        }
        check_limit("limit", self.limit, 1, 50)?;
        if let Some(t) = &self.next_token {
            parse_name_token(t)?;
        }
        Ok(self)
    }
}

/// The streams of `g` in AWS's order, starting after `after` (a token's position).
fn ordered(
    tx: &dyn ferrogate_store::ReadTx,
    g: &LogGroup,
    by_time: bool,
    descending: bool,
) -> Result<Vec<LogStream>, LogsError> {
    let prefix = keys::in_group(&g.id);
    let mut all = Vec::new();
    let mut after: Option<Vec<u8>> = None;
    loop {
        let batch =
            tables::STREAMS.scan(tx, &prefix, after.as_deref(), Direction::Forward, 1024)?;
        let Some((last, _)) = batch.last() else { break };
        after = Some(last.clone());
        all.extend(batch.into_iter().map(|(_, s)| s));
    }
    if by_time {
        // Streams without events sort first, as they have no last event time.
        all.sort_by(|a, b| {
            (a.last_event_timestamp, &a.name).cmp(&(b.last_event_timestamp, &b.name))
        });
    }
    if descending {
        all.reverse();
    }
    Ok(all)
}

/// A stream's place in an order: its name, and for `LastEventTime` its last event time.
fn position(s: &LogStream, by_time: bool) -> String {
    if by_time {
        format!(
            "{:020}/{}",
            s.last_event_timestamp.unwrap_or(-1) + 1,
            s.name
        )
    } else {
        s.name.clone()
    }
}

impl Operation for DescribeLogStreamsInput {
    type Output = DescribeLogStreamsOutput;

    fn authorize(&self, s: &Scope<'_, Logs>) -> Result<Authorization, LogsError> {
        let name = self.group_name(s.account(), s.region)?;
        on::<Self>(s, &name, "")
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Logs>) -> Done<Self> {
        let Exec { tx, ctx, .. } = x;
        let account = ctx.principal.account.as_str();
        let name = op.group_name(account, ctx.region)?;
        let g = existing_group(tx.read(), account, ctx.region, &name)?;
        let limit = check_limit("limit", op.limit, 1, 50)?.unwrap_or(50);
        let by_time = op.order_by.as_deref() == Some("LastEventTime");
        let descending = op.descending == Some(true);
        let after = op.next_token.as_deref().map(parse_name_token).transpose()?;
        let prefix = op.log_stream_name_prefix.as_deref().unwrap_or("");
        let mut page = Vec::new();
        let mut more = false;
        for s in ordered(tx.read(), &g, by_time, descending)? {
            let pos = position(&s, by_time);
            let past = after
                .as_ref()
                .is_none_or(|a| if descending { pos < *a } else { pos > *a });
            if !past || !s.name.starts_with(prefix) {
                continue;
            }
            if page.len() == limit {
                more = true;
                break;
            }
            page.push(s);
        }
        let next_token = more
            .then(|| page.last().map(|s| name_token(&position(s, by_time))))
            .flatten();
        Ok(Reply::new(DescribeLogStreamsOutput {
            log_streams: page.iter().map(|s| LogStreamView::of(&g, s)).collect(),
            next_token,
        }))
    }
}

impl NamesGroup for DescribeLogStreamsInput {
    fn names(&self) -> (Option<&str>, Option<&str>) {
        (
            self.log_group_name.as_deref(),
            self.log_group_identifier.as_deref(),
        )
    }
}
