//! CreateUser, GetUser, ListUsers, DeleteUser.

use ferrogate_api::{
    Authorization, Authorized, Check, Done, Exec, Operation, Recorded, Reply, Resource, Scope, Sent,
};
use ferrogate_types::{Principal, PrincipalKind};
use ferrogate_wire::query::QueryParams;
use serde_json::{json, Value};

use super::entity::{any_under, ensure_no_policies};
use super::output::{Listing, Owned, RootUser, Single, UserOrRoot};
use super::{on_entity, paged, request_tags, trail_date, user_or_caller, Iam, Page, Params};
use crate::ids;
use crate::model::{keys, tables, EntityKind, Tag, User};
use crate::validate::Checks;
use crate::IamError;

pub(crate) fn user_arn(account: &str, path: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:user{path}{name}")
}

pub(crate) fn no_such_user(name: &str) -> IamError {
    IamError::NoSuchEntity(format!("The user with name {name} cannot be found."))
}

/// The user named `name` in the caller's account.
pub(crate) fn load_user(
    tx: &dyn ferrogate_store::ReadTx,
    account: &str,
    name: &str,
) -> Result<User, IamError> {
    tables::USERS
        .get(tx, &keys::user(account, name))?
        .ok_or_else(|| no_such_user(name))
}

/// The name of the user an operation without `UserName` applies to: the calling user.
/// `None` for the root user.
pub(crate) fn caller_user_name(caller: &Principal) -> Option<&str> {
    match &caller.kind {
        PrincipalKind::IamUser { user_name } => Some(user_name),
        _ => None,
    }
}

pub(crate) fn decode_tags(p: &QueryParams, c: &mut Checks) -> Vec<Tag> {
    let tags: Vec<Tag> = p
        .member_structs("Tags", &["Key", "Value"])
        .into_iter()
        .map(|m| Tag {
            key: m.get("Key").cloned().unwrap_or_default(),
            value: m.get("Value").cloned().unwrap_or_default(),
        })
        .collect();
    if tags.len() > 50 {
        c.length(&"x".repeat(tags.len()), "tags", 0, 50);
    }
    for (i, t) in tags.iter().enumerate() {
        c.tag(&t.key, &format!("tags.{}.member.key", i + 1), true);
        c.tag(&t.value, &format!("tags.{}.member.value", i + 1), false);
    }
    tags
}

/// `CreateUser`.
#[derive(Debug, Clone)]
pub struct CreateUserInput {
    user_name: String,
    path: String,
    tags: Vec<Tag>,
}

impl CreateUserInput {
    pub(crate) fn decode(p: &QueryParams) -> Result<Self, IamError> {
        let q = Params(p);
        let user_name = q.required("UserName")?.to_owned();
        let path = q.optional("Path").unwrap_or("/").to_owned();
        let mut c = Checks::new();
        c.name(&user_name, "userName", 64).path(&path, "path");
        let tags = decode_tags(p, &mut c);
        c.done()?;
        if q.optional("PermissionsBoundary").is_some() {
            // Refused rather than ignored: a boundary that is not applied would grant more
            // than its author intended.
            return Err(IamError::InvalidInput(
                "Permissions boundaries are not supported by Ferrogate yet.".into(),
            ));
        }
        super::tags::check_unique(&tags)?;
        Ok(Self {
            user_name,
            path,
            tags,
        })
    }
}

impl Operation for CreateUserInput {
    type Output = Single<Owned<User>>;

    /// `iam:CreateUser` on the new user; with tags, `iam:TagUser` on it too (the SAR lists
    /// it as a dependent action: tagging on create is authorized as tagging).
    fn authorize(&self, s: &Scope<'_, Iam>) -> Result<Authorization, IamError> {
        let arn = user_arn(s.account(), &self.path, &self.user_name);
        let create = Check::new(
            "iam:CreateUser",
            Resource::New(arn.clone()),
            request_tags(&self.tags),
        );
        let mut auth = Authorization::of(create);
        if !self.tags.is_empty() {
            auth = auth.and(Check::new(
                "iam:TagUser",
                Resource::New(arn),
                request_tags(&self.tags),
            ));
        }
        Ok(auth)
    }

    fn execute(i: &Authorized<Self>, x: Exec<'_, Iam>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let account = ctx.principal.account.as_str();
        let key = keys::user(account, &i.user_name);
        if tables::USERS.get(tx.read(), &key)?.is_some() {
            return Err(IamError::EntityAlreadyExists(format!(
                "User with name {} already exists.",
                i.user_name
            )));
        }
        let user = User {
            name: i.user_name.clone(),
            user_id: ids::unique_id("AIDA").ok_or(IamError::RandomnessUnavailable)?,
            path: i.path.clone(),
            create_date: ctx.now,
            tags: i.tags.clone(),
        };
        tables::USERS.put(tx.write()?, &key, &user)?;
        let elements = json!({ "user": {
            "path": user.path, "userName": user.name, "userId": user.user_id,
            "arn": user.arn(account), "createDate": trail_date(user.create_date),
        }});
        let name = user.name.clone();
        Ok(Reply::new(Single {
            element: "User",
            item: Owned {
                account: account.to_owned(),
                item: user,
                with_tags: true,
            },
        })
        .elements(elements)
        .resource("AWS::IAM::User", name))
    }
}

impl Recorded for CreateUserInput {
    fn request_parameters(&self, _: Sent<'_>) -> Value {
        let mut v = json!({ "userName": self.user_name });
        if self.path != "/" {
            v["path"] = json!(self.path);
        }
        if !self.tags.is_empty() {
            v["tags"] = json!(self
                .tags
                .iter()
                .map(|t| json!({"key": t.key, "value": t.value}))
                .collect::<Vec<_>>());
        }
        v
    }
}

