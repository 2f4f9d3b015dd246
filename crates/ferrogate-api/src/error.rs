//! [`service_error!`]: a service's error enum and its one exhaustive mapping to AWS's codes
//! and statuses, written once.
//!
//! Every service's errors have the same frame: variants named after AWS's exceptions (the
//! variant name *is* the code), `Wire` for malformed requests (mapped by
//! [`WireError`](ferrogate_wire::WireError) itself), the service's own failures (storage,
//! randomness), answered with its internal code and a 500, and logged rather than shown,
//! and, for KMS, errors of another crate that carry their own mapping. The macro writes
//! that frame; a service lists its variants with their statuses. The `match`es it writes
//! have no wildcard arm: a variant without a status does not compile.

/// Declares a service's error enum and implements [`AwsError`](ferrogate_wire::AwsError)
/// for it.
///
/// ```ignore
/// ferrogate_api::service_error! {
///     /// Errors of the CloudTrail API.
///     #[derive(Debug, thiserror::Error)]
///     pub enum TrailError {
///         /// MaxResults outside 1–50.
///         #[error("{0}")]
///         InvalidMaxResultsException(String) => 400,
///     }
///     internal "InternalFailure" {}
/// }
/// ```
///
/// - Each listed variant's code is its name; its status is the literal after `=>`.
/// - `Wire(#[from] WireError)` and `Internal(#[from] StoreError)` are added to every enum
///   (their `Display` is the inner error's).
/// - `internal "Code" { … }` lists the service's other failures of its own (randomness):
///   like `Internal`, answered with `"Code"` and 500 and reported as internal.
/// - An optional `delegate { Variant(#[from] Other) => |e| (code, status), }` maps errors
///   that carry their own mapping.
/// - `is_internal` is exactly "answered with a 5xx".
#[macro_export]
macro_rules! service_error {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $(
                $(#[$vmeta:meta])*
                $variant:ident $( ( $($tuple:tt)* ) )? $( { $($fields:tt)* } )? => $status:literal,
            )*
        }
        internal $internal:literal {
            $(
                $(#[$imeta:meta])*
                $ivariant:ident,
            )*
        }
        $(
            delegate {
                $(
                    $(#[$dmeta:meta])*
                    $dvariant:ident ( $($dtuple:tt)* ) => |$d:ident| ($dcode:expr, $dstatus:expr),
                )*
            }
        )?
    ) => {
        $(#[$meta])*
        $vis enum $name {
            $(
                $(#[$vmeta])*
                $variant $( ( $($tuple)* ) )? $( { $($fields)* } )?,
            )*
            /// A protocol-level problem (an unknown operation, a request that does not
            /// decode), mapped by the protocol layer.
            #[error("{0}")]
            Wire(#[from] $crate::__macro::WireError),
            $($(
                $(#[$dmeta])*
                $dvariant ( $($dtuple)* ),
            )*)?
            $(
                $(#[$imeta])*
                $ivariant,
            )*
            /// Storage failed: logged with the request id, answered with the service's
            /// internal error.
            #[error("{0}")]
            Internal(#[from] $crate::__macro::StoreError),
        }

        impl $crate::__macro::AwsError for $name {
            #[allow(unused_variables)] // a delegated variant's mapping may ignore it
            fn aws_code(&self, p: $crate::__macro::Protocol) -> &'static str {
                match self {
                    $( Self::$variant { .. } => stringify!($variant), )*
                    Self::Wire(w) => $crate::__macro::AwsError::aws_code(w, p),
                    $($( Self::$dvariant($d) => $dcode, )*)?
                    $( Self::$ivariant | )* Self::Internal(_) => $internal,
                }
            }

            #[allow(unused_variables)]
            fn status(&self, p: $crate::__macro::Protocol) -> u16 {
                match self {
                    $( Self::$variant { .. } => $status, )*
                    Self::Wire(w) => $crate::__macro::AwsError::status(w, p),
                    $($( Self::$dvariant($d) => $dstatus, )*)?
                    $( Self::$ivariant | )* Self::Internal(_) => 500,
                }
            }

            /// Exactly the failures answered with a 5xx (the exhaustive mapping decides).
            fn is_internal(&self) -> bool {
                self.status($crate::__macro::Protocol::Json11) >= 500
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use ferrogate_store::StoreError;
    use ferrogate_wire::{AwsError, Protocol, WireError};

    #[derive(Debug, thiserror::Error)]
    #[error("other {0}")]
    pub struct Other(u16);

    crate::service_error! {
        /// A service's errors, for the test.
        #[derive(Debug, thiserror::Error)]
        pub enum TestError {
            /// A tuple variant.
            #[error("{0}")]
            NotFoundException(String) => 404,
            /// A unit variant.
            #[error("dry run")]
            DryRunOperationException => 412,
            /// A struct variant.
            #[error("{field}")]
            ValidationException { field: String } => 400,
        }
        internal "InternalFailure" {
            /// The CSPRNG failed.
            #[error("the random number generator failed")]
            RandomnessUnavailable,
        }
        delegate {
            /// Carries its own status.
            #[error("{0}")]
            Delegated(#[from] Other) => |o| ("DelegatedCode", o.0),
        }
    }

    #[test]
    fn codes_statuses_and_internal() {
        let p = Protocol::Json11;
        let cases: Vec<(TestError, &str, u16, bool)> = vec![
            (
                TestError::NotFoundException("x".into()),
                "NotFoundException",
                404,
                false,
            ),
            (
                TestError::DryRunOperationException,
                "DryRunOperationException",
                412,
                false,
            ),
            (
                TestError::ValidationException { field: "f".into() },
                "ValidationException",
                400,
                false,
            ),
            (
                TestError::RandomnessUnavailable,
                "InternalFailure",
                500,
                true,
            ),
            (
                TestError::Internal(StoreError::Seal),
                "InternalFailure",
                500,
                true,
            ),
            (Other(503).into(), "DelegatedCode", 503, true),
            (Other(400).into(), "DelegatedCode", 400, false),
        ];
        for (e, code, status, internal) in cases {
            assert_eq!(
                (e.aws_code(p), e.status(p), e.is_internal()),
                (code, status, internal),
                "{e:?}"
            );
        }
        let w = TestError::from(WireError::Serialization("bad".into()));
        assert_eq!(
            w.aws_code(p),
            WireError::Serialization(String::new()).aws_code(p)
        );
        assert!(!w.is_internal());
    }
}
