//! Principals: the caller ([`PrincipalInfo`]) and the `Principal` / `NotPrincipal` element that
//! names callers in resource-based policies.
//!
//! What a `Principal` entry grants depends on what it names (IAM User Guide, *Policy evaluation
//! logic*, table "Resource-based policies and implicit denies in other policy types", and *AWS JSON
//! policy elements: Principal*):
//! - an account (`"123456789012"` or `arn:aws:iam::123456789012:root`) *delegates* to the account:
//!   "Using the account ARN in the Principal element does not limit permissions to only the root
//!   user of the account"; the account's identity policies must still allow ([`MatchKind::Account`]);
//! - a role ARN matches that role's sessions, but the grant stays "limited by an implicit deny in a
//!   permissions boundary or session policy" ([`MatchKind::Role`]);
//! - a user, a role-session ARN, a federated-user ARN, a service, a federated provider or `*`
//!   grants directly ([`MatchKind::Direct`]).

use crate::arn;

/// The kind of caller, as `aws:PrincipalType` and CloudTrail's `userIdentity.type` distinguish them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PrincipalKind {
    /// The account root user.
    Root,
    /// An IAM user.
    IamUser,
    /// A role session (STS `AssumeRole*`).
    AssumedRole,
    /// An STS federated-user session (`GetFederationToken`).
    FederatedUser,
    /// An AWS service principal such as `fargate.amazonaws.com`.
    Service,
    /// An unauthenticated caller (or a web-identity caller before its role session exists).
    Anonymous,
}

impl PrincipalKind {
    /// The value of `aws:PrincipalType` (IAM User Guide, *Policy variables*, principal key values);
    /// `None` for service principals, which do not have one.
    pub fn principal_type(self) -> Option<&'static str> {
        match self {
            PrincipalKind::Root => Some("Account"),
            PrincipalKind::IamUser => Some("User"),
            PrincipalKind::AssumedRole => Some("AssumedRole"),
            PrincipalKind::FederatedUser => Some("FederatedUser"),
            PrincipalKind::Anonymous => Some("Anonymous"),
            PrincipalKind::Service => None,
        }
    }
}

/// The authenticated caller of one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrincipalInfo {
    /// What kind of principal this is.
    pub kind: PrincipalKind,
    /// The identity ARN shown in `AccessDenied` messages: the user ARN, the role-session ARN
    /// (`arn:aws:sts::<acct>:assumed-role/<role>/<session>`), the root ARN; for a service, its
    /// name (`fargate.amazonaws.com`).
    pub arn: String,
    /// The value of `aws:PrincipalArn`: the role ARN (with its path) for a role session, otherwise
    /// the same as [`Self::arn`].
    pub principal_arn: String,
    /// The 12-digit account the principal belongs to (empty for services and anonymous callers).
    pub account: String,
    /// The value of `aws:userid` (`AIDA…` for users, `AROA…:<session>` for role sessions, the
    /// account id for root).
    pub userid: String,
    /// The value of `aws:username`; IAM users only.
    pub username: Option<String>,
    /// Tags of the user or role (and session tags), as `aws:PrincipalTag/<key>`.
    pub tags: Vec<(String, String)>,
    /// The organization id, as `aws:PrincipalOrgID`.
    pub org_id: Option<String>,
    /// For a web-identity or SAML caller, the provider a `"Federated"` principal must name.
    pub federated_provider: Option<String>,
}

fn partition_of(arn_text: &str) -> &str {
    arn::split(arn_text).map_or("aws", |p| p[1])
}

impl PrincipalInfo {
    fn base(kind: PrincipalKind, arn: String, account: &str, userid: String) -> Self {
        PrincipalInfo {
            kind,
            principal_arn: arn.clone(),
            arn,
            account: account.to_string(),
            userid,
            username: None,
            tags: Vec::new(),
            org_id: None,
            federated_provider: None,
        }
    }

