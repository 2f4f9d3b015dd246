//! Vocabulary shared by every Ferrogate crate: account ids, regions, ARNs, request ids,
//! timestamps and the clock, and the authenticated [`Principal`].
//!
//! This crate does no I/O. Values are parsed once at the edge (`AccountId::parse`,
//! `Arn::parse`) and travel as newtypes afterwards, so a handler never re-validates a string.
#![deny(missing_docs)]

mod arn;
mod clock;
mod ids;
mod principal;
mod time;

pub use arn::{Arn, ArnError};
pub use clock::{Clock, ManualClock, SystemClock};
pub use ids::{AccountId, IdError, Region, RequestId};
pub use principal::{Principal, PrincipalKind, SessionContext};
pub use time::{Timestamp, TimestampError};
