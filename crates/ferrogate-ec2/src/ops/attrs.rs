//! `DescribeVpcAttribute`, `ModifyVpcAttribute`, and the parts every VPC is made with that
//! can be read but not yet changed: its main route table (`DescribeRouteTables`, one local
//! route) and its default network ACL (`DescribeNetworkAcls`, AWS's allow-all entries).

use super::{describing, not_dry_run};
use ferrogate_api::{
    Authorization, Authorized, Check, Done, Ec2Output, Ec2Return, Exec, Operation, Reply,
    RequestTags, Scope,
};
use ferrogate_wire::ec2::{Ec2Params, Ec2Writer};
use serde::Serialize;
use serde_json::json;

use super::{all_found, vpc, vpc_resource};
use crate::model::{all, key, tables, Subnet, Tag, Vpc};
use crate::params::{self, Filter, Filterable, Page};
use crate::{Ec2, Ec2Error};

/// A VPC attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum VpcAttribute {
    /// `enableDnsSupport`.
    DnsSupport,
    /// `enableDnsHostnames`.
    DnsHostnames,
    /// `enableNetworkAddressUsageMetrics` (always false here).
    NetworkAddressUsageMetrics,
}

const ATTRIBUTES: [(&str, VpcAttribute); 3] = [
    ("enableDnsSupport", VpcAttribute::DnsSupport),
    ("enableDnsHostnames", VpcAttribute::DnsHostnames),
    (
        "enableNetworkAddressUsageMetrics",
        VpcAttribute::NetworkAddressUsageMetrics,
    ),
];

impl VpcAttribute {
    fn name(self) -> &'static str {
        ATTRIBUTES
            .iter()
            .find(|(_, a)| *a == self)
            .map_or("", |(n, _)| n)
    }

    fn of(self, v: &Vpc) -> bool {
        match self {
            VpcAttribute::DnsSupport => v.dns_support,
            VpcAttribute::DnsHostnames => v.dns_hostnames,
            VpcAttribute::NetworkAddressUsageMetrics => false,
        }
    }
}

/// `DescribeVpcAttribute`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeVpcAttributeInput {
    vpc_id: String,
    attribute: VpcAttribute,
    dry_run: bool,
}

impl DescribeVpcAttributeInput {
    pub(crate) fn decode(p: &Ec2Params<'_>) -> Result<Self, Ec2Error> {
        let name = params::required(p, "Attribute")?;
        let attribute = ATTRIBUTES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, a)| *a)
            .ok_or_else(|| {
                Ec2Error::invalid(format!(
                    "Value ({name}) for parameter attribute is invalid. Unknown attribute."
                ))
            })?;
        Ok(Self {
            vpc_id: params::required(p, "VpcId")?.to_owned(),
            attribute,
            dry_run: params::dry_run(p)?,
        })
    }
}

/// `vpcId` and the attribute's `<value>`.
#[derive(Debug)]
pub struct AttributeOutput(String, VpcAttribute, bool);

impl Ec2Output for AttributeOutput {
    fn write(&self, w: &mut Ec2Writer) {
        w.leaf("vpcId", &self.0)
            .open(self.1.name())
            .flag("value", self.2)
            .close(self.1.name());
    }
}

impl Operation for DescribeVpcAttributeInput {
    type Output = AttributeOutput;

    fn authorize(&self, s: &Scope<'_, Ec2>) -> Result<Authorization, Ec2Error> {
        Ok(Authorization::of(Check::new(
            "ec2:DescribeVpcAttribute",
            vpc_resource(s.tx, s.account(), s.region, &self.vpc_id)?,
            RequestTags::None,
        )))
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Ec2>) -> Done<Self> {
        let v = vpc(
            x.tx.read(),
            x.ctx.principal.account.as_str(),
            x.ctx.region,
            &op.vpc_id,
        )?;
        not_dry_run(op.dry_run)?;
        Ok(Reply::new(AttributeOutput(
            v.id.clone(),
            op.attribute,
            op.attribute.of(&v),
        )))
    }
}

/// `ModifyVpcAttribute`: one attribute per request.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModifyVpcAttributeInput {
    vpc_id: String,
    attribute: VpcAttribute,
    value: bool,
}

