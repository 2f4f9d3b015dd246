//! Task definitions: RegisterTaskDefinition, DescribeTaskDefinition, ListTaskDefinitions,
//! ListTaskDefinitionFamilies, DeregisterTaskDefinition.

use ferrogate_api::{Authorization, Authorized, Done, Exec, Operation, Reply, Resource, Scope};
use ferrogate_store::{Direction, ReadTx, TxRef};
use serde::Deserialize;
use serde_json::Value;

use super::common::{creating, max_results, on, token, Ecs};
use crate::cluster as c;
use crate::model::{keys, tables, Family, TaskDefinition};
use crate::taskdef::{self, find, parse_ref};
use crate::views::{Listing, ListingItems, TaskDefinitionAnswer, TaskDefinitionView};
use crate::EcsError;

/// The answer of a write, recorded as its `responseElements`.
fn recorded(out: TaskDefinitionAnswer, arn: String) -> Reply<TaskDefinitionAnswer> {
    let elements = serde_json::to_value(&out).unwrap_or(Value::Null);
    Reply::new(out).elements(elements).resource(RESOURCE, arn)
}

const RESOURCE: &str = "AWS::ECS::TaskDefinition";

/// `RegisterTaskDefinition`.
#[derive(Debug, Clone, Deserialize)]
pub struct RegisterInput {
    #[serde(flatten)]
    input: taskdef::RegisterInput,
    /// The normalised definition, made once at decoding.
    #[serde(skip)]
    body: Value,
}

impl RegisterInput {
    pub(crate) fn validated(mut self) -> Result<Self, EcsError> {
        c::check_tags(&self.input.tags)?;
        self.body = taskdef::normalize(&self.input)?;
        Ok(self)
    }
}

impl Operation for RegisterInput {
    type Output = TaskDefinitionAnswer;

    /// No resource type in the reference (the revision does not exist yet); tags as request
    /// tags, and `ecs:TagResource` with them.
    fn authorize(&self, _: &Scope<'_, Ecs>) -> Result<Authorization, EcsError> {
        Ok(creating::<Self>(
            Resource::Any,
            &self.input.tags,
            Vec::new(),
        ))
    }

    fn execute(this: &Authorized<Self>, x: Exec<'_, Ecs>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let (account, region) = (ctx.principal.account.as_str(), ctx.region);
        let family = &this.input.family;
        let fkey = keys::named(account, region, family);
        let latest = tables::FAMILIES
            .get(tx.read(), &fkey)?
            .map_or(0, |f| f.latest);
        let td = TaskDefinition {
            account: account.to_owned(),
            region: region.to_owned(),
            family: family.clone(),
            revision: latest + 1,
            active: true,
            body: this.body.clone(),
            registered_at: ctx.now,
            registered_by: ctx.principal.arn.clone(),
            deregistered_at: None,
            tags: c::check_tags(&this.input.tags)?,
        };
        let w = tx.write()?;
        tables::FAMILIES.put(
            w,
            &fkey,
            &Family {
                latest: td.revision,
            },
        )?;
        tables::TASK_DEFINITIONS.put(
            w,
            &keys::revision(account, region, family, td.revision),
            &td,
        )?;
        let out = TaskDefinitionAnswer {
            task_definition: TaskDefinitionView::of(&td),
            tags: Some(td.tags.clone()),
        };
        Ok(recorded(out, td.arn()))
    }
}

/// `DescribeTaskDefinition`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeInput {
    task_definition: String,
    #[serde(default)]
    include: Vec<String>,
}

impl DescribeInput {
    pub(crate) fn validated(self) -> Result<Self, EcsError> {
        if let Some(bad) = self.include.iter().find(|i| *i != "TAGS") {
            return Err(EcsError::invalid(format!(
                "Invalid include value '{bad}': must be TAGS."
            )));
        }
        Ok(self)
    }
}

impl Operation for DescribeInput {
    type Output = TaskDefinitionAnswer;

    /// No resource type in the reference.
    fn authorize(&self, _: &Scope<'_, Ecs>) -> Result<Authorization, EcsError> {
        Ok(on::<Self>(Resource::Any, Vec::new()))
    }

