//! One request's path (shared/DESIGN.md §2), for every service:
//! authenticate → route → decode once → authorize → handle in a store transaction →
//! audit → encode.
//!
//! Unauthenticated requests are answered without an audit record (there is no principal
//! to attribute them to); from the moment a signature verifies, every outcome (success,
//! validation error, access denied, internal failure) is recorded, and the response is
//! sent only after that record is durable. A state change and its record commit in the
//! same transaction.

use std::net::IpAddr;

use bytes::Bytes;
use ferrogate_iam::api::IamOp;
use ferrogate_iam::authz::{Action, Facts, ResourceAccess};
use ferrogate_iam::op::{Access, Ctx, OpReply, Operation};
use ferrogate_iam::org::api::OrgOp;
use ferrogate_iam::IamError;
use ferrogate_store::engine::with_savepoint;
use ferrogate_store::{StoreError, TxRef, WriteTx};
use ferrogate_trail::lookup::{lookup_events, LookupEventsInput};
use ferrogate_trail::record::{CallFacts, EventRecord, RecordResource};
use ferrogate_trail::{LookupResource, PreparedEvent, TrailError};
use ferrogate_types::{Principal, RequestId, Timestamp};
use ferrogate_wire::protocol::split_target;
use ferrogate_wire::query::QueryParams;
use ferrogate_wire::sigv4::{self, RequestParts};
use ferrogate_wire::{json, query, ApiError, AwsError, Protocol, ServiceId, WireError};
use serde_json::{json, Value};

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
    /// Headers (UTF-8 ones; others cannot be signed and are dropped).
    pub headers: Vec<(String, String)>,
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

