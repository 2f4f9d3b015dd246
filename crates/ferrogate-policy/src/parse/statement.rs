//! One statement: `Sid`, `Effect`, `Principal`, `Action`, `Resource`, `Condition`.

use super::{condition, string_list};
use crate::arn::{self, ARN_SEGMENTS};
use crate::error::PolicyError;
use crate::json::Json;
use crate::model::{Effect, Element, PolicyKind, ResourcePattern, Statement, Tail, Version};
use crate::principal::PrincipalSpec;
use crate::variables::Template;
use crate::wildcard::Pattern;

/// The members of a statement object, before interpretation.
#[derive(Default)]
struct Members<'a> {
    sid: Option<&'a Json>,
    effect: Option<&'a Json>,
    principal: Option<&'a Json>,
    not_principal: Option<&'a Json>,
    action: Option<&'a Json>,
    not_action: Option<&'a Json>,
    resource: Option<&'a Json>,
    not_resource: Option<&'a Json>,
    condition: Option<&'a Json>,
}

fn members(v: &Json, index: usize) -> Result<Members<'_>, PolicyError> {
    let Json::Object(items) = v else {
        return Err(PolicyError::syntax(format!(
            "statement {index} is a {}, not an object",
            v.type_name()
        )));
    };
    let mut m = Members::default();
    for (name, value) in items {
        let slot = match name.as_str() {
            "Sid" => &mut m.sid,
            "Effect" => &mut m.effect,
            "Principal" => &mut m.principal,
            "NotPrincipal" => &mut m.not_principal,
            "Action" => &mut m.action,
            "NotAction" => &mut m.not_action,
            "Resource" => &mut m.resource,
            "NotResource" => &mut m.not_resource,
            "Condition" => &mut m.condition,
            other => {
                return Err(PolicyError::syntax(format!(
                    "unknown member `{other}` in statement {index}"
                )))
            }
        };
        *slot = Some(value);
    }
    Ok(m)
}

/// Parses statement number `index` of a document of `kind`.
pub(super) fn parse(
    v: &Json,
    index: usize,
    version: Version,
    kind: PolicyKind,
) -> Result<Statement, PolicyError> {
    let m = members(v, index)?;
    Ok(Statement {
        sid: parse_sid(m.sid, kind)?,
        effect: parse_effect(m.effect)?,
        principal: parse_principal(m.principal, m.not_principal, kind)?,
        actions: parse_actions(m.action, m.not_action)?,
        resources: parse_resources(m.resource, m.not_resource, kind, version)?,
        conditions: condition::parse(m.condition, version)?,
    })
}

/// IAM checks Sids of identity and trust policies against `[0-9A-Za-z]*`; resource policies of
/// other services (KMS key policies, for one) accept any string, such as the Fargate key policy's
/// "Allow generate data key access for Fargate tasks.".
fn parse_sid(v: Option<&Json>, kind: PolicyKind) -> Result<Option<String>, PolicyError> {
    let sid = match v {
        None => return Ok(None),
        Some(Json::String(s)) => s.clone(),
        Some(other) => {
            return Err(PolicyError::syntax(format!(
                "`Sid` is a {}",
                other.type_name()
            )))
        }
    };
    let strict = matches!(kind, PolicyKind::Identity | PolicyKind::RoleTrust);
    if strict && !sid.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(PolicyError::InvalidSid { sid });
    }
    Ok(Some(sid))
}

fn parse_effect(v: Option<&Json>) -> Result<Effect, PolicyError> {
    match v {
        None => Err(PolicyError::MissingField { field: "Effect" }),
        Some(Json::String(s)) if s == "Allow" => Ok(Effect::Allow),
        Some(Json::String(s)) if s == "Deny" => Ok(Effect::Deny),
        // IAM's first pass accepts any case, its "legacy" pass only the exact words.
        Some(Json::String(s))
            if s.eq_ignore_ascii_case("allow") || s.eq_ignore_ascii_case("deny") =>
        {
            Err(PolicyError::LegacyParsing {
                detail: format!("`Effect` must be spelled Allow or Deny, got {s:?}"),
            })
        }
        Some(other) => Err(PolicyError::syntax(format!(
            "`Effect` must be \"Allow\" or \"Deny\", got {other:?}"
        ))),
    }
}

fn parse_principal(
    principal: Option<&Json>,
    not_principal: Option<&Json>,
    kind: PolicyKind,
) -> Result<Option<Element<PrincipalSpec>>, PolicyError> {
    let (value, negated) = match (principal, not_principal) {
        (None, None) if matches!(kind, PolicyKind::Resource | PolicyKind::RoleTrust) => {
            return Err(PolicyError::MissingField { field: "Principal" })
        }
        (None, None) => return Ok(None),
        _ if matches!(kind, PolicyKind::Identity | PolicyKind::ServiceControl) => {
            return Err(PolicyError::PrincipalNotAllowed)
        }
        (Some(_), Some(_)) => {
            return Err(PolicyError::syntax("both `Principal` and `NotPrincipal`"))
        }
        (Some(p), None) => (p, false),
        (None, Some(p)) => (p, true),
    };
    Ok(Some(Element {
        negated,
        items: principal_spec(value)?,
    }))
}