    fn execute(this: &Authorized<Self>, x: Exec<'_, Ecs>) -> Done<Self> {
        let Exec { tx, ctx, .. } = x;
        let td = find(
            tx.read(),
            ctx.principal.account.as_str(),
            ctx.region,
            &this.task_definition,
        )?
        .ok_or_else(|| EcsError::client("Unable to describe task definition."))?;
        let out = TaskDefinitionAnswer {
            task_definition: TaskDefinitionView::of(&td),
            tags: (!this.include.is_empty()).then(|| td.tags.clone()),
        };
        Ok(Reply::new(out).resource(RESOURCE, td.arn()))
    }
}

/// `DeregisterTaskDefinition`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeregisterInput {
    task_definition: String,
}

impl DeregisterInput {
    pub(crate) fn validated(self) -> Result<Self, EcsError> {
        Ok(self)
    }
}

impl Operation for DeregisterInput {
    type Output = TaskDefinitionAnswer;

    /// No resource type in the reference.
    fn authorize(&self, _: &Scope<'_, Ecs>) -> Result<Authorization, EcsError> {
        Ok(on::<Self>(Resource::Any, Vec::new()))
    }

    fn execute(this: &Authorized<Self>, x: Exec<'_, Ecs>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let (account, region) = (ctx.principal.account.as_str(), ctx.region);
        match parse_ref(&this.task_definition, account, region) {
            Some((_, Some(_))) => {}
            Some((_, None)) => {
                return Err(EcsError::client(
                    "A revision is required: give the task definition as family:revision or as its full ARN.",
                ))
            }
            None => return Err(EcsError::client("The specified task definition does not exist.")),
        }
        let mut td = find(tx.read(), account, region, &this.task_definition)?
            .ok_or_else(|| EcsError::client("The specified task definition does not exist."))?;
        if td.active {
            td.active = false;
            td.deregistered_at = Some(ctx.now);
            tables::TASK_DEFINITIONS.put(
                tx.write()?,
                &keys::revision(account, region, &td.family, td.revision),
                &td,
            )?;
        }
        let out = TaskDefinitionAnswer {
            task_definition: TaskDefinitionView::of(&td),
            tags: None,
        };
        Ok(recorded(out, td.arn()))
    }
}

/// Every task definition of the partition, in (family, revision) order.
fn all(tx: &dyn ReadTx, account: &str, region: &str) -> Result<Vec<TaskDefinition>, EcsError> {
    let prefix = keys::partition(account, region);
    let mut out = Vec::new();
    let mut cursor: Option<Vec<u8>> = None;
    loop {
        let rows = tables::TASK_DEFINITIONS.scan(
            tx,
            &prefix,
            cursor.as_deref(),
            Direction::Forward,
            1024,
        )?;
        let done = rows.len() < 1024;
        for (k, td) in rows {
            cursor = Some(k);
            out.push(td);
        }
        if done {
            return Ok(out);
        }
    }
}

/// A page of `items` (in ascending order of `key`, or descending when `descending`) that
/// starts after the position `after`. The position is a sort key, not an item: an item that
/// went away between pages (a revision deregistered) does not end the listing.
fn page<T>(
    items: Vec<T>,
    key: impl Fn(&T) -> String,
    after: Option<&str>,
    limit: usize,
    descending: bool,
) -> (Vec<T>, Option<String>) {
    let start = match after {
        Some(a) => items
            .iter()
            .position(|i| {
                let k = key(i);
                if descending {
                    k.as_str() < a
                } else {
                    k.as_str() > a
                }
            })
            .unwrap_or(items.len()),
        None => 0,
    };
    let mut rest: Vec<T> = items.into_iter().skip(start).collect();
    let more = rest.len() > limit;
    rest.truncate(limit);
    let next = if more { rest.last().map(&key) } else { None };
    (rest, next)
}

/// The order of task definitions: by family, then revision (`\u{1}` sorts below every
/// family name character).
fn sort_key(td: &TaskDefinition) -> String {
    format!("{}\u{1}{:020}", td.family, td.revision)
}

/// `ListTaskDefinitions`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListInput {
    #[serde(default)]
    family_prefix: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    sort: Option<String>,
    #[serde(default)]
    next_token: Option<String>,
    #[serde(default)]
    max_results: Option<i64>,
}

