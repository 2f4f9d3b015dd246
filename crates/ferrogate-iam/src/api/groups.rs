//! Groups: CreateGroup, GetGroup, ListGroups, DeleteGroup, AddUserToGroup,
//! RemoveUserFromGroup, ListGroupsForUser.

use ferrogate_store::TxRef;
use ferrogate_types::Principal;
use ferrogate_wire::query::{QueryParams, XmlWriter};
use serde_json::{json, Value};

use super::entity::{any_under, ensure_no_policies, entity_arn, load_entity};
use super::users::{load_user, user_arn};
use super::{paged, trail_date, write_truncation, Ctx, Page, Params, Reply};
use crate::authz::Action;
use crate::ids;
use crate::model::{keys, tables, EntityKind, Group, Membership};
use crate::validate::Checks;
use crate::IamError;

const NS: &str = "https://iam.amazonaws.com/doc/2010-05-08/";
/// IAM's quota of groups per user.
pub const MAX_GROUPS_PER_USER: usize = 10;

fn group_arn(caller: &Principal, name: &str) -> String {
    entity_arn(caller.account.as_str(), EntityKind::Group, "/", name)
}

fn load_group(
    tx: &dyn ferrogate_store::ReadTx,
    account: &str,
    name: &str,
) -> Result<Group, IamError> {
    tables::GROUPS
        .get(tx, &keys::entity(account, EntityKind::Group, name))?
        .ok_or_else(|| super::entity::no_such_entity(EntityKind::Group, name))
}

fn write_group(w: &mut XmlWriter, account: &str, g: &Group) {
    w.leaf("Path", &g.path)
        .leaf("GroupName", &g.name)
        .leaf("GroupId", &g.group_id)
        .leaf("Arn", &g.arn(account));
    w.leaf("CreateDate", &g.create_date.iso8601());
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

    pub(crate) fn action(&self, caller: &Principal) -> Action {
        Action {
            action: "iam:CreateGroup".into(),
            resource: entity_arn(
                caller.account.as_str(),
                EntityKind::Group,
                &self.path,
                &self.name,
            ),
            trust_of: None,
        }
    }

    pub(crate) fn request_parameters(&self) -> Value {
        let mut v = json!({ "groupName": self.name });
        if self.path != "/" {
            v["path"] = json!(self.path);
        }
        v
    }

    pub(crate) fn execute(&self, mut tx: TxRef<'_>, ctx: Ctx<'_>) -> Result<Reply, IamError> {
        let account = ctx.principal.account.as_str();
        let key = keys::entity(account, EntityKind::Group, &self.name);
        if tables::GROUPS.get(tx.read(), &key)?.is_some() {
            return Err(IamError::EntityAlreadyExists(format!(
                "Group with name {} already exists.",
                self.name
            )));
        }
        let g = Group {
            name: self.name.clone(),
            group_id: ids::unique_id("AGPA"),
            path: self.path.clone(),
            create_date: ctx.now,
        };
        tables::GROUPS.put(tx.write()?, &key, &g)?;
        let mut w = XmlWriter::response("CreateGroup", NS);
        w.open("Group");
        write_group(&mut w, account, &g);
        w.close("Group");
        Ok(Reply {
            body: w.finish(ctx.request_id),
            response_elements: json!({ "group": {
                "path": g.path, "groupName": g.name, "groupId": g.group_id, "arn": g.arn(account),
                "createDate": trail_date(g.create_date),
            }}),
            resources: vec![("AWS::IAM::Group".into(), g.name)],
        })
    }
}

/// `GetGroup`: the group and its users.
#[derive(Debug, Clone)]
pub struct GetGroupInput {
    name: String,
    page: Page,
}

impl GetGroupInput {
    /// The existing user, group or role the request addresses, if it names one.
    pub(crate) fn target(&self) -> Option<(EntityKind, &str)> {
        Some((EntityKind::Group, &self.name))
    }
    pub(crate) fn decode(p: &QueryParams) -> Result<Self, IamError> {
        Ok(Self {
            name: group_name(p)?,
            page: Page::decode(&Params(p))?,
        })
    }

