//! IAM and STS operations: decoded once from the query parameters into typed inputs, each
//! declaring its action, resource and audit fields, executed on a store transaction and
//! answered in XML.

mod attached;
pub mod entity;
mod groups;
mod inline;
mod keys;
mod managed;
mod roles;
mod sts;
mod users;

pub(crate) use keys::{create_key, keys_of};
pub use managed::parse_policy_arn;

use base64::Engine as _;
use ferrogate_store::{ReadTx, TxRef};
use ferrogate_types::{Principal, Timestamp};
use ferrogate_wire::query::{QueryParams, XmlWriter};
use ferrogate_wire::{ServiceId, WireError};
use serde_json::Value;

pub use groups::{
    CreateGroupInput, DeleteGroupInput, GetGroupInput, ListGroupsForUserInput, ListGroupsInput,
};
pub use keys::*;
pub use managed::{
    CreatePolicyInput, DeletePolicyInput, GetPolicyInput, GetPolicyVersionInput, ListPoliciesInput,
};
pub use roles::{
    CreateRoleInput, DeleteRoleInput, GetRoleInput, ListRolesInput, UpdateAssumeRolePolicyInput,
};
pub use sts::*;
pub use users::*;

use crate::authz::Action;
use crate::model::{keys as model_keys, tables};
use crate::validate::Checks;
use crate::IamError;

pub use crate::op::Ctx;

/// A handler's answer: the XML document, what CloudTrail logs as `responseElements`, and
/// the resources `LookupEvents` reports. `Debug` leaves the body out (a new access key's
/// secret travels in it).
pub struct Reply {
    /// The whole XML response.
    pub body: String,
    /// `responseElements` (null for reads).
    pub response_elements: Value,
    /// `(ResourceType, ResourceName)` pairs for the lookup index.
    pub resources: Vec<(String, String)>,
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reply")
            .field("body_len", &self.body.len())
            .field("resources", &self.resources)
            .finish_non_exhaustive()
    }
}

