//! An ECS-compatible control plane (awsJson1_1, `AmazonEC2ContainerServiceV20141113`).
//!
//! - [`model`]: clusters and task definitions as stored.
//! - [`cluster`]: cluster names, ARNs and the checks of a cluster's customer managed key.
//! - [`taskdef`]: task definitions: Fargate validation, normalisation, output.
//! - [`health`]: container health checks and task health.
//! - [`mounts`]: task volumes, `mountPoints` and `volumesFrom`.
//! - [`logconfig`]: a container's `logConfiguration` (the awslogs driver's options).
//! - [`support`]: the task-definition members Ferrogate cannot apply, refused at run time.
//! - [`network`]: `awsvpcConfiguration` checked against EC2's VPCs, task interfaces.
//! - [`task`]: tasks as ECS shows them, and how runtime reports change them.
//! - `launch`: the checks a task definition passes before its tasks start, and the one
//!   constructor of a new task (shared by RunTask and the service reconciler).
//! - [`ops`]: the API.
//! - [`views`]: clusters, task definitions, tasks and services as the API shows them.
//!
//! A cluster's `fargateEphemeralStorageKmsKeyId` is checked when it is set, as ECS does,
//! with `kms:DescribeKey` under the caller's own permissions (key policy and IAM both
//! apply), and stored as the key ARN.
#![deny(missing_docs)]

pub mod cluster;
mod error;
pub mod health;
mod ids;
mod launch;
pub mod logconfig;
pub mod model;
pub mod mounts;
pub mod network;
pub mod ops;
mod ports;
pub mod service;
pub mod support;
pub mod task;
pub mod taskdef;
pub mod views;

pub use error::EcsError;
pub use ops::Ecs;
