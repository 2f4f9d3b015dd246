//! How EC2 answers with its resources: the XML members of each, and the fields its filters
//! name.

use ferrogate_wire::ec2::Ec2Writer;

use crate::model::{SecurityGroup, Subnet, Tag, Vpc};
use crate::params::Filterable;
use crate::rule::{GroupRule, Peer, Traffic};

/// `<tagSet>`, left out when there are no tags (as EC2 answers).
pub fn tag_set(w: &mut Ec2Writer, tags: &[Tag]) {
    if tags.is_empty() {
        return;
    }
    w.items("tagSet", tags, |w, t| {
        w.leaf("key", &t.key).leaf("value", &t.value);
    });
}

/// The members of a VPC.
pub fn vpc(w: &mut Ec2Writer, v: &Vpc) {
    w.leaf("vpcId", &v.id)
        .leaf("ownerId", &v.account)
        .leaf("state", "available")
        .leaf("cidrBlock", &v.cidr.to_string());
    w.items("cidrBlockAssociationSet", [v], |w, v| {
        w.leaf("associationId", &v.cidr_association_id)
            .leaf("cidrBlock", &v.cidr.to_string())
            .open("cidrBlockState")
            .leaf("state", "associated")
            .close("cidrBlockState");
    });
    w.items(
        "ipv6CidrBlockAssociationSet",
        std::iter::empty::<()>(),
        |_, ()| {},
    );
    w.leaf("dhcpOptionsId", &v.dhcp_options_id)
        .leaf("instanceTenancy", "default")
        .flag("isDefault", v.is_default)
        .open("blockPublicAccessStates")
        .leaf("internetGatewayBlockMode", "off")
        .close("blockPublicAccessStates");
    tag_set(w, &v.tags);
}

/// The members of a subnet; `free` is its count of available addresses.
pub fn subnet(w: &mut Ec2Writer, s: &Subnet, free: u64) {
    w.leaf("subnetId", &s.id)
        .leaf("subnetArn", &s.arn())
        .leaf("state", "available")
        .leaf("ownerId", &s.account)
        .leaf("vpcId", &s.vpc_id)
        .leaf("cidrBlock", &s.cidr.to_string());
    w.items(
        "ipv6CidrBlockAssociationSet",
        std::iter::empty::<()>(),
        |_, ()| {},
    );
    w.int(
        "availableIpAddressCount",
        i64::try_from(free).unwrap_or(i64::MAX),
    )
    .leaf("availabilityZone", &s.az)
    .leaf("availabilityZoneId", &s.az_id)
    .flag("defaultForAz", s.default_for_az)
    .flag("mapPublicIpOnLaunch", s.map_public_ip)
    .flag("mapCustomerOwnedIpOnLaunch", false)
    .flag("assignIpv6AddressOnCreation", false)
    .flag("enableDns64", false)
    .flag("ipv6Native", false)
    .open("privateDnsNameOptionsOnLaunch")
    .leaf("hostnameType", "ip-name")
    .flag("enableResourceNameDnsARecord", false)
    .flag("enableResourceNameDnsAAAARecord", false)
    .close("privateDnsNameOptionsOnLaunch")
    .open("blockPublicAccessStates")
    .leaf("internetGatewayBlockMode", "off")
    .close("blockPublicAccessStates");
    tag_set(w, &s.tags);
}

fn ports(w: &mut Ec2Writer, t: &Traffic) {
    w.leaf("ipProtocol", &t.protocol);
    if t.has_ports() {
        w.int("fromPort", i64::from(t.from))
            .int("toPort", i64::from(t.to));
    }
}

/// `ipPermissions`/`ipPermissionsEgress`: rules grouped by protocol and ports, in the order
/// each group first appears.
fn permissions(w: &mut Ec2Writer, tag: &str, rules: &[GroupRule]) {
    let mut groups: Vec<(&Traffic, Vec<&GroupRule>)> = Vec::new();
    for r in rules {
        match groups.iter_mut().find(|(t, _)| **t == r.traffic) {
            Some((_, v)) => v.push(r),
            None => groups.push((&r.traffic, vec![r])),
        }
    }
    w.items(tag, groups, |w, (t, rs)| {
        ports(w, t);
        let pairs: Vec<_> = rs
            .iter()
            .filter_map(|r| match &r.peer {
                Peer::Group { group_id, user_id } => Some((group_id, user_id, r)),
                Peer::Cidr(_) => None,
            })
            .collect();
        w.items("groups", pairs, |w, (g, u, r)| {
            w.leaf("userId", u).leaf("groupId", g);
            w.leaf_opt("description", r.description.as_deref());
        });
        let ranges: Vec<_> = rs
            .iter()
            .filter_map(|r| match &r.peer {
                Peer::Cidr(c) => Some((c, r)),
                Peer::Group { .. } => None,
            })
            .collect();
        w.items("ipRanges", ranges, |w, (c, r)| {
            w.leaf("cidrIp", &c.to_string());
            w.leaf_opt("description", r.description.as_deref());
        });
        w.items("ipv6Ranges", std::iter::empty::<()>(), |_, ()| {});
        w.items("prefixListIds", std::iter::empty::<()>(), |_, ()| {});
    });
}

