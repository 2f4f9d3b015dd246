//! The one request path every operation of every service takes, whether a client sent it
//! over HTTP or another service called it through a [`crate::Client`]:
//! authorize on a snapshot → prepare (off the writer) → execute on a snapshot (reads) or in
//! the writer's transaction → record → answer.
//!
//! From the moment a caller is known, every outcome (success, validation error, access
//! denied, internal failure) is recorded, and the answer is given only once that record is
//! durable. A state change and its record commit in the same transaction; a failed
//! operation's writes are undone (savepoint) while its record is kept.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use ferrogate_store::engine::with_savepoint;
use ferrogate_store::seal::Sealer;
use ferrogate_store::{Store, StoreError, TxRef, WriteTx};
use ferrogate_types::{Clock, Principal, RequestId, Timestamp};
use ferrogate_wire::{ApiError, AwsError};
use serde_json::Value;

use crate::audit::{AuditLog, CallRecord, Entry};
use crate::authz::{authorize, Asker, Authorized, Decide, Facts};
use crate::op::{Ctx, Env, ErrorOf, Exec, Operation, Reply, Scope, Service};

/// What the request path runs on: the store, the root key's sealer, the clock, the policy
/// engine and the audit log.
pub struct Host {
    /// The store.
    pub store: Store,
    /// Seals new secrets.
    pub sealer: Arc<dyn Sealer>,
    /// Now.
    pub clock: Arc<dyn Clock>,
    /// The policy engine.
    pub decider: Arc<dyn Decide>,
    /// The audit log.
    pub audit: Arc<dyn AuditLog>,
    /// Drops caches of credentials after a write that may change who may do what (the
    /// policy engine's own caches are dropped with [`Decide::invalidate`]).
    pub invalidate: Arc<dyn Fn() + Send + Sync>,
}

/// Runs operations. Cheap to clone.
#[derive(Clone)]
pub struct Executor {
    host: Arc<Host>,
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor").finish_non_exhaustive()
    }
}

/// Who makes a call, from where, and through which services.
#[derive(Debug, Clone)]
pub struct Call {
    /// The caller.
    pub principal: Principal,
    /// The region the request addresses (`us-east-1` for global services).
    pub region: String,
    /// The caller's address (`aws:SourceIp`, `sourceIPAddress`).
    pub source_ip: String,
    /// The caller's user agent.
    pub user_agent: String,
    /// The request id.
    pub request_id: String,
    /// When the request arrived.
    pub now: Timestamp,
    /// Services that made this call with the caller's credentials, outermost first.
    pub called_via: Vec<String>,
}

/// Who calls through a [`crate::Client`]: a service principal on its own behalf (Fargate), or
/// a caller's identity forwarded by a service.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The identity.
    pub principal: Principal,
    /// The region.
    pub region: String,
    /// The source recorded (a service's DNS name for its own calls).
    pub source_ip: String,
    /// The user agent recorded.
    pub user_agent: String,
    /// Forwarding services, outermost first (empty for a service's own calls).
    pub called_via: Vec<String>,
}

impl Caller {
    /// A service principal (`fargate.amazonaws.com`) calling on its own behalf.
    pub fn service(principal: Principal, region: &str) -> Self {
        let name = match &principal.kind {
            ferrogate_types::PrincipalKind::Service { service } => service.clone(),
            _ => principal.arn.clone(),
        };
        Self {
            principal,
            region: region.to_owned(),
            source_ip: name.clone(),
            user_agent: name,
            called_via: Vec::new(),
        }
    }
}

impl Call {
    pub(crate) fn as_caller(&self, called_via: Vec<String>) -> Caller {
        Caller {
            principal: self.principal.clone(),
            region: self.region.clone(),
            source_ip: self.source_ip.clone(),
            user_agent: self.user_agent.clone(),
            called_via,
        }
    }
}

