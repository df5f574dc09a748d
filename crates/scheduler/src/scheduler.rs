//! The scheduler's state and its main loop operations: learning envelopes,
//! handing out batches, taking outcomes.
//!
//! Every envelope is in one of two states, pending or in flight. A pending
//! envelope that is not paused sits in two ordered indexes: by due time in
//! its kind's queue, and by expiry time. Handing out work and finding the
//! next wake-up are then reads at the front of a few `BTreeSet`s, whatever
//! the size of the queue.

use crate::backoff::{backoff, base_for, next_after};
use crate::config::Config;
use crate::types::{Batch, DelayWarning, Verdict};
use crate::SchedError;
use smtpd_types::{DeliveryOutcome, EnvelopeKind, EvpId, MsgId, SchedInfo};
use std::collections::{BTreeMap, BTreeSet, HashMap};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum State {
    Pending,
    Inflight { since: u64 },
}

#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub info: SchedInfo,
    /// When the next attempt is due.
    pub sched: u64,
    pub state: State,
    /// Paused by the administrator (`smtpctl pause envelope`).
    pub suspended: bool,
    /// Removed by the administrator while in flight.
    pub removed: bool,
}

impl Entry {
    pub fn expires_at(&self) -> u64 {
        self.info.ctime.saturating_add(self.info.ttl)
    }

    /// In the due and expiry indexes?
    fn indexed(&self) -> bool {
        self.state == State::Pending && !self.suspended
    }
}

pub(crate) fn kind_index(kind: EnvelopeKind) -> usize {
    match kind {
        EnvelopeKind::Mda => 0,
        EnvelopeKind::Mta => 1,
        EnvelopeKind::Bounce => 2,
    }
}

/// Handing-out order within a round: reports first (they are small and
/// tell senders what happened), then local, then remote.
const ROUND: [EnvelopeKind; 3] = [EnvelopeKind::Bounce, EnvelopeKind::Mda, EnvelopeKind::Mta];

/// The scheduler of one queue. Time is always passed in (Unix seconds):
/// the scheduler never reads a clock, so tests drive it with a fake one.
pub struct Scheduler {
    pub(crate) config: Config,
    /// Committed envelopes, ordered by id (so by message) for listings.
    pub(crate) entries: BTreeMap<EvpId, Entry>,
    /// Envelopes of messages not yet committed.
    staged: HashMap<MsgId, Vec<SchedInfo>>,
    /// Pending, unpaused envelopes by due time, per kind.
    due: [BTreeSet<(u64, EvpId)>; 3],
    /// Pending, unpaused envelopes by expiry time.
    expiry: BTreeSet<(u64, EvpId)>,
    pub(crate) inflight: usize,
    /// `smtpctl pause mda|mta` (and reports), per kind.
    pub(crate) paused: [bool; 3],
}

impl Scheduler {
    pub fn new(config: Config) -> Self {
        Scheduler {
            config,
            entries: BTreeMap::new(),
            staged: HashMap::new(),
            due: Default::default(),
            expiry: BTreeSet::new(),
            inflight: 0,
            paused: [false; 3],
        }
    }

    /// Committed envelopes known.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Envelopes out for delivery.
    pub fn inflight(&self) -> usize {
        self.inflight
    }

    /// Learn an envelope of a message that is being committed. It is not
    /// scheduled until [`commit`](Self::commit) of its message (a message
    /// may gain envelopes after its first commit: reports).
    pub fn insert(&mut self, info: SchedInfo) -> Result<(), SchedError> {
        let msgid = info.evpid.msgid();
        let twice = self
            .staged
            .get(&msgid)
            .is_some_and(|v| v.iter().any(|s| s.evpid == info.evpid));
        if twice || self.entries.contains_key(&info.evpid) {
            return Err(SchedError::Duplicate(info.evpid));
        }
        self.staged.entry(msgid).or_default().push(info);
        Ok(())
    }

    /// The message is durable: schedule its staged envelopes. An envelope
    /// that was never tried is due at once; a reloaded one at its backoff
    /// time. Returns how many were scheduled.
    pub fn commit(&mut self, msgid: MsgId) -> usize {
        let staged = self.staged.remove(&msgid).unwrap_or_default();
        let n = staged.len();
        for info in staged {
            let sched = backoff(info.ctime, base_for(info.kind), info.retry);
            let entry = Entry {
                info,
                sched,
                state: State::Pending,
                suspended: false,
                removed: false,
            };
            self.entries.insert(info.evpid, entry);
            self.index(info.evpid);
        }
        n
    }

    /// The message was not committed: forget its staged envelopes. Returns
    /// how many there were.
    pub fn rollback(&mut self, msgid: MsgId) -> usize {
        self.staged.remove(&msgid).map(|v| v.len()).unwrap_or(0)
    }

    /// Put a pending, unpaused envelope into the indexes.
    pub(crate) fn index(&mut self, evpid: EvpId) {
        if let Some(e) = self.entries.get(&evpid).filter(|e| e.indexed()) {
            self.due[kind_index(e.info.kind)].insert((e.sched, evpid));
            self.expiry.insert((e.expires_at(), evpid));
        }
    }

    /// Take an envelope out of the indexes (before changing its state,
    /// due time or pause flag).
    pub(crate) fn unindex(&mut self, evpid: EvpId) {
        if let Some(e) = self.entries.get(&evpid).filter(|e| e.indexed()) {
            self.due[kind_index(e.info.kind)].remove(&(e.sched, evpid));
            self.expiry.remove(&(e.expires_at(), evpid));
        }
    }