fn principal_spec(v: &Json) -> Result<PrincipalSpec, PolicyError> {
    let members = match v {
        Json::String(s) if s == "*" => return Ok(PrincipalSpec::any()),
        Json::Object(m) if !m.is_empty() => m,
        other => {
            return Err(PolicyError::syntax(format!(
                "`Principal` must be \"*\" or an object, got {other:?}"
            )))
        }
    };
    let mut spec = PrincipalSpec::default();
    for (kind, values) in members {
        let list = string_list(values, "Principal")?;
        if list.is_empty() {
            return Err(PolicyError::syntax(format!(
                "empty `{kind}` principal list"
            )));
        }
        for value in list {
            spec.add(kind, value)
                .map_err(|_| PolicyError::InvalidPrincipal {
                    kind: kind.clone(),
                    value: value.to_string(),
                })?;
        }
    }
    Ok(spec)
}

fn parse_actions(
    action: Option<&Json>,
    not_action: Option<&Json>,
) -> Result<Element<Vec<Pattern>>, PolicyError> {
    let (value, negated) = match (action, not_action) {
        (Some(_), Some(_)) => return Err(PolicyError::syntax("both `Action` and `NotAction`")),
        (None, None) => return Err(PolicyError::MissingAction),
        (Some(v), None) => (v, false),
        (None, Some(v)) => (v, true),
    };
    let list = string_list(value, if negated { "NotAction" } else { "Action" })?;
    if list.is_empty() {
        return Err(PolicyError::MissingAction);
    }
    let items = list
        .into_iter()
        .map(|a| check_action(a).map(|()| Pattern::wild(&a.to_lowercase())))
        .collect::<Result<_, _>>()?;
    Ok(Element { negated, items })
}

/// `*`, or `vendor:operation` where the vendor has letters, digits, `-` and `.` (or is `*`).
fn check_action(action: &str) -> Result<(), PolicyError> {
    if action == "*" {
        return Ok(());
    }
    let mut parts = action.split(':');
    let vendor = parts.next().unwrap_or_default();
    match (parts.next(), parts.next()) {
        (None, _) => {
            return Err(PolicyError::MissingVendor {
                value: action.to_string(),
            })
        }
        (Some(_), Some(_)) => {
            return Err(PolicyError::TooManyColons {
                action: action.to_string(),
            })
        }
        (Some(_), None) => {}
    }
    if vendor.is_empty() {
        return Err(PolicyError::MissingVendor {
            value: action.to_string(),
        });
    }
    let valid = vendor == "*"
        || vendor
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    if !valid {
        return Err(PolicyError::InvalidVendor {
            vendor: vendor.to_string(),
        });
    }
    Ok(())
}

fn parse_resources(
    resource: Option<&Json>,
    not_resource: Option<&Json>,
    kind: PolicyKind,
    version: Version,
) -> Result<Option<Element<Vec<ResourcePattern>>>, PolicyError> {
    if kind == PolicyKind::RoleTrust {
        return match (resource, not_resource) {
            (None, None) => Ok(None),
            (Some(_), _) => Err(PolicyError::ProhibitedField { field: "Resource" }),
            (None, Some(_)) => Err(PolicyError::ProhibitedField {
                field: "NotResource",
            }),
        };
    }
    let (value, negated) = match (resource, not_resource) {
        (Some(_), Some(_)) => return Err(PolicyError::syntax("both `Resource` and `NotResource`")),
        (None, None) => return Err(PolicyError::MissingResource),
        (Some(v), None) => (v, false),
        (None, Some(v)) => (v, true),
    };
    let list = string_list(value, if negated { "NotResource" } else { "Resource" })?;
    if list.is_empty() {
        return Err(PolicyError::MissingResource);
    }
    let items = list
        .into_iter()
        .map(|r| resource_pattern(r, version))
        .collect::<Result<_, _>>()?;
    Ok(Some(Element { negated, items }))
}

/// Variables are substituted only in the resource part: "You can't use a variable to replace parts
/// of the ARN before the fifth colon" (IAM User Guide, *Policy variables*). `${…}` earlier in the
/// ARN is therefore literal text.
fn resource_pattern(r: &str, version: Version) -> Result<ResourcePattern, PolicyError> {
    if r == "*" {
        return Ok(ResourcePattern::Any);
    }
    let Some(parts) = arn::split_pattern(r) else {
        return Err(PolicyError::InvalidResource {
            resource: r.to_string(),
        });
    };
    let head: [Pattern; ARN_SEGMENTS - 2] = std::array::from_fn(|i| Pattern::wild(parts[i + 1]));
    let last = parts[ARN_SEGMENTS - 1];
    let tail = match (version, Template::parse(last)) {
        (Version::V2012_10_17, Some(t)) => Tail::Template(t),
        _ => Tail::Static(Pattern::wild(last)),
    };
    Ok(ResourcePattern::Arn {
        head: Box::new(head),
        tail,
    })
}
