//! The KMS operations (awsJson1_1, `TrentService`).
//!
//! Every operation that names a key goes the same way: the key is resolved and loaded
//! before authorization ([`Operation::access`]), so that its key policy (mandatory, as in
//! AWS) and any grant that applies take part in the decision; the handler then reloads the
//! key in its transaction, gates the operation on the key's state ([`crate::state`]) and
//! runs.

mod aliases;
mod crypto;
mod grants;
mod import;
mod keys;
mod rotation;

pub(crate) use rotation::rotate;

use std::sync::Arc;

use ferrogate_iam::authz::Action;
use ferrogate_iam::op::{Access, Ctx, OpReply, Operation};
use ferrogate_policy::ResourcePolicyKind;
use ferrogate_store::{ReadTx, TxRef};
use ferrogate_types::{Principal, Timestamp};
use ferrogate_wire::json;
use serde_json::Value;

use crate::model::KmsKey;
use crate::policy::PolicyCache;
use crate::resolve::{self, Aliases, KeyRef};
use crate::{state, KmsError};

/// State shared by all KMS operations: the cache of parsed key policies.
#[derive(Default)]
pub struct Kms {
    pub(crate) policies: PolicyCache,
}

impl Kms {
    /// A service with empty caches.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }
}

/// What an operation's input provides to the common path.
pub(crate) trait Input: Send + Sync {
    /// The key the request names (and whether alias names are accepted).
    fn key_param(&self) -> Option<(&str, Aliases)> {
        None
    }
    /// Resolves the key; Decrypt overrides this to read it from the ciphertext.
    fn key_ref(
        &self,
        tx: &dyn ReadTx,
        account: &str,
        region: &str,
    ) -> Result<Option<KeyRef>, KmsError> {
        match self.key_param() {
            None => Ok(None),
            Some((name, aliases)) => resolve::resolve(tx, account, region, name, aliases).map(Some),
        }
    }
    /// The IAM action, when it is not `kms:<operation>` (ReEncrypt: `kms:ReEncryptFrom`).
    fn action_name(&self) -> Option<&'static str> {
        None
    }
    /// Further authorizations the request needs (ReEncrypt's destination key).
    fn more_access(
        &self,
        kms: &Kms,
        tx: &dyn ReadTx,
        principal: &Principal,
        region: &str,
        now: Timestamp,
    ) -> Result<Vec<Access>, KmsError> {
        let _ = (kms, tx, principal, region, now);
        Ok(Vec::new())
    }
    /// Replaces the common access lookup (RetireGrant, CreateGrant, whose grant paths have
    /// rules of their own).
    fn custom_access(
        &self,
        kms: &Kms,
        tx: &dyn ReadTx,
        principal: &Principal,
        region: &str,
        now: Timestamp,
    ) -> Option<Result<Access, KmsError>> {
        let _ = (kms, tx, principal, region, now);
        None
    }
    /// The grant operation that may allow this request.
    fn grant_operation(&self) -> Option<&'static str> {
        None
    }
    /// The encryption context grants and `kms:EncryptionContext:*` see.
    fn context(&self) -> Vec<(String, String)> {
        Vec::new()
    }
    /// Other condition keys of the request.
    fn condition_keys(&self) -> Vec<(String, Vec<String>)> {
        Vec::new()
    }
    /// The key a request created (CreateKey), for the record's `resources` when the request
    /// named no key.
    fn created_key(&self, body: &Value) -> Option<String> {
        let _ = body;
        None
    }
    /// CloudTrail's `requestParameters`.
    fn request_parameters(&self) -> Value;
    /// Runs it. `key` is the resolved key for operations that name one.
    fn run(
        &self,
        kms: &Kms,
        tx: TxRef<'_>,
        ctx: Ctx<'_>,
        key: Option<&KeyRef>,
    ) -> Result<Done, KmsError>;
}

/// A handler's result: the response body and what CloudTrail records.
pub(crate) struct Done {
    pub body: Value,
    pub elements: Value,
}

impl Done {
    pub(crate) fn body(body: Value) -> Self {
        Self {
            body,
            elements: Value::Null,
        }
    }
}

/// Encodes an answer; when it carries a `Plaintext` (Decrypt, GenerateDataKey, GenerateRandom),
/// into a buffer sized so that it never reallocates (a reallocation would leave a copy of the
/// plaintext in freed memory), and wipes the plaintext string afterwards.
fn encode_wiping_plaintext(body: &mut Value) -> Vec<u8> {
    let Some(Value::String(p)) = body.get_mut("Plaintext") else {
        return json::encode(body);
    };
    // The rest of the body (key ARN, ciphertext blob of at most ~1.5 KiB, names) is small.
    let mut out = Vec::with_capacity(2 * p.len() + 8192);
    if serde_json::to_writer(&mut out, &*body).is_err() {
        out.clear();
        out.extend_from_slice(b"{}");
    }
    if let Some(Value::String(p)) = body.get_mut("Plaintext") {
        zeroize::Zeroize::zeroize(p);
    }
    out
}

