//! What the queue accepts: the enqueue transaction from smtp, scheduling
//! decisions from the scheduler, delivery outcomes from mda and mta, and
//! the sessions smtp opens for the queue's reports (bounces).

use serde::{Deserialize, Serialize};
use smtpd_ipc::{Message, Role};
use smtpd_types::{DeliveryOutcome, Envelope, EvpId, MsgId};

use super::{HasShutdown, ReqId};

#[derive(Debug, Serialize, Deserialize)]
pub enum ToQueue {
    /// smtp (MAIL FROM): create an incoming message. Answered by
    /// `ToSmtp::MessageCreated` with the file to write the content into.
    CreateMessage { req: ReqId },
    /// smtp: create `count` incoming messages ahead of need (at most
    /// `MAX_FDS_PER_FRAME`), so that MAIL FROM does not wait for the
    /// queue. Answered by `ToSmtp::MessagesCreated`.
    CreateMessages { count: usize },
    /// smtp (end of DATA): make the message and these envelopes durable and
    /// move them into the queue. Answered by `ToSmtp::Committed`.
    Commit {
        req: ReqId,
        msgid: MsgId,
        envelopes: Vec<Envelope>,
    },
    /// smtp: the transaction was abandoned.
    Rollback { msgid: MsgId },
    /// scheduler: try these envelopes now.
    Deliver { evpids: Vec<EvpId> },
    /// scheduler: these envelopes passed their expiry time.
    Expire { evpids: Vec<EvpId> },
    /// scheduler: remove these envelopes (smtpctl remove).
    Remove { evpids: Vec<EvpId> },
    /// scheduler: envelope `evpid` has waited `delay` seconds (a `bounce
    /// warn-interval`) and will wait longer: the sender may get a delay
    /// notice, and `at` is recorded as its `last-bounce`.
    DelayWarning { evpid: EvpId, at: u64, delay: u64 },
    /// smtp: the answer to `ToSmtp::OpenSession`. Carries one descriptor
    /// on success: our end of a local SMTP session.
    SessionOpened {
        req: ReqId,
        result: Result<(), String>,
    },
    /// control (`smtpctl show queue`): load these envelopes. Answered by
    /// `ToControl::Envelopes` with those still queued.
    ListEnvelopes { req: ReqId, evpids: Vec<EvpId> },
    /// control (`smtpctl show envelope`): the envelope's file. Answered by
    /// `ToControl::EnvelopeText`.
    ShowEnvelope { req: ReqId, evpid: EvpId },
    /// control (`smtpctl show message`): open the message for reading.
    /// Answered by `ToControl::MessageFile`.
    ShowMessage { req: ReqId, msgid: MsgId },
    /// control: `smtpctl log verbose|brief`.
    Verbose(bool),
    /// mda/mta: what became of a delivery attempt.
    Outcome {
        evpid: EvpId,
        outcome: DeliveryOutcome,
    },
    /// parent: stop.
    Shutdown,
}

impl Message for ToQueue {
    fn may_come_from(&self, from: Role) -> bool {
        match self {
            ToQueue::CreateMessage { .. }
            | ToQueue::CreateMessages { .. }
            | ToQueue::Commit { .. }
            | ToQueue::Rollback { .. } => from == Role::Smtp,
            ToQueue::Deliver { .. }
            | ToQueue::Expire { .. }
            | ToQueue::Remove { .. }
            | ToQueue::DelayWarning { .. } => from == Role::Scheduler,
            ToQueue::SessionOpened { .. } => from == Role::Smtp,
            ToQueue::Outcome { .. } => matches!(from, Role::Mda | Role::Mta),
            ToQueue::ListEnvelopes { .. }
            | ToQueue::ShowEnvelope { .. }
            | ToQueue::ShowMessage { .. }
            | ToQueue::Verbose(_) => from == Role::Control,
            ToQueue::Shutdown => from == Role::Parent,
        }
    }

    fn applied_on_arrival(&self) -> bool {
        match self {
            ToQueue::Verbose(v) => crate::logging::apply_verbose(*v),
            _ => false,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            ToQueue::CreateMessage { .. } => "CreateMessage",
            ToQueue::CreateMessages { .. } => "CreateMessages",
            ToQueue::Commit { .. } => "Commit",
            ToQueue::Rollback { .. } => "Rollback",
            ToQueue::Deliver { .. } => "Deliver",
            ToQueue::Expire { .. } => "Expire",
            ToQueue::Remove { .. } => "Remove",
            ToQueue::DelayWarning { .. } => "DelayWarning",
            ToQueue::SessionOpened { .. } => "SessionOpened",
            ToQueue::Outcome { .. } => "Outcome",
            ToQueue::ListEnvelopes { .. } => "ListEnvelopes",
            ToQueue::ShowEnvelope { .. } => "ShowEnvelope",
            ToQueue::ShowMessage { .. } => "ShowMessage",
            ToQueue::Verbose(_) => "Verbose",
            ToQueue::Shutdown => "Shutdown",
        }
    }
}

impl HasShutdown for ToQueue {
    fn is_shutdown(&self) -> bool {
        matches!(self, ToQueue::Shutdown)
    }
}
