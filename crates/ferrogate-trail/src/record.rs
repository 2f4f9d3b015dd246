//! One CloudTrail event record, with the fields, names and order of AWS's schema
//! (<https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html>).

use ferrogate_api::audit::CallRecord;
use ferrogate_types::{Principal, PrincipalKind, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The record format version Ferrogate writes.
pub const EVENT_VERSION: &str = "1.08";
/// CloudTrail caps `errorMessage` at 1 KB.
pub const MAX_ERROR_MESSAGE: usize = 1024;
/// CloudTrail caps `requestParameters` and `responseElements` at 100 KB; larger ones are
/// dropped (recorded as null) rather than cut into invalid JSON.
pub const MAX_ELEMENTS: usize = 100 * 1024;

/// `userIdentity`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct UserIdentity {
    /// `Root`, `IAMUser`, `AssumedRole`, `AWSService`…
    #[serde(rename = "type")]
    pub kind: String,
    /// The principal's unique id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal_id: Option<String>,
    /// The principal's ARN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// The principal's account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// The access key that signed the request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
    /// The IAM user name (IAM users; root has none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    /// Session facts for temporary credentials.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_context: Option<Value>,
    /// The service that made the call (AWSService identities).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invoked_by: Option<String>,
}

impl UserIdentity {
    /// The identity of an authenticated principal, as CloudTrail records it.
    pub fn of(p: &Principal) -> Self {
        let mut id = Self {
            kind: p.trail_type().to_owned(),
            principal_id: Some(p.principal_id.clone()),
            arn: Some(p.arn.clone()),
            account_id: Some(p.account.to_string()),
            access_key_id: p.access_key_id.clone(),
            user_name: None,
            session_context: None,
            invoked_by: None,
        };
        match &p.kind {
            PrincipalKind::Root => {}
            PrincipalKind::IamUser { user_name } => id.user_name = Some(user_name.clone()),
            PrincipalKind::AssumedRole {
                role_name,
                role_arn,
                role_id,
                session,
                ..
            } => {
                id.session_context = Some(serde_json::json!({
                    "sessionIssuer": {
                        "type": "Role",
                        "principalId": role_id,
                        "arn": role_arn,
                        "accountId": p.account.as_str(),
                        "userName": role_name,
                    },
                    "attributes": {
                        "creationDate": session.creation_date.iso8601(),
                        "mfaAuthenticated": if session.mfa_authenticated { "true" } else { "false" },
                    }
                }));
            }
            PrincipalKind::Service { service } => {
                // AWS records service identities without principalId/arn/accountId.
                id.principal_id = None;
                id.arn = None;
                id.account_id = None;
                id.invoked_by = Some(service.clone());
            }
        }
        id
    }
}

/// An entry of `resources`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RecordResource {
    /// The resource ARN.
    #[serde(rename = "ARN")]
    pub arn: String,
    /// The owning account (or `AWS Internal` for service-owned).
    #[serde(rename = "accountId")]
    pub account_id: String,
    /// `AWS::KMS::Key`…
    #[serde(rename = "type")]
    pub kind: String,
}

/// A resource as `LookupEvents` reports it (`ResourceType`, `ResourceName`): recorded for
/// the lookup index even where the record's own `resources` field is absent, as AWS does
/// for IAM events.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LookupResource {
    /// `AWS::IAM::User`…
    pub resource_type: String,
    /// The name or ARN.
    pub resource_name: String,
}

