//! The ram backend: the whole queue in memory. Not durable by design: a
//! restart loses everything, which is what tests and throwaway setups want.
//!
//! Message content lives in a memfd, an anonymous in-memory file, so it can
//! still be handed out as a real `File` and passed to another process like
//! the fs backend's files. Each `File` handed out is a fresh open of the
//! memfd (through `/proc/self/fd`), with its own offset: a reader never
//! sees the writer's position.

use crate::backend::{check_commit, check_encodable, QueueBackend, Walk};
use crate::QueueError;
use nix::sys::memfd::{memfd_create, MFdFlags};
use smtpd_types::{Envelope, EvpId, MsgId};
use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;

/// A message being received: its content appears on first `message_fd_w`.
#[derive(Default)]
struct Incoming {
    content: Option<File>,
}

/// A queued message.
struct Queued {
    content: File,
    envelopes: BTreeMap<EvpId, Envelope>,
}

/// The in-memory queue.
#[derive(Default)]
pub struct RamQueue {
    incoming: HashMap<MsgId, Incoming>,
    queued: HashMap<MsgId, Queued>,
}

impl RamQueue {
    pub fn new() -> Self {
        RamQueue::default()
    }

    /// How many messages are queued (committed).
    pub fn message_count(&self) -> usize {
        self.queued.len()
    }
}

/// A new open file description on the memfd behind `f`, read-write or
/// read-only, starting at offset 0.
fn reopen(f: &File, write: bool) -> Result<File, QueueError> {
    let path = format!("/proc/self/fd/{}", f.as_raw_fd());
    OpenOptions::new()
        .read(true)
        .write(write)
        .open(&path)
        .map_err(QueueError::io("reopen memfd", path))
}

impl QueueBackend for RamQueue {
    fn create_message(&mut self) -> Result<MsgId, QueueError> {
        for _ in 0..1000 {
            let msgid = MsgId::random();
            if !self.incoming.contains_key(&msgid) && !self.queued.contains_key(&msgid) {
                self.incoming.insert(msgid, Incoming::default());
                return Ok(msgid);
            }
        }
        Err(QueueError::IdsExhausted)
    }

    fn message_fd_w(&mut self, msgid: MsgId) -> Result<File, QueueError> {
        let inc = self
            .incoming
            .get_mut(&msgid)
            .ok_or(QueueError::NotIncoming(msgid))?;
        if inc.content.is_none() {
            let fd = memfd_create(format!("smtpd-msg-{msgid}").as_str(), MFdFlags::MFD_CLOEXEC)
                .map_err(|source| QueueError::Sys {
                    op: "memfd_create",
                    source,
                })?;
            inc.content = Some(File::from(fd));
        }
        match &inc.content {
            Some(f) => reopen(f, true),
            None => Err(QueueError::NoContent(msgid)),
        }
    }

    fn commit_batch(&mut self, batch: Vec<(MsgId, Vec<Envelope>)>) -> Vec<Result<(), QueueError>> {
        batch
            .into_iter()
            .map(|(msgid, envelopes)| {
                let inc = self
                    .incoming
                    .remove(&msgid)
                    .ok_or(QueueError::NotIncoming(msgid))?;
                check_commit(msgid, &envelopes)?;
                envelopes.iter().try_for_each(check_encodable)?;
                let content = inc.content.ok_or(QueueError::NoContent(msgid))?;
                let envelopes = envelopes.into_iter().map(|e| (e.id, e)).collect();
                self.queued.insert(msgid, Queued { content, envelopes });
                Ok(())
            })
            .collect()
    }

    fn rollback(&mut self, msgid: MsgId) -> Result<(), QueueError> {
        self.incoming
            .remove(&msgid)
            .map(|_| ())
            .ok_or(QueueError::NotIncoming(msgid))
    }

    fn message_fd_r(&mut self, msgid: MsgId) -> Result<File, QueueError> {
        let msg = self
            .queued
            .get(&msgid)
            .ok_or(QueueError::MessageNotFound(msgid))?;
        reopen(&msg.content, false)
    }

    fn envelope_load(&mut self, evpid: EvpId) -> Result<Envelope, QueueError> {
        self.queued
            .get(&evpid.msgid())
            .and_then(|m| m.envelopes.get(&evpid))
            .cloned()
            .ok_or(QueueError::EnvelopeNotFound(evpid))
    }

    fn envelope_update(&mut self, env: &Envelope) -> Result<(), QueueError> {
        check_encodable(env)?;
        let slot = self
            .queued
            .get_mut(&env.msgid())
            .and_then(|m| m.envelopes.get_mut(&env.id))
            .ok_or(QueueError::EnvelopeNotFound(env.id))?;
        *slot = env.clone();
        Ok(())
    }

    fn envelope_delete(&mut self, evpid: EvpId) -> Result<bool, QueueError> {
        let msgid = evpid.msgid();
        let msg = self
            .queued
            .get_mut(&msgid)
            .ok_or(QueueError::EnvelopeNotFound(evpid))?;
        msg.envelopes
            .remove(&evpid)
            .ok_or(QueueError::EnvelopeNotFound(evpid))?;
        if msg.envelopes.is_empty() {
            self.queued.remove(&msgid);
            return Ok(true);
        }
        Ok(false)
    }

    fn envelope_add(&mut self, env: &Envelope) -> Result<(), QueueError> {
        let msgid = env.msgid();
        let msg = self
            .queued
            .get_mut(&msgid)
            .ok_or(QueueError::MessageNotFound(msgid))?;
        if msg.envelopes.contains_key(&env.id) {
            return Err(QueueError::EnvelopeExists(env.id));
        }
        check_encodable(env)?;
        msg.envelopes.insert(env.id, env.clone());
        Ok(())
    }

    fn walk(&mut self) -> Result<Walk<'_>, QueueError> {
        Ok(Box::new(
            self.queued
                .values()
                .flat_map(|m| m.envelopes.values())
                .map(|e| Ok(e.clone())),
        ))
    }

    fn purge_incoming(&mut self) -> Result<usize, QueueError> {
        let n = self.incoming.len();
        self.incoming.clear();
        Ok(n)
    }

    /// Memory is not measured: the ram backend is for tests and small
    /// throwaway setups.
    fn has_room(&self) -> Result<bool, QueueError> {
        Ok(true)
    }
}
