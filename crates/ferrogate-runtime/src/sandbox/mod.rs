//! Per-task sandboxes.
//!
//! One process per task lives on the host beside the workload: the sandbox
//! init ([`init`]), PID 1 of the task's mount, PID, network, IPC and UTS
//! namespaces. Every container of the task shares the network (loopback
//! only), IPC, UTS and PID namespaces (ECS `pidMode: task` semantics) and the
//! task's user namespace (its root is an unprivileged host id of the task's own
//! range), and gets its own mount and cgroup namespaces with an overlay root:
//! id-mapped image layers below, the writable layer on the encrypted volume.

pub mod command;
mod container;
pub mod error;
pub mod init;
pub mod protocol;
pub mod rootfs;
pub mod spawn;
pub mod user;

pub use init::{sandbox_init_main_if_requested, INIT_ARG};
