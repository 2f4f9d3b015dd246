//! Customer managed policies: CreatePolicy, GetPolicy, GetPolicyVersion, ListPolicies,
//! DeletePolicy.

use ferrogate_store::{Direction, ReadTx, TxRef};
use ferrogate_types::Principal;
use ferrogate_wire::query::{QueryParams, XmlWriter};
use serde_json::{json, Value};

use super::inline::{check_identity_document, significant_len};
use super::users::decode_tags;
use super::{encode_document, trail_date, write_truncation, Ctx, Page, Params, Reply};
use crate::authz::Action;
use crate::ids;
use crate::model::{keys, tables, ManagedPolicy, PolicyVersion, Tag};
use crate::validate::Checks;
use crate::IamError;

const NS: &str = "https://iam.amazonaws.com/doc/2010-05-08/";
/// Size of a managed policy document, whitespace not counted.
pub const MAX_MANAGED_POLICY_CHARS: usize = 6144;

/// Splits `arn:aws:iam::<acct>:policy<path><name>` into (account, path, name).
///
/// # Errors
/// `InvalidInput` when the ARN is not a managed policy ARN.
pub fn parse_policy_arn(arn: &str) -> Result<(String, String, String), IamError> {
    let invalid = || IamError::InvalidInput(format!("ARN {arn} is not valid."));
    let rest = arn.strip_prefix("arn:aws:iam::").ok_or_else(invalid)?;
    let (account, resource) = rest.split_once(':').ok_or_else(invalid)?;
    let path_and_name = resource.strip_prefix("policy/").ok_or_else(invalid)?;
    let (path, name) = match path_and_name.rsplit_once('/') {
        Some((p, n)) => (format!("/{p}/"), n),
        None => ("/".to_owned(), path_and_name),
    };
    let valid_account =
        account == "aws" || (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()));
    if !valid_account || name.is_empty() {
        return Err(invalid());
    }
    Ok((account.to_owned(), path, name.to_owned()))
}

fn no_such_policy(arn: &str) -> IamError {
    IamError::NoSuchEntity(format!("Policy {arn} was not found."))
}

/// The managed policy at `arn`, visible to `account` (its own, or AWS managed).
pub(crate) fn load_policy(
    tx: &dyn ReadTx,
    account: &str,
    arn: &str,
) -> Result<ManagedPolicy, IamError> {
    let (owner, path, name) = parse_policy_arn(arn)?;
    if owner != account && owner != "aws" {
        return Err(no_such_policy(arn));
    }
    match tables::POLICIES.get(tx, &keys::policy(&owner, &name))? {
        Some(p) if p.path == path && p.name == name => Ok(p),
        _ => Err(no_such_policy(arn)),
    }
}

fn write_policy(w: &mut XmlWriter, p: &ManagedPolicy, full: bool) {
    w.leaf("PolicyName", &p.name)
        .leaf("PolicyId", &p.policy_id)
        .leaf("Arn", &p.arn())
        .leaf("Path", &p.path);
    w.leaf("DefaultVersionId", &p.default_version_id)
        .leaf("AttachmentCount", &p.attachment_count.to_string());
    w.leaf("PermissionsBoundaryUsageCount", "0")
        .leaf("IsAttachable", "true");
    if full {
        w.leaf_opt("Description", p.description.as_deref());
    }
    w.leaf("CreateDate", &p.create_date.iso8601())
        .leaf("UpdateDate", &p.update_date.iso8601());
    if full && !p.tags.is_empty() {
        w.open("Tags");
        for t in &p.tags {
            w.open("member")
                .leaf("Key", &t.key)
                .leaf("Value", &t.value)
                .close("member");
        }
        w.close("Tags");
    }
}

/// `CreatePolicy`.
#[derive(Debug, Clone)]
pub struct CreatePolicyInput {
    policy_name: String,
    path: String,
    policy_document: String,
    description: Option<String>,
    tags: Vec<Tag>,
}

