//! The store thread of the queue process: owns the backend and does the
//! spool work, answering the requesters directly through their channels.
//! Reports for senders are made here ([`reports`]) and handed to the async
//! side of the process for delivery ([`super::bounce`]).

mod reports;

use anyhow::Result;
use smtpd_queue::{QueueBackend, QueueError};
use smtpd_types::{DeliveryOutcome, EnhancedStatus, Envelope, EnvelopeKind, EvpId, SchedInfo};
use std::collections::HashSet;
use std::os::fd::OwnedFd;
use std::sync::mpsc::Receiver;
use std::time::{SystemTime, UNIX_EPOCH};
use tracing::{error, info, warn};

use super::bounce;
use crate::msg::to_scheduler::SchedOutcome;
use crate::msg::to_smtp::QueueFailure;
use crate::msg::{ReqId, ToControl, ToMda, ToMta, ToQueue, ToScheduler, ToSmtp};
use crate::peers::Peers;

/// Envelopes per `Loaded` message at start.
const LOAD_CHUNK: usize = 1024;

/// One request for the store, with the descriptors it came with.
pub struct Op {
    pub msg: ToQueue,
    pub _fds: Vec<OwnedFd>,
}

pub struct Store {
    backend: Box<dyn QueueBackend + Send>,
    peers: Peers,
    /// The spool had room at the last check (smtp is told of changes).
    room: bool,
    /// Report envelopes to deliver go to the async side.
    bounces: tokio::sync::mpsc::UnboundedSender<bounce::Job>,
    /// Prepared commits go to the committer thread.
    committer: std::sync::mpsc::Sender<CommitJob>,
    /// Envelopes whose sender asked for a success notice (DSN
    /// NOTIFY=SUCCESS): only these are read back when delivered, so the
    /// common delivery costs no envelope load.
    notify_success: HashSet<EvpId>,
}

/// What the queue found in the spool at start.
pub struct Loaded {
    /// Every envelope's scheduling facts, for the scheduler.
    pub infos: Vec<SchedInfo>,
    /// The envelopes that want a success notice.
    pub notify_success: HashSet<EvpId>,
}

/// Does a delivery of `env` owe its sender a success notice?
fn wants_success_notice(env: &Envelope) -> bool {
    env.kind == EnvelopeKind::Mda && env.dsn_notify.success
}

