//! `CreateTags`, `DeleteTags`, `DescribeTags`: tags of VPCs, subnets, security groups, their
//! rules and network interfaces, found by the prefix of their id.

use super::{describing, not_dry_run};
use ferrogate_api::{
    Authorization, Authorized, Check, Done, Ec2Output, Ec2Return, Exec, Operation, Reply,
    RequestTags, Resource, Scope,
};
use ferrogate_store::{ReadTx, WriteTx};
use ferrogate_wire::ec2::{Ec2Params, Ec2Writer};
use serde::Serialize;
use serde_json::json;

use crate::model::{all, arn, key, tables, Interface, SecurityGroup, Subnet, Tag, Vpc};
use crate::params::{self, Filter, Filterable, Page, MAX_TAGS};
use crate::{Ec2, Ec2Error};

/// A taggable resource.
enum Target {
    Vpc(Vpc),
    Subnet(Subnet),
    Group(SecurityGroup),
    /// A rule: its group, whether it is outbound, and its index.
    Rule(SecurityGroup, bool, usize),
    Interface(Interface),
}

/// The resource type of an id (`vpc`, `subnet`, …), from its prefix.
fn kind_of(id: &str) -> Option<&'static str> {
    let prefix = id.split_once('-')?.0;
    Some(match prefix {
        "vpc" => "vpc",
        "subnet" => "subnet",
        "sg" => "security-group",
        "sgr" => "security-group-rule",
        "eni" => "network-interface",
        _ => return None,
    })
}

fn not_found(id: &str) -> Ec2Error {
    let ids = vec![id.to_owned()];
    match kind_of(id) {
        Some("vpc") => Ec2Error::InvalidVpcIdNotFound(ids),
        Some("subnet") => Ec2Error::InvalidSubnetIdNotFound(ids),
        Some("security-group") => Ec2Error::InvalidGroupNotFound(ids),
        Some("security-group-rule") => Ec2Error::InvalidSecurityGroupRuleIdNotFound(ids),
        Some("network-interface") => Ec2Error::InvalidNetworkInterfaceIdNotFound(ids),
        _ => Ec2Error::InvalidId(id.to_owned()),
    }
}

fn find(
    tx: &dyn ReadTx,
    account: &str,
    region: &str,
    id: &str,
) -> Result<Option<Target>, Ec2Error> {
    let k = key(account, region, id);
    Ok(match kind_of(id) {
        Some("vpc") => tables::VPCS.get(tx, &k)?.map(Target::Vpc),
        Some("subnet") => tables::SUBNETS.get(tx, &k)?.map(Target::Subnet),
        Some("security-group") => tables::GROUPS.get(tx, &k)?.map(Target::Group),
        Some("network-interface") => tables::INTERFACES.get(tx, &k)?.map(Target::Interface),
        Some("security-group-rule") => all(tables::GROUPS, tx, account, region)?
            .into_iter()
            .find_map(|g| {
                let at = |egress: bool| {
                    g.rules(egress)
                        .iter()
                        .position(|r| r.id == id)
                        .map(|i| (egress, i))
                };
                at(false)
                    .or_else(|| at(true))
                    .map(|(e, i)| Target::Rule(g.clone(), e, i))
            }),
        _ => return Err(Ec2Error::InvalidId(id.to_owned())),
    })
}

impl Target {
    fn arn(&self) -> String {
        match self {
            Target::Vpc(v) => v.arn(),
            Target::Subnet(s) => s.arn(),
            Target::Group(g) => g.arn(),
            Target::Rule(g, e, i) => arn(
                &g.region,
                &g.account,
                "security-group-rule",
                &g.rules(*e)[*i].id,
            ),
            Target::Interface(n) => arn(&n.region, &n.account, "network-interface", &n.id),
        }
    }

    fn tags_mut(&mut self) -> &mut Vec<Tag> {
        match self {
            Target::Vpc(v) => &mut v.tags,
            Target::Subnet(s) => &mut s.tags,
            Target::Group(g) => &mut g.tags,
            Target::Rule(g, e, i) => &mut g.rules_mut(*e)[*i].tags,
            Target::Interface(n) => &mut n.tags,
        }
    }

    fn tags(&self) -> Vec<Tag> {
        match self {
            Target::Vpc(v) => v.tags.clone(),
            Target::Subnet(s) => s.tags.clone(),
            Target::Group(g) => g.tags.clone(),
            Target::Rule(g, e, i) => g.rules(*e)[*i].tags.clone(),
            Target::Interface(n) => n.tags.clone(),
        }
    }

