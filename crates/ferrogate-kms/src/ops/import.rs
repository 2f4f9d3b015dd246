//! Imported key material: GetParametersForImport, ImportKeyMaterial,
//! DeleteImportedKeyMaterial (KMS Developer Guide, "Importing key material").

use base64::Engine as _;
use ferrogate_iam::op::Ctx;
use ferrogate_kms_crypto as crypto;
use ferrogate_store::TxRef;
use serde::Deserialize;
use serde_json::{json, Value};

use super::keys::secs;
use super::{usable, Done, Input, Kms};
use crate::model::{keys, tables, ImportParams, KeyState};
use crate::resolve::{Aliases, KeyRef};
use crate::state::Use;
use crate::{material, KmsError};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
/// Import tokens and wrapping keys are valid for 24 hours.
pub const PARAMETERS_VALID_MS: i64 = 24 * 3600 * 1000;
/// `ValidTo` may be at most 365 days ahead.
pub const MAX_VALID_TO_MS: i64 = 365 * 86_400_000;

fn seal_aad(key_arn: &str, token_id: &str) -> Vec<u8> {
    format!("{key_arn}\0import\0{token_id}").into_bytes()
}

/// `GetParametersForImport`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetParametersForImportInput {
    key_id: String,
    wrapping_algorithm: String,
    wrapping_key_spec: String,
}

impl GetParametersForImportInput {
    pub(crate) fn validated(self) -> Result<Self, KmsError> {
        crypto::WrappingAlgorithm::from_aws_name(&self.wrapping_algorithm)
            .map_err(|e| KmsError::ValidationException(e.to_string()))?;
        crypto::WrappingKeySpec::from_aws_name(&self.wrapping_key_spec)
            .map_err(|e| KmsError::ValidationException(e.to_string()))?;
        Ok(self)
    }
}

impl Input for GetParametersForImportInput {
    fn key_param(&self) -> Option<(&str, Aliases)> {
        Some((&self.key_id, Aliases::Refuse))
    }

    fn condition_keys(&self) -> Vec<(String, Vec<String>)> {
        vec![
            (
                "kms:WrappingAlgorithm".into(),
                vec![self.wrapping_algorithm.clone()],
            ),
            (
                "kms:WrappingKeySpec".into(),
                vec![self.wrapping_key_spec.clone()],
            ),
        ]
    }

    fn request_parameters(&self) -> Value {
        json!({ "keyId": self.key_id, "wrappingAlgorithm": self.wrapping_algorithm, "wrappingKeySpec": self.wrapping_key_spec })
    }

    fn run(
        &self,
        _kms: &Kms,
        mut tx: TxRef<'_>,
        ctx: Ctx<'_>,
        key: Option<&KeyRef>,
    ) -> Result<Done, KmsError> {
        let r = key.ok_or_else(|| KmsError::invalid_key_id(&self.key_id))?;
        let k = usable(tx.read(), r, ctx.now, Use::Import)?;
        let spec = crypto::WrappingKeySpec::from_aws_name(&self.wrapping_key_spec)
            .map_err(|e| KmsError::ValidationException(e.to_string()))?;
        let pair = crypto::WrappingKeyPair::generate(spec)
            .map_err(|_| internal("cannot generate the wrapping key"))?;
        let public = pair
            .public_key_der()
            .map_err(|_| internal("cannot export the wrapping key"))?;
        let private = pair
            .to_pkcs8_der()
            .map_err(|_| internal("cannot export the wrapping key"))?;
        let mut id = [0u8; 24];
        let _ = aws_lc_rs::rand::fill(&mut id);
        let token_id: String = id.iter().map(|b| format!("{b:02x}")).collect();
        let sealed = ctx.sealer.seal(&private, &seal_aad(&k.arn(), &token_id))?;
        let valid_to = ctx.now.plus_millis(PARAMETERS_VALID_MS);
        let params = ImportParams {
            token_id: token_id.clone(),
            sealed_private_key: B64.encode(sealed),
            wrapping_algorithm: self.wrapping_algorithm.clone(),
            valid_to,
        };
        tables::IMPORTS.put(
            tx.write()?,
            &keys::key(&r.account, &r.region, &r.key_id),
            &params,
        )?;
        // The token names the parameter set; it carries no secret.
        let token = format!("ferrogate-import-v1:{}:{token_id}", k.arn());
        Ok(Done::body(json!({
            "KeyId": k.arn(), "ImportToken": B64.encode(token), "PublicKey": B64.encode(public),
            "ParametersValidTo": secs(valid_to),
        })))
    }
}

