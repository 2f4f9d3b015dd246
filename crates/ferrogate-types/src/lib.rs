//! Vocabulary shared by every Ferrogate crate: account ids, regions, ARNs, request ids,
//! timestamps and the clock, and the authenticated [`Principal`].
//!
//! This crate does no I/O. Values are parsed once at the edge (`AccountId::parse`,
//! `Arn::parse`) and travel as newtypes afterwards, so a handler never re-validates a string.
#![deny(missing_docs)]

/// `TryFrom<String>` (through `parse`), `From<_> for String` and `Display` of a type that is
/// text checked once: its `field` holds the text.
macro_rules! text_type {
    ($ty:ident, $field:tt, $err:ty) => {
        impl TryFrom<String> for $ty {
            type Error = $err;
            fn try_from(s: String) -> Result<Self, $err> {
                Self::parse(&s)
            }
        }

        impl From<$ty> for String {
            fn from(v: $ty) -> String {
                v.$field
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.$field)
            }
        }
    };
}
pub(crate) use text_type;

mod arn;
mod clock;
mod ids;
mod principal;
mod time;

pub use arn::{Arn, ArnError};
pub use clock::{Clock, ManualClock, SystemClock};
pub use ids::{format_uuid, AccountId, IdError, Region, RequestId};
pub use principal::{Principal, PrincipalKind, SessionContext};
pub use time::{Timestamp, TimestampError};
