//! The wire between the server's processes.
//!
//! The server is a set of processes with one role each (the seed's §3),
//! talking only by messages over Unix socketpairs. This crate is the
//! transport, independent of what the messages say:
//!
//! - [`role`]: the nine roles and the table of who may talk to whom.
//! - [`frame`]: a length-prefixed, versioned frame around a postcard-encoded
//!   message, with the number of file descriptors that travel with it.
//! - [`os`]: the one module that talks to the OS for descriptor passing
//!   (`SCM_RIGHTS`) and socketpairs; the only `unsafe` of the crate lives there.
//! - [`channel`]: typed async channels (a reader task and a writer task per
//!   socket) and a blocking variant for the start-up handshake.
//!
//! Invariants: a frame is never split between two messages; descriptors
//! always arrive with the frame that announced them; a malformed frame or a
//! message the peer may not send closes the channel with an error naming both
//! roles, and the process treats it as fatal.

pub mod channel;
pub mod frame;
pub mod os;
pub mod role;

pub use channel::{BlockingChannel, ChannelError, Inbound, Sender};
pub use frame::{FrameError, IPC_VERSION, MAX_FDS_PER_FRAME, MAX_FRAME_LEN};
pub use role::Role;

/// A message type that can travel between processes.
///
/// Each role has one inbox enum implementing this trait. `may_come_from`
/// encodes which peer may send which message: a message arriving from a
/// role that may not send it is a protocol violation, fatal for the channel.
pub trait Message: serde::Serialize + serde::de::DeserializeOwned + Send + 'static {
    /// May a process of role `from` send this message?
    fn may_come_from(&self, from: Role) -> bool;

    /// The variant's name, for logs.
    fn name(&self) -> &'static str;

    /// An order about the process rather than its role (today only the log
    /// level, `smtpctl log verbose|brief`) is applied by the channel as it
    /// arrives and never reaches the role's inbox, so that no role's loop
    /// has to know it. Returns true if `self` was such an order, now
    /// applied. (Checked after `may_come_from`.)
    fn applied_on_arrival(&self) -> bool {
        false
    }
}
