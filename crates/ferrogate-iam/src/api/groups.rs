//! Groups: CreateGroup, GetGroup, ListGroups, DeleteGroup, AddUserToGroup,
//! RemoveUserFromGroup, ListGroupsForUser.

use ferrogate_api::{
    Authorization, Authorized, Check, Done, Exec, NoResult, Operation, Recorded, Reply,
    RequestTags, Resource, Scope, Sent,
};
use ferrogate_wire::query::QueryParams;
use serde_json::{json, Value};

use super::entity::{any_under, ensure_no_policies, entity_arn, load_entity};
use super::output::{GroupWithUsers, Listing, Owned, Single};
use super::users::load_user;
use super::{on_entity, on_listing, owned, paged, trail_date, Iam, Page, Params};
use crate::ids;
use crate::model::{keys, tables, EntityKind, Group, Membership, User};
use crate::validate::Checks;
use crate::IamError;

/// IAM's quota of groups per user.
pub const MAX_GROUPS_PER_USER: usize = 10;

fn load_group(
    tx: &dyn ferrogate_store::ReadTx,
    account: &str,
    name: &str,
) -> Result<Group, IamError> {
    tables::GROUPS
        .get(tx, &keys::entity(account, EntityKind::Group, name))?
        .ok_or_else(|| super::entity::no_such_entity(EntityKind::Group, name))
}

fn group_name(p: &QueryParams) -> Result<String, IamError> {
    let name = Params(p).required("GroupName")?;
    Checks::new().name(name, "groupName", 128).done()?;
    Ok(name.into())
}

/// `CreateGroup`.
#[derive(Debug, Clone)]
pub struct CreateGroupInput {
    name: String,
    path: String,
}

impl CreateGroupInput {
    pub(crate) fn decode(p: &QueryParams) -> Result<Self, IamError> {
        let q = Params(p);
        let name = q.required("GroupName")?;
        let path = q.optional("Path").unwrap_or("/");
        Checks::new()
            .name(name, "groupName", 128)
            .path(path, "path")
            .done()?;
        Ok(Self {
            name: name.into(),
            path: path.into(),
        })
    }
}

impl Operation for CreateGroupInput {
    type Output = Single<Owned<Group>>;

    fn authorize(&self, s: &Scope<'_, Iam>) -> Result<Authorization, IamError> {
        let arn = entity_arn(s.account(), EntityKind::Group, &self.path, &self.name);
        Ok(Authorization::of(Check::new(
            "iam:CreateGroup",
            Resource::New(arn),
            RequestTags::None,
        )))
    }

    fn execute(i: &Authorized<Self>, x: Exec<'_, Iam>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let account = ctx.principal.account.as_str();
        let key = keys::entity(account, EntityKind::Group, &i.name);
        if tables::GROUPS.get(tx.read(), &key)?.is_some() {
            return Err(IamError::EntityAlreadyExists(format!(
                "Group with name {} already exists.",
                i.name
            )));
        }
        let g = Group {
            name: i.name.clone(),
            group_id: ids::unique_id("AGPA").ok_or(IamError::RandomnessUnavailable)?,
            path: i.path.clone(),
            create_date: ctx.now,
        };
        tables::GROUPS.put(tx.write()?, &key, &g)?;
        let elements = json!({ "group": {
            "path": g.path, "groupName": g.name, "groupId": g.group_id, "arn": g.arn(account),
            "createDate": trail_date(g.create_date),
        }});
        let name = g.name.clone();
        Ok(Reply::new(Single {
            element: "Group",
            item: Owned {
                account: account.to_owned(),
                item: g,
                with_tags: false,
            },
        })
        .elements(elements)
        .resource("AWS::IAM::Group", name))
    }
}

impl Recorded for CreateGroupInput {
    fn request_parameters(&self, _: Sent<'_>) -> Value {
        let mut v = json!({ "groupName": self.name });
        if self.path != "/" {
            v["path"] = json!(self.path);
        }
        v
    }
}

/// `GetGroup`: the group and its users.
#[derive(Debug, Clone)]
pub struct GetGroupInput {
    name: String,
    page: Page,
}

impl GetGroupInput {
    pub(crate) fn decode(p: &QueryParams) -> Result<Self, IamError> {
        Ok(Self {
            name: group_name(p)?,
            page: Page::decode(&Params(p))?,
        })
    }
}

impl Operation for GetGroupInput {
    type Output = GroupWithUsers;

    fn authorize(&self, s: &Scope<'_, Iam>) -> Result<Authorization, IamError> {
        on_entity(s, "iam:GetGroup", EntityKind::Group, &self.name)
    }

