//! What the mail delivery agent accepts: envelopes to deliver from the
//! queue, user information from lka, started deliveries from the parent.

use serde::{Deserialize, Serialize};
use smtpd_ipc::{Message, Role};
use smtpd_types::Envelope;

use super::{HasShutdown, ReqId, UserInfo};

#[derive(Debug, Serialize, Deserialize)]
pub enum ToMda {
    /// queue: deliver this envelope. Carries one descriptor: the message,
    /// open for reading.
    Deliver {
        envelope: Box<Envelope>,
    },
    /// lka: the answer to a user lookup (`Ok(None)`: no such user).
    UserInfo {
        req: ReqId,
        result: Result<Option<UserInfo>, String>,
    },
    /// parent: the delivery worker asked for was started (or not).
    /// Carries one descriptor on success: the socket to the worker.
    Started {
        req: ReqId,
        result: Result<(), String>,
    },
    /// control/parent: hold or release local deliveries.
    Pause,
    Resume,
    /// control: `smtpctl log verbose|brief`.
    Verbose(bool),
    /// parent: stop.
    Shutdown,
}

impl Message for ToMda {
    fn may_come_from(&self, from: Role) -> bool {
        match self {
            ToMda::Verbose(_) => from == Role::Control,
            ToMda::Deliver { .. } => from == Role::Queue,
            ToMda::UserInfo { .. } => from == Role::Lka,
            ToMda::Started { .. } | ToMda::Shutdown => from == Role::Parent,
            ToMda::Pause | ToMda::Resume => matches!(from, Role::Parent | Role::Control),
        }
    }

    fn applied_on_arrival(&self) -> bool {
        match self {
            ToMda::Verbose(v) => crate::logging::apply_verbose(*v),
            _ => false,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            ToMda::Verbose(_) => "Verbose",
            ToMda::Deliver { .. } => "Deliver",
            ToMda::UserInfo { .. } => "UserInfo",
            ToMda::Started { .. } => "Started",
            ToMda::Pause => "Pause",
            ToMda::Resume => "Resume",
            ToMda::Shutdown => "Shutdown",
        }
    }
}

impl HasShutdown for ToMda {
    fn is_shutdown(&self) -> bool {
        matches!(self, ToMda::Shutdown)
    }
}
