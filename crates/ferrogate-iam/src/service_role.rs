//! A role assumed by an AWS service principal for one of its resources, as ECS assumes a
//! task's execution role (and its task role) with `ecs-tasks.amazonaws.com`.
//!
//! The assumption is an ordinary `sts:AssumeRole` call through the executor, made as the
//! service principal: the role's trust policy must allow the service (with the
//! `aws:SourceAccount`/`aws:SourceArn` conditions AWS documents as the confused-deputy
//! guard, "Amazon ECS task execution IAM role"), and CloudTrail records it as AWS does, an
//! `AssumeRole` by an `AWSService` identity invoked by that service. The resulting session
//! is a [`Principal`] (`arn:aws:sts::<acct>:assumed-role/<role>/<session>`) whose
//! permissions are the role's policies, with the account's SCPs, as for any role session;
//! calls made as it go through the same executor, so they are authorized and recorded with
//! that identity.

use std::sync::Arc;

use ferrogate_api::{Caller, Client, Executor};
use ferrogate_types::{AccountId, Principal};

use crate::api::{AssumeRoleInput, AssumedRole, Sts};
use crate::IamError;

/// What to assume, for which resource.
#[derive(Debug, Clone)]
pub struct ServiceAssumption<'a> {
    /// The role.
    pub role_arn: &'a str,
    /// The service principal that assumes it (`ecs-tasks.amazonaws.com`).
    pub service: &'a str,
    /// The account of the resource (`aws:SourceAccount`).
    pub source_account: &'a str,
    /// The resource (`aws:SourceArn`: the task's ARN).
    pub source_arn: &'a str,
    /// The region the call is made in.
    pub region: &'a str,
    /// The session name (the task id).
    pub session_name: &'a str,
    /// Whether credentials are issued (needed only to hand them to someone else, such as
    /// a task's credentials endpoint; the server calls as the session without them).
    pub mint_credentials: bool,
}

/// Assumes the role as `a.service`; the session, or AWS's refusal (`AccessDenied` when the
/// trust policy does not allow the service, or the role does not exist).
///
/// # Errors
/// The STS error, as a client would get it.
pub async fn assume_for_service(
    exec: &Executor,
    a: &ServiceAssumption<'_>,
) -> Result<AssumedRole, IamError> {
    let account = AccountId::parse(a.source_account)
        .map_err(|_| IamError::ValidationError(format!("{} is invalid", a.source_account)))?;
    let service = Client::new(
        exec.clone(),
        Caller::service(Principal::service(account, a.service), a.region),
    );
    let input = AssumeRoleInput::for_service(
        a.role_arn,
        a.session_name,
        a.source_account,
        a.source_arn,
        a.mint_credentials,
    )?;
    service.call(&Arc::new(Sts), input).await
}