    /// The root user of `account` in the `aws` partition.
    pub fn root(account: &str) -> Self {
        Self::base(
            PrincipalKind::Root,
            format!("arn:aws:iam::{account}:root"),
            account,
            account.to_string(),
        )
    }

    /// An IAM user, from its ARN (`arn:aws:iam::<acct>:user/<path/><name>`) and unique id.
    pub fn iam_user(user_arn: &str, userid: &str) -> Self {
        let parts = arn::split(user_arn);
        let account = parts.map_or("", |p| p[4]);
        let name = parts
            .and_then(|p| p[5].rsplit('/').next())
            .unwrap_or_default()
            .to_string();
        let mut p = Self::base(
            PrincipalKind::IamUser,
            user_arn.to_string(),
            account,
            userid.to_string(),
        );
        p.username = Some(name);
        p
    }

    /// A session of the role `role_arn` (which may have a path), named `session_name`; `role_id` is
    /// the role's unique id (`AROA…`). The session ARN drops the path, as STS does.
    pub fn assumed_role(role_arn: &str, session_name: &str, role_id: &str) -> Self {
        let parts = arn::split(role_arn);
        let account = parts.map_or("", |p| p[4]);
        let role_name = parts
            .and_then(|p| p[5].rsplit('/').next())
            .unwrap_or_default();
        let session_arn = format!(
            "arn:{}:sts::{account}:assumed-role/{role_name}/{session_name}",
            partition_of(role_arn)
        );
        let mut p = Self::base(
            PrincipalKind::AssumedRole,
            session_arn,
            account,
            format!("{role_id}:{session_name}"),
        );
        p.principal_arn = role_arn.to_string();
        p
    }

    /// An STS federated-user session `name` in `account`.
    pub fn federated_user(account: &str, name: &str) -> Self {
        let arn = format!("arn:aws:sts::{account}:federated-user/{name}");
        Self::base(
            PrincipalKind::FederatedUser,
            arn,
            account,
            format!("{account}:{name}"),
        )
    }

    /// An AWS service principal, e.g. `fargate.amazonaws.com`.
    pub fn service(name: &str) -> Self {
        Self::base(
            PrincipalKind::Service,
            name.to_string(),
            "",
            name.to_string(),
        )
    }

    /// An unauthenticated caller.
    pub fn anonymous() -> Self {
        Self::base(
            PrincipalKind::Anonymous,
            "anonymous".to_string(),
            "",
            "anonymous".to_string(),
        )
    }

    /// Adds a principal tag.
    pub fn with_tag(mut self, key: &str, value: &str) -> Self {
        self.tags.push((key.to_string(), value.to_string()));
        self
    }

    /// Sets the organization id.
    pub fn with_org(mut self, org_id: &str) -> Self {
        self.org_id = Some(org_id.to_string());
        self
    }

    /// Sets the identity provider of a web-identity or SAML caller.
    pub fn with_federated_provider(mut self, provider: &str) -> Self {
        self.federated_provider = Some(provider.to_string());
        self
    }
}

/// How strongly a resource-policy statement names the caller. Ordered weakest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum MatchKind {
    /// The caller's account is named: a delegation to the account's identity policies.
    Account,
    /// The caller's role is named: a grant limited by boundaries and session policies.
    Role,
    /// The caller itself is named (or `*`): a direct grant.
    Direct,
}

/// What an ARN in an `"AWS"` principal entry identifies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ArnKind {
    User,
    Role,
    Session,
    FederatedUser,
}

/// One entry of an `"AWS"` principal list.
#[derive(Clone, Debug, PartialEq, Eq)]
enum AwsPrincipal {
    Account(String),
    Arn(String, ArnKind),
    UniqueId(String),
}

/// A parsed `Principal` or `NotPrincipal` element.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PrincipalSpec {
    any: bool,
    aws: Vec<AwsPrincipal>,
    services: Vec<String>,
    federated: Vec<String>,
    canonical: Vec<String>,
}

