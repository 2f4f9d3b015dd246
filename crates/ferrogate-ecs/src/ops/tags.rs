//! TagResource, UntagResource, ListTagsForResource for clusters and task definitions.

use ferrogate_iam::op::{Access, Ctx};
use ferrogate_store::{ReadTx, TxRef};
use serde::Deserialize;
use serde_json::json;

use super::{clusters, on_resource, taskdefs, Done, Ecs, Input, Scope};
use crate::cluster::{self as c, TagIn};
use crate::model::{keys, tables, Cluster, Tag, TaskDefinition};
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
        return clusters::active(tx, account, region, arn)
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

/// Authorizes on the resource's own ARN, never on the ARN as the request spelled it.
fn access_of(s: &Scope<'_>, arn: &str) -> Result<Access, EcsError> {
    let r = find(s.tx, s.account(), s.region, arn)?;
    let canonical = match &r {
        Tagged::Cluster(c) => c.arn(),
        Tagged::TaskDefinition(t) => t.arn(),
    };
    Ok(on_resource(canonical, c::resource_tag_keys(r.tags())))
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

impl Input for TagResourceInput {
    fn access(&self, s: &Scope<'_>) -> Result<Access, EcsError> {
        access_of(s, &self.resource_arn)
    }

    fn condition_keys(&self) -> Vec<(String, Vec<String>)> {
        c::request_tag_keys(&self.tags)
    }

    fn run(&self, _ecs: &Ecs, mut tx: TxRef<'_>, ctx: Ctx<'_>) -> Result<Done, EcsError> {
        let mut r = find(
            tx.read(),
            ctx.principal.account.as_str(),
            ctx.region,
            &self.resource_arn,
        )?;
        for t in c::check_tags(&self.tags)? {
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
        Ok(Done::new(json!({})))
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

impl Input for UntagResourceInput {
    fn access(&self, s: &Scope<'_>) -> Result<Access, EcsError> {
        access_of(s, &self.resource_arn)
    }

    fn condition_keys(&self) -> Vec<(String, Vec<String>)> {
        if self.tag_keys.is_empty() {
            Vec::new()
        } else {
            vec![("aws:TagKeys".into(), self.tag_keys.clone())]
        }
    }

    fn run(&self, _ecs: &Ecs, mut tx: TxRef<'_>, ctx: Ctx<'_>) -> Result<Done, EcsError> {
        let mut r = find(
            tx.read(),
            ctx.principal.account.as_str(),
            ctx.region,
            &self.resource_arn,
        )?;
        r.tags_mut().retain(|t| !self.tag_keys.contains(&t.key));
        r.save(&mut tx)?;
        Ok(Done::new(json!({})))
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

impl Input for ListTagsInput {
    fn access(&self, s: &Scope<'_>) -> Result<Access, EcsError> {
        access_of(s, &self.resource_arn)
    }

    fn run(&self, _ecs: &Ecs, tx: TxRef<'_>, ctx: Ctx<'_>) -> Result<Done, EcsError> {
        let r = find(
            tx.read(),
            ctx.principal.account.as_str(),
            ctx.region,
            &self.resource_arn,
        )?;
        Ok(Done::new(json!({"tags": r.tags()})))
    }
}