    fn execute(i: &Authorized<Self>, x: Exec<'_, Iam>) -> Done<Self> {
        let Exec { tx, ctx, .. } = x;
        let account = ctx.principal.account.as_str();
        let g = load_group(tx.read(), account, &i.name)?;
        let (members, next) = paged(
            tx.read(),
            tables::GROUP_MEMBERS,
            &keys::memberships(account, &g.name),
            &i.page,
            |_| true,
        )?;
        let mut users: Vec<User> = Vec::with_capacity(members.len());
        for m in &members {
            if let Some(u) = tables::USERS.get(tx.read(), &keys::user(account, &m.user_name))? {
                users.push(u);
            }
        }
        Ok(Reply::new(GroupWithUsers {
            group: Owned {
                account: account.to_owned(),
                item: g,
                with_tags: false,
            },
            users: Listing::new("Users", owned(account, users), next),
        }))
    }
}

impl Recorded for GetGroupInput {
    fn request_parameters(&self, _: Sent<'_>) -> Value {
        json!({ "groupName": self.name })
    }
}

/// `ListGroups`.
#[derive(Debug, Clone)]
pub struct ListGroupsInput {
    path_prefix: String,
    page: Page,
}

impl ListGroupsInput {
    pub(crate) fn decode(p: &QueryParams) -> Result<Self, IamError> {
        let q = Params(p);
        let path_prefix = q.optional("PathPrefix").unwrap_or("/").to_owned();
        Checks::new()
            .path_prefix(&path_prefix, "pathPrefix")
            .done()?;
        Ok(Self {
            path_prefix,
            page: Page::decode(&q)?,
        })
    }
}

impl Operation for ListGroupsInput {
    type Output = Listing<Owned<Group>>;

    fn authorize(&self, s: &Scope<'_, Iam>) -> Result<Authorization, IamError> {
        Ok(on_listing(s, "iam:ListGroups", "group"))
    }

    fn execute(i: &Authorized<Self>, x: Exec<'_, Iam>) -> Done<Self> {
        let Exec { tx, ctx, .. } = x;
        let account = ctx.principal.account.as_str();
        let (groups, next) = paged(
            tx.read(),
            tables::GROUPS,
            &keys::entities(account),
            &i.page,
            |g| g.path.starts_with(&i.path_prefix),
        )?;
        Ok(Reply::new(Listing::new(
            "Groups",
            owned(account, groups),
            next,
        )))
    }
}

impl Recorded for ListGroupsInput {
    fn request_parameters(&self, _: Sent<'_>) -> Value {
        Value::Null
    }
}

/// `DeleteGroup`.
#[derive(Debug, Clone)]
pub struct DeleteGroupInput {
    name: String,
}

impl DeleteGroupInput {
    pub(crate) fn decode(p: &QueryParams) -> Result<Self, IamError> {
        Ok(Self {
            name: group_name(p)?,
        })
    }
}

impl Operation for DeleteGroupInput {
    type Output = NoResult;

    fn authorize(&self, s: &Scope<'_, Iam>) -> Result<Authorization, IamError> {
        on_entity(s, "iam:DeleteGroup", EntityKind::Group, &self.name)
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Iam>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let account = ctx.principal.account.as_str();
        let g = load_group(tx.read(), account, &op.name)?;
        if any_under(
            tx.read(),
            tables::GROUP_MEMBERS.tree(),
            &keys::memberships(account, &g.name),
        )? {
            return Err(IamError::DeleteConflict(
                "Cannot delete entity, must remove users from group first.".into(),
            ));
        }
        ensure_no_policies(tx.read(), account, EntityKind::Group, &g.name)?;
        tables::GROUPS.delete(
            tx.write()?,
            &keys::entity(account, EntityKind::Group, &g.name),
        )?;
        Ok(Reply::new(NoResult).resource("AWS::IAM::Group", g.name))
    }
}

impl Recorded for DeleteGroupInput {
    fn request_parameters(&self, _: Sent<'_>) -> Value {
        json!({ "groupName": self.name })
    }
}

/// `AddUserToGroup` (`ADD = true`) and `RemoveUserFromGroup`.
#[derive(Debug, Clone)]
pub struct MembershipInput<const ADD: bool> {
    group: String,
    user: String,
}

impl<const ADD: bool> MembershipInput<ADD> {
    pub(crate) fn decode(p: &QueryParams) -> Result<Self, IamError> {
        let group = group_name(p)?;
        let user = Params(p).required("UserName")?;
        Checks::new().name(user, "userName", 128).done()?;
        Ok(Self {
            group,
            user: user.into(),
        })
    }
}