/// A response, ready for the wire. `Debug` leaves the body out (it may hold secrets).
pub struct RawResponse {
    /// HTTP status.
    pub status: u16,
    /// Headers.
    pub headers: Vec<(&'static str, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl std::fmt::Debug for RawResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawResponse")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// Where a request goes: its service (if known) and protocol.
struct Route {
    protocol: Protocol,
    service: Option<ServiceId>,
    /// The operation named by `X-Amz-Target` (JSON services).
    target_op: Option<String>,
}

fn route(req: &RawRequest, scope_service: Option<&str>) -> Route {
    if let Some(target) = req.header("x-amz-target") {
        let (service, op) = match split_target(target) {
            Some((prefix, op)) => (ServiceId::from_target_prefix(prefix), Some(op.to_owned())),
            None => (None, None),
        };
        return Route {
            protocol: Protocol::Json11,
            service,
            target_op: op,
        };
    }
    let service = scope_service
        .and_then(ServiceId::from_signing_name)
        .filter(|s| s.protocol() == Protocol::Query);
    Route {
        protocol: Protocol::Query,
        service,
        target_op: None,
    }
}

fn xmlns(service: Option<ServiceId>, req: &RawRequest) -> &'static str {
    match service {
        Some(s) if s.protocol() == Protocol::Query => s.xml_namespace(),
        // Unauthenticated query requests: guess from the API version.
        _ if req.query.contains("2011-06-15")
            || req
                .body
                .as_deref()
                .is_some_and(|b| b.windows(10).any(|w| w == b"2011-06-15")) =>
        {
            ServiceId::Sts.xml_namespace()
        }
        _ => ServiceId::Iam.xml_namespace(),
    }
}

fn new_request_id() -> RequestId {
    let mut b = [0u8; 16];
    let _ = aws_lc_rs::rand::fill(&mut b);
    RequestId::from_random(b)
}

/// Encodes an error for `protocol`, logging internal ones with the request id.
fn error_response(e: &ApiError, protocol: Protocol, ns: &str, request_id: &str) -> RawResponse {
    let mut headers = vec![("x-amzn-RequestId", request_id.to_owned())];
    let body = match protocol {
        Protocol::Json11 => {
            headers.push(("content-type", json::CONTENT_TYPE.to_owned()));
            headers.push(("x-amzn-ErrorType", e.code.to_owned()));
            json::error_body(e)
        }
        Protocol::Query => {
            headers.push(("content-type", query::XML_CONTENT_TYPE.to_owned()));
            query::error_body(e, ns, request_id).into_bytes()
        }
    };
    RawResponse {
        status: e.status,
        headers,
        body,
    }
}

fn ok_response(protocol: Protocol, body: Vec<u8>, request_id: &str) -> RawResponse {
    let ct = match protocol {
        Protocol::Json11 => json::CONTENT_TYPE,
        Protocol::Query => query::XML_CONTENT_TYPE,
    };
    RawResponse {
        status: 200,
        headers: vec![
            ("x-amzn-RequestId", request_id.to_owned()),
            ("content-type", ct.to_owned()),
        ],
        body,
    }
}

/// Handles one request.
pub async fn handle(app: &App, req: RawRequest) -> RawResponse {
    let request_id = new_request_id();
    let rid = request_id.as_str();
    let authz_header = req.header("authorization");
    let scope_service = authz_header
        .and_then(|h| sigv4::parse_authorization(h).ok())
        .map(|a| a.service.to_owned());
    let route = route(&req, scope_service.as_deref());
    let ns = xmlns(route.service, &req);
    let fail = |e: &dyn AwsError| {
        error_response(
            &ApiError::from_error(e, route.protocol),
            route.protocol,
            ns,
            rid,
        )
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
    let principal = verified.identity;
    let call = Call {
        invoked_by: None,
        extra_keys: Vec::new(),
        event_source: route.service.map_or_else(
            || format!("{}.amazonaws.com", verified.service),
            |s| s.event_source().to_owned(),
        ),
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
        principal,
        protocol: route.protocol,
        ns,
    };
    match route.service {
        Some(svc @ (ServiceId::Iam | ServiceId::Sts)) => iam_call(app, call, svc, &req, body).await,
        Some(ServiceId::CloudTrail) => {
            trail_call(app, call, route.target_op.unwrap_or_default(), body).await
        }
        Some(ServiceId::Organizations) => {
            org_call(app, call, route.target_op.unwrap_or_default(), body).await
        }
        Some(ServiceId::Kms) => {
            kms_call(app, call, route.target_op.unwrap_or_default(), body).await
        }
        Some(ServiceId::Ecs) => {
            ecs_call(app, call, route.target_op.unwrap_or_default(), body).await
        }
        None => {
            let op = route.target_op.unwrap_or_default();
            let e = WireError::UnknownOperation {
                message: format!("Operation {op} is not supported by this endpoint."),
            };
            call.finish_unhandled(app, &op, call.api_error(&e)).await
        }
    }
}

/// What the audit record and the response need to know about an authenticated call.
struct Call {
    /// The service that made the call on the principal's behalf (forward access sessions).
    invoked_by: Option<String>,
    /// Condition keys the calling service adds (`kms:ViaService`).
    extra_keys: Vec<(String, Vec<String>)>,
    principal: Principal,
    event_source: String,
    region: String,
    source_ip: String,
    user_agent: String,
    request_id: String,
    now: Timestamp,
    protocol: Protocol,
    ns: &'static str,
}

/// How a call ended, for its record.
struct Outcome<'a> {
    record_resources: bool,
    event_name: &'a str,
    read_only: bool,
    request_parameters: Value,
    response_elements: Value,
    error: Option<ApiError>,
    resources: Vec<(String, String)>,
}

impl Outcome<'_> {
    fn failed(
        event_name: &str,
        read_only: bool,
        request_parameters: Value,
        err: ApiError,
    ) -> Outcome<'_> {
        Outcome {
            record_resources: false,
            event_name,
            read_only,
            request_parameters,
            response_elements: Value::Null,
            error: Some(err),
            resources: Vec::new(),
        }
    }
}

