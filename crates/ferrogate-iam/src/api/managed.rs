//! Customer managed policies: CreatePolicy, GetPolicy, GetPolicyVersion, ListPolicies,
//! DeletePolicy.

use ferrogate_api::{
    Authorization, Authorized, Check, Done, Exec, NoResult, Operation, Recorded, Reply,
    RequestTags, Resource, Scope, Sent, XmlOutput,
};
use ferrogate_store::{Direction, ReadTx};
use ferrogate_wire::query::{QueryParams, XmlWriter};
use serde_json::{json, Value};

use super::inline::{check_identity_document, significant_len};
use super::output::{Listing, Single, XmlItem};
use super::users::decode_tags;
use super::{encode_document, on_listing, request_tags, trail_date, Iam, Page, Params};
use crate::ids;
use crate::model::{keys, tables, ManagedPolicy, PolicyVersion, Tag};
use crate::validate::Checks;
use crate::IamError;
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

/// A managed policy as answers show it: in full (`GetPolicy`), or as a list member.
#[derive(Debug, Clone)]
pub struct PolicyView {
    policy: ManagedPolicy,
    full: bool,
}

impl XmlItem for PolicyView {
    fn write_item(&self, w: &mut XmlWriter) {
        write_policy(w, &self.policy, self.full);
    }
}

/// `GetPolicyVersion`.
#[derive(Debug, Clone)]
pub struct PolicyVersionOutput {
    version: PolicyVersion,
    default: bool,
}

impl XmlOutput for PolicyVersionOutput {
    const HAS_RESULT: bool = true;
    fn write(&self, w: &mut XmlWriter) {
        let v = &self.version;
        w.open("PolicyVersion");
        w.leaf("Document", &encode_document(&v.document))
            .leaf("VersionId", &v.version_id);
        w.leaf(
            "IsDefaultVersion",
            if self.default { "true" } else { "false" },
        );
        w.leaf("CreateDate", &v.create_date.iso8601());
        w.close("PolicyVersion");
    }
}

/// `action` on the managed policy `arn`: as stored (with its tags) when it exists.
fn on_policy(s: &Scope<'_, Iam>, action: &str, arn: &str) -> Result<Authorization, IamError> {
    let resource = match load_policy(s.tx, s.account(), arn) {
        Ok(p) => Resource::Existing {
            arn: p.arn(),
            tags: p.tags.into_iter().map(|t| (t.key, t.value)).collect(),
        },
        Err(IamError::Internal(e)) => return Err(IamError::Internal(e)),
        Err(_) => Resource::Named(arn.to_owned()),
    };
    Ok(Authorization::of(Check::new(
        action,
        resource,
        RequestTags::None,
    )))
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
}

impl Operation for CreatePolicyInput {
    type Output = Single<PolicyView>;

    /// `iam:CreatePolicy` on the new policy; with tags, `iam:TagPolicy` too.
    fn authorize(&self, s: &Scope<'_, Iam>) -> Result<Authorization, IamError> {
        let arn = format!(
            "arn:aws:iam::{}:policy{}{}",
            s.account(),
            self.path,
            self.policy_name
        );
        let mut auth = Authorization::of(Check::new(
            "iam:CreatePolicy",
            Resource::New(arn.clone()),
            request_tags(&self.tags),
        ));
        if !self.tags.is_empty() {
            auth = auth.and(Check::new(
                "iam:TagPolicy",
                Resource::New(arn),
                request_tags(&self.tags),
            ));
        }
        Ok(auth)
    }

    fn execute(this: &Authorized<Self>, x: Exec<'_, Iam>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let account = ctx.principal.account.as_str();
        let key = keys::policy(account, &this.policy_name);
        if tables::POLICIES.get(tx.read(), &key)?.is_some() {
            return Err(IamError::EntityAlreadyExists(format!(
                "A policy called {} already exists. Duplicate names are not allowed.",
                this.policy_name
            )));
        }
        let policy = ManagedPolicy {
            name: this.policy_name.clone(),
            policy_id: ids::unique_id("ANPA").ok_or(IamError::RandomnessUnavailable)?,
            path: this.path.clone(),
            account: account.to_owned(),
            description: this.description.clone(),
            default_version_id: "v1".into(),
            versions: vec![PolicyVersion {
                version_id: "v1".into(),
                document: this.policy_document.clone(),
                create_date: ctx.now,
            }],
            attachment_count: 0,
            create_date: ctx.now,
            update_date: ctx.now,
            tags: this.tags.clone(),
        };
        tables::POLICIES.put(tx.write()?, &key, &policy)?;
        let elements = json!({ "policy": {
                "policyName": policy.name, "policyId": policy.policy_id, "arn": policy.arn(), "path": policy.path,
                "defaultVersionId": "v1", "attachmentCount": 0, "permissionsBoundaryUsageCount": 0, "isAttachable": true,
                "createDate": trail_date(policy.create_date), "updateDate": trail_date(policy.update_date),
        }});
        let arn = policy.arn();
        Ok(Reply::new(Single {
            element: "Policy",
            item: PolicyView { policy, full: true },
        })
        .elements(elements)
        .resource("AWS::IAM::Policy", arn))
    }
}

