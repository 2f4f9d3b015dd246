//! Inline policies of users, groups and roles: `Put/Get/List/Delete{User,Group,Role}Policy`,
//! one implementation parameterized by the entity kind.

use ferrogate_api::{
    Authorization, Authorized, Done, Exec, NoResult, Operation, Recorded, Reply, Scope, Sent,
};
use ferrogate_policy::{Policy, PolicyKind};
use ferrogate_store::Direction;
use ferrogate_wire::query::QueryParams;
use serde_json::{json, Value};

use super::entity::{entity_param, kind_of, load_entity, recorded_entity};
use super::output::{InlinePolicyOutput, Listing, Names};
use super::{on_entity, paged, Iam, Page, Params};
use crate::model::{keys, tables, InlinePolicy};
use crate::validate::Checks;
use crate::IamError;

/// Non-blank characters, the unit of IAM's policy size quotas.
pub(crate) fn significant_len(doc: &str) -> usize {
    doc.chars().filter(|c| !c.is_whitespace()).count()
}

/// Refuses documents that are not valid identity policies, with IAM's wording.
pub(crate) fn check_identity_document(doc: &str) -> Result<(), IamError> {
    Policy::parse(doc, PolicyKind::Identity)
        .map(|_| ())
        .map_err(|e| IamError::MalformedPolicyDocument(e.to_string()))
}

fn no_such_inline(noun: &str, name: &str) -> IamError {
    IamError::NoSuchEntity(format!(
        "The {noun} policy with name {name} cannot be found."
    ))
}

/// `iam:<verb><Kind>Policy` (or `…Policies`) on the stored entity.
fn authorize<const K: u8>(
    s: &Scope<'_, Iam>,
    verb: &str,
    suffix: &str,
    entity: &str,
) -> Result<Authorization, IamError> {
    let kind = kind_of::<K>();
    on_entity(
        s,
        &format!("iam:{verb}{}{suffix}", kind.title()),
        kind,
        entity,
    )
}

fn entity_parameters<const K: u8>(entity: &str, policy: Option<&str>) -> Value {
    let mut v = recorded_entity(kind_of::<K>(), entity);
    if let Some(p) = policy {
        v["policyName"] = json!(p);
    }
    v
}

/// `Put{User,Group,Role}Policy`.
#[derive(Debug, Clone)]
pub struct PutPolicyInput<const K: u8> {
    entity: String,
    policy_name: String,
    document: String,
}

impl<const K: u8> PutPolicyInput<K> {
    pub(crate) fn decode(p: &QueryParams) -> Result<Self, IamError> {
        let entity = entity_param::<K>(p)?;
        let q = Params(p);
        let (policy_name, document) = (q.required("PolicyName")?, q.required("PolicyDocument")?);
        Checks::new()
            .name(policy_name, "policyName", 128)
            .policy_chars(document, "policyDocument", 131_072)
            .done()?;
        check_identity_document(document)?;
        Ok(Self {
            entity,
            policy_name: policy_name.into(),
            document: document.into(),
        })
    }
}

impl<const K: u8> Operation for PutPolicyInput<K>
where
    Self: ferrogate_api::Registered<Service = Iam>,
{
    type Output = NoResult;

    fn authorize(&self, s: &Scope<'_, Iam>) -> Result<Authorization, IamError> {
        authorize::<K>(s, "Put", "Policy", &self.entity)
    }

    fn execute(i: &Authorized<Self>, x: Exec<'_, Iam>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let kind = kind_of::<K>();
        let account = ctx.principal.account.as_str();
        let entity = load_entity(tx.read(), account, kind, &i.entity)?;
        let others: usize = tables::INLINE
            .scan(
                tx.read(),
                &keys::children(account, kind, &entity.name),
                None,
                Direction::Forward,
                1000,
            )?
            .into_iter()
            .filter(|(_, p)| !p.name.eq_ignore_ascii_case(&i.policy_name))
            .map(|(_, p)| significant_len(&p.document))
            .sum();
        let quota = kind.inline_quota();
        if others + significant_len(&i.document) > quota {
            return Err(IamError::LimitExceeded(format!(
                "Maximum policy size of {quota} bytes exceeded for {} {}",
                kind.noun(),
                entity.name
            )));
        }
        let record = InlinePolicy {
            name: i.policy_name.clone(),
            document: i.document.clone(),
        };
        tables::INLINE.put(
            tx.write()?,
            &keys::inline(account, kind, &entity.name, &i.policy_name),
            &record,
        )?;
        Ok(Reply::new(NoResult).resource(kind.resource_type(), entity.name))
    }
}

impl<const K: u8> Recorded for PutPolicyInput<K>
where
    Self: ferrogate_api::Registered<Service = Iam>,
{
    fn request_parameters(&self, _: Sent<'_>) -> Value {
        let mut v = entity_parameters::<K>(&self.entity, Some(&self.policy_name));
        v["policyDocument"] = json!(self.document);
        v
    }
}

