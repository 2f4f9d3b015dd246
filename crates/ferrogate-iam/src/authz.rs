//! Authorization: the only way to obtain an [`Authorized`] request.
//!
//! Handlers of every service take `Authorized<Op>`, whose constructor is private to this
//! module, so a handler cannot run on a request that was not authorized: authorization is
//! mandatory by type, not by configuration (see the s3s trap in shared/STYLE.md).
//!
//! Until the policy engine lands (issue 3), the rule is the foundation's fail-closed rule:
//! the account's root user may do everything; every other principal is denied everything
//! except `sts:GetCallerIdentity`, which AWS never denies.

use ferrogate_types::Principal;

/// What a request asks to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    /// `service:Operation`, e.g. `iam:CreateUser`.
    pub action: String,
    /// The resource ARN (or `*`).
    pub resource: String,
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
    /// Splits into parts.
    pub fn into_parts(self) -> (T, Principal) {
        (self.op, self.principal)
    }
}

/// Decides requests.
#[derive(Debug, Clone, Default)]
pub struct Authorizer {}

impl Authorizer {
    /// An authorizer.
    pub fn new() -> Self {
        Self {}
    }

    /// Authorizes `principal` to perform `what`, yielding the op wrapped as authorized.
    pub fn authorize<T>(&self, principal: &Principal, what: &Action, op: T) -> Result<Authorized<T>, Denied> {
        let always_allowed = what.action.eq_ignore_ascii_case("sts:GetCallerIdentity");
        if principal.is_root() || always_allowed {
            return Ok(Authorized { op, principal: principal.clone() });
        }
        Err(Denied { message: denied_message(principal, what) })
    }
}

/// `User: <arn> is not authorized to perform: <action> on resource: <arn> because no
/// identity-based policy allows the <action> action` (AWS's wording, without a final period).
pub fn denied_message(principal: &Principal, what: &Action) -> String {
    format!(
        "User: {} is not authorized to perform: {} on resource: {} because no identity-based policy allows the {} action",
        principal.arn, what.action, what.resource, what.action
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrogate_types::{AccountId, PrincipalKind};

    fn user() -> Principal {
        Principal {
            account: AccountId::parse("123456789012").unwrap(),
            arn: "arn:aws:iam::123456789012:user/bob".into(),
            principal_id: "AIDAEXAMPLE".into(),
            access_key_id: Some("AKIAEXAMPLE".into()),
            kind: PrincipalKind::IamUser { user_name: "bob".into() },
        }
    }

    fn act(a: &str) -> Action {
        Action { action: a.into(), resource: "arn:aws:iam::123456789012:user/alice".into() }
    }

    #[test]
    fn root_may_do_everything() {
        let root = Principal::root(AccountId::parse("123456789012").unwrap(), None);
        assert!(Authorizer::new().authorize(&root, &act("iam:CreateUser"), ()).is_ok());
    }

    #[test]
    fn users_are_denied_except_get_caller_identity() {
        let a = Authorizer::new();
        let d = a.authorize(&user(), &act("iam:CreateUser"), ()).unwrap_err();
        assert_eq!(
            d.message,
            "User: arn:aws:iam::123456789012:user/bob is not authorized to perform: iam:CreateUser on resource: arn:aws:iam::123456789012:user/alice because no identity-based policy allows the iam:CreateUser action"
        );
        assert!(a.authorize(&user(), &act("sts:GetCallerIdentity"), ()).is_ok());
    }
}
