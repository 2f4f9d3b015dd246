//! Task networking (Fargate's `awsvpc` mode) on one host: each task's network namespace
//! gets an `eth0` with the address, MAC and subnet the control plane chose, routed by the
//! host, and its security groups are enforced with nftables.
//!
//! The control plane owns VPCs, subnets, security groups and address allocation; it
//! sends a [`TaskNetwork`] with each `StartTask` and the complete set of groups with
//! `RuntimeCommand::SetSecurityGroups`. This module turns them into host objects:
//!
//! - one veth pair per task, named from the agent instance and the interface id
//!   ([`host_interface_name`]); its task end is `eth0` inside the task's network
//!   namespace with the task's MAC and `address/prefix` and a default route via the
//!   subnet's gateway; its host end carries the gateway address and a `/32` route to the
//!   task (a *routed* design: no bridge, so no two tasks share a link; see
//!   docs/runtime.md, Task networking);
//! - one nftables table per agent instance per family (`inet` and `arp`,
//!   [`table_name`]), replaced atomically when groups change and updated element by
//!   element when tasks come and go ([`ruleset`]);
//! - `/etc/hosts` and `/etc/resolv.conf` for the task's containers ([`files`]).
//!
//! # Invariants
//! - Nothing is created for a [`TaskNetwork`] that fails [`TaskNetwork::validate`] or
//!   conflicts with a task already on the host (another VPC with an overlapping block,
//!   an address in use).
//! - A task's rules are in the kernel before its interface exists, and its interface is
//!   gone before its rules are removed: no packet of a task ever passes unfiltered.
//!   Traffic of an interface carrying this instance's prefix that no rule knows is
//!   dropped (fail closed).

pub mod addr;
mod apply;
pub mod error;
pub mod files;
mod link;
mod manager;
pub mod ruleset;
pub mod sg;

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

pub use addr::{InvalidAddress, Ipv4Net, MacAddr};
pub use apply::find_nft;
pub use error::NetworkError;
pub use manager::{NetLease, NetManager, NetRecovery};
pub use sg::{IcmpMatch, Peer, PortRange, Protocol, Rule, SecurityGroupRules};

use crate::ids::{InterfaceId, SecurityGroupId, SubnetId, VpcId};

/// Fargate's limit of security groups per task.
pub const MAX_SECURITY_GROUPS: usize = 5;
/// EC2's limit of CIDR blocks per VPC.
pub const MAX_VPC_CIDRS: usize = 5;
/// glibc reads at most three `nameserver` lines.
pub const MAX_DNS_SERVERS: usize = 3;
/// glibc reads at most six search domains.
pub const MAX_DNS_SEARCH: usize = 6;

