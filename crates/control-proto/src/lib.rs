//! The control protocol: what `smtpctl` (and its `sendmail`/`mailq` faces)
//! asks the control process over the control socket, and what it answers
//! (the seed's §2.2 and §3.2.8).
//!
//! It is its own crate because two programs speak it — the daemon's
//! control process and `smtpctl` — and neither should depend on the other.
//! It sits beside `smtpd-ipc`, not inside it: ipc is the transport between
//! the server's roles and knows nothing of what messages say, while this is
//! administrative vocabulary (queue listings, counters) built on
//! `smtpd-types`.
//!
//! - [`Request`] / [`Response`]: one request, then one response or a
//!   stream of them ([`Response::QueuePage`]… [`Response::End`]). They
//!   travel in the ipc frames (`smtpd_ipc::frame`: length, `IPC_VERSION`,
//!   descriptor count, postcard payload), so a stale `smtpctl` is refused
//!   loudly, and descriptors (a message file, an enqueue session) travel
//!   with the response that announces them (`SCM_RIGHTS`).
//! - [`QueueEntry`]: one line of `smtpctl show queue`, built from an
//!   envelope and its scheduling state, printed in OpenSMTPD's format.
//! - [`Digest`]: the counters `smtpctl monitor` prints.
//! - [`Client`]: the blocking client side, for `smtpctl`.

pub mod client;
pub mod digest;
mod duration;
pub mod queue_entry;
pub mod request;
pub mod response;
pub mod vis;

pub use client::{Client, ClientError};
pub use digest::Digest;
pub use duration::duration_text;
pub use queue_entry::{EntryFlags, QueueEntry, RunState};
pub use request::{trace_roles, MtaView, Request, Subsystem, Target, TRACE_SUBSYSTEMS};
pub use response::{Response, Status};

/// Where `smtpctl` looks for the control socket by default.
pub const DEFAULT_SOCKET: &str = "/var/run/smtpd.sock";

/// Where `smtpctl` looks for the spool by default (offline `show queue`).
pub const DEFAULT_SPOOL: &str = "/var/spool/smtpd";
