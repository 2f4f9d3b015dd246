//! Who made a request: the result of authentication, consumed by authorization and audit.

use serde::{Deserialize, Serialize};

use crate::{AccountId, Timestamp};

/// The kind of an authenticated caller, spelled as CloudTrail's `userIdentity.type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PrincipalKind {
    /// The account's root user.
    Root,
    /// An IAM user.
    IamUser {
        /// The user's friendly name.
        user_name: String,
    },
    /// A role session obtained with `sts:AssumeRole`.
    AssumedRole {
        /// The role's name.
        role_name: String,
        /// The role's ARN (`arn:aws:iam::<acct>:role/<path><name>`).
        role_arn: String,
        /// The role's unique id (`AROA…`).
        role_id: String,
        /// `RoleSessionName`.
        session_name: String,
        /// When the session was issued.
        session: SessionContext,
    },
    /// An AWS service acting on its own behalf, such as `fargate.amazonaws.com`.
    Service {
        /// The service principal, e.g. `fargate.amazonaws.com`.
        service: String,
    },
}

/// Facts about a temporary-credential session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionContext {
    /// When the credentials were issued.
    pub creation_date: Timestamp,
    /// Whether MFA was used (always false here: Ferrogate has no MFA yet).
    pub mfa_authenticated: bool,
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    /// The account the caller belongs to.
    pub account: AccountId,
    /// The caller's ARN: `arn:aws:iam::<acct>:root`, `…:user/<name>`,
    /// `arn:aws:sts::<acct>:assumed-role/<role>/<session>`.
    pub arn: String,
    /// The unique id: the account id for root, `AIDA…` for users,
    /// `AROA…:<session>` for role sessions.
    pub principal_id: String,
    /// The access key that signed the request, if any.
    pub access_key_id: Option<String>,
    /// What kind of caller this is.
    pub kind: PrincipalKind,
}

impl Principal {
    /// The account's root user.
    pub fn root(account: AccountId, access_key_id: Option<String>) -> Self {
        Self {
            arn: account.root_arn(),
            principal_id: account.as_str().to_owned(),
            account,
            access_key_id,
            kind: PrincipalKind::Root,
        }
    }

    /// A service principal such as `fargate.amazonaws.com` acting in `account`.
    pub fn service(account: AccountId, service: &str) -> Self {
        Self {
            arn: service.to_owned(),
            principal_id: service.to_owned(),
            account,
            access_key_id: None,
            kind: PrincipalKind::Service {
                service: service.to_owned(),
            },
        }
    }

    /// True for the account's root user.
    pub fn is_root(&self) -> bool {
        matches!(self.kind, PrincipalKind::Root)
    }

    /// CloudTrail's `userIdentity.type` for this principal.
    pub fn trail_type(&self) -> &'static str {
        match self.kind {
            PrincipalKind::Root => "Root",
            PrincipalKind::IamUser { .. } => "IAMUser",
            PrincipalKind::AssumedRole { .. } => "AssumedRole",
            PrincipalKind::Service { .. } => "AWSService",
        }
    }

    /// The name LookupEvents reports as `Username`: `root` for the root user, the user name
    /// for IAM users, the session name for role sessions, the service for services.
    pub fn lookup_username(&self) -> &str {
        match &self.kind {
            PrincipalKind::Root => "root",
            PrincipalKind::IamUser { user_name } => user_name,
            PrincipalKind::AssumedRole { session_name, .. } => session_name,
            PrincipalKind::Service { service } => service,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_principal() {
        let a = AccountId::parse("123456789012").unwrap();
        let p = Principal::root(a, Some("AKIAEXAMPLE".into()));
        assert!(p.is_root());
        assert_eq!(p.arn, "arn:aws:iam::123456789012:root");
        assert_eq!(p.principal_id, "123456789012");
        assert_eq!(p.trail_type(), "Root");
        assert_eq!(p.lookup_username(), "root");
    }
}