/// A CloudTrail event record. Field order matters: it is AWS's order.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct EventRecord {
    /// Always [`EVENT_VERSION`].
    pub event_version: String,
    /// Who made the call.
    pub user_identity: UserIdentity,
    /// `YYYY-MM-DDTHH:MM:SSZ`.
    pub event_time: String,
    /// `iam.amazonaws.com`…
    pub event_source: String,
    /// The operation.
    pub event_name: String,
    /// The region the call was made in (`us-east-1` for IAM).
    pub aws_region: String,
    /// The caller's IP address, or a service name for service calls.
    #[serde(rename = "sourceIPAddress")]
    pub source_ip_address: String,
    /// The caller's `User-Agent`.
    pub user_agent: String,
    /// The error code, for failed calls.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// The error message, for failed calls.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// The request's parameters as AWS logs them (never secrets).
    pub request_parameters: Value,
    /// The response's elements as AWS logs them (null for reads; never secrets).
    pub response_elements: Value,
    /// Extra data some services add.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub additional_event_data: Option<Value>,
    /// The request id.
    #[serde(rename = "requestID")]
    pub request_id: String,
    /// A unique id for this event.
    #[serde(rename = "eventID")]
    pub event_id: String,
    /// Whether the operation only reads.
    pub read_only: bool,
    /// Resources the call touched, where the service records them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<Vec<RecordResource>>,
    /// `AwsApiCall`, `AwsServiceEvent`…
    pub event_type: String,
    /// Always true here: every Ferrogate event is a management event.
    pub management_event: bool,
    /// The account that receives the event.
    pub recipient_account_id: String,
    /// Set when one action is delivered to several accounts.
    #[serde(rename = "sharedEventID", skip_serializing_if = "Option::is_none")]
    pub shared_event_id: Option<String>,
    /// `Management`.
    pub event_category: String,
}

fn capped(v: Value) -> Value {
    match serde_json::to_vec(&v) {
        Ok(b) if b.len() <= MAX_ELEMENTS => v,
        _ => Value::Null,
    }
}

fn cap_message(m: &str) -> String {
    if m.len() <= MAX_ERROR_MESSAGE {
        return m.to_owned();
    }
    let mut end = MAX_ERROR_MESSAGE;
    while !m.is_char_boundary(end) {
        end -= 1;
    }
    m[..end].to_owned()
}

impl EventRecord {
    /// Builds the record of an API call, with event id `event_id`.
    pub fn api_call(f: CallRecord<'_>, event_id: String) -> Self {
        let failed = f.error.is_some();
        let resources = f.record_resources.then(|| {
            f.resources
                .iter()
                .map(|(kind, arn)| RecordResource {
                    arn: arn.clone(),
                    account_id: ferrogate_types::Arn::parse(arn)
                        .map(|a| a.account().to_owned())
                        .unwrap_or_default(),
                    kind: kind.clone(),
                })
                .collect()
        });
        let service_call = matches!(f.principal.kind, PrincipalKind::Service { .. });
        let record = Self {
            event_version: EVENT_VERSION.to_owned(),
            user_identity: UserIdentity::of(f.principal),
            event_time: f.time.iso8601(),
            event_source: f.event_source.to_owned(),
            event_name: f.event_name.to_owned(),
            aws_region: f.region.to_owned(),
            source_ip_address: f.source_ip.to_owned(),
            user_agent: f.user_agent.to_owned(),
            error_code: f.error.map(|(c, _)| c.to_owned()),
            error_message: f.error.map(|(_, m)| cap_message(m)),
            request_parameters: capped(f.request_parameters),
            response_elements: if failed || f.read_only {
                Value::Null
            } else {
                capped(f.response_elements)
            },
            additional_event_data: None,
            request_id: f.request_id.to_owned(),
            event_id,
            read_only: f.read_only,
            resources,
            event_type: "AwsApiCall".to_owned(),
            management_event: true,
            recipient_account_id: f.principal.account.to_string(),
            shared_event_id: None,
            event_category: "Management".to_owned(),
        }
        .with_service_identity(service_call);
        match f.invoked_by {
            Some(service) => record.invoked_by(service),
            None => record,
        }
    }

    /// Marks a call a service made with the caller's own credentials (a forward access
    /// session: ECS checking a cluster's key with `kms:DescribeKey` as the caller): the
    /// caller's identity with `invokedBy`, and the service as source and agent, as AWS
    /// records it.
    pub fn invoked_by(mut self, service: &str) -> Self {
        self.user_identity.invoked_by = Some(service.to_owned());
        self.source_ip_address = service.to_owned();
        self.user_agent = service.to_owned();
        self
    }

