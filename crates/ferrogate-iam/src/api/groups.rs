//! Groups: CreateGroup, GetGroup, ListGroups, DeleteGroup, AddUserToGroup,
//! RemoveUserFromGroup, ListGroupsForUser.

use ferrogate_api::{
    Authorization, Authorized, Check, Done, Exec, NoResult, Operation, Recorded, Reply,
    RequestTags, Resource, Scope, Sent,
};
use ferrogate_wire::query::QueryParams;
use serde_json::{json, Value};

use super::entity::{created, entity_arn, insert_new, load, load_entity, shown};
use super::lifecycle::name_param;
use super::output::{GroupWithUsers, Listing, Owned, Single};
use super::users::load_user;
use super::{on_entity, owned, paged, trail_date, Iam, Page, Params};
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
    load(tx, account, name)
}

fn group_name(p: &QueryParams) -> Result<String, IamError> {
    name_param::<Group>(p)
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
        let g = insert_new(&mut tx, account, &i.name, |_| {
            Ok(Group {
                name: i.name.clone(),
                group_id: ids::unique_id("AGPA").ok_or(IamError::RandomnessUnavailable)?,
                path: i.path.clone(),
                create_date: ctx.now,
            })
        })?;
        let elements = json!({ "group": {
            "path": g.path, "groupName": g.name, "groupId": g.group_id, "arn": g.arn(account),
            "createDate": trail_date(g.create_date),
        }});
        Ok(created(account, g, elements))
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
            group: shown(account, g),
            users: Listing::new("Users", owned(account, users), next),
        }))
    }
}

impl Recorded for GetGroupInput {
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
