//! Typed clients for calls one service makes to another (Fargate's and ECS's calls to
//! KMS): the same path as a client's request (authorization, execution, a durable record),
//! with typed inputs and outputs instead of JSON.

use std::sync::Arc;

use ferrogate_store::StoreError;

use crate::exec::{new_request_id, Call, Caller, Executor, Refusal};
use crate::op::{ErrorOf, Operation, Sent};

/// Calls operations of any service as one [`Caller`].
#[derive(Debug, Clone)]
pub struct Client {
    exec: Executor,
    caller: Caller,
}

impl Client {
    /// A client calling as `caller`.
    pub fn new(exec: Executor, caller: Caller) -> Self {
        Self { exec, caller }
    }

    /// Runs `op` of `service`: authorized with the caller's identity (and, for a forwarded
    /// call, `aws:ViaAWSService`/`aws:CalledVia*`), executed, and recorded, whatever its
    /// outcome. A failure of the common path itself comes back as the service's internal
    /// error.
    pub async fn call<O: Operation>(
        &self,
        service: &Arc<O::Service>,
        op: O,
    ) -> Result<O::Output, ErrorOf<O>> {
        let c = &self.caller;
        let call = Call {
            principal: c.principal.clone(),
            region: c.region.clone(),
            source_ip: c.source_ip.clone(),
            user_agent: c.user_agent.clone(),
            request_id: new_request_id().as_str().to_owned(),
            now: self.exec.now(),
            called_via: c.called_via.clone(),
        };
        let params = op.request_parameters(Sent(None));
        self.exec
            .run(service, call, op, params)
            .await
            .map_err(|r| match r {
                Refusal::Service(e) => e,
                Refusal::Internal => {
                    StoreError::Unavailable("the call could not be completed".into()).into()
                }
            })
    }
}
