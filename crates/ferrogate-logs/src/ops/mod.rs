//! The CloudWatch Logs operations (awsJson1_1, `Logs_20140328`).
//!
//! Authorization follows the Service Authorization Reference and what AWS's refusals
//! name: stream actions (`CreateLogStream`, `DeleteLogStream`, `PutLogEvents`,
//! `GetLogEvents`) on `…:log-group:<g>:log-stream:<s>`; the original log-group actions on
//! `…:log-group:<g>:log-stream:` ([`crate::model::stream_arn`] with an empty stream);
//! `DescribeLogGroups` on `…:log-group::log-stream:`; the tag operations on the
//! `resourceArn` given. An existing group's tags become `aws:ResourceTag/*`.

mod events;
mod groups;
mod read;
mod streams;
mod tags;

pub use events::{PutLogEventsInput, PutLogEventsOutput};
pub use groups::{
    AssociateKmsKeyInput, CreateLogGroupInput, DeleteLogGroupInput, DeleteRetentionPolicyInput,
    DescribeLogGroupsInput, DisassociateKmsKeyInput, PutRetentionPolicyInput,
};
pub use read::{FilterLogEventsInput, GetLogEventsInput};
pub use streams::{CreateLogStreamInput, DeleteLogStreamInput, DescribeLogStreamsInput};
pub use tags::{ListTagsForResourceInput, TagResourceInput, UntagResourceInput};

use std::sync::Arc;

use ferrogate_api::{
    Authorization, Caller, Check, Client, Executor, Registered, RequestTags, Resource, Scope,
};
use ferrogate_store::ReadTx;
use ferrogate_types::{AccountId, Principal};

use crate::keyring::Keyring;
use crate::model::{keys, stream_arn, tables, LogGroup, LogStream};
use crate::LogsError;

/// State shared by all CloudWatch Logs operations: KMS (for groups' customer managed
/// keys), the executor KMS is called through, and the cache of unwrapped data keys.
pub struct Logs {
    pub(crate) kms: Arc<ferrogate_kms::Kms>,
    pub(crate) exec: Executor,
    pub(crate) keys: Keyring,
}

impl std::fmt::Debug for Logs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Logs").finish_non_exhaustive()
    }
}

impl Logs {
    /// The service, using customer managed keys through `kms`, called with `exec` as the
    /// CloudWatch Logs service principal.
    pub fn new(kms: Arc<ferrogate_kms::Kms>, exec: Executor) -> Arc<Self> {
        Arc::new(Self {
            kms,
            exec,
            keys: Keyring::default(),
        })
    }

    /// A KMS client calling as CloudWatch Logs' regional service principal
    /// (`logs.<region>.amazonaws.com`, the principal AWS's documented key policy names)
    /// in `account`.
    pub(crate) fn as_logs(&self, account: &str, region: &str) -> Result<Client, LogsError> {
        let account = AccountId::parse(account)
            .map_err(|_| LogsError::invalid(format!("Invalid account id {account}")))?;
        let principal = Principal::service(account, &format!("logs.{region}.amazonaws.com"));
        Ok(Client::new(
            self.exec.clone(),
            Caller::service(principal, region),
        ))
    }
}

impl Logs {
    /// The group `name`, read on a snapshot of its own (for a prepare step, which runs
    /// outside the operation's transaction).
    pub(crate) fn find_group(
        &self,
        account: &str,
        region: &str,
        name: &str,
    ) -> Result<Option<LogGroup>, LogsError> {
        self.exec
            .store()
            .read(|tx| group(tx, account, region, name))
    }
}

ferrogate_api::service! {
    Logs { error: LogsError, id: Logs, tag_prefixes: [], changes_authorization: false, record_resources: false, denied: LogsError::AccessDeniedException }
}

ferrogate_api::operations! {
    service: Logs,
    protocol: json,
    parameters: own,
    ops: {
        CreateLogGroup(groups::CreateLogGroupInput) write,
        DeleteLogGroup(groups::DeleteLogGroupInput) write,
        DescribeLogGroups(groups::DescribeLogGroupsInput) read,
        PutRetentionPolicy(groups::PutRetentionPolicyInput) write,
        DeleteRetentionPolicy(groups::DeleteRetentionPolicyInput) write,
        AssociateKmsKey(groups::AssociateKmsKeyInput) write,
        DisassociateKmsKey(groups::DisassociateKmsKeyInput) write,
        CreateLogStream(streams::CreateLogStreamInput) write,
        DeleteLogStream(streams::DeleteLogStreamInput) write,
        DescribeLogStreams(streams::DescribeLogStreamsInput) read,
        PutLogEvents(events::PutLogEventsInput) write,
        GetLogEvents(read::GetLogEventsInput) read,
        FilterLogEvents(read::FilterLogEventsInput) read,
        TagResource(tags::TagResourceInput) write,
        UntagResource(tags::UntagResourceInput) write,
        ListTagsForResource(tags::ListTagsForResourceInput) read,
    }
}

/// Records the input as serialized (its members never hold a log event's message).
macro_rules! recorded_as_serialized {
    ($($t:ty),* $(,)?) => {$(
        impl ferrogate_api::Recorded for $t {
            fn request_parameters(&self, _: ferrogate_api::Sent<'_>) -> serde_json::Value {
                serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
            }
        }
    )*};
}
pub(crate) use recorded_as_serialized;

/// `logs:<Operation>` of `O`.
pub(crate) fn action<O: Registered>() -> String {
    format!("logs:{}", O::NAME)
}

/// The CloudTrail resource type of log groups.
pub(crate) const GROUP_TYPE: &str = "AWS::Logs::LogGroup";

