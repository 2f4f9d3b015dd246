//! Managed policies attached to users, groups and roles:
//! `Attach/Detach{User,Group,Role}Policy`, `ListAttached{User,Group,Role}Policies`.

use ferrogate_store::{Direction, TxRef};
use ferrogate_types::Principal;
use ferrogate_wire::query::{QueryParams, XmlWriter};
use serde_json::{json, Value};

use super::entity::{entity_arn, kind_of, load_entity};
use super::managed::{load_policy, parse_policy_arn, policy_arn_input};
use super::{lower_first, paged, write_truncation, Ctx, Page, Params, Reply};
use crate::authz::Action;
use crate::model::{keys, tables, Attachment, EntityKind};
use crate::validate::Checks;
use crate::IamError;

const NS: &str = "https://iam.amazonaws.com/doc/2010-05-08/";
/// Managed policies attached to one user, group or role (IAM's default quota).
pub const MAX_ATTACHED: usize = 10;

/// `Attach{User,Group,Role}Policy` (`ATTACH = true`) and `Detach…` (`false`).
#[derive(Debug, Clone)]
pub struct AttachmentInput<const K: u8, const ATTACH: bool> {
    entity: String,
    policy_arn: String,
}

impl<const K: u8, const ATTACH: bool> AttachmentInput<K, ATTACH> {
    /// `iam:PolicyARN`, which guardrail policies use to forbid attaching powerful policies.
    pub(crate) fn condition_keys(&self) -> Vec<(String, Vec<String>)> {
        vec![("iam:PolicyARN".into(), vec![self.policy_arn.clone()])]
    }

    /// The existing user, group or role the request addresses, if it names one.
    pub(crate) fn target(&self) -> Option<(EntityKind, &str)> {
        Some((kind_of::<K>(), &self.entity))
    }
    fn op_name() -> String {
        format!(
            "{}{}Policy",
            if ATTACH { "Attach" } else { "Detach" },
            kind_of::<K>().title()
        )
    }

    pub(crate) fn decode(p: &QueryParams) -> Result<Self, IamError> {
        let kind = kind_of::<K>();
        let entity = Params(p).required(kind.param())?;
        Checks::new()
            .name(entity, &lower_first(kind.param()), 64)
            .done()?;
        Ok(Self {
            entity: entity.into(),
            policy_arn: policy_arn_input(p)?,
        })
    }

    pub(crate) fn action(&self, caller: &Principal) -> Action {
        Action {
            action: format!("iam:{}", Self::op_name()),
            resource: entity_arn(caller.account.as_str(), kind_of::<K>(), "/", &self.entity),
            trust_of: None,
        }
    }

    pub(crate) fn request_parameters(&self) -> Value {
        json!({ lower_first(kind_of::<K>().param()): self.entity, "policyArn": self.policy_arn })
    }

