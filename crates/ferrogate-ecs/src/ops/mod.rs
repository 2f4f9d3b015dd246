//! The ECS operations (awsJson1_1, `AmazonEC2ContainerServiceV20141113`).
//!
//! Every operation declares its IAM action (`ecs:<Operation>`) and, once the resource is
//! known ([`Input::access`], before authorization, on a snapshot), the resource ARN and the
//! condition keys it supplies: `aws:RequestTag/*` and `aws:TagKeys` where tags are set,
//! `aws:ResourceTag/*` of an existing resource, and `ecs:fargate-ephemeral-storage-kms-key`
//! on CreateCluster and UpdateCluster. A cluster's key is also checked with
//! `kms:DescribeKey` as the caller (an additional authorization of the same request).

mod clusters;
mod services;
mod tags;
pub(crate) mod taskdefs;
pub(crate) mod tasks;

use std::sync::Arc;

use ferrogate_iam::authz::Action;
use ferrogate_iam::op::{Access, Ctx, OpReply, Operation};
use ferrogate_store::{ReadTx, TxRef};
use ferrogate_types::{Principal, Timestamp};
use ferrogate_wire::json;
use serde_json::Value;

use crate::EcsError;

/// State shared by all ECS operations.
pub struct Ecs {
    pub(crate) kms: Arc<ferrogate_kms::Kms>,
    /// Woken once a RunTask or StopTask is durable, so the launcher acts at once.
    work: tokio::sync::Notify,
}

impl Ecs {
    /// The service, checking cluster keys through `kms`.
    pub fn new(kms: Arc<ferrogate_kms::Kms>) -> Arc<Self> {
        Arc::new(Self {
            kms,
            work: tokio::sync::Notify::new(),
        })
    }

    /// Resolves when tasks were queued for launch or stop since the last call (the
    /// launcher also polls, so a missed wake-up only delays).
    pub async fn work_queued(&self) {
        self.work.notified().await;
    }
}

/// What the request path needs to know about a request before running it.
pub(crate) struct Scope<'a> {
    pub ecs: &'a Ecs,
    pub tx: &'a dyn ReadTx,
    pub principal: &'a Principal,
    pub region: &'a str,
    pub now: Timestamp,
}

impl Scope<'_> {
    pub(crate) fn account(&self) -> &str {
        self.principal.account.as_str()
    }
}

/// What an operation's input provides to the common path.
pub(crate) trait Input: Send + Sync {
    /// The resource, the condition keys that depend on it, and further authorizations;
    /// the default is resource `*`.
    fn access(&self, s: &Scope<'_>) -> Result<Access, EcsError> {
        let _ = s;
        Ok(Access::default())
    }
    /// Condition keys that come from the request alone.
    fn condition_keys(&self) -> Vec<(String, Vec<String>)> {
        Vec::new()
    }
    /// Runs it.
    fn run(&self, ecs: &Ecs, tx: TxRef<'_>, ctx: Ctx<'_>) -> Result<Done, EcsError>;
}

/// A handler's result: the response body and the resources it concerns.
pub(crate) struct Done {
    pub body: Value,
    pub resources: Vec<(String, String)>,
}

impl Done {
    pub(crate) fn new(body: Value) -> Self {
        Self {
            body,
            resources: Vec::new(),
        }
    }

    pub(crate) fn on(mut self, kind: &str, arn: String) -> Self {
        self.resources.push((kind.to_owned(), arn));
        self
    }
}

/// An `Access` for one resource.
pub(crate) fn on_resource(arn: String, keys: Vec<(String, Vec<String>)>) -> Access {
    Access {
        resource: Some(arn),
        keys,
        ..Access::default()
    }
}

/// An `Access` for several resources of one action (Describe* of many): the first is the
/// request's resource, the others further authorizations; every one must be allowed.
pub(crate) fn on_resources(arns: Vec<String>, keys: Vec<(String, Vec<String>)>) -> Access {
    let mut arns = arns.into_iter();
    let mut access = on_resource(arns.next().unwrap_or_else(|| "*".to_owned()), keys.clone());
    access.also = arns.map(|a| on_resource(a, keys.clone())).collect();
    access
}

