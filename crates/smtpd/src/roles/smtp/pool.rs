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

/// Messages asked for at a time (one frame of descriptors).
const BATCH: usize = smtpd_ipc::MAX_FDS_PER_FRAME;
/// Refill when fewer than this many are ready or on their way.
const LOW: usize = 2 * BATCH;
/// The most message files the pool holds at once (descriptors it uses).
pub const MAX_HELD: usize = LOW + BATCH;

#[derive(Default)]
pub struct Pool {
    ready: VecDeque<(MsgId, File)>,
    /// Messages asked for and not yet received.
    requested: usize,
    /// The queue said the spool is full.
    no_room: bool,
}

impl Pool {
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
        while self.ready.len() + self.requested < LOW {
            if queue
                .send(ToQueue::CreateMessages { count: BATCH })
                .is_err()
            {
                return;
            }
            self.requested += BATCH;
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
        self.requested = self.requested.saturating_sub(BATCH);
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
