//! What exists before anyone asks: the region's availability zones, and in every account and
//! region a default VPC (`172.31.0.0/16`) with one default subnet per zone
//! (`172.31.0.0/20`, `172.31.16.0/20`, …) and its default security group, as AWS makes them
//! when it opens an account. Ferrogate makes them on the account's first EC2 request in the
//! region ([`crate::Ec2::before`]), once: a marker records that they were made, so a default
//! VPC the owner deleted stays deleted.

use ferrogate_store::{ReadTx, WriteTx};
use ferrogate_types::Timestamp;

use crate::cidr::Cidr;
use crate::ids::new_id;
use crate::model::{key, scope, tables, Defaults, SecurityGroup, Subnet, Vpc};
use crate::rule::{GroupRule, Peer, Traffic};
use crate::Ec2Error;

/// How many zones each region has here: three (`a`, `b`, `c`), whatever the region.
pub const ZONES: usize = 3;

/// An availability zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    /// `us-east-1a`.
    pub name: String,
    /// `use1-az1`.
    pub id: String,
}

/// The zones of `region`: names `<region>a`, `b`, `c`; ids as AWS spells them, the region's
/// short form and a number (`us-east-1` → `use1-az1`, `ap-southeast-2` → `apse2-az1`).
pub fn zones(region: &str) -> Vec<Zone> {
    let parts: Vec<&str> = region.split('-').collect();
    let short = match parts.as_slice() {
        [first, middle @ .., last] if !middle.is_empty() => {
            let mids: String = middle.iter().map(|m| short_word(m)).collect();
            format!("{first}{mids}{last}")
        }
        _ => region.replace('-', ""),
    };
    (0..ZONES)
        .map(|i| Zone {
            name: format!(
                "{region}{}",
                char::from(b'a' + u8::try_from(i).unwrap_or(0))
            ),
            id: format!("{short}-az{}", i + 1),
        })
        .collect()
}

/// `east` → `e`, `southeast` → `se`, `central` → `c`, `gov` → `g`.
fn short_word(w: &str) -> String {
    for half in ["north", "south"] {
        if let Some(rest) = w.strip_prefix(half) {
            return half[..1].to_owned() + rest.get(..1).unwrap_or_default();
        }
    }
    w.get(..1).unwrap_or_default().to_owned()
}

/// The zone named `name` in `region`.
pub fn zone(region: &str, name: &str) -> Option<Zone> {
    zones(region).into_iter().find(|z| z.name == name)
}

/// Whether the defaults of an account and region were made.
pub fn made(tx: &dyn ReadTx, account: &str, region: &str) -> Result<bool, Ec2Error> {
    Ok(tables::DEFAULTS.get(tx, &scope(account, region))?.is_some())
}

/// A new VPC and its default security group (not stored).
pub fn new_vpc(
    account: &str,
    region: &str,
    cidr: Cidr,
    is_default: bool,
    now: Timestamp,
) -> Result<(Vpc, SecurityGroup), Ec2Error> {
    let id = new_id("vpc")?;
    let group = SecurityGroup {
        account: account.to_owned(),
        region: region.to_owned(),
        id: new_id("sg")?,
        vpc_id: id.clone(),
        name: "default".into(),
        description: "default VPC security group".into(),
        ..empty_group()
    };
    let mut group = group;
    // Members of the default group reach each other; everything may go out.
    group.ingress.push(GroupRule {
        id: new_id("sgr")?,
        traffic: all_traffic(),
        peer: Peer::Group {
            group_id: group.id.clone(),
            user_id: account.to_owned(),
        },
        description: None,
        tags: Vec::new(),
    });
    group.egress.push(allow_all_egress()?);
    let vpc = Vpc {
        account: account.to_owned(),
        region: region.to_owned(),
        id,
        cidr,
        cidr_association_id: new_id("vpc-cidr-assoc")?,
        is_default,
        dhcp_options_id: new_id("dopt")?,
        dns_support: true,
        dns_hostnames: is_default,
        default_group_id: group.id.clone(),
        main_route_table: (new_id("rtb")?, new_id("rtbassoc")?),
        default_acl_id: new_id("acl")?,
        tags: Vec::new(),
        created: now,
    };
    Ok((vpc, group))
}

fn empty_group() -> SecurityGroup {
    SecurityGroup {
        account: String::new(),
        region: String::new(),
        id: String::new(),
        vpc_id: String::new(),
        name: String::new(),
        description: String::new(),
        ingress: Vec::new(),
        egress: Vec::new(),
        tags: Vec::new(),
    }
}

fn all_traffic() -> Traffic {
    Traffic {
        protocol: "-1".into(),
        from: -1,
        to: -1,
    }
}