impl CreatePolicyInput {
    pub(crate) fn decode(p: &QueryParams) -> Result<Self, IamError> {
        let q = Params(p);
        let (name, doc) = (q.required("PolicyName")?, q.required("PolicyDocument")?);
        let path = q.optional("Path").unwrap_or("/");
        let description = q.optional("Description");
        let mut c = Checks::new();
        c.name(name, "policyName", 128)
            .path(path, "path")
            .policy_chars(doc, "policyDocument", 131_072);
        if let Some(d) = description {
            c.length(d, "description", 0, 1000);
        }
        let tags = decode_tags(p, &mut c);
        c.done()?;
        if significant_len(doc) > MAX_MANAGED_POLICY_CHARS {
            return Err(IamError::LimitExceeded(format!(
                "Cannot exceed quota for PolicySize: {MAX_MANAGED_POLICY_CHARS}"
            )));
        }
        check_identity_document(doc)?;
        Ok(Self {
            policy_name: name.into(),
            path: path.into(),
            policy_document: doc.into(),
            description: description.map(str::to_owned),
            tags,
        })
    }

    pub(crate) fn action(&self, caller: &Principal) -> Action {
        Action {
            action: "iam:CreatePolicy".into(),
            resource: format!(
                "arn:aws:iam::{}:policy{}{}",
                caller.account, self.path, self.policy_name
            ),
            trust_of: None,
        }
    }

    pub(crate) fn request_parameters(&self) -> Value {
        let mut v =
            json!({ "policyName": self.policy_name, "policyDocument": self.policy_document });
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
        let key = keys::policy(account, &self.policy_name);
        if tables::POLICIES.get(tx.read(), &key)?.is_some() {
            return Err(IamError::EntityAlreadyExists(format!(
                "A policy called {} already exists. Duplicate names are not allowed.",
                self.policy_name
            )));
        }
        let policy = ManagedPolicy {
            name: self.policy_name.clone(),
            policy_id: ids::unique_id("ANPA"),
            path: self.path.clone(),
            account: account.to_owned(),
            description: self.description.clone(),
            default_version_id: "v1".into(),
            versions: vec![PolicyVersion {
                version_id: "v1".into(),
                document: self.policy_document.clone(),
                create_date: ctx.now,
            }],
            attachment_count: 0,
            create_date: ctx.now,
            update_date: ctx.now,
            tags: self.tags.clone(),
        };
        tables::POLICIES.put(tx.write()?, &key, &policy)?;
        let mut w = XmlWriter::response("CreatePolicy", NS);
        w.open("Policy");
        write_policy(&mut w, &policy, true);
        w.close("Policy");
        Ok(Reply {
            body: w.finish(ctx.request_id),
            response_elements: json!({ "policy": {
                "policyName": policy.name, "policyId": policy.policy_id, "arn": policy.arn(), "path": policy.path,
                "defaultVersionId": "v1", "attachmentCount": 0, "permissionsBoundaryUsageCount": 0, "isAttachable": true,
                "createDate": trail_date(policy.create_date), "updateDate": trail_date(policy.update_date),
            }}),
            resources: vec![("AWS::IAM::Policy".into(), policy.arn())],
        })
    }
}

pub(crate) fn policy_arn_input(p: &QueryParams) -> Result<String, IamError> {
    let arn = Params(p).required("PolicyArn")?;
    Checks::new().length(arn, "policyArn", 20, 2048).done()?;
    parse_policy_arn(arn)?;
    Ok(arn.to_owned())
}

/// `GetPolicy`.
#[derive(Debug, Clone)]
pub struct GetPolicyInput {
    policy_arn: String,
}

impl GetPolicyInput {
    pub(crate) fn decode(p: &QueryParams) -> Result<Self, IamError> {
        Ok(Self {
            policy_arn: policy_arn_input(p)?,
        })
    }

    pub(crate) fn action(&self, _caller: &Principal) -> Action {
        Action {
            action: "iam:GetPolicy".into(),
            resource: self.policy_arn.clone(),
            trust_of: None,
        }
    }

    pub(crate) fn request_parameters(&self) -> Value {
        json!({ "policyArn": self.policy_arn })
    }

    pub(crate) fn execute(&self, tx: TxRef<'_>, ctx: Ctx<'_>) -> Result<Reply, IamError> {
        let p = load_policy(tx.read(), ctx.principal.account.as_str(), &self.policy_arn)?;
        let mut w = XmlWriter::response("GetPolicy", NS);
        w.open("Policy");
        write_policy(&mut w, &p, true);
        w.close("Policy");
        Ok(Reply {
            body: w.finish(ctx.request_id),
            response_elements: Value::Null,
            resources: Vec::new(),
        })
    }
}

