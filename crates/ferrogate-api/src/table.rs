//! The operation table of a service ([`crate::operations!`]) and the [`Registry`] the server
//! routes requests through: adding an operation is one row, adding a service one
//! `Registry::with` line.

use std::sync::Arc;

use ferrogate_wire::query::QueryParams;
use ferrogate_wire::{ApiError, Protocol, ServiceId, WireError};
use serde::Serialize;

use crate::encode::{self, Answer, Ec2Output, XmlOutput};
use crate::exec::{Call, Executor, Refusal};
use crate::op::{BoxFuture, ErrorOf, Operation, Sent, Service};

/// One request, as the router hands it to its service.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The operation's name (`X-Amz-Target`'s suffix, or `Action=`).
    pub operation: &'a str,
    /// The body.
    pub body: &'a [u8],
    /// The form parameters of a query request.
    pub params: Option<&'a QueryParams>,
}

/// Implemented by [`crate::operations!`]: decodes a request into the operation its name
/// names and runs it.
pub trait Dispatch: Service + Sized {
    /// Serves one request.
    fn dispatch<'a>(
        this: &'a Arc<Self>,
        exec: &'a Executor,
        call: Call,
        request: Request<'a>,
    ) -> BoxFuture<'a, Answer>;
}

trait Mounted: Send + Sync {
    fn serve<'a>(
        &'a self,
        exec: &'a Executor,
        call: Call,
        request: Request<'a>,
    ) -> BoxFuture<'a, Answer>;
}

struct Mount<S>(Arc<S>);

impl<S: Dispatch> Mounted for Mount<S> {
    fn serve<'a>(
        &'a self,
        exec: &'a Executor,
        call: Call,
        request: Request<'a>,
    ) -> BoxFuture<'a, Answer> {
        S::dispatch(&self.0, exec, call, request)
    }
}

/// Where a request goes, as the server's router found it.
#[derive(Debug, Clone)]
pub struct Route {
    /// The protocol the request speaks (and its errors are answered in).
    pub protocol: Protocol,
    /// The service, when known.
    pub service: Option<ServiceId>,
    /// The operation `X-Amz-Target` names (JSON services).
    pub target: Option<String>,
    /// The XML namespace of query errors.
    pub xmlns: &'static str,
    /// The `eventSource` recorded for a request of no known service.
    pub event_source: String,
}

/// Every service the server serves.
#[derive(Default)]
pub struct Registry {
    services: Vec<(ServiceId, Box<dyn Mounted>)>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.services.iter().map(|(id, _)| id))
            .finish()
    }
}

impl Registry {
    /// No services.
    pub fn new() -> Self {
        Self::default()
    }

    /// Serves `service` too.
    #[must_use]
    pub fn with<S: Dispatch>(mut self, service: Arc<S>) -> Self {
        self.services.push((S::ID, Box::new(Mount(service))));
        self
    }

    /// Serves one authenticated request.
    pub async fn serve(
        &self,
        exec: &Executor,
        route: &Route,
        call: Call,
        body: &[u8],
        url_query: &str,
    ) -> Answer {
        let request_id = call.request_id.clone();
        let fail = |e: ApiError| encode::error(&e, route.protocol, route.xmlns, &request_id);
        let mounted = route
            .service
            .and_then(|id| self.services.iter().find(|(s, _)| *s == id));
        let Some((id, service)) = mounted else {
            let op = route.target.as_deref().unwrap_or_default();
            let e = WireError::UnknownOperation {
                message: format!("Operation {op} is not supported by this endpoint."),
            };
            let e = ApiError::from_error(&e, route.protocol);
            return fail(
                exec.refuse_unhandled(&call, &route.event_source, op, e)
                    .await,
            );
        };
        match id.protocol() {
            Protocol::Json11 => {
                let request = Request {
                    operation: route.target.as_deref().unwrap_or_default(),
                    body,
                    params: None,
                };
                service.serve(exec, call, request).await
            }
            Protocol::Query | Protocol::Ec2 => {
                let params = QueryParams::from_request(body, url_query);
                let action = params.get("Action").unwrap_or("").to_owned();
                let version = params.get("Version");
                if version != Some(id.api_version()) {
                    let e = WireError::InvalidAction {
                        action: action.clone(),
                        version: version.unwrap_or("").to_owned(),
                    };
                    let e = ApiError::from_error(&e, id.protocol());
                    let source = id.event_source();
                    return fail(exec.refuse_unhandled(&call, source, &action, e).await);
                }
                let request = Request {
                    operation: &action,
                    body,
                    params: Some(&params),
                };
                service.serve(exec, call, request).await
            }
        }
    }
}