impl Call {
    fn event(&self, o: Outcome<'_>) -> Result<PreparedEvent, StoreError> {
        let error = o.error.as_ref().map(|e| (e.code, e.message.as_str()));
        let record_resources = o.record_resources.then(|| {
            o.resources
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
        let record = EventRecord::api_call(CallFacts {
            principal: &self.principal,
            time: self.now,
            event_source: &self.event_source,
            event_name: o.event_name,
            region: &self.region,
            source_ip: &self.source_ip,
            user_agent: &self.user_agent,
            request_id: &self.request_id,
            event_id: ferrogate_trail::record::new_event_id(self.now),
            read_only: o.read_only,
            request_parameters: o.request_parameters,
            response_elements: o.response_elements,
            error,
            resources: record_resources,
        });
        let record = match &self.invoked_by {
            Some(service) => record.invoked_by(service),
            None => record,
        };
        let resources = o
            .resources
            .into_iter()
            .map(|(resource_type, resource_name)| LookupResource {
                resource_type,
                resource_name,
            })
            .collect();
        PreparedEvent::new(
            &record,
            self.principal.account.as_str(),
            &self.region,
            Some(self.principal.lookup_username()),
            resources,
            self.now.millis(),
        )
    }

    fn api_error(&self, e: &dyn AwsError) -> ApiError {
        let api = ApiError::from_error(e, self.protocol);
        if api.internal {
            tracing::error!(request_id = %self.request_id, error = %e, "internal error");
        }
        api
    }

    fn respond(&self, result: Result<Vec<u8>, ApiError>) -> RawResponse {
        match result {
            Ok(body) => ok_response(self.protocol, body, &self.request_id),
            Err(e) => error_response(&e, self.protocol, self.ns, &self.request_id),
        }
    }

    /// Records an event in its own transaction and answers once it is durable.
    async fn record_then_respond(
        &self,
        app: &App,
        event: Result<PreparedEvent, StoreError>,
        result: Result<Vec<u8>, ApiError>,
    ) -> RawResponse {
        let durable = match event {
            Ok(ev) => {
                app.store
                    .write(move |tx: &mut dyn WriteTx| ev.append(tx))
                    .await
            }
            Err(e) => Err(e),
        };
        match durable {
            Ok(()) => self.respond(result),
            Err(e) => {
                // No record, no answer: an unaudited success must not reach the client.
                tracing::error!(request_id = %self.request_id, error = %e, "audit record could not be written");
                self.respond(Err(ApiError::internal()))
            }
        }
    }

    async fn finish_unhandled(&self, app: &App, op: &str, err: ApiError) -> RawResponse {
        let event = self.event(Outcome {
            record_resources: false,
            event_name: op,
            read_only: false,
            request_parameters: Value::Null,
            response_elements: Value::Null,
            error: Some(err.clone()),
            resources: Vec::new(),
        });
        self.record_then_respond(app, event, Err(err)).await
    }
}

async fn iam_call(
    app: &App,
    call: Call,
    service: ServiceId,
    req: &RawRequest,
    body: &[u8],
) -> RawResponse {
    let params = QueryParams::from_request(body, &req.query);
    let action = params.get("Action").unwrap_or("").to_owned();
    let decoded = match params.get("Version") {
        Some(v) if v == service.api_version() => IamOp::decode(service, &action, &params),
        v => Err(IamError::Wire(WireError::InvalidAction {
            action: action.clone(),
            version: v.unwrap_or("").to_owned(),
        })),
    };
    match decoded {
        Ok(op) => run_op(app, call, op).await,
        Err(e) => {
            call.finish_unhandled(app, &action, call.api_error(&e))
                .await
        }
    }
}

async fn org_call(app: &App, call: Call, op: String, body: &[u8]) -> RawResponse {
    match OrgOp::decode(&op, body) {
        Ok(o) => run_op(app, call, o).await,
        Err(e) => call.finish_unhandled(app, &op, call.api_error(&e)).await,
    }
}

async fn kms_call(app: &App, call: Call, op: String, body: &[u8]) -> RawResponse {
    match ferrogate_kms::KmsOp::decode(&app.kms, &op, body) {
        Ok(o) => run_op(app, call, o).await,
        Err(e) => call.finish_unhandled(app, &op, call.api_error(&e)).await,
    }
}

async fn ecs_call(app: &App, call: Call, op: String, body: &[u8]) -> RawResponse {
    match ferrogate_ecs::EcsOp::decode(&app.ecs, &op, body) {
        Ok(o) => {
            if let Some(key) = o.key_to_describe() {
                describe_key_for_ecs(app, &call, key).await;
            }
            run_op(app, call, o).await
        }
        Err(e) => call.finish_unhandled(app, &op, call.api_error(&e)).await,
    }
}

async fn trail_call(app: &App, call: Call, op: String, body: &[u8]) -> RawResponse {
    if op != "LookupEvents" {
        let e = WireError::UnknownOperation {
            message: format!("Operation {op} is not supported by this endpoint."),
        };
        return call.finish_unhandled(app, &op, call.api_error(&e)).await;
    }
    match json::decode::<LookupEventsInput>(body) {
        Ok(input) => run_op(app, call, LookupEventsOp(input)).await,
        Err(e) => call.finish_unhandled(app, &op, call.api_error(&e)).await,
    }
}

/// Runs any service's operation: authorize on a snapshot, then execute (on a snapshot for
/// reads, in the writer's transaction otherwise) with its audit record, then answer.
async fn run_op<O: Operation>(app: &App, call: Call, op: O) -> RawResponse {
    let name = op.name();
    let what = op.action(&call.principal);
    let mut keys = op.condition_keys();
    keys.extend(call.extra_keys.iter().cloned());
    let params = op.request_parameters();
    let read_only = op.read_only();
    let invalidates = op.changes_authorization();
    let record_resources = op.record_resources();
    let facts = Facts {
        now: call.now,
        source_ip: call
            .source_ip
            .parse()
            .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)),
        region: call.region.clone(),
        secure_transport: false,
    };
    // Before the snapshot: see `Authorizer::epoch`.
    let epoch = app.authorizer.epoch();
    let decided = app.store.read(|tx| {
        let access = match op.access(tx, &call.principal, &call.region, call.now) {
            Ok(a) => a,
            Err(e) => return Ok(Err(Refusal::Service(e))),
        };
        // Every further authorization the request needs (a second resource) must pass too.
        for extra in &access.also {
            if let Err(d) = check(app, epoch, tx, &call, &facts, &what, &keys, extra, ()) {
                return Ok(Err(Refusal::Denied(d.message)));
            }
        }
        Ok::<_, StoreError>(
            check(app, epoch, tx, &call, &facts, &what, &keys, &access, op)
                .map_err(|d| Refusal::Denied(d.message)),
        )
    });
    let authorized = match decided {
        Ok(Ok(a)) => a,
        Ok(Err(refusal)) => {
            let err = match refusal {
                Refusal::Denied(message) => call.api_error(&O::access_denied(message)),
                Refusal::Service(e) => call.api_error(&e),
            };
            let event = call.event(Outcome::failed(name, read_only, params, err.clone()));
            return call.record_then_respond(app, event, Err(err)).await;
        }
        Err(e) => {
            // Refused, and recorded like every other outcome of an authenticated call (if
            // the store can still take the record; if not, the answer is the same).
            tracing::error!(request_id = %call.request_id, error = %e, "authorization could not be completed");
            let err = ApiError::internal();
            let event = call.event(Outcome::failed(name, read_only, params, err.clone()));
            return call.record_then_respond(app, event, Err(err)).await;
        }
    };
    let authorized = if authorized.op().needs_prepare() {
        let mut authorized = authorized;
        match tokio::task::spawn_blocking(move || {
            authorized.op_mut().prepare();
            authorized
        })
        .await
        {
            Ok(a) => a,
            Err(e) => {
                tracing::error!(request_id = %call.request_id, error = %e, "preparing the operation failed");
                let err = ApiError::internal();
                let event = call.event(Outcome::failed(name, read_only, params, err.clone()));
                return call.record_then_respond(app, event, Err(err)).await;
            }
        }
    } else {
        authorized
    };
    if read_only {
        let sealer = app.sealer.clone();
        let result = app.store.read(|tx| {
            let ctx = Ctx {
                principal: authorized.principal(),
                now: call.now,
                region: &call.region,
                request_id: &call.request_id,
                sealer: &*sealer,
            };
            authorized.op().execute(TxRef::Read(tx), ctx)
        });
        let (event, result) = outcome(&call, record_resources, name, true, params, result);
        return call.record_then_respond(app, event, result).await;
    }
    let sealer = app.sealer.clone();
    let call = std::sync::Arc::new(call);
    let job_call = call.clone();
    type Written<O> = (Result<Vec<u8>, ApiError>, O);
    let job = move |tx: &mut dyn WriteTx| -> Result<Written<O>, StoreError> {
        let call = job_call;
        let (op, principal) = authorized.into_parts();
        let result = with_savepoint(tx, |tx| {
            let ctx = Ctx {
                principal: &principal,
                now: call.now,
                region: &call.region,
                request_id: &call.request_id,
                sealer: &*sealer,
            };
            op.execute(TxRef::Write(tx), ctx)
        })?;
        let (event, result) = outcome(&call, record_resources, name, false, params, result);
        event?.append(tx)?;
        Ok((result, op))
    };
    // The write and the cache invalidation that follows it run as their own task: if the
    // client disconnects, this future is dropped, but a write the writer already took must
    // still be followed by the invalidation, or a revoked key or policy would stay cached.
    let task_app = app.clone();
    let written = tokio::spawn(async move {
        let written = task_app.store.write(job).await;
        if invalidates {
            // Identities, keys or policies may have changed: drop the caches before anyone
            // learns that the change is done.
            task_app.credentials.invalidate();
            task_app.authorizer.invalidate();
        }
        written.map(|(result, op)| {
            if result.is_ok() {
                op.after_commit();
            }
            result
        })
    })
    .await
    .unwrap_or_else(|e| Err(StoreError::Unavailable(format!("write task failed: {e}"))));
    match written {
        Ok(result) => call.respond(result),
        Err(e) => {
            tracing::error!(request_id = %call.request_id, error = %e, "write transaction failed");
            call.respond(Err(ApiError::internal()))
        }
    }
}

