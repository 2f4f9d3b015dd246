//! `AuthorizeSecurityGroupIngress`/`Egress`, `RevokeSecurityGroupIngress`/`Egress`,
//! `DescribeSecurityGroupRules`. One implementation for both directions.

use super::{describing, not_dry_run};
use ferrogate_api::{
    Authorization, Authorized, Check, Done, Ec2Output, Exec, Operation, Registered, Reply,
    RequestTags, Scope,
};
use ferrogate_wire::ec2::{Ec2Params, Ec2Writer};
use serde::Serialize;
use serde_json::json;

use super::group::group_ref;
use super::vpc::create_tags_check;
use super::{find_group, group_resource, new_arn, resolve_group, GroupRef};
use crate::ids::{is_id, new_id};
use crate::model::{all, key, tables, SecurityGroup, Tag};
use crate::params::{self, Filter, Page};
use crate::rule::{
    owned, permissions, revoked_permissions, GroupRule, Peer, Permission, MAX_RULES,
};
use crate::views::{self, RuleView};
use crate::{Ec2, Ec2Error};

fn direction(egress: bool) -> &'static str {
    if egress {
        "Egress"
    } else {
        "Ingress"
    }
}

/// The group a rule change names: egress rules by `GroupId` only.
fn target<const EGRESS: bool>(p: &Ec2Params<'_>) -> Result<GroupRef, Ec2Error> {
    if EGRESS {
        let id = params::required(p, "GroupId")?;
        if !is_id("sg", id) {
            return Err(Ec2Error::InvalidGroupIdMalformed(id.to_owned()));
        }
        Ok(GroupRef::Id(id.to_owned()))
    } else {
        group_ref(p)
    }
}

/// `AuthorizeSecurityGroupIngress` (`EGRESS = false`) and `AuthorizeSecurityGroupEgress`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizeInput<const EGRESS: bool> {
    group: GroupRef,
    ip_permissions: Vec<Permission>,
    tags: Vec<Tag>,
    dry_run: bool,
}

impl<const EGRESS: bool> AuthorizeInput<EGRESS> {
    pub(crate) fn decode(p: &Ec2Params<'_>) -> Result<Self, Ec2Error> {
        let group = target::<EGRESS>(p)?;
        // The owner of a referenced group is checked against the caller's account when the
        // rule is added ([`owned`]): decoding does not know the caller.
        let ip_permissions = permissions(p)?;
        Ok(Self {
            group,
            ip_permissions,
            tags: params::tag_specifications(p, "security-group-rule")?,
            dry_run: params::dry_run(p)?,
        })
    }
}

/// `return` and `securityGroupRuleSet`.
#[derive(Debug)]
pub struct RulesAdded {
    group: SecurityGroup,
    added: Vec<GroupRule>,
    egress: bool,
}

impl Ec2Output for RulesAdded {
    fn write(&self, w: &mut Ec2Writer) {
        w.flag("return", true);
        w.items("securityGroupRuleSet", &self.added, |w, r| {
            views::rule(w, &self.group, r, self.egress);
        });
    }
}

impl<const EGRESS: bool> Operation for AuthorizeInput<EGRESS>
where
    Self: Registered<Service = Ec2> + ferrogate_api::Recorded,
{
    type Output = RulesAdded;

    fn authorize(&self, s: &Scope<'_, Ec2>) -> Result<Authorization, Ec2Error> {
        let action = format!("ec2:AuthorizeSecurityGroup{}", direction(EGRESS));
        let auth = Authorization::of(Check::new(
            action.clone(),
            group_resource(s.tx, s.account(), s.region, &self.group)?,
            RequestTags::None,
        ));
        let rule = new_arn(s.region, s.account(), "security-group-rule");
        Ok(
            match create_tags_check(rule, &self.tags, &action["ec2:".len()..]) {
                Some(c) => auth.and(c),
                None => auth,
            },
        )
    }

    fn after_commit(&self, ec2: &Ec2) {
        ec2.note_groups_changed();
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Ec2>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let (account, region) = (ctx.principal.account.as_str(), ctx.region);
        let mut g = resolve_group(tx.read(), account, region, &op.group)?;
        let mut added: Vec<GroupRule> = Vec::new();
        for perm in &owned(&op.ip_permissions, account)? {
            if let Peer::Group { group_id, .. } = &perm.peer {
                let peer = find_group(tx.read(), account, region, group_id)?
                    .ok_or_else(|| Ec2Error::InvalidGroupNotFound(vec![group_id.clone()]))?;
                if peer.vpc_id != g.vpc_id {
                    return Err(Ec2Error::InvalidGroupDifferentNetworks);
                }
            }
            let existing = g.rules(EGRESS).iter().chain(added.iter());
            if existing.clone().any(|r| perm.same(r)) {
                return Err(Ec2Error::InvalidPermissionDuplicate(perm.label()));
            }
            added.push(GroupRule {
                id: new_id("sgr")?,
                traffic: perm.traffic.clone(),
                peer: perm.peer.clone(),
                description: perm.description.clone(),
                tags: op.tags.clone(),
            });
        }
        if g.rules(EGRESS).len() + added.len() > MAX_RULES {
            return Err(Ec2Error::RulesPerSecurityGroupLimitExceeded);
        }
        not_dry_run(op.dry_run)?;
        g.rules_mut(EGRESS).extend(added.iter().cloned());
        tables::GROUPS.put(tx.write()?, &key(account, region, &g.id), &g)?;
        let ids: Vec<&str> = added.iter().map(|r| r.id.as_str()).collect();
        let elements = json!({"_return": true, "securityGroupRuleSet": {"items": ids}});
        let id = g.id.clone();
        Ok(Reply::new(RulesAdded {
            group: g,
            added,
            egress: EGRESS,
        })
        .elements(elements)
        .resource("AWS::EC2::SecurityGroup", id))
    }
}

