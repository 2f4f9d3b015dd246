//! Log groups and log streams as stored, their keys in the store, their ARNs, and AWS's
//! rules for their names.
//!
//! A log group's events live in chunks keyed by the group's random `id` (not its name):
//! a group deleted and created again under the same name never sees the old group's
//! chunks, and a chunk key names no customer string but the stream's.

use std::collections::BTreeMap;

use ferrogate_store::{Key, Record, Table};
use serde::{Deserialize, Serialize};

use crate::LogsError;

/// A log group.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogGroup {
    /// The owning account.
    pub account: String,
    /// The region.
    pub region: String,
    /// The name.
    pub name: String,
    /// Random, 32 hex digits: names the group's streams and chunks in the store.
    pub id: String,
    /// Milliseconds since the epoch.
    pub creation_time: i64,
    /// Days events are kept; `None`: forever.
    pub retention_in_days: Option<i32>,
    /// The KMS key ARN new events are encrypted under (`kmsKeyId`); `None`: the
    /// service-owned key.
    pub kms_key_arn: Option<String>,
    /// Every data key the group's stored events use, oldest first; the last one encrypts
    /// new events. A key stays as long as events encrypted under it may remain.
    pub keys: Vec<GroupKey>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// Bytes of the stored chunks (ciphertext and their clear headers).
    pub stored_bytes: i64,
    /// The next chunk sequence number (group-wide, from 1).
    pub next_seq: i64,
    /// `STANDARD` or `INFREQUENT_ACCESS` (stored and shown; both behave alike here).
    pub log_group_class: String,
}

impl Record for LogGroup {}

/// One data key of a group: AES-256, wrapped.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroupKey {
    /// Its number within the group (named by each chunk's header).
    pub id: u32,
    /// How it is wrapped.
    pub wrapped: Wrapped,
}

/// How a data key is kept: never in clear.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Wrapped {
    /// Sealed under the server's root key (the service-owned key), base64.
    Service(String),
    /// Encrypted by KMS under the group's customer managed key with the encryption
    /// context `{"aws:logs:arn": <group ARN>}`: the `CiphertextBlob`, base64.
    Kms {
        /// The key ARN.
        key_arn: String,
        /// The ciphertext blob.
        blob: String,
    },
}

impl LogGroup {
    /// `arn:aws:logs:<region>:<account>:log-group:<name>` (`logGroupArn`, the encryption
    /// context's `aws:logs:arn`, and the ARN tag operations take).
    pub fn arn(&self) -> String {
        group_arn(&self.region, &self.account, &self.name)
    }

    /// The data key that encrypts new events.
    pub fn current_key(&self) -> Option<&GroupKey> {
        self.keys.last()
    }

    /// The cutoff below which events have expired (milliseconds), if a retention is set.
    pub fn expired_before(&self, now_ms: i64) -> Option<i64> {
        self.retention_in_days
            .map(|d| now_ms - i64::from(d) * 86_400_000)
    }
}

/// A log stream.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogStream {
    /// The name.
    pub name: String,
    /// Milliseconds since the epoch.
    pub creation_time: i64,
    /// The earliest event's timestamp.
    pub first_event_timestamp: Option<i64>,
    /// The latest event's timestamp.
    pub last_event_timestamp: Option<i64>,
    /// When events were last accepted.
    pub last_ingestion_time: Option<i64>,
}

impl Record for LogStream {}

/// The tables.
pub mod tables {
    use super::{LogGroup, LogStream, Table};

    /// Log groups by (account, region, name).
    pub const GROUPS: Table<LogGroup> = Table::new("logs.groups");
    /// Log streams by (group id, name).
    pub const STREAMS: Table<LogStream> = Table::new("logs.streams");
    /// Encrypted chunk bodies by (group id, stream, sequence): see [`crate::chunk`].
    pub const CHUNKS: &str = "logs.chunks";
    /// Chunk headers (in clear: see [`crate::chunk::Header`]) by the same key. A `.index`
    /// tree: small entries, kept apart from the bodies so that paging, retention and
    /// deletion read only them.
    pub const HEADERS: &str = "logs.chunks.index";
}

/// Keys.
pub mod keys {
    use super::Key;

    /// A group.
    pub fn group(account: &str, region: &str, name: &str) -> Vec<u8> {
        Key::new().str(account).str(region).str(name).into_bytes()
    }

    /// Every group of an account in a region.
    pub fn groups(account: &str, region: &str) -> Vec<u8> {
        Key::new().str(account).str(region).into_bytes()
    }

    /// A stream of the group `id`.
    pub fn stream(id: &str, name: &str) -> Vec<u8> {
        Key::new().str(id).str(name).into_bytes()
    }

    /// Every stream (and every chunk) of the group `id`.
    pub fn in_group(id: &str) -> Vec<u8> {
        Key::new().str(id).into_bytes()
    }

    /// A chunk.
    pub fn chunk(id: &str, stream: &str, seq: i64) -> Vec<u8> {
        Key::new().str(id).str(stream).i64(seq).into_bytes()
    }

