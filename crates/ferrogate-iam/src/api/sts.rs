//! STS: `GetCallerIdentity` and `AssumeRole`.

use std::sync::Arc;

use base64::Engine as _;
use ferrogate_api::{
    Authorization, Authorized, Check, Done, Exec, Operation, Recorded, Reply, RequestTags,
    Resource, ResourcePolicy, Scope, Sent, XmlOutput,
};
use ferrogate_policy::{Policy, PolicyKind, ResourcePolicyKind};
use ferrogate_types::{Principal, PrincipalKind};
use ferrogate_wire::query::{QueryParams, XmlWriter};
use serde_json::{json, Value};

use super::inline::check_identity_document;
use super::roles::load_role;
use super::{trail_date, Params, Sts};
use crate::ids;
use crate::model::{keys, tables, Session};
use crate::validate::Checks;
use crate::IamError;

/// `GetCallerIdentity`: no parameters; never denied.
#[derive(Debug, Clone)]
pub struct GetCallerIdentityInput;

impl GetCallerIdentityInput {
    pub(crate) fn decode(_: &QueryParams) -> Result<Self, IamError> {
        Ok(Self)
    }
}

/// `GetCallerIdentity`'s answer.
#[derive(Debug, Clone)]
pub struct CallerIdentity {
    arn: String,
    user_id: String,
    account: String,
}

impl XmlOutput for CallerIdentity {
    const HAS_RESULT: bool = true;
    fn write(&self, w: &mut XmlWriter) {
        w.leaf("Arn", &self.arn)
            .leaf("UserId", &self.user_id)
            .leaf("Account", &self.account);
    }
}

impl Operation for GetCallerIdentityInput {
    type Output = CallerIdentity;

    /// "No permissions are required to perform this operation" (STS API Reference).
    fn authorize(&self, _: &Scope<'_, Sts>) -> Result<Authorization, IamError> {
        Ok(Authorization::not_required("sts:GetCallerIdentity"))
    }

    fn execute(_: &Authorized<Self>, x: Exec<'_, Sts>) -> Done<Self> {
        let Exec { ctx, .. } = x;
        let p = ctx.principal;
        Ok(Reply::new(CallerIdentity {
            arn: p.arn.clone(),
            user_id: p.principal_id.clone(),
            account: p.account.to_string(),
        }))
    }
}

impl Recorded for GetCallerIdentityInput {
    fn request_parameters(&self, _: Sent<'_>) -> Value {
        Value::Null
    }
}

/// Session lengths STS accepts, in seconds (the upper bound is the role's own maximum).
const MIN_SESSION: i64 = 900;
/// Role chaining (a role session assuming a role) is limited to one hour, as in STS.
const CHAINED_MAX: i64 = 3600;

/// `AssumeRole`: temporary credentials for a role whose trust policy allows the caller.
#[derive(Debug, Clone)]
pub struct AssumeRoleInput {
    pub(crate) role_arn: String,
    pub(crate) role_account: String,
    pub(crate) role_name: String,
    session_name: String,
    duration: Option<i64>,
    policy: Option<String>,
    external_id: Option<String>,
    /// `aws:SourceAccount` and `aws:SourceArn`, set when a service assumes the role for a
    /// resource (ECS for a task).
    source: Option<(String, String)>,
    /// Whether credentials are issued (a service that calls as the session itself, through
    /// the executor, needs none).
    mint: bool,
}

impl AssumeRoleInput {
    /// `role_arn` assumed by a service principal for one of its resources, as ECS assumes a
    /// task's roles: session `session_name` (the task id), with `aws:SourceAccount` and
    /// `aws:SourceArn` for the trust policy's conditions (the confused-deputy guard AWS
    /// documents). With `mint` false no credentials are issued or stored.
    ///
    /// # Errors
    /// `ValidationError` for a role ARN or session name STS would refuse.
    pub fn for_service(
        role_arn: &str,
        session_name: &str,
        source_account: &str,
        source_arn: &str,
        mint: bool,
    ) -> Result<Self, IamError> {
        let mut c = Checks::new();
        c.length(role_arn, "roleArn", 20, 2048);
        c.name(session_name, "roleSessionName", 64)
            .length(session_name, "roleSessionName", 2, 64);
        c.done()?;
        let (role_account, role_name) = parse_role_arn(role_arn)
            .ok_or_else(|| IamError::ValidationError(format!("{role_arn} is invalid")))?;
        Ok(Self {
            role_arn: role_arn.into(),
            role_account,
            role_name,
            session_name: session_name.into(),
            duration: None,
            policy: None,
            external_id: None,
            source: Some((source_account.into(), source_arn.into())),
            mint,
        })
    }