impl<const ADD: bool> Operation for MembershipInput<ADD>
where
    Self: ferrogate_api::Registered<Service = Iam>,
{
    type Output = NoResult;

    /// On the group only (the reference lists `group*` as the one resource type).
    fn authorize(&self, s: &Scope<'_, Iam>) -> Result<Authorization, IamError> {
        let action = if ADD {
            "iam:AddUserToGroup"
        } else {
            "iam:RemoveUserFromGroup"
        };
        on_entity(s, action, EntityKind::Group, &self.group)
    }

    fn execute(i: &Authorized<Self>, x: Exec<'_, Iam>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let account = ctx.principal.account.as_str();
        let g = load_group(tx.read(), account, &i.group)?;
        let u = load_user(tx.read(), account, &i.user)?;
        let by_group = keys::membership(account, &g.name, &u.name);
        let by_user = keys::membership(account, &u.name, &g.name);
        if ADD && tables::USER_GROUPS.get(tx.read(), &by_user)?.is_none() {
            let n = tables::USER_GROUPS
                .scan(
                    tx.read(),
                    &keys::memberships(account, &u.name),
                    None,
                    ferrogate_store::Direction::Forward,
                    MAX_GROUPS_PER_USER + 1,
                )?
                .len();
            if n >= MAX_GROUPS_PER_USER {
                return Err(IamError::LimitExceeded(format!(
                    "Cannot exceed quota for GroupsPerUser: {MAX_GROUPS_PER_USER}"
                )));
            }
        }
        let w = tx.write()?;
        if ADD {
            let m = Membership {
                user_name: u.name.clone(),
                group_name: g.name.clone(),
            };
            tables::GROUP_MEMBERS.put(w, &by_group, &m)?;
            tables::USER_GROUPS.put(w, &by_user, &m)?;
        } else if !tables::GROUP_MEMBERS.delete(w, &by_group)? {
            return Err(IamError::NoSuchEntity(format!(
                "The user with name {} cannot be found in group {}.",
                u.name, g.name
            )));
        } else {
            tables::USER_GROUPS.delete(w, &by_user)?;
        }
        Ok(Reply::new(NoResult)
            .resource("AWS::IAM::Group", g.name)
            .resource("AWS::IAM::User", u.name))
    }
}

impl<const ADD: bool> Recorded for MembershipInput<ADD>
where
    Self: ferrogate_api::Registered<Service = Iam>,
{
    fn request_parameters(&self, _: Sent<'_>) -> Value {
        json!({ "groupName": self.group, "userName": self.user })
    }
}

/// `ListGroupsForUser`.
#[derive(Debug, Clone)]
pub struct ListGroupsForUserInput {
    user: String,
    page: Page,
}

impl ListGroupsForUserInput {
    pub(crate) fn decode(p: &QueryParams) -> Result<Self, IamError> {
        let q = Params(p);
        let user = q.required("UserName")?;
        Checks::new().name(user, "userName", 128).done()?;
        Ok(Self {
            user: user.into(),
            page: Page::decode(&q)?,
        })
    }
}

impl Operation for ListGroupsForUserInput {
    type Output = Listing<Owned<Group>>;

    fn authorize(&self, s: &Scope<'_, Iam>) -> Result<Authorization, IamError> {
        on_entity(s, "iam:ListGroupsForUser", EntityKind::User, &self.user)
    }

    fn execute(i: &Authorized<Self>, x: Exec<'_, Iam>) -> Done<Self> {
        let Exec { tx, ctx, .. } = x;
        let account = ctx.principal.account.as_str();
        let u = load_entity(tx.read(), account, EntityKind::User, &i.user)?;
        let (list, next) = paged(
            tx.read(),
            tables::USER_GROUPS,
            &keys::memberships(account, &u.name),
            &i.page,
            |_| true,
        )?;
        let mut groups = Vec::with_capacity(list.len());
        for m in &list {
            if let Some(g) = tables::GROUPS.get(
                tx.read(),
                &keys::entity(account, EntityKind::Group, &m.group_name),
            )? {
                groups.push(g);
            }
        }
        Ok(Reply::new(Listing::new(
            "Groups",
            owned(account, groups),
            next,
        )))
    }
}

impl Recorded for ListGroupsForUserInput {
    fn request_parameters(&self, _: Sent<'_>) -> Value {
        json!({ "userName": self.user })
    }
}