/// `GetUser`.
#[derive(Debug, Clone)]
pub struct GetUserInput {
    user_name: Option<String>,
}

impl GetUserInput {
    pub(crate) fn decode(p: &QueryParams) -> Result<Self, IamError> {
        let user_name = Params(p).optional("UserName").map(str::to_owned);
        if let Some(n) = &user_name {
            Checks::new().name(n, "userName", 128).done()?;
        }
        Ok(Self { user_name })
    }
}

impl Operation for GetUserInput {
    type Output = Single<UserOrRoot>;

    fn authorize(&self, s: &Scope<'_, Iam>) -> Result<Authorization, IamError> {
        let resource = match &self.user_name {
            Some(n) => super::entity_resource(s.tx, s.account(), EntityKind::User, n)?,
            None => user_or_caller(s, None)?,
        };
        Ok(Authorization::of(Check::new(
            "iam:GetUser",
            resource,
            ferrogate_api::RequestTags::None,
        )))
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Iam>) -> Done<Self> {
        let Exec { tx, ctx, .. } = x;
        let account = ctx.principal.account.as_str();
        let name = op
            .op()
            .user_name
            .as_deref()
            .or_else(|| caller_user_name(ctx.principal));
        let (item, resource) = match name {
            Some(n) => {
                let u = load_user(tx.read(), account, n)?;
                let name = u.name.clone();
                let item = UserOrRoot::User(Owned {
                    account: account.to_owned(),
                    item: u,
                    with_tags: true,
                });
                (item, Some(name))
            }
            None if ctx.principal.is_root() => {
                // The root user has no name or path; IAM answers with its id and ARN.
                let created = crate::model::tables::ACCOUNTS
                    .get(tx.read(), &keys::account(account))?
                    .map_or(ctx.now, |a| a.created);
                let root = RootUser {
                    account: account.to_owned(),
                    arn: ctx.principal.arn.clone(),
                    created,
                };
                (UserOrRoot::Root(root), None)
            }
            None => {
                return Err(IamError::ValidationError(
                    "Must specify userName when calling with non-User credentials".into(),
                ))
            }
        };
        let reply = Reply::new(Single {
            element: "User",
            item,
        });
        Ok(match resource {
            Some(n) => reply.resource("AWS::IAM::User", n),
            None => reply,
        })
    }
}

impl Recorded for GetUserInput {
    fn request_parameters(&self, _: Sent<'_>) -> Value {
        self.user_name
            .as_ref()
            .map_or(Value::Null, |n| json!({ "userName": n }))
    }
}

/// `ListUsers`.
#[derive(Debug, Clone)]
pub struct ListUsersInput {
    path_prefix: String,
    page: Page,
}

impl ListUsersInput {
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

impl Operation for ListUsersInput {
    type Output = Listing<Owned<User>>;

    fn authorize(&self, s: &Scope<'_, Iam>) -> Result<Authorization, IamError> {
        Ok(super::on_listing(s, "iam:ListUsers", "user"))
    }

    fn execute(i: &Authorized<Self>, x: Exec<'_, Iam>) -> Done<Self> {
        let Exec { tx, ctx, .. } = x;
        let account = ctx.principal.account.as_str();
        let (users, next) = paged(
            tx.read(),
            tables::USERS,
            &keys::users(account),
            &i.page,
            |u| u.path.starts_with(&i.path_prefix),
        )?;
        let users = super::owned(account, users);
        Ok(Reply::new(Listing::new("Users", users, next)))
    }
}

impl Recorded for ListUsersInput {
    fn request_parameters(&self, _: Sent<'_>) -> Value {
        let mut v = json!({});
        if self.path_prefix != "/" {
            v["pathPrefix"] = json!(self.path_prefix);
        }
        if let Some(m) = &self.page.marker {
            v["marker"] = json!(m);
        }
        if v.as_object().is_some_and(serde_json::Map::is_empty) {
            Value::Null
        } else {
            v
        }
    }
}

/// `DeleteUser`.
#[derive(Debug, Clone)]
pub struct DeleteUserInput {
    user_name: String,
}

impl DeleteUserInput {
    pub(crate) fn decode(p: &QueryParams) -> Result<Self, IamError> {
        let user_name = Params(p).required("UserName")?.to_owned();
        Checks::new().name(&user_name, "userName", 128).done()?;
        Ok(Self { user_name })
    }
}

impl Operation for DeleteUserInput {
    type Output = ferrogate_api::NoResult;

    fn authorize(&self, s: &Scope<'_, Iam>) -> Result<Authorization, IamError> {
        on_entity(s, "iam:DeleteUser", EntityKind::User, &self.user_name)
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Iam>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let account = ctx.principal.account.as_str();
        let user = load_user(tx.read(), account, &op.user_name)?;
        if any_under(
            tx.read(),
            tables::USER_KEYS.tree(),
            &keys::user_keys(account, Some(&user.name)),
        )? {
            return Err(IamError::DeleteConflict(
                "Cannot delete entity, must delete access keys first.".into(),
            ));
        }
        ensure_no_policies(tx.read(), account, EntityKind::User, &user.name)?;
        if any_under(
            tx.read(),
            tables::USER_GROUPS.tree(),
            &keys::memberships(account, &user.name),
        )? {
            return Err(IamError::DeleteConflict(
                "Cannot delete entity, must remove user from all groups first.".into(),
            ));
        }
        tables::USERS.delete(tx.write()?, &keys::user(account, &user.name))?;
        Ok(Reply::new(ferrogate_api::NoResult).resource("AWS::IAM::User", user.name))
    }
}

impl Recorded for DeleteUserInput {
    fn request_parameters(&self, _: Sent<'_>) -> Value {
        json!({ "userName": self.user_name })
    }
}
