//! The request context: who asks, for what action, on which resources, with which condition keys.
//!
//! AWS gathers "Actions, Resources, Principal, Environment data, Resource data" into a request
//! context before evaluating policies (IAM User Guide, *Policy evaluation logic*, "Processing the
//! request context"). Here the caller builds it: the principal's global keys are derived once in
//! [`RequestContext::new`], and each service declares its own keys in one line:
//!
//! ```
//! use ferrogate_policy::{PrincipalInfo, RequestContext};
//! let ctx = RequestContext::new(PrincipalInfo::root("111122223333"), "ecs:CreateCluster")
//!     .with_resource("arn:aws:ecs:us-east-1:111122223333:cluster/prod")
//!     .with("ecs:fargate-ephemeral-storage-kms-key", "arn:aws:kms:us-east-1:111122223333:key/k");
//! assert_eq!(ctx.get("ECS:Fargate-Ephemeral-Storage-KMS-Key").unwrap().len(), 1);
//! ```
//!
//! Key names are case-insensitive ("Key names are case-insensitive. For example, aws:CurrentTime
//! is equivalent to AWS:currenttime", IAM User Guide, *Policy variables*); that includes the tag-key
//! part of `aws:PrincipalTag/…`, `aws:RequestTag/…` and `aws:ResourceTag/…`. Values stay
//! case-sensitive; only the `…IgnoreCase` operators fold them. Every value is a string: the
//! operator decides how to read it (number, date, IP address, base64, boolean, ARN).

use std::net::IpAddr;

use crate::date::format_iso8601;
use crate::principal::{PrincipalInfo, PrincipalKind};

/// FxHash (the hasher rustc uses) of a key name: a multiply and a rotate per word.
fn fx_hash(bytes: &[u8]) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut h = 0u64;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
    }
    for &b in chunks.remainder() {
        h = (h.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
    }
    h
}

/// A condition-key name, lowercased, with its hash computed once. Policies store their keys in
/// this form at parse time, so a lookup during evaluation is a binary search over hashes and one
/// string comparison: the key lookups are the largest part of a decision otherwise.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyName {
    hash: u64,
    lower: Box<str>,
}

impl KeyName {
    /// Lowercases and hashes `name`.
    pub fn new(name: &str) -> Self {
        let lower = name.to_lowercase();
        KeyName {
            hash: fx_hash(lower.as_bytes()),
            lower: lower.into_boxed_str(),
        }
    }
}

/// One condition key and its values.
#[derive(Clone, Debug)]
struct Entry {
    hash: u64,
    key: Box<str>,
    values: Vec<String>,
}

/// One request, as the policy engine sees it.
#[derive(Clone, Debug)]
pub struct RequestContext {
    principal: PrincipalInfo,
    action: String,
    action_lower: String,
    resources: Vec<String>,
    keys: Vec<Entry>,
    slots: Vec<u32>,
}

impl RequestContext {
    /// A context for `principal` calling `action` (`service:Operation`), with the principal's
    /// global condition keys already set: `aws:PrincipalArn`, `aws:PrincipalAccount`,
    /// `aws:PrincipalType`, `aws:userid`, `aws:username` (IAM users only), `aws:PrincipalTag/*`,
    /// `aws:PrincipalOrgID`, `aws:PrincipalIsAWSService` and `aws:PrincipalServiceName`.
    pub fn new(principal: PrincipalInfo, action: impl Into<String>) -> Self {
        let action = action.into();
        let mut ctx = RequestContext {
            action_lower: action.to_lowercase(),
            action,
            principal,
            resources: Vec::new(),
            keys: Vec::new(),
            slots: Vec::new(),
        };
        ctx.derive_principal_keys();
        ctx
    }

    fn derive_principal_keys(&mut self) {
        let p = self.principal.clone();
        let is_service = p.kind == PrincipalKind::Service;
        self.set(
            "aws:PrincipalIsAWSService",
            if is_service { "true" } else { "false" },
        );
        if is_service {
            self.set("aws:PrincipalServiceName", p.arn.as_str());
            return;
        }
        if let Some(t) = p.kind.principal_type() {
            self.set("aws:PrincipalType", t);
        }
        if p.kind == PrincipalKind::Anonymous {
            return;
        }
        self.set("aws:PrincipalArn", p.principal_arn.as_str());
        self.set("aws:PrincipalAccount", p.account.as_str());
        self.set("aws:userid", p.userid.as_str());
        if let (PrincipalKind::IamUser, Some(name)) = (p.kind, p.username.as_deref()) {
            self.set("aws:username", name);
        }
        if let Some(org) = p.org_id.as_deref() {
            self.set("aws:PrincipalOrgID", org);
        }
        for (k, v) in &p.tags {
            self.set(&format!("aws:PrincipalTag/{k}"), v.as_str());
        }
    }

