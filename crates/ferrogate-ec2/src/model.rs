//! EC2's resources as stored: VPCs, subnets, security groups with their rules, network
//! interfaces, and the index of addresses in use. Every record is keyed by account, region
//! and id: resources of one account and region never see another's.

use std::net::Ipv4Addr;

use ferrogate_store::{Direction, Key, ReadTx, Record, Table};
use ferrogate_types::Timestamp;
use serde::{Deserialize, Serialize};

use crate::cidr::Cidr;
use crate::rule::GroupRule;

/// A tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    /// Key (1 to 127 characters, not starting with `aws:`).
    pub key: String,
    /// Value (0 to 255 characters).
    pub value: String,
}

/// A VPC and the resources EC2 creates with it (its main route table, default network ACL
/// and default security group).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vpc {
    /// Owner.
    pub account: String,
    /// Region.
    pub region: String,
    /// `vpc-…`.
    pub id: String,
    /// The primary IPv4 block.
    pub cidr: Cidr,
    /// `vpc-cidr-assoc-…` of the primary block.
    pub cidr_association_id: String,
    /// The account's default VPC in this region.
    pub is_default: bool,
    /// `dopt-…`.
    pub dhcp_options_id: String,
    /// `enableDnsSupport`.
    pub dns_support: bool,
    /// `enableDnsHostnames`.
    pub dns_hostnames: bool,
    /// The VPC's `default` security group.
    pub default_group_id: String,
    /// The main route table (`rtb-…`) and its main association (`rtbassoc-…`).
    pub main_route_table: (String, String),
    /// The default network ACL (`acl-…`).
    pub default_acl_id: String,
    /// Tags.
    pub tags: Vec<Tag>,
    /// When it was created.
    pub created: Timestamp,
}
impl Record for Vpc {}

impl Vpc {
    /// `arn:aws:ec2:<region>:<account>:vpc/<id>`.
    pub fn arn(&self) -> String {
        arn(&self.region, &self.account, "vpc", &self.id)
    }
}

/// A subnet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subnet {
    /// Owner.
    pub account: String,
    /// Region.
    pub region: String,
    /// `subnet-…`.
    pub id: String,
    /// Its VPC.
    pub vpc_id: String,
    /// Its block, inside the VPC's.
    pub cidr: Cidr,
    /// Availability zone name (`us-east-1a`).
    pub az: String,
    /// Availability zone id (`use1-az1`).
    pub az_id: String,
    /// A default subnet of the default VPC.
    pub default_for_az: bool,
    /// `mapPublicIpOnLaunch`. Shown, and otherwise without effect: a task's egress is its
    /// `assignPublicIp` alone, as on Fargate (see docs/security-model.md).
    pub map_public_ip: bool,
    /// The network ACL association (`aclassoc-…`).
    pub acl_association_id: String,
    /// Tags.
    pub tags: Vec<Tag>,
}
impl Record for Subnet {}

impl Subnet {
    /// `arn:aws:ec2:<region>:<account>:subnet/<id>`.
    pub fn arn(&self) -> String {
        arn(&self.region, &self.account, "subnet", &self.id)
    }
}

/// A security group and its rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecurityGroup {
    /// Owner.
    pub account: String,
    /// Region.
    pub region: String,
    /// `sg-…`.
    pub id: String,
    /// Its VPC.
    pub vpc_id: String,
    /// `groupName` (unique in its VPC).
    pub name: String,
    /// `groupDescription`.
    pub description: String,
    /// Inbound rules, in the order they were added.
    pub ingress: Vec<GroupRule>,
    /// Outbound rules, in the order they were added.
    pub egress: Vec<GroupRule>,
    /// Tags.
    pub tags: Vec<Tag>,
}
impl Record for SecurityGroup {}

impl SecurityGroup {
    /// Whether this is its VPC's `default` group.
    pub fn is_default(&self) -> bool {
        self.name == "default"
    }

    /// `arn:aws:ec2:<region>:<account>:security-group/<id>`.
    pub fn arn(&self) -> String {
        arn(&self.region, &self.account, "security-group", &self.id)
    }

    /// The rules of one direction.
    pub fn rules(&self, egress: bool) -> &[GroupRule] {
        if egress {
            &self.egress
        } else {
            &self.ingress
        }
    }

    /// The rules of one direction, to change.
    pub fn rules_mut(&mut self, egress: bool) -> &mut Vec<GroupRule> {
        if egress {
            &mut self.egress
        } else {
            &mut self.ingress
        }
    }
}