/// Why an entry of a `Principal` element was refused.
pub(crate) struct BadPrincipal;

impl PrincipalSpec {
    /// `"Principal": "*"`.
    pub(crate) fn any() -> Self {
        PrincipalSpec {
            any: true,
            ..Default::default()
        }
    }

    /// Adds one value under `kind` (`AWS`, `Service`, `Federated`, `CanonicalUser`). Wildcards
    /// are refused except a whole `*`: "You cannot use a wildcard to match part of a principal name
    /// or ARN" (IAM User Guide, *Principal*).
    pub(crate) fn add(&mut self, kind: &str, value: &str) -> Result<(), BadPrincipal> {
        if value == "*" && kind == "AWS" {
            self.any = true;
            return Ok(());
        }
        if value.is_empty() || value.contains(['*', '?']) {
            return Err(BadPrincipal);
        }
        match kind {
            "AWS" => self.aws.push(parse_aws(value).ok_or(BadPrincipal)?),
            "Service" => self.services.push(value.to_ascii_lowercase()),
            "Federated" => self.federated.push(value.to_string()),
            "CanonicalUser" => self.canonical.push(value.to_string()),
            _ => return Err(BadPrincipal),
        }
        Ok(())
    }

    /// The strongest way this element names `p`, or `None` if it does not.
    pub fn match_kind(&self, p: &PrincipalInfo) -> Option<MatchKind> {
        if self.any {
            return Some(MatchKind::Direct);
        }
        let named = match p.kind {
            PrincipalKind::Service => self.services.iter().any(|s| s.eq_ignore_ascii_case(&p.arn)),
            _ => p
                .federated_provider
                .as_ref()
                .is_some_and(|f| self.federated.contains(f)),
        };
        if named {
            return Some(MatchKind::Direct);
        }
        self.aws.iter().filter_map(|e| aws_match(e, p)).max()
    }

    /// `NotPrincipal` semantics: true if `p` is exempt, i.e. every layer of its identity is listed.
    /// AWS evaluates a session against the account, the role and the session, so all must be
    /// named ("you must also include the account ARN", IAM User Guide, *NotPrincipal*). Requiring
    /// every layer is the strict reading: a partial list exempts no one.
    pub fn exempts(&self, p: &PrincipalInfo) -> bool {
        if self.any {
            return true;
        }
        let has = |want: &dyn Fn(&AwsPrincipal) -> bool| self.aws.iter().any(want);
        let account = || has(&|e| matches!(e, AwsPrincipal::Account(a) if *a == p.account));
        let arn = |x: &str, k: ArnKind| {
            has(&|e| matches!(e, AwsPrincipal::Arn(a, ak) if a == x && *ak == k))
        };
        match p.kind {
            PrincipalKind::Root => account(),
            PrincipalKind::IamUser => account() && arn(&p.arn, ArnKind::User),
            PrincipalKind::AssumedRole => {
                account() && arn(&p.principal_arn, ArnKind::Role) && arn(&p.arn, ArnKind::Session)
            }
            PrincipalKind::FederatedUser => account() && arn(&p.arn, ArnKind::FederatedUser),
            PrincipalKind::Service => self.services.iter().any(|s| s.eq_ignore_ascii_case(&p.arn)),
            PrincipalKind::Anonymous => false,
        }
    }

    /// Every account id and ARN the element names (for callers that check they exist).
    pub fn aws_values(&self) -> impl Iterator<Item = &str> {
        self.aws.iter().map(|e| match e {
            AwsPrincipal::Account(a) | AwsPrincipal::UniqueId(a) | AwsPrincipal::Arn(a, _) => {
                a.as_str()
            }
        })
    }
}

