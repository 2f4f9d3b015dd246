//! IAM and STS operations (awsQuery): each input decoded once from the query parameters,
//! authorized on what it touches (the stored entity's ARN and tags, the request's tags),
//! executed on a store transaction, and answered with a typed output written as XML.

mod attached;
pub mod entity;
mod groups;
mod inline;
mod keys;
mod lifecycle;
mod managed;
pub mod output;
mod roles;
mod sts;
mod tags;
mod users;

pub(crate) use keys::{create_key, keys_of};
pub use managed::parse_policy_arn;

use base64::Engine as _;
use ferrogate_api::{Authorization, Check, RequestTags, Resource, Scope};
use ferrogate_store::ReadTx;
use ferrogate_types::Timestamp;
use ferrogate_wire::query::{QueryParams, XmlWriter};

pub use groups::{CreateGroupInput, GetGroupInput, ListGroupsForUserInput};
pub use keys::*;
pub use managed::{
    CreatePolicyInput, DeletePolicyInput, GetPolicyInput, GetPolicyVersionInput, ListPoliciesInput,
};
pub use roles::{CreateRoleInput, GetRoleInput, UpdateAssumeRolePolicyInput};
pub use sts::*;
pub use tags::*;
pub use users::*;

pub use ferrogate_api::Ctx;

use crate::model::{keys as model_keys, tables, EntityKind};
use crate::validate::Checks;
use crate::IamError;

/// IAM (awsQuery, `2010-05-08`). Its state is the store's.
#[derive(Debug, Default)]
pub struct Iam;

/// STS (awsQuery, `2011-06-15`).
#[derive(Debug, Default)]
pub struct Sts;

ferrogate_api::service! {
    Iam { error: IamError, id: Iam, tag_prefixes: ["iam"], changes_authorization: true, record_resources: false, denied: IamError::AccessDenied }
}

// A new session is a new credential: the credential cache must not hide it.
ferrogate_api::service! {
    Sts { error: IamError, id: Sts, tag_prefixes: ["iam"], changes_authorization: true, record_resources: false, denied: IamError::AccessDenied }
}

ferrogate_api::operations! {
    service: Iam,
    protocol: query,
    parameters: own,
    ops: {
        CreateUser(CreateUserInput) write,
        GetUser(GetUserInput) read,
        ListUsers(ListUsersInput) read,
        DeleteUser(DeleteUserInput) write,
        TagUser(TagUserInput) write,
        UntagUser(UntagUserInput) write,
        ListUserTags(ListUserTagsInput) read,
        CreateAccessKey(CreateAccessKeyInput) write,
        ListAccessKeys(ListAccessKeysInput) read,
        UpdateAccessKey(UpdateAccessKeyInput) write,
        DeleteAccessKey(DeleteAccessKeyInput) write,
        PutUserPolicy(PutUserPolicyInput) write,
        GetUserPolicy(GetUserPolicyInput) read,
        ListUserPolicies(ListUserPoliciesInput) read,
        DeleteUserPolicy(DeleteUserPolicyInput) write,
        AttachUserPolicy(AttachUserPolicyInput) write,
        DetachUserPolicy(DetachUserPolicyInput) write,
        ListAttachedUserPolicies(ListAttachedUserPoliciesInput) read,
        CreateGroup(CreateGroupInput) write,
        GetGroup(GetGroupInput) read,
        ListGroups(ListGroupsInput) read,
        DeleteGroup(DeleteGroupInput) write,
        AddUserToGroup(AddUserToGroupInput) write,
        RemoveUserFromGroup(RemoveUserFromGroupInput) write,
        ListGroupsForUser(ListGroupsForUserInput) read,
        PutGroupPolicy(PutGroupPolicyInput) write,
        GetGroupPolicy(GetGroupPolicyInput) read,
        ListGroupPolicies(ListGroupPoliciesInput) read,
        DeleteGroupPolicy(DeleteGroupPolicyInput) write,
        AttachGroupPolicy(AttachGroupPolicyInput) write,
        DetachGroupPolicy(DetachGroupPolicyInput) write,
        ListAttachedGroupPolicies(ListAttachedGroupPoliciesInput) read,
        CreateRole(CreateRoleInput) write,
        GetRole(GetRoleInput) read,
        ListRoles(ListRolesInput) read,
        DeleteRole(DeleteRoleInput) write,
        UpdateAssumeRolePolicy(UpdateAssumeRolePolicyInput) write,
        TagRole(TagRoleInput) write,
        UntagRole(UntagRoleInput) write,
        ListRoleTags(ListRoleTagsInput) read,
        PutRolePolicy(PutRolePolicyInput) write,
        GetRolePolicy(GetRolePolicyInput) read,
        ListRolePolicies(ListRolePoliciesInput) read,
        DeleteRolePolicy(DeleteRolePolicyInput) write,
        AttachRolePolicy(AttachRolePolicyInput) write,
        DetachRolePolicy(DetachRolePolicyInput) write,
        ListAttachedRolePolicies(ListAttachedRolePoliciesInput) read,
        CreatePolicy(CreatePolicyInput) write,
        GetPolicy(GetPolicyInput) read,
        GetPolicyVersion(GetPolicyVersionInput) read,
        ListPolicies(ListPoliciesInput) read,
        DeletePolicy(DeletePolicyInput) write,
    }
}

