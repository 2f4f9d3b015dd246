//! Roles: CreateRole, GetRole, ListRoles, DeleteRole, UpdateAssumeRolePolicy.

use ferrogate_policy::{Policy, PolicyKind};
use ferrogate_store::{ReadTx, TxRef};
use ferrogate_types::Principal;
use ferrogate_wire::query::{QueryParams, XmlWriter};
use serde_json::{json, Value};

use super::entity::{ensure_no_policies, entity_arn, no_such_entity};
use super::users::decode_tags;
use super::{encode_document, paged, trail_date, write_truncation, Ctx, Page, Params, Reply};
use crate::authz::Action;
use crate::ids;
use crate::model::{keys, tables, EntityKind, Role, Tag};
use crate::validate::Checks;
use crate::IamError;

const NS: &str = "https://iam.amazonaws.com/doc/2010-05-08/";

pub(crate) fn load_role(tx: &dyn ReadTx, account: &str, name: &str) -> Result<Role, IamError> {
    tables::ROLES
        .get(tx, &keys::entity(account, EntityKind::Role, name))?
        .ok_or_else(|| no_such_entity(EntityKind::Role, name))
}

/// Validates a trust policy: the grammar, then that every AWS principal it names exists, as
/// IAM checks when the policy is saved (`Invalid principal in policy: "AWS":"…"`).
pub(crate) fn check_trust_policy(tx: &dyn ReadTx, doc: &str) -> Result<(), IamError> {
    let policy = Policy::parse(doc, PolicyKind::RoleTrust)
        .map_err(|e| IamError::MalformedPolicyDocument(e.to_string()))?;
    for p in policy.aws_principals() {
        if !principal_exists(tx, p)? {
            return Err(IamError::MalformedPolicyDocument(format!(
                "Invalid principal in policy: \"AWS\":\"{p}\""
            )));
        }
    }
    Ok(())
}

fn principal_exists(tx: &dyn ReadTx, p: &str) -> Result<bool, IamError> {
    if p == "*" {
        return Ok(true);
    }
    let account_exists = |a: &str| -> Result<bool, IamError> {
        Ok(tables::ACCOUNTS.get(tx, &keys::account(a))?.is_some())
    };
    if p.len() == 12 && p.bytes().all(|b| b.is_ascii_digit()) {
        return account_exists(p);
    }
    let Some(rest) = p.strip_prefix("arn:aws:iam::") else {
        return Ok(false);
    };
    let Some((account, resource)) = rest.split_once(':') else {
        return Ok(false);
    };
    if resource == "root" {
        return account_exists(account);
    }
    let name = |r: &str| r.rsplit('/').next().unwrap_or("").to_owned();
    if let Some(r) = resource.strip_prefix("user/") {
        return Ok(tables::USERS
            .get(tx, &keys::user(account, &name(r)))?
            .is_some());
    }
    if let Some(r) = resource.strip_prefix("role/") {
        return Ok(tables::ROLES
            .get(tx, &keys::entity(account, EntityKind::Role, &name(r)))?
            .is_some());
    }
    Ok(false)
}

fn write_role(w: &mut XmlWriter, account: &str, r: &Role, full: bool) {
    w.leaf("Path", &r.path)
        .leaf("RoleName", &r.name)
        .leaf("RoleId", &r.role_id)
        .leaf("Arn", &r.arn(account));
    w.leaf("CreateDate", &r.create_date.iso8601());
    w.leaf(
        "AssumeRolePolicyDocument",
        &encode_document(&r.trust_policy),
    );
    w.leaf_opt("Description", r.description.as_deref());
    w.leaf("MaxSessionDuration", &r.max_session_duration.to_string());
    if full && !r.tags.is_empty() {
        w.open("Tags");
        for t in &r.tags {
            w.open("member")
                .leaf("Key", &t.key)
                .leaf("Value", &t.value)
                .close("member");
        }
        w.close("Tags");
    }
}

fn role_name(p: &QueryParams) -> Result<String, IamError> {
    let name = Params(p).required("RoleName")?;
    Checks::new().name(name, "roleName", 64).done()?;
    Ok(name.into())
}

/// `CreateRole`.
#[derive(Debug, Clone)]
pub struct CreateRoleInput {
    name: String,
    path: String,
    trust_policy: String,
    description: Option<String>,
    max_session_duration: u32,
    tags: Vec<Tag>,
}

impl CreateRoleInput {
    /// `aws:RequestTag/<key>` and `aws:TagKeys` from the request's tags.
    pub(crate) fn condition_keys(&self) -> Vec<(String, Vec<String>)> {
        crate::api::tag_keys(&self.tags)
    }

