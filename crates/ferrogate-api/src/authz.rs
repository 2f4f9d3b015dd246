//! What an operation must have authorized, and the only way to obtain an [`Authorized`]
//! operation.
//!
//! Every operation states, in [`crate::Operation::authorize`], one [`Check`] per action and
//! resource that AWS's Service Authorization Reference lists for it: `kms:CreateAlias` on the
//! alias *and* on the key, `kms:CreateKey` and (with tags) `kms:TagResource`. A check cannot be
//! built without its action, its [`Resource`] (an existing resource carries its stored tags,
//! which become `aws:ResourceTag/*`) and its [`RequestTags`] (`aws:RequestTag/*`,
//! `aws:TagKeys`): there is no default to forget.
//!
//! [`authorize`] evaluates every check with the policy engine ([`Decide`], implemented by
//! IAM) and only then wraps the operation in an [`Authorized`], whose constructor is private
//! to this crate. `Operation::execute` takes an `&Authorized<Self>`: an operation cannot run
//! on a request that was not authorized, by type rather than by configuration.

use std::net::IpAddr;
use std::sync::Arc;

use ferrogate_policy::{Policy, ResourcePolicyKind};
use ferrogate_store::ReadTx;
use ferrogate_types::{Principal, Timestamp};

/// Condition keys: name and values.
pub type Keys = Vec<(String, Vec<String>)>;

/// The resource of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    /// An action whose reference entry names no resource type (`kms:CreateKey`,
    /// `kms:ListKeys`): evaluated against `*`.
    Any,
    /// A resource the request creates: its ARN, no tags yet (the request's own tags are
    /// [`RequestTags`]).
    New(String),
    /// An existing resource: its stored ARN and its tags, which become
    /// `aws:ResourceTag/<key>` (and the service's own `<svc>:ResourceTag/<key>`).
    Existing {
        /// The stored ARN (its path and spelling, not the request's).
        arn: String,
        /// Its tags.
        tags: Vec<(String, String)>,
    },
    /// A resource the request names that does not exist (or cannot be read before the
    /// operation runs): authorized on the ARN as spelled; the operation then answers that
    /// it is not found.
    Named(String),
}

impl Resource {
    /// The ARN evaluated (`None` for [`Resource::Any`]).
    pub fn arn(&self) -> Option<&str> {
        match self {
            Resource::Any => None,
            Resource::New(a) | Resource::Named(a) | Resource::Existing { arn: a, .. } => Some(a),
        }
    }

    fn tags(&self) -> &[(String, String)] {
        match self {
            Resource::Existing { tags, .. } => tags,
            _ => &[],
        }
    }
}

/// The tags a request sets or removes, as condition keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestTags {
    /// The request carries no tags.
    None,
    /// Tags the request sets: `aws:RequestTag/<key>` for each and `aws:TagKeys`.
    Set(Vec<(String, String)>),
    /// Tag keys the request removes: `aws:TagKeys`.
    Remove(Vec<String>),
}

impl RequestTags {
    fn keys(&self) -> Keys {
        match self {
            RequestTags::None => Vec::new(),
            RequestTags::Set(tags) if tags.is_empty() => Vec::new(),
            RequestTags::Set(tags) => {
                let mut out: Keys = tags
                    .iter()
                    .map(|(k, v)| (format!("aws:RequestTag/{k}"), vec![v.clone()]))
                    .collect();
                out.push((
                    "aws:TagKeys".into(),
                    tags.iter().map(|(k, _)| k.clone()).collect(),
                ));
                out
            }
            RequestTags::Remove(keys) if keys.is_empty() => Vec::new(),
            RequestTags::Remove(keys) => vec![("aws:TagKeys".into(), keys.clone())],
        }
    }
}

/// A resource's own policy (a KMS key policy, a role's trust policy).
#[derive(Debug, Clone)]
pub struct ResourcePolicy {
    /// The name the decision's messages use (the key ARN, …).
    pub name: String,
    /// The parsed policy.
    pub policy: Arc<Policy>,
    /// How it takes part (`KeyPolicy` makes it mandatory).
    pub kind: ResourcePolicyKind,
    /// The account that owns the resource.
    pub account: String,
}

