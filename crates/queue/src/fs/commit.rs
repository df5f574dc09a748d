//! Group commit: the four phases described in the module docs of
//! [`crate::fs`], run over a whole batch so syncs are shared.

use super::layout::{self, Layout};
use super::sync_pool::SyncPool;
use super::{open_write, sync_dir, FsQueue, SyncMode};
use crate::backend::check_commit;
use crate::envelope_file;
use crate::QueueError;
use smtpd_types::{Envelope, MsgId};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;

/// A message of the batch that is still on its way into the queue.
struct InFlight {
    /// Position in the batch (and in the results).
    index: usize,
    msgid: MsgId,
    /// Names of the files to sync in `incoming/MSGID/`: the envelopes and
    /// the content. Names, not open files: a message may have a thousand
    /// recipients and a batch many messages, more than a process may hold
    /// open; reopening a file to sync it costs far less than the sync.
    files: Vec<String>,
}

pub(super) fn commit_batch(
    q: &mut FsQueue,
    batch: Vec<(MsgId, Vec<Envelope>)>,
) -> Vec<Result<(), QueueError>> {
    crate::backend::PendingCommit::finish(Box::new(prepare(q, batch)))
}

/// Phases 2 to 4 of a batch, prepared by [`prepare`]: only file-system
/// work on paths, so it may run on another thread.
pub(super) struct FsPending {
    layout: Layout,
    syncs: std::sync::Arc<super::sync_pool::SyncPool>,
    sync: SyncMode,
    results: Vec<Result<(), QueueError>>,
    live: Vec<InFlight>,
}

/// Phase 1: take the messages out of the incoming set and write every
/// envelope file.
pub(super) fn prepare(q: &mut FsQueue, batch: Vec<(MsgId, Vec<Envelope>)>) -> FsPending {
    let mut results: Vec<Result<(), QueueError>> = Vec::with_capacity(batch.len());
    let mut live = Vec::with_capacity(batch.len());
    for (index, (msgid, envelopes)) in batch.into_iter().enumerate() {
        results.push(Ok(()));
        if !q.incoming.remove(&msgid) {
            results[index] = Err(QueueError::NotIncoming(msgid));
            continue;
        }
        match write_message(&q.layout, msgid, &envelopes) {
            Ok(files) => live.push(InFlight {
                index,
                msgid,
                files,
            }),
            Err(e) => fail_incoming(&q.layout, msgid, e, &mut results[index]),
        }
    }
    FsPending {
        layout: q.layout.clone(),
        syncs: std::sync::Arc::clone(&q.syncs),
        sync: q.options.sync,
        results,
        live,
    }
}

impl crate::backend::PendingCommit for FsPending {
    fn finish(self: Box<Self>) -> Vec<Result<(), QueueError>> {
        let FsPending {
            layout,
            syncs,
            sync,
            mut results,
            mut live,
        } = *self;
        let layout = &layout;

        // Phase 2: make content, envelopes and their names durable.
        match sync {
            SyncMode::Files => {
                let synced = sync_messages(layout, &syncs, &live);
                let mut kept = Vec::with_capacity(live.len());
                for (m, r) in live.into_iter().zip(synced) {
                    match r {
                        Ok(()) => kept.push(m),
                        Err(e) => fail_incoming(layout, m.msgid, e, &mut results[m.index]),
                    }
                }
                live = kept;
            }
            SyncMode::Filesystem if !live.is_empty() => {
                if let Err(e) = syncfs(layout) {
                    for m in live.drain(..) {
                        fail_incoming(layout, m.msgid, e.duplicate(), &mut results[m.index]);
                    }
                }
            }
            SyncMode::Filesystem => {}
        }

        // Phase 3: publish each message with one rename.
        let mut buckets: BTreeMap<u8, Vec<InFlight>> = BTreeMap::new();
        for m in live {
            match publish(layout, m.msgid) {
                Ok(()) => buckets.entry(m.msgid.bucket()).or_default().push(m),
                Err(e) => fail_incoming(layout, m.msgid, e, &mut results[m.index]),
            }
        }

        // Phase 4: make the renames durable, one sync per bucket (or one
        // for the whole file system).
        let shared = match sync {
            SyncMode::Filesystem if !buckets.is_empty() => syncfs(layout).err(),
            _ => None,
        };
        let bucket_dirs: Vec<std::path::PathBuf> =
            buckets.keys().map(|b| layout.bucket(*b)).collect();
        let mut bucket_syncs = match sync {
            SyncMode::Files => syncs.run(&bucket_dirs, |d| sync_dir(d).err()),
            SyncMode::Filesystem => Vec::new(),
        }
        .into_iter();
        for (_bucket, members) in buckets {
            let err = match sync {
                SyncMode::Files => bucket_syncs.next().flatten(),
                SyncMode::Filesystem => shared.as_ref().map(QueueError::duplicate),
            };
            if let Some(e) = err {
                for m in members {
                    // The rename may or may not reach the disk: take it
                    // back so the message is surely gone rather than maybe
                    // queued.
                    let _ = std::fs::remove_dir_all(layout.queued_msg(m.msgid));
                    results[m.index] = Err(e.duplicate());
                }
            }
        }
        results
    }
}