    pub(crate) fn decode(p: &QueryParams) -> Result<Self, IamError> {
        let q = Params(p);
        let name = q.required("RoleName")?;
        let path = q.optional("Path").unwrap_or("/");
        let doc = q.required("AssumeRolePolicyDocument")?;
        let description = q.optional("Description");
        let max = q.int("MaxSessionDuration")?.unwrap_or(3600);
        let mut c = Checks::new();
        c.name(name, "roleName", 64)
            .path(path, "path")
            .policy_chars(doc, "assumeRolePolicyDocument", 131_072);
        c.range(max, "maxSessionDuration", 3600, 43200);
        if let Some(d) = description {
            c.length(d, "description", 0, 1000);
        }
        let tags = decode_tags(p, &mut c);
        c.done()?;
        if q.optional("PermissionsBoundary").is_some() {
            // Refused rather than ignored: a boundary the engine did not apply would grant more
            // than its author intended.
            return Err(IamError::InvalidInput(
                "Permissions boundaries are not supported by Ferrogate yet.".into(),
            ));
        }
        Ok(Self {
            name: name.into(),
            path: path.into(),
            trust_policy: doc.into(),
            description: description.map(str::to_owned),
            max_session_duration: u32::try_from(max).unwrap_or(3600),
            tags,
        })
    }

    pub(crate) fn action(&self, caller: &Principal) -> Action {
        Action {
            action: "iam:CreateRole".into(),
            resource: entity_arn(
                caller.account.as_str(),
                EntityKind::Role,
                &self.path,
                &self.name,
            ),
            trust_of: None,
        }
    }

    pub(crate) fn request_parameters(&self) -> Value {
        let mut v = json!({ "roleName": self.name, "assumeRolePolicyDocument": self.trust_policy });
        if self.path != "/" {
            v["path"] = json!(self.path);
        }
        if let Some(d) = &self.description {
            v["description"] = json!(d);
        }
        v
    }

    pub(crate) fn execute(&self, mut tx: TxRef<'_>, ctx: Ctx<'_>) -> Result<Reply, IamError> {
        let account = ctx.principal.account.as_str();
        let key = keys::entity(account, EntityKind::Role, &self.name);
        if tables::ROLES.get(tx.read(), &key)?.is_some() {
            return Err(IamError::EntityAlreadyExists(format!(
                "Role with name {} already exists.",
                self.name
            )));
        }
        check_trust_policy(tx.read(), &self.trust_policy)?;
        let role = Role {
            name: self.name.clone(),
            role_id: ids::unique_id("AROA"),
            path: self.path.clone(),
            trust_policy: self.trust_policy.clone(),
            description: self.description.clone(),
            max_session_duration: self.max_session_duration,
            create_date: ctx.now,
            tags: self.tags.clone(),
        };
        tables::ROLES.put(tx.write()?, &key, &role)?;
        let mut w = XmlWriter::response("CreateRole", NS);
        w.open("Role");
        write_role(&mut w, account, &role, true);
        w.close("Role");
        Ok(Reply {
            body: w.finish(ctx.request_id),
            response_elements: json!({ "role": {
                "path": role.path, "roleName": role.name, "roleId": role.role_id, "arn": role.arn(account),
                "createDate": trail_date(role.create_date), "assumeRolePolicyDocument": encode_document(&role.trust_policy),
            }}),
            resources: vec![("AWS::IAM::Role".into(), role.name)],
        })
    }
}

/// `GetRole`.
#[derive(Debug, Clone)]
pub struct GetRoleInput {
    name: String,
}

impl GetRoleInput {
    /// The existing user, group or role the request addresses, if it names one.
    pub(crate) fn target(&self) -> Option<(EntityKind, &str)> {
        Some((EntityKind::Role, &self.name))
    }
    pub(crate) fn decode(p: &QueryParams) -> Result<Self, IamError> {
        Ok(Self {
            name: role_name(p)?,
        })
    }

    pub(crate) fn action(&self, caller: &Principal) -> Action {
        Action {
            action: "iam:GetRole".into(),
            resource: entity_arn(caller.account.as_str(), EntityKind::Role, "/", &self.name),
            trust_of: None,
        }
    }

    pub(crate) fn request_parameters(&self) -> Value {
        json!({ "roleName": self.name })
    }

    pub(crate) fn execute(&self, tx: TxRef<'_>, ctx: Ctx<'_>) -> Result<Reply, IamError> {
        let account = ctx.principal.account.as_str();
        let role = load_role(tx.read(), account, &self.name)?;
        let mut w = XmlWriter::response("GetRole", NS);
        w.open("Role");
        write_role(&mut w, account, &role, true);
        w.close("Role");
        Ok(Reply {
            body: w.finish(ctx.request_id),
            response_elements: Value::Null,
            resources: Vec::new(),
        })
    }
}

