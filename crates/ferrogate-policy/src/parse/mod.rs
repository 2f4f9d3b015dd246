//! JSON policy document → [`Policy`].
//!
//! The grammar is the IAM User Guide's *Grammar of the IAM JSON policy language*: a top-level
//! object with `Version`, `Id` and `Statement`; a statement has `Sid`, `Effect`,
//! `Principal`/`NotPrincipal`, `Action`/`NotAction`, `Resource`/`NotResource` and `Condition`.
//! Element names are case-sensitive and unknown members are refused, as IAM refuses them
//! ("Syntax errors in policy."). Errors carry IAM's `MalformedPolicyDocument` wording (see
//! [`PolicyError`]).

mod condition;
mod statement;

use std::collections::HashSet;

use crate::error::PolicyError;
use crate::json::Json;
use crate::model::{Policy, PolicyKind, Version};

impl Policy {
    /// Parses and validates `json` as a document of the given kind.
    ///
    /// ```
    /// use ferrogate_policy::{Policy, PolicyError, PolicyKind};
    /// let p = Policy::parse(
    ///     r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ecs:List*","Resource":"*"}}"#,
    ///     PolicyKind::Identity,
    /// ).unwrap();
    /// assert_eq!(p.statements().len(), 1);
    /// let err = Policy::parse(r#"{"Statement":{"Effect":"Allow","Resource":"*"}}"#, PolicyKind::Identity);
    /// assert_eq!(err.unwrap_err(), PolicyError::MissingAction);
    /// ```
    pub fn parse(json: &str, kind: PolicyKind) -> Result<Policy, PolicyError> {
        let doc = Json::parse(json).map_err(|detail| PolicyError::InvalidJson {
            trust: kind == PolicyKind::RoleTrust,
            detail,
        })?;
        let Json::Object(members) = doc else {
            return Err(PolicyError::syntax("the document is not a JSON object"));
        };
        let (mut version, mut id, mut statement) = (None, None, None);
        for (name, value) in &members {
            match name.as_str() {
                "Version" => version = Some(value),
                "Id" => id = Some(value),
                "Statement" => statement = Some(value),
                other => {
                    return Err(PolicyError::syntax(format!(
                        "unknown member `{other}` in the policy"
                    )))
                }
            }
        }
        let version = parse_version(version)?;
        let id = match id {
            None => None,
            Some(Json::String(s)) => Some(s.clone()),
            Some(other) => {
                return Err(PolicyError::syntax(format!(
                    "`Id` is a {}",
                    other.type_name()
                )))
            }
        };
        let statements = statement_list(statement)?
            .iter()
            .enumerate()
            .map(|(i, s)| statement::parse(s, i, version, kind))
            .collect::<Result<Vec<_>, _>>()?;
        check_sids(&statements)?;
        Ok(Policy {
            version,
            id,
            kind,
            statements,
        })
    }
}

/// An absent `Version` is the 2008 language: "If you do not include a Version element, the value
/// defaults to 2008-10-17" (IAM User Guide, *Version*).
fn parse_version(v: Option<&Json>) -> Result<Version, PolicyError> {
    match v {
        None => Ok(Version::V2008_10_17),
        Some(Json::String(s)) if s == "2012-10-17" => Ok(Version::V2012_10_17),
        Some(Json::String(s)) if s == "2008-10-17" => Ok(Version::V2008_10_17),
        Some(other) => Err(PolicyError::syntax(format!(
            "unsupported Version {other:?}"
        ))),
    }
}

fn statement_list(v: Option<&Json>) -> Result<&[Json], PolicyError> {
    match v {
        None => Err(PolicyError::syntax("the policy has no `Statement`")),
        Some(Json::Object(_)) => Ok(std::slice::from_ref(v.unwrap_or(&Json::Null))),
        Some(Json::Array(items)) if items.is_empty() => {
            Err(PolicyError::syntax("`Statement` is empty"))
        }
        Some(Json::Array(items)) => Ok(items),
        Some(other) => Err(PolicyError::syntax(format!(
            "`Statement` is a {}",
            other.type_name()
        ))),
    }
}

fn check_sids(statements: &[crate::model::Statement]) -> Result<(), PolicyError> {
    let mut seen = HashSet::new();
    for sid in statements
        .iter()
        .filter_map(|s| s.sid())
        .filter(|s| !s.is_empty())
    {
        if !seen.insert(sid) {
            return Err(PolicyError::DuplicateSid {
                sid: sid.to_string(),
            });
        }
    }
    Ok(())
}

/// A string or a list of strings; anything else is a syntax error naming `what`.
pub(crate) fn string_list<'a>(v: &'a Json, what: &str) -> Result<Vec<&'a str>, PolicyError> {
    let bad = |t: &str| {
        PolicyError::syntax(format!(
            "`{what}` must be a string or a list of strings, got {t}"
        ))
    };
    match v {
        Json::String(s) => Ok(vec![s.as_str()]),
        Json::Array(items) => items
            .iter()
            .map(|i| match i {
                Json::String(s) => Ok(s.as_str()),
                other => Err(bad(other.type_name())),
            })
            .collect(),
        other => Err(bad(other.type_name())),
    }
}
