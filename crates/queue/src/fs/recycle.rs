//! Recycling the inodes of delivered messages.
//!
//! Every message costs a directory, its content file and one file per
//! envelope. Deleting them after delivery and creating new ones for the next
//! message makes the file system allocate and free three inodes per
//! message. On ext4 without a journal (the root file system of the machines
//! this was measured on) every inode allocation then scans past the
//! recently freed inodes of its group, and that scan was three quarters of
//! the queue process's CPU under load (`perf`: `recently_deleted`,
//! `find_get_block_common`). Other file systems pay less, but all pay for
//! bitmap and inode table updates.
//!
//! So a message whose last envelope is deleted is not removed: its
//! directory is renamed into `purge/` (out of the queue, which only `walk`s
//! `queue/`) and its last envelope file is renamed to a spare name. A new
//! incoming message then takes such a directory (one rename): the smtp
//! process overwrites the content file from its start and cuts it at the
//! end of the new message, and the first envelope takes the spare file
//! (one rename, a write, a cut). No inode is allocated or freed in the
//! steady state, and the data blocks are reused too. At most
//! [`MAX_SPARES`] directories are kept; beyond that they are removed.
//!
//! Safety: a spare directory is never in `queue/`, so a crash at any point
//! cannot make it look queued; a message is only committed after the smtp
//! process cut its content to length (so no byte of an older message can
//! be delivered as part of it); at start every leftover in `purge/` is
//! emptied (or removed) before use.

use super::layout::{Layout, MESSAGE};
use crate::QueueError;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

/// The most spare message directories kept.
pub(crate) const MAX_SPARES: usize = 512;

/// The name a spare envelope file has inside a spare directory (not a hex
/// name, so no scan of the queue ever takes it for an envelope).
pub(crate) const SPARE_FILE: &str = "spare-envelope";

/// A message directory waiting in `purge/` for its next message (with an
/// empty `message` and, usually, an empty spare envelope file).
#[derive(Debug)]
pub(crate) struct Spare {
    pub dir: PathBuf,
}

/// The spare directories of a queue.
#[derive(Debug, Default)]
pub(crate) struct Spares {
    free: Vec<Spare>,
    next: u64,
}

impl Spares {
    /// Take the spares left in `purge/` by a previous run: truncate their
    /// files (a crash may have left content) and keep up to `MAX_SPARES`;
    /// remove anything else.
    pub fn reload(layout: &Layout) -> Spares {
        let mut s = Spares::default();
        let Ok(entries) = std::fs::read_dir(layout.purge()) else {
            return s;
        };
        for e in entries.flatten() {
            let path = e.path();
            let is_dir = e.file_type().map(|t| t.is_dir()).unwrap_or(false);
            let spare = is_dir
                && e.file_name()
                    .to_str()
                    .is_some_and(|n| n.starts_with("spare"))
                && s.free.len() < MAX_SPARES
                && clean(&path, true).is_ok();
            if spare {
                s.free.push(Spare { dir: path });
            } else if is_dir {
                let _ = std::fs::remove_dir_all(&path);
            } else {
                let _ = std::fs::remove_file(&path);
            }
        }
        s.next = s.free.len() as u64 + 1;
        s
    }

    /// A spare directory for a new message, if one is waiting.
    pub fn take(&mut self) -> Option<Spare> {
        self.free.pop()
    }

    /// Put back a spare that could not be used (its rename failed).
    pub fn put_back(&mut self, s: Spare) {
        self.free.push(s);
    }

    /// Retire the message directory `dir` (out of `queue/` or `incoming/`)
    /// whose envelope file `last` is the only one left (or `None`): keep it
    /// as a spare, or remove it when there are enough.
    ///
    /// `empty`: also empty its files now (a refused or abandoned
    /// transaction's content is not kept; a delivered message's files are
    /// left to be overwritten by the next one). `tidy`: the caller knows
    /// the directory holds only `message` and `last`.
    pub fn retire(
        &mut self,
        layout: &Layout,
        dir: &Path,
        last: Option<&Path>,
        empty: bool,
        tidy: bool,
    ) -> Result<(), QueueError> {
        if self.free.len() >= MAX_SPARES {
            return std::fs::remove_dir_all(dir).map_err(QueueError::io("remove", dir));
        }
        // Out of the queue first: from here on a crash leaves a spare, not
        // a message.
        // Under a name not taken yet (the rename refuses to replace).
        let target = loop {
            let t = layout.purge().join(format!("spare{}", self.next));
            self.next += 1;
            match super::commit::rename_noreplace(dir, &t) {
                Ok(()) => break t,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(QueueError::io("rename", dir)(e)),
            }
        };
        let mut spare_kept = false;
        if let Some(last) = last.and_then(|p| p.file_name()) {
            // Kept as the next message's first envelope file; if the rename
            // fails, `clean` removes it.
            spare_kept = std::fs::rename(target.join(last), target.join(SPARE_FILE)).is_ok();
        }
        // A delivered message's directory that held nothing but its content
        // and that last envelope needs no cleaning (the caller listed it).
        if tidy && spare_kept && !empty {
            self.free.push(Spare { dir: target });
            return Ok(());
        }
        if clean(&target, empty).is_err() {
            let _ = std::fs::remove_dir_all(&target);
            return Ok(());
        }
        self.free.push(Spare { dir: target });
        Ok(())
    }
}

/// Remove anything but the content and the spare envelope from a spare
/// directory; with `empty`, also empty those two. At run time they are not
/// emptied: the next message overwrites them in place and cuts them to its
/// own length (the smtp process cuts the content, the commit the envelope),
/// which reuses their data blocks as well and spares two truncations per
/// message. The files stay in the queue user's 0700 spool meanwhile, as the
/// blocks of a deleted file stay on the disk. At start they are emptied.
fn clean(dir: &Path, empty: bool) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let name = e.file_name();
        let path = e.path();
        if name == MESSAGE || name == SPARE_FILE {
            if empty {
                OpenOptions::new().write(true).open(&path)?.set_len(0)?;
            }
        } else if e.file_type()?.is_dir() {
            std::fs::remove_dir_all(&path)?;
        } else {
            std::fs::remove_file(&path)?;
        }
    }
    Ok(())
}
