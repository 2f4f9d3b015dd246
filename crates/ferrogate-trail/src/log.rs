//! How records are stored and indexed.
//!
//! Tree `trail.events`: `(account, region, eventTime ms, eventID)` → the stored event (the
//! record's JSON exactly as `LookupEvents` returns it in `CloudTrailEvent`, plus the lookup
//! attributes). Tree `trail.index`: `(account, region, attribute, value, eventTime ms,
//! eventID)` → the event key, one entry per lookup attribute value, so that every
//! attribute filter is an ordered range scan, newest first.

use ferrogate_store::{Key, Record, Store, StoreError, Table, WriteTx};
use serde::{Deserialize, Serialize};

use crate::record::{EventRecord, LookupResource};

pub(crate) const EVENTS: Table<StoredEvent> = Table::new("trail.events");
pub(crate) const INDEX: &str = "trail.index";

/// The eight `LookupEvents` attribute keys.
pub const ATTRIBUTES: [&str; 8] = [
    "EventId",
    "EventName",
    "ReadOnly",
    "Username",
    "ResourceType",
    "ResourceName",
    "EventSource",
    "AccessKeyId",
];

/// An event as stored: the record exactly as `LookupEvents` returns it in `CloudTrailEvent`,
/// plus what the record does not say in the form `LookupEvents` reports it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct StoredEvent {
    /// `Username` as `LookupEvents` reports it.
    pub username: Option<String>,
    /// `Resources` as `LookupEvents` reports them.
    pub resources: Vec<LookupResource>,
    /// The record, serialized once.
    pub record: String,
}

impl Record for StoredEvent {}

/// The key of an event in the events tree.
pub(crate) fn event_key(account: &str, region: &str, time_ms: i64, event_id: &str) -> Vec<u8> {
    partition(account, region)
        .i64(time_ms)
        .str(event_id)
        .into_bytes()
}

/// Bytes of the (time, eventID) suffix shared by an index entry and its event's key: an i64
/// and a 36-character id with its two-byte terminator.
const EVENT_SUFFIX: usize = 8 + 36 + 2;

/// The event key an index entry points at.
pub(crate) fn event_key_of_index(account: &str, region: &str, index_key: &[u8]) -> Option<Vec<u8>> {
    let suffix = index_key.get(index_key.len().checked_sub(EVENT_SUFFIX)?..)?;
    let mut k = partition(account, region).into_bytes();
    k.extend_from_slice(suffix);
    Some(k)
}

pub(crate) fn partition(account: &str, region: &str) -> Key {
    Key::new().str(account).str(region)
}

/// A record encoded and keyed outside the writer thread, ready to append.
#[derive(Debug, Clone)]
pub struct PreparedEvent {
    key: Vec<u8>,
    bytes: Vec<u8>,
    index: Vec<Vec<u8>>,
}

impl PreparedEvent {
    /// Prepares `record` for the log of `(account, region)`. `username` and `resources`
    /// are what `LookupEvents` reports and filters on.
    pub fn new(
        record: &EventRecord,
        account: &str,
        region: &str,
        username: Option<&str>,
        resources: Vec<LookupResource>,
        time_ms: i64,
    ) -> Result<Self, StoreError> {
        let json = serde_json::to_string(record)
            .map_err(|e| StoreError::Engine(format!("encode record: {e}")))?;
        let key = event_key(account, region, time_ms, &record.event_id);
        // No `EventId` entry: ids carry their time, so the event is found directly.
        let mut attrs: Vec<(&str, &str)> = vec![
            ("EventName", &record.event_name),
            ("ReadOnly", if record.read_only { "true" } else { "false" }),
            ("EventSource", &record.event_source),
        ];
        if let Some(u) = username {
            attrs.push(("Username", u));
        }
        if let Some(a) = &record.user_identity.access_key_id {
            attrs.push(("AccessKeyId", a));
        }
        for r in &resources {
            attrs.push(("ResourceType", &r.resource_type));
            attrs.push(("ResourceName", &r.resource_name));
        }
        let mut index: Vec<Vec<u8>> = attrs
            .into_iter()
            .map(|(a, v)| {
                partition(account, region)
                    .str(a)
                    .str(v)
                    .i64(time_ms)
                    .str(&record.event_id)
                    .into_bytes()
            })
            .collect();
        index.sort();
        index.dedup();
        let stored = StoredEvent {
            username: username.map(str::to_owned),
            resources,
            record: json,
        };
        Ok(Self {
            bytes: Table::encode(&stored)?,
            key,
            index,
        })
    }

    /// Appends the event in `tx`: it commits exactly when the surrounding transaction does.
    pub fn append(&self, tx: &mut dyn WriteTx) -> Result<(), StoreError> {
        EVENTS.put_encoded(tx, &self.key, &self.bytes)?;
        // Index entries carry no value: the event's key is the partition followed by the
        // entry's last two components (time, eventID); see `event_key_of_index`.
        for k in &self.index {
            tx.put(INDEX, k, &[])?;
        }
        Ok(())
    }
}

/// A handle for events that services initiate themselves (e.g. Fargate's `CreateGrant`).
#[derive(Clone)]
pub struct Recorder {
    store: Store,
}

impl Recorder {
    /// A recorder writing to `store`.
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Appends an event in its own durable transaction.
    pub async fn record(&self, event: PreparedEvent) -> Result<(), StoreError> {
        self.store.write(move |tx| event.append(tx)).await
    }
}
