//! What every ECS operation shares: the service's state, how operations name their actions,
//! resources and condition keys, the ACTIVE cluster a request names, paging.

use std::sync::Arc;

use ferrogate_api::{Authorization, Check, Registered, RequestTags, Resource};
use ferrogate_store::ReadTx;

use crate::cluster::{self as c, TagIn};
use crate::model::{keys, tables, Cluster, ClusterStatus};
use crate::EcsError;

/// State shared by all ECS operations.
pub struct Ecs {
    pub(crate) kms: Arc<ferrogate_kms::Kms>,
    /// Woken once a RunTask or StopTask is durable, so the launcher acts at once.
    work: tokio::sync::Notify,
}

impl std::fmt::Debug for Ecs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ecs").finish_non_exhaustive()
    }
}

impl Ecs {
    /// The service, checking cluster keys with calls to `kms`.
    pub fn new(kms: Arc<ferrogate_kms::Kms>) -> Arc<Self> {
        Arc::new(Self {
            kms,
            work: tokio::sync::Notify::new(),
        })
    }

    /// Resolves when tasks were queued for launch or stop since the last call (the
    /// launcher also polls, so a missed wake-up only delays).
    pub async fn work_queued(&self) {
        self.work.notified().await;
    }

    /// Wakes the launcher.
    pub(crate) fn wake(&self) {
        self.work.notify_one();
    }
}

ferrogate_api::service! {
    Ecs { error: EcsError, id: Ecs, tag_prefixes: ["ecs"], changes_authorization: false, record_resources: false, denied: EcsError::AccessDeniedException }
}

/// `ecs:<Operation>` of `O`.
pub(crate) fn action<O: Registered>() -> String {
    format!("ecs:{}", O::NAME)
}

/// The tags a request sets, as condition keys.
pub(crate) fn request_tags(tags: &[TagIn]) -> RequestTags {
    RequestTags::Set(
        tags.iter()
            .filter_map(|t| Some((t.key.clone()?, t.value.clone().unwrap_or_default())))
            .collect(),
    )
}

/// An existing resource with its tags.
pub(crate) fn existing(arn: String, tags: &[crate::model::Tag]) -> Resource {
    Resource::Existing {
        arn,
        tags: tags
            .iter()
            .map(|t| (t.key.clone(), t.value.clone()))
            .collect(),
    }
}

/// `O`'s own check and, when the request tags what it creates, `ecs:TagResource` on it with
/// `ecs:CreateAction` (ECS Developer Guide, "Grant permission to tag resources on
/// creation").
pub(crate) fn creating<O: Registered>(
    resource: Resource,
    tags: &[TagIn],
    keys: Vec<(String, Vec<String>)>,
) -> Authorization {
    let create = Check::new(action::<O>(), resource.clone(), request_tags(tags)).keys(keys.clone());
    let auth = Authorization::of(create);
    if tags.is_empty() {
        return auth;
    }
    auth.and(
        Check::new("ecs:TagResource", resource, request_tags(tags))
            .keys(keys)
            .key("ecs:CreateAction", vec![O::NAME.to_owned()]),
    )
}

/// `O`'s action on each of `resources` (Describe* of many), with the same keys.
pub(crate) fn on_each<O: Registered>(
    resources: Vec<Resource>,
    keys: &[(String, Vec<String>)],
) -> Authorization {
    let mut checks = resources
        .into_iter()
        .map(|r| Check::new(action::<O>(), r, RequestTags::None).keys(keys.to_vec()));
    let first = checks.next().unwrap_or_else(|| {
        Check::new(action::<O>(), Resource::Any, RequestTags::None).keys(keys.to_vec())
    });
    Authorization::all(first, checks)
}

/// `O`'s action on one resource.
pub(crate) fn on<O: Registered>(
    resource: Resource,
    keys: Vec<(String, Vec<String>)>,
) -> Authorization {
    Authorization::of(Check::new(action::<O>(), resource, RequestTags::None).keys(keys))
}

/// `ecs:cluster` of a request about a cluster's contents.
pub(crate) fn cluster_key(arn: String) -> Vec<(String, Vec<String>)> {
    vec![("ecs:cluster".to_owned(), vec![arn])]
}

/// The cluster named `name`, in any status.
pub(crate) fn load(
    tx: &dyn ReadTx,
    account: &str,
    region: &str,
    name: &str,
) -> Result<Option<Cluster>, EcsError> {
    Ok(tables::CLUSTERS.get(tx, &keys::named(account, region, name))?)
}

/// The ACTIVE cluster `reference` names in the caller's partition.
pub(crate) fn active(
    tx: &dyn ReadTx,
    account: &str,
    region: &str,
    reference: &str,
) -> Result<Cluster, EcsError> {
    let name = c::resolve(reference, account, region).ok_or(EcsError::ClusterNotFoundException)?;
    match load(tx, account, region, &name)? {
        Some(cl) if cl.status == ClusterStatus::Active => Ok(cl),
        _ => Err(EcsError::ClusterNotFoundException),
    }
}

/// `maxResults` checked against `1..=max`, defaulting to `max`.
pub(crate) fn max_results(v: Option<i64>, max: i64) -> Result<usize, EcsError> {
    match v {
        None => Ok(usize::try_from(max).unwrap_or(100)),
        Some(n) if (1..=max).contains(&n) => Ok(usize::try_from(n).unwrap_or(100)),
        Some(_) => Err(EcsError::invalid(format!(
            "maxResults must be between 1 and {max}."
        ))),
    }
}

/// Opaque pagination tokens: the hex of the last item's sort key, with a prefix naming
/// the listing, so a token from one listing is refused by another.
pub(crate) mod token {
    use crate::EcsError;

    /// A token for `listing` that resumes after `last`.
    pub(crate) fn make(listing: &str, last: &str) -> String {
        let mut s = String::with_capacity(listing.len() + 1 + last.len() * 2);
        s.push_str(listing);
        s.push('.');
        for b in last.bytes() {
            s.push_str(&format!("{b:02x}"));
        }
        s
    }

    /// The position a token of `listing` resumes after.
    pub(crate) fn parse(listing: &str, token: &str) -> Result<String, EcsError> {
        let bad = || EcsError::invalid("Invalid nextToken.");
        let hex = token
            .strip_prefix(listing)
            .and_then(|r| r.strip_prefix('.'))
            .ok_or_else(bad)?;
        if hex.len() % 2 != 0 {
            return Err(bad());
        }
        let bytes = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(hex.get(i..i + 2).ok_or_else(bad)?, 16).map_err(|_| bad()))
            .collect::<Result<Vec<u8>, _>>()?;
        String::from_utf8(bytes).map_err(|_| bad())
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn round_trip_and_refusals() {
            let t = make("clusters", "prod-1");
            assert_eq!(parse("clusters", &t).unwrap(), "prod-1");
            assert!(parse("families", &t).is_err());
            assert!(parse("clusters", "clusters.zz").is_err());
            assert!(parse("clusters", "clusters.abc").is_err());
            assert!(parse("clusters", "garbage").is_err());
        }
    }
}
