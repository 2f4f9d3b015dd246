//! The policy engine over the stored identities: IAM's implementation of
//! [`ferrogate_api::Decide`].
//!
//! Operations state what they need authorized (`ferrogate_api::authz`); this module decides
//! each question with `ferrogate_policy::evaluate` over everything that applies to the caller
//! (shared/spec/aws-behaviour.md §5): the organization's service control policies for member
//! accounts, the caller's identity policies (user inline and managed policies and those of
//! its groups, or the role's for a role session), the session policy, and the resource's own
//! policy where the question carries one (a KMS key policy, a role's trust policy). Parsed
//! policies are cached per principal and dropped after every committed IAM or Organizations
//! change ([`Authorizer::invalidate`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use ferrogate_api::{Decide, Denied, Epoch, Question};
use ferrogate_policy::{
    evaluate, EvaluationInput, NamedPolicy, Policy, PolicyKind, PrincipalInfo, RequestContext,
};
use ferrogate_store::{Direction, ReadTx};
use ferrogate_types::{Principal, PrincipalKind};

use crate::model::{keys, tables, EntityKind, Tag};
use crate::org;

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

    /// Decides one question (see [`Decide::decide`]).
    pub fn decide(&self, epoch: Epoch, tx: &dyn ReadTx, q: &Question<'_>) -> Result<(), Denied> {
        let Epoch(generation) = epoch;
        let principal = q.principal;
        let account = self.account_set(tx, principal.account.as_str(), generation)?;
        let set = self.principal_set(tx, principal, generation)?;
        if set.broken || account.broken {
            return Err(Denied {
                message: generic_denial(principal, q),
            });
        }
        let mut info = principal_info(principal);
        for (k, v) in &set.tags {
            info = info.with_tag(k, v);
        }
        if let Some(o) = &account.org_id {
            info = info.with_org(o);
        }
        let facts = q.facts;
        let mut ctx = RequestContext::new(info, q.action)
            .with_time(facts.now.secs())
            .with_source_ip(facts.source_ip)
            .with_secure_transport(facts.secure_transport)
            .with_region(&facts.region);
        if let PrincipalKind::AssumedRole { session, .. } = &principal.kind {
            // Lets the documented "revoke active sessions" policy (Deny when
            // aws:TokenIssueTime is before a date) work.
            ctx = ctx.with("aws:TokenIssueTime", session.creation_date.iso8601());
        }
        if let Some(r) = q.resource {
            ctx = ctx.with_resource(r);
        }
        for (k, vs) in q.keys {
            ctx = ctx.with_values(k, vs.iter().map(String::as_str));
        }
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
        if let Some(r) = q.policy {
            input = input
                .with_resource_policy(NamedPolicy::new(&r.name, &r.policy), r.kind)
                .with_resource_account(&r.account);
        }
        if let Some(g) = q.grant {
            input = input.with_grant(g);
        }
        let decision = evaluate(&input);
        if decision.is_allowed() {
            Ok(())
        } else {
            Err(Denied {
                message: decision
                    .access_denied_message(&ctx)
                    .unwrap_or_else(|| generic_denial(principal, q)),
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

fn generic_denial(p: &Principal, q: &Question<'_>) -> String {
    format!(
        "User: {} is not authorized to perform: {} on resource: {} because no identity-based policy allows the {} action",
        p.arn,
        q.action,
        q.resource.unwrap_or("*"),
        q.action
    )
}

impl Decide for Authorizer {
    fn epoch(&self) -> Epoch {
        Authorizer::epoch(self)
    }

    fn decide(&self, epoch: Epoch, tx: &dyn ReadTx, q: &Question<'_>) -> Result<(), Denied> {
        Authorizer::decide(self, epoch, tx, q)
    }

    fn invalidate(&self) {
        Authorizer::invalidate(self);
    }
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
                set.tags = Tag::pairs(&u.tags);
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
                set.tags = Tag::pairs(&r.tags);
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