/// One action on one resource, with the condition keys that go with it.
#[derive(Debug, Clone)]
pub struct Check {
    action: String,
    resource: Resource,
    request_tags: RequestTags,
    keys: Keys,
    policy: Option<ResourcePolicy>,
    grant: Option<String>,
}

impl Check {
    /// `action` (`service:Operation`) on `resource`, with the tags the request carries.
    pub fn new(action: impl Into<String>, resource: Resource, request_tags: RequestTags) -> Self {
        Self {
            action: action.into(),
            resource,
            request_tags,
            keys: Vec::new(),
            policy: None,
            grant: None,
        }
    }

    /// Adds a condition key of the service (`kms:CallerAccount`, `ecs:cluster`).
    #[must_use]
    pub fn key(mut self, name: impl Into<String>, values: Vec<String>) -> Self {
        self.keys.push((name.into(), values));
        self
    }

    /// Adds several condition keys.
    #[must_use]
    pub fn keys(mut self, keys: impl IntoIterator<Item = (String, Vec<String>)>) -> Self {
        self.keys.extend(keys);
        self
    }

    /// The resource's own policy takes part in the decision.
    #[must_use]
    pub fn policy(mut self, policy: ResourcePolicy) -> Self {
        self.policy = Some(policy);
        self
    }

    /// A grant that allows the request, already matched by the service.
    #[must_use]
    pub fn grant(mut self, grant: Option<String>) -> Self {
        self.grant = grant;
        self
    }

    /// The action.
    pub fn action(&self) -> &str {
        &self.action
    }

    /// The resource.
    pub fn resource(&self) -> &Resource {
        &self.resource
    }

    /// Every condition key of the check: the service's, the request's tags and the
    /// resource's tags (under `aws:` and each of `tag_prefixes`).
    pub fn condition_keys(&self, tag_prefixes: &[&str]) -> Keys {
        let mut keys = self.keys.clone();
        keys.extend(self.request_tags.keys());
        for (k, v) in self.resource.tags() {
            keys.push((format!("aws:ResourceTag/{k}"), vec![v.clone()]));
            for p in tag_prefixes {
                keys.push((format!("{p}:ResourceTag/{k}"), vec![v.clone()]));
            }
        }
        keys
    }
}

/// Everything one request needs authorized: every check must be allowed.
#[derive(Debug, Clone)]
pub struct Authorization {
    checks: Vec<Check>,
    /// `sts:GetCallerIdentity`: "No permissions are required to perform this operation."
    unconditional: bool,
}

impl Authorization {
    /// One check.
    pub fn of(check: Check) -> Self {
        Self {
            checks: vec![check],
            unconditional: false,
        }
    }

    /// Several checks (at least one).
    pub fn all(first: Check, rest: impl IntoIterator<Item = Check>) -> Self {
        let mut checks = vec![first];
        checks.extend(rest);
        Self {
            checks,
            unconditional: false,
        }
    }

    /// A further check.
    #[must_use]
    pub fn and(mut self, check: Check) -> Self {
        self.checks.push(check);
        self
    }

    /// An operation AWS never denies (`sts:GetCallerIdentity`); `action` is recorded for the
    /// reader, not evaluated.
    pub fn not_required(action: &str) -> Self {
        Self {
            checks: vec![Check::new(action, Resource::Any, RequestTags::None)],
            unconditional: true,
        }
    }

    /// The checks.
    pub fn checks(&self) -> &[Check] {
        &self.checks
    }
}

/// Facts about the request that global condition keys are made of.
#[derive(Debug, Clone)]
pub struct Facts {
    /// `aws:CurrentTime`, `aws:EpochTime`.
    pub now: Timestamp,
    /// `aws:SourceIp`.
    pub source_ip: IpAddr,
    /// `aws:RequestedRegion`.
    pub region: String,
    /// `aws:SecureTransport` (false: Ferrogate serves plain HTTP).
    pub secure_transport: bool,
}

