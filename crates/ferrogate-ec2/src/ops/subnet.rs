//! `CreateSubnet`, `DescribeSubnets`, `DeleteSubnet`.

use super::{describing, not_dry_run};
use ferrogate_api::{
    Authorization, Authorized, Check, Done, Ec2Output, Ec2Return, Exec, Operation, Reply,
    RequestTags, Resource, Scope,
};
use ferrogate_wire::ec2::{Ec2Params, Ec2Writer};
use serde::Serialize;
use serde_json::json;

use super::vpc::create_tags_check;
use super::{all_found, find_subnet, free_addresses, new_arn, vpc, vpc_resource};
use crate::cidr::Cidr;
use crate::defaults::{new_subnet, zones};
use crate::model::{all, arn, key, tables, Subnet, Tag};
use crate::params::{self, Filter, Page};
use crate::views::{self, SubnetView};
use crate::{Ec2, Ec2Error};

/// Subnets per VPC (EC2 quota).
pub const MAX_SUBNETS: usize = 200;

/// `CreateSubnet`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateSubnetInput {
    vpc_id: String,
    cidr_block: Cidr,
    availability_zone: Option<String>,
    availability_zone_id: Option<String>,
    tags: Vec<Tag>,
    dry_run: bool,
}

impl CreateSubnetInput {
    pub(crate) fn decode(p: &Ec2Params<'_>) -> Result<Self, Ec2Error> {
        let vpc_id = params::required(p, "VpcId")?.to_owned();
        let block = params::required(p, "CidrBlock")?;
        let cidr_block: Cidr = block.parse().map_err(|_| {
            Ec2Error::invalid(format!(
                "Value ({block}) for parameter cidrBlock is invalid. This is not a valid CIDR block."
            ))
        })?;
        let availability_zone = p.get("AvailabilityZone").map(str::to_owned);
        let availability_zone_id = p.get("AvailabilityZoneId").map(str::to_owned);
        if availability_zone.is_some() && availability_zone_id.is_some() {
            return Err(Ec2Error::InvalidParameterCombination(
                "Only one of availabilityZone or availabilityZoneId may be specified".into(),
            ));
        }
        if p.get("Ipv6CidrBlock").is_some() || params::flag(p, "Ipv6Native")? == Some(true) {
            return Err(Ec2Error::UnsupportedOperation(
                "IPv6 CIDR blocks are not supported by this endpoint.".into(),
            ));
        }
        Ok(Self {
            vpc_id,
            cidr_block,
            availability_zone,
            availability_zone_id,
            tags: params::tag_specifications(p, "subnet")?,
            dry_run: params::dry_run(p)?,
        })
    }
}

/// `<subnet>`.
#[derive(Debug)]
pub struct SubnetOutput(Subnet, u64);

impl Ec2Output for SubnetOutput {
    fn write(&self, w: &mut Ec2Writer) {
        w.open("subnet");
        views::subnet(w, &self.0, self.1);
        w.close("subnet");
    }
}

impl Operation for CreateSubnetInput {
    type Output = SubnetOutput;

    fn authorize(&self, s: &Scope<'_, Ec2>) -> Result<Authorization, Ec2Error> {
        let subnet = new_arn(s.region, s.account(), "subnet");
        let auth = Authorization::all(
            Check::new(
                "ec2:CreateSubnet",
                subnet.clone(),
                params::request_tags(&self.tags),
            ),
            [Check::new(
                "ec2:CreateSubnet",
                vpc_resource(s.tx, s.account(), s.region, &self.vpc_id)?,
                RequestTags::None,
            )],
        );
        Ok(
            match create_tags_check(subnet, &self.tags, "CreateSubnet") {
                Some(c) => auth.and(c),
                None => auth,
            },
        )
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Ec2>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let (account, region) = (ctx.principal.account.as_str(), ctx.region);
        let v = vpc(tx.read(), account, region, &op.vpc_id)?;
        let c = op.cidr_block;
        if !(16..=28).contains(&c.prefix()) || !v.cidr.contains_block(&c) {
            return Err(Ec2Error::InvalidSubnetRange(c.to_string()));
        }
        let zs = zones(region);
        let zone = match (&op.availability_zone, &op.availability_zone_id) {
            (Some(name), _) => zs.iter().find(|z| &z.name == name).ok_or_else(|| {
                let names: Vec<&str> = zs.iter().map(|z| z.name.as_str()).collect();
                Ec2Error::invalid(format!(
                    "Value ({name}) for parameter availabilityZone is invalid. Subnets can currently only be created in the following availability zones: {}.",
                    names.join(", ")
                ))
            })?,
            (None, Some(id)) => zs.iter().find(|z| &z.id == id).ok_or_else(|| {
                Ec2Error::invalid(format!(
                    "Value ({id}) for parameter availabilityZoneId is invalid."
                ))
            })?,
            (None, None) => &zs[0],
        };
        let siblings: Vec<Subnet> = all(tables::SUBNETS, tx.read(), account, region)?
            .into_iter()
            .filter(|s| s.vpc_id == v.id)
            .collect();
        if siblings.iter().any(|s| s.cidr.overlaps(&c)) {
            return Err(Ec2Error::InvalidSubnetConflict(c.to_string()));
        }
        if siblings.len() >= MAX_SUBNETS {
            return Err(Ec2Error::invalid(format!(
                "The maximum number of subnets ({MAX_SUBNETS}) for VPC '{}' has been reached.",
                v.id
            )));
        }
        not_dry_run(op.dry_run)?;
        let mut s = new_subnet(&v, c, zone, false)?;
        s.tags.clone_from(&op.tags);
        tables::SUBNETS.put(tx.write()?, &key(account, region, &s.id), &s)?;
        let free = c.size().saturating_sub(5);
        let elements = json!({"subnet": {"subnetId": s.id, "vpcId": s.vpc_id, "cidrBlock": c.to_string(), "availabilityZone": s.az}});
        let id = s.id.clone();
        Ok(Reply::new(SubnetOutput(s, free))
            .elements(elements)
            .resource("AWS::EC2::Subnet", id))
    }
}

