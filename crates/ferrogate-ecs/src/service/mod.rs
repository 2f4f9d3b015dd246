//! Services: the stored record, and the reconciler that keeps each service's tasks at its
//! desired count and rolls deployments within `minimumHealthyPercent` / `maximumPercent`
//! (shared/spec/aws-behaviour.md §3).
//!
//! The reconciler is two steps: [`plan`] (pure: a service and its tasks in, actions out) and
//! [`apply`] (reads what the plan needs, runs the plan's actions in the store). It runs in
//! the server's launcher (every second and after each change) as one write transaction per
//! pass: it records the tasks it starts (PROVISIONING, queued for the launcher like RunTask's)
//! and the tasks it stops (desired STOPPED, `ServiceSchedulerInitiated`), and the
//! deployments' counts, states and events.
//!
//! Each deployment carries the cluster's Fargate key as it was when the deployment was made
//! (`deployments[].fargateEphemeralStorage.kmsKeyId`): a key change on the cluster reaches a
//! service only through a new deployment (`forceNewDeployment`), as on AWS.
//!
//! With `deploymentCircuitBreaker.rollback`, a deployment the breaker fails is followed by a
//! new deployment of the last one that completed (its task definition, network and key).
//!
//! A task counts as healthy once RUNNING, or, when an essential container has a health
//! check, once its checks say HEALTHY; a service task whose checks say UNHEALTHY is stopped
//! (`Task failed container health checks`), counted as a failure, and replaced.

pub mod apply;
mod deployments;
pub mod plan;
pub mod record;
pub mod steps;

pub use apply::reconcile;
pub use record::*;