/// One decision the policy engine is asked for.
#[derive(Debug)]
pub struct Question<'a> {
    /// Who asks.
    pub principal: &'a Principal,
    /// `service:Operation`.
    pub action: &'a str,
    /// The resource ARN, or `None` for `*`.
    pub resource: Option<&'a str>,
    /// Every condition key the request supplies beyond the principal's and the facts'.
    pub keys: &'a [(String, Vec<String>)],
    /// The request's facts.
    pub facts: &'a Facts,
    /// The resource's own policy.
    pub policy: Option<&'a ResourcePolicy>,
    /// A grant that allows the request.
    pub grant: Option<&'a str>,
}

/// A refusal, with AWS's message naming principal, action, resource and reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    /// `User: … is not authorized to perform: … on resource: … because …`.
    pub message: String,
}

/// A cache generation, read before a decision's snapshot (see [`Decide::epoch`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Epoch(pub u64);

/// The policy engine over the stored identities (implemented by IAM).
pub trait Decide: Send + Sync + 'static {
    /// The cache generation a decision may use. Taken *before* the snapshot the decision
    /// reads: an invalidation between the two then keeps the decision from caching what an
    /// old snapshot said.
    fn epoch(&self) -> Epoch;
    /// Decides one question.
    fn decide(&self, epoch: Epoch, tx: &dyn ReadTx, q: &Question<'_>) -> Result<(), Denied>;
    /// Forgets every cached policy (after any committed change to identities or policies).
    fn invalidate(&self);
}

/// An operation that passed authorization. Only [`authorize`] makes one.
#[derive(Debug)]
pub struct Authorized<O> {
    op: O,
    principal: Principal,
    resources: Vec<String>,
}

impl<O> std::ops::Deref for Authorized<O> {
    type Target = O;

    fn deref(&self) -> &O {
        &self.op
    }
}

impl<O> Authorized<O> {
    /// The operation.
    pub fn op(&self) -> &O {
        &self.op
    }

    /// The operation, for [`crate::Operation::prepare`] to store what it computed or learnt
    /// from other services (authorization already holds: its inputs cannot change, their
    /// fields being the operation's own).
    pub fn op_mut(&mut self) -> &mut O {
        &mut self.op
    }

    /// Who is acting.
    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// The resources authorized (each check's ARN, in order, `*` left out).
    pub fn resources(&self) -> &[String] {
        &self.resources
    }

    pub(crate) fn into_op(self) -> O {
        self.op
    }
}

/// The keys AWS adds to every request about how it was made: `aws:ViaAWSService` (true when
/// a service calls with the caller's credentials: a forward access session) and, for those,
/// `aws:CalledVia`, `aws:CalledViaFirst`, `aws:CalledViaLast` (IAM User Guide, "AWS global
/// condition context keys"; "Forward access sessions").
pub fn call_keys(called_via: &[String]) -> Keys {
    let via = !called_via.is_empty();
    let mut keys = vec![(
        "aws:ViaAWSService".to_owned(),
        vec![if via { "true" } else { "false" }.to_owned()],
    )];
    if let (Some(first), Some(last)) = (called_via.first(), called_via.last()) {
        keys.push(("aws:CalledVia".into(), called_via.to_vec()));
        keys.push(("aws:CalledViaFirst".into(), vec![first.clone()]));
        keys.push(("aws:CalledViaLast".into(), vec![last.clone()]));
    }
    keys
}

/// What [`authorize`] needs to know about the call.
pub(crate) struct Asker<'a> {
    pub decider: &'a dyn Decide,
    pub epoch: Epoch,
    pub tx: &'a dyn ReadTx,
    pub principal: &'a Principal,
    pub facts: &'a Facts,
    pub called_via: &'a [String],
    pub tag_prefixes: &'a [&'static str],
}

