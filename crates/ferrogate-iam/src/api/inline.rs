//! Inline policies of users, groups and roles: `Put/Get/List/Delete{User,Group,Role}Policy`,
//! one implementation parameterized by the entity kind.

use ferrogate_policy::{Policy, PolicyKind};
use ferrogate_store::{Direction, TxRef};
use ferrogate_types::Principal;
use ferrogate_wire::query::{QueryParams, XmlWriter};
use serde_json::{json, Value};

use super::entity::{entity_arn, kind_of, load_entity};
use super::{encode_document, lower_first, paged, write_truncation, Ctx, Page, Params, Reply};
use crate::authz::Action;
use crate::model::{keys, tables, EntityKind, InlinePolicy};
use crate::validate::Checks;
use crate::IamError;

const NS: &str = "https://iam.amazonaws.com/doc/2010-05-08/";

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

fn entity_param<const K: u8>(p: &QueryParams) -> Result<String, IamError> {
    let kind = kind_of::<K>();
    let name = Params(p).required(kind.param())?;
    Checks::new()
        .name(name, &lower_first(kind.param()), 128)
        .done()?;
    Ok(name.to_owned())
}

fn action<const K: u8>(op: &str, caller: &Principal, entity: &str) -> Action {
    let kind = kind_of::<K>();
    Action {
        action: format!("iam:{op}{}Policy", kind.title()),
        resource: entity_arn(caller.account.as_str(), kind, "/", entity),
        trust_of: None,
    }
}

fn entity_parameters<const K: u8>(entity: &str, policy: Option<&str>) -> Value {
    let mut v = json!({ lower_first(kind_of::<K>().param()): entity });
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
    /// The existing user, group or role the request addresses, if it names one.
    pub(crate) fn target(&self) -> Option<(EntityKind, &str)> {
        Some((kind_of::<K>(), &self.entity))
    }
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

    pub(crate) fn action(&self, caller: &Principal) -> Action {
        action::<K>("Put", caller, &self.entity)
    }

    pub(crate) fn request_parameters(&self) -> Value {
        let mut v = entity_parameters::<K>(&self.entity, Some(&self.policy_name));
        v["policyDocument"] = json!(self.document);
        v
    }

    pub(crate) fn execute(&self, mut tx: TxRef<'_>, ctx: Ctx<'_>) -> Result<Reply, IamError> {
        let kind = kind_of::<K>();
        let account = ctx.principal.account.as_str();
        let entity = load_entity(tx.read(), account, kind, &self.entity)?;
        let others: usize = tables::INLINE
            .scan(
                tx.read(),
                &keys::children(account, kind, &entity.name),
                None,
                Direction::Forward,
                1000,
            )?
            .into_iter()
            .filter(|(_, p)| !p.name.eq_ignore_ascii_case(&self.policy_name))
            .map(|(_, p)| significant_len(&p.document))
            .sum();
        let quota = kind.inline_quota();
        if others + significant_len(&self.document) > quota {
            return Err(IamError::LimitExceeded(format!(
                "Maximum policy size of {quota} bytes exceeded for {} {}",
                kind.noun(),
                entity.name
            )));
        }
        let record = InlinePolicy {
            name: self.policy_name.clone(),
            document: self.document.clone(),
        };
        tables::INLINE.put(
            tx.write()?,
            &keys::inline(account, kind, &entity.name, &self.policy_name),
            &record,
        )?;
        Ok(Reply {
            body: XmlWriter::response_without_result(&format!("Put{}Policy", kind.title()), NS)
                .finish(ctx.request_id),
            response_elements: Value::Null,
            resources: vec![(kind.resource_type().into(), entity.name)],
        })
    }
}

/// `Get{User,Group,Role}Policy`.
#[derive(Debug, Clone)]
pub struct GetPolicyInlineInput<const K: u8> {
    entity: String,
    policy_name: String,
}

impl<const K: u8> GetPolicyInlineInput<K> {
    /// The existing user, group or role the request addresses, if it names one.
    pub(crate) fn target(&self) -> Option<(EntityKind, &str)> {
        Some((kind_of::<K>(), &self.entity))
    }
    pub(crate) fn decode(p: &QueryParams) -> Result<Self, IamError> {
        let entity = entity_param::<K>(p)?;
        let policy_name = Params(p).required("PolicyName")?;
        Checks::new().name(policy_name, "policyName", 128).done()?;
        Ok(Self {
            entity,
            policy_name: policy_name.into(),
        })
    }

    pub(crate) fn action(&self, caller: &Principal) -> Action {
        action::<K>("Get", caller, &self.entity)
    }

    pub(crate) fn request_parameters(&self) -> Value {
        entity_parameters::<K>(&self.entity, Some(&self.policy_name))
    }