/// Why a call did not produce an output (already recorded).
#[derive(Debug)]
pub enum Refusal<E> {
    /// The service's error: a refusal, a validation error, or one of its internal failures.
    Service(E),
    /// The common path itself failed (the store, a panicked task): answered as a generic
    /// internal failure, details logged with the request id.
    Internal,
}

impl<E: AwsError> Refusal<E> {
    /// The wire form.
    pub fn api_error(&self, protocol: ferrogate_wire::Protocol) -> ApiError {
        match self {
            Refusal::Service(e) => ApiError::from_error(e, protocol),
            Refusal::Internal => ApiError::internal(),
        }
    }
}

/// A new request id.
pub fn new_request_id() -> RequestId {
    let mut b = [0u8; 16];
    // A failed CSPRNG leaves zeros: request ids name requests, they protect nothing.
    let _ = aws_lc_rs::rand::fill(&mut b);
    RequestId::from_random(b)
}

/// How a call ended, for its record.
struct Ending<'a> {
    event_source: &'a str,
    event_name: &'a str,
    read_only: bool,
    record_resources: bool,
    request_parameters: Value,
    response_elements: Value,
    error: Option<&'a ApiError>,
    resources: &'a [(String, String)],
}

impl Executor {
    /// An executor over `host`.
    pub fn new(host: Host) -> Self {
        Self {
            host: Arc::new(host),
        }
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.host.store
    }

    /// Now.
    pub fn now(&self) -> Timestamp {
        self.host.clock.now()
    }

    fn record(&self, call: &Call, end: Ending<'_>) -> Result<Box<dyn Entry>, StoreError> {
        self.host.audit.prepare(CallRecord {
            principal: &call.principal,
            time: call.now,
            event_source: end.event_source,
            event_name: end.event_name,
            region: &call.region,
            source_ip: &call.source_ip,
            user_agent: &call.user_agent,
            request_id: &call.request_id,
            read_only: end.read_only,
            request_parameters: end.request_parameters,
            response_elements: end.response_elements,
            error: end.error.map(|e| (e.code, e.message.as_str())),
            resources: end.resources,
            record_resources: end.record_resources,
            invoked_by: call.called_via.last().map(String::as_str),
        })
    }

    /// Appends a record in its own transaction; `Err` when it could not be made durable (no
    /// record, no answer: the caller then answers with an internal failure).
    async fn append(&self, call: &Call, end: Ending<'_>) -> Result<(), ()> {
        let entry = self.record(call, end);
        let durable = match entry {
            Ok(e) => self.host.store.write(move |tx| e.append(tx)).await,
            Err(e) => Err(e),
        };
        durable.map_err(|e| {
            // An unaudited answer must not reach the client.
            tracing::error!(request_id = %call.request_id, error = %e, "audit record could not be written");
        })
    }

    /// Records a request that never became an operation (an unknown action, a body that
    /// does not decode), and returns the error to answer with.
    pub async fn refuse_unhandled(
        &self,
        call: &Call,
        event_source: &str,
        event_name: &str,
        err: ApiError,
    ) -> ApiError {
        let end = Ending {
            event_source,
            event_name,
            read_only: false,
            record_resources: false,
            request_parameters: Value::Null,
            response_elements: Value::Null,
            error: Some(&err),
            resources: &[],
        };
        match self.append(call, end).await {
            Ok(()) => err,
            Err(()) => ApiError::internal(),
        }
    }

    fn api_error<E: AwsError>(call: &Call, e: &E, protocol: ferrogate_wire::Protocol) -> ApiError {
        let api = ApiError::from_error(e, protocol);
        if api.internal {
            tracing::error!(request_id = %call.request_id, error = %e, "internal error");
        }
        api
    }