/// A task's elastic network interface, as the control plane allocated it.
///
/// ```
/// # use ferrogate_runtime::net::*;
/// # use ferrogate_runtime::ids::*;
/// let net = TaskNetwork {
///     interface_id: InterfaceId::new("eni-0a1b2c3d4e5f60718").unwrap(),
///     vpc_id: VpcId::new("vpc-1").unwrap(),
///     vpc_cidrs: vec!["10.0.0.0/16".parse().unwrap()],
///     subnet_id: SubnetId::new("subnet-1").unwrap(),
///     subnet_cidr: "10.0.1.0/24".parse().unwrap(),
///     gateway: "10.0.1.1".parse().unwrap(),
///     address: "10.0.1.4".parse().unwrap(),
///     mac: "0a:1b:2c:3d:4e:5f".parse().unwrap(),
///     security_groups: vec![SecurityGroupId::new("sg-1").unwrap()],
///     egress: false,
///     hostname: "ip-10-0-1-4.ec2.internal".into(),
///     dns_servers: vec![],
///     dns_search: vec!["ec2.internal".into()],
/// };
/// net.validate().unwrap();
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskNetwork {
    /// The ENI id (`eni-…`): names the host interface (hashed) and is written in its
    /// alias.
    pub interface_id: InterfaceId,
    /// The VPC.
    pub vpc_id: VpcId,
    /// The VPC's CIDR blocks, the primary first (1 to 5, /16 to /28 each). Every block
    /// of the VPC belongs here: an address inside one is "inside the VPC" (reachable
    /// only as security groups allow, never through egress NAT).
    pub vpc_cidrs: Vec<Ipv4Net>,
    /// The subnet.
    pub subnet_id: SubnetId,
    /// Its block (/16 to /28, inside one of `vpc_cidrs`).
    pub subnet_cidr: Ipv4Net,
    /// The subnet's router: EC2 gives it the first address after the network address
    /// (base + 1). Any address of the subnet except the network, broadcast and task
    /// address is accepted.
    pub gateway: Ipv4Addr,
    /// The task's private IPv4 address (allocated by the control plane).
    pub address: Ipv4Addr,
    /// The interface's MAC address (allocated by the control plane; EC2 uses locally
    /// administered addresses such as `0a:…`).
    pub mac: MacAddr,
    /// The task's security groups (1 to 5), all of `vpc_id`.
    pub security_groups: Vec<SecurityGroupId>,
    /// Traffic to addresses outside the VPC is allowed (as the security groups say) and
    /// masqueraded behind the host's address: Fargate's `assignPublicIp=ENABLED`, or a
    /// subnet the control plane routes to a NAT gateway. Egress tasks can also be
    /// reached from outside the host, when something routes the address to it.
    pub egress: bool,
    /// The private DNS name, e.g. `ip-10-0-1-4.ec2.internal` (us-east-1) or
    /// `ip-10-0-1-4.eu-west-1.compute.internal` ([`files::private_dns_name`]): the task's
    /// hostname unless the task names one, and its `/etc/hosts` entry.
    pub hostname: String,
    /// Resolvers for `/etc/resolv.conf` (at most 3). Empty: the host's own, from its
    /// `/etc/resolv.conf` without loopback addresses (see [`files::host_resolvers`]).
    pub dns_servers: Vec<Ipv4Addr>,
    /// The search list (`ec2.internal`, or `<region>.compute.internal`:
    /// [`files::search_domain`]).
    pub dns_search: Vec<String>,
}

impl TaskNetwork {
    /// Checks everything that can be checked without the host: the address and gateway
    /// inside the subnet and not reserved, the subnet inside the VPC, block sizes, group
    /// count, hostname and resolver list.
    pub fn validate(&self) -> Result<(), NetworkError> {
        let sub = self.subnet_cidr;
        check_block("subnet CIDR block", sub)?;
        if self.vpc_cidrs.is_empty() || self.vpc_cidrs.len() > MAX_VPC_CIDRS {
            return Err(NetworkError::VpcCidrCount {
                vpc_id: self.vpc_id.clone(),
                count: self.vpc_cidrs.len(),
                max: MAX_VPC_CIDRS,
            });
        }
        for c in &self.vpc_cidrs {
            check_block("VPC CIDR block", *c)?;
        }
        if !self.vpc_cidrs.iter().any(|c| c.contains_net(&sub)) {
            return Err(NetworkError::SubnetOutsideVpc {
                subnet_id: self.subnet_id.clone(),
                subnet_cidr: sub,
                vpc_id: self.vpc_id.clone(),
            });
        }
        if !sub.contains(self.gateway) {
            return Err(NetworkError::GatewayOutsideSubnet {
                gateway: self.gateway,
                subnet_id: self.subnet_id.clone(),
                subnet_cidr: sub,
            });
        }
        if let Some(what) = edge(sub, self.gateway) {
            return Err(NetworkError::ReservedGateway {
                gateway: self.gateway,
                what,
                subnet_cidr: sub,
            });
        }
        if !sub.contains(self.address) {
            return Err(NetworkError::AddressOutsideSubnet {
                address: self.address,
                subnet_id: self.subnet_id.clone(),
                subnet_cidr: sub,
            });
        }
        let reserved =
            edge(sub, self.address).or((self.address == self.gateway).then_some("gateway address"));
        if let Some(what) = reserved {
            return Err(NetworkError::ReservedAddress {
                address: self.address,
                what,
                subnet_cidr: sub,
            });
        }
        self.validate_groups()?;
        crate::sandbox::rootfs::check_hostname(&self.hostname)
            .map_err(NetworkError::InvalidHostname)?;
        files::validate_dns(&self.dns_servers, &self.dns_search)
    }

