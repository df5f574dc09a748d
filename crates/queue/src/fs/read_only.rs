//! Reading a spool without touching it: `smtpctl show queue` when the
//! daemon is down (OpenSMTPD's smtpctl walks the spool itself then), and
//! `show envelope`/`show message` offline.
//!
//! [`FsQueue::open`](super::FsQueue::open) is for the queue process: it
//! creates missing directories and takes over the spare directories of
//! `purge/`. A reader must do neither — the daemon may start while the
//! reader runs, and an administrator's look at the queue must never change
//! it — so this type only opens, lists and reads.

use super::envelopes;
use super::layout::{Layout, MESSAGE};
use super::walk::FsWalk;
use crate::backend::Walk;
use crate::QueueError;
use smtpd_types::{EvpId, MsgId};
use std::fs::File;
use std::path::Path;

/// A read-only view of an fs spool.
pub struct SpoolReader {
    layout: Layout,
}

impl SpoolReader {
    /// Open the spool at `root`; fails if it has no `queue/` directory
    /// (nothing is created).
    pub fn open(root: &Path) -> Result<Self, QueueError> {
        let layout = Layout::new(root);
        std::fs::read_dir(&layout.queue).map_err(QueueError::io("read", &layout.queue))?;
        Ok(SpoolReader { layout })
    }

    /// Every queued envelope, in id order; a damaged one is an `Err` item.
    /// Message directories without envelopes are skipped, not removed.
    pub fn walk(&self) -> Result<Walk<'static>, QueueError> {
        Ok(Box::new(FsWalk::read_only(&self.layout)?))
    }

    /// The bytes of one envelope's file.
    pub fn envelope_raw(&self, evpid: EvpId) -> Result<Vec<u8>, QueueError> {
        envelopes::load_raw(&self.layout, evpid)
    }

    /// The content of a queued message, for reading.
    pub fn message(&self, msgid: MsgId) -> Result<File, QueueError> {
        let path = self.layout.queued_msg(msgid).join(MESSAGE);
        File::open(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => QueueError::MessageNotFound(msgid),
            _ => QueueError::io("open", path)(e),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FsOptions, FsQueue, QueueBackend};
    use smtpd_types::{Envelope, EnvelopeKind, MailAddr};
    use std::io::{Read, Write};

    fn queued(q: &mut FsQueue, body: &[u8]) -> Envelope {
        let msgid = q.create_message().unwrap();
        q.message_fd_w(msgid).unwrap().write_all(body).unwrap();
        let env = Envelope::new(
            EvpId::random_in(msgid),
            EnvelopeKind::Mda,
            Some(MailAddr::new("a", "example.org")),
            MailAddr::new("b", "example.net"),
        );
        q.commit(msgid, vec![env.clone()]).unwrap();
        env
    }

    /// Every path under `root`, to compare before and after.
    fn tree(root: &Path) -> Vec<String> {
        let mut out = Vec::new();
        let mut todo = vec![root.to_path_buf()];
        while let Some(d) = todo.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    todo.push(p.clone());
                }
                out.push(p.display().to_string());
            }
        }
        out.sort();
        out
    }

    #[test]
    fn reads_envelopes_and_messages_and_changes_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("spool");
        let mut q = FsQueue::open(&root, FsOptions::default()).unwrap();
        let env = queued(&mut q, b"Subject: hi\r\n\r\nbody\r\n");
        // A message directory without envelopes, which the daemon's walk
        // would remove, and a spare in purge/.
        let other = queued(&mut q, b"x");
        q.envelope_delete(other.id).unwrap();
        std::fs::create_dir_all(q.message_dir(MsgId(0x0101_0101))).unwrap();
        drop(q);
        let before = tree(&root);

        let r = SpoolReader::open(&root).unwrap();
        let all: Vec<_> = r.walk().unwrap().map(|e| e.unwrap()).collect();
        assert_eq!(all, vec![env.clone()]);
        let raw = String::from_utf8(r.envelope_raw(env.id).unwrap()).unwrap();
        assert!(raw.contains("rcpt: b@example.net"), "{raw}");
        let mut body = String::new();
        r.message(env.msgid())
            .unwrap()
            .read_to_string(&mut body)
            .unwrap();
        assert_eq!(body, "Subject: hi\r\n\r\nbody\r\n");
        assert!(matches!(
            r.message(MsgId(7)),
            Err(QueueError::MessageNotFound(_))
        ));
        assert!(matches!(
            r.envelope_raw(EvpId(7)),
            Err(QueueError::EnvelopeNotFound(_))
        ));

        assert_eq!(tree(&root), before);
    }

    #[test]
    fn a_missing_spool_is_an_error_and_is_not_created() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("nothing");
        assert!(SpoolReader::open(&root).is_err());
        assert!(!root.exists());
    }
}