impl Executor {
    /// Answers a request whose operation is not one of `S`'s.
    pub async fn unknown_operation<S: Service>(&self, call: Call, operation: &str) -> Answer {
        let protocol = S::ID.protocol();
        let e = match protocol {
            Protocol::Json11 => WireError::UnknownOperation {
                message: format!("Operation {operation} is not supported by this endpoint."),
            },
            Protocol::Query | Protocol::Ec2 => WireError::InvalidAction {
                action: operation.to_owned(),
                version: S::ID.api_version().to_owned(),
            },
        };
        let e = ApiError::from_error(&e, protocol);
        let e = self
            .refuse_unhandled(&call, S::ID.event_source(), operation, e)
            .await;
        encode::error(&e, protocol, S::ID.xml_namespace(), &call.request_id)
    }

    async fn serve_with<O: Operation>(
        &self,
        service: &Arc<O::Service>,
        call: Call,
        decoded: Result<O, ErrorOf<O>>,
        sent: Sent<'_>,
        encode_output: impl FnOnce(&O::Output, &str) -> Vec<u8>,
    ) -> Answer {
        let id = <O::Service as Service>::ID;
        let (protocol, ns) = (id.protocol(), id.xml_namespace());
        let request_id = call.request_id.clone();
        let op = match decoded {
            Ok(op) => op,
            Err(e) => {
                let e = ApiError::from_error(&e, protocol);
                let e = self
                    .refuse_unhandled(&call, id.event_source(), O::NAME, e)
                    .await;
                return encode::error(&e, protocol, ns, &request_id);
            }
        };
        let params = op.request_parameters(sent);
        match self.run(service, call, op, params).await {
            Ok(output) => encode::ok(protocol, encode_output(&output, &request_id), &request_id),
            Err(r @ (Refusal::Service(_) | Refusal::Internal)) => {
                encode::error(&r.api_error(protocol), protocol, ns, &request_id)
            }
        }
    }

    /// Runs a decoded awsJson1_1 request and answers it.
    pub async fn serve_json<O>(
        &self,
        service: &Arc<O::Service>,
        call: Call,
        decoded: Result<O, ErrorOf<O>>,
        body: &[u8],
    ) -> Answer
    where
        O: Operation,
        O::Output: Serialize,
    {
        self.serve_with(service, call, decoded, Sent(Some(body)), |o, _| {
            encode::json_body(o)
        })
        .await
    }

    /// Runs a decoded awsQuery request and answers it in XML.
    pub async fn serve_query<O>(
        &self,
        service: &Arc<O::Service>,
        call: Call,
        decoded: Result<O, ErrorOf<O>>,
    ) -> Answer
    where
        O: Operation,
        O::Output: XmlOutput,
    {
        let ns = <O::Service as Service>::ID.xml_namespace();
        self.serve_with(service, call, decoded, Sent(None), |o, rid| {
            encode::xml_body(O::NAME, ns, o, rid)
        })
        .await
    }
}

impl Executor {
    /// Runs a decoded EC2 request and answers it in EC2's XML.
    pub async fn serve_ec2<O>(
        &self,
        service: &Arc<O::Service>,
        call: Call,
        decoded: Result<O, ErrorOf<O>>,
    ) -> Answer
    where
        O: Operation,
        O::Output: Ec2Output,
    {
        let ns = <O::Service as Service>::ID.xml_namespace();
        self.serve_with(service, call, decoded, Sent(None), |o, rid| {
            encode::ec2_body(O::NAME, ns, o, rid)
        })
        .await
    }
}

