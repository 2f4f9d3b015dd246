//! What users, groups and roles have in common: loading one by name, its ARN, and the
//! const-generic kind parameter that lets one implementation serve `PutUserPolicy`,
//! `PutGroupPolicy` and `PutRolePolicy` alike.

use ferrogate_api::{Authorization, Check, Reply, Resource};
use ferrogate_store::{Direction, ReadTx, Record, Table, TxRef};
use ferrogate_wire::query::QueryParams;
use serde_json::{json, Value};

use super::output::{Owned, Single};
use super::{lower_first, request_tags, Params};
use crate::validate::Checks;

use crate::model::{keys, tables, EntityKind, Group, Role, Tag, User};
use crate::IamError;

/// Kind parameter values for the generic inputs.
pub const USER: u8 = 0;
/// See [`USER`].
pub const GROUP: u8 = 1;
/// See [`USER`].
pub const ROLE: u8 = 2;

/// The kind selected by a const parameter.
pub const fn kind_of<const K: u8>() -> EntityKind {
    match K {
        USER => EntityKind::User,
        GROUP => EntityKind::Group,
        _ => EntityKind::Role,
    }
}

/// The `UserName`/`GroupName`/`RoleName` parameter, at most `max` characters.
pub(crate) fn entity_name(
    p: &QueryParams,
    kind: EntityKind,
    max: usize,
) -> Result<String, IamError> {
    let param = kind.param();
    let name = Params(p).required(param)?;
    Checks::new().name(name, &lower_first(param), max).done()?;
    Ok(name.to_owned())
}

/// The entity parameter of the inline-policy and tag operations, checked against 128
/// characters whatever the kind (as they always have been).
pub(crate) fn entity_param<const K: u8>(p: &QueryParams) -> Result<String, IamError> {
    entity_name(p, kind_of::<K>(), 128)
}

/// `{"userName": name}` (`groupName`, `roleName`): the entity as CloudTrail records it.
pub(crate) fn recorded_entity(kind: EntityKind, name: &str) -> Value {
    json!({ lower_first(kind.param()): name })
}

/// An existing user, group or role, by its stored name.
#[derive(Debug, Clone)]
pub(crate) struct Entity {
    pub name: String,
}

/// `arn:aws:iam::<acct>:<kind><path><name>`.
pub(crate) fn entity_arn(account: &str, kind: EntityKind, path: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:{}{path}{name}", kind.noun())
}

/// `The user with name X cannot be found.` (and group, role).
pub(crate) fn no_such_entity(kind: EntityKind, name: &str) -> IamError {
    IamError::NoSuchEntity(format!(
        "The {} with name {name} cannot be found.",
        kind.noun()
    ))
}

/// A stored user, group or role: what the operations that treat the three alike
/// (`List{Users,Groups,Roles}`, `Delete{User,Group,Role}`) need of each.
pub trait Stored: Record + Clone + std::fmt::Debug + Send + Sync + 'static {
    /// Which of the three this is.
    const KIND: EntityKind;
    /// Where it is kept.
    const TABLE: Table<Self>;
    /// The stored name (as created: the lookup key is case-insensitive).
    fn name(&self) -> &str;
    /// The IAM path (`/`, `/division/`).
    fn path(&self) -> &str;
}

macro_rules! stored {
    ($($kind:ident in $table:ident),*) => {$(
        impl Stored for $kind {
            const KIND: EntityKind = EntityKind::$kind;
            const TABLE: Table<Self> = tables::$table;
            fn name(&self) -> &str {
                &self.name
            }
            fn path(&self) -> &str {
                &self.path
            }
        }
    )*};
}

stored!(User in USERS, Group in GROUPS, Role in ROLES);

/// A stored user, group or role as answers show it (users and roles with their tags).
pub(crate) fn shown<T: Stored>(account: &str, item: T) -> Owned<T> {
    Owned {
        account: account.to_owned(),
        item,
        with_tags: T::KIND != EntityKind::Group,
    }
}

/// Stores the new user, group or role `name` that `make` builds (`EntityAlreadyExists` if
/// the name is taken, before `make` runs).
pub(crate) fn insert_new<T: Stored>(
    tx: &mut TxRef<'_>,
    account: &str,
    name: &str,
    make: impl FnOnce(&dyn ReadTx) -> Result<T, IamError>,
) -> Result<T, IamError> {
    let key = keys::entity(account, T::KIND, name);
    if T::TABLE.get(tx.read(), &key)?.is_some() {
        return Err(IamError::EntityAlreadyExists(format!(
            "{} with name {name} already exists.",
            T::KIND.title()
        )));
    }
    let item = make(tx.read())?;
    T::TABLE.put(tx.write()?, &key, &item)?;
    Ok(item)
}