macro_rules! ecs_ops {
    ($( $name:ident ( $input:ty ) $ro:literal ),* $(,)?) => {
        #[derive(Debug, Clone)]
        enum Request { $( $name($input), )* }

        /// One ECS request.
        #[derive(Clone)]
        pub struct EcsOp {
            request: Request,
            /// The request's members as sent (CloudTrail's `requestParameters`).
            params: Value,
            ecs: Arc<Ecs>,
        }

        impl std::fmt::Debug for EcsOp {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }

        impl EcsOp {
            /// Decodes operation `op` from a JSON body.
            pub fn decode(ecs: &Arc<Ecs>, op: &str, body: &[u8]) -> Result<Self, EcsError> {
                let request = match op {
                    $( stringify!($name) => Request::$name(json::decode::<$input>(body)?.validated()?), )*
                    _ => return Err(EcsError::Wire(ferrogate_wire::WireError::UnknownOperation {
                        message: format!("Operation {op} is not supported by this endpoint."),
                    })),
                };
                let params = json::decode::<Value>(body).unwrap_or(Value::Null);
                Ok(Self { request, params, ecs: ecs.clone() })
            }

            /// The Fargate ephemeral storage key a CreateCluster or UpdateCluster sets: ECS
            /// describes it as the caller before the operation (a recorded KMS call).
            pub fn key_to_describe(&self) -> Option<&str> {
                match &self.request {
                    Request::CreateCluster(i) => i.key(),
                    Request::UpdateCluster(i) => i.key(),
                    _ => None,
                }
            }

            fn input(&self) -> &dyn Input {
                match &self.request { $( Request::$name(i) => i, )* }
            }
        }

        impl Operation for EcsOp {
            type Error = EcsError;

            fn name(&self) -> &'static str {
                match &self.request { $( Request::$name(_) => stringify!($name), )* }
            }

            fn read_only(&self) -> bool {
                match &self.request { $( Request::$name(_) => $ro, )* }
            }

            fn action(&self, _caller: &Principal) -> Action {
                Action::new(format!("ecs:{}", self.name()), "*")
            }

            fn condition_keys(&self) -> Vec<(String, Vec<String>)> {
                self.input().condition_keys()
            }

            fn access(&self, tx: &dyn ReadTx, principal: &Principal, region: &str, now: Timestamp) -> Result<Access, EcsError> {
                self.input().access(&Scope { ecs: &self.ecs, tx, principal, region, now })
            }

            fn request_parameters(&self) -> Value {
                match &self.params {
                    Value::Object(m) if m.is_empty() => Value::Null,
                    p => p.clone(),
                }
            }

            fn execute(&self, tx: TxRef<'_>, ctx: Ctx<'_>) -> Result<OpReply, EcsError> {
                let done = self.input().run(&self.ecs, tx, ctx)?;
                let response_elements = if self.read_only() { Value::Null } else { done.body.clone() };
                Ok(OpReply { body: json::encode(&done.body), response_elements, resources: done.resources })
            }

            fn after_commit(&self) {
                if matches!(
                    self.request,
                    Request::RunTask(_)
                        | Request::StopTask(_)
                        | Request::CreateService(_)
                        | Request::UpdateService(_)
                        | Request::DeleteService(_)
                ) {
                    self.ecs.work.notify_one();
                }
            }

            fn access_denied(message: String) -> EcsError {
                EcsError::AccessDeniedException(message)
            }
        }
    };
}

ecs_ops! {
    CreateCluster(clusters::CreateClusterInput) false,
    UpdateCluster(clusters::UpdateClusterInput) false,
    UpdateClusterSettings(clusters::UpdateClusterSettingsInput) false,
    DescribeClusters(clusters::DescribeClustersInput) true,
    ListClusters(clusters::ListClustersInput) true,
    DeleteCluster(clusters::DeleteClusterInput) false,
    RegisterTaskDefinition(taskdefs::RegisterInput) false,
    DescribeTaskDefinition(taskdefs::DescribeInput) true,
    ListTaskDefinitions(taskdefs::ListInput) true,
    ListTaskDefinitionFamilies(taskdefs::ListFamiliesInput) true,
    DeregisterTaskDefinition(taskdefs::DeregisterInput) false,
    RunTask(tasks::RunTaskInput) false,
    StopTask(tasks::StopTaskInput) false,
    DescribeTasks(tasks::DescribeTasksInput) true,
    ListTasks(tasks::ListTasksInput) true,
    CreateService(services::CreateServiceInput) false,
    UpdateService(services::UpdateServiceInput) false,
    DescribeServices(services::DescribeServicesInput) true,
    ListServices(services::ListServicesInput) true,
    DeleteService(services::DeleteServiceInput) false,
    TagResource(tags::TagResourceInput) false,
    UntagResource(tags::UntagResourceInput) false,
    ListTagsForResource(tags::ListTagsInput) true,
}

/// `maxResults` checked against `1..=max`, defaulting to `max`.
pub(crate) fn max_results(v: Option<i64>, max: i64) -> Result<usize, EcsError> {
    match v {
        None => Ok(usize::try_from(max).unwrap_or(100)),
        Some(n) if (1..=max).contains(&n) => Ok(usize::try_from(n).unwrap_or(100)),
        Some(_) => Err(EcsError::invalid(format!(
            "maxResults must be between 1 and {max}."
        ))),
    }
}

/// Opaque pagination tokens: the hex of the last item's sort key, with a prefix naming
/// the listing, so a token from one listing is refused by another.
pub(crate) mod token {
    use crate::EcsError;

    /// A token for `listing` that resumes after `last`.
    pub(crate) fn make(listing: &str, last: &str) -> String {
        let mut s = String::with_capacity(listing.len() + 1 + last.len() * 2);
        s.push_str(listing);
        s.push('.');
        for b in last.bytes() {
            s.push_str(&format!("{b:02x}"));
        }
        s
    }

    /// The position a token of `listing` resumes after.
    pub(crate) fn parse(listing: &str, token: &str) -> Result<String, EcsError> {
        let bad = || EcsError::invalid("Invalid nextToken.");
        let hex = token
            .strip_prefix(listing)
            .and_then(|r| r.strip_prefix('.'))
            .ok_or_else(bad)?;
        if hex.len() % 2 != 0 {
            return Err(bad());
        }
        let bytes = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(hex.get(i..i + 2).ok_or_else(bad)?, 16).map_err(|_| bad()))
            .collect::<Result<Vec<u8>, _>>()?;
        String::from_utf8(bytes).map_err(|_| bad())
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn round_trip_and_refusals() {
            let t = make("clusters", "prod-1");
            assert_eq!(parse("clusters", &t).unwrap(), "prod-1");
            assert!(parse("families", &t).is_err());
            assert!(parse("clusters", "clusters.zz").is_err());
            assert!(parse("clusters", "clusters.abc").is_err());
            assert!(parse("clusters", "garbage").is_err());
        }
    }
}
