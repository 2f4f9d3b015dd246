//! Roles: CreateRole, GetRole, ListRoles, DeleteRole, UpdateAssumeRolePolicy.

use ferrogate_api::{
    Authorization, Authorized, Done, Exec, NoResult, Operation, Recorded, Reply, Scope, Sent,
};
use ferrogate_policy::{Policy, PolicyKind};
use ferrogate_store::ReadTx;
use ferrogate_wire::query::QueryParams;
use serde_json::{json, Value};

use super::entity::{created, insert_new, load, on_create, shown};
use super::lifecycle::name_param;
use super::output::{Owned, Single};
use super::users::create_tags;
use super::{encode_document, on_entity, trail_date, Iam, Params};
use crate::ids;
use crate::model::{keys, tables, EntityKind, Role, Tag};
use crate::validate::Checks;
use crate::IamError;

pub(crate) fn load_role(tx: &dyn ReadTx, account: &str, name: &str) -> Result<Role, IamError> {
    load(tx, account, name)
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

fn role_name(p: &QueryParams) -> Result<String, IamError> {
    name_param::<Role>(p)
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
        let tags = create_tags(p, c)?;
        Ok(Self {
            name: name.into(),
            path: path.into(),
            trust_policy: doc.into(),
            description: description.map(str::to_owned),
            max_session_duration: u32::try_from(max).unwrap_or(3600),
            tags,
        })
    }
}

impl Operation for CreateRoleInput {
    type Output = Single<Owned<Role>>;

    /// `iam:CreateRole` on the new role; with tags, `iam:TagRole` too.
    fn authorize(&self, s: &Scope<'_, Iam>) -> Result<Authorization, IamError> {
        Ok(on_create(
            s.account(),
            EntityKind::Role,
            &self.path,
            &self.name,
            &self.tags,
        ))
    }

    fn execute(i: &Authorized<Self>, x: Exec<'_, Iam>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let account = ctx.principal.account.as_str();
        let role = insert_new(&mut tx, account, &i.name, |r| {
            check_trust_policy(r, &i.trust_policy)?;
            Ok(Role {
                name: i.name.clone(),
                role_id: ids::unique_id("AROA").ok_or(IamError::RandomnessUnavailable)?,
                path: i.path.clone(),
                trust_policy: i.trust_policy.clone(),
                description: i.description.clone(),
                max_session_duration: i.max_session_duration,
                create_date: ctx.now,
                tags: i.tags.clone(),
            })
        })?;
        let elements = json!({ "role": {
            "path": role.path, "roleName": role.name, "roleId": role.role_id, "arn": role.arn(account),
            "createDate": trail_date(role.create_date), "assumeRolePolicyDocument": encode_document(&role.trust_policy),
        }});
        Ok(created(account, role, elements))
    }
}

impl Recorded for CreateRoleInput {
    fn request_parameters(&self, _: Sent<'_>) -> Value {
        let mut v = json!({ "roleName": self.name, "assumeRolePolicyDocument": self.trust_policy });
        if self.path != "/" {
            v["path"] = json!(self.path);
        }
        if let Some(d) = &self.description {
            v["description"] = json!(d);
        }
        v
    }
}

/// `GetRole`.
#[derive(Debug, Clone)]
pub struct GetRoleInput {
    name: String,
}

impl GetRoleInput {
    pub(crate) fn decode(p: &QueryParams) -> Result<Self, IamError> {
        Ok(Self {
            name: role_name(p)?,
        })
    }
}

impl Operation for GetRoleInput {
    type Output = Single<Owned<Role>>;

    fn authorize(&self, s: &Scope<'_, Iam>) -> Result<Authorization, IamError> {
        on_entity(s, "iam:GetRole", EntityKind::Role, &self.name)
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Iam>) -> Done<Self> {
        let Exec { tx, ctx, .. } = x;
        let account = ctx.principal.account.as_str();
        let role = load_role(tx.read(), account, &op.name)?;
        Ok(Reply::new(Single {
            element: "Role",
            item: shown(account, role),
        }))
    }
}

impl Recorded for GetRoleInput {
    fn request_parameters(&self, _: Sent<'_>) -> Value {
        json!({ "roleName": self.name })
    }
}

/// `UpdateAssumeRolePolicy`.
#[derive(Debug, Clone)]
pub struct UpdateAssumeRolePolicyInput {
    name: String,
    document: String,
}

impl UpdateAssumeRolePolicyInput {
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
}

impl Operation for UpdateAssumeRolePolicyInput {
    type Output = NoResult;

    fn authorize(&self, s: &Scope<'_, Iam>) -> Result<Authorization, IamError> {
        on_entity(
            s,
            "iam:UpdateAssumeRolePolicy",
            EntityKind::Role,
            &self.name,
        )
    }

    fn execute(i: &Authorized<Self>, x: Exec<'_, Iam>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let account = ctx.principal.account.as_str();
        let mut role = load_role(tx.read(), account, &i.name)?;
        check_trust_policy(tx.read(), &i.document)?;
        role.trust_policy = i.document.clone();
        tables::ROLES.put(
            tx.write()?,
            &keys::entity(account, EntityKind::Role, &role.name),
            &role,
        )?;
        Ok(Reply::new(NoResult).resource("AWS::IAM::Role", role.name))
    }
}

impl Recorded for UpdateAssumeRolePolicyInput {
    fn request_parameters(&self, _: Sent<'_>) -> Value {
        json!({ "roleName": self.name, "policyDocument": self.document })
    }
}