/// `Get{User,Group,Role}Policy` (`DELETE = false`) and `Delete{User,Group,Role}Policy`.
#[derive(Debug, Clone)]
pub struct NamedInlineInput<const K: u8, const DELETE: bool> {
    entity: String,
    policy_name: String,
}

impl<const K: u8, const DELETE: bool> NamedInlineInput<K, DELETE> {
    pub(crate) fn decode(p: &QueryParams) -> Result<Self, IamError> {
        let entity = entity_param::<K>(p)?;
        let policy_name = Params(p).required("PolicyName")?;
        Checks::new().name(policy_name, "policyName", 128).done()?;
        Ok(Self {
            entity,
            policy_name: policy_name.into(),
        })
    }
}

impl<const K: u8, const DELETE: bool> Recorded for NamedInlineInput<K, DELETE>
where
    Self: ferrogate_api::Registered<Service = Iam>,
{
    fn request_parameters(&self, _: Sent<'_>) -> Value {
        entity_parameters::<K>(&self.entity, Some(&self.policy_name))
    }
}

impl<const K: u8> Operation for NamedInlineInput<K, false>
where
    Self: ferrogate_api::Registered<Service = Iam>,
{
    type Output = InlinePolicyOutput;

    fn authorize(&self, s: &Scope<'_, Iam>) -> Result<Authorization, IamError> {
        authorize::<K>(s, "Get", "Policy", &self.entity)
    }

    fn execute(i: &Authorized<Self>, x: Exec<'_, Iam>) -> Done<Self> {
        let Exec { tx, ctx, .. } = x;
        let kind = kind_of::<K>();
        let account = ctx.principal.account.as_str();
        let entity = load_entity(tx.read(), account, kind, &i.entity)?;
        let p = tables::INLINE
            .get(
                tx.read(),
                &keys::inline(account, kind, &entity.name, &i.policy_name),
            )?
            .ok_or_else(|| no_such_inline(kind.noun(), &i.policy_name))?;
        Ok(Reply::new(InlinePolicyOutput {
            entity_element: kind.param(),
            entity: entity.name,
            name: p.name,
            document: p.document,
        }))
    }
}

/// `List{User,Group,Role}Policies`.
#[derive(Debug, Clone)]
pub struct ListPoliciesInlineInput<const K: u8> {
    entity: String,
    page: Page,
}

impl<const K: u8> ListPoliciesInlineInput<K> {
    pub(crate) fn decode(p: &QueryParams) -> Result<Self, IamError> {
        Ok(Self {
            entity: entity_param::<K>(p)?,
            page: Page::decode(&Params(p))?,
        })
    }
}

impl<const K: u8> Operation for ListPoliciesInlineInput<K>
where
    Self: ferrogate_api::Registered<Service = Iam>,
{
    type Output = Listing<Names>;

    fn authorize(&self, s: &Scope<'_, Iam>) -> Result<Authorization, IamError> {
        authorize::<K>(s, "List", "Policies", &self.entity)
    }

    fn execute(i: &Authorized<Self>, x: Exec<'_, Iam>) -> Done<Self> {
        let Exec { tx, ctx, .. } = x;
        let kind = kind_of::<K>();
        let account = ctx.principal.account.as_str();
        let entity = load_entity(tx.read(), account, kind, &i.entity)?;
        let (list, next) = paged(
            tx.read(),
            tables::INLINE,
            &keys::children(account, kind, &entity.name),
            &i.page,
            |_| true,
        )?;
        let names = list.into_iter().map(|p| Names(p.name)).collect();
        Ok(Reply::new(Listing::new("PolicyNames", names, next)))
    }
}

impl<const K: u8> Recorded for ListPoliciesInlineInput<K>
where
    Self: ferrogate_api::Registered<Service = Iam>,
{
    fn request_parameters(&self, _: Sent<'_>) -> Value {
        entity_parameters::<K>(&self.entity, None)
    }
}

impl<const K: u8> Operation for NamedInlineInput<K, true>
where
    Self: ferrogate_api::Registered<Service = Iam>,
{
    type Output = NoResult;

    fn authorize(&self, s: &Scope<'_, Iam>) -> Result<Authorization, IamError> {
        authorize::<K>(s, "Delete", "Policy", &self.entity)
    }

    fn execute(i: &Authorized<Self>, x: Exec<'_, Iam>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let kind = kind_of::<K>();
        let account = ctx.principal.account.as_str();
        let entity = load_entity(tx.read(), account, kind, &i.entity)?;
        let key = keys::inline(account, kind, &entity.name, &i.policy_name);
        if !tables::INLINE.delete(tx.write()?, &key)? {
            return Err(no_such_inline(kind.noun(), &i.policy_name));
        }
        Ok(Reply::new(NoResult).resource(kind.resource_type(), entity.name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_ignores_whitespace() {
        assert_eq!(significant_len(" { \"a\" : 1 }\n"), 7);
    }
}