    fn with_service_identity(mut self, service_call: bool) -> Self {
        if service_call {
            // AWS writes the service's DNS name where an IP would be, and as the agent.
            if let Some(s) = &self.user_identity.invoked_by {
                self.source_ip_address = s.clone();
                self.user_agent = s.clone();
            }
        }
        self
    }
}

impl EventRecord {
    /// A record of something a service did on its own (`AwsServiceEvent`), such as KMS
    /// rotating a key or deleting one whose waiting period ended.
    pub fn service_event(
        service: &str,
        account: &str,
        region: &str,
        name: &str,
        time: Timestamp,
        resources: Vec<RecordResource>,
    ) -> Self {
        Self {
            event_version: EVENT_VERSION.to_owned(),
            user_identity: UserIdentity {
                kind: "AWSService".into(),
                principal_id: None,
                arn: None,
                account_id: Some(account.to_owned()),
                access_key_id: None,
                user_name: None,
                session_context: None,
                invoked_by: Some(service.to_owned()),
            },
            event_time: time.iso8601(),
            event_source: service.to_owned(),
            event_name: name.to_owned(),
            aws_region: region.to_owned(),
            source_ip_address: service.to_owned(),
            user_agent: service.to_owned(),
            error_code: None,
            error_message: None,
            request_parameters: Value::Null,
            response_elements: Value::Null,
            additional_event_data: None,
            request_id: new_event_id(time),
            event_id: new_event_id(time),
            read_only: false,
            resources: Some(resources),
            event_type: "AwsServiceEvent".to_owned(),
            management_event: true,
            recipient_account_id: account.to_owned(),
            shared_event_id: None,
            event_category: "Management".to_owned(),
        }
    }
}

/// A new `eventID`: a UUID (version 7 layout) whose first 48 bits are the event time in
/// milliseconds and the rest random. AWS's ids are opaque UUIDs, so clients see nothing
/// different; Ferrogate can find an event by id without an index of random keys, which cost
/// a random page write per event.
pub fn new_event_id(time: Timestamp) -> String {
    let mut b = [0u8; 16];
    // The system CSPRNG does not fail on Linux; the time prefix keeps ids distinct anyway
    // to the millisecond.
    let _ = aws_lc_rs::rand::fill(&mut b);
    let ms = u64::try_from(time.millis()).unwrap_or(0).to_be_bytes();
    b[..6].copy_from_slice(&ms[2..]);
    b[6] = (b[6] & 0x0f) | 0x70;
    b[8] = (b[8] & 0x3f) | 0x80;
    ferrogate_types::format_uuid(&b)
}

