//! # ferrogate-runtime
//!
//! The per-host agent behind Ferrogate's Fargate: it runs each ECS task in its
//! own Linux sandbox on its own **encrypted, disposable** ephemeral volume.
//!
//! - [`volume`]: sparse image + ext4 + loop device + fscrypt v2 keyed by the
//!   64-byte KMS data key; destroyed (key removed first) at task stop.
//! - [`image`]: a content-addressed local image store (`docker save` archives
//!   and OCI layouts), used by `ferrogate images load|ls|rm`.
//! - `sandbox`: mount/PID/IPC/UTS/network namespaces, overlay rootfs with the
//!   writable layer on the encrypted volume, Docker's default capabilities,
//!   `no_new_privs`, a seccomp denylist, cgroup limits.
//! - [`agent`]: the supervisor, driven by [`agent::RuntimeCommand`]s over a
//!   channel and reporting [`agent::RuntimeEvent`]s (firecracker's VmmAction
//!   pattern), with crash recovery at start.
//!
//! Promises: no unencrypted fallback (a host that cannot encrypt gets a typed
//! error naming what is missing); the data key zeroizes on drop, prints
//! redacted and is never logged or written anywhere; nothing panics on an
//! error path. See docs/runtime.md and docs/security-model.md.
//!
//! `unsafe` is confined to the private `sys` module.

pub mod agent;
pub mod caps;
pub mod cgroup;
pub mod host;
pub mod idrange;
pub mod ids;
pub mod image;
pub mod layout;
pub mod net;
pub mod recovery;
pub mod sandbox;
pub mod seccomp;
pub mod secret;
mod sys;
pub mod syscall;
pub mod volume;

pub use ids::{ContainerName, InvalidId, TaskId, VolumeId, VolumeName};
pub use layout::DataLayout;
pub use sandbox::sandbox_init_main_if_requested;
pub use secret::DataKey;
