//! `DescribeNetworkInterfaces`: the elastic network interfaces of tasks (made and deleted by
//! ECS; none exist until a task with `awsvpc` networking runs).

use super::{describing, not_dry_run};
use ferrogate_api::{Authorization, Authorized, Done, Ec2Output, Exec, Operation, Reply, Scope};
use ferrogate_wire::ec2::{Ec2Params, Ec2Writer};
use serde::Serialize;

use super::{all_found, find_group};
use crate::model::{all, tables, Interface, Tag};
use crate::params::{self, Filter, Filterable, Page};
use crate::{views, Ec2, Ec2Error};

/// `ip-10-0-0-4.ec2.internal` in `us-east-1`, `ip-10-0-0-4.<region>.compute.internal`
/// elsewhere (EC2's private DNS names).
pub fn private_dns_name(region: &str, address: std::net::Ipv4Addr) -> String {
    let host = format!("ip-{}", address.to_string().replace('.', "-"));
    if region == "us-east-1" {
        format!("{host}.ec2.internal")
    } else {
        format!("{host}.{region}.compute.internal")
    }
}

impl Filterable for Interface {
    fn field(&self, name: &str) -> Option<Vec<String>> {
        Some(match name {
            "network-interface-id" => vec![self.id.clone()],
            "subnet-id" => vec![self.subnet_id.clone()],
            "vpc-id" => vec![self.vpc_id.clone()],
            "availability-zone" => vec![self.az.clone()],
            "group-id" => self.groups.clone(),
            "description" => vec![self.description.clone()],
            "status" => vec![self.status.as_str().to_owned()],
            "interface-type" => vec!["interface".into()],
            "requester-id" => vec![self.requester_id.clone()],
            "requester-managed" => vec!["true".into()],
            "owner-id" => vec![self.account.clone()],
            "mac-address" => vec![self.mac.clone()],
            "private-ip-address" | "addresses.private-ip-address" => {
                vec![self.address.to_string()]
            }
            "private-dns-name" => vec![private_dns_name(&self.region, self.address)],
            "attachment.attachment-id" => vec![self.attachment_id.clone()],
            _ => return None,
        })
    }
    fn tags(&self) -> &[Tag] {
        &self.tags
    }
}

/// `DescribeNetworkInterfaces`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeNetworkInterfacesInput {
    network_interface_ids: Vec<String>,
    filters: Vec<Filter>,
    page: Page,
    dry_run: bool,
}

impl DescribeNetworkInterfacesInput {
    pub(crate) fn decode(p: &Ec2Params<'_>) -> Result<Self, Ec2Error> {
        Ok(Self {
            network_interface_ids: params::ids(p, "NetworkInterfaceId"),
            filters: params::filters(p)?,
            page: params::page(p, 5)?,
            dry_run: params::dry_run(p)?,
        })
    }
}

/// An interface with the names of its groups.
#[derive(Debug)]
pub struct Shown(Interface, Vec<(String, String)>);

/// `networkInterfaceSet` and `nextToken`.
#[derive(Debug)]
pub struct InterfacesOutput(Vec<Shown>, Option<String>);

fn interface(w: &mut Ec2Writer, Shown(n, groups): &Shown) {
    let dns = private_dns_name(&n.region, n.address);
    w.leaf("networkInterfaceId", &n.id)
        .leaf("subnetId", &n.subnet_id)
        .leaf("vpcId", &n.vpc_id)
        .leaf("availabilityZone", &n.az)
        .leaf("description", &n.description)
        .leaf("ownerId", &n.account)
        .leaf("requesterId", &n.requester_id)
        .flag("requesterManaged", true)
        .leaf("status", n.status.as_str())
        .leaf("macAddress", &n.mac)
        .leaf("privateIpAddress", &n.address.to_string())
        .leaf("privateDnsName", &dns)
        .flag("sourceDestCheck", true);
    w.items("groupSet", groups, |w, (id, name)| {
        w.leaf("groupId", id).leaf("groupName", name);
    });
    w.open("attachment")
        .leaf("attachmentId", &n.attachment_id)
        .leaf("instanceOwnerId", &n.requester_id)
        .int("deviceIndex", 1)
        .int("networkCardIndex", 0)
        .leaf("status", "attached")
        .leaf("attachTime", &n.created.iso8601_millis())
        .flag("deleteOnTermination", false)
        .close("attachment");
    w.items("privateIpAddressesSet", [n], |w, n| {
        w.leaf("privateIpAddress", &n.address.to_string())
            .leaf("privateDnsName", &dns)
            .flag("primary", true);
    });
    w.items("ipv6AddressesSet", std::iter::empty::<()>(), |_, ()| {});
    w.leaf("interfaceType", "interface");
    views::tag_set(w, &n.tags);
}

impl Ec2Output for InterfacesOutput {
    fn write(&self, w: &mut Ec2Writer) {
        w.items("networkInterfaceSet", &self.0, interface);
        w.leaf_opt("nextToken", self.1.as_deref());
    }
}

impl Operation for DescribeNetworkInterfacesInput {
    type Output = InterfacesOutput;

    fn authorize(&self, _: &Scope<'_, Ec2>) -> Result<Authorization, Ec2Error> {
        describing("ec2:DescribeNetworkInterfaces")
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Ec2>) -> Done<Self> {
        not_dry_run(op.dry_run)?;
        let (account, region) = (x.ctx.principal.account.as_str(), x.ctx.region);
        let tx = x.tx.read();
        let all_interfaces = all(tables::INTERFACES, tx, account, region)?;
        let found: Vec<&str> = all_interfaces.iter().map(|n| n.id.as_str()).collect();
        all_found(
            &op.network_interface_ids,
            &found,
            Ec2Error::InvalidNetworkInterfaceIdNotFound,
        )?;
        let mut out = Vec::new();
        for n in all_interfaces {
            params::check_names(&n, &op.filters)?;
            let named =
                op.network_interface_ids.is_empty() || op.network_interface_ids.contains(&n.id);
            if named && params::passes(&n, &op.filters)? {
                out.push(n);
            }
        }
        let (page, next) = op.page.apply(out, |n| &n.id)?;
        let mut shown = Vec::new();
        for n in page {
            let mut groups = Vec::new();
            for g in &n.groups {
                let name = find_group(tx, account, region, g)?
                    .map(|g| g.name)
                    .unwrap_or_default();
                groups.push((g.clone(), name));
            }
            shown.push(Shown(n, groups));
        }
        Ok(Reply::new(InterfacesOutput(shown, next)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_dns_names_as_ec2_spells_them() {
        let a = "10.0.0.4".parse().unwrap();
        assert_eq!(private_dns_name("us-east-1", a), "ip-10-0-0-4.ec2.internal");
        assert_eq!(
            private_dns_name("eu-west-1", a),
            "ip-10-0-0-4.eu-west-1.compute.internal"
        );
    }
}
