//! The administrator's commands (`smtpctl pause|resume|schedule|remove`).

use crate::scheduler::{kind_index, Scheduler, State};
use crate::types::{Removal, Target};
use smtpd_types::{EnvelopeKind, EvpId};

impl Scheduler {
    /// The committed envelopes `target` names, in id order.
    pub(crate) fn targets(&self, target: Target) -> Vec<EvpId> {
        match target {
            Target::Envelope(evpid) => self
                .entries
                .contains_key(&evpid)
                .then_some(evpid)
                .into_iter()
                .collect(),
            Target::Message(msgid) => {
                let first = EvpId(u64::from(msgid.0) << 32);
                let last = EvpId(first.0 | 0xffff_ffff);
                self.entries
                    .range(first..=last)
                    .map(|(id, _)| *id)
                    .collect()
            }
            Target::All => self.entries.keys().copied().collect(),
        }
    }

    /// Pause envelopes: they are not tried (nor expired) until resumed. An
    /// envelope in flight finishes its attempt and then waits, paused.
    /// Returns how many were newly paused.
    pub fn pause(&mut self, target: Target) -> usize {
        let mut n = 0;
        for evpid in self.targets(target) {
            self.unindex(evpid);
            if let Some(e) = self.entries.get_mut(&evpid).filter(|e| !e.suspended) {
                e.suspended = true;
                n += 1;
            }
        }
        n
    }

    /// Resume paused envelopes; those whose time has passed are due at once.
    /// Returns how many were resumed.
    pub fn resume(&mut self, target: Target) -> usize {
        let mut n = 0;
        for evpid in self.targets(target) {
            if let Some(e) = self.entries.get_mut(&evpid).filter(|e| e.suspended) {
                e.suspended = false;
                n += 1;
                self.index(evpid);
            }
        }
        n
    }

    /// Hold every envelope of a kind (`smtpctl pause mda|mta`): they are not
    /// handed out, though they still expire. Envelopes in flight finish.
    pub fn pause_kind(&mut self, kind: EnvelopeKind) {
        self.paused[kind_index(kind)] = true;
    }

    pub fn resume_kind(&mut self, kind: EnvelopeKind) {
        self.paused[kind_index(kind)] = false;
    }

    pub fn is_kind_paused(&self, kind: EnvelopeKind) -> bool {
        self.paused[kind_index(kind)]
    }

    /// Make pending envelopes due at `now` (`smtpctl schedule`). A paused
    /// envelope stays paused, due at once when resumed; envelopes in flight
    /// are left alone. Returns how many were rescheduled.
    pub fn schedule_now(&mut self, target: Target, now: u64) -> usize {
        let mut n = 0;
        for evpid in self.targets(target) {
            self.unindex(evpid);
            if let Some(e) = self
                .entries
                .get_mut(&evpid)
                .filter(|e| e.state == State::Pending)
            {
                e.sched = now;
                n += 1;
            }
            self.index(evpid);
        }
        n
    }

    /// Remove envelopes (`smtpctl remove`). Pending ones are forgotten at
    /// once; in-flight ones when their outcome comes back.
    pub fn remove(&mut self, target: Target) -> Removal {
        let mut removal = Removal::default();
        for evpid in self.targets(target) {
            let Some(e) = self.entries.get_mut(&evpid) else {
                continue;
            };
            match e.state {
                State::Inflight { .. } if !e.removed => {
                    e.removed = true;
                    removal.when_back.push(evpid);
                }
                State::Inflight { .. } => {}
                State::Pending => {
                    self.drop_entry(evpid);
                    removal.now.push(evpid);
                }
            }
        }
        removal
    }

    /// Forget an envelope whatever its state, e.g. when the queue found it
    /// damaged or gone. Returns whether it was known.
    pub fn forget(&mut self, evpid: EvpId) -> bool {
        self.drop_entry(evpid).is_some()
    }
}