    fn store(&self, tx: &mut dyn WriteTx) -> Result<(), Ec2Error> {
        match self {
            Target::Vpc(v) => tables::VPCS.put(tx, &key(&v.account, &v.region, &v.id), v)?,
            Target::Subnet(s) => tables::SUBNETS.put(tx, &key(&s.account, &s.region, &s.id), s)?,
            Target::Group(g) | Target::Rule(g, _, _) => {
                tables::GROUPS.put(tx, &key(&g.account, &g.region, &g.id), g)?;
            }
            Target::Interface(n) => {
                tables::INTERFACES.put(tx, &key(&n.account, &n.region, &n.id), n)?;
            }
        }
        Ok(())
    }
}

fn resources(p: &Ec2Params<'_>) -> Result<Vec<String>, Ec2Error> {
    let ids = params::ids(p, "ResourceId");
    if ids.is_empty() {
        return Err(Ec2Error::MissingParameter("ResourceId".into()));
    }
    Ok(ids)
}

/// One check per resource: `action` on it (its tags), with the request's tags.
fn checks(
    s: &Scope<'_, Ec2>,
    ids: &[String],
    action: &str,
    tags: &RequestTags,
) -> Result<Authorization, Ec2Error> {
    let mut out = Vec::new();
    for id in ids {
        let resource = match find(s.tx, s.account(), s.region, id)? {
            Some(t) => Resource::Existing {
                arn: t.arn(),
                tags: params::pairs(&t.tags()),
            },
            None => Resource::Named(arn(s.region, s.account(), kind_of(id).unwrap_or("*"), id)),
        };
        out.push(Check::new(action, resource, tags.clone()));
    }
    let mut it = out.into_iter();
    let first = it
        .next()
        .ok_or_else(|| Ec2Error::MissingParameter("ResourceId".into()))?;
    Ok(Authorization::all(first, it))
}

/// `CreateTags`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateTagsInput {
    resources_set: Vec<String>,
    tag_set: Vec<Tag>,
    dry_run: bool,
}

impl CreateTagsInput {
    pub(crate) fn decode(p: &Ec2Params<'_>) -> Result<Self, Ec2Error> {
        let resources_set = resources(p)?;
        let tag_set = params::tags(p, "Tag")?;
        if tag_set.is_empty() {
            return Err(Ec2Error::MissingParameter("Tag".into()));
        }
        Ok(Self {
            resources_set,
            tag_set,
            dry_run: params::dry_run(p)?,
        })
    }
}

impl Operation for CreateTagsInput {
    type Output = Ec2Return;

    fn authorize(&self, s: &Scope<'_, Ec2>) -> Result<Authorization, Ec2Error> {
        checks(
            s,
            &self.resources_set,
            "ec2:CreateTags",
            &params::request_tags(&self.tag_set),
        )
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Ec2>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let (account, region) = (ctx.principal.account.as_str(), ctx.region);
        let mut targets = Vec::new();
        for id in &op.resources_set {
            let mut t = find(tx.read(), account, region, id)?.ok_or_else(|| not_found(id))?;
            let tags = t.tags_mut();
            for new in &op.tag_set {
                match tags.iter_mut().find(|o| o.key == new.key) {
                    Some(o) => o.value.clone_from(&new.value),
                    None => tags.push(new.clone()),
                }
            }
            if tags.len() > MAX_TAGS {
                return Err(Ec2Error::TagLimitExceeded);
            }
            targets.push(t);
        }
        not_dry_run(op.dry_run)?;
        let w = tx.write()?;
        for t in &targets {
            t.store(w)?;
        }
        let mut reply = Reply::new(Ec2Return).elements(json!({"_return": true}));
        for id in &op.resources_set {
            reply = reply.resource("AWS::EC2::Resource", id.clone());
        }
        Ok(reply)
    }
}

/// A tag to remove: any value, or only this one.
#[derive(Debug, Clone, Serialize)]
pub struct Removal {
    key: String,
    value: Option<String>,
}

/// `DeleteTags`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteTagsInput {
    resources_set: Vec<String>,
    tag_set: Vec<Removal>,
    dry_run: bool,
}

impl DeleteTagsInput {
    pub(crate) fn decode(p: &Ec2Params<'_>) -> Result<Self, Ec2Error> {
        let resources_set = resources(p)?;
        let mut tag_set = Vec::new();
        for t in p.structs("Tag") {
            tag_set.push(Removal {
                key: params::required(p, &format!("{t}.Key"))?.to_owned(),
                value: p.get(&format!("{t}.Value")).map(str::to_owned),
            });
        }
        Ok(Self {
            resources_set,
            tag_set,
            dry_run: params::dry_run(p)?,
        })
    }
}

impl Operation for DeleteTagsInput {
    type Output = Ec2Return;