    /// Records a refusal before execution and hands it back.
    async fn refused<O: Operation>(
        &self,
        call: &Call,
        params: Value,
        refusal: Refusal<ErrorOf<O>>,
        protocol: ferrogate_wire::Protocol,
    ) -> Refusal<ErrorOf<O>> {
        let err = match &refusal {
            Refusal::Service(e) => Self::api_error(call, e, protocol),
            Refusal::Internal => ApiError::internal(),
        };
        let end = Ending {
            event_source: <O::Service as Service>::ID.event_source(),
            event_name: O::NAME,
            read_only: O::READ_ONLY,
            record_resources: false,
            request_parameters: params,
            response_elements: Value::Null,
            error: Some(&err),
            resources: &[],
        };
        match self.append(call, end).await {
            Ok(()) => refusal,
            Err(()) => Refusal::Internal,
        }
    }

    /// Runs `op` for `call`: the whole path, recorded. `params` is its `requestParameters`.
    pub async fn run<O: Operation>(
        &self,
        service: &Arc<O::Service>,
        call: Call,
        op: O,
        params: Value,
    ) -> Result<O::Output, Refusal<ErrorOf<O>>> {
        let protocol = <O::Service as Service>::ID.protocol();
        let facts = Facts {
            now: call.now,
            source_ip: call
                .source_ip
                .parse()
                .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            region: call.region.clone(),
            secure_transport: false,
        };
        // Before the snapshot: see `Decide::epoch`.
        let epoch = self.host.decider.epoch();
        let decided =
            self.host.store.read(|tx| {
                let scope = Scope {
                    service: &**service,
                    tx,
                    principal: &call.principal,
                    region: &call.region,
                    now: call.now,
                    called_via: &call.called_via,
                };
                let auth = match op.authorize(&scope) {
                    Ok(a) => a,
                    Err(e) => return Ok(Err(Refusal::Service(e))),
                };
                let asker = Asker {
                    decider: &*self.host.decider,
                    epoch,
                    tx,
                    principal: &call.principal,
                    facts: &facts,
                    called_via: &call.called_via,
                    tag_prefixes: <O::Service as Service>::TAG_PREFIXES,
                };
                Ok::<_, StoreError>(authorize(&asker, &auth, op).map_err(|d| {
                    Refusal::Service(<O::Service as Service>::access_denied(d.message))
                }))
            });
        let mut authorized = match decided {
            Ok(Ok(a)) => a,
            Ok(Err(refusal)) => {
                return Err(self.refused::<O>(&call, params, refusal, protocol).await)
            }
            Err(e) => {
                tracing::error!(request_id = %call.request_id, error = %e, "authorization could not be completed");
                return Err(self
                    .refused::<O>(&call, params, Refusal::Internal, protocol)
                    .await);
            }
        };
        let env = Env {
            service,
            exec: self,
            call: &call,
        };
        if let Err(e) = O::prepare(&mut authorized, env).await {
            return Err(self
                .refused::<O>(&call, params, Refusal::Service(e), protocol)
                .await);
        }
        if O::READ_ONLY {
            self.read::<O>(service, call, authorized, params, protocol)
                .await
        } else {
            self.write::<O>(service, call, authorized, params, protocol)
                .await
        }
    }

    async fn read<O: Operation>(
        &self,
        service: &Arc<O::Service>,
        call: Call,
        authorized: Authorized<O>,
        params: Value,
        protocol: ferrogate_wire::Protocol,
    ) -> Result<O::Output, Refusal<ErrorOf<O>>> {
        let result = self.host.store.read(|tx| {
            let ctx = Ctx {
                principal: authorized.principal(),
                now: call.now,
                region: &call.region,
                request_id: &call.request_id,
                sealer: &*self.host.sealer,
            };
            let x = Exec {
                service: &**service,
                tx: TxRef::Read(tx),
                ctx,
            };
            O::execute(&authorized, x)
        });
        let (reply, err) = split::<O>(&call, result, protocol);
        let end = ending::<O>(params, reply.as_ref(), err.as_ref().map(|(a, _)| a));
        if self.append(&call, end).await.is_err() {
            return Err(Refusal::Internal);
        }
        match (reply, err) {
            (Some(r), _) => Ok(r.output),
            (None, Some((_, e))) => Err(Refusal::Service(e)),
            (None, None) => Err(Refusal::Internal),
        }
    }