ferrogate_api::operations! {
    service: Sts,
    protocol: query,
    parameters: own,
    ops: {
        GetCallerIdentity(GetCallerIdentityInput) read,
        AssumeRole(AssumeRoleInput) write,
    }
}

/// The stored user, group or role `name` of the caller's account as a resource: its ARN
/// (path and spelling as stored) and its tags; one that does not exist is the ARN the
/// request spells (the operation then answers `NoSuchEntity`).
pub(crate) fn entity_resource(
    tx: &dyn ReadTx,
    account: &str,
    kind: EntityKind,
    name: &str,
) -> Result<Resource, IamError> {
    let key = model_keys::entity(account, kind, name);
    let found = match kind {
        EntityKind::User => tables::USERS
            .get(tx, &key)?
            .map(|u| (u.arn(account), u.tags)),
        EntityKind::Group => tables::GROUPS
            .get(tx, &key)?
            .map(|g| (g.arn(account), Vec::new())),
        EntityKind::Role => tables::ROLES
            .get(tx, &key)?
            .map(|r| (r.arn(account), r.tags)),
    };
    Ok(match found {
        Some((arn, tags)) => Resource::Existing {
            arn,
            tags: tags.into_iter().map(|t| (t.key, t.value)).collect(),
        },
        None => Resource::Named(entity::entity_arn(account, kind, "/", name)),
    })
}

/// `action` on the stored user, group or role `name` (see [`entity_resource`]).
pub(crate) fn on_entity<S>(
    s: &Scope<'_, S>,
    action: &str,
    kind: EntityKind,
    name: &str,
) -> Result<Authorization, IamError> {
    let resource = entity_resource(s.tx, s.account(), kind, name)?;
    Ok(Authorization::of(Check::new(
        action,
        resource,
        RequestTags::None,
    )))
}

/// The user an operation names, or the caller's own user (or the root user's ARN) when it
/// names none.
pub(crate) fn user_or_caller<S>(
    s: &Scope<'_, S>,
    name: Option<&str>,
) -> Result<Resource, IamError> {
    match name.or_else(|| users::caller_user_name(s.principal)) {
        Some(n) => entity_resource(s.tx, s.account(), EntityKind::User, n),
        None => Ok(Resource::Named(s.principal.arn.clone())),
    }
}

/// `action` of a listing, on the kind's ARN prefix (`arn:aws:iam::<acct>:user/`).
pub(crate) fn on_listing<S>(s: &Scope<'_, S>, action: &str, noun: &str) -> Authorization {
    Authorization::of(Check::new(
        action,
        Resource::Named(format!("arn:aws:iam::{}:{noun}/", s.account())),
        RequestTags::None,
    ))
}

/// Stored entities with their account, as list members show them (without tags).
pub(crate) fn owned<T>(account: &str, items: Vec<T>) -> Vec<output::Owned<T>> {
    items
        .into_iter()
        .map(|item| output::Owned {
            account: account.to_owned(),
            item,
            with_tags: false,
        })
        .collect()
}

/// The request's tags as condition keys.
pub(crate) fn request_tags(tags: &[crate::model::Tag]) -> RequestTags {
    RequestTags::Set(crate::model::Tag::pairs(tags))
}

