//! The messages the server's processes exchange: one inbox enum per role.
//!
//! Each enum lists every message its role accepts and, in its
//! `may_come_from`, which roles may send each one. A message from any other
//! role is a protocol violation that closes the channel (and so stops the
//! server). Requests carry a [`ReqId`]; the reply names it, so a process can
//! park the waiting session and resume it when the answer comes (the seed's
//! `reqid`).
//!
//! Descriptors never appear in these types: they travel beside the message
//! in the same frame, and each variant's doc says which ones it carries.

pub mod bootstrap;
pub mod common;
pub mod to_control;
pub mod to_lka;
pub mod to_mda;
pub mod to_mfa;
pub mod to_mta;
pub mod to_parent;
pub mod to_queue;
pub mod to_scheduler;
pub mod to_smtp;
pub mod worker;

pub use bootstrap::{Bootstrap, RuntimeConfig};
pub use common::*;
pub use to_control::ToControl;
pub use to_lka::ToLka;
pub use to_mda::ToMda;
pub use to_mfa::ToMfa;
pub use to_mta::ToMta;
pub use to_parent::ToParent;
pub use to_queue::ToQueue;
pub use to_scheduler::ToScheduler;
pub use to_smtp::ToSmtp;

/// Identifies a request so that its reply can find the waiting party.
pub type ReqId = u64;

/// Every inbox can ask its role to stop. Implemented by the inbox enums so
/// that the common child loop can recognise the parent's order to stop.
pub trait HasShutdown {
    fn is_shutdown(&self) -> bool;
}
