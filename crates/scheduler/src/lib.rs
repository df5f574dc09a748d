//! The scheduler (the seed's §3.2.1 and §4.2): it knows every envelope's
//! scheduling facts and nothing else — no addresses, no content — and
//! decides which envelope is tried when.
//!
//! Pure logic: no disk, no network, no clock. The caller passes the time
//! (Unix seconds) to every operation that needs it, so the whole behaviour
//! is testable on a fake clock. The semantics follow OpenSMTPD's
//! `scheduler.c` and `scheduler_ramqueue.c`:
//!
//! - envelopes are [`insert`](Scheduler::insert)ed while their message is
//!   committed and scheduled only at [`commit`](Scheduler::commit);
//! - [`batch`](Scheduler::batch) hands out due envelopes, marked in flight,
//!   within [`Limits`]; [`next_wakeup`](Scheduler::next_wakeup) says how
//!   long the caller may sleep;
//! - [`outcome`](Scheduler::outcome) turns an attempt's result into a
//!   [`Verdict`]: done, retry with [`backoff`], bounce, expired;
//! - the administrator can pause, resume, schedule and remove envelopes,
//!   messages or everything, and pause a whole kind of delivery.

pub mod backoff;
mod config;
mod control;
mod listing;
mod scheduler;
mod types;

pub use backoff::{BACKOFF_DELIVERY, BACKOFF_TRANSFER};
pub use config::{Config, Limits};
pub use scheduler::Scheduler;
pub use types::{Batch, DelayWarning, EvpState, EvpStatus, Removal, Target, Verdict};

use smtpd_types::EvpId;

/// A request the scheduler's state does not allow. OpenSMTPD aborts the
/// process on these; we report them and stay consistent.
#[derive(Debug, Clone, Copy, thiserror::Error, PartialEq, Eq)]
pub enum SchedError {
    #[error("envelope {0} is already known")]
    Duplicate(EvpId),
    #[error("envelope {0} is not known")]
    Unknown(EvpId),
    #[error("envelope {0} is not in flight")]
    NotInflight(EvpId),
}
