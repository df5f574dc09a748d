//! What the smtp process accepts: answers from the queue (message files,
//! commits, local sessions for reports), from lka (rule decisions,
//! expansions, DNS), and orders from the parent and control.

use serde::{Deserialize, Serialize};
use smtpd_ipc::{Message, Role};
use smtpd_types::{EnhancedStatus, Envelope, MsgId};

use super::{HasShutdown, ReqId};

/// Why the queue could not do what was asked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum QueueFailure {
    /// The spool's file system is (nearly) full: `452 4.3.1`.
    NoRoom,
    /// Any other failure: `451 4.3.0`; the message is cancelled.
    Failed(String),
}

/// The rule engine's answer for one recipient.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Expansion {
    /// Accepted: the final envelopes for this recipient (one or more after
    /// alias/virtual/forward expansion).
    Accepted(Vec<Envelope>),
    /// Refused, with the reply to give.
    Rejected {
        code: u16,
        status: EnhancedStatus,
        text: String,
    },
    /// A table or lookup failed: try again later.
    TempFail { text: String },
}

/// lka's verdict on a user and password.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuthResult {
    /// The password is right: `235 2.7.0`.
    Ok,
    /// Unknown user or wrong password: `535 5.7.8`.
    Failed,
    /// The table could not be read: `454 4.7.0`.
    TempFail,
}

/// lka's verdict on the sender of an authenticated session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SenderCheck {
    /// The user's `senders` entry lists the address (or its domain).
    Allowed,
    /// The user has no entry, or it does not list the address.
    Refused,
    /// The table could not be read.
    TempFail,
}

/// The filter chain's decision for one phase of a session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FilterVerdict {
    /// Go on as if there were no filter.
    Proceed,
    /// Go on; the message gets `X-Spam: Yes`.
    Junk,
    /// Refuse the command with this reply (a 421 also ends the session).
    Reject { code: u16, text: String },
    /// Say this reply and end the session.
    Disconnect { code: u16, text: String },
    /// Go on with this parameter instead of the client's (MAIL, RCPT).
    Rewrite(String),
}

#[derive(Debug, Serialize, Deserialize)]
pub enum ToSmtp {
    /// queue: a message was created for the transaction. Carries one
    /// descriptor on success: the file to write the content into.
    MessageCreated {
        req: ReqId,
        result: Result<MsgId, QueueFailure>,
    },
    /// queue: messages created ahead of need, one descriptor each, in order
    /// (`CreateMessages`). `no_room`: the spool is (nearly) full; new mail
    /// must be refused until a `CreateMessage` succeeds again.
    MessagesCreated { msgids: Vec<MsgId>, no_room: bool },
    /// queue: the spool filled up (`ok: false`) or has room again.
    Room { ok: bool },
    /// queue: the message and its envelopes are on stable storage (or not).
    Committed {
        req: ReqId,
        result: Result<(), QueueFailure>,
    },
    /// lka: the decision for one RCPT.
    Expanded { req: ReqId, result: Expansion },
    /// lka: the answer to `ToLka::Authenticate`.
    Authenticated { req: ReqId, result: AuthResult },
    /// lka: the answer to `ToLka::CheckSender`.
    SenderChecked { req: ReqId, result: SenderCheck },
    /// lka: the reverse DNS name of a client (forward-confirmed or not).
    Rdns {
        req: ReqId,
        name: Option<String>,
        forward_confirmed: bool,
    },
    /// queue: open a local SMTP session for a report (the seed's §4.5):
    /// smtp runs an ordinary session, as from the local socket, on one end
    /// of a socket pair and answers `ToQueue::SessionOpened` with the
    /// other end. control: the same for `sendmail` (OpenSMTPD's
    /// `CTL_SMTP_SESSION`), answered by `ToControl::SessionOpened`.
    OpenSession { req: ReqId },
    /// mfa: the answer to `ToMfa::Filter`.
    Filtered { req: ReqId, verdict: FilterVerdict },
    /// mfa: the answer to `ToMfa::Data`: the content as the `data-line`
    /// filters returned it, or the reply refusing the message.
    FilteredData {
        req: ReqId,
        result: Result<Vec<u8>, FilterVerdict>,
    },
    /// control: `smtpctl log verbose|brief`.
    Verbose(bool),
    /// parent/control: stop accepting new sessions.
    Pause,
    /// parent/control: accept new sessions again.
    Resume,
    /// parent: stop (finish in-flight transactions for a bounded time).
    Shutdown,
}

impl Message for ToSmtp {
    fn may_come_from(&self, from: Role) -> bool {
        match self {
            ToSmtp::MessageCreated { .. }
            | ToSmtp::MessagesCreated { .. }
            | ToSmtp::Room { .. }
            | ToSmtp::Committed { .. } => from == Role::Queue,
            ToSmtp::OpenSession { .. } => matches!(from, Role::Queue | Role::Control),
            ToSmtp::Verbose(_) => from == Role::Control,
            ToSmtp::Expanded { .. }
            | ToSmtp::Rdns { .. }
            | ToSmtp::Authenticated { .. }
            | ToSmtp::SenderChecked { .. } => from == Role::Lka,
            ToSmtp::Filtered { .. } | ToSmtp::FilteredData { .. } => from == Role::Mfa,
            ToSmtp::Pause | ToSmtp::Resume => matches!(from, Role::Parent | Role::Control),
            ToSmtp::Shutdown => from == Role::Parent,
        }
    }

    fn applied_on_arrival(&self) -> bool {
        match self {
            ToSmtp::Verbose(v) => crate::logging::apply_verbose(*v),
            _ => false,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            ToSmtp::MessageCreated { .. } => "MessageCreated",
            ToSmtp::MessagesCreated { .. } => "MessagesCreated",
            ToSmtp::Room { .. } => "Room",
            ToSmtp::Committed { .. } => "Committed",
            ToSmtp::Expanded { .. } => "Expanded",
            ToSmtp::Rdns { .. } => "Rdns",
            ToSmtp::Authenticated { .. } => "Authenticated",
            ToSmtp::SenderChecked { .. } => "SenderChecked",
            ToSmtp::OpenSession { .. } => "OpenSession",
            ToSmtp::Filtered { .. } => "Filtered",
            ToSmtp::FilteredData { .. } => "FilteredData",
            ToSmtp::Verbose(_) => "Verbose",
            ToSmtp::Pause => "Pause",
            ToSmtp::Resume => "Resume",
            ToSmtp::Shutdown => "Shutdown",
        }
    }
}

impl HasShutdown for ToSmtp {
    fn is_shutdown(&self) -> bool {
        matches!(self, ToSmtp::Shutdown)
    }
}

impl ToSmtp {
    /// The request this message answers, if it is a reply.
    pub fn reply_to(&self) -> Option<ReqId> {
        match self {
            ToSmtp::MessageCreated { req, .. }
            | ToSmtp::Committed { req, .. }
            | ToSmtp::Expanded { req, .. }
            | ToSmtp::Authenticated { req, .. }
            | ToSmtp::SenderChecked { req, .. }
            | ToSmtp::Filtered { req, .. }
            | ToSmtp::FilteredData { req, .. }
            | ToSmtp::Rdns { req, .. } => Some(*req),
            _ => None,
        }
    }
}