impl ListInput {
    pub(crate) fn validated(self) -> Result<Self, EcsError> {
        max_results(self.max_results, 100)?;
        if let Some(s) = &self.status {
            if !matches!(s.as_str(), "ACTIVE" | "INACTIVE" | "DELETE_IN_PROGRESS") {
                return Err(EcsError::invalid(format!(
                    "Invalid status '{s}': must be ACTIVE, INACTIVE or DELETE_IN_PROGRESS."
                )));
            }
        }
        if let Some(s) = &self.sort {
            if !matches!(s.as_str(), "ASC" | "DESC") {
                return Err(EcsError::invalid(format!(
                    "Invalid sort '{s}': must be ASC or DESC."
                )));
            }
        }
        if let Some(t) = &self.next_token {
            token::parse(&self.listing(), t)?;
        }
        Ok(self)
    }

    /// Tokens are bound to the query (prefix, status and order).
    fn listing(&self) -> String {
        format!(
            "taskdefs-{}-{}-{}",
            self.status.as_deref().unwrap_or("ACTIVE"),
            self.sort.as_deref().unwrap_or("ASC"),
            self.family_prefix.as_deref().unwrap_or("")
        )
    }
}

impl Operation for ListInput {
    type Output = Listing;

    /// No resource type in the reference.
    fn authorize(&self, _: &Scope<'_, Ecs>) -> Result<Authorization, EcsError> {
        Ok(on::<Self>(Resource::Any, Vec::new()))
    }

    fn execute(this: &Authorized<Self>, x: Exec<'_, Ecs>) -> Done<Self> {
        let Exec { tx, ctx, .. } = x;
        let limit = max_results(this.max_results, 100)?;
        let want_active = this.status.as_deref().unwrap_or("ACTIVE") == "ACTIVE";
        let deleting = this.status.as_deref() == Some("DELETE_IN_PROGRESS");
        let mut items: Vec<TaskDefinition> =
            all(tx.read(), ctx.principal.account.as_str(), ctx.region)?
                .into_iter()
                .filter(|td| !deleting && td.active == want_active)
                // `familyPrefix` is, despite its name, the full family name (botocore).
                .filter(|td| this.family_prefix.as_deref().is_none_or(|f| td.family == f))
                .collect();
        if this.sort.as_deref() == Some("DESC") {
            items.reverse();
        }
        let after = match &this.next_token {
            Some(t) => Some(token::parse(&this.listing(), t)?),
            None => None,
        };
        let descending = this.sort.as_deref() == Some("DESC");
        let (page, next) = page(items, sort_key, after.as_deref(), limit, descending);
        let next = next.map(|n| token::make(&this.listing(), &n));
        Ok(Reply::new(Listing::new(
            ListingItems::TaskDefinitionArns(page.iter().map(TaskDefinition::arn).collect()),
            next,
        )))
    }
}

/// `ListTaskDefinitionFamilies`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListFamiliesInput {
    #[serde(default)]
    family_prefix: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    next_token: Option<String>,
    #[serde(default)]
    max_results: Option<i64>,
}

impl ListFamiliesInput {
    pub(crate) fn validated(self) -> Result<Self, EcsError> {
        max_results(self.max_results, 100)?;
        if let Some(s) = &self.status {
            if !matches!(s.as_str(), "ACTIVE" | "INACTIVE" | "ALL") {
                return Err(EcsError::invalid(format!(
                    "Invalid status '{s}': must be ACTIVE, INACTIVE or ALL."
                )));
            }
        }
        if let Some(t) = &self.next_token {
            token::parse(&self.listing(), t)?;
        }
        Ok(self)
    }

    fn listing(&self) -> String {
        format!(
            "families-{}-{}",
            self.status.as_deref().unwrap_or("ALL"),
            self.family_prefix.as_deref().unwrap_or("")
        )
    }
}

impl Operation for ListFamiliesInput {
    type Output = Listing;

    /// No resource type in the reference.
    fn authorize(&self, _: &Scope<'_, Ecs>) -> Result<Authorization, EcsError> {
        Ok(on::<Self>(Resource::Any, Vec::new()))
    }

