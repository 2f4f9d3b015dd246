//! STS `GetCallerIdentity`.

use ferrogate_store::TxRef;
use ferrogate_types::Principal;
use ferrogate_wire::query::{QueryParams, XmlWriter};
use serde_json::Value;

use super::{Ctx, Reply};
use crate::authz::Action;
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
        Action { action: "sts:GetCallerIdentity".into(), resource: "*".into() }
    }

    pub(crate) fn request_parameters(&self) -> Value {
        Value::Null
    }

    pub(crate) fn execute(&self, _tx: TxRef<'_>, ctx: Ctx<'_>) -> Result<Reply, IamError> {
        let p = ctx.principal;
        let mut w = XmlWriter::response("GetCallerIdentity", NS);
        w.leaf("Arn", &p.arn).leaf("UserId", &p.principal_id).leaf("Account", p.account.as_str());
        Ok(Reply { body: w.finish(ctx.request_id), response_elements: Value::Null, resources: Vec::new() })
    }
}
