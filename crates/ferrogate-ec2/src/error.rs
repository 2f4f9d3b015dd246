//! EC2 errors, mapped to AWS's codes in one place ("Error codes for the Amazon EC2 API").
//! Variant names are the codes without their dots (`InvalidVpcID.NotFound` is
//! [`Ec2Error::InvalidVpcIdNotFound`]); messages are AWS's, built here and nowhere else.

use ferrogate_store::StoreError;
use ferrogate_wire::{AwsError, Protocol, WireError};

/// `'a'` or `'a, b'` with the noun in the singular or plural, as EC2 words missing ids
/// ("The vpc ID 'vpc-1' does not exist", "The vpc IDs 'vpc-1, vpc-2' do not exist").
fn missing(noun: &str, ids: &[String]) -> String {
    match ids {
        [one] => format!("The {noun} ID '{one}' does not exist"),
        many => format!("The {noun} IDs '{}' do not exist", many.join(", ")),
    }
}

/// Errors of the EC2 API.
#[derive(Debug, thiserror::Error)]
pub enum Ec2Error {
    /// `InvalidVpcID.NotFound`.
    #[error("{}", missing("vpc", .0))]
    InvalidVpcIdNotFound(Vec<String>),
    /// `InvalidSubnetID.NotFound`.
    #[error("{}", missing("subnet", .0))]
    InvalidSubnetIdNotFound(Vec<String>),
    /// `InvalidGroup.NotFound`: no group with this id (or these ids).
    #[error("{}", match .0.as_slice() { [one] => format!("The security group '{one}' does not exist"), many => format!("The security groups '{}' do not exist", many.join(", ")) })]
    InvalidGroupNotFound(Vec<String>),
    /// `InvalidGroup.NotFound`: no group with this name in the default VPC.
    #[error("The security group '{name}' does not exist in default VPC '{vpc_id}'")]
    InvalidGroupNameNotFound {
        /// The name given.
        name: String,
        /// The default VPC.
        vpc_id: String,
    },
    /// `InvalidGroup.NotFound`: a rule names a group of another VPC.
    #[error("You have specified two resources that belong to different networks.")]
    InvalidGroupDifferentNetworks,
    /// `InvalidGroupId.Malformed`.
    #[error("Invalid id: \"{0}\" (expecting \"sg-...\")")]
    InvalidGroupIdMalformed(String),
    /// `InvalidGroup.Duplicate`.
    #[error("The security group '{name}' already exists for VPC '{vpc_id}'")]
    InvalidGroupDuplicate {
        /// The name.
        name: String,
        /// The VPC.
        vpc_id: String,
    },
    /// `InvalidGroup.Reserved`: `default` is the name of each VPC's own group.
    #[error("The security group '{0}' is reserved")]
    InvalidGroupReserved(String),
    /// `CannotDelete`: a VPC's default group goes with its VPC only.
    #[error("the specified group: \"{0}\" name: \"default\" cannot be deleted by a user")]
    CannotDelete(String),
    /// `InvalidNetworkInterfaceID.NotFound`.
    #[error("{}", missing("network interface", .0))]
    InvalidNetworkInterfaceIdNotFound(Vec<String>),
    /// `InvalidSecurityGroupRuleId.NotFound`.
    #[error("{}", missing("security group rule", .0))]
    InvalidSecurityGroupRuleIdNotFound(Vec<String>),
    /// `InvalidSecurityGroupRuleId.Malformed`.
    #[error("Invalid id: \"{0}\" (expecting \"sgr-...\")")]
    InvalidSecurityGroupRuleIdMalformed(String),
    /// `InvalidPermission.Duplicate`: the rule, as EC2 describes it.
    #[error("the specified rule \"{0}\" already exists")]
    InvalidPermissionDuplicate(String),
    /// `InvalidPermission.Malformed`.
    #[error("{0}")]
    InvalidPermissionMalformed(String),
    /// `InvalidPermission.NotFound`.
    #[error("The specified rule does not exist in this security group.")]
    InvalidPermissionNotFound,
    /// `InvalidSubnet.Range`: not inside the VPC, or too small or large.
    #[error("The CIDR '{0}' is invalid.")]
    InvalidSubnetRange(String),
    /// `InvalidSubnet.Conflict`: overlaps a subnet of the VPC.
    #[error("The CIDR '{0}' conflicts with another subnet")]
    InvalidSubnetConflict(String),
    /// `InvalidVpc.Range`: outside /16 to /28.
    #[error("The CIDR '{0}' is invalid.")]
    InvalidVpcRange(String),
    /// `VPCIdNotSpecified`: no VPC given and the account has no default VPC in the region.
    #[error("No default VPC for this user")]
    VpcIdNotSpecified,
    /// `InvalidID`: a tagged resource id of no kind EC2 knows.
    #[error("The ID '{0}' is not valid")]
    InvalidId(String),
    /// `InsufficientFreeAddressesInSubnet`: no address of the subnet is free (EC2's
    /// RunInstances wording).
    #[error("There are not enough free addresses in subnet '{0}' to satisfy the requested number of instances.")]
    InsufficientFreeAddressesInSubnet(String),
    /// `DependencyViolation`: the message names the resource and what holds it.
    #[error("{0}")]
    DependencyViolation(String),
    /// `InvalidParameterValue`.
    #[error("{0}")]
    InvalidParameterValue(String),
    /// `InvalidParameterCombination`.
    #[error("{0}")]
    InvalidParameterCombination(String),
    /// `MissingParameter`.
    #[error("The request must contain the parameter {0}")]
    MissingParameter(String),
    /// `InvalidPaginationToken`.
    #[error("Invalid pagination token '{0}'")]
    InvalidPaginationToken(String),
    /// `VpcLimitExceeded` (EC2's default quota: 5 VPCs per region).
    #[error("The maximum number of VPCs has been reached.")]
    VpcLimitExceeded,
    /// `SecurityGroupLimitExceeded`.
    #[error("The maximum number of security groups has been reached.")]
    SecurityGroupLimitExceeded,
    /// `RulesPerSecurityGroupLimitExceeded`.
    #[error("The maximum number of rules per security group has been reached.")]
    RulesPerSecurityGroupLimitExceeded,
    /// `TagLimitExceeded`.
    #[error("The maximum number of Tags for a resource has been reached.")]
    TagLimitExceeded,
    /// `UnsupportedOperation`: what Ferrogate does not provide (IPv6, prefix lists, …).
    #[error("{0}")]
    UnsupportedOperation(String),
    /// `DryRunOperation` (HTTP 412): authorized, not run.
    #[error("Request would have succeeded, but DryRun flag is set.")]
    DryRunOperation,
    /// `UnauthorizedOperation` (HTTP 403).
    #[error("You are not authorized to perform this operation. {0}")]
    UnauthorizedOperation(String),
    /// A protocol-level problem (an unknown parameter, an unknown action).
    #[error(transparent)]
    Wire(#[from] WireError),
    /// The CSPRNG failed (resource ids): logged, answered as `InternalError`.
    #[error("the random number generator failed")]
    RandomnessUnavailable,
    /// Storage failure of ours: logged, answered as `InternalError`.
    #[error(transparent)]
    Internal(#[from] StoreError),
}

impl AwsError for Ec2Error {
    fn aws_code(&self, p: Protocol) -> &'static str {
        match self {
            Ec2Error::InvalidVpcIdNotFound(_) => "InvalidVpcID.NotFound",
            Ec2Error::InvalidSubnetIdNotFound(_) => "InvalidSubnetID.NotFound",
            Ec2Error::InvalidGroupNotFound(_)
            | Ec2Error::InvalidGroupNameNotFound { .. }
            | Ec2Error::InvalidGroupDifferentNetworks => "InvalidGroup.NotFound",
            Ec2Error::InvalidGroupIdMalformed(_) => "InvalidGroupId.Malformed",
            Ec2Error::InvalidGroupDuplicate { .. } => "InvalidGroup.Duplicate",
            Ec2Error::InvalidGroupReserved(_) => "InvalidGroup.Reserved",
            Ec2Error::CannotDelete(_) => "CannotDelete",
            Ec2Error::InvalidNetworkInterfaceIdNotFound(_) => "InvalidNetworkInterfaceID.NotFound",
            Ec2Error::InvalidSecurityGroupRuleIdNotFound(_) => {
                "InvalidSecurityGroupRuleId.NotFound"
            }
            Ec2Error::InvalidSecurityGroupRuleIdMalformed(_) => {
                "InvalidSecurityGroupRuleId.Malformed"
            }
            Ec2Error::InvalidPermissionDuplicate(_) => "InvalidPermission.Duplicate",
            Ec2Error::InvalidPermissionMalformed(_) => "InvalidPermission.Malformed",
            Ec2Error::InvalidPermissionNotFound => "InvalidPermission.NotFound",
            Ec2Error::InvalidSubnetRange(_) => "InvalidSubnet.Range",
            Ec2Error::InvalidSubnetConflict(_) => "InvalidSubnet.Conflict",
            Ec2Error::InvalidVpcRange(_) => "InvalidVpc.Range",
            Ec2Error::VpcIdNotSpecified => "VPCIdNotSpecified",
            Ec2Error::InvalidId(_) => "InvalidID",
            Ec2Error::InsufficientFreeAddressesInSubnet(_) => "InsufficientFreeAddressesInSubnet",
            Ec2Error::DependencyViolation(_) => "DependencyViolation",
            Ec2Error::InvalidParameterValue(_) => "InvalidParameterValue",
            Ec2Error::InvalidParameterCombination(_) => "InvalidParameterCombination",
            Ec2Error::MissingParameter(_) => "MissingParameter",
            Ec2Error::InvalidPaginationToken(_) => "InvalidPaginationToken",
            Ec2Error::VpcLimitExceeded => "VpcLimitExceeded",
            Ec2Error::SecurityGroupLimitExceeded => "SecurityGroupLimitExceeded",
            Ec2Error::RulesPerSecurityGroupLimitExceeded => "RulesPerSecurityGroupLimitExceeded",
            Ec2Error::TagLimitExceeded => "TagLimitExceeded",
            Ec2Error::UnsupportedOperation(_) => "UnsupportedOperation",
            Ec2Error::DryRunOperation => "DryRunOperation",
            Ec2Error::UnauthorizedOperation(_) => "UnauthorizedOperation",
            Ec2Error::Wire(w) => w.aws_code(p),
            Ec2Error::RandomnessUnavailable | Ec2Error::Internal(_) => "InternalError",
        }
    }

    fn status(&self, p: Protocol) -> u16 {
        match self {
            Ec2Error::InvalidVpcIdNotFound(_)
            | Ec2Error::InvalidSubnetIdNotFound(_)
            | Ec2Error::InvalidGroupNotFound(_)
            | Ec2Error::InvalidGroupNameNotFound { .. }
            | Ec2Error::InvalidGroupDifferentNetworks
            | Ec2Error::InvalidGroupIdMalformed(_)
            | Ec2Error::InvalidGroupDuplicate { .. }
            | Ec2Error::InvalidGroupReserved(_)
            | Ec2Error::CannotDelete(_)
            | Ec2Error::InvalidNetworkInterfaceIdNotFound(_)
            | Ec2Error::InvalidSecurityGroupRuleIdNotFound(_)
            | Ec2Error::InvalidSecurityGroupRuleIdMalformed(_)
            | Ec2Error::InvalidPermissionDuplicate(_)
            | Ec2Error::InvalidPermissionMalformed(_)
            | Ec2Error::InvalidPermissionNotFound
            | Ec2Error::InvalidSubnetRange(_)
            | Ec2Error::InvalidSubnetConflict(_)
            | Ec2Error::InvalidVpcRange(_)
            | Ec2Error::VpcIdNotSpecified
            | Ec2Error::InvalidId(_)
            | Ec2Error::DependencyViolation(_)
            | Ec2Error::InsufficientFreeAddressesInSubnet(_)
            | Ec2Error::InvalidParameterValue(_)
            | Ec2Error::InvalidParameterCombination(_)
            | Ec2Error::MissingParameter(_)
            | Ec2Error::InvalidPaginationToken(_)
            | Ec2Error::VpcLimitExceeded
            | Ec2Error::SecurityGroupLimitExceeded
            | Ec2Error::RulesPerSecurityGroupLimitExceeded
            | Ec2Error::TagLimitExceeded
            | Ec2Error::UnsupportedOperation(_) => 400,
            Ec2Error::DryRunOperation => 412,
            Ec2Error::UnauthorizedOperation(_) => 403,
            Ec2Error::Wire(w) => w.status(p),
            Ec2Error::RandomnessUnavailable | Ec2Error::Internal(_) => 500,
        }
    }

    fn aws_message(&self, p: Protocol) -> String {
        match self {
            Ec2Error::Wire(w) => w.aws_message(p),
            other => other.to_string(),
        }
    }

    /// Exactly the failures answered with a 5xx.
    fn is_internal(&self) -> bool {
        self.status(Protocol::Ec2) >= 500
    }
}

impl Ec2Error {
    /// `InvalidParameterValue` with `message`.
    pub fn invalid(message: impl Into<String>) -> Self {
        Ec2Error::InvalidParameterValue(message.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrogate_wire::ApiError;

    #[test]
    fn messages_are_aws_words() {
        let cases: Vec<(Ec2Error, &str, &str)> = vec![
            (
                Ec2Error::InvalidVpcIdNotFound(vec!["vpc-1".into()]),
                "InvalidVpcID.NotFound",
                "The vpc ID 'vpc-1' does not exist",
            ),
            (
                Ec2Error::InvalidSubnetIdNotFound(vec!["subnet-1".into(), "subnet-2".into()]),
                "InvalidSubnetID.NotFound",
                "The subnet IDs 'subnet-1, subnet-2' do not exist",
            ),
            (
                Ec2Error::InvalidGroupNotFound(vec!["sg-1".into()]),
                "InvalidGroup.NotFound",
                "The security group 'sg-1' does not exist",
            ),
            (
                Ec2Error::InvalidGroupDuplicate {
                    name: "web".into(),
                    vpc_id: "vpc-1".into(),
                },
                "InvalidGroup.Duplicate",
                "The security group 'web' already exists for VPC 'vpc-1'",
            ),
            (
                Ec2Error::InvalidGroupIdMalformed("nope".into()),
                "InvalidGroupId.Malformed",
                "Invalid id: \"nope\" (expecting \"sg-...\")",
            ),
            (
                Ec2Error::InvalidSubnetRange("10.1.0.0/24".into()),
                "InvalidSubnet.Range",
                "The CIDR '10.1.0.0/24' is invalid.",
            ),
            (
                Ec2Error::InvalidSubnetConflict("10.0.1.0/24".into()),
                "InvalidSubnet.Conflict",
                "The CIDR '10.0.1.0/24' conflicts with another subnet",
            ),
            (
                Ec2Error::InvalidPermissionDuplicate(
                    "peer: 0.0.0.0/0, TCP, from port: 22, to port: 22, ALLOW".into(),
                ),
                "InvalidPermission.Duplicate",
                "the specified rule \"peer: 0.0.0.0/0, TCP, from port: 22, to port: 22, ALLOW\" already exists",
            ),
            (
                Ec2Error::DryRunOperation,
                "DryRunOperation",
                "Request would have succeeded, but DryRun flag is set.",
            ),
        ];
        for (e, code, message) in cases {
            let api = ApiError::from_error(&e, Protocol::Ec2);
            assert_eq!(api.code, code);
            assert_eq!(api.message, message);
            assert!(!api.internal);
        }
    }

    #[test]
    fn internal_failures_say_nothing() {
        let api = ApiError::from_error(
            &Ec2Error::Internal(StoreError::Engine("disk".into())),
            Protocol::Ec2,
        );
        assert_eq!(
            (api.code, api.status, api.internal),
            ("InternalError", 500, true)
        );
        assert!(!api.message.contains("disk"));
        let api = ApiError::from_error(&Ec2Error::DryRunOperation, Protocol::Ec2);
        assert_eq!(api.status, 412);
        let unknown = Ec2Error::Wire(WireError::UnknownParameter("Foo".into()));
        let api = ApiError::from_error(&unknown, Protocol::Ec2);
        assert_eq!(
            (api.code, api.message.as_str()),
            ("UnknownParameter", "The parameter Foo is not recognized")
        );
    }
}