    pub(crate) fn decode(p: &QueryParams) -> Result<Self, IamError> {
        let q = Params(p);
        let role_arn = q.required("RoleArn")?;
        let session_name = q.required("RoleSessionName")?;
        let duration = q.int("DurationSeconds")?;
        let policy = q.optional("Policy");
        let external_id = q.optional("ExternalId");
        // Parameters that would narrow or tag the session are refused rather than ignored:
        // silently dropping them would hand out more than the caller asked for.
        let unsupported = [
            ("PolicyArns.member.1.arn", "PolicyArns"),
            ("Tags.member.1.Key", "Tags"),
            ("TransitiveTagKeys.member.1", "TransitiveTagKeys"),
            ("SourceIdentity", "SourceIdentity"),
            ("SerialNumber", "SerialNumber"),
            ("TokenCode", "TokenCode"),
            ("ProvidedContexts.member.1.ProviderArn", "ProvidedContexts"),
        ];
        if let Some((_, name)) = unsupported.iter().find(|(param, _)| p.get(param).is_some()) {
            return Err(IamError::ValidationError(format!(
                "{name} is not supported by Ferrogate yet."
            )));
        }
        let mut c = Checks::new();
        c.length(role_arn, "roleArn", 20, 2048);
        c.name(session_name, "roleSessionName", 64)
            .length(session_name, "roleSessionName", 2, 64);
        if let Some(d) = duration {
            c.range(d, "durationSeconds", MIN_SESSION, 43200);
        }
        if let Some(doc) = policy {
            c.policy_chars(doc, "policy", 2048);
        }
        if let Some(e) = external_id {
            c.length(e, "externalId", 2, 1224);
        }
        c.done()?;
        let (role_account, role_name) = parse_role_arn(role_arn)
            .ok_or_else(|| IamError::ValidationError(format!("{role_arn} is invalid")))?;
        if let Some(doc) = policy {
            check_identity_document(doc)?;
        }
        Ok(Self {
            role_arn: role_arn.into(),
            role_account,
            role_name,
            session_name: session_name.into(),
            duration,
            policy: policy.map(str::to_owned),
            external_id: external_id.map(str::to_owned),
            source: None,
            mint: true,
        })
    }

    fn denied(&self, caller: &Principal) -> String {
        format!(
            "User: {} is not authorized to perform: sts:AssumeRole on resource: {}",
            caller.arn, self.role_arn
        )
    }
}

/// A session's credentials. `Debug` shows neither the secret nor the session token.
struct SessionCredentials {
    access_key_id: String,
    secret: zeroize::Zeroizing<String>,
    token: zeroize::Zeroizing<String>,
    expiration: ferrogate_types::Timestamp,
}

/// `AssumeRole`'s answer: the session (as a principal) and its credentials, unless none
/// were asked for ([`AssumeRoleInput::for_service`]). `Debug` shows neither the secret nor
/// the session token.
pub struct AssumedRole {
    credentials: Option<SessionCredentials>,
    assumed_id: String,
    assumed_arn: String,
    principal: Principal,
}

impl AssumedRole {
    /// The session as a caller: `arn:aws:sts::<acct>:assumed-role/<role>/<session>`, with
    /// the role's permissions (its policies, the account's SCPs). Without credentials it
    /// has no access key: only the server can call as it (through the executor).
    pub fn principal(&self) -> &Principal {
        &self.principal
    }
}

impl std::fmt::Debug for AssumedRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AssumedRole")
            .field(
                "access_key_id",
                &self.credentials.as_ref().map(|c| &c.access_key_id),
            )
            .field("assumed_arn", &self.assumed_arn)
            .finish_non_exhaustive()
    }
}

