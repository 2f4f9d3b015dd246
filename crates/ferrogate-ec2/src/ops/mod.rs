//! The operations, one file per resource, and what they share: finding a resource by id and
//! naming it for authorization.

pub mod attrs;
pub mod group;
pub mod info;
pub mod interfaces;
pub mod rules;
pub mod subnet;
pub mod tags;
pub mod vpc;

use ferrogate_api::{Authorization, Check, RequestTags, Resource};
use ferrogate_store::{Direction, ReadTx};

use crate::model::{arn, key, subnet_addresses, tables, SecurityGroup, Subnet, Vpc};
use crate::params::pairs;
use crate::Ec2Error;

/// What a Describe action is authorized on: no resource type (`*`), as on AWS.
pub fn describing(action: &str) -> Result<Authorization, Ec2Error> {
    Ok(Authorization::of(Check::new(
        action,
        Resource::Any,
        RequestTags::None,
    )))
}

/// `DryRun=true`: authorized, then answered `DryRunOperation` without running.
pub fn not_dry_run(dry_run: bool) -> Result<(), Ec2Error> {
    if dry_run {
        Err(Ec2Error::DryRunOperation)
    } else {
        Ok(())
    }
}

/// `arn:aws:ec2:<region>:<account>:<kind>/*`: a resource the request creates (its id is
/// made when it runs, as EC2 authorizes it).
pub fn new_arn(region: &str, account: &str, kind: &str) -> Resource {
    Resource::New(arn(region, account, kind, "*"))
}

/// A VPC by id.
pub fn find_vpc(
    tx: &dyn ReadTx,
    account: &str,
    region: &str,
    id: &str,
) -> Result<Option<Vpc>, Ec2Error> {
    Ok(tables::VPCS.get(tx, &key(account, region, id))?)
}

/// A VPC by id, or `InvalidVpcID.NotFound`.
pub fn vpc(tx: &dyn ReadTx, account: &str, region: &str, id: &str) -> Result<Vpc, Ec2Error> {
    find_vpc(tx, account, region, id)?
        .ok_or_else(|| Ec2Error::InvalidVpcIdNotFound(vec![id.to_owned()]))
}

/// The VPC as an authorized resource (its tags), or its ARN as named.
pub fn vpc_resource(
    tx: &dyn ReadTx,
    account: &str,
    region: &str,
    id: &str,
) -> Result<Resource, Ec2Error> {
    Ok(match find_vpc(tx, account, region, id)? {
        Some(v) => Resource::Existing {
            arn: v.arn(),
            tags: pairs(&v.tags),
        },
        None => Resource::Named(arn(region, account, "vpc", id)),
    })
}

/// A subnet by id.
pub fn find_subnet(
    tx: &dyn ReadTx,
    account: &str,
    region: &str,
    id: &str,
) -> Result<Option<Subnet>, Ec2Error> {
    Ok(tables::SUBNETS.get(tx, &key(account, region, id))?)
}

/// A security group by id.
pub fn find_group(
    tx: &dyn ReadTx,
    account: &str,
    region: &str,
    id: &str,
) -> Result<Option<SecurityGroup>, Ec2Error> {
    Ok(tables::GROUPS.get(tx, &key(account, region, id))?)
}

/// A security group by id, or `InvalidGroup.NotFound`.
pub fn group(
    tx: &dyn ReadTx,
    account: &str,
    region: &str,
    id: &str,
) -> Result<SecurityGroup, Ec2Error> {
    find_group(tx, account, region, id)?
        .ok_or_else(|| Ec2Error::InvalidGroupNotFound(vec![id.to_owned()]))
}

/// The account's default VPC in the region, if it has one.
pub fn default_vpc(tx: &dyn ReadTx, account: &str, region: &str) -> Result<Option<Vpc>, Ec2Error> {
    let Some(d) = tables::DEFAULTS.get(tx, &crate::model::scope(account, region))? else {
        return Ok(None);
    };
    find_vpc(tx, account, region, &d.vpc_id)
}

/// How a request names a security group: by id, or by name in the default VPC.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum GroupRef {
    /// `GroupId`.
    Id(String),
    /// `GroupName` (default VPC).
    Name(String),
}

/// Finds a group as the request names it.
pub fn resolve_group(
    tx: &dyn ReadTx,
    account: &str,
    region: &str,
    r: &GroupRef,
) -> Result<SecurityGroup, Ec2Error> {
    match r {
        GroupRef::Id(id) => group(tx, account, region, id),
        GroupRef::Name(name) => {
            let vpc = default_vpc(tx, account, region)?.ok_or(Ec2Error::VpcIdNotSpecified)?;
            crate::model::all(tables::GROUPS, tx, account, region)?
                .into_iter()
                .find(|g| g.vpc_id == vpc.id && &g.name == name)
                .ok_or(Ec2Error::InvalidGroupNameNotFound {
                    name: name.clone(),
                    vpc_id: vpc.id,
                })
        }
    }
}

/// The group as an authorized resource, or its ARN as named (by id) or `*` (by a name that
/// names nothing).
pub fn group_resource(
    tx: &dyn ReadTx,
    account: &str,
    region: &str,
    r: &GroupRef,
) -> Result<Resource, Ec2Error> {
    Ok(match resolve_group(tx, account, region, r) {
        Ok(g) => Resource::Existing {
            arn: g.arn(),
            tags: pairs(&g.tags),
        },
        Err(Ec2Error::Internal(e)) => return Err(Ec2Error::Internal(e)),
        Err(_) => match r {
            GroupRef::Id(id) => Resource::Named(arn(region, account, "security-group", id)),
            GroupRef::Name(_) => Resource::Named(arn(region, account, "security-group", "*")),
        },
    })
}

/// How many addresses of `s` are free: its size less the five EC2 reserves (network, router,
/// DNS, future use, broadcast) and those in use.
pub fn free_addresses(tx: &dyn ReadTx, s: &Subnet) -> Result<u64, Ec2Error> {
    let used = tables::ADDRESSES
        .scan(
            tx,
            &subnet_addresses(&s.account, &s.region, &s.id),
            None,
            Direction::Forward,
            crate::model::SCAN_LIMIT,
        )?
        .len();
    Ok(s.cidr
        .size()
        .saturating_sub(5)
        .saturating_sub(u64::try_from(used).unwrap_or(u64::MAX)))
}

/// Refuses ids that name nothing: `missing` lists them, in request order.
pub fn all_found(
    asked: &[String],
    found: &[&str],
    err: impl FnOnce(Vec<String>) -> Ec2Error,
) -> Result<(), Ec2Error> {
    let missing: Vec<String> = asked
        .iter()
        .filter(|a| !found.contains(&a.as_str()))
        .cloned()
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(err(missing))
    }
}