/// How often the spool's free space is checked when nothing happens.
const ROOM_CHECK: std::time::Duration = std::time::Duration::from_secs(1);

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Store {
    pub fn new(
        backend: Box<dyn QueueBackend + Send>,
        peers: Peers,
        bounces: tokio::sync::mpsc::UnboundedSender<bounce::Job>,
        committer: std::sync::mpsc::Sender<CommitJob>,
    ) -> Self {
        Store {
            committer,
            backend,
            peers,
            room: true,
            bounces,
            notify_success: HashSet::new(),
        }
    }

    /// Announce the envelopes found at start, then serve requests until
    /// the channel closes.
    pub fn run(mut self, rx: Receiver<Op>, loaded: Loaded) -> Result<()> {
        self.notify_success = loaded.notify_success;
        for chunk in loaded.infos.chunks(LOAD_CHUNK) {
            self.send_scheduler(ToScheduler::Loaded {
                envelopes: chunk.to_vec(),
            });
        }
        self.check_room();
        loop {
            let first = match rx.recv_timeout(ROOM_CHECK) {
                Ok(op) => op,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    self.check_room();
                    continue;
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            };
            // Take everything that is already waiting: the commits among it
            // share their syncs.
            let mut ops = vec![first];
            while let Ok(op) = rx.try_recv() {
                ops.push(op);
            }
            let mut commits: Vec<(ReqId, smtpd_types::MsgId, Vec<Envelope>)> = Vec::new();
            for op in ops {
                match op.msg {
                    ToQueue::Commit {
                        req,
                        msgid,
                        envelopes,
                    } => commits.push((req, msgid, envelopes)),
                    other => self.handle(other),
                }
            }
            if !commits.is_empty() {
                self.commit(commits);
                self.check_room();
            }
        }
        Ok(())
    }

    fn handle(&mut self, msg: ToQueue) {
        match msg {
            ToQueue::CreateMessage { req } => self.create(req),
            ToQueue::CreateMessages { count } => self.create_many(count),
            ToQueue::Commit { .. } => {}
            ToQueue::Rollback { msgid } => {
                if let Err(e) = self.backend.rollback(msgid) {
                    warn!("queue: rollback of {msgid}: {e}");
                }
            }
            ToQueue::Deliver { evpids } => {
                for evpid in evpids {
                    self.dispatch(evpid);
                }
            }
            ToQueue::Expire { evpids } => {
                for evpid in evpids {
                    self.expire(evpid);
                }
            }
            ToQueue::Remove { evpids } => {
                for evpid in evpids {
                    self.remove(evpid);
                }
            }
            ToQueue::Outcome { evpid, outcome } => self.outcome(evpid, outcome),
            ToQueue::DelayWarning { evpid, at, delay } => self.delay_warning(evpid, at, delay),
            ToQueue::ListEnvelopes { req, evpids } => self.list(req, evpids),
            ToQueue::ShowEnvelope { req, evpid } => self.show_envelope(req, evpid),
            ToQueue::ShowMessage { req, msgid } => self.show_message(req, msgid),
            // Answered on the async side; never forwarded here.
            ToQueue::SessionOpened { .. } => {}
            // Applied on arrival (`logging::apply_verbose`).
            ToQueue::Verbose(_) => {}
            ToQueue::Shutdown => {}
        }
    }

    /// Tell smtp when the spool fills up or has room again: its pool of
    /// ready messages must not let new mail in when the spool is full.
    fn check_room(&mut self) {
        let room = !matches!(self.backend.has_room(), Ok(false));
        if room != self.room {
            self.room = room;
            if room {
                info!("queue: the spool has room again");
            } else {
                warn!("queue: the spool is (nearly) full: new mail is refused");
            }
            if let Err(e) = self.peers.smtp().send(ToSmtp::Room { ok: room }) {
                warn!("queue: telling smtp: {e}");
            }
        }
    }

    fn create(&mut self, req: ReqId) {
        let result = match self.backend.has_room() {
            Ok(false) => Err(QueueFailure::NoRoom),
            Err(e) => {
                warn!("queue: free space check failed: {e}");
                Ok(())
            }
            Ok(true) => Ok(()),
        };
        let created = result.and_then(|()| {
            let msgid = self
                .backend
                .create_message()
                .map_err(|e| failure("creating a message", e))?;
            match self.backend.message_fd_w(msgid) {
                Ok(f) => Ok((msgid, f)),
                Err(e) => {
                    let _ = self.backend.rollback(msgid);
                    Err(failure("opening the message file", e))
                }
            }
        });
        let sent = match created {
            Ok((msgid, file)) => self.peers.smtp().send_with_fds(
                ToSmtp::MessageCreated {
                    req,
                    result: Ok(msgid),
                },
                vec![file.into()],
            ),
            Err(f) => self.peers.smtp().send(ToSmtp::MessageCreated {
                req,
                result: Err(f),
            }),
        };
        if let Err(e) = sent {
            warn!("queue: answering smtp: {e}");
        }
    }

    /// Create messages ahead of need for the smtp process's pool.
    fn create_many(&mut self, count: usize) {
        let count = count.min(smtpd_ipc::MAX_FDS_PER_FRAME);
        let no_room = matches!(self.backend.has_room(), Ok(false));
        let mut msgids = Vec::new();
        let mut files: Vec<std::os::fd::OwnedFd> = Vec::new();
        if !no_room {
            for _ in 0..count {
                let Ok(msgid) = self.backend.create_message() else {
                    break;
                };
                match self.backend.message_fd_w(msgid) {
                    Ok(f) => {
                        msgids.push(msgid);
                        files.push(f.into());
                    }
                    Err(e) => {
                        warn!("queue: opening a message file: {e}");
                        let _ = self.backend.rollback(msgid);
                        break;
                    }
                }
            }
        }
        if let Err(e) = self
            .peers
            .smtp()
            .send_with_fds(ToSmtp::MessagesCreated { msgids, no_room }, files)
        {
            warn!("queue: answering smtp: {e}");
        }
    }

    fn commit(&mut self, commits: Vec<(ReqId, smtpd_types::MsgId, Vec<Envelope>)>) {
        let mut reqs = Vec::with_capacity(commits.len());
        let mut infos = Vec::with_capacity(commits.len());
        let mut batch = Vec::with_capacity(commits.len());
        for (req, msgid, envs) in commits {
            // A commit that then fails leaves an id here that is never
            // delivered: harmless, and gone at the next start.
            self.notify_success.extend(
                envs.iter()
                    .filter(|e| wants_success_notice(e))
                    .map(|e| e.id),
            );
            reqs.push(req);
            infos.push(envs.iter().map(|e| e.sched_info()).collect::<Vec<_>>());
            batch.push((msgid, envs));
        }
        let msgids: Vec<_> = batch.iter().map(|(m, _)| *m).collect();
        // This thread writes the envelopes; the committer thread syncs and
        // renames (the slow part) and answers, while this one goes on.
        let pending = self.backend.commit_prepare(batch);
        let job = CommitJob {
            pending,
            reqs,
            msgids,
            infos,
        };
        if let Err(std::sync::mpsc::SendError(job)) = self.committer.send(job) {
            // No committer (it could not start): finish here.
            finish_commit(job, &self.peers);
        }
    }

    /// Load an envelope and hand it, with its message, to its agent.
    fn dispatch(&mut self, evpid: EvpId) {
        let env = match self.backend.envelope_load(evpid) {
            Ok(e) => e,
            Err(e) => return self.unreadable(evpid, e),
        };
        let file = match self.backend.message_fd_r(env.msgid()) {
            Ok(f) => f,
            Err(e) => return self.unreadable(evpid, e),
        };
        let sent = match env.kind {
            EnvelopeKind::Mda => self.peers.mda().send_with_fds(
                ToMda::Deliver {
                    envelope: Box::new(env),
                },
                vec![file.into()],
            ),
            EnvelopeKind::Mta => self.peers.mta().send_with_fds(
                ToMta::Relay {
                    envelope: Box::new(env),
                },
                vec![file.into()],
            ),
            EnvelopeKind::Bounce => {
                let job = bounce::Job {
                    envelope: env,
                    file,
                };
                if self.bounces.send(job).is_err() {
                    warn!("queue: dispatching report {evpid}: the process is stopping");
                    self.tempfail_dispatch(evpid);
                }
                return;
            }
        };
        if let Err(e) = sent {
            warn!("queue: dispatching {evpid}: {e}");
            self.tempfail_dispatch(evpid);
        }
    }

    /// An envelope could not be handed out: the scheduler tries it later.
    fn tempfail_dispatch(&mut self, evpid: EvpId) {
        self.send_scheduler(ToScheduler::Outcome {
            evpid,
            outcome: SchedOutcome::TempFail,
            info: None,
        });
    }

    fn unreadable(&mut self, evpid: EvpId, e: QueueError) {
        match e {
            QueueError::EnvelopeNotFound(_) | QueueError::MessageNotFound(_) => {
                warn!("queue: {evpid} is gone from the spool: {e}");
                self.send_scheduler(ToScheduler::Outcome {
                    evpid,
                    outcome: SchedOutcome::Removed,
                    info: None,
                });
            }
            _ => {
                error!("queue: {evpid} cannot be read: {e}: held");
                self.send_scheduler(ToScheduler::Outcome {
                    evpid,
                    outcome: SchedOutcome::PermFail,
                    info: None,
                });
            }
        }
    }

    fn outcome(&mut self, evpid: EvpId, outcome: DeliveryOutcome) {
        match outcome {
            DeliveryOutcome::Ok => self.delivered(evpid),
            DeliveryOutcome::TempFail { status, reason } => {
                let info = self.record_failure(evpid, status, &reason);
                self.send_scheduler(ToScheduler::Outcome {
                    evpid,
                    outcome: SchedOutcome::TempFail,
                    info,
                });
            }
            DeliveryOutcome::PermFail { status, reason } => {
                self.fail(evpid, status, &reason, "failed permanently")
            }
            DeliveryOutcome::Loop { reason } => {
                self.fail(evpid, EnhancedStatus::new(5, 4, 6), &reason, "is looping")
            }
        }
    }

    /// Note an attempt's failure on the envelope (retry count, last try,
    /// error line); returns its new scheduling facts.
    fn record_failure(
        &mut self,
        evpid: EvpId,
        status: EnhancedStatus,
        reason: &str,
    ) -> Option<SchedInfo> {
        let mut env = match self.backend.envelope_load(evpid) {
            Ok(e) => e,
            Err(e) => {
                warn!("queue: updating {evpid}: {e}");
                return None;
            }
        };
        env.retry = env.retry.saturating_add(1);
        env.last_try = now();
        // A report keeps the failure it reports; its own delivery's error
        // is only logged.
        if env.kind != EnvelopeKind::Bounce {
            env.errorline = Some(format!("{status} {reason}"));
            env.esc = Some(status);
        }
        if let Err(e) = self.backend.envelope_update(&env) {
            warn!("queue: updating {evpid}: {e}");
        }
        Some(env.sched_info())
    }

    fn remove(&mut self, evpid: EvpId) {
        self.notify_success.remove(&evpid);
        match self.backend.envelope_delete(evpid) {
            Ok(_) => info!("queue: {evpid} removed"),
            Err(e) => warn!("queue: removing {evpid}: {e}"),
        }
        self.send_scheduler(ToScheduler::Outcome {
            evpid,
            outcome: SchedOutcome::Removed,
            info: None,
        });
    }

    /// `smtpctl show queue`: the envelopes still queued among `evpids`
    /// (one delivered since the scheduler listed it is left out).
    fn list(&mut self, req: ReqId, evpids: Vec<EvpId>) {
        let envelopes = evpids
            .into_iter()
            .filter_map(|evpid| self.backend.envelope_load(evpid).ok())
            .collect();
        self.reply_control(ToControl::Envelopes { req, envelopes }, Vec::new());
    }

    /// `smtpctl show envelope`: the file's text.
    fn show_envelope(&mut self, req: ReqId, evpid: EvpId) {
        let result = self
            .backend
            .envelope_raw(evpid)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .map_err(|e| e.to_string());
        self.reply_control(ToControl::EnvelopeText { req, result }, Vec::new());
    }

    /// `smtpctl show message`: the message file, for reading. Only this
    /// process opens spool files; smtpctl gets the descriptor.
    fn show_message(&mut self, req: ReqId, msgid: smtpd_types::MsgId) {
        let (result, fds) = match self.backend.message_fd_r(msgid) {
            Ok(f) => (Ok(()), vec![OwnedFd::from(f)]),
            Err(e) => (Err(e.to_string()), Vec::new()),
        };
        self.reply_control(ToControl::MessageFile { req, result }, fds);
    }

    fn reply_control(&self, msg: ToControl, fds: Vec<OwnedFd>) {
        if let Err(e) = self.peers.control().send_with_fds(msg, fds) {
            warn!("queue: answering control: {e}");
        }
    }

    fn send_scheduler(&self, msg: ToScheduler) {
        if let Err(e) = self.peers.scheduler().send(msg) {
            warn!("queue: telling the scheduler: {e}");
        }
    }
}