/// The event time (milliseconds) an `eventID` made by [`new_event_id`] carries.
pub fn event_id_time(id: &str) -> Option<i64> {
    let b = id.as_bytes();
    // ASCII first: byte offsets below must be character boundaries.
    if !id.is_ascii() || b.len() != 36 || b[8] != b'-' || b[14] != b'7' {
        return None;
    }
    let hex: String = id[..8].chars().chain(id[9..13].chars()).collect();
    i64::from_str_radix(&hex, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrogate_types::AccountId;

    fn facts<'a>(p: &'a Principal) -> CallRecord<'a> {
        CallRecord {
            principal: p,
            time: Timestamp::from_secs(1_440_938_160),
            event_source: "iam.amazonaws.com",
            event_name: "CreateUser",
            region: "us-east-1",
            source_ip: "127.0.0.1",
            user_agent: "aws-cli/1.45",
            request_id: "rid",
            read_only: false,
            request_parameters: serde_json::json!({"userName": "bob"}),
            response_elements: serde_json::json!({"user": {"userName": "bob"}}),
            error: None,
            resources: &[],
            record_resources: false,
            invoked_by: None,
        }
    }

    #[test]
    fn root_call_record_has_aws_shape_and_order() {
        let p = Principal::root(
            AccountId::parse("123456789012").unwrap(),
            Some("AKIAROOT".into()),
        );
        let r = EventRecord::api_call(facts(&p), new_event_id(Timestamp::from_secs(1_440_938_160)));
        let json = serde_json::to_string(&r).unwrap();
        let order = [
            "eventVersion",
            "userIdentity",
            "eventTime",
            "eventSource",
            "eventName",
            "awsRegion",
            "sourceIPAddress",
            "userAgent",
            "requestParameters",
            "responseElements",
            "requestID",
            "eventID",
            "readOnly",
            "eventType",
            "managementEvent",
            "recipientAccountId",
            "eventCategory",
        ];
        let mut last = 0;
        for f in order {
            let at = json
                .find(&format!("\"{f}\""))
                .unwrap_or_else(|| panic!("{f} missing in {json}"));
            assert!(at >= last, "{f} out of order");
            last = at;
        }
        let v: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["eventVersion"], "1.08");
        assert_eq!(v["userIdentity"]["type"], "Root");
        assert_eq!(v["userIdentity"]["principalId"], "123456789012");
        assert_eq!(v["userIdentity"]["accessKeyId"], "AKIAROOT");
        assert!(v["userIdentity"].get("userName").is_none());
        assert_eq!(v["eventTime"], "2015-08-30T12:36:00Z");
        assert!(v.get("errorCode").is_none());
    }

    #[test]
    fn failed_and_read_only_calls_have_null_response() {
        let p = Principal::root(AccountId::parse("123456789012").unwrap(), None);
        let mut f = facts(&p);
        let long = "x".repeat(5000);
        f.error = Some(("AccessDenied", &long));
        let r = EventRecord::api_call(f, new_event_id(Timestamp::from_secs(1_440_938_160)));
        assert_eq!(r.response_elements, Value::Null);
        assert_eq!(
            r.error_message.as_ref().map(String::len),
            Some(MAX_ERROR_MESSAGE)
        );
        let mut f = facts(&p);
        f.read_only = true;
        assert_eq!(
            EventRecord::api_call(f, new_event_id(Timestamp::from_secs(1_440_938_160)))
                .response_elements,
            Value::Null
        );
    }

    #[test]
    fn service_identity() {
        let p = Principal::service(
            AccountId::parse("123456789012").unwrap(),
            "fargate.amazonaws.com",
        );
        let r = EventRecord::api_call(facts(&p), new_event_id(Timestamp::from_secs(1_440_938_160)));
        assert_eq!(r.user_identity.kind, "AWSService");
        assert_eq!(
            r.user_identity.invoked_by.as_deref(),
            Some("fargate.amazonaws.com")
        );
        assert_eq!(r.source_ip_address, "fargate.amazonaws.com");
        assert!(r.user_identity.arn.is_none());
    }

    #[test]
    fn event_ids_carry_their_time() {
        let t = Timestamp::from_millis(1_795_918_258_123);
        let id = new_event_id(t);
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "7");
        assert_eq!(event_id_time(&id), Some(t.millis()));
        assert_ne!(new_event_id(t), id);
        assert_eq!(event_id_time("deef4c36-7c7d-4a45-a1ed-d7c9926efe61"), None);
        assert_eq!(event_id_time("nope"), None);
        // Non-ASCII with the right byte length and markers must not panic.
        assert_eq!(
            event_id_time(&format!("aaaaaaaa-bbb\u{e9}7{}", "a".repeat(21))),
            None
        );
    }

    #[test]
    fn oversized_elements_are_dropped_not_cut() {
        let p = Principal::root(AccountId::parse("123456789012").unwrap(), None);
        let mut f = facts(&p);
        f.request_parameters = serde_json::json!({"policyDocument": "x".repeat(MAX_ELEMENTS + 1)});
        assert_eq!(
            EventRecord::api_call(f, new_event_id(Timestamp::from_secs(1_440_938_160)))
                .request_parameters,
            Value::Null
        );
    }
}
