//! The agent's view of task networking on this host: which tasks hold which interface,
//! address and groups, what the groups allow, and the order in which host objects are
//! made and unmade.
//!
//! A task's life: [`NetManager::reserve`] (checks, in memory only; nothing exists yet),
//! [`NetManager::attach`] (its rules reach the kernel, then its interface is created),
//! [`NetManager::release`] (its interface is deleted, then its rules). A std `Mutex`
//! guards the state: every critical section is a few map operations, never I/O; `nft`
//! and netlink run outside it.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

use serde::Serialize;

use super::apply::{Applier, Nft, Rendered};
use super::error::NetworkError;
use super::ruleset::{self, Names, TaskRules};
use super::sg::SecurityGroupRules;
use super::{files, link, TaskNetwork};
use crate::ids::{SecurityGroupId, TaskId};

/// A task's place in the network, from `reserve` to `release`: plain data; dropping it
/// releases nothing (call [`NetManager::release`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetLease {
    /// The task.
    pub task_id: TaskId,
    /// The host end of its veth pair.
    pub host_if: String,
    /// The resolvers its resolv.conf names (and its rules let through).
    pub resolvers: Vec<Ipv4Addr>,
    /// The desired-state generation that includes it.
    generation: u64,
}

/// What network recovery found and removed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NetRecovery {
    /// Host interfaces of this agent instance deleted.
    pub interfaces_removed: Vec<String>,
    /// nftables tables of this agent instance deleted (`family name`).
    pub tables_removed: Vec<String>,
    /// Problems (recovery continues past each).
    pub errors: Vec<String>,
}

struct Attached {
    net: TaskNetwork,
    host_if: String,
    resolvers: Vec<Ipv4Addr>,
}

#[derive(Default)]
struct State {
    generation: u64,
    groups: BTreeMap<SecurityGroupId, SecurityGroupRules>,
    tasks: BTreeMap<TaskId, Attached>,
}

/// Task networking of one agent instance. The agent owns one and drives it for every
/// task with a network; benchmarks drive one directly.
pub struct NetManager {
    instance: String,
    nft: Nft,
    state: Mutex<State>,
    applier: Applier,
}

const IP_FORWARD: &str = "/proc/sys/net/ipv4/ip_forward";

