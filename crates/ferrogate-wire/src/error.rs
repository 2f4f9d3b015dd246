//! Protocol-level errors and the one place that turns any error into AWS's wire shape.

use crate::Protocol;

/// What every error that reaches a client implements: AWS's code and HTTP status, once per
/// crate, in an exhaustive `match` (a new variant does not compile until it is mapped).
/// The message is the error's `Display`.
pub trait AwsError: std::error::Error {
    /// The AWS error code (`__type` / `<Code>`), which may differ by protocol.
    fn aws_code(&self, protocol: Protocol) -> &'static str;
    /// The HTTP status.
    fn status(&self, protocol: Protocol) -> u16;
    /// The message, which may differ by protocol (EC2 words authentication failures and
    /// unknown actions its own way). By default the error's `Display`.
    fn aws_message(&self, protocol: Protocol) -> String {
        let _ = protocol;
        self.to_string()
    }
    /// True for failures of ours (storage, bugs): the client sees only a generic message
    /// and the details go to the log with the request id.
    fn is_internal(&self) -> bool {
        false
    }
}

/// Why a request's signature was refused. Variant names follow the JSON services'
/// exceptions; [`AwsError::aws_code`] gives the query services' codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization` header.
    #[error("Request is missing Authentication Token")]
    MissingAuthenticationToken,
    /// The header is malformed or lacks a part.
    #[error("{0}")]
    IncompleteSignature(String),
    /// The access key id is unknown or inactive.
    #[error("The security token included in the request is invalid.")]
    UnrecognizedClient,
    /// The session token of temporary credentials is wrong.
    #[error("The security token included in the request is invalid.")]
    InvalidToken,
    /// The session token of temporary credentials has expired.
    #[error("The security token included in the request is expired")]
    ExpiredToken,
    /// The signature does not match, or the scope is wrong.
    #[error("{0}")]
    SignatureMismatch(String),
    /// The request is more than 15 minutes from the server's clock.
    #[error("{0}")]
    SignatureExpired(String),
    /// The credential could not be checked (storage failure): refused.
    #[error("An internal error occurred while authenticating the request.")]
    Unavailable,
}

impl From<crate::sigv4::LookupError> for AuthError {
    fn from(e: crate::sigv4::LookupError) -> Self {
        use crate::sigv4::LookupError as L;
        match e {
            L::UnknownAccessKey | L::InactiveAccessKey => AuthError::UnrecognizedClient,
            L::InvalidToken => AuthError::InvalidToken,
            L::ExpiredToken => AuthError::ExpiredToken,
            L::Unavailable => AuthError::Unavailable,
        }
    }
}

impl AwsError for AuthError {
    fn aws_code(&self, p: Protocol) -> &'static str {
        if p == Protocol::Ec2 {
            return self.ec2_code();
        }
        let json = p == Protocol::Json11;
        match self {
            AuthError::MissingAuthenticationToken if json => "MissingAuthenticationTokenException",
            AuthError::MissingAuthenticationToken => "MissingAuthenticationToken",
            AuthError::IncompleteSignature(_) if json => "IncompleteSignatureException",
            AuthError::IncompleteSignature(_) => "IncompleteSignature",
            AuthError::UnrecognizedClient | AuthError::InvalidToken if json => {
                "UnrecognizedClientException"
            }
            AuthError::UnrecognizedClient | AuthError::InvalidToken => "InvalidClientTokenId",
            AuthError::ExpiredToken if json => "ExpiredTokenException",
            AuthError::ExpiredToken => "ExpiredToken",
            AuthError::SignatureMismatch(_) | AuthError::SignatureExpired(_) if json => {
                "InvalidSignatureException"
            }
            AuthError::SignatureMismatch(_) | AuthError::SignatureExpired(_) => {
                "SignatureDoesNotMatch"
            }
            AuthError::Unavailable => "InternalFailure",
        }
    }

    fn status(&self, p: Protocol) -> u16 {
        if p == Protocol::Ec2 {
            return self.ec2_status();
        }
        let json = p == Protocol::Json11;
        match self {
            AuthError::MissingAuthenticationToken => {
                if json {
                    400
                } else {
                    403
                }
            }
            AuthError::IncompleteSignature(_) => 400,
            AuthError::UnrecognizedClient | AuthError::InvalidToken | AuthError::ExpiredToken => {
                if json {
                    400
                } else {
                    403
                }
            }
            AuthError::SignatureMismatch(_) | AuthError::SignatureExpired(_) => {
                if json {
                    400
                } else {
                    403
                }
            }
            AuthError::Unavailable => 500,
        }
    }

    fn aws_message(&self, p: Protocol) -> String {
        match self {
            // EC2 says the same of an unknown key and a wrong signature.
            AuthError::UnrecognizedClient
            | AuthError::InvalidToken
            | AuthError::SignatureMismatch(_)
                if p == Protocol::Ec2 =>
            {
                "AWS was not able to validate the provided access credentials".to_owned()
            }
            AuthError::MissingAuthenticationToken if p == Protocol::Ec2 => {
                "The request must contain either a valid (registered) AWS access key ID or X.509 certificate.".to_owned()
            }
            _ => self.to_string(),
        }
    }

    fn is_internal(&self) -> bool {
        matches!(self, AuthError::Unavailable)
    }
}

