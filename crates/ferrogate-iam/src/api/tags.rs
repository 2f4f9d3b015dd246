//! Tags of users and roles: `TagUser`, `UntagUser`, `ListUserTags`, `TagRole`, `UntagRole`,
//! `ListRoleTags`, one implementation parameterized by the entity kind. A principal's tags
//! are its `aws:PrincipalTag/<key>` in every request it makes (IAM User Guide, "Tagging IAM
//! resources").
//!
//! Tag keys are case-insensitive in IAM (their case is kept): setting `Env` replaces `env`,
//! and removing `ENV` removes it.

use ferrogate_api::{
    Authorization, Authorized, Check, Done, Exec, NoResult, Operation, Recorded, Reply,
    RequestTags, Scope, Sent,
};
use ferrogate_store::ReadTx;
use ferrogate_wire::query::QueryParams;
use serde_json::{json, Value};

use super::entity::{
    entity_param, kind_of, no_such_entity, recorded_entity, recorded_tags, ROLE, USER,
};
use super::output::Listing;
use super::users::decode_tags;
use super::{entity_resource, request_tags, Iam, Page, Params};
use crate::model::{keys, tables, EntityKind, Tag};
use crate::validate::Checks;
use crate::IamError;

/// Tags per user and per role (IAM quota).
pub const MAX_TAGS: usize = 50;

/// Refuses two tags whose keys differ only in case.
pub(crate) fn check_unique(tags: &[Tag]) -> Result<(), IamError> {
    let mut seen = std::collections::HashSet::new();
    if tags.iter().all(|t| seen.insert(t.key.to_lowercase())) {
        Ok(())
    } else {
        Err(IamError::InvalidInput(
            "Duplicate tag keys found. Please note that Tag keys are case insensitive.".into(),
        ))
    }
}

/// `iam:<verb><Kind><suffix>` on the stored user or role, with `tags` as request tags.
fn on_tagged<const K: u8>(
    s: &Scope<'_, Iam>,
    verb: &str,
    suffix: &str,
    entity: &str,
    tags: RequestTags,
) -> Result<Authorization, IamError> {
    let kind = kind_of::<K>();
    let resource = entity_resource(s.tx, s.account(), kind, entity)?;
    Ok(Authorization::of(Check::new(
        format!("iam:{verb}{}{suffix}", kind.title()),
        resource,
        tags,
    )))
}

/// The stored tags of the user or role `name`.
fn load_tags(
    tx: &dyn ReadTx,
    account: &str,
    kind: EntityKind,
    name: &str,
) -> Result<Vec<Tag>, IamError> {
    let key = keys::entity(account, kind, name);
    let tags = match kind {
        EntityKind::User => tables::USERS.get(tx, &key)?.map(|u| u.tags),
        EntityKind::Role => tables::ROLES.get(tx, &key)?.map(|r| r.tags),
        EntityKind::Group => None,
    };
    tags.ok_or_else(|| no_such_entity(kind, name))
}

/// Applies `change` to the stored tags of the user or role `name`.
fn update_tags<const K: u8>(
    x: Exec<'_, Iam>,
    name: &str,
    change: impl FnOnce(&mut Vec<Tag>) -> Result<(), IamError>,
) -> Result<Reply<NoResult>, IamError> {
    let Exec { mut tx, ctx, .. } = x;
    let kind = kind_of::<K>();
    let key = keys::entity(ctx.principal.account.as_str(), kind, name);
    let name = match kind {
        EntityKind::User => {
            let mut u = tables::USERS
                .get(tx.read(), &key)?
                .ok_or_else(|| no_such_entity(kind, name))?;
            change(&mut u.tags)?;
            tables::USERS.put(tx.write()?, &key, &u)?;
            u.name
        }
        EntityKind::Role => {
            let mut r = tables::ROLES
                .get(tx.read(), &key)?
                .ok_or_else(|| no_such_entity(kind, name))?;
            change(&mut r.tags)?;
            tables::ROLES.put(tx.write()?, &key, &r)?;
            r.name
        }
        EntityKind::Group => return Err(no_such_entity(kind, name)),
    };
    Ok(Reply::new(NoResult).resource(kind.resource_type(), name))
}

/// `TagUser` and `TagRole`.
#[derive(Debug, Clone)]
pub struct TagInput<const K: u8> {
    entity: String,
    tags: Vec<Tag>,
}

impl<const K: u8> TagInput<K> {
    pub(crate) fn decode(p: &QueryParams) -> Result<Self, IamError> {
        let entity = entity_param::<K>(p)?;
        let mut c = Checks::new();
        let tags = decode_tags(p, &mut c);
        c.done()?;
        if tags.is_empty() {
            return Err(IamError::ValidationError(
                "1 validation error detected: Value null at 'tags' failed to satisfy constraint: Member must not be null".into(),
            ));
        }
        check_unique(&tags)?;
        Ok(Self { entity, tags })
    }
}

impl<const K: u8> Operation for TagInput<K>
where
    Self: ferrogate_api::Registered<Service = Iam>,
{
    type Output = NoResult;

    fn authorize(&self, s: &Scope<'_, Iam>) -> Result<Authorization, IamError> {
        on_tagged::<K>(s, "Tag", "", &self.entity, request_tags(&self.tags))
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Iam>) -> Done<Self> {
        let i = op.op();
        update_tags::<K>(x, &i.entity, |tags| {
            for t in &i.tags {
                // A key that differs only in case is the same key: the new spelling wins.
                tags.retain(|o| !o.key.eq_ignore_ascii_case(&t.key));
                tags.push(t.clone());
            }
            if tags.len() > MAX_TAGS {
                return Err(IamError::LimitExceeded(format!(
                    "Cannot exceed quota for TagsPer{}: {MAX_TAGS}",
                    kind_of::<K>().title()
                )));
            }
            Ok(())
        })
    }
}

