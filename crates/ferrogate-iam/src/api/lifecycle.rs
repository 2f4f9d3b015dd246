//! `List{Users,Groups,Roles}` and `Delete{User,Group,Role}`: one implementation each,
//! parameterized by the stored kind ([`Stored`]).

use ferrogate_api::{
    Authorization, Authorized, Done, Exec, NoResult, Operation, Recorded, Registered, Reply, Scope,
    Sent,
};
use ferrogate_wire::query::QueryParams;
use serde_json::{json, Value};

use super::entity::{ensure_deletable, entity_name, load, name_max, recorded_entity, Stored};
use super::output::{Listing, Owned};
use super::{on_entity, on_listing, owned, paged, Iam, Page, Params};
use crate::model::{keys, EntityKind};
use crate::validate::Checks;
use crate::IamError;

/// The `UserName`/`GroupName`/`RoleName` parameter, checked against the kind's limit.
pub(crate) fn name_param<T: Stored>(p: &QueryParams) -> Result<String, IamError> {
    entity_name(p, T::KIND, name_max(T::KIND))
}

/// `ListUsers`, `ListGroups`, `ListRoles`.
#[derive(Debug, Clone)]
pub struct ListEntitiesInput<T> {
    path_prefix: String,
    page: Page,
    kind: std::marker::PhantomData<fn() -> T>,
}

impl<T: Stored> ListEntitiesInput<T> {
    pub(crate) fn decode(p: &QueryParams) -> Result<Self, IamError> {
        let q = Params(p);
        let path_prefix = q.optional("PathPrefix").unwrap_or("/").to_owned();
        Checks::new()
            .path_prefix(&path_prefix, "pathPrefix")
            .done()?;
        Ok(Self {
            path_prefix,
            page: Page::decode(&q)?,
            kind: std::marker::PhantomData,
        })
    }
}

impl<T: Stored> Operation for ListEntitiesInput<T>
where
    Self: Registered<Service = Iam>,
{
    type Output = Listing<Owned<T>>;

    fn authorize(&self, s: &Scope<'_, Iam>) -> Result<Authorization, IamError> {
        let action = format!("iam:List{}s", T::KIND.title());
        Ok(on_listing(s, &action, T::KIND.noun()))
    }

    fn execute(i: &Authorized<Self>, x: Exec<'_, Iam>) -> Done<Self> {
        let Exec { tx, ctx, .. } = x;
        let account = ctx.principal.account.as_str();
        let (items, next) = paged(
            tx.read(),
            T::TABLE,
            &keys::entities(account),
            &i.page,
            |e| e.path().starts_with(&i.path_prefix),
        )?;
        let element = match T::KIND {
            EntityKind::User => "Users",
            EntityKind::Group => "Groups",
            EntityKind::Role => "Roles",
        };
        Ok(Reply::new(Listing::new(
            element,
            owned(account, items),
            next,
        )))
    }
}

impl<T: Stored> Recorded for ListEntitiesInput<T> {
    fn request_parameters(&self, _: Sent<'_>) -> Value {
        // As CloudTrail has always recorded them here: `ListUsers` with its filter,
        // `ListGroups` and `ListRoles` without.
        if T::KIND != EntityKind::User {
            return Value::Null;
        }
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
}

/// `DeleteUser`, `DeleteGroup`, `DeleteRole`: refused with `DeleteConflict` while anything
/// still hangs off the entity ([`ensure_deletable`]).
#[derive(Debug, Clone)]
pub struct DeleteEntityInput<T> {
    name: String,
    kind: std::marker::PhantomData<fn() -> T>,
}

impl<T: Stored> DeleteEntityInput<T> {
    pub(crate) fn decode(p: &QueryParams) -> Result<Self, IamError> {
        Ok(Self {
            name: name_param::<T>(p)?,
            kind: std::marker::PhantomData,
        })
    }
}

impl<T: Stored> Operation for DeleteEntityInput<T>
where
    Self: Registered<Service = Iam>,
{
    type Output = NoResult;

    fn authorize(&self, s: &Scope<'_, Iam>) -> Result<Authorization, IamError> {
        let action = format!("iam:Delete{}", T::KIND.title());
        on_entity(s, &action, T::KIND, &self.name)
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Iam>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let account = ctx.principal.account.as_str();
        let entity = load::<T>(tx.read(), account, &op.name)?;
        ensure_deletable(tx.read(), account, T::KIND, entity.name())?;
        T::TABLE.delete(tx.write()?, &keys::entity(account, T::KIND, entity.name()))?;
        Ok(Reply::new(NoResult).resource(T::KIND.resource_type(), entity.name().to_owned()))
    }
}

impl<T: Stored> Recorded for DeleteEntityInput<T> {
    fn request_parameters(&self, _: Sent<'_>) -> Value {
        recorded_entity(T::KIND, &self.name)
    }
}
