//! Task networking errors: structured, so the control plane can turn each into an AWS
//! error (`InvalidParameterException`, `ClientException`, or a task that fails to start
//! with `ResourceInitializationError`) without reading text.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use super::addr::Ipv4Net;
use crate::ids::{InterfaceId, SecurityGroupId, SubnetId, TaskId, VpcId};

/// What went wrong with a task's network or a security group.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetworkError {
    // --- input the control plane sent (refused before anything is created) ---
    /// A port range whose start is above its end.
    #[error("invalid port range {from}-{to}: the first port is above the last")]
    InvalidPortRange {
        /// First port.
        from: u16,
        /// Last port.
        to: u16,
    },
    /// A group with more rules than allowed in one direction.
    #[error("security group {group} has {count} {direction} rules; at most {max} are allowed")]
    TooManyRules {
        /// The group.
        group: SecurityGroupId,
        /// `ingress` or `egress`.
        direction: &'static str,
        /// How many.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// `Protocol::Number` of TCP, UDP or ICMP.
    #[error("security group {group}: protocol number {number} must be given as tcp, udp or icmp")]
    ProtocolNumberHasVariant {
        /// The group.
        group: SecurityGroupId,
        /// The number.
        number: u8,
    },
    /// The task's address is not in its subnet.
    #[error("address {address} is not in subnet {subnet_id} ({subnet_cidr})")]
    AddressOutsideSubnet {
        /// The address.
        address: Ipv4Addr,
        /// The subnet.
        subnet_id: SubnetId,
        /// Its CIDR block.
        subnet_cidr: Ipv4Net,
    },
    /// The gateway is not in the subnet.
    #[error("gateway {gateway} is not in subnet {subnet_id} ({subnet_cidr})")]
    GatewayOutsideSubnet {
        /// The gateway.
        gateway: Ipv4Addr,
        /// The subnet.
        subnet_id: SubnetId,
        /// Its CIDR block.
        subnet_cidr: Ipv4Net,
    },
    /// The address is one a task cannot hold (the network or broadcast address, or the
    /// gateway's).
    #[error("address {address} is the {what} of subnet {subnet_cidr} and cannot be a task's")]
    ReservedAddress {
        /// The address.
        address: Ipv4Addr,
        /// `network address`, `broadcast address` or `gateway address`.
        what: &'static str,
        /// The subnet's CIDR block.
        subnet_cidr: Ipv4Net,
    },
    /// The gateway is the subnet's network or broadcast address.
    #[error("gateway {gateway} is the {what} of subnet {subnet_cidr}")]
    ReservedGateway {
        /// The gateway.
        gateway: Ipv4Addr,
        /// `network address` or `broadcast address`.
        what: &'static str,
        /// The subnet's CIDR block.
        subnet_cidr: Ipv4Net,
    },
    /// A CIDR block of a size EC2 does not allow (VPCs and subnets: /16 to /28).
    #[error("{what} {cidr} must be between /16 and /28")]
    BlockSize {
        /// `VPC CIDR block` or `subnet CIDR block`.
        what: &'static str,
        /// The block.
        cidr: Ipv4Net,
    },
    /// The subnet is not inside any CIDR block of its VPC.
    #[error("subnet {subnet_id} ({subnet_cidr}) is not inside a CIDR block of {vpc_id}")]
    SubnetOutsideVpc {
        /// The subnet.
        subnet_id: SubnetId,
        /// Its block.
        subnet_cidr: Ipv4Net,
        /// The VPC.
        vpc_id: VpcId,
    },
    /// A VPC with no CIDR block, or more than EC2 allows (5).
    #[error("{vpc_id} has {count} CIDR blocks; 1 to {max} are allowed")]
    VpcCidrCount {
        /// The VPC.
        vpc_id: VpcId,
        /// How many.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A task with no security group, or more than Fargate allows (5).
    #[error("a task network interface needs 1 to {max} security groups; {count} given")]
    SecurityGroupCount {
        /// How many.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// The same group twice.
    #[error("security group {group} is given twice")]
    DuplicateSecurityGroup {
        /// The group.
        group: SecurityGroupId,
    },
    /// The private DNS name cannot be a hostname.
    #[error("{0}")]
    InvalidHostname(String),
    /// More resolvers than `/etc/resolv.conf` can use (glibc reads three).
    #[error("{count} DNS servers given; a resolv.conf holds at most {max}")]
    TooManyDnsServers {
        /// How many.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A search domain that is not a DNS name, or too many of them.
    #[error("invalid DNS search list entry {domain:?}: {reason}")]
    InvalidDnsSearch {
        /// The entry.
        domain: String,
        /// What is wrong.
        reason: &'static str,
    },

    // --- conflicts with what already runs on this host ---
    /// The task names a group `SetSecurityGroups` never sent.
    #[error("security group {group} is unknown to this host (send SetSecurityGroups first)")]
    UnknownSecurityGroup {
        /// The group.
        group: SecurityGroupId,
    },
    /// The task names a group of another VPC.
    #[error("security group {group} belongs to {group_vpc}, not to the task's {task_vpc}")]
    SecurityGroupOfOtherVpc {
        /// The group.
        group: SecurityGroupId,
        /// Its VPC.
        group_vpc: VpcId,
        /// The task's.
        task_vpc: VpcId,
    },
    /// Another live task on this host holds the address.
    #[error("address {address} is in use by task {task_id}")]
    AddressInUse {
        /// The address.
        address: Ipv4Addr,
        /// The task holding it.
        task_id: TaskId,
    },
    /// Another live task on this host holds the interface.
    #[error("network interface {interface_id} is in use by task {task_id}")]
    InterfaceInUse {
        /// The interface.
        interface_id: InterfaceId,
        /// The task holding it.
        task_id: TaskId,
    },
    /// Two VPCs with overlapping CIDR blocks on one host. EC2 allows them, but one host
    /// routing table cannot hold both: the task is refused (fail closed) rather than
    /// made reachable from the other VPC.
    #[error("{vpc_id} ({cidr}) overlaps {other_vpc_id} ({other_cidr}), which has tasks on this host; VPCs with overlapping CIDR blocks cannot share a host")]
    VpcOverlap {
        /// The task's VPC.
        vpc_id: VpcId,
        /// Its block.
        cidr: Ipv4Net,
        /// The VPC already here.
        other_vpc_id: VpcId,
        /// Its block.
        other_cidr: Ipv4Net,
    },
    /// Two subnets of one VPC overlap, or one subnet id arrives with two definitions.
    #[error("subnet {subnet_id} ({cidr}, gateway {gateway}) conflicts with {other_subnet_id} ({other_cidr}, gateway {other_gateway})")]
    SubnetConflict {
        /// The task's subnet.
        subnet_id: SubnetId,
        /// Its block.
        cidr: Ipv4Net,
        /// Its gateway.
        gateway: Ipv4Addr,
        /// The subnet already here.
        other_subnet_id: SubnetId,
        /// Its block.
        other_cidr: Ipv4Net,
        /// Its gateway.
        other_gateway: Ipv4Addr,
    },
    /// The host already uses the address (one of its own, or a route someone else owns).
    #[error("address {address} is already used on this host: {detail}")]
    HostAddressConflict {
        /// The address.
        address: Ipv4Addr,
        /// What holds it.
        detail: String,
    },
    /// The host interface name derived from the interface id is taken.
    #[error("host interface {name} for {interface_id} already exists")]
    InterfaceNameTaken {
        /// The name.
        name: String,
        /// The interface id.
        interface_id: InterfaceId,
    },

    // --- the host ---
    /// The `nft` program is missing.
    #[error("task networking needs nftables: {} is not an executable file (install the nftables package)", .path.display())]
    NftMissing {
        /// Where it was looked for.
        path: PathBuf,
    },
    /// `nft` refused the ruleset or could not run.
    #[error("nft: {detail}")]
    Nft {
        /// Its error output.
        detail: String,
    },
    /// A netlink request failed.
    #[error("{op}: {source}")]
    Netlink {
        /// What was being done.
        op: String,
        /// The kernel's answer.
        source: std::io::Error,
    },
    /// A sysctl could not be read or written.
    #[error("{}: {source}", .path.display())]
    Sysctl {
        /// The file.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The task holds no reservation (it was released meanwhile).
    #[error("task {task_id} has no network reservation on this host")]
    NotReserved {
        /// The task.
        task_id: TaskId,
    },
    /// The agent is shutting down.
    #[error("the host agent is shutting down")]
    ShutDown,
}

impl NetworkError {
    /// True when the request itself is wrong (the control plane answers the caller with
    /// an `InvalidParameterException`-style error); false for conflicts on this host and
    /// host failures, where the task fails to start.
    pub fn is_invalid_input(&self) -> bool {
        use NetworkError::*;
        matches!(
            self,
            InvalidPortRange { .. }
                | TooManyRules { .. }
                | ProtocolNumberHasVariant { .. }
                | AddressOutsideSubnet { .. }
                | GatewayOutsideSubnet { .. }
                | ReservedAddress { .. }
                | ReservedGateway { .. }
                | BlockSize { .. }
                | SubnetOutsideVpc { .. }
                | VpcCidrCount { .. }
                | SecurityGroupCount { .. }
                | DuplicateSecurityGroup { .. }
                | InvalidHostname(_)
                | TooManyDnsServers { .. }
                | InvalidDnsSearch { .. }
                | SecurityGroupOfOtherVpc { .. }
        )
    }
}

pub(crate) fn netlink(op: impl Into<String>) -> impl FnOnce(std::io::Error) -> NetworkError {
    let op = op.into();
    move |source| NetworkError::Netlink { op, source }
}
