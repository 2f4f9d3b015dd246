//! `CreateVpc`, `DescribeVpcs`, `DeleteVpc`.

use super::{describing, not_dry_run};
use ferrogate_api::{
    Authorization, Authorized, Check, Done, Ec2Output, Ec2Return, Exec, Operation, Reply,
    RequestTags, Resource, Scope,
};
use ferrogate_wire::ec2::{Ec2Params, Ec2Writer};
use serde::Serialize;
use serde_json::json;

use super::{all_found, new_arn, vpc, vpc_resource};
use crate::cidr::Cidr;
use crate::defaults::new_vpc;
use crate::model::{all, key, tables, Tag, Vpc};
use crate::params::{self, Filter, Page};
use crate::{views, Ec2, Ec2Error};

/// VPCs per region (EC2 quota), the default VPC included.
pub const MAX_VPCS: usize = 5;

/// A VPC block from the request: a CIDR of /16 to /28.
pub(crate) fn vpc_block(s: &str) -> Result<Cidr, Ec2Error> {
    let c: Cidr = s.parse().map_err(|_| {
        Ec2Error::invalid(format!(
            "Value ({s}) for parameter cidrBlock is invalid. This is not a valid CIDR block."
        ))
    })?;
    if !(16..=28).contains(&c.prefix()) {
        return Err(Ec2Error::InvalidVpcRange(s.to_owned()));
    }
    Ok(c)
}

/// The check of `ec2:CreateTags` that tagging at creation needs (`ec2:CreateAction`).
pub(crate) fn create_tags_check(resource: Resource, tags: &[Tag], action: &str) -> Option<Check> {
    (!tags.is_empty()).then(|| {
        Check::new("ec2:CreateTags", resource, params::request_tags(tags))
            .key("ec2:CreateAction", vec![action.to_owned()])
    })
}

/// `CreateVpc`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateVpcInput {
    cidr_block: Cidr,
    tags: Vec<Tag>,
    dry_run: bool,
}

impl CreateVpcInput {
    pub(crate) fn decode(p: &Ec2Params<'_>) -> Result<Self, Ec2Error> {
        let cidr_block = vpc_block(params::required(p, "CidrBlock")?)?;
        if params::flag(p, "AmazonProvidedIpv6CidrBlock")? == Some(true) {
            return Err(Ec2Error::UnsupportedOperation(
                "IPv6 CIDR blocks are not supported by this endpoint.".into(),
            ));
        }
        match p.get("InstanceTenancy") {
            None | Some("default") => {}
            Some(other) => {
                return Err(Ec2Error::UnsupportedOperation(format!(
                    "The instance tenancy '{other}' is not supported by this endpoint."
                )))
            }
        }
        Ok(Self {
            cidr_block,
            tags: params::tag_specifications(p, "vpc")?,
            dry_run: params::dry_run(p)?,
        })
    }
}

/// `<vpc>`.
#[derive(Debug)]
pub struct VpcOutput(Vpc);

impl Ec2Output for VpcOutput {
    fn write(&self, w: &mut Ec2Writer) {
        w.open("vpc");
        views::vpc(w, &self.0);
        w.close("vpc");
    }
}

impl Operation for CreateVpcInput {
    type Output = VpcOutput;

    fn authorize(&self, s: &Scope<'_, Ec2>) -> Result<Authorization, Ec2Error> {
        let resource = new_arn(s.region, s.account(), "vpc");
        let auth = Authorization::of(Check::new(
            "ec2:CreateVpc",
            resource.clone(),
            params::request_tags(&self.tags),
        ));
        Ok(match create_tags_check(resource, &self.tags, "CreateVpc") {
            Some(c) => auth.and(c),
            None => auth,
        })
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Ec2>) -> Done<Self> {
        not_dry_run(op.dry_run)?;
        let Exec { mut tx, ctx, .. } = x;
        let (account, region) = (ctx.principal.account.as_str(), ctx.region);
        if all(tables::VPCS, tx.read(), account, region)?.len() >= MAX_VPCS {
            return Err(Ec2Error::VpcLimitExceeded);
        }
        let (mut v, group) = new_vpc(account, region, op.cidr_block, false, ctx.now)?;
        v.tags.clone_from(&op.tags);
        let w = tx.write()?;
        tables::VPCS.put(w, &key(account, region, &v.id), &v)?;
        tables::GROUPS.put(w, &key(account, region, &group.id), &group)?;
        let elements =
            json!({"vpc": {"vpcId": v.id, "cidrBlock": v.cidr.to_string(), "ownerId": account}});
        Ok(Reply::new(VpcOutput(v.clone()))
            .elements(elements)
            .resource("AWS::EC2::VPC", v.id))
    }
}

