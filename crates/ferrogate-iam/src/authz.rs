//! Authorization: the only way to obtain an [`Authorized`] request.
//!
//! Handlers of every service take `Authorized<Op>`, whose constructor is private to this
//! module, so a handler cannot run on a request that was not authorized: authorization is
//! mandatory by type, not by configuration (see the s3s trap in shared/STYLE.md). There is
//! no switch that turns it off.
//!
//! Decisions are made by `ferrogate_policy::evaluate` over everything that applies to the
//! caller (shared/spec/aws-behaviour.md §5): the organization's service control policies
//! for member accounts, the caller's identity policies (user inline and managed policies and
//! those of its groups, or the role's for a role session), the session policy, and, where the
//! request names one, the resource's own policy (a role's trust policy for `sts:AssumeRole`;
//! KMS key policies arrive with KMS). Parsed policies are cached per principal and dropped
//! after every committed IAM or Organizations change ([`Authorizer::invalidate`]).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use ferrogate_policy::{
    evaluate, EvaluationInput, NamedPolicy, Policy, PolicyKind, PrincipalInfo, RequestContext,
    ResourcePolicyKind,
};
use ferrogate_store::{Direction, ReadTx};
use ferrogate_types::{Principal, PrincipalKind, Timestamp};

use crate::model::{keys, tables, EntityKind};
use crate::org;

/// What a request asks to do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Action {
    /// `service:Operation`, e.g. `iam:CreateUser`.
    pub action: String,
    /// The resource ARN (or `*`).
    pub resource: String,
    /// For `sts:AssumeRole`: the role (account, name) whose trust policy must allow.
    pub trust_of: Option<(String, String)>,
}

impl Action {
    /// An action on a resource.
    pub fn new(action: impl Into<String>, resource: impl Into<String>) -> Self {
        Self {
            action: action.into(),
            resource: resource.into(),
            trust_of: None,
        }
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

/// The resource's own policy, for services whose resources carry one (KMS key policies).
#[derive(Clone, Copy)]
pub struct ResourceAccess<'a> {
    /// The name the policy is reported by (the key ARN, …).
    pub name: &'a str,
    /// The parsed policy.
    pub policy: &'a Policy,
    /// How it takes part: `KeyPolicy` makes it mandatory.
    pub kind: ResourcePolicyKind,
    /// The account that owns the resource (decides same- or cross-account evaluation).
    pub account: &'a str,
    /// A grant that allows the request, already matched by the service (KMS grants).
    pub grant: Option<&'a str>,
}

/// A refusal, with AWS's message naming principal, action, resource and reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    /// `User: … is not authorized to perform: … on resource: … because …`.
    pub message: String,
}

/// A request that passed authorization.
#[derive(Debug)]
pub struct Authorized<T> {
    op: T,
    principal: Principal,
}

impl<T> Authorized<T> {
    /// The operation.
    pub fn op(&self) -> &T {
        &self.op
    }
    /// Who is acting.
    pub fn principal(&self) -> &Principal {
        &self.principal
    }
    /// The operation, to finish preparing it (authorization already holds for it: this
    /// cannot change what it is, only compute what it needs).
    pub fn op_mut(&mut self) -> &mut T {
        &mut self.op
    }
    /// Splits into parts.
    pub fn into_parts(self) -> (T, Principal) {
        (self.op, self.principal)
    }
}

type Named = Vec<(String, Policy)>;

/// More policies or groups than this on one principal (far beyond IAM's quotas) make the
/// decision refuse rather than read a truncated set.
const LIMIT: usize = 1000;

/// Everything about a principal that does not change between requests.
struct PrincipalSet {
    identity: Named,
    session: Option<Named>,
    tags: Vec<(String, String)>,
    /// A stored policy that no longer parses: refuse everything rather than ignore it (it
    /// might have held a `Deny`).
    broken: bool,
}

/// The organization view of an account.
struct AccountSet {
    org_id: Option<String>,
    /// SCPs by level, root first; `None` outside an organization or for its management account.
    scps: Option<Vec<Named>>,
    broken: bool,
}

#[derive(Default)]
struct Cache {
    generation: u64,
    principals: HashMap<String, Arc<PrincipalSet>>,
    accounts: HashMap<String, Arc<AccountSet>>,
}

/// A cache generation, read before a decision's snapshot (see [`Authorizer::epoch`]).
#[derive(Clone, Copy, Debug)]
pub struct Epoch(u64);

/// Decides requests.
#[derive(Clone, Default)]
pub struct Authorizer {
    generation: Arc<AtomicU64>,
    cache: Arc<Mutex<Cache>>,
}

impl std::fmt::Debug for Authorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authorizer").finish_non_exhaustive()
    }
}

