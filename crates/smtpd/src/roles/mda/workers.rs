//! The pool of delivery workers: processes the parent started as a user,
//! each fed one job at a time over its socket by a thread of ours (the
//! conversation is blocking and short; a thread per worker keeps the
//! process's event loop free).

use smtpd_ipc::{BlockingChannel, Role};
use smtpd_types::{DeliveryOutcome, EnhancedStatus};
use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::os::fd::OwnedFd;
use std::sync::mpsc as std_mpsc;
use std::time::Instant;
use tokio::sync::mpsc;

use crate::msg::worker::{Job, JobDone};

/// Who a worker runs as: uid, gid and the extra group for mboxes.
pub type WorkerKey = (u32, u32, Option<u32>);

/// A job's end, reported by a worker thread.
pub struct Finished {
    pub key: WorkerKey,
    pub worker: u64,
    pub done: JobDone,
    /// The worker is unusable (its channel failed); it is dropped.
    pub dead: bool,
}

struct Worker {
    id: u64,
    tx: std_mpsc::Sender<(Job, File)>,
    busy: bool,
    idle_since: Instant,
}

/// The workers, by user.
#[derive(Default)]
pub struct Pool {
    next_id: u64,
    workers: HashMap<WorkerKey, Vec<Worker>>,
    /// Jobs waiting for a free worker of their user.
    waiting: HashMap<WorkerKey, VecDeque<(Job, File)>>,
    /// Workers being started, per user.
    starting: HashMap<WorkerKey, usize>,
}

impl Pool {
    pub fn total(&self) -> usize {
        self.workers.values().map(Vec::len).sum::<usize>() + self.starting.values().sum::<usize>()
    }

    pub fn for_user(&self, key: &WorkerKey) -> usize {
        self.workers.get(key).map_or(0, Vec::len) + self.starting.get(key).copied().unwrap_or(0)
    }

    /// Queue a job; returns true if it went to an idle worker right away.
    pub fn submit(&mut self, key: WorkerKey, job: Job, msg: File) -> bool {
        if let Some(w) = self
            .workers
            .get_mut(&key)
            .and_then(|ws| ws.iter_mut().find(|w| !w.busy))
        {
            return send_to(w, job, msg).is_ok();
        }
        self.waiting.entry(key).or_default().push_back((job, msg));
        false
    }

    pub fn waiting(&self, key: &WorkerKey) -> usize {
        self.waiting.get(key).map_or(0, VecDeque::len)
    }

    /// Keys with waiting jobs.
    pub fn keys_waiting(&self) -> Vec<WorkerKey> {
        self.waiting
            .iter()
            .filter(|(_, q)| !q.is_empty())
            .map(|(k, _)| *k)
            .collect()
    }

    pub fn mark_starting(&mut self, key: WorkerKey) {
        *self.starting.entry(key).or_default() += 1;
    }

    pub fn start_failed(&mut self, key: WorkerKey) -> Vec<Job> {
        if let Some(n) = self.starting.get_mut(&key) {
            *n = n.saturating_sub(1);
        }
        if self.for_user(&key) == 0 {
            // Nobody will serve these: give them back to fail them.
            return self
                .waiting
                .remove(&key)
                .map(|q| q.into_iter().map(|(j, _)| j).collect())
                .unwrap_or_default();
        }
        Vec::new()
    }

    /// A worker was started: serve its socket from a thread, and give it
    /// the first waiting job.
    pub fn add(&mut self, key: WorkerKey, sock: OwnedFd, done: mpsc::UnboundedSender<Finished>) {
        if let Some(n) = self.starting.get_mut(&key) {
            *n = n.saturating_sub(1);
        }
        self.next_id += 1;
        let id = self.next_id;
        let (tx, rx) = std_mpsc::channel::<(Job, File)>();
        std::thread::spawn(move || serve(key, id, sock, rx, done));
        let mut w = Worker {
            id,
            tx,
            busy: false,
            idle_since: Instant::now(),
        };
        if let Some((job, msg)) = self.waiting.get_mut(&key).and_then(VecDeque::pop_front) {
            let _ = send_to(&mut w, job, msg);
        }
        self.workers.entry(key).or_default().push(w);
    }

    /// A worker finished a job: give it the next one of its user.
    pub fn finished(&mut self, key: WorkerKey, worker: u64, dead: bool) {
        let Some(ws) = self.workers.get_mut(&key) else {
            return;
        };
        if dead {
            ws.retain(|w| w.id != worker);
            return;
        }
        if let Some(w) = ws.iter_mut().find(|w| w.id == worker) {
            w.busy = false;
            w.idle_since = Instant::now();
            if let Some((job, msg)) = self.waiting.get_mut(&key).and_then(VecDeque::pop_front) {
                let _ = send_to(w, job, msg);
            }
        }
    }

    /// Let the longest-idle worker of another user than `key` go, to make
    /// room under `max-session` for `key`'s waiting jobs; false if every
    /// other worker is busy. (Idle workers are kept only as a shortcut for
    /// the next delivery to the same user; they must never hold a slot
    /// another user's mail is waiting for.)
    pub fn retire_idle_other(&mut self, key: WorkerKey) -> bool {
        let oldest = self
            .workers
            .iter()
            .filter(|(k, _)| **k != key)
            .flat_map(|(k, ws)| ws.iter().filter(|w| !w.busy).map(move |w| (*k, w)))
            .min_by_key(|(_, w)| w.idle_since)
            .map(|(k, w)| (k, w.id));
        let Some((k, id)) = oldest else {
            return false;
        };
        if let Some(ws) = self.workers.get_mut(&k) {
            ws.retain(|w| w.id != id);
        }
        self.workers.retain(|_, ws| !ws.is_empty());
        true
    }

    /// Let workers idle for longer than `idle` go (their thread closes the
    /// socket, the worker process exits).
    pub fn reap_idle(&mut self, idle: std::time::Duration) {
        for ws in self.workers.values_mut() {
            ws.retain(|w| w.busy || w.idle_since.elapsed() < idle);
        }
        self.workers.retain(|_, ws| !ws.is_empty());
    }
}

fn send_to(w: &mut Worker, job: Job, msg: File) -> Result<(), ()> {
    w.busy = true;
    w.tx.send((job, msg)).map_err(|_| ())
}

/// The thread that talks to one worker.
fn serve(
    key: WorkerKey,
    id: u64,
    sock: OwnedFd,
    rx: std_mpsc::Receiver<(Job, File)>,
    done: mpsc::UnboundedSender<Finished>,
) {
    let mut ch = BlockingChannel::new(sock);
    while let Ok((job, msg)) = rx.recv() {
        let jid = job.id;
        let n = match &job.method {
            crate::msg::worker::Method::Lmtp { rcpts, .. } => rcpts.len().max(1),
            _ => 1,
        };
        let result = ch
            .send(&job, &[OwnedFd::from(msg)])
            .and_then(|()| ch.recv::<JobDone>(Role::Mda).map(|(d, _)| d));
        match result {
            Ok(d) => {
                let _ = done.send(Finished {
                    key,
                    worker: id,
                    done: d,
                    dead: false,
                });
            }
            Err(e) => {
                let o = DeliveryOutcome::tempfail(
                    EnhancedStatus::new(4, 3, 0),
                    format!("delivery process failed: {e}"),
                );
                let _ = done.send(Finished {
                    key,
                    worker: id,
                    done: JobDone {
                        id: jid,
                        outcomes: vec![o; n],
                    },
                    dead: true,
                });
                return;
            }
        }
    }
}