fn internal(what: &str) -> KmsError {
    KmsError::Internal(ferrogate_store::StoreError::Unavailable(what.to_owned()))
}

/// `ImportKeyMaterial`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImportKeyMaterialInput {
    key_id: String,
    import_token: String,
    encrypted_key_material: String,
    #[serde(default)]
    valid_to: Option<f64>,
    #[serde(default)]
    expiration_model: Option<String>,
    #[serde(default)]
    import_type: Option<String>,
}

impl ImportKeyMaterialInput {
    pub(crate) fn validated(self) -> Result<Self, KmsError> {
        match self.expiration_model.as_deref() {
            None | Some("KEY_MATERIAL_EXPIRES") => {
                if self.valid_to.is_none() {
                    return Err(KmsError::ValidationException(
                        "A ValidTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES".into(),
                    ));
                }
            }
            Some("KEY_MATERIAL_DOES_NOT_EXPIRE") => {
                if self.valid_to.is_some() {
                    return Err(KmsError::ValidationException(
                        "A ValidTo date must not be set if the ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE".into(),
                    ));
                }
            }
            Some(other) => {
                return Err(KmsError::ValidationException(format!(
                    "1 validation error detected: Value '{other}' at 'expirationModel' failed to satisfy constraint: Member must satisfy enum value set: [KEY_MATERIAL_EXPIRES, KEY_MATERIAL_DOES_NOT_EXPIRE]"
                )))
            }
        }
        if let Some(t) = self
            .import_type
            .as_deref()
            .filter(|t| !matches!(*t, "NEW_KEY_MATERIAL" | "EXISTING_KEY_MATERIAL"))
        {
            return Err(KmsError::ValidationException(format!(
                "Invalid ImportType {t}"
            )));
        }
        Ok(self)
    }

    fn expiration_model(&self) -> &str {
        self.expiration_model
            .as_deref()
            .unwrap_or("KEY_MATERIAL_EXPIRES")
    }
}

impl Input for ImportKeyMaterialInput {
    fn key_param(&self) -> Option<(&str, Aliases)> {
        Some((&self.key_id, Aliases::Refuse))
    }

    fn condition_keys(&self) -> Vec<(String, Vec<String>)> {
        let mut k = vec![(
            "kms:ExpirationModel".into(),
            vec![self.expiration_model().to_owned()],
        )];
        if let Some(v) = self
            .valid_to
            .and_then(ferrogate_types::Timestamp::from_epoch_seconds_f64)
        {
            k.push(("kms:ValidTo".into(), vec![v.secs().to_string()]));
        }
        k
    }

    fn request_parameters(&self) -> Value {
        let mut v = json!({ "keyId": self.key_id, "expirationModel": self.expiration_model() });
        if let Some(t) = self
            .valid_to
            .and_then(ferrogate_types::Timestamp::from_epoch_seconds_f64)
        {
            v["validTo"] = json!(t.iso8601());
        }
        v
    }

