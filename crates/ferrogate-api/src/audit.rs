//! The audit log as the request path sees it: every authenticated call, whatever its
//! outcome, becomes one record, appended in the transaction of the change it describes (or
//! its own), before the answer leaves. CloudTrail implements [`AuditLog`].

use ferrogate_store::{StoreError, WriteTx};
use ferrogate_types::{Principal, Timestamp};
use serde_json::Value;

/// What is known of a finished call.
#[derive(Debug)]
pub struct CallRecord<'a> {
    /// Who called.
    pub principal: &'a Principal,
    /// When.
    pub time: Timestamp,
    /// `kms.amazonaws.com`…
    pub event_source: &'a str,
    /// The operation.
    pub event_name: &'a str,
    /// The region (`us-east-1` for global services).
    pub region: &'a str,
    /// The caller's address.
    pub source_ip: &'a str,
    /// The caller's user agent.
    pub user_agent: &'a str,
    /// The request id.
    pub request_id: &'a str,
    /// Whether the operation only reads.
    pub read_only: bool,
    /// `requestParameters`.
    pub request_parameters: Value,
    /// `responseElements`.
    pub response_elements: Value,
    /// `(errorCode, errorMessage)` of a failed call.
    pub error: Option<(&'a str, &'a str)>,
    /// `(ResourceType, ResourceName)` pairs the call concerned.
    pub resources: &'a [(String, String)],
    /// Whether the record's own `resources` lists them (KMS), besides the lookup index.
    pub record_resources: bool,
    /// The service that made the call with the caller's credentials (`invokedBy`).
    pub invoked_by: Option<&'a str>,
}

/// A record encoded outside the writer, ready to append.
pub trait Entry: Send + 'static {
    /// Appends it in `tx`: it commits exactly when `tx` does.
    fn append(&self, tx: &mut dyn WriteTx) -> Result<(), StoreError>;
}

/// The log the request path writes to.
pub trait AuditLog: Send + Sync + 'static {
    /// Encodes `record`.
    fn prepare(&self, record: CallRecord<'_>) -> Result<Box<dyn Entry>, StoreError>;
}