/// Authorizes `op` with what the service found out about the resource.
#[allow(clippy::too_many_arguments)]
fn check<T>(
    app: &App,
    epoch: ferrogate_iam::authz::Epoch,
    tx: &dyn ferrogate_store::ReadTx,
    call: &Call,
    facts: &Facts,
    what: &Action,
    keys: &[(String, Vec<String>)],
    access: &Access,
    op: T,
) -> Result<ferrogate_iam::authz::Authorized<T>, ferrogate_iam::authz::Denied> {
    let mut what = what.clone();
    if let Some(r) = &access.resource {
        what.resource.clone_from(r);
    }
    if let Some(a) = &access.action {
        what.action.clone_from(a);
    }
    let mut keys = if access.isolated {
        Vec::new()
    } else {
        keys.to_vec()
    };
    keys.extend(access.keys.iter().cloned());
    match &access.policy {
        None => app
            .authorizer
            .authorize(epoch, tx, &call.principal, facts, &what, &keys, op),
        Some((name, policy, kind, account)) => {
            let r = ResourceAccess {
                name,
                policy,
                kind: *kind,
                account,
                grant: access.grant.as_deref(),
            };
            app.authorizer.authorize_resource(
                epoch,
                tx,
                &call.principal,
                facts,
                &what,
                &keys,
                r,
                op,
            )
        }
    }
}