    pub(crate) fn action(&self, caller: &Principal) -> Action {
        Action {
            action: "iam:GetGroup".into(),
            resource: group_arn(caller, &self.name),
            trust_of: None,
        }
    }

    pub(crate) fn request_parameters(&self) -> Value {
        json!({ "groupName": self.name })
    }

    pub(crate) fn execute(&self, tx: TxRef<'_>, ctx: Ctx<'_>) -> Result<Reply, IamError> {
        let account = ctx.principal.account.as_str();
        let g = load_group(tx.read(), account, &self.name)?;
        let (members, next) = paged(
            tx.read(),
            tables::GROUP_MEMBERS,
            &keys::memberships(account, &g.name),
            &self.page,
            |_| true,
        )?;
        let mut w = XmlWriter::response("GetGroup", NS);
        w.open("Group");
        write_group(&mut w, account, &g);
        w.close("Group");
        w.open("Users");
        for m in &members {
            if let Some(u) = tables::USERS.get(tx.read(), &keys::user(account, &m.user_name))? {
                w.open("member");
                w.leaf("Path", &u.path)
                    .leaf("UserName", &u.name)
                    .leaf("UserId", &u.user_id)
                    .leaf("Arn", &u.arn(account));
                w.leaf("CreateDate", &u.create_date.iso8601());
                w.close("member");
            }
        }
        w.close("Users");
        write_truncation(&mut w, next.as_deref());
        Ok(Reply {
            body: w.finish(ctx.request_id),
            response_elements: Value::Null,
            resources: Vec::new(),
        })
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

    pub(crate) fn action(&self, caller: &Principal) -> Action {
        Action {
            action: "iam:ListGroups".into(),
            resource: format!("arn:aws:iam::{}:group/", caller.account),
            trust_of: None,
        }
    }

    pub(crate) fn request_parameters(&self) -> Value {
        Value::Null
    }

    pub(crate) fn execute(&self, tx: TxRef<'_>, ctx: Ctx<'_>) -> Result<Reply, IamError> {
        let account = ctx.principal.account.as_str();
        let (groups, next) = paged(
            tx.read(),
            tables::GROUPS,
            &keys::entities(account),
            &self.page,
            |g| g.path.starts_with(&self.path_prefix),
        )?;
        let mut w = XmlWriter::response("ListGroups", NS);
        w.open("Groups");
        for g in &groups {
            w.open("member");
            write_group(&mut w, account, g);
            w.close("member");
        }
        w.close("Groups");
        write_truncation(&mut w, next.as_deref());
        Ok(Reply {
            body: w.finish(ctx.request_id),
            response_elements: Value::Null,
            resources: Vec::new(),
        })
    }
}

/// `DeleteGroup`.
#[derive(Debug, Clone)]
pub struct DeleteGroupInput {
    name: String,
}

impl DeleteGroupInput {
    /// The existing user, group or role the request addresses, if it names one.
    pub(crate) fn target(&self) -> Option<(EntityKind, &str)> {
        Some((EntityKind::Group, &self.name))
    }
    pub(crate) fn decode(p: &QueryParams) -> Result<Self, IamError> {
        Ok(Self {
            name: group_name(p)?,
        })
    }

    pub(crate) fn action(&self, caller: &Principal) -> Action {
        Action {
            action: "iam:DeleteGroup".into(),
            resource: group_arn(caller, &self.name),
            trust_of: None,
        }
    }

    pub(crate) fn request_parameters(&self) -> Value {
        json!({ "groupName": self.name })
    }

