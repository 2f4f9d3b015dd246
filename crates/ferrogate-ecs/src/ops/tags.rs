//! TagResource, UntagResource, ListTagsForResource for clusters and task definitions.

use ferrogate_api::{
    Authorization, Authorized, Check, Done, Empty, Exec, Operation, Reply, RequestTags, Resource,
    Scope,
};
use ferrogate_store::{ReadTx, TxRef};
use serde::Deserialize;

use super::common::{action, active, existing, request_tags, Ecs};
use super::taskdefs;
use crate::cluster::{self as c, TagIn};
use crate::model::{keys, tables, Cluster, Tag, TaskDefinition};
use crate::views::TagsAnswer;
use crate::EcsError;

/// A taggable resource.
enum Tagged {
    Cluster(Cluster),
    TaskDefinition(TaskDefinition),
}

impl Tagged {
    fn tags(&self) -> &[Tag] {
        match self {
            Tagged::Cluster(c) => &c.tags,
            Tagged::TaskDefinition(t) => &t.tags,
        }
    }

    fn tags_mut(&mut self) -> &mut Vec<Tag> {
        match self {
            Tagged::Cluster(c) => &mut c.tags,
            Tagged::TaskDefinition(t) => &mut t.tags,
        }
    }

    fn save(&self, tx: &mut TxRef<'_>) -> Result<(), EcsError> {
        match self {
            Tagged::Cluster(cl) => {
                tables::CLUSTERS.put(
                    tx.write()?,
                    &keys::named(&cl.account, &cl.region, &cl.name),
                    cl,
                )?;
                Ok(())
            }
            Tagged::TaskDefinition(td) => taskdefs::save(tx, td),
        }
    }
}

fn find(tx: &dyn ReadTx, account: &str, region: &str, arn: &str) -> Result<Tagged, EcsError> {
    let not_found =
        || EcsError::ResourceNotFoundException("The specified resource could not be found.".into());
    if !arn.starts_with("arn:aws:ecs:") {
        return Err(EcsError::invalid("The ARN provided is invalid."));
    }
    if arn.contains(":cluster/") {
        return active(tx, account, region, arn)
            .map(Tagged::Cluster)
            .map_err(|_| not_found());
    }
    if arn.contains(":task-definition/") {
        return taskdefs::by_arn(tx, account, region, arn)?
            .map(Tagged::TaskDefinition)
            .ok_or_else(not_found);
    }
    Err(not_found())
}

/// The resource as stored: its own ARN (never the ARN as the request spelled it) and tags.
fn resource_of(s: &Scope<'_, Ecs>, arn: &str) -> Result<Resource, EcsError> {
    let r = find(s.tx, s.account(), s.region, arn)?;
    let canonical = match &r {
        Tagged::Cluster(c) => c.arn(),
        Tagged::TaskDefinition(t) => t.arn(),
    };
    Ok(existing(canonical, r.tags()))
}

/// `TagResource`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TagResourceInput {
    resource_arn: String,
    tags: Vec<TagIn>,
}

impl TagResourceInput {
    pub(crate) fn validated(self) -> Result<Self, EcsError> {
        c::check_tags(&self.tags)?;
        Ok(self)
    }
}

impl Operation for TagResourceInput {
    type Output = Empty;

    fn authorize(&self, s: &Scope<'_, Ecs>) -> Result<Authorization, EcsError> {
        Ok(Authorization::of(Check::new(
            action::<Self>(),
            resource_of(s, &self.resource_arn)?,
            request_tags(&self.tags),
        )))
    }

    fn execute(this: &Authorized<Self>, x: Exec<'_, Ecs>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let mut r = find(
            tx.read(),
            ctx.principal.account.as_str(),
            ctx.region,
            &this.resource_arn,
        )?;
        for t in c::check_tags(&this.tags)? {
            let tags = r.tags_mut();
            match tags.iter_mut().find(|o| o.key == t.key) {
                Some(o) => o.value = t.value,
                None => tags.push(t),
            }
        }
        if r.tags().len() > 50 {
            return Err(EcsError::invalid(
                "The number of tags exceeds the limit of 50 tags per resource.",
            ));
        }
        r.save(&mut tx)?;
        Ok(Reply::new(Empty {}))
    }
}

/// `UntagResource`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UntagResourceInput {
    resource_arn: String,
    tag_keys: Vec<String>,
}

impl UntagResourceInput {
    pub(crate) fn validated(self) -> Result<Self, EcsError> {
        Ok(self)
    }
}

impl Operation for UntagResourceInput {
    type Output = Empty;

    fn authorize(&self, s: &Scope<'_, Ecs>) -> Result<Authorization, EcsError> {
        Ok(Authorization::of(Check::new(
            action::<Self>(),
            resource_of(s, &self.resource_arn)?,
            RequestTags::Remove(self.tag_keys.clone()),
        )))
    }

    fn execute(this: &Authorized<Self>, x: Exec<'_, Ecs>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let mut r = find(
            tx.read(),
            ctx.principal.account.as_str(),
            ctx.region,
            &this.resource_arn,
        )?;
        r.tags_mut().retain(|t| !this.tag_keys.contains(&t.key));
        r.save(&mut tx)?;
        Ok(Reply::new(Empty {}))
    }
}

/// `ListTagsForResource`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListTagsInput {
    resource_arn: String,
}

impl ListTagsInput {
    pub(crate) fn validated(self) -> Result<Self, EcsError> {
        Ok(self)
    }
}

impl Operation for ListTagsInput {
    type Output = TagsAnswer;

    fn authorize(&self, s: &Scope<'_, Ecs>) -> Result<Authorization, EcsError> {
        Ok(Authorization::of(Check::new(
            action::<Self>(),
            resource_of(s, &self.resource_arn)?,
            RequestTags::None,
        )))
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Ecs>) -> Done<Self> {
        let Exec { tx, ctx, .. } = x;
        let r = find(
            tx.read(),
            ctx.principal.account.as_str(),
            ctx.region,
            &op.resource_arn,
        )?;
        Ok(Reply::new(TagsAnswer {
            tags: r.tags().to_vec(),
        }))
    }
}