fn aws_match(e: &AwsPrincipal, p: &PrincipalInfo) -> Option<MatchKind> {
    let authenticated = !matches!(p.kind, PrincipalKind::Service | PrincipalKind::Anonymous);
    let hit = |kind: PrincipalKind, x: &str, y: &str| p.kind == kind && x == y;
    match e {
        AwsPrincipal::Account(a) => {
            (authenticated && *a == p.account).then_some(MatchKind::Account)
        }
        AwsPrincipal::Arn(x, ArnKind::User) => {
            hit(PrincipalKind::IamUser, x, &p.arn).then_some(MatchKind::Direct)
        }
        AwsPrincipal::Arn(x, ArnKind::Role) => {
            hit(PrincipalKind::AssumedRole, x, &p.principal_arn).then_some(MatchKind::Role)
        }
        AwsPrincipal::Arn(x, ArnKind::Session) => {
            hit(PrincipalKind::AssumedRole, x, &p.arn).then_some(MatchKind::Direct)
        }
        AwsPrincipal::Arn(x, ArnKind::FederatedUser) => {
            hit(PrincipalKind::FederatedUser, x, &p.arn).then_some(MatchKind::Direct)
        }
        AwsPrincipal::UniqueId(id) => match p.kind {
            PrincipalKind::IamUser if p.userid == *id => Some(MatchKind::Direct),
            PrincipalKind::AssumedRole if p.userid.split(':').next() == Some(id.as_str()) => {
                Some(MatchKind::Role)
            }
            _ => None,
        },
    }
}

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Unique ids look like `AIDAJQABLZS4A3QDU576Q`: a four-letter type prefix and base32 text.
fn is_unique_id(s: &str) -> bool {
    const PREFIXES: [&str; 4] = ["AIDA", "AROA", "AIPA", "ANPA"];
    (16..=128).contains(&s.len())
        && PREFIXES.iter().any(|p| s.starts_with(p))
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

fn parse_aws(value: &str) -> Option<AwsPrincipal> {
    if is_account_id(value) {
        return Some(AwsPrincipal::Account(value.to_string()));
    }
    if is_unique_id(value) {
        return Some(AwsPrincipal::UniqueId(value.to_string()));
    }
    let [_, _, service, region, account, resource] = arn::split(value)?;
    if !region.is_empty() || !is_account_id(account) {
        return None;
    }
    let named = |prefix: &str| {
        resource
            .strip_prefix(prefix)
            .is_some_and(|rest| !rest.is_empty() && !rest.ends_with('/'))
    };
    let kind = match service {
        "iam" if resource == "root" => return Some(AwsPrincipal::Account(account.to_string())),
        "iam" if named("user/") => ArnKind::User,
        "iam" if named("role/") => ArnKind::Role,
        "sts" if named("federated-user/") => ArnKind::FederatedUser,
        "sts"
            if resource
                .strip_prefix("assumed-role/")
                .is_some_and(is_role_session) =>
        {
            ArnKind::Session
        }
        _ => return None,
    };
    Some(AwsPrincipal::Arn(value.to_string(), kind))
}

/// `role-name/session-name`, both non-empty.
fn is_role_session(rest: &str) -> bool {
    matches!(rest.split_once('/'), Some((r, s)) if !r.is_empty() && !s.is_empty() && !s.contains('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCT: &str = "111122223333";

    fn spec(kind: &str, values: &[&str]) -> PrincipalSpec {
        let mut s = PrincipalSpec::default();
        for v in values {
            assert!(s.add(kind, v).is_ok(), "{v}");
        }
        s
    }

    fn role_session() -> PrincipalInfo {
        PrincipalInfo::assumed_role(
            "arn:aws:iam::111122223333:role/ops/Admin",
            "alice",
            "AROAEXAMPLEID123456",
        )
    }

    #[test]
    fn derived_identities() {
        let s = role_session();
        assert_eq!(s.arn, "arn:aws:sts::111122223333:assumed-role/Admin/alice");
        assert_eq!(s.principal_arn, "arn:aws:iam::111122223333:role/ops/Admin");
        assert_eq!(s.userid, "AROAEXAMPLEID123456:alice");
        let u = PrincipalInfo::iam_user("arn:aws:iam::111122223333:user/dev/bob", "AIDAEXAMPLE");
        assert_eq!(u.username.as_deref(), Some("bob"));
        assert_eq!(u.account, ACCT);
    }

    #[test]
    fn match_kinds() {
        let s = role_session();
        assert_eq!(
            spec("AWS", &[ACCT]).match_kind(&s),
            Some(MatchKind::Account)
        );
        assert_eq!(
            spec("AWS", &["arn:aws:iam::111122223333:root"]).match_kind(&s),
            Some(MatchKind::Account)
        );
        assert_eq!(
            spec("AWS", &["arn:aws:iam::111122223333:role/ops/Admin"]).match_kind(&s),
            Some(MatchKind::Role)
        );
        assert_eq!(
            spec("AWS", &["arn:aws:iam::111122223333:role/Admin"]).match_kind(&s),
            None
        );
        assert_eq!(
            spec(
                "AWS",
                &[ACCT, "arn:aws:sts::111122223333:assumed-role/Admin/alice"]
            )
            .match_kind(&s),
            Some(MatchKind::Direct)
        );
        assert_eq!(spec("AWS", &["444455556666"]).match_kind(&s), None);
        assert_eq!(spec("AWS", &["*"]).match_kind(&s), Some(MatchKind::Direct));
        assert_eq!(
            PrincipalSpec::any().match_kind(&PrincipalInfo::anonymous()),
            Some(MatchKind::Direct)
        );
    }

    #[test]
    fn services_match_service_callers_only() {
        let fargate = PrincipalInfo::service("fargate.amazonaws.com");
        let svc = spec("Service", &["fargate.amazonaws.com"]);
        assert_eq!(svc.match_kind(&fargate), Some(MatchKind::Direct));
        assert_eq!(
            svc.match_kind(&PrincipalInfo::service("ec2.amazonaws.com")),
            None
        );
        assert_eq!(svc.match_kind(&PrincipalInfo::root(ACCT)), None);
        assert_eq!(spec("AWS", &[ACCT]).match_kind(&fargate), None);
    }

    #[test]
    fn rejects_partial_wildcards_and_garbage() {
        let mut s = PrincipalSpec::default();
        for bad in [
            "arn:aws:iam::111122223333:user/*",
            "arn:aws:iam::*:root",
            "12345",
            "arn:aws:iam::111122223333:group/admins",
            "arn:aws:iam:us-east-1:111122223333:user/a",
            "arn:aws:sts::111122223333:assumed-role/Admin",
            "bob",
            "",
        ] {
            assert!(s.add("AWS", bad).is_err(), "{bad}");
        }
        assert!(s.add("Bogus", "x").is_err());
        assert!(s.add("Service", "*.amazonaws.com").is_err());
    }

    #[test]
    fn not_principal_requires_every_layer() {
        let s = role_session();
        let session = "arn:aws:sts::111122223333:assumed-role/Admin/alice";
        let role = "arn:aws:iam::111122223333:role/ops/Admin";
        assert!(!spec("AWS", &[session]).exempts(&s));
        assert!(!spec("AWS", &[session, role]).exempts(&s));
        assert!(spec("AWS", &[session, role, ACCT]).exempts(&s));
        assert!(spec("AWS", &[ACCT]).exempts(&PrincipalInfo::root(ACCT)));
        let u = PrincipalInfo::iam_user("arn:aws:iam::111122223333:user/bob", "AIDAEXAMPLE");
        assert!(!spec("AWS", &["arn:aws:iam::111122223333:user/bob"]).exempts(&u));
        assert!(spec("AWS", &["arn:aws:iam::111122223333:user/bob", ACCT]).exempts(&u));
        assert!(!spec("AWS", &[ACCT]).exempts(&u));
    }
}