    fn execute(this: &Authorized<Self>, x: Exec<'_, Ecs>) -> Done<Self> {
        let Exec { tx, ctx, .. } = x;
        let limit = max_results(this.max_results, 100)?;
        // Both ACTIVE and INACTIVE families unless asked (botocore).
        let status = this.status.as_deref().unwrap_or("ALL");
        let mut families: Vec<(String, bool)> = Vec::new();
        for td in all(tx.read(), ctx.principal.account.as_str(), ctx.region)? {
            match families.last_mut() {
                Some((f, active)) if *f == td.family => *active |= td.active,
                _ => families.push((td.family.clone(), td.active)),
            }
        }
        let items: Vec<String> = families
            .into_iter()
            .filter(|(_, active)| match status {
                "ACTIVE" => *active,
                "INACTIVE" => !*active,
                _ => true,
            })
            .map(|(f, _)| f)
            .filter(|f| {
                this.family_prefix
                    .as_deref()
                    .is_none_or(|p| f.starts_with(p))
            })
            .collect();
        let after = match &this.next_token {
            Some(t) => Some(token::parse(&this.listing(), t)?),
            None => None,
        };
        let (page, next) = page(items, String::clone, after.as_deref(), limit, false);
        let next = next.map(|n| token::make(&this.listing(), &n));
        Ok(Reply::new(Listing::new(ListingItems::Families(page), next)))
    }
}

/// The task definition an ARN names, for tagging.
pub(crate) fn by_arn(
    tx: &dyn ReadTx,
    account: &str,
    region: &str,
    arn: &str,
) -> Result<Option<TaskDefinition>, EcsError> {
    match parse_ref(arn, account, region) {
        Some((_, Some(_))) if arn.starts_with("arn:") => find(tx, account, region, arn),
        _ => Ok(None),
    }
}

/// Saves a changed task definition (tags).
pub(crate) fn save(tx: &mut TxRef<'_>, td: &TaskDefinition) -> Result<(), EcsError> {
    tables::TASK_DEFINITIONS.put(
        tx.write()?,
        &keys::revision(&td.account, &td.region, &td.family, td.revision),
        td,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_resume_after_a_position_even_when_its_item_is_gone() {
        let items = vec!["a", "c", "d", "f"];
        let k = |s: &&str| (*s).to_owned();
        let (p, next) = page(items.clone(), k, None, 2, false);
        assert_eq!((p, next.as_deref()), (vec!["a", "c"], Some("c")));
        // "c" went away: resume after its position.
        let (p, next) = page(vec!["a", "d", "f"], k, Some("c"), 2, false);
        assert_eq!((p, next), (vec!["d", "f"], None));
        let (p, _) = page(vec!["f", "d", "a"], k, Some("e"), 5, true);
        assert_eq!(p, vec!["d", "a"]);
    }

    #[test]
    fn revisions_have_one_spelling() {
        let (a, r) = ("111122223333", "us-east-1");
        assert_eq!(parse_ref("web:1", a, r), Some(("web".into(), Some(1))));
        assert_eq!(parse_ref("web:01", a, r), None);
        assert_eq!(parse_ref("web:0", a, r), None);
        assert_eq!(parse_ref("web", a, r), Some(("web".into(), None)));
        assert_eq!(
            parse_ref(
                "arn:aws:ecs:us-east-1:111122223333:task-definition/web:2",
                a,
                r
            ),
            Some(("web".into(), Some(2)))
        );
        assert_eq!(
            parse_ref(
                "arn:aws:ecs:us-east-1:444455556666:task-definition/web:2",
                a,
                r
            ),
            None
        );
        let td = |f: &str, rev| {
            sort_key(&TaskDefinition {
                account: a.into(),
                region: r.into(),
                family: f.into(),
                revision: rev,
                active: true,
                body: serde_json::Value::Null,
                registered_at: ferrogate_types::Timestamp::from_millis(0),
                registered_by: String::new(),
                deregistered_at: None,
                tags: Vec::new(),
            })
        };
        assert!(td("web", 2) < td("web", 10));
        assert!(td("web", 10) < td("web-canary", 1));
    }
}
