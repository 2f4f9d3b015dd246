//! Per-task sandboxes.
//!
//! One process per task lives on the host beside the workload: the sandbox
//! init ([`init`]), PID 1 of the task's mount, PID, network, IPC and UTS
//! namespaces. Every container of the task shares the network (loopback
//! only), IPC, UTS and PID namespaces (ECS `pidMode: task` semantics) and
//! gets its own mount namespace with an overlay root: image layers below,
//! the writable layer on the encrypted volume.

pub mod command;
pub mod init;
pub mod protocol;
pub mod rootfs;
pub mod spawn;
pub mod user;

pub use init::{sandbox_init_main_if_requested, INIT_ARG};
