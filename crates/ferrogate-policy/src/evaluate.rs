//! The decision: one pure function over the request context and every applicable policy.
//!
//! This follows the IAM User Guide, *Policy evaluation logic* ("Determining whether a request is
//! allowed or denied within an account") and *Cross-account policy evaluation logic*:
//!
//! 1. **Deny evaluation.** Any applicable `Deny` in an SCP, RCP, the resource-based policy, an
//!    identity-based policy, the permissions boundary or a session policy → explicit deny.
//! 2. **SCPs.** For principals of member accounts, every level of the organization (root, OUs,
//!    account) must allow; the management account is exempt (the caller passes no chain). SCPs
//!    "apply to principals in member accounts, including each AWS account root user"; they do not
//!    apply to service principals.
//! 3. **RCPs.** Likewise for the resource's account.
//! 4. **Resource-based policy** (same account). An `Allow` naming the user, the role session, a
//!    service or `*` allows by itself; one naming the role is still limited by the boundary and
//!    session policy; one naming the account delegates to identity policies. KMS key policies and
//!    role trust policies are mandatory: "they must explicitly allow access for principals".
//! 5. **Identity-based policies** must allow (the root user needs none).
//! 6. **Permissions boundary**, if any, must allow.
//! 7. **Session policies**, if any, must allow; a federated-user session without one is denied.
//!
//! Cross-account requests must be allowed by both sides: the resource policy in the resource's
//! account and the identity side (identity, boundary, session) in the caller's account. A KMS
//! grant is one more allow path, after explicit denies and SCPs/RCPs.
//!
//! Errors are impossible here: documents were validated when parsed, and everything that cannot
//! be decided (see `condition.rs`) already leans towards deny.

use crate::arn;
use crate::condition::Tri;
use crate::context::RequestContext;
use crate::decision::{Decision, DecisionEffect, MatchedStatement, PolicyType, Reason};
use crate::model::{Effect, Policy, ResourceRef};
use crate::principal::{MatchKind, PrincipalKind};

/// A policy with the name the caller knows it by (a policy ARN, `inline/<name>`, ...), reported
/// back in [`MatchedStatement::policy`].
#[derive(Clone, Copy, Debug)]
pub struct NamedPolicy<'a> {
    /// The caller's name for the policy.
    pub name: &'a str,
    /// The parsed policy.
    pub policy: &'a Policy,
}

impl<'a> NamedPolicy<'a> {
    /// Pairs a name with a policy.
    pub fn new(name: &'a str, policy: &'a Policy) -> Self {
        NamedPolicy { name, policy }
    }
}

/// How a resource-based policy takes part in the decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResourcePolicyKind {
    /// An ordinary resource policy: within the account, it is one way to be allowed.
    Standard,
    /// A KMS key policy: it must allow, directly or by delegating to the account.
    KeyPolicy,
    /// An IAM role trust policy: it must allow `sts:AssumeRole*`, like a key policy.
    RoleTrust,
}

/// The resource-based policy attached to the requested resource.
#[derive(Clone, Copy, Debug)]
pub struct ResourcePolicy<'a> {
    /// The policy.
    pub policy: NamedPolicy<'a>,
    /// Its role in the decision.
    pub kind: ResourcePolicyKind,
}

/// Everything one decision depends on. Build it with [`EvaluationInput::new`] and the `with_*`
/// methods; absent parts are absent policy types, not empty ones.
#[derive(Clone, Copy, Debug)]
pub struct EvaluationInput<'a> {
    /// The request.
    pub context: &'a RequestContext,
    /// SCPs by organization level, root first. `None`: not in an organization, or the management
    /// account. `Some`: every level must allow.
    pub scps: Option<&'a [Vec<NamedPolicy<'a>>]>,
    /// RCPs by level for the resource's account, like `scps`.
    pub rcps: Option<&'a [Vec<NamedPolicy<'a>>]>,
    /// Identity policies: user inline + managed + group policies, or role inline + managed.
    pub identity: &'a [NamedPolicy<'a>],
    /// The permissions boundary of the user or role.
    pub permissions_boundary: Option<NamedPolicy<'a>>,
    /// Session policies of the session (`None`: no session policy was passed).
    pub session_policies: Option<&'a [NamedPolicy<'a>]>,
    /// The resource's own policy.
    pub resource_policy: Option<ResourcePolicy<'a>>,
    /// The account owning the resource; defaults to the account in the resource ARN, else the
    /// caller's account. Set it for ARNs without an account (S3-style).
    pub resource_account: Option<&'a str>,
    /// Id of a KMS grant that allows this request (the KMS crate matches grants itself).
    pub grant: Option<&'a str>,
}