impl<const K: u8> Recorded for TagInput<K>
where
    Self: ferrogate_api::Registered<Service = Iam>,
{
    fn request_parameters(&self, _: Sent<'_>) -> Value {
        let mut v = recorded_entity(kind_of::<K>(), &self.entity);
        v["tags"] = recorded_tags(&self.tags);
        v
    }
}

/// `UntagUser` and `UntagRole`.
#[derive(Debug, Clone)]
pub struct UntagInput<const K: u8> {
    entity: String,
    keys: Vec<String>,
}

impl<const K: u8> UntagInput<K> {
    pub(crate) fn decode(p: &QueryParams) -> Result<Self, IamError> {
        let entity = entity_param::<K>(p)?;
        let keys: Vec<String> = p
            .members("TagKeys")
            .into_iter()
            .map(str::to_owned)
            .collect();
        if keys.is_empty() {
            return Err(IamError::ValidationError(
                "1 validation error detected: Value null at 'tagKeys' failed to satisfy constraint: Member must not be null".into(),
            ));
        }
        let mut c = Checks::new();
        if keys.len() > MAX_TAGS {
            c.length(&"x".repeat(keys.len()), "tagKeys", 0, MAX_TAGS);
        }
        for (n, k) in keys.iter().enumerate() {
            c.tag(k, &format!("tagKeys.{}.member", n + 1), true);
        }
        c.done()?;
        Ok(Self { entity, keys })
    }
}

impl<const K: u8> Operation for UntagInput<K>
where
    Self: ferrogate_api::Registered<Service = Iam>,
{
    type Output = NoResult;

    fn authorize(&self, s: &Scope<'_, Iam>) -> Result<Authorization, IamError> {
        let keys = RequestTags::Remove(self.keys.clone());
        on_tagged::<K>(s, "Untag", "", &self.entity, keys)
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Iam>) -> Done<Self> {
        let i = op.op();
        update_tags::<K>(x, &i.entity, |tags| {
            tags.retain(|t| !i.keys.iter().any(|k| k.eq_ignore_ascii_case(&t.key)));
            Ok(())
        })
    }
}

impl<const K: u8> Recorded for UntagInput<K>
where
    Self: ferrogate_api::Registered<Service = Iam>,
{
    fn request_parameters(&self, _: Sent<'_>) -> Value {
        let mut v = recorded_entity(kind_of::<K>(), &self.entity);
        v["tagKeys"] = json!(self.keys);
        v
    }
}

/// `ListUserTags` and `ListRoleTags`.
#[derive(Debug, Clone)]
pub struct ListTagsInput<const K: u8> {
    entity: String,
    page: Page,
}

impl<const K: u8> ListTagsInput<K> {
    pub(crate) fn decode(p: &QueryParams) -> Result<Self, IamError> {
        Ok(Self {
            entity: entity_param::<K>(p)?,
            page: Page::decode(&Params(p))?,
        })
    }
}

impl<const K: u8> Operation for ListTagsInput<K>
where
    Self: ferrogate_api::Registered<Service = Iam>,
{
    type Output = Listing<Tag>;

    fn authorize(&self, s: &Scope<'_, Iam>) -> Result<Authorization, IamError> {
        on_tagged::<K>(s, "List", "Tags", &self.entity, RequestTags::None)
    }

    fn execute(i: &Authorized<Self>, x: Exec<'_, Iam>) -> Done<Self> {
        let Exec { tx, ctx, .. } = x;
        let all = load_tags(
            tx.read(),
            ctx.principal.account.as_str(),
            kind_of::<K>(),
            &i.entity,
        )?;
        // At most fifty tags: the marker is the key the last page ended with.
        let start = match &i.page.marker {
            None => 0,
            Some(m) => all
                .iter()
                .position(|t| &t.key == m)
                .map(|n| n + 1)
                .ok_or_else(|| IamError::ValidationError("Invalid Marker.".into()))?,
        };
        let page: Vec<Tag> = all
            .iter()
            .skip(start)
            .take(i.page.max_items)
            .cloned()
            .collect();
        let next = (start + page.len() < all.len())
            .then(|| page.last().map(|t| t.key.clone()))
            .flatten();
        Ok(Reply::new(Listing::new("Tags", page, next)))
    }
}

impl<const K: u8> Recorded for ListTagsInput<K>
where
    Self: ferrogate_api::Registered<Service = Iam>,
{
    fn request_parameters(&self, _: Sent<'_>) -> Value {
        recorded_entity(kind_of::<K>(), &self.entity)
    }
}

/// `TagUser`.
pub type TagUserInput = TagInput<USER>;
/// `UntagUser`.
pub type UntagUserInput = UntagInput<USER>;
/// `ListUserTags`.
pub type ListUserTagsInput = ListTagsInput<USER>;
/// `TagRole`.
pub type TagRoleInput = TagInput<ROLE>;
/// `UntagRole`.
pub type UntagRoleInput = UntagInput<ROLE>;
/// `ListRoleTags`.
pub type ListRoleTagsInput = ListTagsInput<ROLE>;
