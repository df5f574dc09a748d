//! The ram backend: the whole queue in memory. Not durable by design: a
//! restart loses everything, which is what tests and throwaway setups want.
//!
//! Message content lives in a memfd, an anonymous in-memory file, so it can
//! still be handed out as a real `File` and passed to another process like
//! the fs backend's files. The writer gets a duplicate descriptor rewound to
//! the start (there is one writer per message). Readers may be many at
//! once, so each gets its own open file description, with its own offset:
//! a fresh open of the memfd through `/proc/self/fd`, or, where `/proc` is
//! not mounted (a chroot), a private copy of the content.

use crate::backend::{check_commit, check_encodable, QueueBackend, Walk};
use crate::QueueError;
use nix::sys::memfd::{memfd_create, MFdFlags};
use smtpd_types::{Envelope, EvpId, MsgId};
use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;

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

fn new_memfd(msgid: MsgId) -> Result<File, QueueError> {
    memfd_create(format!("smtpd-msg-{msgid}").as_str(), MFdFlags::MFD_CLOEXEC)
        .map(File::from)
        .map_err(|source| QueueError::Sys {
            op: "memfd_create",
            source,
        })
}

/// A read-only file on the content of `f` with an offset of its own.
fn reader(msgid: MsgId, f: &File) -> Result<File, QueueError> {
    let path = format!("/proc/self/fd/{}", f.as_raw_fd());
    match OpenOptions::new().read(true).open(&path) {
        Ok(r) => Ok(r),
        Err(_) => copy_content(msgid, f),
    }
}

/// A private in-memory copy of `f`, rewound. Positional reads leave the
/// offset of `f` (shared with the writer's descriptor) alone.
fn copy_content(msgid: MsgId, f: &File) -> Result<File, QueueError> {
    let io = |op| QueueError::io(op, format!("memfd of {msgid}"));
    let mut copy = new_memfd(msgid)?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut at = 0u64;
    loop {
        let n = f.read_at(&mut buf, at).map_err(io("read"))?;
        if n == 0 {
            break;
        }
        copy.write_all(&buf[..n]).map_err(io("write"))?;
        at += n as u64;
    }
    copy.seek(SeekFrom::Start(0)).map_err(io("seek"))?;
    Ok(copy)
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
            inc.content = Some(new_memfd(msgid)?);
        }
        let Some(content) = &inc.content else {
            return Err(QueueError::NoContent(msgid));
        };
        let io = |op| QueueError::io(op, format!("memfd of {msgid}"));
        let mut w = content.try_clone().map_err(io("dup"))?;
        w.seek(SeekFrom::Start(0)).map_err(io("seek"))?;
        Ok(w)
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
        reader(msgid, &msg.content)
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn private_copies_hold_the_content_and_leave_the_writer_alone() {
        let mut q = RamQueue::new();
        let msgid = q.create_message().unwrap();
        let mut w = q.message_fd_w(msgid).unwrap();
        w.write_all(b"Subject: x\n\nbody\n").unwrap();
        let stored = q.incoming[&msgid].content.as_ref().unwrap();
        let mut copy = copy_content(msgid, stored).unwrap();
        let mut text = String::new();
        copy.read_to_string(&mut text).unwrap();
        assert_eq!(text, "Subject: x\n\nbody\n");
        // The writer goes on where it was.
        w.write_all(b"more\n").unwrap();
        let mut all = String::new();
        copy_content(msgid, stored)
            .unwrap()
            .read_to_string(&mut all)
            .unwrap();
        assert_eq!(all, "Subject: x\n\nbody\nmore\n");
    }
}
