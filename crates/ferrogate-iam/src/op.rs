//! The shape every service operation has, so that the server runs all of them through one
//! path: decoded input → [`Action`] and condition keys for authorization → [`Operation::execute`]
//! on a store transaction → [`OpReply`] and the fields CloudTrail records.

use std::sync::Arc;

use ferrogate_policy::{Policy, ResourcePolicyKind};
use ferrogate_store::{ReadTx, StoreError, TxRef};
use ferrogate_types::{Principal, Timestamp};
use ferrogate_wire::AwsError;
use serde_json::Value;

use crate::authz::Action;

/// What a handler knows about its request.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    /// Who is calling.
    pub principal: &'a Principal,
    /// Now.
    pub now: Timestamp,
    /// The region the request addresses (resources are partitioned by account and region).
    pub region: &'a str,
    /// The request id (for XML `ResponseMetadata`).
    pub request_id: &'a str,
    /// Seals new secrets (access keys, session credentials).
    pub sealer: &'a dyn ferrogate_store::seal::Sealer,
}

/// A handler's answer. Its body may hold secrets (a new access key, a decrypted
/// plaintext), so `Debug` shows only its size.
pub struct OpReply {
    /// The response body.
    pub body: Vec<u8>,
    /// CloudTrail's `responseElements` (ignored for read-only operations).
    pub response_elements: Value,
    /// `(ResourceType, ResourceName)` pairs for `LookupEvents`.
    pub resources: Vec<(String, String)>,
}

impl std::fmt::Debug for OpReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpReply")
            .field("body_len", &self.body.len())
            .field("resources", &self.resources)
            .finish_non_exhaustive()
    }
}

/// What a service knows about the resource a request addresses, found before authorization
/// (KMS: the key, its policy, a grant that applies).
#[derive(Debug, Default)]
pub struct Access {
    /// The resource ARN to authorize, replacing [`Operation::action`]'s.
    pub resource: Option<String>,
    /// The resource's own policy: (its name, the policy, how it takes part, owning account).
    pub policy: Option<(String, Arc<Policy>, ResourcePolicyKind, String)>,
    /// A grant that allows the request.
    pub grant: Option<String>,
    /// More condition keys, known only once the resource is (e.g. `kms:CallerAccount`).
    pub keys: Vec<(String, Vec<String>)>,
    /// The IAM action to authorize, replacing [`Operation::action`]'s.
    pub action: Option<String>,
    /// Further authorizations the request needs, each with its own action and resource
    /// (KMS `ReEncrypt`: `kms:ReEncryptTo` on the destination key).
    pub also: Vec<Access>,
    /// True when only [`Access::keys`] apply, not the request's own condition keys (an
    /// authorization of another service's action on the caller's behalf: ECS's
    /// `kms:DescribeKey` of a cluster key must not see `ecs:` or tag keys).
    pub isolated: bool,
}

/// One decoded request of some service.
pub trait Operation: Send + Sync + 'static {
    /// The service's error type.
    type Error: AwsError + From<StoreError> + Send + 'static;

    /// The operation's name (CloudTrail's `eventName`).
    fn name(&self) -> &'static str;
    /// True when it only reads: it runs on a snapshot, outside the writer.
    fn read_only(&self) -> bool;
    /// The action and resource to authorize.
    fn action(&self, caller: &Principal) -> Action;
    /// The service's condition keys for this request (e.g. `aws:RequestTag/*`).
    fn condition_keys(&self) -> Vec<(String, Vec<String>)> {
        Vec::new()
    }
    /// Finds the resource before authorization. Errors here (no such key) are answered
    /// and audited like any other.
    fn access(
        &self,
        tx: &dyn ReadTx,
        principal: &Principal,
        region: &str,
        now: Timestamp,
    ) -> Result<Access, Self::Error> {
        let _ = (tx, principal, region, now);
        Ok(Access::default())
    }
    /// CloudTrail's `requestParameters` (never a secret).
    fn request_parameters(&self) -> Value;
    /// True when the audit record's `resources` lists what [`OpReply::resources`] names (KMS
    /// records its keys there; IAM records carry none).
    fn record_resources(&self) -> bool {
        false
    }
    /// True when a successful run may change who may do what (identities, keys, policies,
    /// organizations): the server then drops its credential and policy caches.
    fn changes_authorization(&self) -> bool {
        false
    }
    /// True when [`Operation::prepare`] has work to do.
    fn needs_prepare(&self) -> bool {
        false
    }
    /// Slow work that needs no store (RSA key generation for KMS imports). It runs after
    /// authorization on a blocking thread, before the operation's transaction, so that it
    /// never holds the single writer (or an async worker) for its duration.
    fn prepare(&mut self) {}
    /// Called once a successful write is durable (with its audit record): the place to wake
    /// whatever acts on the change (ECS: the task launcher).
    fn after_commit(&self) {}
    /// Runs the operation.
    fn execute(&self, tx: TxRef<'_>, ctx: Ctx<'_>) -> Result<OpReply, Self::Error>;
    /// Turns a refusal into the service's `AccessDenied` error.
    fn access_denied(message: String) -> Self::Error;
}