    pub(crate) fn execute(&self, mut tx: TxRef<'_>, ctx: Ctx<'_>) -> Result<Reply, IamError> {
        let kind = kind_of::<K>();
        let account = ctx.principal.account.as_str();
        let entity = load_entity(tx.read(), account, kind, &self.entity)?;
        let key = keys::attachment(account, kind, &entity.name, &self.policy_arn);
        let attached = tables::ATTACHED.get(tx.read(), &key)?.is_some();
        if ATTACH && !attached {
            let mut policy = load_policy(tx.read(), account, &self.policy_arn).map_err(|_| {
                IamError::NoSuchEntity(format!(
                    "Policy {} does not exist or is not attachable.",
                    self.policy_arn
                ))
            })?;
            let prefix = keys::children(account, kind, &entity.name);
            if tables::ATTACHED
                .scan(
                    tx.read(),
                    &prefix,
                    None,
                    Direction::Forward,
                    MAX_ATTACHED + 1,
                )?
                .len()
                >= MAX_ATTACHED
            {
                return Err(IamError::LimitExceeded(format!(
                    "Cannot exceed quota for PoliciesPer{}: {MAX_ATTACHED}",
                    kind.title()
                )));
            }
            let w = tx.write()?;
            let record = Attachment {
                policy_name: policy.name.clone(),
                policy_arn: self.policy_arn.clone(),
            };
            tables::ATTACHED.put(w, &key, &record)?;
            policy.attachment_count += 1;
            tables::POLICIES.put(w, &keys::policy(&policy.account, &policy.name), &policy)?;
        } else if !ATTACH {
            if !attached {
                return Err(IamError::NoSuchEntity(format!(
                    "Policy {} was not found.",
                    self.policy_arn
                )));
            }
            let policy = load_policy(tx.read(), account, &self.policy_arn).ok();
            let w = tx.write()?;
            tables::ATTACHED.delete(w, &key)?;
            if let Some(mut p) = policy {
                p.attachment_count = p.attachment_count.saturating_sub(1);
                tables::POLICIES.put(w, &keys::policy(&p.account, &p.name), &p)?;
            }
        }
        Ok(Reply {
            body: XmlWriter::response_without_result(&Self::op_name(), NS).finish(ctx.request_id),
            response_elements: Value::Null,
            resources: vec![
                (kind.resource_type().into(), entity.name),
                ("AWS::IAM::Policy".into(), self.policy_arn.clone()),
            ],
        })
    }
}

/// `ListAttached{User,Group,Role}Policies`.
#[derive(Debug, Clone)]
pub struct ListAttachedInput<const K: u8> {
    entity: String,
    path_prefix: String,
    page: Page,
}

impl<const K: u8> ListAttachedInput<K> {
    /// The existing user, group or role the request addresses, if it names one.
    pub(crate) fn target(&self) -> Option<(EntityKind, &str)> {
        Some((kind_of::<K>(), &self.entity))
    }
    pub(crate) fn decode(p: &QueryParams) -> Result<Self, IamError> {
        let kind = kind_of::<K>();
        let q = Params(p);
        let entity = q.required(kind.param())?;
        let path_prefix = q.optional("PathPrefix").unwrap_or("/");
        Checks::new()
            .name(entity, &lower_first(kind.param()), 64)
            .path_prefix(path_prefix, "pathPrefix")
            .done()?;
        Ok(Self {
            entity: entity.into(),
            path_prefix: path_prefix.into(),
            page: Page::decode(&q)?,
        })
    }

    pub(crate) fn action(&self, caller: &Principal) -> Action {
        let kind = kind_of::<K>();
        Action {
            action: format!("iam:ListAttached{}Policies", kind.title()),
            resource: entity_arn(caller.account.as_str(), kind, "/", &self.entity),
            trust_of: None,
        }
    }

    pub(crate) fn request_parameters(&self) -> Value {
        json!({ lower_first(kind_of::<K>().param()): self.entity })
    }

    pub(crate) fn execute(&self, tx: TxRef<'_>, ctx: Ctx<'_>) -> Result<Reply, IamError> {
        let kind = kind_of::<K>();
        let account = ctx.principal.account.as_str();
        let entity = load_entity(tx.read(), account, kind, &self.entity)?;
        let prefix_ok = |a: &Attachment| {
            parse_policy_arn(&a.policy_arn)
                .map(|(_, path, _)| path.starts_with(&self.path_prefix))
                .unwrap_or(false)
        };
        let (list, next) = paged(
            tx.read(),
            tables::ATTACHED,
            &keys::children(account, kind, &entity.name),
            &self.page,
            prefix_ok,
        )?;
        let mut w = XmlWriter::response(&format!("ListAttached{}Policies", kind.title()), NS);
        w.open("AttachedPolicies");
        for a in &list {
            w.open("member")
                .leaf("PolicyName", &a.policy_name)
                .leaf("PolicyArn", &a.policy_arn)
                .close("member");
        }
        w.close("AttachedPolicies");
        write_truncation(&mut w, next.as_deref());
        Ok(Reply {
            body: w.finish(ctx.request_id),
            response_elements: Value::Null,
            resources: Vec::new(),
        })
    }
}