/// `RevokeSecurityGroupIngress` (`EGRESS = false`) and `RevokeSecurityGroupEgress`: by
/// `IpPermissions` or by `SecurityGroupRuleId.N`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RevokeInput<const EGRESS: bool> {
    group: GroupRef,
    ip_permissions: Vec<Permission>,
    security_group_rule_ids: Vec<String>,
    dry_run: bool,
}

impl<const EGRESS: bool> RevokeInput<EGRESS> {
    pub(crate) fn decode(p: &Ec2Params<'_>) -> Result<Self, Ec2Error> {
        let group = target::<EGRESS>(p)?;
        let security_group_rule_ids = params::ids(p, "SecurityGroupRuleId");
        if let Some(bad) = security_group_rule_ids.iter().find(|r| !is_id("sgr", r)) {
            return Err(Ec2Error::InvalidSecurityGroupRuleIdMalformed(bad.clone()));
        }
        // IPv6 ranges and prefix lists match no rule here: they only make the revocation
        // find nothing (`InvalidPermission.NotFound` when nothing else matches).
        let ip_permissions = if security_group_rule_ids.is_empty() {
            revoked_permissions(p)?.0
        } else {
            Vec::new()
        };
        Ok(Self {
            group,
            ip_permissions,
            security_group_rule_ids,
            dry_run: params::dry_run(p)?,
        })
    }
}

/// `return`, `unknownIpPermissionSet` and `revokedSecurityGroupRuleSet`.
#[derive(Debug)]
pub struct Revoked {
    unknown: Vec<Permission>,
    revoked: Vec<(SecurityGroup, GroupRule)>,
    egress: bool,
}

impl Ec2Output for Revoked {
    fn write(&self, w: &mut Ec2Writer) {
        w.flag("return", true);
        if !self.unknown.is_empty() {
            w.items("unknownIpPermissionSet", &self.unknown, |w, p| {
                w.leaf("ipProtocol", &p.traffic.protocol);
                if p.traffic.has_ports() {
                    w.int("fromPort", i64::from(p.traffic.from))
                        .int("toPort", i64::from(p.traffic.to));
                }
                match &p.peer {
                    Peer::Cidr(c) => {
                        w.items("ipRanges", [c], |w, c| {
                            w.leaf("cidrIp", &c.to_string());
                        });
                    }
                    Peer::Group { group_id, user_id } => {
                        w.items("groups", [(group_id, user_id)], |w, (g, u)| {
                            w.leaf("userId", u).leaf("groupId", g);
                        });
                    }
                }
            });
        }
        w.items("revokedSecurityGroupRuleSet", &self.revoked, |w, (g, r)| {
            views::rule(w, g, r, self.egress);
        });
    }
}

