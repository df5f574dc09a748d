//! Incoming messages created ahead of need.
//!
//! Creating a message is a round trip to the queue process, whose one store
//! thread may be busy making a batch of commits durable. Asking for it at
//! MAIL FROM would put every new transaction behind the disk. Instead the
//! smtp process keeps a few created messages (id + file) ready and refills
//! the pool in batches; MAIL FROM takes one without waiting. Messages left
//! in the pool when the server stops are purged from `incoming/` at start,
//! as any abandoned transaction.
//!
//! When the queue reports that the spool is (nearly) full, the pool is
//! emptied (its messages rolled back) and MAIL FROM asks the queue each
//! time, so that new mail gets `452 4.3.1` until there is room again.

use smtpd_ipc::Sender;
use smtpd_types::MsgId;
use std::collections::VecDeque;
use std::fs::File;
use std::os::fd::OwnedFd;

use crate::msg::ToQueue;

/// Messages asked for at a time, at most (one frame of descriptors).
const MAX_BATCH: usize = smtpd_ipc::MAX_FDS_PER_FRAME;

/// The batch size for a process with `fd_limit` descriptors: the pool
/// never holds more than a sixteenth of them (a tiny limit gets a tiny
/// pool, so the pool can never be what exhausts the descriptors).
pub fn batch_for(fd_limit: usize) -> usize {
    (fd_limit / 48).clamp(1, MAX_BATCH)
}

/// The most message files a pool of this batch size holds at once: it
/// refills below two batches, so at most three are held or on their way.
pub fn max_held(batch: usize) -> usize {
    3 * batch
}

pub struct Pool {
    batch: usize,
    ready: VecDeque<(MsgId, File)>,
    /// Messages asked for and not yet received.
    requested: usize,
    /// The queue said the spool is full.
    no_room: bool,
}

impl Pool {
    pub fn new(batch: usize) -> Self {
        Pool {
            batch: batch.max(1),
            ready: VecDeque::new(),
            requested: 0,
            no_room: false,
        }
    }

    /// A ready message, if the spool has room and one is there.
    pub fn take(&mut self, queue: &Sender<ToQueue>) -> Option<(MsgId, File)> {
        if self.no_room {
            return None;
        }
        let m = self.ready.pop_front();
        self.refill(queue);
        m
    }

    /// Ask for more if the pool runs low.
    pub fn refill(&mut self, queue: &Sender<ToQueue>) {
        if self.no_room {
            return;
        }
        while self.ready.len() + self.requested < 2 * self.batch {
            if queue
                .send(ToQueue::CreateMessages { count: self.batch })
                .is_err()
            {
                return;
            }
            self.requested += self.batch;
        }
    }

    /// The queue's answer to a refill.
    pub fn add(
        &mut self,
        msgids: Vec<MsgId>,
        fds: Vec<OwnedFd>,
        no_room: bool,
        queue: &Sender<ToQueue>,
    ) {
        self.requested = self.requested.saturating_sub(self.batch);
        for (m, fd) in msgids.into_iter().zip(fds) {
            self.ready.push_back((m, File::from(fd)));
        }
        if no_room {
            self.set_no_room(queue);
        }
    }

    /// The spool is full: give the ready messages back.
    pub fn set_no_room(&mut self, queue: &Sender<ToQueue>) {
        self.no_room = true;
        for (msgid, _) in self.ready.drain(..) {
            let _ = queue.send(ToQueue::Rollback { msgid });
        }
    }

    /// A message was created the slow way: there is room again.
    pub fn room_again(&mut self, queue: &Sender<ToQueue>) {
        if self.no_room {
            self.no_room = false;
            self.requested = 0;
            self.refill(queue);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{batch_for, max_held, MAX_BATCH};

    #[test]
    fn the_pool_never_holds_more_than_a_sixteenth_of_the_descriptors() {
        for limit in [16usize, 64, 256, 1024, 20_000, 1 << 20] {
            let held = max_held(batch_for(limit));
            assert!(held >= 3, "a pool always holds something");
            assert!(limit < 48 || held * 16 <= limit, "limit {limit}: {held}");
            assert!(batch_for(limit) <= MAX_BATCH);
        }
    }
}
