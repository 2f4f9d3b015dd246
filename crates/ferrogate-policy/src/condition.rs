//! Evaluation of the `Condition` element.
//!
//! Semantics (IAM User Guide, *Condition* and *Condition operators*, *Multivalued context keys*):
//! - all operators in a block, and all keys under one operator, must hold (AND); the values listed
//!   for one key are alternatives (OR), and for a negated operator the negation of that OR (NOR);
//! - a missing key makes a condition false, except for negated operators (true), `…IfExists`
//!   (true), `ForAllValues:` (true) and `ForAnyValue:` (false); `Null` tests presence itself;
//! - `ForAnyValue:` holds if any request value matches, `ForAllValues:` if every one does.
//!
//! Three-valued logic keeps the engine from failing open. A comparison is [`Tri::Unknown`] when a
//! policy variable cannot be resolved ("If AWS cannot resolve a variable, this might cause the
//! entire statement to be invalid"), when a request value cannot be read as the operator's type
//! (an `IpAddress` test of `not-an-ip`), or when a multivalued key meets an operator without a set
//! qualifier ("Multivalued context keys require a condition set operator"). The statement layer
//! then refuses to let an unknown condition *grant* access and lets it *deny* access.

use crate::arn::ArnPattern;
use crate::base64;
use crate::context::{KeyName, RequestContext};
use crate::date::Timestamp;
use crate::ip::{self, Cidr};
use crate::numeric::Decimal;
use crate::operator::{Family, Operator};
use crate::variables::Template;
use crate::wildcard::Pattern;

/// Kleene three-valued truth.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tri {
    /// Definitely false.
    False,
    /// Could not be decided.
    Unknown,
    /// Definitely true.
    True,
}

impl Tri {
    /// `true`/`false` as a [`Tri`].
    pub fn from_bool(b: bool) -> Self {
        if b {
            Tri::True
        } else {
            Tri::False
        }
    }

    /// Kleene negation.
    #[must_use]
    pub fn not(self) -> Self {
        match self {
            Tri::False => Tri::True,
            Tri::Unknown => Tri::Unknown,
            Tri::True => Tri::False,
        }
    }

    /// Kleene conjunction: false wins, then unknown.
    #[must_use]
    pub fn and(self, other: Self) -> Self {
        self.min(other)
    }

    /// Kleene disjunction: true wins, then unknown.
    #[must_use]
    pub fn or(self, other: Self) -> Self {
        self.max(other)
    }

    fn rank(self) -> u8 {
        match self {
            Tri::False => 0,
            Tri::Unknown => 1,
            Tri::True => 2,
        }
    }

    fn min(self, o: Self) -> Self {
        if self.rank() <= o.rank() {
            self
        } else {
            o
        }
    }

    fn max(self, o: Self) -> Self {
        if self.rank() >= o.rank() {
            self
        } else {
            o
        }
    }
}

/// `ForAllValues:` / `ForAnyValue:` or none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetOp {
    /// No qualifier: the key must be single-valued.
    None,
    /// Every request value must match.
    ForAllValues,
    /// At least one request value must match.
    ForAnyValue,
}

/// A string or ARN value, compiled for its operator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TextValue {
    /// Compared exactly.
    Exact(String),
    /// Already lowercased; compared with the lowercased request value.
    Folded(String),
    /// A `StringLike` pattern.
    Like(Pattern),
    /// An `Arn*` pattern.
    Arn(ArnPattern),
    /// Contains policy variables; compiled per request.
    Template(Template),
}

/// A `Bool` value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BoolValue {
    /// `true` or `false`.
    Static(bool),
    /// Contains policy variables.
    Template(Template),
}

/// The values listed for one key, parsed for the operator's family.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Values {
    /// String and ARN operators.
    Text(Vec<TextValue>),
    /// `Numeric*`.
    Numbers(Vec<Decimal>),
    /// `Date*`.
    Dates(Vec<Timestamp>),
    /// `Bool`.
    Bools(Vec<BoolValue>),
    /// `BinaryEquals`, decoded.
    Binary(Vec<Vec<u8>>),
    /// `IpAddress` / `NotIpAddress`.
    Ips(Vec<Cidr>),
    /// `Null`: `true` means "the key is absent".
    Null(Vec<bool>),
}

/// One `operator: { key: values }` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Condition {
    /// The operator.
    pub op: Operator,
    /// Its set qualifier.
    pub set: SetOp,
    /// Whether it carries `IfExists`.
    pub if_exists: bool,
    /// The context key, lowercased.
    pub key: KeyName,
    /// The policy values.
    pub values: Values,
}

