//! What users, groups and roles have in common: loading one by name, its ARN, and the
//! const-generic kind parameter that lets one implementation serve `PutUserPolicy`,
//! `PutGroupPolicy` and `PutRolePolicy` alike.

use ferrogate_store::{Direction, ReadTx};

use crate::model::{keys, tables, EntityKind};
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

/// Loads the named entity of `kind`.
pub(crate) fn load_entity(
    tx: &dyn ReadTx,
    account: &str,
    kind: EntityKind,
    name: &str,
) -> Result<Entity, IamError> {
    let key = keys::entity(account, kind, name);
    let found = match kind {
        EntityKind::User => tables::USERS
            .get(tx, &key)?
            .map(|u| Entity { name: u.name }),
        EntityKind::Group => tables::GROUPS
            .get(tx, &key)?
            .map(|g| Entity { name: g.name }),
        EntityKind::Role => tables::ROLES
            .get(tx, &key)?
            .map(|r| Entity { name: r.name }),
    };
    found.ok_or_else(|| no_such_entity(kind, name))
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

/// The `DeleteConflict` checks shared by DeleteUser, DeleteGroup and DeleteRole.
pub(crate) fn ensure_no_policies(
    tx: &dyn ReadTx,
    account: &str,
    kind: EntityKind,
    name: &str,
) -> Result<(), IamError> {
    if any_under(
        tx,
        tables::INLINE.tree(),
        &keys::children(account, kind, name),
    )? {
        return Err(IamError::DeleteConflict(
            "Cannot delete entity, must delete policies first.".into(),
        ));
    }
    if any_under(
        tx,
        tables::ATTACHED.tree(),
        &keys::children(account, kind, name),
    )? {
        return Err(IamError::DeleteConflict(
            "Cannot delete entity, must detach all policies first.".into(),
        ));
    }
    Ok(())
}