impl XmlOutput for AssumedRole {
    const HAS_RESULT: bool = true;
    fn write(&self, w: &mut XmlWriter) {
        if let Some(c) = &self.credentials {
            w.open("Credentials");
            w.leaf("AccessKeyId", &c.access_key_id)
                .leaf("SecretAccessKey", &c.secret)
                .leaf("SessionToken", &c.token);
            w.leaf("Expiration", &c.expiration.iso8601());
            w.close("Credentials");
        }
        w.open("AssumedRoleUser")
            .leaf("AssumedRoleId", &self.assumed_id)
            .leaf("Arn", &self.assumed_arn)
            .close("AssumedRoleUser");
    }
}

impl Operation for AssumeRoleInput {
    type Output = AssumedRole;

    /// `sts:AssumeRole` on the role exactly as the ARN names it (path and spelling included:
    /// a near miss is refused as AWS refuses it), decided with the role's trust policy as its
    /// resource policy, `sts:RoleSessionName` and `sts:ExternalId`.
    fn authorize(&self, s: &Scope<'_, Sts>) -> Result<Authorization, IamError> {
        let key = keys::entity(
            &self.role_account,
            crate::model::EntityKind::Role,
            &self.role_name,
        );
        let Some(role) = tables::ROLES.get(s.tx, &key)? else {
            return Err(IamError::AccessDenied(self.denied(s.principal)));
        };
        let arn = role.arn(&self.role_account);
        if arn != self.role_arn {
            return Err(IamError::AccessDenied(self.denied(s.principal)));
        }
        let trust = Policy::parse(&role.trust_policy, PolicyKind::RoleTrust).map_err(|e| {
            tracing::error!(role = %arn, error = %e, "a stored trust policy does not parse; refusing");
            IamError::AccessDenied(self.denied(s.principal))
        })?;
        let mut check = Check::new(
            "sts:AssumeRole",
            Resource::Existing {
                arn,
                tags: role.tags.into_iter().map(|t| (t.key, t.value)).collect(),
            },
            RequestTags::None,
        )
        .key("sts:RoleSessionName", vec![self.session_name.clone()])
        .policy(ResourcePolicy {
            name: format!("arn:aws:iam::{}:role-trust-policy", self.role_account),
            policy: Arc::new(trust),
            kind: ResourcePolicyKind::RoleTrust,
            account: self.role_account.clone(),
        });
        if let Some(e) = &self.external_id {
            check = check.key("sts:ExternalId", vec![e.clone()]);
        }
        if let Some((account, arn)) = &self.source {
            check = check
                .key("aws:SourceAccount", vec![account.clone()])
                .key("aws:SourceArn", vec![arn.clone()]);
        }
        Ok(Authorization::of(check))
    }

    fn execute(this: &Authorized<Self>, x: Exec<'_, Sts>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        // Authorization already required the role's trust policy to allow this caller, so
        // the role exists; a role deleted since then is reported like AWS reports a missing
        // role, as a refusal.
        let role = load_role(tx.read(), &this.role_account, &this.role_name)
            .ok()
            .filter(|r| r.arn(&this.role_account) == this.role_arn)
            .ok_or_else(|| IamError::AccessDenied(this.denied(ctx.principal)))?;
        let chained = matches!(ctx.principal.kind, PrincipalKind::AssumedRole { .. });
        let max = if chained {
            CHAINED_MAX
        } else {
            i64::from(role.max_session_duration)
        };
        let duration = this.duration.unwrap_or(3600.min(max));
        if duration > max {
            return Err(IamError::ValidationError(
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
                    .into(),
            ));
        }
        let assumed_id = format!("{}:{}", role.role_id, this.session_name);
        let assumed_arn = format!(
            "arn:aws:sts::{}:assumed-role/{}/{}",
            this.role_account, role.name, this.session_name
        );
        let expiration = ctx.now.plus_millis(duration * 1000);
        let credentials = if this.mint {
            Some(mint(&mut tx, &ctx, this, &role, expiration)?)
        } else {
            None
        };
        let account = ferrogate_types::AccountId::parse(&this.role_account)
            .map_err(|_| IamError::ValidationError(format!("{} is invalid", this.role_arn)))?;
        let principal = Principal {
            account,
            arn: assumed_arn.clone(),
            principal_id: assumed_id.clone(),
            access_key_id: credentials.as_ref().map(|c| c.access_key_id.clone()),
            kind: PrincipalKind::AssumedRole {
                role_name: role.name.clone(),
                role_arn: this.role_arn.clone(),
                role_id: role.role_id.clone(),
                session_name: this.session_name.clone(),
                session: ferrogate_types::SessionContext {
                    creation_date: ctx.now,
                    mfa_authenticated: false,
                },
            },
        };
        // Neither the secret nor the session token is ever recorded.
        let mut elements = json!({
            "assumedRoleUser": { "assumedRoleId": assumed_id, "arn": assumed_arn },
        });
        if let Some(c) = &credentials {
            elements["credentials"] =
                json!({ "accessKeyId": c.access_key_id, "expiration": trail_date(expiration) });
        }
        Ok(Reply::new(AssumedRole {
            credentials,
            assumed_id,
            assumed_arn,
            principal,
        })
        .elements(elements)
        .resource("AWS::IAM::Role", this.role_arn.clone()))
    }
}

