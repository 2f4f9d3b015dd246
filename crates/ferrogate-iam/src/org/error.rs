//! Organizations errors, mapped to AWS's codes in one place.

use ferrogate_store::StoreError;
use ferrogate_wire::{AwsError, Protocol, WireError};

/// Errors of the Organizations API. Variant names are AWS's exception names.
#[derive(Debug, thiserror::Error)]
pub enum OrgError {
    /// The caller's account is in no organization.
    #[error("Your account is not a member of an organization.")]
    AWSOrganizationsNotInUseException,
    /// The account already belongs to an organization.
    #[error("The AWS account is already a member of an organization.")]
    AlreadyInOrganizationException,
    /// Not allowed (not the management account, or denied by policy).
    #[error("{0}")]
    AccessDeniedException(String),
    /// A parameter is invalid.
    #[error("{0}")]
    InvalidInputException(String),
    /// A limit or rule would be violated.
    #[error("{0}")]
    ConstraintViolationException(String),
    /// No such policy.
    #[error("We can't find a policy with the PolicyId that you specified.")]
    PolicyNotFoundException,
    /// No such root, OU or account.
    #[error("We can't find a root, OU, account, or email that matches the ID that you specified.")]
    TargetNotFoundException,
    /// No such root.
    #[error("We can't find a root with the RootId that you specified.")]
    RootNotFoundException,
    /// No such account.
    #[error("We can't find an AWS account with the AccountId that you specified, or the account whose credentials you used to make this request isn't a member of an organization.")]
    AccountNotFoundException,
    /// No such CreateAccount request.
    #[error("We can't find an create account request with the CreateAccountRequestId that you specified.")]
    CreateAccountStatusNotFoundException,
    /// A policy with that name exists.
    #[error("A policy with the same name already exists.")]
    DuplicatePolicyException,
    /// Already attached.
    #[error("The selected policy is already attached to the specified target.")]
    DuplicatePolicyAttachmentException,
    /// Not attached.
    #[error("The policy isn't attached to the specified target in the specified root.")]
    PolicyNotAttachedException,
    /// The policy is still attached.
    #[error("The policy is attached to one or more entities. You must detach it from all roots, OUs, and accounts before performing this operation.")]
    PolicyInUseException,
    /// The policy type is not enabled.
    #[error("The specified policy type isn't currently enabled in this root. You can't attach policies of the specified type to entities in a root until you enable that type in the root.")]
    PolicyTypeNotEnabledException,
    /// The policy type is already enabled.
    #[error("The specified policy type is already enabled in the specified root.")]
    PolicyTypeAlreadyEnabledException,
    /// The policy document is invalid.
    #[error("{0}")]
    MalformedPolicyDocumentException(String),
    /// A protocol-level problem.
    #[error(transparent)]
    Wire(#[from] WireError),
    /// The CSPRNG failed (organization, root, policy and request ids).
    #[error("the random number generator failed")]
    RandomnessUnavailable,
    /// Storage failed.
    #[error(transparent)]
    Internal(#[from] StoreError),
}

impl AwsError for OrgError {
    fn aws_code(&self, p: Protocol) -> &'static str {
        match self {
            OrgError::AWSOrganizationsNotInUseException => "AWSOrganizationsNotInUseException",
            OrgError::AlreadyInOrganizationException => "AlreadyInOrganizationException",
            OrgError::AccessDeniedException(_) => "AccessDeniedException",
            OrgError::InvalidInputException(_) => "InvalidInputException",
            OrgError::ConstraintViolationException(_) => "ConstraintViolationException",
            OrgError::PolicyNotFoundException => "PolicyNotFoundException",
            OrgError::TargetNotFoundException => "TargetNotFoundException",
            OrgError::RootNotFoundException => "RootNotFoundException",
            OrgError::AccountNotFoundException => "AccountNotFoundException",
            OrgError::CreateAccountStatusNotFoundException => {
                "CreateAccountStatusNotFoundException"
            }
            OrgError::DuplicatePolicyException => "DuplicatePolicyException",
            OrgError::DuplicatePolicyAttachmentException => "DuplicatePolicyAttachmentException",
            OrgError::PolicyNotAttachedException => "PolicyNotAttachedException",
            OrgError::PolicyInUseException => "PolicyInUseException",
            OrgError::PolicyTypeNotEnabledException => "PolicyTypeNotEnabledException",
            OrgError::PolicyTypeAlreadyEnabledException => "PolicyTypeAlreadyEnabledException",
            OrgError::MalformedPolicyDocumentException(_) => "MalformedPolicyDocumentException",
            OrgError::Wire(w) => w.aws_code(p),
            OrgError::RandomnessUnavailable | OrgError::Internal(_) => "ServiceException",
        }
    }

    fn status(&self, p: Protocol) -> u16 {
        match self {
            OrgError::AWSOrganizationsNotInUseException
            | OrgError::AlreadyInOrganizationException
            | OrgError::AccessDeniedException(_)
            | OrgError::InvalidInputException(_)
            | OrgError::ConstraintViolationException(_)
            | OrgError::PolicyNotFoundException
            | OrgError::TargetNotFoundException
            | OrgError::RootNotFoundException
            | OrgError::AccountNotFoundException
            | OrgError::CreateAccountStatusNotFoundException
            | OrgError::DuplicatePolicyException
            | OrgError::DuplicatePolicyAttachmentException
            | OrgError::PolicyNotAttachedException
            | OrgError::PolicyInUseException
            | OrgError::PolicyTypeNotEnabledException
            | OrgError::PolicyTypeAlreadyEnabledException
            | OrgError::MalformedPolicyDocumentException(_) => 400,
            OrgError::Wire(w) => w.status(p),
            OrgError::RandomnessUnavailable | OrgError::Internal(_) => 500,
        }
    }

    /// Exactly the failures answered with a 5xx.
    fn is_internal(&self) -> bool {
        self.status(Protocol::Json11) >= 500
    }
}