/// The rule every new security group starts with: all traffic out to `0.0.0.0/0`.
pub fn allow_all_egress() -> Result<GroupRule, Ec2Error> {
    Ok(GroupRule {
        id: new_id("sgr")?,
        traffic: all_traffic(),
        peer: Peer::Cidr(Cidr::ANY),
        description: None,
        tags: Vec::new(),
    })
}

/// A new subnet (not stored).
pub fn new_subnet(
    vpc: &Vpc,
    cidr: Cidr,
    zone: &Zone,
    default_for_az: bool,
) -> Result<Subnet, Ec2Error> {
    Ok(Subnet {
        account: vpc.account.clone(),
        region: vpc.region.clone(),
        id: new_id("subnet")?,
        vpc_id: vpc.id.clone(),
        cidr,
        az: zone.name.clone(),
        az_id: zone.id.clone(),
        default_for_az,
        map_public_ip: default_for_az,
        acl_association_id: new_id("aclassoc")?,
        tags: Vec::new(),
    })
}

/// Everything the defaults of an account and region are, made off the writer.
#[derive(Debug)]
pub struct Plan {
    vpc: Vpc,
    group: SecurityGroup,
    subnets: Vec<Subnet>,
}

/// The default VPC, its group and its subnets for `account` in `region`.
pub fn plan(account: &str, region: &str, now: Timestamp) -> Result<Plan, Ec2Error> {
    let block: Cidr = "172.31.0.0/16"
        .parse()
        .map_err(|_| Ec2Error::invalid("172.31.0.0/16"))?;
    let (vpc, group) = new_vpc(account, region, block, true, now)?;
    let mut subnets = Vec::new();
    for (i, z) in zones(region).iter().enumerate() {
        let base = block
            .nth(u64::try_from(i).unwrap_or(0) * 4096)
            .ok_or_else(|| Ec2Error::invalid("no room for a default subnet"))?;
        let cidr = Cidr::new(base, 20).map_err(|_| Ec2Error::invalid("default subnet"))?;
        subnets.push(new_subnet(&vpc, cidr, z, true)?);
    }
    Ok(Plan {
        vpc,
        group,
        subnets,
    })
}

/// Stores `plan` unless the defaults were made meanwhile; true if it stored them.
pub fn apply(tx: &mut dyn WriteTx, plan: &Plan) -> Result<bool, Ec2Error> {
    let (account, region) = (&plan.vpc.account, &plan.vpc.region);
    if made(&*tx, account, region)? {
        return Ok(false);
    }
    tables::VPCS.put(tx, &key(account, region, &plan.vpc.id), &plan.vpc)?;
    tables::GROUPS.put(tx, &key(account, region, &plan.group.id), &plan.group)?;
    for s in &plan.subnets {
        tables::SUBNETS.put(tx, &key(account, region, &s.id), s)?;
    }
    tables::DEFAULTS.put(
        tx,
        &scope(account, region),
        &Defaults {
            vpc_id: plan.vpc.id.clone(),
        },
    )?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_names_and_ids() {
        let z = zones("us-east-1");
        assert_eq!(z.len(), 3);
        assert_eq!(
            (z[0].name.as_str(), z[0].id.as_str()),
            ("us-east-1a", "use1-az1")
        );
        assert_eq!(z[2].name, "us-east-1c");
        assert_eq!(zones("ap-southeast-2")[1].id, "apse2-az2");
        assert_eq!(zones("us-gov-west-1")[0].id, "usgw1-az1");
        assert!(zone("eu-west-1", "eu-west-1b").is_some());
        assert!(zone("eu-west-1", "eu-west-1z").is_none());
    }

    #[test]
    fn the_default_vpc_is_as_aws_makes_it() {
        let p = plan(
            "111122223333",
            "us-east-1",
            Timestamp::from_epoch_seconds_f64(0.0).unwrap(),
        )
        .unwrap();
        assert_eq!(p.vpc.cidr.to_string(), "172.31.0.0/16");
        assert!(p.vpc.is_default);
        let blocks: Vec<String> = p.subnets.iter().map(|s| s.cidr.to_string()).collect();
        assert_eq!(
            blocks,
            ["172.31.0.0/20", "172.31.16.0/20", "172.31.32.0/20"]
        );
        assert!(p
            .subnets
            .iter()
            .all(|s| s.default_for_az && s.map_public_ip));
        assert_eq!(p.group.name, "default");
        assert_eq!(p.group.ingress.len(), 1);
        assert_eq!(
            p.group.ingress[0].peer,
            Peer::Group {
                group_id: p.group.id.clone(),
                user_id: "111122223333".into()
            }
        );
        assert_eq!(p.group.egress[0].peer, Peer::Cidr(Cidr::ANY));
    }
}
