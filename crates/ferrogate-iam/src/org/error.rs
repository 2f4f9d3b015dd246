//! Organizations errors, mapped to AWS's codes in one place.

ferrogate_api::service_error! {
    /// Errors of the Organizations API. Variant names are AWS's exception names.
    #[derive(Debug, thiserror::Error)]
    pub enum OrgError {
        /// The caller's account is in no organization.
        #[error("Your account is not a member of an organization.")]
        AWSOrganizationsNotInUseException => 400,
        /// The account already belongs to an organization.
        #[error("The AWS account is already a member of an organization.")]
        AlreadyInOrganizationException => 400,
        /// Not allowed (not the management account, or denied by policy).
        #[error("{0}")]
        AccessDeniedException(String) => 400,
        /// A parameter is invalid.
        #[error("{0}")]
        InvalidInputException(String) => 400,
        /// A limit or rule would be violated.
        #[error("{0}")]
        ConstraintViolationException(String) => 400,
        /// No such policy.
        #[error("We can't find a policy with the PolicyId that you specified.")]
        PolicyNotFoundException => 400,
        /// No such root, OU or account.
        #[error("We can't find a root, OU, account, or email that matches the ID that you specified.")]
        TargetNotFoundException => 400,
        /// No such root.
        #[error("We can't find a root with the RootId that you specified.")]
        RootNotFoundException => 400,
        /// No such account.
        #[error("We can't find an AWS account with the AccountId that you specified, or the account whose credentials you used to make this request isn't a member of an organization.")]
        AccountNotFoundException => 400,
        /// No such CreateAccount request.
        #[error("We can't find an create account request with the CreateAccountRequestId that you specified.")]
        CreateAccountStatusNotFoundException => 400,
        /// A policy with that name exists.
        #[error("A policy with the same name already exists.")]
        DuplicatePolicyException => 400,
        /// Already attached.
        #[error("The selected policy is already attached to the specified target.")]
        DuplicatePolicyAttachmentException => 400,
        /// Not attached.
        #[error("The policy isn't attached to the specified target in the specified root.")]
        PolicyNotAttachedException => 400,
        /// The policy is still attached.
        #[error("The policy is attached to one or more entities. You must detach it from all roots, OUs, and accounts before performing this operation.")]
        PolicyInUseException => 400,
        /// The policy type is not enabled.
        #[error("The specified policy type isn't currently enabled in this root. You can't attach policies of the specified type to entities in a root until you enable that type in the root.")]
        PolicyTypeNotEnabledException => 400,
        /// The policy type is already enabled.
        #[error("The specified policy type is already enabled in the specified root.")]
        PolicyTypeAlreadyEnabledException => 400,
        /// The policy document is invalid.
        #[error("{0}")]
        MalformedPolicyDocumentException(String) => 400,
    }
    internal "ServiceException" {
        /// The CSPRNG failed (organization, root, policy and request ids).
        #[error("the random number generator failed")]
        RandomnessUnavailable,
    }
}
