//! CreateAccessKey, ListAccessKeys, UpdateAccessKey, DeleteAccessKey.
//!
//! Without `UserName` these act on the caller: the calling IAM user, or the root user's
//! own keys when the caller is root.

use base64::Engine as _;
use ferrogate_api::{
    Authorization, Authorized, Check, Done, Exec, NoResult, Operation, Recorded, Reply,
    RequestTags, Scope, Sent, XmlOutput,
};
use ferrogate_store::{Direction, ReadTx};
use ferrogate_types::Principal;
use ferrogate_wire::query::{QueryParams, XmlWriter};
use serde_json::{json, Value};

use super::output::Listing;
use super::users::{caller_user_name, load_user};
use super::{trail_date, user_or_caller, Iam, Page, Params};
use crate::ids;
use crate::model::{keys, tables, AccessKey, KeyRef, KeyStatus};
use crate::validate::Checks;
use crate::IamError;
/// IAM's quota of access keys per user (and for the root user).
pub const MAX_KEYS_PER_USER: usize = 2;

/// The user an access-key operation applies to: `Some(name)`, or `None` for root.
fn target(explicit: Option<&str>, caller: &Principal) -> Result<Option<String>, IamError> {
    match explicit {
        Some(n) => Ok(Some(n.to_owned())),
        None if caller.is_root() => Ok(None),
        None => caller_user_name(caller)
            .map(|n| Some(n.to_owned()))
            .ok_or_else(|| {
                IamError::ValidationError(
                    "Must specify userName when calling with non-User credentials".into(),
                )
            }),
    }
}

pub(crate) fn keys_of(
    tx: &dyn ReadTx,
    account: &str,
    user: Option<&str>,
) -> Result<Vec<AccessKey>, IamError> {
    let refs = tables::USER_KEYS.scan(
        tx,
        &keys::user_keys(account, user),
        None,
        Direction::Forward,
        1000,
    )?;
    let mut out = Vec::with_capacity(refs.len());
    for (_, r) in refs {
        if let Some(k) = tables::KEYS.get(tx, &keys::key(&r.access_key_id))? {
            out.push(k);
        }
    }
    out.sort_by_key(|k| k.create_date);
    Ok(out)
}

fn no_such_key(id: &str) -> IamError {
    IamError::NoSuchEntity(format!("The Access Key with id {id} cannot be found."))
}

/// Resolves the user (checking it exists) and returns the stored user name.
fn resolve(
    tx: &dyn ReadTx,
    account: &str,
    user: Option<String>,
) -> Result<Option<String>, IamError> {
    match user {
        Some(n) => Ok(Some(load_user(tx, account, &n)?.name)),
        None => Ok(None),
    }
}

/// Creates an access key with a fresh secret; used by `CreateAccessKey` and at bootstrap.
pub(crate) fn create_key(
    tx: &mut dyn ferrogate_store::WriteTx,
    sealer: &dyn ferrogate_store::seal::Sealer,
    account: &str,
    user: Option<&str>,
    now: ferrogate_types::Timestamp,
) -> Result<(AccessKey, zeroize::Zeroizing<String>), IamError> {
    let secret = ids::secret_access_key().ok_or(IamError::RandomnessUnavailable)?;
    let id = ids::access_key_id().ok_or(IamError::RandomnessUnavailable)?;
    let sealed = sealer.seal(secret.as_bytes(), id.as_bytes())?;
    let key = AccessKey {
        access_key_id: id.clone(),
        account: account.to_owned(),
        user_name: user.map(str::to_owned),
        status: KeyStatus::Active,
        create_date: now,
        sealed_secret: base64::engine::general_purpose::STANDARD.encode(sealed),
    };
    tables::KEYS.put(tx, &keys::key(&id), &key)?;
    tables::USER_KEYS.put(
        tx,
        &keys::user_key(account, user, &id),
        &KeyRef { access_key_id: id },
    )?;
    Ok((key, secret))
}

/// `action` on the user an access-key operation names (or the caller's own user).
fn on_user(
    s: &Scope<'_, Iam>,
    action: &str,
    user: Option<&str>,
) -> Result<Authorization, IamError> {
    Ok(Authorization::of(Check::new(
        action,
        user_or_caller(s, user)?,
        RequestTags::None,
    )))
}

fn user_parameters(user: Option<&String>) -> Value {
    user.map_or(Value::Null, |n| json!({ "userName": n }))
}

/// `CreateAccessKey`.
#[derive(Debug, Clone)]
pub struct CreateAccessKeyInput {
    user_name: Option<String>,
}

impl CreateAccessKeyInput {
    pub(crate) fn decode(p: &QueryParams) -> Result<Self, IamError> {
        let user_name = Params(p).optional("UserName").map(str::to_owned);
        if let Some(n) = &user_name {
            Checks::new().name(n, "userName", 128).done()?;
        }
        Ok(Self { user_name })
    }
}

/// A new access key with its secret: the one and only place a secret leaves the server is
/// its owner's answer. It is never part of the audit record (AWS omits it too), and
/// `Debug` does not show it.
pub struct NewAccessKey {
    key: AccessKey,
    secret: zeroize::Zeroizing<String>,
}

