//! The Parameter Store operations (awsJson1_1, target prefix `AmazonSSM`).
//!
//! Each operation is authorized as `ssm:<Operation>` on the parameter ARN (each parameter
//! for GetParameters and DeleteParameters, the path for GetParametersByPath, `*` for
//! DescribeParameters), the parameter's tags as `aws:ResourceTag/*`; PutParameter with tags
//! also needs `ssm:AddTagsToResource`. KMS is called in the prepare step as the caller
//! ([`ferrogate_api::Env::on_behalf`], `kms:ViaService` = `ssm.<region>.amazonaws.com`) with
//! the encryption context `{"PARAMETER_ARN": <ARN>}`.

mod get;
mod put;

pub use get::{
    DescribeParametersInput, GetParameterHistoryInput, GetParameterInput, GetParametersByPathInput,
    GetParametersInput,
};
pub use put::{
    DeleteParameterInput, DeleteParametersInput, LabelParameterVersionInput, PutParameterInput,
};

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use ferrogate_api::{Check, Env, Executor, Registered, RequestTags, Resource, Scope};
use ferrogate_secrets::envelope::{self, Sensitive, Wrapped};
use ferrogate_store::ReadTx;
use serde::{Deserialize, Serialize};

use crate::model::{arn, keys, tables, ParamVersion, Parameter, Stored};
use crate::SsmError;

/// The CloudTrail resource type of parameters.
pub(crate) const PARAMETER_TYPE: &str = "AWS::SSM::Parameter";

/// The default key of `SecureString` parameters.
pub const DEFAULT_KEY: &str = "alias/aws/ssm";

/// State shared by all Parameter Store operations: KMS and the executor (for reads outside
/// an operation's transaction).
pub struct Ssm {
    pub(crate) kms: Arc<ferrogate_kms::Kms>,
    pub(crate) exec: Executor,
}

impl std::fmt::Debug for Ssm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ssm").finish_non_exhaustive()
    }
}

impl Ssm {
    /// The service, calling `kms` through `exec`.
    pub fn new(kms: Arc<ferrogate_kms::Kms>, exec: Executor) -> Arc<Self> {
        Arc::new(Self { kms, exec })
    }
}

ferrogate_api::service! {
    Ssm { error: SsmError, id: Ssm, tag_prefixes: ["ssm"], changes_authorization: false, record_resources: false, denied: SsmError::AccessDeniedException }
}

ferrogate_api::operations! {
    service: Ssm,
    protocol: json,
    parameters: serialized,
    ops: {
        PutParameter(put::PutParameterInput) write,
        DeleteParameter(put::DeleteParameterInput) write,
        DeleteParameters(put::DeleteParametersInput) write,
        LabelParameterVersion(put::LabelParameterVersionInput) write,
        GetParameter(get::GetParameterInput) read,
        GetParameters(get::GetParametersInput) read,
        GetParametersByPath(get::GetParametersByPathInput) read,
        GetParameterHistory(get::GetParameterHistoryInput) read,
        DescribeParameters(get::DescribeParametersInput) read,
    }
}

/// `ssm:<Operation>` of `O`.
pub(crate) fn action<O: Registered>() -> String {
    format!("ssm:{}", O::NAME)
}

/// The parameter `name` (without selector).
pub(crate) fn find(
    tx: &dyn ReadTx,
    account: &str,
    region: &str,
    name: &str,
) -> Result<Option<Parameter>, SsmError> {
    Ok(tables::PARAMETERS.get(tx, &keys::parameter(account, region, name))?)
}

/// The parameter `name`, which must exist.
pub(crate) fn existing(
    tx: &dyn ReadTx,
    account: &str,
    region: &str,
    name: &str,
) -> Result<Parameter, SsmError> {
    find(tx, account, region, name)?.ok_or_else(SsmError::not_found)
}