impl AuthError {
    /// EC2's codes ("Error codes for the Amazon EC2 API", common client errors): one
    /// `AuthFailure` for credentials that cannot be validated, `RequestExpired` for a request
    /// or a session outside its validity.
    fn ec2_code(&self) -> &'static str {
        match self {
            AuthError::MissingAuthenticationToken => "MissingAuthenticationToken",
            AuthError::IncompleteSignature(_) => "IncompleteSignature",
            AuthError::UnrecognizedClient
            | AuthError::InvalidToken
            | AuthError::SignatureMismatch(_) => "AuthFailure",
            AuthError::ExpiredToken | AuthError::SignatureExpired(_) => "RequestExpired",
            AuthError::Unavailable => "InternalError",
        }
    }

    fn ec2_status(&self) -> u16 {
        match self {
            AuthError::MissingAuthenticationToken
            | AuthError::UnrecognizedClient
            | AuthError::InvalidToken
            | AuthError::SignatureMismatch(_) => 401,
            AuthError::IncompleteSignature(_)
            | AuthError::ExpiredToken
            | AuthError::SignatureExpired(_) => 400,
            AuthError::Unavailable => 500,
        }
    }
}

/// A request that is not a well-formed call of a known operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The target or action names no operation of the service.
    #[error("{message}")]
    UnknownOperation {
        /// AWS's message for the protocol.
        message: String,
    },
    /// The body is not valid JSON or a member has the wrong type.
    #[error("{0}")]
    Serialization(String),
    /// The body exceeds the size cap.
    #[error("Request body is larger than the {limit}-byte limit.")]
    RequestEntityTooLarge {
        /// The cap in bytes.
        limit: usize,
    },
    /// The request names no service Ferrogate serves.
    #[error("{0}")]
    UnknownService(String),
    /// Query protocol: the `Version` parameter is wrong.
    #[error("Could not find operation {action} for version {version}")]
    InvalidAction {
        /// The `Action`.
        action: String,
        /// The `Version` given.
        version: String,
    },
    /// A required request parameter is missing or malformed (protocol level).
    #[error("{0}")]
    MissingParameter(String),
    /// EC2: a parameter the operation does not take (refused, never ignored: a parameter
    /// Ferrogate does not know could change what the request means).
    #[error("The parameter {0} is not recognized")]
    UnknownParameter(String),
}