    pub(crate) fn execute(&self, mut tx: TxRef<'_>, ctx: Ctx<'_>) -> Result<Reply, IamError> {
        let account = ctx.principal.account.as_str();
        let g = load_group(tx.read(), account, &self.name)?;
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
        Ok(Reply {
            body: XmlWriter::response_without_result("DeleteGroup", NS).finish(ctx.request_id),
            response_elements: Value::Null,
            resources: vec![("AWS::IAM::Group".into(), g.name)],
        })
    }
}

/// `AddUserToGroup` (`ADD = true`) and `RemoveUserFromGroup`.
#[derive(Debug, Clone)]
pub struct MembershipInput<const ADD: bool> {
    group: String,
    user: String,
}

impl<const ADD: bool> MembershipInput<ADD> {
    /// The existing user, group or role the request addresses, if it names one.
    pub(crate) fn target(&self) -> Option<(EntityKind, &str)> {
        Some((EntityKind::Group, &self.group))
    }
    pub(crate) fn decode(p: &QueryParams) -> Result<Self, IamError> {
        let group = group_name(p)?;
        let user = Params(p).required("UserName")?;
        Checks::new().name(user, "userName", 128).done()?;
        Ok(Self {
            group,
            user: user.into(),
        })
    }

    fn name() -> &'static str {
        if ADD {
            "AddUserToGroup"
        } else {
            "RemoveUserFromGroup"
        }
    }

    pub(crate) fn action(&self, caller: &Principal) -> Action {
        Action {
            action: format!("iam:{}", Self::name()),
            resource: group_arn(caller, &self.group),
            trust_of: None,
        }
    }

    pub(crate) fn request_parameters(&self) -> Value {
        json!({ "groupName": self.group, "userName": self.user })
    }

    pub(crate) fn execute(&self, mut tx: TxRef<'_>, ctx: Ctx<'_>) -> Result<Reply, IamError> {
        let account = ctx.principal.account.as_str();
        let g = load_group(tx.read(), account, &self.group)?;
        let u = load_user(tx.read(), account, &self.user)?;
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
        Ok(Reply {
            body: XmlWriter::response_without_result(Self::name(), NS).finish(ctx.request_id),
            response_elements: Value::Null,
            resources: vec![
                ("AWS::IAM::Group".into(), g.name),
                ("AWS::IAM::User".into(), u.name),
            ],
        })
    }
}

/// `ListGroupsForUser`.
#[derive(Debug, Clone)]
pub struct ListGroupsForUserInput {
    user: String,
    page: Page,
}

impl ListGroupsForUserInput {
    /// The existing user, group or role the request addresses, if it names one.
    pub(crate) fn target(&self) -> Option<(EntityKind, &str)> {
        Some((EntityKind::User, &self.user))
    }
    pub(crate) fn decode(p: &QueryParams) -> Result<Self, IamError> {
        let q = Params(p);
        let user = q.required("UserName")?;
        Checks::new().name(user, "userName", 128).done()?;
        Ok(Self {
            user: user.into(),
            page: Page::decode(&q)?,
        })
    }

    pub(crate) fn action(&self, caller: &Principal) -> Action {
        Action {
            action: "iam:ListGroupsForUser".into(),
            resource: user_arn(caller.account.as_str(), "/", &self.user),
            trust_of: None,
        }
    }

    pub(crate) fn request_parameters(&self) -> Value {
        json!({ "userName": self.user })
    }

    pub(crate) fn execute(&self, tx: TxRef<'_>, ctx: Ctx<'_>) -> Result<Reply, IamError> {
        let account = ctx.principal.account.as_str();
        let u = load_entity(tx.read(), account, EntityKind::User, &self.user)?;
        let (list, next) = paged(
            tx.read(),
            tables::USER_GROUPS,
            &keys::memberships(account, &u.name),
            &self.page,
            |_| true,
        )?;
        let mut w = XmlWriter::response("ListGroupsForUser", NS);
        w.open("Groups");
        for m in &list {
            if let Some(g) = tables::GROUPS.get(
                tx.read(),
                &keys::entity(account, EntityKind::Group, &m.group_name),
            )? {
                w.open("member");
                write_group(&mut w, account, &g);
                w.close("member");
            }
        }
        w.close("Groups");
        write_truncation(&mut w, next.as_deref());
        Ok(Reply {
            body: w.finish(ctx.request_id),
            response_elements: Value::Null,
            resources: Vec::new(),
        })
    }
}