macro_rules! ops {
    ($( $name:ident ( $input:ident ) $svc:ident $ro:literal ),* $(,)?) => {
        /// Every IAM and STS operation Ferrogate serves.
        #[derive(Debug, Clone)]
        pub enum IamOp { $( #[doc = stringify!($name)] $name($input), )* }

        impl IamOp {
            /// Decodes `Action` of `service` from the parameters.
            pub fn decode(service: ServiceId, action: &str, p: &QueryParams) -> Result<Self, IamError> {
                match (service, action) {
                    $( (ServiceId::$svc, stringify!($name)) => Ok(IamOp::$name($input::decode(p)?)), )*
                    _ => Err(IamError::Wire(WireError::InvalidAction {
                        action: action.to_owned(),
                        version: service.api_version().to_owned(),
                    })),
                }
            }

            /// The operation's name.
            pub fn name(&self) -> &'static str {
                match self { $( IamOp::$name(_) => stringify!($name), )* }
            }

            /// The service it belongs to.
            pub fn service(&self) -> ServiceId {
                match self { $( IamOp::$name(_) => ServiceId::$svc, )* }
            }

            /// True when it only reads.
            pub fn read_only(&self) -> bool {
                match self { $( IamOp::$name(_) => $ro, )* }
            }

            /// The action and resource authorization checks.
            pub fn action(&self, caller: &Principal) -> Action {
                match self { $( IamOp::$name(i) => i.action(caller), )* }
            }

            /// `requestParameters` as CloudTrail logs them (never a secret).
            pub fn request_parameters(&self) -> Value {
                match self { $( IamOp::$name(i) => i.request_parameters(), )* }
            }

            /// Runs the operation.
            pub fn run(&self, tx: TxRef<'_>, ctx: Ctx<'_>) -> Result<Reply, IamError> {
                match self { $( IamOp::$name(i) => i.execute(tx, ctx), )* }
            }
        }
    };
}

impl IamOp {
    /// The existing user, group or role the request names, for authorization against its
    /// stored ARN (with its path and spelling) and tags.
    fn target(&self) -> Option<(crate::model::EntityKind, &str)> {
        match self {
            IamOp::GetUser(i) => i.target(),
            IamOp::DeleteUser(i) => i.target(),
            IamOp::CreateAccessKey(i) => i.target(),
            IamOp::ListAccessKeys(i) => i.target(),
            IamOp::UpdateAccessKey(i) => i.target(),
            IamOp::DeleteAccessKey(i) => i.target(),
            IamOp::PutUserPolicy(i) => i.target(),
            IamOp::GetUserPolicy(i) => i.target(),
            IamOp::ListUserPolicies(i) => i.target(),
            IamOp::DeleteUserPolicy(i) => i.target(),
            IamOp::AttachUserPolicy(i) => i.target(),
            IamOp::DetachUserPolicy(i) => i.target(),
            IamOp::ListAttachedUserPolicies(i) => i.target(),
            IamOp::GetGroup(i) => i.target(),
            IamOp::DeleteGroup(i) => i.target(),
            IamOp::AddUserToGroup(i) => i.target(),
            IamOp::RemoveUserFromGroup(i) => i.target(),
            IamOp::ListGroupsForUser(i) => i.target(),
            IamOp::PutGroupPolicy(i) => i.target(),
            IamOp::GetGroupPolicy(i) => i.target(),
            IamOp::ListGroupPolicies(i) => i.target(),
            IamOp::DeleteGroupPolicy(i) => i.target(),
            IamOp::AttachGroupPolicy(i) => i.target(),
            IamOp::DetachGroupPolicy(i) => i.target(),
            IamOp::ListAttachedGroupPolicies(i) => i.target(),
            IamOp::GetRole(i) => i.target(),
            IamOp::DeleteRole(i) => i.target(),
            IamOp::UpdateAssumeRolePolicy(i) => i.target(),
            IamOp::PutRolePolicy(i) => i.target(),
            IamOp::GetRolePolicy(i) => i.target(),
            IamOp::ListRolePolicies(i) => i.target(),
            IamOp::DeleteRolePolicy(i) => i.target(),
            IamOp::AttachRolePolicy(i) => i.target(),
            IamOp::DetachRolePolicy(i) => i.target(),
            IamOp::ListAttachedRolePolicies(i) => i.target(),
            _ => None,
        }
    }
}

/// The stored ARN and the tag condition keys of an existing user, group or role.
fn entity_access(
    tx: &dyn ReadTx,
    account: &str,
    kind: crate::model::EntityKind,
    name: &str,
) -> Result<crate::op::Access, IamError> {
    use crate::model::EntityKind;
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
    // An entity that does not exist is authorized on the ARN the request spells; the handler
    // then answers NoSuchEntity.
    let Some((arn, tags)) = found else {
        return Ok(crate::op::Access::default());
    };
    Ok(crate::op::Access {
        resource: Some(arn),
        keys: resource_tag_keys(&tags),
        ..Default::default()
    })
}

/// `aws:ResourceTag/<k>` and `iam:ResourceTag/<k>` for a user's or role's tags.
pub(crate) fn resource_tag_keys(tags: &[crate::model::Tag]) -> Vec<(String, Vec<String>)> {
    tags.iter()
        .flat_map(|t| {
            [
                (format!("aws:ResourceTag/{}", t.key), vec![t.value.clone()]),
                (format!("iam:ResourceTag/{}", t.key), vec![t.value.clone()]),
            ]
        })
        .collect()
}

impl crate::op::Operation for IamOp {
    type Error = IamError;

    fn access(
        &self,
        tx: &dyn ReadTx,
        principal: &Principal,
        _region: &str,
        _now: Timestamp,
    ) -> Result<crate::op::Access, IamError> {
        if let IamOp::AssumeRole(i) = self {
            return i.access(tx, principal);
        }
        match self.target() {
            Some((kind, name)) => entity_access(tx, principal.account.as_str(), kind, name),
            None => Ok(crate::op::Access::default()),
        }
    }

    fn name(&self) -> &'static str {
        IamOp::name(self)
    }

    fn read_only(&self) -> bool {
        IamOp::read_only(self)
    }

    fn action(&self, caller: &Principal) -> Action {
        IamOp::action(self, caller)
    }

    fn condition_keys(&self) -> Vec<(String, Vec<String>)> {
        match self {
            IamOp::CreateUser(i) => i.condition_keys(),
            IamOp::CreateRole(i) => i.condition_keys(),
            IamOp::AttachUserPolicy(i) => i.condition_keys(),
            IamOp::DetachUserPolicy(i) => i.condition_keys(),
            IamOp::AttachGroupPolicy(i) => i.condition_keys(),
            IamOp::DetachGroupPolicy(i) => i.condition_keys(),
            IamOp::AttachRolePolicy(i) => i.condition_keys(),
            IamOp::DetachRolePolicy(i) => i.condition_keys(),
            IamOp::AssumeRole(i) => i.condition_keys(),
            _ => Vec::new(),
        }
    }

    fn request_parameters(&self) -> Value {
        IamOp::request_parameters(self)
    }

    fn changes_authorization(&self) -> bool {
        !IamOp::read_only(self)
    }

    fn execute(&self, tx: TxRef<'_>, ctx: Ctx<'_>) -> Result<crate::op::OpReply, IamError> {
        self.run(tx, ctx).map(|r| crate::op::OpReply {
            body: r.body.into_bytes(),
            response_elements: r.response_elements,
            resources: r.resources,
        })
    }

    fn access_denied(message: String) -> IamError {
        IamError::AccessDenied(message)
    }
}