impl Recorded for CreatePolicyInput {
    fn request_parameters(&self, _: Sent<'_>) -> Value {
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
}

impl Operation for GetPolicyInput {
    type Output = Single<PolicyView>;

    fn authorize(&self, s: &Scope<'_, Iam>) -> Result<Authorization, IamError> {
        on_policy(s, "iam:GetPolicy", &self.policy_arn)
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Iam>) -> Done<Self> {
        let Exec { tx, ctx, .. } = x;
        let p = load_policy(tx.read(), ctx.principal.account.as_str(), &op.policy_arn)?;
        Ok(Reply::new(Single {
            element: "Policy",
            item: PolicyView {
                policy: p,
                full: true,
            },
        }))
    }
}

impl Recorded for GetPolicyInput {
    fn request_parameters(&self, _: Sent<'_>) -> Value {
        json!({ "policyArn": self.policy_arn })
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
}

impl Operation for GetPolicyVersionInput {
    type Output = PolicyVersionOutput;

    fn authorize(&self, s: &Scope<'_, Iam>) -> Result<Authorization, IamError> {
        on_policy(s, "iam:GetPolicyVersion", &self.policy_arn)
    }

    fn execute(this: &Authorized<Self>, x: Exec<'_, Iam>) -> Done<Self> {
        let Exec { tx, ctx, .. } = x;
        let p = load_policy(tx.read(), ctx.principal.account.as_str(), &this.policy_arn)?;
        let v = p
            .versions
            .iter()
            .find(|v| v.version_id == this.version_id)
            .ok_or_else(|| {
                IamError::NoSuchEntity(format!(
                    "Policy {} version {} does not exist or is not attachable.",
                    this.policy_arn, this.version_id
                ))
            })?;
        Ok(Reply::new(PolicyVersionOutput {
            default: v.version_id == p.default_version_id,
            version: v.clone(),
        }))
    }
}

impl Recorded for GetPolicyVersionInput {
    fn request_parameters(&self, _: Sent<'_>) -> Value {
        json!({ "policyArn": self.policy_arn, "versionId": self.version_id })
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
}

impl Operation for ListPoliciesInput {
    type Output = Listing<PolicyView>;

    fn authorize(&self, s: &Scope<'_, Iam>) -> Result<Authorization, IamError> {
        Ok(on_listing(s, "iam:ListPolicies", "policy"))
    }

    fn execute(this: &Authorized<Self>, x: Exec<'_, Iam>) -> Done<Self> {
        let Exec { tx, ctx, .. } = x;
        let account = ctx.principal.account.as_str();
        // No policy is used as a permissions boundary yet, so that filter matches nothing.
        let boundary_only = this.usage_filter.as_deref() == Some("PermissionsBoundary");
        let owners: &[&str] = match this.scope.as_str() {
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
                let keep = p.path.starts_with(&this.path_prefix)
                    && (!this.only_attached || p.attachment_count > 0)
                    && !boundary_only;
                if keep {
                    all.push(p);
                }
            }
        }
        let start = match &this.page.marker {
            None => 0,
            Some(m) => all
                .iter()
                .position(|p| &p.arn() == m)
                .map(|i| i + 1)
                .ok_or_else(|| IamError::ValidationError("Invalid Marker.".into()))?,
        };
        let total = all.len();
        let page: Vec<PolicyView> = all
            .into_iter()
            .skip(start)
            .take(this.page.max_items)
            .map(|policy| PolicyView {
                policy,
                full: false,
            })
            .collect();
        let next = if start + page.len() < total {
            page.last().map(|p| p.policy.arn())
        } else {
            None
        };
        Ok(Reply::new(Listing::new("Policies", page, next)))
    }
}

impl Recorded for ListPoliciesInput {
    fn request_parameters(&self, _: Sent<'_>) -> Value {
        json!({ "scope": self.scope, "onlyAttached": self.only_attached, "pathPrefix": self.path_prefix })
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
}

impl Operation for DeletePolicyInput {
    type Output = NoResult;

    fn authorize(&self, s: &Scope<'_, Iam>) -> Result<Authorization, IamError> {
        on_policy(s, "iam:DeletePolicy", &self.policy_arn)
    }

    fn execute(this: &Authorized<Self>, x: Exec<'_, Iam>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let account = ctx.principal.account.as_str();
        let p = load_policy(tx.read(), account, &this.policy_arn)?;
        if p.account != account {
            return Err(IamError::AccessDenied(format!(
                "User: {} is not authorized to perform: iam:DeletePolicy on resource: policy {} because no identity-based policy allows the iam:DeletePolicy action",
                ctx.principal.arn, this.policy_arn
            )));
        }
        if p.attachment_count > 0 {
            return Err(IamError::DeleteConflict(
                "Cannot delete a policy attached to entities.".into(),
            ));
        }
        tables::POLICIES.delete(tx.write()?, &keys::policy(account, &p.name))?;
        Ok(Reply::new(NoResult).resource("AWS::IAM::Policy", this.policy_arn.clone()))
    }
}

impl Recorded for DeletePolicyInput {
    fn request_parameters(&self, _: Sent<'_>) -> Value {
        json!({ "policyArn": self.policy_arn })
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