/// `GetPolicyVersion`.
#[derive(Debug, Clone)]
pub struct GetPolicyVersionInput {
    policy_arn: String,
    version_id: String,
}

impl GetPolicyVersionInput {
    pub(crate) fn decode(p: &QueryParams) -> Result<Self, IamError> {
        let policy_arn = policy_arn_input(p)?;
        let version_id = Params(p).required("VersionId")?;
        let valid = version_id.len() >= 2
            && version_id.starts_with('v')
            && version_id[1..].split('.').next().is_some_and(|n| {
                !n.is_empty() && !n.starts_with('0') && n.bytes().all(|b| b.is_ascii_digit())
            });
        if !valid {
            return Err(IamError::ValidationError(format!(
                "1 validation error detected: Value '{version_id}' at 'versionId' failed to satisfy constraint: Member must satisfy regular expression pattern: v[1-9][0-9]*(\\.[A-Za-z0-9-]*)?"
            )));
        }
        Ok(Self {
            policy_arn,
            version_id: version_id.into(),
        })
    }

    pub(crate) fn action(&self, _caller: &Principal) -> Action {
        Action {
            action: "iam:GetPolicyVersion".into(),
            resource: self.policy_arn.clone(),
            trust_of: None,
        }
    }

    pub(crate) fn request_parameters(&self) -> Value {
        json!({ "policyArn": self.policy_arn, "versionId": self.version_id })
    }

    pub(crate) fn execute(&self, tx: TxRef<'_>, ctx: Ctx<'_>) -> Result<Reply, IamError> {
        let p = load_policy(tx.read(), ctx.principal.account.as_str(), &self.policy_arn)?;
        let v = p
            .versions
            .iter()
            .find(|v| v.version_id == self.version_id)
            .ok_or_else(|| {
                IamError::NoSuchEntity(format!(
                    "Policy {} version {} does not exist or is not attachable.",
                    self.policy_arn, self.version_id
                ))
            })?;
        let mut w = XmlWriter::response("GetPolicyVersion", NS);
        w.open("PolicyVersion");
        w.leaf("Document", &encode_document(&v.document))
            .leaf("VersionId", &v.version_id);
        w.leaf(
            "IsDefaultVersion",
            if v.version_id == p.default_version_id {
                "true"
            } else {
                "false"
            },
        );
        w.leaf("CreateDate", &v.create_date.iso8601());
        w.close("PolicyVersion");
        Ok(Reply {
            body: w.finish(ctx.request_id),
            response_elements: Value::Null,
            resources: Vec::new(),
        })
    }
}

/// `ListPolicies`.
#[derive(Debug, Clone)]
pub struct ListPoliciesInput {
    scope: String,
    only_attached: bool,
    path_prefix: String,
    usage_filter: Option<String>,
    page: Page,
}

impl ListPoliciesInput {
    pub(crate) fn decode(p: &QueryParams) -> Result<Self, IamError> {
        let q = Params(p);
        let scope = q.optional("Scope").unwrap_or("All");
        let path_prefix = q.optional("PathPrefix").unwrap_or("/");
        let usage = q.optional("PolicyUsageFilter");
        let mut c = Checks::new();
        c.one_of(scope, "scope", &["All", "AWS", "Local"])
            .path_prefix(path_prefix, "pathPrefix");
        if let Some(u) = usage {
            c.one_of(
                u,
                "policyUsageFilter",
                &["PermissionsPolicy", "PermissionsBoundary"],
            );
        }
        c.done()?;
        Ok(Self {
            scope: scope.into(),
            only_attached: q.bool("OnlyAttached")?.unwrap_or(false),
            path_prefix: path_prefix.into(),
            usage_filter: usage.map(str::to_owned),
            page: Page::decode(&q)?,
        })
    }

    pub(crate) fn action(&self, caller: &Principal) -> Action {
        Action {
            action: "iam:ListPolicies".into(),
            resource: format!("arn:aws:iam::{}:policy/", caller.account),
            trust_of: None,
        }
    }

    pub(crate) fn request_parameters(&self) -> Value {
        json!({ "scope": self.scope, "onlyAttached": self.only_attached, "pathPrefix": self.path_prefix })
    }