impl ModifyVpcAttributeInput {
    pub(crate) fn decode(p: &Ec2Params<'_>) -> Result<Self, Ec2Error> {
        let vpc_id = params::required(p, "VpcId")?.to_owned();
        let mut given = Vec::new();
        for (name, attribute) in ATTRIBUTES {
            let param = format!("{}{}.Value", name[..1].to_uppercase(), &name[1..]);
            if let Some(v) = params::flag(p, &param)? {
                given.push((attribute, v));
            }
        }
        match given.as_slice() {
            [(attribute, value)] => {
                if *attribute == VpcAttribute::NetworkAddressUsageMetrics && *value {
                    return Err(Ec2Error::UnsupportedOperation(
                        "Network Address Usage metrics are not provided by this endpoint.".into(),
                    ));
                }
                Ok(Self {
                    vpc_id,
                    attribute: *attribute,
                    value: *value,
                })
            }
            [] => Err(Ec2Error::MissingParameter(
                "EnableDnsSupport, EnableDnsHostnames or EnableNetworkAddressUsageMetrics".into(),
            )),
            _ => Err(Ec2Error::InvalidParameterCombination(
                "Fields for multiple attribute types specified".into(),
            )),
        }
    }
}

impl Operation for ModifyVpcAttributeInput {
    type Output = Ec2Return;

    fn authorize(&self, s: &Scope<'_, Ec2>) -> Result<Authorization, Ec2Error> {
        Ok(Authorization::of(Check::new(
            "ec2:ModifyVpcAttribute",
            vpc_resource(s.tx, s.account(), s.region, &self.vpc_id)?,
            RequestTags::None,
        )))
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Ec2>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let (account, region) = (ctx.principal.account.as_str(), ctx.region);
        let mut v = vpc(tx.read(), account, region, &op.vpc_id)?;
        match op.attribute {
            VpcAttribute::DnsSupport => v.dns_support = op.value,
            VpcAttribute::DnsHostnames => v.dns_hostnames = op.value,
            VpcAttribute::NetworkAddressUsageMetrics => {}
        }
        // "You can only enable DNS hostnames if you've enabled DNS support."
        if v.dns_hostnames && !v.dns_support {
            return Err(Ec2Error::invalid(
                "enableDnsHostnames can only be enabled when enableDnsSupport is enabled.",
            ));
        }
        tables::VPCS.put(tx.write()?, &key(account, region, &v.id), &v)?;
        Ok(Reply::new(Ec2Return)
            .elements(json!({"_return": true}))
            .resource("AWS::EC2::VPC", v.id))
    }
}

/// A VPC with its subnets, as the route table and network ACL filters see it.
pub struct VpcParts<'a>(&'a Vpc, Vec<&'a Subnet>);

impl Filterable for VpcParts<'_> {
    fn field(&self, name: &str) -> Option<Vec<String>> {
        let v = self.0;
        Some(match name {
            "vpc-id" => vec![v.id.clone()],
            "owner-id" => vec![v.account.clone()],
            "route-table-id" => vec![v.main_route_table.0.clone()],
            "association.main" | "default" => vec!["true".into()],
            "association.route-table-association-id" => vec![v.main_route_table.1.clone()],
            "route.destination-cidr-block" => vec![v.cidr.to_string()],
            "route.gateway-id" => vec!["local".into()],
            "network-acl-id" => vec![v.default_acl_id.clone()],
            "association.network-acl-id" => vec![v.default_acl_id.clone()],
            "association.subnet-id" => self.1.iter().map(|s| s.id.clone()).collect(),
            "association.association-id" => self
                .1
                .iter()
                .map(|s| s.acl_association_id.clone())
                .collect(),
            _ => return None,
        })
    }
    fn tags(&self) -> &[Tag] {
        &[]
    }
}

/// `DescribeRouteTables` (`ROUTES = true`) and `DescribeNetworkAcls`: the main route table and
/// the default network ACL of each VPC.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeVpcPartsInput<const ROUTES: bool> {
    ids: Vec<String>,
    filters: Vec<Filter>,
    page: Page,
    dry_run: bool,
}

impl<const ROUTES: bool> DescribeVpcPartsInput<ROUTES> {
    pub(crate) fn decode(p: &Ec2Params<'_>) -> Result<Self, Ec2Error> {
        Ok(Self {
            ids: params::ids(
                p,
                if ROUTES {
                    "RouteTableId"
                } else {
                    "NetworkAclId"
                },
            ),
            filters: params::filters(p)?,
            page: params::page(p, 5)?,
            dry_run: params::dry_run(p)?,
        })
    }
}

/// `routeTableSet` or `networkAclSet`, and `nextToken`.
#[derive(Debug)]
pub struct PartsOutput(bool, Vec<(Vpc, Vec<Subnet>)>, Option<String>);