/// The check of `action` on the parameter `name`: as stored with its tags, or as named.
pub(crate) fn check_on(
    s: &Scope<'_, Ssm>,
    action: String,
    name: &str,
    request_tags: RequestTags,
) -> Result<Check, SsmError> {
    let resource = match find(s.tx, s.account(), s.region, name)? {
        Some(p) => Resource::Existing {
            arn: p.arn(),
            tags: p.tags.clone(),
        },
        None => Resource::Named(arn(s.region, s.account(), name)),
    };
    Ok(Check::new(action, resource, request_tags))
}

/// The encryption context Parameter Store uses with KMS.
pub(crate) fn context(parameter_arn: &str) -> BTreeMap<String, String> {
    [("PARAMETER_ARN".to_owned(), parameter_arn.to_owned())].into()
}

/// Data keys KMS opened in a prepare step, by (name, version).
#[derive(Debug, Default)]
pub(crate) struct Opened(HashMap<(String, i64), Sensitive>);

/// Has KMS open, as the caller, the data key of every `SecureString` version of `wanted`
/// wrapped by a customer managed key.
pub(crate) async fn open_keys(
    env: &Env<'_, Ssm>,
    wanted: &[(&Parameter, &ParamVersion)],
) -> Result<Opened, SsmError> {
    let client = env.on_behalf();
    let mut opened = Opened::default();
    for (p, v) in wanted {
        if let Stored::Sealed {
            key: Wrapped::Kms { key_arn, blob },
            ..
        } = &v.value
        {
            let arn = p.arn();
            let k =
                envelope::kms_open(&client, &env.service.kms, key_arn, blob, context(&arn)).await?;
            opened.0.insert((p.name.clone(), v.version), k);
        }
    }
    Ok(opened)
}

/// The value of `v` as an answer carries it: in clear, or for a `SecureString` the
/// ciphertext unless `decrypt` (then opened with a key from `opened` or the root key).
pub(crate) fn value_of(
    sealer: &dyn ferrogate_store::seal::Sealer,
    p: &Parameter,
    v: &ParamVersion,
    decrypt: bool,
    opened: &Opened,
) -> Result<Sensitive, SsmError> {
    let (key, sealed) = match &v.value {
        Stored::Clear(s) => return Ok(Sensitive(zeroize::Zeroizing::new(s.clone().into_bytes()))),
        Stored::Sealed { sealed, .. } if !decrypt => {
            return Ok(Sensitive(zeroize::Zeroizing::new(
                sealed.clone().into_bytes(),
            )))
        }
        Stored::Sealed { key, sealed } => (key, sealed),
    };
    let arn = p.arn();
    let version = v.version.to_string();
    let data_key = match key {
        Wrapped::Service(s) => envelope::open_service_key(sealer, &arn, &version, s)?,
        Wrapped::Kms { .. } => opened
            .0
            .get(&(p.name.clone(), v.version))
            .cloned()
            .ok_or_else(|| {
                SsmError::invalid(
                    "The parameter changed while the request was processed. Retry the request.",
                )
            })?,
    };
    Ok(envelope::open_value(
        &data_key, &arn, &version, false, sealed,
    )?)
}

/// Epoch seconds, as the JSON protocols write timestamps.
pub(crate) fn secs(ms: i64) -> f64 {
    ferrogate_types::Timestamp::from_millis(ms).epoch_seconds_f64()
}

/// A tag on the wire.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Tag {
    /// `Key`.
    #[serde(rename = "Key")]
    pub key: String,
    /// `Value`.
    #[serde(rename = "Value")]
    pub value: String,
}

/// An opaque paging token: an offset, hex.
pub(crate) fn token(offset: usize) -> String {
    format!("{offset:08x}")
}

/// The offset a [`token`] holds.
pub(crate) fn parse_token(t: Option<&str>) -> Result<usize, SsmError> {
    match t {
        None => Ok(0),
        Some(t) => usize::from_str_radix(t, 16)
            .map_err(|_| SsmError::InvalidNextToken("The nextToken is not valid.".into())),
    }
}
