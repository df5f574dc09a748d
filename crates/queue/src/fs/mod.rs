//! The fs backend: OpenSMTPD's spool layout (see [`layout`]) with a
//! transactional commit that is durable before it returns.
//!
//! # The commit and what each step buys
//!
//! A message is written into `incoming/MSGID/` while the client sends it;
//! the envelopes arrive with the commit request. [`QueueBackend::commit_batch`]
//! then runs four phases over all the messages of the batch, so each
//! expensive step is shared:
//!
//! 1. **Write** every envelope file (`create_new`, so an id is never
//!    reused). Nothing is synced yet; the file system can allocate and
//!    journal all of them together.
//! 2. **Sync data**: `fdatasync` each envelope and the message content, then
//!    `fsync` `incoming/MSGID/` so the directory holds their names. After
//!    this the whole message is on disk, but still in `incoming/`, which a
//!    restart purges: a crash here loses nothing that was acknowledged.
//! 3. **Rename** `incoming/MSGID` to `queue/XX/MSGID` — one atomic step that
//!    publishes content and envelopes together (with `RENAME_NOREPLACE`, so
//!    an id clash can never overwrite a queued message). A missing bucket is
//!    created and `queue/` synced first, once per bucket ever.
//! 4. **Sync each bucket directory once** for all the messages renamed into
//!    it. This makes the renames durable; only now is the result `Ok`.
//!
//! Any failure cancels its message alone: its directory is removed from
//! `incoming/` (or from the queue, if phase 4 failed), and the caller
//! answers 4xx. The origin directory `incoming/` is not synced after the
//! rename: journaling file systems (ext4, xfs, btrfs) commit a rename as one
//! transaction, and on others a stale `incoming/` entry is purged at start.
//!
//! With [`SyncMode::Filesystem`], phases 2 and 4 are each one `syncfs` of the
//! spool's file system instead: two flushes per batch whatever its size,
//! which is faster when the spool has a file system of its own, and slower
//! when other programs keep writing to the same one.
//!
//! # After the commit
//!
//! Updates rewrite an envelope through a scratch file in `incoming/`
//! (fdatasync, then rename over the old one): a crash leaves the old or the
//! new version, never a torn one; the rename itself is not synced, since
//! losing it only loses a retry count. Added envelopes (reports) are synced
//! with their directory like a commit. Deletions are not synced: one that
//! a crash undoes means a delivery is tried again (at least once, never
//! lost).

mod commit;
mod envelopes;
mod layout;
mod read_only;
mod recycle;
mod space;
mod sync_pool;
mod walk;

use crate::backend::{QueueBackend, Walk};
use crate::QueueError;
use layout::Layout;
pub use read_only::SpoolReader;
use smtpd_types::{Envelope, EvpId, MsgId};
use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// How commits reach stable storage.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SyncMode {
    /// `fdatasync`/`fsync` of exactly the files and directories involved
    /// (portable, touches nothing else).
    #[default]
    Files,
    /// `syncfs` of the spool's file system, twice per batch. Best when the
    /// spool has its own file system. Relies on `syncfs` reporting write
    /// errors, which Linux does since 5.8.
    Filesystem,
}

/// Settings of the fs backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FsOptions {
    /// New mail is refused when less than this percentage of the spool's
    /// blocks or inodes is free (OpenSMTPD: 5).
    pub reserve_percent: u8,
    pub sync: SyncMode,
}

impl Default for FsOptions {
    fn default() -> Self {
        FsOptions {
            reserve_percent: 5,
            sync: SyncMode::Files,
        }
    }
}

/// Mode of message and envelope files.
const FILE_MODE: u32 = 0o600;

/// A queue on disk.
pub struct FsQueue {
    layout: Layout,
    options: FsOptions,
    /// Incoming messages this process created and has not yet committed or
    /// rolled back. Commit refuses any other id, so a confused caller can
    /// never publish a directory it does not own.
    incoming: HashSet<MsgId>,
    /// Message directories of delivered messages, kept for reuse.
    spares: recycle::Spares,
    /// The threads a batch's syncs run on.
    syncs: std::sync::Arc<sync_pool::SyncPool>,
}