impl std::fmt::Debug for NewAccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewAccessKey")
            .field("access_key_id", &self.key.access_key_id)
            .finish_non_exhaustive()
    }
}

impl XmlOutput for NewAccessKey {
    const HAS_RESULT: bool = true;
    fn write(&self, w: &mut XmlWriter) {
        let key = &self.key;
        w.open("AccessKey");
        w.leaf_opt("UserName", key.user_name.as_deref());
        w.leaf("AccessKeyId", &key.access_key_id)
            .leaf("Status", key.status.as_str());
        w.leaf("SecretAccessKey", &self.secret);
        w.leaf("CreateDate", &key.create_date.iso8601());
        w.close("AccessKey");
    }
}

impl Operation for CreateAccessKeyInput {
    type Output = NewAccessKey;

    fn authorize(&self, s: &Scope<'_, Iam>) -> Result<Authorization, IamError> {
        on_user(s, "iam:CreateAccessKey", self.user_name.as_deref())
    }

    fn execute(op: &Authorized<Self>, x: Exec<'_, Iam>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let account = ctx.principal.account.as_str();
        let user = resolve(
            tx.read(),
            account,
            target(op.user_name.as_deref(), ctx.principal)?,
        )?;
        if keys_of(tx.read(), account, user.as_deref())?.len() >= MAX_KEYS_PER_USER {
            return Err(IamError::LimitExceeded(format!(
                "Cannot exceed quota for AccessKeysPerUser: {MAX_KEYS_PER_USER}"
            )));
        }
        let (key, secret) = create_key(tx.write()?, ctx.sealer, account, user.as_deref(), ctx.now)?;
        let mut elements = json!({ "accessKeyId": key.access_key_id, "status": "Active", "createDate": trail_date(key.create_date) });
        if let Some(u) = &key.user_name {
            elements["userName"] = json!(u);
        }
        let id = key.access_key_id.clone();
        Ok(Reply::new(NewAccessKey { key, secret })
            .elements(json!({ "accessKey": elements }))
            .resource("AWS::IAM::AccessKey", id))
    }
}

impl Recorded for CreateAccessKeyInput {
    fn request_parameters(&self, _: Sent<'_>) -> Value {
        user_parameters(self.user_name.as_ref())
    }
}

/// `ListAccessKeys`.
#[derive(Debug, Clone)]
pub struct ListAccessKeysInput {
    user_name: Option<String>,
    page: Page,
}

impl ListAccessKeysInput {
    pub(crate) fn decode(p: &QueryParams) -> Result<Self, IamError> {
        let q = Params(p);
        let user_name = q.optional("UserName").map(str::to_owned);
        if let Some(n) = &user_name {
            Checks::new().name(n, "userName", 128).done()?;
        }
        Ok(Self {
            user_name,
            page: Page::decode(&q)?,
        })
    }
}

impl Operation for ListAccessKeysInput {
    type Output = Listing<AccessKey>;

    fn authorize(&self, s: &Scope<'_, Iam>) -> Result<Authorization, IamError> {
        on_user(s, "iam:ListAccessKeys", self.user_name.as_deref())
    }

    fn execute(i: &Authorized<Self>, x: Exec<'_, Iam>) -> Done<Self> {
        let Exec { tx, ctx, .. } = x;
        let account = ctx.principal.account.as_str();
        let user = resolve(
            tx.read(),
            account,
            target(i.user_name.as_deref(), ctx.principal)?,
        )?;
        let all = keys_of(tx.read(), account, user.as_deref())?;
        // At most two keys per user: paging is trivial but honoured.
        let start = match &i.page.marker {
            None => 0,
            Some(m) => all
                .iter()
                .position(|k| &k.access_key_id == m)
                .map(|n| n + 1)
                .ok_or_else(|| IamError::ValidationError("Invalid Marker.".into()))?,
        };
        let total = all.len();
        let page: Vec<AccessKey> = all.into_iter().skip(start).take(i.page.max_items).collect();
        let next = (start + page.len() < total)
            .then(|| page.last().map(|k| k.access_key_id.clone()))
            .flatten();
        let mut out = Listing::new("AccessKeyMetadata", page, next);
        if let Some(u) = user {
            out.trailer.push(("UserName", u));
        }
        Ok(Reply::new(out))
    }
}

impl Recorded for ListAccessKeysInput {
    fn request_parameters(&self, _: Sent<'_>) -> Value {
        user_parameters(self.user_name.as_ref())
    }
}

/// Finds `id` among the target user's keys.
fn owned_key(
    tx: &dyn ReadTx,
    account: &str,
    user: Option<&str>,
    id: &str,
) -> Result<AccessKey, IamError> {
    match tables::KEYS.get(tx, &keys::key(id))? {
        Some(k)
            if k.account == account
                && k.user_name.as_deref().map(str::to_ascii_lowercase)
                    == user.map(str::to_ascii_lowercase) =>
        {
            Ok(k)
        }
        _ => Err(no_such_key(id)),
    }
}

