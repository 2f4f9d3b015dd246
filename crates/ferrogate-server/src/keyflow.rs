//! Fargate's use of a cluster's customer managed key for one task's ephemeral storage
//! (shared/spec/aws-behaviour.md §4.1), through typed calls to KMS made as the service
//! principal `fargate.amazonaws.com`: authorized by the key policy and grants and recorded
//! like any request (an `AWSService` identity), never through JSON.
//!
//! 0. a pre-flight: `GenerateDataKeyWithoutPlaintext` and `CreateGrant` with `DryRun` and
//!    the cluster's context (account, cluster name), each answering
//!    `DryRunOperationException` when the real call would be allowed;
//! 1. `GenerateDataKeyWithoutPlaintext`, 64 bytes, encryption context
//!    `aws:ecs:clusterAccount`, `aws:ecs:clusterName`, `aws:ebs:id`;
//! 2. `CreateGrant` for `fargate.<region>.amazonaws.com` to `Decrypt` under that context
//!    (subset), retirable by `ec2.<region>.amazonaws.com`;
//! 3. `Decrypt` under the grant; the plaintext goes to the runtime and nowhere else;
//! 4. at teardown, `RetireGrant` as the retiring principal.
//!
//! Fargate's own calls are not made on a caller's behalf: `aws:ViaAWSService` is false and
//! no `aws:CalledVia` is set (IAM User Guide, "AWS global condition context keys").

use std::collections::BTreeMap;
use std::future::Future;

use ferrogate_api::{Caller, Client};
use ferrogate_ecs::task::Task;
use ferrogate_kms::ops::{CreateGrantInput, DataKeyInput, DecryptInput, RetireGrantInput};
use ferrogate_kms::KmsError;
use ferrogate_runtime::DataKey;
use ferrogate_types::{AccountId, Principal};
use ferrogate_wire::{ApiError, Protocol};

use crate::App;

/// What the key flow produced. The encrypted data key is not kept: the volume key lives
/// only in the runtime's memory (and the kernel's keyring) while the task runs, nothing
/// needs the ciphertext again (teardown retires the grant by its id), and a ciphertext kept
/// in the store would let anyone with `kms:Decrypt` on the key recover the volume key of a
/// copy of the volume long after the task stopped.
pub(crate) struct Keyed {
    pub data_key: DataKey,
    pub grant_id: Option<String>,
}

fn account_id(account: &str) -> AccountId {
    AccountId::parse(account)
        .unwrap_or_else(|_| AccountId::parse("000000000000").expect("a valid account id"))
}

/// A client calling as the service principal `service` of `t`'s account.
fn as_service(app: &App, t: &Task, service: &str) -> Client {
    let principal = Principal::service(account_id(&t.account), service);
    Client::new(app.exec.clone(), Caller::service(principal, &t.region))
}

/// AWS's code and message of a KMS refusal (internal details stay in the log).
pub(crate) fn describe(e: &KmsError) -> String {
    let api = ApiError::from_error(e, Protocol::Json11);
    format!("{}: {}", api.code, api.message)
}

fn context(t: &Task, with_volume: bool) -> BTreeMap<String, String> {
    t.encryption_context()
        .into_iter()
        .filter(|(k, _)| with_volume || k != "aws:ebs:id")
        .collect()
}

fn grantee(t: &Task) -> String {
    format!("fargate.{}.amazonaws.com", t.region)
}

/// The pre-flight: a `DryRun` of `GenerateDataKeyWithoutPlaintext` and of `CreateGrant` with
/// the cluster's encryption context (account and cluster name, no volume yet). Any answer
/// but `DryRunOperationException` (access denied, a disabled key) stops the launch before a
/// data key or a grant exists; a dry run that claims success is not trusted either (fail
/// closed): Ferrogate's KMS never answers a DryRun with success.
async fn preflight(app: &App, t: &Task, key: &str) -> Result<(), (&'static str, String)> {
    let fargate = as_service(app, t, "fargate.amazonaws.com");
    let ctx = context(t, false);
    let gen = DataKeyInput::<false>::new(key, 64, ctx.clone())
        .map(DataKeyInput::dry_run)
        .map_err(|e| ("GenerateDataKeyWithoutPlaintext", describe(&e)))?;
    let grant = CreateGrantInput::new(key, &grantee(t), &["Decrypt"], None, ctx)
        .map(CreateGrantInput::dry_run)
        .map_err(|e| ("CreateGrant", describe(&e)))?;
    // The two are independent: made together, their audit records share one group commit.
    let (gen, grant) = tokio::join!(
        dry(fargate.call(&app.kms, gen)),
        dry(fargate.call(&app.kms, grant)),
    );
    gen.map_err(|e| ("GenerateDataKeyWithoutPlaintext", e))?;
    grant.map_err(|e| ("CreateGrant", e))
}

