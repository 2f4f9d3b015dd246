//! `CreateSecurityGroup`, `DescribeSecurityGroups`, `DeleteSecurityGroup`.

use super::{describing, not_dry_run};
use ferrogate_api::{
    Authorization, Authorized, Check, Done, Ec2Output, Exec, Operation, Reply, RequestTags, Scope,
};
use ferrogate_wire::ec2::{Ec2Params, Ec2Writer};
use serde::Serialize;
use serde_json::json;

use super::vpc::create_tags_check;
use super::{
    all_found, default_vpc, group_resource, new_arn, resolve_group, vpc, vpc_resource, GroupRef,
};
use crate::defaults::allow_all_egress;
use crate::ids::{is_id, new_id};
use crate::model::{all, key, tables, SecurityGroup, Tag};
use crate::params::{self, Filter, Page};
use crate::rule::Peer;
use crate::{views, Ec2, Ec2Error};

/// Security groups per region (EC2 quota).
pub const MAX_GROUPS: usize = 2500;

/// Names and descriptions: "Constraints: Up to 255 characters in length. Constraints for EC2-VPC:
/// a-z, A-Z, 0-9, spaces, and ._-:/()#,@[]+=&;{}!$*" (EC2 API reference, CreateSecurityGroup).
fn check_text(value: &str, parameter: &str) -> Result<(), Ec2Error> {
    if value.chars().count() > 255 {
        return Err(Ec2Error::invalid(format!(
            "Value ({value}) for parameter {parameter} is invalid. Value exceeds the maximum length of 255 characters."
        )));
    }
    let ok = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || " ._-:/()#,@[]+=&;{}!$*".contains(c));
    if !ok {
        return Err(Ec2Error::invalid(format!(
            "Value ({value}) for parameter {parameter} is invalid. Character sets beyond ASCII are not supported."
        )));
    }
    Ok(())
}

/// `CreateSecurityGroup`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateSecurityGroupInput {
    group_name: String,
    group_description: String,
    vpc_id: Option<String>,
    tags: Vec<Tag>,
    dry_run: bool,
}

impl CreateSecurityGroupInput {
    pub(crate) fn decode(p: &Ec2Params<'_>) -> Result<Self, Ec2Error> {
        let group_name = params::required(p, "GroupName")?.to_owned();
        let group_description = params::required(p, "GroupDescription")?.to_owned();
        check_text(&group_name, "groupName")?;
        check_text(&group_description, "GroupDescription")?;
        if group_name.to_ascii_lowercase().starts_with("sg-") {
            return Err(Ec2Error::invalid(
                "Group names may not be in the format sg-*.",
            ));
        }
        Ok(Self {
            group_name,
            group_description,
            vpc_id: p.get("VpcId").map(str::to_owned),
            tags: params::tag_specifications(p, "security-group")?,
            dry_run: params::dry_run(p)?,
        })
    }

    /// The VPC named, or the default VPC.
    fn target_vpc(
        &self,
        tx: &dyn ferrogate_store::ReadTx,
        account: &str,
        region: &str,
    ) -> Result<Option<String>, Ec2Error> {
        Ok(match &self.vpc_id {
            Some(v) => Some(v.clone()),
            None => default_vpc(tx, account, region)?.map(|v| v.id),
        })
    }
}

/// `return`, `groupId`, `securityGroupArn`, `tagSet`.
#[derive(Debug)]
pub struct CreatedGroup(SecurityGroup);

impl Ec2Output for CreatedGroup {
    fn write(&self, w: &mut Ec2Writer) {
        w.flag("return", true)
            .leaf("groupId", &self.0.id)
            .leaf("securityGroupArn", &self.0.arn());
        views::tag_set(w, &self.0.tags);
    }
}

impl Operation for CreateSecurityGroupInput {
    type Output = CreatedGroup;