/// Issues and stores a session's credentials (the secret sealed, the token as its hash).
fn mint(
    tx: &mut ferrogate_store::TxRef<'_>,
    ctx: &ferrogate_api::Ctx<'_>,
    this: &AssumeRoleInput,
    role: &crate::model::Role,
    expiration: ferrogate_types::Timestamp,
) -> Result<SessionCredentials, IamError> {
    let secret = ids::secret_access_key().ok_or(IamError::RandomnessUnavailable)?;
    let token = session_token()?;
    let access_key_id = ids::temporary_access_key_id().ok_or(IamError::RandomnessUnavailable)?;
    let sealed = ctx
        .sealer
        .seal(secret.as_bytes(), access_key_id.as_bytes())?;
    let session = Session {
        access_key_id: access_key_id.clone(),
        account: this.role_account.clone(),
        role_name: role.name.clone(),
        role_path: role.path.clone(),
        role_id: role.role_id.clone(),
        session_name: this.session_name.clone(),
        sealed_secret: base64::engine::general_purpose::STANDARD.encode(sealed),
        token_sha256: token_hash(&token),
        created: ctx.now,
        expiration,
        policy: this.policy.clone(),
    };
    tables::SESSIONS.put(tx.write()?, &keys::key(&access_key_id), &session)?;
    Ok(SessionCredentials {
        access_key_id,
        secret,
        token,
        expiration,
    })
}

impl Recorded for AssumeRoleInput {
    fn request_parameters(&self, _: Sent<'_>) -> Value {
        let mut v = json!({ "roleArn": self.role_arn, "roleSessionName": self.session_name });
        if let Some(e) = &self.external_id {
            v["externalId"] = json!(e);
        }
        if let Some(d) = self.duration {
            v["durationSeconds"] = json!(d);
        }
        if let Some(p) = &self.policy {
            v["policy"] = json!(p);
        }
        v
    }
}

/// `arn:aws:iam::<acct>:role/<path/><name>` → (account, name).
pub(crate) fn parse_role_arn(arn: &str) -> Option<(String, String)> {
    let rest = arn.strip_prefix("arn:aws:iam::")?;
    let (account, resource) = rest.split_once(':')?;
    let path_and_name = resource.strip_prefix("role/")?;
    let name = path_and_name.rsplit('/').next()?;
    let ok = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()) && !name.is_empty();
    ok.then(|| (account.to_owned(), name.to_owned()))
}

/// A session token: 96 random bytes, base64. Only its SHA-256 is stored.
fn session_token() -> Result<zeroize::Zeroizing<String>, IamError> {
    let mut b = zeroize::Zeroizing::new([0u8; 96]);
    aws_lc_rs::rand::fill(b.as_mut()).map_err(|_| IamError::RandomnessUnavailable)?;
    Ok(zeroize::Zeroizing::new(
        base64::engine::general_purpose::STANDARD.encode(b.as_ref()),
    ))
}

/// Hex SHA-256 of a session token.
pub(crate) fn token_hash(token: &str) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