/// Why a request was not authorized: the resource lookup failed, or the policies deny.
enum Refusal<E> {
    Service(E),
    Denied(String),
}

fn outcome<E: AwsError>(
    call: &Call,
    record_resources: bool,
    name: &str,
    read_only: bool,
    request_parameters: Value,
    result: Result<OpReply, E>,
) -> (Result<PreparedEvent, StoreError>, Result<Vec<u8>, ApiError>) {
    match result {
        Ok(reply) => {
            let event = call.event(Outcome {
                record_resources,
                event_name: name,
                read_only,
                request_parameters,
                response_elements: reply.response_elements,
                error: None,
                resources: reply.resources,
            });
            (event, Ok(reply.body))
        }
        Err(e) => {
            let err = call.api_error(&e);
            (
                call.event(Outcome::failed(
                    name,
                    read_only,
                    request_parameters,
                    err.clone(),
                )),
                Err(err),
            )
        }
    }
}

/// `LookupEvents` as an operation of the common path.
struct LookupEventsOp(LookupEventsInput);

impl Operation for LookupEventsOp {
    type Error = TrailOpError;

    fn name(&self) -> &'static str {
        "LookupEvents"
    }

    fn read_only(&self) -> bool {
        true
    }

    fn action(&self, _caller: &Principal) -> Action {
        Action::new("cloudtrail:LookupEvents", "*")
    }

    fn request_parameters(&self) -> Value {
        lookup_parameters(&self.0)
    }

    fn execute(&self, tx: TxRef<'_>, ctx: Ctx<'_>) -> Result<OpReply, TrailOpError> {
        let out = lookup_events(
            tx.read(),
            ctx.principal.account.as_str(),
            ctx.region,
            &self.0,
            ctx.now,
        )?;
        Ok(OpReply {
            body: json::encode(&out),
            response_elements: Value::Null,
            resources: Vec::new(),
        })
    }

    fn access_denied(message: String) -> TrailOpError {
        TrailOpError::AccessDeniedException(message)
    }
}

/// CloudTrail's errors plus the JSON services' `AccessDeniedException`.
#[derive(Debug, thiserror::Error)]
enum TrailOpError {
    #[error(transparent)]
    Trail(#[from] TrailError),
    #[error("{0}")]
    AccessDeniedException(String),
}

impl From<StoreError> for TrailOpError {
    fn from(e: StoreError) -> Self {
        TrailOpError::Trail(TrailError::Internal(e))
    }
}

impl AwsError for TrailOpError {
    fn aws_code(&self, p: Protocol) -> &'static str {
        match self {
            TrailOpError::Trail(t) => t.aws_code(p),
            TrailOpError::AccessDeniedException(_) => "AccessDeniedException",
        }
    }
    fn status(&self, p: Protocol) -> u16 {
        match self {
            TrailOpError::Trail(t) => t.status(p),
            TrailOpError::AccessDeniedException(_) => 400,
        }
    }
    fn is_internal(&self) -> bool {
        matches!(self, TrailOpError::Trail(t) if t.is_internal())
    }
}