impl<'a> EvaluationInput<'a> {
    /// An input with no policies at all (which denies everyone but the root user).
    pub fn new(context: &'a RequestContext) -> Self {
        EvaluationInput {
            context,
            scps: None,
            rcps: None,
            identity: &[],
            permissions_boundary: None,
            session_policies: None,
            resource_policy: None,
            resource_account: None,
            grant: None,
        }
    }

    /// Sets the identity policies.
    pub fn with_identity(mut self, policies: &'a [NamedPolicy<'a>]) -> Self {
        self.identity = policies;
        self
    }

    /// Sets the SCP chain (root level first).
    pub fn with_scps(mut self, levels: &'a [Vec<NamedPolicy<'a>>]) -> Self {
        self.scps = Some(levels);
        self
    }

    /// Sets the RCP chain (root level first).
    pub fn with_rcps(mut self, levels: &'a [Vec<NamedPolicy<'a>>]) -> Self {
        self.rcps = Some(levels);
        self
    }

    /// Sets the permissions boundary.
    pub fn with_boundary(mut self, boundary: NamedPolicy<'a>) -> Self {
        self.permissions_boundary = Some(boundary);
        self
    }

    /// Sets the session policies.
    pub fn with_session_policies(mut self, policies: &'a [NamedPolicy<'a>]) -> Self {
        self.session_policies = Some(policies);
        self
    }

    /// Sets the resource-based policy.
    pub fn with_resource_policy(
        mut self,
        policy: NamedPolicy<'a>,
        kind: ResourcePolicyKind,
    ) -> Self {
        self.resource_policy = Some(ResourcePolicy { policy, kind });
        self
    }

    /// Sets the resource's account.
    pub fn with_resource_account(mut self, account: &'a str) -> Self {
        self.resource_account = Some(account);
        self
    }

    /// Records that a KMS grant allows the request.
    pub fn with_grant(mut self, grant_id: &'a str) -> Self {
        self.grant = Some(grant_id);
        self
    }
}

/// Decides the request. With several resources, each must be allowed; the first denial is
/// returned.
pub fn evaluate(input: &EvaluationInput<'_>) -> Decision {
    let resources = input.context.resources();
    if resources.is_empty() {
        let mut d = evaluate_one(input, &ResourceRef::new("*"));
        d.resource = None;
        return d;
    }
    let mut last = None;
    for r in resources {
        let mut d = evaluate_one(input, &ResourceRef::new(r));
        d.resource = Some(r.clone());
        if !d.is_allowed() {
            return d;
        }
        last = Some(d);
    }
    last.unwrap_or_else(|| implicit(PolicyType::IdentityBased))
}

/// A statement found by a scan: (policy index, statement index, how it named the caller).
type Hit = (usize, usize, MatchKind);

/// The first applicable `Deny` and the strongest applicable `Allow` of one policy set.
#[derive(Default)]
struct Scan {
    deny: Option<Hit>,
    allow: Option<Hit>,
}