/// A DryRun call's verdict: allowed only when KMS answered `DryRunOperationException`.
async fn dry<T>(call: impl Future<Output = Result<T, KmsError>>) -> Result<(), String> {
    match call.await {
        Err(KmsError::DryRunOperationException) => Ok(()),
        Err(e) => Err(describe(&e)),
        Ok(_) => {
            Err("InternalFailure: the DryRun call did not answer DryRunOperationException".into())
        }
    }
}

/// The task's data key: from the CSPRNG for the service-owned key, or through the KMS flow
/// for a customer managed key. `record_grant` is called as soon as a grant exists, so that a
/// failure or a crash from there on retires it instead of leaving it behind.
pub(crate) async fn key_flow<F, R>(app: &App, t: &Task, record_grant: F) -> Result<Keyed, String>
where
    F: FnOnce(String) -> R,
    R: Future<Output = Result<(), String>>,
{
    let Some(key) = &t.kms_key_arn else {
        let data_key = DataKey::generate().map_err(|_| {
            "ResourceInitializationError: the random number generator failed".to_owned()
        })?;
        return Ok(Keyed {
            data_key,
            grant_id: None,
        });
    };
    let fail = |step: &str, e: &str| {
        format!("ResourceInitializationError: failed to create the task's encrypted ephemeral storage: KMS {step} on {key} failed: {e}")
    };
    preflight(app, t, key)
        .await
        .map_err(|(op, e)| fail(&format!("{op} (DryRun)"), &e))?;
    let fargate = as_service(app, t, "fargate.amazonaws.com");
    let ctx = context(t, true);
    let step = "GenerateDataKeyWithoutPlaintext";
    let gen =
        DataKeyInput::<false>::new(key, 64, ctx.clone()).map_err(|e| fail(step, &describe(&e)))?;
    let generated = fargate
        .call(&app.kms, gen)
        .await
        .map_err(|e| fail(step, &describe(&e)))?;
    let blob = generated.ciphertext().base64();
    let retiring = format!("ec2.{}.amazonaws.com", t.region);
    let grant = CreateGrantInput::new(key, &grantee(t), &["Decrypt"], Some(&retiring), ctx.clone())
        .map_err(|e| fail("CreateGrant", &describe(&e)))?;
    let grant = fargate
        .call(&app.kms, grant)
        .await
        .map_err(|e| fail("CreateGrant", &describe(&e)))?;
    let grant_id = grant.grant_id().to_owned();
    record_grant(grant_id.clone())
        .await
        .map_err(|e| fail("CreateGrant", &e))?;
    let decrypt = DecryptInput::new(&blob, key, ctx).map_err(|e| fail("Decrypt", &describe(&e)))?;
    let decrypted = fargate
        .call(&app.kms, decrypt)
        .await
        .map_err(|e| fail("Decrypt", &describe(&e)))?;
    let data_key = DataKey::from_vec(decrypted.plaintext().to_vec()).map_err(|_| {
        "ResourceInitializationError: KMS returned a data key that is not 64 bytes".to_owned()
    })?;
    Ok(Keyed {
        data_key,
        grant_id: Some(grant_id),
    })
}

/// Retires a task's grant as the retiring principal; true when the grant is gone (retired
/// now, or already gone with its key).
pub(crate) async fn retire(app: &App, t: &Task, key: &str, grant_id: &str) -> bool {
    let ec2 = as_service(app, t, "ec2.amazonaws.com");
    let input = match RetireGrantInput::by_id(key, grant_id) {
        Ok(i) => i,
        Err(e) => {
            tracing::error!(task = %t.id, error = %e, "the task's grant cannot be named; it stays recorded on the task");
            return false;
        }
    };
    match ec2.call(&app.kms, input).await {
        Ok(_) | Err(KmsError::NotFoundException(_) | KmsError::InvalidGrantIdException(_)) => true,
        Err(e) => {
            tracing::error!(task = %t.id, error = %describe(&e), "retiring the task's grant failed; it stays recorded on the task");
            false
        }
    }
}