/// The group `name` of the caller's account and region.
pub(crate) fn group(
    tx: &dyn ReadTx,
    account: &str,
    region: &str,
    name: &str,
) -> Result<Option<LogGroup>, LogsError> {
    Ok(tables::GROUPS.get(tx, &keys::group(account, region, name))?)
}

/// The group `name`, which must exist.
pub(crate) fn existing_group(
    tx: &dyn ReadTx,
    account: &str,
    region: &str,
    name: &str,
) -> Result<LogGroup, LogsError> {
    group(tx, account, region, name)?.ok_or_else(LogsError::no_group)
}

/// The stream `name` of `g`, which must exist.
pub(crate) fn existing_stream(
    tx: &dyn ReadTx,
    g: &LogGroup,
    name: &str,
) -> Result<LogStream, LogsError> {
    tables::STREAMS
        .get(tx, &keys::stream(&g.id, name))?
        .ok_or_else(LogsError::no_stream)
}

/// The resource a request on the group `name` (and `stream`, empty for the group's own
/// actions) is authorized on: as stored with the group's tags, or as named when there is no
/// such group (the operation then answers that it does not exist).
pub(crate) fn resource(
    s: &Scope<'_, Logs>,
    name: &str,
    stream: &str,
) -> Result<Resource, LogsError> {
    let arn = stream_arn(s.region, s.account(), name, stream);
    Ok(match group(s.tx, s.account(), s.region, name)? {
        Some(g) => Resource::Existing {
            arn,
            tags: g.tags.into_iter().collect(),
        },
        None => Resource::Named(arn),
    })
}

/// `O`'s own action on the group `group` (on its stream `stream`; empty for the group's
/// own actions): the one check most operations need.
pub(crate) fn on<O: Registered>(
    s: &Scope<'_, Logs>,
    group: &str,
    stream: &str,
) -> Result<Authorization, LogsError> {
    Ok(Authorization::of(Check::new(
        action::<O>(),
        resource(s, group, stream)?,
        RequestTags::None,
    )))
}

/// An input that names its group by `logGroupName` or `logGroupIdentifier`.
pub(crate) trait NamesGroup {
    /// `(logGroupName, logGroupIdentifier)`.
    fn names(&self) -> (Option<&str>, Option<&str>);

    /// The group's name in the caller's account and region.
    fn group_name(&self, account: &str, region: &str) -> Result<String, LogsError> {
        let (name, id) = self.names();
        named_group(name, id, account, region)
    }
}

/// The group a request names by `logGroupName` or `logGroupIdentifier` (a name or, in
/// the caller's account and region, a log group ARN, with or without `:*`).
pub(crate) fn named_group(
    name: Option<&str>,
    identifier: Option<&str>,
    account: &str,
    region: &str,
) -> Result<String, LogsError> {
    match (name, identifier) {
        (Some(_), Some(_)) => Err(LogsError::invalid(
            "LogGroup name and LogGroup ARN are mutually exclusive parameters.",
        )),
        (Some(n), None) => Ok(n.to_owned()),
        (None, Some(id)) => match id.strip_prefix("arn:") {
            None => Ok(id.to_owned()),
            Some(_) => {
                let prefix = format!("arn:aws:logs:{region}:{account}:log-group:");
                let rest = id.strip_prefix(&prefix).ok_or_else(|| {
                    LogsError::invalid(format!(
                        "The log group ARN {id} is not of this account and region."
                    ))
                })?;
                Ok(rest.strip_suffix(":*").unwrap_or(rest).to_owned())
            }
        },
        (None, None) => Err(LogsError::invalid(
            "Either LogGroupName or LogGroupIdentifier must be specified.",
        )),
    }
}

/// An opaque paging token of a name (hex, so that a name's characters never break it).
pub(crate) fn name_token(name: &str) -> String {
    name.bytes().map(|b| format!("{b:02x}")).collect()
}

/// The name a [`name_token`] holds.
pub(crate) fn parse_name_token(t: &str) -> Result<String, LogsError> {
    let bad = || LogsError::invalid("The specified nextToken is invalid.");
    if t.len() % 2 != 0 {
        return Err(bad());
    }
    let bytes: Result<Vec<u8>, _> = (0..t.len())
        .step_by(2)
        .map(|i| t.get(i..i + 2).map(|h| u8::from_str_radix(h, 16)))
        .map(|r| r.ok_or(()).and_then(|r| r.map_err(|_| ())))
        .collect();
    String::from_utf8(bytes.map_err(|()| bad())?).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_identifiers() {
        let (a, r) = ("111122223333", "us-east-1");
        assert_eq!(named_group(Some("g"), None, a, r).unwrap(), "g");
        assert_eq!(named_group(None, Some("g"), a, r).unwrap(), "g");
        let arn = "arn:aws:logs:us-east-1:111122223333:log-group:/ecs/x";
        assert_eq!(named_group(None, Some(arn), a, r).unwrap(), "/ecs/x");
        assert_eq!(
            named_group(None, Some(&format!("{arn}:*")), a, r).unwrap(),
            "/ecs/x"
        );
        assert!(named_group(
            None,
            Some("arn:aws:logs:eu-west-1:111122223333:log-group:g"),
            a,
            r
        )
        .is_err());
        assert!(named_group(Some("g"), Some("g"), a, r).is_err());
        assert!(named_group(None, None, a, r).is_err());
    }

    #[test]
    fn name_tokens_round_trip() {
        for n in ["", "a", "/ecs/ü:x"] {
            assert_eq!(parse_name_token(&name_token(n)).unwrap(), n);
        }
        for bad in ["a", "zz", "ff"] {
            assert!(parse_name_token(bad).is_err(), "{bad}");
        }
    }
}
