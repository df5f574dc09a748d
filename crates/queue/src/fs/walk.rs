//! Walking the queue at start: every envelope of every message, bucket by
//! bucket, read lazily so a large queue is not loaded into memory at once.

use super::envelopes::{has_envelopes, load_path};
use super::layout::{hex_name, Layout, MESSAGE};
use crate::QueueError;
use smtpd_types::{Envelope, EvpId, MsgId};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};

/// The walk's position: buckets still to list, messages of the current
/// bucket still to list, envelopes of the current message still to load.
pub(super) struct FsWalk {
    buckets: VecDeque<PathBuf>,
    messages: VecDeque<(MsgId, PathBuf)>,
    envelopes: VecDeque<(EvpId, PathBuf)>,
    /// Remove message directories left without envelopes (the queue
    /// process at start); a read-only walk (smtpctl) leaves them.
    tidy: bool,
}

/// The entries of `dir` whose names are `width`-digit hex, sorted;
/// directories when `dirs`, plain files otherwise.
fn hex_entries(dir: &Path, width: usize, dirs: bool) -> Result<Vec<(u64, PathBuf)>, QueueError> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(QueueError::io("read", dir))? {
        let entry = entry.map_err(QueueError::io("read", dir))?;
        let Some(v) = hex_name(&entry.file_name(), width) else {
            continue;
        };
        let kind = entry
            .file_type()
            .map_err(QueueError::io("stat", entry.path()))?;
        if (dirs && kind.is_dir()) || (!dirs && kind.is_file()) {
            out.push((v, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

impl FsWalk {
    pub(super) fn new(layout: &Layout) -> Result<Self, QueueError> {
        Self::with_tidy(layout, true)
    }

    /// A walk that changes nothing in the spool.
    pub(super) fn read_only(layout: &Layout) -> Result<Self, QueueError> {
        Self::with_tidy(layout, false)
    }

    fn with_tidy(layout: &Layout, tidy: bool) -> Result<Self, QueueError> {
        let buckets = hex_entries(&layout.queue, 2, true)?
            .into_iter()
            .map(|(_, p)| p)
            .collect();
        Ok(FsWalk {
            buckets,
            messages: VecDeque::new(),
            envelopes: VecDeque::new(),
            tidy,
        })
    }

    /// Fill `messages` from the next bucket.
    fn next_bucket(&mut self) -> Option<Result<(), QueueError>> {
        let bucket = self.buckets.pop_front()?;
        let bucket_no = hex_name(bucket.file_name()?, 2)? as u8;
        Some(hex_entries(&bucket, 8, true).map(|msgs| {
            self.messages = msgs
                .into_iter()
                .map(|(id, p)| (MsgId(id as u32), p))
                // A message in the wrong bucket is not ours to touch.
                .filter(|(m, _)| m.bucket() == bucket_no)
                .collect();
        }))
    }

    /// Fill `envelopes` from the next message. A message directory left
    /// without envelopes (a crash between the last envelope's unlink and
    /// the directory's removal) is removed; envelopes whose content is gone
    /// are reported, not delivered empty.
    fn next_message(&mut self) -> Option<Result<(), QueueError>> {
        let (msgid, dir) = self.messages.pop_front()?;
        let listed = hex_entries(&dir, 16, false).map(|evps| {
            evps.into_iter()
                .map(|(id, p)| (EvpId(id), p))
                .filter(|(e, _)| e.msgid() == msgid)
                .collect::<VecDeque<_>>()
        });
        Some(listed.and_then(|evps| {
            if evps.is_empty() {
                if self.tidy && !has_envelopes(&dir)? {
                    let _ = std::fs::remove_dir_all(&dir);
                }
                return Ok(());
            }
            if !dir.join(MESSAGE).exists() {
                return Err(QueueError::NoContent(msgid));
            }
            self.envelopes = evps;
            Ok(())
        }))
    }
}

impl Iterator for FsWalk {
    type Item = Result<Envelope, QueueError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some((evpid, path)) = self.envelopes.pop_front() {
                return Some(load_path(&path, evpid));
            }
            if !self.messages.is_empty() {
                if let Some(Err(e)) = self.next_message() {
                    return Some(Err(e));
                }
                continue;
            }
            match self.next_bucket()? {
                Ok(()) => continue,
                Err(e) => return Some(Err(e)),
            }
        }
    }
}
