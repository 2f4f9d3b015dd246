//! The operation contract: a [`Service`] and its [`Operation`]s.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use ferrogate_store::{ReadTx, StoreError, TxRef};
use ferrogate_types::{Principal, Timestamp};
use ferrogate_wire::{AwsError, ServiceId, WireError};
use serde_json::Value;

use crate::authz::{Authorization, Authorized};
use crate::client::Client;
use crate::exec::{Call, Executor};

/// A boxed future (the prepare step of an operation).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What every service's error enum provides: AWS's code and status ([`AwsError`]), and
/// conversions from the failures the common path meets (storage, malformed requests).
pub trait ServiceError:
    AwsError + From<StoreError> + From<WireError> + Send + Sync + 'static
{
}

impl<T: AwsError + From<StoreError> + From<WireError> + Send + Sync + 'static> ServiceError for T {}

/// A service: its shared state (caches, handles), its errors and how it takes part in the
/// common path. Every item is required: a new service states each.
pub trait Service: Send + Sync + 'static {
    /// The service's error enum.
    type Error: ServiceError;
    /// Which service (signing name, protocol, `eventSource`).
    const ID: ServiceId;
    /// Prefixes of the service's own resource-tag condition keys besides `aws:` (`ecs` for
    /// `ecs:ResourceTag/<key>`).
    const TAG_PREFIXES: &'static [&'static str];
    /// True when a successful write may change who may do what (identities, policies,
    /// organizations): the credential and policy caches are dropped after it.
    const CHANGES_AUTHORIZATION: bool;
    /// True when the audit record's `resources` lists the resources a call concerned (KMS).
    const RECORD_RESOURCES: bool;
    /// The service's refusal.
    fn access_denied(message: String) -> Self::Error;
}

/// Implements [`Service`] for a service type: its error enum, its [`ServiceId`], the
/// prefixes of its own resource-tag condition keys, whether its writes change authorization,
/// whether its records list resources, and its access-denied error. Every item is required.
///
/// ```ignore
/// ferrogate_api::service! { Kms { error: KmsError, id: Kms, tag_prefixes: [], changes_authorization: false, record_resources: true, denied: KmsError::AccessDeniedException } }
/// ```
#[macro_export]
macro_rules! service {
    ($svc:ty { error: $err:ty, id: $id:ident, tag_prefixes: [$($prefix:literal),*], changes_authorization: $changes:literal, record_resources: $record:literal, denied: $denied:path $(,)? }) => {
        impl $crate::Service for $svc {
            type Error = $err;
            const ID: $crate::__macro::ServiceId = $crate::__macro::ServiceId::$id;
            const TAG_PREFIXES: &'static [&'static str] = &[$($prefix),*];
            const CHANGES_AUTHORIZATION: bool = $changes;
            const RECORD_RESOURCES: bool = $record;
            fn access_denied(message: String) -> $err {
                $denied(message)
            }
        }
    };
}

/// What the service's operation table says of an operation (implemented by
/// [`crate::operations!`]: an operation without a row in its service's table does not
/// compile).
pub trait Registered {
    /// The service the operation belongs to.
    type Service: Service;
    /// Its name (CloudTrail's `eventName`).
    const NAME: &'static str;
    /// True when it only reads: it runs on a snapshot, outside the writer.
    const READ_ONLY: bool;
}

/// The error type of `O`'s service.
pub type ErrorOf<O> = <<O as Registered>::Service as Service>::Error;

/// What an operation knows before authorization, on a read snapshot.
pub struct Scope<'a, S> {
    /// The service's state.
    pub service: &'a S,
    /// The snapshot authorization reads.
    pub tx: &'a dyn ReadTx,
    /// Who calls.
    pub principal: &'a Principal,
    /// The region the request addresses.
    pub region: &'a str,
    /// Now.
    pub now: Timestamp,
    /// The services that made this call with the caller's credentials (forward access
    /// sessions), outermost first; empty for a direct call.
    pub called_via: &'a [String],
}

impl<S> Scope<'_, S> {
    /// The caller's account.
    pub fn account(&self) -> &str {
        self.principal.account.as_str()
    }
}

/// What a handler knows about its request.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    /// Who is calling.
    pub principal: &'a Principal,
    /// Now.
    pub now: Timestamp,
    /// The region the request addresses.
    pub region: &'a str,
    /// The request id (XML `ResponseMetadata`).
    pub request_id: &'a str,
    /// Seals new secrets (access keys, session credentials, key material).
    pub sealer: &'a dyn ferrogate_store::seal::Sealer,
}

/// The request's members as the client sent them (JSON services), for services that record
/// them as sent (ECS); `None` for a call made by another service through a [`Client`].
#[derive(Clone, Copy, Debug)]
pub struct Sent<'a>(pub Option<&'a [u8]>);