/// Scans `policies`. Statements naming no one matching the caller are skipped. An undecidable
/// statement (`Tri::Unknown`) denies but never allows. Stops at the first deny.
fn scan(policies: &[NamedPolicy<'_>], ctx: &RequestContext, res: &ResourceRef<'_>) -> Scan {
    let mut out = Scan::default();
    for (pi, np) in policies.iter().enumerate() {
        for (si, st) in np.policy.statements().iter().enumerate() {
            let Some(kind) = st.principal_match(ctx.principal()) else {
                continue;
            };
            match st.effect() {
                Effect::Deny => {
                    if st.applies(ctx, res) != Tri::False {
                        out.deny = Some((pi, si, kind));
                        return out;
                    }
                }
                Effect::Allow => {
                    let better = out.allow.is_none_or(|(_, _, k)| kind > k);
                    if better && st.applies(ctx, res) == Tri::True {
                        out.allow = Some((pi, si, kind));
                    }
                }
            }
        }
    }
    out
}

fn matched(t: PolicyType, policies: &[NamedPolicy<'_>], (pi, si, _): Hit) -> MatchedStatement {
    let np = &policies[pi];
    let sid = np.policy.statements()[si].sid().map(str::to_string);
    MatchedStatement {
        policy_type: t,
        policy: np.name.to_string(),
        index: si,
        sid,
    }
}

fn decision(effect: DecisionEffect, reason: Reason) -> Decision {
    Decision {
        effect,
        reason,
        resource: None,
    }
}

fn implicit(t: PolicyType) -> Decision {
    decision(DecisionEffect::ImplicitDeny, Reason::NoAllow(t))
}

fn explicit(t: PolicyType, policies: &[NamedPolicy<'_>], hit: Hit) -> Decision {
    decision(
        DecisionEffect::ExplicitDeny,
        Reason::Statement(matched(t, policies, hit)),
    )
}

fn allow(t: PolicyType, policies: &[NamedPolicy<'_>], hit: Hit) -> Decision {
    decision(
        DecisionEffect::Allow,
        Reason::Statement(matched(t, policies, hit)),
    )
}

/// Scans an organization chain; returns the explicit deny, or whether every level allowed.
fn scan_chain(
    levels: Option<&[Vec<NamedPolicy<'_>>]>,
    t: PolicyType,
    ctx: &RequestContext,
    res: &ResourceRef<'_>,
) -> Result<bool, Decision> {
    let mut all_allow = true;
    for level in levels.unwrap_or_default() {
        let s = scan(level, ctx, res);
        if let Some(hit) = s.deny {
            return Err(explicit(t, level, hit));
        }
        all_allow &= s.allow.is_some();
    }
    Ok(all_allow)
}

/// Results of the scans of the caller's own policies.
struct IdentitySide<'s, 'a> {
    identity: &'s [NamedPolicy<'a>],
    identity_allow: Option<Hit>,
    boundary_ok: bool,
    session_ok: bool,
    root: bool,
}

impl IdentitySide<'_, '_> {
    /// Steps 5–7: identity, boundary, session must all allow.
    fn decide(&self) -> Decision {
        let reason = match (self.root, self.identity_allow) {
            (true, _) => Reason::AccountRoot,
            (false, Some(hit)) => {
                Reason::Statement(matched(PolicyType::IdentityBased, self.identity, hit))
            }
            (false, None) => return implicit(PolicyType::IdentityBased),
        };
        self.limits()
            .unwrap_or_else(|| decision(DecisionEffect::Allow, reason))
    }

    /// The implicit deny of a boundary or session policy that does not allow, if any.
    fn limits(&self) -> Option<Decision> {
        if !self.boundary_ok {
            Some(implicit(PolicyType::PermissionsBoundary))
        } else if !self.session_ok {
            Some(implicit(PolicyType::SessionPolicy))
        } else {
            None
        }
    }
}

fn evaluate_one(input: &EvaluationInput<'_>, res: &ResourceRef<'_>) -> Decision {
    match deny_and_scan(input, res) {
        Ok(d) | Err(d) => d,
    }
}

/// Steps 1–7. `Err` carries early decisions (explicit denies).
fn deny_and_scan(input: &EvaluationInput<'_>, res: &ResourceRef<'_>) -> Result<Decision, Decision> {
    let ctx = input.context;
    let p = ctx.principal();
    let unaffected_by_org = p.kind == PrincipalKind::Service;
    let org = |chain| if unaffected_by_org { None } else { chain };
    let scp_ok = scan_chain(org(input.scps), PolicyType::ServiceControlPolicy, ctx, res)?;
    let rcp_ok = scan_chain(org(input.rcps), PolicyType::ResourceControlPolicy, ctx, res)?;

    let rp = input.resource_policy;
    let rp_type = match rp.map(|r| r.kind) {
        Some(ResourcePolicyKind::RoleTrust) => PolicyType::RoleTrust,
        _ => PolicyType::ResourceBased,
    };
    let rp_set = rp.map(|r| [r.policy]);
    let rp_allow = match &rp_set {
        Some(set) => scan_set(set, rp_type, ctx, res)?,
        None => None,
    };
    let identity_allow = scan_set(input.identity, PolicyType::IdentityBased, ctx, res)?;
    let boundary_ok = match input.permissions_boundary {
        Some(b) => scan_set(&[b], PolicyType::PermissionsBoundary, ctx, res)?.is_some(),
        None => true,
    };
    let session_ok = match input.session_policies {
        Some(sp) => scan_set(sp, PolicyType::SessionPolicy, ctx, res)?.is_some(),
        None => p.kind != PrincipalKind::FederatedUser,
    };
    if !scp_ok {
        return Ok(implicit(PolicyType::ServiceControlPolicy));
    }
    if !rcp_ok {
        return Ok(implicit(PolicyType::ResourceControlPolicy));
    }
    if let Some(g) = input.grant {
        return Ok(decision(
            DecisionEffect::Allow,
            Reason::Grant(g.to_string()),
        ));
    }
    let side = IdentitySide {
        identity: input.identity,
        identity_allow,
        boundary_ok,
        session_ok,
        root: p.kind == PrincipalKind::Root,
    };
    let rp_set = rp_set.as_ref().map_or(&[][..], |s| &s[..]);
    let mandatory = rp.is_some_and(|r| r.kind != ResourcePolicyKind::Standard);
    Ok(combine(
        input, res, &side, rp_set, rp_allow, rp_type, mandatory,
    ))
}

/// Scans one set; an explicit deny ends the evaluation.
fn scan_set(
    set: &[NamedPolicy<'_>],
    t: PolicyType,
    ctx: &RequestContext,
    res: &ResourceRef<'_>,
) -> Result<Option<Hit>, Decision> {
    let s = scan(set, ctx, res);
    match s.deny {
        Some(hit) => Err(explicit(t, set, hit)),
        None => Ok(s.allow),
    }
}

/// Steps 4–7 and the cross-account rule.
fn combine(
    input: &EvaluationInput<'_>,
    res: &ResourceRef<'_>,
    side: &IdentitySide<'_, '_>,
    rp_set: &[NamedPolicy<'_>],
    rp_allow: Option<Hit>,
    rp_type: PolicyType,
    mandatory: bool,
) -> Decision {
    let p = input.context.principal();
    let rp_kind = rp_allow.map(|(_, _, k)| k);
    let by_resource = |hit| allow(rp_type, rp_set, hit);
    // Services and anonymous callers have no identity policies: only the resource can allow.
    if matches!(p.kind, PrincipalKind::Service | PrincipalKind::Anonymous) {
        return match rp_allow {
            Some(hit) if rp_kind == Some(MatchKind::Direct) => by_resource(hit),
            _ => implicit(rp_type),
        };
    }
    let resource_account = input
        .resource_account
        .or_else(|| arn::account_of(res.text))
        .unwrap_or(&p.account);
    // `aws` owns AWS managed resources (`arn:aws:iam::aws:policy/…`, Organizations'
    // `FullAWSAccess`): every account uses them under its own identity policies.
    if resource_account != p.account && resource_account != "aws" {
        return match rp_allow {
            None => implicit(rp_type),
            Some(hit) => match side.decide() {
                d if d.is_allowed() => by_resource(hit),
                d => d,
            },
        };
    }
    match (rp_allow, rp_kind) {
        (Some(hit), Some(MatchKind::Direct)) => by_resource(hit),
        (Some(hit), Some(MatchKind::Role)) => side.limits().unwrap_or_else(|| by_resource(hit)),
        (None, _) if mandatory => implicit(rp_type),
        _ => side.decide(),
    }
}