/// `ListUsers`.
pub type ListUsersInput = lifecycle::ListEntitiesInput<crate::model::User>;
/// `ListGroups`.
pub type ListGroupsInput = lifecycle::ListEntitiesInput<crate::model::Group>;
/// `ListRoles`.
pub type ListRolesInput = lifecycle::ListEntitiesInput<crate::model::Role>;
/// `DeleteUser`.
pub type DeleteUserInput = lifecycle::DeleteEntityInput<crate::model::User>;
/// `DeleteGroup`.
pub type DeleteGroupInput = lifecycle::DeleteEntityInput<crate::model::Group>;
/// `DeleteRole`.
pub type DeleteRoleInput = lifecycle::DeleteEntityInput<crate::model::Role>;
/// `PutUserPolicy`.
pub type PutUserPolicyInput = inline::PutPolicyInput<{ entity::USER }>;
/// `PutGroupPolicy`.
pub type PutGroupPolicyInput = inline::PutPolicyInput<{ entity::GROUP }>;
/// `PutRolePolicy`.
pub type PutRolePolicyInput = inline::PutPolicyInput<{ entity::ROLE }>;
/// `GetUserPolicy`.
pub type GetUserPolicyInput = inline::NamedInlineInput<{ entity::USER }, false>;
/// `GetGroupPolicy`.
pub type GetGroupPolicyInput = inline::NamedInlineInput<{ entity::GROUP }, false>;
/// `GetRolePolicy`.
pub type GetRolePolicyInput = inline::NamedInlineInput<{ entity::ROLE }, false>;
/// `ListUserPolicies`.
pub type ListUserPoliciesInput = inline::ListPoliciesInlineInput<{ entity::USER }>;
/// `ListGroupPolicies`.
pub type ListGroupPoliciesInput = inline::ListPoliciesInlineInput<{ entity::GROUP }>;
/// `ListRolePolicies`.
pub type ListRolePoliciesInput = inline::ListPoliciesInlineInput<{ entity::ROLE }>;
/// `DeleteUserPolicy`.
pub type DeleteUserPolicyInput = inline::NamedInlineInput<{ entity::USER }, true>;
/// `DeleteGroupPolicy`.
pub type DeleteGroupPolicyInput = inline::NamedInlineInput<{ entity::GROUP }, true>;
/// `DeleteRolePolicy`.
pub type DeleteRolePolicyInput = inline::NamedInlineInput<{ entity::ROLE }, true>;
/// `AttachUserPolicy`.
pub type AttachUserPolicyInput = attached::AttachmentInput<{ entity::USER }, true>;
/// `AttachGroupPolicy`.
pub type AttachGroupPolicyInput = attached::AttachmentInput<{ entity::GROUP }, true>;
/// `AttachRolePolicy`.
pub type AttachRolePolicyInput = attached::AttachmentInput<{ entity::ROLE }, true>;
/// `DetachUserPolicy`.
pub type DetachUserPolicyInput = attached::AttachmentInput<{ entity::USER }, false>;
/// `DetachGroupPolicy`.
pub type DetachGroupPolicyInput = attached::AttachmentInput<{ entity::GROUP }, false>;
/// `DetachRolePolicy`.
pub type DetachRolePolicyInput = attached::AttachmentInput<{ entity::ROLE }, false>;
/// `ListAttachedUserPolicies`.
pub type ListAttachedUserPoliciesInput = attached::ListAttachedInput<{ entity::USER }>;
/// `ListAttachedGroupPolicies`.
pub type ListAttachedGroupPoliciesInput = attached::ListAttachedInput<{ entity::GROUP }>;
/// `ListAttachedRolePolicies`.
pub type ListAttachedRolePoliciesInput = attached::ListAttachedInput<{ entity::ROLE }>;
/// `AddUserToGroup`.
pub type AddUserToGroupInput = groups::MembershipInput<true>;
/// `RemoveUserFromGroup`.
pub type RemoveUserFromGroupInput = groups::MembershipInput<false>;

/// The query parameters of one request, with IAM's `ValidationError` for missing ones.
pub(crate) struct Params<'a>(pub &'a QueryParams);

impl<'a> Params<'a> {
    pub(crate) fn required(&self, name: &str) -> Result<&'a str, IamError> {
        self.0.get(name).ok_or_else(|| {
            IamError::ValidationError(format!(
                "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
                lower_first(name)
            ))
        })
    }

    pub(crate) fn optional(&self, name: &str) -> Option<&'a str> {
        self.0.get(name)
    }

    pub(crate) fn int(&self, name: &str) -> Result<Option<i64>, IamError> {
        match self.0.get(name) {
            None => Ok(None),
            Some(v) => v.trim().parse().map(Some).map_err(|_| {
                IamError::ValidationError(format!(
                    "1 validation error detected: Value '{v}' at '{}' failed to satisfy constraint: Member must be a number",
                    lower_first(name)
                ))
            }),
        }
    }

    pub(crate) fn bool(&self, name: &str) -> Result<Option<bool>, IamError> {
        match self.0.get(name) {
            None => Ok(None),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(v) => Err(IamError::ValidationError(format!(
                "1 validation error detected: Value '{v}' at '{}' failed to satisfy constraint: Member must be a boolean",
                lower_first(name)
            ))),
        }
    }
}

pub(crate) fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_lowercase().chain(c).collect())
        .unwrap_or_default()
}

/// `Marker`/`MaxItems` paging: MaxItems 1–1000 (default 100); the marker is opaque (the
/// last key returned, base64) and must belong to the listing it is used with.
#[derive(Debug, Clone)]
pub struct Page {
    /// Marker from a previous page.
    pub marker: Option<String>,
    /// Page size.
    pub max_items: usize,
}

