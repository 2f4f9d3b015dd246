//! `DescribeAvailabilityZones` and `DescribeAccountAttributes`: facts of the region and the
//! account, no resources.

use super::{describing, not_dry_run};
use ferrogate_api::{Authorization, Authorized, Done, Ec2Output, Exec, Operation, Reply, Scope};
use ferrogate_wire::ec2::{Ec2Params, Ec2Writer};
use serde::Serialize;

use super::default_vpc;
use crate::defaults::{zones, Zone};
use crate::model::Tag;
use crate::params::{self, Filter, Filterable};
use crate::{Ec2, Ec2Error};

/// `DescribeAvailabilityZones`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeAvailabilityZonesInput {
    zone_names: Vec<String>,
    zone_ids: Vec<String>,
    filters: Vec<Filter>,
    dry_run: bool,
}

impl DescribeAvailabilityZonesInput {
    pub(crate) fn decode(p: &Ec2Params<'_>) -> Result<Self, Ec2Error> {
        // Every zone here is opted in: all zones and the opted-in ones are the same.
        let _ = params::flag(p, "AllAvailabilityZones")?;
        Ok(Self {
            zone_names: params::ids(p, "ZoneName"),
            zone_ids: params::ids(p, "ZoneId"),
            filters: params::filters(p)?,
            dry_run: params::dry_run(p)?,
        })
    }
}

/// A zone of a region, as filters see it.
struct ZoneView<'a>(&'a Zone, &'a str);

impl Filterable for ZoneView<'_> {
    fn field(&self, name: &str) -> Option<Vec<String>> {
        Some(match name {
            "zone-name" => vec![self.0.name.clone()],
            "zone-id" => vec![self.0.id.clone()],
            "region-name" | "group-name" | "network-border-group" => vec![self.1.to_owned()],
            "state" => vec!["available".into()],
            "zone-type" => vec!["availability-zone".into()],
            "opt-in-status" => vec!["opt-in-not-required".into()],
            _ => return None,
        })
    }
    fn tags(&self) -> &[Tag] {
        &[]
    }
}

/// `availabilityZoneInfo`.
#[derive(Debug)]
pub struct ZonesOutput(String, Vec<Zone>);

impl Ec2Output for ZonesOutput {
    fn write(&self, w: &mut Ec2Writer) {
        let region = &self.0;
        w.items("availabilityZoneInfo", &self.1, |w, z| {
            w.leaf("optInStatus", "opt-in-not-required")
                .leaf("zoneName", &z.name)
                .leaf("zoneId", &z.id)
                .leaf("zoneState", "available")
                .leaf("regionName", region)
                .leaf("groupName", region)
                .leaf("networkBorderGroup", region)
                .leaf("zoneType", "availability-zone");
            w.items("messageSet", std::iter::empty::<()>(), |_, ()| {});
        });
    }
}

impl Operation for DescribeAvailabilityZonesInput {
    type Output = ZonesOutput;

    fn authorize(&self, _: &Scope<'_, Ec2>) -> Result<Authorization, Ec2Error> {
        describing("ec2:DescribeAvailabilityZones")
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Ec2>) -> Done<Self> {
        not_dry_run(op.dry_run)?;
        let region = x.ctx.region;
        let all = zones(region);
        for n in &op.zone_names {
            if !all.iter().any(|z| &z.name == n) {
                return Err(Ec2Error::invalid(format!("The zone '{n}' does not exist.")));
            }
        }
        for i in &op.zone_ids {
            if !all.iter().any(|z| &z.id == i) {
                return Err(Ec2Error::invalid(format!(
                    "The zone id '{i}' does not exist."
                )));
            }
        }
        let mut out = Vec::new();
        for z in all {
            let named = (op.zone_names.is_empty() && op.zone_ids.is_empty())
                || op.zone_names.contains(&z.name)
                || op.zone_ids.contains(&z.id);
            if named && params::passes(&ZoneView(&z, region), &op.filters)? {
                out.push(z);
            }
        }
        Ok(Reply::new(ZonesOutput(region.to_owned(), out)))
    }
}

/// `DescribeAccountAttributes`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeAccountAttributesInput {
    attribute_names: Vec<String>,
    dry_run: bool,
}

impl DescribeAccountAttributesInput {
    pub(crate) fn decode(p: &Ec2Params<'_>) -> Result<Self, Ec2Error> {
        Ok(Self {
            attribute_names: params::ids(p, "AttributeName"),
            dry_run: params::dry_run(p)?,
        })
    }
}

/// `accountAttributeSet`.
#[derive(Debug)]
pub struct AttributesOutput(Vec<(&'static str, Vec<String>)>);

impl Ec2Output for AttributesOutput {
    fn write(&self, w: &mut Ec2Writer) {
        w.items("accountAttributeSet", &self.0, |w, (name, values)| {
            w.leaf("attributeName", name);
            w.items("attributeValueSet", values, |w, v| {
                w.leaf("attributeValue", v);
            });
        });
    }
}

/// The attributes AWS reports, with the quotas Ferrogate enforces.
const ATTRIBUTES: [&str; 6] = [
    "supported-platforms",
    "vpc-max-security-groups-per-interface",
    "max-elastic-ips",
    "max-instances",
    "vpc-max-elastic-ips",
    "default-vpc",
];

impl Operation for DescribeAccountAttributesInput {
    type Output = AttributesOutput;

    fn authorize(&self, _: &Scope<'_, Ec2>) -> Result<Authorization, Ec2Error> {
        describing("ec2:DescribeAccountAttributes")
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Ec2>) -> Done<Self> {
        not_dry_run(op.dry_run)?;
        for n in &op.attribute_names {
            if !ATTRIBUTES.contains(&n.as_str()) {
                return Err(Ec2Error::invalid(format!(
                    "Value ({n}) for parameter attributeName is invalid. Unknown attribute."
                )));
            }
        }
        let default = default_vpc(x.tx.read(), x.ctx.principal.account.as_str(), x.ctx.region)?
            .map_or_else(|| "none".to_owned(), |v| v.id);
        let mut out = Vec::new();
        for name in ATTRIBUTES {
            if !op.attribute_names.is_empty() && !op.attribute_names.iter().any(|n| n == name) {
                continue;
            }
            let values = match name {
                "supported-platforms" => vec!["VPC".to_owned()],
                "vpc-max-security-groups-per-interface" => vec!["5".to_owned()],
                "max-elastic-ips" | "vpc-max-elastic-ips" => vec!["0".to_owned()],
                "max-instances" => vec!["0".to_owned()],
                _ => vec![default.clone()],
            };
            out.push((name, values));
        }
        Ok(Reply::new(AttributesOutput(out)))
    }
}
