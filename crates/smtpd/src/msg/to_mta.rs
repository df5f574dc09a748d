//! What the mail transfer agent accepts: envelopes to relay from the queue.

use serde::{Deserialize, Serialize};
use smtpd_ipc::{Message, Role};
use smtpd_types::Envelope;

use super::HasShutdown;

#[derive(Debug, Serialize, Deserialize)]
pub enum ToMta {
    /// queue: relay this envelope. Carries one descriptor: the message,
    /// open for reading.
    Relay {
        envelope: Box<Envelope>,
    },
    /// control/parent: hold or release relaying.
    Pause,
    Resume,
    /// parent: stop.
    Shutdown,
}

impl Message for ToMta {
    fn may_come_from(&self, from: Role) -> bool {
        match self {
            ToMta::Relay { .. } => from == Role::Queue,
            ToMta::Pause | ToMta::Resume => matches!(from, Role::Parent | Role::Control),
            ToMta::Shutdown => from == Role::Parent,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            ToMta::Relay { .. } => "Relay",
            ToMta::Pause => "Pause",
            ToMta::Resume => "Resume",
            ToMta::Shutdown => "Shutdown",
        }
    }
}

impl HasShutdown for ToMta {
    fn is_shutdown(&self) -> bool {
        matches!(self, ToMta::Shutdown)
    }
}
