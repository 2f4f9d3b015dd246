//! The `Condition` element: `{ "Operator": { "key": value-or-values } }`.

use crate::arn::ArnPattern;
use crate::base64;
use crate::condition::{parse_bool, BoolValue, Condition, SetOp, TextValue, Values};
use crate::context::KeyName;
use crate::date::Timestamp;
use crate::error::PolicyError;
use crate::ip::Cidr;
use crate::json::Json;
use crate::model::Version;
use crate::numeric::Decimal;
use crate::operator::{Family, Operator};
use crate::variables::Template;
use crate::wildcard::Pattern;

/// Parses a whole `Condition` element (absent means no conditions).
pub(super) fn parse(v: Option<&Json>, version: Version) -> Result<Vec<Condition>, PolicyError> {
    let blocks = match v {
        None => return Ok(Vec::new()),
        Some(Json::Object(blocks)) => blocks,
        Some(other) => {
            return Err(PolicyError::syntax(format!(
                "`Condition` is a {}",
                other.type_name()
            )))
        }
    };
    let mut out = Vec::new();
    for (name, block) in blocks {
        let (op, set, if_exists) =
            parse_operator(name).ok_or_else(|| PolicyError::UnknownConditionOperator {
                operator: name.clone(),
            })?;
        let Json::Object(entries) = block else {
            return Err(PolicyError::syntax(format!(
                "the `{name}` block is a {}",
                block.type_name()
            )));
        };
        for (key, value) in entries {
            if !key.contains(':') {
                return Err(PolicyError::MissingVendor { value: key.clone() });
            }
            let raw = scalars(value, name, key)?;
            let values = parse_values(op, name, key, &raw, version)?;
            out.push(Condition {
                op,
                set,
                if_exists,
                key: KeyName::new(key),
                values,
            });
        }
    }
    Ok(out)
}

/// Splits `ForAllValues:` / `ForAnyValue:` and `IfExists` off an operator name. `Null` takes
/// neither: "You can add IfExists to the end of any condition operator name except the Null
/// condition" (IAM User Guide, *Condition operators*); a set qualifier on `Null` is meaningless and
/// refused as well.
fn parse_operator(name: &str) -> Option<(Operator, SetOp, bool)> {
    let (set, rest) = if let Some(r) = name.strip_prefix("ForAllValues:") {
        (SetOp::ForAllValues, r)
    } else if let Some(r) = name.strip_prefix("ForAnyValue:") {
        (SetOp::ForAnyValue, r)
    } else {
        (SetOp::None, name)
    };
    let (base, if_exists) = match rest.strip_suffix("IfExists") {
        Some(base) => (base, true),
        None => (rest, false),
    };
    let op = Operator::from_name(base)?;
    if op == Operator::Null && (if_exists || set != SetOp::None) {
        return None;
    }
    Some((op, set, if_exists))
}

/// A condition value: a string, number or boolean, or a non-empty list of them. Numbers and
/// booleans are read as their JSON text (`10`, `true`), as IAM reads them.
fn scalars(v: &Json, op: &str, key: &str) -> Result<Vec<String>, PolicyError> {
    let one = |j: &Json| match j {
        Json::String(s) => Ok(s.clone()),
        Json::Number(n) => Ok(n.to_string()),
        Json::Bool(b) => Ok(b.to_string()),
        other => Err(PolicyError::syntax(format!(
            "`{op}` value for `{key}` is a {}",
            other.type_name()
        ))),
    };
    match v {
        Json::Array(items) if items.is_empty() => Err(PolicyError::syntax(format!(
            "`{op}` has an empty value list for `{key}`"
        ))),
        Json::Array(items) => items.iter().map(one).collect(),
        other => Ok(vec![one(other)?]),
    }
}

fn parse_values(
    op: Operator,
    name: &str,
    key: &str,
    raw: &[String],
    version: Version,
) -> Result<Values, PolicyError> {
    let bad = |value: &str| PolicyError::InvalidConditionValue {
        operator: name.to_string(),
        key: key.to_string(),
        value: value.to_string(),
    };
    let template = |s: &str| match version {
        Version::V2012_10_17 if op.takes_variables() => Template::parse(s),
        _ => None,
    };
    let each = |f: &dyn Fn(&str) -> Option<TextValue>| -> Result<Vec<TextValue>, PolicyError> {
        raw.iter()
            .map(|s| {
                template(s)
                    .map(TextValue::Template)
                    .or_else(|| f(s))
                    .ok_or_else(|| bad(s))
            })
            .collect()
    };
    Ok(match op.family() {
        Family::String => Values::Text(each(&|s| Some(TextValue::Exact(s.to_string())))?),
        Family::StringIgnoreCase => {
            Values::Text(each(&|s| Some(TextValue::Folded(s.to_lowercase())))?)
        }
        Family::StringLike => Values::Text(each(&|s| Some(TextValue::Like(Pattern::wild(s))))?),
        Family::Arn => Values::Text(each(&|s| ArnPattern::wild(s).map(TextValue::Arn))?),
        Family::Numeric => Values::Numbers(typed(raw, Decimal::parse, bad)?),
        Family::Date => Values::Dates(typed(raw, Timestamp::parse, |v| {
            PolicyError::LegacyParsing {
                detail: format!("invalid date {v:?} for `{name}` on `{key}`"),
            }
        })?),
        Family::Binary => Values::Binary(typed(raw, base64::decode, bad)?),
        Family::Ip => Values::Ips(typed(raw, Cidr::parse, bad)?),
        Family::Null => Values::Null(typed(raw, parse_bool, bad)?),
        Family::Bool => Values::Bools(
            raw.iter()
                .map(|s| match template(s) {
                    Some(t) => Ok(BoolValue::Template(t)),
                    None => parse_bool(s).map(BoolValue::Static).ok_or_else(|| bad(s)),
                })
                .collect::<Result<_, _>>()?,
        ),
    })
}

fn typed<T>(
    raw: &[String],
    parse: impl Fn(&str) -> Option<T>,
    bad: impl Fn(&str) -> PolicyError,
) -> Result<Vec<T>, PolicyError> {
    raw.iter().map(|s| parse(s).ok_or_else(|| bad(s))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operator_names() {
        assert_eq!(
            parse_operator("StringEquals"),
            Some((Operator::StringEquals, SetOp::None, false))
        );
        assert_eq!(
            parse_operator("StringLikeIfExists"),
            Some((Operator::StringLike, SetOp::None, true))
        );
        assert_eq!(
            parse_operator("ForAllValues:StringEquals"),
            Some((Operator::StringEquals, SetOp::ForAllValues, false))
        );
        assert_eq!(
            parse_operator("ForAnyValue:ArnNotLikeIfExists"),
            Some((Operator::ArnNotLike, SetOp::ForAnyValue, true))
        );
        for bad in [
            "NullIfExists",
            "ForAnyValue:Null",
            "StringEqual",
            "IfExists",
            "ForAllValues:",
            "stringEquals",
        ] {
            assert_eq!(parse_operator(bad), None, "{bad}");
        }
    }
}