    fn validate_groups(&self) -> Result<(), NetworkError> {
        let n = self.security_groups.len();
        if n == 0 || n > MAX_SECURITY_GROUPS {
            return Err(NetworkError::SecurityGroupCount {
                count: n,
                max: MAX_SECURITY_GROUPS,
            });
        }
        for (i, g) in self.security_groups.iter().enumerate() {
            if self.security_groups[..i].contains(g) {
                return Err(NetworkError::DuplicateSecurityGroup { group: g.clone() });
            }
        }
        Ok(())
    }
}

/// EC2: VPC and subnet blocks are /16 to /28.
fn check_block(what: &'static str, cidr: Ipv4Net) -> Result<(), NetworkError> {
    if (16..=28).contains(&cidr.prefix()) {
        Ok(())
    } else {
        Err(NetworkError::BlockSize { what, cidr })
    }
}

/// The network or broadcast address of `net`, named, if `a` is one.
fn edge(net: Ipv4Net, a: Ipv4Addr) -> Option<&'static str> {
    if a == net.base() {
        Some("network address")
    } else if a == net.last() {
        Some("broadcast address")
    } else {
        None
    }
}

/// The first characters of the instance id in interface names: interface names hold 15
/// bytes, and the name must say whose it is.
const NAME_INSTANCE_HEX: usize = 6;
/// Characters of the interface-id hash in interface names (base 36: 36 bits).
const NAME_HASH_CHARS: usize = 7;

/// The prefix of every host interface of agent `instance`: `fg` and the first 6 hex
/// digits of the instance. Rules match it with a wildcard, so an interface with the
/// prefix that no task owns is filtered (its traffic dropped), not ignored.
pub fn interface_prefix(instance: &str) -> String {
    let short: String = instance.chars().take(NAME_INSTANCE_HEX).collect();
    format!("fg{short}")
}

/// The host end of a task's veth pair: [`interface_prefix`] and 7 base-36 digits of
/// SHA-256 of the interface id (15 bytes, the kernel's limit). A collision with a live
/// interface fails the task (`InterfaceNameTaken`); nothing is ever renamed or reused.
pub fn host_interface_name(instance: &str, interface_id: &InterfaceId) -> String {
    let d = crate::image::Digest::of(interface_id.as_str().as_bytes());
    let hex = d.hex();
    // 9 bytes of the digest are plenty for 7 base-36 digits.
    let mut n = u128::from_str_radix(&hex[..18], 16).unwrap_or(0);
    let mut s = String::with_capacity(NAME_HASH_CHARS);
    for _ in 0..NAME_HASH_CHARS {
        let digit = u32::try_from(n % 36).unwrap_or(0);
        s.push(char::from_digit(digit, 36).unwrap_or('0'));
        n /= 36;
    }
    format!("{}{s}", interface_prefix(instance))
}

/// The nftables table of agent `instance` (one per family: `inet` and `arp`).
pub fn table_name(instance: &str) -> String {
    format!("ferrogate_{instance}")
}

/// The alias written on each host interface: ownership, checked by recovery before it
/// deletes anything (the name prefix alone is 24 bits of the instance).
pub(crate) fn interface_alias(instance: &str, interface_id: &InterfaceId) -> String {
    format!("ferrogate {instance} {interface_id}")
}

/// Moves the calling thread into a new network namespace with loopback up. For tests
/// and benchmarks: what an agent then makes from threads this thread starts (interfaces,
/// routes, nftables tables, sysctls such as `ip_forward`) stays in that namespace and
/// dies with it, so runs neither see nor disturb each other or the host.
#[doc(hidden)]
pub fn enter_new_network_namespace() -> std::io::Result<()> {
    crate::sys::mount::unshare(libc::CLONE_NEWNET)?;
    crate::sys::mount::loopback_up()
}

/// Moves the calling thread into the network namespace open at `path` (a
/// `/proc/<pid>/ns/net` or a bind-mounted namespace). For tests and benchmarks.
#[doc(hidden)]
pub fn enter_network_namespace(path: &std::path::Path) -> std::io::Result<()> {
    let ns = std::fs::File::open(path)?;
    crate::sys::process::setns(std::os::fd::AsFd::as_fd(&ns), libc::CLONE_NEWNET)
}

#[cfg(test)]
mod tests;