impl FsQueue {
    /// Open the spool at `root`, creating it and its directories (with
    /// OpenSMTPD's modes) where missing. Does not purge `incoming/`: call
    /// [`QueueBackend::purge_incoming`] at start.
    pub fn open(root: &Path, options: FsOptions) -> Result<Self, QueueError> {
        let layout = Layout::new(root);
        layout.create()?;
        let spares = recycle::Spares::reload(&layout);
        Ok(FsQueue {
            layout,
            options,
            incoming: HashSet::new(),
            spares,
            syncs: sync_pool::SyncPool::start(),
        })
    }

    /// The spool directory.
    pub fn root(&self) -> &Path {
        &self.layout.root
    }

    /// Where a queued message's directory is (`queue/XX/MSGID`), for tools
    /// and tests.
    pub fn message_dir(&self, msgid: MsgId) -> PathBuf {
        self.layout.queued_msg(msgid)
    }
}

impl FsQueue {
    /// Open a new incoming message, drawing candidate ids from `next_id`
    /// until one is free both in the queue and in `incoming/`.
    fn create_with(&mut self, mut next_id: impl FnMut() -> MsgId) -> Result<MsgId, QueueError> {
        for _ in 0..1000 {
            let msgid = next_id();
            if self.incoming.contains(&msgid) || self.layout.queued_msg(msgid).exists() {
                continue;
            }
            let dir = self.layout.incoming_msg(msgid);
            // A retired message directory, if there is one: one rename and
            // no inode to allocate. The rename target must not exist.
            if let Some(spare) = self.spares.take() {
                match commit::rename_noreplace(&spare.dir, &dir) {
                    Ok(()) => {
                        self.incoming.insert(msgid);
                        return Ok(msgid);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        // A leftover of that id: keep the spare, try
                        // another id.
                        self.spares.put_back(spare);
                        continue;
                    }
                    Err(_) => {
                        // Not usable after all: forget it, and create a
                        // directory the usual way below.
                        let _ = std::fs::remove_dir_all(&spare.dir);
                    }
                }
            }
            // mkdir is exclusive: a leftover directory of the same id (from
            // a previous run, before the purge) makes us pick another.
            match layout::make_dir_exclusive(&dir) {
                Ok(()) => {
                    self.incoming.insert(msgid);
                    return Ok(msgid);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(QueueError::io("mkdir", dir)(e)),
            }
        }
        Err(QueueError::IdsExhausted)
    }
}

/// Open a file for writing with the queue's file mode.
pub(crate) fn open_write(path: &Path, create_new: bool) -> std::io::Result<File> {
    let mut o = OpenOptions::new();
    o.read(true).write(true).mode(FILE_MODE);
    if create_new {
        o.create_new(true);
    } else {
        o.create(true).truncate(true);
    }
    o.open(path)
}

/// `fsync` a directory, so the names it holds are durable.
pub(crate) fn sync_dir(path: &Path) -> Result<(), QueueError> {
    File::open(path)
        .and_then(|d| d.sync_all())
        .map_err(QueueError::io("fsync", path))
}

impl QueueBackend for FsQueue {
    fn create_message(&mut self) -> Result<MsgId, QueueError> {
        // Ids of one second share a bucket: one bucket sync per batch.
        let secs = || {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        };
        self.create_with(|| MsgId::clustered(secs()))
    }

    fn message_fd_w(&mut self, msgid: MsgId) -> Result<File, QueueError> {
        if !self.incoming.contains(&msgid) {
            return Err(QueueError::NotIncoming(msgid));
        }
        let path = self.layout.incoming_msg(msgid).join(layout::MESSAGE);
        let mut o = OpenOptions::new();
        o.read(true).write(true).create(true).mode(FILE_MODE);
        o.open(&path).map_err(QueueError::io("open", path))
    }

