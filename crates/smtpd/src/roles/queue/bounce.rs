//! The report workflow of the queue process (the seed's §4.5 and its
//! figure 7), on the async side so that the store thread never waits for a
//! session.
//!
//! The store hands over each report envelope the scheduler sends for
//! delivery, with its message file. Envelopes of the same message and the
//! same kind of report that come within [`GROUP_DELAY`] of each other are
//! gathered into one report (OpenSMTPD waits one second; we wait two,
//! restarted by each newcomer and bounded by [`GROUP_MAX_WAIT`], so that
//! the failures of several recipients of one message, which the delivery
//! agents report one after the other, make one report even on a busy
//! machine). Then the queue asks the smtp process for a local session and
//! speaks SMTP over it ([`inject`](super::inject)); the outcome of that
//! transaction is the outcome of every envelope of the group, and goes
//! back to the store as an ordinary delivery outcome: delivered (the
//! envelopes go), temporary (retried with the local backoff) or permanent
//! (the report is dropped with a log line: a report is never bounced).

use smtpd_types::envelope::BounceType;
use smtpd_types::{DeliveryOutcome, DsnRet, EnhancedStatus, Envelope, EvpId, MsgId};
use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::{info, warn};

use super::inject::{self, InjectError, Original};
use super::report::{arrival_of, fresh_ids, Attach, Recipient, Report};
use crate::msg::{ToQueue, ToSmtp};
use crate::peers::Peers;
use crate::pending::Pending;

/// How long a report waits for more envelopes of its message.
pub const GROUP_DELAY: Duration = Duration::from_secs(2);
/// The longest a report waits for more envelopes, however many come.
const GROUP_MAX_WAIT: Duration = Duration::from_secs(10);
/// Reports being handed to smtp at once (OpenSMTPD: 2).
const MAX_SESSIONS: usize = 4;
/// How long smtp may take to open a session.
const OPEN_TIMEOUT: Duration = Duration::from_secs(30);
/// Room left for the report's own parts when deciding whether the whole
/// original fits under `max-message-size`.
const REPORT_OVERHEAD: u64 = 64 * 1024;

/// A report envelope to deliver, with its message open for reading.
pub struct Job {
    pub envelope: Envelope,
    pub file: std::fs::File,
}

/// What the workflow needs from the process.
pub struct Bouncer {
    pub jobs: UnboundedReceiver<Job>,
    /// Outcomes, for the store.
    pub done: UnboundedSender<(EvpId, DeliveryOutcome)>,
    pub peers: Peers,
    /// Where `SessionOpened` answers arrive.
    pub pending: Arc<Pending<ToQueue>>,
    /// Our server name, for envelopes that carry none.
    pub hostname: String,
    pub max_message_size: u64,
}

/// The envelopes of one report.
struct Group {
    envelopes: Vec<Envelope>,
    file: std::fs::File,
    first: Instant,
    due: Instant,
}

/// What every injection shares.
struct Shared {
    done: UnboundedSender<(EvpId, DeliveryOutcome)>,
    peers: Peers,
    pending: Arc<Pending<ToQueue>>,
    hostname: String,
    max_message_size: u64,
    sessions: Semaphore,
}

fn kind_of(env: &Envelope) -> BounceType {
    env.bounce
        .as_ref()
        .map(|b| b.kind)
        .unwrap_or(BounceType::Failed)
}

/// Gather report envelopes into groups and inject each group when its
/// time comes, until the store stops sending.
pub async fn run(mut b: Bouncer) {
    let shared = Arc::new(Shared {
        done: b.done,
        peers: b.peers,
        pending: b.pending,
        hostname: b.hostname,
        max_message_size: b.max_message_size,
        sessions: Semaphore::new(MAX_SESSIONS),
    });
    let mut groups: HashMap<(MsgId, BounceType), Group> = HashMap::new();
    // Dropped (and so aborted) with this task when the process stops.
    let mut running = JoinSet::new();
    loop {
        let next = groups.values().map(|g| g.due).min();
        tokio::select! {
            job = b.jobs.recv() => match job {
                Some(job) => add(&mut groups, job),
                None => return,
            },
            _ = tokio::time::sleep_until(next.unwrap_or_else(Instant::now)), if next.is_some() => {
                let now = Instant::now();
                let ready: Vec<_> = groups
                    .iter()
                    .filter(|(_, g)| g.due <= now)
                    .map(|(k, _)| *k)
                    .collect();
                for key in ready {
                    if let Some(g) = groups.remove(&key) {
                        running.spawn(deliver(shared.clone(), key.1, g));
                    }
                }
            }
            Some(_) = running.join_next(), if !running.is_empty() => {}
        }
    }
}