impl Sent<'_> {
    /// The body as JSON (`null` when absent or empty).
    pub fn json(&self) -> Value {
        match self.0 {
            Some(b) => match serde_json::from_slice::<Value>(b) {
                Ok(Value::Object(m)) if m.is_empty() => Value::Null,
                Ok(v) => v,
                Err(_) => Value::Null,
            },
            None => Value::Null,
        }
    }
}

/// An operation's result and what CloudTrail records of it. `Debug` leaves the output out
/// (it may hold a secret: a new access key, a plaintext).
pub struct Reply<T> {
    /// The typed output.
    pub output: T,
    /// `responseElements` (recorded for writes).
    pub elements: Value,
    /// `(ResourceType, ResourceName)` pairs for `LookupEvents` (and the record's `resources`
    /// where the service records them).
    pub resources: Vec<(String, String)>,
}

impl<T> Reply<T> {
    /// An output with nothing further to record.
    pub fn new(output: T) -> Self {
        Self {
            output,
            elements: Value::Null,
            resources: Vec::new(),
        }
    }

    /// Records `elements` as `responseElements`.
    #[must_use]
    pub fn elements(mut self, elements: Value) -> Self {
        self.elements = elements;
        self
    }

    /// Names a resource the call concerned.
    #[must_use]
    pub fn resource(mut self, kind: &str, name: impl Into<String>) -> Self {
        self.resources.push((kind.to_owned(), name.into()));
        self
    }
}

impl<T> std::fmt::Debug for Reply<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reply")
            .field("resources", &self.resources)
            .finish_non_exhaustive()
    }
}

/// What [`Operation::prepare`] may use: the service, and calls to other services made with
/// the caller's credentials.
pub struct Env<'a, S> {
    /// The service's state.
    pub service: &'a Arc<S>,
    pub(crate) exec: &'a Executor,
    pub(crate) call: &'a Call,
}

impl<S: Service> Env<'_, S> {
    /// The region the request addresses (a service's own calls name its regional
    /// principal and resources from it).
    pub fn region(&self) -> &str {
        &self.call.region
    }

    /// A client that calls other services on the caller's behalf, as AWS's forward access
    /// sessions do: the caller's identity and permissions, `invokedBy` this service in the
    /// record, `aws:ViaAWSService` true and this service appended to `aws:CalledVia`.
    pub fn on_behalf(&self) -> Client {
        let mut via = self.call.called_via.clone();
        via.push(S::ID.event_source().to_owned());
        Client::new(self.exec.clone(), self.call.as_caller(via))
    }
}

/// What CloudTrail records of a request (`requestParameters`; never a secret). The service's
/// table states how for all its operations (`parameters: sent` or `serialized`), or each
/// operation implements it (`parameters: own`).
pub trait Recorded {
    /// CloudTrail's `requestParameters`.
    fn request_parameters(&self, sent: Sent<'_>) -> Value;
}

/// What [`Operation::execute`] runs with.
pub struct Exec<'a, S> {
    /// The service's state.
    pub service: &'a S,
    /// The snapshot (reads) or the writer's transaction.
    pub tx: TxRef<'a>,
    /// The request.
    pub ctx: Ctx<'a>,
}

/// What [`Operation::execute`] returns.
pub type Done<O> = Result<Reply<<O as Operation>::Output>, ErrorOf<O>>;

/// One operation: its typed input (`Self`), its typed output, and everything the common path
/// needs, authorization first.
pub trait Operation: Registered + Recorded + Sized + Send + Sync + 'static {
    /// The typed answer (serialized by the service's protocol).
    type Output: Send + 'static;

    /// Every action, resource and condition key the request needs authorized (see
    /// [`crate::authz`]). Runs on a snapshot before anything else; an error here (no such
    /// key) is answered and recorded like any other.
    fn authorize(&self, s: &Scope<'_, Self::Service>) -> Result<Authorization, ErrorOf<Self>>;

    /// Work that must not run inside the operation's transaction, after authorization:
    /// slow computation (RSA key generation) or calls to other services on the caller's
    /// behalf ([`Env::on_behalf`]).
    fn prepare<'a>(
        op: &'a mut Authorized<Self>,
        env: Env<'a, Self::Service>,
    ) -> BoxFuture<'a, Result<(), ErrorOf<Self>>> {
        let _ = (op, env);
        Box::pin(std::future::ready(Ok(())))
    }

    /// Runs the operation on a snapshot (reads) or in the writer's transaction. Only the
    /// executor calls it: it alone holds an [`Authorized`] operation.
    fn execute(op: &Authorized<Self>, x: Exec<'_, Self::Service>) -> Done<Self>;

    /// Called once a successful write is durable with its record: the place to wake what acts
    /// on the change (ECS: the task launcher).
    fn after_commit(&self, service: &Self::Service) {
        let _ = service;
    }
}