    async fn write<O: Operation>(
        &self,
        service: &Arc<O::Service>,
        call: Call,
        authorized: Authorized<O>,
        params: Value,
        protocol: ferrogate_wire::Protocol,
    ) -> Result<O::Output, Refusal<ErrorOf<O>>> {
        let exec = self.clone();
        let svc = service.clone();
        let request_id = call.request_id.clone();
        type Written<O> = (
            Option<Reply<<O as Operation>::Output>>,
            Option<ErrorOf<O>>,
            O,
        );
        let job = move |tx: &mut dyn WriteTx| -> Result<Written<O>, StoreError> {
            let result = with_savepoint(tx, |tx| {
                let ctx = Ctx {
                    principal: authorized.principal(),
                    now: call.now,
                    region: &call.region,
                    request_id: &call.request_id,
                    sealer: &*exec.host.sealer,
                };
                let x = Exec {
                    service: &*svc,
                    tx: TxRef::Write(tx),
                    ctx,
                };
                O::execute(&authorized, x)
            })?;
            let (reply, err) = split::<O>(&call, result, protocol);
            let end = ending::<O>(params, reply.as_ref(), err.as_ref().map(|(a, _)| a));
            exec.record(&call, end)?.append(tx)?;
            Ok((reply, err.map(|(_, e)| e), authorized.into_op()))
        };
        // The write and what follows it run as their own task: if the client disconnects,
        // this future is dropped, but a write the writer already took must still be followed
        // by the cache invalidation, or a revoked key or policy would stay cached.
        let host = self.host.clone();
        let svc = service.clone();
        let written = tokio::spawn(async move {
            let written = host.store.write(job).await;
            if <O::Service as Service>::CHANGES_AUTHORIZATION {
                // Identities or policies may have changed: drop the caches before anyone
                // learns that the change is done.
                (host.invalidate)();
                host.decider.invalidate();
            }
            if let Ok((Some(_), _, op)) = &written {
                op.after_commit(&svc);
            }
            written
        })
        .await;
        match written {
            Ok(Ok((Some(reply), _, _))) => Ok(reply.output),
            Ok(Ok((None, Some(e), _))) => Err(Refusal::Service(e)),
            Ok(Ok((None, None, _))) => Err(Refusal::Internal),
            Ok(Err(e)) => {
                tracing::error!(request_id = %request_id, error = %e, "write transaction failed");
                Err(Refusal::Internal)
            }
            Err(e) => {
                tracing::error!(request_id = %request_id, error = %e, "write task failed");
                Err(Refusal::Internal)
            }
        }
    }
}

/// A reply, or the error with its wire form.
type Split<O> = (
    Option<Reply<<O as Operation>::Output>>,
    Option<(ApiError, ErrorOf<O>)>,
);

fn split<O: Operation>(
    call: &Call,
    result: Result<Reply<O::Output>, ErrorOf<O>>,
    protocol: ferrogate_wire::Protocol,
) -> Split<O> {
    match result {
        Ok(r) => (Some(r), None),
        Err(e) => (None, Some((Executor::api_error(call, &e, protocol), e))),
    }
}

fn ending<'a, O: Operation>(
    params: Value,
    reply: Option<&'a Reply<O::Output>>,
    err: Option<&'a ApiError>,
) -> Ending<'a> {
    Ending {
        event_source: <O::Service as Service>::ID.event_source(),
        event_name: O::NAME,
        read_only: O::READ_ONLY,
        record_resources: <O::Service as Service>::RECORD_RESOURCES,
        request_parameters: params,
        response_elements: reply.map_or(Value::Null, |r| r.elements.clone()),
        error: err,
        resources: reply.map_or(&[], |r| r.resources.as_slice()),
    }
}