/// The answer of `Create{User,Group,Role}`: the new entity, and `elements` as the record's
/// `responseElements`.
pub(crate) fn created<T: Stored>(
    account: &str,
    item: T,
    elements: Value,
) -> Reply<Single<Owned<T>>> {
    let name = item.name().to_owned();
    Reply::new(Single {
        element: T::KIND.title(),
        item: shown(account, item),
    })
    .elements(elements)
    .resource(T::KIND.resource_type(), name)
}

/// `iam:Create<Kind>` on the new user or role; with tags, `iam:Tag<Kind>` on it too (the
/// SAR lists it as a dependent action: tagging on create is authorized as tagging).
pub(crate) fn on_create(
    account: &str,
    kind: EntityKind,
    path: &str,
    name: &str,
    tags: &[Tag],
) -> Authorization {
    let arn = entity_arn(account, kind, path, name);
    let check = |verb: &str| {
        Check::new(
            format!("iam:{verb}{}", kind.title()),
            Resource::New(arn.clone()),
            request_tags(tags),
        )
    };
    let auth = Authorization::of(check("Create"));
    if tags.is_empty() {
        auth
    } else {
        auth.and(check("Tag"))
    }
}

/// Tags as CloudTrail records them: `[{"key": …, "value": …}]`.
pub(crate) fn recorded_tags(tags: &[Tag]) -> Value {
    json!(tags
        .iter()
        .map(|t| json!({"key": t.key, "value": t.value}))
        .collect::<Vec<_>>())
}

/// IAM's limit on the entity's name: `RoleName` is 64 characters, the others 128.
pub(crate) fn name_max(kind: EntityKind) -> usize {
    match kind {
        EntityKind::User | EntityKind::Group => 128,
        EntityKind::Role => 64,
    }
}

/// The `DeleteConflict` checks of `Delete{User,Group,Role}`, in IAM's order.
pub(crate) fn ensure_deletable(
    tx: &dyn ReadTx,
    account: &str,
    kind: EntityKind,
    name: &str,
) -> Result<(), IamError> {
    match kind {
        EntityKind::User => {
            conflict_if_any(
                tx,
                tables::USER_KEYS.tree(),
                &keys::user_keys(account, Some(name)),
                "Cannot delete entity, must delete access keys first.",
            )?;
            ensure_no_policies(tx, account, kind, name)?;
            conflict_if_any(
                tx,
                tables::USER_GROUPS.tree(),
                &keys::memberships(account, name),
                "Cannot delete entity, must remove user from all groups first.",
            )
        }
        EntityKind::Group => {
            conflict_if_any(
                tx,
                tables::GROUP_MEMBERS.tree(),
                &keys::memberships(account, name),
                "Cannot delete entity, must remove users from group first.",
            )?;
            ensure_no_policies(tx, account, kind, name)
        }
        EntityKind::Role => ensure_no_policies(tx, account, kind, name),
    }
}

/// The stored user, group or role named `name` (`NoSuchEntity` if there is none).
pub(crate) fn load<T: Stored>(tx: &dyn ReadTx, account: &str, name: &str) -> Result<T, IamError> {
    T::TABLE
        .get(tx, &keys::entity(account, T::KIND, name))?
        .ok_or_else(|| no_such_entity(T::KIND, name))
}

/// Loads the named entity of `kind`.
pub(crate) fn load_entity(
    tx: &dyn ReadTx,
    account: &str,
    kind: EntityKind,
    name: &str,
) -> Result<Entity, IamError> {
    let name = match kind {
        EntityKind::User => load::<User>(tx, account, name)?.name,
        EntityKind::Group => load::<Group>(tx, account, name)?.name,
        EntityKind::Role => load::<Role>(tx, account, name)?.name,
    };
    Ok(Entity { name })
}

/// True if `tree` holds any key under `prefix`.
pub(crate) fn any_under(
    tx: &dyn ReadTx,
    tree: &'static str,
    prefix: &[u8],
) -> Result<bool, IamError> {
    let end = ferrogate_store::engine::prefix_end(prefix);
    Ok(!tx
        .range(tree, prefix, end.as_deref(), Direction::Forward, 1)?
        .is_empty())
}

/// `DeleteConflict` with `message` if `tree` holds any key under `prefix`.
fn conflict_if_any(
    tx: &dyn ReadTx,
    tree: &'static str,
    prefix: &[u8],
    message: &str,
) -> Result<(), IamError> {
    if any_under(tx, tree, prefix)? {
        return Err(IamError::DeleteConflict(message.into()));
    }
    Ok(())
}

/// The `DeleteConflict` checks shared by DeleteUser, DeleteGroup and DeleteRole.
pub(crate) fn ensure_no_policies(
    tx: &dyn ReadTx,
    account: &str,
    kind: EntityKind,
    name: &str,
) -> Result<(), IamError> {
    let children = keys::children(account, kind, name);
    conflict_if_any(
        tx,
        tables::INLINE.tree(),
        &children,
        "Cannot delete entity, must delete policies first.",
    )?;
    conflict_if_any(
        tx,
        tables::ATTACHED.tree(),
        &children,
        "Cannot delete entity, must detach all policies first.",
    )
}
