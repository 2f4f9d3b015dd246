//! Managed policies attached to users, groups and roles:
//! `Attach/Detach{User,Group,Role}Policy`, `ListAttached{User,Group,Role}Policies`.

use ferrogate_api::{
    Authorization, Authorized, Check, Done, Exec, NoResult, Operation, Recorded, Reply,
    RequestTags, Scope, Sent,
};
use ferrogate_store::Direction;
use ferrogate_wire::query::QueryParams;
use serde_json::{json, Value};

use super::entity::{entity_name, kind_of, load_entity, recorded_entity};
use super::managed::{load_policy, parse_policy_arn, policy_arn_input};
use super::output::Listing;
use super::{entity_resource, lower_first, on_entity, paged, Iam, Page, Params};
use crate::model::{keys, tables, Attachment};
use crate::validate::Checks;
use crate::IamError;
/// Managed policies attached to one user, group or role (IAM's default quota).
pub const MAX_ATTACHED: usize = 10;

/// `Attach{User,Group,Role}Policy` (`ATTACH = true`) and `Detach…` (`false`).
#[derive(Debug, Clone)]
pub struct AttachmentInput<const K: u8, const ATTACH: bool> {
    entity: String,
    policy_arn: String,
}

impl<const K: u8, const ATTACH: bool> AttachmentInput<K, ATTACH> {
    fn op_name() -> String {
        format!(
            "{}{}Policy",
            if ATTACH { "Attach" } else { "Detach" },
            kind_of::<K>().title()
        )
    }

    pub(crate) fn decode(p: &QueryParams) -> Result<Self, IamError> {
        Ok(Self {
            entity: entity_name(p, kind_of::<K>(), 64)?,
            policy_arn: policy_arn_input(p)?,
        })
    }
}

impl<const K: u8, const ATTACH: bool> Operation for AttachmentInput<K, ATTACH>
where
    Self: ferrogate_api::Registered<Service = Iam>,
{
    type Output = NoResult;

    /// On the stored entity, with `iam:PolicyARN` (which guardrail policies use to forbid
    /// attaching powerful policies).
    fn authorize(&self, s: &Scope<'_, Iam>) -> Result<Authorization, IamError> {
        let resource = entity_resource(s.tx, s.account(), kind_of::<K>(), &self.entity)?;
        Ok(Authorization::of(
            Check::new(
                format!("iam:{}", Self::op_name()),
                resource,
                RequestTags::None,
            )
            .key("iam:PolicyARN", vec![self.policy_arn.clone()]),
        ))
    }

    fn execute(this: &Authorized<Self>, x: Exec<'_, Iam>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let kind = kind_of::<K>();
        let account = ctx.principal.account.as_str();
        let entity = load_entity(tx.read(), account, kind, &this.entity)?;
        let key = keys::attachment(account, kind, &entity.name, &this.policy_arn);
        let attached = tables::ATTACHED.get(tx.read(), &key)?.is_some();
        if ATTACH && !attached {
            let mut policy = load_policy(tx.read(), account, &this.policy_arn).map_err(|_| {
                IamError::NoSuchEntity(format!(
                    "Policy {} does not exist or is not attachable.",
                    this.policy_arn
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
                policy_arn: this.policy_arn.clone(),
            };
            tables::ATTACHED.put(w, &key, &record)?;
            policy.attachment_count += 1;
            tables::POLICIES.put(w, &keys::policy(&policy.account, &policy.name), &policy)?;
        } else if !ATTACH {
            if !attached {
                return Err(IamError::NoSuchEntity(format!(
                    "Policy {} was not found.",
                    this.policy_arn
                )));
            }
            let policy = load_policy(tx.read(), account, &this.policy_arn).ok();
            let w = tx.write()?;
            tables::ATTACHED.delete(w, &key)?;
            if let Some(mut p) = policy {
                p.attachment_count = p.attachment_count.saturating_sub(1);
                tables::POLICIES.put(w, &keys::policy(&p.account, &p.name), &p)?;
            }
        }
        Ok(Reply::new(NoResult)
            .resource(kind.resource_type(), entity.name)
            .resource("AWS::IAM::Policy", this.policy_arn.clone()))
    }
}

impl<const K: u8, const ATTACH: bool> Recorded for AttachmentInput<K, ATTACH>
where
    Self: ferrogate_api::Registered<Service = Iam>,
{
    fn request_parameters(&self, _: Sent<'_>) -> Value {
        let mut v = recorded_entity(kind_of::<K>(), &self.entity);
        v["policyArn"] = json!(self.policy_arn);
        v
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
}

impl<const K: u8> Operation for ListAttachedInput<K>
where
    Self: ferrogate_api::Registered<Service = Iam>,
{
    type Output = Listing<Attachment>;

    fn authorize(&self, s: &Scope<'_, Iam>) -> Result<Authorization, IamError> {
        let kind = kind_of::<K>();
        on_entity(
            s,
            &format!("iam:ListAttached{}Policies", kind.title()),
            kind,
            &self.entity,
        )
    }

    fn execute(this: &Authorized<Self>, x: Exec<'_, Iam>) -> Done<Self> {
        let Exec { tx, ctx, .. } = x;
        let kind = kind_of::<K>();
        let account = ctx.principal.account.as_str();
        let entity = load_entity(tx.read(), account, kind, &this.entity)?;
        let prefix_ok = |a: &Attachment| {
            parse_policy_arn(&a.policy_arn)
                .map(|(_, path, _)| path.starts_with(&this.path_prefix))
                .unwrap_or(false)
        };
        let (list, next) = paged(
            tx.read(),
            tables::ATTACHED,
            &keys::children(account, kind, &entity.name),
            &this.page,
            prefix_ok,
        )?;
        Ok(Reply::new(Listing::new("AttachedPolicies", list, next)))
    }
}

impl<const K: u8> Recorded for ListAttachedInput<K>
where
    Self: ferrogate_api::Registered<Service = Iam>,
{
    fn request_parameters(&self, _: Sent<'_>) -> Value {
        recorded_entity(kind_of::<K>(), &self.entity)
    }
}