/// `ListRoles`.
#[derive(Debug, Clone)]
pub struct ListRolesInput {
    path_prefix: String,
    page: Page,
}

impl ListRolesInput {
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
            action: "iam:ListRoles".into(),
            resource: format!("arn:aws:iam::{}:role/", caller.account),
            trust_of: None,
        }
    }

    pub(crate) fn request_parameters(&self) -> Value {
        Value::Null
    }

    pub(crate) fn execute(&self, tx: TxRef<'_>, ctx: Ctx<'_>) -> Result<Reply, IamError> {
        let account = ctx.principal.account.as_str();
        let (roles, next) = paged(
            tx.read(),
            tables::ROLES,
            &keys::entities(account),
            &self.page,
            |r| r.path.starts_with(&self.path_prefix),
        )?;
        let mut w = XmlWriter::response("ListRoles", NS);
        w.open("Roles");
        for r in &roles {
            w.open("member");
            write_role(&mut w, account, r, false);
            w.close("member");
        }
        w.close("Roles");
        write_truncation(&mut w, next.as_deref());
        Ok(Reply {
            body: w.finish(ctx.request_id),
            response_elements: Value::Null,
            resources: Vec::new(),
        })
    }
}

/// `DeleteRole`.
#[derive(Debug, Clone)]
pub struct DeleteRoleInput {
    name: String,
}

impl DeleteRoleInput {
    /// The existing user, group or role the request addresses, if it names one.
    pub(crate) fn target(&self) -> Option<(EntityKind, &str)> {
        Some((EntityKind::Role, &self.name))
    }
    pub(crate) fn decode(p: &QueryParams) -> Result<Self, IamError> {
        Ok(Self {
            name: role_name(p)?,
        })
    }

    pub(crate) fn action(&self, caller: &Principal) -> Action {
        Action {
            action: "iam:DeleteRole".into(),
            resource: entity_arn(caller.account.as_str(), EntityKind::Role, "/", &self.name),
            trust_of: None,
        }
    }

    pub(crate) fn request_parameters(&self) -> Value {
        json!({ "roleName": self.name })
    }

    pub(crate) fn execute(&self, mut tx: TxRef<'_>, ctx: Ctx<'_>) -> Result<Reply, IamError> {
        let account = ctx.principal.account.as_str();
        let role = load_role(tx.read(), account, &self.name)?;
        ensure_no_policies(tx.read(), account, EntityKind::Role, &role.name)?;
        tables::ROLES.delete(
            tx.write()?,
            &keys::entity(account, EntityKind::Role, &role.name),
        )?;
        Ok(Reply {
            body: XmlWriter::response_without_result("DeleteRole", NS).finish(ctx.request_id),
            response_elements: Value::Null,
            resources: vec![("AWS::IAM::Role".into(), role.name)],
        })
    }
}

/// `UpdateAssumeRolePolicy`.
#[derive(Debug, Clone)]
pub struct UpdateAssumeRolePolicyInput {
    name: String,
    document: String,
}

impl UpdateAssumeRolePolicyInput {
    /// The existing user, group or role the request addresses, if it names one.
    pub(crate) fn target(&self) -> Option<(EntityKind, &str)> {
        Some((EntityKind::Role, &self.name))
    }
    pub(crate) fn decode(p: &QueryParams) -> Result<Self, IamError> {
        let name = role_name(p)?;
        let doc = Params(p).required("PolicyDocument")?;
        Checks::new()
            .policy_chars(doc, "policyDocument", 131_072)
            .done()?;
        Ok(Self {
            name,
            document: doc.into(),
        })
    }

    pub(crate) fn action(&self, caller: &Principal) -> Action {
        Action {
            action: "iam:UpdateAssumeRolePolicy".into(),
            resource: entity_arn(caller.account.as_str(), EntityKind::Role, "/", &self.name),
            trust_of: None,
        }
    }

    pub(crate) fn request_parameters(&self) -> Value {
        json!({ "roleName": self.name, "policyDocument": self.document })
    }

    pub(crate) fn execute(&self, mut tx: TxRef<'_>, ctx: Ctx<'_>) -> Result<Reply, IamError> {
        let account = ctx.principal.account.as_str();
        let mut role = load_role(tx.read(), account, &self.name)?;
        check_trust_policy(tx.read(), &self.document)?;
        role.trust_policy = self.document.clone();
        tables::ROLES.put(
            tx.write()?,
            &keys::entity(account, EntityKind::Role, &role.name),
            &role,
        )?;
        Ok(Reply {
            body: XmlWriter::response_without_result("UpdateAssumeRolePolicy", NS)
                .finish(ctx.request_id),
            response_elements: Value::Null,
            resources: vec![("AWS::IAM::Role".into(), role.name)],
        })
    }
}
