//! Requests waiting for their replies.
//!
//! A session that asks another process something parks here under a fresh
//! request id; when the reply naming that id arrives in the role's inbox, the
//! dispatcher hands it over and the session resumes (OpenSMTPD's
//! `tree_xset`/`tree_xpop` on `reqid`).

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

use crate::msg::ReqId;

/// A reply and the descriptors that came with it.
pub type Reply<M> = (M, Vec<OwnedFd>);

/// The table of waiting requests of one process, for replies of type `M`.
pub struct Pending<M> {
    next: AtomicU64,
    waiting: Mutex<HashMap<ReqId, oneshot::Sender<Reply<M>>>>,
}

impl<M> Default for Pending<M> {
    fn default() -> Self {
        Pending {
            next: AtomicU64::new(1),
            waiting: Mutex::new(HashMap::new()),
        }
    }
}

impl<M> Pending<M> {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// A fresh request id and the receiver its reply will arrive on.
    pub fn register(&self) -> (ReqId, oneshot::Receiver<Reply<M>>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.lock().insert(id, tx);
        (id, rx)
    }

    /// Forget a request whose reply will not be awaited (the session ended).
    pub fn cancel(&self, id: ReqId) {
        self.lock().remove(&id);
    }

    /// Hand a reply to its waiter. Returns false when nobody waits for it
    /// any more (the session went away); the reply is then dropped, closing
    /// its descriptors.
    pub fn complete(&self, id: ReqId, msg: M, fds: Vec<OwnedFd>) -> bool {
        let waiter = self.lock().remove(&id);
        match waiter {
            Some(tx) => tx.send((msg, fds)).is_ok(),
            None => false,
        }
    }

    /// Give up on every waiting request: each waiter sees its request
    /// fail. For when a peer died: its answers will never come, and the
    /// server is stopping anyway, so nobody should sit out a timeout.
    pub fn fail_all(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ReqId, oneshot::Sender<Reply<M>>>> {
        // A panic while holding this lock cannot leave the map inconsistent
        // (every operation is a single insert or remove), so a poisoned lock
        // is still usable.
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn fail_all_ends_every_wait() {
        let p: Arc<Pending<u32>> = Pending::new();
        let (a, rx_a) = p.register();
        let (_, rx_b) = p.register();
        p.fail_all();
        assert!(rx_a.await.is_err());
        assert!(rx_b.await.is_err());
        assert!(!p.complete(a, 1, Vec::new()), "nobody waits any more");
    }
}