impl Condition {
    /// Evaluates the condition against the request.
    pub fn eval(&self, ctx: &RequestContext) -> Tri {
        let request = ctx.get_key(&self.key);
        // `Null` and the set operators see a lone empty string as an empty data set.
        let empty = request.is_none_or(|v| matches!(v, [only] if only.is_empty()));
        if let Values::Null(flags) = &self.values {
            return Tri::from_bool(flags.contains(&empty));
        }
        let request = match (request, self.set) {
            (Some(_), SetOp::ForAllValues | SetOp::ForAnyValue) if empty => None,
            (r, _) => r,
        };
        let Some(request) = request else {
            return self.when_absent();
        };
        match self.set {
            SetOp::None => match request {
                [one] => self.eval_value(one, ctx),
                _ => Tri::Unknown,
            },
            SetOp::ForAnyValue => request
                .iter()
                .fold(Tri::False, |acc, v| acc.or(self.eval_value(v, ctx))),
            SetOp::ForAllValues => request
                .iter()
                .fold(Tri::True, |acc, v| acc.and(self.eval_value(v, ctx))),
        }
    }

    fn when_absent(&self) -> Tri {
        if self.if_exists {
            return Tri::True;
        }
        match self.set {
            SetOp::ForAllValues => Tri::True,
            SetOp::ForAnyValue => Tri::False,
            SetOp::None => Tri::from_bool(self.op.is_negated()),
        }
    }

    /// One request value against all policy values: OR, negated for the negated operators.
    fn eval_value(&self, v: &str, ctx: &RequestContext) -> Tri {
        let positive = match &self.values {
            Values::Text(vals) => any(vals, |pv| text_matches(self.op.family(), pv, v, ctx)),
            Values::Numbers(vals) => match Decimal::parse(v) {
                Some(req) => any(vals, |pv| {
                    Tri::from_bool(self.op.relation().holds(req.cmp(pv)))
                }),
                None => Tri::Unknown,
            },
            Values::Dates(vals) => match Timestamp::parse(v) {
                Some(req) => any(vals, |pv| {
                    Tri::from_bool(self.op.relation().holds(req.cmp(pv)))
                }),
                None => Tri::Unknown,
            },
            Values::Bools(vals) => match parse_bool(v) {
                Some(req) => any(vals, |pv| bool_matches(pv, req, ctx)),
                None => Tri::Unknown,
            },
            Values::Binary(vals) => match base64::decode(v) {
                Some(req) => any(vals, |pv| Tri::from_bool(*pv == req)),
                None => Tri::Unknown,
            },
            Values::Ips(vals) => match ip::parse_addr(v) {
                Some(req) => any(vals, |pv: &Cidr| Tri::from_bool(pv.contains(req))),
                None => Tri::Unknown,
            },
            Values::Null(_) => Tri::Unknown,
        };
        if self.op.is_negated() {
            positive.not()
        } else {
            positive
        }
    }
}

/// Kleene OR over the policy values, stopping at the first definite match.
fn any<T>(vals: &[T], mut f: impl FnMut(&T) -> Tri) -> Tri {
    let mut acc = Tri::False;
    for pv in vals {
        acc = acc.or(f(pv));
        if acc == Tri::True {
            break;
        }
    }
    acc
}

/// `true`/`false`, case-insensitively.
pub fn parse_bool(v: &str) -> Option<bool> {
    if v.eq_ignore_ascii_case("true") {
        Some(true)
    } else if v.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

fn bool_matches(pv: &BoolValue, req: bool, ctx: &RequestContext) -> Tri {
    match pv {
        BoolValue::Static(b) => Tri::from_bool(*b == req),
        BoolValue::Template(t) => match t.resolve_string(ctx).as_deref().and_then(parse_bool) {
            Some(b) => Tri::from_bool(b == req),
            None => Tri::Unknown,
        },
    }
}

/// The positive (non-negated) comparison of one policy value with one request value.
fn text_matches(family: Family, pv: &TextValue, v: &str, ctx: &RequestContext) -> Tri {
    let hit = match pv {
        TextValue::Exact(s) => crate::wildcard::fast_eq(s, v),
        TextValue::Folded(s) => *s == v.to_lowercase(),
        TextValue::Like(p) => p.matches(v),
        TextValue::Arn(p) => p.matches(v),
        TextValue::Template(t) => return template_matches(family, t, v, ctx),
    };
    Tri::from_bool(hit)
}

fn template_matches(family: Family, t: &Template, v: &str, ctx: &RequestContext) -> Tri {
    let hit = match family {
        Family::StringLike => t.matches(ctx, v, true),
        Family::StringIgnoreCase => t
            .resolve_string(ctx)
            .map(|s| s.to_lowercase() == v.to_lowercase()),
        // A resolved value that is not an ARN leaves the comparison undecided.
        Family::Arn => match t.resolve_marked(ctx) {
            Some(marked) => ArnPattern::from_marked(&marked).map(|p| p.matches(v)),
            None => None,
        },
        _ => t.matches(ctx, v, false),
    };
    hit.map_or(Tri::Unknown, Tri::from_bool)
}