    /// Splits a chunk key under `in_group(id)` (of length `prefix`) into its stream name
    /// and sequence number.
    pub fn split_chunk(key: &[u8], prefix: usize) -> Option<(String, i64)> {
        let rest = key.get(prefix..)?;
        let mut name = Vec::new();
        let mut i = 0;
        loop {
            match (rest.get(i)?, rest.get(i + 1)) {
                (0, Some(0)) => break,
                (0, Some(0xff)) => {
                    name.push(0);
                    i += 2;
                }
                (0, _) => return None,
                (&b, _) => {
                    name.push(b);
                    i += 1;
                }
            }
        }
        let seq: [u8; 8] = rest.get(i + 2..i + 10)?.try_into().ok()?;
        let seq = i64::from_be_bytes((u64::from_be_bytes(seq) ^ (1 << 63)).to_be_bytes());
        Some((String::from_utf8(name).ok()?, seq))
    }
}

/// `arn:aws:logs:<region>:<account>:log-group:<name>`.
pub fn group_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:logs:{region}:{account}:log-group:{name}")
}

/// `arn:aws:logs:<region>:<account>:log-group:<group>:log-stream:<stream>`: the resource
/// CloudWatch Logs authorizes stream actions on, and, with an empty stream, the log-group
/// actions of its original API (`CreateLogGroup`, `DescribeLogStreams`,
/// `FilterLogEvents`, …): AWS's refusals name `…:log-group:<name>:log-stream:`, which is
/// why policies grant `…:log-group:<name>:*`.
pub fn stream_arn(region: &str, account: &str, group: &str, stream: &str) -> String {
    format!("arn:aws:logs:{region}:{account}:log-group:{group}:log-stream:{stream}")
}

/// `logGroupName`: 1–512 of `[\.\-_/#A-Za-z0-9]`.
pub fn check_group_name(member: &str, name: &str) -> Result<(), LogsError> {
    if name.is_empty() || name.len() > 512 {
        return Err(LogsError::constraint(
            name,
            member,
            "Member must have length between 1 and 512",
        ));
    }
    let ok = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_' | b'/' | b'#');
    if !name.bytes().all(ok) {
        return Err(LogsError::constraint(
            name,
            member,
            "Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+",
        ));
    }
    Ok(())
}

/// `logStreamName`: 1–512 characters, neither `:` nor `*`.
pub fn check_stream_name(member: &str, name: &str) -> Result<(), LogsError> {
    if name.is_empty() || name.chars().count() > 512 {
        return Err(LogsError::constraint(
            name,
            member,
            "Member must have length between 1 and 512",
        ));
    }
    if name.contains([':', '*']) {
        return Err(LogsError::constraint(
            name,
            member,
            "Member must satisfy regular expression pattern: [^:*]*",
        ));
    }
    Ok(())
}

/// The values `retentionInDays` accepts (API Reference, PutRetentionPolicy).
pub const RETENTION_DAYS: [i32; 22] = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// `retentionInDays`.
pub fn check_retention(days: i32) -> Result<(), LogsError> {
    if RETENTION_DAYS.contains(&days) {
        return Ok(());
    }
    let set: Vec<String> = RETENTION_DAYS.iter().map(i32::to_string).collect();
    Err(LogsError::constraint(
        &days.to_string(),
        "retentionInDays",
        &format!("Member must satisfy enum value set: [{}]", set.join(", ")),
    ))
}

/// A `limit` member within `lo..=hi`.
pub fn check_limit(
    member: &str,
    v: Option<i64>,
    lo: i64,
    hi: i64,
) -> Result<Option<usize>, LogsError> {
    match v {
        None => Ok(None),
        Some(n) if n < lo => Err(LogsError::constraint(
            &n.to_string(),
            member,
            &format!("Member must have value greater than or equal to {lo}"),
        )),
        Some(n) if n > hi => Err(LogsError::constraint(
            &n.to_string(),
            member,
            &format!("Member must have value less than or equal to {hi}"),
        )),
        Some(n) => Ok(usize::try_from(n).ok()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_names() {
        for ok in ["a", "/ecs/app-1", "x.y_z#1", &"a".repeat(512)] {
            assert!(check_group_name("logGroupName", ok).is_ok(), "{ok}");
        }
        for bad in ["", "a b", "a:b", "é", &"a".repeat(513)] {
            assert!(check_group_name("logGroupName", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn stream_names() {
        for ok in ["a", "prefix/container/0123", "with space", "ünï"] {
            assert!(check_stream_name("logStreamName", ok).is_ok(), "{ok}");
        }
        for bad in ["", "a:b", "a*", &"a".repeat(513)] {
            assert!(check_stream_name("logStreamName", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn retention_values_are_awss() {
        assert!(check_retention(14).is_ok());
        assert!(check_retention(3653).is_ok());
        let e = check_retention(2).unwrap_err().to_string();
        assert!(e.contains("Value '2' at 'retentionInDays'"), "{e}");
        assert!(e.contains("[1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653]"), "{e}");
    }

    #[test]
    fn chunk_keys_split_back() {
        let id = "0123456789abcdef0123456789abcdef";
        for (stream, seq) in [("s", 1), ("a\0b", 42), ("prefix/c/t", i64::MAX)] {
            let k = keys::chunk(id, stream, seq);
            let prefix = keys::in_group(id).len();
            assert_eq!(
                keys::split_chunk(&k, prefix),
                Some((stream.to_owned(), seq))
            );
        }
        assert_eq!(keys::split_chunk(b"short", 0), None);
    }

    #[test]
    fn arns() {
        assert_eq!(
            group_arn("us-east-1", "111122223333", "/ecs/a"),
            "arn:aws:logs:us-east-1:111122223333:log-group:/ecs/a"
        );
        assert_eq!(
            stream_arn("us-east-1", "111122223333", "g", ""),
            "arn:aws:logs:us-east-1:111122223333:log-group:g:log-stream:"
        );
    }
}
