//! Local delivery methods: Maildir, mbox (and alias `/path` files),
//! delivery programs (`mda "cmd"`), and LMTP.
//!
//! This crate is the library a delivery worker calls. The worker already
//! runs as the recipient user (uid, gids, clean environment), started by the
//! privileged parent; setting that up is not this crate's business. Every
//! function here is blocking and synchronous, reads the message from a
//! `&mut dyn Read` (the queue's file, LF line endings), and reports failures
//! as a [`DeliveryError`] that knows whether a retry can help and which
//! RFC 3463 status to record; [`DeliveryOutcome`](smtpd_types::DeliveryOutcome)
//! is one `into()` away.
//!
//! Paths and commands may carry format specifiers; [`format::expand`] turns
//! them into strings before the methods are called.

pub mod context;
pub mod error;
pub mod format;
pub mod headers;
pub mod lmtp;
pub mod maildir;
pub mod mbox;
pub mod mda;

pub use context::{DeliveryContext, UserInfo};
pub use error::{outcome_of, DeliveryError, Severity};
pub use format::{expand, expand_wrapper, FormatError};
pub use headers::delivery_headers;
pub use lmtp::{deliver_lmtp, LmtpDest, LmtpOptions, Reply};
pub use maildir::{deliver_maildir, MaildirOptions};
pub use mbox::{append_to_file, deliver_mbox, DotLock, MboxOptions};
pub use mda::{run_mda, MdaCommand, MdaEnv};
