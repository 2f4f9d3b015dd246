//! CreateUser, GetUser, ListUsers, DeleteUser.

use ferrogate_store::TxRef;
use ferrogate_types::{Principal, PrincipalKind};
use ferrogate_wire::query::{QueryParams, XmlWriter};
use serde_json::{json, Value};

use super::entity::{any_under, ensure_no_policies};
use super::{paged, trail_date, write_truncation, Ctx, Page, Params, Reply};
use crate::authz::Action;
use crate::ids;
use crate::model::{keys, tables, EntityKind, Tag, User};
use crate::validate::Checks;
use crate::IamError;

const NS: &str = "https://iam.amazonaws.com/doc/2010-05-08/";

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

fn write_user(w: &mut XmlWriter, account: &str, u: &User, with_tags: bool) {
    w.leaf("Path", &u.path);
    w.leaf("UserName", &u.name)
        .leaf("UserId", &u.user_id)
        .leaf("Arn", &u.arn(account));
    w.leaf("CreateDate", &u.create_date.iso8601());
    if with_tags && !u.tags.is_empty() {
        w.open("Tags");
        for t in &u.tags {
            w.open("member")
                .leaf("Key", &t.key)
                .leaf("Value", &t.value)
                .close("member");
        }
        w.close("Tags");
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
    /// `aws:RequestTag/<key>` and `aws:TagKeys` from the request's tags.
    pub(crate) fn condition_keys(&self) -> Vec<(String, Vec<String>)> {
        crate::api::tag_keys(&self.tags)
    }

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
        let mut seen = std::collections::HashSet::new();
        if !tags.iter().all(|t| seen.insert(t.key.to_lowercase())) {
            return Err(IamError::InvalidInput(
                "Duplicate tag keys found. Please note that Tag keys are case insensitive.".into(),
            ));
        }
        Ok(Self {
            user_name,
            path,
            tags,
        })
    }

    pub(crate) fn action(&self, caller: &Principal) -> Action {
        Action {
            action: "iam:CreateUser".into(),
            resource: user_arn(caller.account.as_str(), &self.path, &self.user_name),
            trust_of: None,
        }
    }

    pub(crate) fn request_parameters(&self) -> Value {
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

    pub(crate) fn execute(&self, mut tx: TxRef<'_>, ctx: Ctx<'_>) -> Result<Reply, IamError> {
        let account = ctx.principal.account.as_str();
        let key = keys::user(account, &self.user_name);
        if tables::USERS.get(tx.read(), &key)?.is_some() {
            return Err(IamError::EntityAlreadyExists(format!(
                "User with name {} already exists.",
                self.user_name
            )));
        }
        let user = User {
            name: self.user_name.clone(),
            user_id: ids::unique_id("AIDA"),
            path: self.path.clone(),
            create_date: ctx.now,
            tags: self.tags.clone(),
        };
        tables::USERS.put(tx.write()?, &key, &user)?;
        let mut w = XmlWriter::response("CreateUser", NS);
        w.open("User");
        write_user(&mut w, account, &user, true);
        w.close("User");
        Ok(Reply {
            body: w.finish(ctx.request_id),
            response_elements: json!({ "user": {
                "path": user.path, "userName": user.name, "userId": user.user_id,
                "arn": user.arn(account), "createDate": trail_date(user.create_date),
            }}),
            resources: vec![("AWS::IAM::User".into(), user.name.clone())],
        })
    }
}

/// `GetUser`.
#[derive(Debug, Clone)]
pub struct GetUserInput {
    user_name: Option<String>,
}

impl GetUserInput {
    /// The existing user, group or role the request addresses, if it names one.
    pub(crate) fn target(&self) -> Option<(EntityKind, &str)> {
        self.user_name.as_deref().map(|n| (EntityKind::User, n))
    }
    pub(crate) fn decode(p: &QueryParams) -> Result<Self, IamError> {
        let user_name = Params(p).optional("UserName").map(str::to_owned);
        if let Some(n) = &user_name {
            Checks::new().name(n, "userName", 128).done()?;
        }
        Ok(Self { user_name })
    }

    pub(crate) fn action(&self, caller: &Principal) -> Action {
        let resource = match (&self.user_name, &caller.kind) {
            (Some(n), _) => user_arn(caller.account.as_str(), "/", n),
            (None, _) => caller.arn.clone(),
        };
        Action {
            action: "iam:GetUser".into(),
            resource,
            trust_of: None,
        }
    }

    pub(crate) fn request_parameters(&self) -> Value {
        self.user_name
            .as_ref()
            .map_or(Value::Null, |n| json!({ "userName": n }))
    }

    pub(crate) fn execute(&self, tx: TxRef<'_>, ctx: Ctx<'_>) -> Result<Reply, IamError> {
        let account = ctx.principal.account.as_str();
        let mut w = XmlWriter::response("GetUser", NS);
        w.open("User");
        let name = self
            .user_name
            .as_deref()
            .or_else(|| caller_user_name(ctx.principal));
        let resources = match name {
            Some(n) => {
                let u = load_user(tx.read(), account, n)?;
                write_user(&mut w, account, &u, true);
                vec![("AWS::IAM::User".to_owned(), u.name)]
            }
            None if ctx.principal.is_root() => {
                // The root user has no name or path; IAM answers with its id and ARN.
                let created = crate::model::tables::ACCOUNTS
                    .get(tx.read(), &keys::account(account))?
                    .map_or(ctx.now, |a| a.created);
                w.leaf("UserId", account)
                    .leaf("Arn", &ctx.principal.arn)
                    .leaf("CreateDate", &created.iso8601());
                Vec::new()
            }
            None => {
                return Err(IamError::ValidationError(
                    "Must specify userName when calling with non-User credentials".into(),
                ))
            }
        };
        w.close("User");
        Ok(Reply {
            body: w.finish(ctx.request_id),
            response_elements: Value::Null,
            resources,
        })
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

    pub(crate) fn action(&self, caller: &Principal) -> Action {
        Action {
            action: "iam:ListUsers".into(),
            resource: format!("arn:aws:iam::{}:user/", caller.account),
            trust_of: None,
        }
    }

    pub(crate) fn request_parameters(&self) -> Value {
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

    pub(crate) fn execute(&self, tx: TxRef<'_>, ctx: Ctx<'_>) -> Result<Reply, IamError> {
        let account = ctx.principal.account.as_str();
        let (users, next) = paged(
            tx.read(),
            tables::USERS,
            &keys::users(account),
            &self.page,
            |u| u.path.starts_with(&self.path_prefix),
        )?;
        let mut w = XmlWriter::response("ListUsers", NS);
        w.open("Users");
        for u in &users {
            w.open("member");
            write_user(&mut w, account, u, false);
            w.close("member");
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

/// `DeleteUser`.
#[derive(Debug, Clone)]
pub struct DeleteUserInput {
    user_name: String,
}

impl DeleteUserInput {
    /// The existing user, group or role the request addresses, if it names one.
    pub(crate) fn target(&self) -> Option<(EntityKind, &str)> {
        Some((EntityKind::User, &self.user_name))
    }
    pub(crate) fn decode(p: &QueryParams) -> Result<Self, IamError> {
        let user_name = Params(p).required("UserName")?.to_owned();
        Checks::new().name(&user_name, "userName", 128).done()?;
        Ok(Self { user_name })
    }

    pub(crate) fn action(&self, caller: &Principal) -> Action {
        Action {
            action: "iam:DeleteUser".into(),
            resource: user_arn(caller.account.as_str(), "/", &self.user_name),
            trust_of: None,
        }
    }

    pub(crate) fn request_parameters(&self) -> Value {
        json!({ "userName": self.user_name })
    }

    pub(crate) fn execute(&self, mut tx: TxRef<'_>, ctx: Ctx<'_>) -> Result<Reply, IamError> {
        let account = ctx.principal.account.as_str();
        let user = load_user(tx.read(), account, &self.user_name)?;
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
        let w = XmlWriter::response_without_result("DeleteUser", NS);
        Ok(Reply {
            body: w.finish(ctx.request_id),
            response_elements: Value::Null,
            resources: vec![("AWS::IAM::User".into(), user.name)],
        })
    }
}