/// The members of a security group.
pub fn group(w: &mut Ec2Writer, g: &SecurityGroup) {
    w.leaf("ownerId", &g.account)
        .leaf("groupId", &g.id)
        .leaf("groupName", &g.name)
        .leaf("groupDescription", &g.description)
        .leaf("vpcId", &g.vpc_id);
    permissions(w, "ipPermissions", &g.ingress);
    permissions(w, "ipPermissionsEgress", &g.egress);
    w.leaf("securityGroupArn", &g.arn());
    tag_set(w, &g.tags);
}

/// The members of one rule (`SecurityGroupRule`).
pub fn rule(w: &mut Ec2Writer, g: &SecurityGroup, r: &GroupRule, egress: bool) {
    w.leaf("securityGroupRuleId", &r.id)
        .leaf("groupId", &g.id)
        .leaf("groupOwnerId", &g.account)
        .flag("isEgress", egress)
        .leaf("ipProtocol", &r.traffic.protocol)
        .int("fromPort", i64::from(r.traffic.from))
        .int("toPort", i64::from(r.traffic.to));
    match &r.peer {
        Peer::Cidr(c) => {
            w.leaf("cidrIpv4", &c.to_string());
        }
        Peer::Group { group_id, user_id } => {
            w.open("referencedGroupInfo")
                .leaf("groupId", group_id)
                .leaf("userId", user_id)
                .close("referencedGroupInfo");
        }
    }
    w.leaf_opt("description", r.description.as_deref());
    tag_set(w, &r.tags);
    w.leaf(
        "securityGroupRuleArn",
        &crate::model::arn(&g.region, &g.account, "security-group-rule", &r.id),
    );
}

fn yes(b: bool) -> String {
    if b { "true" } else { "false" }.to_owned()
}

impl Filterable for Vpc {
    fn field(&self, name: &str) -> Option<Vec<String>> {
        let cidr = self.cidr.to_string();
        Some(match name {
            "vpc-id" => vec![self.id.clone()],
            "cidr" | "cidr-block-association.cidr-block" | "cidrBlock" => vec![cidr],
            "cidr-block-association.association-id" => vec![self.cidr_association_id.clone()],
            "cidr-block-association.state" => vec!["associated".into()],
            "state" => vec!["available".into()],
            "is-default" | "isDefault" => vec![yes(self.is_default)],
            "owner-id" => vec![self.account.clone()],
            "dhcp-options-id" => vec![self.dhcp_options_id.clone()],
            _ => return None,
        })
    }
    fn tags(&self) -> &[Tag] {
        &self.tags
    }
}

/// A subnet with its count of free addresses, as filters see it.
pub struct SubnetView<'a>(pub &'a Subnet, pub u64);

impl Filterable for SubnetView<'_> {
    fn field(&self, name: &str) -> Option<Vec<String>> {
        let s = self.0;
        Some(match name {
            "subnet-id" => vec![s.id.clone()],
            "subnet-arn" => vec![s.arn()],
            "vpc-id" => vec![s.vpc_id.clone()],
            "cidr" | "cidr-block" | "cidrBlock" => vec![s.cidr.to_string()],
            "availability-zone" | "availabilityZone" => vec![s.az.clone()],
            "availability-zone-id" | "availabilityZoneId" => vec![s.az_id.clone()],
            "default-for-az" | "defaultForAz" => vec![yes(s.default_for_az)],
            "map-public-ip-on-launch" => vec![yes(s.map_public_ip)],
            "state" => vec!["available".into()],
            "owner-id" => vec![s.account.clone()],
            "available-ip-address-count" => vec![self.1.to_string()],
            _ => return None,
        })
    }
    fn tags(&self) -> &[Tag] {
        &self.0.tags
    }
}

impl Filterable for SecurityGroup {
    fn field(&self, name: &str) -> Option<Vec<String>> {
        Some(match name {
            "group-id" => vec![self.id.clone()],
            "group-name" => vec![self.name.clone()],
            "description" => vec![self.description.clone()],
            "vpc-id" => vec![self.vpc_id.clone()],
            "owner-id" => vec![self.account.clone()],
            _ => return None,
        })
    }
    fn tags(&self) -> &[Tag] {
        &self.tags
    }
}

/// A rule with its group, as filters see it.
pub struct RuleView<'a>(pub &'a SecurityGroup, pub &'a GroupRule);

impl Filterable for RuleView<'_> {
    fn field(&self, name: &str) -> Option<Vec<String>> {
        Some(match name {
            "group-id" => vec![self.0.id.clone()],
            "security-group-rule-id" => vec![self.1.id.clone()],
            _ => return None,
        })
    }
    fn tags(&self) -> &[Tag] {
        &self.1.tags
    }
}
