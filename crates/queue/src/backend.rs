//! The operations every queue backend offers (the seed's §3.2.2).
//!
//! The queue process owns one backend. A message goes through two lives:
//!
//! 1. **Incoming**: [`create_message`](QueueBackend::create_message) gives a
//!    fresh id, [`message_fd_w`](QueueBackend::message_fd_w) a file the SMTP
//!    process writes the content into (passed to it over the IPC socket),
//!    and [`commit`](QueueBackend::commit) makes content and envelopes
//!    durable at once — or [`rollback`](QueueBackend::rollback) forgets it.
//! 2. **Queued**: envelopes are loaded, updated after failed attempts and
//!    deleted after delivery or bounce; the message goes with its last
//!    envelope. Reports for the sender are added to the message with
//!    [`envelope_add`](QueueBackend::envelope_add).
//!
//! The trait is object-safe so the queue process can pick a backend from
//! the configuration at run time (`Box<dyn QueueBackend>`).

use crate::QueueError;
use smtpd_types::{Envelope, EvpId, MsgId};
use std::fs::File;

/// Envelopes found by [`QueueBackend::walk`]; a damaged one is an `Err`
/// item, so one bad file does not hide the rest of the queue.
pub type Walk<'a> = Box<dyn Iterator<Item = Result<Envelope, QueueError>> + 'a>;

/// The second half of a group commit (see
/// [`QueueBackend::commit_prepare`]): the syncs and renames, which touch
/// only the file system and can run on another thread while the backend
/// serves other requests. `finish` gives one result per message of the
/// batch, in order, with the promise of [`QueueBackend::commit`].
pub trait PendingCommit: Send {
    fn finish(self: Box<Self>) -> Vec<Result<(), QueueError>>;
}

/// A commit already finished when it was prepared.
pub struct FinishedCommit(pub Vec<Result<(), QueueError>>);

impl PendingCommit for FinishedCommit {
    fn finish(self: Box<Self>) -> Vec<Result<(), QueueError>> {
        self.0
    }
}

pub trait QueueBackend {
    /// Open a new incoming message and return its id, unique among incoming
    /// and queued messages.
    fn create_message(&mut self) -> Result<MsgId, QueueError>;

    /// A writable file for the content of incoming message `msgid`,
    /// positioned at its start. May be called again; every call returns a
    /// file onto the same content. The file may be a recycled one that
    /// still holds an older message's bytes: the writer overwrites it from
    /// the start and, when done, cuts it to the length it wrote
    /// (`File::set_len` at its final position), before the commit.
    fn message_fd_w(&mut self, msgid: MsgId) -> Result<File, QueueError>;

    /// Make incoming message `msgid` durable with its envelopes and move it
    /// into the queue. `Ok` means content and envelopes survive a crash; an
    /// error means the message was cancelled and nothing of it remains.
    fn commit(&mut self, msgid: MsgId, envelopes: Vec<Envelope>) -> Result<(), QueueError> {
        let mut results = self.commit_batch(vec![(msgid, envelopes)]);
        results.pop().unwrap_or(Err(QueueError::NotIncoming(msgid)))
    }

    /// Commit several messages, sharing the expensive syncs among them (group
    /// commit). One result per message, in order; each `Ok` carries the same
    /// promise as [`commit`](QueueBackend::commit), and a failed message does
    /// not fail the others.
    fn commit_batch(&mut self, batch: Vec<(MsgId, Vec<Envelope>)>) -> Vec<Result<(), QueueError>>;

    /// The first half of [`commit_batch`](QueueBackend::commit_batch): the
    /// work that needs the backend (checks, writing the envelopes); the
    /// returned half does the rest. The messages are no longer incoming
    /// once this returns. A backend without a split finishes everything
    /// here.
    fn commit_prepare(&mut self, batch: Vec<(MsgId, Vec<Envelope>)>) -> Box<dyn PendingCommit> {
        Box::new(FinishedCommit(self.commit_batch(batch)))
    }

    /// Forget incoming message `msgid` and its content.
    fn rollback(&mut self, msgid: MsgId) -> Result<(), QueueError>;

    /// The content of queued message `msgid`, for reading from its start.
    fn message_fd_r(&mut self, msgid: MsgId) -> Result<File, QueueError>;

    /// Read one queued envelope.
    fn envelope_load(&mut self, evpid: EvpId) -> Result<Envelope, QueueError>;

    /// One queued envelope as its file holds it (`smtpctl show envelope`).
    /// A backend without files gives the text the fs backend would write.
    fn envelope_raw(&mut self, evpid: EvpId) -> Result<Vec<u8>, QueueError> {
        let env = self.envelope_load(evpid)?;
        crate::envelope_file::encode(&env)
            .map(String::into_bytes)
            .map_err(|source| QueueError::Encode { evpid, source })
    }

    /// Replace a queued envelope (after an attempt: retry count, last try,
    /// error line). The envelope must already exist.
    fn envelope_update(&mut self, env: &Envelope) -> Result<(), QueueError>;

    /// Delete a queued envelope; with its last envelope the message goes
    /// too, and the result is `true`.
    fn envelope_delete(&mut self, evpid: EvpId) -> Result<bool, QueueError>;

    /// Add a new envelope to an already queued message (a report for the
    /// sender shares the original's content). Durable when it returns `Ok`.
    fn envelope_add(&mut self, env: &Envelope) -> Result<(), QueueError>;

    /// Every queued envelope, to rebuild the scheduler's state at start.
    fn walk(&mut self) -> Result<Walk<'_>, QueueError>;

    /// Forget every incoming message (at start, the leftovers of sessions
    /// that never committed). Returns how many there were.
    fn purge_incoming(&mut self) -> Result<usize, QueueError>;

    /// Is there room for new mail? `false` when the spool's free space or
    /// free inodes fall below the reserve; the SMTP side then answers
    /// `452 4.3.1`.
    fn has_room(&self) -> Result<bool, QueueError>;
}

/// Check the envelopes of a commit: at least one, all in `msgid`, no id
/// twice. Shared by the backends so both refuse the same input.
pub(crate) fn check_commit(msgid: MsgId, envelopes: &[Envelope]) -> Result<(), QueueError> {
    if envelopes.is_empty() {
        return Err(QueueError::NoEnvelopes(msgid));
    }
    let mut seen = std::collections::HashSet::with_capacity(envelopes.len());
    for env in envelopes {
        if env.msgid() != msgid {
            return Err(QueueError::WrongMessage {
                msgid,
                evpid: env.id,
            });
        }
        if !seen.insert(env.id) {
            return Err(QueueError::EnvelopeExists(env.id));
        }
    }
    Ok(())
}

/// Refuse an envelope the fs backend could not store, so that the ram
/// backend accepts exactly what the fs backend accepts.
pub(crate) fn check_encodable(env: &Envelope) -> Result<(), QueueError> {
    crate::envelope_file::encode(env)
        .map(drop)
        .map_err(|source| QueueError::Encode {
            evpid: env.id,
            source,
        })
}