    /// Adds a resource ARN the action touches. A request with no resource is evaluated against
    /// the single resource `*`, which only `"Resource": "*"`-style patterns match.
    pub fn with_resource(mut self, arn: impl Into<String>) -> Self {
        self.resources.push(arn.into());
        self
    }

    /// Sets a single-valued condition key (replacing any previous value). This is the one-line
    /// declaration services use, e.g. `ctx.with("kms:CallerAccount", "111122223333")`.
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Self {
        self.set(key, value);
        self
    }

    /// Sets a multivalued condition key such as `aws:TagKeys` or `kms:GrantOperations`.
    pub fn with_values<I, S>(mut self, key: &str, values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.insert(
            KeyName::new(key),
            values.into_iter().map(Into::into).collect(),
        );
        self
    }

    /// Sets a single-valued key in place.
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        self.insert(KeyName::new(key), vec![value.into()]);
    }

    fn insert(&mut self, key: KeyName, values: Vec<String>) {
        if let Some(i) = self.find(&key) {
            self.keys[i].values = values;
            return;
        }
        self.keys.push(Entry {
            hash: key.hash,
            key: key.lower,
            values,
        });
        if self.keys.len() * 2 > self.slots.len() {
            self.rebuild_index();
        } else {
            self.place(self.keys.len() - 1);
        }
    }

    /// Open addressing with linear probing over `slots` (entry index + 1; 0 is empty), kept at
    /// most half full.
    fn rebuild_index(&mut self) {
        let size = (self.keys.len() * 4).next_power_of_two().max(16);
        self.slots = vec![0; size];
        for i in 0..self.keys.len() {
            self.place(i);
        }
    }

    fn home(&self, hash: u64) -> usize {
        // The low 32 bits fit any usize this code runs on.
        usize::try_from(hash & u64::from(u32::MAX)).unwrap_or(0) & (self.slots.len() - 1)
    }

    fn place(&mut self, entry: usize) {
        let mask = self.slots.len() - 1;
        let mut i = self.home(self.keys[entry].hash);
        while self.slots[i] != 0 {
            i = (i + 1) & mask;
        }
        self.slots[i] = u32::try_from(entry + 1).unwrap_or(u32::MAX);
    }

    fn find(&self, key: &KeyName) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut i = self.home(key.hash);
        loop {
            let slot = usize::try_from(self.slots[i]).ok()?;
            let e = self.keys.get(slot.checked_sub(1)?)?;
            if e.hash == key.hash && crate::wildcard::fast_eq(&e.key, &key.lower) {
                return Some(slot - 1);
            }
            i = (i + 1) & mask;
        }
    }

    /// Sets `<prefix><k>` for each pair and the multivalued `<keys_key>` listing every `k`:
    /// `aws:RequestTag/` + `aws:TagKeys` for tags in a request, or `kms:EncryptionContext:` +
    /// `kms:EncryptionContextKeys` for an encryption context.
    pub fn with_map<'a, I>(mut self, prefix: &str, keys_key: &str, pairs: I) -> Self
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let mut names = Vec::new();
        for (k, v) in pairs {
            self.set(&format!("{prefix}{k}"), v);
            names.push(k.to_string());
        }
        self.with_values(keys_key, names)
    }

    /// Sets `aws:ResourceTag/<k>` for each tag of the resource.
    pub fn with_resource_tags<'a, I>(mut self, tags: I) -> Self
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        for (k, v) in tags {
            self.set(&format!("aws:ResourceTag/{k}"), v);
        }
        self
    }

    /// Sets `aws:CurrentTime` (ISO 8601, UTC) and `aws:EpochTime` from epoch seconds.
    pub fn with_time(self, epoch_secs: i64) -> Self {
        self.with("aws:CurrentTime", format_iso8601(epoch_secs))
            .with("aws:EpochTime", epoch_secs.to_string())
    }

    /// Sets `aws:SourceIp`.
    pub fn with_source_ip(self, ip: IpAddr) -> Self {
        self.with("aws:SourceIp", ip.to_string())
    }

    /// Sets `aws:SecureTransport`.
    pub fn with_secure_transport(self, secure: bool) -> Self {
        self.with("aws:SecureTransport", if secure { "true" } else { "false" })
    }

    /// Sets `aws:RequestedRegion`.
    pub fn with_region(self, region: &str) -> Self {
        self.with("aws:RequestedRegion", region)
    }

    /// The values of a key, or `None` if the key is absent (or was set to an empty list).
    ///
    /// An empty string is a value: `StringLike` on `s3:prefix` with `""` matches an empty prefix,
    /// as the IAM User Guide's home-directory example relies on. Only `Null` and the set operators
    /// treat a lone empty string as "no value" ("If the key values in the request resolve to an
    /// empty data set (for example, an empty string)…", IAM User Guide, *Multivalued context keys*).
    pub fn get(&self, key: &str) -> Option<&[String]> {
        self.get_key(&KeyName::new(key))
    }

    /// [`Self::get`] for a name prepared by the parser.
    pub(crate) fn get_key(&self, key: &KeyName) -> Option<&[String]> {
        let values = &self.keys[self.find(key)?].values;
        (!values.is_empty()).then_some(values.as_slice())
    }

    /// The calling principal.
    pub fn principal(&self) -> &PrincipalInfo {
        &self.principal
    }

    /// The action as given (`service:Operation`).
    pub fn action(&self) -> &str {
        &self.action
    }

    /// The action, lowercased for case-insensitive matching.
    pub(crate) fn action_lower(&self) -> &str {
        &self.action_lower
    }

    /// The resources the action touches.
    pub fn resources(&self) -> &[String] {
        &self.resources
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_case_insensitive_values_are_not() {
        let ctx = RequestContext::new(PrincipalInfo::root("111122223333"), "S3:GetObject")
            .with("s3:Prefix", "Home/");
        assert_eq!(ctx.get("S3:PREFIX").unwrap(), ["Home/"]);
        assert_eq!(ctx.action_lower(), "s3:getobject");
        let mut many = ctx.clone();
        for i in 0..200 {
            many.set(&format!("svc:K{i}"), i.to_string());
        }
        for i in 0..200 {
            assert_eq!(many.get(&format!("SVC:k{i}")).unwrap(), [i.to_string()]);
        }
        many.set("svc:k7", "again");
        assert_eq!(many.get("svc:k7").unwrap(), ["again"]);
        assert_eq!(ctx.action(), "S3:GetObject");
    }

    #[test]
    fn empty_lists_are_absent_empty_strings_are_values() {
        let ctx = RequestContext::new(PrincipalInfo::root("111122223333"), "s3:GetObject")
            .with("k", "")
            .with_values("m", Vec::<String>::new());
        assert_eq!(ctx.get("k").unwrap(), [""]);
        assert!(ctx.get("m").is_none());
    }

    #[test]
    fn principal_keys_are_derived() {
        let user =
            PrincipalInfo::iam_user("arn:aws:iam::111122223333:user/dev/alice", "AIDAEXAMPLE")
                .with_tag("Team", "blue")
                .with_org("o-abc");
        let ctx = RequestContext::new(user, "iam:GetUser");
        assert_eq!(ctx.get("aws:username").unwrap(), ["alice"]);
        assert_eq!(ctx.get("aws:PrincipalType").unwrap(), ["User"]);
        assert_eq!(ctx.get("aws:principaltag/team").unwrap(), ["blue"]);
        assert_eq!(ctx.get("aws:PrincipalOrgID").unwrap(), ["o-abc"]);
        assert_eq!(ctx.get("aws:PrincipalIsAWSService").unwrap(), ["false"]);

        let svc = RequestContext::new(
            PrincipalInfo::service("fargate.amazonaws.com"),
            "kms:CreateGrant",
        );
        assert_eq!(
            svc.get("aws:PrincipalServiceName").unwrap(),
            ["fargate.amazonaws.com"]
        );
        assert!(svc.get("aws:PrincipalArn").is_none());
    }

    #[test]
    fn maps_and_time() {
        let ctx = RequestContext::new(PrincipalInfo::root("111122223333"), "kms:Decrypt")
            .with_map(
                "kms:EncryptionContext:",
                "kms:EncryptionContextKeys",
                [("aws:ecs:clusterName", "prod")],
            )
            .with_time(1_704_067_200);
        assert_eq!(
            ctx.get("kms:EncryptionContext:aws:ecs:clusterName")
                .unwrap(),
            ["prod"]
        );
        assert_eq!(
            ctx.get("kms:EncryptionContextKeys").unwrap(),
            ["aws:ecs:clusterName"]
        );
        assert_eq!(
            ctx.get("aws:CurrentTime").unwrap(),
            ["2024-01-01T00:00:00Z"]
        );
        assert_eq!(ctx.get("aws:EpochTime").unwrap(), ["1704067200"]);
    }
}