impl<const EGRESS: bool> Operation for RevokeInput<EGRESS>
where
    Self: Registered<Service = Ec2> + ferrogate_api::Recorded,
{
    type Output = Revoked;

    fn authorize(&self, s: &Scope<'_, Ec2>) -> Result<Authorization, Ec2Error> {
        Ok(Authorization::of(Check::new(
            format!("ec2:RevokeSecurityGroup{}", direction(EGRESS)),
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
        let mut g = resolve_group(tx.read(), account, region, &op.group)?;
        let mut gone: Vec<GroupRule> = Vec::new();
        let mut unknown: Vec<Permission> = Vec::new();
        if op.security_group_rule_ids.is_empty() {
            for perm in &owned(&op.ip_permissions, account)? {
                match g.rules(EGRESS).iter().find(|r| perm.same(r)) {
                    Some(r) if !gone.iter().any(|x| x.id == r.id) => gone.push(r.clone()),
                    _ => unknown.push(perm.clone()),
                }
            }
            if gone.is_empty() {
                return Err(Ec2Error::InvalidPermissionNotFound);
            }
        } else {
            let missing: Vec<String> = op
                .security_group_rule_ids
                .iter()
                .filter(|id| !g.rules(EGRESS).iter().any(|r| &&r.id == id))
                .cloned()
                .collect();
            if !missing.is_empty() {
                return Err(Ec2Error::InvalidSecurityGroupRuleIdNotFound(missing));
            }
            gone = g
                .rules(EGRESS)
                .iter()
                .filter(|r| op.security_group_rule_ids.contains(&r.id))
                .cloned()
                .collect();
        }
        not_dry_run(op.dry_run)?;
        g.rules_mut(EGRESS)
            .retain(|r| !gone.iter().any(|x| x.id == r.id));
        tables::GROUPS.put(tx.write()?, &key(account, region, &g.id), &g)?;
        let ids: Vec<&str> = gone.iter().map(|r| r.id.as_str()).collect();
        let elements = json!({"_return": true, "revokedSecurityGroupRuleSet": {"items": ids}});
        let id = g.id.clone();
        let revoked = gone.into_iter().map(|r| (g.clone(), r)).collect();
        Ok(Reply::new(Revoked {
            unknown,
            revoked,
            egress: EGRESS,
        })
        .elements(elements)
        .resource("AWS::EC2::SecurityGroup", id))
    }
}

/// `DescribeSecurityGroupRules`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeSecurityGroupRulesInput {
    security_group_rule_ids: Vec<String>,
    filters: Vec<Filter>,
    page: Page,
    dry_run: bool,
}

impl DescribeSecurityGroupRulesInput {
    pub(crate) fn decode(p: &Ec2Params<'_>) -> Result<Self, Ec2Error> {
        let security_group_rule_ids = params::ids(p, "SecurityGroupRuleId");
        if let Some(bad) = security_group_rule_ids.iter().find(|r| !is_id("sgr", r)) {
            return Err(Ec2Error::InvalidSecurityGroupRuleIdMalformed(bad.clone()));
        }
        Ok(Self {
            security_group_rule_ids,
            filters: params::filters(p)?,
            page: params::page(p, 5)?,
            dry_run: params::dry_run(p)?,
        })
    }
}

/// `securityGroupRuleSet` and `nextToken`.
#[derive(Debug)]
pub struct RulesOutput(Vec<(SecurityGroup, GroupRule, bool)>, Option<String>);

impl Ec2Output for RulesOutput {
    fn write(&self, w: &mut Ec2Writer) {
        w.items("securityGroupRuleSet", &self.0, |w, (g, r, e)| {
            views::rule(w, g, r, *e)
        });
        w.leaf_opt("nextToken", self.1.as_deref());
    }
}

impl Operation for DescribeSecurityGroupRulesInput {
    type Output = RulesOutput;

    fn authorize(&self, _: &Scope<'_, Ec2>) -> Result<Authorization, Ec2Error> {
        describing("ec2:DescribeSecurityGroupRules")
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Ec2>) -> Done<Self> {
        not_dry_run(op.dry_run)?;
        let (account, region) = (x.ctx.principal.account.as_str(), x.ctx.region);
        let groups = all(tables::GROUPS, x.tx.read(), account, region)?;
        let mut out = Vec::new();
        let mut seen: Vec<String> = Vec::new();
        for g in &groups {
            for (egress, rules) in [(false, &g.ingress), (true, &g.egress)] {
                for r in rules {
                    let view = RuleView(g, r);
                    params::check_names(&view, &op.filters)?;
                    seen.push(r.id.clone());
                    let named = op.security_group_rule_ids.is_empty()
                        || op.security_group_rule_ids.contains(&r.id);
                    if named && params::passes(&view, &op.filters)? {
                        out.push((g.clone(), r.clone(), egress));
                    }
                }
            }
        }
        let seen: Vec<&str> = seen.iter().map(String::as_str).collect();
        super::all_found(
            &op.security_group_rule_ids,
            &seen,
            Ec2Error::InvalidSecurityGroupRuleIdNotFound,
        )?;
        out.sort_by(|a, b| a.1.id.cmp(&b.1.id));
        let (out, next) = op.page.apply(out, |(_, r, _)| &r.id)?;
        Ok(Reply::new(RulesOutput(out, next)))
    }
}