    fn commit_batch(&mut self, batch: Vec<(MsgId, Vec<Envelope>)>) -> Vec<Result<(), QueueError>> {
        commit::commit_batch(self, batch)
    }

    fn commit_prepare(
        &mut self,
        batch: Vec<(MsgId, Vec<Envelope>)>,
    ) -> Box<dyn crate::backend::PendingCommit> {
        Box::new(commit::prepare(self, batch))
    }

    fn rollback(&mut self, msgid: MsgId) -> Result<(), QueueError> {
        if !self.incoming.remove(&msgid) {
            return Err(QueueError::NotIncoming(msgid));
        }
        let dir = self.layout.incoming_msg(msgid);
        self.spares.retire(&self.layout, &dir, None, true, false)
    }

    fn message_fd_r(&mut self, msgid: MsgId) -> Result<File, QueueError> {
        let path = self.layout.queued_msg(msgid).join(layout::MESSAGE);
        File::open(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => QueueError::MessageNotFound(msgid),
            _ => QueueError::io("open", path)(e),
        })
    }

    fn envelope_load(&mut self, evpid: EvpId) -> Result<Envelope, QueueError> {
        envelopes::load(&self.layout, evpid)
    }

    fn envelope_raw(&mut self, evpid: EvpId) -> Result<Vec<u8>, QueueError> {
        envelopes::load_raw(&self.layout, evpid)
    }

    fn envelope_update(&mut self, env: &Envelope) -> Result<(), QueueError> {
        envelopes::update(&self.layout, env)
    }

    fn envelope_delete(&mut self, evpid: EvpId) -> Result<bool, QueueError> {
        envelopes::delete(&self.layout, &mut self.spares, evpid)
    }

    fn envelope_add(&mut self, env: &Envelope) -> Result<(), QueueError> {
        envelopes::add(&self.layout, env)
    }

    fn walk(&mut self) -> Result<Walk<'_>, QueueError> {
        Ok(Box::new(walk::FsWalk::new(&self.layout)?))
    }

    fn purge_incoming(&mut self) -> Result<usize, QueueError> {
        self.incoming.clear();
        let dir = &self.layout.incoming;
        let entries = std::fs::read_dir(dir).map_err(QueueError::io("read", dir))?;
        let mut messages = 0;
        for entry in entries {
            let entry = entry.map_err(QueueError::io("read", dir))?;
            let path = entry.path();
            let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
            if is_dir {
                messages += 1;
                // Kept for reuse (its files emptied) or removed.
                self.spares.retire(&self.layout, &path, None, true, false)?;
            } else {
                std::fs::remove_file(&path).map_err(QueueError::io("remove", path))?;
            }
        }
        Ok(messages)
    }

    fn has_room(&self) -> Result<bool, QueueError> {
        space::has_room(&self.layout.root, self.options.reserve_percent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_collisions_with_incoming_and_queued_messages_are_stepped_around() {
        let tmp = tempfile::tempdir().unwrap();
        let mut q = FsQueue::open(&tmp.path().join("spool"), FsOptions::default()).unwrap();
        let leftover = MsgId(0x0100_0001);
        let queued = MsgId(0x0200_0002);
        std::fs::create_dir(q.layout.incoming_msg(leftover)).unwrap();
        std::fs::create_dir_all(q.layout.queued_msg(queued)).unwrap();
        let open = q.create_with(|| MsgId(0x0300_0003)).unwrap();

        let mut candidates = [leftover, queued, open, MsgId(0x0400_0004)].into_iter();
        let got = q
            .create_with(|| candidates.next().unwrap_or(MsgId(1)))
            .unwrap();
        assert_eq!(got, MsgId(0x0400_0004));

        assert!(matches!(
            q.create_with(|| leftover),
            Err(QueueError::IdsExhausted)
        ));
    }

    #[test]
    fn publishing_never_replaces_an_existing_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        std::fs::create_dir(&a).unwrap();
        std::fs::create_dir(&b).unwrap();
        // A plain rename would replace the empty `b`.
        let err = commit::rename_noreplace(&a, &b).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
        assert!(a.exists());
    }
}