impl Page {
    pub(crate) fn decode(p: &Params<'_>) -> Result<Self, IamError> {
        let max = p.int("MaxItems")?.unwrap_or(100);
        let mut c = Checks::new();
        c.range(max, "maxItems", 1, 1000);
        if let Some(m) = p.optional("Marker") {
            c.length(m, "marker", 1, 320);
        }
        c.done()?;
        Ok(Self {
            marker: p.optional("Marker").map(str::to_owned),
            max_items: usize::try_from(max).unwrap_or(100),
        })
    }

    /// The key after which to continue, checked to lie under `prefix`.
    pub(crate) fn cursor(&self, prefix: &[u8]) -> Result<Option<Vec<u8>>, IamError> {
        let Some(m) = &self.marker else {
            return Ok(None);
        };
        let key = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(m)
            .ok()
            .filter(|k| k.starts_with(prefix))
            .ok_or_else(|| IamError::ValidationError("Invalid Marker.".into()))?;
        Ok(Some(key))
    }

    pub(crate) fn marker_for(key: &[u8]) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key)
    }
}

/// Writes `<IsTruncated>` and, when truncated, `<Marker>`.
pub(crate) fn write_truncation(w: &mut XmlWriter, next: Option<&str>) {
    w.leaf("IsTruncated", if next.is_some() { "true" } else { "false" });
    w.leaf_opt("Marker", next);
}

/// Fetches up to `page.max_items` records under `prefix` after the marker; returns them
/// and the marker for the next page.
pub(crate) fn paged<R: ferrogate_store::Record>(
    tx: &dyn ReadTx,
    table: ferrogate_store::Table<R>,
    prefix: &[u8],
    page: &Page,
    keep: impl Fn(&R) -> bool,
) -> Result<(Vec<R>, Option<String>), IamError> {
    const BATCH: usize = 256;
    let mut cursor = page.cursor(prefix)?;
    let mut out = Vec::new();
    let mut last_returned: Option<Vec<u8>> = None;
    loop {
        let batch = table.scan(
            tx,
            prefix,
            cursor.as_deref(),
            ferrogate_store::Direction::Forward,
            BATCH,
        )?;
        let exhausted = batch.len() < BATCH;
        for (k, r) in batch {
            cursor = Some(k.clone());
            if !keep(&r) {
                continue;
            }
            if out.len() == page.max_items {
                // Another matching record exists: the page ends before it.
                return Ok((out, last_returned.as_deref().map(Page::marker_for)));
            }
            last_returned = Some(k);
            out.push(r);
        }
        if exhausted {
            return Ok((out, None));
        }
    }
}

/// `MMM d, yyyy h:mm:ss a`: how CloudTrail prints dates inside IAM `responseElements`.
pub fn trail_date(t: Timestamp) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let iso = t.iso8601(); // YYYY-MM-DDTHH:MM:SSZ
    let num =
        |r: std::ops::Range<usize>| iso.get(r).and_then(|s| s.parse::<u32>().ok()).unwrap_or(0);
    let (y, mo, d, h, mi, s) = (
        num(0..4),
        num(5..7),
        num(8..10),
        num(11..13),
        num(14..16),
        num(17..19),
    );
    let (h12, ampm) = match h {
        0 => (12, "AM"),
        1..=11 => (h, "AM"),
        12 => (12, "PM"),
        _ => (h - 12, "PM"),
    };
    let month = MONTHS
        .get(usize::try_from(mo.saturating_sub(1)).unwrap_or(0))
        .copied()
        .unwrap_or("Jan");
    format!("{month} {d}, {y} {h12}:{mi:02}:{s:02} {ampm}")
}

/// Percent-encodes a policy document as IAM returns it (RFC 3986; space is `%20`).
pub fn encode_document(doc: &str) -> String {
    use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
    const SET: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    utf8_percent_encode(doc, SET).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trail_dates() {
        assert_eq!(
            trail_date(Timestamp::parse_iso8601("2014-03-24T21:11:59Z").unwrap()),
            "Mar 24, 2014 9:11:59 PM"
        );
        assert_eq!(
            trail_date(Timestamp::parse_iso8601("2020-01-08T00:05:06Z").unwrap()),
            "Jan 8, 2020 12:05:06 AM"
        );
        assert_eq!(
            trail_date(Timestamp::parse_iso8601("2020-12-31T12:00:00Z").unwrap()),
            "Dec 31, 2020 12:00:00 PM"
        );
    }

    #[test]
    fn documents_are_encoded_with_percent_20() {
        let e = encode_document("{\"Version\": \"2012-10-17\"}");
        assert_eq!(e, "%7B%22Version%22%3A%20%222012-10-17%22%7D");
    }
}