    fn authorize(&self, s: &Scope<'_, Ec2>) -> Result<Authorization, Ec2Error> {
        let group = new_arn(s.region, s.account(), "security-group");
        let mut auth = Authorization::of(Check::new(
            "ec2:CreateSecurityGroup",
            group.clone(),
            params::request_tags(&self.tags),
        ));
        if let Some(v) = self.target_vpc(s.tx, s.account(), s.region)? {
            auth = auth.and(Check::new(
                "ec2:CreateSecurityGroup",
                vpc_resource(s.tx, s.account(), s.region, &v)?,
                RequestTags::None,
            ));
        }
        Ok(
            match create_tags_check(group, &self.tags, "CreateSecurityGroup") {
                Some(c) => auth.and(c),
                None => auth,
            },
        )
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Ec2>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let (account, region) = (ctx.principal.account.as_str(), ctx.region);
        let vpc_id = op
            .target_vpc(tx.read(), account, region)?
            .ok_or(Ec2Error::VpcIdNotSpecified)?;
        let v = vpc(tx.read(), account, region, &vpc_id)?;
        let groups = all(tables::GROUPS, tx.read(), account, region)?;
        if groups
            .iter()
            .any(|g| g.vpc_id == v.id && g.name == op.group_name)
        {
            return Err(Ec2Error::InvalidGroupDuplicate {
                name: op.group_name.clone(),
                vpc_id: v.id,
            });
        }
        if groups.len() >= MAX_GROUPS {
            return Err(Ec2Error::SecurityGroupLimitExceeded);
        }
        not_dry_run(op.dry_run)?;
        let g = SecurityGroup {
            account: account.to_owned(),
            region: region.to_owned(),
            id: new_id("sg")?,
            vpc_id: v.id,
            name: op.group_name.clone(),
            description: op.group_description.clone(),
            ingress: Vec::new(),
            // Every new group may send anything anywhere until told otherwise.
            egress: vec![allow_all_egress()?],
            tags: op.tags.clone(),
        };
        tables::GROUPS.put(tx.write()?, &key(account, region, &g.id), &g)?;
        let elements = json!({"_return": true, "groupId": g.id, "securityGroupArn": g.arn()});
        let id = g.id.clone();
        Ok(Reply::new(CreatedGroup(g))
            .elements(elements)
            .resource("AWS::EC2::SecurityGroup", id))
    }
}

/// `DescribeSecurityGroups`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeSecurityGroupsInput {
    group_ids: Vec<String>,
    group_names: Vec<String>,
    filters: Vec<Filter>,
    page: Page,
    dry_run: bool,
}

impl DescribeSecurityGroupsInput {
    pub(crate) fn decode(p: &Ec2Params<'_>) -> Result<Self, Ec2Error> {
        let group_ids = params::ids(p, "GroupId");
        if let Some(bad) = group_ids.iter().find(|g| !is_id("sg", g)) {
            return Err(Ec2Error::InvalidGroupIdMalformed(bad.clone()));
        }
        Ok(Self {
            group_ids,
            group_names: params::ids(p, "GroupName"),
            filters: params::filters(p)?,
            page: params::page(p, 5)?,
            dry_run: params::dry_run(p)?,
        })
    }
}

/// `securityGroupInfo` and `nextToken`.
#[derive(Debug)]
pub struct GroupsOutput(Vec<SecurityGroup>, Option<String>);

impl Ec2Output for GroupsOutput {
    fn write(&self, w: &mut Ec2Writer) {
        w.items("securityGroupInfo", &self.0, views::group);
        w.leaf_opt("nextToken", self.1.as_deref());
    }
}

impl Operation for DescribeSecurityGroupsInput {
    type Output = GroupsOutput;