/// Entries beyond this many are dropped wholesale.
const MAX_CACHED: usize = 10_000;

impl Authorizer {
    /// An authorizer with an empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets every cached policy. Call after any committed IAM or Organizations change,
    /// before its response is sent.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// The cache generation a decision may use. Take it *before* opening the snapshot the
    /// decision reads: an invalidation that lands between the two then makes the decision's
    /// loads uncacheable, instead of caching what an old snapshot said under the new
    /// generation.
    pub fn epoch(&self) -> Epoch {
        Epoch(self.generation.load(Ordering::SeqCst))
    }

    /// Authorizes `principal` to perform `what` with the service's own condition keys
    /// (`keys`: name → values), yielding the op wrapped as authorized. `epoch` comes from
    /// [`Authorizer::epoch`], taken before `tx` was opened.
    #[allow(clippy::too_many_arguments)]
    pub fn authorize<T>(
        &self,
        epoch: Epoch,
        tx: &dyn ReadTx,
        principal: &Principal,
        facts: &Facts,
        what: &Action,
        keys: &[(String, Vec<String>)],
        op: T,
    ) -> Result<Authorized<T>, Denied> {
        // "No permissions are required to perform this operation": AWS never denies it.
        if what.action.eq_ignore_ascii_case("sts:GetCallerIdentity") {
            return Ok(Authorized {
                op,
                principal: principal.clone(),
            });
        }
        self.decide(epoch, tx, principal, facts, what, keys, None)?;
        Ok(Authorized {
            op,
            principal: principal.clone(),
        })
    }

