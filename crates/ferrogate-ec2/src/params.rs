//! Reading EC2 request parameters: scalars, booleans, integers, `Filter.N`, tags and
//! `TagSpecification.N`, `MaxResults`/`NextToken`.

use ferrogate_api::RequestTags;
use ferrogate_wire::ec2::Ec2Params;
use serde::Serialize;

use crate::model::Tag;
use crate::Ec2Error;

/// Tags one resource may carry (EC2 quota).
pub const MAX_TAGS: usize = 50;

/// A required scalar.
pub fn required<'a>(p: &Ec2Params<'a>, name: &str) -> Result<&'a str, Ec2Error> {
    match p.get(name) {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(Ec2Error::MissingParameter(name.to_owned())),
    }
}

/// An optional boolean (`true`/`false`).
pub fn flag(p: &Ec2Params<'_>, name: &str) -> Result<Option<bool>, Ec2Error> {
    match p.get(name) {
        None => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(other) => Err(Ec2Error::invalid(format!(
            "Invalid value '{other}' for {name}"
        ))),
    }
}

/// `DryRun`.
pub fn dry_run(p: &Ec2Params<'_>) -> Result<bool, Ec2Error> {
    Ok(flag(p, "DryRun")?.unwrap_or(false))
}

/// An optional integer.
pub fn int(p: &Ec2Params<'_>, name: &str) -> Result<Option<i64>, Ec2Error> {
    p.get(name)
        .map(|v| {
            v.parse::<i64>()
                .map_err(|_| Ec2Error::invalid(format!("Invalid value '{v}' for {name}")))
        })
        .transpose()
}

/// One `Filter.N`: a name and its values (any of which may match).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Filter {
    /// The filter's name (`vpc-id`, `tag:Name`).
    pub name: String,
    /// Its values, which may hold `*` and `?` wildcards.
    pub values: Vec<String>,
}

/// Every `Filter.N` of the request.
pub fn filters(p: &Ec2Params<'_>) -> Result<Vec<Filter>, Ec2Error> {
    p.structs("Filter")
        .into_iter()
        .map(|f| {
            let name = required(p, &format!("{f}.Name"))?.to_owned();
            let values = p
                .list(&format!("{f}.Value"))
                .into_iter()
                .map(str::to_owned)
                .collect();
            Ok(Filter { name, values })
        })
        .collect()
}

/// A list of ids (`VpcId.N`): each present once.
pub fn ids(p: &Ec2Params<'_>, name: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for v in p.list(name) {
        if !out.iter().any(|o| o == v) {
            out.push(v.to_owned());
        }
    }
    out
}