impl AwsError for WireError {
    fn aws_code(&self, p: Protocol) -> &'static str {
        let json = p == Protocol::Json11;
        match self {
            WireError::UnknownOperation { .. } if json => "UnknownOperationException",
            WireError::UnknownOperation { .. } => "InvalidAction",
            WireError::InvalidAction { .. } => "InvalidAction",
            // EC2 has no serialization error of its own; a form that cannot be read is
            // `MalformedQueryString` there.
            WireError::Serialization(_) if p == Protocol::Ec2 => "MalformedQueryString",
            WireError::Serialization(_) => "SerializationException",
            WireError::RequestEntityTooLarge { .. } => "RequestEntityTooLarge",
            WireError::UnknownService(_) if json => "UnknownOperationException",
            WireError::UnknownService(_) => "InvalidAction",
            WireError::MissingParameter(_) if json => "ValidationException",
            WireError::MissingParameter(_) => "MissingParameter",
            WireError::UnknownParameter(_) if json => "ValidationException",
            WireError::UnknownParameter(_) => "UnknownParameter",
        }
    }

    fn aws_message(&self, p: Protocol) -> String {
        match self {
            // EC2's wording ("Error codes for the Amazon EC2 API": InvalidAction).
            WireError::InvalidAction { action, .. } if p == Protocol::Ec2 => {
                format!("The action {action} is not valid for this web service.")
            }
            _ => self.to_string(),
        }
    }

    fn status(&self, _: Protocol) -> u16 {
        match self {
            WireError::RequestEntityTooLarge { .. } => 413,
            WireError::UnknownOperation { .. }
            | WireError::InvalidAction { .. }
            | WireError::Serialization(_)
            | WireError::UnknownService(_)
            | WireError::MissingParameter(_)
            | WireError::UnknownParameter(_) => 400,
        }
    }
}

/// An error in its final wire form: code, status and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// `__type` / `<Code>`.
    pub code: &'static str,
    /// HTTP status.
    pub status: u16,
    /// The message shown to the client.
    pub message: String,
    /// Whether this is an internal failure (details logged, not shown).
    pub internal: bool,
}

/// The message clients see for any internal failure. Details never leave the server.
pub const INTERNAL_MESSAGE: &str = "We encountered an internal error. Please try again.";

impl ApiError {
    /// Converts any [`AwsError`] for `protocol`. Internal errors lose their message here.
    pub fn from_error<E: AwsError + ?Sized>(e: &E, protocol: Protocol) -> Self {
        let internal = e.is_internal();
        Self {
            code: e.aws_code(protocol),
            status: e.status(protocol),
            message: if internal {
                INTERNAL_MESSAGE.to_owned()
            } else {
                e.aws_message(protocol)
            },
            internal,
        }
    }

    /// A generic internal failure.
    pub fn internal() -> Self {
        Self {
            code: "InternalFailure",
            status: 500,
            message: INTERNAL_MESSAGE.to_owned(),
            internal: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_codes_differ_by_protocol() {
        let cases = [
            (
                AuthError::MissingAuthenticationToken,
                "MissingAuthenticationTokenException",
                "MissingAuthenticationToken",
            ),
            (
                AuthError::UnrecognizedClient,
                "UnrecognizedClientException",
                "InvalidClientTokenId",
            ),
            (
                AuthError::SignatureMismatch("x".into()),
                "InvalidSignatureException",
                "SignatureDoesNotMatch",
            ),
            (
                AuthError::SignatureExpired("x".into()),
                "InvalidSignatureException",
                "SignatureDoesNotMatch",
            ),
            (
                AuthError::ExpiredToken,
                "ExpiredTokenException",
                "ExpiredToken",
            ),
            (
                AuthError::IncompleteSignature("x".into()),
                "IncompleteSignatureException",
                "IncompleteSignature",
            ),
        ];
        for (e, json, query) in cases {
            assert_eq!(e.aws_code(Protocol::Json11), json);
            assert_eq!(e.aws_code(Protocol::Query), query);
        }
    }

    #[test]
    fn internal_errors_hide_details() {
        let e = ApiError::from_error(&AuthError::Unavailable, Protocol::Json11);
        assert!(e.internal);
        assert_eq!(e.status, 500);
        assert_eq!(e.message, INTERNAL_MESSAGE);
    }
}