/// Declares a service's operations: one row per operation, `Name(InputType) read|write`.
///
/// For each row the input type is registered (name, read-only, service: an [`Operation`]
/// without a row does not compile) and the service learns to decode and run it.
/// `parameters:` says what CloudTrail records as `requestParameters` ([`crate::Recorded`]):
/// `sent` (the JSON request as sent), `serialized` (the decoded input, serialized) or `own`
/// (each operation says).
/// `protocol: json` inputs are decoded with serde and then their inherent
/// `validated(self) -> Result<Self, Error>`; `protocol: query` inputs with their inherent
/// `decode(&QueryParams) -> Result<Self, Error>`; `protocol: ec2` inputs with their inherent
/// `decode(&Ec2Params) -> Result<Self, Error>`, after which any parameter the input did not
/// read refuses the request (`UnknownParameter`); an ec2 table names a `before` function
/// (`async fn(&Arc<Svc>, &Executor, &Call) -> Result<(), Error>`) run before each request is
/// decoded (EC2: the account's default VPC in the region).
#[macro_export]
macro_rules! operations {
    (service: $svc:ty, protocol: json, parameters: $params:ident, ops: { $( $name:ident ( $input:ty ) $rw:ident ),* $(,)? }) => {
        $( $crate::__register!($svc, $name, $input, $rw); $crate::__parameters!($params, $input); )*

        impl $crate::Dispatch for $svc {
            fn dispatch<'a>(
                this: &'a ::std::sync::Arc<Self>,
                exec: &'a $crate::Executor,
                call: $crate::Call,
                request: $crate::Request<'a>,
            ) -> $crate::BoxFuture<'a, $crate::Answer> {
                Box::pin(async move {
                    match request.operation {
                        $( stringify!($name) => {
                            let decoded: ::std::result::Result<$input, <$svc as $crate::Service>::Error> =
                                $crate::__macro::json::decode::<$input>(request.body)
                                    .map_err(::std::convert::Into::into)
                                    .and_then(<$input>::validated);
                            exec.serve_json::<$input>(this, call, decoded, request.body).await
                        } )*
                        other => exec.unknown_operation::<$svc>(call, other).await,
                    }
                })
            }
        }
    };
    (service: $svc:ty, protocol: ec2, parameters: $params:ident, before: $before:path, ops: $ops:tt) => {
        $crate::__ec2_operations!($svc, $params, $before, $ops);
    };
    (service: $svc:ty, protocol: query, parameters: $params:ident, ops: { $( $name:ident ( $input:ty ) $rw:ident ),* $(,)? }) => {
        $( $crate::__register!($svc, $name, $input, $rw); $crate::__parameters!($params, $input); )*

        impl $crate::Dispatch for $svc {
            fn dispatch<'a>(
                this: &'a ::std::sync::Arc<Self>,
                exec: &'a $crate::Executor,
                call: $crate::Call,
                request: $crate::Request<'a>,
            ) -> $crate::BoxFuture<'a, $crate::Answer> {
                Box::pin(async move {
                    let empty = $crate::__macro::QueryParams::default();
                    let params = request.params.unwrap_or(&empty);
                    match request.operation {
                        $( stringify!($name) => {
                            let decoded = <$input>::decode(params);
                            exec.serve_query::<$input>(this, call, decoded).await
                        } )*
                        other => exec.unknown_operation::<$svc>(call, other).await,
                    }
                })
            }
        }
    };
}

/// The `protocol: ec2` arm of [`operations!`].
#[doc(hidden)]
#[macro_export]
macro_rules! __ec2_operations {
    ($svc:ty, $params:ident, $before:path, { $( $name:ident ( $input:ty ) $rw:ident ),* $(,)? }) => {
        $( $crate::__register!($svc, $name, $input, $rw); $crate::__parameters!($params, $input); )*

        impl $crate::Dispatch for $svc {
            fn dispatch<'a>(
                this: &'a ::std::sync::Arc<Self>,
                exec: &'a $crate::Executor,
                call: $crate::Call,
                request: $crate::Request<'a>,
            ) -> $crate::BoxFuture<'a, $crate::Answer> {
                Box::pin(async move {
                    let empty = $crate::__macro::QueryParams::default();
                    let params = $crate::__macro::Ec2Params::new(request.params.unwrap_or(&empty));
                    // What every account and region has before its first request (EC2's
                    // default VPC), made before the request is decoded or authorized.
                    let ready: ::std::result::Result<(), <$svc as $crate::Service>::Error> =
                        $before(this, exec, &call).await;
                    match request.operation {
                        $( stringify!($name) => {
                            let decoded: ::std::result::Result<$input, <$svc as $crate::Service>::Error> =
                                ready.and_then(|()| <$input>::decode(&params)).and_then(|op| {
                                    params.finish().map_err(|e| -> <$svc as $crate::Service>::Error { e.into() })?;
                                    Ok(op)
                                });
                            exec.serve_ec2::<$input>(this, call, decoded).await
                        } )*
                        other => exec.unknown_operation::<$svc>(call, other).await,
                    }
                })
            }
        }
    };
}

/// One row of [`operations!`].
#[doc(hidden)]
#[macro_export]
macro_rules! __register {
    ($svc:ty, $name:ident, $input:ty, read) => {
        impl $crate::Registered for $input {
            type Service = $svc;
            const NAME: &'static str = stringify!($name);
            const READ_ONLY: bool = true;
        }
    };
    ($svc:ty, $name:ident, $input:ty, write) => {
        impl $crate::Registered for $input {
            type Service = $svc;
            const NAME: &'static str = stringify!($name);
            const READ_ONLY: bool = false;
        }
    };
}

/// How [`operations!`] records a row's `requestParameters`.
#[doc(hidden)]
#[macro_export]
macro_rules! __parameters {
    (sent, $input:ty) => {
        impl $crate::Recorded for $input {
            fn request_parameters(&self, sent: $crate::Sent<'_>) -> $crate::__macro::Value {
                sent.json()
            }
        }
    };
    (serialized, $input:ty) => {
        impl $crate::Recorded for $input {
            fn request_parameters(&self, _: $crate::Sent<'_>) -> $crate::__macro::Value {
                $crate::__macro::to_value(self).unwrap_or($crate::__macro::Value::Null)
            }
        }
    };
    (own, $input:ty) => {};
}