/// Whether `text` matches `pattern`, where `*` is any run and `?` any one character
/// (EC2 filter values).
pub fn wildcard(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// What a resource answers to a filter: the values of the field it names, or `None` for a
/// name the resource does not know (refused: a filter Ferrogate ignored would widen the
/// answer).
pub trait Filterable {
    /// The values of `name`.
    fn field(&self, name: &str) -> Option<Vec<String>>;
    /// Its tags (for `tag:<key>`, `tag-key`, `tag-value`).
    fn tags(&self) -> &[Tag];
}

/// Whether `r` passes every filter (each filter: any of its values equals any of the field's
/// values).
pub fn passes<R: Filterable>(r: &R, filters: &[Filter]) -> Result<bool, Ec2Error> {
    for f in filters {
        let have: Vec<String> = if let Some(key) = f.name.strip_prefix("tag:") {
            r.tags()
                .iter()
                .filter(|t| t.key == key)
                .map(|t| t.value.clone())
                .collect()
        } else if f.name == "tag-key" {
            r.tags().iter().map(|t| t.key.clone()).collect()
        } else if f.name == "tag-value" {
            r.tags().iter().map(|t| t.value.clone()).collect()
        } else {
            r.field(&f.name)
                .ok_or_else(|| Ec2Error::invalid(format!("The filter '{}' is invalid", f.name)))?
        };
        if !f.values.iter().any(|v| have.iter().any(|h| wildcard(v, h))) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Checks filter names against a resource kind before anything is read, so that an
/// unknown filter is refused even when there is nothing to filter.
pub fn check_names<R: Filterable>(probe: &R, filters: &[Filter]) -> Result<(), Ec2Error> {
    let _ = passes(probe, filters)?;
    Ok(())
}

/// `Tag.N.Key`/`Tag.N.Value` under `prefix` (`Tag`, `TagSpecification.1.Tag`), validated.
pub fn tags(p: &Ec2Params<'_>, prefix: &str) -> Result<Vec<Tag>, Ec2Error> {
    let tags: Vec<Tag> = p
        .structs(prefix)
        .into_iter()
        .map(|t| Tag {
            key: p.get(&format!("{t}.Key")).unwrap_or_default().to_owned(),
            value: p.get(&format!("{t}.Value")).unwrap_or_default().to_owned(),
        })
        .collect();
    for t in &tags {
        check_tag(t)?;
    }
    if tags.len() > MAX_TAGS {
        return Err(Ec2Error::TagLimitExceeded);
    }
    Ok(tags)
}

/// A tag's key and value within EC2's limits; `aws:` keys are AWS's own.
pub fn check_tag(t: &Tag) -> Result<(), Ec2Error> {
    if t.key.is_empty() {
        return Err(Ec2Error::invalid("Tag key cannot be empty"));
    }
    if t.key.chars().count() > 127 {
        return Err(Ec2Error::invalid(format!(
            "Tag key exceeds the maximum length of 127 characters: {}",
            t.key
        )));
    }
    if t.value.chars().count() > 255 {
        return Err(Ec2Error::invalid(format!(
            "Tag value exceeds the maximum length of 255 characters: {}",
            t.value
        )));
    }
    if t.key.to_ascii_lowercase().starts_with("aws:") {
        return Err(Ec2Error::invalid(
            "Tag keys starting with 'aws:' are reserved for internal use",
        ));
    }
    Ok(())
}

/// The tags of `TagSpecification.N` for a resource of `kind` (`vpc`, `subnet`, …); a
/// specification for another resource type is refused.
pub fn tag_specifications(p: &Ec2Params<'_>, kind: &str) -> Result<Vec<Tag>, Ec2Error> {
    let mut out: Vec<Tag> = Vec::new();
    for s in p.structs("TagSpecification") {
        let rt = p.get(&format!("{s}.ResourceType")).unwrap_or_default();
        if rt != kind {
            return Err(Ec2Error::invalid(format!(
                "'{rt}' is not a valid taggable resource type for this operation."
            )));
        }
        for t in tags(p, &format!("{s}.Tag"))? {
            // The last value of a key given twice wins, as in CreateTags.
            out.retain(|o| o.key != t.key);
            out.push(t);
        }
    }
    if out.len() > MAX_TAGS {
        return Err(Ec2Error::TagLimitExceeded);
    }
    Ok(out)
}

/// Tags as request condition keys.
pub fn request_tags(tags: &[Tag]) -> RequestTags {
    if tags.is_empty() {
        RequestTags::None
    } else {
        RequestTags::Set(
            tags.iter()
                .map(|t| (t.key.clone(), t.value.clone()))
                .collect(),
        )
    }
}

/// Tags as resource condition keys.
pub fn pairs(tags: &[Tag]) -> Vec<(String, String)> {
    tags.iter()
        .map(|t| (t.key.clone(), t.value.clone()))
        .collect()
}

/// `MaxResults` and `NextToken` of a paginated Describe call.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Page {
    /// At most this many results (5 to 1000), or all.
    pub max: Option<usize>,
    /// Resume after this id.
    pub after: Option<String>,
}

/// Reads `MaxResults` (within `min..=1000`) and `NextToken`.
pub fn page(p: &Ec2Params<'_>, min: i64) -> Result<Page, Ec2Error> {
    let max = match int(p, "MaxResults")? {
        None => None,
        Some(n) if (min..=1000).contains(&n) => usize::try_from(n).ok(),
        Some(n) => {
            return Err(Ec2Error::invalid(format!(
                "Value ( {n} ) for parameter maxResults is invalid. Expecting a value between {min} and 1000."
            )))
        }
    };
    let after = p.get("NextToken").map(str::to_owned);
    Ok(Page { max, after })
}

impl Page {
    /// Cuts `items` (sorted by `id`) to the page; the token of the next page.
    pub fn apply<T>(
        &self,
        mut items: Vec<T>,
        id: impl Fn(&T) -> &str,
    ) -> Result<(Vec<T>, Option<String>), Ec2Error> {
        if let Some(after) = &self.after {
            if after.is_empty() {
                return Err(Ec2Error::InvalidPaginationToken(after.clone()));
            }
            items.retain(|i| id(i) > after.as_str());
        }
        match self.max {
            Some(m) if items.len() > m => {
                items.truncate(m);
                let next = items.last().map(|i| id(i).to_owned());
                Ok((items, next))
            }
            _ => Ok((items, None)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrogate_wire::query::QueryParams;

    #[test]
    fn wildcards() {
        assert!(wildcard("vpc-*", "vpc-123"));
        assert!(wildcard("a?c", "abc"));
        assert!(!wildcard("a?c", "abbc"));
        assert!(wildcard("*", ""));
        assert!(!wildcard("abc", "abcd"));
        assert!(wildcard("*b*d", "abcd"));
    }

    #[test]
    fn tag_specifications_name_their_resource_type() {
        let q = QueryParams::parse(&[
            b"TagSpecification.1.ResourceType=vpc&TagSpecification.1.Tag.1.Key=Name&TagSpecification.1.Tag.1.Value=a",
        ]);
        let p = Ec2Params::new(&q);
        let t = tag_specifications(&p, "vpc").unwrap();
        assert_eq!(
            t,
            vec![Tag {
                key: "Name".into(),
                value: "a".into()
            }]
        );
        let e = tag_specifications(&p, "subnet").unwrap_err();
        assert_eq!(
            e.to_string(),
            "'vpc' is not a valid taggable resource type for this operation."
        );
        let q = QueryParams::parse(&[b"Tag.1.Key=aws:x&Tag.1.Value=a"]);
        assert!(tags(&Ec2Params::new(&q), "Tag").is_err());
    }

    #[test]
    fn pages_resume_after_the_token() {
        let p = Page {
            max: Some(2),
            after: None,
        };
        let (items, next) = p.apply(vec!["a", "b", "c"], |s| s).unwrap();
        assert_eq!((items, next.as_deref()), (vec!["a", "b"], Some("b")));
        let p = Page {
            max: Some(2),
            after: Some("b".into()),
        };
        let (items, next) = p.apply(vec!["a", "b", "c"], |s| s).unwrap();
        assert_eq!((items, next), (vec!["c"], None));
    }
}