    pub(crate) fn execute(&self, tx: TxRef<'_>, ctx: Ctx<'_>) -> Result<Reply, IamError> {
        let account = ctx.principal.account.as_str();
        // No policy is used as a permissions boundary yet, so that filter matches nothing.
        let boundary_only = self.usage_filter.as_deref() == Some("PermissionsBoundary");
        let owners: &[&str] = match self.scope.as_str() {
            "AWS" => &["aws"],
            "Local" => &[account],
            _ => &[account, "aws"],
        };
        let mut all = Vec::new();
        for owner in owners {
            for (_, p) in tables::POLICIES.scan(
                tx.read(),
                &keys::policies(owner),
                None,
                Direction::Forward,
                100_000,
            )? {
                let keep = p.path.starts_with(&self.path_prefix)
                    && (!self.only_attached || p.attachment_count > 0)
                    && !boundary_only;
                if keep {
                    all.push(p);
                }
            }
        }
        let start = match &self.page.marker {
            None => 0,
            Some(m) => all
                .iter()
                .position(|p| &p.arn() == m)
                .map(|i| i + 1)
                .ok_or_else(|| IamError::ValidationError("Invalid Marker.".into()))?,
        };
        let page: Vec<&ManagedPolicy> = all.iter().skip(start).take(self.page.max_items).collect();
        let next = if start + page.len() < all.len() {
            page.last().map(|p| p.arn())
        } else {
            None
        };
        let mut w = XmlWriter::response("ListPolicies", NS);
        w.open("Policies");
        for p in page {
            w.open("member");
            write_policy(&mut w, p, false);
            w.close("member");
        }
        w.close("Policies");
        write_truncation(&mut w, next.as_deref());
        Ok(Reply {
            body: w.finish(ctx.request_id),
            response_elements: Value::Null,
            resources: Vec::new(),
        })
    }
}

/// `DeletePolicy`.
#[derive(Debug, Clone)]
pub struct DeletePolicyInput {
    policy_arn: String,
}

impl DeletePolicyInput {
    pub(crate) fn decode(p: &QueryParams) -> Result<Self, IamError> {
        Ok(Self {
            policy_arn: policy_arn_input(p)?,
        })
    }

    pub(crate) fn action(&self, _caller: &Principal) -> Action {
        Action {
            action: "iam:DeletePolicy".into(),
            resource: self.policy_arn.clone(),
            trust_of: None,
        }
    }

    pub(crate) fn request_parameters(&self) -> Value {
        json!({ "policyArn": self.policy_arn })
    }

    pub(crate) fn execute(&self, mut tx: TxRef<'_>, ctx: Ctx<'_>) -> Result<Reply, IamError> {
        let account = ctx.principal.account.as_str();
        let p = load_policy(tx.read(), account, &self.policy_arn)?;
        if p.account != account {
            return Err(IamError::AccessDenied(format!(
                "User: {} is not authorized to perform: iam:DeletePolicy on resource: policy {} because no identity-based policy allows the iam:DeletePolicy action",
                ctx.principal.arn, self.policy_arn
            )));
        }
        if p.attachment_count > 0 {
            return Err(IamError::DeleteConflict(
                "Cannot delete a policy attached to entities.".into(),
            ));
        }
        tables::POLICIES.delete(tx.write()?, &keys::policy(account, &p.name))?;
        Ok(Reply {
            body: XmlWriter::response_without_result("DeletePolicy", NS).finish(ctx.request_id),
            response_elements: Value::Null,
            resources: vec![("AWS::IAM::Policy".into(), self.policy_arn.clone())],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_arns() {
        assert_eq!(
            parse_policy_arn("arn:aws:iam::123456789012:policy/p").unwrap(),
            ("123456789012".into(), "/".into(), "p".into())
        );
        assert_eq!(
            parse_policy_arn("arn:aws:iam::123456789012:policy/a/b/p").unwrap(),
            ("123456789012".into(), "/a/b/".into(), "p".into())
        );
        assert_eq!(
            parse_policy_arn("arn:aws:iam::aws:policy/AdministratorAccess")
                .unwrap()
                .0,
            "aws"
        );
        for bad in [
            "",
            "arn:aws:iam::123:policy/p",
            "arn:aws:iam::123456789012:user/p",
            "arn:aws:s3:::b",
            "arn:aws:iam::123456789012:policy/",
        ] {
            assert!(parse_policy_arn(bad).is_err(), "{bad}");
        }
    }
}