fn lookup_parameters(i: &LookupEventsInput) -> Value {
    let mut v = json!({});
    if let Some(a) = &i.lookup_attributes {
        v["lookupAttributes"] = json!(a
            .iter()
            .map(|a| json!({"attributeKey": a.attribute_key, "attributeValue": a.attribute_value}))
            .collect::<Vec<_>>());
    }
    if let Some(t) = i.start_time.and_then(Timestamp::from_epoch_seconds_f64) {
        v["startTime"] = json!(t.iso8601());
    }
    if let Some(t) = i.end_time.and_then(Timestamp::from_epoch_seconds_f64) {
        v["endTime"] = json!(t.iso8601());
    }
    if let Some(m) = i.max_results {
        v["maxResults"] = json!(m);
    }
    v
}

/// ECS checks a cluster's key with `kms:DescribeKey` as the caller (AWS: a forward access
/// session): a real KMS request, authorized and recorded with the caller's identity and
/// `invokedBy: ecs.amazonaws.com`, whatever its outcome. The ECS operation then checks the
/// same authorization again as part of its own decision, so the record and the decision
/// cannot disagree about who may describe the key.
async fn describe_key_for_ecs(app: &App, ecs_call: &Call, key: &str) {
    let body = serde_json::to_vec(&json!({ "KeyId": key })).unwrap_or_default();
    let Ok(op) = ferrogate_kms::KmsOp::decode(&app.kms, "DescribeKey", &body) else {
        return;
    };
    let via = format!("ecs.{}.amazonaws.com", ecs_call.region);
    let call = Call {
        invoked_by: Some("ecs.amazonaws.com".to_owned()),
        extra_keys: vec![("kms:ViaService".to_owned(), vec![via])],
        principal: ecs_call.principal.clone(),
        event_source: ServiceId::Kms.event_source().to_owned(),
        region: ecs_call.region.clone(),
        source_ip: ecs_call.source_ip.clone(),
        user_agent: ecs_call.user_agent.clone(),
        request_id: new_request_id().as_str().to_owned(),
        now: ecs_call.now,
        protocol: Protocol::Json11,
        ns: "",
    };
    let _ = run_op(app, call, op).await;
}

/// A KMS call a service makes on its own behalf (ECS's Fargate key flow): the same path as a
/// client's request (authorization by key policy and grants, execution, a durable audit
/// record with an `AWSService` identity), without HTTP or SigV4.
pub(crate) async fn service_kms_call(
    app: &App,
    principal: Principal,
    region: &str,
    op: &str,
    body: &Value,
) -> Result<Value, ServiceCallError> {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let decoded = ferrogate_kms::KmsOp::decode(&app.kms, op, &bytes).map_err(|e| {
        let api = ApiError::from_error(&e, Protocol::Json11);
        ServiceCallError {
            code: api.code.to_owned(),
            message: api.message,
        }
    })?;
    let service = match &principal.kind {
        ferrogate_types::PrincipalKind::Service { service } => service.clone(),
        _ => principal.arn.clone(),
    };
    let request_id = new_request_id();
    let call = Call {
        invoked_by: None,
        extra_keys: Vec::new(),
        principal,
        event_source: ServiceId::Kms.event_source().to_owned(),
        region: region.to_owned(),
        source_ip: service.clone(),
        user_agent: service,
        request_id: request_id.as_str().to_owned(),
        now: app.clock.now(),
        protocol: Protocol::Json11,
        ns: "",
    };
    let mut resp = run_op(app, call, decoded).await;
    let parsed: Result<Value, _> = serde_json::from_slice(&resp.body);
    // The body may hold a plaintext data key: wipe it once parsed.
    zeroize::Zeroize::zeroize(&mut resp.body);
    let v = parsed.unwrap_or(Value::Null);
    if resp.status == 200 {
        Ok(v)
    } else {
        Err(ServiceCallError {
            code: v["__type"].as_str().unwrap_or("InternalFailure").to_owned(),
            message: v["message"].as_str().unwrap_or_default().to_owned(),
        })
    }
}

/// A refused or failed service call: AWS's error code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServiceCallError {
    pub code: String,
    pub message: String,
}

impl std::fmt::Display for ServiceCallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}