/// Loads the key `r` for a handler and gates `what` on its state at `now`.
pub(crate) fn usable(
    tx: &dyn ReadTx,
    r: &KeyRef,
    now: Timestamp,
    what: state::Use,
) -> Result<KmsKey, KmsError> {
    let key = resolve::load(tx, r)?;
    let st = state::effective(&key, now).ok_or_else(|| KmsError::no_such_key(&key.arn()))?;
    state::check(&key, st, what)?;
    Ok(key)
}

/// Refuses a `DryRun` once everything else has passed.
pub(crate) fn dry_run(flag: Option<bool>) -> Result<(), KmsError> {
    if flag == Some(true) {
        Err(KmsError::DryRunOperationException)
    } else {
        Ok(())
    }
}

/// The KMS condition keys for an encryption context: `kms:EncryptionContext:<k>` and
/// `kms:EncryptionContextKeys`.
pub(crate) fn context_keys(pairs: &[(String, String)]) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = pairs
        .iter()
        .map(|(k, v)| (format!("kms:EncryptionContext:{k}"), vec![v.clone()]))
        .collect();
    if !pairs.is_empty() {
        out.push((
            "kms:EncryptionContextKeys".into(),
            pairs.iter().map(|(k, _)| k.clone()).collect(),
        ));
    }
    out
}

macro_rules! kms_ops {
    ($( $name:ident ( $input:ty ) $ro:literal ),* $(,)?) => {
        #[derive(Debug, Clone)]
        enum Request { $( $name($input), )* }

        /// One KMS request.
        #[derive(Clone)]
        pub struct KmsOp {
            request: Request,
            kms: Arc<Kms>,
        }

        impl std::fmt::Debug for KmsOp {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }

        impl KmsOp {
            /// Decodes operation `op` from a JSON body.
            pub fn decode(kms: &Arc<Kms>, op: &str, body: &[u8]) -> Result<Self, KmsError> {
                let request = match op {
                    $( stringify!($name) => Request::$name(json::decode::<$input>(body)?.validated()?), )*
                    _ => return Err(KmsError::Wire(ferrogate_wire::WireError::UnknownOperation {
                        message: format!("Operation {op} is not supported by this endpoint."),
                    })),
                };
                Ok(Self { request, kms: kms.clone() })
            }

            fn input(&self) -> &dyn Input {
                match &self.request { $( Request::$name(i) => i, )* }
            }
        }

        impl Operation for KmsOp {
            type Error = KmsError;

            fn name(&self) -> &'static str {
                match &self.request { $( Request::$name(_) => stringify!($name), )* }
            }

            fn read_only(&self) -> bool {
                match &self.request { $( Request::$name(_) => $ro, )* }
            }

            fn action(&self, _caller: &Principal) -> Action {
                Action::new(format!("kms:{}", self.name()), "*")
            }

            fn condition_keys(&self) -> Vec<(String, Vec<String>)> {
                self.input().condition_keys()
            }

            fn access(&self, tx: &dyn ReadTx, principal: &Principal, region: &str, now: Timestamp) -> Result<Access, KmsError> {
                access(&self.kms, self.input(), tx, principal, region, now)
            }

            fn request_parameters(&self) -> Value {
                self.input().request_parameters()
            }

            fn record_resources(&self) -> bool {
                true
            }

            fn needs_prepare(&self) -> bool {
                matches!(self.request, Request::GetParametersForImport(_))
            }

            fn prepare(&mut self) {
                if let Request::GetParametersForImport(i) = &mut self.request {
                    i.prepare();
                }
            }

            fn execute(&self, tx: TxRef<'_>, ctx: Ctx<'_>) -> Result<OpReply, KmsError> {
                let input = self.input();
                let key = input.key_ref(tx.read(), ctx.principal.account.as_str(), ctx.region)?;
                let mut done = input.run(&self.kms, tx, ctx, key.as_ref())?;
                let resources = key.map(|k| k.arn()).or_else(|| input.created_key(&done.body))
                    .map(|arn| vec![("AWS::KMS::Key".to_owned(), arn)]).unwrap_or_default();
                let body = encode_wiping_plaintext(&mut done.body);
                Ok(OpReply { body, response_elements: done.elements, resources })
            }

            fn access_denied(message: String) -> KmsError {
                KmsError::AccessDeniedException(message)
            }
        }
    };
}