fn add(groups: &mut HashMap<(MsgId, BounceType), Group>, job: Job) {
    let now = Instant::now();
    let key = (job.envelope.msgid(), kind_of(&job.envelope));
    match groups.get_mut(&key) {
        Some(g) => {
            // The message file we already hold will do.
            g.envelopes.push(job.envelope);
            g.due = (now + GROUP_DELAY).min(g.first + GROUP_MAX_WAIT);
        }
        None => {
            groups.insert(
                key,
                Group {
                    envelopes: vec![job.envelope],
                    file: job.file,
                    first: now,
                    due: now + GROUP_DELAY,
                },
            );
        }
    }
}

/// Inject one report and pass its outcome on for each of its envelopes.
async fn deliver(sh: Arc<Shared>, kind: BounceType, g: Group) {
    let Ok(_permit) = sh.sessions.acquire().await else {
        return;
    };
    let Some(first) = g.envelopes.first() else {
        return;
    };
    let msgid = first.msgid();
    let to = first
        .sender
        .as_ref()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let evpids: Vec<EvpId> = g.envelopes.iter().map(|e| e.id).collect();
    let n = evpids.len();
    let outcome = match attempt(&sh, kind, g).await {
        Ok(reply) => {
            info!(
                "queue: report ({kind}) on message {msgid} to <{to}> for {n} envelope(s) injected: {reply}",
                kind = kind.as_str()
            );
            DeliveryOutcome::Ok
        }
        Err(InjectError::Temp(why)) => {
            warn!("queue: TempFail injecting the report on message {msgid} to <{to}> for {n} envelope(s): {why}");
            DeliveryOutcome::tempfail(EnhancedStatus::new(4, 3, 0), why)
        }
        Err(InjectError::Perm(why)) => {
            warn!("queue: PermFail injecting the report on message {msgid} to <{to}> for {n} envelope(s): {why}");
            DeliveryOutcome::permfail(EnhancedStatus::new(5, 0, 0), why)
        }
    };
    for evpid in evpids {
        // The main loop is gone only when the process stops; the envelopes
        // stay queued and are tried again after the restart.
        let _ = sh.done.send((evpid, outcome.clone()));
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

async fn attempt(sh: &Shared, kind: BounceType, g: Group) -> Result<String, InjectError> {
    let Some(first) = g.envelopes.first() else {
        return Ok("nothing to report".into());
    };
    let Some(to) = first.sender.clone() else {
        // Report envelopes are only made for messages with a sender.
        return Err(InjectError::Perm("the message has no sender".into()));
    };
    let name = if first.smtpname.is_empty() {
        sh.hostname.clone()
    } else {
        first.smtpname.clone()
    };
    let size = g.file.metadata().map(|m| m.len()).unwrap_or(0);
    let attach = match (kind, first.dsn_ret) {
        (BounceType::Failed, Some(DsnRet::Hdrs)) => Attach::Headers,
        (BounceType::Failed, _) if size.saturating_add(REPORT_OVERHEAD) > sh.max_message_size => {
            Attach::HeadersTooBig
        }
        (BounceType::Failed, _) => Attach::Full,
        _ => Attach::Headers,
    };
    let (boundary, message_id) = fresh_ids(&name);
    let report = Report {
        name: name.clone(),
        kind,
        to: to.clone(),
        envid: first.dsn_envid.clone(),
        arrival: g.envelopes.iter().map(arrival_of).min().unwrap_or(0),
        delayed_for: first.bounce.as_ref().map(|b| b.delay).unwrap_or(0),
        recipients: g
            .envelopes
            .iter()
            .map(|e| Recipient::from_envelope(e, kind))
            .collect(),
        attach,
        boundary,
        message_id,
        date: now(),
    };
    let stream = open_session(sh).await?;
    let original = Original {
        file: tokio::fs::File::from_std(g.file),
    };
    inject::send(stream, &name, &to, &report, Some(original)).await
}

/// Ask smtp for a local session; our end of it.
async fn open_session(sh: &Shared) -> Result<tokio::net::UnixStream, InjectError> {
    let (req, rx) = sh.pending.register();
    if let Err(e) = sh.peers.smtp().send(ToSmtp::OpenSession { req }) {
        sh.pending.cancel(req);
        return Err(InjectError::Temp(format!("asking smtp for a session: {e}")));
    }
    let answer = tokio::time::timeout(OPEN_TIMEOUT, rx).await;
    let (result, mut fds) = match answer {
        Ok(Ok((ToQueue::SessionOpened { result, .. }, fds))) => (result, fds),
        _ => {
            sh.pending.cancel(req);
            return Err(InjectError::Temp("smtp did not open a session".into()));
        }
    };
    result.map_err(|e| InjectError::Temp(format!("smtp could not open a session: {e}")))?;
    let fd: OwnedFd = fds
        .pop()
        .ok_or_else(|| InjectError::Temp("smtp sent no session socket".into()))?;
    let std_stream = std::os::unix::net::UnixStream::from(fd);
    std_stream
        .set_nonblocking(true)
        .and_then(|()| tokio::net::UnixStream::from_std(std_stream))
        .map_err(|e| InjectError::Temp(format!("the session socket: {e}")))
}