/// Phase 1 for one message: check, encode, write the envelope files.
fn write_message(
    layout: &Layout,
    msgid: MsgId,
    envelopes: &[Envelope],
) -> Result<Vec<String>, QueueError> {
    check_commit(msgid, envelopes)?;
    let texts = envelopes
        .iter()
        .map(|e| {
            envelope_file::encode(e).map_err(|source| QueueError::Encode {
                evpid: e.id,
                source,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let dir = layout.incoming_msg(msgid);
    if !dir.join(layout::MESSAGE).is_file() {
        return Err(QueueError::NoContent(msgid));
    }
    let mut files = Vec::with_capacity(envelopes.len() + 1);
    // A recycled directory brings an envelope file to reuse.
    let mut spare = dir.join(super::recycle::SPARE_FILE);
    for (env, text) in envelopes.iter().zip(texts) {
        let name = env.id.to_string();
        let path = dir.join(&name);
        // (No existence check first: a missing spare fails the rename.)
        let reused = !spare.as_os_str().is_empty() && rename_noreplace(&spare, &path).is_ok();
        spare = std::path::PathBuf::new();
        let mut f = if reused {
            // Overwritten in place, then cut to length: the spare's old
            // blocks are reused.
            std::fs::OpenOptions::new().write(true).open(&path)
        } else {
            open_write(&path, true)
        }
        .map_err(QueueError::io("create", &path))?;
        f.write_all(text.as_bytes())
            .and_then(|()| f.set_len(text.len() as u64))
            .map_err(QueueError::io("write", &path))?;
        files.push(name);
    }
    files.push(layout::MESSAGE.to_string());
    Ok(files)
}

/// Phase 2 in [`SyncMode::Files`]: every file of every message and every
/// message directory, synced concurrently. One thread syncing files one
/// after the other waits for one journal commit per file; syncs issued
/// together are folded by the file system into a few commits, so a batch
/// costs about as much as one message. The result is per message.
fn sync_messages(
    layout: &Layout,
    syncs: &SyncPool,
    live: &[InFlight],
) -> Vec<Result<(), QueueError>> {
    let mut jobs: Vec<(usize, std::path::PathBuf, bool)> = Vec::new();
    for (i, m) in live.iter().enumerate() {
        let dir = layout.incoming_msg(m.msgid);
        for name in &m.files {
            jobs.push((i, dir.join(name), false));
        }
        jobs.push((i, dir, true));
    }
    let outcomes = syncs.run(&jobs, |(_, path, is_dir)| {
        if *is_dir {
            sync_dir(path)
        } else {
            File::open(path)
                .and_then(|f| f.sync_data())
                .map_err(QueueError::io("fdatasync", path))
        }
    });
    let mut results: Vec<Result<(), QueueError>> = live.iter().map(|_| Ok(())).collect();
    for ((i, _, _), r) in jobs.iter().zip(outcomes) {
        if let (Err(e), Ok(())) = (r, &results[*i]) {
            results[*i] = Err(e);
        }
    }
    results
}

/// `syncfs` of the spool's file system.
fn syncfs(layout: &Layout) -> Result<(), QueueError> {
    // queue/, not the spool's root: the root is 0711 root's, which the
    // queue user may enter but not open.
    let dir = File::open(&layout.queue).map_err(QueueError::io("open", &layout.queue))?;
    nix::unistd::syncfs(&dir).map_err(|e| QueueError::io("syncfs", &layout.queue)(e.into()))
}

/// Phase 3 for one message: rename it into its bucket, creating the
/// bucket first if it is missing (the rename says so: after the first
/// messages every bucket exists, and a check before each rename would be
/// one more system call per message).
fn publish(layout: &Layout, msgid: MsgId) -> Result<(), QueueError> {
    let from = layout.incoming_msg(msgid);
    let to = layout.queued_msg(msgid);
    match rename_noreplace(&from, &to) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let bucket = layout.bucket(msgid.bucket());
            if layout::make_dir(&bucket, layout::DIR_MODE)? {
                // A new bucket's own name must be durable before anything
                // in it is.
                sync_dir(&layout.queue)?;
            }
            rename_noreplace(&from, &to).map_err(QueueError::io("rename", from))
        }
        r => r.map_err(QueueError::io("rename", from)),
    }
}

/// Rename that refuses to replace an existing target: a queued message must
/// never be overwritten, even by an id clash nobody foresaw.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub(super) fn rename_noreplace(
    from: &std::path::Path,
    to: &std::path::Path,
) -> std::io::Result<()> {
    use nix::fcntl::{renameat2, RenameFlags, AT_FDCWD};
    match renameat2(AT_FDCWD, from, AT_FDCWD, to, RenameFlags::RENAME_NOREPLACE) {
        Ok(()) => Ok(()),
        // File systems without the flag: fall back to check-then-rename,
        // which is safe here because only this process writes the queue.
        Err(nix::errno::Errno::EINVAL) => rename_checked(from, to),
        Err(e) => Err(e.into()),
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub(super) fn rename_noreplace(
    from: &std::path::Path,
    to: &std::path::Path,
) -> std::io::Result<()> {
    rename_checked(from, to)
}

fn rename_checked(from: &std::path::Path, to: &std::path::Path) -> std::io::Result<()> {
    if to.symlink_metadata().is_ok() {
        return Err(std::io::Error::from(std::io::ErrorKind::AlreadyExists));
    }
    std::fs::rename(from, to)
}

/// Cancel a message that is still in `incoming/`: remove it and record why.
fn fail_incoming(
    layout: &Layout,
    msgid: MsgId,
    err: QueueError,
    slot: &mut Result<(), QueueError>,
) {
    let _ = std::fs::remove_dir_all(layout.incoming_msg(msgid));
    *slot = Err(err);
}