/// The key `UpdateAccessKey` and `DeleteAccessKey` act on: `AccessKeyId`, of `UserName` or
/// of the caller.
#[derive(Debug, Clone)]
struct KeyOfUser {
    user_name: Option<String>,
    access_key_id: String,
}

impl KeyOfUser {
    /// Reads both parameters and queues their checks on `c` (the caller runs them).
    fn decode(q: &Params<'_>, c: &mut Checks) -> Result<Self, IamError> {
        let user_name = q.optional("UserName").map(str::to_owned);
        let access_key_id = q.required("AccessKeyId")?.to_owned();
        if let Some(n) = &user_name {
            c.name(n, "userName", 128);
        }
        c.word(&access_key_id, "accessKeyId", 16, 128);
        Ok(Self {
            user_name,
            access_key_id,
        })
    }

    fn authorize(&self, s: &Scope<'_, Iam>, action: &str) -> Result<Authorization, IamError> {
        on_user(s, action, self.user_name.as_deref())
    }

    /// The stored name of the key's user (`None`: root) and the key, which must be theirs.
    fn load(
        &self,
        tx: &dyn ReadTx,
        account: &str,
        caller: &Principal,
    ) -> Result<(Option<String>, AccessKey), IamError> {
        let user = resolve(tx, account, target(self.user_name.as_deref(), caller)?)?;
        let key = owned_key(tx, account, user.as_deref(), &self.access_key_id)?;
        Ok((user, key))
    }

    fn request_parameters(&self, status: Option<KeyStatus>) -> Value {
        let mut v = json!({ "accessKeyId": self.access_key_id });
        if let Some(s) = status {
            v["status"] = json!(s.as_str());
        }
        if let Some(n) = &self.user_name {
            v["userName"] = json!(n);
        }
        v
    }
}

/// `UpdateAccessKey`.
#[derive(Debug, Clone)]
pub struct UpdateAccessKeyInput {
    key: KeyOfUser,
    status: KeyStatus,
}

impl UpdateAccessKeyInput {
    pub(crate) fn decode(p: &QueryParams) -> Result<Self, IamError> {
        let q = Params(p);
        let mut c = Checks::new();
        let key = KeyOfUser::decode(&q, &mut c)?;
        let status = q.required("Status")?;
        c.one_of(status, "status", &["Active", "Inactive", "Expired"]);
        c.done()?;
        let status = match status {
            "Active" => KeyStatus::Active,
            "Inactive" => KeyStatus::Inactive,
            _ => {
                return Err(IamError::InvalidInput(
                    "Status Expired cannot be set on an access key.".into(),
                ))
            }
        };
        Ok(Self { key, status })
    }
}

impl Operation for UpdateAccessKeyInput {
    type Output = NoResult;

    fn authorize(&self, s: &Scope<'_, Iam>) -> Result<Authorization, IamError> {
        self.key.authorize(s, "iam:UpdateAccessKey")
    }

    fn execute(i: &Authorized<Self>, x: Exec<'_, Iam>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let account = ctx.principal.account.as_str();
        let (_, mut key) = i.key.load(tx.read(), account, ctx.principal)?;
        key.status = i.status;
        tables::KEYS.put(tx.write()?, &keys::key(&key.access_key_id), &key)?;
        Ok(Reply::new(NoResult).resource("AWS::IAM::AccessKey", key.access_key_id))
    }
}

impl Recorded for UpdateAccessKeyInput {
    fn request_parameters(&self, _: Sent<'_>) -> Value {
        self.key.request_parameters(Some(self.status))
    }
}

/// `DeleteAccessKey`.
#[derive(Debug, Clone)]
pub struct DeleteAccessKeyInput {
    key: KeyOfUser,
}

impl DeleteAccessKeyInput {
    pub(crate) fn decode(p: &QueryParams) -> Result<Self, IamError> {
        let mut c = Checks::new();
        let key = KeyOfUser::decode(&Params(p), &mut c)?;
        c.done()?;
        Ok(Self { key })
    }
}

impl Operation for DeleteAccessKeyInput {
    type Output = NoResult;

    fn authorize(&self, s: &Scope<'_, Iam>) -> Result<Authorization, IamError> {
        self.key.authorize(s, "iam:DeleteAccessKey")
    }

    fn execute(i: &Authorized<Self>, x: Exec<'_, Iam>) -> Done<Self> {
        let Exec { mut tx, ctx, .. } = x;
        let account = ctx.principal.account.as_str();
        let (user, key) = i.key.load(tx.read(), account, ctx.principal)?;
        let w = tx.write()?;
        tables::KEYS.delete(w, &keys::key(&key.access_key_id))?;
        tables::USER_KEYS.delete(
            w,
            &keys::user_key(account, user.as_deref(), &key.access_key_id),
        )?;
        Ok(Reply::new(NoResult).resource("AWS::IAM::AccessKey", key.access_key_id))
    }
}

impl Recorded for DeleteAccessKeyInput {
    fn request_parameters(&self, _: Sent<'_>) -> Value {
        self.key.request_parameters(None)
    }
}