fn route_table(w: &mut Ec2Writer, v: &Vpc) {
    w.leaf("routeTableId", &v.main_route_table.0)
        .leaf("vpcId", &v.id)
        .leaf("ownerId", &v.account);
    w.items("routeSet", [v], |w, v| {
        w.leaf("destinationCidrBlock", &v.cidr.to_string())
            .leaf("gatewayId", "local")
            .leaf("state", "active")
            .leaf("origin", "CreateRouteTable");
    });
    w.items("associationSet", [v], |w, v| {
        w.leaf("routeTableAssociationId", &v.main_route_table.1)
            .leaf("routeTableId", &v.main_route_table.0)
            .flag("main", true)
            .open("associationState")
            .leaf("state", "associated")
            .close("associationState");
    });
    w.items("propagatingVgwSet", std::iter::empty::<()>(), |_, ()| {});
}

fn network_acl(w: &mut Ec2Writer, v: &Vpc, subnets: &[Subnet]) {
    w.leaf("networkAclId", &v.default_acl_id)
        .leaf("vpcId", &v.id)
        .flag("default", true);
    let entries = [
        (100, "allow", false),
        (32767, "deny", false),
        (100, "allow", true),
        (32767, "deny", true),
    ];
    w.items("entrySet", entries, |w, (n, action, egress)| {
        w.int("ruleNumber", n)
            .leaf("protocol", "-1")
            .leaf("ruleAction", action)
            .flag("egress", egress)
            .leaf("cidrBlock", "0.0.0.0/0");
    });
    w.items("associationSet", subnets, |w, s| {
        w.leaf("networkAclAssociationId", &s.acl_association_id)
            .leaf("networkAclId", &v.default_acl_id)
            .leaf("subnetId", &s.id);
    });
    w.leaf("ownerId", &v.account);
}

impl Ec2Output for PartsOutput {
    fn write(&self, w: &mut Ec2Writer) {
        if self.0 {
            w.items("routeTableSet", &self.1, |w, (v, _)| route_table(w, v));
        } else {
            w.items("networkAclSet", &self.1, |w, (v, s)| network_acl(w, v, s));
        }
        w.leaf_opt("nextToken", self.2.as_deref());
    }
}

impl<const ROUTES: bool> Operation for DescribeVpcPartsInput<ROUTES>
where
    Self: ferrogate_api::Registered<Service = Ec2> + ferrogate_api::Recorded,
{
    type Output = PartsOutput;

    fn authorize(&self, _: &Scope<'_, Ec2>) -> Result<Authorization, Ec2Error> {
        let action = if ROUTES {
            "ec2:DescribeRouteTables"
        } else {
            "ec2:DescribeNetworkAcls"
        };
        describing(action)
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Ec2>) -> Done<Self> {
        not_dry_run(op.dry_run)?;
        let (account, region) = (x.ctx.principal.account.as_str(), x.ctx.region);
        let tx = x.tx.read();
        let vpcs = all(tables::VPCS, tx, account, region)?;
        let subnets = all(tables::SUBNETS, tx, account, region)?;
        let id_of = |v: &Vpc| {
            if ROUTES {
                v.main_route_table.0.clone()
            } else {
                v.default_acl_id.clone()
            }
        };
        let found: Vec<String> = vpcs.iter().map(id_of).collect();
        let found: Vec<&str> = found.iter().map(String::as_str).collect();
        all_found(&op.ids, &found, |missing| {
            let kind = if ROUTES { "route table" } else { "network ACL" };
            Ec2Error::invalid(format!(
                "The {kind} ID '{}' does not exist",
                missing.join(", ")
            ))
        })?;
        let mut out = Vec::new();
        for v in vpcs {
            let mine: Vec<Subnet> = subnets
                .iter()
                .filter(|s| s.vpc_id == v.id)
                .cloned()
                .collect();
            let view = VpcParts(&v, mine.iter().collect());
            params::check_names(&view, &op.filters)?;
            let named = op.ids.is_empty() || op.ids.contains(&id_of(&v));
            if named && params::passes(&view, &op.filters)? {
                out.push((v, mine));
            }
        }
        out.sort_by_key(|(v, _)| id_of(v));
        let ids: Vec<String> = out.iter().map(|(v, _)| id_of(v)).collect();
        let (page, next) = op
            .page
            .apply(out.into_iter().zip(ids).collect(), |(_, id)| id.as_str())?;
        Ok(Reply::new(PartsOutput(
            ROUTES,
            page.into_iter().map(|(p, _)| p).collect(),
            next,
        )))
    }
}