impl NetManager {
    /// The manager of agent `instance` (12 hex digits, as cgroups use), with `nft` at
    /// `nft_path`. Creates nothing.
    pub fn new(instance: &str, nft_path: PathBuf) -> Self {
        let nft = Nft { path: nft_path };
        NetManager {
            instance: instance.to_owned(),
            applier: Applier::new(nft.clone(), Names::for_instance(instance)),
            nft,
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is only maps; a panic elsewhere cannot leave it half-updated.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Destroys what a previous agent of this instance left: its host interfaces (those
    /// whose alias names this instance) and its tables. Run before any task starts.
    pub fn recover(&self) -> NetRecovery {
        let mut r = NetRecovery::default();
        let prefix = super::interface_prefix(&self.instance);
        let owner = format!("ferrogate {} ", self.instance);
        match link::links() {
            Ok(links) => {
                for (index, name, alias) in links {
                    let ours = name.starts_with(&prefix)
                        && alias.as_deref().is_some_and(|a| a.starts_with(&owner));
                    if !ours {
                        continue;
                    }
                    match link::delete_index(index) {
                        Ok(_) => r.interfaces_removed.push(name),
                        Err(e) => r.errors.push(e.to_string()),
                    }
                }
            }
            Err(e) => r.errors.push(e.to_string()),
        }
        if self.nft.check().is_err() {
            // No nft, so no table this agent could have made.
            return r;
        }
        let table = super::table_name(&self.instance);
        match self.nft.tables() {
            Ok(tables) => {
                let ours: Vec<String> = tables
                    .into_iter()
                    .filter(|(_, n)| *n == table)
                    .map(|(f, n)| format!("{f} {n}"))
                    .collect();
                if !ours.is_empty() {
                    match self.applier.remove() {
                        Ok(()) => r.tables_removed = ours,
                        Err(e) => r.errors.push(e.to_string()),
                    }
                }
            }
            Err(e) => r.errors.push(e.to_string()),
        }
        r
    }

    /// Replaces the security groups (the complete set). Validated and stored at once, so
    /// a task started right after sees them; returns the generation to [`Self::sync`].
    pub fn set_groups(&self, groups: Vec<SecurityGroupRules>) -> Result<u64, NetworkError> {
        let mut map = BTreeMap::new();
        for g in groups {
            g.validate()?;
            map.insert(g.id.clone(), g);
        }
        let mut st = self.lock();
        for (task, a) in &st.tasks {
            for g in a
                .net
                .security_groups
                .iter()
                .filter(|g| !map.contains_key(*g))
            {
                tracing::warn!(%task, group = %g, "a running task's security group was removed: it allows the task nothing now");
            }
        }
        st.groups = map;
        st.generation += 1;
        Ok(st.generation)
    }

    /// Returns once the kernel holds generation `generation` (or newer).
    pub fn sync(&self, generation: u64) -> Result<(), NetworkError> {
        self.nft.check()?;
        self.applier.sync(generation, || self.render())
    }

    fn render(&self) -> Rendered {
        let st = self.lock();
        let tasks: Vec<TaskRules> = st
            .tasks
            .values()
            .map(|a| TaskRules {
                host_if: a.host_if.clone(),
                address: a.net.address,
                mac: a.net.mac,
                vpc_cidrs: a.net.vpc_cidrs.clone(),
                groups: a.net.security_groups.clone(),
                egress: a.net.egress,
                resolvers: a.resolvers.clone(),
            })
            .collect();
        Rendered {
            generation: st.generation,
            skeleton: ruleset::skeleton(&Names::for_instance(&self.instance), &st.groups),
            elements: ruleset::elements(&st.groups, &tasks),
        }
    }

    /// Checks `net` (alone and against the tasks already here) and takes its address
    /// and interface for `task`. Creates nothing on the host.
    pub fn reserve(&self, task: &TaskId, net: &TaskNetwork) -> Result<NetLease, NetworkError> {
        net.validate()?;
        self.nft.check()?;
        let resolvers = if net.dns_servers.is_empty() {
            files::host_resolvers()
        } else {
            net.dns_servers.clone()
        };
        let host_if = super::host_interface_name(&self.instance, &net.interface_id);
        let mut st = self.lock();
        if let Some(a) = st.tasks.get(task) {
            // The agent never runs one task id twice; refuse rather than overwrite.
            return Err(NetworkError::InterfaceInUse {
                interface_id: a.net.interface_id.clone(),
                task_id: task.clone(),
            });
        }
        check_conflicts(
            &st.groups,
            st.tasks.iter().map(|(t, a)| (t, &a.net, &a.host_if)),
            net,
            &host_if,
        )?;
        st.tasks.insert(
            task.clone(),
            Attached {
                net: net.clone(),
                host_if: host_if.clone(),
                resolvers: resolvers.clone(),
            },
        );
        st.generation += 1;
        Ok(NetLease {
            task_id: task.clone(),
            host_if,
            resolvers,
            generation: st.generation,
        })
    }

    /// Puts the task's rules into the kernel, then creates its interface in the network
    /// namespace of process `pid`. Blocking. On failure, call [`Self::release`].
    pub fn attach(&self, lease: &NetLease, pid: i32) -> Result<(), NetworkError> {
        let net = self
            .lock()
            .tasks
            .get(&lease.task_id)
            .map(|a| a.net.clone())
            .ok_or_else(|| NetworkError::NotReserved {
                task_id: lease.task_id.clone(),
            })?;
        link::check_host_address(net.address)?;
        if net.egress {
            ensure_ip_forward()?;
        }
        self.sync(lease.generation)?;
        let alias = super::interface_alias(&self.instance, &net.interface_id);
        link::create(&lease.host_if, &alias, &net, pid)
    }

    /// Deletes the task's interface, then its rules. Blocking. `Ok(())` when nothing of
    /// the task's network is left on the host.
    pub fn release(&self, lease: &NetLease) -> Result<(), NetworkError> {
        // The interface first: once its rules are gone, nothing may still send from it.
        let deleted = link::delete(&lease.host_if);
        if let Err(e) = &deleted {
            if link::exists(&lease.host_if).unwrap_or(true) {
                // Keep the rules: they are all that still filter the interface.
                return Err(NetworkError::Netlink {
                    op: format!("deleting {} ({e})", lease.host_if),
                    source: std::io::Error::other("the interface is still there"),
                });
            }
        }
        let address = self.lock().tasks.get(&lease.task_id).map(|a| a.net.address);
        let forgotten = address.map(link::forget_connections).transpose();
        let generation = {
            let mut st = self.lock();
            st.tasks.remove(&lease.task_id);
            st.generation += 1;
            st.generation
        };
        let synced = self.sync(generation);
        forgotten?;
        synced
    }

    /// Removes the tables when no task is left (agent shutdown).
    pub fn shutdown(&self) {
        if !self.lock().tasks.is_empty() || self.nft.check().is_err() {
            return;
        }
        if let Err(e) = self.applier.remove() {
            tracing::warn!(error = %e, "removing the nftables tables at shutdown");
        }
    }
}

/// Egress tasks' connections come back through the host's uplink, which must forward
/// them: the one host-wide setting this module changes, and only when an egress task
/// starts (never turned back off: other software may rely on it by then).
fn ensure_ip_forward() -> Result<(), NetworkError> {
    let path = PathBuf::from(IP_FORWARD);
    let now = std::fs::read_to_string(&path).map_err(|source| NetworkError::Sysctl {
        path: path.clone(),
        source,
    })?;
    if now.trim() == "1" {
        return Ok(());
    }
    tracing::warn!("enabling net.ipv4.ip_forward for a task with egress (its replies come back through the host's uplink)");
    std::fs::write(&path, "1").map_err(|source| NetworkError::Sysctl { path, source })
}

/// Conflicts of `net` (host interface `host_if`) with the groups and the tasks already
/// here (`(task, network, host interface)`).
pub(crate) fn check_conflicts<'a>(
    groups: &BTreeMap<SecurityGroupId, SecurityGroupRules>,
    tasks: impl Iterator<Item = (&'a TaskId, &'a TaskNetwork, &'a String)>,
    net: &TaskNetwork,
    host_if: &str,
) -> Result<(), NetworkError> {
    for g in &net.security_groups {
        let Some(def) = groups.get(g) else {
            return Err(NetworkError::UnknownSecurityGroup { group: g.clone() });
        };
        if def.vpc_id != net.vpc_id {
            return Err(NetworkError::SecurityGroupOfOtherVpc {
                group: g.clone(),
                group_vpc: def.vpc_id.clone(),
                task_vpc: net.vpc_id.clone(),
            });
        }
    }
    for (task, o, o_if) in tasks {
        if o.address == net.address {
            return Err(NetworkError::AddressInUse {
                address: net.address,
                task_id: task.clone(),
            });
        }
        if o.interface_id == net.interface_id {
            return Err(NetworkError::InterfaceInUse {
                interface_id: net.interface_id.clone(),
                task_id: task.clone(),
            });
        }
        if o_if == host_if {
            return Err(NetworkError::InterfaceNameTaken {
                name: host_if.to_owned(),
                interface_id: net.interface_id.clone(),
            });
        }
        if o.vpc_id != net.vpc_id {
            for a in &net.vpc_cidrs {
                if let Some(b) = o.vpc_cidrs.iter().find(|b| a.overlaps(b)) {
                    return Err(NetworkError::VpcOverlap {
                        vpc_id: net.vpc_id.clone(),
                        cidr: *a,
                        other_vpc_id: o.vpc_id.clone(),
                        other_cidr: *b,
                    });
                }
            }
            continue;
        }
        let same_id = o.subnet_id == net.subnet_id;
        let same_def = o.subnet_cidr == net.subnet_cidr && o.gateway == net.gateway;
        if (same_id && !same_def) || (!same_id && o.subnet_cidr.overlaps(&net.subnet_cidr)) {
            return Err(NetworkError::SubnetConflict {
                subnet_id: net.subnet_id.clone(),
                cidr: net.subnet_cidr,
                gateway: net.gateway,
                other_subnet_id: o.subnet_id.clone(),
                other_cidr: o.subnet_cidr,
                other_gateway: o.gateway,
            });
        }
    }
    Ok(())
}
