//! Why a policy document was refused.
//!
//! `Display` is the message IAM returns with `MalformedPolicyDocument`, word for word where the
//! wording is known (collected from real IAM responses quoted in public issue trackers and from
//! moto's `moto/iam/policy_validation.py`, which mirrors them). IAM answers many distinct problems
//! with the same sentence, "Syntax errors in policy."; [`PolicyError::detail`] then names the
//! problem precisely for logs and for callers that want a more helpful message.
//!
//! Organizations answers any invalid SCP with its own generic sentence ("The provided policy
//! document does not meet the requirements of the specified policy type."), and KMS has its own
//! `MalformedPolicyDocumentException` wording; those crates map every variant themselves.

/// A refused policy document. Every variant becomes `MalformedPolicyDocument` at the edge.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// Not JSON, or JSON with a duplicate member name.
    #[error("{}", if *trust { "This policy contains invalid Json" } else { "Syntax errors in policy." })]
    InvalidJson {
        /// True for role trust policies, where IAM words this differently.
        trust: bool,
        /// The JSON parser's message.
        detail: String,
    },
    /// JSON that does not follow the policy grammar: wrong types, unknown members, an unknown
    /// `Version`, an empty `Statement`, both `Action` and `NotAction`, ...
    #[error("Syntax errors in policy.")]
    Syntax {
        /// What exactly is wrong.
        detail: String,
    },
    /// A member IAM reads but whose value it cannot (a date, an `Effect` in the wrong case).
    #[error("The policy failed legacy parsing")]
    LegacyParsing {
        /// What exactly is wrong.
        detail: String,
    },
    /// A required member is absent (`Effect`; `Principal` in resource policies).
    #[error("Missing required field {field}")]
    MissingField {
        /// The member's name.
        field: &'static str,
    },
    /// `Principal` or `NotPrincipal` in an identity policy or SCP.
    #[error("Policy document should not specify a principal.")]
    PrincipalNotAllowed,
    /// `Resource` or `NotResource` in a role trust policy.
    #[error("Has prohibited field {field}")]
    ProhibitedField {
        /// The member's name.
        field: &'static str,
    },
    /// A statement without `Action` / `NotAction`, or with an empty list.
    #[error("Policy statement must contain actions.")]
    MissingAction,
    /// A statement without `Resource` / `NotResource`, or with an empty list.
    #[error("Policy statement must contain resources.")]
    MissingResource,
    /// Two statements with the same `Sid`.
    #[error("Statement IDs (SID) in a single policy must be unique.")]
    DuplicateSid {
        /// The repeated Sid.
        sid: String,
    },
    /// A `Sid` with characters IAM does not allow in identity and trust policies.
    #[error("Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*")]
    InvalidSid {
        /// The Sid.
        sid: String,
    },
    /// An action or condition key without a `vendor:` prefix.
    #[error("Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.")]
    MissingVendor {
        /// The action or key.
        value: String,
    },
    /// An action with more than one colon.
    #[error("Actions/Condition can contain only one colon.")]
    TooManyColons {
        /// The action.
        action: String,
    },
    /// An action whose vendor has characters other than letters, digits, `-` and `.`.
    #[error("Vendor {vendor} is not valid")]
    InvalidVendor {
        /// The vendor part.
        vendor: String,
    },
    /// A `Resource` that is neither `*` nor an ARN.
    #[error("Resource {resource} must be in ARN format or \"*\".")]
    InvalidResource {
        /// The value.
        resource: String,
    },
    /// A `Principal` entry that names nothing IAM understands, or uses a partial wildcard.
    #[error("Invalid principal in policy: \"{kind}\":\"{value}\"")]
    InvalidPrincipal {
        /// `AWS`, `Service`, `Federated`, `CanonicalUser` or the unknown member name.
        kind: String,
        /// The value.
        value: String,
    },
    /// A condition operator IAM does not know (IAM answers with its generic sentence).
    #[error("Syntax errors in policy.")]
    UnknownConditionOperator {
        /// The operator as written.
        operator: String,
    },
    /// A condition value the operator cannot read (a number that is not a number, an invalid
    /// CIDR, base64 or boolean). Dates are [`PolicyError::LegacyParsing`], as in IAM.
    #[error("Syntax errors in policy.")]
    InvalidConditionValue {
        /// The operator as written.
        operator: String,
        /// The key.
        key: String,
        /// The value.
        value: String,
    },
}

impl PolicyError {
    pub(crate) fn syntax(detail: impl Into<String>) -> Self {
        PolicyError::Syntax {
            detail: detail.into(),
        }
    }

    /// A precise description of the problem, for logs and better messages. For variants whose
    /// IAM message already names the problem, it is that message.
    pub fn detail(&self) -> String {
        match self {
            PolicyError::InvalidJson { detail, .. } => format!("invalid JSON: {detail}"),
            PolicyError::Syntax { detail } | PolicyError::LegacyParsing { detail } => {
                detail.clone()
            }
            PolicyError::UnknownConditionOperator { operator } => {
                format!("Policy has invalid condition operator: {operator}")
            }
            PolicyError::InvalidConditionValue {
                operator,
                key,
                value,
            } => {
                format!("Invalid value {value:?} for condition operator {operator} on key {key}")
            }
            PolicyError::DuplicateSid { sid } => format!("{self} Duplicate Sid: {sid}"),
            PolicyError::MissingVendor { value } => format!("{self} Got: {value}"),
            PolicyError::TooManyColons { action } => format!("{self} Got: {action}"),
            other => other.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::PolicyError;

    #[test]
    fn messages_are_iams() {
        assert_eq!(
            PolicyError::syntax("x").to_string(),
            "Syntax errors in policy."
        );
        assert_eq!(
            PolicyError::InvalidJson {
                trust: true,
                detail: String::new()
            }
            .to_string(),
            "This policy contains invalid Json"
        );
        assert_eq!(
            PolicyError::MissingField { field: "Principal" }.to_string(),
            "Missing required field Principal"
        );
        assert_eq!(
            PolicyError::ProhibitedField { field: "Resource" }.to_string(),
            "Has prohibited field Resource"
        );
        assert_eq!(
            PolicyError::InvalidPrincipal {
                kind: "AWS".into(),
                value: "bob".into()
            }
            .to_string(),
            "Invalid principal in policy: \"AWS\":\"bob\""
        );
        assert_eq!(
            PolicyError::InvalidResource {
                resource: "bucket".into()
            }
            .to_string(),
            "Resource bucket must be in ARN format or \"*\"."
        );
        let op = PolicyError::UnknownConditionOperator {
            operator: "StringEqual".into(),
        };
        assert_eq!(op.to_string(), "Syntax errors in policy.");
        assert_eq!(
            op.detail(),
            "Policy has invalid condition operator: StringEqual"
        );
    }
}