    pub(crate) fn execute(&self, tx: TxRef<'_>, ctx: Ctx<'_>) -> Result<Reply, IamError> {
        let kind = kind_of::<K>();
        let account = ctx.principal.account.as_str();
        let entity = load_entity(tx.read(), account, kind, &self.entity)?;
        let p = tables::INLINE
            .get(
                tx.read(),
                &keys::inline(account, kind, &entity.name, &self.policy_name),
            )?
            .ok_or_else(|| no_such_inline(kind.noun(), &self.policy_name))?;
        let mut w = XmlWriter::response(&format!("Get{}Policy", kind.title()), NS);
        w.leaf(kind.param(), &entity.name)
            .leaf("PolicyName", &p.name)
            .leaf("PolicyDocument", &encode_document(&p.document));
        Ok(Reply {
            body: w.finish(ctx.request_id),
            response_elements: Value::Null,
            resources: Vec::new(),
        })
    }
}

/// `List{User,Group,Role}Policies`.
#[derive(Debug, Clone)]
pub struct ListPoliciesInlineInput<const K: u8> {
    entity: String,
    page: Page,
}

impl<const K: u8> ListPoliciesInlineInput<K> {
    /// The existing user, group or role the request addresses, if it names one.
    pub(crate) fn target(&self) -> Option<(EntityKind, &str)> {
        Some((kind_of::<K>(), &self.entity))
    }
    pub(crate) fn decode(p: &QueryParams) -> Result<Self, IamError> {
        Ok(Self {
            entity: entity_param::<K>(p)?,
            page: Page::decode(&Params(p))?,
        })
    }

    pub(crate) fn action(&self, caller: &Principal) -> Action {
        let kind = kind_of::<K>();
        Action {
            action: format!("iam:List{}Policies", kind.title()),
            resource: entity_arn(caller.account.as_str(), kind, "/", &self.entity),
            trust_of: None,
        }
    }

    pub(crate) fn request_parameters(&self) -> Value {
        entity_parameters::<K>(&self.entity, None)
    }

    pub(crate) fn execute(&self, tx: TxRef<'_>, ctx: Ctx<'_>) -> Result<Reply, IamError> {
        let kind = kind_of::<K>();
        let account = ctx.principal.account.as_str();
        let entity = load_entity(tx.read(), account, kind, &self.entity)?;
        let (list, next) = paged(
            tx.read(),
            tables::INLINE,
            &keys::children(account, kind, &entity.name),
            &self.page,
            |_| true,
        )?;
        let mut w = XmlWriter::response(&format!("List{}Policies", kind.title()), NS);
        w.open("PolicyNames");
        for p in &list {
            w.leaf("member", &p.name);
        }
        w.close("PolicyNames");
        write_truncation(&mut w, next.as_deref());
        Ok(Reply {
            body: w.finish(ctx.request_id),
            response_elements: Value::Null,
            resources: Vec::new(),
        })
    }
}

/// `Delete{User,Group,Role}Policy`.
#[derive(Debug, Clone)]
pub struct DeletePolicyInlineInput<const K: u8> {
    entity: String,
    policy_name: String,
}

impl<const K: u8> DeletePolicyInlineInput<K> {
    /// The existing user, group or role the request addresses, if it names one.
    pub(crate) fn target(&self) -> Option<(EntityKind, &str)> {
        Some((kind_of::<K>(), &self.entity))
    }
    pub(crate) fn decode(p: &QueryParams) -> Result<Self, IamError> {
        let g = GetPolicyInlineInput::<K>::decode(p)?;
        Ok(Self {
            entity: g.entity,
            policy_name: g.policy_name,
        })
    }

    pub(crate) fn action(&self, caller: &Principal) -> Action {
        action::<K>("Delete", caller, &self.entity)
    }

    pub(crate) fn request_parameters(&self) -> Value {
        entity_parameters::<K>(&self.entity, Some(&self.policy_name))
    }

    pub(crate) fn execute(&self, mut tx: TxRef<'_>, ctx: Ctx<'_>) -> Result<Reply, IamError> {
        let kind = kind_of::<K>();
        let account = ctx.principal.account.as_str();
        let entity = load_entity(tx.read(), account, kind, &self.entity)?;
        let key = keys::inline(account, kind, &entity.name, &self.policy_name);
        if !tables::INLINE.delete(tx.write()?, &key)? {
            return Err(no_such_inline(kind.noun(), &self.policy_name));
        }
        Ok(Reply {
            body: XmlWriter::response_without_result(&format!("Delete{}Policy", kind.title()), NS)
                .finish(ctx.request_id),
            response_elements: Value::Null,
            resources: vec![(kind.resource_type().into(), entity.name)],
        })
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