    /// As [`Authorizer::authorize`], for a resource with its own policy (and possibly a
    /// matching grant): a KMS key and its key policy.
    #[allow(clippy::too_many_arguments)]
    pub fn authorize_resource<T>(
        &self,
        epoch: Epoch,
        tx: &dyn ReadTx,
        principal: &Principal,
        facts: &Facts,
        what: &Action,
        keys: &[(String, Vec<String>)],
        resource: ResourceAccess<'_>,
        op: T,
    ) -> Result<Authorized<T>, Denied> {
        self.decide(epoch, tx, principal, facts, what, keys, Some(resource))?;
        Ok(Authorized {
            op,
            principal: principal.clone(),
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn decide(
        &self,
        Epoch(generation): Epoch,
        tx: &dyn ReadTx,
        principal: &Principal,
        facts: &Facts,
        what: &Action,
        keys: &[(String, Vec<String>)],
        resource: Option<ResourceAccess<'_>>,
    ) -> Result<(), Denied> {
        let account = self.account_set(tx, principal.account.as_str(), generation)?;
        let set = self.principal_set(tx, principal, generation)?;
        if set.broken || account.broken {
            return Err(Denied {
                message: generic_denial(principal, what),
            });
        }
        let mut info = principal_info(principal);
        for (k, v) in &set.tags {
            info = info.with_tag(k, v);
        }
        if let Some(o) = &account.org_id {
            info = info.with_org(o);
        }
        let mut ctx = RequestContext::new(info, what.action.as_str())
            .with_time(facts.now.secs())
            .with_source_ip(facts.source_ip)
            .with_secure_transport(facts.secure_transport)
            .with_region(&facts.region);
        if let PrincipalKind::AssumedRole { session, .. } = &principal.kind {
            // Lets the documented "revoke active sessions" policy (Deny when
            // aws:TokenIssueTime is before a date) work.
            ctx = ctx.with("aws:TokenIssueTime", session.creation_date.iso8601());
        }
        if what.resource != "*" {
            ctx = ctx.with_resource(what.resource.as_str());
        }
        for (k, vs) in keys {
            ctx = ctx.with_values(k, vs.iter().map(String::as_str));
        }
        let trust = match &what.trust_of {
            Some((acct, role)) => Some(load_trust(tx, acct, role).map_err(|()| Denied {
                message: generic_denial(principal, what),
            })?),
            None => None,
        };
        let identity: Vec<NamedPolicy<'_>> = set
            .identity
            .iter()
            .map(|(n, p)| NamedPolicy::new(n, p))
            .collect();
        let session: Option<Vec<NamedPolicy<'_>>> = set
            .session
            .as_ref()
            .map(|s| s.iter().map(|(n, p)| NamedPolicy::new(n, p)).collect());
        let scps: Option<Vec<Vec<NamedPolicy<'_>>>> = account.scps.as_ref().map(|levels| {
            levels
                .iter()
                .map(|l| l.iter().map(|(n, p)| NamedPolicy::new(n, p)).collect())
                .collect()
        });
        let mut input = EvaluationInput::new(&ctx).with_identity(&identity);
        if let Some(s) = &session {
            input = input.with_session_policies(s);
        }
        if let Some(levels) = &scps {
            input = input.with_scps(levels);
        }
        let trust_name;
        if let Some((acct, policy)) = &trust {
            trust_name = format!("arn:aws:iam::{acct}:role-trust-policy");
            input = input.with_resource_policy(
                NamedPolicy::new(&trust_name, policy),
                ResourcePolicyKind::RoleTrust,
            );
            input = input.with_resource_account(acct);
        }
        if let Some(r) = &resource {
            input = input
                .with_resource_policy(NamedPolicy::new(r.name, r.policy), r.kind)
                .with_resource_account(r.account);
            if let Some(g) = r.grant {
                input = input.with_grant(g);
            }
        }
        let decision = evaluate(&input);
        if decision.is_allowed() {
            Ok(())
        } else {
            Err(Denied {
                message: decision
                    .access_denied_message(&ctx)
                    .unwrap_or_else(|| generic_denial(principal, what)),
            })
        }
    }

    fn principal_set(
        &self,
        tx: &dyn ReadTx,
        p: &Principal,
        generation: u64,
    ) -> Result<Arc<PrincipalSet>, Denied> {
        let key = p
            .access_key_id
            .as_deref()
            .filter(|k| k.starts_with("ASIA"))
            .unwrap_or(&p.arn)
            .to_owned();
        if let Some(hit) = self.cached(generation, |c| c.principals.get(&key).cloned()) {
            return Ok(hit);
        }
        let set = Arc::new(load_principal(tx, p).map_err(|e| internal_denial(p, &e))?);
        self.store(generation, |c| {
            c.principals.insert(key, set.clone());
        });
        Ok(set)
    }

    fn account_set(
        &self,
        tx: &dyn ReadTx,
        account: &str,
        generation: u64,
    ) -> Result<Arc<AccountSet>, Denied> {
        if let Some(hit) = self.cached(generation, |c| c.accounts.get(account).cloned()) {
            return Ok(hit);
        }
        let set = Arc::new(load_account(tx, account).map_err(|e| {
            tracing::error!(error = %e, account, "cannot load the organization's policies; denying");
            Denied { message: "Access denied: the account's service control policies could not be loaded.".into() }
        })?);
        self.store(generation, |c| {
            c.accounts.insert(account.to_owned(), set.clone());
        });
        Ok(set)
    }

    fn cached<R>(&self, generation: u64, f: impl FnOnce(&Cache) -> Option<R>) -> Option<R> {
        let c = self.cache.lock().ok()?;
        if c.generation == generation {
            f(&c)
        } else {
            None
        }
    }

    fn store(&self, generation: u64, f: impl FnOnce(&mut Cache)) {
        if let Ok(mut c) = self.cache.lock() {
            if c.generation != generation {
                // Only entries loaded under the current generation may be kept.
                if generation < c.generation {
                    return;
                }
                *c = Cache {
                    generation,
                    ..Cache::default()
                };
            }
            if c.principals.len() + c.accounts.len() >= MAX_CACHED {
                c.principals.clear();
                c.accounts.clear();
            }
            f(&mut c);
        }
    }
}

fn principal_info(p: &Principal) -> PrincipalInfo {
    match &p.kind {
        PrincipalKind::Root => PrincipalInfo::root(p.account.as_str()),
        PrincipalKind::IamUser { .. } => PrincipalInfo::iam_user(&p.arn, &p.principal_id),
        PrincipalKind::AssumedRole {
            role_arn,
            session_name,
            role_id,
            ..
        } => PrincipalInfo::assumed_role(role_arn, session_name, role_id),
        PrincipalKind::Service { service } => PrincipalInfo::service(service),
    }
}

fn generic_denial(p: &Principal, what: &Action) -> String {
    format!(
        "User: {} is not authorized to perform: {} on resource: {} because no identity-based policy allows the {} action",
        p.arn, what.action, what.resource, what.action
    )
}

fn internal_denial(p: &Principal, e: &ferrogate_store::StoreError) -> Denied {
    tracing::error!(error = %e, principal = %p.arn, "cannot load the caller's policies; denying");
    Denied {
        message: format!(
            "User: {} is not authorized: its policies could not be loaded.",
            p.arn
        ),
    }
}

fn parse(named: &mut Named, broken: &mut bool, name: String, doc: &str, kind: PolicyKind) {
    match Policy::parse(doc, kind) {
        Ok(p) => named.push((name, p)),
        Err(e) => {
            tracing::error!(policy = %name, error = %e, "a stored policy does not parse; its principal is denied everything");
            *broken = true;
        }
    }
}

/// Inline and attached policies of one user, group or role.
fn entity_policies(
    tx: &dyn ReadTx,
    account: &str,
    kind: EntityKind,
    name: &str,
    out: &mut Named,
    broken: &mut bool,
) -> Result<(), ferrogate_store::StoreError> {
    let prefix = keys::children(account, kind, name);
    let inline = tables::INLINE.scan(tx, &prefix, None, Direction::Forward, LIMIT + 1)?;
    let attached = tables::ATTACHED.scan(tx, &prefix, None, Direction::Forward, LIMIT + 1)?;
    if inline.len() > LIMIT || attached.len() > LIMIT {
        // Never decide on a truncated set: a Deny could be in the part not read.
        *broken = true;
    }
    for (_, p) in inline {
        let label = format!(
            "arn:aws:iam::{account}:{}/{name}/inline/{}",
            kind.noun(),
            p.name
        );
        parse(out, broken, label, &p.document, PolicyKind::Identity);
    }
    for (_, a) in attached {
        let Some((owner, _, pname)) = crate::api::parse_policy_arn(&a.policy_arn).ok() else {
            continue;
        };
        if let Some(mp) = tables::POLICIES.get(tx, &keys::policy(&owner, &pname))? {
            if let Some(doc) = mp.default_document() {
                parse(out, broken, a.policy_arn.clone(), doc, PolicyKind::Identity);
            }
        }
    }
    Ok(())
}

fn load_principal(
    tx: &dyn ReadTx,
    p: &Principal,
) -> Result<PrincipalSet, ferrogate_store::StoreError> {
    let account = p.account.as_str();
    let mut set = PrincipalSet {
        identity: Vec::new(),
        session: None,
        tags: Vec::new(),
        broken: false,
    };
    match &p.kind {
        PrincipalKind::Root | PrincipalKind::Service { .. } => {}
        PrincipalKind::IamUser { user_name } => {
            if let Some(u) = tables::USERS.get(tx, &keys::user(account, user_name))? {
                set.tags = u
                    .tags
                    .iter()
                    .map(|t| (t.key.clone(), t.value.clone()))
                    .collect();
            }
            entity_policies(
                tx,
                account,
                EntityKind::User,
                user_name,
                &mut set.identity,
                &mut set.broken,
            )?;
            let groups = tables::USER_GROUPS.scan(
                tx,
                &keys::memberships(account, user_name),
                None,
                Direction::Forward,
                LIMIT + 1,
            )?;
            if groups.len() > LIMIT {
                set.broken = true;
            }
            for (_, m) in groups {
                entity_policies(
                    tx,
                    account,
                    EntityKind::Group,
                    &m.group_name,
                    &mut set.identity,
                    &mut set.broken,
                )?;
            }
        }
        PrincipalKind::AssumedRole { role_name, .. } => {
            if let Some(r) =
                tables::ROLES.get(tx, &keys::entity(account, EntityKind::Role, role_name))?
            {
                set.tags = r
                    .tags
                    .iter()
                    .map(|t| (t.key.clone(), t.value.clone()))
                    .collect();
            }
            entity_policies(
                tx,
                account,
                EntityKind::Role,
                role_name,
                &mut set.identity,
                &mut set.broken,
            )?;
            if let Some(akid) = &p.access_key_id {
                if let Some(s) = tables::SESSIONS.get(tx, &keys::key(akid))? {
                    if let Some(doc) = &s.policy {
                        let mut named = Vec::new();
                        parse(
                            &mut named,
                            &mut set.broken,
                            format!("{}/session-policy", p.arn),
                            doc,
                            PolicyKind::Identity,
                        );
                        set.session = Some(named);
                    }
                }
            }
        }
    }
    Ok(set)
}

fn load_account(tx: &dyn ReadTx, account: &str) -> Result<AccountSet, ferrogate_store::StoreError> {
    let mut set = AccountSet {
        org_id: None,
        scps: None,
        broken: false,
    };
    let Some(view) = org::scp_view(tx, account)? else {
        return Ok(set);
    };
    set.org_id = Some(view.org_id);
    if let Some(levels) = view.levels {
        let mut parsed = Vec::with_capacity(levels.len());
        for level in levels {
            let mut named = Vec::new();
            for (name, doc) in level {
                parse(
                    &mut named,
                    &mut set.broken,
                    name,
                    &doc,
                    PolicyKind::ServiceControl,
                );
            }
            parsed.push(named);
        }
        set.scps = Some(parsed);
    }
    Ok(set)
}

fn load_trust(tx: &dyn ReadTx, account: &str, role: &str) -> Result<(String, Policy), ()> {
    let r = tables::ROLES
        .get(tx, &keys::entity(account, EntityKind::Role, role))
        .map_err(|_| ())?
        .ok_or(())?;
    let p = Policy::parse(&r.trust_policy, PolicyKind::RoleTrust).map_err(|_| ())?;
    Ok((account.to_owned(), p))
}