kms_ops! {
    CreateKey(keys::CreateKeyInput) false,
    DescribeKey(keys::KeyIdInput<{ keys::DESCRIBE }>) true,
    ListKeys(keys::ListKeysInput) true,
    UpdateKeyDescription(keys::UpdateKeyDescriptionInput) false,
    EnableKey(keys::KeyIdInput<{ keys::ENABLE }>) false,
    DisableKey(keys::KeyIdInput<{ keys::DISABLE }>) false,
    ScheduleKeyDeletion(keys::ScheduleKeyDeletionInput) false,
    CancelKeyDeletion(keys::KeyIdInput<{ keys::CANCEL }>) false,
    GetKeyPolicy(keys::GetKeyPolicyInput) true,
    PutKeyPolicy(keys::PutKeyPolicyInput) false,
    ListKeyPolicies(keys::KeyIdInput<{ keys::LIST_POLICIES }>) true,
    TagResource(keys::TagResourceInput) false,
    UntagResource(keys::UntagResourceInput) false,
    ListResourceTags(keys::KeyIdInput<{ keys::LIST_TAGS }>) true,
    CreateAlias(aliases::AliasInput<true>) false,
    UpdateAlias(aliases::AliasInput<false>) false,
    DeleteAlias(aliases::DeleteAliasInput) false,
    ListAliases(aliases::ListAliasesInput) true,
    Encrypt(crypto::EncryptInput) true,
    Decrypt(crypto::DecryptInput) true,
    ReEncrypt(crypto::ReEncryptInput) true,
    GenerateDataKey(crypto::DataKeyInput<true>) true,
    GenerateDataKeyWithoutPlaintext(crypto::DataKeyInput<false>) true,
    GenerateRandom(crypto::GenerateRandomInput) true,
    EnableKeyRotation(rotation::EnableKeyRotationInput) false,
    DisableKeyRotation(keys::KeyIdInput<{ keys::DISABLE_ROTATION }>) false,
    GetKeyRotationStatus(keys::KeyIdInput<{ keys::ROTATION_STATUS }>) true,
    RotateKeyOnDemand(keys::KeyIdInput<{ keys::ROTATE }>) false,
    ListKeyRotations(rotation::ListKeyRotationsInput) true,
    GetParametersForImport(import::GetParametersForImportInput) false,
    ImportKeyMaterial(import::ImportKeyMaterialInput) false,
    DeleteImportedKeyMaterial(import::DeleteImportedKeyMaterialInput) false,
    CreateGrant(grants::CreateGrantInput) false,
    ListGrants(grants::ListGrantsInput) true,
    ListRetirableGrants(grants::ListRetirableGrantsInput) true,
    RetireGrant(grants::RetireGrantInput) false,
    RevokeGrant(grants::RevokeGrantInput) false,
}

fn access(
    kms: &Kms,
    input: &dyn Input,
    tx: &dyn ReadTx,
    principal: &Principal,
    region: &str,
    now: Timestamp,
) -> Result<Access, KmsError> {
    if let Some(custom) = input.custom_access(kms, tx, principal, region, now) {
        return custom;
    }
    let Some(r) = input.key_ref(tx, principal.account.as_str(), region)? else {
        let keys = vec![(
            "kms:CallerAccount".to_owned(),
            vec![principal.account.to_string()],
        )];
        return Ok(Access {
            keys,
            ..Access::default()
        });
    };
    let mut access = key_access(
        kms,
        tx,
        principal,
        region,
        now,
        &r,
        input.grant_operation(),
        &input.context(),
    )?;
    access.action = input.action_name().map(str::to_owned);
    access.also = input.more_access(kms, tx, principal, region, now)?;
    Ok(access)
}

/// The authorization facts of one key: its ARN, its (mandatory) key policy, a grant that
/// allows `grant_operation` with `context`, and the KMS condition keys.
#[allow(clippy::too_many_arguments)]
pub(crate) fn key_access(
    kms: &Kms,
    tx: &dyn ReadTx,
    principal: &Principal,
    region: &str,
    now: Timestamp,
    r: &KeyRef,
    grant_operation: Option<&str>,
    context: &[(String, String)],
) -> Result<Access, KmsError> {
    let key = resolve::load(tx, r)?;
    if state::effective(&key, now).is_none() {
        return Err(KmsError::no_such_key(&key.arn()));
    }
    let arn = key.arn();
    let policy = kms.policies.get(&arn, &key.policy).map_err(|e| {
        tracing::error!(key = %arn, error = %e, "a stored key policy does not parse; refusing");
        KmsError::Internal(ferrogate_store::StoreError::Corrupt {
            tree: "kms.keys",
            reason: "key policy".into(),
        })
    })?;
    let grant = match grant_operation {
        Some(op) => crate::grant::find(
            tx, &r.account, &r.region, &r.key_id, principal, region, op, context,
        )?
        .map(|g| g.grant_id),
        None => None,
    };
    let mut keys = vec![(
        "kms:CallerAccount".to_owned(),
        vec![principal.account.to_string()],
    )];
    keys.extend(context_keys(context));
    Ok(Access {
        resource: Some(arn.clone()),
        policy: Some((
            arn,
            policy,
            ResourcePolicyKind::KeyPolicy,
            key.account.clone(),
        )),
        grant,
        keys,
        ..Access::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_with_a_plaintext_are_encoded_once_and_the_plaintext_is_wiped() {
        let mut body = serde_json::json!({"KeyId": "k", "Plaintext": "c2VjcmV0"});
        let out = encode_wiping_plaintext(&mut body);
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["Plaintext"], "c2VjcmV0");
        assert_eq!(
            body["Plaintext"], "",
            "the plaintext left in the value is wiped"
        );
        let mut plain = serde_json::json!({"KeyId": "k"});
        assert_eq!(
            encode_wiping_plaintext(&mut plain),
            br#"{"KeyId":"k"}"#.to_vec()
        );
    }
}