ops! {
    CreateUser(CreateUserInput) Iam false,
    GetUser(GetUserInput) Iam true,
    ListUsers(ListUsersInput) Iam true,
    DeleteUser(DeleteUserInput) Iam false,
    CreateAccessKey(CreateAccessKeyInput) Iam false,
    ListAccessKeys(ListAccessKeysInput) Iam true,
    UpdateAccessKey(UpdateAccessKeyInput) Iam false,
    DeleteAccessKey(DeleteAccessKeyInput) Iam false,
    PutUserPolicy(PutUserPolicyInput) Iam false,
    GetUserPolicy(GetUserPolicyInput) Iam true,
    ListUserPolicies(ListUserPoliciesInput) Iam true,
    DeleteUserPolicy(DeleteUserPolicyInput) Iam false,
    AttachUserPolicy(AttachUserPolicyInput) Iam false,
    DetachUserPolicy(DetachUserPolicyInput) Iam false,
    ListAttachedUserPolicies(ListAttachedUserPoliciesInput) Iam true,
    CreateGroup(CreateGroupInput) Iam false,
    GetGroup(GetGroupInput) Iam true,
    ListGroups(ListGroupsInput) Iam true,
    DeleteGroup(DeleteGroupInput) Iam false,
    AddUserToGroup(AddUserToGroupInput) Iam false,
    RemoveUserFromGroup(RemoveUserFromGroupInput) Iam false,
    ListGroupsForUser(ListGroupsForUserInput) Iam true,
    PutGroupPolicy(PutGroupPolicyInput) Iam false,
    GetGroupPolicy(GetGroupPolicyInput) Iam true,
    ListGroupPolicies(ListGroupPoliciesInput) Iam true,
    DeleteGroupPolicy(DeleteGroupPolicyInput) Iam false,
    AttachGroupPolicy(AttachGroupPolicyInput) Iam false,
    DetachGroupPolicy(DetachGroupPolicyInput) Iam false,
    ListAttachedGroupPolicies(ListAttachedGroupPoliciesInput) Iam true,
    CreateRole(CreateRoleInput) Iam false,
    GetRole(GetRoleInput) Iam true,
    ListRoles(ListRolesInput) Iam true,
    DeleteRole(DeleteRoleInput) Iam false,
    UpdateAssumeRolePolicy(UpdateAssumeRolePolicyInput) Iam false,
    PutRolePolicy(PutRolePolicyInput) Iam false,
    GetRolePolicy(GetRolePolicyInput) Iam true,
    ListRolePolicies(ListRolePoliciesInput) Iam true,
    DeleteRolePolicy(DeleteRolePolicyInput) Iam false,
    AttachRolePolicy(AttachRolePolicyInput) Iam false,
    DetachRolePolicy(DetachRolePolicyInput) Iam false,
    ListAttachedRolePolicies(ListAttachedRolePoliciesInput) Iam true,
    CreatePolicy(CreatePolicyInput) Iam false,
    GetPolicy(GetPolicyInput) Iam true,
    GetPolicyVersion(GetPolicyVersionInput) Iam true,
    ListPolicies(ListPoliciesInput) Iam true,
    DeletePolicy(DeletePolicyInput) Iam false,
    GetCallerIdentity(GetCallerIdentityInput) Sts true,
    AssumeRole(AssumeRoleInput) Sts false,
}

/// `PutUserPolicy`.
pub type PutUserPolicyInput = inline::PutPolicyInput<{ entity::USER }>;
/// `PutGroupPolicy`.
pub type PutGroupPolicyInput = inline::PutPolicyInput<{ entity::GROUP }>;
/// `PutRolePolicy`.
pub type PutRolePolicyInput = inline::PutPolicyInput<{ entity::ROLE }>;
/// `GetUserPolicy`.
pub type GetUserPolicyInput = inline::GetPolicyInlineInput<{ entity::USER }>;
/// `GetGroupPolicy`.
pub type GetGroupPolicyInput = inline::GetPolicyInlineInput<{ entity::GROUP }>;
/// `GetRolePolicy`.
pub type GetRolePolicyInput = inline::GetPolicyInlineInput<{ entity::ROLE }>;
/// `ListUserPolicies`.
pub type ListUserPoliciesInput = inline::ListPoliciesInlineInput<{ entity::USER }>;
/// `ListGroupPolicies`.
pub type ListGroupPoliciesInput = inline::ListPoliciesInlineInput<{ entity::GROUP }>;
/// `ListRolePolicies`.
pub type ListRolePoliciesInput = inline::ListPoliciesInlineInput<{ entity::ROLE }>;
/// `DeleteUserPolicy`.
pub type DeleteUserPolicyInput = inline::DeletePolicyInlineInput<{ entity::USER }>;
/// `DeleteGroupPolicy`.
pub type DeleteGroupPolicyInput = inline::DeletePolicyInlineInput<{ entity::GROUP }>;
/// `DeleteRolePolicy`.
pub type DeleteRolePolicyInput = inline::DeletePolicyInlineInput<{ entity::ROLE }>;
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

/// The `aws:RequestTag/*` and `aws:TagKeys` condition keys of a request that carries tags.
pub(crate) fn tag_keys(tags: &[crate::model::Tag]) -> Vec<(String, Vec<String>)> {
    if tags.is_empty() {
        return Vec::new();
    }
    let mut out: Vec<(String, Vec<String>)> = tags
        .iter()
        .map(|t| (format!("aws:RequestTag/{}", t.key), vec![t.value.clone()]))
        .collect();
    out.push((
        "aws:TagKeys".into(),
        tags.iter().map(|t| t.key.clone()).collect(),
    ));
    out
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
