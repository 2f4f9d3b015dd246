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
pub const ATTRIBUTES: [&str; 8] =
    ["EventId", "EventName", "ReadOnly", "Username", "ResourceType", "ResourceName", "EventSource", "AccessKeyId"];

/// An event as stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct StoredEvent {
    pub event_id: String,
    pub event_name: String,
    pub event_source: String,
    pub event_time_ms: i64,
    pub read_only: bool,
    pub username: Option<String>,
    pub access_key_id: Option<String>,
    pub resources: Vec<LookupResource>,
    /// The record, serialized once, as `CloudTrailEvent`.
    pub record: String,
}

impl Record for StoredEvent {}

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
        let json = serde_json::to_string(record).map_err(|e| StoreError::Engine(format!("encode record: {e}")))?;
        let stored = StoredEvent {
            event_id: record.event_id.clone(),
            event_name: record.event_name.clone(),
            event_source: record.event_source.clone(),
            event_time_ms: time_ms,
            read_only: record.read_only,
            username: username.map(str::to_owned),
            access_key_id: record.user_identity.access_key_id.clone(),
            resources,
            record: json,
        };
        let key = partition(account, region).i64(time_ms).str(&stored.event_id).into_bytes();
        let mut attrs: Vec<(&str, &str)> = vec![
            ("EventId", &stored.event_id),
            ("EventName", &stored.event_name),
            ("ReadOnly", if stored.read_only { "true" } else { "false" }),
            ("EventSource", &stored.event_source),
        ];
        if let Some(u) = &stored.username {
            attrs.push(("Username", u));
        }
        if let Some(a) = &stored.access_key_id {
            attrs.push(("AccessKeyId", a));
        }
        for r in &stored.resources {
            attrs.push(("ResourceType", &r.resource_type));
            attrs.push(("ResourceName", &r.resource_name));
        }
        let mut index: Vec<Vec<u8>> = attrs
            .into_iter()
            .map(|(a, v)| partition(account, region).str(a).str(v).i64(time_ms).str(&stored.event_id).into_bytes())
            .collect();
        index.sort();
        index.dedup();
        Ok(Self { bytes: Table::encode(&stored)?, key, index })
    }

    /// Appends the event in `tx`: it commits exactly when the surrounding transaction does.
    pub fn append(&self, tx: &mut dyn WriteTx) -> Result<(), StoreError> {
        EVENTS.put_encoded(tx, &self.key, &self.bytes)?;
        for k in &self.index {
            tx.put(INDEX, k, &self.key)?;
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