/// A batch of commits whose envelopes are written, waiting for its syncs.
pub struct CommitJob {
    pending: Box<dyn smtpd_queue::PendingCommit>,
    reqs: Vec<ReqId>,
    msgids: Vec<smtpd_types::MsgId>,
    infos: Vec<Vec<SchedInfo>>,
}

/// Make a batch durable and answer for each message: the scheduler learns
/// of a message only once it is durable, then smtp hears the result.
fn finish_commit(job: CommitJob, peers: &Peers) {
    let results = job.pending.finish();
    let replies = job.reqs.into_iter().zip(job.msgids).zip(job.infos);
    for (((req, msgid), info), result) in replies.zip(results) {
        let result = match result {
            Ok(()) => {
                if let Err(e) = peers
                    .scheduler()
                    .send(ToScheduler::Committed { envelopes: info })
                {
                    warn!("queue: telling the scheduler: {e}");
                }
                Ok(())
            }
            Err(e) => Err(failure(&format!("committing {msgid}"), e)),
        };
        if let Err(e) = peers.smtp().send(ToSmtp::Committed { req, result }) {
            warn!("queue: answering smtp: {e}");
        }
    }
}

/// The committer thread: finishes prepared batches one after the other.
pub fn committer(rx: Receiver<CommitJob>, peers: Peers) {
    while let Ok(job) = rx.recv() {
        finish_commit(job, &peers);
    }
}

/// At start, before the process says it is ready: forget the incoming
/// messages of transactions that never committed, and collect the
/// scheduling facts of every queued envelope.
pub fn reload(backend: &mut dyn QueueBackend) -> Result<Loaded> {
    let purged = backend.purge_incoming()?;
    if purged > 0 {
        info!("queue: purged {purged} incomplete incoming message(s)");
    }
    let mut infos: Vec<SchedInfo> = Vec::new();
    let mut notify_success = HashSet::new();
    let mut bad = 0usize;
    for item in backend.walk()? {
        match item {
            Ok(env) => {
                if wants_success_notice(&env) {
                    notify_success.insert(env.id);
                }
                infos.push(env.sched_info());
            }
            Err(e) => {
                bad += 1;
                error!("queue: {e}: left in the spool for inspection");
            }
        }
    }
    if !infos.is_empty() || bad > 0 {
        info!(
            "queue: loaded {} envelope(s) from the spool ({bad} unreadable)",
            infos.len()
        );
    }
    Ok(Loaded {
        infos,
        notify_success,
    })
}

fn failure(what: &str, e: QueueError) -> QueueFailure {
    error!("queue: {what}: {e}");
    QueueFailure::Failed(format!("{what}: {e}"))
}
