//! The typed outputs of the IAM and STS operations and how each is written inside its
//! `<{Operation}Result>` element (IAM API Reference, "Response Elements").

use ferrogate_api::XmlOutput;
use ferrogate_wire::query::XmlWriter;

use super::encode_document;
use crate::model::{AccessKey, Attachment, Group, Role, Tag, User};

/// One member of a list in an answer.
pub trait XmlItem {
    /// Writes the member's fields (inside `<member>`).
    fn write_item(&self, w: &mut XmlWriter);
}

/// A stored entity with its account (ARNs are made of both).
#[derive(Debug, Clone)]
pub struct Owned<T> {
    /// The account.
    pub account: String,
    /// The entity.
    pub item: T,
    /// Whether its tags are shown (`Get*` answers show them; list members do not).
    pub with_tags: bool,
}

fn write_tags(w: &mut XmlWriter, tags: &[Tag]) {
    if tags.is_empty() {
        return;
    }
    w.open("Tags");
    for t in tags {
        t.write_member(w);
    }
    w.close("Tags");
}

impl Tag {
    fn write_member(&self, w: &mut XmlWriter) {
        w.open("member")
            .leaf("Key", &self.key)
            .leaf("Value", &self.value)
            .close("member");
    }
}

impl XmlItem for Tag {
    fn write_item(&self, w: &mut XmlWriter) {
        w.leaf("Key", &self.key).leaf("Value", &self.value);
    }
}

impl XmlItem for Owned<User> {
    fn write_item(&self, w: &mut XmlWriter) {
        let u = &self.item;
        w.leaf("Path", &u.path)
            .leaf("UserName", &u.name)
            .leaf("UserId", &u.user_id)
            .leaf("Arn", &u.arn(&self.account));
        w.leaf("CreateDate", &u.create_date.iso8601());
        if self.with_tags {
            write_tags(w, &u.tags);
        }
    }
}

impl XmlItem for Owned<Role> {
    fn write_item(&self, w: &mut XmlWriter) {
        let r = &self.item;
        w.leaf("Path", &r.path)
            .leaf("RoleName", &r.name)
            .leaf("RoleId", &r.role_id)
            .leaf("Arn", &r.arn(&self.account));
        w.leaf("CreateDate", &r.create_date.iso8601());
        w.leaf(
            "AssumeRolePolicyDocument",
            &encode_document(&r.trust_policy),
        );
        w.leaf_opt("Description", r.description.as_deref());
        w.leaf("MaxSessionDuration", &r.max_session_duration.to_string());
        if self.with_tags {
            write_tags(w, &r.tags);
        }
    }
}

impl XmlItem for Owned<Group> {
    fn write_item(&self, w: &mut XmlWriter) {
        let g = &self.item;
        w.leaf("Path", &g.path)
            .leaf("GroupName", &g.name)
            .leaf("GroupId", &g.group_id)
            .leaf("Arn", &g.arn(&self.account));
        w.leaf("CreateDate", &g.create_date.iso8601());
    }
}

impl XmlItem for AccessKey {
    fn write_item(&self, w: &mut XmlWriter) {
        w.leaf_opt("UserName", self.user_name.as_deref());
        w.leaf("AccessKeyId", &self.access_key_id)
            .leaf("Status", self.status.as_str());
        w.leaf("CreateDate", &self.create_date.iso8601());
    }
}

impl XmlItem for Attachment {
    fn write_item(&self, w: &mut XmlWriter) {
        w.leaf("PolicyName", &self.policy_name)
            .leaf("PolicyArn", &self.policy_arn);
    }
}

/// One entity in an element of its own: `<User>`, `<Role>`, `<Group>`.
#[derive(Debug, Clone)]
pub struct Single<T> {
    /// The element's name.
    pub element: &'static str,
    /// The entity.
    pub item: T,
}

