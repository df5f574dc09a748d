//! The shared vocabulary of the mail server.
//!
//! Every other crate speaks in these types: message and envelope ids, mail
//! addresses, envelopes and the outcome of a delivery attempt. This crate has
//! no I/O and depends on nothing but serde, so that the protocol, the config
//! language, the queue and the scheduler can all use it without pulling each
//! other in.

pub mod addr;
pub mod dsn;
pub mod envelope;
pub mod ids;
pub mod outcome;

pub use addr::{AddrError, MailAddr};
pub use dsn::{DsnNotify, DsnRet};
pub use envelope::{Envelope, EnvelopeFlags, EnvelopeKind, SchedInfo};
pub use ids::{EvpId, MsgId};
pub use outcome::{DeliveryOutcome, EnhancedStatus};
