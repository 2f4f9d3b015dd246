//! STS `GetCallerIdentity`.

use base64::Engine as _;
use ferrogate_store::TxRef;
use ferrogate_types::{Principal, PrincipalKind};
use ferrogate_wire::query::{QueryParams, XmlWriter};
use serde_json::{json, Value};

use super::inline::check_identity_document;
use super::roles::load_role;
use super::{trail_date, Ctx, Params, Reply};
use crate::authz::Action;
use crate::ids;
use crate::model::{keys, tables, Session};
use crate::validate::Checks;
use crate::IamError;

const NS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// `GetCallerIdentity`: no parameters; never denied.
#[derive(Debug, Clone)]
pub struct GetCallerIdentityInput;

impl GetCallerIdentityInput {
    pub(crate) fn decode(_: &QueryParams) -> Result<Self, IamError> {
        Ok(Self)
    }

    pub(crate) fn action(&self, _caller: &Principal) -> Action {
        Action {
            action: "sts:GetCallerIdentity".into(),
            resource: "*".into(),
            trust_of: None,
        }
    }

    pub(crate) fn request_parameters(&self) -> Value {
        Value::Null
    }

    pub(crate) fn execute(&self, _tx: TxRef<'_>, ctx: Ctx<'_>) -> Result<Reply, IamError> {
        let p = ctx.principal;
        let mut w = XmlWriter::response("GetCallerIdentity", NS);
        w.leaf("Arn", &p.arn)
            .leaf("UserId", &p.principal_id)
            .leaf("Account", p.account.as_str());
        Ok(Reply {
            body: w.finish(ctx.request_id),
            response_elements: Value::Null,
            resources: Vec::new(),
        })
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
}

impl AssumeRoleInput {
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
        })
    }

    /// `sts:ExternalId` and `sts:RoleSessionName`, which trust policies commonly require.
    pub(crate) fn condition_keys(&self) -> Vec<(String, Vec<String>)> {
        let mut k = vec![(
            "sts:RoleSessionName".to_owned(),
            vec![self.session_name.clone()],
        )];
        if let Some(e) = &self.external_id {
            k.push(("sts:ExternalId".into(), vec![e.clone()]));
        }
        k
    }

    /// The role must be exactly the one the ARN names (path and spelling included): the
    /// decision is made on its stored ARN, and a near miss is refused as AWS refuses it.
    pub(crate) fn access(
        &self,
        tx: &dyn ferrogate_store::ReadTx,
        caller: &Principal,
    ) -> Result<crate::op::Access, IamError> {
        let key = keys::entity(
            &self.role_account,
            crate::model::EntityKind::Role,
            &self.role_name,
        );
        let Some(role) = tables::ROLES.get(tx, &key)? else {
            return Err(IamError::AccessDenied(self.denied(caller)));
        };
        let arn = role.arn(&self.role_account);
        if arn != self.role_arn {
            return Err(IamError::AccessDenied(self.denied(caller)));
        }
        Ok(crate::op::Access {
            resource: Some(arn),
            keys: super::resource_tag_keys(&role.tags),
            ..Default::default()
        })
    }

    fn denied(&self, caller: &Principal) -> String {
        format!(
            "User: {} is not authorized to perform: sts:AssumeRole on resource: {}",
            caller.arn, self.role_arn
        )
    }

    pub(crate) fn action(&self, _caller: &Principal) -> Action {
        Action {
            action: "sts:AssumeRole".into(),
            resource: self.role_arn.clone(),
            trust_of: Some((self.role_account.clone(), self.role_name.clone())),
        }
    }

    pub(crate) fn request_parameters(&self) -> Value {
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

    pub(crate) fn execute(&self, mut tx: TxRef<'_>, ctx: Ctx<'_>) -> Result<Reply, IamError> {
        // Authorization already required the role's trust policy to allow this caller, so
        // the role exists; a role deleted since then is reported like AWS reports a missing
        // role, as a refusal.
        let role = load_role(tx.read(), &self.role_account, &self.role_name)
            .ok()
            .filter(|r| r.arn(&self.role_account) == self.role_arn)
            .ok_or_else(|| IamError::AccessDenied(self.denied(ctx.principal)))?;
        let chained = matches!(ctx.principal.kind, PrincipalKind::AssumedRole { .. });
        let max = if chained {
            CHAINED_MAX
        } else {
            i64::from(role.max_session_duration)
        };
        let duration = self.duration.unwrap_or(3600.min(max));
        if duration > max {
            return Err(IamError::ValidationError(
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
                    .into(),
            ));
        }
        let secret = ids::secret_access_key().ok_or_else(|| {
            IamError::Internal(ferrogate_store::StoreError::Unavailable(
                "no randomness".into(),
            ))
        })?;
        let token = session_token()?;
        let access_key_id = ids::temporary_access_key_id();
        let expiration = ctx.now.plus_millis(duration * 1000);
        let sealed = ctx
            .sealer
            .seal(secret.as_bytes(), access_key_id.as_bytes())?;
        let session = Session {
            access_key_id: access_key_id.clone(),
            account: self.role_account.clone(),
            role_name: role.name.clone(),
            role_path: role.path.clone(),
            role_id: role.role_id.clone(),
            session_name: self.session_name.clone(),
            sealed_secret: base64::engine::general_purpose::STANDARD.encode(sealed),
            token_sha256: token_hash(&token),
            created: ctx.now,
            expiration,
            policy: self.policy.clone(),
        };
        tables::SESSIONS.put(tx.write()?, &keys::key(&access_key_id), &session)?;
        let assumed_id = format!("{}:{}", role.role_id, self.session_name);
        let assumed_arn = format!(
            "arn:aws:sts::{}:assumed-role/{}/{}",
            self.role_account, role.name, self.session_name
        );
        let mut w = XmlWriter::response("AssumeRole", NS);
        w.open("Credentials");
        w.leaf("AccessKeyId", &access_key_id)
            .leaf("SecretAccessKey", &secret)
            .leaf("SessionToken", &token);
        w.leaf("Expiration", &expiration.iso8601());
        w.close("Credentials");
        w.open("AssumedRoleUser")
            .leaf("AssumedRoleId", &assumed_id)
            .leaf("Arn", &assumed_arn)
            .close("AssumedRoleUser");
        Ok(Reply {
            body: w.finish(ctx.request_id),
            // Neither the secret nor the session token is ever recorded.
            response_elements: json!({
                "credentials": { "accessKeyId": access_key_id, "expiration": trail_date(expiration) },
                "assumedRoleUser": { "assumedRoleId": assumed_id, "arn": assumed_arn },
            }),
            resources: vec![("AWS::IAM::Role".into(), self.role_arn.clone())],
        })
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
    aws_lc_rs::rand::fill(b.as_mut()).map_err(|_| {
        IamError::Internal(ferrogate_store::StoreError::Unavailable(
            "no randomness".into(),
        ))
    })?;
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