    fn run(
        &self,
        _kms: &Kms,
        mut tx: TxRef<'_>,
        ctx: Ctx<'_>,
        key: Option<&KeyRef>,
    ) -> Result<Done, KmsError> {
        let r = key.ok_or_else(|| KmsError::invalid_key_id(&self.key_id))?;
        let mut k = usable(tx.read(), r, ctx.now, Use::Import)?;
        let arn = k.arn();
        let invalid_token =
            || KmsError::InvalidImportTokenException("Import token is invalid or expired.".into());
        let token = B64
            .decode(&self.import_token)
            .map_err(|_| invalid_token())?;
        let token = String::from_utf8(token).map_err(|_| invalid_token())?;
        let token_id = token
            .strip_prefix("ferrogate-import-v1:")
            .and_then(|rest| rest.rsplit_once(':'))
            .filter(|(a, _)| *a == arn)
            .map(|(_, id)| id.to_owned())
            .ok_or_else(invalid_token)?;
        let params = tables::IMPORTS
            .get(tx.read(), &keys::key(&r.account, &r.region, &r.key_id))?
            .filter(|p| p.token_id == token_id)
            .ok_or_else(invalid_token)?;
        if ctx.now >= params.valid_to {
            return Err(KmsError::ExpiredImportTokenException(
                "The import token has expired.".into(),
            ));
        }
        let valid_to = match self.valid_to {
            None => None,
            Some(s) => {
                let t = ferrogate_types::Timestamp::from_epoch_seconds_f64(s)
                    .filter(|t| *t > ctx.now && t.millis() - ctx.now.millis() <= MAX_VALID_TO_MS)
                    .ok_or_else(|| {
                        KmsError::ValidationException(
                            "ValidTo must be in the future and at most 365 days away.".into(),
                        )
                    })?;
                Some(t)
            }
        };
        let sealed = B64
            .decode(&params.sealed_private_key)
            .map_err(|_| internal("sealed wrapping key is not base64"))?;
        let private = ctx.sealer.open(&sealed, &seal_aad(&arn, &token_id))?;
        let pair = crypto::WrappingKeyPair::from_pkcs8_der(&private)
            .map_err(|_| internal("wrapping key does not load"))?;
        let algorithm = crypto::WrappingAlgorithm::from_aws_name(&params.wrapping_algorithm)
            .map_err(|_| internal("stored wrapping algorithm"))?;
        let wrapped = B64
            .decode(&self.encrypted_key_material)
            .map_err(|_| KmsError::InvalidCiphertextException(String::new()))?;
        let m = pair
            .unwrap_key_material(algorithm, &wrapped)
            .map_err(|_| KmsError::InvalidCiphertextException(String::new()))?;
        let sealed_material = material::seal(ctx.sealer, &arn, &m, ctx.now)?;
        match &k.imported_material_id {
            Some(id) if *id != sealed_material.id => {
                return Err(KmsError::IncorrectKeyMaterialException(
                    "The key material you are trying to import is different from the key material previously imported into this key.".into(),
                ))
            }
            _ => {}
        }
        k.imported_material_id = Some(sealed_material.id.clone());
        k.materials = vec![sealed_material];
        k.valid_to = valid_to;
        k.expiration_model = Some(self.expiration_model().to_owned());
        if k.state == KeyState::PendingImport {
            k.state = KeyState::Enabled;
        }
        let id = k.imported_material_id.clone().unwrap_or_default();
        let w = tx.write()?;
        tables::KEYS.put(w, &keys::key(&k.account, &k.region, &k.key_id), &k)?;
        // Import parameters are single-use.
        tables::IMPORTS.delete(w, &keys::key(&r.account, &r.region, &r.key_id))?;
        Ok(Done::body(json!({ "KeyId": arn, "KeyMaterialId": id })))
    }
}

/// `DeleteImportedKeyMaterial`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteImportedKeyMaterialInput {
    key_id: String,
}

impl DeleteImportedKeyMaterialInput {
    pub(crate) fn validated(self) -> Result<Self, KmsError> {
        Ok(self)
    }
}

impl Input for DeleteImportedKeyMaterialInput {
    fn key_param(&self) -> Option<(&str, Aliases)> {
        Some((&self.key_id, Aliases::Refuse))
    }

    fn request_parameters(&self) -> Value {
        json!({ "keyId": self.key_id })
    }

    fn run(
        &self,
        _kms: &Kms,
        mut tx: TxRef<'_>,
        ctx: Ctx<'_>,
        key: Option<&KeyRef>,
    ) -> Result<Done, KmsError> {
        let r = key.ok_or_else(|| KmsError::invalid_key_id(&self.key_id))?;
        let mut k = usable(tx.read(), r, ctx.now, Use::DeleteImported)?;
        let id = k.imported_material_id.clone().unwrap_or_default();
        k.materials.clear();
        k.valid_to = None;
        if k.state != KeyState::PendingDeletion {
            k.state = KeyState::PendingImport;
        }
        tables::KEYS.put(
            tx.write()?,
            &keys::key(&k.account, &k.region, &k.key_id),
            &k,
        )?;
        Ok(Done::body(json!({ "KeyId": k.arn(), "KeyMaterialId": id })))
    }
}