    fn authorize(&self, _: &Scope<'_, Ec2>) -> Result<Authorization, Ec2Error> {
        describing("ec2:DescribeSecurityGroups")
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Ec2>) -> Done<Self> {
        not_dry_run(op.dry_run)?;
        let (account, region) = (x.ctx.principal.account.as_str(), x.ctx.region);
        let tx = x.tx.read();
        let groups = all(tables::GROUPS, tx, account, region)?;
        let found: Vec<&str> = groups.iter().map(|g| g.id.as_str()).collect();
        all_found(&op.group_ids, &found, Ec2Error::InvalidGroupNotFound)?;
        let mut by_name = Vec::new();
        for n in &op.group_names {
            by_name.push(resolve_group(tx, account, region, &GroupRef::Name(n.clone()))?.id);
        }
        let mut out = Vec::new();
        for g in groups {
            params::check_names(&g, &op.filters)?;
            let named = (op.group_ids.is_empty() && op.group_names.is_empty())
                || op.group_ids.contains(&g.id)
                || by_name.contains(&g.id);
            if named && params::passes(&g, &op.filters)? {
                out.push(g);
            }
        }
        let (out, next) = op.page.apply(out, |g| &g.id)?;
        Ok(Reply::new(GroupsOutput(out, next)))
    }
}

/// `DeleteSecurityGroup`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteSecurityGroupInput {
    group: GroupRef,
    dry_run: bool,
}

impl DeleteSecurityGroupInput {
    pub(crate) fn decode(p: &Ec2Params<'_>) -> Result<Self, Ec2Error> {
        Ok(Self {
            group: group_ref(p)?,
            dry_run: params::dry_run(p)?,
        })
    }
}

/// `GroupId`, or `GroupName` (a group of the default VPC).
pub(crate) fn group_ref(p: &Ec2Params<'_>) -> Result<GroupRef, Ec2Error> {
    match (p.get("GroupId"), p.get("GroupName")) {
        (Some(id), None) if is_id("sg", id) => Ok(GroupRef::Id(id.to_owned())),
        (Some(id), None) => Err(Ec2Error::InvalidGroupIdMalformed(id.to_owned())),
        (None, Some(name)) if !name.is_empty() => Ok(GroupRef::Name(name.to_owned())),
        (Some(_), Some(_)) => Err(Ec2Error::InvalidParameterCombination(
            "The parameter 'groupName' may not be used in combination with 'groupId'".into(),
        )),
        _ => Err(Ec2Error::MissingParameter("GroupId or GroupName".into())),
    }
}

/// `return`, `groupId`.
#[derive(Debug)]
pub struct DeletedGroup(String);

impl Ec2Output for DeletedGroup {
    fn write(&self, w: &mut Ec2Writer) {
        w.flag("return", true).leaf("groupId", &self.0);
    }
}

impl Operation for DeleteSecurityGroupInput {
    type Output = DeletedGroup;

    fn authorize(&self, s: &Scope<'_, Ec2>) -> Result<Authorization, Ec2Error> {
        Ok(Authorization::of(Check::new(
            "ec2:DeleteSecurityGroup",
            group_resource(s.tx, s.account(), s.region, &self.group)?,
            RequestTags::None,
        )))
    }

    fn after_commit(&self, ec2: &Ec2) {
        ec2.note_groups_changed();
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Ec2>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let (account, region) = (ctx.principal.account.as_str(), ctx.region);
        let g = resolve_group(tx.read(), account, region, &op.group)?;
        if g.is_default() {
            return Err(Ec2Error::CannotDelete(g.id));
        }
        let referenced = all(tables::GROUPS, tx.read(), account, region)?
            .iter()
            .filter(|o| o.id != g.id)
            .flat_map(|o| o.ingress.iter().chain(o.egress.iter()))
            .any(|r| matches!(&r.peer, Peer::Group { group_id, .. } if *group_id == g.id));
        let attached = all(tables::INTERFACES, tx.read(), account, region)?
            .iter()
            .any(|i| i.groups.contains(&g.id));
        if referenced || attached {
            return Err(Ec2Error::DependencyViolation(format!(
                "resource {} has a dependent object",
                g.id
            )));
        }
        not_dry_run(op.dry_run)?;
        tables::GROUPS.delete(tx.write()?, &key(account, region, &g.id))?;
        Ok(Reply::new(DeletedGroup(g.id.clone()))
            .elements(json!({"_return": true, "groupId": g.id}))
            .resource("AWS::EC2::SecurityGroup", g.id))
    }
}
