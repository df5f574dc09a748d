//! What the control process accepts: counter updates from every role, and
//! the answers to the requests it makes for `smtpctl` (the seed's §3.2.8).

use serde::{Deserialize, Serialize};
use smtpd_control_proto::RunState;
use smtpd_ipc::{Message, Role};
use smtpd_types::{Envelope, EvpId};

use super::{HasShutdown, ReqId, StatUpdate};

/// One envelope's state in the scheduler, for `smtpctl show queue`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchedState {
    pub evpid: EvpId,
    pub run: RunState,
    /// Paused by `smtpctl pause envelope`.
    pub suspended: bool,
    /// Kept from delivery because its agent is paused.
    pub held: bool,
}

#[derive(Debug, Serialize, Deserialize)]
pub enum ToControl {
    /// any role: named counter increments/decrements (the seed's §3.2.8).
    Stats(Vec<StatUpdate>),
    /// scheduler: a page of `ToScheduler::ListEnvelopes`, in id order; an
    /// empty page ends the listing.
    EnvelopeStates { req: ReqId, states: Vec<SchedState> },
    /// scheduler: how many envelopes a pause/resume/schedule/remove
    /// order applied to.
    Count { req: ReqId, n: usize },
    /// queue: the envelopes of `ToQueue::ListEnvelopes` that are still
    /// queued.
    Envelopes {
        req: ReqId,
        envelopes: Vec<Envelope>,
    },
    /// queue: an envelope file's text (`ToQueue::ShowEnvelope`).
    EnvelopeText {
        req: ReqId,
        result: Result<String, String>,
    },
    /// queue: the answer to `ToQueue::ShowMessage`. Carries one descriptor
    /// on success: the message file, open for reading.
    MessageFile {
        req: ReqId,
        result: Result<(), String>,
    },
    /// smtp: the answer to `ToSmtp::OpenSession`. Carries one descriptor
    /// on success: our end of a local SMTP session, for `sendmail`.
    SessionOpened {
        req: ReqId,
        result: Result<(), String>,
    },
    /// lka, mfa: the answer to `ToLka::UpdateTable`, `ToMfa::UpdateTable`.
    TableUpdated {
        req: ReqId,
        result: Result<(), String>,
    },
    /// mta: the answer to `ToMta::Show`.
    Lines { req: ReqId, lines: Vec<String> },
    /// parent: stop.
    Shutdown,
}

impl Message for ToControl {
    fn may_come_from(&self, from: Role) -> bool {
        match self {
            ToControl::Stats(_) => from != Role::Control,
            ToControl::EnvelopeStates { .. } | ToControl::Count { .. } => from == Role::Scheduler,
            ToControl::Envelopes { .. }
            | ToControl::EnvelopeText { .. }
            | ToControl::MessageFile { .. } => from == Role::Queue,
            ToControl::SessionOpened { .. } => from == Role::Smtp,
            ToControl::TableUpdated { .. } => from == Role::Lka || from == Role::Mfa,
            ToControl::Lines { .. } => from == Role::Mta,
            ToControl::Shutdown => from == Role::Parent,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            ToControl::Stats(_) => "Stats",
            ToControl::EnvelopeStates { .. } => "EnvelopeStates",
            ToControl::Count { .. } => "Count",
            ToControl::Envelopes { .. } => "Envelopes",
            ToControl::EnvelopeText { .. } => "EnvelopeText",
            ToControl::MessageFile { .. } => "MessageFile",
            ToControl::SessionOpened { .. } => "SessionOpened",
            ToControl::TableUpdated { .. } => "TableUpdated",
            ToControl::Lines { .. } => "Lines",
            ToControl::Shutdown => "Shutdown",
        }
    }
}

impl HasShutdown for ToControl {
    fn is_shutdown(&self) -> bool {
        matches!(self, ToControl::Shutdown)
    }
}

impl ToControl {
    /// The request this message answers, if it is a reply.
    pub fn reply_to(&self) -> Option<ReqId> {
        match self {
            ToControl::EnvelopeStates { req, .. }
            | ToControl::Count { req, .. }
            | ToControl::Envelopes { req, .. }
            | ToControl::EnvelopeText { req, .. }
            | ToControl::MessageFile { req, .. }
            | ToControl::SessionOpened { req, .. }
            | ToControl::TableUpdated { req, .. }
            | ToControl::Lines { req, .. } => Some(*req),
            _ => None,
        }
    }
}