/// `DescribeVpcs`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeVpcsInput {
    vpc_ids: Vec<String>,
    filters: Vec<Filter>,
    page: Page,
    dry_run: bool,
}

impl DescribeVpcsInput {
    pub(crate) fn decode(p: &Ec2Params<'_>) -> Result<Self, Ec2Error> {
        Ok(Self {
            vpc_ids: params::ids(p, "VpcId"),
            filters: params::filters(p)?,
            page: params::page(p, 5)?,
            dry_run: params::dry_run(p)?,
        })
    }
}

/// `vpcSet` and `nextToken`.
#[derive(Debug)]
pub struct VpcsOutput(Vec<Vpc>, Option<String>);

impl Ec2Output for VpcsOutput {
    fn write(&self, w: &mut Ec2Writer) {
        w.items("vpcSet", &self.0, views::vpc);
        w.leaf_opt("nextToken", self.1.as_deref());
    }
}

impl Operation for DescribeVpcsInput {
    type Output = VpcsOutput;

    fn authorize(&self, _: &Scope<'_, Ec2>) -> Result<Authorization, Ec2Error> {
        describing("ec2:DescribeVpcs")
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Ec2>) -> Done<Self> {
        not_dry_run(op.dry_run)?;
        let (account, region) = (x.ctx.principal.account.as_str(), x.ctx.region);
        let vpcs = all(tables::VPCS, x.tx.read(), account, region)?;
        if let Some(probe) = vpcs.first() {
            params::check_names(probe, &op.filters)?;
        }
        let found: Vec<&str> = vpcs.iter().map(|v| v.id.as_str()).collect();
        all_found(&op.vpc_ids, &found, Ec2Error::InvalidVpcIdNotFound)?;
        let mut out = Vec::new();
        for v in vpcs {
            if (op.vpc_ids.is_empty() || op.vpc_ids.contains(&v.id))
                && params::passes(&v, &op.filters)?
            {
                out.push(v);
            }
        }
        let (out, next) = op.page.apply(out, |v| &v.id)?;
        Ok(Reply::new(VpcsOutput(out, next)))
    }
}

/// `DeleteVpc`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteVpcInput {
    vpc_id: String,
    dry_run: bool,
}

impl DeleteVpcInput {
    pub(crate) fn decode(p: &Ec2Params<'_>) -> Result<Self, Ec2Error> {
        Ok(Self {
            vpc_id: params::required(p, "VpcId")?.to_owned(),
            dry_run: params::dry_run(p)?,
        })
    }
}

impl Operation for DeleteVpcInput {
    type Output = Ec2Return;

    fn authorize(&self, s: &Scope<'_, Ec2>) -> Result<Authorization, Ec2Error> {
        Ok(Authorization::of(Check::new(
            "ec2:DeleteVpc",
            vpc_resource(s.tx, s.account(), s.region, &self.vpc_id)?,
            RequestTags::None,
        )))
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Ec2>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let (account, region) = (ctx.principal.account.as_str(), ctx.region);
        let v = vpc(tx.read(), account, region, &op.vpc_id)?;
        not_dry_run(op.dry_run)?;
        let r = tx.read();
        let in_use = all(tables::SUBNETS, r, account, region)?
            .iter()
            .any(|s| s.vpc_id == v.id)
            || all(tables::GROUPS, r, account, region)?
                .iter()
                .any(|g| g.vpc_id == v.id && g.id != v.default_group_id)
            || all(tables::INTERFACES, r, account, region)?
                .iter()
                .any(|i| i.vpc_id == v.id);
        if in_use {
            return Err(Ec2Error::DependencyViolation(format!(
                "The vpc '{}' has dependencies and cannot be deleted.",
                v.id
            )));
        }
        let w = tx.write()?;
        tables::GROUPS.delete(w, &key(account, region, &v.default_group_id))?;
        tables::VPCS.delete(w, &key(account, region, &v.id))?;
        Ok(Reply::new(Ec2Return)
            .elements(json!({"return": true}))
            .resource("AWS::EC2::VPC", v.id))
    }
}
