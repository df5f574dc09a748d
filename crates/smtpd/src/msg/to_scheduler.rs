//! What the scheduler accepts: envelope facts and outcomes from the queue,
//! administrative orders from control. Nothing else reaches it.

use serde::{Deserialize, Serialize};
use smtpd_ipc::{Message, Role};
use smtpd_types::{EvpId, MsgId, SchedInfo};

use super::{HasShutdown, ReqId, Subsystem};

/// What the queue made of an attempt, in the scheduler's terms.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SchedOutcome {
    /// Delivered: forget it.
    Delivered,
    /// Try again later.
    TempFail,
    /// Failed for good (or expired); the queue has made the sender's
    /// report, if one is due, and removed it.
    PermFail,
    /// The queue removed it (smtpctl remove, or expiry handled).
    Removed,
}

/// Which envelopes an administrative order is about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Target {
    Envelope(EvpId),
    Message(MsgId),
    All,
}

#[derive(Debug, Serialize, Deserialize)]
pub enum ToScheduler {
    /// queue: a message was committed with these envelopes.
    Committed {
        envelopes: Vec<SchedInfo>,
    },
    /// queue: envelopes found in the spool at start.
    Loaded {
        envelopes: Vec<SchedInfo>,
    },
    /// queue: the outcome of an attempt (`info` has the updated retry
    /// count and last-try time when the envelope stays).
    Outcome {
        evpid: EvpId,
        outcome: SchedOutcome,
        info: Option<SchedInfo>,
    },
    /// control: pause/resume a subsystem's deliveries.
    PauseSubsystem(Subsystem),
    ResumeSubsystem(Subsystem),
    /// control: pause/resume envelopes. Answered by `ToControl::Count`,
    /// as are the next two.
    PauseEnvelopes {
        req: ReqId,
        target: Target,
    },
    ResumeEnvelopes {
        req: ReqId,
        target: Target,
    },
    /// control: try now.
    Schedule {
        req: ReqId,
        target: Target,
    },
    /// control: remove.
    Remove {
        req: ReqId,
        target: Target,
    },
    /// control (`smtpctl show queue`): the states of the envelopes after
    /// `after` (from the first with `None`), of message `msgid` only if
    /// given, one page of at most `max-evp-batch-size`. Answered by
    /// `ToControl::EnvelopeStates`.
    ListEnvelopes {
        req: ReqId,
        msgid: Option<MsgId>,
        after: Option<EvpId>,
    },
    /// control: `smtpctl log verbose|brief`.
    Verbose(bool),
    /// parent: stop.
    Shutdown,
}

impl Message for ToScheduler {
    fn may_come_from(&self, from: Role) -> bool {
        match self {
            ToScheduler::Committed { .. }
            | ToScheduler::Loaded { .. }
            | ToScheduler::Outcome { .. } => from == Role::Queue,
            ToScheduler::PauseSubsystem(_)
            | ToScheduler::ResumeSubsystem(_)
            | ToScheduler::PauseEnvelopes { .. }
            | ToScheduler::ResumeEnvelopes { .. }
            | ToScheduler::Schedule { .. }
            | ToScheduler::Remove { .. } => matches!(from, Role::Control | Role::Parent),
            ToScheduler::ListEnvelopes { .. } | ToScheduler::Verbose(_) => from == Role::Control,
            ToScheduler::Shutdown => from == Role::Parent,
        }
    }

    fn applied_on_arrival(&self) -> bool {
        match self {
            ToScheduler::Verbose(v) => crate::logging::apply_verbose(*v),
            _ => false,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            ToScheduler::Committed { .. } => "Committed",
            ToScheduler::Loaded { .. } => "Loaded",
            ToScheduler::Outcome { .. } => "Outcome",
            ToScheduler::PauseSubsystem(_) => "PauseSubsystem",
            ToScheduler::ResumeSubsystem(_) => "ResumeSubsystem",
            ToScheduler::PauseEnvelopes { .. } => "PauseEnvelopes",
            ToScheduler::ResumeEnvelopes { .. } => "ResumeEnvelopes",
            ToScheduler::Schedule { .. } => "Schedule",
            ToScheduler::Remove { .. } => "Remove",
            ToScheduler::ListEnvelopes { .. } => "ListEnvelopes",
            ToScheduler::Verbose(_) => "Verbose",
            ToScheduler::Shutdown => "Shutdown",
        }
    }
}

impl HasShutdown for ToScheduler {
    fn is_shutdown(&self) -> bool {
        matches!(self, ToScheduler::Shutdown)
    }
}
