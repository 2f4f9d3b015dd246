//! CloudTrail as a service of the common request path: `LookupEvents`, and the audit log
//! every call is recorded in ([`TrailLog`]).

use ferrogate_api::audit::{AuditLog, CallRecord, Entry};
use ferrogate_api::{
    Authorization, Authorized, Check, Done, Exec, Operation, Recorded, Reply, RequestTags,
    Resource, Scope, Sent,
};
use ferrogate_store::{StoreError, WriteTx};
use ferrogate_types::Timestamp;
use serde_json::{json, Value};

use crate::lookup::{lookup_events, LookupEventsInput, LookupEventsOutput};
use crate::record::{new_event_id, EventRecord};
use crate::{LookupResource, PreparedEvent, TrailError};

/// AWS CloudTrail (awsJson1_1).
#[derive(Debug, Default)]
pub struct CloudTrail;

ferrogate_api::service! {
    CloudTrail { error: TrailError, id: CloudTrail, tag_prefixes: [], changes_authorization: false, record_resources: false, denied: TrailError::AccessDeniedException }
}

ferrogate_api::operations! {
    service: CloudTrail,
    protocol: json,
    parameters: own,
    ops: {
        LookupEvents(LookupEventsInput) read,
    }
}

impl LookupEventsInput {
    pub(crate) fn validated(self) -> Result<Self, TrailError> {
        Ok(self)
    }
}

impl Operation for LookupEventsInput {
    type Output = LookupEventsOutput;

    /// `cloudtrail:LookupEvents` has no resource type in the reference.
    fn authorize(&self, _: &Scope<'_, CloudTrail>) -> Result<Authorization, TrailError> {
        Ok(Authorization::of(Check::new(
            "cloudtrail:LookupEvents",
            Resource::Any,
            RequestTags::None,
        )))
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, CloudTrail>) -> Done<Self> {
        let Exec { tx, ctx, .. } = x;
        let out = lookup_events(
            tx.read(),
            ctx.principal.account.as_str(),
            ctx.region,
            op.op(),
            ctx.now,
        )?;
        Ok(Reply::new(out))
    }
}

impl Recorded for LookupEventsInput {
    fn request_parameters(&self, _: Sent<'_>) -> Value {
        let mut v = json!({});
        if let Some(a) = &self.lookup_attributes {
            v["lookupAttributes"] = json!(a
                .iter()
                .map(|a| json!({"attributeKey": a.attribute_key, "attributeValue": a.attribute_value}))
                .collect::<Vec<_>>());
        }
        if let Some(t) = self.start_time.and_then(Timestamp::from_epoch_seconds_f64) {
            v["startTime"] = json!(t.iso8601());
        }
        if let Some(t) = self.end_time.and_then(Timestamp::from_epoch_seconds_f64) {
            v["endTime"] = json!(t.iso8601());
        }
        if let Some(m) = self.max_results {
            v["maxResults"] = json!(m);
        }
        v
    }
}

/// The audit log of the request path: each call becomes an `AwsApiCall` record with AWS's
/// schema, indexed for `LookupEvents`.
#[derive(Debug, Default, Clone, Copy)]
pub struct TrailLog;

impl Entry for PreparedEvent {
    fn append(&self, tx: &mut dyn WriteTx) -> Result<(), StoreError> {
        PreparedEvent::append(self, tx)
    }
}

impl AuditLog for TrailLog {
    fn prepare(&self, r: CallRecord<'_>) -> Result<Box<dyn Entry>, StoreError> {
        let lookup: Vec<LookupResource> = r
            .resources
            .iter()
            .map(|(resource_type, resource_name)| LookupResource {
                resource_type: resource_type.clone(),
                resource_name: resource_name.clone(),
            })
            .collect();
        let (principal, region, time) = (r.principal, r.region, r.time);
        let record = EventRecord::api_call(r, new_event_id(time));
        let event = PreparedEvent::new(
            &record,
            principal.account.as_str(),
            region,
            Some(principal.lookup_username()),
            lookup,
            time.millis(),
        )?;
        Ok(Box::new(event))
    }
}
