//! The typed policy: what [`Policy::parse`](crate::Policy::parse) produces and the evaluator
//! reads. Everything that can be prepared once is prepared here: actions are lowercased, ARNs
//! are split per segment, condition values are parsed for their operator.

use crate::arn::ARN_SEGMENTS;
use crate::condition::{Condition, Tri};
use crate::principal::{MatchKind, PrincipalInfo, PrincipalSpec};
use crate::variables::Template;
use crate::wildcard::Pattern;

/// The policy language version (the `Version` element).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    /// `2008-10-17`, also what an absent `Version` means: policy variables are literal text.
    V2008_10_17,
    /// `2012-10-17`: policy variables are substituted.
    V2012_10_17,
}

/// Which kind of document is parsed; it decides which elements are allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyKind {
    /// Identity-based policy (user, group, role inline or managed; also permissions boundaries and
    /// session policies): `Principal` / `NotPrincipal` are refused.
    Identity,
    /// Resource-based policy such as a KMS key policy: `Principal` or `NotPrincipal` is required.
    Resource,
    /// IAM role trust policy: a resource policy whose resource is the role itself, so `Resource`
    /// / `NotResource` are refused ("Has prohibited field Resource").
    RoleTrust,
    /// AWS Organizations service control policy (or resource control policy): no `Principal`;
    /// otherwise the full language, as Organizations documents SCPs today.
    ServiceControl,
}

/// `Allow` or `Deny`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// `"Effect": "Allow"`.
    Allow,
    /// `"Effect": "Deny"`.
    Deny,
}

/// A parsed policy document. Cheap to evaluate many times; keep the original JSON separately if
/// it must be returned verbatim (AWS returns documents as written).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    pub(crate) version: Version,
    pub(crate) id: Option<String>,
    pub(crate) kind: PolicyKind,
    pub(crate) statements: Vec<Statement>,
}

impl Policy {
    /// The language version.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The optional `Id` element.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// The kind the document was parsed as.
    pub fn kind(&self) -> PolicyKind {
        self.kind
    }

    /// The statements, in document order.
    pub fn statements(&self) -> &[Statement] {
        &self.statements
    }

    /// Every account id, ARN and unique id named in `Principal` / `NotPrincipal` `"AWS"` entries.
    /// IAM refuses trust policies naming principals that do not exist; this lets callers check.
    pub fn aws_principals(&self) -> impl Iterator<Item = &str> {
        self.statements
            .iter()
            .filter_map(|s| s.principal.as_ref())
            .flat_map(|p| p.items.aws_values())
    }
}

/// A list element that may be negated (`Action`/`NotAction`, `Resource`/`NotResource`,
/// `Principal`/`NotPrincipal`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Element<T> {
    pub negated: bool,
    pub items: T,
}

/// One pattern of a `Resource` element.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ResourcePattern {
    /// `*`.
    Any,
    /// An ARN pattern. Variables may only appear in the resource part ("You can use a policy
    /// variable in the Resource element, but only in the resource portion of the ARN").
    /// `head` holds the partition, service, region and account patterns; the leading `arn` is
    /// implied, as both the pattern and the request value were checked to start with it.
    Arn {
        head: Box<[Pattern; ARN_SEGMENTS - 2]>,
        tail: Tail,
    },
}

/// The resource part of an ARN pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Tail {
    Static(Pattern),
    Template(Template),
}

/// A request resource, split once.
pub(crate) struct ResourceRef<'a> {
    pub text: &'a str,
    pub parts: Option<[&'a str; ARN_SEGMENTS]>,
}

/// One statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statement {
    pub(crate) sid: Option<String>,
    pub(crate) effect: Effect,
    pub(crate) principal: Option<Element<PrincipalSpec>>,
    pub(crate) actions: Element<Vec<Pattern>>,
    /// `None` only in role trust policies, whose resource is implicit.
    pub(crate) resources: Option<Element<Vec<ResourcePattern>>>,
    pub(crate) conditions: Vec<Condition>,
}

impl Statement {
    /// The `Sid`, if any.
    pub fn sid(&self) -> Option<&str> {
        self.sid.as_deref()
    }

    /// The effect.
    pub fn effect(&self) -> Effect {
        self.effect
    }

    /// Whether the statement has a `Principal` or `NotPrincipal` element.
    pub fn has_principal(&self) -> bool {
        self.principal.is_some()
    }

    /// How this statement names `p`: `Some` if it applies to `p`. A statement without a principal
    /// element (identity policies, SCPs) applies to the principal it is attached to.
    /// `NotPrincipal` applies to everyone it does not exempt, like `*`.
    pub(crate) fn principal_match(&self, p: &PrincipalInfo) -> Option<MatchKind> {
        match &self.principal {
            None => Some(MatchKind::Direct),
            Some(Element {
                negated: false,
                items,
            }) => items.match_kind(p),
            Some(Element {
                negated: true,
                items,
            }) => (!items.exempts(p)).then_some(MatchKind::Direct),
        }
    }

    /// Whether action, resource and conditions match (the principal is checked separately).
    pub(crate) fn applies(&self, ctx: &crate::RequestContext, res: &ResourceRef<'_>) -> Tri {
        if !self.action_matches(ctx.action_lower()) {
            return Tri::False;
        }
        let mut acc = self.resource_matches(ctx, res);
        for c in &self.conditions {
            if acc == Tri::False {
                break;
            }
            acc = acc.and(c.eval(ctx));
        }
        acc
    }

    fn action_matches(&self, action_lower: &str) -> bool {
        let hit = self.actions.items.iter().any(|p| p.matches(action_lower));
        hit != self.actions.negated
    }

    fn resource_matches(&self, ctx: &crate::RequestContext, res: &ResourceRef<'_>) -> Tri {
        let Some(el) = &self.resources else {
            return Tri::True;
        };
        let mut hit = Tri::False;
        for p in &el.items {
            hit = hit.or(p.matches(ctx, res));
            if hit == Tri::True {
                break;
            }
        }
        if el.negated {
            hit.not()
        } else {
            hit
        }
    }
}

impl ResourcePattern {
    fn matches(&self, ctx: &crate::RequestContext, res: &ResourceRef<'_>) -> Tri {
        let (head, tail) = match self {
            ResourcePattern::Any => return Tri::True,
            ResourcePattern::Arn { head, tail } => (head, tail),
        };
        let Some(parts) = &res.parts else {
            return Tri::False;
        };
        if !head
            .iter()
            .zip(parts[1..].iter())
            .all(|(p, s)| p.matches(s))
        {
            return Tri::False;
        }
        match tail {
            Tail::Static(p) => Tri::from_bool(p.matches(parts[ARN_SEGMENTS - 1])),
            Tail::Template(t) => match t.matches(ctx, parts[ARN_SEGMENTS - 1], true) {
                Some(hit) => Tri::from_bool(hit),
                None => Tri::Unknown,
            },
        }
    }
}

impl<'a> ResourceRef<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        ResourceRef {
            text,
            parts: crate::arn::split(text),
        }
    }
}