    /// Forget an envelope entirely.
    pub(crate) fn drop_entry(&mut self, evpid: EvpId) -> Option<Entry> {
        self.unindex(evpid);
        let entry = self.entries.remove(&evpid)?;
        if matches!(entry.state, State::Inflight { .. }) {
            self.inflight -= 1;
        }
        Some(entry)
    }

    /// Envelopes whose time has come: expired ones, then up to the limits,
    /// due ones of unpaused kinds, taken in rounds across kinds so that one
    /// busy kind does not starve the others. Call again until it comes back
    /// empty, then sleep until [`next_wakeup`](Self::next_wakeup).
    pub fn batch(&mut self, now: u64) -> Batch {
        // A limit of 0 would leave due work that is never handed out while
        // `next_wakeup` says "now": the caller would spin.
        let max = self.config.limits.max_schedule.max(1);
        let mut batch = Batch::default();
        loop {
            let before = batch.len();
            if batch.len() < max {
                if let Some(&(at, evpid)) = self.expiry.first() {
                    if at <= now {
                        self.drop_entry(evpid);
                        batch.expired.push(evpid);
                    }
                }
            }
            for kind in ROUND {
                if batch.len() >= max || self.inflight >= self.config.limits.max_inflight {
                    break;
                }
                if self.paused[kind_index(kind)] {
                    continue;
                }
                let Some(&(at, evpid)) = self.due[kind_index(kind)].first() else {
                    continue;
                };
                if at > now {
                    continue;
                }
                let expired = self
                    .entries
                    .get(&evpid)
                    .is_some_and(|e| e.expires_at() <= now);
                if expired {
                    // Its expiry is behind another one's in the index: it
                    // goes out as expired, never for one more try.
                    self.drop_entry(evpid);
                    batch.expired.push(evpid);
                    continue;
                }
                self.unindex(evpid);
                if let Some(e) = self.entries.get_mut(&evpid) {
                    e.state = State::Inflight { since: now };
                    self.inflight += 1;
                    batch.of_kind(kind).push(evpid);
                }
            }
            if batch.len() == before || batch.len() >= max {
                return batch;
            }
        }
    }

    /// The earliest time at which [`batch`](Self::batch) will have work, or
    /// `None` if nothing will happen until something changes (a commit, an
    /// outcome, a resume). Never earlier than `now`. Paused kinds, and
    /// deliveries while the in-flight limit is reached, do not count.
    pub fn next_wakeup(&self, now: u64) -> Option<u64> {
        let mut best = self.expiry.first().map(|&(at, _)| at);
        if self.inflight < self.config.limits.max_inflight {
            for kind in ROUND {
                if self.paused[kind_index(kind)] {
                    continue;
                }
                if let Some(&(at, _)) = self.due[kind_index(kind)].first() {
                    best = Some(best.map_or(at, |b| b.min(at)));
                }
            }
        }
        best.map(|t| t.max(now))
    }

    /// The attempt on an in-flight envelope ended with `outcome` at `now`.
    pub fn outcome(
        &mut self,
        evpid: EvpId,
        outcome: &DeliveryOutcome,
        now: u64,
    ) -> Result<Verdict, SchedError> {
        let entry = self.entries.get(&evpid).ok_or(SchedError::Unknown(evpid))?;
        if entry.state == State::Pending {
            return Err(SchedError::NotInflight(evpid));
        }
        let verdict = match outcome {
            DeliveryOutcome::Ok => Verdict::Done,
            DeliveryOutcome::PermFail { .. } | DeliveryOutcome::Loop { .. } => Verdict::Bounce,
            DeliveryOutcome::TempFail { .. } if entry.removed => Verdict::Removed,
            DeliveryOutcome::TempFail { .. } if now >= entry.expires_at() => Verdict::Expired,
            DeliveryOutcome::TempFail { .. } => return Ok(self.reschedule(evpid, now)),
        };
        self.drop_entry(evpid);
        Ok(verdict)
    }

    /// A temporary failure: count the attempt and wait for the next step.
    fn reschedule(&mut self, evpid: EvpId, now: u64) -> Verdict {
        let warnings = &self.config.delay_warnings;
        let Some(e) = self.entries.get_mut(&evpid) else {
            return Verdict::Removed;
        };
        let retry = e.info.retry.saturating_add(1);
        let (_, next_try) = next_after(e.info.ctime, base_for(e.info.kind), retry, now);
        e.info.retry = retry;
        e.info.last_try = now;
        e.sched = next_try;
        e.state = State::Pending;
        self.inflight -= 1;
        let delay_warning = delay_warning(e, warnings, next_try);
        if let Some(w) = delay_warning {
            e.info.last_bounce = w.at;
        }
        self.index(evpid);
        Verdict::Retry {
            retry,
            next_try,
            delay_warning,
        }
    }
}

/// OpenSMTPD's rule: warn for the first `warn-interval` that the next try
/// reaches and no warning was sent for yet. Never for a report, nor for a
/// message that is itself a report.
fn delay_warning(e: &Entry, warnings: &[u64], next_try: u64) -> Option<DelayWarning> {
    if e.info.is_bounce_msg || e.info.kind == EnvelopeKind::Bounce {
        return None;
    }
    warnings.iter().find_map(|&delay| {
        let at = e.info.ctime.saturating_add(delay);
        (delay > 0 && next_try >= at && e.info.last_bounce < at)
            .then_some(DelayWarning { at, delay })
    })
}