/// Decides every check of `auth`; all allowed, the operation comes back authorized.
pub(crate) fn authorize<O>(
    a: &Asker<'_>,
    auth: &Authorization,
    op: O,
) -> Result<Authorized<O>, Denied> {
    let resources = auth
        .checks
        .iter()
        .filter_map(|c| c.resource.arn().map(str::to_owned))
        .collect();
    if !auth.unconditional {
        let call = call_keys(a.called_via);
        for check in &auth.checks {
            let mut keys = check.condition_keys(a.tag_prefixes);
            keys.extend(call.iter().cloned());
            a.decider.decide(
                a.epoch,
                a.tx,
                &Question {
                    principal: a.principal,
                    action: &check.action,
                    resource: check.resource.arn(),
                    keys: &keys,
                    facts: a.facts,
                    policy: check.policy.as_ref(),
                    grant: check.grant.as_deref(),
                },
            )?;
        }
    }
    Ok(Authorized {
        op,
        principal: a.principal.clone(),
        resources,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values<'a>(keys: &'a Keys, name: &str) -> Option<&'a [String]> {
        keys.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_slice())
    }

    #[test]
    fn an_existing_resource_brings_its_tags_under_every_prefix() {
        let c = Check::new(
            "ecs:UpdateCluster",
            Resource::Existing {
                arn: "arn:aws:ecs:us-east-1:111122223333:cluster/c".into(),
                tags: vec![("team".into(), "blue".into())],
            },
            RequestTags::None,
        );
        let keys = c.condition_keys(&["ecs"]);
        assert_eq!(
            values(&keys, "aws:ResourceTag/team"),
            Some(&["blue".to_owned()][..])
        );
        assert_eq!(
            values(&keys, "ecs:ResourceTag/team"),
            Some(&["blue".to_owned()][..])
        );
        assert_eq!(values(&keys, "aws:TagKeys"), None);
    }

    #[test]
    fn request_tags_become_request_tag_and_tag_keys() {
        let set = Check::new(
            "kms:CreateKey",
            Resource::Any,
            RequestTags::Set(vec![("a".into(), "1".into()), ("b".into(), "2".into())]),
        )
        .condition_keys(&[]);
        assert_eq!(
            values(&set, "aws:RequestTag/a"),
            Some(&["1".to_owned()][..])
        );
        assert_eq!(
            values(&set, "aws:TagKeys"),
            Some(&["a".to_owned(), "b".to_owned()][..])
        );
        let removed = Check::new(
            "kms:UntagResource",
            Resource::Named("arn".into()),
            RequestTags::Remove(vec!["a".into()]),
        )
        .condition_keys(&[]);
        assert_eq!(values(&removed, "aws:TagKeys"), Some(&["a".to_owned()][..]));
        assert_eq!(values(&removed, "aws:RequestTag/a"), None);
        let none = Check::new(
            "kms:TagResource",
            Resource::Any,
            RequestTags::Set(Vec::new()),
        );
        assert!(none.condition_keys(&[]).is_empty());
    }

    #[test]
    fn via_keys_follow_forward_access_sessions() {
        let direct = call_keys(&[]);
        assert_eq!(
            values(&direct, "aws:ViaAWSService"),
            Some(&["false".to_owned()][..])
        );
        assert_eq!(values(&direct, "aws:CalledVia"), None);
        let chain = vec![
            "cloudformation.amazonaws.com".to_owned(),
            "ecs.amazonaws.com".to_owned(),
        ];
        let via = call_keys(&chain);
        assert_eq!(
            values(&via, "aws:ViaAWSService"),
            Some(&["true".to_owned()][..])
        );
        assert_eq!(values(&via, "aws:CalledVia"), Some(&chain[..]));
        assert_eq!(
            values(&via, "aws:CalledViaFirst"),
            Some(&["cloudformation.amazonaws.com".to_owned()][..])
        );
        assert_eq!(
            values(&via, "aws:CalledViaLast"),
            Some(&["ecs.amazonaws.com".to_owned()][..])
        );
    }
}