/// `DescribeSubnets`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeSubnetsInput {
    subnet_ids: Vec<String>,
    filters: Vec<Filter>,
    page: Page,
    dry_run: bool,
}

impl DescribeSubnetsInput {
    pub(crate) fn decode(p: &Ec2Params<'_>) -> Result<Self, Ec2Error> {
        Ok(Self {
            subnet_ids: params::ids(p, "SubnetId"),
            filters: params::filters(p)?,
            page: params::page(p, 5)?,
            dry_run: params::dry_run(p)?,
        })
    }
}

/// `subnetSet` and `nextToken`.
#[derive(Debug)]
pub struct SubnetsOutput(Vec<(Subnet, u64)>, Option<String>);

impl Ec2Output for SubnetsOutput {
    fn write(&self, w: &mut Ec2Writer) {
        w.items("subnetSet", &self.0, |w, (s, free)| {
            views::subnet(w, s, *free)
        });
        w.leaf_opt("nextToken", self.1.as_deref());
    }
}

impl Operation for DescribeSubnetsInput {
    type Output = SubnetsOutput;

    fn authorize(&self, _: &Scope<'_, Ec2>) -> Result<Authorization, Ec2Error> {
        describing("ec2:DescribeSubnets")
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Ec2>) -> Done<Self> {
        not_dry_run(op.dry_run)?;
        let (account, region) = (x.ctx.principal.account.as_str(), x.ctx.region);
        let tx = x.tx.read();
        let subnets = all(tables::SUBNETS, tx, account, region)?;
        let found: Vec<&str> = subnets.iter().map(|s| s.id.as_str()).collect();
        all_found(&op.subnet_ids, &found, Ec2Error::InvalidSubnetIdNotFound)?;
        let mut out = Vec::new();
        for s in subnets {
            let free = free_addresses(tx, &s)?;
            params::check_names(&SubnetView(&s, free), &op.filters)?;
            let wanted = op.subnet_ids.is_empty() || op.subnet_ids.contains(&s.id);
            if wanted && params::passes(&SubnetView(&s, free), &op.filters)? {
                out.push((s, free));
            }
        }
        let (out, next) = op.page.apply(out, |(s, _)| &s.id)?;
        Ok(Reply::new(SubnetsOutput(out, next)))
    }
}

/// `DeleteSubnet`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteSubnetInput {
    subnet_id: String,
    dry_run: bool,
}

impl DeleteSubnetInput {
    pub(crate) fn decode(p: &Ec2Params<'_>) -> Result<Self, Ec2Error> {
        Ok(Self {
            subnet_id: params::required(p, "SubnetId")?.to_owned(),
            dry_run: params::dry_run(p)?,
        })
    }
}

impl Operation for DeleteSubnetInput {
    type Output = Ec2Return;

    fn authorize(&self, s: &Scope<'_, Ec2>) -> Result<Authorization, Ec2Error> {
        let resource = match find_subnet(s.tx, s.account(), s.region, &self.subnet_id)? {
            Some(sn) => Resource::Existing {
                arn: sn.arn(),
                tags: params::pairs(&sn.tags),
            },
            None => Resource::Named(arn(s.region, s.account(), "subnet", &self.subnet_id)),
        };
        Ok(Authorization::of(Check::new(
            "ec2:DeleteSubnet",
            resource,
            RequestTags::None,
        )))
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Ec2>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let (account, region) = (ctx.principal.account.as_str(), ctx.region);
        let s = find_subnet(tx.read(), account, region, &op.subnet_id)?
            .ok_or_else(|| Ec2Error::InvalidSubnetIdNotFound(vec![op.subnet_id.clone()]))?;
        if all(tables::INTERFACES, tx.read(), account, region)?
            .iter()
            .any(|i| i.subnet_id == s.id)
        {
            return Err(Ec2Error::DependencyViolation(format!(
                "The subnet '{}' has dependencies and cannot be deleted.",
                s.id
            )));
        }
        not_dry_run(op.dry_run)?;
        tables::SUBNETS.delete(tx.write()?, &key(account, region, &s.id))?;
        Ok(Reply::new(Ec2Return)
            .elements(json!({"return": true}))
            .resource("AWS::EC2::Subnet", s.id))
    }
}