/// The state of a network interface ("NetworkInterfaceStatus").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum InterfaceStatus {
    /// Created, not yet attached to its task.
    Available,
    /// Attached to a running task.
    InUse,
}

impl InterfaceStatus {
    /// As EC2 spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            InterfaceStatus::Available => "available",
            InterfaceStatus::InUse => "in-use",
        }
    }
}

/// A task's elastic network interface: made by ECS at launch, deleted at stop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Interface {
    /// Owner (the task's account).
    pub account: String,
    /// Region.
    pub region: String,
    /// `eni-…`.
    pub id: String,
    /// Its subnet.
    pub subnet_id: String,
    /// Its VPC.
    pub vpc_id: String,
    /// Its subnet's zone.
    pub az: String,
    /// Its subnet's zone id.
    pub az_id: String,
    /// Its private IPv4 address.
    pub address: Ipv4Addr,
    /// Its MAC address (`0a:…`, locally administered).
    pub mac: String,
    /// Its security groups (1 to 5, of its VPC).
    pub groups: Vec<String>,
    /// `description`: `arn:aws:ecs:<region>:<account>:attachment/<uuid>` for a task's.
    pub description: String,
    /// The service that made it (`requesterId`).
    pub requester_id: String,
    /// `eni-attach-…`.
    pub attachment_id: String,
    /// Its state.
    pub status: InterfaceStatus,
    /// When it was made.
    pub created: Timestamp,
    /// Tags.
    pub tags: Vec<Tag>,
}
impl Record for Interface {}

/// Marks an account and region whose default VPC was made (see [`crate::defaults`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Defaults {
    /// The default VPC as made (it may since have been deleted).
    pub vpc_id: String,
}
impl Record for Defaults {}

/// `arn:aws:ec2:<region>:<account>:<kind>/<id>`.
pub fn arn(region: &str, account: &str, kind: &str, id: &str) -> String {
    format!("arn:aws:ec2:{region}:{account}:{kind}/{id}")
}

/// The tables.
pub mod tables {
    use super::*;
    /// VPCs by (account, region, id).
    pub const VPCS: Table<Vpc> = Table::new("ec2.vpcs");
    /// Subnets by (account, region, id).
    pub const SUBNETS: Table<Subnet> = Table::new("ec2.subnets");
    /// Security groups by (account, region, id).
    pub const GROUPS: Table<SecurityGroup> = Table::new("ec2.groups");
    /// Network interfaces by (account, region, id).
    pub const INTERFACES: Table<Interface> = Table::new("ec2.interfaces");
    /// Addresses in use by (account, region, subnet, address as a number).
    pub const ADDRESSES: Table<AddressUse> = Table::new("ec2.addresses");
    /// Accounts and regions whose default VPC was made, by (account, region).
    pub const DEFAULTS: Table<Defaults> = Table::new("ec2.defaults");
}

/// Who holds an address of a subnet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressUse {
    /// The network interface.
    pub interface_id: String,
}
impl Record for AddressUse {}

/// The key of a resource.
pub fn key(account: &str, region: &str, id: &str) -> Vec<u8> {
    Key::new().str(account).str(region).str(id).into_bytes()
}

/// The prefix of every resource of an account and region.
pub fn scope(account: &str, region: &str) -> Vec<u8> {
    Key::new().str(account).str(region).into_bytes()
}

/// The key of an address in use.
pub fn address_key(account: &str, region: &str, subnet: &str, a: Ipv4Addr) -> Vec<u8> {
    Key::new()
        .str(account)
        .str(region)
        .str(subnet)
        .i64(i64::from(u32::from(a)))
        .into_bytes()
}

/// The prefix of the addresses in use in a subnet.
pub fn subnet_addresses(account: &str, region: &str, subnet: &str) -> Vec<u8> {
    Key::new().str(account).str(region).str(subnet).into_bytes()
}

/// The most resources of one kind an account holds in one region, read at once.
pub const SCAN_LIMIT: usize = 100_000;

/// Every record of `table` in an account and region, in id order.
pub fn all<R: Record>(
    table: Table<R>,
    tx: &dyn ReadTx,
    account: &str,
    region: &str,
) -> Result<Vec<R>, ferrogate_store::StoreError> {
    Ok(table
        .scan(
            tx,
            &scope(account, region),
            None,
            Direction::Forward,
            SCAN_LIMIT,
        )?
        .into_iter()
        .map(|(_, r)| r)
        .collect())
}