    fn authorize(&self, s: &Scope<'_, Ec2>) -> Result<Authorization, Ec2Error> {
        // No tags named: every tag of the resources goes, so every key is a key removed.
        let keys: Vec<String> = if self.tag_set.is_empty() {
            let mut keys = Vec::new();
            for id in &self.resources_set {
                if let Some(t) = find(s.tx, s.account(), s.region, id)? {
                    keys.extend(t.tags().into_iter().map(|t| t.key));
                }
            }
            keys
        } else {
            self.tag_set.iter().map(|t| t.key.clone()).collect()
        };
        checks(
            s,
            &self.resources_set,
            "ec2:DeleteTags",
            &RequestTags::Remove(keys),
        )
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Ec2>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let (account, region) = (ctx.principal.account.as_str(), ctx.region);
        let mut targets = Vec::new();
        for id in &op.resources_set {
            let mut t = find(tx.read(), account, region, id)?.ok_or_else(|| not_found(id))?;
            let tags = t.tags_mut();
            if op.tag_set.is_empty() {
                tags.clear();
            } else {
                tags.retain(|old| {
                    !op.tag_set.iter().any(|r| {
                        r.key == old.key && r.value.as_ref().is_none_or(|v| *v == old.value)
                    })
                });
            }
            targets.push(t);
        }
        not_dry_run(op.dry_run)?;
        let w = tx.write()?;
        for t in &targets {
            t.store(w)?;
        }
        Ok(Reply::new(Ec2Return).elements(json!({"_return": true})))
    }
}

/// One tag of one resource.
#[derive(Debug, Clone)]
pub struct TagRow {
    resource_id: String,
    resource_type: &'static str,
    tag: Tag,
}

impl Filterable for TagRow {
    fn field(&self, name: &str) -> Option<Vec<String>> {
        Some(match name {
            "key" => vec![self.tag.key.clone()],
            "value" => vec![self.tag.value.clone()],
            "resource-id" => vec![self.resource_id.clone()],
            "resource-type" => vec![self.resource_type.to_owned()],
            _ => return None,
        })
    }
    fn tags(&self) -> &[Tag] {
        std::slice::from_ref(&self.tag)
    }
}

/// `DescribeTags`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeTagsInput {
    filters: Vec<Filter>,
    page: Page,
    dry_run: bool,
}

impl DescribeTagsInput {
    pub(crate) fn decode(p: &Ec2Params<'_>) -> Result<Self, Ec2Error> {
        Ok(Self {
            filters: params::filters(p)?,
            page: params::page(p, 5)?,
            dry_run: params::dry_run(p)?,
        })
    }
}

/// `tagSet` and `nextToken`.
#[derive(Debug)]
pub struct TagsOutput(Vec<TagRow>, Option<String>);

impl Ec2Output for TagsOutput {
    fn write(&self, w: &mut Ec2Writer) {
        w.items("tagSet", &self.0, |w, r| {
            w.leaf("resourceId", &r.resource_id)
                .leaf("resourceType", r.resource_type)
                .leaf("key", &r.tag.key)
                .leaf("value", &r.tag.value);
        });
        w.leaf_opt("nextToken", self.1.as_deref());
    }
}

impl Operation for DescribeTagsInput {
    type Output = TagsOutput;

    fn authorize(&self, _: &Scope<'_, Ec2>) -> Result<Authorization, Ec2Error> {
        describing("ec2:DescribeTags")
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Ec2>) -> Done<Self> {
        not_dry_run(op.dry_run)?;
        let (account, region) = (x.ctx.principal.account.as_str(), x.ctx.region);
        let tx = x.tx.read();
        let mut rows = Vec::new();
        let mut add = |id: &str, kind: &'static str, tags: &[Tag]| {
            for t in tags {
                rows.push(TagRow {
                    resource_id: id.to_owned(),
                    resource_type: kind,
                    tag: t.clone(),
                });
            }
        };
        for v in all(tables::VPCS, tx, account, region)? {
            add(&v.id, "vpc", &v.tags);
        }
        for s in all(tables::SUBNETS, tx, account, region)? {
            add(&s.id, "subnet", &s.tags);
        }
        for g in all(tables::GROUPS, tx, account, region)? {
            add(&g.id, "security-group", &g.tags);
            for r in g.ingress.iter().chain(g.egress.iter()) {
                add(&r.id, "security-group-rule", &r.tags);
            }
        }
        for n in all(tables::INTERFACES, tx, account, region)? {
            add(&n.id, "network-interface", &n.tags);
        }
        let probe = TagRow {
            resource_id: String::new(),
            resource_type: "vpc",
            tag: Tag {
                key: String::new(),
                value: String::new(),
            },
        };
        params::check_names(&probe, &op.filters)?;
        let mut out = Vec::new();
        for r in rows {
            if params::passes(&r, &op.filters)? {
                out.push(r);
            }
        }
        let token = |r: &TagRow| format!("{} {}", r.resource_id, r.tag.key);
        out.sort_by_key(token);
        let tokens: Vec<String> = out.iter().map(token).collect();
        let (out, next) = op
            .page
            .apply(out.into_iter().zip(tokens).collect(), |(_, t)| t.as_str())?;
        Ok(Reply::new(TagsOutput(
            out.into_iter().map(|(r, _)| r).collect(),
            next,
        )))
    }
}
