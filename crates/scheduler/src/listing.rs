//! Listings for `smtpctl show queue` and `show message`, page by page as
//! OpenSMTPD serves them (`max-msg-batch-size` ids, `max-evp-batch-size`
//! envelope states per request).

use crate::scheduler::{kind_index, Entry, Scheduler, State};
use crate::types::{EvpState, EvpStatus};
use smtpd_types::{EvpId, MsgId};
use std::ops::Bound;

impl Scheduler {
    fn status_of(&self, evpid: EvpId, e: &Entry) -> EvpStatus {
        let (state, time) = match e.state {
            State::Inflight { since } => (EvpState::Inflight, since),
            State::Pending if e.suspended || self.paused[kind_index(e.info.kind)] => {
                (EvpState::Held, e.sched)
            }
            State::Pending => (EvpState::Pending, e.sched),
        };
        EvpStatus {
            evpid,
            kind: e.info.kind,
            state,
            suspended: e.suspended,
            removing: e.removed,
            retry: e.info.retry,
            ctime: e.info.ctime,
            expires_at: e.expires_at(),
            last_try: e.info.last_try,
            time,
        }
    }

    /// One envelope's status.
    pub fn status(&self, evpid: EvpId) -> Option<EvpStatus> {
        self.entries.get(&evpid).map(|e| self.status_of(evpid, e))
    }

    /// The next page of envelope states, in id order, after `after` (from
    /// the start with `None`). An empty page ends the listing.
    pub fn envelopes(&self, after: Option<EvpId>) -> Vec<EvpStatus> {
        let start = after.map_or(Bound::Unbounded, Bound::Excluded);
        self.entries
            .range((start, Bound::Unbounded))
            .take(self.config.limits.max_evp_batch_size)
            .map(|(id, e)| self.status_of(*id, e))
            .collect()
    }

    /// The next page of message ids holding committed envelopes, in order,
    /// after `after`.
    pub fn messages(&self, after: Option<MsgId>) -> Vec<MsgId> {
        let start = match after {
            None => Bound::Unbounded,
            Some(m) => Bound::Excluded(EvpId((u64::from(m.0) << 32) | 0xffff_ffff)),
        };
        let mut out: Vec<MsgId> = Vec::new();
        for id in self
            .entries
            .range((start, Bound::Unbounded))
            .map(|(id, _)| *id)
        {
            if out.last() != Some(&id.msgid()) {
                if out.len() == self.config.limits.max_msg_batch_size {
                    break;
                }
                out.push(id.msgid());
            }
        }
        out
    }
}