impl<T: XmlItem> XmlOutput for Single<T> {
    const HAS_RESULT: bool = true;
    fn write(&self, w: &mut XmlWriter) {
        w.open(self.element);
        self.item.write_item(w);
        w.close(self.element);
    }
}

/// A page of a listing: `<{element}><member>…</member></{element}>`, `IsTruncated`,
/// `Marker`, and fields some listings add after it (`ListAccessKeys`' `UserName`).
#[derive(Debug, Clone)]
pub struct Listing<T> {
    /// The list element's name.
    pub element: &'static str,
    /// The page.
    pub items: Vec<T>,
    /// The marker of the next page.
    pub marker: Option<String>,
    /// Leaves written after the list.
    pub trailer: Vec<(&'static str, String)>,
}

impl<T> Listing<T> {
    /// A page in `element`.
    pub fn new(element: &'static str, items: Vec<T>, marker: Option<String>) -> Self {
        Self {
            element,
            items,
            marker,
            trailer: Vec::new(),
        }
    }
}

impl<T: XmlItem> XmlOutput for Listing<T> {
    const HAS_RESULT: bool = true;
    fn write(&self, w: &mut XmlWriter) {
        w.open(self.element);
        for i in &self.items {
            w.open("member");
            i.write_item(w);
            w.close("member");
        }
        w.close(self.element);
        super::write_truncation(w, self.marker.as_deref());
        for (k, v) in &self.trailer {
            w.leaf(k, v);
        }
    }
}

/// A list of names (`PolicyNames`).
#[derive(Debug, Clone)]
pub struct Names(pub String);

impl XmlItem for Names {
    fn write_item(&self, w: &mut XmlWriter) {
        w.text(&self.0);
    }
}

/// `GetGroup`: the group, then a page of its users.
#[derive(Debug, Clone)]
pub struct GroupWithUsers {
    /// The group.
    pub group: Owned<Group>,
    /// A page of its users.
    pub users: Listing<Owned<User>>,
}

impl XmlOutput for GroupWithUsers {
    const HAS_RESULT: bool = true;
    fn write(&self, w: &mut XmlWriter) {
        w.open("Group");
        self.group.write_item(w);
        w.close("Group");
        self.users.write(w);
    }
}

/// `Get{User,Group,Role}Policy`.
#[derive(Debug, Clone)]
pub struct InlinePolicyOutput {
    /// `UserName`, `GroupName` or `RoleName`.
    pub entity_element: &'static str,
    /// The entity's name.
    pub entity: String,
    /// The policy's name.
    pub name: String,
    /// The document as stored.
    pub document: String,
}

impl XmlOutput for InlinePolicyOutput {
    const HAS_RESULT: bool = true;
    fn write(&self, w: &mut XmlWriter) {
        w.leaf(self.entity_element, &self.entity)
            .leaf("PolicyName", &self.name)
            .leaf("PolicyDocument", &encode_document(&self.document));
    }
}

/// The root user, as `GetUser` without a name shows it to the root user.
#[derive(Debug, Clone)]
pub struct RootUser {
    /// The account id (the root user's `UserId`).
    pub account: String,
    /// Its ARN.
    pub arn: String,
    /// When the account was created.
    pub created: ferrogate_types::Timestamp,
}

impl XmlItem for RootUser {
    fn write_item(&self, w: &mut XmlWriter) {
        w.leaf("UserId", &self.account)
            .leaf("Arn", &self.arn)
            .leaf("CreateDate", &self.created.iso8601());
    }
}

/// `GetUser`: a user, or the root user.
#[derive(Debug, Clone)]
pub enum UserOrRoot {
    /// An IAM user.
    User(Owned<User>),
    /// The root user.
    Root(RootUser),
}

impl XmlItem for UserOrRoot {
    fn write_item(&self, w: &mut XmlWriter) {
        match self {
            UserOrRoot::User(u) => u.write_item(w),
            UserOrRoot::Root(r) => r.write_item(w),
        }
    }
}
