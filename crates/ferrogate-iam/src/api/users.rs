//! CreateUser, GetUser, ListUsers, DeleteUser.

use ferrogate_api::{
    Authorization, Authorized, Check, Done, Exec, Operation, Recorded, Reply, Scope, Sent,
};
use ferrogate_types::{Principal, PrincipalKind};
use ferrogate_wire::query::QueryParams;
use serde_json::{json, Value};

use super::entity::{created, insert_new, load, on_create, recorded_tags, shown};
use super::output::{Owned, RootUser, Single, UserOrRoot};
use super::{trail_date, user_or_caller, Iam, Params};
use crate::ids;
use crate::model::{keys, EntityKind, Tag, User};
use crate::validate::Checks;
use crate::IamError;

/// The user named `name` in the caller's account.
pub(crate) fn load_user(
    tx: &dyn ferrogate_store::ReadTx,
    account: &str,
    name: &str,
) -> Result<User, IamError> {
    load(tx, account, name)
}

/// The name of the user an operation without `UserName` applies to: the calling user.
/// `None` for the root user.
pub(crate) fn caller_user_name(caller: &Principal) -> Option<&str> {
    match &caller.kind {
        PrincipalKind::IamUser { user_name } => Some(user_name),
        _ => None,
    }
}

/// The `Tags` of `CreateUser` and `CreateRole`, checked with the request's other `checks`;
/// refuses `PermissionsBoundary` and tag keys that differ only in case.
pub(crate) fn create_tags(p: &QueryParams, mut checks: Checks) -> Result<Vec<Tag>, IamError> {
    let tags = decode_tags(p, &mut checks);
    checks.done()?;
    if p.get("PermissionsBoundary").is_some() {
        // Refused rather than ignored: a boundary that is not applied would grant more than
        // its author intended.
        return Err(IamError::InvalidInput(
            "Permissions boundaries are not supported by Ferrogate yet.".into(),
        ));
    }
    super::tags::check_unique(&tags)?;
    Ok(tags)
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
        let tags = create_tags(p, c)?;
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
        Ok(on_create(
            s.account(),
            EntityKind::User,
            &self.path,
            &self.user_name,
            &self.tags,
        ))
    }

    fn execute(i: &Authorized<Self>, x: Exec<'_, Iam>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let account = ctx.principal.account.as_str();
        let user = insert_new(&mut tx, account, &i.user_name, |_| {
            Ok(User {
                name: i.user_name.clone(),
                user_id: ids::unique_id("AIDA").ok_or(IamError::RandomnessUnavailable)?,
                path: i.path.clone(),
                create_date: ctx.now,
                tags: i.tags.clone(),
            })
        })?;
        let elements = json!({ "user": {
            "path": user.path, "userName": user.name, "userId": user.user_id,
            "arn": user.arn(account), "createDate": trail_date(user.create_date),
        }});
        Ok(created(account, user, elements))
    }
}

impl Recorded for CreateUserInput {
    fn request_parameters(&self, _: Sent<'_>) -> Value {
        let mut v = json!({ "userName": self.user_name });
        if self.path != "/" {
            v["path"] = json!(self.path);
        }
        if !self.tags.is_empty() {
            v["tags"] = recorded_tags(&self.tags);
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
                let item = UserOrRoot::User(shown(account, u));
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
