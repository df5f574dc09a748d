//! What the scheduler says to its caller: batches of work, verdicts on
//! outcomes, listings.

use smtpd_types::{EnvelopeKind, EvpId, MsgId};

/// Which envelopes an administrative command is about (`smtpctl pause
/// envelope ID|MSGID|all` and friends).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Envelope(EvpId),
    Message(MsgId),
    All,
}

/// Work handed out by [`Scheduler::batch`](crate::Scheduler::batch).
/// Envelopes in `mda`, `mta` and `bounce` are now in flight: each is owed
/// exactly one outcome. Envelopes in `expired` are already forgotten by the
/// scheduler: the caller reports "Envelope expired" to the sender (unless
/// the message is itself a report) and deletes them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Batch {
    pub expired: Vec<EvpId>,
    pub mda: Vec<EvpId>,
    pub mta: Vec<EvpId>,
    pub bounce: Vec<EvpId>,
}

impl Batch {
    pub fn len(&self) -> usize {
        self.expired.len() + self.mda.len() + self.mta.len() + self.bounce.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn of_kind(&mut self, kind: EnvelopeKind) -> &mut Vec<EvpId> {
        match kind {
            EnvelopeKind::Mda => &mut self.mda,
            EnvelopeKind::Mta => &mut self.mta,
            EnvelopeKind::Bounce => &mut self.bounce,
        }
    }
}

/// A "delayed" report is due: the envelope has waited `delay` seconds
/// (a `bounce warn-interval`) and will wait longer. The caller makes the
/// report (if the sender asked for delay notices) and stores `at` as the
/// envelope's `last-bounce`, so the same warning is not sent twice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DelayWarning {
    pub at: u64,
    pub delay: u64,
}

/// What to do with an envelope after its delivery attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Delivered: forgotten; delete it from the queue.
    Done,
    /// Temporary failure: it stays; store `retry` and the attempt time in
    /// the envelope. It will be tried at `next_try`.
    Retry {
        retry: u32,
        next_try: u64,
        delay_warning: Option<DelayWarning>,
    },
    /// Permanent failure (or a loop): forgotten; the caller decides what a
    /// bounce means (never one for a report), then deletes it.
    Bounce,
    /// Temporary failure past its time to live: forgotten; report "Envelope
    /// expired" and delete it.
    Expired,
    /// Removed by the administrator while it was in flight, and its attempt
    /// failed temporarily: forgotten; delete it without a report. (Delivered
    /// meanwhile, it is `Done`; failed for good, it is `Bounce`, as in
    /// OpenSMTPD.)
    Removed,
}

/// Result of [`Scheduler::remove`](crate::Scheduler::remove).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Removal {
    /// Forgotten now: delete them from the queue.
    pub now: Vec<EvpId>,
    /// In flight: they will come back with their outcome as
    /// [`Verdict::Removed`] unless delivered meanwhile.
    pub when_back: Vec<EvpId>,
}

/// Where an envelope stands, for `smtpctl show queue`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EvpState {
    /// Waiting for its next try.
    Pending,
    /// Out for delivery.
    Inflight,
    /// Waiting, and kept from delivery: paused itself, or its kind is.
    Held,
}

/// One line of `smtpctl show queue`, scheduler side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EvpStatus {
    pub evpid: EvpId,
    pub kind: EnvelopeKind,
    pub state: EvpState,
    /// Paused by `smtpctl pause envelope`.
    pub suspended: bool,
    /// Removed by the administrator while in flight.
    pub removing: bool,
    pub retry: u32,
    pub ctime: u64,
    pub expires_at: u64,
    pub last_try: u64,
    /// Pending or held: the next try; in flight: when it was handed out.
    pub time: u64,
}
