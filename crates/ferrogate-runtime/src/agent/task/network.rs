//! A task's network, in the task's life: reserved before anything else is created,
//! attached (rules, then interface) while the sandbox mounts its volume, required before
//! PENDING, released (interface, then rules) after the sandbox is gone.

use super::{blocking, fail, Failure, TaskRun};
use crate::agent::TeardownReport;
use crate::net::{files, NetworkError, TaskNetwork};

impl TaskRun {
    /// Checks `net` and takes its address on this host. Nothing exists yet, so a
    /// failure needs no cleanup.
    pub(super) fn reserve_network(&mut self, net: &TaskNetwork) -> Result<(), Failure> {
        let lease = self
            .ctx
            .net
            .reserve(&self.id, net)
            .map_err(|e| network_failure(&e))?;
        self.net = Some(lease);
        Ok(())
    }

    /// `/etc/hosts` and, for a networked task, `/etc/resolv.conf` of every container.
    pub(super) fn etc_files(
        &self,
        net: Option<&TaskNetwork>,
        hostname: &str,
    ) -> (String, Option<String>) {
        match (net, &self.net) {
            (Some(n), Some(lease)) => (
                files::task_hosts(n, hostname),
                Some(files::resolv_conf(&lease.resolvers, &n.dns_search)),
            ),
            _ => (files::loopback_hosts(hostname), None),
        }
    }

    /// Starts creating the task's interface in the namespaces of the sandbox init `pid`,
    /// in the background (it overlaps with the volume mount).
    pub(super) fn start_attach(&mut self, pid: i32) {
        let Some(lease) = self.net.clone() else {
            return;
        };
        let ctx = self.ctx.clone();
        self.net_attach = Some(tokio::task::spawn_blocking(move || {
            ctx.net.attach(&lease, pid)
        }));
    }

    /// Waits for the interface (`Ok` at once for a task without network).
    pub(super) async fn finish_attach(&mut self) -> Result<(), Failure> {
        let Some(h) = self.net_attach.take() else {
            return Ok(());
        };
        match h.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(network_failure(&e)),
            Err(e) => Err(fail(format!(
                "ResourceInitializationError: internal error: {e}"
            ))),
        }
    }

    /// Deletes the task's interface and rules; records the outcome in `r`. Called once
    /// no process of the task is left.
    pub(super) async fn release_network(&mut self, r: &mut TeardownReport) {
        // An attach still running would create the interface after this: wait for it.
        let _ = self.finish_attach().await;
        let Some(lease) = self.net.take() else {
            return;
        };
        let ctx = self.ctx.clone();
        match blocking(move || ctx.net.release(&lease)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                r.network_released = false;
                r.errors.push(format!("releasing the network: {e}"));
            }
            Err(e) => {
                r.network_released = false;
                r.errors.push(e);
            }
        }
    }
}

/// ECS reports a task whose interface could not be set up as
/// `ResourceInitializationError`.
fn network_failure(e: &NetworkError) -> Failure {
    fail(format!(
        "ResourceInitializationError: failed to configure the task's network interface: {e}"
    ))
}
