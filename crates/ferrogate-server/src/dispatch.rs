//! One request's path, for every service: authenticate → route → hand to the service's
//! operation table (decode once → authorize → handle in a store transaction → audit →
//! encode, in `ferrogate_api`). Nothing here knows any service's operations.
//!
//! Unauthenticated requests are answered without an audit record (there is no principal
//! to attribute them to); from the moment a signature verifies, every outcome is recorded
//! and the response is sent only after that record is durable.

use std::net::IpAddr;

use bytes::Bytes;
use ferrogate_api::encode::{self, Answer};
use ferrogate_api::{new_request_id, Call, Route};
use ferrogate_wire::protocol::split_target;
use ferrogate_wire::sigv4::{self, RequestParts};
use ferrogate_wire::{ApiError, AwsError, Protocol, ServiceId, WireError};

use crate::App;

/// A request as received. `Debug` shows header names and the body's size only: headers
/// carry session tokens and bodies carry plaintexts.
pub struct RawRequest {
    /// Method.
    pub method: String,
    /// Path, still percent-encoded.
    pub path: String,
    /// Query string without `?`.
    pub query: String,
    /// Headers whose values are text (others cannot be signed).
    pub headers: Vec<(String, String)>,
    /// Names of headers whose values are not text (`X-Amz-Target` with bytes that are not
    /// UTF-8 still says which protocol the request speaks).
    pub binary_headers: Vec<String>,
    /// The body, or `None` when it exceeded the cap.
    pub body: Option<Bytes>,
    /// The client's address.
    pub peer: IpAddr,
}

impl RawRequest {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn has_header(&self, name: &str) -> bool {
        self.header(name).is_some()
            || self
                .binary_headers
                .iter()
                .any(|n| n.eq_ignore_ascii_case(name))
    }
}

impl std::fmt::Debug for RawRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field(
                "headers",
                &self.headers.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field("body_len", &self.body.as_ref().map(Bytes::len))
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}

/// A response, ready for the wire.
pub type RawResponse = Answer;

/// Where a request goes: the protocol is the one its headers speak (an `X-Amz-Target`, even
/// one that cannot be read, means awsJson1_1), so that every refusal, authentication
/// included, comes in the shape its client parses.
fn route(req: &RawRequest, scope_service: Option<&str>) -> Route {
    if req.has_header("x-amz-target") {
        let parsed = req
            .header("x-amz-target")
            .and_then(split_target)
            .map(|(prefix, op)| (ServiceId::from_target_prefix(prefix), op.to_owned()));
        let (service, target) = match parsed {
            Some((service, op)) => (service, Some(op)),
            None => (None, None),
        };
        return Route {
            protocol: Protocol::Json11,
            service,
            target,
            xmlns: "",
            event_source: event_source(service, scope_service),
        };
    }
    let service = scope_service
        .and_then(ServiceId::from_signing_name)
        .filter(|s| s.protocol().is_form());
    let protocol = match service {
        Some(s) => s.protocol(),
        // Unauthenticated: EC2 forms name EC2's API version.
        None if mentions(req, ServiceId::Ec2.api_version()) => Protocol::Ec2,
        None => Protocol::Query,
    };
    Route {
        protocol,
        service,
        target: None,
        xmlns: xmlns(service, req),
        event_source: event_source(service, scope_service),
    }
}

fn event_source(service: Option<ServiceId>, scope_service: Option<&str>) -> String {
    service.map_or_else(
        || format!("{}.amazonaws.com", scope_service.unwrap_or("unknown")),
        |s| s.event_source().to_owned(),
    )
}

fn xmlns(service: Option<ServiceId>, req: &RawRequest) -> &'static str {
    match service {
        Some(s) => s.xml_namespace(),
        // Unauthenticated query requests: guess from the API version.
        None if mentions(req, ServiceId::Sts.api_version()) => ServiceId::Sts.xml_namespace(),
        None => ServiceId::Iam.xml_namespace(),
    }
}

/// Whether the URL query or the body contains `version` (an API version date).
fn mentions(req: &RawRequest, version: &str) -> bool {
    let v = version.as_bytes();
    req.query.contains(version)
        || req
            .body
            .as_deref()
            .is_some_and(|b| b.windows(v.len()).any(|w| w == v))
}

/// Handles one request.
pub async fn handle(app: &App, req: RawRequest) -> RawResponse {
    let request_id = new_request_id();
    let rid = request_id.as_str();
    let scope_service = req
        .header("authorization")
        .and_then(|h| sigv4::parse_authorization(h).ok())
        .map(|a| a.service.to_owned());
    let route = route(&req, scope_service.as_deref());
    let fail = |e: &dyn AwsError| {
        let api = ApiError::from_error(e, route.protocol);
        encode::error(&api, route.protocol, route.xmlns, rid)
    };
    let Some(body) = &req.body else {
        return fail(&WireError::RequestEntityTooLarge {
            limit: ferrogate_wire::MAX_BODY_BYTES,
        });
    };
    let now = app.clock.now();
    let header_refs: Vec<(&str, &str)> = req
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let parts = RequestParts {
        method: &req.method,
        path: &req.path,
        query: &req.query,
        headers: &header_refs,
        body,
    };
    let expected = route
        .service
        .map(ServiceId::signing_name)
        .or(scope_service.as_deref())
        .unwrap_or("");
    let verified = match sigv4::verify(&parts, expected, &app.credentials, now) {
        Ok(v) => v,
        Err(e) => {
            if e.is_internal() {
                tracing::error!(request_id = rid, error = %e, "authentication could not be completed");
            }
            return fail(&e);
        }
    };
    let call = Call {
        principal: verified.identity,
        region: if route.service.is_some_and(ServiceId::is_global) {
            "us-east-1".to_owned()
        } else {
            verified.region
        },
        source_ip: req.peer.to_string(),
        user_agent: req
            .header("user-agent")
            .map(|u| u.chars().take(1024).collect())
            .unwrap_or_default(),
        request_id: rid.to_owned(),
        now,
        called_via: Vec::new(),
    };
    app.registry
        .serve(&app.exec, &route, call, body, &req.query)
        .await
}
